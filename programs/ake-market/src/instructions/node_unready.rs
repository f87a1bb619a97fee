use anchor_lang::prelude::*;

use crate::constants::{NODE_SEED, STAKE_SEED, UNREADY_COOLDOWN_SECS};
use crate::errors::MarketError;
use crate::events::NodeLeftQueue;
use crate::sla::leave_queue;
use crate::state::{Market, MarketMut, Node, Stake};

#[event_cpi]
#[derive(Accounts)]
pub struct NodeUnready<'info> {
    pub node_signer: Signer<'info>,
    #[account(
        mut,
        seeds = [NODE_SEED, node_signer.key().as_ref()],
        bump = node.bump,
        constraint = node.signer == node_signer.key() @ MarketError::NotNodeSigner,
    )]
    pub node: Box<Account<'info, Node>>,
    #[account(mut, address = node.market @ MarketError::AccountMismatch)]
    pub market: AccountLoader<'info, Market>,
    #[account(mut, seeds = [STAKE_SEED, node.owner.as_ref()], bump = owner_stake.bump)]
    pub owner_stake: Box<Account<'info, Stake>>,
}

/// Leaves the node queue and unlocks the stake it held (works while
/// paused); the node may arm again after `UNREADY_COOLDOWN_SECS`.
pub fn handler(mut ctx: Context<NodeUnready>) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let a = &mut ctx.accounts;
    let event = NodeLeftQueue {
        node: a.node.key(),
        market: a.market.key(),
    };
    let left = leave_queue(
        a.node.key(),
        &mut a.node,
        &mut MarketMut::load(&a.market)?,
        &mut a.owner_stake,
    )?;
    require!(left, MarketError::NodeNotQueued);
    let cooldown_end = now
        .checked_add(UNREADY_COOLDOWN_SECS)
        .ok_or(MarketError::MathOverflow)?;
    a.node.armable_at = a.node.armable_at.max(cooldown_end);
    emit_cpi!(event);
    Ok(())
}
