//! `ake-node`: the daemon GPU owners run. `run` serves jobs; `status` shows
//! the node and its journal; `doctor` checks everything a node needs and
//! says what to fix; `init` writes a config and a hot signer key.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ake_node::config::{check_key_file_permissions, Commitment, NodeConfig, Slot};
use ake_node::daemon::{node_account, Daemon, Stop};
use ake_node::gpu::{detect_gpus, GpuInventory};
use ake_node::host_security::{host_problems, toolkit_config_at, toolkit_version};
use ake_node::inputs::Fetcher;
use ake_node::instance_lock::InstanceLock;
use ake_node::journal::Journal;
use ake_node::metrics::{sample_gpus, serve, NodeMetrics, SlotLabels};
use ake_node::output_store::OutputStore;
use ake_node::readiness;
use ake_node::runtime::DockerRuntime;
use ake_node::slots::{cpuset_on_host, cpusets, near_cpus};
use ake_sdk::chain::rpc::{EndpointHealth, FailoverChain};
use ake_sdk::chain::Chain;
use ake_sdk::protocol::Protocol;
use ake_sdk::sender::Fees;
use anyhow::{anyhow, Context};
use clap::{Parser, Subcommand};
use solana_commitment_config::CommitmentConfig;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::{read_keypair_file, write_keypair_file, Keypair, Signer};
use tracing::Instrument;

#[derive(Parser)]
#[command(name = "ake-node", version, about = "AKE GPU node operator daemon")]
struct Cli {
    /// Config file (TOML).
    #[arg(
        long,
        short = 'c',
        global = true,
        env = "AKE_NODE_CONFIG",
        default_value = "/etc/ake-node/config.toml"
    )]
    config: PathBuf,
    /// Overrides rpc_urls from the config.
    #[arg(long, global = true, env = "AKE_NODE_RPC_URL")]
    rpc_url: Option<String>,
    /// Logs as JSON lines (for journald / log shippers).
    #[arg(long, global = true, env = "AKE_NODE_LOG_JSON")]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve jobs until SIGTERM.
    Run,
    /// The node's on-chain state and unfinished journal entries.
    Status,
    /// Check Docker, NVML, RPC, keys, balance, stake and registration.
    Doctor,
    /// Ask the running daemon to finish the job in progress (run, upload,
    /// submit without re-arming), leave the queue and exit, as SIGTERM
    /// does; waits until it has exited.
    Drain {
        /// Return once the daemon is asked, without waiting for it to exit.
        #[arg(long)]
        no_wait: bool,
    },
    /// Write a config and new signer keypairs (mode 600) where absent, and
    /// print the owner's command that registers them.
    Init {
        #[arg(long, default_value = "http://127.0.0.1:8899")]
        rpc_url: String,
        #[arg(long, default_value = "/var/lib/ake-node")]
        state_dir: PathBuf,
        /// Split the host into slots, each a node of its own taking jobs at
        /// once: `8x1`, `4x2`, `2x4`, `1x8` (slots x GPUs each, each slot's
        /// GPUs on one NUMA node where they fit), or `4xcpu` (CPU slots
        /// sharing out the CPUs). Without it: one node on every GPU.
        #[arg(long)]
        slots: Option<String>,
        /// The libnvidia-ml.so that lists the GPUs (the system's when absent).
        #[arg(long)]
        nvml_lib: Option<PathBuf>,
    },
}

fn commitment(c: Commitment) -> CommitmentConfig {
    match c {
        Commitment::Processed => CommitmentConfig::processed(),
        Commitment::Confirmed => CommitmentConfig::confirmed(),
        Commitment::Finalized => CommitmentConfig::finalized(),
    }
}

fn load(cli: &Cli) -> anyhow::Result<NodeConfig> {
    let mut config = NodeConfig::load(&cli.config)
        .with_context(|| format!("config {}", cli.config.display()))?;
    if let Some(url) = &cli.rpc_url {
        config.rpc_urls = vec![url.clone()];
    }
    config.validate()?;
    Ok(config)
}

fn signer(path: &Path) -> anyhow::Result<Keypair> {
    check_key_file_permissions(path)?;
    read_keypair_file(path)
        .map_err(|e| anyhow!("cannot read the signer keypair {}: {e}", path.display()))
}

/// All configured endpoints, in order: the next takes over when one is down.
fn chain(config: &NodeConfig) -> Arc<FailoverChain> {
    Arc::new(FailoverChain::new(
        &config.rpc_urls,
        commitment(config.commitment),
    ))
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,tarpc=error,solana_metrics=off")
    });
    if cli.log_json {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = runtime.block_on(async {
        match &cli.command {
            Command::Run => run(&cli).await,
            Command::Status => status(&cli).await,
            Command::Doctor => doctor(&cli).await,
            Command::Drain { no_wait } => drain(&cli, *no_wait).await,
            Command::Init {
                rpc_url,
                state_dir,
                slots,
                nvml_lib,
            } => init(
                &cli.config,
                rpc_url,
                state_dir,
                slots.as_deref(),
                nvml_lib.as_deref(),
            ),
        }
    });
    // An NVML call stuck on a lost GPU holds a blocking thread: exit anyway.
    runtime.shutdown_timeout(Duration::from_secs(2));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: &Cli) -> anyhow::Result<()> {
    let config = load(cli)?;
    std::fs::create_dir_all(&config.work_dir)
        .with_context(|| format!("work_dir {}", config.work_dir.display()))?;
    let _lock = InstanceLock::acquire(&config.work_dir.join("ake-node.lock"))?;
    let slots = config.slots();
    let signers = slots
        .iter()
        .map(|slot| signer(&slot.signer))
        .collect::<anyhow::Result<Vec<_>>>()?;
    for (i, key) in signers.iter().enumerate() {
        if let Some(j) = signers[..i].iter().position(|k| k.pubkey() == key.pubkey()) {
            anyhow::bail!(
                "slots {} and {} have the same signer key {}: each slot is a node of its own, with its own key (`ake-node init --slots` writes them)",
                slots[j].name,
                slots[i].name,
                key.pubkey()
            );
        }
    }
    // Unknown is not failed: wait for the engine rather than quit.
    let docker = loop {
        match DockerRuntime::connect(config.runtime.clone(), config.image_allowlist.clone()).await {
            Ok(d) => break d,
            Err(e) => {
                tracing::warn!("Docker is not answering ({e}); retrying in 5 s");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    };
    let gpus = detect_gpus(config.nvml_lib_path.as_deref());
    match &gpus {
        GpuInventory::None { reason } => {
            tracing::warn!("no NVML ({reason}): this node serves CPU-only markets")
        }
        GpuInventory::Nvml { devices, .. } => {
            for d in devices {
                tracing::info!(uuid = %d.uuid, model = %d.model, vram_mib = d.vram_mib, "GPU");
            }
        }
    }
    let host_problems = gpu_host_problems(&config, &gpus).await;
    for problem in &host_problems {
        tracing::error!("this GPU host will not take jobs: {problem}");
    }
    let parts = slot_parts(&slots, &gpus)?;
    let nodes = slots
        .iter()
        .zip(&signers)
        .map(|(slot, signer)| slot_node(slot, signer))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let labels: Vec<SlotLabels> = slots
        .iter()
        .zip(&nodes)
        .map(|(slot, node)| SlotLabels {
            slot: slot.name.clone(),
            node: node.to_string(),
            market: config.market.to_string(),
        })
        .collect();
    let metrics = NodeMetrics::for_slots(&labels);
    let server = serve(
        config.metrics_addr,
        metrics.clone(),
        metrics_token(&config)?,
    )
    .await?;
    tracing::info!("metrics on http://{}/metrics", server.local_addr);
    let chain = chain(&config);
    let host_metrics = Arc::clone(&metrics[0]);
    chain.on_unavailable(Box::new(move |endpoint, method| {
        host_metrics.rpc_error(endpoint, method)
    }));
    // Measured before the first read, so the websocket goes to the best.
    for endpoint in chain.health().await {
        match endpoint.problem() {
            Some(problem) => tracing::warn!("{problem}"),
            None => tracing::info!(
                slot = endpoint.slot,
                latency_ms = endpoint.latency_ms,
                "RPC {} is current",
                endpoint.url
            ),
        }
    }
    let host_health = gpus.health();
    let fetcher = Fetcher::new(config.inputs.clone()).context("building the input fetcher")?;
    let mut daemons = Vec::new();
    let mut background = Vec::new();
    for ((((slot, signer), node), part), metrics) in
        slots.iter().zip(signers).zip(nodes).zip(parts).zip(metrics)
    {
        std::fs::create_dir_all(&slot.work_dir)
            .with_context(|| format!("work dir {}", slot.work_dir.display()))?;
        let SlotPart {
            gpus: inventory,
            cpuset,
            problem,
        } = part;
        if let Some(problem) = &problem {
            tracing::error!("this slot will not take jobs: {problem}");
        }
        let uuids: Vec<String> = inventory.devices().iter().map(|d| d.uuid.clone()).collect();
        if let Ok(sampler) = inventory.sampler(&uuids) {
            if !uuids.is_empty() {
                let every = Duration::from_secs(5);
                background.push(sample_gpus(Arc::clone(&metrics), sampler, every));
            }
        }
        let wake = Arc::new(tokio::sync::Notify::new());
        if let Some(ws) = chain.websocket_url() {
            let level = commitment(config.commitment);
            background.push(ake_sdk::watch::watch_account(
                ws,
                node,
                level,
                Arc::clone(&wake),
            ));
        }
        tracing::info!(slot = %slot.name, node = %node, gpus = ?uuids, cpuset = ?cpuset, "slot");
        daemons.push(Daemon {
            slot: slot.name.clone(),
            cpuset,
            protocol: Protocol::new(Arc::clone(&chain) as Arc<dyn ake_sdk::chain::Chain>),
            signer,
            node,
            runtime: docker.clone(),
            // Its own client: its upload counters measure its own uploads.
            store: OutputStore::from_url(&config.output_store)?,
            journal: Journal::open(&slot.journal_path)?,
            gpu_health: host_health.as_ref().map(|h| h.of(&inventory)),
            host_problems: host_problems.iter().cloned().chain(problem).collect(),
            gpus: inventory,
            metrics,
            work_dir: slot.work_dir.clone(),
            max_output_bytes: config.max_output_bytes,
            max_output_files: config.max_output_files,
            live_logs_min_secs: config.live_logs_min_secs,
            appeal_lost_audits: config.appeal_lost_audits,
            fetcher: fetcher.clone(),
            deadline_reserve: Duration::from_secs(config.deadline_reserve_secs),
            fees: Fees::default(),
            priority_fee: config.priority_fee,
            poll: Duration::from_millis(config.poll_interval_ms),
            wake,
            missing_since: Default::default(),
            balance_seen: Default::default(),
            match_looked: Default::default(),
            picked_up: Default::default(),
            endpoints: Some(Arc::clone(&chain)),
            rpc_health: Default::default(),
            staged: Default::default(),
            // One job at its caps: size the disk for every slot's (README).
            work_floor_bytes: config.work_floor_bytes(),
            journal_path: slot.journal_path.clone(),
            slow_checks: Default::default(),
            not_ready: Default::default(),
            recheck: Default::default(),
            last_release: Default::default(),
            uplink: std::sync::Mutex::new(ake_node::output_store::Uplink::new(config.uplink_mbit)),
        });
    }
    let (stop, stopped) = tokio::sync::watch::channel(Stop::Serve);
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        for next in [Stop::Drain, Stop::Now] {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            if next == Stop::Drain {
                tracing::info!("draining: the job in progress runs to its result, then the node leaves the queue and ake-node exits; signal again to stop at once");
            }
            let _ = stop.send(next);
        }
    });
    tracing::info!(slots = daemons.len(), "serving jobs");
    // Each slot is a worker of its own; the host exits when all have.
    futures_util::future::join_all(daemons.iter().map(|daemon| {
        let span = tracing::info_span!("slot", name = %daemon.slot);
        daemon.run(stopped.clone()).instrument(span)
    }))
    .await;
    background.iter().for_each(|task| task.abort());
    Ok(())
}

/// Each slot's GPUs (exactly those it names; every GPU for a single-slot
/// node) and CPU set (configured, or NUMA-near its GPUs).
fn slot_parts(slots: &[Slot], host: &GpuInventory) -> anyhow::Result<Vec<SlotPart>> {
    let (inventories, problem_of): (Vec<GpuInventory>, Vec<Option<String>>) =
        slots.iter().map(|slot| slot_gpus(slot, host)).unzip();
    let wanted: Vec<(Option<String>, Vec<u32>)> = slots
        .iter()
        .zip(&inventories)
        .map(|(slot, inventory)| {
            // A single-slot node keeps the whole host.
            let near = match slot.gpus {
                Some(_) => near_cpus(inventory.devices()),
                None => Vec::new(),
            };
            (slot.cpuset.clone(), near)
        })
        .collect();
    // SAFETY: sysconf has no memory preconditions.
    let online = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    let host_cpus = usize::try_from(online).unwrap_or(1);
    let cpusets = cpusets(&wanted);
    for (slot, cpuset) in slots.iter().zip(&cpusets) {
        if let Some(set) = cpuset {
            anyhow::ensure!(
                cpuset_on_host(set, host_cpus),
                "slot {}: CPUs {set} are not all on this host (it has {host_cpus}): fix the slot's cpuset",
                slot.name
            );
        }
    }
    Ok(inventories
        .into_iter()
        .zip(cpusets)
        .zip(problem_of)
        .map(|((gpus, cpuset), problem)| SlotPart {
            gpus,
            cpuset,
            problem,
        })
        .collect())
}

/// The slot's GPUs; or, when NVML does not list one of them, none and why
/// (the slot stays out of the queue and finishes what its journal holds).
fn slot_gpus(slot: &Slot, host: &GpuInventory) -> (GpuInventory, Option<String>) {
    let Some(uuids) = &slot.gpus else {
        return (host.clone(), None);
    };
    match host.only(uuids) {
        Ok(gpus) => (gpus, None),
        Err(e) => {
            let listed: Vec<&str> = host.devices().iter().map(|d| d.uuid.as_str()).collect();
            let problem = format!(
                "slot {}: {e}; NVML lists [{}]: fix the GPU, or the slot's gpus (`nvidia-smi -L` names them)",
                slot.name,
                listed.join(", ")
            );
            let none = GpuInventory::None {
                reason: problem.clone(),
            };
            (host.only(&[]).unwrap_or(none), Some(problem))
        }
    }
}

/// What a slot gets of its host.
struct SlotPart {
    gpus: GpuInventory,
    cpuset: Option<String>,
    /// Why the slot cannot offer its GPUs (one NVML does not list): it
    /// stays out of the queue and finishes what its journal holds.
    problem: Option<String>,
}

/// The bearer token scrapes must carry, from `metrics_token_file` (a
/// private file, like a key).
fn metrics_token(config: &NodeConfig) -> anyhow::Result<Option<String>> {
    let Some(path) = &config.metrics_token_file else {
        return Ok(None);
    };
    check_key_file_permissions(path)?;
    let token = std::fs::read_to_string(path)
        .with_context(|| format!("metrics_token_file {}", path.display()))?;
    Ok(Some(token.trim().to_string()))
}

/// The slot's Node account: configured, or derived from its key.
fn slot_node(slot: &Slot, signer: &Keypair) -> anyhow::Result<Pubkey> {
    match &slot.node_account {
        Some(n) => n
            .parse()
            .map_err(|_| anyhow!("node_account '{n}' is not a public key")),
        None => Ok(node_account(&signer.pubkey())),
    }
}

/// Signals the daemon holding the work dir's lock to drain, then waits
/// until the lock is free (the daemon has exited).
async fn drain(cli: &Cli, no_wait: bool) -> anyhow::Result<()> {
    let config = load(cli)?;
    let lock = config.work_dir.join("ake-node.lock");
    let Some(holder) = InstanceLock::holder(&lock)? else {
        println!(
            "no ake-node is running on {}: nothing to drain",
            config.work_dir.display()
        );
        return Ok(());
    };
    let pid: i32 = holder
        .parse()
        .map_err(|_| anyhow!("{} names no pid ({holder:?})", lock.display()))?;
    // SAFETY: kill has no memory preconditions; the pid holds the lock.
    if unsafe { libc::kill(pid, libc::SIGTERM) } != 0 {
        anyhow::bail!(
            "cannot signal ake-node (pid {pid}): {}; run drain as the daemon's user or as root",
            std::io::Error::last_os_error()
        );
    }
    println!("asked ake-node (pid {pid}) to drain: the job in progress runs to its result, then the node leaves the queue and the daemon exits");
    if no_wait {
        return Ok(());
    }
    let started = std::time::Instant::now();
    let mut said = started;
    while InstanceLock::holder(&lock)?.is_some() {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if said.elapsed() >= Duration::from_secs(30) {
            said = std::time::Instant::now();
            println!(
                "still draining after {} s (`ake-node status` shows the job in progress)",
                started.elapsed().as_secs()
            );
        }
    }
    // It exited: drained, or stopped (a second signal, a crash) with work
    // the journal resumes at the next start.
    let mut open = Vec::new();
    for slot in config.slots() {
        open.extend(Journal::open(&slot.journal_path)?.open_jobs().await?);
    }
    if !open.is_empty() {
        anyhow::bail!(
            "ake-node exited before finishing {} job(s) ({}): NOT drained; they resume when it starts again",
            open.len(),
            open.join(", ")
        );
    }
    println!("drained: ake-node has exited with no job in progress");
    Ok(())
}

/// Known container escapes of this host's toolkit and driver (nothing to
/// check without GPUs: CPU jobs get no GPU device and no toolkit hook).
async fn gpu_host_problems(config: &NodeConfig, gpus: &GpuInventory) -> Vec<String> {
    if gpus.is_cpu_only() {
        return Vec::new();
    }
    let toolkit = toolkit_version(config.nvidia_toolkit_cli.as_deref()).await;
    let (settings, advice) = toolkit_config_at(config.nvidia_toolkit_config.as_deref());
    for line in advice {
        tracing::warn!("{line}");
    }
    let mut problems = host_problems(&toolkit, &gpus.driver_version());
    problems.extend(settings);
    problems
}

async fn status(cli: &Cli) -> anyhow::Result<()> {
    let config = load(cli)?;
    let p = Protocol::new(chain(&config));
    // The running daemon holds the journals: asked once, for every slot.
    let mut running = None;
    for slot in config.slots() {
        if !config.slots.is_empty() {
            println!("slot {}", slot.name);
        }
        let signer = signer(&slot.signer)?;
        let node = slot_node(&slot, &signer)?;
        match p.node(&node).await? {
            Some(n) => println!(
                "node {node}\n  status {:?}{}\n  job {}\n  reputation {} bps, completed {}, expired {}, disputed {}",
                n.status,
                if n.suspended {
                    " (suspended: the owner or its operator runs `ake node rearm`)"
                } else if n.held {
                    " (held out of the queue by the owner or its operator: `ake node rearm` releases it)"
                } else {
                    ""
                },
                n.current_job,
                n.reputation_bps,
                n.jobs_completed,
                n.jobs_expired,
                n.jobs_disputed
            ),
            None => println!("node {node} is not registered: `ake node register --signer {}`", slot.signer.display()),
        }
        if let Ok(lamports) = p.chain.balance(&signer.pubkey()).await {
            let need = config
                .priority_fee
                .next_transactions_lamports(ake_node::daemon::MAX_COMPUTE_UNITS);
            println!(
                "  hot key {} holds {lamports} lamports{}",
                signer.pubkey(),
                if lamports < need {
                    format!(": below the {need} its next transactions may cost, so the node stays out of the queue; send it SOL")
                } else {
                    String::new()
                }
            );
        }
        match Journal::open(&slot.journal_path) {
            Ok(journal) => {
                for key in journal.open_jobs().await? {
                    let progress = journal.progress(&key).await?;
                    println!("  unfinished in the journal: {key} at {}", progress.name());
                }
            }
            Err(_) => {
                if running.is_none() {
                    running = Some(
                        daemon_status(&config)
                            .await
                            .context("the journal is locked (a daemon runs)")?,
                    );
                }
                let all = running.as_ref().expect("read above");
                let mine = all["slots"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|s| s["slot"].as_str() == Some(slot.name.as_str()));
                if let Some(status) = mine {
                    print_running(status);
                }
            }
        }
    }
    Ok(())
}

/// What a running slot says of itself (its entry of `GET /status`).
fn print_running(status: &serde_json::Value) {
    for problem in status["not_ready"].as_array().into_iter().flatten() {
        println!("  not ready: {}", problem.as_str().unwrap_or("?"));
    }
    let endpoints: Vec<EndpointHealth> =
        serde_json::from_value(status["rpc"].clone()).unwrap_or_default();
    for endpoint in endpoints {
        match endpoint.problem() {
            Some(problem) => println!("  RPC degraded: {problem}"),
            None => println!(
                "  RPC {} current (slot {}, {} ms)",
                endpoint.url,
                endpoint.slot.unwrap_or(0),
                endpoint.latency_ms
            ),
        }
    }
    if status["draining"].as_bool() == Some(true) {
        println!("  draining: finishing the job in progress, taking no other, then exiting");
    }
    for attempt in status["open"].as_array().into_iter().flatten() {
        println!(
            "  in progress (daemon running): {} at {}",
            attempt["attempt"].as_str().unwrap_or("?"),
            attempt["progress"].as_str().unwrap_or("?")
        );
    }
}

/// A warning when the hot key holds more than `max_sol`: it signs on a host
/// that runs strangers' containers, so an escape must find little there.
fn hot_key_excess(lamports: u64, max_sol: f64) -> Option<String> {
    let sol = lamports as f64 / 1e9;
    (sol > max_sol).then(|| {
        format!(
            "the signer holds {sol:.3} SOL, more than hot_key_max_sol ({max_sol}): a container escape would take it; keep about a week of fees there and move the rest to the owner's cold key"
        )
    })
}

/// What the running daemon answers on `GET /status` (its journal is
/// locked, so a second process asks it).
async fn daemon_status(config: &NodeConfig) -> anyhow::Result<serde_json::Value> {
    let mut addr = config.metrics_addr;
    // Bound to every interface: asked on this host's loopback.
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let url = format!("http://{addr}/status");
    let mut request = reqwest::Client::new().get(&url);
    if let Some(token) = metrics_token(config)? {
        request = request.bearer_auth(token);
    }
    let body = request
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .with_context(|| format!("{url} does not answer"))?
        .bytes()
        .await?;
    serde_json::from_slice(&body).with_context(|| format!("{url} did not answer JSON"))
}

fn check(ok: bool, what: &str, fix: &str) -> bool {
    if ok {
        println!("  ok    {what}");
    } else {
        println!("  FIX   {what}: {fix}");
    }
    ok
}

async fn doctor(cli: &Cli) -> anyhow::Result<()> {
    println!("ake-node doctor ({})", cli.config.display());
    let config = match load(cli) {
        Ok(c) => {
            check(true, "config is valid", "");
            c
        }
        Err(e) => {
            check(false, "config is valid", &format!("{e:#}"));
            anyhow::bail!("fix the config first");
        }
    };
    let mut healthy = true;
    let slots = config.slots();
    for slot in &slots {
        let key = check_key_file_permissions(&slot.signer);
        healthy &= check(
            key.is_ok(),
            &format!("signer key file {} is private", slot.signer.display()),
            &key.err().map(|e| e.to_string()).unwrap_or_default(),
        );
    }
    match DockerRuntime::connect(config.runtime.clone(), config.image_allowlist.clone()).await {
        Ok(rt) => {
            let v = rt
                .docker()
                .version()
                .await
                .ok()
                .and_then(|v| v.version)
                .unwrap_or_default();
            check(true, &format!("Docker engine answers (version {v})"), "");
            let live_restore = rt
                .docker()
                .info()
                .await
                .ok()
                .and_then(|i| i.live_restore_enabled)
                .unwrap_or(false);
            // A warning, not a failure: the node works, but an engine restart
            // kills running jobs (they are run again or handed back).
            check(
                true,
                if live_restore {
                    "Docker live-restore is on: jobs survive an engine restart"
                } else {
                    "WARN  Docker live-restore is off: an engine restart or upgrade kills running jobs"
                },
                "",
            );
            if !live_restore {
                println!("        set {{\"live-restore\": true}} in /etc/docker/daemon.json and reload dockerd");
            }
        }
        Err(e) => {
            healthy &= check(
                false,
                "Docker engine answers",
                &format!("{e}; start dockerd and add this user to the docker group"),
            )
        }
    }
    let inventory = detect_gpus(config.nvml_lib_path.as_deref());
    match &inventory {
        GpuInventory::Nvml { devices, .. } => {
            check(true, &format!("NVML sees {} GPU(s)", devices.len()), "");
            let problems = match inventory.health() {
                Some(health) => health.checked().await,
                None => Vec::new(),
            };
            healthy &= check(
                problems.is_empty(),
                "GPUs are healthy (no uncorrected ECC errors, no pages pending retirement)",
                &format!(
                    "{}; the node stays out of the queue until fixed",
                    problems.join("; ")
                ),
            );
            let toolkit = toolkit_version(config.nvidia_toolkit_cli.as_deref()).await;
            let driver = inventory.driver_version();
            let problems = host_problems(&toolkit, &driver);
            healthy &= check(
                problems.is_empty(),
                &format!(
                    "NVIDIA Container Toolkit {} and driver {} have no known container escape",
                    toolkit.as_deref().unwrap_or("(unknown)"),
                    driver.as_deref().unwrap_or("(unknown)")
                ),
                &format!("{}; the node will not arm until fixed", problems.join("; ")),
            );
            let (settings, advice) = toolkit_config_at(config.nvidia_toolkit_config.as_deref());
            healthy &= check(
                settings.is_empty(),
                "the toolkit's settings let no image choose its GPUs",
                &format!("{}; the node will not arm until fixed", settings.join("; ")),
            );
            for line in advice {
                println!("  WARN  {line}");
            }
            println!("        a GPU container round trip needs an image with the NVIDIA runtime; run a CUDA image with `docker run --gpus all` to check the container toolkit");
        }
        GpuInventory::None { reason } => {
            check(
                true,
                &format!("no NVML ({reason}): CPU-only markets only"),
                "",
            );
        }
    }
    let parts = match slot_parts(&slots, &inventory) {
        Ok(parts) => {
            for (slot, part) in slots.iter().zip(&parts) {
                let listed: Vec<&str> = part
                    .gpus
                    .devices()
                    .iter()
                    .map(|d| d.uuid.as_str())
                    .collect();
                healthy &= check(
                    part.problem.is_none(),
                    &format!(
                        "slot {}: GPUs [{}], CPUs {}",
                        slot.name,
                        listed.join(", "),
                        part.cpuset.as_deref().unwrap_or("any")
                    ),
                    part.problem.as_deref().unwrap_or_default(),
                );
            }
            Some(parts)
        }
        Err(e) => {
            healthy &= check(
                false,
                "every slot's GPUs and CPUs are on this host",
                &format!("{e:#}"),
            );
            None
        }
    };
    let floor = config.work_floor_bytes();
    let disk = readiness::disk_problems(&config.work_dir, floor, &config.journal_path);
    let all_at_once = floor.saturating_mul(slots.len() as u64);
    if readiness::free_bytes(&config.work_dir).is_ok_and(|free| free < all_at_once) {
        println!("  WARN  the work dir has room for fewer than {} jobs at their caps at once ({all_at_once} bytes): slots leave the queue while the disk is short", slots.len());
    }
    for problem in &disk {
        healthy &= check(false, "free disk", problem);
    }
    if disk.is_empty() {
        check(
            true,
            &format!(
                "free disk: the work dir holds a job at its caps ({floor} bytes), the journal its floor"
            ),
            "",
        );
    }
    match OutputStore::from_url(&config.output_store) {
        Ok(store) => {
            let problem = readiness::store_problem(&store, "doctor").await;
            healthy &= check(
                problem.is_none(),
                &format!(
                    "output store {} takes a write and reads it back",
                    store.base_uri()
                ),
                &problem.unwrap_or_default(),
            );
        }
        Err(e) => healthy &= check(false, "output store", &e.to_string()),
    }
    let chain = chain(&config);
    // Every endpoint, not just the one reads would use: a silent backup is
    // found here rather than in an outage.
    for endpoint in chain.health().await {
        healthy &= check(
            endpoint.is_current(),
            &format!("RPC {} answers and keeps up", endpoint.url),
            &endpoint.problem().unwrap_or_default(),
        );
    }
    healthy &= check_clock(&chain).await;
    if chain.slot().await.is_ok() {
        let p = Protocol::new(chain.clone());
        for (i, slot) in slots.iter().enumerate() {
            let gpus = parts.as_ref().map(|parts| &parts[i].gpus);
            healthy &= doctor_slot(&p, &config, slot, gpus).await;
        }
    }
    // One gate: what keeps a running daemon out of the queue (some of it,
    // like a pause after its own hand-back, only the daemon can see).
    if let Ok(status) = daemon_status(&config).await {
        for slot in status["slots"].as_array().into_iter().flatten() {
            for problem in slot["not_ready"].as_array().into_iter().flatten() {
                healthy &= check(
                    false,
                    &format!(
                        "the running daemon's slot {} is ready",
                        slot["slot"].as_str().unwrap_or("?")
                    ),
                    problem.as_str().unwrap_or("?"),
                );
            }
        }
    }
    if healthy {
        println!("all checks passed");
        Ok(())
    } else {
        anyhow::bail!("some checks failed (see FIX lines)")
    }
}

/// The chain's clock against this host's: S3 refuses requests signed more
/// than 15 minutes off, and the operator reads deadlines in local time.
async fn check_clock(chain: &FailoverChain) -> bool {
    let Ok(clock) = chain.clock().await else {
        return check(
            false,
            "the chain's clock can be read",
            "see the RPC lines above",
        );
    };
    let local = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let skew = local - clock.unix_timestamp;
    check(
        skew.abs() <= MAX_CLOCK_SKEW_SECS,
        &format!("this host's clock is within {MAX_CLOCK_SKEW_SECS} s of the chain's ({skew:+} s)"),
        "sync it (chrony or systemd-timesyncd): the output store refuses requests signed with a skewed clock",
    )
}

/// How far this host's clock may be from the chain's.
const MAX_CLOCK_SKEW_SECS: i64 = 120;

/// One slot's node: its hot key's SOL, its registration (and that this
/// slot holds the GPUs it claims), its stake and release budget.
async fn doctor_slot(
    p: &Protocol,
    config: &NodeConfig,
    slot: &Slot,
    gpus: Option<&GpuInventory>,
) -> bool {
    let mut healthy = true;
    let signer = match signer(&slot.signer) {
        Ok(signer) => signer,
        Err(e) => {
            return check(
                false,
                &format!("slot {}: signer key", slot.name),
                &format!("{e:#}"),
            )
        }
    };
    let balance = p.chain.balance(&signer.pubkey()).await.unwrap_or(0);
    let need = config
        .priority_fee
        .next_transactions_lamports(ake_node::daemon::MAX_COMPUTE_UNITS);
    healthy &= check(
        balance >= need,
        &format!(
            "slot {}: signer {} holds {balance} lamports for fees ({need} pay its next transactions at the fee cap)",
            slot.name,
            signer.pubkey(),
        ),
        "send it SOL: below that the node stays out of the queue",
    );
    if let Some(warning) = hot_key_excess(balance, config.hot_key_max_sol) {
        println!("  WARN  {warning}");
    }
    let node = match slot_node(slot, &signer) {
        Ok(node) => node,
        Err(e) => return check(false, "node account", &format!("{e:#}")),
    };
    let Ok(Some(n)) = p.node(&node).await else {
        return check(
            false,
            &format!("slot {}: node {node} is registered", slot.name),
            &format!(
                "the owner runs `ake node register --signer {}`",
                slot.signer.display()
            ),
        );
    };
    check(
        true,
        &format!(
            "slot {}: node {node} is registered ({} GPU)",
            slot.name, n.gpus
        ),
        "",
    );
    if let Some(gpus) = gpus {
        let profile = &n.profile;
        let problem = gpus.claim_problem(n.gpus, &profile.gpu_model, profile.vram_mib);
        healthy &= check(
            problem.is_none(),
            &format!(
                "slot {} holds what its node claims ({} x {}, {} MiB)",
                slot.name, n.gpus, profile.gpu_model, profile.vram_mib
            ),
            &format!(
                "{}; the node will not arm until fixed",
                problem.unwrap_or_default()
            ),
        );
    }
    healthy &= check(
        !n.suspended,
        "node is not suspended",
        &format!("the owner runs `ake node rearm {node}`"),
    );
    healthy &= check(
        !n.held,
        "node is not held out of the queue",
        &format!(
            "its owner or operator held it (`ake node hold`); they run `ake node rearm {node}`"
        ),
    );
    let stake = p.stake(&n.owner).await.ok().flatten();
    let market = p.market_at(&n.market).await.ok();
    if let (Some(stake), Some(market), Ok(config), Ok(clock)) =
        (&stake, &market, p.config().await, p.chain.clock().await)
    {
        let rules = &config.params.release;
        let left = stake.releases_left(clock.unix_timestamp, rules, market.min_stake_per_gpu);
        // Information, not a failure: the daemon pauses only after its own
        // hand-back (a creator's jobs that spent the budget must not keep
        // the fleet out), which this process cannot see.
        if left > 0 {
            check(
                true,
                &format!("the owner has {left} hand-back(s) left in this release-budget window"),
                "",
            );
        } else {
            println!("  WARN  the owner has no hand-back left in this release-budget window: a node that hands a job back now pauses 10 minutes before taking another; find out why its jobs were handed back");
        }
    }
    let need = market.map_or(0, |m| m.min_stake_per_gpu * u64::from(n.gpus));
    let free = stake.map_or(0, |s| s.free());
    healthy &= check(
        free >= need || n.status != ake_sdk::ake_market::state::NodeStatus::Idle,
        &format!("owner stake: {free} free base units, {need} needed"),
        "the owner runs `ake stake deposit`",
    );
    healthy
}

/// A slot `init` writes: its name, GPUs, CPUs and what its node registers as.
struct PlannedSlot {
    name: String,
    gpus: Vec<String>,
    cpuset: Option<String>,
    register: Registration,
}

/// `--gpus`, `--model`, `--vram-mib` of `ake node register`.
type Registration = (usize, String, u64);

/// The slots `--slots` asks for on this host.
fn plan_slots(partition: &str, gpus: &GpuInventory) -> anyhow::Result<Vec<PlannedSlot>> {
    let (count, size) = partition.split_once('x').ok_or_else(|| {
        anyhow!(
            "--slots {partition:?}: write slots x GPUs each (8x1, 4x2, 2x4, 1x8) or Nxcpu (4xcpu)"
        )
    })?;
    let count: usize = count
        .parse()
        .ok()
        .filter(|n| (1..=ake_node::config::MAX_SLOTS).contains(n))
        .ok_or_else(|| {
            anyhow!(
                "--slots {partition:?}: the slot count must be 1..={}",
                ake_node::config::MAX_SLOTS
            )
        })?;
    if size == "cpu" {
        // SAFETY: sysconf has no memory preconditions.
        let online = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
        let all: Vec<u32> = (0..u32::try_from(online).unwrap_or(1).max(1)).collect();
        let sets = cpusets(&vec![(None, all); count]);
        return Ok(sets
            .into_iter()
            .enumerate()
            .map(|(i, cpuset)| PlannedSlot {
                name: format!("cpu{i}"),
                gpus: Vec::new(),
                cpuset,
                register: (1, "CPU".into(), 0),
            })
            .collect());
    }
    let size: usize = size
        .parse()
        .map_err(|_| anyhow!("--slots {partition:?}: GPUs per slot must be a number or `cpu`"))?;
    let devices = gpus.devices();
    anyhow::ensure!(
        count * size == devices.len(),
        "--slots {partition}: {count} slots x {size} GPUs is {} but NVML lists {} ({}): choose a partition of all of them",
        count * size,
        devices.len(),
        match gpus {
            GpuInventory::None { reason } => format!("no NVML: {reason}; pass --nvml-lib"),
            GpuInventory::Nvml { .. } => devices.iter().map(|d| d.uuid.clone()).collect::<Vec<_>>().join(", "),
        }
    );
    let groups = ake_node::slots::partition(devices, size).map_err(|e| anyhow!(e))?;
    Ok(groups
        .into_iter()
        .map(|uuids| {
            let members: Vec<&ake_node::gpu::GpuDevice> = uuids
                .iter()
                .filter_map(|u| devices.iter().find(|d| &d.uuid == u))
                .collect();
            let indices: Vec<String> = members.iter().map(|d| d.index.to_string()).collect();
            let first = members[0];
            let mig = first.mig_parent.is_some();
            PlannedSlot {
                name: format!(
                    "{}{}{}",
                    if mig { "mig" } else { "gpu" },
                    indices.join("-"),
                    if mig {
                        format!("-{}", &first.uuid[4..12])
                    } else {
                        String::new()
                    }
                ),
                register: (members.len(), first.model.clone(), first.vram_mib),
                gpus: uuids,
                cpuset: None,
            }
        })
        .collect())
}

fn init(
    config_path: &Path,
    rpc_url: &str,
    state_dir: &Path,
    partition: Option<&str>,
    nvml_lib: Option<&Path>,
) -> anyhow::Result<()> {
    if config_path.exists() {
        anyhow::bail!("{} exists; not overwriting it", config_path.display());
    }
    let gpus = detect_gpus(nvml_lib);
    let planned = match partition {
        Some(partition) => Some(plan_slots(partition, &gpus)?),
        None => None,
    };
    let commands = register_commands(state_dir, planned.as_deref(), &gpus);
    std::fs::create_dir_all(state_dir)
        .with_context(|| format!("creating {}", state_dir.display()))?;
    let nodes = match &planned {
        None => {
            let key = state_dir.join("signer.json");
            new_key(&key)?;
            format!("node_signer_keypair = \"{}\"\n", key.display())
        }
        Some(slots) => {
            let mut text = String::new();
            for slot in slots {
                let key = state_dir.join("slots").join(format!("{}.json", slot.name));
                new_key(&key)?;
                let gpus: Vec<String> = slot.gpus.iter().map(|g| format!("\"{g}\"")).collect();
                text.push_str(&format!(
                    "\n[[slots]]\nname = \"{}\"\nnode_signer_keypair = \"{}\"\ngpus = [{}]\n",
                    slot.name,
                    key.display(),
                    gpus.join(", ")
                ));
                match &slot.cpuset {
                    Some(set) => text.push_str(&format!("cpuset = \"{set}\"\n")),
                    None if !slot.gpus.is_empty() => {
                        text.push_str("# cpuset: the CPUs NUMA-near these GPUs, shared with the slots near the same CPUs\n")
                    }
                    None => {}
                }
            }
            text
        }
    };
    if let Some(dir) = config_path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let nvml = nvml_lib.map_or(String::new(), |lib| {
        format!("nvml_lib_path = \"{}\"\n", lib.display())
    });
    let per_job = match &planned {
        Some(slots) => format!(
            "# Each slot's job; {} slots run at once on this host.",
            slots.len()
        ),
        None => "# The job's.".to_string(),
    };
    let (nodes_top, nodes_tail) = match planned {
        Some(_) => (String::new(), nodes),
        None => (nodes, String::new()),
    };
    let text = format!(
        r#"# ake-node configuration. Every key is checked at start.
rpc_urls = ["{rpc_url}"]
commitment = "confirmed"
{nodes_top}market = 0
work_dir = "{work}"
journal_path = "{journal}"
metrics_addr = "127.0.0.1:9464"
image_allowlist = []            # e.g. ["ghcr.io/ake-network/"]; empty allows all
max_output_bytes = 1073741824
output_store = "file://{outputs}"  # or s3://bucket/prefix?endpoint=...&region=...
{nvml}
[runtime]
{per_job}
memory_mb = 16384
cpus = 4.0
pids_limit = 4096
shm_size_mb = 1024
allow_network = false
log_max_size = "10m"
# Deletes what a job left that this user cannot (needs /bin/busybox).
cleaner_image = "{cleaner}"
{nodes_tail}"#,
        cleaner = ake_node::config::DEFAULT_CLEANER_IMAGE,
        work = state_dir.join("work").display(),
        journal = state_dir.join("journal.redb").display(),
        outputs = state_dir.join("outputs").display(),
    );
    std::fs::write(config_path, text)?;
    println!("wrote {}", config_path.display());
    println!("next, as the owner (cold key), register the node(s), stake, then `ake-node doctor`:");
    for command in commands {
        println!("  {command}");
    }
    Ok(())
}

/// `ake node register` for the keys `init` writes: one command per kind
/// of slot (same GPU count, model and VRAM), every such slot's key in it.
fn register_commands(
    state_dir: &Path,
    planned: Option<&[PlannedSlot]>,
    gpus: &GpuInventory,
) -> Vec<String> {
    let single;
    let slots = match planned {
        Some(slots) => slots,
        None => {
            let devices = gpus.devices();
            single = [PlannedSlot {
                name: String::new(),
                gpus: Vec::new(),
                cpuset: None,
                register: match devices.first() {
                    Some(d) => (devices.len(), d.model.clone(), d.vram_mib),
                    None => (1, "CPU".into(), 0),
                },
            }];
            &single[..]
        }
    };
    let key = |slot: &PlannedSlot| match planned {
        Some(_) => state_dir.join("slots").join(format!("{}.json", slot.name)),
        None => state_dir.join("signer.json"),
    };
    let mut kinds: Vec<(&Registration, Vec<String>)> = Vec::new();
    for slot in slots {
        let signer = format!("--signer {}", key(slot).display());
        match kinds.iter_mut().find(|(kind, _)| **kind == slot.register) {
            Some((_, signers)) => signers.push(signer),
            None => kinds.push((&slot.register, vec![signer])),
        }
    }
    kinds
        .into_iter()
        .map(|((count, model, vram), signers)| {
            format!(
                "ake node register {} --gpus {count} --model \"{model}\" --vram-mib {vram}",
                signers.join(" ")
            )
        })
        .collect()
}

/// A new keypair file (mode 600) at `path`, unless one is there.
fn new_key(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if path.exists() {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let k = Keypair::new();
    write_keypair_file(&k, path).map_err(|e| anyhow!("writing {}: {e}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    println!("new signer key {} at {}", k.pubkey(), path.display());
    Ok(())
}
