use anchor_lang::prelude::*;

use crate::constants::EMISSIONS_CONFIG_SEED;
use crate::errors::EmissionsError;
use crate::events::AuthorityProposed;
use crate::state::EmissionsConfig;

#[event_cpi]
#[derive(Accounts)]
pub struct ProposeAuthority<'info> {
    pub authority: Signer<'info>,
    #[account(mut, seeds = [EMISSIONS_CONFIG_SEED], bump = config.bump, has_one = authority @ EmissionsError::NotAuthority)]
    pub config: Box<Account<'info, EmissionsConfig>>,
}

/// Step one of handing the authority over (to any address: a multisig or a
/// governance PDA); the proposed authority accepts it by signing.
pub fn handler(ctx: Context<ProposeAuthority>, proposed: Pubkey) -> Result<()> {
    ctx.accounts.config.pending_authority = proposed;
    emit_cpi!(AuthorityProposed {
        authority: ctx.accounts.authority.key(),
        proposed
    });
    Ok(())
}
