use anchor_lang::prelude::*;

use crate::constants::{OPERATOR_REARMS_PER_WINDOW, OPERATOR_REARM_WINDOW_SECS, STAKE_SEED};
use crate::errors::MarketError;
use crate::events::NodeRearmed;
use crate::state::{Node, Stake};

/// Writable: `node`. Compute: a few hundred units (no loop).
#[event_cpi]
#[derive(Accounts)]
pub struct RearmNode<'info> {
    /// The node's owner (cold key), or the operator it named.
    pub authority: Signer<'info>,
    #[account(mut)]
    pub node: Box<Account<'info, Node>>,
    /// Names the owner's operator.
    #[account(seeds = [STAKE_SEED, node.owner.as_ref()], bump = owner_stake.bump)]
    pub owner_stake: Box<Account<'info, Stake>>,
}

/// The owner, or its operator, lets the node arm again: it lifts a
/// suspension (after fixing what broke the SLA, once the cooldown since
/// the breach has passed) and a hold. The operator lifts at most
/// `OPERATOR_REARMS_PER_WINDOW` suspensions of a node in any 7 days (a
/// rolling window); past them only the owner can.
pub fn handler(ctx: Context<RearmNode>) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let by = ctx.accounts.authority.key();
    let operator = ctx.accounts.owner_stake.operator;
    let node = &mut ctx.accounts.node;
    let by_owner = by == node.owner;
    require!(
        by_owner || (operator != Pubkey::default() && by == operator),
        MarketError::NotNodeOperator
    );
    require!(node.suspended || node.held, MarketError::NodeNotSuspended);
    let was_suspended = node.suspended;
    if was_suspended {
        require!(now >= node.armable_at, MarketError::NodeCoolingDown);
        if !by_owner {
            count_operator_rearm(node, now)?;
        }
    }
    node.suspended = false;
    node.held = false;
    emit_cpi!(NodeRearmed {
        node: node.key(),
        owner: node.owner,
        by,
        was_suspended,
        operator_rearms: operator_rearms_within(node, now),
    });
    Ok(())
}

/// Suspensions the operator lifted on `node` in the 7 days up to `now`.
pub fn operator_rearms_within(node: &Node, now: i64) -> u8 {
    let since = now.saturating_sub(OPERATOR_REARM_WINDOW_SECS);
    let recent = node
        .operator_rearmed_at
        .iter()
        .filter(|&&at| at != 0 && at > since)
        .count();
    u8::try_from(recent).unwrap_or(u8::MAX)
}

/// Counts one lifted suspension against the operator's allowance: the
/// oldest of its last lifts must be a week old (a rolling window, so no
/// calendar boundary doubles it).
fn count_operator_rearm(node: &mut Node, now: i64) -> Result<()> {
    require!(
        operator_rearms_within(node, now) < OPERATOR_REARMS_PER_WINDOW,
        MarketError::OperatorRearmCapReached
    );
    // Newest first: the oldest falls off the end.
    node.operator_rearmed_at.rotate_right(1);
    node.operator_rearmed_at[0] = now;
    Ok(())
}
