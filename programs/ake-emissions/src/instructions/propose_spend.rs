use anchor_lang::prelude::*;
use anchor_spl::token::TokenAccount;

use crate::constants::{EMISSIONS_CONFIG_SEED, SPEND_SEED};
use crate::errors::EmissionsError;
use crate::events::SpendProposed;
use crate::state::{EmissionsConfig, PendingSpend};
use ake_program_common::account_creation::{create_pda, is_uncreated, write_new};
use ake_program_common::timelock;

#[event_cpi]
#[derive(Accounts)]
pub struct ProposeSpend<'info> {
    pub authority: Signer<'info>,
    /// Pays for the pending spend's account (back when applied or cancelled).
    #[account(mut)]
    pub payer: Signer<'info>,
    #[account(seeds = [EMISSIONS_CONFIG_SEED], bump = config.bump, has_one = authority @ EmissionsError::NotAuthority)]
    pub config: Box<Account<'info, EmissionsConfig>>,
    #[account(
        token::mint = config.mint,
        constraint = to.key() != config.treasury @ EmissionsError::InvalidSpend,
    )]
    pub to: Box<Account<'info, TokenAccount>>,
    /// CHECK: created here, PDA ["spend", config].
    #[account(mut, seeds = [SPEND_SEED, config.key().as_ref()], bump)]
    pub pending: UncheckedAccount<'info>,
    pub system_program: Program<'info, System>,
}

/// The authority proposes paying `amount` of the treasury (the market's
/// fees) to `to`; anyone applies it after the timelock, so everyone sees
/// a spend `timelock_secs` before it happens.
pub fn handler(ctx: Context<ProposeSpend>, amount: u64) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let a = &ctx.accounts;
    require!(amount > 0, EmissionsError::InvalidSpend);
    let info = a.pending.to_account_info();
    require!(is_uncreated(&info), EmissionsError::SpendAlreadyPending);
    let eta = timelock::eta(now, a.config.timelock_secs).ok_or(EmissionsError::MathOverflow)?;
    let config_key = a.config.key();
    create_pda(
        &a.payer.to_account_info(),
        &info,
        &crate::ID,
        PendingSpend::SPACE,
        &[SPEND_SEED, config_key.as_ref(), &[ctx.bumps.pending]],
    )?;
    let pending = PendingSpend {
        proposed_at: now,
        eta,
        payer: a.payer.key(),
        to: a.to.key(),
        amount,
        bump: ctx.bumps.pending,
    };
    write_new(&info, &pending)?;
    emit_cpi!(SpendProposed {
        eta,
        to: pending.to,
        amount,
    });
    Ok(())
}
