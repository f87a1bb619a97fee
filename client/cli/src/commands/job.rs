use std::path::PathBuf;
use std::time::Duration;

use ake_market::state::{AuditPhase, Job, JobResult, JobSpec, JobState, ReleaseReason, Verify};
use ake_sdk::ake_market;
use ake_sdk::job_spec::JobSpecFile;
use ake_sdk::oracle;
use ake_sdk::pda;
use ake_sdk::protocol::{associated_token, Protocol};
use ake_sdk::sender::send_instructions;
use clap::Subcommand;
use serde::Serialize;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signer::Signer;

use crate::amounts::{format, parse, usd};
use crate::context::GlobalArgs;
use crate::output::print;

#[derive(Subcommand)]
pub enum JobCommand {
    /// Post a job from a TOML spec (see client/examples/); a spec with
    /// `frames = "1-240"` posts a batch: every frame in one transaction.
    Post {
        spec: PathBuf,
        /// Most AKE the escrow may take (slippage guard); default: the quote + --slippage-bps.
        #[arg(long)]
        max_tokens: Option<String>,
        #[arg(long, default_value_t = 100)]
        slippage_bps: u64,
        /// Follow the job until it settles.
        #[arg(long)]
        wait: bool,
        /// Stop following after this many seconds (default: the job's max
        /// duration + completion grace + challenge window + 10 minutes).
        #[arg(long, requires = "wait")]
        wait_timeout: Option<u64>,
        /// With --wait, for a batch: fetch and verify each frame's outputs
        /// into this directory (frame-000001, ...) while its result is on-chain.
        #[arg(long, requires = "wait")]
        out: Option<PathBuf>,
        /// For a batch: the most frames out at once (running, or submitted
        /// and not yet accepted). The batch reserves one frame account's
        /// rent (0.0062 SOL) for each, not for every frame [default: 64,
        /// at most the frame count].
        #[arg(long)]
        parallelism: Option<u32>,
    },
    /// One job's state.
    Status { job: Pubkey },
    /// A job's events from its history, oldest first: posted, assigned,
    /// handed back, submitted, disputed, settled... (also after it settled,
    /// where the endpoint keeps history).
    Events { job: Pubkey },
    /// What a job printed: live while it runs (from where its node
    /// announced it; unverified until the result commits the logs), then
    /// the committed logs, checked against the result's root.
    Logs {
        job: Pubkey,
        /// Print as the log grows, until the result's committed log.
        #[arg(long)]
        follow: bool,
        /// stderr instead of stdout.
        #[arg(long)]
        stderr: bool,
    },
    /// Your jobs (or CREATOR's), by nonce; or a batch's frames, in order.
    List {
        creator: Option<Pubkey>,
        #[arg(long, conflicts_with = "creator")]
        batch: Option<Pubkey>,
    },
    /// Withdraw a queued job (full refund), or a batch's frames not handed out yet.
    Cancel { job: Pubkey },
    /// Close a batch whose frames all settled (or were cancelled): its rent back.
    CloseBatch { batch: Pubkey },
    /// Put your halted batch back in line (three node owners with verified
    /// work handed its frames back before any was submitted): you say its
    /// frames can run. Those owners still get none; releases never halt it again.
    Resume { batch: Pubkey },
    /// Accept a submitted result now (skips the challenge window).
    Accept { job: Pubkey },
    /// Challenge a submitted result, posting the dispute bond.
    Dispute { job: Pubkey },
    /// Download the outputs and verify them against the on-chain commitment.
    Results {
        #[arg(required_unless_present = "batch")]
        job: Option<Pubkey>,
        /// Every frame of a batch with a result on-chain, in order, each verified.
        #[arg(long, conflicts_with = "job")]
        batch: Option<Pubkey>,
        #[arg(long)]
        out: PathBuf,
        /// For a settled (closed) job: the output URI from your records.
        #[arg(long, requires = "commitment")]
        uri: Option<String>,
        /// For a settled (closed) job: the commitment (hex) from your records.
        #[arg(long, requires = "uri")]
        commitment: Option<String>,
    },
}

/// Downloads outputs into `dest` (created; must be empty) and checks every
/// file against the manifest and the manifest against `commitment`.
pub async fn fetch_results(
    uri: &str,
    commitment: &[u8; 32],
    dest: &std::path::Path,
) -> anyhow::Result<(PathBuf, ake_node::outputs::OutputManifest)> {
    if dest.exists() && std::fs::read_dir(dest)?.next().is_some() {
        anyhow::bail!(
            "{} is not empty: choose an empty --out directory",
            dest.display()
        );
    }
    check_uri_names_commitment(uri, commitment)?;
    std::fs::create_dir_all(dest)?;
    // The store checks the manifest against the URI's root before it
    // fetches a file, and every file against the manifest.
    let store = ake_node::output_store::OutputStore::for_output(uri)?;
    let manifest = store.fetch_dir(uri, dest).await?;
    Ok((dest.to_path_buf(), manifest))
}

/// An output URI ends with the root it holds: one that names another root
/// than the on-chain commitment is refused before anything is fetched.
pub fn check_uri_names_commitment(uri: &str, commitment: &[u8; 32]) -> anyhow::Result<()> {
    let named = uri.rsplit('/').next().unwrap_or_default();
    if !named.eq_ignore_ascii_case(&hex::encode(commitment)) {
        anyhow::bail!(
            "the outputs at {uri} do NOT match the on-chain commitment: root {named} != {} (do not accept; dispute the job)",
            hex::encode(commitment)
        );
    }
    Ok(())
}

#[derive(Serialize, Clone)]
pub struct JobView {
    pub job: String,
    pub creator: String,
    pub nonce: u64,
    pub market: String,
    pub state: String,
    pub image: Option<String>,
    pub spec_hash: String,
    pub gpus: u16,
    pub max_duration_secs: u32,
    pub max_charge_micro_usd: u64,
    pub escrow: u64,
    pub node: Option<String>,
    pub deadline: Option<i64>,
    pub commitment: Option<String>,
    pub output_uri: Option<String>,
    pub wall_secs: Option<u64>,
    pub energy_mj: Option<u64>,
    pub attempts: u8,
    pub posting_fee: u64,
    /// Owner stake locked for this job now (execution, then result collateral).
    pub collateral: u64,
    /// The node may hand the job back for free until then (unix time).
    pub release_window_end: Option<i64>,
    pub releases: u16,
    /// Hand-backs from nodes with proven work: the market's `max_releases` of them refund the job
    /// (an audit run counts the audited node's owner first, and takes one more).
    pub counted_releases: u8,
    pub expiries: u8,
    /// Why the job was last handed back, as the node said.
    pub last_release: Option<String>,
    pub audit: AuditView,
}

/// Where a job stands in the audit protocol (README "Audits").
#[derive(Serialize, Clone)]
pub struct AuditView {
    /// `none` (never audited) or `exact`.
    pub verify: &'static str,
    /// `unaudited`, `awaiting_draw`, `cleared`, `auditing`, `passed`,
    /// `failed`, `inconclusive`, or for an audit run `run`, `run_paid`,
    /// `run_failed`.
    pub phase: &'static str,
    /// The chance the draw audits it, in bps (set at submit).
    pub draw_chance_bps: u16,
    /// The first slot whose hash seeds its draw.
    pub draw_slot: Option<u64>,
    /// Its audit runs; for a run, the job it audits.
    pub runs: Vec<String>,
    /// The output digest its node revealed.
    pub digest: Option<String>,
    /// The audit fee it paid into the market's audit reserve (or will, at its draw).
    pub fee: u64,
}

pub fn audit_view(j: &Job) -> AuditView {
    let a = &j.audit;
    AuditView {
        verify: match j.verify {
            Verify::None => "none",
            Verify::Exact => "exact",
        },
        phase: audit_phase_name(a.phase),
        draw_chance_bps: a.rate_bps,
        draw_slot: (a.draw_slot > 0).then_some(a.draw_slot),
        runs: a
            .runs
            .iter()
            .filter(|r| **r != Pubkey::default())
            .map(Pubkey::to_string)
            .collect(),
        digest: a.revealed.then(|| hex::encode(a.digest)),
        fee: a.fee,
    }
}

pub fn audit_phase_name(p: AuditPhase) -> &'static str {
    match p {
        AuditPhase::Unaudited => "unaudited",
        AuditPhase::Undrawn => "awaiting_draw",
        AuditPhase::Cleared => "cleared",
        AuditPhase::Auditing => "auditing",
        AuditPhase::Passed => "passed",
        AuditPhase::Failed => "failed",
        AuditPhase::Inconclusive => "inconclusive",
        AuditPhase::Run => "run",
        AuditPhase::RunPaid => "run_paid",
        AuditPhase::RunFailed => "run_failed",
        AuditPhase::Appealed => "appealed",
        AuditPhase::RunAppealed => "run_appealed",
    }
}

pub fn view(key: &Pubkey, j: &Job) -> JobView {
    let assigned = j.node != Pubkey::default();
    JobView {
        job: key.to_string(),
        creator: j.creator.to_string(),
        nonce: j.nonce,
        market: j.market.to_string(),
        state: state_name(j.state).into(),
        image: match &j.spec {
            JobSpec::Inline(s) => Some(s.image.clone()),
            JobSpec::Remote(_) | JobSpec::Frame(_) => None,
        },
        spec_hash: hex::encode(j.spec_hash),
        gpus: j.gpus,
        max_duration_secs: j.max_duration_secs,
        max_charge_micro_usd: j.max_charge_micro_usd,
        escrow: j.escrow,
        node: assigned.then(|| j.node.to_string()),
        deadline: (j.state == JobState::Assigned).then_some(j.deadline),
        commitment: j.result.as_ref().map(|r| hex::encode(r.commitment)),
        output_uri: j.result.as_ref().map(|r| r.output_uri.clone()),
        wall_secs: j.result.as_ref().map(|r| r.usage.wall_secs),
        energy_mj: j.result.as_ref().map(|r| r.usage.energy_mj),
        attempts: j.attempts,
        posting_fee: j.posting_fee,
        collateral: j.collateral,
        release_window_end: (j.state == JobState::Assigned).then_some(j.terms.release_window_end),
        releases: j.releases.total,
        counted_releases: j.releases.counted,
        expiries: j.expiries,
        last_release: j.last_release.map(release_reason_name),
        audit: audit_view(j),
    }
}

/// A release reason as people read it.
pub fn release_reason_name(r: ReleaseReason) -> String {
    match r {
        ReleaseReason::InputUnavailable => "input unavailable",
        ReleaseReason::InputHashMismatch => "input hash mismatch",
        ReleaseReason::ImageUnavailable => "image unavailable",
        ReleaseReason::ImageNotAllowed => "image not allowed by the node",
        ReleaseReason::SpecInvalid => "spec invalid",
        ReleaseReason::SpecUnsupported => "spec unsupported by the node",
        ReleaseReason::ResourcesMissing => "resources missing on the node",
        ReleaseReason::OperatorShutdown => "operator shutdown",
        ReleaseReason::DeadlineUnreachable => "deadline unreachable",
    }
    .into()
}

pub fn state_name(s: JobState) -> &'static str {
    match s {
        JobState::Queued => "queued",
        JobState::Assigned => "assigned",
        JobState::Submitted => "submitted",
        JobState::Disputed => "disputed",
        JobState::Settled => "settled",
    }
}

fn describe(v: &JobView, d: u8) -> String {
    let mut s = format!(
        "job {} (nonce {}) {}\n  image     {}\n  shape     {} GPU x {} s max, up to {}\n  escrow    {} AKE",
        v.job,
        v.nonce,
        v.state.to_uppercase(),
        v.image.clone().unwrap_or_else(|| "(remote spec)".into()),
        v.gpus,
        v.max_duration_secs,
        usd(v.max_charge_micro_usd),
        format(v.escrow, d)
    );
    if let Some(n) = &v.node {
        s.push_str(&format!("\n  node      {n}"));
    }
    if let Some(t) = v.deadline {
        s.push_str(&format!("\n  deadline  unix {t}"));
    }
    if v.collateral > 0 {
        s.push_str(&format!(
            "\n  collateral {} AKE of the node owner's stake",
            format(v.collateral, d)
        ));
    }
    if let Some(t) = v.release_window_end {
        s.push_str(&format!("\n  free hand-back until unix {t}"));
    }
    if v.releases > 0 {
        s.push_str(&format!(
            "\n  handed back {} time(s) ({} counted toward a refund), last: {}",
            v.releases,
            v.counted_releases,
            v.last_release.as_deref().unwrap_or("?")
        ));
    }
    if v.expiries > 0 {
        s.push_str(&format!("\n  missed deadlines {}", v.expiries));
    }
    if let (Some(c), Some(u)) = (&v.commitment, &v.output_uri) {
        s.push_str(&format!("\n  result    {c}\n  outputs   {u}"));
    }
    s.push_str(&format!("\n  audit     {}", describe_audit(&v.audit)));
    s
}

pub fn describe_audit(a: &AuditView) -> String {
    let runs = a.runs.join(", ");
    match a.phase {
        "unaudited" if a.verify == "none" => {
            "unaudited (verify = \"none\": results are never re-run)".into()
        }
        "unaudited" => "exact: drawn for an audit once its result is in".into(),
        "awaiting_draw" => format!(
            "exact: drawn with chance {:.2} % from the hashes of slots {}.. (anyone may draw it)",
            f64::from(a.draw_chance_bps) / 100.0,
            a.draw_slot.unwrap_or_default()
        ),
        "cleared" => "exact: not drawn (or no auditor came); settles as usual".into(),
        "auditing" => format!("exact: being re-run by {runs}"),
        "passed" => format!("exact: audit passed ({runs} agreed)"),
        "failed" => format!("exact: audit FAILED ({runs} outvoted it): unless its node appeals within the challenge window, it loses its collateral; the creator is refunded"),
        "appealed" => format!("exact: audit failed ({runs} outvoted it) and its node APPEALED: the arbiter decides; the creator is refunded unless the appeal is upheld"),
        "run_appealed" => format!("audit run of {runs}: outvoted, and its node appealed: the arbiter decides"),
        "inconclusive" => format!("exact: inconclusive, no two runs agreed ({runs}): the spec is not deterministic; settles as usual"),
        "run" => format!("audit run of {runs}"),
        "run_paid" => format!("audit run of {runs}: on the winning side, paid"),
        _ => format!("audit run of {runs}: outvoted or silent, loses its collateral"),
    }
}

/// A settled job's result, from the ResultSubmitted event in its history
/// (its account is closed): where its outputs are and what they hash to,
/// or why there is nothing to fetch. Errs only when the history cannot be
/// read.
pub async fn settled_result(
    p: &Protocol,
    job: &Pubkey,
) -> anyhow::Result<Result<(String, [u8; 32]), &'static str>> {
    Ok(settled_job_result(p, job)
        .await?
        .map(|r| (r.output_uri, r.commitment)))
}

/// `{before}{fee} AKE audit fee{after}` in a post's messages, or nothing
/// when the job pays no audit fee.
fn audit_fee_clause(before: &str, audit_fee: u64, decimals: u8, after: &str) -> String {
    if audit_fee == 0 {
        return String::new();
    }
    format!(
        "{before}{} AKE audit fee{after}",
        format(audit_fee, decimals)
    )
}

/// Where a result's outputs are. An auditable job's are under a path its
/// salt names: public once its node revealed its digest (`revealed`),
/// before that only its creator can open the sealed salt (`reader`).
pub fn outputs_uri(
    r: &JobResult,
    revealed: Option<[u8; 32]>,
    reader: Option<&solana_sdk::signature::Keypair>,
) -> anyhow::Result<String> {
    use ake_sdk::seal::{open_salt, unsealed_uri, TOKEN_PLACEHOLDER};
    if !r.output_uri.contains(TOKEN_PLACEHOLDER) {
        return Ok(r.output_uri.clone());
    }
    let salt = revealed.or_else(|| reader.and_then(|k| open_salt(k, &r.sealed_salt)));
    match salt {
        Some(salt) => Ok(unsealed_uri(&r.output_uri, &salt)),
        None => anyhow::bail!(
            "the outputs of this auditable job are sealed to its creator until its node reveals its digest (once its audit round has committed): run this with the creator's keypair (--keypair), or after the reveal"
        ),
    }
}

/// A settled job's result from its history (see [`settled_result`]).
pub async fn settled_job_result(
    p: &Protocol,
    job: &Pubkey,
) -> anyhow::Result<Result<JobResult, &'static str>> {
    match p.submitted_result(job).await {
        Ok(Some(r)) if r.disputed_away => Ok(Err(
            "the creator won a dispute over its result (the arbiter ruled it bad, or the dispute timed out): its outputs are not the job's work",
        )),
        Ok(Some(r)) => Ok(Ok(JobResult {
            commitment: r.result.commitment,
            output_uri: r.result.output_uri,
            usage: r.result.usage,
            sealed_digest: r.result.sealed_digest,
            sealed_salt: r.result.sealed_salt,
        })),
        Ok(None) => Ok(Err(
            "no result in its history: it ended without one (cancelled, refunded or expired), never existed, or this endpoint no longer keeps its history (then pass --uri and --commitment)",
        )),
        Err(e) => anyhow::bail!(
            "the history of {job} cannot be read here ({e}); if it settled, pass --uri and --commitment from its ResultSubmitted event"
        ),
    }
}

/// What a settled job cost, from the creator's balance.
#[derive(Serialize)]
pub struct Settled {
    pub job: String,
    pub escrowed: u64,
    /// Charged for the work (the posting fee apart).
    pub paid: u64,
    /// Burned with the job; never refunded.
    pub posting_fee: u64,
    pub refunded: u64,
}

/// How long the RPC endpoint may stay unreachable while a job is followed.
const RPC_OUTAGE_LIMIT: Duration = Duration::from_secs(120);

/// Follows `job` through its states until its account closes (settled), for
/// at most `limit`.
pub async fn follow(
    p: &Protocol,
    job: &Pubkey,
    token: &Pubkey,
    balance_before: u64,
    (escrowed, posting_fee): (u64, u64),
    show: bool,
    limit: Duration,
) -> anyhow::Result<Settled> {
    let bar = indicatif::ProgressBar::new_spinner();
    if !show {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    let started = std::time::Instant::now();
    let mut last = String::new();
    let mut reachable = std::time::Instant::now();
    loop {
        match p.job(job).await {
            Ok(Some(j)) => {
                reachable = std::time::Instant::now();
                let now = state_name(j.state).to_string();
                if now != last {
                    bar.println(format!(
                        "  {now}{}",
                        if j.node != Pubkey::default() {
                            format!(" (node {})", j.node)
                        } else {
                            String::new()
                        }
                    ));
                    last = now;
                }
                bar.set_message(format!("{last}..."));
            }
            Ok(None) => break,
            // Unknown is not failed: keep watching through RPC hiccups, for a while.
            Err(e) if reachable.elapsed() < RPC_OUTAGE_LIMIT => {
                bar.set_message(format!("waiting for the RPC endpoint: {e}"))
            }
            Err(e) => {
                bar.finish_and_clear();
                anyhow::bail!(
                    "waiting for job {job} to settle: the RPC endpoint has not answered for {} s ({e}); the job goes on without you: `ake job status {job}`",
                    RPC_OUTAGE_LIMIT.as_secs()
                );
            }
        }
        if started.elapsed() > limit {
            bar.finish_and_clear();
            anyhow::bail!(
                "waiting for job {job} to settle: still {last} after {} s; the job goes on without you: `ake job status {job}` (or raise --wait-timeout)",
                limit.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    bar.finish_and_clear();
    let after = p.token_balance(token).await?;
    let paid = balance_before
        .saturating_sub(after)
        .saturating_sub(posting_fee);
    Ok(Settled {
        job: job.to_string(),
        escrowed,
        paid,
        posting_fee,
        refunded: escrowed.saturating_sub(paid),
    })
}

pub async fn run(g: &GlobalArgs, c: JobCommand) -> anyhow::Result<()> {
    let ctx = g.connect()?;
    let p = &ctx.protocol;
    let config = p.config().await?;
    let d = ake_sdk::accounts::mint_decimals(ctx.chain(), &config.mint).await?;
    match c {
        JobCommand::Post {
            spec,
            max_tokens,
            slippage_bps,
            wait,
            wait_timeout,
            out,
            parallelism,
        } => {
            let text = std::fs::read_to_string(&spec)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", spec.display()))?;
            let file = JobSpecFile::parse(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", spec.display()))?;
            let market = p.market(file.market).await?;
            let mut valid = file
                .validate(&market)
                .map_err(|e| anyhow::anyhow!("{}: {e}", spec.display()))?;
            for w in &valid.warnings {
                eprintln!("warning: {w}");
            }
            let creator = ctx.signer()?;
            let (_, update) = p.price(&config).await?;
            let fee = p
                .posting_fee_for(&creator.pubkey(), market.posting_fee_micro_usd, &config)
                .await?;
            let q = oracle::quote(
                &market,
                (valid.args.gpus, valid.args.max_duration_secs),
                fee,
                &update,
                &config.params.oracle,
                d,
            )
            .ok_or_else(|| anyhow::anyhow!("the oracle price is not usable now"))?;
            let audit_fee = match valid.args.verify {
                Verify::None => 0,
                Verify::Exact => ake_market::instructions::post_job::audit_fee(
                    &config.params.audit,
                    q.escrow,
                    valid.args.gpus,
                    (market.min_stake_per_gpu, market.collateral_escrow_bps),
                )
                .map_err(|_| {
                    anyhow::anyhow!(
                        "{}: verify = \"exact\" but audits are off on this cluster (governance's [audits] enabled = false); post it with verify = \"none\"",
                        spec.display()
                    )
                })?,
            };
            let (usd_max, mut quote) = (q.max_charge_micro_usd, q.total() + audit_fee);
            // What the quote is made of, for the messages below.
            let parts = format!(
                "{} AKE escrow + {} AKE posting fee{}",
                format(q.escrow, d),
                format(q.posting_fee, d),
                audit_fee_clause(" + ", audit_fee, d, "")
            );
            if let Some(frames) = valid.frames {
                quote = crate::commands::batch::batch_total(q.escrow, q.posting_fee, frames.count)
                    .ok_or_else(|| anyhow::anyhow!("the batch's total overflows"))?;
            }
            valid.args.max_tokens = match max_tokens {
                Some(m) => parse(&m, d)?,
                None => quote.saturating_add(quote.saturating_mul(slippage_bps) / 10_000),
            };
            let limit = valid.args.max_tokens;
            let slippage = |what: &str| {
                format!(
                    "{what}: the quote is {} AKE ({parts}) and your limit {} AKE; raise --max-tokens or --slippage-bps, or retry when the price is back",
                    format(quote, d),
                    format(limit, d)
                )
            };
            anyhow::ensure!(quote <= limit, slippage("not posted"));
            let token = associated_token(&creator.pubkey(), &config.mint);
            let before = p.token_balance(&token).await?;
            anyhow::ensure!(
                before >= quote,
                "your AKE account {token} holds {} AKE; this post takes about {} AKE ({} AKE escrow for up to {} per job or frame, plus a {} AKE posting fee{})",
                format(before, d),
                format(quote, d),
                format(quote - q.posting_fee - audit_fee, d),
                usd(usd_max),
                format(q.posting_fee, d),
                audit_fee_clause(" and a ", audit_fee, d, "")
            );
            if let Some(frames) = valid.frames {
                let p_ = &config.params;
                let per_frame = u64::from(valid.args.max_duration_secs)
                    + u64::from(p_.completion_grace_secs)
                    + u64::from(p_.challenge_window_secs);
                let post = crate::commands::batch::PostBatch {
                    limit: valid.args.max_tokens,
                    parallelism: crate::commands::batch::parallelism(parallelism, frames.count)?,
                    valid,
                    frames,
                    // Frames run side by side; the default lets them run one after another.
                    wait: wait.then(|| {
                        Duration::from_secs(
                            wait_timeout
                                .unwrap_or(per_frame.saturating_mul(u64::from(frames.count)) + 600),
                        )
                    }),
                    out,
                };
                return crate::commands::batch::post(&ctx, post, d).await;
            }
            anyhow::ensure!(
                out.is_none(),
                "--out is for batches (a spec with frames); fetch a job's outputs with `ake job results`"
            );
            anyhow::ensure!(
                parallelism.is_none(),
                "--parallelism is for batches (a spec with frames): a single job is one frame"
            );
            let job = pda::job(&creator.pubkey(), p.next_nonce(&creator.pubkey()).await?);
            let (market_index, args) = (valid.market, valid.args);
            let args_secs = args.max_duration_secs;
            // A waiting node named here that took other work meanwhile only
            // leaves the job queued: the crank or that node pairs it later.
            let ix = p.post_job(&creator.pubkey(), market_index, args).await?.1;
            let sig = send_instructions(p.chain.as_ref(), &creator, &[], &[ix], ctx.fees)
                .await
                .map_err(|e| match e.to_string().contains("SlippageExceeded") {
                    true => anyhow::anyhow!(
                        "not posted: the price moved before the job landed and the on-chain total passed your limit of {} AKE (quoted {} AKE before sending); retry, or raise the limit (--max-tokens, or --slippage-bps without it)",
                        format(limit, d),
                        format(quote, d)
                    ),
                    false => e.into(),
                })?;
            let posted = p.job(&job).await?;
            let escrowed = posted.as_ref().map_or(q.escrow, |j| j.escrow);
            let posting_fee = posted.as_ref().map_or(q.posting_fee, |j| j.posting_fee);
            let audit_fee = posted.as_ref().map_or(audit_fee, |j| j.audit.fee);
            if !wait {
                let v = posted.map(|j| view(&job, &j));
                print(
                    ctx.json,
                    &serde_json::json!({"job": job.to_string(), "signature": sig.to_string(), "escrow": escrowed, "posting_fee": posting_fee, "audit_fee": audit_fee, "view": v}),
                    |_| {
                        format!(
                            "posted job {job}: escrowed {} AKE for up to {}, posting fee {} AKE{} ({sig})",
                            format(escrowed, d),
                            usd(usd_max),
                            format(posting_fee, d),
                            audit_fee_clause(
                                ", ",
                                audit_fee,
                                d,
                                " (back if it is cancelled or refunded before its draw)"
                            )
                        )
                    },
                );
                return Ok(());
            }
            if !ctx.json {
                eprintln!(
                    "posted job {job}: escrowed {} AKE for up to {}",
                    format(escrowed, d),
                    usd(usd_max)
                );
            }
            let p_ = &config.params;
            let limit = wait_timeout.unwrap_or(
                u64::from(args_secs)
                    + u64::from(p_.completion_grace_secs)
                    + u64::from(p_.challenge_window_secs)
                    + 600,
            );
            let settled = follow(
                p,
                &job,
                &token,
                before,
                (escrowed, posting_fee),
                !ctx.json,
                Duration::from_secs(limit),
            )
            .await?;
            let burned = settled.paid * u64::from(config.params.burn_bps) / 10_000;
            print(ctx.json, &settled, |s| {
                format!(
                    "settled: paid {} AKE ({} burned, the rest to the treasury) and the {} AKE posting fee (burned), refunded {} AKE",
                    format(s.paid, d),
                    format(burned, d),
                    format(s.posting_fee, d),
                    format(s.refunded, d)
                )
            });
        }
        JobCommand::Logs {
            job,
            follow,
            stderr,
        } => crate::commands::logs::run(p, job, follow, stderr, ctx.json).await?,
        JobCommand::Events { job } => {
            let timeline = p.job_timeline(&job, |v| format(v, d)).await?;
            if timeline.steps.is_empty() {
                anyhow::bail!("no event of job {job} in its history here: check the address, or use an endpoint that keeps history");
            }
            print(ctx.json, &timeline, |t| {
                let mut lines: Vec<String> = t
                    .steps
                    .iter()
                    .map(|s| format!("{:<16} {}", s.event, s.what))
                    .collect();
                if !t.complete {
                    lines.insert(
                        0,
                        "(only the newest part of its history: the endpoint returns no more)"
                            .into(),
                    );
                }
                lines.join("\n")
            });
        }
        JobCommand::Status { job } => {
            let j = p.job(&job).await?.ok_or_else(|| {
                anyhow::anyhow!("no job at {job}: it never existed, or it settled and its account closed (`ake job list` shows yours)")
            })?;
            let v = view(&job, &j);
            let waiting = p.why_waiting(&job, &j).await?;
            let mut shown = serde_json::to_value(&v)?;
            if let Some(w) = &waiting {
                shown["waiting"] = serde_json::to_value(w)?;
            }
            print(ctx.json, &shown, |_| match &waiting {
                Some(w) => format!(
                    "{}\nwaits: {}",
                    describe(&v, d),
                    w.describe(&j, |a| format(a, d))
                ),
                None => describe(&v, d),
            });
        }
        JobCommand::List {
            batch: Some(batch), ..
        } => crate::commands::batch::list(&ctx, &batch).await?,
        JobCommand::Resume { batch } => {
            let creator = ctx.signer()?;
            let b = p
                .batch(&batch)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no batch at {batch}: never posted, or closed"))?;
            anyhow::ensure!(
                b.creator == creator.pubkey(),
                "batch {batch} belongs to {}, not to your keypair {}",
                b.creator,
                creator.pubkey()
            );
            anyhow::ensure!(
                b.halted,
                "batch {batch} is not halted: nothing to resume (`ake job status {batch}` shows it)"
            );
            let ix = ake_sdk::instructions::resume_batch(creator.pubkey(), b.market, batch);
            let sig = ctx.send(&creator, &[], &[ix]).await?;
            print(
                ctx.json,
                &serde_json::json!({"batch": batch.to_string(), "frames_waiting": b.frames_waiting(), "signature": sig.to_string()}),
                |_| {
                    format!(
                        "batch {batch}: back in line with {} frames waiting ({sig})",
                        b.frames_waiting()
                    )
                },
            );
        }
        JobCommand::CloseBatch { batch } => {
            let sent = crate::commands::batch::close(&ctx, &batch).await?;
            anyhow::ensure!(
                sent > 0,
                "no batch at {batch}: already closed, or never posted"
            );
            print(
                ctx.json,
                &serde_json::json!({"batch": batch.to_string(), "transactions": sent}),
                |_| format!("batch {batch} closed: its rent is back with the creator"),
            );
        }
        JobCommand::Results {
            batch: Some(batch),
            out,
            ..
        } => crate::commands::batch::results(&ctx, &batch, &out).await?,
        JobCommand::List { creator, .. } => {
            let creator = match creator {
                Some(c) => c,
                None => ctx.signer()?.pubkey(),
            };
            let next = p.next_nonce(&creator).await?;
            let keys: Vec<Pubkey> = (0..next).map(|n| pda::job(&creator, n)).collect();
            let accounts = ctx.chain().accounts(&keys).await?;
            let mut rows = Vec::new();
            for (n, (key, acc)) in keys.iter().zip(accounts).enumerate() {
                let open = acc
                    .filter(|a| a.owner == ake_market::ID)
                    .and_then(|a| ake_sdk::accounts::decode::<Job>(&a.data).ok());
                rows.push(match open {
                    Some(j) => serde_json::to_value(view(key, &j))?,
                    None => {
                        serde_json::json!({"job": key.to_string(), "nonce": n, "state": "closed"})
                    }
                });
            }
            print(ctx.json, &rows, |rows| {
                if rows.is_empty() {
                    return format!("{creator} has posted no jobs");
                }
                rows.iter()
                    .map(|r| {
                        format!(
                            "{:>4}  {}  {}",
                            r["nonce"],
                            r["job"].as_str().unwrap_or(""),
                            r["state"].as_str().unwrap_or("")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        JobCommand::Results {
            job,
            out,
            uri,
            commitment,
            ..
        } => {
            let job = job.ok_or_else(|| anyhow::anyhow!("give a job, or --batch"))?;
            let (uri, commitment) = match (uri, commitment) {
                (Some(u), Some(c)) => (u, ake_sdk::job_spec::parse_sha256("--commitment", &c)?),
                _ => {
                    let (r, revealed) = match p.job(&job).await? {
                        Some(j) => {
                            let revealed = j.audit.revealed.then_some(j.audit.salt);
                            let r = j.result.ok_or_else(|| {
                                anyhow::anyhow!(
                                    "job {job} has no result yet ({})",
                                    state_name(j.state)
                                )
                            })?;
                            (r, revealed)
                        }
                        None => {
                            let r = settled_job_result(p, &job).await?.map_err(|why| {
                                anyhow::anyhow!("no job at {job} to fetch: {why}")
                            })?;
                            (r, None)
                        }
                    };
                    let reader = ctx.signer().ok();
                    (outputs_uri(&r, revealed, reader.as_ref())?, r.commitment)
                }
            };
            let (dir, manifest) = fetch_results(&uri, &commitment, &out).await?;
            if manifest.facts.exit_code != 0 {
                eprintln!(
                    "note: the job's container exited with code {}",
                    manifest.facts.exit_code
                );
            }
            let files: Vec<String> = std::fs::read_dir(&dir)?
                .filter_map(|e| e.ok())
                .map(|e| e.path().display().to_string())
                .collect();
            print(
                ctx.json,
                &serde_json::json!({"job": job.to_string(), "dir": dir.display().to_string(), "commitment": hex::encode(commitment), "files": files}),
                |_| {
                    format!(
                        "outputs of {job} verified against commitment {} in {}",
                        hex::encode(commitment),
                        dir.display()
                    )
                },
            );
        }
        JobCommand::Cancel { job } if p.is_batch(&job).await? => {
            let creator = ctx.signer()?;
            let keys = p.batch_keys(&job).await?;
            anyhow::ensure!(
                keys.creator == creator.pubkey(),
                "batch {job} belongs to {}, not to your keypair {} (anyone may refund a batch only after the market's max_queue_secs: `ake crank` does)",
                keys.creator,
                creator.pubkey()
            );
            let ix = ake_sdk::instructions::cancel_batch(creator.pubkey(), &keys);
            let sig = ctx.send(&creator, &[], &[ix]).await?;
            print(
                ctx.json,
                &serde_json::json!({"batch": job.to_string(), "signature": sig.to_string()}),
                |_| {
                    format!("batch {job}: frames not handed out cancelled, their escrow and rent refunded; frames running go on ({sig})")
                },
            );
        }
        JobCommand::Cancel { job } | JobCommand::Accept { job } | JobCommand::Dispute { job } => {
            let creator = ctx.signer()?;
            let j = p
                .job(&job)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no job at {job}"))?;
            anyhow::ensure!(
                j.creator == creator.pubkey(),
                "job {job} belongs to {}, not to your keypair {}",
                j.creator,
                creator.pubkey()
            );
            let (ix, done) = match c {
                JobCommand::Cancel { .. } => (p.cancel(&job).await?, "cancelled, escrow refunded"),
                JobCommand::Accept { .. } => (p.accept(&job).await?, "accepted and settled"),
                _ => (
                    p.dispute(&job).await?,
                    "disputed; the arbiter decides (or the timeout refunds you)",
                ),
            };
            let sig = ctx.send(&creator, &[], &[ix]).await?;
            print(
                ctx.json,
                &serde_json::json!({"job": job.to_string(), "signature": sig.to_string()}),
                |_| format!("job {job} {done} ({sig})"),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ake_sdk::seal::{output_token, seal_salt};
    use anchor_lang::Discriminator;
    use solana_sdk::signature::Keypair;
    use solana_sdk::signer::Signer;

    fn blank_job() -> Job {
        let mut data = Job::DISCRIMINATOR.to_vec();
        data.resize(4096, 0);
        ake_sdk::accounts::decode(&data).unwrap()
    }

    #[test]
    fn status_says_whether_and_how_a_job_is_audited() {
        let mut job = blank_job();
        let v = audit_view(&job);
        assert_eq!((v.verify, v.phase), ("none", "unaudited"));
        assert!(describe_audit(&v).contains("never re-run"));
        job.verify = Verify::Exact;
        job.audit.phase = AuditPhase::Undrawn;
        job.audit.rate_bps = 250;
        job.audit.draw_slot = 1_032;
        let v = audit_view(&job);
        assert_eq!(
            (v.phase, v.draw_chance_bps, v.draw_slot),
            ("awaiting_draw", 250, Some(1_032))
        );
        assert!(
            describe_audit(&v).contains("2.50 %"),
            "{}",
            describe_audit(&v)
        );
        let runs = [Pubkey::new_unique(), Pubkey::new_unique()];
        job.audit.runs = runs;
        job.audit.phase = AuditPhase::Failed;
        job.audit.revealed = true;
        job.audit.digest = [7; 32];
        let v = audit_view(&job);
        assert_eq!(v.runs, runs.map(|r| r.to_string()).to_vec());
        assert_eq!(v.digest, Some(hex::encode([7u8; 32])));
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["phase"], "failed");
        assert!(describe_audit(&v).contains("FAILED"));
    }

    #[test]
    fn sealed_outputs_open_for_the_creator_or_after_the_reveal() {
        let creator = Keypair::new();
        let salt = [3u8; 32];
        let result = JobResult {
            commitment: [1; 32],
            output_uri: "file:///s/jobs/j-1-{token}/0101".into(),
            usage: Default::default(),
            sealed_digest: [2; 32],
            sealed_salt: seal_salt(&creator.pubkey(), &salt).unwrap(),
        };
        let open = format!("file:///s/jobs/j-1-{}/0101", output_token(&salt));
        assert_eq!(outputs_uri(&result, None, Some(&creator)).unwrap(), open);
        assert_eq!(outputs_uri(&result, Some(salt), None).unwrap(), open);
        let refused = outputs_uri(&result, None, Some(&Keypair::new())).unwrap_err();
        assert!(
            refused.to_string().contains("sealed to its creator"),
            "{refused}"
        );
        let plain = JobResult {
            output_uri: "file:///s/jobs/j-1/0101".into(),
            ..result
        };
        assert_eq!(
            outputs_uri(&plain, None, None).unwrap(),
            "file:///s/jobs/j-1/0101"
        );
    }
}
