//! One job attempt's life on this node, as one explicit state machine.
//!
//! - Its states are [`JobProgress`], rebuilt from the journal:
//!   [`JobProgress::after`] is the one function that turns a journaled fact
//!   into the next state, so a restart resumes exactly where the last
//!   durable fact left the job.
//! - [`step`] is the one place a state is acted on. It asks the chain
//!   ([`Ledger`]), Docker ([`Runner`]) or the output store ([`Store`]) for
//!   the next fact and journals it before anything depends on it.
//! - The daemon implements the three traits over the real chain, Docker and
//!   store (tested end to end with them); the tests here implement them in
//!   memory and play the transitions, restarts and refusals through without
//!   any of them.
//!
//! Unknown is not failed: a [`StepError::Retry`] changes nothing, and the
//! same state is acted on again at the next poll.

use ake_sdk::ake_market::state::{Job, JobState, ReleaseReason};
use ake_sdk::sender::Prepared;
use async_trait::async_trait;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::Signature;
use solana_sdk::transaction::VersionedTransaction;

use crate::journal::{JobProgress, Journal, JournalEntry};
use crate::outputs::UsageReceipt;
use crate::runtime::JobOutcome;

/// Fault injection for the crash tests, compiled only with the
/// `fault-injection` feature: `AKE_NODE_CRASH_AFTER=<journal entry kind>`
/// kills the process with SIGKILL right after that entry is durable, the way
/// a power cut would.
#[cfg(feature = "fault-injection")]
const CRASH_AFTER: &str = "AKE_NODE_CRASH_AFTER";

/// The journaled purposes of the two transactions an attempt signs.
pub const SUBMIT: &str = "submit_result";
pub const RELEASE: &str = "release_job";

/// One assignment of a job to this node. The journal, the container, the
/// work directory and the upload are keyed by it, so a job re-queued to this
/// node is a new attempt that starts from an empty directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    pub job: Pubkey,
    /// The job's `attempts` counter when it was assigned here.
    pub number: u8,
}

impl Attempt {
    pub fn of(job: Pubkey, on_chain: &Job) -> Self {
        Self {
            job,
            number: on_chain.attempts,
        }
    }

    /// `<job>-<attempt>`: the journal key, and the container and directory name.
    pub fn key(&self) -> String {
        format!("{}-{}", self.job, self.number)
    }

    pub fn parse(key: &str) -> Option<Self> {
        let (job, number) = key.rsplit_once('-')?;
        Some(Self {
            job: job.parse().ok()?,
            number: number.parse().ok()?,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// Retry later; nothing is lost.
    #[error("{0}")]
    Retry(String),
    /// This job cannot go on here: journaled as failed (never run again)
    /// and handed back on-chain with `reason`.
    #[error("{detail}")]
    Fail {
        reason: ReleaseReason,
        detail: String,
    },
}

pub fn retry(e: impl std::fmt::Display) -> StepError {
    StepError::Retry(e.to_string())
}

pub fn fail(reason: ReleaseReason, detail: impl std::fmt::Display) -> StepError {
    StepError::Fail {
        reason,
        detail: detail.to_string(),
    }
}

/// What a read of the job says about an attempt.
#[derive(Debug)]
pub enum Standing {
    Ours(Box<Job>),
    /// An answer from before this attempt's assignment (the job's
    /// `attempts` counter only grows): never a reason to stop.
    Stale,
    /// No job account. A [`Ledger`] says so only once it has been gone for
    /// longer than an endpoint lags.
    Missing,
    Over,
}

pub fn standing(node: &Pubkey, attempt: &Attempt, job: Option<Job>) -> Standing {
    match job {
        None => Standing::Missing,
        Some(j) if j.attempts < attempt.number => Standing::Stale,
        Some(j)
            if j.node == *node && j.state == JobState::Assigned && j.attempts == attempt.number =>
        {
            Standing::Ours(Box::new(j))
        }
        Some(_) => Standing::Over,
    }
}

/// How a journaled transaction ended.
#[derive(Debug)]
pub enum Landing {
    Landed(Signature),
    /// It can never land now, and why, said after its purpose ("expired
    /// before landing", "landed and failed: ...").
    CannotLand(String),
}

/// How a run ended.
#[derive(Debug)]
pub enum RunEnd {
    Exited {
        outcome: Box<JobOutcome>,
        /// GPU energy measured over the run (0 without NVML).
        energy_mj: u64,
    },
    /// The engine ended the run under the job (a restart, or its container
    /// removed): not the job's result. Its container and outputs are gone;
    /// `rerun` says whether time is left to run it again.
    Interrupted { rerun: bool },
}

/// The chain, as an attempt needs it.
#[async_trait]
pub trait Ledger: Send + Sync {
    /// The chain's word on the attempt now.
    async fn standing(&self, attempt: &Attempt) -> Result<Standing, StepError>;
    /// The chain's clock (unix seconds).
    async fn chain_now(&self) -> Result<i64, StepError>;
    /// Signs (never sends) the result's submit; with `may_rearm` it may
    /// also take the node's next work in the same transaction.
    async fn sign_submit(
        &self,
        attempt: &Attempt,
        job: &Job,
        result: &Uploaded,
        may_rearm: bool,
    ) -> Result<Prepared, StepError>;
    /// Signs (never sends) the hand-back of a job that failed here.
    async fn sign_release(
        &self,
        attempt: &Attempt,
        job: &Job,
        reason: ReleaseReason,
    ) -> Result<Prepared, StepError>;
    /// Sends these exact bytes until they land or can never land.
    async fn land(&self, purpose: &str, tx: &Prepared) -> Result<Landing, StepError>;
}

/// Docker, as an attempt needs it.
#[async_trait]
pub trait Runner: Send + Sync {
    /// Runs the attempt's container to its end, or reattaches to it after a
    /// restart. It journals `ContainerCreateIntent` before creating the
    /// container and `ContainerStarted` once it runs (with [`record`]), so
    /// that a crash mid-run reattaches by name instead of running twice.
    async fn run_to_end(&self, attempt: &Attempt, job: &Job) -> Result<RunEnd, StepError>;
    /// Removes the attempt's container and work directory.
    async fn remove(&self, attempt: &Attempt) -> Result<(), StepError>;
}

/// The output store, as an attempt needs it.
#[async_trait]
pub trait Store: Send + Sync {
    /// Commits the outputs and uploads them, keyed by their Merkle root
    /// (journaling `UploadIntent` first): an upload repeated after a crash
    /// writes the same objects.
    async fn upload(
        &self,
        attempt: &Attempt,
        job: &Job,
        outcome: &JobOutcome,
        energy_mj: u64,
    ) -> Result<Uploaded, StepError>;
    /// Forgets what the job sent while it ran (best effort).
    async fn drop_staging(&self, attempt: &Attempt);
}

/// The committed, uploaded outputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Uploaded {
    pub root: String,
    pub uri: String,
    pub usage: UsageReceipt,
    /// An auditable job's output digest, hex.
    pub digest: Option<String>,
}

/// What one step did.
#[derive(Debug, PartialEq)]
pub enum Stepped {
    /// A new fact is journaled: step again now.
    More,
    /// Nothing changed; step again at the next poll.
    Wait(String),
    /// The attempt is over here: cleaned up and marked done.
    Done,
    /// The result could not land before the deadline: cleaned up and marked
    /// done; the chain expires the job.
    TooLate,
    /// The job cannot go on here: journaled as failed, to be handed back by
    /// the next step.
    Failed {
        reason: ReleaseReason,
        detail: String,
    },
}

/// Durably journals `entry` for `attempt`.
pub async fn record(
    journal: &Journal,
    attempt: &Attempt,
    entry: JournalEntry,
) -> Result<(), StepError> {
    #[cfg(feature = "fault-injection")]
    let crash = std::env::var(CRASH_AFTER).ok().filter(|step| {
        serde_json::to_value(&entry)
            .ok()
            .is_some_and(|v| v.get("kind").and_then(|k| k.as_str()) == Some(step.as_str()))
    });
    journal.record(&attempt.key(), entry).await.map_err(retry)?;
    #[cfg(feature = "fault-injection")]
    if let Some(kind) = crash {
        tracing::error!("{CRASH_AFTER}={kind}: killing the daemon (fault injection)");
        // SAFETY: signalling our own process; nothing after this runs.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
    Ok(())
}

/// Acts on the attempt's journaled state once. Draining, a submit does not
/// take the node's next work.
pub async fn step<P: Ledger + Runner + Store>(
    ports: &P,
    journal: &Journal,
    attempt: &Attempt,
    draining: bool,
) -> Stepped {
    match act(ports, journal, attempt, draining).await {
        Ok(stepped) => stepped,
        Err(StepError::Retry(why)) => Stepped::Wait(why),
        Err(StepError::Fail { reason, detail }) => {
            let entry = JournalEntry::Failed {
                release_reason: reason as u8,
                detail: detail.clone(),
            };
            match record(journal, attempt, entry).await {
                Ok(()) => Stepped::Failed { reason, detail },
                Err(e) => Stepped::Wait(format!(
                    "the job cannot run here ({reason:?}: {detail}) but journaling that failed: {e}"
                )),
            }
        }
    }
}

async fn act<P: Ledger + Runner + Store>(
    ports: &P,
    journal: &Journal,
    attempt: &Attempt,
    draining: bool,
) -> Result<Stepped, StepError> {
    let id = attempt.key();
    // A finished attempt (settled, handed back, or over) is never driven again.
    if journal.is_done(&id).await.map_err(retry)? {
        return Ok(Stepped::Done);
    }
    let entries = journal.entries(&id).await.map_err(retry)?;
    let progress = JobProgress::replay(&entries);
    // A signed transaction goes out as journaled, whatever the chain says.
    if let JobProgress::TxSigned {
        purpose,
        signed_tx,
        signature,
        last_valid_block_height,
    } = &progress
    {
        let tx = journaled_tx(signed_tx, signature, *last_valid_block_height);
        let landing = match tx {
            Some(tx) => ports.land(purpose, &tx).await?,
            None => Landing::CannotLand(format!("is unreadable in the journal ({signature})")),
        };
        return match landing {
            Landing::Landed(signature) => {
                tracing::info!("{purpose} landed ({signature})");
                let signature = signature.to_string();
                record(journal, attempt, JournalEntry::TxConfirmed { signature }).await?;
                Ok(Stepped::More)
            }
            Landing::CannotLand(why) => {
                tracing::warn!("{purpose} {why}");
                sign_again_if_ours(ports, journal, attempt, purpose, &entries).await
            }
        };
    }
    if let JobProgress::TxConfirmed { .. } = progress {
        return finish(ports, journal, attempt).await;
    }
    // Re-read the chain before any new side effect.
    let job = match ports.standing(attempt).await? {
        Standing::Ours(job) => job,
        Standing::Stale => return Err(retry(STALE)),
        Standing::Missing | Standing::Over => {
            tracing::warn!("the chain says this attempt is over; stopping it");
            return finish(ports, journal, attempt).await;
        }
    };
    let fact = match progress {
        JobProgress::Failed { release_reason } => {
            let reason =
                ReleaseReason::from_code(release_reason).unwrap_or(ReleaseReason::SpecInvalid);
            let tx = ports.sign_release(attempt, &job, reason).await;
            signed(RELEASE, tx.map_err(failed_already)?)?
        }
        JobProgress::NotStarted | JobProgress::ContainerStarted { .. } => {
            match ports.run_to_end(attempt, &job).await? {
                RunEnd::Exited { outcome, energy_mj } => JournalEntry::ContainerExited {
                    outcome: *outcome,
                    energy_mj,
                },
                RunEnd::Interrupted { rerun } => return interrupted(journal, attempt, rerun).await,
            }
        }
        JobProgress::ContainerExited { outcome, energy_mj } => {
            let Uploaded {
                root,
                uri,
                usage,
                digest,
            } = ports.upload(attempt, &job, &outcome, energy_mj).await?;
            JournalEntry::Uploaded {
                root,
                uri,
                usage,
                digest,
            }
        }
        JobProgress::Uploaded {
            root,
            uri,
            usage,
            digest,
        } => {
            // A submit signed before did not land: the result goes alone
            // this time, the re-arm being the part most likely gone stale.
            let first = !entries.iter().any(|e| signed_for(e, SUBMIT));
            let result = Uploaded {
                root,
                uri,
                usage,
                digest,
            };
            let tx = ports
                .sign_submit(attempt, &job, &result, first && !draining)
                .await;
            signed(SUBMIT, tx.map_err(never_hand_back)?)?
        }
        JobProgress::TxSigned { .. } | JobProgress::TxConfirmed { .. } => {
            return Err(retry("a signed transaction is acted on first"))
        }
    };
    record(journal, attempt, fact).await?;
    Ok(Stepped::More)
}

/// A run whose outputs are uploaded is never handed back: what refuses
/// its submit now is waited on, to the deadline.
fn never_hand_back(e: StepError) -> StepError {
    match e {
        StepError::Fail { reason, detail } => retry(format!(
            "{detail} (not handed back for {reason:?}: the run is done)"
        )),
        retry => retry,
    }
}

/// The job is journaled as failed once: what refuses its hand-back is
/// waited on, never journaled again.
fn failed_already(e: StepError) -> StepError {
    match e {
        StepError::Fail { detail, .. } => retry(detail),
        retry => retry,
    }
}

const STALE: &str =
    "the RPC answer predates this assignment (a lagging endpoint); waiting for a fresher one";

fn signed_for(entry: &JournalEntry, purpose: &str) -> bool {
    matches!(entry, JournalEntry::TxSigned { purpose: p, .. } if p == purpose)
}

/// The journal entry for a signed transaction, journaled before it is
/// ever sent.
fn signed(purpose: &str, tx: Prepared) -> Result<JournalEntry, StepError> {
    Ok(JournalEntry::TxSigned {
        purpose: purpose.into(),
        signed_tx: bincode::serialize(&tx.transaction).map_err(retry)?,
        signature: tx.signature.to_string(),
        last_valid_block_height: tx.last_valid_block_height,
    })
}

/// Journals written as legacy transactions read the same way: a legacy
/// message serializes identically in either type.
fn journaled_tx(bytes: &[u8], signature: &str, last_valid: u64) -> Option<Prepared> {
    let transaction = bincode::deserialize::<VersionedTransaction>(bytes).ok()?;
    Some(Prepared {
        transaction,
        signature: signature.parse().ok()?,
        last_valid_block_height: last_valid,
    })
}

/// The engine ended the run: it starts again from an empty output directory
/// while time allows, else the job is handed back.
async fn interrupted(
    journal: &Journal,
    attempt: &Attempt,
    rerun: bool,
) -> Result<Stepped, StepError> {
    tracing::warn!("an engine restart or a reboot ended the run (the engine's record says so): not the job's result");
    let why = "the engine ended the run".to_string();
    record(journal, attempt, JournalEntry::RunAbandoned { why }).await?;
    if rerun {
        return Err(retry(
            "running the job again from an empty output directory",
        ));
    }
    Err(fail(
        ReleaseReason::OperatorShutdown,
        "a Docker engine restart killed the run and too little time is left to run it again",
    ))
}

/// A journaled transaction can never land now. If the job is still ours and
/// its deadline has not passed, the state that signed it (the upload, or
/// the failure to hand back) is journaled again and signs anew from a fresh
/// read; a finished run is never handed back for it. Else the attempt is
/// over here and the chain decides.
async fn sign_again_if_ours<P: Ledger + Runner + Store>(
    ports: &P,
    journal: &Journal,
    attempt: &Attempt,
    purpose: &str,
    entries: &[JournalEntry],
) -> Result<Stepped, StepError> {
    let job = match ports.standing(attempt).await? {
        Standing::Stale => return Err(retry(STALE)),
        Standing::Missing | Standing::Over => return finish(ports, journal, attempt).await,
        Standing::Ours(job) => job,
    };
    if ports.chain_now().await? >= job.deadline {
        tracing::error!(
            "{purpose} cannot land before the deadline any more; the chain decides (expiry)"
        );
        finish(ports, journal, attempt).await?;
        return Ok(Stepped::TooLate);
    }
    let resume = entries.iter().rev().find(|e| match e {
        JournalEntry::Uploaded { .. } => purpose == SUBMIT,
        JournalEntry::Failed { .. } => purpose == RELEASE,
        _ => false,
    });
    match resume {
        Some(entry) => {
            record(journal, attempt, entry.clone()).await?;
            Ok(Stepped::More)
        }
        None => finish(ports, journal, attempt).await,
    }
}

/// The attempt is over here: its container, work directory and staged
/// outputs go, and it is marked done (never driven again).
async fn finish<P: Ledger + Runner + Store>(
    ports: &P,
    journal: &Journal,
    attempt: &Attempt,
) -> Result<Stepped, StepError> {
    ports.remove(attempt).await?;
    ports.drop_staging(attempt).await;
    journal.mark_done(&attempt.key()).await.map_err(retry)?;
    tracing::info!("job done");
    Ok(Stepped::Done)
}

#[cfg(test)]
#[path = "job_machine_tests.rs"]
mod tests;
