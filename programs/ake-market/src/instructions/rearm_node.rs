use anchor_lang::prelude::*;

use crate::errors::MarketError;
use crate::events::NodeRearmed;
use crate::state::Node;

#[event_cpi]
#[derive(Accounts)]
pub struct RearmNode<'info> {
    pub owner: Signer<'info>,
    #[account(mut, has_one = owner @ MarketError::NotNodeOwner)]
    pub node: Box<Account<'info, Node>>,
}

/// The owner (cold key) lifts a suspension after fixing what broke the SLA,
/// once the cooldown since the breach has passed; the daemon can then arm
/// the node again.
pub fn handler(ctx: Context<RearmNode>) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let node = &mut ctx.accounts.node;
    require!(node.suspended, MarketError::NodeNotSuspended);
    require!(now >= node.armable_at, MarketError::NodeCoolingDown);
    node.suspended = false;
    let event = NodeRearmed {
        node: node.key(),
        owner: node.owner,
    };
    emit_cpi!(event);
    Ok(())
}
