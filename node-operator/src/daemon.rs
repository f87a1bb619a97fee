//! The node's job state machine and chain loop. It learns its work from its
//! own Node account (no program scans), re-arms when idle, runs the job,
//! commits and uploads the outputs, submits the result before the deadline,
//! and claims closed epochs for its owner. Every side effect is journaled
//! before it happens; a restart resumes from the journal, rebroadcasts the
//! same signed bytes, and re-reads the chain before anything new.
//! Unknown is not failed: Docker or RPC trouble means wait and retry.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ake_sdk::ake_market::state::{
    InlineSpec, Job, JobResult, JobSpec as ChainSpec, Node, NodeStatus, ReleaseReason, RemoteSpec,
    UsageReceipt, Verify,
};
use ake_sdk::job_spec::{spec_for_frame, RemoteSpecFile};
use ake_sdk::protocol::{create_associated_token, Protocol};
use ake_sdk::seal::{attempt_salt, output_token};
use ake_sdk::sender::{confirm, prepare, Fees, Prepared, SendError};
use ake_sdk::{instructions as ixs, pda};
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::{Keypair, Signature, Signer};

use crate::config::PriorityFeePolicy;
use crate::gpu::{GpuHealth, GpuInventory};
use crate::inputs::{Fetcher, InputError};
use crate::job_machine::{
    self, fail, retry, standing, Attempt, Landing, Ledger, RunEnd, Runner, Standing, StepError,
    Stepped, Store, Uploaded, RELEASE, SUBMIT,
};
use crate::journal::{JobProgress, Journal, JournalEntry};
use crate::metrics::{JobResult as RunOutcome, NodeMetrics};
use crate::output_store::OutputStore;
use crate::outputs::{OutputLimits, OutputManifest, RunFacts, UsageReceipt as OutputUsage};
use crate::readiness;
use crate::runtime::{trash_dir, DockerRuntime, JobOutcome, JobSpec};

mod audits;

pub struct Daemon {
    /// The slot of the host this node is (`main` for a single-slot node).
    pub slot: String,
    /// The CPUs this slot's jobs run on (None: any).
    pub cpuset: Option<String>,
    pub protocol: Protocol,
    pub signer: Keypair,
    pub node: Pubkey,
    pub runtime: DockerRuntime,
    pub store: OutputStore,
    pub journal: Journal,
    pub gpus: GpuInventory,
    /// ECC, retired-page and Xid watch of the GPUs (None without NVML).
    pub gpu_health: Option<GpuHealth>,
    /// Why this GPU host must not run jobs at all (a toolkit or driver with a
    /// known container escape, or one whose version cannot be read); read
    /// once at start: an upgrade is followed by a restart.
    pub host_problems: Vec<String>,
    pub metrics: Arc<NodeMetrics>,
    pub work_dir: PathBuf,
    pub max_output_bytes: u64,
    pub max_output_files: u64,
    /// Jobs allowed this long or longer share live logs while they run.
    pub live_logs_min_secs: u32,
    /// Appeal the audits this node loses (`appeal_lost_audits`).
    pub appeal_lost_audits: bool,
    /// Fetches inputs and remote specs under the operator's policy.
    pub fetcher: Fetcher,
    /// Kept back from the job's on-chain deadline for stopping the
    /// container, committing and uploading, and confirming the result.
    pub deadline_reserve: Duration,
    /// Compute unit limit; the price comes from `priority_fee`.
    pub fees: Fees,
    pub priority_fee: PriorityFeePolicy,
    /// The fallback poll interval; a subscription to the Node account
    /// (`wake`) cuts the wait short when the endpoint offers one.
    pub poll: Duration,
    pub wake: Arc<tokio::sync::Notify>,
    /// Attempts whose job account an endpoint did not show, and since when.
    pub missing_since: tokio::sync::Mutex<std::collections::HashMap<String, Instant>>,
    /// The hot key's balance as last read, and when: the readiness check
    /// runs every poll while the node waits, the balance moves slowly.
    pub balance_seen: tokio::sync::Mutex<Option<(Instant, u64)>>,
    /// The configured RPC endpoints (the chain `protocol` reads through),
    /// measured by the readiness gate; None for an in-process chain.
    pub endpoints: Option<Arc<ake_sdk::chain::rpc::FailoverChain>>,
    /// How each endpoint measured when last checked.
    pub rpc_health: std::sync::Mutex<Vec<ake_sdk::chain::rpc::EndpointHealth>>,
    /// Free space the work dir keeps before a job is taken: one job's
    /// inputs and outputs at their caps.
    pub work_floor_bytes: u64,
    pub journal_path: PathBuf,
    /// The readiness checks that cost a round trip (engine, cleaner image,
    /// store canary, every endpoint, release budget) as housekeeping last
    /// ran them (None before the first run), and since when they fail.
    pub slow_checks: std::sync::Mutex<SlowChecks>,
    /// Wakes housekeeping to run the slow checks again (a hand-back landed).
    pub recheck: tokio::sync::Notify,
    /// When this node's last hand-back landed (cleared by a result).
    pub last_release: std::sync::Mutex<Option<Instant>>,
    /// The uplink to the output store: `uplink_mbit` at start, then
    /// measured by the uploads.
    pub uplink: std::sync::Mutex<crate::output_store::Uplink>,
    /// Outputs each attempt's job sent to the store while it ran, until
    /// its upload has used them.
    pub staged: std::sync::Mutex<std::collections::HashMap<String, crate::output_store::Staged>>,
    /// What kept the node out of the queue when last checked.
    pub not_ready: tokio::sync::Mutex<Vec<String>>,
    /// When this waiting node last looked for work it is the best node for
    /// (a post that named a stale pick leaves both waiting).
    pub match_looked: tokio::sync::Mutex<Option<Instant>>,
    /// The job last seen assigned to this node, and when (how long its
    /// pick-up took is measured from then).
    pub picked_up: std::sync::Mutex<Option<(Pubkey, Instant)>>,
}

/// The owner's release budget as the chain shows it now.
pub struct ReleasesLeft {
    pub owner: Pubkey,
    pub used: u32,
    pub left: u32,
}

/// The slow readiness checks' last results.
#[derive(Debug, Default)]
pub struct SlowChecks {
    pub problems: Option<Vec<String>>,
    pub failing_since: Option<Instant>,
}

/// How long the slow checks must keep failing before a waiting node leaves
/// the queue (leaving and coming back costs two fees and its place).
const SLOW_FAILURE_PATIENCE: Duration = Duration::from_secs(60);
/// How long after its own hand-back a node with no release budget left
/// stays out (then it tries one job again).
const SPENT_BUDGET_PAUSE: Duration = Duration::from_secs(600);

/// How long a finished attempt's journal entries are kept (for a look back
/// at what happened); then only its done mark stays.
const JOURNAL_KEEP: Duration = Duration::from_secs(7 * 24 * 3600);

/// What the operator asked of a running daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Take jobs.
    Serve,
    /// Finish the job in progress (run, upload, submit without re-arming),
    /// leave the queue, take no other, exit: `ake-node drain`, SIGTERM.
    Drain,
    /// Exit between steps now; the journal resumes the job on the next
    /// start (a second SIGTERM).
    Now,
}

/// The least compute a journaled transaction asks for. Native execution
/// meters no SBF compute (simulated units here are the SPL Token CPIs
/// only), so the floor is the budget every node transaction carried before
/// limits followed simulation: a submit with a re-arm search, a frame
/// account's creation and its events, estimated well under it.
const COMPUTE_FLOOR: u32 = 400_000;
/// Solana's per-transaction maximum (also what simulations run with).
pub const MAX_COMPUTE_UNITS: u32 = 1_400_000;

/// What is left of the time from assignment to the deadline, in bps.
fn time_left_bps(assigned_at: i64, deadline: i64, now: i64) -> u16 {
    let total = deadline.saturating_sub(assigned_at).max(1);
    let left = deadline.saturating_sub(now).clamp(0, total);
    u16::try_from(left.saturating_mul(10_000) / total).unwrap_or(10_000)
}

/// The compute limit for a transaction that simulated at `units`: half as
/// much again as measured, never below the floor nor above the maximum.
fn compute_limit(units: u64) -> u32 {
    let padded = units.saturating_mul(3) / 2;
    u32::try_from(padded)
        .unwrap_or(u32::MAX)
        .clamp(COMPUTE_FLOOR, MAX_COMPUTE_UNITS)
}

/// Seconds before the free hand-back window closes from which a job whose
/// container has not started is handed back rather than retried: a release
/// must land while it is still free.
const RELEASE_MARGIN_SECS: i64 = 30;

/// A remote spec is a small TOML document, never a download of its own.
const MAX_REMOTE_SPEC_BYTES: u64 = 1 << 20;
/// Inputs a remote spec may list (an inline spec fits far fewer).
const MAX_REMOTE_INPUTS: usize = 256;

/// Less budget than this left after an engine restart: hand the job back
/// rather than start a run that can only be cut short.
const MIN_RERUN: Duration = Duration::from_secs(10);

/// How often a running job's live logs go up, when it gets them.
const LIVE_LOGS_EVERY: Duration = Duration::from_secs(5);

/// Each live log is its first this many bytes; the whole log comes with
/// the result.
const LIVE_LOG_CAP: usize = 4 << 20;

impl Daemon {
    async fn record(&self, attempt: &Attempt, entry: JournalEntry) -> Result<(), StepError> {
        job_machine::record(&self.journal, attempt, entry).await
    }

    /// The main loop. It returns once drained (asked by `stop` to drain: no
    /// job in progress, out of the queue) or at once when told to stop now.
    pub async fn run(&self, stop: tokio::sync::watch::Receiver<Stop>) {
        // Housekeeping goes on beside the jobs, never in their way.
        tokio::select! {
            _ = self.serve(stop) => {}
            _ = self.housekeeping() => {}
        }
    }

    /// Runs the slow readiness checks (every 30 s, or when woken), and
    /// empties the trash and claims the owner's rewards (every 10 s).
    async fn housekeeping(&self) {
        let mut checked: Option<Instant> = None;
        let mut pruned: Option<Instant> = None;
        loop {
            if pruned.is_none_or(|at| at.elapsed() >= Duration::from_secs(3600)) {
                match self.journal.prune(JOURNAL_KEEP).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!("pruned {n} finished attempts from the journal"),
                    Err(e) => tracing::warn!("could not prune the journal: {e}"),
                }
                pruned = Some(Instant::now());
            }
            if checked.is_none_or(|at| at.elapsed() >= Duration::from_secs(30)) {
                let problems = self.slow_problems().await;
                self.store_slow_checks(problems);
                checked = Some(Instant::now());
            }
            if let Err(e) = self.runtime.empty_trash(&trash_dir(&self.work_dir)).await {
                tracing::warn!("{e}");
            }
            let _ = self.hot_key_balance().await;
            self.claim_rewards().await;
            self.audit_duties().await;
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(10)) => {}
                _ = self.recheck.notified() => checked = None,
            }
        }
    }

    fn store_slow_checks(&self, problems: Vec<String>) {
        let mut slow = self.slow_checks.lock().unwrap_or_else(|e| e.into_inner());
        slow.failing_since = match (slow.failing_since, problems.is_empty()) {
            (_, true) => None,
            (Some(since), false) => Some(since),
            (None, false) => Some(Instant::now()),
        };
        slow.problems = Some(problems);
    }

    /// The slow checks' last problems, or one saying they have not run.
    fn slow_check_problems(&self) -> Vec<String> {
        let slow = self.slow_checks.lock().unwrap_or_else(|e| e.into_inner());
        slow.problems.clone().unwrap_or_else(|| {
            vec!["the engine, store, RPC and release-budget checks have not run yet".into()]
        })
    }

    /// The job loop. It returns once drained (asked by `stop` to drain: no
    /// job in progress, out of the queue) or at once when told to stop now.
    async fn serve(&self, mut stop: tokio::sync::watch::Receiver<Stop>) {
        let mut said_suspended = false;
        loop {
            if *stop.borrow() == Stop::Now {
                self.leave_queue().await;
                tracing::warn!("stopping now: the journal holds everything needed to resume, and a running container goes unsupervised until ake-node starts again");
                return;
            }
            // Unfinished work from before a restart first.
            let open = match self.journal.open_jobs().await {
                Ok(open) => {
                    let asked = *stop.borrow();
                    self.publish_status(&open, asked).await;
                    for key in &open {
                        match Attempt::parse(key) {
                            Some(attempt) => {
                                self.drive(&attempt, &mut stop).await
                            }
                            None => tracing::warn!(
                                "journal key {key} is not <job>-<attempt> (an older ake-node?); ignoring it"
                            ),
                        }
                    }
                    Some(open)
                }
                Err(e) => {
                    tracing::warn!("journal unreadable, retrying: {e}");
                    None
                }
            };
            match self.protocol.node(&self.node).await {
                Ok(Some(node)) => {
                    self.metrics.heartbeat();
                    self.metrics.node(node_state(&node), node.jobs_expired);
                    if node.suspended || node.held {
                        if !said_suspended {
                            tracing::warn!(
                                "node {} is {}; its owner (or operator) runs `ake node rearm {}`",
                                self.node,
                                if node.suspended {
                                    "suspended after an SLA breach"
                                } else {
                                    "held out of the queue by its owner or operator"
                                },
                                self.node
                            );
                            said_suspended = true;
                        }
                    } else {
                        said_suspended = false;
                    }
                    // Read before acting: draining, nothing arms the node.
                    let nothing_open = open.as_ref().is_some_and(|o| o.is_empty());
                    if *stop.borrow() == Stop::Drain
                        && nothing_open
                        && node.status == NodeStatus::Idle
                    {
                        // An audit this node is part of needs its reveal
                        // (else its collateral is lost): draining waits.
                        match self.journal.audit_duties().await.map(|d| d.len()) {
                            Ok(0) => {
                                tracing::info!("drained: no job in progress and out of the queue; exiting");
                                return;
                            }
                            Ok(n) => tracing::info!("draining: waiting for {n} audit(s) this node is part of to need it no more (stop now and its digest goes unrevealed: it loses its collateral)"),
                            Err(e) => tracing::warn!("draining: audit duties unreadable ({e}); waiting"),
                        }
                    }
                    self.act(&node, &mut stop).await;
                }
                Ok(None) => tracing::warn!(
                    "node account {} does not exist: register it with `ake node register`",
                    self.node
                ),
                Err(e) => tracing::warn!("cannot read the node account, retrying: {e}"),
            }
            tokio::select! {
                _ = tokio::time::sleep(self.poll) => {}
                _ = self.wake.notified() => {}
                _ = stop.changed() => {}
            }
        }
    }

    async fn act(&self, node: &Node, stop: &mut tokio::sync::watch::Receiver<Stop>) {
        let draining = *stop.borrow() != Stop::Serve;
        match node.status {
            NodeStatus::Busy if node.current_job != Pubkey::default() => {
                self.note_assigned(node.current_job);
                let job = node.current_job;
                match self.protocol.job(&job).await {
                    Ok(Some(on_chain)) => self.drive(&Attempt::of(job, &on_chain), stop).await,
                    Ok(None) => tracing::warn!(%job, "the assigned job account is gone"),
                    Err(e) => tracing::warn!(%job, "cannot read the assigned job, retrying: {e}"),
                }
            }
            NodeStatus::Queued if draining => self.leave_queue().await,
            NodeStatus::Queued => {
                let (now, slow) = self.readiness().await;
                // A blip in a network check does not cost the node its place.
                let patient = self
                    .slow_checks
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .failing_since
                    .is_some_and(|since| since.elapsed() < SLOW_FAILURE_PATIENCE);
                if !now.is_empty() || (!slow.is_empty() && !patient) {
                    let problems = [now, slow].concat();
                    tracing::error!(?problems, "not fit for a job now: leaving the queue");
                    self.leave_queue().await;
                } else if slow.is_empty() {
                    self.match_waiting().await;
                }
            }
            NodeStatus::Idle if !node.suspended && !node.held && !draining => {
                let problems = self.readiness_problems().await;
                if !problems.is_empty() {
                    tracing::error!(?problems, "refusing to arm");
                    return;
                }
                let profile = &node.profile;
                if let Some(problem) =
                    self.gpus
                        .claim_problem(node.gpus, &profile.gpu_model, profile.vram_mib)
                {
                    tracing::error!("refusing to arm: {problem}");
                    return;
                }
                // After registering or a re-arm the chain refuses the node
                // until its cooldown ends: wait for it instead of failing.
                if let Ok(now) = self.chain_now().await {
                    if now < node.armable_at {
                        tracing::debug!(
                            wait_secs = node.armable_at - now,
                            "cooling down before arming"
                        );
                        return;
                    }
                }
                self.arm_logged().await
            }
            _ => {}
        }
    }

    /// Remembers when the node's job was first seen assigned.
    fn note_assigned(&self, job: Pubkey) {
        let mut picked = self.picked_up.lock().unwrap_or_else(|e| e.into_inner());
        if picked.is_none_or(|(j, _)| j != job) {
            *picked = Some((job, Instant::now()));
            tracing::info!(%job, "assigned");
        }
    }

    /// Why this node must not take a job now: what the host says at once,
    /// the slow checks as housekeeping last ran them, and a hot key that
    /// could not pay for the job's transactions (it would take the job and
    /// then miss its deadline). Never a round trip but the (cached) balance.
    async fn readiness_problems(&self) -> Vec<String> {
        let (mut problems, slow) = self.readiness().await;
        problems.extend(slow);
        problems
    }

    /// The gate's problems: those that take a waiting node out at once
    /// (the host's, the hot key's), and the slow checks' (which must last
    /// [`SLOW_FAILURE_PATIENCE`] first). Recorded for `status` and metrics.
    async fn readiness(&self) -> (Vec<String>, Vec<String>) {
        let mut now = self.local_problems().await;
        let need = self
            .priority_fee
            .next_transactions_lamports(MAX_COMPUTE_UNITS);
        self.metrics.signer_floor(need);
        match self.hot_key_balance().await {
            Ok(lamports) => {
                if lamports < need {
                    now.push(format!(
                        "the hot key {} holds {lamports} lamports, less than the {need} its next transactions may cost: send it SOL",
                        self.signer.pubkey()
                    ));
                }
            }
            // An RPC blip is not a poor key: leaving the queue for it would
            // cost two fees and the node's place.
            Err(e) => tracing::warn!("cannot read the hot key's balance: {e}"),
        }
        let slow = self.slow_check_problems();
        let all: Vec<String> = now.iter().chain(&slow).cloned().collect();
        self.metrics.not_ready(all.len());
        *self.not_ready.lock().await = all;
        (now, slow)
    }

    /// What this host says at once, without a round trip: its container
    /// boundary, each GPU's health, the free disk.
    async fn local_problems(&self) -> Vec<String> {
        let mut problems = self.host_problems.clone();
        if let Some(health) = &self.gpu_health {
            let gpu = health.checked().await;
            self.metrics.gpu_problems(gpu.len());
            problems.extend(gpu);
        }
        if let Ok(free) = readiness::free_bytes(&self.work_dir) {
            self.metrics.work_disk(free, self.work_floor_bytes);
        }
        problems.extend(readiness::disk_problems(
            &self.work_dir,
            self.work_floor_bytes,
            &self.journal_path,
        ));
        problems
    }

    /// The checks that cost a round trip each (housekeeping runs them): the
    /// engine answers, the cleaner's image is here, the output store takes
    /// a write, every endpoint answers and keeps up, and the owner has
    /// hand-backs left.
    async fn slow_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        problems.extend(readiness::engine_problem(&self.runtime).await);
        problems.extend(self.runtime.cleaner_problem().await);
        problems.extend(readiness::store_problem(&self.store, &self.node.to_string()).await);
        if let Some(endpoints) = &self.endpoints {
            let health = endpoints.health().await;
            for endpoint in &health {
                self.metrics.rpc_endpoint(endpoint);
            }
            problems.extend(readiness::rpc_problem(&health));
            *self.rpc_health.lock().unwrap_or_else(|e| e.into_inner()) = health;
        }
        let left = self.releases_left().await;
        if let Some(left) = &left {
            self.metrics.release_budget_left(left.left);
        }
        problems.extend(left.and_then(|left| self.release_budget_problem(left)));
        problems
    }

    /// The owner's hand-backs left in this release-budget window (None
    /// when the chain cannot say now).
    async fn releases_left(&self) -> Option<ReleasesLeft> {
        let p = &self.protocol;
        let node = p.node(&self.node).await.ok()??;
        let (stake, config, market) = (
            p.stake(&node.owner).await.ok()??,
            p.config().await.ok()?,
            p.market_at(&node.market).await.ok()?,
        );
        let now = self.chain_now().await.ok()?;
        let rules = &config.params.release;
        Some(ReleasesLeft {
            owner: node.owner,
            used: stake.releases_in_window,
            left: stake.releases_left(now, rules, market.min_stake_per_gpu),
        })
    }

    /// A node whose owner has no hand-back left in this window stays out:
    /// whatever keeps it from running jobs (a registry outage across a
    /// fleet) would otherwise cost a cooldown per job.
    fn release_budget_problem(&self, budget: ReleasesLeft) -> Option<String> {
        // Only a node that just handed a job back pauses: a creator whose
        // jobs spent the budget cannot keep a fleet out for a window.
        let last = *self.last_release.lock().unwrap_or_else(|e| e.into_inner());
        let pause = SPENT_BUDGET_PAUSE.checked_sub(last?.elapsed())?;
        if budget.left > 0 {
            return None;
        }
        Some(format!(
            "owner {} has used its release budget for this window ({} hand-backs) and this node just handed a job back: it stays out {} s more rather than take jobs it may hand back over budget; find out why (the log)",
            budget.owner,
            budget.used,
            pause.as_secs()
        ))
    }

    /// The hot key's balance, read again at most every 5 s (the readiness
    /// check runs every poll while the node waits).
    async fn hot_key_balance(&self) -> Result<u64, ake_sdk::chain::ChainError> {
        let mut seen = self.balance_seen.lock().await;
        if let Some((at, lamports)) = *seen {
            if at.elapsed() < Duration::from_secs(5) {
                return Ok(lamports);
            }
        }
        let lamports = self.protocol.chain.balance(&self.signer.pubkey()).await?;
        self.metrics.signer_balance(lamports);
        *seen = Some((Instant::now(), lamports));
        Ok(lamports)
    }

    async fn arm_logged(&self) {
        match self.arm().await {
            Ok(sig) => tracing::info!("armed: waiting for a job ({sig})"),
            Err(e) => tracing::warn!("could not arm the node, retrying: {e}"),
        }
    }

    /// What `GET /status` on the metrics address answers while the daemon
    /// runs (the journal is locked by the daemon).
    async fn publish_status(&self, open: &[String], stop: Stop) {
        let mut attempts = Vec::new();
        for key in open {
            let progress = self.journal.progress(key).await;
            let progress = progress.as_ref().map_or("unreadable", |p| p.name());
            attempts.push(serde_json::json!({ "attempt": key, "progress": progress }));
        }
        let phase = attempts.first().and_then(|a| a["progress"].as_str());
        self.metrics.job_phase(phase);
        if phase.is_none() {
            self.metrics.job_deadline(0);
        }
        let status = serde_json::json!({
            "slot": self.slot,
            "node": self.node.to_string(),
            "open": attempts,
            "draining": stop != Stop::Serve,
            "not_ready": *self.not_ready.lock().await,
            "rpc": *self.rpc_health.lock().unwrap_or_else(|e| e.into_inner()),
        });
        let mut status = status;
        let urls = self
            .endpoints
            .as_ref()
            .map(|e| e.urls())
            .unwrap_or_default();
        without_rpc_secrets(&mut status, &urls);
        self.metrics.set_status(status.to_string());
    }

    /// Draining, a node waiting in the queue leaves it (`node_unready`), so
    /// no job is assigned to a node that is not there to run it.
    async fn leave_queue(&self) {
        let Ok(Some(node)) = self.protocol.node(&self.node).await else {
            return;
        };
        if node.status != NodeStatus::Queued {
            return;
        }
        let ixs = [ixs::node_unready(
            self.signer.pubkey(),
            self.signer.pubkey(),
            node.owner,
            node.market,
        )];
        let send = ake_sdk::sender::send_instructions(
            self.protocol.chain.as_ref(),
            &self.signer,
            &[],
            &ixs,
            self.fees,
        );
        match tokio::time::timeout(Duration::from_secs(30), send).await {
            Ok(Ok(sig)) => tracing::info!("left the queue ({sig})"),
            // A job may have been assigned meanwhile: the journal resumes it.
            Ok(Err(e)) => tracing::warn!("could not leave the queue: {e}"),
            Err(_) => tracing::warn!("could not leave the queue within 30 s"),
        }
    }

    /// While waiting, every 5 s: takes its best queued work when it is that
    /// work's best node (`match_job` / `match_frame`), which a post or an
    /// arm naming a stale counterpart leaves waiting beside it.
    async fn match_waiting(&self) {
        {
            let mut looked = self.match_looked.lock().await;
            if looked.is_some_and(|at| at.elapsed() < Duration::from_secs(5)) {
                return;
            }
            *looked = Some(Instant::now());
        }
        let p = &self.protocol;
        let ix = match p.match_for_node(self.signer.pubkey(), &self.node).await {
            Ok(Some(ix)) => ix,
            Ok(None) => return,
            Err(e) => return tracing::debug!("cannot look for work waiting for this node: {e}"),
        };
        let chain = p.chain.as_ref();
        match ake_sdk::sender::send_instructions(chain, &self.signer, &[], &[ix], self.fees).await {
            Ok(sig) => tracing::info!("took queued work waiting for this node ({sig})"),
            // Another node, the crank or a post may have paired it first.
            Err(e) => tracing::debug!("could not take queued work: {e}"),
        }
    }

    /// node_ready: takes the best queued job it can serve, or joins the queue.
    async fn arm(&self) -> Result<Signature, anyhow::Error> {
        let me = self.signer.pubkey();
        let p = &self.protocol;
        let ix = p.node_ready(&me).await?;
        let chain = p.chain.as_ref();
        Ok(ake_sdk::sender::send_instructions(chain, &self.signer, &[], &[ix], self.fees).await?)
    }

    /// Drives one job as far as it can go now, logging why it stops.
    async fn drive(&self, job: &Attempt, stop: &mut tokio::sync::watch::Receiver<Stop>) {
        let span = tracing::info_span!("job", job = %job.job, attempt = job.number);
        let _enter = span.enter();
        loop {
            // Draining, the job goes on to its result (the container stays
            // supervised); only a stop-now cuts a step short.
            let draining = *stop.borrow() != Stop::Serve;
            let stepped = tokio::select! {
                r = job_machine::step(self, &self.journal, job, draining) => r,
                _ = stop.wait_for(|s| *s == Stop::Now) => return,
            };
            match stepped {
                Stepped::More => continue,
                Stepped::Done => return,
                Stepped::TooLate => {
                    self.metrics.job_finished(RunOutcome::Abandoned, 0.0);
                    return;
                }
                Stepped::Wait(why) => {
                    tracing::warn!("will retry: {why}");
                    return;
                }
                Stepped::Failed { reason, detail } => {
                    tracing::error!(
                        ?reason,
                        "the job cannot run here, handing it back: {detail}"
                    );
                    self.metrics
                        .handed_back(&snake_case(&format!("{reason:?}")));
                }
            }
        }
    }

    /// Sends the running job's settled outputs to the store's staging area
    /// every STAGE_EVERY, until the run ends and this is dropped.
    async fn stage_while_running(
        &self,
        id: &str,
        output_dir: &std::path::Path,
        caps: OutputLimits,
        staged: &mut crate::output_store::Staged,
    ) -> std::convert::Infallible {
        loop {
            tokio::time::sleep(crate::output_store::STAGE_EVERY).await;
            if let Err(e) = self.store.stage(id, output_dir, staged, caps).await {
                tracing::debug!("outputs not staged this time (they go up after the run): {e}");
            }
        }
    }

    /// While the job runs: uploads what it printed so far whenever that
    /// grew, and after the first upload announces where (one transaction,
    /// again after a restart). A failure only costs the creator the live
    /// view: the run goes on, and the committed logs come with the result.
    async fn share_logs_while_running(&self, id: &str, job: Pubkey) -> std::convert::Infallible {
        let mut shared = (0, 0);
        let mut announced = false;
        loop {
            tokio::time::sleep(LIVE_LOGS_EVERY).await;
            let (stdout, stderr) = match self.runtime.logs_so_far(id, LIVE_LOG_CAP).await {
                Ok(logs) => logs,
                Err(e) => {
                    tracing::debug!("live logs not read this time: {e}");
                    continue;
                }
            };
            if (stdout.len(), stderr.len()) == shared {
                continue;
            }
            if let Err(e) = self.store.put_live_logs(id, &stdout, &stderr).await {
                tracing::debug!("live logs not uploaded this time: {e}");
                continue;
            }
            shared = (stdout.len(), stderr.len());
            if !announced {
                announced = self.announce_live_logs(id, job).await;
            }
        }
    }

    /// Sends `announce_logs` for the job; false when it did not land (the
    /// next upload tries again).
    async fn announce_live_logs(&self, id: &str, job: Pubkey) -> bool {
        let ix = ixs::announce_logs(self.signer.pubkey(), job, self.store.live_logs_uri(id));
        let chain = self.protocol.chain.as_ref();
        match ake_sdk::sender::send_instructions(chain, &self.signer, &[], &[ix], self.fees).await {
            Ok(sig) => {
                tracing::info!(
                    "live logs of {id} at {} ({sig})",
                    self.store.live_logs_uri(id)
                );
                true
            }
            Err(e) => {
                tracing::warn!("could not announce the live logs of {id} (tried again with the next upload): {e}");
                false
            }
        }
    }

    /// The engine or the host restarted under the job: not the job's
    /// failure. The dead container and its outputs go; the job runs again
    /// while its budget allows.
    async fn after_interruption(
        &self,
        attempt: &Attempt,
        run: &JobSpec,
        limits: &TimeLimits,
    ) -> Result<RunEnd, StepError> {
        self.runtime.remove(&attempt.key()).await.map_err(retry)?;
        self.runtime
            .remove_outputs(&run.output_dir())
            .await
            .map_err(retry)?;
        Ok(RunEnd::Interrupted {
            rerun: limits.stop_by > Instant::now() + MIN_RERUN,
        })
    }

    /// A failure before the container started: retried while the free
    /// hand-back window has time left, else (or when retrying cannot help)
    /// the job fails here and is handed back while that is still free.
    async fn before_start(
        &self,
        fetch_by: Instant,
        reason: ReleaseReason,
        detail: String,
        retryable: bool,
    ) -> StepError {
        // Retried while there is time to start: until the free hand-back
        // window is about to close (so the hand-back is free), or, picked up
        // past it, while the run could still happen.
        if retryable && Instant::now() + Duration::from_secs(1) < fetch_by {
            return StepError::Retry(detail);
        }
        let detail = if retryable {
            format!("still failing as the time to start runs out: {detail}")
        } else {
            detail
        };
        fail(reason, detail)
    }

    fn upload_time(&self, bytes: u64) -> Duration {
        let uplink = self.uplink.lock().unwrap_or_else(|e| e.into_inner());
        uplink.upload_time(bytes)
    }

    /// The job's time limits as local instants, from the chain's clock.
    async fn time_limits(&self, job: &Job) -> Result<TimeLimits, StepError> {
        self.metrics.job_deadline(job.deadline);
        let now = self.chain_now().await?;
        let at = |chain_time: i64| {
            let secs = u64::try_from(chain_time.saturating_sub(now)).unwrap_or(0);
            Instant::now() + Duration::from_secs(secs)
        };
        let reserve = i64::try_from(self.deadline_reserve.as_secs()).unwrap_or(i64::MAX);
        let stop_by = at(job.deadline.saturating_sub(reserve));
        let window_end = job.terms.release_window_end - RELEASE_MARGIN_SECS;
        // Past the free window (a late pickup) a hand-back costs stake:
        // better to keep trying while the run could still happen.
        let fetch_by = if now < window_end {
            at(window_end)
        } else {
            stop_by
        };
        Ok(TimeLimits { fetch_by, stop_by })
    }

    /// What to run: the inline spec, or the remote one fetched under the
    /// input rules and checked against the hash the job committed to.
    async fn container_spec(
        &self,
        attempt: &Attempt,
        job: &Job,
        fetch_by: Instant,
    ) -> Result<InlineSpec, StepError> {
        match &job.spec {
            ChainSpec::Inline(spec) => Ok(spec.clone()),
            ChainSpec::Remote(remote) => self.remote_spec(attempt, remote, fetch_by).await,
            ChainSpec::Frame(frame) => {
                // A batch cannot close while one of its frames is open, so
                // this fails only on an endpoint problem: retried while the
                // hand-back is still free, like a remote spec's fetch.
                let batch = match self.protocol.batch(&frame.batch).await {
                    Ok(Some(batch)) => batch,
                    other => {
                        let detail = format!(
                            "the spec of batch {} cannot be read: {}",
                            frame.batch,
                            other
                                .err()
                                .map_or("no such account".into(), |e| e.to_string())
                        );
                        return Err(self
                            .before_start(fetch_by, ReleaseReason::SpecInvalid, detail, true)
                            .await);
                    }
                };
                let spec = match &batch.spec {
                    ChainSpec::Inline(spec) => spec.clone(),
                    ChainSpec::Remote(remote) => {
                        self.remote_spec(attempt, remote, fetch_by).await?
                    }
                    ChainSpec::Frame(_) => {
                        return Err(fail(ReleaseReason::SpecInvalid, "a batch of a batch"))
                    }
                };
                Ok(spec_for_frame(&spec, frame.frame))
            }
        }
    }

    /// A remote spec fetched under the input rules and checked against its hash.
    async fn remote_spec(
        &self,
        attempt: &Attempt,
        remote: &RemoteSpec,
        fetch_by: Instant,
    ) -> Result<InlineSpec, StepError> {
        let dir = self.work_dir.join(attempt.key());
        tokio::fs::create_dir_all(&dir).await.map_err(retry)?;
        let path = dir.join("spec.toml");
        if let Err(e) = self
            .fetcher
            .fetch_to(
                &remote.uri,
                &remote.sha256,
                &path,
                fetch_by,
                MAX_REMOTE_SPEC_BYTES,
            )
            .await
        {
            return Err(self.input_failure(fetch_by, e).await);
        }
        let text = tokio::fs::read(&path).await.map_err(retry)?;
        let text = String::from_utf8(text).map_err(|_| {
            fail(
                ReleaseReason::SpecInvalid,
                "the remote spec is not UTF-8 TOML",
            )
        })?;
        let spec = RemoteSpecFile::parse(&text).map_err(|e| {
            fail(
                ReleaseReason::SpecInvalid,
                format!("the remote spec {} is invalid: {e}", remote.uri),
            )
        })?;
        if spec.inputs.len() > MAX_REMOTE_INPUTS {
            return Err(fail(
                ReleaseReason::SpecInvalid,
                format!(
                    "the remote spec lists {} inputs; at most {MAX_REMOTE_INPUTS}",
                    spec.inputs.len()
                ),
            ));
        }
        Ok(spec)
    }

    /// Exactly the GPUs the job pays for on a GPU market, never fewer;
    /// none on a CPU market, where `gpus` counts CPU slots.
    fn gpus_for(&self, job: &Job, gpu_market: bool) -> Result<Vec<String>, StepError> {
        if !gpu_market {
            return Ok(Vec::new());
        }
        let devices = self.gpus.devices();
        if devices.len() < usize::from(job.gpus) {
            return Err(fail(
                ReleaseReason::ResourcesMissing,
                format!(
                    "the job pays for {} GPUs and this node has {}",
                    job.gpus,
                    devices.len()
                ),
            ));
        }
        Ok(devices
            .iter()
            .take(usize::from(job.gpus))
            .map(|d| d.uuid.clone())
            .collect())
    }

    async fn input_failure(&self, fetch_by: Instant, e: InputError) -> StepError {
        let reason = match e {
            InputError::HashMismatch { .. } => ReleaseReason::InputHashMismatch,
            InputError::Fetch { .. } => ReleaseReason::InputUnavailable,
        };
        self.before_start(fetch_by, reason, e.to_string(), e.is_retryable())
            .await
    }

    async fn container_started(&self, attempt: &Attempt) -> bool {
        matches!(
            self.journal.progress(&attempt.key()).await,
            Ok(JobProgress::ContainerStarted { .. })
        )
    }

    /// Simulates `ix` alone with the exact accounts it will send, then signs
    /// it with the node's key and a compute limit of `max(floor, 3/2 x
    /// simulated)` (a legacy transaction: its journal holds these bytes).
    /// A refused simulation is retried later, rebuilt from a fresh read;
    /// nothing that would fail is journaled.
    async fn sign(
        &self,
        ix: solana_sdk::instruction::Instruction,
        fees: Fees,
    ) -> Result<Prepared, StepError> {
        let chain = self.protocol.chain.as_ref();
        let ixs = [ix];
        // No priority fee on the probe: it is signed (simulation needs a
        // transaction) but never sent, and should an endpoint land it
        // anyway it costs only the base fee.
        let probe_fees = Fees {
            compute_unit_limit: MAX_COMPUTE_UNITS,
            compute_unit_price: 0,
        };
        let probe = prepare(chain, &self.signer, &[], &ixs, probe_fees, &[])
            .await
            .map_err(retry)?;
        let simulated = chain.simulate(&probe.transaction).await.map_err(retry)?;
        if let Some(error) = simulated.err {
            return Err(retry(format!(
                "the chain refuses it now (rebuilt and signed again while the job is this node's): {}",
                ake_sdk::errors::explain(&error, &probe.transaction)
            )));
        }
        let fees = Fees {
            compute_unit_limit: compute_limit(simulated.units_consumed),
            ..fees
        };
        prepare(chain, &self.signer, &[], &ixs, fees, &[])
            .await
            .map_err(retry)
    }

    /// What the node does once this submit lands: take its next work in
    /// the same transaction (the best queued work as read now; a stale read
    /// leaves it idle, never fails the submit), unless it is shutting down
    /// or a GPU is unhealthy.
    async fn after_submit(&self) -> ixs::AfterSubmit {
        if !self.readiness_problems().await.is_empty() {
            return ixs::AfterSubmit::StayIdle;
        }
        let next = match self.protocol.node(&self.node).await {
            // Held by its owner or operator: the chain would not re-arm it.
            Ok(Some(node)) if node.held => return ixs::AfterSubmit::StayIdle,
            Ok(Some(node)) => self.protocol.next_work_for(&node).await.ok().flatten(),
            _ => None,
        };
        ixs::AfterSubmit::Rearm(next)
    }

    /// The fees of this attempt's next signature: the market's priority fee
    /// for the accounts it writes, raised once for every earlier signature
    /// that expired unlanded and as the job's deadline nears.
    async fn fees_for(
        &self,
        attempt: &Attempt,
        purpose: &str,
        job: &Job,
        writes: &[Pubkey],
    ) -> Fees {
        let resigns = match self.journal.entries(&attempt.key()).await {
            Ok(entries) => entries
                .iter()
                .filter(|e| matches!(e, JournalEntry::TxSigned { .. }))
                .count(),
            Err(_) => 0,
        };
        let recent = self
            .protocol
            .chain
            .recent_prioritization_fees(writes)
            .await
            .unwrap_or_default();
        let now = self.chain_now().await.unwrap_or(job.assigned_at);
        // A hand-back is free until the release window closes: its fee
        // rises towards that, a submit's towards the deadline.
        let by = if purpose == RELEASE && now < job.terms.release_window_end {
            job.terms.release_window_end
        } else {
            job.deadline
        };
        let left_bps = time_left_bps(job.assigned_at, by, now);
        Fees {
            compute_unit_price: self.priority_fee.price(
                &recent,
                u32::try_from(resigns).unwrap_or(u32::MAX),
                left_bps,
            ),
            ..self.fees
        }
    }

    /// Claims the owner's emission for recently closed epochs.
    async fn claim_rewards(&self) {
        let p = &self.protocol;
        let (Ok(emissions), Ok(config)) = (p.emissions().await, p.config().await) else {
            return;
        };
        let Ok(Some(node)) = p.node(&self.node).await else {
            return;
        };
        for epoch in emissions.next_epoch.saturating_sub(8)..emissions.next_epoch {
            let Ok(Some(ix)) = p.claim(&self.node, epoch, self.signer.pubkey()).await else {
                continue;
            };
            let create = create_associated_token(&self.signer.pubkey(), &node.owner, &config.mint);
            let before = p
                .token_balance(&ake_sdk::protocol::associated_token(
                    &node.owner,
                    &config.mint,
                ))
                .await
                .unwrap_or(0);
            match ake_sdk::sender::send_instructions(
                p.chain.as_ref(),
                &self.signer,
                &[],
                &[create, ix],
                self.fees,
            )
            .await
            {
                Ok(sig) => {
                    let after = p
                        .token_balance(&ake_sdk::protocol::associated_token(
                            &node.owner,
                            &config.mint,
                        ))
                        .await
                        .unwrap_or(before);
                    self.metrics.earned(after.saturating_sub(before));
                    tracing::info!(
                        epoch,
                        "claimed {} base units for the owner ({sig})",
                        after.saturating_sub(before)
                    );
                }
                Err(e) => tracing::warn!(epoch, "claim failed, will retry: {e}"),
            }
        }
    }
}

/// The chain, as the job state machine sees it.
#[async_trait::async_trait]
impl Ledger for Daemon {
    /// A job account an endpoint does not show is waited for (an endpoint
    /// may lag the transaction that created and assigned it) for
    /// MISSING_PATIENCE, and only then called missing.
    async fn standing(&self, attempt: &Attempt) -> Result<Standing, StepError> {
        let job = self.protocol.job(&attempt.job).await.map_err(retry)?;
        let standing = standing(&self.node, attempt, job);
        let id = attempt.key();
        let mut missing = self.missing_since.lock().await;
        if !matches!(standing, Standing::Missing) {
            missing.remove(&id);
            return Ok(standing);
        }
        let since = *missing.entry(id.clone()).or_insert_with(Instant::now);
        if since.elapsed() < MISSING_PATIENCE {
            return Err(retry(
                "the job account is not visible (yet) at this endpoint",
            ));
        }
        missing.remove(&id);
        tracing::warn!("the job account has been gone for {MISSING_PATIENCE:?}");
        Ok(Standing::Missing)
    }

    /// The chain's clock (unix seconds).
    async fn chain_now(&self) -> Result<i64, StepError> {
        Ok(self
            .protocol
            .chain
            .clock()
            .await
            .map_err(retry)?
            .unix_timestamp)
    }

    async fn sign_submit(
        &self,
        attempt: &Attempt,
        job: &Job,
        uploaded: &Uploaded,
        may_rearm: bool,
    ) -> Result<Prepared, StepError> {
        let Uploaded {
            root,
            uri,
            usage,
            digest,
        } = uploaded;
        // A finished run is never handed back: an unreadable root is waited
        // on (the journal is checked again), not turned into a release.
        let commitment: [u8; 32] = hex::decode(root)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| retry(format!("the journaled output root {root} is unreadable")))?;
        let sealed = self
            .seal_result(attempt, job, uri, digest.as_deref())
            .await?;
        // Clamped to the chain's clock when committed (see `upload`).
        let result = JobResult {
            commitment,
            output_uri: sealed.output_uri,
            usage: UsageReceipt {
                wall_secs: usage.wall_secs,
                gpu_secs: usage.gpu_secs,
                energy_mj: usage.energy_mj,
            },
            sealed_digest: sealed.digest,
            sealed_salt: sealed.salt,
        };
        let fees = self
            .fees_for(
                attempt,
                SUBMIT,
                job,
                &[attempt.job, job.market]
                    .into_iter()
                    .chain(job.batch())
                    .collect::<Vec<_>>(),
            )
            .await;
        let due = self.protocol.submit_due_pick(job).await.map_err(retry)?;
        let submit = |after| {
            ixs::submit_result(
                self.signer.pubkey(),
                job.node_owner,
                (attempt.job, job.market, job.batch()),
                result.clone(),
                after,
                due,
            )
        };
        let after = if may_rearm {
            self.after_submit().await
        } else {
            ixs::AfterSubmit::StayIdle
        };
        match self.sign(submit(after), fees).await {
            // The re-arm is best effort: when the submit with it is refused
            // (its pick went stale, the frame it names was taken), the
            // result goes alone and the node arms on its own afterwards.
            Err(refused) if after != ixs::AfterSubmit::StayIdle => {
                tracing::warn!(
                    "the submit with a re-arm was refused ({refused}); submitting alone"
                );
                self.sign(submit(ixs::AfterSubmit::StayIdle), fees).await
            }
            signed => signed,
        }
    }

    /// release_job for a job that failed here.
    async fn sign_release(
        &self,
        attempt: &Attempt,
        job: &Job,
        reason: ReleaseReason,
    ) -> Result<Prepared, StepError> {
        let ix = self
            .protocol
            .release(&attempt.job, &self.signer.pubkey(), reason)
            .await
            .map_err(retry)?;
        let fees = self
            .fees_for(attempt, RELEASE, job, &[attempt.job, job.market])
            .await;
        self.sign(ix, fees).await
    }

    /// Rebroadcasts the journaled bytes until they land or can never land.
    async fn land(&self, purpose: &str, tx: &Prepared) -> Result<Landing, StepError> {
        match confirm(self.protocol.chain.as_ref(), tx).await {
            Ok(signature) => {
                let landed = (purpose == RELEASE).then(Instant::now);
                *self.last_release.lock().unwrap_or_else(|e| e.into_inner()) = landed;
                if landed.is_some() {
                    // It spent release budget: check it before arming again.
                    self.slow_checks
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .problems = None;
                    self.recheck.notify_one();
                }
                Ok(Landing::Landed(signature))
            }
            Err(SendError::Expired { .. }) => {
                Ok(Landing::CannotLand("expired before landing".into()))
            }
            // Landed and failed: the state moved between the simulation and
            // the landing (a pick went stale, a frame was taken).
            Err(SendError::Failed { explanation, .. }) => {
                self.metrics.tx_refused(purpose);
                Ok(Landing::CannotLand(format!(
                    "landed and failed: {explanation}"
                )))
            }
            Err(e @ (SendError::Chain(_) | SendError::Build(_))) => Err(retry(e)),
        }
    }
}

/// Docker, as the job state machine sees it.
#[async_trait::async_trait]
impl Runner for Daemon {
    async fn run_to_end(&self, attempt: &Attempt, job: &Job) -> Result<RunEnd, StepError> {
        let id = attempt.key();
        let work_dir = self.work_dir.join(&id);
        let mut limits = self.time_limits(job).await?;
        let started = self.container_started(attempt).await;
        let spec = self.container_spec(attempt, job, limits.fetch_by).await?;
        if job.verify == Verify::Exact && !spec.pins_its_image() {
            // A remote spec's image is checked here (the chain checks inline ones).
            return Err(fail(
                ReleaseReason::SpecInvalid,
                format!("the job asks for verify = \"exact\" but its image {} is not pinned by digest (name@sha256:<64 hex>): its audit could run another image", spec.image),
            ));
        }
        // The container stops early enough for its outputs, at their cap,
        // to go up at this node's uplink before the result is due.
        let output_cap = spec.max_output_bytes.min(self.max_output_bytes);
        let upload = self.upload_time(output_cap);
        limits.stop_by = limits
            .stop_by
            .checked_sub(upload)
            .unwrap_or_else(Instant::now);
        if !started && limits.stop_by <= Instant::now() {
            return Err(fail(
                ReleaseReason::DeadlineUnreachable,
                format!(
                    "the deadline less the {}-second reserve for committing and confirming and the {}-second upload of {output_cap} bytes of outputs at this node's uplink leaves no time to run",
                    self.deadline_reserve.as_secs(),
                    upload.as_secs()
                ),
            ));
        }
        let inputs: Vec<(String, [u8; 32])> = spec
            .inputs
            .iter()
            .map(|i| (i.url.clone(), i.sha256))
            .collect();
        let input_dir = if inputs.is_empty() {
            None
        } else {
            let fetched = self
                .fetcher
                .fetch_inputs(&inputs, &work_dir.join("input"), limits.fetch_by)
                .await;
            match fetched {
                Ok(dir) => Some(dir),
                Err(e) => return Err(self.input_failure(limits.fetch_by, e).await),
            }
        };
        let market = self.protocol.market_at(&job.market).await.map_err(retry)?;
        let uuids = self.gpus_for(job, market.gpu_required != 0)?;
        let run = JobSpec {
            driver_capabilities: market
                .driver_capability_names()
                .into_iter()
                .map(String::from)
                .collect(),
            job_id: id.clone(),
            image: spec.image.clone(),
            spec_hash: hex::encode(job.spec_hash),
            command: spec.command.clone(),
            env: spec
                .env
                .iter()
                .map(|e| format!("{}={}", e.name, e.value))
                .collect(),
            gpu_uuids: uuids.clone(),
            cpuset: self.cpuset.clone(),
            offline: job.verify == Verify::Exact,
            input_dir,
            work_dir,
            timeout: Duration::from_secs(u64::from(job.max_duration_secs)),
            stop_by: Some(limits.stop_by),
            // A container that already ran is reattached whatever the time.
            prepare_by: (!started).then_some(limits.fetch_by),
            started_before: started,
            max_output_bytes: spec.max_output_bytes.min(self.max_output_bytes),
            max_output_files: self.max_output_files,
        };
        self.record(
            attempt,
            JournalEntry::ContainerCreateIntent {
                container_name: run.container_name(),
            },
        )
        .await?;
        let meter = match self.gpus.sampler(&uuids) {
            Ok(s) if !uuids.is_empty() => s.energy_meter().await.ok(),
            _ => None,
        };
        let picked = self
            .picked_up
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .filter(|(j, _)| *j == attempt.job)
            .map(|(_, at)| at);
        let running = self.runtime.run_with(&run, |container_id| async move {
            if let Some(at) = picked {
                self.metrics.job_picked_up(at.elapsed().as_secs_f64());
            }
            if let Err(e) = self
                .record(attempt, JournalEntry::ContainerStarted { container_id })
                .await
            {
                tracing::warn!(
                    "could not journal the container start (it will be reattached by name): {e}"
                );
            }
        });
        let mut staged = crate::output_store::Staged::for_run();
        let caps = OutputLimits {
            bytes: run.max_output_bytes,
            files: run.max_output_files,
        };
        let output_dir = run.output_dir();
        // An auditable job's outputs and logs stay unseen until its digest
        // is revealed: nothing goes up while it runs (an auditor could copy
        // it), so no staging and no live logs.
        let sealed = job.verify == Verify::Exact;
        let live_logs = async {
            if job.max_duration_secs >= self.live_logs_min_secs && !sealed {
                self.share_logs_while_running(&id, attempt.job).await
            } else {
                std::future::pending().await
            }
        };
        let staging = async {
            if sealed {
                std::future::pending().await
            } else {
                self.stage_while_running(&id, &output_dir, caps, &mut staged)
                    .await
            }
        };
        let outcome = tokio::select! {
            outcome = running => outcome,
            never = staging => match never {},
            never = live_logs => match never {},
        };
        staged.forget_looks();
        self.staged
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.clone(), staged);
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(e @ crate::runtime::RuntimeError::ContainerVanished { .. }) => {
                tracing::warn!("{e}");
                return self.after_interruption(attempt, &run, &limits).await;
            }
            // Once the container ran, trouble with the engine is waited out.
            Err(e) if self.container_started(attempt).await => return Err(retry(e)),
            Err(e) => {
                let reason = release_reason_for(&e);
                return Err(self
                    .before_start(limits.fetch_by, reason, e.to_string(), e.is_retryable())
                    .await);
            }
        };
        if outcome.interrupted {
            return self.after_interruption(attempt, &run, &limits).await;
        }
        let energy_mj = match meter {
            Some(meter) => meter.finish().await.unwrap_or_else(|e| {
                tracing::warn!("energy meter failed; reporting 0 mJ: {e}");
                0
            }),
            None => 0,
        };
        let result = if outcome.timed_out {
            RunOutcome::TimedOut
        } else if outcome.oom_killed {
            RunOutcome::OomKilled
        } else if outcome.exit_code == 0 {
            RunOutcome::Succeeded
        } else {
            RunOutcome::Failed
        };
        self.metrics.job_finished(result, outcome.wall_secs);
        Ok(RunEnd::Exited {
            outcome: Box::new(outcome),
            energy_mj,
        })
    }

    /// Outputs are committed and the result is on chain (or the attempt is
    /// over): the container and the work dir go, so that no job's files
    /// outlive it.
    async fn remove(&self, attempt: &Attempt) -> Result<(), StepError> {
        let id = attempt.key();
        self.runtime.remove(&id).await.map_err(retry)?;
        self.runtime
            .remove_work_dir(&self.work_dir.join(&id))
            .await
            .map_err(retry)?;
        Ok(())
    }
}

/// The output store, as the job state machine sees it.
#[async_trait::async_trait]
impl Store for Daemon {
    /// Commits the outputs (Merkle root over files, logs, image, spec, exit
    /// code, usage) and uploads them, keyed by that root.
    async fn upload(
        &self,
        attempt: &Attempt,
        job: &Job,
        outcome: &JobOutcome,
        energy_mj: u64,
    ) -> Result<Uploaded, StepError> {
        let id = attempt.key();
        let work_dir = self.work_dir.join(&id);
        // The program bounds usage by its own clock (seconds since
        // assignment) and the job's GPUs: the receipt committed in the
        // outputs is exactly the one submitted, so clamp it here, once.
        let now = self.chain_now().await?;
        let on_chain_secs = u64::try_from(now.saturating_sub(job.assigned_at)).unwrap_or(0);
        if on_chain_secs == 0 {
            return Err(retry("the chain's clock has not moved since assignment"));
        }
        // A run that happened took at least a second (Docker's timestamps can say 0).
        let wall_secs = (outcome.wall_secs.ceil() as u64).max(1).min(on_chain_secs);
        let usage = OutputUsage {
            wall_secs,
            gpu_secs: wall_secs * u64::from(job.gpus),
            energy_mj,
        };
        let hash = |h: &str| -> Result<[u8; 32], StepError> {
            hex::decode(h.trim_start_matches("sha256:"))
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| retry(format!("the run's log hash {h} is unreadable")))
        };
        let facts = RunFacts {
            stdout_sha256: hash(&outcome.stdout_sha256)?,
            stderr_sha256: hash(&outcome.stderr_sha256)?,
            image_digest: outcome.image_digest.clone(),
            spec_hash: hex::encode(job.spec_hash),
            exit_code: outcome.exit_code,
            usage,
        };
        // The remote spec, if any, is in the work dir already: not fetched again.
        let spec = self
            .container_spec(attempt, job, Instant::now() + Duration::from_secs(60))
            .await?;
        let limits = OutputLimits {
            bytes: spec.max_output_bytes.min(self.max_output_bytes),
            files: self.max_output_files,
        };
        let manifest = OutputManifest::build(&work_dir.join("output"), facts, limits)
            .await
            .map_err(retry)?;
        #[cfg(feature = "fault-injection")]
        let manifest = fake_outputs(manifest);
        if !manifest.skipped.is_empty() {
            tracing::warn!(skipped = ?manifest.skipped, "outputs not committed");
        }
        let root = manifest.root_hex();
        self.record(attempt, JournalEntry::UploadIntent { root: root.clone() })
            .await?;
        // An auditable job's outputs go under a path only its salt names
        // (see `ake_sdk::seal`).
        let (store_id, digest) = match job.verify {
            Verify::Exact => {
                let salt = attempt_salt(&self.signer, &attempt.job, attempt.number);
                let digest = hex::encode(manifest.output_digest());
                (format!("{id}-{}", output_token(&salt)), Some(digest))
            }
            Verify::None => (id.clone(), None),
        };
        let store_failure = |e: crate::output_store::StoreError| {
            if e.is_retryable() {
                retry(e)
            } else {
                fail(ReleaseReason::ResourcesMissing, e)
            }
        };
        self.store
            .put_logs(&store_id, &manifest, &work_dir)
            .await
            .map_err(store_failure)?;
        let (started, before) = (Instant::now(), self.store.sent());
        let staged = self
            .staged
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned()
            .unwrap_or_default();
        let uri = self
            .store
            .put_dir(&store_id, &work_dir.join("output"), &manifest, &staged)
            .await
            .map_err(store_failure)?;
        let after = self.store.sent();
        self.metrics.uploaded(after.0 - before.0);
        let mut uplink = self.uplink.lock().unwrap_or_else(|e| e.into_inner());
        // Moving staged files takes time and sends nothing: no sample then.
        if staged.is_empty()
            && uplink.observe(after.0 - before.0, after.1 - before.1, started.elapsed())
        {
            tracing::info!(
                bytes_per_sec = uplink.bytes_per_sec() as u64,
                "uplink measured"
            );
        }
        drop(uplink);
        Ok(Uploaded {
            root,
            uri,
            usage,
            digest,
        })
    }

    /// What went up while the job ran and was not used (best effort: the
    /// store may be down; what stays is listed by the warning).
    async fn drop_staging(&self, attempt: &Attempt) {
        let id = attempt.key();
        self.store.drop_staging(&id).await;
        self.store.drop_live_logs(&id).await;
        self.staged
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }
}

/// How long a job account may stay invisible before its attempt is given
/// up: a job is created and assigned in one transaction, so an endpoint
/// that lags a few slots shows nothing at all for a job this node holds.
const MISSING_PATIENCE: Duration = Duration::from_secs(300);

/// When, in local time, fetching must give up (so a hand-back still lands
/// in the free window) and the container must stop (so the result still
/// lands before the deadline).
struct TimeLimits {
    fetch_by: Instant,
    stop_by: Instant,
}

fn node_state(node: &Node) -> &'static str {
    match node.status {
        _ if node.suspended => "suspended",
        _ if node.held => "held",
        NodeStatus::Idle => "idle",
        NodeStatus::Queued => "queued",
        NodeStatus::Busy => "busy",
    }
}

/// Cuts each of `urls`' path, query and user (where RPC providers put API
/// keys) out of the strings of `value`, wherever an error message quoted
/// them: `/status` may be read from another machine.
fn without_rpc_secrets(value: &mut serde_json::Value, urls: &[String]) {
    use serde_json::Value;
    match value {
        Value::String(text) => {
            for url in urls {
                *text = text.replace(url, &crate::metrics::redact_url(url));
                let rest = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
                let authority = rest.split(['/', '?']).next().unwrap_or_default();
                let secret = rest[authority.len()..].trim_start_matches('/');
                if secret.len() >= 4 {
                    *text = text.replace(secret, "...");
                }
                if let Some((user, _)) = authority.split_once('@') {
                    *text = text.replace(user, "...");
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| without_rpc_secrets(v, urls)),
        Value::Object(fields) => fields
            .values_mut()
            .for_each(|v| without_rpc_secrets(v, urls)),
        _ => {}
    }
}

/// `InputHashMismatch` -> `input_hash_mismatch`, for metric labels.
fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// The hand-back reason for a runtime failure that retrying cannot fix.
fn release_reason_for(e: &crate::runtime::RuntimeError) -> ReleaseReason {
    use crate::runtime::RuntimeError as E;
    match e {
        E::ImageNotAllowed { .. } | E::ImageConfigRefused { .. } => ReleaseReason::ImageNotAllowed,
        E::ImagePull { .. } | E::PullTimeout { .. } | E::DigestMismatch { .. } => {
            ReleaseReason::ImageUnavailable
        }
        E::InvalidSpec(_) => ReleaseReason::SpecInvalid,
        _ => ReleaseReason::ResourcesMissing,
    }
}

/// The node account a signer's daemon drives.
/// Fault injection for the audit tests, compiled only with the
/// `fault-injection` feature: `AKE_NODE_FAKE_OUTPUT=1` makes this node a
/// cheat that commits to other outputs than the job's (every file's hash
/// replaced), the way a node that never ran the job returns something.
#[cfg(feature = "fault-injection")]
fn fake_outputs(mut manifest: OutputManifest) -> OutputManifest {
    if std::env::var("AKE_NODE_FAKE_OUTPUT").is_ok() {
        tracing::error!(
            "AKE_NODE_FAKE_OUTPUT: committing junk instead of the job's outputs (fault injection)"
        );
        for file in &mut manifest.files {
            file.sha256 = [0x6a; 32];
        }
    }
    manifest
}

pub fn node_account(signer: &Pubkey) -> Pubkey {
    pda::node(signer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_never_quotes_an_rpc_key() {
        let urls = [
            "https://rpc.example/?api-key=SECRET1".to_string(),
            "https://user:SECRET2@other.example/SECRET3/".to_string(),
        ];
        let mut status = serde_json::json!({
            "node": "N",
            "not_ready": ["RPC https://rpc.example/?api-key=SECRET1 is 40 slots behind"],
            "rpc": [{"url": "https://other.example/SECRET3/", "error":
                "error sending request for url (https://rpc.example/?api-key=SECRET1)"}],
        });
        without_rpc_secrets(&mut status, &urls);
        let text = status.to_string();
        assert!(!text.contains("SECRET"), "{text}");
        assert!(
            text.contains("https://rpc.example") && text.contains("\"node\":\"N\""),
            "{text}"
        );
    }
}
