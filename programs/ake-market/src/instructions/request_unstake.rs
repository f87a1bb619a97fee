use anchor_lang::prelude::*;

use crate::constants::{CONFIG_SEED, STAKE_SEED};
use crate::errors::MarketError;
use crate::events::UnstakeRequested;
use crate::state::{Config, Stake};

#[event_cpi]
#[derive(Accounts)]
pub struct RequestUnstake<'info> {
    pub owner: Signer<'info>,
    #[account(seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,
    #[account(mut, seeds = [STAKE_SEED, owner.key().as_ref()], bump = stake.bump, has_one = owner)]
    pub stake: Box<Account<'info, Stake>>,
}

/// Moves `amount` out of active stake; it can be withdrawn after the
/// unbonding period, counted from the latest request.
pub fn handler(ctx: Context<RequestUnstake>, amount: u64) -> Result<()> {
    require!(amount > 0, MarketError::ZeroAmount);
    let stake = &mut ctx.accounts.stake;
    require!(
        amount <= stake.amount,
        MarketError::InsufficientStakeBalance
    );
    require!(amount <= stake.free(), MarketError::StakeLocked);
    let unlock_at = Clock::get()?
        .unix_timestamp
        .checked_add(i64::from(ctx.accounts.config.params.unbonding_secs))
        .ok_or(MarketError::MathOverflow)?;
    stake.amount -= amount;
    stake.unbonding = stake
        .unbonding
        .checked_add(amount)
        .ok_or(MarketError::MathOverflow)?;
    stake.unlock_at = unlock_at;
    emit_cpi!(UnstakeRequested {
        owner: stake.owner,
        amount,
        unlock_at
    });
    Ok(())
}
