use anchor_lang::prelude::*;

use crate::constants::NODE_SEED;
use crate::errors::MarketError;
use crate::events::NodeKeyRotated;
use crate::state::{Node, NodeStatus};
use ake_program_common::account_creation::{create_pda, write_new};

#[event_cpi]
#[derive(Accounts)]
pub struct RotateNodeKey<'info> {
    /// Cold key: pays for the new account and gets the old one's rent.
    #[account(mut)]
    pub owner: Signer<'info>,
    #[account(mut, has_one = owner @ MarketError::NotNodeOwner, close = owner)]
    pub node: Box<Account<'info, Node>>,
    /// The daemon's new hot key; signs to prove possession.
    pub new_signer: Signer<'info>,
    /// CHECK: created here, PDA ["node", new_signer].
    #[account(mut, seeds = [NODE_SEED, new_signer.key().as_ref()], bump)]
    pub new_node: UncheckedAccount<'info>,
    pub system_program: Program<'info, System>,
}

/// The owner moves an idle node with no unsettled job to a new hot key
/// (the node's address is derived from it). Everything it earned or owes
/// moves with it: reputation, the work behind it, suspension and cooldown,
/// counters and registration time.
pub fn handler(ctx: Context<RotateNodeKey>) -> Result<()> {
    let a = &ctx.accounts;
    require!(a.node.status == NodeStatus::Idle, MarketError::NodeNotIdle);
    require!(a.node.open_jobs == 0, MarketError::NodeHasOpenJobs);
    let info = a.new_node.to_account_info();
    let bump = ctx.bumps.new_node;
    create_pda(
        &a.owner.to_account_info(),
        &info,
        &crate::ID,
        Node::SPACE,
        &[NODE_SEED, a.new_signer.key.as_ref(), &[bump]],
    )?;
    let node = Node {
        signer: a.new_signer.key(),
        bump,
        ..(**a.node).clone()
    };
    write_new(&info, &node)?;
    emit_cpi!(NodeKeyRotated {
        old_node: a.node.key(),
        new_node: info.key(),
        owner: node.owner,
        new_signer: node.signer,
    });
    Ok(())
}
