//! A job's life as its events tell it, oldest first: what `ake job events`
//! and the dashboard's job page show. The events come from the market
//! program's self-CPIs in the job's transaction history, so a settled job
//! (its account closed) still has its whole story where history is kept.

use ake_market::events::{
    AppealResolved, AuditAppealed, AuditDrawn, AuditJudged, AuditRunBarred, AuditRunOpened,
    AuditSettled, DigestRevealed, DisputeResolved, FrameHandedOut, JobAssigned, JobCancelled,
    JobDisputed, JobExpired, JobPosted, JobQueued, JobReleased, JobSettled, LiveLogsAnnounced,
    ResultSubmitted, SpecMarkedUnauditable, StaleJobRefunded,
};
use serde::Serialize;
use solana_sdk::pubkey::Pubkey;

use crate::accounts::decode_event;
use crate::oracle::usd;
use crate::protocol::{Protocol, ProtocolError, MAX_HISTORY_READS};
use crate::sender::with_retry;

/// One event of a job, in words, with the transaction that emitted it.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub signature: String,
    /// The event's name as in the IDL (`JobAssigned`, ...).
    pub event: &'static str,
    pub what: String,
}

/// A job's events, oldest first. `complete` is false when the history was
/// longer than [`MAX_HISTORY_READS`] transactions or the endpoint kept only
/// part of it: the oldest steps are then missing.
#[derive(Serialize, Clone, Debug)]
pub struct Timeline {
    pub steps: Vec<Step>,
    pub complete: bool,
}

impl Protocol {
    /// Reads the job's newest [`MAX_HISTORY_READS`] successful transactions
    /// (one `getTransaction` each) and tells its events in order; `amount`
    /// writes a token amount given in base units.
    pub async fn job_timeline(
        &self,
        job: &Pubkey,
        amount: impl Fn(u64) -> String,
    ) -> Result<Timeline, ProtocolError> {
        let history = with_retry(|| self.chain.signatures_for(job)).await?;
        let mut steps = Vec::new();
        for signature in history.signatures.iter().take(MAX_HISTORY_READS) {
            let inner =
                with_retry(|| self.chain.inner_instructions(signature, &ake_market::ID)).await?;
            // Within a transaction events are in order; transactions come
            // newest first, so each one's steps go in reversed, and the
            // whole list is reversed at the end.
            for data in inner.unwrap_or_default().iter().rev() {
                if let Some((event, what)) = describe(data, job, &amount) {
                    steps.push(Step {
                        signature: signature.to_string(),
                        event,
                        what,
                    });
                }
            }
        }
        steps.reverse();
        Ok(Timeline {
            steps,
            complete: history.complete && history.signatures.len() <= MAX_HISTORY_READS,
        })
    }
}

/// An audit event of `job` (audited, or an audit run), told.
fn describe_audit(
    data: &[u8],
    job: &Pubkey,
    amount: &impl Fn(u64) -> String,
) -> Option<(&'static str, String)> {
    if let Some(e) = decode_event::<AuditDrawn>(data).filter(|e| e.job == *job) {
        let how = match (e.drawn, e.by_default) {
            (true, true) => "audited by default: nobody drew it in time".to_string(),
            (true, false) => format!("drawn for an audit (chance {} bps)", e.rate_bps),
            (false, _) => format!("not drawn for an audit (chance {} bps)", e.rate_bps),
        };
        return Some((
            "AuditDrawn",
            format!(
                "{how}; audit fee {} AKE to the reserve",
                amount(e.fee_to_reserve)
            ),
        ));
    }
    if let Some(e) = decode_event::<AuditRunOpened>(data).filter(|e| e.job == *job || e.run == *job)
    {
        return Some((
            "AuditRunOpened",
            format!(
                "audit run {} of {} opened ({} AKE from the reserve); no node of {} may run it",
                e.round,
                e.job,
                amount(e.escrow),
                e.excluded_owner
            ),
        ));
    }
    if let Some(e) =
        decode_event::<AuditRunBarred>(data).filter(|e| e.run == *job || e.audited == *job)
    {
        return Some((
            "AuditRunBarred",
            format!(
                "audit run {} of {} barred to owner {}, which holds the audit's other run: it waits for another owner's node",
                e.run, e.audited, e.owner
            ),
        ));
    }
    if let Some(e) = decode_event::<DigestRevealed>(data).filter(|e| e.job == *job) {
        return Some((
            "DigestRevealed",
            format!(
                "node {} revealed its output digest {}",
                e.node,
                hex::encode(e.digest)
            ),
        ));
    }
    if let Some(e) =
        decode_event::<AuditJudged>(data).filter(|e| e.job == *job || e.runs.contains(job))
    {
        return Some((
            "AuditJudged",
            format!(
                "audit verdict: {:?} (runs {:?}{})",
                e.verdict,
                e.run_verdicts,
                if e.usage_padded {
                    "; reported time padded"
                } else {
                    ""
                }
            ),
        ));
    }
    if let Some(e) = decode_event::<SpecMarkedUnauditable>(data).filter(|e| e.job == *job) {
        return Some((
            "SpecMarkedUnauditable",
            format!(
                "spec {} is not deterministic (its audit found three different digests, or the arbiter upheld an appeal): it cannot ask for verify = \"exact\" on this market again",
                hex::encode(e.spec_hash)
            ),
        ));
    }
    if let Some(e) = decode_event::<AuditAppealed>(data).filter(|e| e.job == *job) {
        return Some((
            "AuditAppealed",
            format!(
                "node {} appealed the verdict with a {} AKE bond: the arbiter decides (by unix time {}, or nobody is penalised)",
                e.node,
                amount(e.bond),
                e.decide_by
            ),
        ));
    }
    if let Some(e) = decode_event::<AppealResolved>(data).filter(|e| e.job == *job) {
        return Some((
            "AppealResolved",
            if e.upheld {
                format!(
                    "appeal upheld: the spec is at fault and marked, nobody loses stake, the job settles as usual ({:?})",
                    e.verdict
                )
            } else {
                format!("appeal rejected: the verdict stands ({:?}), the bond burns with the collateral", e.verdict)
            },
        ));
    }
    if let Some(e) = decode_event::<AuditSettled>(data).filter(|e| e.job == *job) {
        return Some((
            "AuditSettled",
            format!(
                "settled by its audit ({:?}): charged {} AKE, {} AKE of stake burned (collateral, and a rejected appeal's bond), {} AKE back to the creator",
                e.verdict,
                amount(e.charged),
                amount(e.slashed),
                amount(e.creator_refund)
            ),
        ));
    }
    None
}

/// The event in `data` when it is one of `job`'s, named and told.
fn describe(
    data: &[u8],
    job: &Pubkey,
    amount: &impl Fn(u64) -> String,
) -> Option<(&'static str, String)> {
    let burned = |fee: u64| {
        if fee > 0 {
            format!(", posting fee {} AKE burned", amount(fee))
        } else {
            String::new()
        }
    };
    // A job leaving a node goes back in line, or (out of tries) is refunded.
    let requeued_or_refunded = |requeued: bool, refund: u64, fee: u64| {
        if requeued {
            "back in the queue".to_string()
        } else {
            format!("refunded {} AKE{}", amount(refund), burned(fee))
        }
    };
    if let Some(e) = decode_event::<JobPosted>(data).filter(|e| e.job == *job) {
        return Some((
            "JobPosted",
            format!(
                "posted by {}: up to {}, {} AKE escrowed, posting fee {} AKE",
                e.creator,
                usd(e.max_charge_micro_usd),
                amount(e.escrow),
                amount(e.posting_fee)
            ),
        ));
    }
    if let Some(e) = decode_event::<FrameHandedOut>(data).filter(|e| e.job == *job) {
        return Some((
            "FrameHandedOut",
            format!(
                "frame {} of batch {} handed out to node {}",
                e.frame, e.batch, e.node
            ),
        ));
    }
    if let Some(e) = decode_event::<JobQueued>(data).filter(|e| e.job == *job) {
        let place = if e.at_front {
            "at the front"
        } else {
            "in line"
        };
        return Some(("JobQueued", format!("queued {place}")));
    }
    if let Some(e) = decode_event::<JobAssigned>(data).filter(|e| e.job == *job) {
        return Some((
            "JobAssigned",
            format!(
                "assigned to node {} (attempt {}), due by unix {}; {} AKE of its owner's stake locked",
                e.node,
                e.attempt,
                e.deadline,
                amount(e.collateral)
            ),
        ));
    }
    if let Some(e) = decode_event::<JobReleased>(data).filter(|e| e.job == *job) {
        let next = requeued_or_refunded(e.requeued, e.refund, e.posting_fee_burned);
        return Some((
            "JobReleased",
            format!(
                "handed back by node {} after {} s ({:?}), {} AKE slashed; {next}",
                e.node,
                e.held_secs,
                e.reason,
                amount(e.slashed)
            ),
        ));
    }
    if let Some(e) = decode_event::<LiveLogsAnnounced>(data).filter(|e| e.job == *job) {
        return Some((
            "LiveLogsAnnounced",
            format!(
                "node {} streams its live logs (attempt {}) to {}",
                e.node, e.attempt, e.uri
            ),
        ));
    }
    if let Some(step) = describe_audit(data, job, amount) {
        return Some(step);
    }
    if let Some(e) = decode_event::<ResultSubmitted>(data).filter(|e| e.job == *job) {
        return Some((
            "ResultSubmitted",
            format!(
                "result from node {}: root {}, {} s wall, {} GPU-s; outputs at {}",
                e.node,
                hex::encode(e.commitment),
                e.usage.wall_secs,
                e.usage.gpu_secs,
                e.output_uri
            ),
        ));
    }
    if let Some(e) = decode_event::<JobDisputed>(data).filter(|e| e.job == *job) {
        return Some((
            "JobDisputed",
            format!(
                "disputed by its creator with a {} AKE bond; times out at unix {}",
                amount(e.bond),
                e.timeout_at
            ),
        ));
    }
    if let Some(e) = decode_event::<DisputeResolved>(data).filter(|e| e.job == *job) {
        let how = if e.timed_out { "timed out" } else { "ruled" };
        let what = if e.creator_won {
            format!(
                "dispute {how} for the creator: {} AKE refunded, {} AKE of the node's collateral burned",
                amount(e.refund),
                amount(e.slashed)
            )
        } else {
            format!(
                "dispute {how} for the node: the {} AKE bond burned",
                amount(e.bond_burned)
            )
        };
        return Some(("DisputeResolved", what));
    }
    if let Some(e) = decode_event::<JobSettled>(data).filter(|e| e.job == *job) {
        let by = if e.accepted_by_creator {
            "accepted by its creator"
        } else {
            "settled after its challenge window"
        };
        return Some((
            "JobSettled",
            format!(
                "{by}: charged {} AKE ({} burned, {} to the treasury), {} AKE refunded{}; {} of work credited to node {}",
                amount(e.charged),
                amount(e.burned),
                amount(e.treasury_fee),
                amount(e.refund),
                burned(e.posting_fee_burned),
                usd(e.work_micro_usd),
                e.node
            ),
        ));
    }
    if let Some(e) = decode_event::<JobExpired>(data).filter(|e| e.job == *job) {
        let next = requeued_or_refunded(e.requeued, e.refund, e.posting_fee_burned);
        return Some((
            "JobExpired",
            format!("node {} missed its deadline; {next}", e.node),
        ));
    }
    if let Some(e) = decode_event::<JobCancelled>(data).filter(|e| e.job == *job) {
        return Some((
            "JobCancelled",
            format!(
                "cancelled by its creator: {} AKE refunded{}",
                amount(e.refund),
                burned(e.posting_fee_burned)
            ),
        ));
    }
    if let Some(e) = decode_event::<StaleJobRefunded>(data).filter(|e| e.job == *job) {
        return Some((
            "StaleJobRefunded",
            format!(
                "no node took it in {} s: {} AKE refunded, {} AKE of waiting fees burned{}",
                e.waited_secs,
                amount(e.refund),
                amount(e.waiting_fee_burned),
                burned(e.posting_fee_burned)
            ),
        ));
    }
    None
}

impl Protocol {
    /// Where the node running `job` uploads its live logs: the newest
    /// `LiveLogsAnnounced` in the job's history (the last attempt's), with
    /// the attempt it is for; none when no node announced any.
    pub async fn live_logs(&self, job: &Pubkey) -> Result<Option<(u8, String)>, ProtocolError> {
        self.search_history(job, |inner| {
            inner.iter().rev().find_map(|data| {
                decode_event::<LiveLogsAnnounced>(data)
                    .filter(|e| e.job == *job)
                    .map(|e| (e.attempt, e.uri))
            })
        })
        .await
    }
}
