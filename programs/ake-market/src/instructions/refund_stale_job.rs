use anchor_lang::prelude::*;
use anchor_spl::token::{Mint, Token, TokenAccount};

use crate::constants::CONFIG_SEED;
use crate::errors::MarketError;
use crate::events::StaleJobRefunded;
use crate::math::waiting_fee;
use crate::settlement::refund_queued;
use crate::state::{Config, Job, JobState, Market};

#[event_cpi]
#[derive(Accounts)]
pub struct RefundStaleJob<'info> {
    #[account(seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,
    /// CHECK: gets the job account's rent back: the job's creator, or the
    /// batch for a frame (`Job::rent_receiver`).
    #[account(mut, address = job.rent_receiver() @ MarketError::AccountMismatch)]
    pub rent_receiver: UncheckedAccount<'info>,
    #[account(mut, has_one = market @ MarketError::AccountMismatch, close = rent_receiver)]
    pub job: Box<Account<'info, Job>>,
    #[account(mut)]
    pub market: AccountLoader<'info, Market>,
    #[account(mut, address = market.load()?.escrow_vault @ MarketError::AccountMismatch)]
    pub escrow_vault: Box<Account<'info, TokenAccount>>,
    /// Mutable: the posting fee is burned.
    #[account(mut, address = escrow_vault.mint @ MarketError::WrongMint)]
    pub mint: Box<Account<'info, Mint>>,
    #[account(mut, token::mint = mint, constraint = creator_token.owner == job.creator @ MarketError::WrongTokenOwner)]
    pub creator_token: Box<Account<'info, TokenAccount>>,
    pub token_program: Program<'info, Token>,
}

/// Anyone (the crank) refunds a job that has waited in the queue longer
/// than the market's `max_queue_secs` (an audit run: its `reveal_secs`,
/// `Job::stale_after_secs`) since it last joined it: no node
/// could or would take it, so it gives its slot back. The creator gets the
/// escrow and the rent as if it had cancelled (the posting fee is burned),
/// less a waiting fee, burned: one posting fee per day it waited (up to
/// `max_queue_secs`). Not while paused (nothing can be assigned then), and the wait
/// counts from the end of the last pause at the earliest.
pub fn handler(mut ctx: Context<RefundStaleJob>) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let a = &mut ctx.accounts;
    require!(!a.config.paused, MarketError::Paused);
    require!(a.job.state == JobState::Queued, MarketError::NotQueued);
    let job_key = a.job.key();
    let max_queue_secs = a
        .job
        .stale_after_secs(a.market.load()?.max_queue_secs, &a.config.params.audit);
    let waited = now.saturating_sub(a.job.queued_at.max(a.config.unpaused_at));
    require!(waited > i64::from(max_queue_secs), MarketError::JobNotStale);
    // Counted up to the staleness threshold: a crank that comes late
    // never bills the creator for its own delay.
    let billed_secs = u64::try_from(waited)
        .unwrap_or(0)
        .min(u64::from(max_queue_secs));
    let waiting_fee_burned = waiting_fee(a.job.posting_fee, billed_secs, a.job.escrow)
        .ok_or(MarketError::MathOverflow)?;
    let (refund, posting_fee_burned) = refund_queued(
        &a.market,
        a.escrow_vault.to_account_info(),
        &a.mint,
        (job_key, &mut a.job),
        &a.creator_token.to_account_info(),
        waiting_fee_burned,
    )?;
    emit_cpi!(StaleJobRefunded {
        job: job_key,
        waited_secs: waited,
        refund,
        posting_fee_burned,
        waiting_fee_burned,
    });
    Ok(())
}
