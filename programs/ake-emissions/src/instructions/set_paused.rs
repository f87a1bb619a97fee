use anchor_lang::prelude::*;

use crate::constants::EMISSIONS_CONFIG_SEED;
use crate::errors::EmissionsError;
use crate::events::PauseSet;
use crate::state::EmissionsConfig;

#[event_cpi]
#[derive(Accounts)]
pub struct SetPaused<'info> {
    /// The guardian or the authority to pause; only the authority to unpause.
    pub caller: Signer<'info>,
    #[account(mut, seeds = [EMISSIONS_CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, EmissionsConfig>>,
}

/// Pausing stops epoch closing (new emission) and re-mints at once,
/// outside the timelock; claims that mint nothing back and work reports
/// go on.
pub fn handler(ctx: Context<SetPaused>, paused: bool) -> Result<()> {
    let caller = ctx.accounts.caller.key();
    let config = &mut ctx.accounts.config;
    if paused {
        require!(
            caller == config.authority || caller == config.guardian,
            EmissionsError::NotAuthority
        );
    } else {
        require_keys_eq!(
            caller,
            config.authority,
            EmissionsError::OnlyAuthorityUnpauses
        );
    }
    if paused && !config.paused {
        config.paused_at = Clock::get()?.unix_timestamp;
    }
    config.paused = paused;
    emit_cpi!(PauseSet { paused, by: caller });
    Ok(())
}
