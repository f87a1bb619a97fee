//! Jobs completed per minute on the CPU market by one ake-node with four
//! slots, by four ake-node processes of one slot each, and by one
//! single-slot ake-node: the same jobs (each sleeps, as a GPU-bound job
//! leaves the host's CPUs free), on a local chain served over JSON-RPC, in
//! real Docker containers.
//!
//! Run: `cargo build -p ake-node && cargo run -p ake-node --example slot_throughput -- [jobs] [secs]`
//! (12 jobs of 10 s by default). Needs docker and /bin/busybox.

#[path = "../tests/support/mod.rs"]
mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ake_localnet::Localnet;
use ake_sdk::ake_market::instructions::PostJobArgs;
use ake_sdk::ake_market::state::{HardwareProfile, InlineSpec, JobSpec, JobState, NodeStatus};
use ake_sdk::cluster_params::ClusterParams;
use ake_sdk::protocol::{associated_token, Protocol};
use ake_sdk::sender::{send_instructions, Fees};
use ake_sdk::{instructions as ixs, pda};
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::{write_keypair_file, Keypair, Signer};

#[derive(Clone, Copy, Debug)]
enum Layout {
    /// One daemon, four `[[slots]]`.
    FourSlots,
    /// Four daemons, one node each.
    FourDaemons,
    /// One daemon, one node.
    OneNode,
}

impl Layout {
    fn nodes(self) -> usize {
        match self {
            Self::OneNode => 1,
            _ => 4,
        }
    }
}

struct Net {
    net: Arc<Localnet>,
    url: String,
    creator: Keypair,
    owner: Keypair,
    _clock: tokio::task::JoinHandle<()>,
    _server: tokio::task::JoinHandle<()>,
}

async fn start() -> Net {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations/localnet.toml");
    let mut params = ClusterParams::load(&path).unwrap();
    params.markets[0].min_duration_secs = 30;
    let net = Localnet::start(&params.validate().unwrap(), Keypair::new())
        .await
        .unwrap();
    let clock = net.run_clock().await.unwrap();
    let (addr, server) = net.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let (creator, owner) = (Keypair::new(), Keypair::new());
    net.faucet(&creator.pubkey(), 1_000_000_000).await.unwrap();
    net.faucet(&owner.pubkey(), 2_000_000_000).await.unwrap();
    let mint: Pubkey = net.deployment.mint.parse().unwrap();
    let owner_token = associated_token(&owner.pubkey(), &mint);
    let stake = ixs::deposit_stake(owner.pubkey(), mint, owner_token, 1_600_000_000);
    send_instructions(net.chain.as_ref(), &owner, &[], &[stake], Fees::default())
        .await
        .unwrap();
    Net {
        net,
        url: format!("http://{addr}"),
        creator,
        owner,
        _clock: clock,
        _server: server,
    }
}

/// A CPU node of the owner; its hot key's file.
async fn node(net: &Net, dir: &Path, i: usize) -> (Pubkey, PathBuf) {
    let hot = Keypair::new();
    let chain = net.net.chain.as_ref();
    chain.airdrop(&hot.pubkey(), 1_000_000_000).await.unwrap();
    let profile = HardwareProfile {
        gpu_model: "CPU".into(),
        vram_mib: 0,
        benchmark_hash: [0; 32],
    };
    let register = ixs::register_node(net.owner.pubkey(), hot.pubkey(), pda::market(0), 1, profile);
    send_instructions(chain, &net.owner, &[&hot], &[register], Fees::default())
        .await
        .unwrap();
    let key = dir.join(format!("slot{i}.json"));
    write_keypair_file(&hot, &key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    (pda::node(&hot.pubkey()), key)
}

/// A daemon's config in `dir` serving `keys` (as slots when `slots`).
fn config(net: &Net, dir: &Path, keys: &[PathBuf], slots: bool, image: &str) -> PathBuf {
    let d = dir.display();
    let nodes = match slots {
        false => format!("node_signer_keypair = \"{}\"\n", keys[0].display()),
        true => String::new(),
    };
    let mut text = format!(
        r#"rpc_urls = ["{url}"]
{nodes}market = 0
work_dir = "{d}/work"
journal_path = "{d}/journal.redb"
metrics_addr = "127.0.0.1:{port}"
output_store = "file://{d}/store"
max_output_bytes = 1048576
deadline_reserve_secs = 20

[inputs]
max_bytes = 10485760
max_total_bytes = 20971520

[runtime]
memory_mb = 256
cpus = 0.5
pids_limit = 64
shm_size_mb = 64
tmp_size_mb = 64
cleaner_image = "{image}"
engine_pid_file = "{d}/docker.pid"
"#,
        url = net.url,
        port = support::free_port(),
    );
    if slots {
        for (i, key) in keys.iter().enumerate() {
            text.push_str(&format!(
                "\n[[slots]]\nname = \"cpu{i}\"\nnode_signer_keypair = \"{}\"\n",
                key.display()
            ));
        }
    }
    let path = dir.join("node.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Every daemon's log under `dir`.
fn logs(dir: &Path) -> String {
    let mut all = std::fs::read_to_string(dir.join("daemon.log")).unwrap_or_default();
    for i in 0..4 {
        all += &std::fs::read_to_string(dir.join(format!("d{i}/daemon.log"))).unwrap_or_default();
    }
    all
}

fn daemon_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().unwrap().parent().unwrap().join("ake-node");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p ake-node` first",
        bin.display()
    );
    bin
}

fn spawn(config: &Path, log: &Path) -> Child {
    let log = std::fs::File::create(log).unwrap();
    Command::new(daemon_binary())
        .env("RUST_LOG", "info,tarpc=error,solana_metrics=off")
        .arg("--config")
        .arg(config)
        .arg("run")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap()
}

fn stop(child: &mut Child) {
    for _ in 0..2 {
        // SAFETY: kill has no memory preconditions.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        std::thread::sleep(Duration::from_millis(300));
    }
    let _ = child.wait();
}

async fn post(net: &Net, image: &str, secs: u32) -> Pubkey {
    let p = Protocol::new(net.net.chain.clone());
    let c = &net.creator;
    let script = format!("/bin/busybox sleep {secs}; echo done > /ake/output/done.txt");
    let args = PostJobArgs {
        nonce: 0,
        gpus: 1,
        max_duration_secs: 120,
        min_reputation_bps: 0,
        max_tokens: u64::MAX,
        spec: JobSpec::Inline(InlineSpec {
            image: image.to_string(),
            command: vec![support::BUSYBOX.into(), "sh".into(), "-c".into(), script],
            env: vec![],
            inputs: vec![],
            max_output_bytes: 1 << 20,
        }),
        verify: Default::default(),
    };
    let job = pda::job(&c.pubkey(), p.next_nonce(&c.pubkey()).await.unwrap());
    let ix = p.post_job(&c.pubkey(), 0, args).await.unwrap().1;
    send_instructions(p.chain.as_ref(), c, &[], &[ix], Fees::default())
        .await
        .unwrap();
    job
}

/// Jobs per minute `layout` completes (from the first post until every
/// job's result is on-chain), and its daemons' resident memory (MiB).
async fn measure(layout: Layout, jobs: usize, secs: u32, image: &str) -> (f64, u64) {
    let net = start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut nodes = Vec::new();
    for i in 0..layout.nodes() {
        nodes.push(node(&net, dir.path(), i).await);
    }
    let keys: Vec<PathBuf> = nodes.iter().map(|(_, k)| k.clone()).collect();
    let mut daemons = Vec::new();
    match layout {
        Layout::FourSlots => {
            let path = config(&net, dir.path(), &keys, true, image);
            daemons.push(spawn(&path, &dir.path().join("daemon.log")));
        }
        Layout::FourDaemons | Layout::OneNode => {
            for (i, key) in keys.iter().enumerate() {
                let own = dir.path().join(format!("d{i}"));
                std::fs::create_dir_all(&own).unwrap();
                let path = config(&net, &own, std::slice::from_ref(key), false, image);
                daemons.push(spawn(&path, &own.join("daemon.log")));
            }
        }
    }
    let p = Protocol::new(net.net.chain.clone());
    let end = Instant::now() + Duration::from_secs(120);
    for (node, _) in &nodes {
        while p.node(node).await.unwrap().unwrap().status != NodeStatus::Queued {
            assert!(
                Instant::now() < end,
                "node {node} never queued; logs:\n{}",
                logs(dir.path())
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let started = Instant::now();
    let mut posted = Vec::new();
    for _ in 0..jobs {
        posted.push(post(&net, image, secs).await);
    }
    let end = Instant::now() + Duration::from_secs(60 + u64::from(secs) * jobs as u64);
    for job in &posted {
        while p.job(job).await.unwrap().unwrap().state != JobState::Submitted {
            assert!(Instant::now() < end, "job {job} not submitted in time");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let minutes = started.elapsed().as_secs_f64() / 60.0;
    let rss_mib: u64 = daemons.iter().map(|d| rss_kib(d.id()) / 1024).sum();
    daemons.iter_mut().for_each(stop);
    (jobs as f64 / minutes, rss_mib)
}

/// A process's resident memory (VmRSS), in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let jobs: usize = args.next().map_or(12, |a| a.parse().expect("jobs"));
    let secs: u32 = args.next().map_or(10, |a| a.parse().expect("secs"));
    let image = support::TestImage::acquire();
    println!("{jobs} jobs of {secs} s each on the CPU market");
    println!("| layout | nodes | jobs per minute | daemons' RSS, MiB |");
    println!("|---|--:|--:|--:|");
    for layout in [Layout::FourSlots, Layout::FourDaemons, Layout::OneNode] {
        let (rate, rss) = measure(layout, jobs, secs, &image.tag).await;
        println!("| {layout:?} | {} | {rate:.1} | {rss} |", layout.nodes());
    }
}
