use anchor_lang::prelude::*;

use crate::constants::{EMISSIONS_CONFIG_SEED, SPEND_SEED};
use crate::errors::EmissionsError;
use crate::events::SpendCancelled;
use crate::state::{EmissionsConfig, PendingSpend};

#[event_cpi]
#[derive(Accounts)]
pub struct CancelSpend<'info> {
    pub authority: Signer<'info>,
    #[account(seeds = [EMISSIONS_CONFIG_SEED], bump = config.bump, has_one = authority @ EmissionsError::NotAuthority)]
    pub config: Box<Account<'info, EmissionsConfig>>,
    #[account(
        mut,
        seeds = [SPEND_SEED, config.key().as_ref()],
        bump = pending.bump,
        close = payer,
    )]
    pub pending: Box<Account<'info, PendingSpend>>,
    /// CHECK: whoever proposed the spend: gets its rent back.
    #[account(mut, address = pending.payer @ EmissionsError::NotAuthority)]
    pub payer: UncheckedAccount<'info>,
}

/// The authority withdraws a pending spend before it is applied.
pub fn handler(ctx: Context<CancelSpend>) -> Result<()> {
    emit_cpi!(SpendCancelled {
        eta: ctx.accounts.pending.eta,
    });
    Ok(())
}
