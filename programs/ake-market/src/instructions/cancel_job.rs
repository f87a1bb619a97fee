use anchor_lang::prelude::*;
use anchor_spl::token::{Mint, Token, TokenAccount};

use crate::errors::MarketError;
use crate::events::JobCancelled;
use crate::settlement::refund_queued;
use crate::state::{Job, JobState, Market};

#[event_cpi]
#[derive(Accounts)]
pub struct CancelJob<'info> {
    #[account(mut)]
    pub creator: Signer<'info>,
    #[account(mut, has_one = creator @ MarketError::NotCreator, has_one = market @ MarketError::AccountMismatch, close = rent_receiver)]
    pub job: Box<Account<'info, Job>>,
    /// CHECK: gets the job account's rent back: the job's creator, or the
    /// batch for a frame (`Job::rent_receiver`).
    #[account(mut, address = job.rent_receiver() @ MarketError::AccountMismatch)]
    pub rent_receiver: UncheckedAccount<'info>,
    #[account(mut)]
    pub market: AccountLoader<'info, Market>,
    #[account(mut, address = market.load()?.escrow_vault @ MarketError::AccountMismatch)]
    pub escrow_vault: Box<Account<'info, TokenAccount>>,
    /// Mutable: the posting fee is burned.
    #[account(mut, address = escrow_vault.mint @ MarketError::WrongMint)]
    pub mint: Box<Account<'info, Mint>>,
    #[account(mut, token::mint = mint, token::authority = creator)]
    pub creator_token: Box<Account<'info, TokenAccount>>,
    pub token_program: Program<'info, Token>,
}

/// A queued job can be withdrawn at any time (even while paused): the
/// escrow comes back; the posting fee is burned.
pub fn handler(mut ctx: Context<CancelJob>) -> Result<()> {
    let a = &mut ctx.accounts;
    require!(a.job.state == JobState::Queued, MarketError::NotQueued);
    require!(!a.job.audit.is_run(), MarketError::AuditRunNotCancellable);
    let job_key = a.job.key();
    let (refund, posting_fee_burned) = refund_queued(
        &a.market,
        a.escrow_vault.to_account_info(),
        &a.mint,
        (job_key, &mut a.job),
        &a.creator_token.to_account_info(),
        0,
    )?;
    emit_cpi!(JobCancelled {
        job: job_key,
        refund,
        posting_fee_burned
    });
    Ok(())
}
