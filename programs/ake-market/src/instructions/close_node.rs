use anchor_lang::prelude::*;

use crate::errors::MarketError;
use crate::events::NodeClosed;
use crate::state::{Node, NodeStatus};

#[event_cpi]
#[derive(Accounts)]
pub struct CloseNode<'info> {
    #[account(mut)]
    pub owner: Signer<'info>,
    #[account(mut, has_one = owner @ MarketError::NotNodeOwner, close = owner)]
    pub node: Box<Account<'info, Node>>,
}

/// The owner closes an idle node with no unsettled job and gets its rent
/// back. Its record goes with it; a node registered later starts at zero
/// reputation and waits the re-arm cooldown, so closing never helps a
/// punished node. Emissions already earned stay claimable (work records
/// name the owner).
pub fn handler(ctx: Context<CloseNode>) -> Result<()> {
    let node = &ctx.accounts.node;
    require!(node.status == NodeStatus::Idle, MarketError::NodeNotIdle);
    require!(node.open_jobs == 0, MarketError::NodeHasOpenJobs);
    let event = NodeClosed {
        node: node.key(),
        owner: node.owner,
        reputation_bps: node.reputation_bps,
        suspended: node.suspended,
    };
    emit_cpi!(event);
    Ok(())
}
