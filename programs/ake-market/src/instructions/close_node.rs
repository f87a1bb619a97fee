use anchor_lang::prelude::*;

use ake_program_common::account_creation::{read_existing, write_new};

use crate::constants::STAKE_SEED;
use crate::errors::MarketError;
use crate::events::NodeClosed;
use crate::state::{Node, NodeStatus, Stake};

#[event_cpi]
#[derive(Accounts)]
pub struct CloseNode<'info> {
    #[account(mut)]
    pub owner: Signer<'info>,
    #[account(mut, has_one = owner @ MarketError::NotNodeOwner, close = owner)]
    pub node: Box<Account<'info, Node>>,
    /// CHECK: PDA ["stake", node.owner], decoded in the handler (after the
    /// owner check, so a stranger learns it is not the owner): no longer
    /// counts the node's GPUs for the release budget.
    #[account(mut, seeds = [STAKE_SEED, node.owner.as_ref()], bump)]
    pub owner_stake: UncheckedAccount<'info>,
}

/// The owner closes an idle node with no unsettled job and gets its rent
/// back. Its record goes with it; a node registered later starts at zero
/// reputation and waits the re-arm cooldown, so closing never helps a
/// punished node. Emissions already earned stay claimable (work records
/// name the owner).
pub fn handler(mut ctx: Context<CloseNode>) -> Result<()> {
    let a = &mut ctx.accounts;
    let node = &a.node;
    require!(node.status == NodeStatus::Idle, MarketError::NodeNotIdle);
    require!(node.open_jobs == 0, MarketError::NodeHasOpenJobs);
    let stake_info = a.owner_stake.to_account_info();
    let mut stake = read_existing::<Stake>(&stake_info, &crate::ID)?;
    stake.track_node(node.gpus, false)?;
    write_new(&stake_info, &stake)?;
    let event = NodeClosed {
        node: node.key(),
        owner: node.owner,
        reputation_bps: node.reputation_bps,
        suspended: node.suspended,
    };
    emit_cpi!(event);
    Ok(())
}
