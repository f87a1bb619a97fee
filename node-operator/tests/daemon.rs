//! The daemon as a real process against a real local chain (served over
//! JSON-RPC) and the real Docker engine: a job is picked up, run, committed,
//! uploaded and submitted; and killed with SIGKILL right after each journal
//! step, a restarted daemon finishes the job exactly once.

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ake_localnet::{faults, Localnet};
use ake_node::journal::{Journal, JournalEntry};
use ake_node::output_store::OutputStore;
use ake_sdk::ake_market::state::{
    HardwareProfile, InlineSpec, JobSpec, JobState, NodeStatus, Verify,
};
use ake_sdk::chain::Chain;
use ake_sdk::cluster_params::ClusterParams;
use ake_sdk::protocol::{associated_token, Protocol};
use ake_sdk::sender::{send_instructions, Fees};
use ake_sdk::{instructions as ixs, pda};
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::{write_keypair_file, Keypair, Signer};
use support::*;

const DAEMON: &str = env!("CARGO_BIN_EXE_ake-node");

struct World {
    net: Arc<Localnet>,
    url: String,
    dir: tempfile::TempDir,
    creator: Keypair,
    hot: Keypair,
    owner: Keypair,
    image: TestImage,
    _clock: tokio::task::JoinHandle<()>,
    _server: tokio::task::JoinHandle<()>,
    nvml: Option<(PathBuf, PathBuf)>,
    /// The version the fake `nvidia-container-cli` of a GPU node reports.
    toolkit_version: &'static str,
    /// The toolkit's settings file the node reads.
    toolkit_settings: &'static str,
    /// Lines of the config replaced before the daemon starts: (line, with).
    config_edits: std::sync::Mutex<Vec<(String, String)>>,
    /// Environment the daemon and its commands get (store credentials).
    daemon_env: std::sync::Mutex<Vec<(String, String)>>,
}

fn cpu_profile() -> HardwareProfile {
    HardwareProfile {
        gpu_model: "CPU".into(),
        vram_mib: 0,
        benchmark_hash: [0; 32],
    }
}

impl World {
    async fn start() -> World {
        Self::start_as(cpu_profile(), None).await
    }

    /// A node registered with `profile`; `nvml` is the fake NVML library the
    /// daemon loads and the file its health state is read from.
    async fn start_as(profile: HardwareProfile, nvml: Option<(PathBuf, PathBuf)>) -> World {
        Self::start_with(profile, nvml, |_| {}).await
    }

    /// As `start_as`, on a chain whose parameters `edit` changed.
    async fn start_with(
        profile: HardwareProfile,
        nvml: Option<(PathBuf, PathBuf)>,
        edit: impl FnOnce(&mut ClusterParams),
    ) -> World {
        let mut params = ClusterParams::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations/localnet.toml"),
        )
        .unwrap();
        edit(&mut params);
        // These nodes keep 20 s back, not a default node's 180 s: short jobs
        // keep the deadline tests short.
        params.markets[0].min_duration_secs = 30;
        let params = params.validate().unwrap();
        let net = Localnet::start(&params, Keypair::new()).await.unwrap();
        let clock = net.run_clock().await.unwrap();
        let (addr, server) = net.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let (creator, owner, hot) = (Keypair::new(), Keypair::new(), Keypair::new());
        net.faucet(&creator.pubkey(), 100_000_000).await.unwrap();
        net.faucet(&owner.pubkey(), 1_000_000_000).await.unwrap();
        net.chain
            .airdrop(&hot.pubkey(), 1_000_000_000)
            .await
            .unwrap();
        let chain = net.chain.as_ref();
        let mint: Pubkey = net.deployment.mint.parse().unwrap();
        let stake = ixs::deposit_stake(
            owner.pubkey(),
            mint,
            associated_token(&owner.pubkey(), &mint),
            400_000_000,
        );
        send_instructions(chain, &owner, &[], &[stake], Fees::default())
            .await
            .unwrap();
        let register = ixs::register_node(owner.pubkey(), hot.pubkey(), pda::market(0), 1, profile);
        send_instructions(chain, &owner, &[&hot], &[register], Fees::default())
            .await
            .unwrap();
        World {
            net,
            url: format!("http://{addr}"),
            dir: tempfile::tempdir().unwrap(),
            creator,
            hot,
            owner,
            image: TestImage::acquire(),
            _clock: clock,
            _server: server,
            nvml,
            toolkit_version: "1.17.8",
            toolkit_settings: "[features]\ndisable-cuda-compat-lib-hook = true\n",
            config_edits: Default::default(),
            daemon_env: Default::default(),
        }
    }

    fn protocol(&self) -> Protocol {
        Protocol::new(self.net.chain.clone())
    }

    /// A second JSON-RPC endpoint on this chain, `lag` slots behind it
    /// (ake-localnet's lagging mode). The chain moves on `lag` slots first,
    /// so the lagging endpoint already shows the registered node.
    async fn lagging_url(&self, lag: u64) -> String {
        let (addr, _server) = self
            .net
            .serve_behind("127.0.0.1:0".parse().unwrap(), lag)
            .await
            .unwrap();
        for _ in 0..=lag {
            self.net.chain.tick().await.unwrap();
        }
        format!("http://{addr}")
    }

    /// The node owner's staked amount, in base units.
    async fn owner_stake(&self) -> u64 {
        self.protocol()
            .stake(&self.owner.pubkey())
            .await
            .unwrap()
            .unwrap()
            .amount
    }

    /// The config the running daemon uses (written by `spawn_daemon`).
    fn config_path(&self) -> PathBuf {
        self.dir.path().join("node.toml")
    }

    fn config(&self) -> PathBuf {
        self.config_in(self.dir.path(), &self.hot)
    }

    /// A daemon's config for the node of hot key `hot`, working in `dir`.
    fn config_in(&self, dir: &Path, hot: &Keypair) -> PathBuf {
        let key = dir.join("signer.json");
        if !key.exists() {
            write_keypair_file(hot, &key).unwrap();
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let path = dir.join("node.toml");
        let d = dir.display();
        let toolkit = dir.join("nvidia-container-cli");
        std::fs::write(
            &toolkit,
            format!(
                "#!/bin/sh\necho 'cli-version: {0}'\necho 'lib-version: {0}'\n",
                self.toolkit_version
            ),
        )
        .unwrap();
        std::fs::set_permissions(&toolkit, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(dir.join("toolkit.toml"), self.toolkit_settings).unwrap();
        let mut text = format!(
            r#"rpc_urls = ["{url}"]
commitment = "confirmed"
node_signer_keypair = "{d}/signer.json"
market = 0
work_dir = "{d}/work"
journal_path = "{d}/journal.redb"
metrics_addr = "127.0.0.1:{port}"
output_store = "file://{d}/store"
{nvml}
max_output_files = 1000
max_output_bytes = 104857600
deadline_reserve_secs = 20
nvidia_toolkit_cli = "{d}/nvidia-container-cli"
nvidia_toolkit_config = "{d}/toolkit.toml"
hot_key_max_sol = 0.5

[inputs]
# The test servers listen on loopback; the default refuses private addresses.
allow_private_networks = true
max_bytes = 10485760
max_total_bytes = 20971520

[runtime]
memory_mb = 256
cpus = 1.0
pids_limit = 64
shm_size_mb = 64
tmp_size_mb = 64
cleaner_image = "{cleaner}"
# Absent but in the engine-restart test: the engine counts as started at boot.
engine_pid_file = "{d}/docker.pid"
"#,
            cleaner = self.image.tag,
            url = self.url,
            port = free_port(),
            nvml = self
                .nvml
                .as_ref()
                .map(|(lib, _)| format!("nvml_lib_path = \"{}\"", lib.display()))
                .unwrap_or_default()
        );
        for (line, with) in self.config_edits.lock().unwrap().iter() {
            assert!(text.contains(line.as_str()), "no line {line} to edit");
            text = text.replace(line.as_str(), with);
        }
        std::fs::write(&path, text).unwrap();
        path
    }

    fn spawn_daemon(&self, crash_after: Option<&str>) -> Child {
        self.spawn_in(self.dir.path(), &self.hot, crash_after)
    }

    /// A daemon for the node of hot key `hot`, working (and logging) in `dir`.
    fn spawn_in(&self, dir: &Path, hot: &Keypair, crash_after: Option<&str>) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("daemon.log"))
            .unwrap();
        let mut cmd = Command::new(DAEMON);
        // The tests read what the daemon says, whatever RUST_LOG CI runs with.
        cmd.env("RUST_LOG", "info,tarpc=error,solana_metrics=off")
            .arg("--config")
            .arg(self.config_in(dir, hot))
            .arg("run")
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        match crash_after {
            Some(step) => cmd.env("AKE_NODE_CRASH_AFTER", step),
            None => cmd.env_remove("AKE_NODE_CRASH_AFTER"),
        };
        if let Some((_, state)) = &self.nvml {
            cmd.env("FAKE_NVML_STATE", state);
        }
        cmd.envs(self.daemon_env.lock().unwrap().iter().cloned());
        if let Some((uid, gid)) = daemon_user() {
            // What the test wrote becomes the daemon user's; what a job
            // left stays the job's, for the daemon to clean up as it must.
            let mut mine: Vec<PathBuf> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.uid() == 0))
                .collect();
            mine.push(dir.to_path_buf());
            mine.extend(self.nvml.as_ref().map(|(_, state)| state.clone()));
            for path in mine {
                std::os::unix::fs::lchown(&path, Some(uid), Some(gid)).unwrap();
            }
            cmd.uid(uid).gid(gid);
        }
        cmd.spawn().expect("spawn ake-node")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
    }

    /// Posts a job whose container appends a line to runs.txt each time it runs.
    async fn post(&self) -> Pubkey {
        self.post_with_inputs(vec![]).await
    }

    async fn post_with_inputs(&self, inputs: Vec<ake_sdk::ake_market::state::InputFile>) -> Pubkey {
        let script = "echo run >> /ake/output/runs.txt; /bin/busybox sleep 2; echo rendered";
        self.post_script(script, inputs, 120).await
    }

    /// Posts a job running `script` under busybox sh, with 1 MiB of outputs.
    async fn post_script(
        &self,
        script: &str,
        inputs: Vec<ake_sdk::ake_market::state::InputFile>,
        max_duration_secs: u32,
    ) -> Pubkey {
        self.post_in(&self.image.tag, vec![], script, inputs, max_duration_secs)
            .await
    }

    /// As `post_script`, in `image` with `env`.
    async fn post_in(
        &self,
        image: &str,
        env: Vec<ake_sdk::ake_market::state::EnvVar>,
        script: &str,
        inputs: Vec<ake_sdk::ake_market::state::InputFile>,
        max_duration_secs: u32,
    ) -> Pubkey {
        let spec = JobSpec::Inline(InlineSpec {
            image: image.to_string(),
            command: vec![BUSYBOX.into(), "sh".into(), "-c".into(), script.into()],
            env,
            inputs,
            max_output_bytes: 1 << 20,
        });
        self.post_spec(spec, max_duration_secs).await
    }

    async fn post_spec(&self, spec: JobSpec, max_duration_secs: u32) -> Pubkey {
        self.post_verified(spec, max_duration_secs, Verify::None)
            .await
    }

    async fn post_verified(&self, spec: JobSpec, max_duration_secs: u32, verify: Verify) -> Pubkey {
        let p = self.protocol();
        let args = ake_sdk::ake_market::instructions::PostJobArgs {
            nonce: 0,
            gpus: 1,
            max_duration_secs,
            min_reputation_bps: 0,
            max_tokens: u64::MAX,
            spec,
            verify,
        };
        let job = pda::job(
            &self.creator.pubkey(),
            p.next_nonce(&self.creator.pubkey()).await.unwrap(),
        );
        let c = &self.creator;
        let ix = p.post_job(&c.pubkey(), 0, args).await.unwrap().1;
        send_instructions(p.chain.as_ref(), c, &[], &[ix], Fees::default())
            .await
            .unwrap();
        job
    }

    /// Waits until the job has been handed back once (it stays open, queued).
    async fn wait_released(
        &self,
        job: &Pubkey,
        limit: Duration,
    ) -> ake_sdk::ake_market::state::Job {
        let p = self.protocol();
        let end = Instant::now() + limit;
        loop {
            let j = p.job(job).await.unwrap().expect("the job stays open");
            if j.releases.total == 1 {
                return j;
            }
            assert!(
                Instant::now() < end,
                "the job was not handed back; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn wait_submitted(
        &self,
        job: &Pubkey,
        limit: Duration,
    ) -> ake_sdk::ake_market::state::Job {
        let p = self.protocol();
        let end = Instant::now() + limit;
        loop {
            if let Some(j) = p.job(job).await.unwrap() {
                if j.state == JobState::Submitted {
                    return j;
                }
            }
            assert!(
                Instant::now() < end,
                "job not submitted in time; daemon log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until the job's first attempt runs here: its script has
    /// written `runs.txt` into its output directory.
    async fn wait_running(&self, job: &Pubkey) {
        let runs = self
            .dir
            .path()
            .join(format!("work/{job}-1/output/runs.txt"));
        let end = Instant::now() + Duration::from_secs(60);
        while !runs.exists() {
            assert!(Instant::now() < end, "never ran; log:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until `node` is in `status`.
    async fn wait_node(&self, node: &Pubkey, status: NodeStatus, limit: Duration) {
        let p = self.protocol();
        let end = Instant::now() + limit;
        while p.node(node).await.unwrap().unwrap().status != status {
            assert!(
                Instant::now() < end,
                "node {node} never {status:?}; daemon log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A new CPU node of `owner` (staked by `stake` base units more), armed
    /// through the SDK and waiting in the queue; returns its account.
    /// Another owner's node, staked as this world's, registered (its own
    /// daemon arms it): its working directory and hot key.
    async fn peer(&self) -> (tempfile::TempDir, Keypair) {
        let chain = self.net.chain.as_ref();
        let (owner, hot) = (Keypair::new(), Keypair::new());
        chain.airdrop(&hot.pubkey(), 1_000_000_000).await.unwrap();
        chain.airdrop(&owner.pubkey(), 1_000_000_000).await.unwrap();
        self.net.faucet(&owner.pubkey(), 400_000_000).await.unwrap();
        let mint: Pubkey = self.net.deployment.mint.parse().unwrap();
        let ixs_ = [
            ixs::deposit_stake(
                owner.pubkey(),
                mint,
                associated_token(&owner.pubkey(), &mint),
                400_000_000,
            ),
            ixs::register_node(
                owner.pubkey(),
                hot.pubkey(),
                pda::market(0),
                1,
                cpu_profile(),
            ),
        ];
        send_instructions(chain, &owner, &[&hot], &ixs_, Fees::default())
            .await
            .unwrap();
        (tempfile::tempdir().unwrap(), hot)
    }

    /// Waits until `job`'s audit is in `phase`.
    async fn wait_audit(
        &self,
        job: &Pubkey,
        phase: ake_sdk::ake_market::state::AuditPhase,
        limit: Duration,
        logs: &[&Path],
    ) -> ake_sdk::ake_market::state::Job {
        let p = self.protocol();
        let end = Instant::now() + limit;
        loop {
            let seen = p.job(job).await.unwrap();
            if let Some(j) = &seen {
                if j.audit.phase == phase {
                    return j.clone();
                }
            }
            if Instant::now() >= end {
                // Where it stood: the audit's phase and who holds each run.
                let mut runs = vec![];
                for run in seen.iter().flat_map(|j| j.audit.runs) {
                    let held = p.job(&run).await.unwrap();
                    runs.push(held.map(|r| (run, r.state, r.node_owner, r.audit.phase)));
                }
                let logs: Vec<String> = logs
                    .iter()
                    .map(|d| std::fs::read_to_string(d.join("daemon.log")).unwrap_or_default())
                    .collect();
                panic!(
                    "audit of {job} never reached {phase:?}: it is {:?}, runs {runs:?}; daemon logs:\n{}",
                    seen.map(|j| j.audit.phase),
                    logs.join("\n-----\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    async fn waiting_node(&self, owner: &Keypair, stake: u64) -> Pubkey {
        let chain = self.net.chain.as_ref();
        let p = self.protocol();
        let hot = Keypair::new();
        chain.airdrop(&hot.pubkey(), 1_000_000_000).await.unwrap();
        chain.airdrop(&owner.pubkey(), 1_000_000_000).await.unwrap();
        let mut ixs_ = vec![];
        if stake > 0 {
            self.net.faucet(&owner.pubkey(), stake).await.unwrap();
            let mint: Pubkey = self.net.deployment.mint.parse().unwrap();
            ixs_.push(ixs::deposit_stake(
                owner.pubkey(),
                mint,
                associated_token(&owner.pubkey(), &mint),
                stake,
            ));
        }
        ixs_.push(ixs::register_node(
            owner.pubkey(),
            hot.pubkey(),
            pda::market(0),
            1,
            cpu_profile(),
        ));
        send_instructions(chain, owner, &[&hot], &ixs_, Fees::default())
            .await
            .unwrap();
        let node = pda::node(&hot.pubkey());
        // A new node waits out the re-arm cooldown before its first job.
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = p.node_ready(&hot.pubkey()).await.unwrap();
            if send_instructions(chain, &hot, &[], &[ready], Fees::default())
                .await
                .is_ok()
            {
                break;
            }
            assert!(Instant::now() < end, "node {node} never armed");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        self.wait_node(&node, NodeStatus::Queued, Duration::from_secs(10))
            .await;
        node
    }

    /// Splits the daemon into one slot per entry of `gpus` (the GPUs each
    /// slot names; none for a CPU slot): the first is `self.hot`'s node,
    /// each other a new node of the same owner registered as `profile`
    /// and staked like the first. The slots' nodes, in order.
    async fn use_slots(&self, profile: HardwareProfile, gpus: &[Vec<&str>]) -> Vec<Pubkey> {
        let chain = self.net.chain.as_ref();
        let mint: Pubkey = self.net.deployment.mint.parse().unwrap();
        let more = gpus.len() as u64 - 1;
        self.net
            .faucet(&self.owner.pubkey(), 400_000_000 * more)
            .await
            .unwrap();
        let stake = ixs::deposit_stake(
            self.owner.pubkey(),
            mint,
            associated_token(&self.owner.pubkey(), &mint),
            400_000_000 * more,
        );
        send_instructions(chain, &self.owner, &[], &[stake], Fees::default())
            .await
            .unwrap();
        let d = self.dir.path().display();
        let mut slots = String::new();
        let mut nodes = Vec::new();
        for (i, slot_gpus) in gpus.iter().enumerate() {
            let hot = match i {
                0 => self.hot.insecure_clone(),
                _ => {
                    let hot = Keypair::new();
                    chain.airdrop(&hot.pubkey(), 1_000_000_000).await.unwrap();
                    let register = ixs::register_node(
                        self.owner.pubkey(),
                        hot.pubkey(),
                        pda::market(0),
                        1,
                        profile.clone(),
                    );
                    send_instructions(chain, &self.owner, &[&hot], &[register], Fees::default())
                        .await
                        .unwrap();
                    hot
                }
            };
            let key = self.dir.path().join(format!("slot{i}.json"));
            write_keypair_file(&hot, &key).unwrap();
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
            let names: Vec<String> = slot_gpus.iter().map(|g| format!("\"{g}\"")).collect();
            slots.push_str(&format!(
                "\n[[slots]]\nname = \"slot{i}\"\nnode_signer_keypair = \"{}\"\ngpus = [{}]\n",
                key.display(),
                names.join(", ")
            ));
            nodes.push(pda::node(&hot.pubkey()));
        }
        let pid_file = format!("engine_pid_file = \"{d}/docker.pid\"\n");
        let mut edits = self.config_edits.lock().unwrap();
        edits.push((
            format!("node_signer_keypair = \"{d}/signer.json\"\n"),
            String::new(),
        ));
        edits.push((pid_file.clone(), format!("{pid_file}{slots}")));
        nodes
    }

    /// Closes epochs as a cranker would until every node in `nodes` has
    /// claimed `epoch` (its work record closed), for at most two minutes.
    async fn wait_claimed(&self, epoch: u64, nodes: &[Pubkey]) {
        let p = self.protocol();
        let mint: Pubkey = self.net.deployment.mint.parse().unwrap();
        let cranker = Keypair::new();
        self.net
            .chain
            .airdrop(&cranker.pubkey(), 1_000_000_000)
            .await
            .unwrap();
        let end = Instant::now() + Duration::from_secs(120);
        loop {
            for e in p.crank_work().await.unwrap().epochs_to_close {
                let close = p.close_epoch(e, cranker.pubkey()).await.unwrap();
                let ata = ake_sdk::protocol::create_associated_token(
                    &cranker.pubkey(),
                    &cranker.pubkey(),
                    &mint,
                );
                send_instructions(
                    p.chain.as_ref(),
                    &cranker,
                    &[],
                    &[ata, close],
                    Fees::default(),
                )
                .await
                .unwrap();
            }
            let mut open = 0;
            for node in nodes {
                open += usize::from(p.node_work(epoch, node).await.unwrap().is_some());
            }
            if open == 0 {
                return; // claimed: every record closed
            }
            assert!(
                Instant::now() < end,
                "{open} node(s) never claimed within 2 minutes; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Makes the chain act on ake-market's next `instruction`s (its data
    /// ending with `suffix`) as `effect` says, `times` times.
    fn fault_on(&self, instruction: &str, suffix: Vec<u8>, effect: faults::Effect, times: u32) {
        use sha2::Digest;
        self.net.chain.inject_fault(faults::Fault {
            program: ake_sdk::ake_market::ID,
            // Anchor's discriminator of the instruction.
            prefix: sha2::Sha256::digest(format!("global:{instruction}"))[..8].to_vec(),
            suffix,
            effect,
            times,
        });
    }
}

/// The user the daemon runs as when the tests run as root (as CI does): a
/// node's systemd unit runs it as `ake-node`, a member of the docker group,
/// and clean-up must work as that. None when the tests are not root.
fn daemon_user() -> Option<(u32, u32)> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let docker = std::fs::metadata("/var/run/docker.sock").map_or(0, |m| m.gid());
    Some((4242, docker))
}

fn wait_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let end = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < end, "the daemon did not exit in time");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn stop(child: &mut Child) -> std::process::ExitStatus {
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    wait_exit(child, Duration::from_secs(30))
}

/// A second SIGTERM after the first: exit between steps now, the journal
/// resumes the jobs in progress at the next start.
fn stop_now(child: &mut Child) -> std::process::ExitStatus {
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    std::thread::sleep(Duration::from_millis(500));
    stop(child)
}

/// Killed right after `step` is journaled, restarted: one run, one result.
async fn crash_after(step: &str) {
    if runtime(Default::default(), step).await.is_none() {
        return;
    }
    let world = World::start().await;
    let mut first = world.spawn_daemon(Some(step));
    let job = world.post().await;
    let status = wait_exit(&mut first, Duration::from_secs(120));
    assert_eq!(
        status.signal(),
        Some(libc::SIGKILL),
        "killed at {step}; log:\n{}",
        world.log()
    );

    let mut second = world.spawn_daemon(None);
    let submitted = world.wait_submitted(&job, Duration::from_secs(120)).await;
    // Give the daemon time to confirm and clean up, then stop it gracefully.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        stop(&mut second).success(),
        "graceful SIGTERM exit; log:\n{}",
        world.log()
    );

    // One container run: the job appended exactly one line.
    let result = submitted.result.unwrap();
    let dest = world.dir.path().join("fetched");
    let manifest = OutputStore::for_output(&result.output_uri)
        .unwrap()
        .fetch_dir(&result.output_uri, &dest)
        .await
        .unwrap();
    assert_eq!(
        manifest.root(),
        result.commitment,
        "the on-chain commitment is the manifest root"
    );
    assert_eq!(
        std::fs::read_to_string(dest.join("runs.txt")).unwrap(),
        "run\n",
        "the job ran once"
    );
    // One result transaction, signed once and confirmed.
    let journal = Journal::open(&world.dir.path().join("journal.redb")).unwrap();
    let entries = journal.entries(&format!("{job}-1")).await.unwrap();
    let signed = entries
        .iter()
        .filter(|e| matches!(e, JournalEntry::TxSigned { .. }))
        .count();
    let confirmed = entries
        .iter()
        .filter(|e| matches!(e, JournalEntry::TxConfirmed { .. }))
        .count();
    assert_eq!((signed, confirmed), (1, 1), "entries: {entries:?}");
    assert!(
        journal.open_jobs().await.unwrap().is_empty(),
        "the job is done in the journal"
    );
    // The container is removed once its outputs are committed.
    let left = docker(&["ps", "-aq", "--filter", &format!("label=ake.job={job}-1")]);
    assert!(String::from_utf8_lossy(&left.stdout).trim().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs --features ake-node/fault-injection"
)]
async fn crash_after_container_start() {
    crash_after("container_started").await;
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs --features ake-node/fault-injection"
)]
async fn crash_after_exit_before_upload() {
    crash_after("container_exited").await;
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs --features ake-node/fault-injection"
)]
async fn crash_after_signing_before_confirmation() {
    crash_after("tx_signed").await;
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs --features ake-node/fault-injection"
)]
async fn crash_after_create_intent() {
    crash_after("container_create_intent").await;
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs --features ake-node/fault-injection"
)]
async fn crash_after_upload_intent() {
    crash_after("upload_intent").await;
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs --features ake-node/fault-injection"
)]
async fn crash_after_uploaded_before_signing() {
    crash_after("uploaded").await;
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs --features ake-node/fault-injection"
)]
async fn crash_after_confirmation_before_clean_up() {
    crash_after("tx_confirmed").await;
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs --features ake-node/fault-injection"
)]
async fn crash_after_failure_hands_back_once() {
    if runtime(Default::default(), "crash_after_failed")
        .await
        .is_none()
    {
        return;
    }
    let world = World::start().await;
    let stake_before = world.owner_stake().await;
    let (url, _) = counting_server("200 OK", b"not what was hashed").await;
    let mut first = world.spawn_daemon(Some("failed"));
    let job = world
        .post_with_inputs(vec![ake_sdk::ake_market::state::InputFile {
            url,
            sha256: [0xab; 32],
        }])
        .await;
    let status = wait_exit(&mut first, Duration::from_secs(120));
    assert_eq!(
        status.signal(),
        Some(libc::SIGKILL),
        "log:\n{}",
        world.log()
    );
    let mut second = world.spawn_daemon(None);
    let released = world.wait_released(&job, Duration::from_secs(60)).await;
    assert_eq!(
        released.last_release,
        Some(ake_sdk::ake_market::state::ReleaseReason::InputHashMismatch)
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(stop(&mut second).success());
    let stake = world.owner_stake().await;
    assert_eq!(stake, stake_before, "handed back in the free window");
    let journal = Journal::open(&world.dir.path().join("journal.redb")).unwrap();
    let entries = journal.entries(&format!("{job}-1")).await.unwrap();
    let failed = entries
        .iter()
        .filter(|e| matches!(e, JournalEntry::Failed { .. }))
        .count();
    assert_eq!(failed, 1, "failed once, never driven again: {entries:?}");
    assert!(journal.open_jobs().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn serves_settles_and_claims() {
    if runtime(Default::default(), "serves_settles_and_claims")
        .await
        .is_none()
    {
        return;
    }
    let world = World::start().await;
    let p = world.protocol();
    let mint: Pubkey = world.net.deployment.mint.parse().unwrap();
    let owner_token = associated_token(&world.owner.pubkey(), &mint);
    let mut daemon = world.spawn_daemon(None);
    let job = world.post().await;
    let submitted = world.wait_submitted(&job, Duration::from_secs(120)).await;
    assert!(submitted.result.as_ref().unwrap().usage.wall_secs >= 2);

    // The creator accepts; the epoch closes (30 s); the daemon claims for the owner.
    let accept = p.accept(&job).await.unwrap();
    send_instructions(
        p.chain.as_ref(),
        &world.creator,
        &[],
        &[accept],
        Fees::default(),
    )
    .await
    .unwrap();
    let epoch = p
        .current_epoch(&p.emissions().await.unwrap())
        .await
        .unwrap();
    let before = p.token_balance(&owner_token).await.unwrap();
    world
        .wait_claimed(epoch, &[pda::node(&world.hot.pubkey())])
        .await;
    let summary = p.epoch_summary(epoch).await.unwrap().unwrap();
    // The only node's reward: what its job burned (far less than the node share).
    assert_eq!(
        p.token_balance(&owner_token).await.unwrap() - before,
        summary.burned_tokens
    );
    assert!(stop(&mut daemon).success());
    let _ = world.net.chain.slot().await;
}

/// An HTTP server on loopback that answers every request with `status` and
/// `body`, and counts the requests.
async fn counting_server(
    status: &'static str,
    body: &'static [u8],
) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = socket.read(&mut buf).await;
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(body).await;
        }
    });
    (format!("http://{addr}/scene.bin"), hits)
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_hash_input_is_handed_back_inside_the_window_without_a_slash() {
    if runtime(Default::default(), "wrong_hash_input")
        .await
        .is_none()
    {
        return;
    }
    let world = World::start().await;
    let p = world.protocol();
    let (url, hits) = counting_server("200 OK", b"not the scene the creator hashed").await;
    let mut daemon = world.spawn_daemon(None);
    let stake_before = world.owner_stake().await;
    let job = world
        .post_with_inputs(vec![ake_sdk::ake_market::state::InputFile {
            url,
            sha256: [0xab; 32],
        }])
        .await;

    // The daemon fetches once, sees the mismatch and hands the job back.
    let released = world.wait_released(&job, Duration::from_secs(60)).await;
    assert_eq!(released.state, JobState::Queued);
    assert_eq!(
        released.last_release,
        Some(ake_sdk::ake_market::state::ReleaseReason::InputHashMismatch)
    );
    assert_eq!(released.releases.by[0], world.owner.pubkey());
    // Inside the free window: the owner keeps every token.
    let stake = world.owner_stake().await;
    assert_eq!(stake, stake_before, "no slash");
    let node = p
        .node(&pda::node(&world.hot.pubkey()))
        .await
        .unwrap()
        .unwrap();
    assert!(!node.suspended);

    // A failure is an outcome, not a loop: the input was fetched once, and
    // the job (never offered to this owner again) is not run again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "log:\n{}",
        world.log()
    );
    assert!(stop(&mut daemon).success());
    let journal = Journal::open(&world.dir.path().join("journal.redb")).unwrap();
    let entries = journal.entries(&format!("{job}-1")).await.unwrap();
    assert!(
        entries
            .iter()
            .any(|e| matches!(e, JournalEntry::Failed { .. })),
        "{entries:?}"
    );
    assert!(journal.open_jobs().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_input_that_keeps_failing_is_handed_back_before_the_free_window_closes() {
    // The creator's input server answers 503 forever: retrying is right for a
    // while, but the job goes back while that is still free, never to expiry.
    if runtime(Default::default(), "input_503").await.is_none() {
        return;
    }
    let world = World::start().await;
    let (url, hits) = counting_server("503 Service Unavailable", b"busy").await;
    let mut daemon = world.spawn_daemon(None);
    let stake_before = world.owner_stake().await;
    let job = world
        .post_with_inputs(vec![ake_sdk::ake_market::state::InputFile {
            url,
            sha256: [0xab; 32],
        }])
        .await;
    let released = world.wait_released(&job, Duration::from_secs(120)).await;
    assert_eq!(
        released.last_release,
        Some(ake_sdk::ake_market::state::ReleaseReason::InputUnavailable)
    );
    assert!(
        hits.load(std::sync::atomic::Ordering::SeqCst) > 1,
        "it retried first"
    );
    let stake = world.owner_stake().await;
    assert_eq!(
        stake, stake_before,
        "handed back inside the free window: no slash"
    );
    assert!(stop(&mut daemon).success());
}

/// Runs one hostile job on a fresh node: it must end as a normal result
/// (returned) with the daemon alive and the owner's stake untouched.
async fn hostile_result(
    test: &str,
    script: &str,
    max_duration_secs: u32,
) -> Option<(World, ake_sdk::ake_market::state::Job)> {
    runtime(Default::default(), test).await?;
    let world = World::start().await;
    let stake_before = world.owner_stake().await;
    let mut daemon = world.spawn_daemon(None);
    let job = world.post_script(script, vec![], max_duration_secs).await;
    let submitted = world
        .wait_submitted(
            &job,
            Duration::from_secs(u64::from(max_duration_secs) + 120),
        )
        .await;
    assert!(
        daemon.try_wait().unwrap().is_none(),
        "the daemon is alive; log:\n{}",
        world.log()
    );
    let stake = world.owner_stake().await;
    assert_eq!(stake, stake_before, "no slash");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(stop(&mut daemon).success(), "log:\n{}", world.log());
    Some((world, submitted))
}

async fn fetched_manifest(
    world: &World,
    job: &ake_sdk::ake_market::state::Job,
) -> ake_node::outputs::OutputManifest {
    let uri = &job.result.as_ref().unwrap().output_uri;
    let dest = world.dir.path().join("fetched");
    OutputStore::for_output(uri)
        .unwrap()
        .fetch_dir(uri, &dest)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_fork_bomb_is_contained_by_the_pid_limit() {
    let bomb = "echo start; f() { f | f & }; f; /bin/busybox sleep 1000";
    // 40 s + 5 s grace less the 20 s reserve: stopped ~25 s in.
    let Some((world, job)) = hostile_result("hostile_fork_bomb", bomb, 40).await else {
        return;
    };
    let manifest = fetched_manifest(&world, &job).await;
    assert!(job.result.unwrap().usage.wall_secs >= 10);
    assert_ne!(manifest.facts.exit_code, 0, "stopped at the deadline");
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_disk_filler_is_stopped_at_the_output_cap() {
    let fill = "echo ok > /ake/output/a.txt; /bin/busybox dd if=/dev/zero of=/ake/output/fill bs=65536 count=100000000";
    let Some((world, job)) = hostile_result("hostile_disk_filler", fill, 120).await else {
        return;
    };
    // Stopped long before 120 s, the cap's file listed, the rest committed.
    assert!(job.result.as_ref().unwrap().usage.wall_secs < 60);
    let manifest = fetched_manifest(&world, &job).await;
    assert_eq!(manifest.files.len(), 1, "{manifest:?}");
    assert_eq!(manifest.skipped[0].path, "fill");
    assert!(manifest.skipped[0].why.contains("output limit"));
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_hundred_thousand_files_stop_at_the_file_cap() {
    let many = "cd /ake/output; i=0; while [ $i -lt 100000 ]; do : > f$i; i=$((i+1)); done";
    let Some((world, job)) = hostile_result("hostile_many_files", many, 120).await else {
        return;
    };
    let manifest = fetched_manifest(&world, &job).await;
    assert!(manifest.files.len() <= 1000, "{}", manifest.files.len());
    assert!(!manifest.skipped.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_unreadable_outputs_are_a_normal_result() {
    let lock = "echo x > /ake/output/a; mkdir /ake/output/d; echo y > /ake/output/d/b; chmod -R 000 /ake/output; echo locked";
    let Some((world, job)) = hostile_result("hostile_unreadable", lock, 60).await else {
        return;
    };
    let manifest = fetched_manifest(&world, &job).await;
    // Whatever could be read is committed; the rest is listed.
    assert_eq!(
        manifest.files.len() + manifest.skipped.len(),
        2,
        "{manifest:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_symlinks_out_of_the_output_dir_are_listed_not_followed() {
    let links = "ln -s /etc/passwd /ake/output/passwd; ln -s / /ake/output/root; echo ok > /ake/output/ok.txt; echo to-stderr >&2";
    let Some((world, job)) = hostile_result("hostile_symlinks", links, 60).await else {
        return;
    };
    let manifest = fetched_manifest(&world, &job).await;
    let files: Vec<&str> = manifest.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(files, ["ok.txt"]);
    let mut skipped: Vec<&str> = manifest.skipped.iter().map(|f| f.path.as_str()).collect();
    skipped.sort();
    assert_eq!(skipped, ["passwd", "root"]);
    // What the job printed travels with its outputs, checked against the root.
    let uri = &job.result.as_ref().unwrap().output_uri;
    let store = OutputStore::for_output(uri).unwrap();
    assert_eq!(
        store.fetch_log(uri, "stderr.log").await.unwrap(),
        b"to-stderr\n"
    );
}

/// A loopback server whose answer never ends: `Content-Length` promises a
/// terabyte, then `chunk` bytes come every `every`.
async fn endless_server(chunk: usize, every: Duration) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let head = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: identity\r\n\r\n";
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let bytes = vec![7u8; chunk];
                while socket.write_all(&bytes).await.is_ok() {
                    tokio::time::sleep(every).await;
                }
            });
        }
    });
    format!("http://{addr}/endless.bin")
}

async fn hostile_input_is_handed_back(test: &str, url: String, limit: Duration) {
    if runtime(Default::default(), test).await.is_none() {
        return;
    }
    let world = World::start().await;
    let stake_before = world.owner_stake().await;
    let mut daemon = world.spawn_daemon(None);
    let input = ake_sdk::ake_market::state::InputFile {
        url,
        sha256: [1; 32],
    };
    let job = world.post_script("echo never", vec![input], 120).await;
    let released = world.wait_released(&job, limit).await;
    assert_eq!(
        released.last_release,
        Some(ake_sdk::ake_market::state::ReleaseReason::InputUnavailable)
    );
    assert!(daemon.try_wait().unwrap().is_none(), "the daemon is alive");
    let stake = world.owner_stake().await;
    assert_eq!(
        stake, stake_before,
        "handed back in the free window: no slash"
    );
    // Time to confirm the hand-back and clean up.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(stop(&mut daemon).success());
    let leftovers: Vec<_> = std::fs::read_dir(world.dir.path().join("work"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().starts_with(&job.to_string()))
        .collect();
    assert!(
        leftovers.is_empty(),
        "the attempt's directory is freed: {leftovers:?}"
    );
}

/// An image whose ENV sets LD_PRELOAD (CVE-2025-23266's vector) or a spec
/// env that sets it (posted by a client other than `ake`): the node hands
/// the job back inside the free window with the reason, never runs it, and
/// its owner loses nothing.
#[tokio::test(flavor = "multi_thread")]
async fn hostile_loader_variables_are_handed_back_free_with_a_reason() {
    if runtime(Default::default(), "hostile_loader_variables")
        .await
        .is_none()
    {
        return;
    }
    let world = World::start().await;
    let hostile = DerivedImage::build(&world.image.tag, "ENV LD_PRELOAD=/ake/output/evil.so");
    let stake_before = world.owner_stake().await;
    let mut daemon = world.spawn_daemon(None);
    let ran = "echo ran > /ake/output/ran";
    let by_image = world.post_in(&hostile.tag, vec![], ran, vec![], 120).await;
    let released = world
        .wait_released(&by_image, Duration::from_secs(60))
        .await;
    assert_eq!(
        released.last_release,
        Some(ake_sdk::ake_market::state::ReleaseReason::ImageNotAllowed)
    );
    // The creator takes the refused job back, so the node's next job is the
    // next one (a job its owner handed back still heads the queue for it:
    // see the hand-back issue).
    let mint: Pubkey = world.net.deployment.mint.parse().unwrap();
    let cancel = ixs::cancel_job(
        world.creator.pubkey(),
        by_image,
        world.creator.pubkey(),
        pda::market(0),
        mint,
        associated_token(&world.creator.pubkey(), &mint),
    );
    send_instructions(
        world.net.chain.as_ref(),
        &world.creator,
        &[],
        &[cancel],
        Fees::default(),
    )
    .await
    .unwrap();
    let preload = ake_sdk::ake_market::state::EnvVar {
        name: "LD_PRELOAD".into(),
        value: "/ake/output/evil.so".into(),
    };
    let by_spec = world
        .post_in(&world.image.tag, vec![preload], ran, vec![], 120)
        .await;
    let released = world.wait_released(&by_spec, Duration::from_secs(60)).await;
    assert_eq!(
        released.last_release,
        Some(ake_sdk::ake_market::state::ReleaseReason::SpecInvalid)
    );
    assert_eq!(
        world.owner_stake().await,
        stake_before,
        "handed back free: no slash"
    );
    assert!(daemon.try_wait().unwrap().is_none(), "the daemon is alive");
    let log = world.log();
    assert!(log.contains("sets LD_PRELOAD in its config"), "{log}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(stop(&mut daemon).success());
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_input_that_never_ends_stops_at_the_byte_cap() {
    // 10 MiB cap in the test config; the server would send forever.
    let url = endless_server(1 << 16, Duration::from_millis(1)).await;
    hostile_input_is_handed_back("hostile_endless_input", url, Duration::from_secs(60)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_input_that_drips_forever_is_handed_back_before_the_free_window_closes() {
    // One byte a second never trips a read timeout: the fetch deadline
    // (the free window less a margin) does.
    let url = endless_server(1, Duration::from_secs(1)).await;
    hostile_input_is_handed_back("hostile_dripping_input", url, Duration::from_secs(120)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_remote_spec_is_fetched_verified_and_run() {
    if runtime(Default::default(), "remote_spec").await.is_none() {
        return;
    }
    let world = World::start().await;
    let doc = format!(
        "image = \"{}\"\ncommand = [\"{BUSYBOX}\", \"sh\", \"-c\", \"echo remote > /ake/output/r.txt\"]\nmax_output_mb = 1\n",
        world.image.tag
    );
    let sha256: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(doc.as_bytes()).into();
    let (uri, hits) =
        counting_server("200 OK", Box::leak(doc.into_bytes().into_boxed_slice())).await;
    let mut daemon = world.spawn_daemon(None);
    let spec = JobSpec::Remote(ake_sdk::ake_market::state::RemoteSpec { uri, sha256 });
    let job = world.post_spec(spec, 60).await;
    let submitted = world.wait_submitted(&job, Duration::from_secs(120)).await;
    tokio::time::sleep(Duration::from_secs(3)).await; // confirm and clean up
    let manifest = fetched_manifest(&world, &submitted).await;
    assert_eq!(manifest.files[0].path, "r.txt");
    assert_eq!(manifest.facts.spec_hash, hex::encode(sha256));
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "fetched once"
    );
    assert!(stop(&mut daemon).success());
}

/// An exact (auditable) job whose remote spec names its image by a tag,
/// which the chain cannot see: the node hands it back inside the free
/// window (a moved tag would make its audit run another image and frame
/// it), never runs it, and its owner loses nothing.
#[tokio::test(flavor = "multi_thread")]
async fn an_exact_remote_spec_with_a_tagged_image_is_handed_back_free() {
    if runtime(Default::default(), "exact_tagged_image")
        .await
        .is_none()
    {
        return;
    }
    let world = World::start().await;
    let stake_before = world.owner_stake().await;
    let doc = format!(
        "image = \"{}\"\ncommand = [\"{BUSYBOX}\", \"true\"]\nmax_output_mb = 1\n",
        world.image.tag
    );
    let sha256: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(doc.as_bytes()).into();
    let (uri, _) = counting_server("200 OK", Box::leak(doc.into_bytes().into_boxed_slice())).await;
    let mut daemon = world.spawn_daemon(None);
    let spec = JobSpec::Remote(ake_sdk::ake_market::state::RemoteSpec { uri, sha256 });
    let job = world.post_verified(spec, 60, Verify::Exact).await;
    let released = world.wait_released(&job, Duration::from_secs(90)).await;
    assert_eq!(
        released.last_release,
        Some(ake_sdk::ake_market::state::ReleaseReason::SpecInvalid)
    );
    assert_eq!(world.owner_stake().await, stake_before, "handed back free");
    tokio::time::sleep(Duration::from_secs(3)).await; // confirm and clean up
    assert!(stop(&mut daemon).success());
}

/// A running job's logs go up as it prints, where an on-chain event
/// says; once the result lands, the committed logs (verified against its
/// root) hold every line.
#[tokio::test(flavor = "multi_thread")]
async fn a_running_job_streams_its_logs_and_commits_them() {
    if runtime(Default::default(), "live_logs").await.is_none() {
        return;
    }
    let world = World::start().await;
    // Every job gets live logs here, however short.
    let line = "hot_key_max_sol = 0.5\n".to_string();
    world
        .config_edits
        .lock()
        .unwrap()
        .push((line.clone(), format!("{line}live_logs_min_secs = 0\n")));
    let mut daemon = world.spawn_daemon(None);
    // Long enough that the job still runs when the test has read the
    // first upload on a slow machine.
    let script = "i=1; while [ $i -le 30 ]; do echo line $i; echo warn $i >&2; /bin/busybox sleep 1; i=$((i+1)); done; echo done > /ake/output/r.txt";
    let job = world.post_script(script, vec![], 120).await;
    // Over JSON-RPC, as the CLI reads it: the history is the endpoint's.
    let p = Protocol::new(Arc::new(ake_sdk::chain::rpc::RpcChain::new(
        &world.url,
        solana_commitment_config::CommitmentConfig::confirmed(),
    )));
    // While it runs: the announcement, then the first lines.
    let end = Instant::now() + Duration::from_secs(60);
    let (attempt, uri) = loop {
        if let Some(found) = p.live_logs(&job).await.unwrap() {
            break found;
        }
        assert!(
            Instant::now() < end,
            "no live logs announced; log:\n{}",
            world.log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(attempt, 1);
    assert!(uri.ends_with(&format!("/jobs/{job}-1/live")), "{uri}");
    let store = OutputStore::for_output(&uri).unwrap();
    let live = String::from_utf8(store.fetch_live_log(&uri, "stdout.log").await.unwrap()).unwrap();
    assert!(live.starts_with("line 1\n"), "{live:?}");
    let state = p.job(&job).await.unwrap().unwrap().state;
    assert_eq!(state, JobState::Assigned, "seen while the job still runs");
    let live_err =
        String::from_utf8(store.fetch_live_log(&uri, "stderr.log").await.unwrap()).unwrap();
    assert!(live_err.starts_with("warn 1\n"), "{live_err:?}");
    // Only the two logs of a live location are served.
    assert!(store.fetch_live_log(&uri, "../r.txt").await.is_err());
    // The announcement is one event in the job's story.
    let told = p.job_timeline(&job, |v| v.to_string()).await.unwrap();
    assert!(
        told.steps.iter().any(|s| s.event == "LiveLogsAnnounced"),
        "{told:?}"
    );

    // Afterwards: the committed log, checked against the root, has every line.
    let submitted = world.wait_submitted(&job, Duration::from_secs(120)).await;
    let out_uri = submitted.result.unwrap().output_uri;
    let committed = OutputStore::for_output(&out_uri)
        .unwrap()
        .fetch_log(&out_uri, "stdout.log")
        .await
        .unwrap();
    let expected: String = (1..=30).map(|i| format!("line {i}\n")).collect();
    assert_eq!(String::from_utf8(committed).unwrap(), expected);
    // Once the attempt is over here, its live copy goes.
    let end = Instant::now() + Duration::from_secs(60);
    while !store
        .fetch_live_log(&uri, "stdout.log")
        .await
        .unwrap()
        .is_empty()
    {
        assert!(
            Instant::now() < end,
            "the live logs stay; log:\n{}",
            world.log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(stop(&mut daemon).success());
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_takes_a_waiting_node_out_of_the_queue() {
    if runtime(Default::default(), "sigterm_drain").await.is_none() {
        return;
    }
    let world = World::start().await;
    let p = world.protocol();
    let node_key = pda::node(&world.hot.pubkey());
    let mut daemon = world.spawn_daemon(None);
    let end = Instant::now() + Duration::from_secs(60);
    while p.node(&node_key).await.unwrap().unwrap().status != NodeStatus::Queued {
        assert!(Instant::now() < end, "never queued; log:\n{}", world.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // `status` works while the daemon holds the journal.
    let status = Command::new(DAEMON)
        .arg("--config")
        .arg(world.config_path())
        .arg("status")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.status.success() && text.contains("status Queued"),
        "{text}{}",
        String::from_utf8_lossy(&status.stderr)
    );
    assert!(stop(&mut daemon).success(), "log:\n{}", world.log());
    let node = p.node(&node_key).await.unwrap().unwrap();
    assert_eq!(
        node.status,
        NodeStatus::Idle,
        "no job can be assigned to a stopped node; log:\n{}",
        world.log()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unhealthy_gpu_takes_the_node_out_of_the_queue() {
    if runtime(Default::default(), "gpu_health").await.is_none() {
        return;
    }
    let state = tempfile::NamedTempFile::new().unwrap();
    let nvml = (fake_nvml().to_path_buf(), state.path().to_path_buf());
    let world = World::start_as(h100(), Some(nvml)).await;
    let p = world.protocol();
    let node_key = pda::node(&world.hot.pubkey());
    let mut daemon = world.spawn_daemon(None);
    let wait_for = |want: NodeStatus| {
        let p = &p;
        let world = &world;
        async move {
            let end = Instant::now() + Duration::from_secs(60);
            while p.node(&node_key).await.unwrap().unwrap().status != want {
                assert!(
                    Instant::now() < end,
                    "never {want:?}; log:\n{}",
                    world.log()
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    wait_for(NodeStatus::Queued).await;
    std::fs::write(state.path(), "ecc=2\n").unwrap();
    wait_for(NodeStatus::Idle).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let node = p.node(&node_key).await.unwrap().unwrap();
    assert_eq!(
        node.status,
        NodeStatus::Idle,
        "it does not re-arm while unhealthy"
    );
    assert!(
        world.log().contains("uncorrected ECC errors"),
        "{}",
        world.log()
    );
    // Healthy again, it arms; then NVML stops answering (a GPU fallen off
    // the bus): the node leaves the queue, the daemon goes on.
    std::fs::write(state.path(), "ecc=0\n").unwrap();
    wait_for(NodeStatus::Queued).await;
    std::fs::write(state.path(), "hang=60\n").unwrap();
    wait_for(NodeStatus::Idle).await;
    assert!(
        world.log().contains("NVML did not answer"),
        "{}",
        world.log()
    );
    // Asked to stop while NVML still hangs, it exits (within the 30 s wait).
    assert!(stop(&mut daemon).success());
}

/// The H100 the fake NVML lists first, as a node registers it.
fn h100() -> HardwareProfile {
    HardwareProfile {
        gpu_model: "NVIDIA H100 80GB HBM3".into(),
        vram_mib: 81_559,
        benchmark_hash: [0; 32],
    }
}

/// A GPU host whose NVIDIA Container Toolkit has a known container escape
/// (CVE-2025-23266: an image's LD_PRELOAD in the createContainer hook is
/// root on the host) never arms: no job is ever assigned to it.
#[tokio::test(flavor = "multi_thread")]
async fn hostile_toolkit_with_a_known_escape_keeps_the_node_out_of_the_queue() {
    if runtime(Default::default(), "hostile_toolkit")
        .await
        .is_none()
    {
        return;
    }
    let state = tempfile::NamedTempFile::new().unwrap();
    let nvml = (fake_nvml().to_path_buf(), state.path().to_path_buf());
    let mut world = World::start_as(h100(), Some(nvml)).await;
    world.toolkit_version = "1.17.7";
    let stake_before = world.owner_stake().await;
    let mut daemon = world.spawn_daemon(None);
    let end = Instant::now() + Duration::from_secs(60);
    while !world.log().contains("refusing to arm") {
        assert!(Instant::now() < end, "never refused; log:\n{}", world.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let log = world.log();
    assert!(
        log.contains("CVE-2025-23266") && log.contains("1.17.7"),
        "{log}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let p = world.protocol();
    let node = p
        .node(&pda::node(&world.hot.pubkey()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(node.status, NodeStatus::Idle, "it never joined the queue");
    assert_eq!(world.owner_stake().await, stake_before);
    assert!(stop(&mut daemon).success());
}

/// `doctor` names a driver with a known escape and the CVE, and warns when
/// the hot key holds more SOL than the configured ceiling.
#[tokio::test(flavor = "multi_thread")]
async fn hostile_driver_and_a_rich_hot_key_are_named_by_doctor() {
    if runtime(Default::default(), "hostile_doctor")
        .await
        .is_none()
    {
        return;
    }
    let state = tempfile::NamedTempFile::new().unwrap();
    let nvml = (fake_nvml().to_path_buf(), state.path().to_path_buf());
    let mut world = World::start_as(h100(), Some(nvml)).await;
    // Settings that let an image's DOCKER_RESOURCE_GPU* choose its GPUs.
    world.toolkit_settings = "swarm-resource = \"DOCKER_RESOURCE_GPU\"\n";
    let doctor = |driver: &str| {
        let out = Command::new(DAEMON)
            .arg("--config")
            .arg(world.config())
            .arg("doctor")
            .env("FAKE_NVML_DRIVER", driver)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };
    let (ok, text) = doctor("550.54.15");
    assert!(!ok, "{text}");
    assert!(
        text.contains("FIX   NVIDIA Container Toolkit 1.17.8 and driver 550.54.15")
            && text.contains("CVE-2025-33219"),
        "{text}"
    );
    assert!(
        text.contains("FIX   the toolkit's settings let no image choose its GPUs")
            && text.contains("swarm-resource"),
        "{text}"
    );
    assert!(
        text.contains("WARN  set disable-cuda-compat-lib-hook = true"),
        "{text}"
    );
    // 1 SOL on the hot key, 0.5 allowed.
    assert!(
        text.contains("WARN  the signer holds 1.000 SOL, more than hot_key_max_sol (0.5)"),
        "{text}"
    );
    let (_, text) = doctor("595.71.05");
    assert!(
        text.contains("ok    NVIDIA Container Toolkit 1.17.8 and driver 595.71.05 have no known container escape"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs --features ake-node/fault-injection"
)]
async fn crash_while_running_and_restart_after_the_free_window_reattaches() {
    // The daemon dies while the job runs and comes back after the free
    // hand-back window (less its margin) has closed: it must reattach to
    // the running container and submit, never hand back or expire.
    if runtime(Default::default(), "late_reattach").await.is_none() {
        return;
    }
    let world = World::start().await;
    let stake_before = world.owner_stake().await;
    let mut first = world.spawn_daemon(Some("container_started"));
    let script = "echo run >> /ake/output/runs.txt; /bin/busybox sleep 45; echo done";
    let job = world.post_script(script, vec![], 120).await;
    let status = wait_exit(&mut first, Duration::from_secs(60));
    assert_eq!(
        status.signal(),
        Some(libc::SIGKILL),
        "log:\n{}",
        world.log()
    );
    // The window is 60 s on localnet and the node stops fetching 30 s before it ends.
    tokio::time::sleep(Duration::from_secs(35)).await;
    let mut second = world.spawn_daemon(None);
    let submitted = world.wait_submitted(&job, Duration::from_secs(120)).await;
    assert_eq!(submitted.releases.total, 0, "never handed back");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(stop(&mut second).success());
    let manifest = fetched_manifest(&world, &submitted).await;
    assert_eq!(manifest.files[0].path, "runs.txt");
    assert_eq!(
        manifest.facts.exit_code, 0,
        "the run finished, it was not cut"
    );
    let stake = world.owner_stake().await;
    assert_eq!(stake, stake_before);
}

/// The market error code `e` as the chain reports it.
fn market_code(e: ake_sdk::ake_market::errors::MarketError) -> u32 {
    6000 + e as u32
}

/// A hand-back while another node of the same owner and a node of another
/// owner wait: the release names the node the program will pick (the
/// releasing owner is excluded), so it lands and the job goes on to the
/// other owner; before, it named the sibling, was refused, and the job sat
/// until the crank expired it (half the execution collateral).
#[tokio::test(flavor = "multi_thread")]
async fn a_release_with_a_sibling_node_waiting_lands_and_the_job_moves_on() {
    if runtime(Default::default(), "release_sibling")
        .await
        .is_none()
    {
        return;
    }
    let world = World::start().await;
    let hostile = DerivedImage::build(&world.image.tag, "ENV LD_PRELOAD=/ake/output/evil.so");
    let stake_before = world.owner_stake().await;
    let mut daemon = world.spawn_daemon(None);
    let ours = pda::node(&world.hot.pubkey());
    world
        .wait_node(&ours, NodeStatus::Queued, Duration::from_secs(60))
        .await;
    let _sibling = world.waiting_node(&world.owner, 0).await;
    let other_owner = Keypair::new();
    let other = world.waiting_node(&other_owner, 400_000_000).await;
    let job = world
        .post_in(&hostile.tag, vec![], "true", vec![], 120)
        .await;
    let released = world.wait_released(&job, Duration::from_secs(60)).await;
    assert_eq!(
        released.node, other,
        "the job went on to the other owner's node"
    );
    assert_eq!(released.state, JobState::Assigned);
    assert_eq!(world.owner_stake().await, stake_before, "handed back free");
    assert!(stop(&mut daemon).success(), "log:\n{}", world.log());
}

/// Runs one job through a daemon while the chain treats its submits as
/// `fault` says (`times` times; `rearm_only`: only submits that re-arm),
/// and checks what every such path must keep: the job is submitted, never
/// handed back, and the owner's stake is untouched. Returns the daemon's
/// log (daemon stopped), or None without Docker.
async fn submitted_despite(
    test: &str,
    fault: faults::Effect,
    times: u32,
    rearm_only: bool,
) -> Option<String> {
    runtime(Default::default(), test).await?;
    let world = World::start().await;
    // `rearm` is submit_result's last byte.
    let suffix = if rearm_only { vec![1] } else { vec![] };
    world.fault_on("submit_result", suffix, fault, times);
    let stake_before = world.owner_stake().await;
    let mut daemon = world.spawn_daemon(None);
    let job = world.post().await;
    let submitted = world.wait_submitted(&job, Duration::from_secs(90)).await;
    assert_eq!(submitted.releases.total, 0, "never handed back");
    assert_eq!(world.owner_stake().await, stake_before);
    if rearm_only {
        // The node arms by itself once its result is in.
        let node = pda::node(&world.hot.pubkey());
        world
            .wait_node(&node, NodeStatus::Queued, Duration::from_secs(60))
            .await;
    }
    assert!(stop(&mut daemon).success(), "log:\n{}", world.log());
    Some(world.log())
}

/// A submit the chain refuses once (a stale pick, a busy market) is
/// rebuilt and lands: the finished run is never handed back.
#[tokio::test(flavor = "multi_thread")]
async fn a_submit_refused_once_is_rebuilt_and_lands() {
    let code = market_code(ake_sdk::ake_market::errors::MarketError::WrongMatchCandidate);
    let refuse = faults::Effect::Refuse { code };
    if let Some(log) = submitted_despite("submit_refused", refuse, 1, false).await {
        assert!(log.contains("the chain refuses it now"), "{log}");
    }
}

/// A submit that lands and fails (the state moved after its simulation) is
/// signed again from a fresh read while the job is still this node's.
#[tokio::test(flavor = "multi_thread")]
async fn a_submit_that_lands_and_fails_is_signed_again_and_lands() {
    let code = market_code(ake_sdk::ake_market::errors::MarketError::FrameTaken);
    let fail = faults::Effect::Fail { code };
    if let Some(log) = submitted_despite("submit_failed", fail, 1, false).await {
        assert!(log.contains("submit_result landed and failed"), "{log}");
    }
}

/// A submit that needs more compute than the old fixed 400k limit (SBF
/// meters it; the fault plays the meter here: every submit under 900k
/// units fails, however often sent) lands at once with the limit its
/// simulation measured.
#[tokio::test(flavor = "multi_thread")]
async fn a_submit_needing_more_compute_lands_with_the_simulated_limit() {
    let starve = faults::Effect::NeedsCompute { units: 900_000 };
    if let Some(log) = submitted_despite("submit_compute", starve, 100, false).await {
        assert!(!log.contains("landed and failed"), "{log}");
    }
}

/// The re-arm riding on a submit is refused every time (its pick is always
/// stale): the result goes alone, and the node arms by itself afterwards.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_rearm_never_holds_back_the_submit() {
    let code = market_code(ake_sdk::ake_market::errors::MarketError::WrongMatchCandidate);
    let refuse = faults::Effect::Refuse { code };
    if let Some(log) = submitted_despite("rearm_refused", refuse, 1_000, true).await {
        assert!(log.contains("submitting alone"), "{log}");
    }
}

/// A hand-back that lands and fails (the queue moved under it) is signed
/// again from a fresh read while the job is still this node's: it lands
/// inside the free window, and the job is never left to expire here.
#[tokio::test(flavor = "multi_thread")]
async fn a_release_that_lands_and_fails_is_signed_again_and_lands() {
    if runtime(Default::default(), "release_failed")
        .await
        .is_none()
    {
        return;
    }
    let world = World::start().await;
    let code = market_code(ake_sdk::ake_market::errors::MarketError::WrongMatchCandidate);
    world.fault_on("release_job", vec![], faults::Effect::Fail { code }, 1);
    let hostile = DerivedImage::build(&world.image.tag, "ENV LD_PRELOAD=/ake/output/evil.so");
    let stake_before = world.owner_stake().await;
    let mut daemon = world.spawn_daemon(None);
    let job = world
        .post_in(&hostile.tag, vec![], "true", vec![], 120)
        .await;
    let released = world.wait_released(&job, Duration::from_secs(60)).await;
    assert_eq!(
        released.last_release,
        Some(ake_sdk::ake_market::state::ReleaseReason::ImageNotAllowed)
    );
    assert_eq!(world.owner_stake().await, stake_before, "handed back free");
    let log = world.log();
    assert!(log.contains("release_job landed and failed"), "{log}");
    assert!(stop(&mut daemon).success(), "log:\n{log}");
}

/// A hot key that could not pay for a job's transactions keeps the node out
/// of the queue (it would take the job and miss the deadline); funded, it
/// arms.
#[tokio::test(flavor = "multi_thread")]
async fn a_hot_key_below_the_floor_keeps_the_node_out_of_the_queue() {
    if runtime(Default::default(), "hot_key_floor").await.is_none() {
        return;
    }
    let world = World::start().await;
    let chain = world.net.chain.as_ref();
    let mut daemon = world.spawn_daemon(None);
    let node = pda::node(&world.hot.pubkey());
    world
        .wait_node(&node, NodeStatus::Queued, Duration::from_secs(60))
        .await;
    // Leave the hot key 0.002 SOL: its next three transactions may cost 0.0042.
    let keep = 2_000_000;
    let balance = chain.balance(&world.hot.pubkey()).await.unwrap();
    // The system program's Transfer (variant 2, then the lamports).
    let mut data = 2u32.to_le_bytes().to_vec();
    data.extend((balance - keep - 5_000).to_le_bytes());
    let drain = solana_sdk::instruction::Instruction {
        program_id: Pubkey::default(),
        accounts: vec![
            solana_sdk::instruction::AccountMeta::new(world.hot.pubkey(), true),
            solana_sdk::instruction::AccountMeta::new(world.owner.pubkey(), false),
        ],
        data,
    };
    send_instructions(chain, &world.hot, &[], &[drain], Fees::default())
        .await
        .unwrap();
    // The waiting node leaves the queue, and does not come back.
    world
        .wait_node(&node, NodeStatus::Idle, Duration::from_secs(60))
        .await;
    let end = Instant::now() + Duration::from_secs(60);
    while !world.log().contains("its next transactions may cost") {
        assert!(Instant::now() < end, "never said; log:\n{}", world.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let p = world.protocol();
    assert_eq!(
        p.node(&node).await.unwrap().unwrap().status,
        NodeStatus::Idle
    );
    let status = Command::new(DAEMON)
        .arg("--config")
        .arg(world.config_path())
        .arg("status")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains("so the node stays out of the queue"),
        "{text}{}",
        String::from_utf8_lossy(&status.stderr)
    );
    chain
        .airdrop(&world.hot.pubkey(), 1_000_000_000)
        .await
        .unwrap();
    world
        .wait_node(&node, NodeStatus::Queued, Duration::from_secs(60))
        .await;
    assert!(stop(&mut daemon).success());
}

/// A client that knows only the IDL posts naming no waiting node (it would
/// have to decode the pool and replay the ranking to name one): the job
/// queues, and the waiting node's daemon takes it with `match_job`.
#[tokio::test(flavor = "multi_thread")]
async fn an_idl_only_post_naming_no_candidate_is_taken_by_the_waiting_node() {
    if runtime(Default::default(), "idl_only_post").await.is_none() {
        return;
    }
    let world = World::start().await;
    let p = world.protocol();
    let mut daemon = world.spawn_daemon(None);
    let ours = pda::node(&world.hot.pubkey());
    world
        .wait_node(&ours, NodeStatus::Queued, Duration::from_secs(60))
        .await;
    let config = p.config().await.unwrap();
    let (price_update, _) = p.price(&config).await.unwrap();
    let c = &world.creator;
    let nonce = p.next_nonce(&c.pubkey()).await.unwrap();
    let script = "echo rendered > /ake/output/out.txt";
    let spec = JobSpec::Inline(InlineSpec {
        image: world.image.tag.clone(),
        command: vec![BUSYBOX.into(), "sh".into(), "-c".into(), script.into()],
        env: vec![],
        inputs: vec![],
        max_output_bytes: 1 << 20,
    });
    let post = ixs::post_job(
        ixs::PostJobAccounts {
            creator: c.pubkey(),
            market: pda::market(0),
            mint: config.mint,
            creator_token: associated_token(&c.pubkey(), &config.mint),
            price_update,
            creator_staked: false,
            candidate_node: None,
        },
        ake_sdk::ake_market::instructions::PostJobArgs {
            nonce,
            gpus: 1,
            max_duration_secs: 300,
            min_reputation_bps: 0,
            max_tokens: u64::MAX,
            spec,
            verify: Verify::None,
        },
    );
    send_instructions(p.chain.as_ref(), c, &[], &[post], Fees::default())
        .await
        .unwrap();
    let job = pda::job(&c.pubkey(), nonce);
    let posted = p.job(&job).await.unwrap().unwrap();
    assert_eq!(
        posted.state,
        JobState::Queued,
        "naming no node queues the job"
    );
    let submitted = world.wait_submitted(&job, Duration::from_secs(90)).await;
    assert_eq!(submitted.node, ours);
    assert!(world
        .log()
        .contains("took queued work waiting for this node"));
    assert!(stop(&mut daemon).success(), "log:\n{}", world.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_non_root_daemon_deletes_the_job_owned_0700_directories_it_leaves() {
    if runtime(Default::default(), "non_root_clean_up")
        .await
        .is_none()
    {
        return;
    }
    let world = World::start().await;
    let stake_before = world.owner_stake().await;
    let mut daemon = world.spawn_daemon(None);
    let locked =
        "mkdir -p /ake/output/a/b; echo x > /ake/output/a/b/f; echo y > /ake/output/.hidden; \
                  chmod 700 /ake/output/a/b; chmod 000 /ake/output/a; echo locked";
    let job = world.post_script(locked, vec![], 60).await;
    world.wait_submitted(&job, Duration::from_secs(120)).await;
    // Once the result lands the attempt's directory goes, though the
    // daemon (not root) can enter no directory the job locked.
    let attempt = world.dir.path().join("work").join(format!("{job}-1"));
    let trash = world.dir.path().join("work/.trash");
    let trash_empty = || std::fs::read_dir(&trash).map_or(true, |mut d| d.next().is_none());
    let end = Instant::now() + Duration::from_secs(60);
    while attempt.exists() || !trash_empty() {
        assert!(
            Instant::now() < end,
            "{} is left behind; log:\n{}",
            attempt.display(),
            world.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    if daemon_user().is_some() {
        let log = world.log();
        assert!(
            log.contains("deleting a job's files as the job's user"),
            "log:\n{log}"
        );
    }
    let cleaner = docker(&["ps", "-aq", "--filter", &format!("name=ake-clean-{job}")]);
    assert!(String::from_utf8_lossy(&cleaner.stdout).trim().is_empty());
    assert_eq!(world.owner_stake().await, stake_before);
    assert!(stop(&mut daemon).success(), "log:\n{}", world.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_that_exits_0_as_the_engine_restarts_is_run_again_from_an_empty_directory() {
    if runtime(Default::default(), "engine_restart")
        .await
        .is_none()
    {
        return;
    }
    let world = World::start().await;
    let stake_before = world.owner_stake().await;
    let mut daemon = world.spawn_daemon(None);
    let script = "trap 'echo stopped; exit 0' TERM; echo run >> /ake/output/runs.txt; /bin/busybox sleep 6 & wait; echo done >> /ake/output/runs.txt";
    let job = world.post_script(script, vec![], 120).await;
    world.wait_running(&job).await;
    // A stand-in for `systemctl restart docker` (restarting the engine CI
    // shares with every other test is not an option): while the daemon is
    // frozen, the job gets the SIGTERM an engine going down sends, traps
    // it and exits 0, and a new "engine" process starts and writes the pid
    // file, as dockerd does; then the daemon wakes to find the run ended.
    let container = format!("ake-job-{job}-1");
    // SAFETY: signalling the daemon this test spawned.
    unsafe { libc::kill(daemon.id() as i32, libc::SIGSTOP) };
    docker(&["kill", "--signal", "TERM", &container]);
    let code = docker(&["wait", &container]);
    assert_eq!(
        String::from_utf8_lossy(&code.stdout).trim(),
        "0",
        "the job trapped SIGTERM"
    );
    // /proc tells a process's start to the clock tick after a boot time
    // given in whole seconds.
    std::thread::sleep(Duration::from_secs(2));
    let mut engine = Command::new(BUSYBOX)
        .args(["sleep", "600"])
        .spawn()
        .unwrap();
    std::fs::write(world.dir.path().join("docker.pid"), engine.id().to_string()).unwrap();
    unsafe { libc::kill(daemon.id() as i32, libc::SIGCONT) };

    let submitted = world.wait_submitted(&job, Duration::from_secs(120)).await;
    engine.kill().unwrap();
    engine.wait().unwrap();
    assert!(
        world
            .log()
            .contains("an engine restart or a reboot ended the run"),
        "log:\n{}",
        world.log()
    );
    let manifest = fetched_manifest(&world, &submitted).await;
    assert_eq!(manifest.facts.exit_code, 0);
    assert_eq!(
        std::fs::read_to_string(world.dir.path().join("fetched/runs.txt")).unwrap(),
        "run\ndone\n",
        "the cut-short run is not the result: run again from an empty directory"
    );
    assert_eq!(world.owner_stake().await, stake_before);
    assert!(stop(&mut daemon).success(), "log:\n{}", world.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn drain_finishes_the_running_job_submits_without_rearming_and_exits() {
    if runtime(Default::default(), "drain").await.is_none() {
        return;
    }
    let world = World::start().await;
    let stake_before = world.owner_stake().await;
    let mut daemon = world.spawn_daemon(None);
    let script =
        "echo run >> /ake/output/runs.txt; /bin/busybox sleep 8; echo done >> /ake/output/runs.txt";
    let job = world.post_script(script, vec![], 120).await;
    // A second job waits: a daemon that re-armed would take it.
    let next = world.post().await;
    world.wait_running(&job).await;
    let (drained, said) = node_command(&world, "drain");
    assert!(
        drained && said.contains("drained: ake-node has exited"),
        "{said}\nlog:\n{}",
        world.log()
    );
    assert!(wait_exit(&mut daemon, Duration::from_secs(5)).success());

    let p = world.protocol();
    let submitted = p.job(&job).await.unwrap().unwrap();
    assert_eq!(
        submitted.state,
        JobState::Submitted,
        "log:\n{}",
        world.log()
    );
    let manifest_dir = world.dir.path().join("fetched");
    fetched_manifest(&world, &submitted).await;
    assert_eq!(
        std::fs::read_to_string(manifest_dir.join("runs.txt")).unwrap(),
        "run\ndone\n",
        "the container ran to its end, supervised"
    );
    let node = p
        .node(&pda::node(&world.hot.pubkey()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(node.status, NodeStatus::Idle, "submitted without re-arming");
    assert_eq!(p.job(&next).await.unwrap().unwrap().state, JobState::Queued);
    let journal = Journal::open(&world.dir.path().join("journal.redb")).unwrap();
    assert!(
        journal.open_jobs().await.unwrap().is_empty(),
        "nothing left to resume"
    );
    assert_eq!(world.owner_stake().await, stake_before);

    assert!(node_command(&world, "drain").1.contains("nothing to drain"));
}

/// `ake-node <command>` against the world's config, (success, output),
/// run as the daemon's user, as an operator would.
fn node_command(world: &World, command: &str) -> (bool, String) {
    let mut cmd = Command::new(DAEMON);
    cmd.arg("--config").arg(world.config_path()).arg(command);
    cmd.envs(world.daemon_env.lock().unwrap().iter().cloned());
    if let Some((uid, gid)) = daemon_user() {
        cmd.uid(uid).gid(gid);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// `doctor` fails when this host's clock is more than 120 s off the
/// chain's, and says how far and what to do.
#[tokio::test(flavor = "multi_thread")]
async fn doctor_fails_on_a_clock_skewed_from_the_chains() {
    if runtime(Default::default(), "clock_skew").await.is_none() {
        return;
    }
    let world = World::start().await;
    world.config();
    let (_, doctor) = node_command(&world, "doctor");
    assert!(
        doctor.contains("ok    this host's clock is within 120 s of the chain's"),
        "doctor:\n{doctor}"
    );
    world.net.chain.clock_ahead(600).await.unwrap();
    let (healthy, doctor) = node_command(&world, "doctor");
    // About -600 s (a second or two less by the time doctor reads it).
    let said = "FIX   this host's clock is within 120 s of the chain's (";
    let skew: i64 = doctor
        .split_once(said)
        .and_then(|(_, rest)| rest.split_once(" s)"))
        .and_then(|(skew, _)| skew.parse().ok())
        .unwrap_or_else(|| panic!("no skew named; doctor:\n{doctor}"));
    assert!(
        !healthy && (-600..=-590).contains(&skew) && doctor.contains("chrony"),
        "doctor:\n{doctor}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn each_readiness_failure_keeps_the_node_out_of_the_queue_and_is_named() {
    if runtime(Default::default(), "readiness").await.is_none() {
        return;
    }
    let world = World::start().await;
    let stake_before = world.owner_stake().await;
    let p = world.protocol();
    let node = pda::node(&world.hot.pubkey());
    // A store the daemon cannot write to (read-only to every user but root).
    let read_only = world.dir.path().join("read-only-store");
    std::fs::create_dir(&read_only).unwrap();
    std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o555)).unwrap();
    let lagging = world.lagging_url(100).await;
    let d = world.dir.path().display().to_string();
    let failures = [
        (
            "max_output_bytes = 104857600".to_string(),
            // A cap past any test disk's free space.
            format!("max_output_bytes = {}", 1u64 << 40),
            "bytes free, less than the",
        ),
        (
            format!("output_store = \"file://{d}/store\""),
            format!("output_store = \"file://{}\"", read_only.display()),
            "refuses a test write and read",
        ),
        (
            // Its only endpoint trails the chain by 100 slots (and says so).
            format!("rpc_urls = [\"{}\"]", world.url),
            format!("rpc_urls = [\"{lagging}\"]"),
            "100 slots behind",
        ),
    ];
    for (line, with, says) in failures {
        *world.config_edits.lock().unwrap() = vec![(line, with)];
        let mut daemon = world.spawn_daemon(None);
        let end = Instant::now() + Duration::from_secs(60);
        while !world.log().contains("refusing to arm") || !world.log().contains(says) {
            assert!(
                Instant::now() < end,
                "never refused for {says}; log:\n{}",
                world.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // It stays out while the problem lasts.
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(
            p.node(&node).await.unwrap().unwrap().status,
            NodeStatus::Idle
        );
        let (_, status) = node_command(&world, "status");
        assert!(
            status.contains("not ready") && status.contains(says),
            "{status}"
        );
        let (healthy, doctor) = node_command(&world, "doctor");
        assert!(!healthy && doctor.contains(says), "doctor:\n{doctor}");
        assert!(stop(&mut daemon).success(), "log:\n{}", world.log());
        std::fs::remove_file(world.dir.path().join("daemon.log")).unwrap();
    }
    // Fixed, the same node queues.
    world.config_edits.lock().unwrap().clear();
    let mut daemon = world.spawn_daemon(None);
    world
        .wait_node(&node, NodeStatus::Queued, Duration::from_secs(60))
        .await;
    assert!(stop(&mut daemon).success(), "log:\n{}", world.log());
    assert_eq!(world.owner_stake().await, stake_before);
}

/// Listed first, an endpoint 100 slots (about 40 s) behind the chain and
/// one that does not answer cost the node nothing: it measures them, reads
/// from the current one, queues, is shown its job at once and serves it;
/// `status` names both.
#[tokio::test(flavor = "multi_thread")]
async fn an_endpoint_lagging_100_slots_is_read_last_and_the_node_serves() {
    if runtime(Default::default(), "lagging_endpoint")
        .await
        .is_none()
    {
        return;
    }
    let world = World::start().await;
    let stake_before = world.owner_stake().await;
    let lagging = world.lagging_url(100).await;
    let dead = format!("http://127.0.0.1:{}", free_port());
    *world.config_edits.lock().unwrap() = vec![(
        format!("rpc_urls = [\"{}\"]", world.url),
        format!("rpc_urls = [\"{lagging}\", \"{dead}\", \"{}\"]", world.url),
    )];
    let node = pda::node(&world.hot.pubkey());
    let mut daemon = world.spawn_daemon(None);
    world
        .wait_node(&node, NodeStatus::Queued, Duration::from_secs(60))
        .await;
    let posted = Instant::now();
    let job = world.post().await;
    world.wait_running(&job).await;
    // Read through the lagging endpoint, the assignment would show ~40 s late.
    assert!(
        posted.elapsed() < Duration::from_secs(25),
        "ran {:?} after the post; log:\n{}",
        posted.elapsed(),
        world.log()
    );
    world.wait_submitted(&job, Duration::from_secs(120)).await;
    let (_, status) = node_command(&world, "status");
    assert!(
        status.contains(&format!("RPC degraded: RPC {lagging} is 10"))
            && status.contains(&format!(
                "RPC degraded: RPC {dead}: the chain endpoint did not answer"
            ))
            && status.contains(&format!("RPC {} current", world.url))
            && !status.contains("not ready"),
        "{status}"
    );
    let (healthy, doctor) = node_command(&world, "doctor");
    assert!(
        !healthy && doctor.contains("slots behind"),
        "doctor:\n{doctor}"
    );
    assert!(stop(&mut daemon).success(), "log:\n{}", world.log());
    assert_eq!(world.owner_stake().await, stake_before);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_spent_release_budget_keeps_the_node_out_of_the_queue() {
    if runtime(Default::default(), "release_budget_gate")
        .await
        .is_none()
    {
        return;
    }
    // One hand-back per GPU per 30 days (the longest window allowed): the
    // first failure spends it. Windows align to the clock, so the test
    // starts at least five minutes before one ends (it takes under three):
    // its hand-back and the refusal that follows fall in the same window.
    const WINDOW: u64 = 30 * 86_400;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let left = WINDOW - now % WINDOW;
    if left < 300 {
        tokio::time::sleep(Duration::from_secs(left + 1)).await;
    }
    let world = World::start_with(cpu_profile(), None, |params| {
        params.releases.budget_per_gpu = 1;
        params.releases.budget_window_secs = WINDOW as u32;
        params.market.unbonding_secs = WINDOW as u32;
    })
    .await;
    let stake_before = world.owner_stake().await;
    let (url, _) = counting_server("200 OK", b"not the scene the creator hashed").await;
    let mut daemon = world.spawn_daemon(None);
    let bad = ake_sdk::ake_market::state::InputFile {
        url,
        sha256: [0xab; 32],
    };
    let job = world.post_with_inputs(vec![bad]).await;
    world.wait_released(&job, Duration::from_secs(60)).await;
    // A second job waits: a node that armed now would take it, fail the
    // same way and go over budget.
    let next = world.post().await;
    let end = Instant::now() + Duration::from_secs(60);
    while !world.log().contains("has used its release budget") {
        assert!(Instant::now() < end, "never stopped; log:\n{}", world.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let p = world.protocol();
    let node = p
        .node(&pda::node(&world.hot.pubkey()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(node.status, NodeStatus::Idle, "log:\n{}", world.log());
    assert_eq!(p.job(&next).await.unwrap().unwrap().state, JobState::Queued);
    let (_, status) = node_command(&world, "status");
    assert!(status.contains("has used its release budget"), "{status}");
    let (healthy, doctor) = node_command(&world, "doctor");
    assert!(
        !healthy
            && doctor.contains("has used its release budget")
            && doctor.contains("no hand-back left in this release-budget window"),
        "{doctor}"
    );
    assert_eq!(world.owner_stake().await, stake_before);
    assert!(stop(&mut daemon).success(), "log:\n{}", world.log());
}

/// A loopback TCP proxy to `to` passing what clients send at most
/// `bytes_per_sec` in all (answers come back at full speed): a slow uplink.
async fn throttled_proxy(to: u16, bytes_per_sec: usize) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let uplink = Arc::new(tokio::sync::Mutex::new(()));
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let uplink = Arc::clone(&uplink);
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", to)).await else {
                    return;
                };
                let (mut from_client, mut to_client) = client.into_split();
                let (mut from_server, mut to_server) = server.into_split();
                let up = async move {
                    let mut buf = vec![0u8; 16 << 10];
                    while let Ok(n @ 1..) = from_client.read(&mut buf).await {
                        let _turn = uplink.lock().await;
                        if to_server.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                        let pace = n as f64 / bytes_per_sec as f64;
                        tokio::time::sleep(Duration::from_secs_f64(pace)).await;
                    }
                    let _ = to_server.shutdown().await;
                };
                let down = async move {
                    let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
                };
                tokio::join!(up, down);
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_store_gets_the_upload_time_the_output_cap_needs_before_the_deadline() {
    if runtime(Default::default(), "slow_store").await.is_none() {
        return;
    }
    let Some(moto) = start_moto() else {
        return;
    };
    create_bucket(moto.port, "slow");
    // 512 KiB/s: 12 MiB of outputs take 24 s to upload, more than the 20 s
    // the node keeps back for committing and confirming.
    let proxy = throttled_proxy(moto.port, 512 << 10).await;
    let world = World::start().await;
    let d = world.dir.path().display().to_string();
    *world.config_edits.lock().unwrap() = vec![
        (
            format!("output_store = \"file://{d}/store\""),
            format!(
                "output_store = \"s3://slow/outputs?region=us-east-1&endpoint=http://127.0.0.1:{proxy}\"\nuplink_mbit = 4"
            ),
        ),
        ("max_output_bytes = 104857600".into(), format!("max_output_bytes = {}", 12 << 20)),
    ];
    *world.daemon_env.lock().unwrap() = vec![
        ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
    ];
    let stake_before = world.owner_stake().await;
    let mut daemon = world.spawn_daemon(None);
    // 12 MiB of outputs, touched every 5 s so that they never hold still
    // long enough to go up while the job runs (the case the reserve is
    // for), and the job runs until it is stopped.
    let script = "/bin/busybox dd if=/dev/urandom of=/ake/output/frames.bin bs=1048576 count=12; while true; do /bin/busybox touch /ake/output/frames.bin; /bin/busybox sleep 5; done";
    let spec = JobSpec::Inline(InlineSpec {
        image: world.image.tag.clone(),
        command: vec![BUSYBOX.into(), "sh".into(), "-c".into(), script.into()],
        env: vec![],
        inputs: vec![],
        max_output_bytes: 12 << 20,
    });
    let job = world.post_spec(spec, 100).await;
    let submitted = world.wait_submitted(&job, Duration::from_secs(220)).await;
    let result = submitted.result.as_ref().unwrap();
    // Stopped 20 s + 12 MiB at 4 Mbit/s (with a quarter more) before the
    // deadline, not 20 s: the upload fit.
    let window = u64::try_from(submitted.deadline - submitted.assigned_at).unwrap();
    assert!(
        result.usage.wall_secs <= window - 20 - 31,
        "ran {} s; log:\n{}",
        result.usage.wall_secs,
        world.log()
    );
    assert!(
        world.log().contains("uplink measured"),
        "log:\n{}",
        world.log()
    );
    assert_eq!(world.owner_stake().await, stake_before, "no expiry");
    assert!(stop(&mut daemon).success(), "log:\n{}", world.log());
}

/// A file that holds still goes up while the job runs; the job changes it
/// in place afterwards (a creator's trick to make the stored object differ
/// from the commitment): the store ends up with the committed content,
/// the result verifies, the staging area is emptied and no stake moves.
#[tokio::test(flavor = "multi_thread")]
async fn outputs_go_up_while_the_job_runs_and_a_later_change_is_sent_as_committed() {
    if runtime(Default::default(), "staging").await.is_none() {
        return;
    }
    let world = World::start().await;
    let stake_before = world.owner_stake().await;
    let mut daemon = world.spawn_daemon(None);
    // 512 KiB at once (the job's cap is 1 MiB); changed (same size) 50 s later, after two looks 15 s
    // apart have sent it; then the job ends.
    let script = "/bin/busybox dd if=/dev/zero of=/ake/output/early.bin bs=1024 count=512 2>/dev/null; echo run >> /ake/output/runs.txt; /bin/busybox sleep 50; echo -n X | /bin/busybox dd of=/ake/output/early.bin conv=notrunc 2>/dev/null; echo rendered";
    let job = world.post_script(script, vec![], 120).await;
    world.wait_running(&job).await;
    // Under staging/<run>/ in the attempt's folder of the store.
    let staging = world.dir.path().join(format!("store/jobs/{job}-1/staging"));
    let staged = || -> Vec<PathBuf> {
        let runs = std::fs::read_dir(&staging).into_iter().flatten().flatten();
        runs.flat_map(|run| {
            std::fs::read_dir(run.path())
                .into_iter()
                .flatten()
                .flatten()
        })
        .map(|file| file.path())
        .collect()
    };
    let end = Instant::now() + Duration::from_secs(45);
    while !staged().iter().any(|p| p.ends_with("early.bin")) {
        assert!(
            Instant::now() < end,
            "nothing staged; log:\n{}",
            world.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let job_now = world.protocol().job(&job).await.unwrap().unwrap();
    assert_eq!(job_now.state, JobState::Assigned, "sent while the job ran");
    let submitted = world.wait_submitted(&job, Duration::from_secs(120)).await;
    let manifest = fetched_manifest(&world, &submitted).await;
    let early = std::fs::read(world.dir.path().join("fetched/early.bin")).unwrap();
    assert_eq!((early.len(), early[0], early[1]), (512 << 10, b'X', 0));
    assert_eq!(manifest.files.len(), 2);
    assert!(
        world
            .log()
            .contains("while the job ran were not sent again"),
        "runs.txt was moved into place; log:\n{}",
        world.log()
    );
    // The attempt cleaned up, its staging area is empty.
    let end = Instant::now() + Duration::from_secs(30);
    while !staged().is_empty() {
        assert!(Instant::now() < end, "staging kept {:?}", staged());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(stop(&mut daemon).success(), "log:\n{}", world.log());
    assert_eq!(world.owner_stake().await, stake_before);
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_tree_deeper_than_path_max_is_a_normal_result_and_holds_up_no_job() {
    if runtime(Default::default(), "hostile_deep_tree")
        .await
        .is_none()
    {
        return;
    }
    let world = World::start().await;
    let stake_before = world.owner_stake().await;
    let mut daemon = world.spawn_daemon(None);
    // 250 levels of 20-character names: 5,250 bytes of path, past PATH_MAX.
    let deep = "echo ok > /ake/output/ok.txt; cd /ake/output; i=0; \
                while [ $i -lt 250 ]; do /bin/busybox mkdir dddddddddddddddddddd && cd dddddddddddddddddddd || exit 3; i=$((i+1)); done; \
                echo x > f; echo deep";
    let job = world.post_script(deep, vec![], 60).await;
    let next = world.post().await;
    let submitted = world.wait_submitted(&job, Duration::from_secs(120)).await;
    let manifest = fetched_manifest(&world, &submitted).await;
    assert!(
        manifest.files.iter().any(|f| f.path == "ok.txt"),
        "{manifest:?}"
    );
    // Whatever the clean-up makes of it, the attempt ends and the next job runs.
    world.wait_submitted(&next, Duration::from_secs(120)).await;
    let attempt = world.dir.path().join("work").join(format!("{job}-1"));
    assert!(!attempt.exists(), "log:\n{}", world.log());
    if daemon_user().is_some() {
        // Not root: busybox cannot reach past PATH_MAX; the tree waits in
        // the trash for the operator, and the log says how to delete it.
        // (Housekeeping empties the trash every 10 s.)
        let stuck = format!("stuck-{job}-1");
        let trash = world.dir.path().join("work/.trash");
        let end = Instant::now() + Duration::from_secs(60);
        while !std::fs::read_dir(&trash)
            .unwrap()
            .any(|e| e.unwrap().file_name().to_string_lossy().starts_with(&stuck))
        {
            assert!(Instant::now() < end, "never stuck; log:\n{}", world.log());
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        assert!(world.log().contains("sudo rm -rf"), "log:\n{}", world.log());
    }
    assert_eq!(world.owner_stake().await, stake_before);
    assert!(stop(&mut daemon).success(), "log:\n{}", world.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_container_removed_mid_run_runs_again_from_an_empty_directory_not_twice() {
    if runtime(Default::default(), "container_removed")
        .await
        .is_none()
    {
        return;
    }
    let world = World::start().await;
    let stake_before = world.owner_stake().await;
    let mut daemon = world.spawn_daemon(None);
    let script =
        "echo run >> /ake/output/runs.txt; /bin/busybox sleep 6; echo done >> /ake/output/runs.txt";
    let job = world.post_script(script, vec![], 120).await;
    world.wait_running(&job).await;
    // Someone on the host removes the running job's container.
    let removed = docker(&["rm", "-f", &format!("ake-job-{job}-1")]);
    assert!(removed.status.success());
    let submitted = world.wait_submitted(&job, Duration::from_secs(120)).await;
    fetched_manifest(&world, &submitted).await;
    assert_eq!(
        std::fs::read_to_string(world.dir.path().join("fetched/runs.txt")).unwrap(),
        "run\ndone\n",
        "one whole run, not a second run over the first one's outputs; log:\n{}",
        world.log()
    );
    assert_eq!(world.owner_stake().await, stake_before);
    assert!(stop(&mut daemon).success(), "log:\n{}", world.log());
}

/// What a job's container was created with: its GPUs and its CPU set.
fn container_gpus_and_cpus(job: &Pubkey) -> Option<(Vec<String>, String)> {
    let out = docker(&[
        "inspect",
        "--format",
        "{{json .HostConfig.DeviceRequests}}|{{.HostConfig.CpusetCpus}}",
        &format!("ake-job-{job}-1"),
    ]);
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let (requests, cpus) = text.split_once('|')?;
    let requests: serde_json::Value = serde_json::from_str(requests).ok()?;
    let ids = requests[0]["DeviceIDs"]
        .as_array()?
        .iter()
        .map(|id| id.as_str().unwrap_or_default().to_string())
        .collect();
    Some((ids, cpus.to_string()))
}

/// The CPUs the fake NVML puts near the `i`th of its four GPUs (two GPUs
/// per half of this machine's CPUs), shared by the two slots near them.
fn expected_cpuset(i: usize) -> String {
    // SAFETY: sysconf has no memory preconditions.
    let online = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) } as usize;
    let (half, first) = match online {
        0 | 1 => (1, 0),
        n => (n / 2, i / 2 * (n / 2)),
    };
    if half == 1 {
        return first.to_string();
    }
    let share = half / 2;
    let start = first + i % 2 * share;
    match share {
        1 => start.to_string(),
        _ => format!("{start}-{}", start + share - 1),
    }
}

/// An 8-GPU server in small: one daemon, four slots on four H100s (a fake
/// NVML). An unhealthy GPU takes its slot out of the queue while the
/// other three stay; then four GPU jobs are matched to the four slots,
/// and each job's container is created with its slot's GPU and the CPUs
/// near it, and no other (created and inspected: there is no NVIDIA
/// runtime here to start it).
#[tokio::test(flavor = "multi_thread")]
async fn four_gpu_slots_each_give_their_jobs_only_their_gpu_and_cpus() {
    if runtime(Default::default(), "gpu_slots").await.is_none() {
        return;
    }
    let state = tempfile::NamedTempFile::new().unwrap();
    let nvml = (fake_nvml().to_path_buf(), state.path().to_path_buf());
    let world = World::start_with(h100(), Some(nvml), |params| {
        params.markets[0].gpu_required = true;
    })
    .await;
    world
        .daemon_env
        .lock()
        .unwrap()
        .push(("FAKE_NVML_GPUS".into(), "4".into()));
    let slots: Vec<Vec<&str>> = FOUR_H100.iter().map(|g| vec![*g]).collect();
    let nodes = world.use_slots(h100(), &slots).await;
    let mut daemon = world.spawn_daemon(None);
    for node in &nodes {
        world
            .wait_node(node, NodeStatus::Queued, Duration::from_secs(60))
            .await;
    }
    // The first GPU reports uncorrected ECC errors: its slot leaves.
    std::fs::write(state.path(), "ecc=2\n").unwrap();
    world
        .wait_node(&nodes[0], NodeStatus::Idle, Duration::from_secs(60))
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let p = world.protocol();
    for node in &nodes[1..] {
        let status = p.node(node).await.unwrap().unwrap().status;
        assert_eq!(status, NodeStatus::Queued, "a healthy slot stays queued");
    }
    assert!(
        world.log().contains("uncorrected ECC errors"),
        "{}",
        world.log()
    );
    std::fs::write(state.path(), "ecc=0\n").unwrap();
    world
        .wait_node(&nodes[0], NodeStatus::Queued, Duration::from_secs(60))
        .await;

    let mut jobs = Vec::new();
    for _ in 0..4 {
        jobs.push(world.post_script("/bin/busybox true", vec![], 120).await);
    }
    let mut seen = std::collections::HashSet::new();
    for job in &jobs {
        let end = Instant::now() + Duration::from_secs(60);
        let (node, created) = loop {
            let on_chain = p.job(job).await.unwrap().unwrap();
            if let Some(created) = container_gpus_and_cpus(job) {
                break (on_chain.node, created);
            }
            assert!(
                Instant::now() < end,
                "no container for {job}; log:\n{}",
                world.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let slot = nodes
            .iter()
            .position(|n| *n == node)
            .expect("a slot's node");
        assert_eq!(
            created,
            (vec![FOUR_H100[slot].to_string()], expected_cpuset(slot)),
            "slot {slot}'s job sees its GPU and its CPUs only"
        );
        seen.insert(slot);
    }
    assert_eq!(seen.len(), 4, "each slot took one job");
    // Draining would wait for the jobs that cannot start here.
    assert!(stop_now(&mut daemon).success());
}

/// A MIG instance registered as a whole H100 is refused: the daemon does
/// not arm that slot (the other arms) and `doctor` names it; a slot naming
/// a GPU this host does not have is named by `doctor` and stops `run`.
#[tokio::test(flavor = "multi_thread")]
async fn a_mig_slice_registered_as_a_whole_gpu_is_refused_and_doctor_names_each_slot_problem() {
    if runtime(Default::default(), "mig_slot").await.is_none() {
        return;
    }
    let state = tempfile::NamedTempFile::new().unwrap();
    let nvml = (fake_nvml().to_path_buf(), state.path().to_path_buf());
    let world = World::start_as(h100(), Some(nvml)).await;
    let env = [("FAKE_NVML_GPUS", "4"), ("FAKE_NVML_MIG", "1")];
    world
        .daemon_env
        .lock()
        .unwrap()
        .extend(env.map(|(k, v)| (k.to_string(), v.to_string())));
    let nodes = world
        .use_slots(h100(), &[vec![FOUR_H100[0]], vec![MIG_SLICES[0]]])
        .await;
    let doctor = |world: &World| {
        let out = Command::new(DAEMON)
            .arg("--config")
            .arg(world.config())
            .arg("doctor")
            .envs(env)
            .output()
            .unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let mut daemon = world.spawn_daemon(None);
    world
        .wait_node(&nodes[0], NodeStatus::Queued, Duration::from_secs(60))
        .await;
    let end = Instant::now() + Duration::from_secs(30);
    while !world.log().contains("is a MIG instance") {
        assert!(Instant::now() < end, "{}", world.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let slice_node = world.protocol().node(&nodes[1]).await.unwrap().unwrap();
    assert_eq!(slice_node.status, NodeStatus::Idle, "the slice never arms");
    assert!(stop(&mut daemon).success());
    let text = doctor(&world);
    assert!(
        text.contains(
            "ok    slot slot0 holds what its node claims (1 x NVIDIA H100 80GB HBM3, 81559 MiB)"
        ),
        "{text}"
    );
    assert!(
        text.contains("FIX   slot slot1 holds what its node claims")
            && text.contains(&format!("GPU {} is a MIG instance", MIG_SLICES[0])),
        "{text}"
    );

    // The fourth H100 is split into MIG instances: as a whole it is gone.
    // Its slot stays out and says why; the other serves.
    world
        .config_edits
        .lock()
        .unwrap()
        .push((MIG_SLICES[0].to_string(), FOUR_H100[3].to_string()));
    let text = doctor(&world);
    assert!(
        text.contains("FIX   slot slot1: GPUs []")
            && text.contains(&format!(
                "GPU {} is not in this node's inventory",
                FOUR_H100[3]
            ))
            && text.contains("nvidia-smi -L"),
        "{text}"
    );
    let mut daemon = world.spawn_daemon(None);
    let end = Instant::now() + Duration::from_secs(30);
    while !world
        .log()
        .contains("this slot will not take jobs: slot slot1")
    {
        assert!(Instant::now() < end, "{}", world.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    world
        .wait_node(&nodes[0], NodeStatus::Queued, Duration::from_secs(60))
        .await;
    let slot1 = world.protocol().node(&nodes[1]).await.unwrap().unwrap();
    assert_eq!(slot1.status, NodeStatus::Idle);
    assert!(stop(&mut daemon).success());
}

/// One daemon with four CPU slots runs four jobs at once (four job
/// containers running together), each on its own node, and each node is
/// credited and paid for its own job.
#[tokio::test(flavor = "multi_thread")]
async fn four_cpu_slots_run_jobs_at_once_and_each_node_is_paid_for_its_own() {
    if runtime(Default::default(), "cpu_slots").await.is_none() {
        return;
    }
    let world = World::start().await;
    let nodes = world
        .use_slots(cpu_profile(), &[vec![], vec![], vec![], vec![]])
        .await;
    let p = world.protocol();
    let mint: Pubkey = world.net.deployment.mint.parse().unwrap();
    let owner_token = associated_token(&world.owner.pubkey(), &mint);
    let mut daemon = world.spawn_daemon(None);
    for node in &nodes {
        world
            .wait_node(node, NodeStatus::Queued, Duration::from_secs(60))
            .await;
    }
    let script = "echo run >> /ake/output/runs.txt; /bin/busybox sleep 20";
    let mut jobs = Vec::new();
    for _ in 0..4 {
        jobs.push(world.post_script(script, vec![], 120).await);
    }
    // Four job containers run at the same time.
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let out = docker(&["ps", "--quiet", "--filter", "label=ake.job"]);
        let running = String::from_utf8_lossy(&out.stdout).lines().count();
        if running == 4 {
            break;
        }
        assert!(
            Instant::now() < end,
            "never 4 at once; log:\n{}",
            world.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut ran_on = std::collections::HashSet::new();
    for job in &jobs {
        let submitted = world.wait_submitted(job, Duration::from_secs(120)).await;
        ran_on.insert(submitted.node);
    }
    assert_eq!(ran_on, nodes.iter().copied().collect(), "one job per slot");
    // Built just before they are sent: an accept names the current epoch's
    // work record, and the four results may straddle an epoch's end.
    let mut accepts = Vec::new();
    for job in &jobs {
        accepts.push(p.accept(job).await.unwrap());
    }
    let before = p.token_balance(&owner_token).await.unwrap();
    let c = &world.creator;
    send_instructions(p.chain.as_ref(), c, &[], &accepts, Fees::default())
        .await
        .unwrap();
    let epoch = p
        .current_epoch(&p.emissions().await.unwrap())
        .await
        .unwrap();
    // Each node's own work record holds its own job's burn.
    let mut credited = 0;
    for node in &nodes {
        let work = match p.node_work(epoch, node).await.unwrap() {
            Some(work) => work,
            // The accept landed just before an epoch boundary.
            None => p
                .node_work(epoch - 1, node)
                .await
                .unwrap()
                .expect("credited"),
        };
        assert!(work.burned_tokens > 0, "node {node} credited for its job");
        credited += work.burned_tokens;
    }
    let credited_epoch = match p.node_work(epoch, &nodes[0]).await.unwrap() {
        Some(_) => epoch,
        None => epoch - 1,
    };
    world.wait_claimed(credited_epoch, &nodes).await;
    let summary = p.epoch_summary(credited_epoch).await.unwrap().unwrap();
    assert_eq!(summary.burned_tokens, credited);
    assert_eq!(
        p.token_balance(&owner_token).await.unwrap() - before,
        credited,
        "the owner is paid each node's reward"
    );
    assert!(stop(&mut daemon).success());
}

/// A node that commits to junk instead of the job's outputs is drawn (every
/// auditable job is, here) and re-run by honest nodes of two other owners,
/// which outvote it: its collateral is burned, its reputation reset, and
/// the creator gets its escrow back. Every node here is a real ake-node
/// running the job in Docker; the cheat is fault injection.
#[tokio::test(flavor = "multi_thread")]
async fn a_node_that_fakes_its_outputs_loses_its_audit() {
    use ake_sdk::ake_market::state::AuditPhase;
    let world = World::start_with(cpu_profile(), None, |p| p.audits.p_min_bps = 10_000).await;
    world
        .daemon_env
        .lock()
        .unwrap()
        .push(("AKE_NODE_FAKE_OUTPUT".into(), "1".into()));
    let mut cheat = world.spawn_daemon(None);
    let cheat_node = pda::node(&world.hot.pubkey());
    world
        .wait_node(&cheat_node, NodeStatus::Queued, Duration::from_secs(60))
        .await;
    let p = world.protocol();
    let mint: Pubkey = world.net.deployment.mint.parse().unwrap();
    let creator_token = associated_token(&world.creator.pubkey(), &mint);
    // An audited job's image is pinned (here by its local image id).
    let spec = JobSpec::Inline(InlineSpec {
        image: format!("{}@{}", world.image.tag, world.image.id()),
        command: vec![
            BUSYBOX.into(),
            "sh".into(),
            "-c".into(),
            "echo 42 > /ake/output/answer.txt".into(),
        ],
        env: vec![],
        inputs: vec![],
        max_output_bytes: 1 << 20,
    });
    let job = world.post_verified(spec, 120, Verify::Exact).await;
    let stake_before = world.owner_stake().await;
    let dirs = [world.dir.path()];
    let drawn = world
        .wait_audit(&job, AuditPhase::Auditing, Duration::from_secs(120), &dirs)
        .await;
    assert_eq!(drawn.node, cheat_node, "the cheat ran the job");
    let (escrow, r) = (drawn.escrow, drawn.collateral);
    // Honest nodes of two other owners come and run the audit's two runs.
    // The first runs one and re-arms at its submit with stake for another:
    // its owner is barred from the second run, which waits for the other.
    world.daemon_env.lock().unwrap().clear();
    let (b_dir, b_hot) = world.peer().await;
    let (c_dir, c_hot) = world.peer().await;
    let mut b = world.spawn_in(b_dir.path(), &b_hot, None);
    let b_node = pda::node(&b_hot.pubkey());
    let end = Instant::now() + Duration::from_secs(180);
    loop {
        let mut submitted = false;
        for run in drawn.audit.runs {
            let held = p.job(&run).await.unwrap();
            submitted |= held.is_some_and(|r| r.node == b_node && r.state == JobState::Submitted);
        }
        let queued = p.node(&b_node).await.unwrap().map(|n| n.status) == Some(NodeStatus::Queued);
        if submitted && queued {
            break;
        }
        assert!(
            Instant::now() < end,
            "the first auditor never ran a run and re-armed"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let mut c = world.spawn_in(c_dir.path(), &c_hot, None);
    let dirs = [world.dir.path(), b_dir.path(), c_dir.path()];
    // Outvoted, the cheat's daemon appeals (it cannot tell a frame from
    // its own junk), locking its owner's bond.
    let failed = world
        .wait_audit(&job, AuditPhase::Appealed, Duration::from_secs(300), &dirs)
        .await;
    assert!(
        failed.audit.revealed,
        "the cheat revealed its (junk) digest"
    );
    let bond = failed.terms.dispute_bond;
    assert_eq!(failed.appeal_bond(), bond);
    let runs = failed.audit.runs;
    let b_owner = p.node(&b_node).await.unwrap().unwrap().owner;
    let auditors: Vec<Pubkey> = [b_hot.pubkey(), c_hot.pubkey()]
        .iter()
        .map(pda::node)
        .collect();
    let creator_before = p.token_balance(&creator_token).await.unwrap();
    // The arbiter re-runs the spec, gets the honest digest and rejects the
    // appeal; anyone then settles the verdict (the crank would).
    let arbiter = &world.net.admin;
    let ix = p
        .resolve_appeal(&job, arbiter.pubkey(), false)
        .await
        .unwrap();
    send_instructions(p.chain.as_ref(), arbiter, &[], &[ix], Fees::default())
        .await
        .unwrap();
    let payer = Keypair::new();
    world
        .net
        .chain
        .airdrop(&payer.pubkey(), 1_000_000_000)
        .await
        .unwrap();
    let ix = p.settle_audit(&job, payer.pubkey()).await.unwrap();
    send_instructions(p.chain.as_ref(), &payer, &[], &[ix], Fees::default())
        .await
        .unwrap();
    assert_eq!(
        p.token_balance(&creator_token).await.unwrap(),
        creator_before + escrow,
        "the creator gets its whole escrow back"
    );
    assert_eq!(
        world.owner_stake().await,
        stake_before - r - bond,
        "R and the appeal's bond burned"
    );
    let node = p.node(&cheat_node).await.unwrap().unwrap();
    assert!(node.suspended);
    assert_eq!(node.reputation_bps, 0);
    // The job's story, as `ake job events` and the dashboard tell it.
    let rpc = Protocol::new(Arc::new(ake_sdk::chain::rpc::RpcChain::new(
        &world.url,
        solana_commitment_config::CommitmentConfig::confirmed(),
    )));
    let told = rpc.job_timeline(&job, |a| a.to_string()).await.unwrap();
    let said = |event: &str| {
        told.steps
            .iter()
            .find(|s| s.event == event)
            .map(|s| s.what.clone())
            .unwrap_or_else(|| panic!("no {event} in {:#?}", told.steps))
    };
    assert!(said("AuditDrawn").starts_with("audited") || said("AuditDrawn").starts_with("drawn"));
    assert!(
        said("AuditJudged").contains("Failed"),
        "{}",
        said("AuditJudged")
    );
    // The first owner tried the second run and was barred from it (the
    // runs, paid, may have closed by now: their history tells it).
    let mut barred = false;
    for run in runs {
        let story = rpc.job_timeline(&run, |a| a.to_string()).await.unwrap();
        barred |= story.steps.iter().any(|s| {
            s.event == "AuditRunBarred" && s.what.contains(&format!("barred to owner {b_owner}"))
        });
    }
    assert!(barred, "the first owner was barred from the second run");
    assert!(said("AuditAppealed").contains(&format!("with a {bond} AKE bond")));
    assert!(said("AppealResolved").starts_with("appeal rejected"));
    let burned = r + bond;
    assert!(said("AuditSettled").contains(&format!("{burned} AKE of stake burned")));
    // The honest runs are paid by their own daemons, and close.
    let end = Instant::now() + Duration::from_secs(60);
    for run in runs {
        while p.job(&run).await.unwrap().is_some() {
            assert!(Instant::now() < end, "run {run} not settled by its node");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    for node in auditors {
        let n = p.node(&node).await.unwrap().unwrap();
        assert_eq!(
            n.jobs_completed, 1,
            "{node} ran and was paid for one audit run"
        );
        assert!(!n.suspended);
    }
    for child in [&mut cheat, &mut b, &mut c] {
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
