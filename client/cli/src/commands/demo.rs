//! `ake demo`: the whole network on this machine in one command. A local
//! chain bootstrapped from migrations/localnet.toml, a creator, a staked
//! node whose daemon (ake-node's runtime) renders a real PNG frame in a
//! hardened container, the crank, the epoch close and the emission claim.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ake_localnet::Localnet;
use ake_node::daemon::{Daemon, Stop};
use ake_node::gpu::detect_gpus;
use ake_node::journal::Journal;
use ake_node::metrics::NodeMetrics;
use ake_node::output_store::OutputStore;
use ake_node::runtime::DockerRuntime;
use ake_sdk::ake_market::state::{HardwareProfile, JobState};
use ake_sdk::instructions as ixs;
use ake_sdk::job_spec::JobSpecFile;
use ake_sdk::protocol::{associated_token, Protocol};
use ake_sdk::sender::{send_instructions, Fees};
use ake_sdk::{oracle, pda};
use anyhow::{anyhow, bail, Context};
use clap::{Args, Parser};
use serde::Serialize;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::{Keypair, Signer};

use crate::amounts::{format, usd};
use crate::context::GlobalArgs;
use crate::output::print;

/// The example specs the demo posts, built into `ake` so it runs from any directory.
const RENDER_JOB: &str = include_str!("../../../examples/render-job.toml");
const RENDER_BATCH: &str = include_str!("../../../examples/render-batch.toml");

/// The demo image's repository; the tag is a hash of this binary, so a new build gets a new image.
pub const IMAGE_REPO: &str = "ake/render";

#[derive(Args)]
pub struct DemoArgs {
    /// Bootstrap parameters; the localnet parameters built into `ake` by default.
    #[arg(long)]
    pub params: Option<PathBuf>,
    /// Where the rendered frame is saved.
    #[arg(long, default_value = "ake-demo-output")]
    pub out: PathBuf,
    /// Render a short animation instead (e.g. `1-8`): one batch, two nodes
    /// sharing its frames, every frame verified.
    #[arg(long)]
    pub frames: Option<String>,
    /// Also serve the dashboard of the demo's chain on this address (e.g.
    /// 127.0.0.1:8080) while it runs, and keep both up after the report
    /// until Ctrl-C.
    #[arg(long)]
    pub dashboard: Option<std::net::SocketAddr>,
}

#[derive(Parser)]
#[command(name = "ake-render")]
pub struct RenderArgs {
    #[arg(long, default_value_t = 320)]
    pub width: u32,
    #[arg(long, default_value_t = 180)]
    pub height: u32,
    #[arg(long, default_value_t = 16)]
    pub samples: u32,
    /// Frame of the animation (a batch passes `{frame}`).
    #[arg(long, default_value_t = 0)]
    pub frame: u32,
    #[arg(long, default_value = "/ake/output/frame.png")]
    pub out: PathBuf,
}

pub fn render(a: &RenderArgs) -> anyhow::Result<()> {
    let rgb = ake_render::render(a.width, a.height, a.samples, a.frame);
    std::fs::write(&a.out, ake_render::encode_png(a.width, a.height, &rgb))
        .with_context(|| format!("writing {}", a.out.display()))?;
    println!(
        "rendered frame {} at {}x{}, {} spp, to {}",
        a.frame,
        a.width,
        a.height,
        a.samples,
        a.out.display()
    );
    Ok(())
}

pub fn render_main() -> std::process::ExitCode {
    match render(&RenderArgs::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ake-render: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The demo's report; integers in base units.
#[derive(Serialize, Default)]
pub struct DemoReport {
    pub initial_supply: u64,
    pub final_supply: u64,
    pub quote_micro_usd: u64,
    pub quote_tokens: u64,
    pub escrowed: u64,
    pub burned: u64,
    pub treasury_fee: u64,
    /// Burned when the job settled; never refunded.
    pub posting_fee: u64,
    /// What the node's owner claimed for the epoch.
    pub node_reward: u64,
    /// Its cap: the tokens its jobs burned x the reward multiplier.
    pub reward_cap: u64,
    pub refunded: u64,
    pub minted: u64,
    pub epochs_closed: u64,
    pub jobs_finalized: u64,
    /// The job's address.
    pub job: String,
    pub frame: String,
    pub commitment: String,
    pub runtime: String,
    pub decimals: u8,
}

/// Builds the job image FROM scratch: this binary as /ake-render plus the
/// shared libraries it links, so no registry is needed.
pub async fn ensure_image(docker: &DockerRuntime) -> anyhow::Result<String> {
    use sha2::Digest;
    let exe = std::env::current_exe()?;
    let hash = sha2::Sha256::digest(std::fs::read(&exe)?);
    let image = format!("{IMAGE_REPO}:{}", &hex::encode(hash)[..12]);
    if let Ok(found) = docker.docker().inspect_image(&image).await {
        return Ok(format!("{image}@{}", found.id.unwrap_or_default()));
    }
    let ctx = tempfile::tempdir()?;
    let rootfs = ctx.path().join("rootfs");
    std::fs::create_dir_all(&rootfs)?;
    std::fs::copy(&exe, rootfs.join("ake-render"))?;
    let ldd = std::process::Command::new("ldd")
        .arg(&exe)
        .output()
        .context("running ldd to find the renderer's libraries")?;
    for lib in String::from_utf8_lossy(&ldd.stdout)
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
    {
        let dest = rootfs.join(lib.trim_start_matches('/'));
        std::fs::create_dir_all(dest.parent().expect("library path has a parent"))?;
        std::fs::copy(lib, &dest).with_context(|| format!("copying {lib}"))?;
    }
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM scratch\nCOPY rootfs/ /\nCMD [\"/ake-render\"]\n",
    )?;
    let status = std::process::Command::new("docker")
        .args(["build", "--quiet", "-t", &image])
        .arg(ctx.path())
        .stdout(std::process::Stdio::null())
        .status()
        .context("running `docker build` (the docker CLI is needed to build the demo image)")?;
    if !status.success() {
        bail!("docker build of the demo image failed");
    }
    let found = docker.docker().inspect_image(&image).await?;
    Ok(format!("{image}@{}", found.id.unwrap_or_default()))
}

pub async fn build_image_command() -> anyhow::Result<()> {
    let docker = DockerRuntime::connect(Default::default(), vec![]).await?;
    println!("{}", ensure_image(&docker).await?);
    Ok(())
}

fn say(json: bool, line: &str) {
    if !json {
        eprintln!("{line}");
    }
}

pub async fn run(g: &GlobalArgs, a: DemoArgs) -> anyhow::Result<()> {
    crate::output::keep_stdout_for_output()?;
    let json = g.json();
    let started = Instant::now();
    let params = crate::commands::localnet::params(a.params.as_deref())?;
    let docker = DockerRuntime::connect(Default::default(), vec![]).await.map_err(|e| {
        anyhow!(
            "the demo runs its render job in a hardened Docker container, and no Docker engine answers ({e}).\n\
             Start Docker (or install it) and run `ake demo` again; nothing was changed."
        )
    })?;
    say(
        json,
        "building the render image (FROM scratch, no registry) ...",
    );
    let image = ensure_image(&docker).await?;
    // No registry: the demo's nodes name a local image as their cleaner
    // (the renderer writes flat files a node can delete itself; this only
    // keeps the readiness gate from pulling busybox).
    let settings = ake_node::config::RuntimeSettings {
        cleaner_image: image.split('@').next().unwrap_or(&image).to_string(),
        ..Default::default()
    };
    let docker = DockerRuntime::connect(settings, vec![]).await?;

    say(json, "starting the local chain and bootstrapping AKE ...");
    let net = Localnet::start(&params, Keypair::new()).await?;
    let _clock = net.run_clock().await?;
    let _dashboard = match a.dashboard {
        Some(bind) => Some(serve_dashboard(&net, bind).await?),
        None => None,
    };
    let p = Protocol::new(net.chain.clone());
    let config = p.config().await?;
    let d = params.decimals;
    let fees = Fees::default();
    let mut report = DemoReport {
        decimals: d,
        runtime: "docker (hardened: no network, read-only rootfs, no capabilities)".into(),
        ..Default::default()
    };
    report.initial_supply = p.supply(&config.mint).await?;
    let minted0 = p.emissions().await?.minted_in_all();
    let burned0 = p.market_books(0).await?.burned;

    // A creator with AKE; staked nodes (two for a batch) whose daemons run in-process.
    let creator = Keypair::new();
    net.faucet(&creator.pubkey(), 100 * 10u64.pow(d.into()))
        .await?;
    let frames = a
        .frames
        .as_deref()
        .map(ake_sdk::job_spec::FrameRange::parse)
        .transpose()?;
    let mut nodes = Vec::new();
    for _ in 0..if frames.is_some() { 2 } else { 1 } {
        nodes.push(start_node(&net, &p, docker.clone(), d, json).await?);
    }
    if let Some(frames) = frames {
        render_batch(
            &net, &p, &nodes, &creator, &image, frames, &a.out, json, started,
        )
        .await?;
        return hold_dashboard(a.dashboard.is_some()).await;
    }
    let node0 = &mut nodes[0];
    let hot = node0.hot.insecure_clone();
    let (stop, node_task) = (&node0.stop, &mut node0.task);

    // The creator posts the render job from the example spec.
    let mut file = JobSpecFile::parse(RENDER_JOB)?;
    file.image = Some(image.clone());
    let market = p.market(0).await?;
    let mut valid = file.validate(&market)?;
    let (_, update) = p.price(&config).await?;
    let q = oracle::quote(
        &market,
        (valid.args.gpus, valid.args.max_duration_secs),
        market.posting_fee_micro_usd, // a new creator: no fee steps
        &update,
        &config.params.oracle,
        d,
    )
    .ok_or_else(|| anyhow!("the local oracle price is unusable"))?;
    let usd_max = q.max_charge_micro_usd;
    report.quote_micro_usd = usd_max;
    report.quote_tokens = q.escrow;
    report.posting_fee = q.posting_fee;
    valid.args.max_tokens = q.total() + q.total() / 100;
    let creator_token = associated_token(&creator.pubkey(), &config.mint);
    let before = p.token_balance(&creator_token).await?;
    let job = pda::job(&creator.pubkey(), p.next_nonce(&creator.pubkey()).await?);
    let args = valid.args;
    let ix = p.post_job(&creator.pubkey(), 0, args).await?.1;
    send_instructions(p.chain.as_ref(), &creator, &[], &[ix], fees).await?;
    report.escrowed = p.job(&job).await?.map_or(0, |j| j.escrow);
    say(
        json,
        &format!(
            "quote {} -> escrowed {} AKE for job {job}",
            usd(usd_max),
            format(report.escrowed, d)
        ),
    );

    // The node picks it up, renders, commits, uploads and submits.
    let submitted = wait_for(
        &p,
        &job,
        |j| j.state == JobState::Submitted,
        Duration::from_secs(300),
        json,
    )
    .await?;
    let result = submitted
        .result
        .ok_or_else(|| anyhow!("submitted job without a result"))?;
    report.commitment = hex::encode(result.commitment);
    report.job = job.to_string();
    say(
        json,
        &format!(
            "result committed: {} ({} s of work)",
            report.commitment, result.usage.wall_secs
        ),
    );

    // Fetch the frame and verify it against the on-chain commitment, as `ake job results` does.
    let dest = a.out.join(job.to_string());
    let (frame, manifest) =
        crate::commands::job::fetch_results(&result.output_uri, &result.commitment, &dest).await?;
    if manifest.facts.exit_code != 0 || !frame.join("frame.png").exists() {
        bail!(
            "the render job failed (exit code {}); its logs are committed with the outputs",
            manifest.facts.exit_code
        );
    }
    report.frame = frame.join("frame.png").display().to_string();
    say(
        json,
        &format!("frame verified against the commitment: {}", report.frame),
    );

    // The crank finalizes after the challenge window, closes the epoch; the node claims.
    let cranker = Keypair::new();
    net.chain.airdrop(&cranker.pubkey(), 1_000_000_000).await?;
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut settled_epoch = None;
    let mut closed_epochs = 0;
    loop {
        let pass = crate::commands::crank::pass(&p, &cranker, fees).await?;
        report.jobs_finalized += pass.jobs_finalized.len() as u64;
        closed_epochs += pass.epochs_closed.len() as u64;
        if settled_epoch.is_none() && p.job(&job).await?.is_none() {
            let emissions = p.emissions().await?;
            settled_epoch = Some(p.current_epoch(&emissions).await?);
            say(json, "job finalized after the challenge window");
        }
        if let Some(e) = settled_epoch {
            let claimed = p.node_work(e, &pda::node(&hot.pubkey())).await?.is_none();
            if p.epoch_summary(e).await?.is_some_and(|s| s.closed) && claimed {
                break;
            }
        }
        if Instant::now() > deadline {
            bail!("the demo did not finish in time (epoch close and claim)");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let _ = stop.send(Stop::Now);
    let _ = node_task.await;
    report.epochs_closed = closed_epochs;
    // The node's reward is capped by what its jobs burned (it is the only node).
    let emissions = p.emissions().await?;
    let summary = p
        .epoch_summary(settled_epoch.expect("the loop ends once settled"))
        .await?
        .ok_or_else(|| anyhow!("the settled epoch has no summary"))?;
    report.node_reward = summary.claimed;
    report.reward_cap = ake_sdk::ake_emissions::math::reward_cap(
        summary.burned_tokens,
        emissions.rewards.max_reward_per_burn_bps,
    );

    let after = p.token_balance(&creator_token).await?;
    let paid = before.saturating_sub(after);
    // paid = charge + posting fee; what came back is the rest of the escrow.
    report.refunded = (report.escrowed + report.posting_fee).saturating_sub(paid);
    // Burn what the last settlement left, as the crank's next pass would.
    if let Some(ix) = p.sweep(&pda::market(0), cranker.pubkey()).await? {
        send_instructions(p.chain.as_ref(), &cranker, &[], &[ix], fees).await?;
    }
    report.burned = p.market_books(0).await?.burned - burned0;
    report.treasury_fee = paid - report.burned;
    report.minted = p.emissions().await?.minted_in_all() - minted0;
    report.final_supply = p.supply(&config.mint).await?;
    anyhow::ensure!(
        report.final_supply + report.burned == report.initial_supply + report.minted,
        "the token book does not balance: {} + {} minted - {} burned != {}",
        report.initial_supply,
        report.minted,
        report.burned,
        report.final_supply
    );
    print(json, &report, |r| {
        let ratio = if r.minted > 0 {
            r.burned as f64 / r.minted as f64
        } else {
            0.0
        };
        format!(
            "\nAKE demo finished in {:.0} s\n  quote        {} -> {} AKE\n  escrowed     {} AKE\n  burned       {} AKE (payment and posting fee)\n  treasury fee {} AKE\n  posting fee  {} AKE\n  node reward  {} AKE (capped at {} AKE: what its jobs burned)\n  refunded     {} AKE\n  minted       {} AKE over {} closed epoch(s) (node rewards; crank tips come out of the treasury's fees)\n  supply       {} -> {} AKE (burn/mint {:.6})\n  frame        {} (verified against commitment {})\n  runtime      {}",
            started.elapsed().as_secs_f64(),
            usd(r.quote_micro_usd),
            format(r.quote_tokens, d),
            format(r.escrowed, d),
            format(r.burned, d),
            format(r.treasury_fee, d),
            format(r.posting_fee, d),
            format(r.node_reward, d),
            format(r.reward_cap, d),
            format(r.refunded, d),
            format(r.minted, d),
            r.epochs_closed,
            format(r.initial_supply, d),
            format(r.final_supply, d),
            ratio,
            r.frame,
            &r.commitment[..16],
            r.runtime
        )
    });
    hold_dashboard(a.dashboard.is_some()).await
}

/// The demo's chain over JSON-RPC (where history is kept) and the
/// dashboard against it; both stop when the returned value is dropped.
async fn serve_dashboard(
    net: &Arc<Localnet>,
    bind: std::net::SocketAddr,
) -> anyhow::Result<DemoDashboard> {
    let (rpc_addr, rpc) = net.serve("127.0.0.1:0".parse()?).await?;
    let url = format!("http://{rpc_addr}");
    let ctx = crate::context::Ctx {
        protocol: Protocol::new(Arc::new(ake_sdk::chain::rpc::RpcChain::new(
            &url,
            solana_commitment_config::CommitmentConfig::confirmed(),
        ))),
        url: url.clone(),
        keypair_path: PathBuf::new(),
        fees: Fees::default(),
        json: false,
    };
    let (addr, server) = crate::commands::dashboard::serve(ctx, bind, 24).await?;
    // On stderr in every output mode: stdout carries the JSON report.
    eprintln!("dashboard of the demo at http://{addr}/ (its chain's JSON-RPC: {url})");
    Ok(DemoDashboard { rpc, server })
}

/// Stops the demo's RPC server and dashboard when dropped.
struct DemoDashboard {
    rpc: tokio::task::JoinHandle<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for DemoDashboard {
    fn drop(&mut self) {
        self.rpc.abort();
        self.server.abort();
    }
}

/// With a dashboard, the demo ends at Ctrl-C, not at its report.
async fn hold_dashboard(serving: bool) -> anyhow::Result<()> {
    if serving {
        eprintln!("the dashboard stays up until Ctrl-C");
        tokio::signal::ctrl_c().await?;
    }
    Ok(())
}

/// A staked node registered on market 0 with its daemon running in-process.
pub struct DemoNode {
    pub hot: Keypair,
    pub stop: tokio::sync::watch::Sender<Stop>,
    pub task: tokio::task::JoinHandle<()>,
    _work: tempfile::TempDir,
}

async fn start_node(
    net: &Localnet,
    p: &Protocol,
    docker: DockerRuntime,
    d: u8,
    json: bool,
) -> anyhow::Result<DemoNode> {
    let chain = p.chain.as_ref();
    let config = p.config().await?;
    let fees = Fees::default();
    let owner = Keypair::new();
    let hot = Keypair::new();
    net.faucet(&owner.pubkey(), 1_000 * 10u64.pow(d.into()))
        .await?;
    net.chain.airdrop(&hot.pubkey(), 1_000_000_000).await?;
    let stake = 400 * 10u64.pow(d.into());
    send_instructions(
        chain,
        &owner,
        &[],
        &[ixs::deposit_stake(
            owner.pubkey(),
            config.mint,
            associated_token(&owner.pubkey(), &config.mint),
            stake,
        )],
        fees,
    )
    .await?;
    let profile = HardwareProfile {
        gpu_model: "CPU (demo)".into(),
        vram_mib: 0,
        benchmark_hash: [0; 32],
    };
    send_instructions(
        chain,
        &owner,
        &[&hot],
        &[ixs::register_node(
            owner.pubkey(),
            hot.pubkey(),
            pda::market(0),
            1,
            profile,
        )],
        fees,
    )
    .await?;
    say(
        json,
        &format!(
            "node {} registered and staked {} AKE",
            pda::node(&hot.pubkey()),
            format(stake, d)
        ),
    );
    // The node daemon, in-process, on ake-node's runtime.
    let work = tempfile::tempdir()?;
    let daemon = Arc::new(Daemon {
        slot: ake_node::config::SINGLE_SLOT.into(),
        cpuset: None,
        protocol: Protocol::new(net.chain.clone()),
        signer: hot.insecure_clone(),
        node: pda::node(&hot.pubkey()),
        runtime: docker,
        store: OutputStore::from_url(&format!("file://{}", work.path().join("store").display()))?,
        journal: Journal::open(&work.path().join("journal.redb"))?,
        gpus: detect_gpus(None),
        gpu_health: None,
        // The demo market is a CPU market: no job gets a GPU or a toolkit hook.
        host_problems: Vec::new(),
        metrics: Arc::new(NodeMetrics::new()),
        work_dir: work.path().join("jobs"),
        max_output_bytes: 64 << 20,
        max_output_files: 1_000,
        live_logs_min_secs: ake_node::config::DEFAULT_LIVE_LOGS_MIN_SECS,
        appeal_lost_audits: true,
        fetcher: ake_node::inputs::Fetcher::new(Default::default())?,
        // Localnet's completion grace is 5 s: keep a short reserve so the
        // render keeps most of its budget.
        deadline_reserve: Duration::from_secs(15),
        fees,
        priority_fee: Default::default(),
        poll: Duration::from_millis(300),
        wake: Arc::new(tokio::sync::Notify::new()),
        missing_since: Default::default(),
        balance_seen: Default::default(),
        match_looked: Default::default(),
        picked_up: Default::default(),
        // The in-process chain has no RPC endpoint to measure.
        endpoints: None,
        rpc_health: Default::default(),
        staged: Default::default(),
        // The demo's outputs are capped at 64 MiB and it fetches no inputs.
        work_floor_bytes: 64 << 20,
        journal_path: work.path().join("journal.redb"),
        slow_checks: Default::default(),
        not_ready: Default::default(),
        recheck: Default::default(),
        last_release: Default::default(),
        // Outputs go to a local directory.
        uplink: std::sync::Mutex::new(ake_node::output_store::Uplink::new(10_000)),
    });
    let (stop, stopped) = tokio::sync::watch::channel(Stop::Serve);
    let task = tokio::spawn(async move { daemon.run(stopped).await });
    Ok(DemoNode {
        hot,
        stop,
        task,
        _work: work,
    })
}

/// `ake demo --frames`: one batch posted, two nodes sharing its frames (the
/// submit re-arms each onto the next), every frame fetched and verified,
/// the crank finalizing, the batch closed, the epochs closed and claimed.
#[allow(clippy::too_many_arguments)]
async fn render_batch(
    net: &Localnet,
    p: &Protocol,
    nodes: &[DemoNode],
    creator: &Keypair,
    image: &str,
    frames: ake_sdk::job_spec::FrameRange,
    out: &Path,
    json: bool,
    started: Instant,
) -> anyhow::Result<()> {
    use ake_sdk::protocol::FrameState;
    let chain = p.chain.as_ref();
    let fees = Fees::default();
    let config = p.config().await?;
    let d = ake_sdk::accounts::mint_decimals(chain, &config.mint).await?;
    let supply0 = p.supply(&config.mint).await?;
    let (minted0, burned0) = (
        p.emissions().await?.minted_in_all(),
        p.market_books(0).await?.burned,
    );
    let mut file = JobSpecFile::parse(RENDER_BATCH)?;
    file.image = Some(image.to_string());
    file.frames = Some(format!("{}-{}", frames.first, frames.last()));
    let market = p.market(0).await?;
    let valid = file.validate(&market)?;
    let args = ake_sdk::ake_market::instructions::PostBatchArgs {
        nonce: 0,
        first_frame: frames.first,
        frame_count: frames.count,
        parallelism: frames.count,
        gpus: valid.args.gpus,
        max_duration_secs: valid.args.max_duration_secs,
        min_reputation_bps: valid.args.min_reputation_bps,
        max_tokens: u64::MAX,
        spec: valid.args.spec,
    };
    let creator_token = associated_token(&creator.pubkey(), &config.mint);
    let before = p.token_balance(&creator_token).await?;
    let (batch, ix) = p.post_batch(&creator.pubkey(), 0, args).await?;
    send_instructions(chain, creator, &[], &[ix], fees).await?;
    let posted = p
        .batch(&batch)
        .await?
        .ok_or_else(|| anyhow!("batch {batch} missing after posting"))?;
    let escrowed = posted.escrow_per_frame * u64::from(frames.count);
    say(
        json,
        &format!(
            "posted batch {batch}: frames {}-{}, escrowed {} AKE",
            frames.first,
            frames.last(),
            format(escrowed, d)
        ),
    );

    let cranker = Keypair::new();
    net.chain.airdrop(&cranker.pubkey(), 1_000_000_000).await?;
    let dest = out.join(batch.to_string());
    let mut verified = std::collections::BTreeMap::new();
    let mut by_node: std::collections::BTreeMap<Pubkey, u32> = Default::default();
    let mut epochs = std::collections::BTreeSet::new();
    let mut settled = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        crate::commands::crank::pass(p, &cranker, fees).await?;
        let now_epoch = p.current_epoch(&p.emissions().await?).await?;
        let (_, states) = p.batch_frames(&batch).await?;
        for f in &states {
            match &f.state {
                FrameState::Open(job) => {
                    if let (Some(r), false) = (&job.result, verified.contains_key(&f.frame)) {
                        let dir = dest.join(format!("frame-{:06}", f.frame));
                        let (dir, manifest) =
                            crate::commands::job::fetch_results(&r.output_uri, &r.commitment, &dir)
                                .await?;
                        let png = dir.join(format!("frame-{:04}.png", f.frame));
                        if manifest.facts.exit_code != 0 || !png.exists() {
                            bail!(
                                "frame {} failed to render (exit code {}); its logs are committed with the outputs",
                                f.frame,
                                manifest.facts.exit_code
                            );
                        }
                        *by_node.entry(job.node).or_default() += 1;
                        say(
                            json,
                            &format!(
                                "frame {} rendered by node {} and verified: {}",
                                f.frame,
                                job.node,
                                png.display()
                            ),
                        );
                        verified.insert(f.frame, png.display().to_string());
                    }
                }
                // Seen a pass late, it may have settled in the epoch before.
                FrameState::Settled if settled.insert(f.frame) => {
                    epochs.insert(now_epoch);
                    epochs.insert(now_epoch.saturating_sub(1));
                }
                _ => {}
            }
        }
        if settled.len() == frames.count as usize {
            let mut all_claimed = true;
            for e in &epochs {
                let closed = p.epoch_summary(*e).await?.is_some_and(|s| s.closed);
                for n in nodes {
                    let unclaimed = p.node_work(*e, &pda::node(&n.hot.pubkey())).await?;
                    all_claimed &= closed && unclaimed.is_none();
                }
            }
            if all_claimed {
                break;
            }
        }
        if Instant::now() > deadline {
            bail!(
                "the demo did not finish in time: {} of {} frames settled",
                settled.len(),
                frames.count
            );
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    while p.batch(&batch).await?.is_some() {
        let ix = p.close_batch(&batch).await?;
        send_instructions(chain, creator, &[], &[ix], fees).await?;
    }
    for n in nodes {
        let _ = n.stop.send(Stop::Now);
    }
    // Burn what the last settlements left, as the crank's next pass would.
    if let Some(ix) = p.sweep(&pda::market(0), creator.pubkey()).await? {
        send_instructions(chain, creator, &[], &[ix], fees).await?;
    }
    let burned = p.market_books(0).await?.burned - burned0;
    let minted = p.emissions().await?.minted_in_all() - minted0;
    let supply = p.supply(&config.mint).await?;
    anyhow::ensure!(
        supply + burned == supply0 + minted,
        "the token book does not balance: {supply0} + {minted} minted - {burned} burned != {supply}"
    );
    let paid = before.saturating_sub(p.token_balance(&creator_token).await?);
    let report = serde_json::json!({
        "batch": batch.to_string(),
        "frames": verified,
        "frames_by_node": by_node.iter().map(|(k, v)| (k.to_string(), *v)).collect::<std::collections::BTreeMap<_, _>>(),
        "escrowed": escrowed,
        "paid": paid,
        "burned": burned,
        "minted": minted,
        "initial_supply": supply0,
        "final_supply": supply,
        "batch_closed": true,
    });
    print(json, &report, |_| {
        format!(
            "\nAKE demo (batch) finished in {:.0} s\n  frames       {} rendered across {} nodes ({}), each verified against its commitment, in {}\n  escrowed     {} AKE, paid {} AKE (charges and the one posting fee), the rest refunded\n  burned       {} AKE, minted {} AKE\n  supply       {} -> {} AKE\n  batch        {batch} closed: every lamport of rent back",
            started.elapsed().as_secs_f64(),
            verified.len(),
            by_node.len(),
            by_node.values().map(|v| v.to_string()).collect::<Vec<_>>().join(" + "),
            dest.display(),
            format(escrowed, d),
            format(paid, d),
            format(burned, d),
            format(minted, d),
            format(supply0, d),
            format(supply, d),
        )
    });
    Ok(())
}

async fn wait_for(
    p: &Protocol,
    job: &Pubkey,
    done: impl Fn(&ake_sdk::ake_market::state::Job) -> bool,
    limit: Duration,
    json: bool,
) -> anyhow::Result<ake_sdk::ake_market::state::Job> {
    let end = Instant::now() + limit;
    let mut last = None;
    loop {
        if let Some(j) = p.job(job).await? {
            if last != Some(j.state) {
                say(
                    json,
                    &format!("  job {}", crate::commands::job::state_name(j.state)),
                );
                last = Some(j.state);
            }
            if done(&j) {
                return Ok(j);
            }
        }
        if Instant::now() > end {
            bail!("job {job} did not get there in {} s", limit.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
