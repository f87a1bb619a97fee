use anchor_lang::prelude::*;

use crate::errors::MarketError;
use crate::settlement::*;
use crate::state::Job;

#[event_cpi]
#[derive(Accounts)]
pub struct FinalizeJob<'info> {
    pub caller: Signer<'info>,
    /// CHECK: gets the job account's rent back: the job's creator, or the
    /// batch for a frame (`Job::rent_receiver`).
    #[account(mut, address = job.rent_receiver() @ MarketError::AccountMismatch)]
    pub rent_receiver: UncheckedAccount<'info>,
    #[account(mut, close = rent_receiver)]
    pub job: Box<Account<'info, Job>>,
    pub settle: SettleAccounts<'info>,
}

/// Anyone settles a submitted job once its challenge window has passed.
pub fn handler(mut ctx: Context<FinalizeJob>) -> Result<()> {
    let a = &mut ctx.accounts;
    require!(a.job.audit.settles_as_usual(), MarketError::AuditPending);
    let window_end = a
        .job
        .challenge_window_end()
        .ok_or(MarketError::MathOverflow)?;
    require!(
        Clock::get()?.unix_timestamp > window_end,
        MarketError::ChallengeWindowOpen
    );
    let job_key = a.job.key();
    let settled = settle_job(&mut a.job, &mut a.settle, ctx.bumps.settle.reporter, true)?
        .event(job_key, &a.job, false);
    emit_cpi!(settled);
    Ok(())
}
