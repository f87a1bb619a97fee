use ake_program_common::account_creation::{create_pda, write_new};
use anchor_lang::prelude::*;
use anchor_spl::token::{Mint, TokenAccount};

use crate::constants::{EMISSIONS_CONFIG_SEED, MINT_AUTHORITY_SEED};
use crate::errors::EmissionsError;
use crate::events::EmissionsInitialized;
use crate::state::{BreakerParams, BreakerWindow, EmissionsConfig, Schedule, Split};

#[event_cpi]
#[derive(Accounts)]
pub struct Initialize<'info> {
    #[account(mut)]
    pub authority: Signer<'info>,
    /// CHECK: created here, PDA ["emissions"].
    #[account(mut, seeds = [EMISSIONS_CONFIG_SEED], bump)]
    pub config: UncheckedAccount<'info>,
    /// CHECK: PDA only; the mint must already name it as its mint authority.
    #[account(seeds = [MINT_AUTHORITY_SEED], bump)]
    pub mint_authority: UncheckedAccount<'info>,
    #[account(
        constraint = mint.mint_authority == Some(mint_authority.key()).into()
            @ EmissionsError::MintAuthorityNotTransferred,
    )]
    pub mint: Box<Account<'info, Mint>>,
    #[account(token::mint = mint)]
    pub treasury: Box<Account<'info, TokenAccount>>,
    pub system_program: Program<'info, System>,
}

pub fn handler(
    ctx: Context<Initialize>,
    reporter: Pubkey,
    schedule: Schedule,
    split: Split,
    breaker: BreakerParams,
) -> Result<()> {
    schedule.validate()?;
    // Work is credited from genesis on: settlements before it would have nowhere to go.
    require!(
        schedule.genesis_ts <= Clock::get()?.unix_timestamp,
        EmissionsError::InvalidSchedule
    );
    split.validate(schedule.first_emission)?;
    breaker.validate(schedule.epoch_secs, schedule.first_emission)?;
    let a = &ctx.accounts;
    let info = a.config.to_account_info();
    create_pda(
        &a.authority.to_account_info(),
        &info,
        &crate::ID,
        EmissionsConfig::SPACE,
        &[EMISSIONS_CONFIG_SEED, &[ctx.bumps.config]],
    )?;
    let config = EmissionsConfig {
        authority: ctx.accounts.authority.key(),
        mint: ctx.accounts.mint.key(),
        treasury: ctx.accounts.treasury.key(),
        reporter,
        schedule,
        split,
        breaker,
        next_epoch: 0,
        next_emission: schedule.first_emission,
        scheduled_total: 0,
        total_minted: 0,
        window: BreakerWindow::default(),
        mint_authority_bump: ctx.bumps.mint_authority,
        bump: ctx.bumps.config,
    };
    write_new(&info, &config)?;
    emit_cpi!(EmissionsInitialized {
        mint: config.mint,
        treasury: config.treasury,
        reporter,
        schedule,
        split,
        breaker,
    });
    Ok(())
}
