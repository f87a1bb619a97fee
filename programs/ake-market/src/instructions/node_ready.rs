use anchor_lang::prelude::*;

use crate::constants::{CONFIG_SEED, NODE_SEED, STAKE_SEED};
use crate::errors::MarketError;
use crate::matching::{join_node_queue, must_assign, next_work, queue_lock, take_next, Rules};
use crate::state::{Batch, Config, Job, Market, MarketMut, Node, NodeStatus, Stake};

#[event_cpi]
#[derive(Accounts)]
pub struct NodeReady<'info> {
    pub node_signer: Signer<'info>,
    #[account(seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,
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
    /// The best queued job this node can serve, when it is a job.
    #[account(mut, constraint = candidate_job.market == market.key() @ MarketError::AccountMismatch)]
    pub candidate_job: Option<Box<Account<'info, Job>>>,
    /// The best queued entry, when it is a batch (with `frame_job`).
    #[account(mut, constraint = candidate_batch.market == market.key() @ MarketError::AccountMismatch)]
    pub candidate_batch: Option<Box<Account<'info, Batch>>>,
    /// CHECK: the batch's next frame job address (checked in `take_frame`), created here.
    #[account(mut)]
    pub frame_job: Option<UncheckedAccount<'info>>,
    pub system_program: Option<Program<'info, System>>,
}

/// Takes the best queued job (or batch frame) the node can serve and its
/// owner can cover (locking that job's collateral), or joins the node
/// queue (locking the market's stake per GPU for each of its GPUs).
pub fn handler(mut ctx: Context<NodeReady>) -> Result<()> {
    require!(!ctx.accounts.config.paused, MarketError::Paused);
    let now = Clock::get()?.unix_timestamp;
    let rules = Rules::of(&ctx.accounts.config);
    let node_key = ctx.accounts.node.key();
    let market_key = ctx.accounts.market.key();
    let tier = ctx.accounts.config.tier_of(ctx.accounts.owner_stake.amount);
    let a = &mut ctx.accounts;
    require!(!a.node.suspended, MarketError::NodeSuspended);
    require!(now >= a.node.armable_at, MarketError::NodeCoolingDown);
    require!(a.node.status == NodeStatus::Idle, MarketError::NodeNotIdle);

    let mut market = MarketMut::load(&a.market)?;
    require!(
        market.gpu_required == 0 || a.node.profile.vram_mib > 0,
        MarketError::GpuMarketNeedsGpus
    );
    require!(
        a.owner_stake.free() >= queue_lock(&market, &a.node)?,
        MarketError::InsufficientStake
    );
    a.node.tier = tier;

    let best = market.best_job_for(a.node.gpus, a.node.reputation_bps, a.owner_stake.free());
    let next = next_work(&mut a.candidate_job, &mut a.candidate_batch, &a.frame_job)?;
    let took = if must_assign(best, next.named())? {
        take_next(
            &mut market,
            next,
            (node_key, &mut a.node, &mut a.owner_stake),
            &rules,
            now,
        )?
    } else {
        None
    };
    let queued = match took {
        Some(_) => None,
        None => Some(join_node_queue(
            &mut market,
            market_key,
            (node_key, &mut a.node, &mut a.owner_stake),
            tier,
        )?),
    };
    drop(market);
    if let Some(took) = took {
        emit_cpi!(took.assigned);
        if let Some(frame) = took.frame {
            emit_cpi!(frame);
        }
    }
    if let Some(queued) = queued {
        emit_cpi!(queued);
    }
    Ok(())
}
