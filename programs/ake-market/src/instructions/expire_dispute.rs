use anchor_lang::prelude::*;
use anchor_spl::token::TokenAccount;

use crate::disputes::{resolve, Verdict};
use crate::errors::MarketError;
use crate::settlement::*;
use crate::state::Job;

#[event_cpi]
#[derive(Accounts)]
pub struct ExpireDispute<'info> {
    pub caller: Signer<'info>,
    /// CHECK: gets the job account's rent back: the job's creator, or the
    /// batch for a frame (`Job::rent_receiver`).
    #[account(mut, address = job.rent_receiver() @ MarketError::AccountMismatch)]
    pub rent_receiver: UncheckedAccount<'info>,
    #[account(mut, close = rent_receiver)]
    pub job: Box<Account<'info, Job>>,
    #[account(mut, address = settle.config.stake_vault @ MarketError::AccountMismatch)]
    pub stake_vault: Box<Account<'info, TokenAccount>>,
    pub settle: SettleAccounts<'info>,
}

/// Anyone ends a dispute the arbiter left unresolved past the timeout. A
/// silent arbiter punishes nobody: the job settles as accepted and the bond
/// comes back less `DISPUTE_TIMEOUT_FEE_BPS` (burned), so nobody's money is
/// held forever and disputing everything never drains a node.
pub fn handler(mut ctx: Context<ExpireDispute>) -> Result<()> {
    let a = &mut ctx.accounts;
    let timeout = i64::from(a.job.terms.dispute_timeout_secs);
    let timeout_at = a
        .job
        .disputed_at
        .checked_add(timeout)
        .ok_or(MarketError::MathOverflow)?;
    require!(
        Clock::get()?.unix_timestamp > timeout_at,
        MarketError::DisputeNotTimedOut
    );
    let job_key = a.job.key();
    let vault = a.stake_vault.to_account_info();
    let event = resolve(
        job_key,
        &mut a.job,
        &mut a.settle,
        vault,
        Verdict::ArbiterSilent,
        ctx.bumps.settle.reporter,
        None,
    )?;
    emit_cpi!(event);
    Ok(())
}
