//! Pairing a job with a node. Transactions name every account up front, so
//! the client passes the counterpart it read as best from the market queue;
//! the program recomputes the best and refuses a stale or missing pick. This
//! keeps one invariant: a job and a node that could serve it never both wait
//! (save for a node whose owner cannot cover the job, which goes idle).

use anchor_lang::prelude::*;

use crate::constants::DISPUTE_BOND_ESCROW_BPS;
use crate::errors::MarketError;
use crate::math::{bps_of_ceil, execution_collateral, release_window_secs};
use crate::state::{
    owner_tag, Config, Job, JobState, Market, Node, NodeStatus, Params, SlaTerms, Stake, Waiting,
    PHASE_ASSIGNED,
};

/// What matching needs from the config: the parameters copied into a job
/// at assignment, the arbiter it gets, and whether assignment is paused.
#[derive(Clone, Copy)]
pub struct Rules {
    pub params: Params,
    pub arbiter: Pubkey,
    pub paused: bool,
}

impl Rules {
    pub fn of(config: &Config) -> Self {
        Rules {
            params: config.params,
            arbiter: config.arbiter,
            paused: config.paused,
        }
    }
}

/// Whether to assign now to the passed counterpart (`true`) or to queue (`false`).
pub fn must_assign(best: Option<Pubkey>, passed: Option<Pubkey>) -> Result<bool> {
    match (best, passed) {
        (None, _) => Ok(false),
        (Some(best), Some(passed)) if best == passed => Ok(true),
        (Some(_), Some(_)) => err!(MarketError::WrongMatchCandidate),
        (Some(_), None) => err!(MarketError::MatchCandidateMissing),
    }
}

/// The execution collateral `job` would lock under the market's current terms.
pub fn collateral_for(market: &Market, job: &Job) -> Result<u64> {
    execution_collateral(
        market.min_stake_per_gpu,
        job.gpus,
        job.escrow,
        market.collateral_escrow_bps,
    )
    .ok_or_else(|| error!(MarketError::MathOverflow))
}

/// The SLA a job assigned `now` runs under: copied into the job, so later
/// parameter changes never reach it.
pub fn terms_for(market: &Market, rules: &Rules, job: &Job, now: i64) -> Result<SlaTerms> {
    let params = &rules.params;
    let window = release_window_secs(
        job.max_duration_secs,
        market.release_window_bps,
        market.release_window_min_secs,
        market.release_window_max_secs,
    );
    Ok(SlaTerms {
        execution_collateral: collateral_for(market, job)?,
        result_collateral_bps: market.result_collateral_bps,
        expiry_slash_bps: params.sla.expiry_slash_bps,
        expiry_bounty_bps: params.sla.expiry_bounty_bps,
        dispute_slash_bps: params.sla.dispute_slash_bps,
        release_window_end: now
            .checked_add(i64::from(window))
            .ok_or(MarketError::MathOverflow)?,
        challenge_window_secs: params.challenge_window_secs,
        dispute_timeout_secs: params.sla.dispute_timeout_secs,
        // Rounded up: the protocol's favour.
        dispute_bond: bps_of_ceil(job.escrow, DISPUTE_BOND_ESCROW_BPS)
            .ok_or(MarketError::MathOverflow)?
            .max(params.sla.dispute_bond),
        burn_bps: params.burn_bps,
        arbiter: rules.arbiter,
    })
}

/// Puts a job in the queue (`at_front`: ahead of its tier, for a job back
/// from a node) and starts its queue clock.
pub fn enqueue(
    market: &mut Market,
    key: Pubkey,
    job: &mut Job,
    at_front: bool,
    now: i64,
) -> Result<()> {
    let entry = Waiting {
        key,
        gpus: job.gpus,
        reputation_bps: job.min_reputation_bps,
        tier: job.tier,
        aux: collateral_for(market, job)?,
    };
    market.enqueue_job(entry, at_front)?;
    job.queued_at = now;
    Ok(())
}

/// The queue entry of a node waiting for a job.
pub fn waiting_node(key: Pubkey, node: &Node, tier: u8) -> Waiting {
    Waiting {
        key,
        gpus: node.gpus,
        reputation_bps: node.reputation_bps,
        tier,
        aux: owner_tag(&node.owner),
    }
}

pub enum Assignment {
    Assigned {
        deadline: i64,
        collateral: u64,
        release_window_end: i64,
    },
    /// The owner's free stake could not cover the job: the node went idle.
    Uncovered { collateral: u64, free_stake: u64 },
}

/// Assigns `job` to `node` (already out of the node queue): the node's
/// queue lock is released and the job's execution collateral locked from
/// its owner's free stake. An owner who cannot cover it never makes the
/// transaction fail (it may carry other work): its node goes idle instead.
#[allow(clippy::too_many_arguments)]
pub fn assign(
    market: &mut Market,
    job_key: Pubkey,
    job: &mut Job,
    node_key: Pubkey,
    node: &mut Node,
    owner_stake: &mut Stake,
    rules: &Rules,
    now: i64,
) -> Result<Assignment> {
    require_keys_eq!(owner_stake.owner, node.owner, MarketError::AccountMismatch);
    let terms = terms_for(market, rules, job, now)?;
    owner_stake.unlock(node.locked_stake)?;
    node.locked_stake = 0;
    let collateral = terms.execution_collateral;
    if owner_stake.free() < collateral {
        node.status = NodeStatus::Idle;
        return Ok(Assignment::Uncovered {
            collateral,
            free_stake: owner_stake.free(),
        });
    }
    owner_stake.lock(collateral)?;
    let deadline = now
        .checked_add(i64::from(job.max_duration_secs))
        .and_then(|t| t.checked_add(i64::from(rules.params.completion_grace_secs)))
        .ok_or(MarketError::MathOverflow)?;
    market.track(job_key, deadline, PHASE_ASSIGNED)?;
    job.state = JobState::Assigned;
    job.assigned_at = now;
    job.deadline = deadline;
    job.attempts = job
        .attempts
        .checked_add(1)
        .ok_or(MarketError::MathOverflow)?;
    job.node = node_key;
    job.node_owner = node.owner;
    job.collateral = collateral;
    job.terms = terms;
    node.open_job()?;
    node.status = NodeStatus::Busy;
    node.current_job = job_key;
    Ok(Assignment::Assigned {
        deadline,
        collateral,
        release_window_end: terms.release_window_end,
    })
}

/// What became of a job offered to the best waiting node.
pub enum Offer {
    Assigned {
        node: Pubkey,
        deadline: i64,
        collateral: u64,
        release_window_end: i64,
    },
    /// The best node's owner could not cover the job: the node went idle
    /// and the job still needs a node.
    NodeIdled {
        node: Pubkey,
        collateral: u64,
        free_stake: u64,
    },
    /// No waiting node can serve the job.
    NoNode,
}

/// Offers a job that needs a node to the best waiting one, which the client
/// passes (`candidate`, with its owner's stake). Skips owners that handed
/// the job back before.
pub fn offer_to_waiting_node(
    market: &mut Market,
    job_key: Pubkey,
    job: &mut Job,
    candidate: Option<(Pubkey, &mut Node, &mut Stake)>,
    rules: &Rules,
    now: i64,
) -> Result<Offer> {
    let best = market.best_node_for(job.gpus, job.min_reputation_bps, &job.excluded_owner_tags());
    if !must_assign(best, candidate.as_ref().map(|c| c.0))? {
        return Ok(Offer::NoNode);
    }
    let (node_key, node, stake) = candidate.ok_or(MarketError::MatchCandidateMissing)?;
    market.remove_node(&node_key)?;
    Ok(
        match assign(market, job_key, job, node_key, node, stake, rules, now)? {
            Assignment::Assigned {
                deadline,
                collateral,
                release_window_end,
            } => Offer::Assigned {
                node: node_key,
                deadline,
                collateral,
                release_window_end,
            },
            Assignment::Uncovered {
                collateral,
                free_stake,
            } => Offer::NodeIdled {
                node: node_key,
                collateral,
                free_stake,
            },
        },
    )
}

/// A job back from a node (expiry or release): offered to the best waiting
/// node, else put back at the front of its tier. None when it must be
/// refunded instead: out of attempts, or a full queue (a job is never left
/// with a node that already failed it).
pub fn requeue(
    market: &mut Market,
    job_key: Pubkey,
    job: &mut Job,
    candidate: Option<(Pubkey, &mut Node, &mut Stake)>,
    rules: &Rules,
    now: i64,
) -> Result<Option<Offer>> {
    // While paused nothing is assigned: the job only goes back in line.
    let offer = if rules.paused {
        Offer::NoNode
    } else {
        offer_to_waiting_node(market, job_key, job, candidate, rules, now)?
    };
    if offer.unassigned() {
        if market.job_queue_full() {
            return Ok(None);
        }
        enqueue(market, job_key, job, true, now)?;
    }
    Ok(Some(offer))
}

impl Offer {
    pub fn assigned_event(&self, job: Pubkey, attempt: u8) -> Option<crate::events::JobAssigned> {
        match *self {
            Offer::Assigned {
                node,
                deadline,
                collateral,
                release_window_end,
            } => Some(crate::events::JobAssigned {
                job,
                node,
                deadline,
                attempt,
                collateral,
                release_window_end,
            }),
            _ => None,
        }
    }

    pub fn idled_event(&self, job: Pubkey) -> Option<crate::events::NodeIdled> {
        match *self {
            Offer::NodeIdled {
                node,
                collateral,
                free_stake,
            } => Some(crate::events::NodeIdled {
                node,
                job,
                collateral,
                free_stake,
            }),
            _ => None,
        }
    }

    /// Whether the job still waits for a node.
    pub fn unassigned(&self) -> bool {
        !matches!(self, Offer::Assigned { .. })
    }
}

/// The candidate node of an instruction with the stake its collateral comes
/// from: its owner's stake as passed, or `held` (a stake the instruction
/// already holds mutably) when the candidate belongs to that same owner,
/// since one account cannot be passed twice as mutable.
pub fn candidate_with_stake<'a>(
    node: Option<(Pubkey, &'a mut Node)>,
    stake: Option<&'a mut Stake>,
    held: Option<&'a mut Stake>,
) -> Result<Option<(Pubkey, &'a mut Node, &'a mut Stake)>> {
    let Some((key, node)) = node else {
        return Ok(None);
    };
    let stake = match (stake, held) {
        (Some(stake), _) => stake,
        (None, Some(held)) if held.owner == node.owner => held,
        _ => return err!(MarketError::AccountMismatch),
    };
    require_keys_eq!(stake.owner, node.owner, MarketError::AccountMismatch);
    Ok(Some((key, node, stake)))
}
