use anchor_lang::prelude::*;

use crate::constants::{CONFIG_SEED, STAKE_SEED};
use crate::errors::MarketError;
use crate::matching::{bar_other_run_owner, take_next, NextWork, Rules, Taken};
use crate::state::{Config, Job, JobState, Market, MarketMut, Node, NodeStatus, Seeker, Stake};

#[event_cpi]
#[derive(Accounts)]
pub struct MatchJob<'info> {
    /// Anyone: a crank, the waiting node's daemon, the poster. Pays only the fee.
    pub payer: Signer<'info>,
    #[account(seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,
    #[account(mut)]
    pub market: AccountLoader<'info, Market>,
    #[account(mut, has_one = market @ MarketError::AccountMismatch)]
    pub job: Box<Account<'info, Job>>,
    #[account(mut, has_one = market @ MarketError::AccountMismatch)]
    pub node: Box<Account<'info, Node>>,
    #[account(mut, seeds = [STAKE_SEED, node.owner.as_ref()], bump = owner_stake.bump)]
    pub owner_stake: Box<Account<'info, Stake>>,
}

/// Pairs a waiting job with a waiting node when each is the other's best:
/// what a post or an arm that named a stale (or no) counterpart left
/// waiting. Writes: market, job, node, owner_stake. Reads two bounded
/// queue searches (at most `2 x TIERS x TIER_STEPS` entries).
pub fn handler(mut ctx: Context<MatchJob>) -> Result<()> {
    let a = &mut ctx.accounts;
    require!(!a.config.paused, MarketError::Paused);
    let now = Clock::get()?.unix_timestamp;
    let rules = Rules::of(&a.config);
    let (job_key, node_key) = (a.job.key(), a.node.key());
    require!(a.job.state == JobState::Queued, MarketError::NotQueued);
    require!(
        a.node.status == NodeStatus::Queued,
        MarketError::NodeNotQueued
    );
    let mut market = MarketMut::load(&a.market)?;
    let job = &a.job;
    let best_node = market.best_node_for(job.gpus, job.min_reputation_bps, job.excluded_marks());
    // The job must also be the node's best work: priority between jobs is
    // the queue's, not the caller's. Its queue lock comes back on assignment.
    let free = a.owner_stake.free().saturating_add(a.node.locked_stake);
    let best_job = market.best_job_for(&Seeker::node(&a.node, free));
    require!(
        best_node == Some(node_key) && best_job == Some(job_key),
        MarketError::WrongMatchCandidate
    );
    // An audit run whose best node's owner holds the other run: the owner
    // is barred (recorded, so the searches move on) and the node waits on.
    if let Some(barred) = bar_other_run_owner(&mut market, job_key, &mut a.job, &a.owner_stake) {
        drop(market);
        emit_cpi!(barred);
        return Ok(());
    }
    market.remove_node(&node_key, a.node.queue_slot)?;
    let next = NextWork {
        job: Some(&mut **a.job),
        job_key: Some(job_key),
        batch: None,
    };
    let node = (node_key, &mut **a.node, &mut **a.owner_stake);
    // Never idle a waiting node from someone else's call: an owner who
    // cannot cover the job under the market's current terms keeps its place.
    let Taken::Took(took) = take_next(&mut market, next, node, &rules, now)? else {
        return err!(MarketError::InsufficientStake);
    };
    drop(market);
    emit_cpi!(took.assigned);
    Ok(())
}
