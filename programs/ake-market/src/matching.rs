//! Pairing a job with a node. Transactions name every account up front, so
//! the client passes the counterpart it read as best from the market queue;
//! the program recomputes the best and refuses a stale or missing pick. This
//! keeps one invariant: a job and a node that could serve it never both wait.

use anchor_lang::prelude::*;

use crate::errors::MarketError;
use crate::state::{Job, JobState, Market, Node, NodeStatus, PHASE_ASSIGNED};

/// Whether to assign now to the passed counterpart (`true`) or to queue (`false`).
pub fn must_assign(best: Option<Pubkey>, passed: Option<Pubkey>) -> Result<bool> {
    match (best, passed) {
        (None, _) => Ok(false),
        (Some(best), Some(passed)) if best == passed => Ok(true),
        (Some(_), Some(_)) => err!(MarketError::WrongMatchCandidate),
        (Some(_), None) => err!(MarketError::MatchCandidateMissing),
    }
}

/// Assigns `job` to `node`. The owner stake the node locked when it armed
/// moves to the job and stays locked until the job settles or expires.
#[allow(clippy::too_many_arguments)]
pub fn assign(
    market: &mut Market,
    job_key: Pubkey,
    job: &mut Job,
    node_key: Pubkey,
    node: &mut Node,
    node_stake: u64,
    now: i64,
    grace_secs: u32,
) -> Result<i64> {
    let deadline = now
        .checked_add(i64::from(job.max_duration_secs))
        .and_then(|t| t.checked_add(i64::from(grace_secs)))
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
    job.locked_stake = node_stake;
    node.status = NodeStatus::Busy;
    node.current_job = job_key;
    node.locked_stake = 0;
    Ok(deadline)
}
