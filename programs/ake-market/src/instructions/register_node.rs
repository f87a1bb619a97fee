use anchor_lang::prelude::*;

use crate::constants::{
    CONFIG_SEED, MAX_GPU_MODEL_LEN, NODE_SEED, OPERATOR_REARMS_PER_WINDOW, STAKE_SEED,
};
use crate::errors::MarketError;
use crate::events::NodeRegistered;
use crate::state::{Config, HardwareProfile, Market, Node, NodeStatus, Stake};
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
    /// CHECK: PDA ["stake", owner]: counts the node's GPUs (its owner's
    /// release budget); created here when the owner has not staked yet.
    #[account(mut, seeds = [STAKE_SEED, owner.key().as_ref()], bump)]
    pub owner_stake: UncheckedAccount<'info>,
    #[account(seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,
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
    let now = Clock::get()?.unix_timestamp;
    // A new node waits the re-arm cooldown before its first job, and starts
    // with no reputation: a fresh identity is never better off than a
    // suspended one.
    let armable_at = now
        .checked_add(i64::from(a.config.params.sla.rearm_cooldown_secs))
        .ok_or(MarketError::MathOverflow)?;
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
        reputation_bps: 0,
        proven_micro_usd: 0,
        failed_micro_usd: 0,
        suspended: false,
        armable_at,
        open_jobs: 0,
        jobs_completed: 0,
        jobs_expired: 0,
        jobs_disputed: 0,
        work_micro_usd: 0,
        registered_at: now,
        queue_slot: 0,
        held: false,
        operator_rearmed_at: [0; OPERATOR_REARMS_PER_WINDOW as usize],
        bump,
    };
    write_new(&info, &node)?;
    let stake_info = a.owner_stake.to_account_info();
    let mut stake = Stake::load_or_create(
        &a.owner.to_account_info(),
        &stake_info,
        ctx.bumps.owner_stake,
    )?;
    stake.track_node(gpus, true)?;
    write_new(&stake_info, &stake)?;
    emit_cpi!(NodeRegistered {
        node: info.key(),
        owner: node.owner,
        signer: node.signer,
        market: node.market,
        gpus,
    });
    Ok(())
}
