use anchor_lang::prelude::*;
use anchor_spl::token::{Mint, Token, TokenAccount};

use crate::constants::{CONFIG_SEED, STAKE_VAULT_SEED};
use crate::errors::MarketError;
use crate::events::ConfigInitialized;
use crate::state::{Config, Params};
use ake_emissions::state::EmissionsConfig;
use ake_program_common::account_creation::{create_pda, create_token_vault, write_new};

#[event_cpi]
#[derive(Accounts)]
pub struct Initialize<'info> {
    /// The authority ake-emissions names: trust flows from the mint's
    /// holder (who initialized ake-emissions) to the market.
    #[account(mut, address = emissions_config.authority @ MarketError::NotAuthority)]
    pub authority: Signer<'info>,
    /// ake-emissions' config: it must exist, for this mint, before the market.
    #[account(
        seeds = [ake_emissions::constants::EMISSIONS_CONFIG_SEED],
        bump = emissions_config.bump,
        seeds::program = ake_emissions::ID,
        has_one = mint @ MarketError::WrongMint,
        has_one = treasury @ MarketError::WrongTreasury,
    )]
    pub emissions_config: Box<Account<'info, EmissionsConfig>>,
    /// CHECK: created here, PDA ["config"].
    #[account(mut, seeds = [CONFIG_SEED], bump)]
    pub config: UncheckedAccount<'info>,
    pub mint: Box<Account<'info, Mint>>,
    /// ake-emissions' treasury: fees go where only that program spends.
    pub treasury: Box<Account<'info, TokenAccount>>,
    /// CHECK: created here as a token account, PDA ["stake_vault"].
    #[account(mut, seeds = [STAKE_VAULT_SEED], bump)]
    pub stake_vault: UncheckedAccount<'info>,
    pub token_program: Program<'info, Token>,
    pub system_program: Program<'info, System>,
}

/// Only the authority ake-emissions names, for ake-emissions' mint, and only
/// after ake-emissions holds the mint authority: nobody can initialize the
/// market first with a mint or a treasury of their own.
pub fn handler(ctx: Context<Initialize>, params: Params, arbiter: Pubkey) -> Result<()> {
    params.validate()?;
    let a = &ctx.accounts;
    let payer = a.authority.to_account_info();

    let config_bump = ctx.bumps.config;
    create_pda(
        &payer,
        &a.config.to_account_info(),
        &crate::ID,
        Config::SPACE,
        &[CONFIG_SEED, &[config_bump]],
    )?;

    let vault_bump = ctx.bumps.stake_vault;
    let vault = a.stake_vault.to_account_info();
    create_token_vault(
        &payer,
        &vault,
        &a.mint.to_account_info(),
        &[STAKE_VAULT_SEED, &[vault_bump]],
    )?;

    let config = Config {
        authority: a.authority.key(),
        pending_authority: Pubkey::default(),
        guardian: a.authority.key(),
        arbiter,
        mint: a.mint.key(),
        treasury: a.treasury.key(),
        stake_vault: vault.key(),
        paused: false,
        unpaused_at: 0,
        market_count: 0,
        params,
        bump: config_bump,
        stake_vault_bump: vault_bump,
    };
    require!(a.mint.decimals <= 12, MarketError::WrongMint);
    write_new(&a.config.to_account_info(), &config)?;
    emit_cpi!(ConfigInitialized {
        authority: config.authority,
        mint: config.mint,
        treasury: config.treasury,
        params,
    });
    Ok(())
}
