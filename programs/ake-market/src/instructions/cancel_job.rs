use anchor_lang::prelude::*;
use anchor_spl::token::{Mint, Token, TokenAccount};

use crate::errors::MarketError;
use crate::events::JobCancelled;
use crate::state::{Job, JobState, Market};
use crate::vaults::Vault;

#[event_cpi]
#[derive(Accounts)]
pub struct CancelJob<'info> {
    #[account(mut)]
    pub creator: Signer<'info>,
    #[account(mut, has_one = creator @ MarketError::NotCreator, has_one = market @ MarketError::AccountMismatch, close = creator)]
    pub job: Box<Account<'info, Job>>,
    #[account(mut)]
    pub market: AccountLoader<'info, Market>,
    #[account(mut, address = market.load()?.escrow_vault @ MarketError::AccountMismatch)]
    pub escrow_vault: Box<Account<'info, TokenAccount>>,
    #[account(address = escrow_vault.mint @ MarketError::WrongMint)]
    pub mint: Box<Account<'info, Mint>>,
    #[account(mut, token::mint = mint, token::authority = creator)]
    pub creator_token: Box<Account<'info, TokenAccount>>,
    pub token_program: Program<'info, Token>,
}

/// A queued job can be withdrawn at any time (even while paused): full refund.
pub fn handler(mut ctx: Context<CancelJob>) -> Result<()> {
    let a = &mut ctx.accounts;
    require!(a.job.state == JobState::Queued, MarketError::NotQueued);
    let job_key = a.job.key();
    let refund = a.job.escrow;
    let escrow = {
        let mut market = a.market.load_mut()?;
        market.remove_job(&job_key)?;
        market.open_escrow = market
            .open_escrow
            .checked_sub(refund)
            .ok_or(MarketError::MathOverflow)?;
        Vault::escrow(
            &a.market.key(),
            market.escrow_bump,
            a.escrow_vault.to_account_info(),
            a.mint.to_account_info(),
            a.mint.decimals,
        )
    };
    escrow.pay_out(&a.creator_token.to_account_info(), refund)?;
    a.job.escrow = 0;
    a.job.state = JobState::Settled;
    emit_cpi!(JobCancelled {
        job: job_key,
        refund
    });
    Ok(())
}
