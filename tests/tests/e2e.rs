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

/// Whether `program args` runs and succeeds (its output discarded).
fn succeeds(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn docker_available() -> bool {
    let ok = succeeds("docker", &["info"]);
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
    // What it earned: the claimed epoch, its GPU-seconds from the receipt.
    let used = p
        .submitted_result(&job.parse().unwrap())
        .await
        .unwrap()
        .unwrap()
        .result
        .usage;
    let earned = e.json(&["node", "earnings", &node.to_string()], "owner");
    let row = earned["nodes"][0]["epochs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["epoch"] == epoch)
        .cloned()
        .unwrap_or_else(|| panic!("epoch {epoch} not in {earned}"));
    assert_eq!(
        (&row["jobs"], &row["gpu_secs"], &row["claimed"]),
        (
            &serde_json::json!(1),
            &serde_json::json!(used.gpu_secs),
            &serde_json::json!(true)
        ),
        "{row}"
    );
    assert_eq!(row["reward"], summary.burned_tokens, "{row}");
    assert_eq!(
        row["reward_micro_usd"], summary.burned_micro_usd,
        "a reward equal to the burn is worth what the burn was: {row}"
    );

    // One token book.
    let minted = p.emissions().await.unwrap().minted_in_all() - minted0;
    let books = p.market_books(0).await.unwrap();
    assert_eq!(
        p.supply(&mint).await.unwrap(),
        supply0 + minted - books.burned + books.pending_burn
    );

    // What it printed, as the result committed it (verified).
    let logs = e.json(&["job", "logs", &job], "creator");
    assert_eq!(
        (&logs["verified"], &logs["stream"], &logs["attempt"]),
        (
            &serde_json::json!(true),
            &serde_json::json!("stdout.log"),
            &Value::Null
        ),
        "{logs}"
    );
    // The job's story, in the terminal and in the dashboard.
    let told = e.json(&["job", "events", &job], "creator");
    // A run that takes more than the node's 5 s live-logs period also
    // announces its live logs: that step depends on the machine's speed.
    let told: Vec<&str> = told["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["event"].as_str().unwrap())
        .filter(|e| !MAY_APPEAR.contains(e))
        .collect();
    assert_eq!(
        told,
        ["JobPosted", "JobAssigned", "ResultSubmitted", "JobSettled"]
    );
    check_dashboard(&e, &p, &job, &node, &again.join("frame.png")).await;

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

/// Steps of a job's story that depend on timing: queued when no node was
/// waiting yet as it was posted; live logs when the run outlasted the
/// node's 5 s upload period.
const MAY_APPEAR: [&str; 2] = ["JobQueued", "LiveLogsAnnounced"];

/// `ake demo --dashboard`: while the demo's chain lives, its dashboard
/// shows the demo's job, its verified frame and the supply the demo
/// reports; Ctrl-C ends both.
#[tokio::test(flavor = "multi_thread")]
async fn the_demo_serves_its_dashboard() {
    use std::io::BufRead;
    if !docker_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut demo = Proc(
        Command::new(bin("ake"))
            .args([
                "demo",
                "--dashboard",
                "127.0.0.1:0",
                "--output",
                "json",
                "--out",
            ])
            .arg(dir.path().join("out"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // Its stderr: the dashboard's address, the rest kept for diagnostics.
    let (tx, rx) = std::sync::mpsc::channel();
    let said = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let stderr = std::io::BufReader::new(demo.0.stderr.take().unwrap());
    let log = said.clone();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if let Some(url) = line
                .split(" at ")
                .nth(1)
                .filter(|_| line.starts_with("dashboard of the demo"))
            {
                let _ = tx.send(url.split(' ').next().unwrap_or_default().to_string());
            }
            log.lock().unwrap().push_str(&(line + "\n"));
        }
    });
    let report: Value = serde_json::Deserializer::from_reader(demo.0.stdout.take().unwrap())
        .into_iter()
        .next()
        .and_then(Result::ok)
        .unwrap_or_else(|| {
            panic!(
                "the demo printed no report; it said:\n{}",
                said.lock().unwrap()
            )
        });
    let base = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("the dashboard's address");
    let job = report["job"].as_str().unwrap();
    let page = reqwest::get(format!("{base}jobs/{job}")).await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let page = page.text().await.unwrap();
    for shown in [
        format!(
            "Verified: 1 file(s) hash to the on-chain root {}",
            report["commitment"].as_str().unwrap()
        ),
        "rendered frame 0".to_string(),
        format!("/jobs/{job}/outputs/frame.png"),
    ] {
        assert!(page.contains(&shown), "{shown} not on the job page: {page}");
    }
    let network = Page(reqwest::get(&base).await.unwrap().text().await.unwrap());
    assert_eq!(
        Some(base_units(&network.fact("supply"))),
        report["final_supply"].as_u64()
    );
    unsafe {
        libc::kill(demo.0.id() as i32, libc::SIGINT);
    }
    let status = demo.0.wait().unwrap();
    assert!(
        status.success(),
        "the demo ends cleanly at Ctrl-C: {}",
        said.lock().unwrap()
    );
}

/// `ake dashboard` against the chain the test ran: every page is fetched
/// over HTTP, parsed, and its numbers checked against what the chain says;
/// with Chromium here (CI installs it), each page is screenshotted under
/// `target/dashboard-screenshots/` for people to look at.
async fn check_dashboard(e: &E2e, p: &Protocol, job: &str, node: &Pubkey, frame: &Path) {
    let (_dashboard, base) = start_dashboard(e);
    let get = |path: String| {
        let url = format!("{base}{path}");
        async move {
            let r = reqwest::get(&url).await.unwrap();
            (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
        }
    };
    let page = |path: String| {
        let fetched = get(path.clone());
        async move {
            let (status, body) = fetched.await;
            let body = String::from_utf8(body).unwrap();
            assert_eq!(status, 200, "{path}: {body}");
            Page(body)
        }
    };
    let config = p.config().await.unwrap();
    let books = p.market_books(0).await.unwrap();
    let emissions = p.emissions().await.unwrap();

    // The network: supply, burn and mint, the market, the chart.
    let network = page("/".into()).await;
    assert_eq!(
        base_units(&network.fact("supply")),
        p.supply(&config.mint).await.unwrap()
    );
    assert_eq!(
        base_units(&network.fact("minted")),
        emissions.minted_in_all()
    );
    assert_eq!(base_units(&network.fact("burned")), books.burned);
    let markets = network.rows("markets");
    assert_eq!(markets.len(), usize::from(config.market_count));
    assert_eq!(markets[0][7], books.jobs_settled.to_string(), "{markets:?}");
    let mut closed_any = false;
    // The chart shows the last 24 epochs (the dashboard's default).
    let current = p.current_epoch(&emissions).await.unwrap();
    for epoch in current.saturating_sub(23)..=current {
        let Some(summary) = p.epoch_summary(epoch).await.unwrap() else {
            continue;
        };
        let label = epoch.to_string();
        assert_eq!(network.bar("burned", &label), Some(summary.burned_tokens));
        assert_eq!(network.bar("minted", &label), Some(summary.claimed));
        closed_any |= summary.closed && summary.claimed > 0;
    }
    assert!(closed_any, "the run closed an epoch and claimed it");

    // Epochs: one row each, newest first, as the chain has them.
    let epochs = page("/epochs".into()).await;
    for row in epochs.rows("epochs") {
        let epoch: u64 = row[0].parse().unwrap();
        let summary = p.epoch_summary(epoch).await.unwrap();
        let jobs = summary.as_ref().map_or(0, |s| s.jobs);
        let closed = summary.as_ref().is_some_and(|s| s.closed);
        assert_eq!(row[2], jobs.to_string(), "{row:?}");
        assert_eq!(row[1], if closed { "closed" } else { "open" }, "{row:?}");
    }

    // The market and the node.
    let market = page("/markets/0".into()).await;
    assert_eq!(market.fact("settled"), books.jobs_settled.to_string());
    let in_flight = p.market(0).await.unwrap().in_flight();
    let rows = market.rows("in-flight");
    assert_eq!(rows.len(), in_flight.len(), "{rows:?}");
    for (row, f) in rows.iter().zip(&in_flight) {
        assert_eq!(row[0], f.job.to_string());
    }
    let n = p.node(node).await.unwrap().unwrap();
    let shown = page(format!("/nodes/{node}")).await;
    assert_eq!(shown.fact("completed"), n.jobs_completed.to_string());
    assert!(
        shown
            .fact("reputation")
            .starts_with(&format!("{} bps", n.reputation_bps)),
        "{}",
        shown.fact("reputation")
    );

    // The owner's fleet: the node, with what it earned.
    let fleet = page(format!("/owners/{}", n.owner)).await;
    let nodes = fleet.rows("fleet");
    assert_eq!(nodes.len(), 1, "{nodes:?}");
    assert_eq!(
        (nodes[0][0].as_str(), nodes[0][3].as_str()),
        (node.to_string().as_str(), "1")
    );
    let earned = shown.rows("earnings");
    let claimed = earned
        .iter()
        .find(|r| r[7] == "claimed")
        .unwrap_or_else(|| panic!("no claimed epoch in {earned:?}"));
    let summary = p
        .epoch_summary(claimed[0].parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed[1], "1", "{claimed:?}");
    assert!(shown
        .0
        .contains(&format!("data-base-units=\"{}\"", summary.burned_tokens)));

    // The job: its timeline, and its frame verified and shown.
    let settled = page(format!("/jobs/{job}")).await;
    let events: Vec<String> = settled
        .rows("timeline")
        .into_iter()
        .map(|r| r[0].clone())
        .filter(|e| !MAY_APPEAR.contains(&e.as_str()))
        .collect();
    assert_eq!(
        events,
        ["JobPosted", "JobAssigned", "ResultSubmitted", "JobSettled"]
    );
    let root = hex::encode(
        p.submitted_result(&job.parse().unwrap())
            .await
            .unwrap()
            .unwrap()
            .result
            .commitment,
    );
    assert!(
        settled.0.contains("<p class=ok id=verification>Verified: ") && settled.0.contains(&root),
        "{}",
        settled.0
    );
    assert!(
        settled
            .0
            .contains("(stdout.log as the result committed it: verified against its root)"),
        "the committed logs are shown: {}",
        settled.0
    );
    let files = settled.rows("outputs");
    assert!(files.iter().any(|r| r[0] == "frame.png"), "{files:?}");
    assert!(settled.0.contains(&format!(
        "<img class=thumb src=\"/jobs/{job}/outputs/frame.png\""
    )));
    let (status, png) = get(format!("/jobs/{job}/outputs/frame.png")).await;
    assert_eq!(status, 200);
    assert_eq!(
        png,
        std::fs::read(frame).unwrap(),
        "the verified frame itself"
    );

    // Bad addresses say what is wrong; unknown ones are not found.
    let (status, body) = get("/nodes/not-a-key".into()).await;
    assert_eq!(status, 400);
    assert!(String::from_utf8(body)
        .unwrap()
        .contains("is not a node address"));
    let (status, _) = get(format!("/jobs/{}", Pubkey::new_unique())).await;
    assert_eq!(status, 404);
    // Sent raw (an HTTP client would resolve the dots): the route gets the
    // path as is, and serves only files the manifest lists.
    let raw = raw_get(&base, &format!("/jobs/{job}/outputs/../../etc/passwd"));
    assert!(raw.starts_with("HTTP/1.1 404"), "{raw}");
    assert!(raw.contains("is not among the verified outputs"), "{raw}");
    // Addressed by name on loopback, it answers; a request for another host
    // name (a page elsewhere rebinding its DNS to loopback) is refused.
    let by_name = base
        .trim_start_matches("http://")
        .replace("127.0.0.1", "localhost");
    let answer = raw_get_host(&base, "/", &by_name);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let rebound = raw_get_host(&base, "/", "attacker.example");
    assert!(rebound.starts_with("HTTP/1.1 400"), "{rebound}");

    if chromium_available() {
        let shots = bin("ake")
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .join("dashboard-screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        for (name, path) in [
            ("network", "/".to_string()),
            ("epochs", "/epochs".into()),
            ("market-0", "/markets/0".into()),
            ("node", format!("/nodes/{node}")),
            ("job", format!("/jobs/{job}")),
        ] {
            let file = shots.join(format!("{name}.png"));
            let _ = std::fs::remove_file(&file);
            screenshot(&format!("{base}{path}"), &file);
            let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
            // A blank 1280x1000 page is a few KB; a rendered one is tens.
            assert!(size > 10_000, "{name}: {} is {size} bytes", file.display());
        }
        eprintln!("dashboard screenshots in {}", shots.display());
    }
}

/// `ake dashboard` on a free port; returns it and its base URL.
fn start_dashboard(e: &E2e) -> (Proc, String) {
    use std::io::BufRead;
    let log = std::fs::File::create(e.dir.path().join("dashboard.log")).unwrap();
    let mut child = Command::new(bin("ake"))
        .args(["--url", &e.url, "dashboard", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .split(" at ")
        .nth(1)
        .map(|u| u.trim().trim_end_matches('/').to_string())
        .unwrap_or_else(|| {
            panic!(
                "ake dashboard said {line:?}; its log: {}",
                std::fs::read_to_string(e.dir.path().join("dashboard.log")).unwrap_or_default()
            )
        });
    (Proc(child), base)
}

/// Headless Chromium as a person's browser: the page rendered to a PNG.
fn screenshot(url: &str, file: &Path) {
    let out = Command::new("timeout")
        .args([
            "120",
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
        ])
        .args(["--hide-scrollbars", "--window-size=1280,1000"])
        .arg(format!("--screenshot={}", file.display()))
        .arg(url)
        .output()
        .unwrap();
    assert!(
        out.status.success() && file.exists(),
        "chromium could not screenshot {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Debian's Chromium, which `.ci/run` installs.
fn chromium_available() -> bool {
    let ok = succeeds("chromium", &["--version"]);
    present_or_skipped(
        ok,
        "chromium is not installed (apt-get install chromium): the dashboard screenshots",
    )
}

/// A dashboard page, read with an HTML parser.
struct Page(String);

/// An element of a page: its name, attributes, text and inner HTML.
struct Tag {
    name: String,
    attrs: Vec<(String, String)>,
    text: String,
    inner: String,
}

impl Tag {
    fn attr(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

impl Page {
    /// Every element, in document order.
    fn tags(&self) -> Vec<Tag> {
        let dom = tl::parse(&self.0, tl::ParserOptions::default()).expect("the page is HTML");
        let parser = dom.parser();
        dom.nodes()
            .iter()
            .filter_map(|n| n.as_tag())
            .map(|t| Tag {
                name: t.name().as_utf8_str().into_owned(),
                attrs: t
                    .attributes()
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.into_owned(),
                            v.map(|v| v.into_owned()).unwrap_or_default(),
                        )
                    })
                    .collect(),
                text: t.inner_text(parser).into_owned(),
                inner: t.inner_html(parser),
            })
            .collect()
    }

    /// The inner HTML of the fact `<dd data-key="key">`.
    fn fact(&self, key: &str) -> String {
        self.tags()
            .into_iter()
            .find(|t| t.name == "dd" && t.attr("data-key") == Some(key))
            .map(|t| t.inner)
            .unwrap_or_else(|| panic!("no fact {key} in the page"))
    }

    /// The text of each body row of the table with `id`.
    fn rows(&self, id: &str) -> Vec<Vec<String>> {
        let table = self
            .tags()
            .into_iter()
            .find(|t| t.name == "table" && t.attr("id") == Some(id))
            .unwrap_or_else(|| panic!("no table {id} in the page"));
        let mut rows: Vec<Vec<String>> = Vec::new();
        for cell in Page(table.inner).tags() {
            match cell.name.as_str() {
                "tr" => rows.push(Vec::new()),
                "td" => rows.last_mut().unwrap().push(cell.text.trim().to_string()),
                _ => {}
            }
        }
        rows.retain(|r| !r.is_empty()); // the header row has th cells
        rows
    }

    /// The value of a chart's bar.
    fn bar(&self, series: &str, label: &str) -> Option<u64> {
        self.tags().into_iter().find_map(|t| {
            (t.name == "rect"
                && t.attr("data-series") == Some(series)
                && t.attr("data-label") == Some(label))
            .then(|| t.attr("data-value").unwrap().parse().unwrap())
        })
    }
}

/// The exact amount an amount's `data-base-units` carries.
fn base_units(html: &str) -> u64 {
    Page(html.to_string())
        .tags()
        .iter()
        .find_map(|t| t.attr("data-base-units").map(|v| v.parse().unwrap()))
        .unwrap_or_else(|| panic!("no amount in {html}"))
}

/// A GET sent byte for byte, with the Host header a browser would send.
fn raw_get(base: &str, path: &str) -> String {
    raw_get_host(base, path, base.trim_start_matches("http://"))
}

fn raw_get_host(base: &str, path: &str, host: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    answer
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
