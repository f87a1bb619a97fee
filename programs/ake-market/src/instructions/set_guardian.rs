use anchor_lang::prelude::*;

use crate::constants::CONFIG_SEED;
use crate::errors::MarketError;
use crate::events::GuardianSet;
use crate::state::Config;

#[event_cpi]
#[derive(Accounts)]
pub struct SetGuardian<'info> {
    pub authority: Signer<'info>,
    #[account(mut, seeds = [CONFIG_SEED], bump = config.bump, has_one = authority @ MarketError::NotAuthority)]
    pub config: Box<Account<'info, Config>>,
}

/// The authority names the guardian at once: a guardian can only pause, so
/// replacing a lost or hostile one must not wait for the timelock.
pub fn handler(ctx: Context<SetGuardian>, guardian: Pubkey) -> Result<()> {
    ctx.accounts.config.guardian = guardian;
    emit_cpi!(GuardianSet { guardian });
    Ok(())
}
