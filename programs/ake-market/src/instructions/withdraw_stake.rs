use anchor_lang::prelude::*;
use anchor_spl::token::{Mint, Token, TokenAccount};

use crate::constants::{CONFIG_SEED, STAKE_SEED};
use crate::errors::MarketError;
use crate::events::StakeWithdrawn;
use crate::state::{Config, Stake};
use crate::vaults::Vault;

#[event_cpi]
#[derive(Accounts)]
pub struct WithdrawStake<'info> {
    pub owner: Signer<'info>,
    #[account(seeds = [CONFIG_SEED], bump = config.bump, has_one = mint, has_one = stake_vault)]
    pub config: Box<Account<'info, Config>>,
    #[account(mut, seeds = [STAKE_SEED, owner.key().as_ref()], bump = stake.bump, has_one = owner)]
    pub stake: Box<Account<'info, Stake>>,
    pub mint: Box<Account<'info, Mint>>,
    #[account(mut, token::mint = mint, token::authority = owner)]
    pub owner_token: Box<Account<'info, TokenAccount>>,
    #[account(mut)]
    pub stake_vault: Box<Account<'info, TokenAccount>>,
    pub token_program: Program<'info, Token>,
}

pub fn handler(ctx: Context<WithdrawStake>) -> Result<()> {
    let a = &ctx.accounts;
    let amount = a.stake.unbonding;
    require!(amount > 0, MarketError::NothingUnbonding);
    require!(
        Clock::get()?.unix_timestamp >= a.stake.unlock_at,
        MarketError::StillUnbonding
    );
    Vault::stake(
        a.config.stake_vault_bump,
        a.stake_vault.to_account_info(),
        a.mint.to_account_info(),
        a.mint.decimals,
    )
    .pay_out(&a.owner_token.to_account_info(), amount)?;
    let stake = &mut ctx.accounts.stake;
    stake.unbonding = 0;
    emit_cpi!(StakeWithdrawn {
        owner: stake.owner,
        amount
    });
    Ok(())
}
