//! End to end, every piece a separate process as a user runs them:
//! `ake localnet`, `ake-node run`, and the `ake` CLI. A render job is posted,
//! run in Docker by the node, its frame fetched and verified, finalized by
//! the crank, the epoch closed, the emission claimed by the node; every
//! balance is checked over JSON-RPC.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ake_sdk::chain::rpc::RpcChain;
use ake_sdk::protocol::{associated_token, Protocol};
use serde_json::Value;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::{write_keypair_file, Keypair, Signer};

fn bin(name: &str) -> PathBuf {
    // target/<profile>/deps/e2e-<hash> -> target/<profile>/<name>
    let dir = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: `cargo test --workspace` builds it (or `cargo build --workspace`)",
        path.display()
    );
    path
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

/// Whether something the test needs is here: CI must have it; elsewhere
/// its absence is said loudly and the test (or that part) is skipped.
fn present_or_skipped(ok: bool, missing: &str) -> bool {
    if !ok && std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true but {missing}");
    }
    if !ok {
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "\n!!!!! SKIPPED: {missing} !!!!!\n");
    }
    ok
}

fn docker_available() -> bool {
    let ok = Command::new("docker")
        .arg("info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    present_or_skipped(
        ok,
        "no Docker engine answers: the end-to-end test needs one",
    )
}

/// A Python client built from the committed IDL (anchorpy3); `.ci/run`
/// installs it.
fn python_client_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import anchorpy, based58"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    present_or_skipped(
        ok,
        "python3 cannot import anchorpy (pip install anchorpy3==0.4.5): the Python IDL client check",
    )
}

/// The job's events as the Python example decodes them from the IDL.
fn python_job_events(url: &str, job: &str) -> Vec<serde_json::Value> {
    let out = Command::new("python3")
        .arg(root().join("client/examples/python/job_events.py"))
        .arg(url)
        .arg(root().join("idl/ake_market.json"))
        .arg(job)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct E2e {
    dir: tempfile::TempDir,
    url: String,
}

impl E2e {
    fn ake(&self, args: &[&str], signer: &str) -> Output {
        Command::new(bin("ake"))
            .args(["--url", &self.url, "--keypair"])
            .arg(self.dir.path().join(format!("{signer}.json")))
            .args(args)
            .output()
            .unwrap()
    }

    fn json(&self, args: &[&str], signer: &str) -> Value {
        let mut all = vec!["--output", "json"];
        all.extend_from_slice(args);
        let out = self.ake(&all, signer);
        assert!(
            out.status.success(),
            "ake {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
            panic!(
                "ake {args:?} printed: {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    fn wallet(&self, name: &str) -> Keypair {
        let k = Keypair::new();
        let path = self.dir.path().join(format!("{name}.json"));
        write_keypair_file(&k, &path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        k
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread")]
async fn post_run_finalize_close_claim() {
    if !docker_available() {
        return;
    }
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let log = std::fs::File::create(dir.path().join("localnet.log")).unwrap();
    let _localnet = Proc(
        Command::new(bin("ake"))
            .current_dir(root())
            .args(["localnet", "--bind", &format!("127.0.0.1:{port}")])
            .arg("--admin-keypair")
            .arg(dir.path().join("admin.json"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let e = E2e {
        dir,
        url: url.clone(),
    };
    let creator = e.wallet("creator");
    let owner = e.wallet("owner");
    let hot = e.wallet("hot");
    let ready = Instant::now() + Duration::from_secs(120);
    while !e.ake(&["epoch", "show"], "creator").status.success() {
        assert!(Instant::now() < ready, "localnet did not start");
        std::thread::sleep(Duration::from_millis(300));
    }

    // Everything below is checked over RPC, as any client would.
    let p = Protocol::new(Arc::new(RpcChain::new(
        &url,
        solana_commitment_config::CommitmentConfig::confirmed(),
    )));
    let config = p.config().await.unwrap();
    let mint = config.mint;
    let supply0 = p.supply(&mint).await.unwrap();
    let minted0 = p.emissions().await.unwrap().minted_in_all();

    e.json(&["localnet", "faucet", "100"], "creator");
    e.json(&["localnet", "faucet", "1000"], "owner");
    e.json(
        &[
            "localnet",
            "faucet",
            "0.000001",
            "--to",
            &hot.pubkey().to_string(),
        ],
        "creator",
    );
    e.json(&["stake", "deposit", "400"], "owner");
    let hot_path = e.dir.path().join("hot.json");
    let node: Pubkey = e.json(
        &[
            "node",
            "register",
            "--signer",
            hot_path.to_str().unwrap(),
            "--gpus",
            "1",
            "--model",
            "CPU",
            "--vram-mib",
            "0",
        ],
        "owner",
    )["nodes"][0]["node"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    // The node daemon, as its operator runs it.
    let image = Command::new(bin("ake"))
        .arg("build-render-image")
        .output()
        .unwrap();
    assert!(
        image.status.success(),
        "{}",
        String::from_utf8_lossy(&image.stderr)
    );
    let image = String::from_utf8(image.stdout).unwrap().trim().to_string();
    let d = e.dir.path().display();
    let metrics_port = free_port();
    let node_config = e.dir.path().join("node.toml");
    std::fs::write(
        &node_config,
        format!(
            "rpc_urls = [\"{url}\"]\nnode_signer_keypair = \"{d}/hot.json\"\nmarket = 0\nwork_dir = \"{d}/work\"\njournal_path = \"{d}/journal.redb\"\nmetrics_addr = \"127.0.0.1:{metrics_port}\"\noutput_store = \"file://{d}/store\"\n\n[runtime]\nmemory_mb = 512\ncpus = 1.0\nshm_size_mb = 64\ntmp_size_mb = 64\n"
        ),
    )
    .unwrap();
    let node_log = std::fs::File::create(e.dir.path().join("node.log")).unwrap();
    let mut daemon = Proc(
        Command::new(bin("ake-node"))
            .arg("--config")
            .arg(&node_config)
            .arg("run")
            .stdout(node_log.try_clone().unwrap())
            .stderr(node_log)
            .spawn()
            .unwrap(),
    );
    let node_log = || std::fs::read_to_string(e.dir.path().join("node.log")).unwrap_or_default();

    // The creator posts the example render job, pinned to the local image.
    let spec = std::fs::read_to_string(root().join("client/examples/render-job.toml"))
        .unwrap()
        .replace("\"ake/render:local\"", &format!("\"{image}\""));
    let spec_path = e.dir.path().join("render.toml");
    std::fs::write(&spec_path, spec).unwrap();
    let creator_token = associated_token(&creator.pubkey(), &mint);
    let before = p.token_balance(&creator_token).await.unwrap();
    let posted = e.json(&["job", "post", spec_path.to_str().unwrap()], "creator");
    let job = posted["job"].as_str().unwrap().to_string();
    let escrow = posted["escrow"].as_u64().unwrap();
    let posting_fee = posted["posting_fee"].as_u64().unwrap();
    assert!(posting_fee > 0);
    assert_eq!(
        p.token_balance(&creator_token).await.unwrap(),
        before - escrow - posting_fee
    );

    // Picked up, run, committed, submitted.
    let end = Instant::now() + Duration::from_secs(180);
    loop {
        if e.json(&["job", "status", &job], "creator")["state"] == "submitted" {
            break;
        }
        assert!(
            daemon.0.try_wait().unwrap().is_none(),
            "ake-node exited; its log:\n{}",
            node_log()
        );
        assert!(
            Instant::now() < end,
            "not submitted; node log:\n{}",
            node_log()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let out = e.dir.path().join("frame");
    let while_open = e.json(
        &["job", "results", &job, "--out", out.to_str().unwrap()],
        "creator",
    );
    assert!(out.join("frame.png").exists(), "{while_open}");
    assert_eq!(&std::fs::read(out.join("frame.png")).unwrap()[1..4], b"PNG");

    // The crank finalizes after the 5 s window: burn + fee + refund add up.
    let treasury0 = p.token_balance(&config.treasury).await.unwrap();
    let burned0 = p.market_books(0).await.unwrap().burned;
    let end = Instant::now() + Duration::from_secs(60);
    while p.job(&job.parse().unwrap()).await.unwrap().is_some() {
        e.json(&["crank", "--once"], "creator");
        assert!(Instant::now() < end, "not finalized");
        std::thread::sleep(Duration::from_millis(500));
    }
    let paid = before - p.token_balance(&creator_token).await.unwrap() - posting_fee;
    let burned = p.market_books(0).await.unwrap().burned - burned0;
    let pending = p.market_books(0).await.unwrap().pending_burn;
    assert_eq!(pending, 0, "the crank's pass swept what it settled");
    let fee = p.token_balance(&config.treasury).await.unwrap() - treasury0;
    assert!(
        paid > 0 && paid < escrow,
        "charged for the seconds used, the rest refunded"
    );
    assert_eq!(
        burned,
        paid * 9_500 / 10_000 + posting_fee,
        "the payment's burn and the posting fee"
    );
    let charged_fee = paid - (burned - posting_fee);
    assert!(
        fee <= charged_fee && fee + burned / 100 >= charged_fee,
        "the fee reaches the treasury (less a crank tip, at most 1% of an epoch's burn, if an epoch closed meanwhile)"
    );

    // Settled, its account closed: its outputs are still found (from the
    // ResultSubmitted event in its history) and verified.
    let again = e.dir.path().join("frame-again");
    let after_settlement = e.json(
        &["job", "results", &job, "--out", again.to_str().unwrap()],
        "creator",
    );
    assert_eq!(after_settlement["commitment"], while_open["commitment"]);
    assert_eq!(
        &std::fs::read(again.join("frame.png")).unwrap()[1..4],
        b"PNG"
    );

    // A Python client generated from the committed IDL reads the job's
    // history back from the same endpoint: every event, decoded.
    if python_client_available() {
        let events = python_job_events(&url, &job);
        let names: Vec<&str> = events.iter().map(|e| e["name"].as_str().unwrap()).collect();
        for expected in ["JobPosted", "JobAssigned", "ResultSubmitted", "JobSettled"] {
            assert!(names.contains(&expected), "{expected} not in {names:?}");
        }
        assert_eq!(events[0]["name"], "JobPosted");
        assert_eq!(events[0]["escrow"], escrow);
        assert_eq!(events[0]["posting_fee"], posting_fee);
        let settled = events.iter().find(|e| e["name"] == "JobSettled").unwrap();
        assert_eq!(settled["charged"], paid, "{settled}");
        assert_eq!(settled["job"], job.as_str());
    }

    // The epoch closes; the node claims for its owner by itself.
    let emissions = p.emissions().await.unwrap();
    let epoch = p.current_epoch(&emissions).await.unwrap();
    let owner_token = associated_token(&owner.pubkey(), &mint);
    let owner0 = p.token_balance(&owner_token).await.unwrap();
    let end = Instant::now() + Duration::from_secs(120);
    while p.node_work(epoch, &node).await.unwrap().is_some() {
        e.json(&["crank", "--once"], "creator");
        assert!(Instant::now() < end, "no claim; node log:\n{}", node_log());
        std::thread::sleep(Duration::from_secs(1));
    }
    let summary = p.epoch_summary(epoch).await.unwrap().unwrap();
    // The only node earns what its job burned: the node share is far larger.
    assert_eq!(
        p.token_balance(&owner_token).await.unwrap() - owner0,
        summary.burned_tokens
    );
    assert!(summary.burned_tokens < summary.node_share);
    let node_view = e.json(&["node", "show", &node.to_string()], "owner");
    assert_eq!(node_view["jobs_completed"], 1);

    // One token book.
    let minted = p.emissions().await.unwrap().minted_in_all() - minted0;
    let books = p.market_books(0).await.unwrap();
    assert_eq!(
        p.supply(&mint).await.unwrap(),
        supply0 + minted - books.burned + books.pending_burn
    );

    // Prometheus: the job under its slot's labels, its pickup latency
    // (assignment seen -> container running).
    let metrics = scrape(metrics_port);
    let labels = format!("slot=\"main\",node=\"{node}\",market=\"0\"");
    assert!(
        metrics.contains(&format!(
            "ake_jobs_total{{{labels},outcome=\"succeeded\"}} 1"
        )),
        "{metrics}"
    );
    let pickup = |name: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().last())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    eprintln!(
        "pickup latency: {:.3} s",
        pickup("ake_pickup_latency_seconds_sum")
            / pickup("ake_pickup_latency_seconds_count").max(1.0)
    );

    // Graceful stop.
    unsafe {
        libc::kill(daemon.0.id() as i32, libc::SIGTERM);
    }
    let status = daemon.0.wait().unwrap();
    assert!(status.success(), "ake-node exits cleanly on SIGTERM");
    eprintln!("e2e wall time: {:.1} s", started.elapsed().as_secs_f64());
}

fn scrape(port: u16) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    body
}
