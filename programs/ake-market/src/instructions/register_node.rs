use anchor_lang::prelude::*;

use crate::constants::{MAX_GPU_MODEL_LEN, NODE_SEED};
use crate::errors::MarketError;
use crate::events::NodeRegistered;
use crate::state::{HardwareProfile, Market, Node, NodeStatus};
use ake_program_common::account_creation::{create_pda, write_new};

#[event_cpi]
#[derive(Accounts)]
pub struct RegisterNode<'info> {
    /// Cold key: pays, stakes and receives emissions.
    #[account(mut)]
    pub owner: Signer<'info>,
    /// Hot key the daemon holds; signs to prove possession.
    pub node_signer: Signer<'info>,
    /// CHECK: created here, PDA ["node", node_signer].
    #[account(mut, seeds = [NODE_SEED, node_signer.key().as_ref()], bump)]
    pub node: UncheckedAccount<'info>,
    pub market: AccountLoader<'info, Market>,
    pub system_program: Program<'info, System>,
}

pub fn handler(ctx: Context<RegisterNode>, gpus: u16, profile: HardwareProfile) -> Result<()> {
    require!(
        (1..=64).contains(&gpus)
            && !profile.gpu_model.is_empty()
            && profile.gpu_model.len() <= MAX_GPU_MODEL_LEN,
        MarketError::InvalidNodeProfile
    );
    let a = &ctx.accounts;
    let info = a.node.to_account_info();
    let bump = ctx.bumps.node;
    create_pda(
        &a.owner.to_account_info(),
        &info,
        &crate::ID,
        Node::SPACE,
        &[NODE_SEED, a.node_signer.key.as_ref(), &[bump]],
    )?;
    let node = Node {
        owner: a.owner.key(),
        signer: a.node_signer.key(),
        market: a.market.key(),
        gpus,
        profile,
        status: NodeStatus::Idle,
        current_job: Pubkey::default(),
        locked_stake: 0,
        tier: 0,
        reputation_bps: Node::NEUTRAL_REPUTATION_BPS,
        suspended: false,
        jobs_completed: 0,
        jobs_expired: 0,
        jobs_disputed: 0,
        work_micro_usd: 0,
        registered_at: Clock::get()?.unix_timestamp,
        bump,
    };
    write_new(&info, &node)?;
    emit_cpi!(NodeRegistered {
        node: info.key(),
        owner: node.owner,
        signer: node.signer,
        market: node.market,
        gpus,
    });
    Ok(())
}
