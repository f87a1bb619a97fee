use anchor_lang::prelude::*;

use crate::constants::{EMISSIONS_CONFIG_SEED, PENDING_SEED};
use crate::errors::EmissionsError;
use crate::events::EmissionsUpdated;
use crate::state::{EmissionsConfig, PendingEmissionsChange};
use ake_program_common::timelock;

#[event_cpi]
#[derive(Accounts)]
pub struct ApplyChange<'info> {
    #[account(mut, seeds = [EMISSIONS_CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, EmissionsConfig>>,
    #[account(
        mut,
        seeds = [PENDING_SEED, config.key().as_ref()],
        bump = pending.bump,
        close = payer,
    )]
    pub pending: Box<Account<'info, PendingEmissionsChange>>,
    /// CHECK: whoever proposed the change: gets its rent back.
    #[account(mut, address = pending.payer @ EmissionsError::NotAuthority)]
    pub payer: UncheckedAccount<'info>,
}

/// Anyone applies a pending change once its timelock has passed, checked
/// again against the state now (an epoch may have closed meanwhile).
pub fn handler(mut ctx: Context<ApplyChange>) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let a = &mut ctx.accounts;
    require!(now >= a.pending.eta, EmissionsError::TimelockNotElapsed);
    require!(
        timelock::applicable(now, a.pending.eta),
        EmissionsError::ChangeExpired
    );
    // Work already done is paid under the rules it was done under: every
    // ended epoch closes before a change lands.
    let s = a.config.schedule;
    let next_end = s
        .epoch_end(a.config.next_epoch)
        .ok_or(EmissionsError::MathOverflow)?;
    require!(next_end > now, EmissionsError::CloseEndedEpochsFirst);
    let change = a.pending.change;
    let schedule = change.schedule_for(&a.config)?;
    let config = &mut a.config;
    config.schedule = schedule;
    config.rewards = change.rewards;
    config.breaker = change.breaker;
    config.timelock_secs = change.timelock_secs;
    emit_cpi!(EmissionsUpdated {
        schedule,
        rewards: change.rewards,
        breaker: change.breaker,
        timelock_secs: change.timelock_secs,
    });
    Ok(())
}
