use anchor_lang::prelude::*;

use crate::constants::EMISSIONS_CONFIG_SEED;
use crate::errors::EmissionsError;
use crate::events::GuardianSet;
use crate::state::EmissionsConfig;

#[event_cpi]
#[derive(Accounts)]
pub struct SetGuardian<'info> {
    pub authority: Signer<'info>,
    #[account(mut, seeds = [EMISSIONS_CONFIG_SEED], bump = config.bump, has_one = authority @ EmissionsError::NotAuthority)]
    pub config: Box<Account<'info, EmissionsConfig>>,
}

/// The authority names the guardian at once: a guardian can only pause, so
/// replacing a lost or hostile one must not wait for the timelock.
pub fn handler(ctx: Context<SetGuardian>, guardian: Pubkey) -> Result<()> {
    ctx.accounts.config.guardian = guardian;
    emit_cpi!(GuardianSet { guardian });
    Ok(())
}
