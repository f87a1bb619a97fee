use anchor_lang::prelude::*;

use crate::constants::CONFIG_SEED;
use crate::errors::MarketError;
use crate::events::AuthorityProposed;
use crate::state::Config;

#[event_cpi]
#[derive(Accounts)]
pub struct ProposeAuthority<'info> {
    pub authority: Signer<'info>,
    #[account(mut, seeds = [CONFIG_SEED], bump = config.bump, has_one = authority @ MarketError::NotAuthority)]
    pub config: Box<Account<'info, Config>>,
}

pub fn handler(ctx: Context<ProposeAuthority>, proposed: Pubkey) -> Result<()> {
    ctx.accounts.config.pending_authority = proposed;
    emit_cpi!(AuthorityProposed {
        authority: ctx.accounts.authority.key(),
        proposed
    });
    Ok(())
}
