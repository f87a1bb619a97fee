use anchor_lang::prelude::*;

use crate::constants::EMISSIONS_CONFIG_SEED;
use crate::errors::EmissionsError;
use crate::events::AuthorityAccepted;
use crate::state::EmissionsConfig;

#[event_cpi]
#[derive(Accounts)]
pub struct AcceptAuthority<'info> {
    pub new_authority: Signer<'info>,
    #[account(
        mut,
        seeds = [EMISSIONS_CONFIG_SEED],
        bump = config.bump,
        constraint = config.pending_authority == new_authority.key() @ EmissionsError::NotPendingAuthority,
    )]
    pub config: Box<Account<'info, EmissionsConfig>>,
}

/// Step two: the proposed authority signs (a PDA signs by invoke_signed).
pub fn handler(ctx: Context<AcceptAuthority>) -> Result<()> {
    let config = &mut ctx.accounts.config;
    let previous = config.authority;
    config.authority = ctx.accounts.new_authority.key();
    config.pending_authority = Pubkey::default();
    // A guardian left at its default (the old authority's key) moves with
    // the authority: a handed-over key keeps no power.
    if config.guardian == previous {
        config.guardian = config.authority;
    }
    emit_cpi!(AuthorityAccepted {
        previous,
        authority: config.authority
    });
    Ok(())
}
