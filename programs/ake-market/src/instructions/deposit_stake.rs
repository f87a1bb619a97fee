use anchor_lang::prelude::*;
use anchor_spl::token::{Mint, Token, TokenAccount};

use crate::constants::{CONFIG_SEED, STAKE_SEED};
use crate::errors::MarketError;
use crate::events::StakeDeposited;
use crate::state::{Config, Stake};
use crate::vaults::deposit;
use ake_program_common::account_creation::write_new;

#[event_cpi]
#[derive(Accounts)]
pub struct DepositStake<'info> {
    #[account(mut)]
    pub owner: Signer<'info>,
    #[account(seeds = [CONFIG_SEED], bump = config.bump, has_one = mint, has_one = stake_vault)]
    pub config: Box<Account<'info, Config>>,
    /// CHECK: PDA ["stake", owner]; created on the first deposit, else decoded and owner-checked.
    #[account(mut, seeds = [STAKE_SEED, owner.key().as_ref()], bump)]
    pub stake: UncheckedAccount<'info>,
    pub mint: Box<Account<'info, Mint>>,
    #[account(mut, token::mint = mint, token::authority = owner)]
    pub owner_token: Box<Account<'info, TokenAccount>>,
    #[account(mut)]
    pub stake_vault: Box<Account<'info, TokenAccount>>,
    pub token_program: Program<'info, Token>,
    pub system_program: Program<'info, System>,
}

pub fn handler(ctx: Context<DepositStake>, amount: u64) -> Result<()> {
    require!(amount > 0, MarketError::ZeroAmount);
    let a = &ctx.accounts;
    let info = a.stake.to_account_info();
    let bump = ctx.bumps.stake;
    let mut stake = Stake::load_or_create(&a.owner.to_account_info(), &info, bump)?;

    deposit(
        a.owner_token.to_account_info(),
        a.stake_vault.to_account_info(),
        a.mint.to_account_info(),
        a.owner.to_account_info(),
        amount,
        a.mint.decimals,
    )?;
    stake.amount = stake
        .amount
        .checked_add(amount)
        .ok_or(MarketError::MathOverflow)?;
    write_new(&info, &stake)?;
    emit_cpi!(StakeDeposited {
        owner: stake.owner,
        amount,
        staked: stake.amount,
        tier: ctx.accounts.config.tier_of(stake.amount),
    });
    Ok(())
}
