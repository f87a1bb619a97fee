use anchor_lang::prelude::*;

use crate::constants::STAKE_SEED;
use crate::errors::MarketError;
use crate::events::StakeClosed;
use crate::state::Stake;

#[event_cpi]
#[derive(Accounts)]
pub struct CloseStake<'info> {
    #[account(mut)]
    pub owner: Signer<'info>,
    #[account(
        mut,
        seeds = [STAKE_SEED, owner.key().as_ref()],
        bump = stake.bump,
        close = owner,
    )]
    pub stake: Box<Account<'info, Stake>>,
}

/// The owner closes an empty stake account (everything unstaked and
/// withdrawn, every node closed) and gets its rent back. Emptying it takes
/// the unbonding period, never shorter than the release-budget window, so
/// closing and re-opening never resets a budget early.
pub fn handler(ctx: Context<CloseStake>) -> Result<()> {
    let stake = &ctx.accounts.stake;
    require!(
        stake.amount == 0 && stake.locked == 0 && stake.unbonding == 0,
        MarketError::StakeNotEmpty
    );
    require!(stake.registered_gpus == 0, MarketError::StakeHasNodes);
    let event = StakeClosed { owner: stake.owner };
    emit_cpi!(event);
    Ok(())
}
