use anchor_lang::prelude::*;

use crate::constants::{CONFIG_SEED, NODE_SEED, STAKE_SEED};
use crate::errors::MarketError;
use crate::events::{JobAssigned, NodeQueued};
use crate::matching::{assign, must_assign, waiting_node, Assignment, Rules};
use crate::state::{Config, Job, Market, Node, NodeStatus, Stake};

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
    /// The best queued job this node can serve, when there is one.
    #[account(mut, constraint = candidate_job.market == market.key() @ MarketError::AccountMismatch)]
    pub candidate_job: Option<Box<Account<'info, Job>>>,
}

/// Takes the best queued job the node can serve and its owner can cover
/// (locking that job's collateral), or joins the node queue (locking the
/// market's stake per GPU for each of its GPUs).
pub fn handler(mut ctx: Context<NodeReady>) -> Result<()> {
    require!(!ctx.accounts.config.paused, MarketError::Paused);
    let now = Clock::get()?.unix_timestamp;
    let rules = Rules::of(&ctx.accounts.config);
    let node_key = ctx.accounts.node.key();
    let market_key = ctx.accounts.market.key();
    let a = &mut ctx.accounts;
    require!(!a.node.suspended, MarketError::NodeSuspended);
    require!(now >= a.node.armable_at, MarketError::NodeCoolingDown);
    require!(a.node.status == NodeStatus::Idle, MarketError::NodeNotIdle);

    let mut market = a.market.load_mut()?;
    require!(
        market.gpu_required == 0 || a.node.profile.vram_mib > 0,
        MarketError::GpuMarketNeedsGpus
    );
    let queue_lock = market
        .min_stake_per_gpu
        .checked_mul(u64::from(a.node.gpus))
        .ok_or(MarketError::MathOverflow)?;
    require!(
        a.owner_stake.free() >= queue_lock,
        MarketError::InsufficientStake
    );
    let tier = a.config.tier_of(a.owner_stake.amount);
    a.node.tier = tier;

    let best = market.best_job_for(a.node.gpus, a.node.reputation_bps, a.owner_stake.free());
    let passed = a.candidate_job.as_ref().map(|j| j.key());
    if must_assign(best, passed)? {
        let job = a
            .candidate_job
            .as_mut()
            .ok_or(MarketError::MatchCandidateMissing)?;
        // A job this owner handed back is never its again; the node waits
        // for the next post instead.
        if !job.released_by_owner(&a.node.owner) {
            let job_key = job.key();
            let assignment = assign(
                &mut market,
                job_key,
                job,
                node_key,
                &mut a.node,
                &mut a.owner_stake,
                &rules,
                now,
            )?;
            if let Assignment::Assigned {
                deadline,
                collateral,
                release_window_end,
            } = assignment
            {
                market.remove_job(&job_key)?;
                let attempt = job.attempts;
                drop(market);
                emit_cpi!(JobAssigned {
                    job: job_key,
                    node: node_key,
                    deadline,
                    attempt,
                    collateral,
                    release_window_end,
                });
                return Ok(());
            }
        }
    }
    a.owner_stake.lock(queue_lock)?;
    market.enqueue_node(waiting_node(node_key, &a.node, tier))?;
    a.node.status = NodeStatus::Queued;
    a.node.locked_stake = queue_lock;
    drop(market);
    emit_cpi!(NodeQueued {
        node: node_key,
        market: market_key,
        tier,
        locked_stake: queue_lock
    });
    Ok(())
}
