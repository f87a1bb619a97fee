use anchor_lang::prelude::*;
use anchor_spl::token::{self, Mint, Token, TokenAccount, TransferChecked};

use crate::constants::{CONFIG_SEED, STAKE_SEED, STAKE_VAULT_SEED};
use crate::errors::MarketError;
use crate::events::StakeWithdrawn;
use crate::state::{Config, Stake};

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
    let bump = [a.config.stake_vault_bump];
    let seeds: &[&[u8]] = &[STAKE_VAULT_SEED, &bump];
    token::transfer_checked(
        CpiContext::new_with_signer(
            token::ID,
            TransferChecked {
                from: a.stake_vault.to_account_info(),
                mint: a.mint.to_account_info(),
                to: a.owner_token.to_account_info(),
                authority: a.stake_vault.to_account_info(),
            },
            &[seeds],
        ),
        amount,
        a.mint.decimals,
    )?;
    let stake = &mut ctx.accounts.stake;
    stake.unbonding = 0;
    emit_cpi!(StakeWithdrawn {
        owner: stake.owner,
        amount
    });
    Ok(())
}
