use anchor_lang::prelude::*;

use crate::errors::MarketError;
use crate::settlement::*;
use crate::state::Job;

#[event_cpi]
#[derive(Accounts)]
pub struct AcceptResult<'info> {
    #[account(mut)]
    pub creator: Signer<'info>,
    #[account(mut, has_one = creator @ MarketError::NotCreator, close = rent_receiver)]
    pub job: Box<Account<'info, Job>>,
    /// CHECK: gets the job account's rent back: the job's creator, or the
    /// batch for a frame (`Job::rent_receiver`).
    #[account(mut, address = job.rent_receiver() @ MarketError::AccountMismatch)]
    pub rent_receiver: UncheckedAccount<'info>,
    pub settle: SettleAccounts<'info>,
}

/// The creator accepts a submitted result at once, skipping the window.
pub fn handler(mut ctx: Context<AcceptResult>) -> Result<()> {
    let a = &mut ctx.accounts;
    // Accepting cannot skip an audit (a creator paying its own node would).
    require!(a.job.audit.settles_as_usual(), MarketError::AuditPending);
    let job_key = a.job.key();
    let settled = settle_job(&mut a.job, &mut a.settle, ctx.bumps.settle.reporter, true)?
        .event(job_key, &a.job, true);
    emit_cpi!(settled);
    Ok(())
}
