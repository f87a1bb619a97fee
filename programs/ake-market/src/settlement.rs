//! Paying for a verified result: charge the reported time at the price locked
//! at posting, burn most of it, send the fee to the treasury, refund the rest.

use anchor_lang::prelude::*;

use ake_emissions::instructions::WorkReport;
use ake_emissions::program::AkeEmissions;
use ake_emissions::state::EmissionsConfig;

use crate::constants::REPORTER_SEED;
use crate::due::unindex_due;
use crate::errors::MarketError;
use crate::events::JobSettled;
use crate::math::{charge_micro_usd, micro_usd_to_tokens_ceil, split_payment};
use crate::state::{
    AuditPhase, DuePage, Job, JobState, Market, MarketLedger, MarketMut, Node, Stake,
};
use crate::vaults::Vault;

pub struct Settlement {
    pub work_micro_usd: u64,
    pub charged: u64,
    pub burned: u64,
    pub treasury_fee: u64,
    pub refund: u64,
    pub posting_fee_burned: u64,
}

impl Settlement {
    pub fn event(&self, job_key: Pubkey, job: &Job, accepted_by_creator: bool) -> JobSettled {
        JobSettled {
            job: job_key,
            node: job.node,
            market: job.market,
            work_micro_usd: self.work_micro_usd,
            charged: self.charged,
            burned: self.burned,
            treasury_fee: self.treasury_fee,
            refund: self.refund,
            posting_fee_burned: self.posting_fee_burned,
            accepted_by_creator,
        }
    }
}

/// Burns a job's posting fee out of the escrow vault: it leaves the system
/// with the job (settled, cancelled or refunded) and is never refunded.
pub fn burn_posting_fee(market: &mut Market, escrow: &Vault, job: &mut Job) -> Result<u64> {
    let fee = job.posting_fee;
    burn_escrowed(market, escrow, fee)?;
    job.posting_fee = 0;
    Ok(fee)
}

/// Burns `amount` of what the market holds for its open jobs: out of the
/// escrow vault, counted as burned, and no longer an open obligation.
fn burn_escrowed(market: &mut Market, escrow: &Vault, amount: u64) -> Result<()> {
    burn_from_escrow(market, escrow, amount)?;
    market.open_escrow = market
        .open_escrow
        .checked_sub(amount)
        .ok_or(MarketError::MathOverflow)?;
    Ok(())
}

/// Burns `amount` out of the market's escrow vault and counts it as burned.
pub fn burn_from_escrow(market: &mut Market, escrow: &Vault, amount: u64) -> Result<()> {
    escrow.burn(amount)?;
    market.tokens_burned = market
        .tokens_burned
        .checked_add(amount)
        .ok_or(MarketError::MathOverflow)?;
    Ok(())
}

/// Ends a job with nothing charged (cancel, refund after too many
/// expiries or releases): the whole escrow back to the creator (an audit
/// run's to the audit reserve), the posting fee burned. Returns (refund,
/// fee burned).
pub fn refund_job<'info>(
    market: &mut Market,
    escrow: &Vault<'info>,
    job: &mut Job,
    creator_token: &AccountInfo<'info>,
) -> Result<(u64, u64)> {
    // An audit fee not yet drawn comes back with the escrow; an audit
    // run's escrow (nobody ran it) goes back to the audit reserve.
    let refund = job
        .escrow
        .checked_add(job.audit.fee)
        .ok_or(MarketError::MathOverflow)?;
    if job.audit.is_run() {
        market.audit_reserve = market
            .audit_reserve
            .checked_add(refund)
            .ok_or(MarketError::MathOverflow)?;
    } else {
        escrow.pay_out(creator_token, refund)?;
    }
    market.open_escrow = market
        .open_escrow
        .checked_sub(refund)
        .ok_or(MarketError::MathOverflow)?;
    job.escrow = 0;
    job.audit.fee = 0;
    let fee = burn_posting_fee(market, escrow, job)?;
    job.state = JobState::Settled;
    Ok((refund, fee))
}

/// Takes a job still waiting in the queue out of it and refunds it (a
/// cancel, a stale refund), first burning `waiting_fee` of its escrow.
/// Returns (refund, posting fee burned).
pub fn refund_queued<'info>(
    market: &AccountLoader<'info, Market>,
    escrow_vault: AccountInfo<'info>,
    mint: &Account<'info, anchor_spl::token::Mint>,
    (job_key, job): (Pubkey, &mut Job),
    creator_token: &AccountInfo<'info>,
    waiting_fee: u64,
) -> Result<(u64, u64)> {
    let market_key = market.key();
    let mut market = MarketMut::load(market)?;
    market.remove_job(&job_key, job.queue_slot)?;
    let escrow = Vault::escrow(
        &market_key,
        market.escrow_bump,
        escrow_vault,
        mint.to_account_info(),
        mint.decimals,
    );
    if waiting_fee > 0 {
        burn_escrowed(&mut market, &escrow, waiting_fee)?;
        job.escrow = job
            .escrow
            .checked_sub(waiting_fee)
            .ok_or(MarketError::MathOverflow)?;
    }
    refund_job(&mut market, &escrow, job, creator_token)
}

/// The work (micro-USD) and charge (tokens, at the price locked at posting,
/// rounded up, at most the escrow) for `wall_secs` of the job.
pub fn charge_for(job: &Job, wall_secs: u64) -> Result<(u64, u64)> {
    let seconds = wall_secs.min(u64::from(job.max_duration_secs));
    let work =
        charge_micro_usd(job.rate_micro_usd, job.gpus, seconds).ok_or(MarketError::MathOverflow)?;
    let p = &job.price;
    let charged = micro_usd_to_tokens_ceil(work, p.mantissa, p.expo, p.decimals)
        .ok_or(MarketError::MathOverflow)?
        .min(job.escrow);
    Ok((work, charged))
}

/// The amounts owed for a submitted job; moves nothing.
pub fn compute(job: &Job) -> Result<Settlement> {
    require!(
        job.state == JobState::Submitted,
        MarketError::InvalidJobState
    );
    let usage = job
        .result
        .as_ref()
        .ok_or(MarketError::InvalidJobState)?
        .usage;
    let (work, charged) = charge_for(job, usage.wall_secs)?;
    let (burned, treasury_fee) =
        split_payment(charged, job.terms.burn_bps).ok_or(MarketError::MathOverflow)?;
    Ok(Settlement {
        work_micro_usd: work,
        charged,
        burned,
        treasury_fee,
        refund: job.escrow - charged,
        posting_fee_burned: job.posting_fee,
    })
}

/// The accounts a settlement touches besides the job, shared by
/// `accept_result`, `finalize_job` and the ends of a dispute; checked
/// against the job in `settle_job`. None is written by every settlement of
/// the protocol, and none by the market's posts and arms: not the market
/// (the ledger holds the settlement books), not the mint or the treasury
/// (burns and fees accrue in the ledger until `sweep_market`), not the
/// epoch summary (work accrues in the market's epoch record).
#[derive(Accounts)]
pub struct SettleAccounts<'info> {
    #[account(seeds = [crate::constants::CONFIG_SEED], bump = config.bump, has_one = mint)]
    pub config: Box<Account<'info, crate::state::Config>>,
    /// The job's market's books (`ledger.market == job.market`, checked in `settle_job`).
    #[account(mut, seeds = [crate::constants::LEDGER_SEED, ledger.market.as_ref()], bump = ledger.bump)]
    pub ledger: Box<Account<'info, MarketLedger>>,
    #[account(mut, address = ledger.escrow_vault @ MarketError::AccountMismatch)]
    pub escrow_vault: Box<Account<'info, anchor_spl::token::TokenAccount>>,
    /// Read only: nothing is burned here.
    pub mint: Box<Account<'info, anchor_spl::token::Mint>>,
    #[account(mut, token::mint = mint)]
    pub creator_token: Box<Account<'info, anchor_spl::token::TokenAccount>>,
    #[account(mut)]
    pub node: Box<Account<'info, Node>>,
    /// The due page indexing the job (`job.due_page`, checked in `settle_job` and `resolve`).
    #[account(mut)]
    pub due_page: AccountLoader<'info, DuePage>,
    #[account(mut, seeds = [crate::constants::STAKE_SEED, node.owner.as_ref()], bump = node_owner_stake.bump)]
    pub node_owner_stake: Box<Account<'info, Stake>>,
    /// Pays for the epoch's work records when they are new (refunded at
    /// claim and at the epoch's close).
    #[account(mut)]
    pub payer: Signer<'info>,
    /// CHECK: PDA only: signs the work report.
    #[account(seeds = [REPORTER_SEED], bump)]
    pub reporter: UncheckedAccount<'info>,
    pub emissions_config: Box<Account<'info, EmissionsConfig>>,
    /// CHECK: checked by ake-emissions (PDA of the current epoch and the job's market).
    #[account(mut)]
    pub market_epoch: UncheckedAccount<'info>,
    /// CHECK: checked by ake-emissions (PDA of the current epoch and the node).
    #[account(mut)]
    pub node_work: UncheckedAccount<'info>,
    /// CHECK: ake-emissions' event authority, checked by ake-emissions.
    pub emissions_event_authority: UncheckedAccount<'info>,
    pub emissions_program: Program<'info, AkeEmissions>,
    pub token_program: Program<'info, anchor_spl::token::Token>,
    pub system_program: Program<'info, System>,
}

impl<'info> SettleAccounts<'info> {
    /// The ledger is the job's market's and the node the job's: every
    /// settlement checks it before moving anything.
    pub fn require_job(&self, job: &Job) -> Result<()> {
        require_keys_eq!(self.ledger.market, job.market, MarketError::AccountMismatch);
        require_keys_eq!(self.node.key(), job.node, MarketError::AccountMismatch);
        Ok(())
    }

    pub fn escrow(&self) -> Vault<'info> {
        self.ledger
            .escrow(self.escrow_vault.to_account_info(), &self.mint)
    }

    /// Slashes `amount` of the node owner's stake locked for the job: moved
    /// from the stake vault into the escrow vault and counted to burn with
    /// the market's other settled burns (at its next sweep).
    pub fn slash_to_burn(&mut self, stake_vault: AccountInfo<'info>, amount: u64) -> Result<()> {
        self.node_owner_stake.slash_locked(amount)?;
        Vault::stake(
            self.config.stake_vault_bump,
            stake_vault,
            self.mint.to_account_info(),
            self.mint.decimals,
        )
        .pay_out(&self.escrow_vault.to_account_info(), amount)?;
        MarketLedger::add(&mut self.ledger.pending_burn, amount)
    }
}

/// Checks the accounts against the job, then settles it: refunds the
/// creator's unused escrow, accrues the burn and the treasury fee in the
/// market's ledger, and updates the books. `credit_reputation` is false
/// when nobody judged the result (a silent arbiter): the work still counts
/// for emissions. A node waiting in the queue keeps the reputation its
/// entry had when it joined until it next joins (a settlement never writes
/// the market).
pub fn settle_job(
    job: &mut Job,
    s: &mut SettleAccounts,
    reporter_bump: u8,
    credit_reputation: bool,
) -> Result<Settlement> {
    s.require_job(job)?;
    require_keys_eq!(s.node.owner, job.node_owner, MarketError::AccountMismatch);
    require_keys_eq!(
        s.creator_token.owner,
        job.creator,
        MarketError::WrongTokenOwner
    );
    let amounts = compute(job)?;
    unindex_due(&s.due_page, &job.due_page)?;
    // An audit run's unspent escrow stays in the vault: its caller
    // (`settle_audit`) returns it to the market's audit reserve.
    if !job.audit.is_run() {
        s.escrow()
            .pay_out(&s.creator_token.to_account_info(), amounts.refund)?;
    }
    let ledger = &mut s.ledger;
    let out = job
        .escrow
        .checked_add(job.posting_fee)
        .ok_or(MarketError::MathOverflow)?;
    MarketLedger::add(&mut ledger.escrow_out, out)?;
    MarketLedger::add(&mut ledger.pending_burn, amounts.burned)?;
    MarketLedger::add(&mut ledger.pending_burn, job.posting_fee)?;
    MarketLedger::add(&mut ledger.pending_treasury, amounts.treasury_fee)?;
    MarketLedger::add(&mut ledger.jobs_settled, 1)?;
    MarketLedger::add(&mut ledger.work_micro_usd, amounts.work_micro_usd)?;
    job.posting_fee = 0;

    let node = &mut s.node;
    if credit_reputation {
        node.record_success(amounts.work_micro_usd)?;
        // Work an audit confirmed counts twice.
        if job.audit.phase == AuditPhase::Passed {
            node.record_success(amounts.work_micro_usd)?;
        }
    }
    node.close_job()?;
    node.jobs_completed = node
        .jobs_completed
        .checked_add(1)
        .ok_or(MarketError::MathOverflow)?;
    node.work_micro_usd = node
        .work_micro_usd
        .checked_add(amounts.work_micro_usd)
        .ok_or(MarketError::MathOverflow)?;
    s.node_owner_stake.unlock(job.collateral)?;
    job.collateral = 0;
    job.escrow = 0;
    job.state = JobState::Settled;
    report_work(s, job, &amounts, reporter_bump)?;
    Ok(amounts)
}

/// Credits the node's work to the current epoch in ake-emissions, signed by
/// the reporter PDA: the only way work reaches the mint side.
fn report_work(
    s: &SettleAccounts,
    job: &Job,
    amounts: &Settlement,
    reporter_bump: u8,
) -> Result<()> {
    if amounts.work_micro_usd == 0 {
        return Ok(());
    }
    let schedule = &s.emissions_config.schedule;
    let epoch = schedule
        .epoch_at(Clock::get()?.unix_timestamp)
        .ok_or(MarketError::MathOverflow)?;
    let burned_micro_usd = split_payment(amounts.work_micro_usd, job.terms.burn_bps)
        .ok_or(MarketError::MathOverflow)?
        .0;
    let bump = [reporter_bump];
    let seeds: &[&[u8]] = &[REPORTER_SEED, &bump];
    ake_emissions::cpi::report_work(
        CpiContext::new_with_signer(
            ake_emissions::ID,
            ake_emissions::cpi::accounts::ReportWork {
                reporter: s.reporter.to_account_info(),
                payer: s.payer.to_account_info(),
                config: s.emissions_config.to_account_info(),
                market_epoch: s.market_epoch.to_account_info(),
                node_work: s.node_work.to_account_info(),
                system_program: s.system_program.to_account_info(),
                event_authority: s.emissions_event_authority.to_account_info(),
                program: s.emissions_program.to_account_info(),
            },
            &[seeds],
        ),
        WorkReport {
            epoch,
            market_index: s.ledger.market_index,
            node: job.node,
            node_owner: job.node_owner,
            work_micro_usd: amounts.work_micro_usd,
            burned_tokens: amounts.burned,
            burned_micro_usd,
            gpu_secs: job.result.as_ref().map_or(0, |r| r.usage.gpu_secs),
        },
    )
}
