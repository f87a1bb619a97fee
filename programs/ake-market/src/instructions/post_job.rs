use anchor_lang::prelude::*;

use anchor_spl::token::{Mint, Token, TokenAccount};

use crate::audit::audit_rate_bps;
use crate::constants::{CONFIG_SEED, CREATOR_SEED, JOB_SEED, STAKE_SEED, UNAUDITABLE_SEED};
use crate::errors::MarketError;
use crate::events::{JobPosted, JobQueued};
use crate::matching::{candidate_with_stake, enqueue, offer_to_waiting_node, Rules};
use crate::math::{bps_of_ceil, charge_micro_usd, execution_collateral, micro_usd_to_tokens_ceil};
use crate::oracle::read_price;
use crate::pool::ensure_free_slot;
use crate::state::{
    AuditParams, AuditTrack, Config, Creator, Job, JobSpec, Market, MarketMut, Node, Stake, Verify,
    MAX_REPUTATION_BPS,
};
use crate::vaults::deposit;
use ake_program_common::account_creation::{create_pda, is_uncreated, read_existing, write_new};

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct PostJobArgs {
    /// The creator's next nonce (0 for a first job); names the job's PDA.
    pub nonce: u64,
    pub gpus: u16,
    pub max_duration_secs: u32,
    pub min_reputation_bps: u16,
    /// Slippage guard: the most tokens the creator lets the escrow take.
    pub max_tokens: u64,
    pub spec: JobSpec,
    /// Whether results may be audited by re-execution (`Verify::Exact`
    /// adds the audit fee to the escrow).
    pub verify: Verify,
}

#[event_cpi]
#[derive(Accounts)]
#[instruction(args: PostJobArgs)]
pub struct PostJob<'info> {
    #[account(mut)]
    pub creator: Signer<'info>,
    #[account(seeds = [CONFIG_SEED], bump = config.bump, has_one = mint)]
    pub config: Box<Account<'info, Config>>,
    /// CHECK: PDA ["creator", creator]; created on the first post, else decoded and owner-checked.
    #[account(mut, seeds = [CREATOR_SEED, creator.key().as_ref()], bump)]
    pub creator_account: UncheckedAccount<'info>,
    /// CHECK: created here, PDA ["job", creator, nonce].
    #[account(mut, seeds = [JOB_SEED, creator.key().as_ref(), &args.nonce.to_le_bytes()], bump)]
    pub job: UncheckedAccount<'info>,
    #[account(mut)]
    pub market: AccountLoader<'info, Market>,
    #[account(mut, address = market.load()?.escrow_vault @ MarketError::AccountMismatch)]
    pub escrow_vault: Box<Account<'info, TokenAccount>>,
    pub mint: Box<Account<'info, Mint>>,
    #[account(mut, token::mint = mint, token::authority = creator)]
    pub creator_token: Box<Account<'info, TokenAccount>>,
    /// CHECK: a Pyth PriceUpdateV2; owner, feed, verification, age, sign and confidence checked in `read_price`.
    pub price_update: UncheckedAccount<'info>,
    /// The creator's stake, when it has one: sets the job's priority tier.
    #[account(seeds = [STAKE_SEED, creator.key().as_ref()], bump = creator_stake.bump)]
    pub creator_stake: Option<Box<Account<'info, Stake>>>,
    /// The best waiting node able to serve this job, when there is one.
    #[account(mut, constraint = candidate_node.market == market.key() @ MarketError::AccountMismatch)]
    pub candidate_node: Option<Box<Account<'info, Node>>>,
    /// The candidate's owner's stake: the job's collateral is locked from it.
    #[account(mut)]
    pub candidate_owner_stake: Option<Box<Account<'info, Stake>>>,
    /// CHECK: an exact job's `["unauditable", market, spec hash]`, which
    /// must not exist (checked in `require_auditable`); None otherwise.
    pub unauditable_spec: Option<UncheckedAccount<'info>>,
    pub token_program: Program<'info, Token>,
    pub system_program: Program<'info, System>,
}

/// An auditable job's audit fee: `max(fee_bps, 2 x the chance its draw
/// will have)` of its escrow (an audit is two runs), so every creator pays
/// at least its own audit's expected cost (the chance estimated from the
/// largest charge and the collateral the market's terms lock today).
/// Rounded up: the protocol's favour. ake-sdk quotes it with this.
pub fn audit_fee(
    params: &AuditParams,
    escrow: u64,
    gpus: u16,
    (stake_per_gpu, collateral_escrow_bps): (u64, u16),
) -> Result<u64> {
    require!(params.enabled, MarketError::AuditsDisabled);
    let at_risk = execution_collateral(stake_per_gpu, gpus, escrow, collateral_escrow_bps)
        .ok_or(MarketError::MathOverflow)?;
    let chance = audit_rate_bps(escrow, at_risk, params.k_bps, params.p_min_bps);
    let bps = (2 * u64::from(chance)).max(u64::from(params.fee_bps));
    Ok(bps_of_ceil(escrow, bps).ok_or(MarketError::MathOverflow)?)
}

/// An exact job's spec must not be marked unauditable on its market (an
/// earlier audit of it found three different digests). The mark's address
/// is derived here (one `find_program_address`), so no other account passes.
fn require_auditable(
    mark: Option<&AccountInfo>,
    market: &Pubkey,
    spec_hash: &[u8; 32],
) -> Result<()> {
    let mark = mark.ok_or(MarketError::MissingUnauditableMark)?;
    let (expected, _) =
        Pubkey::find_program_address(&[UNAUDITABLE_SEED, market.as_ref(), spec_hash], &crate::ID);
    require_keys_eq!(mark.key(), expected, MarketError::MissingUnauditableMark);
    require!(is_uncreated(mark), MarketError::SpecNotAuditable);
    Ok(())
}

/// What a job (or each frame of a batch) asks for, checked against the market.
pub struct JobShape {
    pub gpus: u16,
    pub max_duration_secs: u32,
    pub min_reputation_bps: u16,
}

impl JobShape {
    pub fn check(&self, market: &Market) -> Result<()> {
        require!(
            (1..=market.max_gpus_per_job).contains(&self.gpus)
                && (1..=market.max_duration_secs).contains(&self.max_duration_secs)
                && self.min_reputation_bps <= MAX_REPUTATION_BPS,
            MarketError::InvalidJobShape
        );
        require!(
            self.max_duration_secs >= u32::from(market.min_duration_secs),
            MarketError::JobTooShort
        );
        Ok(())
    }
}

/// Checks `nonce` is the creator's next one and advances its counter
/// (creating the counter on the creator's first post); returns the record,
/// which prices the creator's posting fee.
pub fn next_creator_nonce<'info>(
    creator: &AccountInfo<'info>,
    counter: &AccountInfo<'info>,
    bump: u8,
    nonce: u64,
) -> Result<Creator> {
    let creator_key = creator.key();
    let mut record = if is_uncreated(counter) {
        create_pda(
            creator,
            counter,
            &crate::ID,
            Creator::SPACE,
            &[CREATOR_SEED, creator_key.as_ref(), &[bump]],
        )?;
        Creator::new(creator_key, bump)
    } else {
        read_existing::<Creator>(counter, &crate::ID)?
    };
    require!(nonce == record.next_nonce, MarketError::NonceMismatch);
    record.next_nonce = record
        .next_nonce
        .checked_add(1)
        .ok_or(MarketError::MathOverflow)?;
    write_new(counter, &record)?;
    Ok(record)
}

pub fn handler(mut ctx: Context<PostJob>, args: PostJobArgs) -> Result<()> {
    let a = &mut ctx.accounts;
    let config = &a.config;
    require!(!config.paused, MarketError::Paused);
    let now = Clock::get()?.unix_timestamp;
    let market_key = a.market.key();
    let job_key = a.job.key();
    let creator_key = a.creator.key();

    let (rate, fee_micro_usd, collateral_terms) = {
        let m = a.market.load()?;
        JobShape {
            gpus: args.gpus,
            max_duration_secs: args.max_duration_secs,
            min_reputation_bps: args.min_reputation_bps,
        }
        .check(&m)?;
        (
            m.rate_micro_usd,
            m.posting_fee_micro_usd,
            (m.min_stake_per_gpu, m.collateral_escrow_bps),
        )
    };
    let (spec_len, spec_hash) = args.spec.validate()?;
    let payer = a.creator.to_account_info();
    let record = next_creator_nonce(
        &payer,
        &a.creator_account.to_account_info(),
        ctx.bumps.creator_account,
        args.nonce,
    )?;
    let fee_micro_usd = record
        .posting_fee_micro_usd(fee_micro_usd, now, &config.params.release)
        .ok_or(MarketError::MathOverflow)?;

    let price = read_price(&a.price_update, &config.params.oracle, a.mint.decimals, now)?;
    let max_charge = charge_micro_usd(rate, args.gpus, u64::from(args.max_duration_secs))
        .ok_or(MarketError::MathOverflow)?;
    let escrow = micro_usd_to_tokens_ceil(max_charge, price.mantissa, price.expo, price.decimals)
        .ok_or(MarketError::MathOverflow)?;
    // The posting fee rounds up too, and the slippage guard covers both.
    let posting_fee =
        micro_usd_to_tokens_ceil(fee_micro_usd, price.mantissa, price.expo, price.decimals)
            .ok_or(MarketError::MathOverflow)?;
    let audit_fee = match args.verify {
        Verify::None => 0,
        Verify::Exact => {
            require!(
                args.spec.pins_its_image(),
                MarketError::ExactNeedsPinnedImage
            );
            require_auditable(a.unauditable_spec.as_deref(), &market_key, &spec_hash)?;
            audit_fee(&config.params.audit, escrow, args.gpus, collateral_terms)?
        }
    };
    let total = escrow
        .checked_add(posting_fee)
        .and_then(|t| t.checked_add(audit_fee))
        .ok_or(MarketError::MathOverflow)?;
    require!(total <= args.max_tokens, MarketError::SlippageExceeded);

    let job_bump = ctx.bumps.job;
    create_pda(
        &payer,
        &a.job.to_account_info(),
        &crate::ID,
        Job::space_for(spec_len),
        &[
            JOB_SEED,
            creator_key.as_ref(),
            &args.nonce.to_le_bytes(),
            &[job_bump],
        ],
    )?;

    deposit(
        a.creator_token.to_account_info(),
        a.escrow_vault.to_account_info(),
        a.mint.to_account_info(),
        payer.clone(),
        total,
        a.mint.decimals,
    )?;

    let tier = a
        .creator_stake
        .as_ref()
        .map_or(0, |s| config.tier_of(s.amount));
    let mut job = Job {
        creator: creator_key,
        nonce: args.nonce,
        market: market_key,
        spec_hash,
        gpus: args.gpus,
        max_duration_secs: args.max_duration_secs,
        min_reputation_bps: args.min_reputation_bps,
        rate_micro_usd: rate,
        max_charge_micro_usd: max_charge,
        escrow,
        tier,
        posting_fee,
        verify: args.verify,
        audit: AuditTrack {
            fee: audit_fee,
            ..AuditTrack::default()
        },
        ..Job::queued(args.spec, price, now, job_bump)
    };

    let rules = Rules::of(config);
    let mut market = MarketMut::load(&a.market)?;
    market.open_escrow = market
        .open_escrow
        .checked_add(total)
        .ok_or(MarketError::MathOverflow)?;
    market.jobs_posted = market
        .jobs_posted
        .checked_add(1)
        .ok_or(MarketError::MathOverflow)?;
    let candidate = candidate_with_stake(
        a.candidate_node.as_mut().map(|n| (n.key(), &mut ***n)),
        a.candidate_owner_stake.as_mut().map(|s| &mut ***s),
        None,
    )?;
    let offer = offer_to_waiting_node(&mut market, job_key, &mut job, candidate, &rules, now)?;
    // An assignment reuses the node's slot; only a job that waits may need
    // the pool to grow.
    let mut grown = None;
    if offer.unassigned() {
        if !market.has_free_slot() {
            drop(market);
            grown = ensure_free_slot(&a.market, &payer)?;
            market = MarketMut::load(&a.market)?;
        }
        enqueue(&mut market, job_key, &mut job, false, now)?;
    }
    drop(market);
    write_new(&a.job.to_account_info(), &job)?;

    emit_cpi!(JobPosted {
        job: job_key,
        creator: creator_key,
        market: market_key,
        nonce: job.nonce,
        max_charge_micro_usd: max_charge,
        escrow,
        price_mantissa: price.mantissa,
        price_expo: price.expo,
        tier,
        posting_fee,
    });
    if let Some(grown) = grown {
        emit_cpi!(grown);
    }
    if let Some(idled) = offer.idled_event(job_key) {
        emit_cpi!(idled);
    }
    match offer.assigned_event(job_key, job.attempts) {
        Some(assigned) => emit_cpi!(assigned),
        None => emit_cpi!(JobQueued {
            job: job_key,
            market: market_key,
            at_front: false
        }),
    }
    Ok(())
}
