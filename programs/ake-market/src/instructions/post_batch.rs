use anchor_lang::prelude::*;

use anchor_lang::system_program::{self, Transfer};
use anchor_spl::token::{Mint, Token, TokenAccount};

use crate::constants::{BATCH_SEED, CONFIG_SEED, CREATOR_SEED, MAX_BATCH_FRAMES, STAKE_SEED};
use crate::errors::MarketError;
use crate::events::BatchPosted;
use crate::instructions::post_job::{next_creator_nonce, JobShape};
use crate::matching::batch_entry;
use crate::math::{charge_micro_usd, micro_usd_to_tokens_ceil};
use crate::oracle::read_price;
use crate::pool::ensure_free_slot;
use crate::settlement::burn_from_escrow;
use crate::state::{Batch, Config, JobSpec, Market, MarketMut, Releases, Stake};
use crate::vaults::{deposit, Vault};
use ake_program_common::account_creation::{create_pda, write_new};

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct PostBatchArgs {
    /// The creator's next nonce (shared with its jobs); names the batch's PDA.
    pub nonce: u64,
    pub first_frame: u32,
    pub frame_count: u32,
    /// The most frames out at once (1..=frame_count): the batch reserves
    /// this many frame accounts' rent, not one per frame.
    pub parallelism: u32,
    pub gpus: u16,
    pub max_duration_secs: u32,
    pub min_reputation_bps: u16,
    /// Slippage guard: the most tokens the creator lets the escrow take
    /// (every frame's escrow plus the one posting fee).
    pub max_tokens: u64,
    pub spec: JobSpec,
}

#[event_cpi]
#[derive(Accounts)]
#[instruction(args: PostBatchArgs)]
pub struct PostBatch<'info> {
    #[account(mut)]
    pub creator: Signer<'info>,
    #[account(seeds = [CONFIG_SEED], bump = config.bump, has_one = mint)]
    pub config: Box<Account<'info, Config>>,
    /// CHECK: PDA ["creator", creator]; created on the first post, else decoded and owner-checked.
    #[account(mut, seeds = [CREATOR_SEED, creator.key().as_ref()], bump)]
    pub creator_account: UncheckedAccount<'info>,
    /// CHECK: created here, PDA ["batch", creator, nonce].
    #[account(mut, seeds = [BATCH_SEED, creator.key().as_ref(), &args.nonce.to_le_bytes()], bump)]
    pub batch: UncheckedAccount<'info>,
    #[account(mut)]
    pub market: AccountLoader<'info, Market>,
    #[account(mut, address = market.load()?.escrow_vault @ MarketError::AccountMismatch)]
    pub escrow_vault: Box<Account<'info, TokenAccount>>,
    /// Mutable: the posting fee is burned.
    #[account(mut)]
    pub mint: Box<Account<'info, Mint>>,
    #[account(mut, token::mint = mint, token::authority = creator)]
    pub creator_token: Box<Account<'info, TokenAccount>>,
    /// CHECK: a Pyth PriceUpdateV2; owner, feed, verification, age, sign and confidence checked in `read_price`.
    pub price_update: UncheckedAccount<'info>,
    /// The creator's stake, when it has one: sets the batch's priority tier.
    #[account(seeds = [STAKE_SEED, creator.key().as_ref()], bump = creator_stake.bump)]
    pub creator_stake: Option<Box<Account<'info, Stake>>>,
    pub token_program: Program<'info, Token>,
    pub system_program: Program<'info, System>,
}

/// Posts `frame_count` frames sharing one spec: one account, one escrow
/// deposit, one posting fee (burned here), one queue entry. Posting only
/// queues: waiting nodes take frames through `match_frame` (anyone) or
/// their own `node_ready`, so no read of the node queue can make a post fail.
pub fn handler(mut ctx: Context<PostBatch>, args: PostBatchArgs) -> Result<()> {
    let a = &mut ctx.accounts;
    require!(!a.config.paused, MarketError::Paused);
    let now = Clock::get()?.unix_timestamp;
    require!(
        (1..=MAX_BATCH_FRAMES).contains(&args.frame_count)
            && args.first_frame.checked_add(args.frame_count - 1).is_some(),
        MarketError::InvalidFrameRange
    );
    require!(
        (1..=args.frame_count).contains(&args.parallelism),
        MarketError::InvalidParallelism
    );
    let market_key = a.market.key();
    let (rate, fee_micro_usd) = {
        let m = a.market.load()?;
        JobShape {
            gpus: args.gpus,
            max_duration_secs: args.max_duration_secs,
            min_reputation_bps: args.min_reputation_bps,
        }
        .check(&m)?;
        (m.rate_micro_usd, m.posting_fee_micro_usd)
    };
    let (spec_len, spec_hash) = args.spec.validate()?;
    let record = next_creator_nonce(
        &a.creator.to_account_info(),
        &a.creator_account.to_account_info(),
        ctx.bumps.creator_account,
        args.nonce,
    )?;
    let fee_micro_usd = record
        .posting_fee_micro_usd(fee_micro_usd, now, &a.config.params.release)
        .ok_or(MarketError::MathOverflow)?;

    let price = read_price(
        &a.price_update,
        &a.config.params.oracle,
        a.mint.decimals,
        now,
    )?;
    let max_charge = charge_micro_usd(rate, args.gpus, u64::from(args.max_duration_secs))
        .ok_or(MarketError::MathOverflow)?;
    let escrow_per_frame =
        micro_usd_to_tokens_ceil(max_charge, price.mantissa, price.expo, price.decimals)
            .ok_or(MarketError::MathOverflow)?;
    let escrow = escrow_per_frame
        .checked_mul(u64::from(args.frame_count))
        .ok_or(MarketError::MathOverflow)?;
    let posting_fee =
        micro_usd_to_tokens_ceil(fee_micro_usd, price.mantissa, price.expo, price.decimals)
            .ok_or(MarketError::MathOverflow)?;
    let total = escrow
        .checked_add(posting_fee)
        .ok_or(MarketError::MathOverflow)?;
    require!(total <= args.max_tokens, MarketError::SlippageExceeded);

    let creator_key = a.creator.key();
    let payer = a.creator.to_account_info();

    // The batch account, plus the rent of `parallelism` frames' job
    // accounts: a settling frame gives its rent back to the batch, where
    // the next frame reuses it; `close_batch` returns it all.
    let bump = ctx.bumps.batch;
    let batch_info = a.batch.to_account_info();
    create_pda(
        &payer,
        &batch_info,
        &crate::ID,
        Batch::space_for(spec_len),
        &[
            BATCH_SEED,
            creator_key.as_ref(),
            &args.nonce.to_le_bytes(),
            &[bump],
        ],
    )?;
    let frame_rent = Rent::get()?.minimum_balance(Batch::frame_job_space());
    let rent_reserve = frame_rent
        .checked_mul(u64::from(args.parallelism))
        .ok_or(MarketError::MathOverflow)?;
    system_program::transfer(
        CpiContext::new(
            system_program::ID,
            Transfer {
                from: payer.clone(),
                to: batch_info.clone(),
            },
        ),
        rent_reserve,
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
        .map_or(0, |s| a.config.tier_of(s.amount));
    let mut batch = Batch {
        creator: creator_key,
        nonce: args.nonce,
        market: market_key,
        spec: args.spec,
        spec_hash,
        gpus: args.gpus,
        max_duration_secs: args.max_duration_secs,
        min_reputation_bps: args.min_reputation_bps,
        rate_micro_usd: rate,
        max_charge_micro_usd: max_charge,
        escrow_per_frame,
        price,
        tier,
        first_frame: args.first_frame,
        frame_count: args.frame_count,
        handed_out: 0,
        cancelled: false,
        frames_closed: 0,
        frame_rent,
        parallelism: args.parallelism,
        parked: false,
        releases: Releases::default(),
        frames_submitted: 0,
        resumed: false,
        halted: false,
        posted_at: now,
        queued_at: now,
        queue_slot: 0,
        bump,
    };

    let grown = ensure_free_slot(&a.market, &payer)?;
    let mut market = MarketMut::load(&a.market)?;
    let escrow_vault = Vault::escrow(
        &market_key,
        market.escrow_bump,
        a.escrow_vault.to_account_info(),
        a.mint.to_account_info(),
        a.mint.decimals,
    );
    burn_from_escrow(&mut market, &escrow_vault, posting_fee)?;
    market.open_escrow = market
        .open_escrow
        .checked_add(escrow)
        .ok_or(MarketError::MathOverflow)?;
    market.jobs_posted = market
        .jobs_posted
        .checked_add(u64::from(args.frame_count))
        .ok_or(MarketError::MathOverflow)?;
    let entry = batch_entry(&market, batch_info.key(), &batch)?;
    batch.queue_slot = market.enqueue_job(entry, false)?;
    drop(market);
    write_new(&batch_info, &batch)?;

    emit_cpi!(BatchPosted {
        batch: batch_info.key(),
        creator: creator_key,
        market: market_key,
        nonce: args.nonce,
        first_frame: args.first_frame,
        frame_count: args.frame_count,
        max_charge_micro_usd: max_charge,
        escrow_per_frame,
        price_mantissa: price.mantissa,
        price_expo: price.expo,
        tier,
        posting_fee,
        rent_reserve,
        parallelism: args.parallelism,
    });
    if let Some(grown) = grown {
        emit_cpi!(grown);
    }
    Ok(())
}
