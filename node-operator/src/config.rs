//! The node operator's TOML configuration, its validation and the signer key-file check.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::inputs::InputPolicy;

/// Default Prometheus listen address: loopback only, the metrics are not meant for the internet.
pub const DEFAULT_METRICS_ADDR: &str = "127.0.0.1:9464";

/// Whole node configuration, read from a TOML file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Solana RPC endpoints, tried in order.
    pub rpc_urls: Vec<String>,
    #[serde(default)]
    pub commitment: Commitment,
    /// Path to the node's signer keypair file (must be mode 0600): a
    /// single-slot node that offers every GPU of the host. A host split
    /// into slots names one key per `[[slots]]` entry instead.
    #[serde(default)]
    pub node_signer_keypair: Option<PathBuf>,
    /// The node's on-chain account (base58 pubkey); derived from the signer when absent.
    #[serde(default)]
    pub node_account: Option<String>,
    /// The host's GPUs split among Nodes that take jobs at once, each with
    /// its own key, queue place, GPUs and CPUs (`ake-node init --slots`).
    #[serde(default)]
    pub slots: Vec<SlotConfig>,
    /// Index of the market this node serves.
    pub market: u32,
    pub work_dir: PathBuf,
    pub journal_path: PathBuf,
    /// Where `/metrics` and `/status` are served: loopback by default; any
    /// other address needs `metrics_token_file`.
    #[serde(default = "default_metrics_addr")]
    pub metrics_addr: SocketAddr,
    /// A file (mode 0600) holding the bearer token every request to the
    /// metrics endpoint must carry (`Authorization: Bearer <token>`, at
    /// least 16 characters): Prometheus's `authorization` setting.
    #[serde(default)]
    pub metrics_token_file: Option<PathBuf>,
    /// How often the daemon reads its node when no websocket notification
    /// comes (milliseconds): the fallback when the endpoint has no
    /// subscriptions.
    #[serde(default = "default_poll_interval_ms")]
    pub poll_interval_ms: u64,
    #[serde(default)]
    pub runtime: RuntimeSettings,
    /// Image reference prefixes a job may use; empty allows every image.
    #[serde(default)]
    pub image_allowlist: Vec<String>,
    #[serde(default = "default_max_output_bytes")]
    pub max_output_bytes: u64,
    /// The upload speed to the output store assumed until uploads measure
    /// it, in Mbit/s: a job's container stops early enough for its outputs,
    /// at their cap, to go up before the result is due.
    #[serde(default = "default_uplink_mbit")]
    pub uplink_mbit: u64,
    /// Jobs allowed at least this many seconds get live logs: while one
    /// runs, what it printed so far goes up to the output store every few
    /// seconds and one transaction announces where (`ake job logs
    /// --follow`). 0: every job; shorter jobs are over before anyone would
    /// follow them, and their committed logs come with the result.
    #[serde(default = "default_live_logs_min_secs")]
    pub live_logs_min_secs: u32,
    /// Most files a job may leave in /ake/output; past it the run is stopped.
    #[serde(default = "default_max_output_files")]
    pub max_output_files: u64,
    /// What a job's input and spec URLs may reach, and how much they may bring.
    #[serde(default)]
    pub inputs: InputPolicy,
    /// Seconds kept back from a job's on-chain deadline for stopping the
    /// container, committing and uploading the outputs and confirming the
    /// result (two blockhash lifetimes): the container is stopped that long
    /// before the deadline.
    #[serde(default = "default_deadline_reserve_secs")]
    pub deadline_reserve_secs: u64,
    #[serde(default)]
    pub priority_fee: PriorityFeePolicy,
    /// Where outputs are uploaded: `file:///dir` or `s3://bucket/prefix?endpoint=..&region=..`.
    pub output_store: String,
    /// Explicit path to libnvidia-ml.so; the system default is used when absent.
    #[serde(default)]
    pub nvml_lib_path: Option<PathBuf>,
    /// The NVIDIA Container Toolkit binary whose `--version` is checked
    /// against known container escapes before a GPU node arms; the first of
    /// `nvidia-container-cli`, `nvidia-ctk` on PATH when absent.
    #[serde(default)]
    pub nvidia_toolkit_cli: Option<PathBuf>,
    /// The toolkit's settings, checked for options that let an image choose
    /// GPUs; `/etc/nvidia-container-runtime/config.toml` when absent.
    #[serde(default)]
    pub nvidia_toolkit_config: Option<PathBuf>,
    /// SOL the hot (signer) key should hold at most: it signs on a machine
    /// that runs strangers' containers, so `doctor` warns above this. A week
    /// of fees is about 0.1 SOL.
    #[serde(default = "default_hot_key_max_sol")]
    pub hot_key_max_sol: f64,
    /// Appeal every audit this node loses after revealing its digest (its
    /// owner's dispute bond is locked until the arbiter decides, and
    /// burned if the appeal is rejected). Turn off on hardware known to be
    /// at fault: the loss then settles after the time to appeal.
    #[serde(default = "default_appeal_lost_audits")]
    pub appeal_lost_audits: bool,
}

/// One slot of a host: a Node of its own pinned to named GPUs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotConfig {
    /// Names the slot in logs, metrics (`slot` label) and paths: 1-32
    /// letters, digits, `-` or `_`.
    pub name: String,
    /// The slot's signer keypair file (mode 0600): its Node's hot key.
    pub node_signer_keypair: PathBuf,
    /// GPU or MIG instance UUIDs as `nvidia-smi -L` lists them; empty for
    /// a CPU slot. A job of this slot sees these and no other.
    #[serde(default)]
    pub gpus: Vec<String>,
    /// CPUs the slot's jobs may run on, in Docker's cpuset syntax
    /// (`0-15,32-47`); when absent, the CPUs NUMA-near its GPUs, shared
    /// out among the slots near the same CPUs.
    #[serde(default)]
    pub cpuset: Option<String>,
}

/// A slot as the daemon runs it: the config's, or the whole host as one.
#[derive(Debug, Clone, PartialEq)]
pub struct Slot {
    pub name: String,
    pub signer: PathBuf,
    /// The node account when the config names it (single-slot only).
    pub node_account: Option<String>,
    /// The slot's GPUs; None: every GPU of the host.
    pub gpus: Option<Vec<String>>,
    pub cpuset: Option<String>,
    pub work_dir: PathBuf,
    pub journal_path: PathBuf,
}

/// The slot name of a node configured without `[[slots]]`.
pub const SINGLE_SLOT: &str = "main";

fn default_hot_key_max_sol() -> f64 {
    1.0
}

fn default_appeal_lost_audits() -> bool {
    true
}

/// The priority fee of the node's result and hand-back transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PriorityFeePolicy {
    /// Micro-lamports per compute unit never paid less than.
    pub floor_micro_lamports: u64,
    /// Micro-lamports per compute unit never paid more than.
    pub cap_micro_lamports: u64,
}

impl Default for PriorityFeePolicy {
    fn default() -> Self {
        Self {
            floor_micro_lamports: 1_000,
            // 400k CU at this price is 0.0004 SOL: small beside a slash.
            cap_micro_lamports: 1_000_000,
        }
    }
}

/// Base fee of a transaction with one signature, in lamports.
const SIGNATURE_FEE_LAMPORTS: u64 = 5_000;
/// Transactions a node must be able to pay before it takes a job: the
/// submit, a hand-back, and the arm that takes the next one.
const TRANSACTIONS_AHEAD: u64 = 3;
/// Rent of one market pool slot (80 bytes): an arm that finds the pool
/// full grows it by one at the hot key's expense.
const POOL_SLOT_RENT_LAMPORTS: u64 = 80 * 6_960;
/// Rent of one due page (1,112 bytes + 128): a submit that opens its
/// bucket's page pays it (back when the page closes). Without it the
/// submit would fail, and the job with it.
const DUE_PAGE_RENT_LAMPORTS: u64 = (1_112 + 128) * 6_960;
/// What the hot key itself must keep after paying rent (a system account's
/// rent-exempt minimum): below it the runtime refuses the transaction.
const HOT_KEY_MINIMUM_LAMPORTS: u64 = 128 * 6_960;

impl PriorityFeePolicy {
    /// What the node's next transactions cost at most: each at Solana's
    /// maximum compute and this policy's cap. A hot key holding less stays
    /// out of the queue, so a job it takes can always be submitted (with
    /// the due page it may open), and an arm can pay for the pool slot it
    /// may add.
    pub fn next_transactions_lamports(&self, max_compute_units: u32) -> u64 {
        let priority =
            u64::from(max_compute_units).saturating_mul(self.cap_micro_lamports) / 1_000_000;
        TRANSACTIONS_AHEAD
            .saturating_mul(SIGNATURE_FEE_LAMPORTS.saturating_add(priority))
            .saturating_add(POOL_SLOT_RENT_LAMPORTS)
            .saturating_add(DUE_PAGE_RENT_LAMPORTS)
            .saturating_add(HOT_KEY_MINIMUM_LAMPORTS)
    }

    /// The recent market rate (75th percentile of `recent`) within the floor
    /// and the cap, doubled for each earlier signature that expired, and
    /// doubled again in the last half of the time to the deadline and once
    /// more in its last quarter (`time_left_bps`): a late submit to a busy
    /// market is a node's main deadline risk.
    pub fn price(&self, recent: &[u64], resigns: u32, time_left_bps: u16) -> u64 {
        let mut sorted = recent.to_vec();
        sorted.sort_unstable();
        let market = sorted.get(sorted.len() * 3 / 4).copied().unwrap_or(0);
        let urgency = match time_left_bps {
            0..2_500 => 2,
            2_500..5_000 => 1,
            _ => 0,
        };
        let raised = market
            .max(self.floor_micro_lamports)
            .saturating_mul(1u64 << (resigns.min(16) + urgency));
        raised.min(self.cap_micro_lamports)
    }
}

/// Solana commitment level used for reads and confirmations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Commitment {
    Processed,
    #[default]
    Confirmed,
    Finalized,
}

/// Container limits applied to every job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeSettings {
    pub memory_mb: u64,
    pub cpus: f64,
    pub pids_limit: i64,
    /// /dev/shm size; GPU data loaders (PyTorch workers) need far more than Docker's 64 MiB.
    pub shm_size_mb: u64,
    pub allow_network: bool,
    /// json-file log cap in Docker's syntax, e.g. "10m".
    pub log_max_size: String,
    /// Seconds between SIGTERM and SIGKILL when a job hits its deadline.
    pub stop_grace_secs: u32,
    /// Size of the writable /tmp tmpfs.
    pub tmp_size_mb: u64,
    /// `uid:gid` the job runs as; never root (an image's USER is ignored).
    pub user: String,
    /// Open files per process in the container (at most the engine's own
    /// limit: `LimitNOFILE` of docker.service).
    pub nofile: u64,
    /// Unlimited locked memory for NCCL (multi-GPU) jobs; needs dockerd
    /// started with `LimitMEMLOCK=infinity`.
    pub memlock_unlimited: bool,
    /// The image of the short-lived container that deletes what a job left
    /// in its output directory (as the job's user: a daemon that is not
    /// root cannot delete a job's 0700 directories). It needs
    /// `/bin/busybox`; pulled like a job's image when absent.
    pub cleaner_image: String,
    /// The engine's pid file: its process's start time tells which runs an
    /// engine restart ended (rootless Docker keeps it under
    /// `$XDG_RUNTIME_DIR`).
    pub engine_pid_file: PathBuf,
}

impl Default for RuntimeSettings {
    fn default() -> Self {
        Self {
            memory_mb: 16 * 1024,
            cpus: 4.0,
            pids_limit: 4096,
            shm_size_mb: 1024,
            allow_network: false,
            log_max_size: "10m".to_string(),
            stop_grace_secs: 10,
            tmp_size_mb: 1024,
            user: "65534:65534".to_string(),
            nofile: 8_192,
            memlock_unlimited: false,
            cleaner_image: DEFAULT_CLEANER_IMAGE.to_string(),
            engine_pid_file: PathBuf::from("/var/run/docker.pid"),
        }
    }
}

/// Docker Hub's static busybox: only `/bin/busybox` is used.
pub const DEFAULT_CLEANER_IMAGE: &str = "busybox:1.37.0-musl";

fn default_metrics_addr() -> SocketAddr {
    DEFAULT_METRICS_ADDR
        .parse()
        .expect("constant is a valid address")
}

fn default_poll_interval_ms() -> u64 {
    500
}

fn default_uplink_mbit() -> u64 {
    100
}

fn default_max_output_bytes() -> u64 {
    10 * 1024 * 1024 * 1024
}

fn default_deadline_reserve_secs() -> u64 {
    ake_sdk::job_spec::NODE_DEADLINE_RESERVE_SECS
}

/// Jobs shorter than this get no live logs unless the operator says so.
pub const DEFAULT_LIVE_LOGS_MIN_SECS: u32 = 600;

fn default_live_logs_min_secs() -> u32 {
    DEFAULT_LIVE_LOGS_MIN_SECS
}

fn default_max_output_files() -> u64 {
    10_000
}

/// What `put_dir` appends to the store's base URI: `/jobs/<job>/<root hex>`.
const OUTPUT_URI_SUFFIX_LEN: usize = "/jobs/".len() + 44 + 1 + 64;

/// One invalid field: its dotted name and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub problem: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}", self.field, self.problem)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML for the node config: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("invalid node config:\n{}", format_field_errors(.0))]
    Invalid(Vec<FieldError>),
    #[error("cannot read the signer keypair file {path}: {source}")]
    KeyFileUnreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "signer keypair {path} is accessible by group/others (mode {mode:o}); \
         refusing to start. Fix it with: chmod 600 {path}"
    )]
    KeyFileTooOpen { path: PathBuf, mode: u32 },
}

fn format_field_errors(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("  - {e}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl NodeConfig {
    /// Reads, parses and validates a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let config = Self::parse(&text).map_err(|source| ConfigError::Parse {
            path: path.to_path_buf(),
            source,
        })?;
        config.validate()?;
        Ok(config)
    }

    pub fn parse(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }

    /// The slots to run: each `[[slots]]` entry, with its own work dir
    /// and journal beside the configured ones; or, without slots, the one
    /// node of `node_signer_keypair` on every GPU.
    pub fn slots(&self) -> Vec<Slot> {
        if self.slots.is_empty() {
            return vec![Slot {
                name: SINGLE_SLOT.into(),
                signer: self.node_signer_keypair.clone().unwrap_or_default(),
                node_account: self.node_account.clone(),
                gpus: None,
                cpuset: None,
                work_dir: self.work_dir.clone(),
                journal_path: self.journal_path.clone(),
            }];
        }
        let stem = self
            .journal_path
            .file_stem()
            .map_or("journal".into(), |s| s.to_string_lossy().into_owned());
        let ext = self
            .journal_path
            .extension()
            .map_or(String::new(), |e| format!(".{}", e.to_string_lossy()));
        self.slots
            .iter()
            .map(|slot| Slot {
                name: slot.name.clone(),
                signer: slot.node_signer_keypair.clone(),
                node_account: None,
                gpus: Some(slot.gpus.clone()),
                cpuset: slot.cpuset.clone(),
                work_dir: self.work_dir.join(&slot.name),
                journal_path: self
                    .journal_path
                    .with_file_name(format!("{stem}-{}{ext}", slot.name)),
            })
            .collect()
    }

    fn slot_errors(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut check = |ok: bool, field: &'static str, problem: String| {
            if !ok {
                errors.push(FieldError { field, problem });
            }
        };
        check(
            self.slots.is_empty() != self.node_signer_keypair.is_none(),
            "node_signer_keypair",
            "name either node_signer_keypair (one node on every GPU) or [[slots]] (one node per slot), not both and not neither".into(),
        );
        check(
            self.slots.is_empty() || self.node_account.is_none(),
            "node_account",
            "a host with [[slots]] derives each slot's node account from its key; remove node_account".into(),
        );
        check(
            self.slots.len() <= MAX_SLOTS,
            "slots",
            format!(
                "at most {MAX_SLOTS} slots per host, got {}",
                self.slots.len()
            ),
        );
        let mut names = std::collections::HashSet::new();
        let mut gpus = std::collections::HashSet::new();
        for slot in &self.slots {
            check(
                (1..=32).contains(&slot.name.len())
                    && slot
                        .name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                    && names.insert(slot.name.as_str()),
                "slots.name",
                format!(
                    "each slot needs its own name of 1-32 letters, digits, - or _; got {:?}",
                    slot.name
                ),
            );
            for gpu in &slot.gpus {
                check(
                    gpus.insert(gpu.as_str()),
                    "slots.gpus",
                    format!(
                        "GPU {gpu} is in two slots: each GPU or MIG instance belongs to one slot"
                    ),
                );
            }
            check(
                slot.cpuset
                    .as_deref()
                    .is_none_or(|c| parse_cpuset(c).is_some()),
                "slots.cpuset",
                format!(
                    "slot {} must name CPUs as Docker does (\"0-15,32-47\"), got {:?}",
                    slot.name, slot.cpuset
                ),
            );
        }
        errors
    }

    /// Checks every field and reports all problems at once.
    /// What the work dir keeps free before the node takes a job: one job's
    /// inputs and outputs at their caps.
    pub fn work_floor_bytes(&self) -> u64 {
        self.inputs
            .max_total_bytes
            .saturating_add(self.max_output_bytes)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut errors = Vec::new();
        let mut check = |ok: bool, field: &'static str, problem: String| {
            if !ok {
                errors.push(FieldError { field, problem });
            }
        };
        check(
            !self.rpc_urls.is_empty() && self.rpc_urls.iter().all(|u| is_http_url(u)),
            "rpc_urls",
            format!(
                "must list at least one http:// or https:// URL, got {:?}",
                self.rpc_urls
            ),
        );
        check(
            (1..=100_000).contains(&self.uplink_mbit),
            "uplink_mbit",
            format!(
                "must be in 1..=100000 (the upload speed to the output store, Mbit/s), got {}",
                self.uplink_mbit
            ),
        );
        check(
            self.commitment != Commitment::Processed,
            "commitment",
            "must be \"confirmed\" or \"finalized\": a processed transaction can still be rolled back, and the journal would record a result that never landed".into(),
        );
        check(
            self.node_account.as_deref().is_none_or(is_pubkey),
            "node_account",
            format!(
                "must be a base58 32-byte public key, got {:?}",
                self.node_account
            ),
        );
        check(
            self.metrics_addr.ip().is_loopback() || self.metrics_token_file.is_some(),
            "metrics_addr",
            format!(
                "{} is not a loopback address: set metrics_token_file so scrapes must authenticate, or use loopback (e.g. {DEFAULT_METRICS_ADDR})",
                self.metrics_addr
            ),
        );
        check(
            (100..=60_000).contains(&self.poll_interval_ms),
            "poll_interval_ms",
            format!("must be in 100..=60000, got {}", self.poll_interval_ms),
        );
        check(
            (1..=1 << 40).contains(&self.max_output_bytes),
            "max_output_bytes",
            format!(
                "must be in 1..=1099511627776 (1 TiB), got {}",
                self.max_output_bytes
            ),
        );
        check(
            self.output_store.starts_with("file:///") || self.output_store.starts_with("s3://"),
            "output_store",
            format!(
                "must start with file:/// or s3://, got {:?}",
                self.output_store
            ),
        );
        let base = self.output_store.split('?').next().unwrap_or("");
        let base_len = base.trim_end_matches('/').len();
        let max_base = ake_sdk::ake_market::constants::MAX_URI_LEN - OUTPUT_URI_SUFFIX_LEN;
        check(
            base_len <= max_base,
            "output_store",
            format!(
                "the base (without ?query) must be at most {max_base} characters so that \
                 `<base>/jobs/<job>/<root>` fits the on-chain URI limit; got {base_len}"
            ),
        );
        check(
            self.work_dir.is_absolute(),
            "work_dir",
            format!(
                "must be an absolute path (Docker bind-mounts it), got {}",
                self.work_dir.display()
            ),
        );
        check(
            self.journal_path.is_absolute(),
            "journal_path",
            format!(
                "must be an absolute path, got {}",
                self.journal_path.display()
            ),
        );
        check(
            u64::from(self.runtime.stop_grace_secs) < self.deadline_reserve_secs
                && self.deadline_reserve_secs <= 86_400,
            "deadline_reserve_secs",
            format!(
                "must be more than runtime.stop_grace_secs ({}) and at most 86400, got {}",
                self.runtime.stop_grace_secs, self.deadline_reserve_secs
            ),
        );
        check(
            self.hot_key_max_sol.is_finite() && self.hot_key_max_sol > 0.0,
            "hot_key_max_sol",
            format!(
                "must be a positive number of SOL (what the signer key may hold), got {}",
                self.hot_key_max_sol
            ),
        );
        check(
            self.priority_fee.floor_micro_lamports <= self.priority_fee.cap_micro_lamports,
            "priority_fee",
            format!(
                "floor_micro_lamports must not exceed cap_micro_lamports, got {:?}",
                self.priority_fee
            ),
        );
        check(
            (1..=10_000_000).contains(&self.max_output_files),
            "max_output_files",
            format!("must be in 1..=10000000, got {}", self.max_output_files),
        );
        check(
            self.image_allowlist.iter().all(|p| !p.trim().is_empty()),
            "image_allowlist",
            "entries must be non-empty image names or registry paths (use an empty list to allow all)".into(),
        );
        let i = &self.inputs;
        check(
            i.max_bytes >= 1
                && i.max_total_bytes >= 1
                && i.connect_timeout_secs >= 1
                && i.read_timeout_secs >= 1
                && i.total_timeout_secs >= i.read_timeout_secs,
            "inputs",
            format!(
                "max_bytes, max_total_bytes and the timeouts must be at least 1, total_timeout_secs at least \
                 read_timeout_secs; got {i:?}"
            ),
        );
        errors.extend(self.runtime.field_errors());
        errors.extend(self.slot_errors());
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(errors))
        }
    }

    /// True when `image` starts with one of the allowlisted prefixes (or the list is empty).
    pub fn image_allowed(&self, image: &str) -> bool {
        image_allowed(&self.image_allowlist, image)
    }
}

/// Most slots one ake-node runs (a 7-way MIG split of 8 GPUs is 56).
pub const MAX_SLOTS: usize = 64;

/// The CPU numbers of a cpuset (`0-3,8,10-11`), or None when malformed.
pub fn parse_cpuset(text: &str) -> Option<Vec<u32>> {
    let mut cpus = Vec::new();
    for part in text.split(',') {
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (a.trim().parse::<u32>().ok()?, b.trim().parse::<u32>().ok()?),
            None => {
                let cpu = part.trim().parse::<u32>().ok()?;
                (cpu, cpu)
            }
        };
        if first > last || last >= 4_096 {
            return None;
        }
        cpus.extend(first..=last);
    }
    Some(cpus)
}

/// An image is allowed when an entry names it or a path it lives under, on a
/// boundary: `ghcr.io/ake` admits `ghcr.io/ake/render:1` and `ghcr.io/ake:2`,
/// never `ghcr.io/ake-evil/miner`. An empty list allows all.
pub fn image_allowed(allowlist: &[String], image: &str) -> bool {
    allowlist.is_empty()
        || allowlist.iter().any(|entry| {
            let entry = entry.as_str();
            image.strip_prefix(entry).is_some_and(|rest| {
                rest.is_empty()
                    || entry.ends_with(['/', ':', '@'])
                    || rest.starts_with(['/', ':', '@'])
            })
        })
}

impl RuntimeSettings {
    fn field_errors(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut range = |ok: bool, field: &'static str, allowed: &str, got: String| {
            if !ok {
                errors.push(FieldError {
                    field,
                    problem: format!("must be in {allowed}, got {got}"),
                });
            }
        };
        range(
            (64..=4 * 1024 * 1024).contains(&self.memory_mb),
            "runtime.memory_mb",
            "64..=4194304",
            self.memory_mb.to_string(),
        );
        range(
            self.cpus.is_finite() && (0.1..=1024.0).contains(&self.cpus),
            "runtime.cpus",
            "0.1..=1024",
            self.cpus.to_string(),
        );
        range(
            (16..=1 << 22).contains(&self.pids_limit),
            "runtime.pids_limit",
            "16..=4194304",
            self.pids_limit.to_string(),
        );
        range(
            (1..=self.memory_mb.max(1)).contains(&self.shm_size_mb),
            "runtime.shm_size_mb",
            "1..=runtime.memory_mb",
            self.shm_size_mb.to_string(),
        );
        range(
            (1..=self.memory_mb.max(1)).contains(&self.tmp_size_mb),
            "runtime.tmp_size_mb",
            "1..=runtime.memory_mb",
            self.tmp_size_mb.to_string(),
        );
        range(
            (1..=3600).contains(&self.stop_grace_secs),
            "runtime.stop_grace_secs",
            "1..=3600",
            self.stop_grace_secs.to_string(),
        );
        range(
            is_unprivileged_user(&self.user),
            "runtime.user",
            "uid:gid with both numeric and not 0 (jobs never run as root)",
            format!("{:?}", self.user),
        );
        range(
            (64..=1 << 20).contains(&self.nofile),
            "runtime.nofile",
            "64..=1048576",
            self.nofile.to_string(),
        );
        range(
            ake_sdk::job_spec::parse_image_reference(&self.cleaner_image).is_ok(),
            "runtime.cleaner_image",
            "an image reference (repo:tag or repo@sha256:...)",
            format!("{:?}", self.cleaner_image),
        );
        range(
            parse_docker_size(&self.log_max_size).is_some_and(|b| (1024..=1 << 30).contains(&b)),
            "runtime.log_max_size",
            "1k..=1g (Docker size syntax: digits with k, m or g)",
            format!("{:?}", self.log_max_size),
        );
        errors
    }
}

/// Parses Docker's json-file size syntax ("512k", "10m", "1g", "4096") into bytes.
pub fn parse_docker_size(text: &str) -> Option<u64> {
    let text = text.trim().to_ascii_lowercase();
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text.as_str(), ""),
    };
    let multiplier = match unit {
        "" | "b" => 1,
        "k" | "kb" => 1 << 10,
        "m" | "mb" => 1 << 20,
        "g" | "gb" => 1 << 30,
        _ => return None,
    };
    digits.parse::<u64>().ok()?.checked_mul(multiplier)
}

fn is_unprivileged_user(text: &str) -> bool {
    text.split_once(':').is_some_and(|(uid, gid)| {
        [uid, gid]
            .iter()
            .all(|n| n.parse::<u32>().is_ok_and(|id| id != 0))
    })
}

fn is_http_url(text: &str) -> bool {
    url::Url::parse(text).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
}

fn is_pubkey(text: &str) -> bool {
    bs58::decode(text)
        .into_vec()
        .is_ok_and(|bytes| bytes.len() == 32)
}

/// Refuses a signer key file that group or others can access: a leaked node key lets anyone
/// submit results (and slashable misbehaviour) in the operator's name.
pub fn check_key_file_permissions(path: &Path) -> Result<(), ConfigError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|source| ConfigError::KeyFileUnreadable {
        path: path.to_path_buf(),
        source,
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(ConfigError::KeyFileTooOpen {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const VALID: &str = r#"
        rpc_urls = ["https://api.devnet.solana.com", "http://127.0.0.1:8899"]
        commitment = "finalized"
        node_signer_keypair = "/etc/ake/node.json"
        node_account = "11111111111111111111111111111111"
        market = 3
        work_dir = "/var/lib/ake/work"
        journal_path = "/var/lib/ake/journal.redb"
        image_allowlist = ["ghcr.io/ake/"]
        max_output_bytes = 1048576
        output_store = "s3://bucket/prefix?region=us-east-1"
        nvml_lib_path = "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1"

        [runtime]
        memory_mb = 2048
        cpus = 1.5
        pids_limit = 512
        shm_size_mb = 256
        allow_network = true
        log_max_size = "5m"
    "#;

    fn valid() -> NodeConfig {
        NodeConfig::parse(VALID).unwrap()
    }

    fn invalid_fields(config: &NodeConfig) -> Vec<&'static str> {
        match config.validate() {
            Err(ConfigError::Invalid(errors)) => errors.iter().map(|e| e.field).collect(),
            other => panic!("expected field errors, got {other:?}"),
        }
    }

    #[test]
    fn full_config_parses_and_validates() {
        let config = valid();
        config.validate().unwrap();
        assert_eq!(config.commitment, Commitment::Finalized);
        assert_eq!(config.market, 3);
        assert_eq!(config.runtime.cpus, 1.5);
        assert!(config.runtime.allow_network);
        assert_eq!(
            config.runtime.stop_grace_secs, 10,
            "defaulted inside [runtime]"
        );
        assert_eq!(config.metrics_addr, default_metrics_addr());
    }

    #[test]
    fn defaults_apply_when_optional_keys_are_missing() {
        let config = NodeConfig::parse(
            r#"
            rpc_urls = ["http://127.0.0.1:8899"]
            node_signer_keypair = "k.json"
            market = 0
            work_dir = "/w"
            journal_path = "/j"
            output_store = "file:///tmp/out"
            "#,
        )
        .unwrap();
        config.validate().unwrap();
        assert_eq!(config.runtime, RuntimeSettings::default());
        assert_eq!(config.runtime.shm_size_mb, 1024);
        assert!(!config.runtime.allow_network);
        assert_eq!(config.commitment, Commitment::Confirmed);
        assert!(config.image_allowlist.is_empty());
        assert!(
            config.appeal_lost_audits,
            "a lost audit is appealed by default"
        );
    }

    #[test]
    fn an_operator_can_turn_appeals_off() {
        let config = NodeConfig::parse(&format!("appeal_lost_audits = false\n{VALID}")).unwrap();
        config.validate().unwrap();
        assert!(!config.appeal_lost_audits);
    }

    const SLOTS: &str = r#"
        [[slots]]
        name = "gpu0"
        node_signer_keypair = "/k/gpu0.json"
        gpus = ["GPU-0"]

        [[slots]]
        name = "gpu1"
        node_signer_keypair = "/k/gpu1.json"
        gpus = ["GPU-1"]
        cpuset = "8-15"
    "#;

    /// VALID split into two slots (no top-level key or node account).
    fn two_slots() -> NodeConfig {
        let text = VALID
            .replace("node_signer_keypair = \"/etc/ake/node.json\"", "")
            .replace("node_account = \"11111111111111111111111111111111\"", "");
        NodeConfig::parse(&format!("{text}{SLOTS}")).unwrap()
    }

    #[test]
    fn slots_get_their_own_key_gpus_work_dir_and_journal() {
        let config = two_slots();
        config.validate().unwrap();
        let slots = config.slots();
        assert_eq!(slots.len(), 2);
        assert_eq!(slots[1].name, "gpu1");
        assert_eq!(slots[1].signer, PathBuf::from("/k/gpu1.json"));
        assert_eq!(slots[1].gpus, Some(vec!["GPU-1".to_string()]));
        assert_eq!(slots[1].cpuset.as_deref(), Some("8-15"));
        assert_eq!(slots[1].work_dir, PathBuf::from("/var/lib/ake/work/gpu1"));
        assert_eq!(
            slots[1].journal_path,
            PathBuf::from("/var/lib/ake/journal-gpu1.redb")
        );
        // Without slots: one node on every GPU, at the configured paths.
        let single = valid().slots();
        assert_eq!(single.len(), 1);
        assert_eq!(single[0].gpus, None);
        assert_eq!(single[0].journal_path, valid().journal_path);
    }

    #[test]
    fn each_slot_mistake_is_named() {
        let mut both = two_slots();
        both.node_signer_keypair = Some("/k/node.json".into());
        both.node_account = Some("11111111111111111111111111111111".into());
        assert_eq!(
            invalid_fields(&both),
            ["node_signer_keypair", "node_account"]
        );
        let mut neither = two_slots();
        neither.slots.clear();
        assert_eq!(invalid_fields(&neither), ["node_signer_keypair"]);
        let mut shared = two_slots();
        shared.slots[1].gpus = vec!["GPU-0".into()];
        shared.slots[1].name = "gpu0".into();
        shared.slots[0].cpuset = Some("3-1".into());
        assert_eq!(
            invalid_fields(&shared),
            ["slots.cpuset", "slots.name", "slots.gpus"]
        );
        assert_eq!(parse_cpuset("0-2,5"), Some(vec![0, 1, 2, 5]));
        assert_eq!(parse_cpuset("a"), None);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let text = format!("{VALID}\nshm_size = 4\n");
        let err = NodeConfig::parse(&text).unwrap_err().to_string();
        assert!(err.contains("unknown field"), "{err}");
        let text = VALID.replace("[runtime]", "[runtime]\nprivileged = true");
        let err = NodeConfig::parse(&text).unwrap_err().to_string();
        assert!(err.contains("privileged"), "{err}");
    }

    #[test]
    fn each_bad_field_is_named_with_its_range() {
        let mut config = valid();
        config.rpc_urls = vec!["ftp://x".into()];
        config.uplink_mbit = 0;
        config.commitment = Commitment::Processed;
        config.node_account = Some("not-a-key".into());
        config.metrics_addr = "0.0.0.0:9464".parse().unwrap();
        config.max_output_bytes = 0;
        config.output_store = "gs://bucket".into();
        config.runtime.memory_mb = 8;
        config.runtime.cpus = 0.0;
        config.runtime.pids_limit = 1;
        config.runtime.log_max_size = "10x".into();
        assert_eq!(
            invalid_fields(&config),
            vec![
                "rpc_urls",
                "uplink_mbit",
                "commitment",
                "node_account",
                "metrics_addr",
                "max_output_bytes",
                "output_store",
                "runtime.memory_mb",
                "runtime.cpus",
                "runtime.pids_limit",
                "runtime.shm_size_mb",
                "runtime.tmp_size_mb",
                "runtime.log_max_size",
            ]
        );
        let text = config.validate().unwrap_err().to_string();
        assert!(text.contains("`runtime.memory_mb`: must be in 64..=4194304, got 8"));
        assert!(text.contains("`runtime.cpus`: must be in 0.1..=1024, got 0"));
    }

    #[test]
    fn empty_rpc_list_is_rejected() {
        let mut config = valid();
        config.rpc_urls.clear();
        assert_eq!(invalid_fields(&config), vec!["rpc_urls"]);
    }

    #[test]
    fn priority_fee_follows_the_market_within_bounds_and_rises_on_expiry() {
        let policy = PriorityFeePolicy {
            floor_micro_lamports: 1_000,
            cap_micro_lamports: 50_000,
        };
        let early = 10_000;
        assert_eq!(policy.price(&[], 0, early), 1_000, "no market: the floor");
        assert_eq!(
            policy.price(&[0, 5_000, 7_000, 9_000], 0, early),
            9_000,
            "75th percentile"
        );
        assert_eq!(
            policy.price(&[0, 5_000, 7_000, 9_000], 1, early),
            18_000,
            "doubled after an expiry"
        );
        assert_eq!(
            policy.price(&[5_000], 0, 4_999),
            10_000,
            "last half: doubled"
        );
        assert_eq!(policy.price(&[5_000], 0, 2_499), 20_000, "last quarter: 4x");
        assert_eq!(
            policy.price(&[9_000], 5, early),
            50_000,
            "never past the cap"
        );
        assert_eq!(policy.price(&[u64::MAX], 40, 0), 50_000);
    }

    #[test]
    fn docker_sizes_parse() {
        assert_eq!(parse_docker_size("10m"), Some(10 << 20));
        assert_eq!(parse_docker_size("512k"), Some(512 << 10));
        assert_eq!(parse_docker_size("1G"), Some(1 << 30));
        assert_eq!(parse_docker_size("4096"), Some(4096));
        assert_eq!(parse_docker_size("m"), None);
        assert_eq!(parse_docker_size("10t"), None);
    }

    #[test]
    fn image_allowlist_matches_on_name_boundaries() {
        let config = valid();
        assert!(config.image_allowed("ghcr.io/ake/trainer:1"));
        assert!(!config.image_allowed("docker.io/evil/miner"));
        assert!(image_allowed(&[], "anything"));
        let list = vec!["ghcr.io/ake".to_string(), "busybox".to_string()];
        assert!(image_allowed(&list, "ghcr.io/ake/render:1"));
        assert!(image_allowed(&list, "ghcr.io/ake:2"));
        assert!(image_allowed(&list, "busybox@sha256:00"));
        assert!(image_allowed(&list, "busybox"));
        assert!(!image_allowed(&list, "ghcr.io/ake-evil/miner"));
        assert!(!image_allowed(&list, "busyboxer:1"));
    }

    #[test]
    fn relative_dirs_long_store_uris_and_root_users_are_refused() {
        let mut config = valid();
        config.work_dir = "work".into();
        config.journal_path = "journal.redb".into();
        config.output_store = format!("file:///{}", "d".repeat(90));
        config.runtime.user = "0:0".into();
        assert_eq!(
            invalid_fields(&config),
            vec!["output_store", "work_dir", "journal_path", "runtime.user"]
        );
        config.runtime.user = "root".into();
        assert!(config.validate().is_err());
    }

    #[test]
    fn key_file_open_to_others_is_refused_with_fix() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("node.json");
        std::fs::write(&key, "[1,2,3]").unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = check_key_file_permissions(&key).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::KeyFileTooOpen { mode: 0o644, .. }
        ));
        assert!(err
            .to_string()
            .contains(&format!("chmod 600 {}", key.display())));

        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(check_key_file_permissions(&key).is_err(), "group-readable");

        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        check_key_file_permissions(&key).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o400)).unwrap();
        check_key_file_permissions(&key).unwrap();
    }

    #[test]
    fn missing_key_file_is_reported() {
        let err = check_key_file_permissions(Path::new("/nonexistent/ake/key.json")).unwrap_err();
        assert!(matches!(err, ConfigError::KeyFileUnreadable { .. }));
        assert!(err.to_string().contains("/nonexistent/ake/key.json"));
    }

    #[test]
    fn load_reports_path_on_parse_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(&path, "market = \"x\"").unwrap();
        let err = NodeConfig::load(&path).unwrap_err();
        assert!(matches!(err, ConfigError::Parse { .. }));
        assert!(err.to_string().contains("node.toml"));
        std::fs::write(&path, VALID).unwrap();
        assert_eq!(NodeConfig::load(&path).unwrap(), valid());
    }
}
