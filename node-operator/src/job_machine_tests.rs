//! The job state machine played through with the chain, Docker and the
//! output store in memory: every transition, crash and refusal, and what
//! each one journals and asks of them.

use std::collections::VecDeque;
use std::sync::Mutex;

use sha2::Digest;

use super::*;

const DEADLINE: i64 = 1_000;

/// A job decoded from zeroed account data, then shaped by `f`.
fn job(f: impl FnOnce(&mut Job)) -> Job {
    let mut data = sha2::Sha256::digest(b"account:Job")[..8].to_vec();
    data.resize(4096, 0);
    let mut job: Job = ake_sdk::accounts::decode(&data).unwrap();
    f(&mut job);
    job
}

fn exited(exit_code: i64) -> RunEnd {
    RunEnd::Exited {
        outcome: Box::new(JobOutcome {
            container_id: "c1".into(),
            image_digest: "sha256:00".into(),
            exit_code,
            oom_killed: false,
            timed_out: false,
            output_limit: false,
            interrupted: false,
            started_at: String::new(),
            finished_at: String::new(),
            wall_secs: 3.0,
            stdout_path: "stdout".into(),
            stdout_sha256: "sha256:00".into(),
            stderr_path: "stderr".into(),
            stderr_sha256: "sha256:00".into(),
        }),
        energy_mj: 7,
    }
}

/// What the machine signed.
#[derive(Debug, PartialEq)]
struct Signed {
    purpose: &'static str,
    may_rearm: bool,
}

/// The chain: one job, a clock, and scripted landings (each lands by default).
#[derive(Default)]
struct Chain {
    job: Option<Job>,
    now: i64,
    landings: VecDeque<Result<Landing, StepError>>,
    signed: Vec<Signed>,
    /// The signature of every transaction asked to land, in order.
    sent: Vec<Signature>,
    /// The bytes of every transaction signed and asked to land, in order.
    signed_bytes: Vec<Vec<u8>>,
    sent_bytes: Vec<Vec<u8>>,
    /// What `sign_submit` and `sign_release` answer instead of signing, once.
    refuse_submit: Option<StepError>,
    refuse_release: Option<StepError>,
    last_signature: Option<Signature>,
}

/// Docker: scripted run ends (each exits 0 by default).
#[derive(Default)]
struct Docker {
    runs: VecDeque<Result<RunEnd, StepError>>,
    /// Per run: whether it reattached to a container journaled as started.
    reattached: Vec<bool>,
    removed: u32,
}

/// The output store: scripted failures (each upload succeeds by default).
#[derive(Default)]
struct Bucket {
    failures: VecDeque<StepError>,
    uploads: u32,
    dropped: u32,
}

struct Fake {
    node: Pubkey,
    journal: Journal,
    chain: Mutex<Chain>,
    docker: Mutex<Docker>,
    bucket: Mutex<Bucket>,
    _dir: tempfile::TempDir,
}

impl Fake {
    fn new() -> (Self, Attempt) {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(&dir.path().join("journal.redb")).unwrap();
        let node = Pubkey::new_unique();
        let attempt = Attempt {
            job: Pubkey::new_unique(),
            number: 1,
        };
        let on_chain = job(|j| {
            j.node = node;
            j.state = JobState::Assigned;
            j.attempts = 1;
            j.deadline = DEADLINE;
        });
        let chain = Chain {
            job: Some(on_chain),
            now: 100,
            ..Chain::default()
        };
        let fake = Self {
            node,
            journal,
            chain: Mutex::new(chain),
            docker: Mutex::default(),
            bucket: Mutex::default(),
            _dir: dir,
        };
        (fake, attempt)
    }

    fn chain(&self) -> std::sync::MutexGuard<'_, Chain> {
        self.chain.lock().unwrap()
    }

    fn docker(&self) -> std::sync::MutexGuard<'_, Docker> {
        self.docker.lock().unwrap()
    }

    fn bucket(&self) -> std::sync::MutexGuard<'_, Bucket> {
        self.bucket.lock().unwrap()
    }

    fn prepared(&self, purpose: &'static str, may_rearm: bool) -> Prepared {
        let signature = Signature::new_unique();
        // Each transaction its own bytes: a re-sign is told from a resend.
        let transaction = VersionedTransaction {
            signatures: vec![signature],
            ..VersionedTransaction::default()
        };
        let mut chain = self.chain();
        chain.signed.push(Signed { purpose, may_rearm });
        chain.last_signature = Some(signature);
        chain
            .signed_bytes
            .push(bincode::serialize(&transaction).unwrap());
        Prepared {
            transaction,
            signature,
            last_valid_block_height: 50,
        }
    }

    /// Steps until the machine stops (at most 20 steps: a loop is a bug).
    async fn drive(&self, attempt: &Attempt) -> Vec<Stepped> {
        let mut steps = Vec::new();
        for _ in 0..20 {
            let stepped = step(self, &self.journal, attempt, false).await;
            let more = matches!(stepped, Stepped::More | Stepped::Failed { .. });
            steps.push(stepped);
            if !more {
                return steps;
            }
        }
        panic!("the machine did not stop: {steps:?}");
    }

    /// The kinds of the attempt's journal entries, in order.
    async fn kinds(&self, attempt: &Attempt) -> Vec<String> {
        let entries = self.journal.entries(&attempt.key()).await.unwrap();
        entries
            .iter()
            .map(|e| {
                serde_json::to_value(e).unwrap()["kind"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    }

    async fn done(&self, attempt: &Attempt) -> bool {
        self.journal.is_done(&attempt.key()).await.unwrap()
    }
}

#[async_trait]
impl Ledger for Fake {
    async fn standing(&self, attempt: &Attempt) -> Result<Standing, StepError> {
        Ok(standing(&self.node, attempt, self.chain().job.clone()))
    }

    async fn chain_now(&self) -> Result<i64, StepError> {
        Ok(self.chain().now)
    }

    async fn sign_submit(
        &self,
        _attempt: &Attempt,
        _job: &Job,
        _result: &Uploaded,
        may_rearm: bool,
    ) -> Result<Prepared, StepError> {
        if let Some(refused) = self.chain().refuse_submit.take() {
            return Err(refused);
        }
        Ok(self.prepared(SUBMIT, may_rearm))
    }

    async fn sign_release(
        &self,
        _attempt: &Attempt,
        _job: &Job,
        _reason: ReleaseReason,
    ) -> Result<Prepared, StepError> {
        if let Some(refused) = self.chain().refuse_release.take() {
            return Err(refused);
        }
        Ok(self.prepared(RELEASE, false))
    }

    async fn land(&self, _purpose: &str, tx: &Prepared) -> Result<Landing, StepError> {
        let mut chain = self.chain();
        chain.sent.push(tx.signature);
        chain
            .sent_bytes
            .push(bincode::serialize(&tx.transaction).unwrap());
        let scripted = chain.landings.pop_front();
        scripted.unwrap_or(Ok(Landing::Landed(tx.signature)))
    }
}

#[async_trait]
impl Runner for Fake {
    async fn run_to_end(&self, attempt: &Attempt, _job: &Job) -> Result<RunEnd, StepError> {
        let progress = self.journal.progress(&attempt.key()).await.unwrap();
        let reattach = matches!(progress, JobProgress::ContainerStarted { .. });
        if !reattach {
            // As Docker's runner does: the intent, then the start, journaled.
            let container_name = attempt.key();
            let intent = JournalEntry::ContainerCreateIntent { container_name };
            record(&self.journal, attempt, intent).await?;
            let container_id = "c1".to_string();
            let started = JournalEntry::ContainerStarted { container_id };
            record(&self.journal, attempt, started).await?;
        }
        let mut docker = self.docker();
        docker.reattached.push(reattach);
        docker.runs.pop_front().unwrap_or(Ok(exited(0)))
    }

    async fn remove(&self, _attempt: &Attempt) -> Result<(), StepError> {
        self.docker().removed += 1;
        Ok(())
    }
}

#[async_trait]
impl Store for Fake {
    async fn upload(
        &self,
        attempt: &Attempt,
        _job: &Job,
        outcome: &JobOutcome,
        energy_mj: u64,
    ) -> Result<Uploaded, StepError> {
        let root = hex::encode([outcome.exit_code as u8; 32]);
        let intent = JournalEntry::UploadIntent { root: root.clone() };
        record(&self.journal, attempt, intent).await?;
        let mut bucket = self.bucket();
        if let Some(e) = bucket.failures.pop_front() {
            return Err(e);
        }
        bucket.uploads += 1;
        Ok(Uploaded {
            uri: format!("s3://bucket/{root}"),
            root,
            usage: UsageReceipt {
                wall_secs: 3,
                gpu_secs: 3,
                energy_mj,
            },
            digest: None,
        })
    }

    async fn drop_staging(&self, _attempt: &Attempt) {
        self.bucket().dropped += 1;
    }
}

fn kinds(list: &[&str]) -> Vec<String> {
    list.iter().map(|k| k.to_string()).collect()
}

const HAPPY: [&str; 7] = [
    "container_create_intent",
    "container_started",
    "container_exited",
    "upload_intent",
    "uploaded",
    "tx_signed",
    "tx_confirmed",
];

#[tokio::test]
async fn an_attempt_runs_uploads_submits_and_lands_once() {
    let (fake, attempt) = Fake::new();
    let steps = fake.drive(&attempt).await;
    assert_eq!(steps.len(), 5, "{steps:?}");
    assert_eq!(steps.last(), Some(&Stepped::Done));
    assert_eq!(fake.kinds(&attempt).await, kinds(&HAPPY));
    assert_eq!(
        fake.chain().signed,
        [Signed {
            purpose: SUBMIT,
            may_rearm: true
        }]
    );
    assert_eq!(fake.docker().reattached, [false]);
    assert_eq!(fake.bucket().uploads, 1);
    assert_eq!(fake.bucket().dropped, 1);
    assert_eq!(fake.docker().removed, 1);
    assert!(fake.done(&attempt).await);
    // Done is final: driven again, it asks nothing of anyone.
    assert_eq!(fake.drive(&attempt).await, [Stepped::Done]);
    assert_eq!(fake.docker().reattached.len(), 1);
    assert_eq!(fake.chain().sent.len(), 1);
}

#[tokio::test]
async fn draining_the_submit_does_not_take_the_next_job() {
    let (fake, attempt) = Fake::new();
    for _ in 0..4 {
        assert_eq!(
            step(&fake, &fake.journal, &attempt, true).await,
            Stepped::More
        );
    }
    assert_eq!(
        fake.chain().signed,
        [Signed {
            purpose: SUBMIT,
            may_rearm: false
        }]
    );
}

#[tokio::test]
async fn a_restart_mid_run_goes_back_to_its_container_not_past_it() {
    let (fake, attempt) = Fake::new();
    // The daemon died while its container ran: the run ends with no answer.
    fake.docker()
        .runs
        .push_back(Err(retry("the engine does not answer")));
    let first = fake.drive(&attempt).await;
    assert!(matches!(first[..], [Stepped::Wait(_)]), "{first:?}");
    assert_eq!(
        fake.kinds(&attempt).await,
        kinds(&["container_create_intent", "container_started"])
    );
    assert_eq!(fake.drive(&attempt).await.last(), Some(&Stepped::Done));
    assert_eq!(fake.docker().reattached, [false, true]);
    assert_eq!(fake.kinds(&attempt).await, kinds(&HAPPY));
}

#[tokio::test]
async fn a_restart_after_signing_sends_the_same_bytes() {
    let (fake, attempt) = Fake::new();
    fake.chain()
        .landings
        .push_back(Err(retry("every RPC endpoint is down")));
    let first = fake.drive(&attempt).await;
    assert!(matches!(first.last(), Some(Stepped::Wait(_))), "{first:?}");
    assert_eq!(fake.drive(&attempt).await.last(), Some(&Stepped::Done));
    let chain = fake.chain();
    assert_eq!(chain.signed.len(), 1, "signed once, sent twice");
    let signature = chain.last_signature.unwrap();
    assert_eq!(chain.sent, [signature, signature]);
    let bytes = &chain.signed_bytes[0];
    assert_eq!(chain.sent_bytes, [bytes.clone(), bytes.clone()]);
}

#[tokio::test]
async fn an_expired_submit_is_signed_again_alone_while_the_job_is_ours() {
    let (fake, attempt) = Fake::new();
    fake.chain()
        .landings
        .push_back(Ok(Landing::CannotLand("expired".into())));
    assert_eq!(fake.drive(&attempt).await.last(), Some(&Stepped::Done));
    assert_eq!(
        fake.chain().signed,
        [
            Signed {
                purpose: SUBMIT,
                may_rearm: true
            },
            // Alone: the re-arm is what most likely went stale.
            Signed {
                purpose: SUBMIT,
                may_rearm: false
            },
        ]
    );
    // The finished run is neither run nor uploaded again.
    assert_eq!(fake.docker().reattached, [false]);
    assert_eq!(fake.bucket().uploads, 1);
}

#[tokio::test]
async fn past_the_deadline_an_unlanded_submit_is_left_to_the_chain() {
    let (fake, attempt) = Fake::new();
    fake.chain()
        .landings
        .push_back(Ok(Landing::CannotLand("expired".into())));
    fake.chain().now = DEADLINE;
    assert_eq!(fake.drive(&attempt).await.last(), Some(&Stepped::TooLate));
    assert_eq!(
        fake.chain().signed.len(),
        1,
        "nothing signed after the deadline"
    );
    assert!(fake.done(&attempt).await);
    assert_eq!(fake.docker().removed, 1);
}

#[tokio::test]
async fn a_job_that_cannot_run_here_is_handed_back_once_and_never_run_again() {
    let (fake, attempt) = Fake::new();
    fake.docker().runs.push_back(Err(fail(
        ReleaseReason::SpecInvalid,
        "the image has no such entrypoint",
    )));
    let steps = fake.drive(&attempt).await;
    assert_eq!(
        steps[0],
        Stepped::Failed {
            reason: ReleaseReason::SpecInvalid,
            detail: "the image has no such entrypoint".into()
        }
    );
    assert_eq!(steps.last(), Some(&Stepped::Done));
    assert_eq!(
        fake.kinds(&attempt).await,
        kinds(&[
            "container_create_intent",
            "container_started",
            "failed",
            "tx_signed",
            "tx_confirmed",
        ])
    );
    assert_eq!(
        fake.chain().signed,
        [Signed {
            purpose: RELEASE,
            may_rearm: false
        }]
    );
    assert_eq!(fake.docker().reattached, [false], "run once");
    assert_eq!(fake.bucket().uploads, 0);
}

#[tokio::test]
async fn a_failed_hand_back_is_signed_again_never_a_run() {
    let (fake, attempt) = Fake::new();
    fake.docker()
        .runs
        .push_back(Err(fail(ReleaseReason::ResourcesMissing, "input gone")));
    fake.chain()
        .landings
        .push_back(Ok(Landing::CannotLand("landed and failed".into())));
    assert_eq!(fake.drive(&attempt).await.last(), Some(&Stepped::Done));
    let purposes: Vec<_> = fake.chain().signed.iter().map(|s| s.purpose).collect();
    assert_eq!(purposes, [RELEASE, RELEASE]);
    assert_eq!(fake.docker().reattached, [false]);
}

#[tokio::test]
async fn an_engine_restart_reruns_while_time_allows() {
    let (fake, attempt) = Fake::new();
    fake.docker()
        .runs
        .push_back(Ok(RunEnd::Interrupted { rerun: true }));
    let first = fake.drive(&attempt).await;
    assert!(matches!(first[..], [Stepped::Wait(_)]), "{first:?}");
    assert_eq!(fake.drive(&attempt).await.last(), Some(&Stepped::Done));
    // The abandoned run starts again from scratch: a new container.
    assert_eq!(fake.docker().reattached, [false, false]);
    let journal = fake.kinds(&attempt).await;
    assert_eq!(
        journal[..3],
        kinds(&[
            "container_create_intent",
            "container_started",
            "run_abandoned"
        ])
    );
    assert_eq!(journal[3..], kinds(&HAPPY));
}

#[tokio::test]
async fn an_engine_restart_without_time_to_rerun_hands_the_job_back() {
    let (fake, attempt) = Fake::new();
    fake.docker()
        .runs
        .push_back(Ok(RunEnd::Interrupted { rerun: false }));
    let steps = fake.drive(&attempt).await;
    assert!(
        matches!(
            steps[0],
            Stepped::Failed {
                reason: ReleaseReason::OperatorShutdown,
                ..
            }
        ),
        "{steps:?}"
    );
    assert_eq!(steps.last(), Some(&Stepped::Done));
    let purposes: Vec<_> = fake.chain().signed.iter().map(|s| s.purpose).collect();
    assert_eq!(purposes, [RELEASE]);
}

#[tokio::test]
async fn a_lagging_answer_changes_nothing_and_a_requeued_job_ends_the_attempt() {
    let (fake, attempt) = Fake::new();
    fake.chain().job.as_mut().unwrap().attempts = 0;
    let first = fake.drive(&attempt).await;
    assert!(matches!(first[..], [Stepped::Wait(_)]), "{first:?}");
    assert!(fake.kinds(&attempt).await.is_empty());
    // Handed back and queued again under the same attempt number: over.
    if let Some(job) = fake.chain().job.as_mut() {
        job.attempts = 1;
        job.state = JobState::Queued;
    }
    assert_eq!(fake.drive(&attempt).await, [Stepped::Done]);
    assert!(fake.docker().reattached.is_empty(), "never run");
    assert!(fake.chain().signed.is_empty());
    assert_eq!(fake.docker().removed, 1);
}

#[tokio::test]
async fn a_store_outage_is_waited_out_without_running_again() {
    let (fake, attempt) = Fake::new();
    fake.bucket()
        .failures
        .push_back(retry("the bucket is down"));
    let first = fake.drive(&attempt).await;
    assert!(matches!(first.last(), Some(Stepped::Wait(_))), "{first:?}");
    assert_eq!(fake.drive(&attempt).await.last(), Some(&Stepped::Done));
    assert_eq!(fake.docker().reattached, [false]);
    assert_eq!(fake.bucket().uploads, 1);
}

#[tokio::test]
async fn an_unreadable_journaled_transaction_is_signed_again_not_handed_back() {
    let (fake, attempt) = Fake::new();
    let uploaded = JournalEntry::Uploaded {
        root: hex::encode([0u8; 32]),
        uri: "s3://bucket/x".into(),
        usage: UsageReceipt::default(),
        digest: None,
    };
    let garbled = JournalEntry::TxSigned {
        purpose: SUBMIT.into(),
        signed_tx: vec![0xff; 3],
        signature: "not a signature".into(),
        last_valid_block_height: 1,
    };
    for entry in [uploaded, garbled] {
        record(&fake.journal, &attempt, entry).await.unwrap();
    }
    assert_eq!(fake.drive(&attempt).await.last(), Some(&Stepped::Done));
    assert_eq!(
        fake.chain().signed,
        [Signed {
            purpose: SUBMIT,
            may_rearm: false
        }]
    );
    assert!(fake.docker().reattached.is_empty(), "never run again");
}

#[test]
fn every_fact_moves_the_state_through_one_function() {
    let started = JournalEntry::ContainerStarted {
        container_id: "c".into(),
    };
    let state = JobProgress::NotStarted.after(&started);
    assert_eq!(state.name(), "running");
    // An intent guards an idempotent effect: it moves nothing.
    let intent = JournalEntry::UploadIntent { root: "r".into() };
    assert_eq!(state.clone().after(&intent), state);
    let abandoned = JournalEntry::RunAbandoned { why: "w".into() };
    assert_eq!(state.after(&abandoned), JobProgress::NotStarted);
    let failed = JournalEntry::Failed {
        release_reason: ReleaseReason::SpecInvalid as u8,
        detail: "d".into(),
    };
    let signed = JournalEntry::TxSigned {
        purpose: RELEASE.into(),
        signed_tx: vec![],
        signature: "s".into(),
        last_valid_block_height: 1,
    };
    let confirmed = JournalEntry::TxConfirmed {
        signature: "s".into(),
    };
    let names: Vec<_> = [&failed, &signed, &confirmed]
        .into_iter()
        .scan(JobProgress::NotStarted, |state, entry| {
            *state = state.clone().after(entry);
            Some(state.name())
        })
        .collect();
    assert_eq!(names, ["failed", "tx_signed", "tx_confirmed"]);
}

#[test]
fn only_a_fresh_answer_ends_an_attempt() {
    let node = Pubkey::new_unique();
    let attempt = Attempt {
        job: Pubkey::new_unique(),
        number: 2,
    };
    let ours = job(|j| {
        j.node = node;
        j.state = JobState::Assigned;
        j.attempts = 2;
    });
    assert!(matches!(
        standing(&node, &attempt, Some(ours)),
        Standing::Ours(_)
    ));
    // A lagging endpoint still shows the job queued before this assignment.
    let before = job(|j| {
        j.state = JobState::Queued;
        j.attempts = 1;
    });
    assert!(matches!(
        standing(&node, &attempt, Some(before)),
        Standing::Stale
    ));
    // Created and assigned in one transaction: a lagging endpoint shows nothing.
    assert!(matches!(standing(&node, &attempt, None), Standing::Missing));
    // Handed back and queued again, or assigned anew: over.
    let requeued = job(|j| {
        j.state = JobState::Queued;
        j.attempts = 2;
    });
    assert!(matches!(
        standing(&node, &attempt, Some(requeued)),
        Standing::Over
    ));
    let next = job(|j| {
        j.node = node;
        j.state = JobState::Assigned;
        j.attempts = 3;
    });
    assert!(matches!(
        standing(&node, &attempt, Some(next)),
        Standing::Over
    ));
}

#[test]
fn attempt_keys_round_trip() {
    let attempt = Attempt {
        job: Pubkey::new_unique(),
        number: 7,
    };
    assert_eq!(Attempt::parse(&attempt.key()), Some(attempt));
    assert_eq!(Attempt::parse("not-a-key"), None);
    assert_eq!(Attempt::parse(&attempt.job.to_string()), None);
}

#[tokio::test]
async fn an_unlanded_submit_of_a_job_no_longer_ours_ends_the_attempt_quietly() {
    let (fake, attempt) = Fake::new();
    fake.chain()
        .landings
        .push_back(Ok(Landing::CannotLand("landed and failed".into())));
    // Run, upload, sign the submit.
    for _ in 0..3 {
        assert_eq!(
            step(&fake, &fake.journal, &attempt, false).await,
            Stepped::More
        );
    }
    // Meanwhile the job expired and was assigned again: over, not too late.
    fake.chain().job.as_mut().unwrap().attempts = 2;
    assert_eq!(fake.drive(&attempt).await, [Stepped::Done]);
    assert_eq!(fake.chain().sent.len(), 1);
    assert_eq!(fake.chain().signed.len(), 1, "not signed again");
    assert!(fake.done(&attempt).await);
    assert_eq!(fake.docker().removed, 1);
}

#[tokio::test]
async fn a_finished_run_is_never_handed_back_whatever_refuses_its_submit() {
    let (fake, attempt) = Fake::new();
    fake.chain().refuse_submit = Some(fail(ReleaseReason::SpecInvalid, "refused"));
    let first = fake.drive(&attempt).await;
    assert!(matches!(first.last(), Some(Stepped::Wait(_))), "{first:?}");
    assert!(!fake.kinds(&attempt).await.contains(&"failed".to_string()));
    assert_eq!(fake.drive(&attempt).await.last(), Some(&Stepped::Done));
    let purposes: Vec<_> = fake.chain().signed.iter().map(|s| s.purpose).collect();
    assert_eq!(purposes, [SUBMIT]);
}

#[tokio::test]
async fn a_refused_hand_back_is_waited_on_never_journaled_failed_again() {
    let (fake, attempt) = Fake::new();
    fake.docker()
        .runs
        .push_back(Err(fail(ReleaseReason::SpecInvalid, "bad spec")));
    fake.chain().refuse_release = Some(fail(ReleaseReason::SpecInvalid, "refused"));
    let first = fake.drive(&attempt).await;
    assert!(matches!(first.last(), Some(Stepped::Wait(_))), "{first:?}");
    let failed = |kinds: Vec<String>| kinds.iter().filter(|k| *k == "failed").count();
    assert_eq!(failed(fake.kinds(&attempt).await), 1);
    assert_eq!(fake.drive(&attempt).await.last(), Some(&Stepped::Done));
    assert_eq!(failed(fake.kinds(&attempt).await), 1);
    let purposes: Vec<_> = fake.chain().signed.iter().map(|s| s.purpose).collect();
    assert_eq!(purposes, [RELEASE]);
}

#[tokio::test]
async fn a_job_account_gone_ends_the_attempt_without_a_transaction() {
    let (fake, attempt) = Fake::new();
    // Run and upload, then the job's account is gone (settled or refunded).
    for _ in 0..2 {
        assert_eq!(
            step(&fake, &fake.journal, &attempt, false).await,
            Stepped::More
        );
    }
    fake.chain().job = None;
    assert_eq!(fake.drive(&attempt).await, [Stepped::Done]);
    assert!(fake.chain().signed.is_empty());
    assert_eq!(fake.docker().removed, 1);
    assert!(fake.done(&attempt).await);
}
