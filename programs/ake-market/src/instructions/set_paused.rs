use anchor_lang::prelude::*;

use crate::constants::CONFIG_SEED;
use crate::errors::MarketError;
use crate::events::PauseSet;
use crate::state::Config;

#[event_cpi]
#[derive(Accounts)]
pub struct SetPaused<'info> {
    /// The guardian or the authority to pause; only the authority to unpause.
    pub caller: Signer<'info>,
    #[account(mut, seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,
}

/// Pausing stops posting and assignment at once, outside the timelock;
/// cancels, refunds, results, settlement and withdrawals go on.
pub fn handler(ctx: Context<SetPaused>, paused: bool) -> Result<()> {
    let caller = ctx.accounts.caller.key();
    let config = &mut ctx.accounts.config;
    if paused {
        require!(
            caller == config.authority || caller == config.guardian,
            MarketError::NotAuthority
        );
    } else {
        require_keys_eq!(caller, config.authority, MarketError::OnlyAuthorityUnpauses);
    }
    if config.paused && !paused {
        config.unpaused_at = Clock::get()?.unix_timestamp;
    }
    config.paused = paused;
    emit_cpi!(PauseSet { paused, by: caller });
    Ok(())
}
