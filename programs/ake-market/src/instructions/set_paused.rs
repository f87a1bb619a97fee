use anchor_lang::prelude::*;

use crate::constants::CONFIG_SEED;
use crate::errors::MarketError;
use crate::events::PauseSet;
use crate::state::Config;

#[event_cpi]
#[derive(Accounts)]
pub struct SetPaused<'info> {
    pub authority: Signer<'info>,
    #[account(mut, seeds = [CONFIG_SEED], bump = config.bump, has_one = authority @ MarketError::NotAuthority)]
    pub config: Box<Account<'info, Config>>,
}

pub fn handler(ctx: Context<SetPaused>, paused: bool) -> Result<()> {
    let config = &mut ctx.accounts.config;
    if config.paused && !paused {
        config.unpaused_at = Clock::get()?.unix_timestamp;
    }
    config.paused = paused;
    emit_cpi!(PauseSet { paused });
    Ok(())
}
