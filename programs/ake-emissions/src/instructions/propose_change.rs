use anchor_lang::prelude::*;

use crate::constants::{EMISSIONS_CONFIG_SEED, PENDING_SEED};
use crate::errors::EmissionsError;
use crate::events::ChangeProposed;
use crate::state::{EmissionsChange, EmissionsConfig, PendingEmissionsChange};
use ake_program_common::account_creation::{create_pda, is_uncreated, write_new};
use ake_program_common::timelock;

#[event_cpi]
#[derive(Accounts)]
pub struct ProposeChange<'info> {
    pub authority: Signer<'info>,
    /// Pays for the pending change's account (back when applied or
    /// cancelled): separate from the authority, which may be a
    /// program-owned account that cannot pay.
    #[account(mut)]
    pub payer: Signer<'info>,
    #[account(seeds = [EMISSIONS_CONFIG_SEED], bump = config.bump, has_one = authority @ EmissionsError::NotAuthority)]
    pub config: Box<Account<'info, EmissionsConfig>>,
    /// CHECK: created here, PDA ["pending", config].
    #[account(mut, seeds = [PENDING_SEED, config.key().as_ref()], bump)]
    pub pending: UncheckedAccount<'info>,
    pub system_program: Program<'info, System>,
}

/// The authority proposes a change to the schedule, cap, rewards (reward
/// multiplier included), breaker or timelock. Checked now and again when
/// applied; applicable after `timelock_secs`.
pub fn handler(ctx: Context<ProposeChange>, change: EmissionsChange) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let a = &ctx.accounts;
    change.schedule_for(&a.config)?;
    let info = a.pending.to_account_info();
    require!(is_uncreated(&info), EmissionsError::ChangeAlreadyPending);
    let eta = timelock::eta(now, a.config.timelock_secs).ok_or(EmissionsError::MathOverflow)?;
    let config_key = a.config.key();
    create_pda(
        &a.payer.to_account_info(),
        &info,
        &crate::ID,
        PendingEmissionsChange::SPACE,
        &[PENDING_SEED, config_key.as_ref(), &[ctx.bumps.pending]],
    )?;
    let pending = PendingEmissionsChange {
        proposed_at: now,
        eta,
        payer: a.payer.key(),
        bump: ctx.bumps.pending,
        change,
    };
    write_new(&info, &pending)?;
    emit_cpi!(ChangeProposed { eta, change });
    Ok(())
}
