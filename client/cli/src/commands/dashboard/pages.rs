//! The dashboard's pages, each read from the chain when asked for. The
//! numbers come from the same views as `ake market show`, `ake node
//! show`, `ake job status` and `ake epoch history`, so the browser and the
//! terminal never disagree.

use std::path::PathBuf;

use ake_node::outputs::OutputManifest;
use ake_sdk::earnings::Applied;
use ake_sdk::protocol::Protocol;
use solana_sdk::pubkey::Pubkey;

use super::html::{bar_chart, esc, facts, link, page_with, table};
use super::{Dashboard, Failure, PageResult};
use crate::amounts::{format, usd};
use crate::commands::epoch::{self, EpochView};
use crate::commands::job::{self, JobView};
use crate::commands::market::{market_view, MarketView};
use crate::commands::node::{idle_reason, node_view};

/// Pages of things that move on their own reload this often (seconds).
const REFRESH_SECS: u32 = 10;

/// A node page reads every shown epoch's record (and a claimed one's
/// history): it reloads less often, to stay within public endpoints' limits.
const NODE_REFRESH_SECS: u32 = 30;

async fn decimals(p: &Protocol) -> Result<u8, Failure> {
    let mint = p.config().await?.mint;
    Ok(ake_sdk::accounts::mint_decimals(p.chain.as_ref(), &mint).await?)
}

/// The last `count` epochs, oldest first, and the current one.
async fn recent_epochs(p: &Protocol, count: u64) -> Result<(Vec<EpochView>, u64), Failure> {
    let current = p.current_epoch(&p.emissions().await?).await?;
    let first = current.saturating_sub(count - 1);
    let mut rows = Vec::new();
    for e in first..=current {
        rows.push(epoch::view(e, p.epoch_summary(e).await?.as_ref()));
    }
    Ok((rows, current))
}

fn burn_mint_chart(rows: &[EpochView], d: u8) -> String {
    let labels: Vec<String> = rows.iter().map(|v| v.epoch.to_string()).collect();
    bar_chart(
        "burn-mint",
        &labels,
        &[
            ("burned", "#d9480f", rows.iter().map(|v| v.burned).collect()),
            ("minted", "#1c7ed6", rows.iter().map(|v| v.minted).collect()),
        ],
        |v| format!("{} AKE", format(v, d)),
    )
}

/// An amount in AKE; its exact base units ride along as
/// `data-base-units` for tools (and tests) that read the page.
fn tokens(base: u64, dec: u8) -> String {
    format!(
        "<span data-base-units=\"{base}\">{} AKE</span>",
        format(base, dec)
    )
}

/// Busy share of the market's armed nodes: in flight ÷ (in flight + waiting).
fn utilisation(m: &MarketView) -> String {
    let armed = u64::from(m.in_flight) + m.waiting_nodes.len() as u64;
    match armed {
        0 => "-".into(),
        n => format!("{}%", u64::from(m.in_flight) * 100 / n),
    }
}

pub async fn network(d: &Dashboard) -> PageResult {
    let p = &d.ctx.protocol;
    let config = p.config().await?;
    let emissions = p.emissions().await?;
    let dec = decimals(p).await?;
    let (rows, current) = recent_epochs(p, d.epochs).await?;
    let mut markets = Vec::new();
    for index in 0..config.market_count {
        markets.push(market_view(p, &config, index).await?);
    }
    let burned: u64 = markets.iter().map(|m| m.tokens_burned).sum();
    let summary = facts(&[
        (
            "endpoint",
            "Endpoint",
            esc(&super::html::origin(&d.ctx.url)),
        ),
        (
            "supply",
            "Token supply",
            tokens(p.supply(&config.mint).await?, dec),
        ),
        (
            "minted",
            "Minted by emissions, in all",
            tokens(emissions.minted_in_all(), dec),
        ),
        ("burned", "Burned by jobs, in all", tokens(burned, dec)),
        ("epoch", "Current epoch", current.to_string()),
        (
            "paused",
            "Markets",
            if config.paused {
                "<span class=error>PAUSED</span>".into()
            } else {
                "running".into()
            },
        ),
    ]);
    let market_rows: Vec<Vec<String>> = markets
        .iter()
        .map(|m| {
            vec![
                link(
                    &format!("/markets/{}", m.index),
                    &format!("{} {}", m.index, m.name),
                ),
                (if m.gpu_required { "GPU" } else { "CPU" }).into(),
                format!("#{}/GPU-s", usd(m.rate_micro_usd)),
                format!("#{}/{}", m.queued_jobs.len(), m.job_capacity),
                format!("#{}/{}", m.waiting_nodes.len(), m.node_capacity),
                format!("#{}/{}", m.in_flight, m.in_flight_capacity),
                format!("#{}", utilisation(m)),
                format!("#{}", m.jobs_settled),
                format!("#{}", tokens(m.tokens_burned, dec)),
            ]
        })
        .collect();
    let body = format!(
        "{summary}<h2>Burn and mint per epoch (AKE)</h2>{}<h2>Markets</h2>{}",
        burn_mint_chart(&rows, dec),
        table(
            "markets",
            &[
                "Market",
                "Kind",
                "Rate",
                "Queued jobs",
                "Waiting nodes",
                "In flight",
                "Utilisation",
                "Jobs settled",
                "Burned"
            ],
            &market_rows
        )
    );
    Ok(page_with("AKE network", &body, Some(REFRESH_SECS)))
}

pub async fn epochs(d: &Dashboard) -> PageResult {
    let p = &d.ctx.protocol;
    let dec = decimals(p).await?;
    let (rows, _) = recent_epochs(p, d.epochs).await?;
    let cells: Vec<Vec<String>> = rows
        .iter()
        .rev()
        .map(|v| {
            vec![
                format!("#{}", v.epoch),
                (if v.closed { "closed" } else { "open" }).into(),
                format!("#{}", v.jobs),
                format!("#{}", usd(v.work_micro_usd)),
                format!("#{}", tokens(v.burned, dec)),
                format!("#{}", tokens(v.emission, dec)),
                format!("#{}", tokens(v.payable, dec)),
                format!("#{}", tokens(v.minted, dec)),
                format!("#{}", tokens(v.reminted, dec)),
                format!(
                    "#{}",
                    v.burn_mint_ratio.map_or("-".into(), |r| format!("{r:.4}"))
                ),
            ]
        })
        .collect();
    let body = format!(
        "{}<h2>Epochs, newest first</h2>{}<p class=muted>Minted is what nodes claimed for the epoch; minted back is the part of it above the schedule (the reward floor).</p>",
        burn_mint_chart(&rows, dec),
        table(
            "epochs",
            &["Epoch", "State", "Jobs", "Work", "Burned", "Emission", "Payable", "Minted", "Minted back", "Burn/mint"],
            &cells
        )
    );
    Ok(page_with("Epochs", &body, Some(REFRESH_SECS)))
}

pub async fn market(d: &Dashboard, index: u16) -> PageResult {
    let p = &d.ctx.protocol;
    let config = p.config().await?;
    if index >= config.market_count {
        return Err(Failure::NotFound(format!(
            "market {index} does not exist: there are {} (see /)",
            config.market_count
        )));
    }
    let dec = decimals(p).await?;
    let m = market_view(p, &config, index).await?;
    let summary = facts(&[
        ("address", "Address", esc(&m.address)),
        (
            "kind",
            "Kind",
            (if m.gpu_required { "GPU" } else { "CPU" }).into(),
        ),
        (
            "rate",
            "Rate",
            format!("{} per GPU-second", usd(m.rate_micro_usd)),
        ),
        (
            "shape",
            "Jobs",
            format!(
                "up to {} GPUs, {}..={} s",
                m.max_gpus_per_job, m.min_duration_secs, m.max_duration_secs
            ),
        ),
        ("stake", "Stake per GPU", tokens(m.min_stake_per_gpu, dec)),
        (
            "queued",
            "Queued jobs",
            format!("{}/{}", m.queued_jobs.len(), m.job_capacity),
        ),
        (
            "waiting",
            "Waiting nodes",
            format!("{}/{}", m.waiting_nodes.len(), m.node_capacity),
        ),
        (
            "in-flight",
            "In flight",
            format!("{}/{}", m.in_flight, m.in_flight_capacity),
        ),
        (
            "utilisation",
            "Utilisation (busy share of armed nodes)",
            utilisation(&m),
        ),
        ("settled", "Jobs settled", m.jobs_settled.to_string()),
        ("escrow", "Open escrow", tokens(m.open_escrow, dec)),
        (
            "burned",
            "Burned",
            format!(
                "{} ({} of it waits for the sweep)",
                tokens(m.tokens_burned, dec),
                tokens(m.pending_burn, dec)
            ),
        ),
    ]);
    let listed = |id: &str, keys: &[String], path: &str| {
        let rows: Vec<Vec<String>> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| vec![format!("#{}", i + 1), link(&format!("/{path}/{k}"), k)])
            .collect();
        table(id, &["Place", "Address"], &rows)
    };
    let body = format!(
        "{summary}<h2>Queued jobs, best first</h2>{}<h2>Waiting nodes, first served first</h2>{}<h2>In flight</h2>{}",
        listed("queued-jobs", &m.queued_jobs, "jobs"),
        listed("waiting-nodes", &m.waiting_nodes, "nodes"),
        in_flight_table(p, index).await?
    );
    Ok(page_with(
        &format!("Market {index} {}", m.name),
        &body,
        Some(REFRESH_SECS),
    ))
}

/// A link to the market at `address` (its page is by index).
async fn market_link(p: &Protocol, address: &str) -> Result<String, Failure> {
    let count = p.config().await?.market_count;
    Ok((0..count)
        .find(|i| ake_sdk::pda::market(*i).to_string() == address)
        .map_or_else(|| esc(address), |i| link(&format!("/markets/{i}"), address)))
}

/// The market's jobs in flight, phase by phase, each in the order it
/// entered the phase (submitted jobs fall due in that order).
async fn in_flight_table(p: &Protocol, index: u16) -> Result<String, Failure> {
    use ake_sdk::ake_market::state::{PHASE_ASSIGNED, PHASE_DISPUTED, PHASE_SUBMITTED};
    let rows: Vec<Vec<String>> = p
        .market(index)
        .await?
        .in_flight()
        .iter()
        .map(|f| {
            let (phase, due) = match f.phase {
                PHASE_ASSIGNED => ("assigned", "result due"),
                PHASE_SUBMITTED => ("submitted", "challenge window ends"),
                PHASE_DISPUTED => ("disputed", "dispute times out"),
                _ => ("?", "due"),
            };
            let job = f.job.to_string();
            vec![
                link(&format!("/jobs/{job}"), &job),
                phase.into(),
                format!("{due} at unix {}", f.due),
            ]
        })
        .collect();
    Ok(table("in-flight", &["Job", "Phase", "Next"], &rows))
}

/// An owner's fleet: every node it registered or re-keyed (from its
/// history), each with its status, reputation and earnings in the
/// dashboard's epochs.
pub async fn owner(d: &Dashboard, owner: &Pubkey) -> PageResult {
    let p = &d.ctx.protocol;
    let dec = decimals(p).await?;
    let (nodes, complete) = p.owner_nodes(owner).await?;
    if nodes.is_empty() {
        return Err(Failure::NotFound(format!(
            "{owner} registered no node (none in its history here)"
        )));
    }
    let last = p.current_epoch(&p.emissions().await?).await?;
    let first = last.saturating_sub(d.epochs - 1);
    let mut rows = Vec::new();
    for node in &nodes {
        let status = match p.node(node).await? {
            Some(_) => node_view(p, node).await?,
            None => {
                rows.push(vec![esc(&node.to_string()), "closed or re-keyed".into()]);
                continue;
            }
        };
        let earned = p.node_earnings(node, first, last).await?;
        let reward: u64 = earned.iter().filter_map(|e| e.reward).sum();
        let unclaimed: u64 = earned
            .iter()
            .filter(|e| !e.claimed)
            .filter_map(|e| e.reward)
            .sum();
        rows.push(vec![
            link(&format!("/nodes/{node}"), &node.to_string()),
            esc(&status.status),
            format!("#{} bps", status.reputation_bps),
            format!("#{}", status.jobs_completed),
            format!("#{}", tokens(reward, dec)),
            format!("#{}", tokens(unclaimed, dec)),
        ]);
    }
    let partial = if complete {
        ""
    } else {
        "<p class=muted>Only the nodes in the newest part of its history are listed.</p>"
    };
    let body = format!(
        "{partial}{}<p class=muted>Rewards of the last {} epochs: claimed, or what a claim pays now.</p>",
        table(
            "fleet",
            &["Node", "Status", "Reputation", "Jobs completed", "Reward", "Unclaimed"],
            &rows
        ),
        d.epochs
    );
    Ok(page_with(&format!("Owner {owner}"), &body, None))
}

pub async fn node(d: &Dashboard, key: &Pubkey) -> PageResult {
    let p = &d.ctx.protocol;
    if p.node(key).await?.is_none() {
        return Err(Failure::NotFound(format!(
            "no node at {key} (closed, or not a node)"
        )));
    }
    let dec = decimals(p).await?;
    let v = node_view(p, key).await?;
    let mut status = esc(&v.status);
    if v.suspended {
        status.push_str(" <span class=error>SUSPENDED</span>");
    } else if v.held {
        status.push_str(" <span class=error>HELD</span>");
    }
    let standing = match v.standing.ahead {
        Some(ahead) => format!(
            "{ahead} of {} waiting nodes ahead of it",
            v.standing.waiting_nodes
        ),
        None => v
            .standing
            .idle_because
            .iter()
            .map(|why| esc(&idle_reason(why, key, dec)))
            .collect::<Vec<_>>()
            .join("<br>"),
    };
    let summary = facts(&[
        (
            "owner",
            "Owner",
            link(&format!("/owners/{}", v.owner), &v.owner),
        ),
        ("market", "Market", market_link(p, &v.market).await?),
        (
            "hardware",
            "Hardware",
            esc(&format!(
                "{} x {} ({} MiB)",
                v.gpus, v.gpu_model, v.vram_mib
            )),
        ),
        ("status", "Status", status),
        ("standing", "Place or why idle", standing),
        (
            "job",
            "Job",
            v.current_job
                .as_deref()
                .map_or("-".into(), |j| link(&format!("/jobs/{j}"), j)),
        ),
        (
            "reputation",
            "Reputation",
            format!(
                "{} bps ({} proven, {} failed)",
                v.reputation_bps,
                usd(v.proven_micro_usd),
                usd(v.failed_micro_usd)
            ),
        ),
        ("completed", "Jobs completed", v.jobs_completed.to_string()),
        ("expired", "Jobs expired", v.jobs_expired.to_string()),
        ("disputed", "Jobs disputed", v.jobs_disputed.to_string()),
        ("work", "Verified work, in all", usd(v.work_micro_usd)),
    ]);
    let earnings = earnings_table(d, key, dec).await?;
    let body = format!(
        "{summary}<h2>Earnings, newest epoch first (last {})</h2>{earnings}<p class=muted>Work counts in the epoch its job settled. A closed epoch pays the node's burn x min(multiplier, max(phi, share)); the daemon claims it (or <code>ake node claim</code>). USD is at the epoch's price (what its burns were worth per token).</p>",
        d.epochs
    );
    Ok(page_with(
        &format!("Node {key}"),
        &body,
        Some(NODE_REFRESH_SECS),
    ))
}

async fn earnings_table(d: &Dashboard, key: &Pubkey, dec: u8) -> Result<String, Failure> {
    let p = &d.ctx.protocol;
    let last = p.current_epoch(&p.emissions().await?).await?;
    let first = last.saturating_sub(d.epochs - 1);
    let rows: Vec<Vec<String>> = p
        .node_earnings(key, first, last)
        .await?
        .iter()
        .rev()
        .map(|e| {
            let applied = match e.applied {
                Some(Applied::Cap) => "cap",
                Some(Applied::Floor) => "floor",
                Some(Applied::ProRata) => "pro rata",
                None => "-",
            };
            let claimed = match (e.reward, e.claimed) {
                _ if e.details_unavailable => "claim not in history",
                (None, _) => "epoch open",
                (Some(_), true) => "claimed",
                (Some(_), false) => "claimable",
            };
            vec![
                format!("#{}", e.epoch),
                format!("#{}", e.jobs),
                format!("#{}", e.gpu_secs),
                format!("#{}", usd(e.work_micro_usd)),
                format!("#{}", tokens(e.burned_credited, dec)),
                format!("#{}", e.reward.map_or("-".into(), |r| tokens(r, dec))),
                applied.into(),
                claimed.into(),
                format!("#{}", e.reward_micro_usd.map_or("-".into(), usd)),
            ]
        })
        .collect();
    Ok(table(
        "earnings",
        &[
            "Epoch",
            "Jobs",
            "GPU-s",
            "Work",
            "Burn credited",
            "Reward",
            "Set by",
            "Claimed",
            "Reward (USD)",
        ],
        &rows,
    ))
}

/// A job's outputs, fetched from where its result says and checked
/// against the on-chain root.
pub struct VerifiedOutputs {
    pub dir: PathBuf,
    pub manifest: OutputManifest,
}

/// The most a job's outputs may total for the dashboard to fetch them
/// (`ake job results` fetches any size).
const MAX_SHOWN_OUTPUT_BYTES: u64 = 512 << 20;

/// A failed fetch of a job's outputs is not tried again for this long
/// (pages reload themselves).
pub const FAILED_FETCH_PAUSE: std::time::Duration = std::time::Duration::from_secs(60);

/// The job's outputs for its current result, fetched and verified once per
/// dashboard process, one fetch at a time. Not found when the job has no
/// result (yet, or ever, or its creator won a dispute over it).
pub async fn verified_outputs(d: &Dashboard, key: &Pubkey) -> Result<VerifiedOutputs, Failure> {
    let (uri, commitment) = result_of(d, key).await?;
    let name = format!("{key}-{}", hex::encode(commitment));
    let dir = d.outputs.path().join(&name);
    let manifest_path = d.outputs.path().join(format!("{name}.manifest.json"));
    let cached = || async {
        match (dir.is_dir(), tokio::fs::read(&manifest_path).await) {
            (true, Ok(bytes)) => OutputManifest::from_json(&bytes).ok(),
            _ => None,
        }
    };
    // Kept outputs are complete (their manifest is written before the
    // directory takes its name): served without waiting for a fetch.
    if let Some(manifest) = cached().await {
        return Ok(VerifiedOutputs { dir, manifest });
    }
    let _one_at_a_time = d.fetching.lock().await;
    if let Some(manifest) = cached().await {
        return Ok(VerifiedOutputs { dir, manifest });
    }
    if let Some(why) = d.recent_failure(&name) {
        return Err(Failure::Chain(anyhow::anyhow!(
            "{why} (tried less than a minute ago)"
        )));
    }
    match fetch_verified(d, &uri, &commitment, &dir, &manifest_path).await {
        Ok(manifest) => Ok(VerifiedOutputs { dir, manifest }),
        Err(e) => {
            d.failed(&name, format!("{e:#}"));
            Err(Failure::Chain(e))
        }
    }
}

/// Fetches into a fresh directory, and keeps it (manifest written first)
/// only once every file checked out: nothing a failed fetch leaves can be
/// taken as verified.
async fn fetch_verified(
    d: &Dashboard,
    uri: &str,
    commitment: &[u8; 32],
    dir: &std::path::Path,
    manifest_path: &std::path::Path,
) -> anyhow::Result<OutputManifest> {
    job::check_uri_names_commitment(uri, commitment)?;
    let fetching = tempfile::tempdir_in(d.outputs.path())?;
    let manifest = ake_node::output_store::OutputStore::for_output(uri)?
        .fetch_dir_within(uri, fetching.path(), MAX_SHOWN_OUTPUT_BYTES)
        .await?;
    tokio::fs::write(manifest_path, manifest.to_json()).await?;
    tokio::fs::rename(fetching.keep(), dir).await?;
    Ok(manifest)
}

/// Where a job's outputs are and their root: from its account while open,
/// from its history once settled.
async fn result_of(d: &Dashboard, key: &Pubkey) -> Result<(String, [u8; 32]), Failure> {
    let p = &d.ctx.protocol;
    if let Some(j) = p.job(key).await? {
        return j
            .result
            .map(|r| (r.output_uri, r.commitment))
            .ok_or_else(|| Failure::NotFound(format!("job {key} has no result yet")));
    }
    match job::settled_result(p, key).await? {
        Ok(found) => Ok(found),
        Err(why) => Err(Failure::NotFound(format!("job {key}: {why}"))),
    }
}

pub async fn job(d: &Dashboard, key: &Pubkey) -> PageResult {
    let p = &d.ctx.protocol;
    let dec = decimals(p).await?;
    let timeline = p.job_timeline(key, |v| format(v, dec)).await?;
    let account = p.job(key).await?;
    if account.is_none() && timeline.steps.is_empty() {
        return Err(Failure::NotFound(format!(
            "no job at {key}, and no job event in its history here"
        )));
    }
    let summary = match &account {
        Some(j) => job_facts(&job::view(key, j), dec),
        None => facts(&[(
            "state",
            "State",
            "ended (its account is closed; its history follows)".into(),
        )]),
    };
    let steps: Vec<Vec<String>> = timeline
        .steps
        .iter()
        .map(|s| {
            vec![
                esc(s.event),
                esc(&s.what),
                format!("<code>{}</code>", esc(&s.signature[..16])),
            ]
        })
        .collect();
    let partial = if timeline.complete {
        ""
    } else {
        "<p class=muted>Only the newest part of its history is shown (the endpoint keeps or returns no more).</p>"
    };
    let body = format!(
        "{summary}<h2>Timeline</h2>{partial}{}<h2>Logs</h2>{}<h2>Outputs</h2>{}",
        table(
            "timeline",
            &["Event", "What happened", "Transaction"],
            &steps
        ),
        logs_section(p, key).await,
        outputs_section(d, key).await
    );
    let refresh = account.is_some().then_some(REFRESH_SECS);
    Ok(page_with(&format!("Job {key}"), &body, refresh))
}

fn job_facts(v: &JobView, dec: u8) -> String {
    let node = v
        .node
        .as_deref()
        .map_or("-".into(), |n| link(&format!("/nodes/{n}"), n));
    facts(&[
        ("state", "State", esc(&v.state)),
        ("creator", "Creator", esc(&v.creator)),
        (
            "image",
            "Image",
            esc(v.image.as_deref().unwrap_or("(remote spec)")),
        ),
        (
            "shape",
            "Shape",
            format!(
                "{} GPU x {} s max, up to {}",
                v.gpus,
                v.max_duration_secs,
                usd(v.max_charge_micro_usd)
            ),
        ),
        ("escrow", "Escrow", tokens(v.escrow, dec)),
        ("node", "Node", node),
        (
            "commitment",
            "Result root",
            esc(v.commitment.as_deref().unwrap_or("-")),
        ),
        (
            "audit",
            "Audit",
            esc(&crate::commands::job::describe_audit(&v.audit)),
        ),
    ])
}

/// Most of a log the job page shows: its end.
const LOG_TAIL_BYTES: usize = 64 * 1024;

/// The job's stdout and stderr: committed (verified) once a result is
/// on-chain, else the live copy its node uploads, else why there is none.
async fn logs_section(p: &Protocol, key: &Pubkey) -> String {
    use crate::commands::logs::{provenance, read, source, Found};
    let source = match source(p, key).await {
        Ok(source) => source,
        Err(e) => {
            return format!(
                "<p class=error>Logs NOT shown: {}</p>",
                esc(&format!("{e:#}"))
            )
        }
    };
    let mut out = String::new();
    for name in ["stdout.log", "stderr.log"] {
        let (log, attempt) = match read(&source, name).await {
            Ok(Found::Committed(log)) => (log, None),
            Ok(Found::Live(log, attempt)) => (log, Some(attempt)),
            Ok(Found::NotYet) => {
                out.push_str(&format!("<p class=muted>{name}: nothing yet (no result, and no live logs announced for this attempt)</p>"));
                continue;
            }
            Ok(Found::Ended(why)) => {
                out.push_str(&format!("<p class=muted>{name}: none ({})</p>", esc(why)));
                continue;
            }
            Err(e) => {
                out.push_str(&format!(
                    "<p class=error>{name} NOT shown: {}</p>",
                    esc(&format!("{e:#}"))
                ));
                continue;
            }
        };
        let tail = &log[log.len().saturating_sub(LOG_TAIL_BYTES)..];
        let text = match tail.is_empty() {
            true => "(empty)".to_string(),
            false => String::from_utf8_lossy(tail).into_owned(),
        };
        let class = if attempt.is_none() { "ok" } else { "muted" };
        out.push_str(&format!(
            "<p class={class}>{}</p><pre id=\"{name}\">{}</pre>",
            esc(&provenance(name, attempt)),
            esc(&text)
        ));
    }
    out
}

/// The job's outputs with thumbnails of its images, or why there are none.
async fn outputs_section(d: &Dashboard, key: &Pubkey) -> String {
    let outputs = match verified_outputs(d, key).await {
        Ok(o) => o,
        Err(Failure::NotFound(why)) => return format!("<p class=muted>{}</p>", esc(&why)),
        Err(Failure::BadInput(why)) => return format!("<p class=error>{}</p>", esc(&why)),
        Err(Failure::Chain(e)) => {
            return format!(
                "<p class=error id=verification>NOT verified: {}</p>",
                esc(&format!("{e:#}"))
            )
        }
    };
    let rows: Vec<Vec<String>> = outputs
        .manifest
        .files
        .iter()
        .map(|f| {
            let href = format!("/jobs/{key}/outputs/{}", super::html::path_escape(&f.path));
            let shown = if f.path.ends_with(".png") {
                format!(
                    "<img class=thumb src=\"{}\" alt=\"{}\">",
                    esc(&href),
                    esc(&f.path)
                )
            } else {
                String::new()
            };
            vec![
                link(&href, &f.path),
                format!("#{}", f.size),
                format!("<code>{}</code>", hex::encode(f.sha256)),
                shown,
            ]
        })
        .collect();
    format!(
        "<p class=ok id=verification>Verified: {} file(s) hash to the on-chain root {}.</p>{}",
        outputs.manifest.files.len(),
        outputs.manifest.root_hex(),
        table("outputs", &["File", "Bytes", "sha256", "Preview"], &rows)
    )
}
