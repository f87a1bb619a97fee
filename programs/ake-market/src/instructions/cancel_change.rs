use anchor_lang::prelude::*;

use crate::constants::{CONFIG_SEED, PENDING_SEED};
use crate::errors::MarketError;
use crate::events::ChangeCancelled;
use crate::state::{Config, PendingChange};

#[event_cpi]
#[derive(Accounts)]
pub struct CancelChange<'info> {
    pub authority: Signer<'info>,
    #[account(seeds = [CONFIG_SEED], bump = config.bump, has_one = authority @ MarketError::NotAuthority)]
    pub config: Box<Account<'info, Config>>,
    #[account(
        mut,
        seeds = [PENDING_SEED, pending.target.as_ref()],
        bump = pending.bump,
        close = payer,
    )]
    pub pending: Box<Account<'info, PendingChange>>,
    /// CHECK: whoever proposed the change: gets its rent back.
    #[account(mut, address = pending.payer @ MarketError::AccountMismatch)]
    pub payer: UncheckedAccount<'info>,
}

/// The authority withdraws a pending change before it is applied.
pub fn handler(ctx: Context<CancelChange>) -> Result<()> {
    emit_cpi!(ChangeCancelled {
        target: ctx.accounts.pending.target,
    });
    Ok(())
}
