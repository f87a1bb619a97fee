use anchor_lang::prelude::*;

use crate::constants::{NODE_SEED, STAKE_SEED, UNREADY_COOLDOWN_SECS};
use crate::errors::MarketError;
use crate::events::{NodeHeld, NodeLeftQueue};
use crate::sla::leave_queue;
use crate::state::{Market, MarketMut, Node, Stake};

/// Writable: `node`, `market`, `owner_stake`. Compute: one pool slot freed
/// (no loop).
#[event_cpi]
#[derive(Accounts)]
pub struct NodeUnready<'info> {
    /// The node's hot key; or its owner, or the operator the owner named.
    pub authority: Signer<'info>,
    #[account(mut, seeds = [NODE_SEED, node.signer.as_ref()], bump = node.bump)]
    pub node: Box<Account<'info, Node>>,
    #[account(mut, address = node.market @ MarketError::AccountMismatch)]
    pub market: AccountLoader<'info, Market>,
    #[account(mut, seeds = [STAKE_SEED, node.owner.as_ref()], bump = owner_stake.bump)]
    pub owner_stake: Box<Account<'info, Stake>>,
}

/// Leaves the node queue and unlocks the stake it held (works while
/// paused); the node may arm again after `UNREADY_COOLDOWN_SECS`. Its
/// owner or operator also *holds* it out (queued, busy or idle: a busy
/// node finishes its job and does not arm again) until one of them
/// re-arms it: a fleet is drained from outside its hosts.
pub fn handler(mut ctx: Context<NodeUnready>) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let a = &mut ctx.accounts;
    let by = a.authority.key();
    let node = a.node.key();
    let market = a.market.key();
    let operator = a.owner_stake.operator;
    let by_daemon = by == a.node.signer;
    // The daemon leaving the queue never holds its own node, whatever
    // other role its key also has.
    let by_operator =
        !by_daemon && (by == a.node.owner || (operator != Pubkey::default() && by == operator));
    require!(by_daemon || by_operator, MarketError::NotNodeSigner);
    let left = leave_queue(
        node,
        &mut a.node,
        &mut MarketMut::load(&a.market)?,
        &mut a.owner_stake,
    )?;
    require!(left || by_operator, MarketError::NodeNotQueued);
    if left {
        let cooldown_end = now
            .checked_add(UNREADY_COOLDOWN_SECS)
            .ok_or(MarketError::MathOverflow)?;
        a.node.armable_at = a.node.armable_at.max(cooldown_end);
    }
    if by_operator {
        a.node.held = true;
    }
    if left {
        emit_cpi!(NodeLeftQueue { node, market });
    }
    if by_operator {
        emit_cpi!(NodeHeld { node, by });
    }
    Ok(())
}
