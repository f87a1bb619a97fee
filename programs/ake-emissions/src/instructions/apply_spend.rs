use anchor_lang::prelude::*;
use anchor_spl::token::{Token, TokenAccount};

use crate::constants::{EMISSIONS_CONFIG_SEED, SPEND_SEED};
use crate::errors::EmissionsError;
use crate::events::TreasurySpent;
use crate::state::{EmissionsConfig, PendingSpend};
use crate::treasury::pay_from_treasury;
use ake_program_common::timelock;

#[event_cpi]
#[derive(Accounts)]
pub struct ApplySpend<'info> {
    #[account(seeds = [EMISSIONS_CONFIG_SEED], bump = config.bump, has_one = treasury)]
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
    #[account(mut)]
    pub treasury: Box<Account<'info, TokenAccount>>,
    #[account(mut, address = pending.to @ EmissionsError::InvalidSpend)]
    pub to: Box<Account<'info, TokenAccount>>,
    pub token_program: Program<'info, Token>,
}

/// Anyone pays out a proposed spend once its timelock has passed (and
/// within 14 days of it).
pub fn handler(ctx: Context<ApplySpend>) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let a = &ctx.accounts;
    require!(now >= a.pending.eta, EmissionsError::TimelockNotElapsed);
    require!(
        timelock::applicable(now, a.pending.eta),
        EmissionsError::ChangeExpired
    );
    let amount = a.pending.amount;
    require!(
        a.treasury.amount >= amount,
        EmissionsError::TreasuryTooSmall
    );
    pay_from_treasury(
        &a.config,
        &a.treasury.to_account_info(),
        &a.to.to_account_info(),
        amount,
    )?;
    emit_cpi!(TreasurySpent {
        to: a.to.key(),
        amount,
        treasury_balance: a.treasury.amount - amount,
    });
    Ok(())
}
