use anchor_lang::prelude::*;

use crate::constants::{EMISSIONS_CONFIG_SEED, PENDING_SEED};
use crate::errors::EmissionsError;
use crate::events::ChangeCancelled;
use crate::state::{EmissionsConfig, PendingEmissionsChange};

#[event_cpi]
#[derive(Accounts)]
pub struct CancelChange<'info> {
    pub authority: Signer<'info>,
    #[account(seeds = [EMISSIONS_CONFIG_SEED], bump = config.bump, has_one = authority @ EmissionsError::NotAuthority)]
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

/// The authority withdraws a pending change before it is applied.
pub fn handler(ctx: Context<CancelChange>) -> Result<()> {
    emit_cpi!(ChangeCancelled {
        eta: ctx.accounts.pending.eta,
    });
    Ok(())
}
