//! Crash-safe job journal on redb.
//!
//! Every side effect is recorded as an intent, durably committed before it happens, and as an
//! outcome after it happened. After a crash, [`JobProgress::replay`] tells where a job resumes.
//! Each record is one redb write transaction with `Durability::Immediate` (fsync on commit), so
//! a torn write can never leave half an entry: the transaction is either committed or absent.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::outputs::UsageReceipt;
use crate::runtime::JobOutcome;

/// (job id, sequence number) -> JSON-encoded [`JournalEntry`].
const ENTRIES: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("entries");
/// job id -> [`JobStatus`] as u8.
const JOBS: TableDefinition<&str, u8> = TableDefinition::new("jobs");

/// Index of the attempts still open: the daemon lists it every poll, so
/// it holds only those (not every job the node ever ran).
const OPEN: TableDefinition<&str, ()> = TableDefinition::new("open");
/// job id -> unix seconds it was marked done, until its entries are pruned.
const DONE_AT: TableDefinition<&str, u64> = TableDefinition::new("done_at");
/// Auditable results this node submitted whose audit it still has a part
/// in (draw, reveal, judge, be paid): attempt -> output digest, hex. Apart
/// from the attempts: an attempt is done once its result lands.
const AUDITS: TableDefinition<&str, &str> = TableDefinition::new("audits");

const STATUS_OPEN: u8 = 0;
const STATUS_DONE: u8 = 1;

/// One fact about a job's side effects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JournalEntry {
    /// About to create the job's container (deterministic name; creation is idempotent).
    ContainerCreateIntent {
        container_name: String,
    },
    ContainerStarted {
        container_id: String,
    },
    ContainerExited {
        outcome: JobOutcome,
        /// GPU energy measured over the run (0 without NVML or after a restart mid-run).
        #[serde(default)]
        energy_mj: u64,
    },
    /// The run was cut short by the engine (a restart, or its container
    /// removed under it) and its outputs deleted: it starts again.
    RunAbandoned {
        why: String,
    },
    /// About to upload outputs whose Merkle root is `root` (uploads are keyed by it).
    UploadIntent {
        root: String,
    },
    Uploaded {
        root: String,
        uri: String,
        /// The usage receipt committed in the outputs and reported on-chain.
        #[serde(default)]
        usage: UsageReceipt,
        /// An auditable job's output digest, hex (see `OutputManifest::output_digest`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        digest: Option<String>,
    },
    /// A transaction signed and about to be sent: resending these exact bytes is harmless,
    /// and until `last_valid_block_height` passes it may still land.
    TxSigned {
        purpose: String,
        signed_tx: Vec<u8>,
        signature: String,
        last_valid_block_height: u64,
    },
    TxConfirmed {
        signature: String,
    },
    /// Terminal: the job cannot go on here. The daemon never runs it again
    /// and hands it back on-chain (`release_job` with this reason code, the
    /// borsh index of `ReleaseReason`).
    Failed {
        release_reason: u8,
        detail: String,
    },
}

/// Where a job resumes after a restart. Intents without an outcome resume at the previous
/// state because the operations they guard are idempotent (container by name, uploads by hash).
#[derive(Debug, Clone, PartialEq)]
pub enum JobProgress {
    NotStarted,
    ContainerStarted {
        container: String,
    },
    ContainerExited {
        outcome: Box<JobOutcome>,
        energy_mj: u64,
    },
    Uploaded {
        root: String,
        uri: String,
        usage: UsageReceipt,
        digest: Option<String>,
    },
    TxSigned {
        /// `submit_result` or `release_job`.
        purpose: String,
        signed_tx: Vec<u8>,
        signature: String,
        last_valid_block_height: u64,
    },
    TxConfirmed {
        signature: String,
    },
    /// The job failed here; what is left is to hand it back.
    Failed {
        release_reason: u8,
    },
}

impl JobProgress {
    /// A short name for status displays.
    pub fn name(&self) -> &'static str {
        match self {
            Self::NotStarted => "not_started",
            Self::ContainerStarted { .. } => "running",
            Self::ContainerExited { .. } => "exited",
            Self::Uploaded { .. } => "uploaded",
            Self::TxSigned { .. } => "tx_signed",
            Self::TxConfirmed { .. } => "tx_confirmed",
            Self::Failed { .. } => "failed",
        }
    }

    /// Folds a job's entries, in journal order, into its resume point.
    pub fn replay<'a>(entries: impl IntoIterator<Item = &'a JournalEntry>) -> Self {
        entries.into_iter().fold(Self::NotStarted, Self::after)
    }

    /// The one transition function: the state after `entry` is journaled
    /// in this one. Intents leave the state as it is (what they guard is
    /// idempotent); an abandoned run starts again.
    pub fn after(self, entry: &JournalEntry) -> Self {
        match entry {
            JournalEntry::ContainerCreateIntent { .. } | JournalEntry::UploadIntent { .. } => self,
            JournalEntry::RunAbandoned { .. } => Self::NotStarted,
            JournalEntry::ContainerStarted { container_id } => Self::ContainerStarted {
                container: container_id.clone(),
            },
            JournalEntry::ContainerExited { outcome, energy_mj } => Self::ContainerExited {
                outcome: Box::new(outcome.clone()),
                energy_mj: *energy_mj,
            },
            JournalEntry::Uploaded {
                root,
                uri,
                usage,
                digest,
            } => Self::Uploaded {
                root: root.clone(),
                uri: uri.clone(),
                usage: *usage,
                digest: digest.clone(),
            },
            JournalEntry::TxSigned {
                purpose,
                signed_tx,
                signature,
                last_valid_block_height,
            } => Self::TxSigned {
                purpose: purpose.clone(),
                signed_tx: signed_tx.clone(),
                signature: signature.clone(),
                last_valid_block_height: *last_valid_block_height,
            },
            JournalEntry::TxConfirmed { signature } => Self::TxConfirmed {
                signature: signature.clone(),
            },
            JournalEntry::Failed { release_reason, .. } => Self::Failed {
                release_reason: *release_reason,
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error(
        "journal {path} could not be opened: {source}; if another ake-node uses it, stop that \
         one first"
    )]
    Open {
        path: PathBuf,
        source: Box<redb::DatabaseError>,
    },
    #[error("journal storage error while {context}: {source}")]
    Storage {
        context: &'static str,
        source: Box<redb::Error>,
    },
    #[error("journal entry {seq} of job {job_id} is not valid JSON for this version: {source}")]
    Decode {
        job_id: String,
        seq: u64,
        source: serde_json::Error,
    },
    #[error("journal entry could not be encoded: {0}")]
    Encode(serde_json::Error),
    #[error("journal task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn storage<E: Into<redb::Error>>(context: &'static str) -> impl FnOnce(E) -> JournalError {
    move |e| JournalError::Storage {
        context,
        source: Box::new(e.into()),
    }
}

/// Handle to the journal file; cheap to clone. Calls run on tokio's blocking pool because each
/// commit waits for fsync.
#[derive(Clone)]
pub struct Journal {
    db: Arc<Database>,
}

impl Journal {
    /// Opens (or creates) the journal, recovering it if the last run crashed.
    pub fn open(path: &Path) -> Result<Self, JournalError> {
        let db = Database::create(path).map_err(|source| JournalError::Open {
            path: path.to_path_buf(),
            source: Box::new(source),
        })?;
        let journal = Self { db: Arc::new(db) };
        journal.write("creating tables", |txn| {
            txn.open_table(ENTRIES)?;
            let jobs = txn.open_table(JOBS)?;
            txn.open_table(DONE_AT)?;
            txn.open_table(AUDITS)?;
            // Every open job is in the index (a journal from before it
            // included): one pass at start, none per poll.
            let mut open = txn.open_table(OPEN)?;
            for row in jobs.iter()? {
                let (job, status) = row?;
                if status.value() == STATUS_OPEN {
                    open.insert(job.value(), ())?;
                }
            }
            Ok(())
        })?;
        Ok(journal)
    }

    /// Durably appends an entry; returns its sequence number within the job.
    pub async fn record(&self, job_id: &str, entry: JournalEntry) -> Result<u64, JournalError> {
        let bytes = serde_json::to_vec(&entry).map_err(JournalError::Encode)?;
        let job_id = job_id.to_string();
        self.blocking(move |journal| journal.append(&job_id, &bytes))
            .await
    }

    /// All entries of a job, oldest first.
    pub async fn entries(&self, job_id: &str) -> Result<Vec<JournalEntry>, JournalError> {
        let job_id = job_id.to_string();
        self.blocking(move |journal| journal.read_entries(&job_id))
            .await
    }

    /// The resume point of a job.
    pub async fn progress(&self, job_id: &str) -> Result<JobProgress, JournalError> {
        Ok(JobProgress::replay(&self.entries(job_id).await?))
    }

    /// Jobs with entries that are not marked done, in job id order.
    pub async fn open_jobs(&self) -> Result<Vec<String>, JournalError> {
        self.blocking(|journal| journal.read_open_jobs()).await
    }

    /// Whether a job was marked finished (it is never driven again).
    pub async fn is_done(&self, job_id: &str) -> Result<bool, JournalError> {
        let job_id = job_id.to_string();
        self.blocking(move |journal| journal.read_is_done(&job_id))
            .await
    }

    /// Marks a job finished; its entries stay for audit.
    pub async fn mark_done(&self, job_id: &str) -> Result<(), JournalError> {
        let job_id = job_id.to_string();
        self.blocking(move |journal| {
            journal.write("marking a job done", |txn| {
                txn.open_table(JOBS)?.insert(job_id.as_str(), STATUS_DONE)?;
                txn.open_table(OPEN)?.remove(job_id.as_str())?;
                txn.open_table(DONE_AT)?
                    .insert(job_id.as_str(), unix_now())?;
                Ok(())
            })
        })
        .await
    }

    /// Durably notes that `job_id`'s auditable result (output digest
    /// `digest`, hex) needs this node until its audit is over.
    pub async fn add_audit_duty(&self, job_id: &str, digest: &str) -> Result<(), JournalError> {
        let (job_id, digest) = (job_id.to_string(), digest.to_string());
        self.blocking(move |journal| {
            journal.write("noting an audit duty", |txn| {
                txn.open_table(AUDITS)?
                    .insert(job_id.as_str(), digest.as_str())?;
                Ok(())
            })
        })
        .await
    }

    /// The audit duties, (attempt, digest hex), in attempt order.
    pub async fn audit_duties(&self) -> Result<Vec<(String, String)>, JournalError> {
        self.blocking(|journal| {
            let context = "listing audit duties";
            let txn = journal.db.begin_read().map_err(storage(context))?;
            let table = txn.open_table(AUDITS).map_err(storage(context))?;
            let mut duties = Vec::new();
            for row in table.iter().map_err(storage(context))? {
                let (job, digest) = row.map_err(storage(context))?;
                duties.push((job.value().to_string(), digest.value().to_string()));
            }
            Ok(duties)
        })
        .await
    }

    /// The audit of `job_id` needs nothing more from this node.
    pub async fn drop_audit_duty(&self, job_id: &str) -> Result<(), JournalError> {
        let job_id = job_id.to_string();
        self.blocking(move |journal| {
            journal.write("ending an audit duty", |txn| {
                txn.open_table(AUDITS)?.remove(job_id.as_str())?;
                Ok(())
            })
        })
        .await
    }

    /// Deletes the entries of attempts done more than `keep` ago (their
    /// done mark stays, a byte, so none is ever driven again); returns how
    /// many attempts it pruned. The journal then holds the open attempts
    /// and the recent past, not every job the node ever ran.
    pub async fn prune(&self, keep: std::time::Duration) -> Result<usize, JournalError> {
        let cutoff = unix_now().saturating_sub(keep.as_secs());
        self.blocking(move |journal| {
            journal.write("pruning finished jobs", |txn| {
                let mut done_at = txn.open_table(DONE_AT)?;
                let old: Vec<String> = done_at
                    .iter()?
                    .filter_map(|row| row.ok())
                    .filter(|(_, at)| at.value() < cutoff)
                    .map(|(job, _)| job.value().to_string())
                    .collect();
                let mut entries = txn.open_table(ENTRIES)?;
                for job in &old {
                    entries
                        .retain_in((job.as_str(), 0)..=(job.as_str(), u64::MAX), |_, _| false)?;
                    done_at.remove(job.as_str())?;
                }
                Ok(old.len())
            })
        })
        .await
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Journal) -> Result<T, JournalError> + Send + 'static,
    ) -> Result<T, JournalError> {
        let journal = self.clone();
        tokio::task::spawn_blocking(move || work(&journal)).await?
    }

    /// Runs `body` in one write transaction committed with fsync; an error aborts it whole.
    fn write<T>(
        &self,
        context: &'static str,
        body: impl FnOnce(&redb::WriteTransaction) -> Result<T, redb::Error>,
    ) -> Result<T, JournalError> {
        let mut txn = self.db.begin_write().map_err(storage(context))?;
        txn.set_durability(Durability::Immediate)
            .map_err(storage(context))?;
        let value = body(&txn).map_err(storage(context))?;
        txn.commit().map_err(storage(context))?;
        Ok(value)
    }

    fn append(&self, job_id: &str, bytes: &[u8]) -> Result<u64, JournalError> {
        self.write("appending an entry", |txn| {
            let mut entries = txn.open_table(ENTRIES)?;
            let seq = match entries.range((job_id, 0)..=(job_id, u64::MAX))?.next_back() {
                Some(last) => last?.0.value().1 + 1,
                None => 0,
            };
            entries.insert((job_id, seq), bytes)?;
            let mut jobs = txn.open_table(JOBS)?;
            if jobs.get(job_id)?.is_none() {
                jobs.insert(job_id, STATUS_OPEN)?;
                txn.open_table(OPEN)?.insert(job_id, ())?;
            }
            Ok(seq)
        })
    }

    fn read_entries(&self, job_id: &str) -> Result<Vec<JournalEntry>, JournalError> {
        let context = "reading entries";
        let txn = self.db.begin_read().map_err(storage(context))?;
        let table = txn.open_table(ENTRIES).map_err(storage(context))?;
        let range = table
            .range((job_id, 0)..=(job_id, u64::MAX))
            .map_err(storage(context))?;
        range
            .map(|row| {
                let (key, value) = row.map_err(storage(context))?;
                serde_json::from_slice(value.value()).map_err(|source| JournalError::Decode {
                    job_id: job_id.to_string(),
                    seq: key.value().1,
                    source,
                })
            })
            .collect()
    }

    fn read_open_jobs(&self) -> Result<Vec<String>, JournalError> {
        let context = "listing open jobs";
        let txn = self.db.begin_read().map_err(storage(context))?;
        let table = txn.open_table(OPEN).map_err(storage(context))?;
        let mut open = Vec::new();
        for row in table.iter().map_err(storage(context))? {
            let (job, _) = row.map_err(storage(context))?;
            open.push(job.value().to_string());
        }
        Ok(open)
    }

    fn read_is_done(&self, job_id: &str) -> Result<bool, JournalError> {
        let context = "reading a job's status";
        let txn = self.db.begin_read().map_err(storage(context))?;
        let table = match txn.open_table(JOBS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(false),
            Err(e) => return Err(storage(context)(e)),
        };
        let status = table.get(job_id).map_err(storage(context))?;
        Ok(status.is_some_and(|s| s.value() == STATUS_DONE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;
    use std::time::Duration;

    fn outcome(exit_code: i64) -> JobOutcome {
        JobOutcome {
            container_id: "c0ffee".into(),
            image_digest: format!("sha256:{}", "1".repeat(64)),
            exit_code,
            oom_killed: false,
            timed_out: false,
            output_limit: false,
            interrupted: false,
            started_at: "2025-01-01T00:00:00Z".into(),
            finished_at: "2025-01-01T00:01:00Z".into(),
            wall_secs: 60.0,
            stdout_path: "/w/stdout.log".into(),
            stdout_sha256: "aa".repeat(32),
            stderr_path: "/w/stderr.log".into(),
            stderr_sha256: "bb".repeat(32),
        }
    }

    fn tx(signature: &str, height: u64) -> JournalEntry {
        JournalEntry::TxSigned {
            purpose: "submit_result".into(),
            signed_tx: vec![1, 2, 3, height as u8],
            signature: signature.into(),
            last_valid_block_height: height,
        }
    }

    fn full_run() -> Vec<JournalEntry> {
        vec![
            JournalEntry::ContainerCreateIntent {
                container_name: "ake-job-7".into(),
            },
            JournalEntry::ContainerStarted {
                container_id: "c0ffee".into(),
            },
            JournalEntry::ContainerExited {
                outcome: outcome(0),
                energy_mj: 9,
            },
            JournalEntry::UploadIntent { root: "r".into() },
            JournalEntry::Uploaded {
                root: "r".into(),
                uri: "s3://b/jobs/7/r".into(),
                usage: UsageReceipt::default(),
                digest: None,
            },
            tx("sig1", 100),
            JournalEntry::TxConfirmed {
                signature: "sig1".into(),
            },
        ]
    }

    #[test]
    fn replay_resumes_after_each_step() {
        let run = full_run();
        let at = |n: usize| JobProgress::replay(&run[..n]);
        assert_eq!(at(0), JobProgress::NotStarted);
        assert_eq!(at(1), JobProgress::NotStarted, "create intent alone");
        assert_eq!(
            at(2),
            JobProgress::ContainerStarted {
                container: "c0ffee".into()
            }
        );
        assert_eq!(
            at(3),
            JobProgress::ContainerExited {
                outcome: Box::new(outcome(0)),
                energy_mj: 9
            }
        );
        assert_eq!(at(4), at(3), "upload intent alone re-uploads");
        assert_eq!(
            at(5),
            JobProgress::Uploaded {
                root: "r".into(),
                uri: "s3://b/jobs/7/r".into(),
                usage: UsageReceipt::default(),
                digest: None,
            }
        );
        assert_eq!(
            at(6),
            JobProgress::TxSigned {
                purpose: "submit_result".into(),
                signed_tx: vec![1, 2, 3, 100],
                signature: "sig1".into(),
                last_valid_block_height: 100
            }
        );
        assert_eq!(
            at(7),
            JobProgress::TxConfirmed {
                signature: "sig1".into()
            }
        );
    }

    #[test]
    fn a_failure_is_terminal_until_the_hand_back_is_signed() {
        let mut run = full_run()[..2].to_vec();
        run.push(JournalEntry::Failed {
            release_reason: 1,
            detail: "input hash mismatch".into(),
        });
        assert_eq!(
            JobProgress::replay(&run),
            JobProgress::Failed { release_reason: 1 }
        );
    }

    #[test]
    fn re_signed_transaction_replaces_the_expired_one() {
        let mut run = full_run()[..5].to_vec();
        run.push(tx("sig1", 100));
        run.push(tx("sig2", 250));
        match JobProgress::replay(&run) {
            JobProgress::TxSigned {
                signature,
                last_valid_block_height,
                ..
            } => assert_eq!((signature.as_str(), last_valid_block_height), ("sig2", 250)),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn the_open_index_lists_open_attempts_and_old_finished_ones_are_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.redb");
        let entry = || JournalEntry::ContainerCreateIntent {
            container_name: "c".into(),
        };
        {
            let journal = Journal::open(&path).unwrap();
            for job in ["done", "open", "older"] {
                journal.record(job, entry()).await.unwrap();
            }
            journal.mark_done("done").await.unwrap();
            // A journal from before the index: "older" is open but not indexed.
            journal
                .write("dropping an index row", |txn| {
                    txn.open_table(OPEN)?.remove("older")?;
                    Ok(())
                })
                .unwrap();
            assert_eq!(journal.open_jobs().await.unwrap(), ["open"]);
        }
        // Opened again, the index is rebuilt from the jobs' status.
        let journal = Journal::open(&path).unwrap();
        let mut open = journal.open_jobs().await.unwrap();
        open.sort();
        assert_eq!(open, ["older", "open"]);
        // Finished a while ago, pruned: its entries go, its done mark stays.
        assert_eq!(journal.prune(Duration::from_secs(3600)).await.unwrap(), 0);
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(journal.prune(Duration::ZERO).await.unwrap(), 1);
        assert!(journal.entries("done").await.unwrap().is_empty());
        assert!(journal.is_done("done").await.unwrap());
        assert_eq!(journal.entries("open").await.unwrap().len(), 1);
        assert_eq!(journal.prune(Duration::ZERO).await.unwrap(), 0, "once");
    }

    #[tokio::test]
    async fn entries_survive_reopen_and_jobs_close() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.redb");
        {
            let journal = Journal::open(&path).unwrap();
            for (i, entry) in full_run().into_iter().enumerate() {
                assert_eq!(journal.record("7", entry).await.unwrap(), i as u64);
            }
            journal.record("8", tx("other", 5)).await.unwrap();
            journal.record("9", tx("third", 6)).await.unwrap();
            journal.mark_done("9").await.unwrap();
        }
        let journal = Journal::open(&path).unwrap();
        assert_eq!(journal.entries("7").await.unwrap(), full_run());
        assert_eq!(journal.entries("8").await.unwrap(), vec![tx("other", 5)]);
        assert!(journal.entries("unknown").await.unwrap().is_empty());
        assert_eq!(journal.open_jobs().await.unwrap(), vec!["7", "8"]);
        assert_eq!(
            journal.progress("7").await.unwrap(),
            JobProgress::TxConfirmed {
                signature: "sig1".into()
            }
        );
        journal.mark_done("7").await.unwrap();
        assert_eq!(journal.open_jobs().await.unwrap(), vec!["8"]);
        // Sequence numbers continue after reopen.
        assert_eq!(journal.record("8", tx("x", 1)).await.unwrap(), 1);
    }

    #[test]
    fn aborted_transaction_leaves_no_entry() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(&dir.path().join("j.redb")).unwrap();
        let failed: Result<(), JournalError> = journal.write("test", |txn| {
            txn.open_table(ENTRIES)?
                .insert(("1", 0), b"{\"kind\":".as_slice())?;
            Err(redb::Error::from(std::io::Error::other(
                "simulated crash before commit",
            )))
        });
        assert!(failed.is_err());
        assert!(journal.read_entries("1").unwrap().is_empty());
        assert!(journal.read_open_jobs().unwrap().is_empty());
    }

    #[test]
    fn second_open_of_same_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.redb");
        let _first = Journal::open(&path).unwrap();
        let err = Journal::open(&path).err().unwrap();
        assert!(err.to_string().contains("stop that one first"), "{err}");
    }

    const CHILD_JOURNAL_ENV: &str = "AKE_JOURNAL_KILL_TEST_PATH";
    const PROGRESS_MARK: &str = "AKE-CHILD-WROTE";

    fn payload(seq: u64) -> Vec<u8> {
        (0..(seq % 7) * 300 + 1).map(|i| (seq + i) as u8).collect()
    }

    /// Child half of the test below: appends forever until SIGKILLed.
    fn write_until_killed(path: &Path) -> ! {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let journal = Journal::open(path).unwrap();
        for seq in 0.. {
            rt.block_on(journal.record("kill", tx_with_payload(seq)))
                .unwrap();
            if seq == 20 {
                println!("{PROGRESS_MARK}");
            }
        }
        unreachable!()
    }

    fn tx_with_payload(seq: u64) -> JournalEntry {
        JournalEntry::TxSigned {
            purpose: "load".into(),
            signed_tx: payload(seq),
            signature: format!("sig{seq}"),
            last_valid_block_height: seq,
        }
    }

    /// Re-runs this test binary as a writer, SIGKILLs it mid-stream, then checks that every
    /// entry left in the file is whole and the sequence has no gap.
    #[test]
    fn kill_9_during_writes_leaves_only_whole_entries() {
        if let Some(path) = std::env::var_os(CHILD_JOURNAL_ENV) {
            write_until_killed(Path::new(&path));
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kill.redb");
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "journal::tests::kill_9_during_writes_leaves_only_whole_entries",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_JOURNAL_ENV, &path)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let saw_progress = stdout
            .lines()
            .map_while(Result::ok)
            .any(|line| line.contains(PROGRESS_MARK));
        std::thread::sleep(std::time::Duration::from_millis(50));
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(saw_progress, "the writer child never reported progress");

        let journal = Journal::open(&path).unwrap();
        let entries = journal.read_entries("kill").unwrap();
        assert!(entries.len() > 20, "only {} entries", entries.len());
        for (seq, entry) in entries.iter().enumerate() {
            assert_eq!(entry, &tx_with_payload(seq as u64));
        }
    }
}
