//! Runs AKE jobs in hardened Docker containers through bollard.
//!
//! A job's container has a deterministic name (`ake-job-<job id>`) and labels, so a restarted
//! daemon reattaches to the container it already created instead of running the job twice.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::errors::Error as DockerError;
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerStateStatusEnum, ContainerSummary,
    DeviceRequest, HostConfig, HostConfigLogConfig, ImageInspect, Mount, MountType,
    NetworkCreateRequest, ResourcesUlimits,
};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, KillContainerOptions, ListContainersOptions,
    LogsOptions, RemoveContainerOptions, StopContainerOptions, WaitContainerOptions,
};
use bollard::Docker;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use ake_sdk::job_spec::{env_name, refused_env_name, refused_image_env};

use crate::config::{image_allowed, RuntimeSettings};

/// Label holding the AKE job id; the daemon finds its containers by it.
pub const JOB_LABEL: &str = "ake.job";
/// Label holding the hex spec hash the container was created for.
pub const SPEC_HASH_LABEL: &str = "ake.spec_hash";
/// Where the verified inputs appear inside the container (read-only).
pub const INPUT_MOUNT: &str = "/ake/input";
/// Where the job writes its results (writable bind mount).
pub const OUTPUT_MOUNT: &str = "/ake/output";

/// What to run for one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSpec {
    pub job_id: String,
    /// Image reference, optionally pinned: `repo:tag@sha256:<hex>`.
    pub image: String,
    /// Hex hash of the on-chain job spec.
    pub spec_hash: String,
    /// Command; empty uses the image's default.
    pub command: Vec<String>,
    /// Extra environment as `KEY=value`.
    pub env: Vec<String>,
    /// GPU UUIDs assigned to this job; empty runs without GPUs.
    pub gpu_uuids: Vec<String>,
    /// No network whatever the node allows: an audited (`verify = "exact"`)
    /// job must give the same outputs on every node, and a network answers
    /// differently from one run to the next.
    pub offline: bool,
    /// The CPUs the job may run on (Docker's cpuset syntax): its slot's,
    /// near its GPUs; None leaves the scheduler free.
    pub cpuset: Option<String>,
    /// NVIDIA driver capabilities the GPU runtime mounts (`compute`,
    /// `utility`, ...): the market's, never the job's or the image's.
    pub driver_capabilities: Vec<String>,
    /// Directory whose content the caller already checked against the spec's input hashes.
    pub input_dir: Option<PathBuf>,
    /// Per-job directory on the host; receives `output/`, `stdout.log`, `stderr.log`.
    pub work_dir: PathBuf,
    /// Wall-clock budget from container start.
    pub timeout: Duration,
    /// The latest the container may run, whatever `timeout` says (the
    /// chain's deadline less what committing the result needs).
    pub stop_by: Option<std::time::Instant>,
    /// The latest the image may still be being pulled.
    pub prepare_by: Option<std::time::Instant>,
    /// The container was started before (the caller's journal says so): if
    /// it is gone, someone removed it mid-run, and it is not created again.
    pub started_before: bool,
    /// The run is stopped when /ake/output holds more bytes or files than this.
    pub max_output_bytes: u64,
    pub max_output_files: u64,
}

impl JobSpec {
    pub fn container_name(&self) -> String {
        container_name(&self.job_id)
    }

    pub fn output_dir(&self) -> PathBuf {
        self.work_dir.join("output")
    }
}

/// Deterministic container name of a job.
pub fn container_name(job_id: &str) -> String {
    format!("ake-job-{job_id}")
}

/// How a job's container ended. A non-zero exit or an OOM kill is a normal outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobOutcome {
    pub container_id: String,
    /// `sha256:<hex>` digest of the image that ran.
    pub image_digest: String,
    pub exit_code: i64,
    pub oom_killed: bool,
    pub timed_out: bool,
    /// Stopped because /ake/output grew past the job's byte or file limit.
    #[serde(default)]
    pub output_limit: bool,
    /// Killed by a Docker engine restart or a host reboot, not by the job:
    /// the run did not really happen and may be run again.
    #[serde(default)]
    pub interrupted: bool,
    /// RFC 3339 timestamps reported by Docker.
    pub started_at: String,
    pub finished_at: String,
    pub wall_secs: f64,
    pub stdout_path: PathBuf,
    pub stdout_sha256: String,
    pub stderr_path: PathBuf,
    pub stderr_sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(
        "Docker engine error while {context}: {source}; the job state is unknown, retry once \
         dockerd is healthy (check `systemctl status docker` and access to /var/run/docker.sock)"
    )]
    Docker {
        context: String,
        source: DockerError,
    },
    #[error(
        "image {image} is not allowed by image_allowlist; add a matching prefix to \
         image_allowlist in the node config to accept it"
    )]
    ImageNotAllowed { image: String },
    #[error("image {image} is still being pulled as the time to start the job runs out")]
    PullTimeout { image: String },
    #[error("image {image} is not present locally and could not be pulled: {source}")]
    ImagePull { image: String, source: DockerError },
    #[error(
        "image {image} has digests {found:?} but the job spec pins {expected}; refusing to run a \
         different image"
    )]
    DigestMismatch {
        image: String,
        expected: String,
        found: Vec<String>,
    },
    #[error(
        "container {name} already exists for spec hash {found:?}, not {expected}; if that job \
         is abandoned remove it with `docker rm -f {name}`"
    )]
    ContainerConflict {
        name: String,
        expected: String,
        found: Option<String>,
    },
    #[error(
        "image {image} sets {name} in its config, which the GPU runtime's host-side hooks would \
         act on (code to load, a path into the container, a GPU selection); the job is handed \
         back inside the free window, and the creator must rebuild the image without it"
    )]
    ImageConfigRefused { image: String, name: String },
    #[error(
        "the container {name} of a run that had started is gone (removed under it): its \
         outputs are partial; the job runs again from an empty directory"
    )]
    ContainerVanished { name: String },
    #[error("invalid job spec: {0}")]
    InvalidSpec(String),
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl RuntimeError {
    /// True when the job's fate is unknown (engine, registry or disk trouble) rather than
    /// decided: the caller must retry, never report the job as failed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Docker { .. }
                | Self::ImagePull { .. }
                | Self::PullTimeout { .. }
                | Self::Io { .. }
        )
    }
}

fn docker_err(context: impl Into<String>) -> impl FnOnce(DockerError) -> RuntimeError {
    let context = context.into();
    move |source| RuntimeError::Docker { context, source }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> RuntimeError + '_ {
    move |source| RuntimeError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn is_status(err: &DockerError, code: u16) -> bool {
    matches!(err, DockerError::DockerResponseServerError { status_code, .. } if *status_code == code)
}

/// A local image, identified by its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedImage {
    /// Local image id (`sha256:<hex>`): the container is created from this id, so exactly the
    /// checked image runs even if the tag moves meanwhile.
    pub id: String,
    /// The pinned digest when the spec had one, else the image id.
    pub digest: String,
    /// Paths the image declares as VOLUMEs: Docker would back each with an
    /// unmeasured anonymous volume on the host disk, so each gets a tmpfs.
    pub volumes: Vec<String>,
}

/// Splits `name@sha256:hex` into the name to look up locally and the pinned digest.
fn split_pinned_digest(image: &str) -> Result<(&str, Option<&str>), RuntimeError> {
    let reference =
        ake_sdk::job_spec::parse_image_reference(image).map_err(RuntimeError::InvalidSpec)?;
    Ok((reference.name, reference.digest))
}

/// Builds the HostConfig of a job: hardened defaults, limits, mounts and GPUs.
pub fn host_config(spec: &JobSpec, settings: &RuntimeSettings) -> HostConfig {
    let memory = (settings.memory_mb * 1024 * 1024) as i64;
    let mut mounts = vec![bind_mount(&spec.output_dir(), OUTPUT_MOUNT, false)];
    if let Some(input) = &spec.input_dir {
        mounts.push(bind_mount(input, INPUT_MOUNT, true));
    }
    HostConfig {
        cap_drop: Some(vec!["ALL".into()]),
        security_opt: Some(vec!["no-new-privileges".into()]),
        privileged: Some(false),
        pids_limit: Some(settings.pids_limit),
        memory: Some(memory),
        // Equal to memory: no swap, so the limit is real and OOM is detected.
        memory_swap: Some(memory),
        nano_cpus: Some((settings.cpus * 1e9) as i64),
        cpuset_cpus: spec.cpuset.clone(),
        shm_size: Some((settings.shm_size_mb * 1024 * 1024) as i64),
        readonly_rootfs: Some(true),
        tmpfs: Some(HashMap::from([(
            "/tmp".to_string(),
            format!("rw,nosuid,nodev,size={}m", settings.tmp_size_mb),
        )])),
        network_mode: Some(
            if networked(spec, settings) {
                JOB_NETWORK
            } else {
                "none"
            }
            .into(),
        ),
        // tini as PID 1 reaps what the job forks and forwards SIGTERM.
        init: Some(true),
        ipc_mode: Some("private".into()),
        ulimits: Some(job_ulimits(settings)),
        log_config: Some(HostConfigLogConfig {
            typ: Some("json-file".into()),
            config: Some(HashMap::from([
                ("max-size".to_string(), settings.log_max_size.clone()),
                ("max-file".to_string(), "1".to_string()),
            ])),
        }),
        mounts: Some(mounts),
        device_requests: gpu_device_requests(spec),
        // The caller removes the container after the outputs are committed.
        auto_remove: Some(false),
        ..Default::default()
    }
}

/// Whether the job joins the jobs' network: the node allows it, and the
/// job is not one that must run offline.
fn networked(spec: &JobSpec, settings: &RuntimeSettings) -> bool {
    settings.allow_network && !spec.offline
}

/// The bridge jobs with `allow_network` join: no traffic between containers.
pub const JOB_NETWORK: &str = "ake-jobs";

/// Lowering a limit always works; raising one past the engine's own hard
/// limit fails every start, so only `memlock` (NCCL pins host memory; the
/// cgroup memory limit still holds) is raised, and only when configured.
fn job_ulimits(settings: &RuntimeSettings) -> Vec<ResourcesUlimits> {
    let mut limits = vec![ulimit("nofile", settings.nofile as i64), ulimit("core", 0)];
    if settings.memlock_unlimited {
        limits.push(ulimit("memlock", -1));
    }
    limits
}

fn ulimit(name: &str, value: i64) -> ResourcesUlimits {
    ResourcesUlimits {
        name: Some(name.into()),
        soft: Some(value),
        hard: Some(value),
    }
}

fn bind_mount(source: &Path, target: &str, read_only: bool) -> Mount {
    Mount {
        typ: Some(MountType::BIND),
        source: Some(source.to_string_lossy().into_owned()),
        target: Some(target.into()),
        read_only: Some(read_only),
        ..Default::default()
    }
}

/// One NVIDIA device request naming exactly the assigned GPUs and the
/// market's driver capabilities (Docker passes them to the toolkit as
/// NVIDIA_DRIVER_CAPABILITIES), or none without GPUs.
fn gpu_device_requests(spec: &JobSpec) -> Option<Vec<DeviceRequest>> {
    if spec.gpu_uuids.is_empty() {
        return None;
    }
    let capabilities = std::iter::once("gpu".to_string())
        .chain(spec.driver_capabilities.iter().cloned())
        .collect();
    Some(vec![DeviceRequest {
        driver: Some("nvidia".into()),
        device_ids: Some(spec.gpu_uuids.to_vec()),
        capabilities: Some(vec![capabilities]),
        ..Default::default()
    }])
}

/// Toolkit switches an image's ENV could turn on, each set to its off
/// value by the node (a container's variables override its image's):
/// MIG management devices, IMEX channels, and the GPUDirect, MOFED and
/// NVSwitch mounts.
const NVIDIA_SWITCHES_OFF: [(&str, &str); 7] = [
    ("NVIDIA_MIG_CONFIG_DEVICES", "void"),
    ("NVIDIA_MIG_MONITOR_DEVICES", "void"),
    ("NVIDIA_IMEX_CHANNELS", "void"),
    ("NVIDIA_GDS", "disabled"),
    ("NVIDIA_MOFED", "disabled"),
    ("NVIDIA_NVSWITCH", "disabled"),
    ("NVIDIA_GDRCOPY", "disabled"),
];

/// The NVIDIA_* variables the node sets on every job: which GPUs, which
/// driver capabilities, and every other switch off.
fn nvidia_env(spec: &JobSpec) -> Vec<String> {
    let devices = if spec.gpu_uuids.is_empty() {
        "void".to_string()
    } else {
        spec.gpu_uuids.join(",")
    };
    let mut env = vec![
        format!("NVIDIA_VISIBLE_DEVICES={devices}"),
        format!(
            "NVIDIA_DRIVER_CAPABILITIES={}",
            spec.driver_capabilities.join(",")
        ),
    ];
    env.extend(NVIDIA_SWITCHES_OFF.iter().map(|(k, v)| format!("{k}={v}")));
    env
}

/// Builds the full create body for a job's container.
pub fn container_config(
    spec: &JobSpec,
    image_id: &str,
    settings: &RuntimeSettings,
) -> ContainerCreateBody {
    // The GPU runtime reads NVIDIA_* variables and its hooks run on the
    // host with this environment: only the node sets those (`validate_spec`
    // refused a job that tried), so a job gets exactly the GPUs and driver
    // capabilities it pays for (none on a CPU job).
    let mut env: Vec<String> = spec
        .env
        .iter()
        .filter(|e| refused_env_name(env_name(e)).is_none())
        .cloned()
        .collect();
    env.extend(nvidia_env(spec));
    env.push(format!("AKE_JOB_ID={}", spec.job_id));
    env.push(format!("AKE_INPUT_DIR={INPUT_MOUNT}"));
    env.push(format!("AKE_OUTPUT_DIR={OUTPUT_MOUNT}"));
    ContainerCreateBody {
        image: Some(image_id.into()),
        cmd: (!spec.command.is_empty()).then(|| spec.command.clone()),
        env: Some(env),
        user: Some(settings.user.clone()),
        labels: Some(HashMap::from([
            (JOB_LABEL.to_string(), spec.job_id.clone()),
            (SPEC_HASH_LABEL.to_string(), spec.spec_hash.clone()),
        ])),
        network_disabled: Some(!networked(spec, settings)),
        tty: Some(false),
        host_config: Some(host_config(spec, settings)),
        ..Default::default()
    }
}

fn validate_spec(spec: &JobSpec) -> Result<(), RuntimeError> {
    let id_ok = !spec.job_id.is_empty()
        && spec.job_id.len() <= 128
        && spec
            .job_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !id_ok {
        return Err(RuntimeError::InvalidSpec(format!(
            "job id {:?} must be 1..=128 characters of [A-Za-z0-9_-]",
            spec.job_id
        )));
    }
    if !spec.work_dir.is_absolute() || spec.input_dir.as_ref().is_some_and(|p| !p.is_absolute()) {
        return Err(RuntimeError::InvalidSpec(
            "work_dir and input_dir must be absolute paths (Docker bind mounts need them)".into(),
        ));
    }
    if spec.timeout.is_zero() {
        return Err(RuntimeError::InvalidSpec("timeout must be positive".into()));
    }
    if let Some((name, why)) = spec
        .env
        .iter()
        .map(|e| env_name(e))
        .find_map(|name| refused_env_name(name).map(|why| (name, why)))
    {
        return Err(RuntimeError::InvalidSpec(format!("env {name}: {why}")));
    }
    Ok(())
}

/// What is left of `budget`, never past the spec's `stop_by`.
fn stop_budget(spec: &JobSpec, budget: Duration) -> Duration {
    spec.stop_by.map_or(budget, |by| {
        budget.min(by.saturating_duration_since(std::time::Instant::now()))
    })
}

/// Why a supervised container stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    Exited,
    TimedOut,
    OutputLimit,
}

#[derive(Debug, Clone, Copy)]
struct OutputLimits {
    bytes: u64,
    files: u64,
}

/// Resolves when `dir` holds more than the limits allow, checked every
/// second: the host disk is bounded while the job runs, not after.
async fn watch_outputs(dir: PathBuf, limits: OutputLimits) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let dir = dir.clone();
        let over = tokio::task::spawn_blocking(move || over_limits(&dir, limits))
            .await
            .unwrap_or(false);
        if over {
            tracing::warn!(?limits, "the job's outputs passed the limit");
            return;
        }
    }
}

/// Walks `dir` (links not followed) and stops as soon as a limit is passed.
/// Bytes are what the disk holds (allocated blocks, so `fallocate` counts),
/// entries are files and directories (inodes); a directory the node cannot
/// read cannot be measured, so it counts as over.
fn over_limits(dir: &Path, limits: OutputLimits) -> bool {
    use std::os::unix::fs::MetadataExt;
    let (mut bytes, mut entries_seen) = (0u64, 0u64);
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => return true,
            Err(_) => continue,
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            if meta.is_dir() {
                pending.push(entry.path());
            } else {
                bytes = bytes.saturating_add(meta.len().max(meta.blocks().saturating_mul(512)));
            }
            entries_seen += 1;
            if bytes > limits.bytes || entries_seen > limits.files {
                return true;
            }
        }
    }
    false
}

/// Where a job's container stands when we find or create it.
struct JobContainer {
    id: String,
    status: ContainerStateStatusEnum,
    started_at: Option<String>,
}

/// Docker-backed job runner.
#[derive(Debug, Clone)]
pub struct DockerRuntime {
    docker: Docker,
    settings: RuntimeSettings,
    image_allowlist: Vec<String>,
}

impl DockerRuntime {
    /// Connects to the local engine (DOCKER_HOST or the default socket) and negotiates the API
    /// version, so older engines are spoken to in their own version.
    pub async fn connect(
        mut settings: RuntimeSettings,
        image_allowlist: Vec<String>,
    ) -> Result<Self, RuntimeError> {
        let docker = Docker::connect_with_local_defaults()
            .map_err(docker_err("connecting to the local socket"))?
            .negotiate_version()
            .await
            .map_err(docker_err("negotiating the API version"))?;
        let info = docker
            .info()
            .await
            .map_err(docker_err("reading engine info"))?;
        // Docker rejects a CPU limit above the host's CPU count, which would fail every job.
        if let Some(host_cpus) = info.ncpu.filter(|&n| n > 0 && settings.cpus > n as f64) {
            tracing::warn!(
                configured = settings.cpus,
                host_cpus,
                "runtime.cpus exceeds the host's CPUs; limiting jobs to {host_cpus}"
            );
            settings.cpus = host_cpus as f64;
        }
        Ok(Self {
            docker,
            settings,
            image_allowlist,
        })
    }

    /// The underlying bollard client (for tooling and tests).
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    pub fn settings(&self) -> &RuntimeSettings {
        &self.settings
    }

    /// Runs a job to completion, or reattaches to its existing container. Never starts a job's
    /// container twice: a container that already exited is only reported.
    pub async fn run(&self, spec: &JobSpec) -> Result<JobOutcome, RuntimeError> {
        self.run_with(spec, |_| async {}).await
    }

    /// As [`run`](Self::run), calling `on_running(container id)` once the container runs
    /// (started now, or found running after a restart) so the caller can journal it.
    pub async fn run_with<F, Fut>(
        &self,
        spec: &JobSpec,
        on_running: F,
    ) -> Result<JobOutcome, RuntimeError>
    where
        F: FnOnce(String) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        validate_spec(spec)?;
        let name = spec.container_name();
        let existing = self.inspect_job_container(&name).await?;
        // Created again, it would run the job a second time over the first
        // run's partial outputs: said first, before anything that may fail.
        if spec.started_before && existing.is_none() {
            return Err(RuntimeError::ContainerVanished { name });
        }
        // A run that started before an allowlist change goes on: the node
        // took the job under the old list, and refusing now would retry
        // the step until the deadline.
        if !image_allowed(&self.image_allowlist, &spec.image) && !spec.started_before {
            return Err(RuntimeError::ImageNotAllowed {
                image: spec.image.clone(),
            });
        }
        let image = match spec.prepare_by {
            Some(by) => tokio::time::timeout_at(by.into(), self.resolve_image(&spec.image))
                .await
                .map_err(|_| RuntimeError::PullTimeout {
                    image: spec.image.clone(),
                })??,
            None => self.resolve_image(&spec.image).await?,
        };
        prepare_work_dir(spec).await?;
        if networked(spec, &self.settings) {
            self.ensure_job_network().await?;
        }
        let container = self.create_or_reattach(spec, &image, existing).await?;
        let mut started_here = None;
        let ended = match container.status {
            ContainerStateStatusEnum::CREATED => {
                self.start(&container.id).await?;
                let started = std::time::Instant::now();
                on_running(container.id.clone()).await;
                let budget = stop_budget(spec, spec.timeout);
                let ended = self.supervise(&container.id, spec, budget).await?;
                started_here = Some(started.elapsed());
                ended
            }
            ContainerStateStatusEnum::RUNNING
            | ContainerStateStatusEnum::PAUSED
            | ContainerStateStatusEnum::RESTARTING => {
                on_running(container.id.clone()).await;
                let elapsed = container
                    .started_at
                    .as_deref()
                    .and_then(elapsed_since)
                    .unwrap_or_default();
                let budget = stop_budget(spec, spec.timeout.saturating_sub(elapsed));
                self.supervise(&container.id, spec, budget).await?
            }
            _ => Ended::Exited,
        };
        let mut outcome = self
            .collect_outcome(spec, &container.id, &image, ended)
            .await?;
        // Docker's timestamps have a coarse clock and can say 0 for a run
        // that happened; our own monotonic measure is the floor.
        if let Some(measured) = started_here {
            outcome.wall_secs = outcome.wall_secs.max(measured.as_secs_f64());
        }
        Ok(outcome)
    }

    /// The bridge for jobs with network access, created once: no
    /// inter-container traffic, so one job cannot reach another.
    async fn ensure_job_network(&self) -> Result<(), RuntimeError> {
        if self.docker.inspect_network(JOB_NETWORK, None).await.is_ok() {
            return Ok(());
        }
        let request = NetworkCreateRequest {
            name: JOB_NETWORK.into(),
            driver: Some("bridge".into()),
            options: Some(HashMap::from([(
                "com.docker.network.bridge.enable_icc".to_string(),
                "false".to_string(),
            )])),
            labels: Some(HashMap::from([(
                JOB_LABEL.to_string(),
                "network".to_string(),
            )])),
            ..Default::default()
        };
        match self.docker.create_network(request).await {
            Ok(_) => Ok(()),
            // Created meanwhile by a concurrent run.
            Err(e) if is_status(&e, 409) => Ok(()),
            Err(e) => Err(docker_err(format!("creating network {JOB_NETWORK}"))(e)),
        }
    }

    /// Finds the image locally (pulling it if absent) and checks its pinned digest.
    pub async fn resolve_image(&self, image: &str) -> Result<ResolvedImage, RuntimeError> {
        let (name, pinned) = split_pinned_digest(image)?;
        // A tagged name can be looked up locally; a bare `repo@digest` only by full reference.
        let has_tag = name
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains(':'));
        let lookup = if has_tag { name } else { image };
        let inspect = match self.docker.inspect_image(lookup).await {
            Ok(found) => found,
            Err(e) if is_status(&e, 404) => {
                self.pull(image).await?;
                self.docker
                    .inspect_image(image)
                    .await
                    .map_err(docker_err(format!("inspecting pulled image {image}")))?
            }
            Err(e) => return Err(docker_err(format!("inspecting image {lookup}"))(e)),
        };
        // A local tag may name another image than the pin (an older one):
        // the pinned image, found or pulled by its digest, is what runs.
        let inspect = match pinned {
            Some(expected) if !image_digests(&inspect).iter().any(|d| d == expected) => self
                .inspect_pinned(name, expected)
                .await?
                .unwrap_or(inspect),
            _ => inspect,
        };
        let id = inspect.id.clone().unwrap_or_default();
        let found = image_digests(&inspect);
        let config = inspect.config.unwrap_or_default();
        if let Some(name) = refused_image_env(config.env.as_deref().unwrap_or_default()) {
            return Err(RuntimeError::ImageConfigRefused {
                image: image.into(),
                name: name.into(),
            });
        }
        let volumes = config.volumes.unwrap_or_default();
        // The toolkit can select GPUs by mounts under this folder (when
        // `accept-nvidia-visible-devices-as-volume-mounts` is on), and the
        // node mounts a tmpfs at every path an image declares as a VOLUME.
        if let Some(path) = volumes.iter().find(|v| {
            let v = v.trim_start_matches("/var");
            v.starts_with("/run/nvidia-container-devices")
        }) {
            return Err(RuntimeError::ImageConfigRefused {
                image: image.into(),
                name: format!("VOLUME {path}"),
            });
        }
        match pinned {
            Some(expected) if !found.iter().any(|d| d == expected) => {
                Err(RuntimeError::DigestMismatch {
                    image: image.into(),
                    expected: expected.into(),
                    found,
                })
            }
            Some(expected) => Ok(ResolvedImage {
                id,
                digest: expected.into(),
                volumes,
            }),
            None => Ok(ResolvedImage {
                digest: id.clone(),
                id,
                volumes,
            }),
        }
    }

    /// The image pinned by `digest` (an image ID, or a repository digest of
    /// `name`'s repository), here or pulled by digest; None when neither.
    /// Only an image of the spec's own repository counts: found by ID, any
    /// local image would do, one the allowlist (checked on the name) never
    /// saw. A failed pull is said as such (retried while there is time).
    async fn inspect_pinned(
        &self,
        name: &str,
        digest: &str,
    ) -> Result<Option<ImageInspect>, RuntimeError> {
        let repository = match name.rsplit_once(':') {
            Some((repository, tag)) if !tag.contains('/') => repository,
            _ => name,
        };
        let ours = |image: &ImageInspect| {
            image
                .repo_tags
                .iter()
                .chain(&image.repo_digests)
                .flatten()
                .any(|n| {
                    let named = n.split_once('@').or_else(|| n.rsplit_once(':'));
                    named.is_some_and(|(r, _)| r == repository)
                })
        };
        if let Ok(found) = self.docker.inspect_image(digest).await {
            if ours(&found) {
                return Ok(Some(found));
            }
        }
        let by_digest = format!("{repository}@{digest}");
        if let Ok(found) = self.docker.inspect_image(&by_digest).await {
            return Ok(Some(found));
        }
        self.pull(&by_digest).await?;
        Ok(self.docker.inspect_image(&by_digest).await.ok())
    }

    async fn pull(&self, image: &str) -> Result<(), RuntimeError> {
        let options = CreateImageOptions {
            from_image: Some(image.into()),
            ..Default::default()
        };
        let mut progress = self.docker.create_image(Some(options), None, None);
        while let Some(step) = progress.next().await {
            step.map_err(|source| RuntimeError::ImagePull {
                image: image.into(),
                source,
            })?;
        }
        Ok(())
    }

    async fn inspect_job_container(
        &self,
        name: &str,
    ) -> Result<Option<ContainerInspectResponse>, RuntimeError> {
        match self.docker.inspect_container(name, None).await {
            Ok(found) => Ok(Some(found)),
            Err(e) if is_status(&e, 404) => Ok(None),
            Err(e) => Err(docker_err(format!("inspecting container {name}"))(e)),
        }
    }

    /// Creates the job's container, or adopts the one a previous run (or a concurrent call)
    /// already created under the same deterministic name.
    async fn create_or_reattach(
        &self,
        spec: &JobSpec,
        image: &ResolvedImage,
        existing: Option<ContainerInspectResponse>,
    ) -> Result<JobContainer, RuntimeError> {
        let name = spec.container_name();
        if let Some(existing) = existing {
            return adopt(spec, existing);
        }
        let options = CreateContainerOptions {
            name: Some(name.clone()),
            ..Default::default()
        };
        let mut body = container_config(spec, &image.id, &self.settings);
        if let Some(tmpfs) = body.host_config.as_mut().and_then(|h| h.tmpfs.as_mut()) {
            for path in &image.volumes {
                let options = format!("rw,nosuid,nodev,size={}m", self.settings.tmp_size_mb);
                tmpfs.insert(path.clone(), options);
            }
        }
        match self.docker.create_container(Some(options), body).await {
            Ok(created) => Ok(JobContainer {
                id: created.id,
                status: ContainerStateStatusEnum::CREATED,
                started_at: None,
            }),
            // Lost a creation race: the other creator's container is the job's container.
            Err(e) if is_status(&e, 409) => self.adopt_after_conflict(spec, &name, e).await,
            Err(e) => Err(docker_err(format!("creating container {name}"))(e)),
        }
    }

    /// Docker reserves the name before the racing container is inspectable; poll briefly.
    async fn adopt_after_conflict(
        &self,
        spec: &JobSpec,
        name: &str,
        conflict: DockerError,
    ) -> Result<JobContainer, RuntimeError> {
        for _ in 0..50 {
            if let Some(existing) = self.inspect_job_container(name).await? {
                return adopt(spec, existing);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(docker_err(format!("creating container {name}"))(conflict))
    }

    async fn start(&self, id: &str) -> Result<(), RuntimeError> {
        // Docker answers 304 (treated as success) when a concurrent caller started it first.
        self.docker
            .start_container(id, None)
            .await
            .map_err(docker_err(format!("starting container {id}")))
    }

    /// Waits for exit; stops the container (grace, then kill) when the
    /// deadline comes or its outputs grow past the limits.
    async fn supervise(
        &self,
        id: &str,
        spec: &JobSpec,
        budget: Duration,
    ) -> Result<Ended, RuntimeError> {
        let limits = OutputLimits {
            bytes: spec.max_output_bytes,
            files: spec.max_output_files,
        };
        let ended = tokio::select! {
            exited = self.wait_exit(id) => return exited.map(|()| Ended::Exited),
            _ = tokio::time::sleep(budget) => Ended::TimedOut,
            _ = watch_outputs(spec.output_dir(), limits) => Ended::OutputLimit,
        };
        tracing::info!(container = id, ?ended, "stopping the job's container");
        if ended == Ended::OutputLimit {
            // No grace: every second it keeps writing to the host disk.
            self.kill(id).await?;
        } else {
            self.stop_then_kill(id).await?;
        }
        // A process stuck in the kernel must not wedge the daemon.
        tokio::time::timeout(Duration::from_secs(60), self.wait_exit(id))
            .await
            .map_err(|_| RuntimeError::Docker {
                context: format!("waiting for container {id} to die after the kill"),
                source: DockerError::DockerStreamError {
                    error: "still running 60 s after SIGKILL".into(),
                },
            })??;
        Ok(ended)
    }

    async fn is_running(&self, id: &str) -> Result<bool, RuntimeError> {
        let inspect = self
            .docker
            .inspect_container(id, None)
            .await
            .map_err(docker_err(format!("inspecting container {id}")))?;
        Ok(inspect.state.and_then(|s| s.running).unwrap_or(false))
    }

    async fn stop_then_kill(&self, id: &str) -> Result<(), RuntimeError> {
        let grace = StopContainerOptions {
            t: Some(self.settings.stop_grace_secs as i32),
            ..Default::default()
        };
        if let Err(e) = self.docker.stop_container(id, Some(grace)).await {
            tracing::warn!(container = id, error = %e, "graceful stop failed, killing");
        }
        if self.is_running(id).await? {
            self.kill(id).await?;
        }
        Ok(())
    }

    /// SIGKILL now.
    async fn kill(&self, id: &str) -> Result<(), RuntimeError> {
        match self
            .docker
            .kill_container(id, Some(KillContainerOptions::default()))
            .await
        {
            Ok(()) => Ok(()),
            // 409: it is not running (any more).
            Err(e) if is_status(&e, 409) => Ok(()),
            Err(e) => Err(docker_err(format!("killing container {id}"))(e)),
        }
    }

    /// Resolves when the container is not running. A non-zero exit code arrives from bollard
    /// as `DockerContainerWaitError`: that is a normal completion, not a failure.
    async fn wait_exit(&self, id: &str) -> Result<(), RuntimeError> {
        let options = WaitContainerOptions {
            condition: "not-running".into(),
        };
        let mut waits = self.docker.wait_container(id, Some(options));
        match waits.next().await {
            Some(Ok(_)) | Some(Err(DockerError::DockerContainerWaitError { .. })) => Ok(()),
            Some(Err(e)) => Err(docker_err(format!("waiting for container {id}"))(e)),
            None => Err(RuntimeError::Docker {
                context: format!("waiting for container {id}"),
                source: DockerError::DockerStreamError {
                    error: "wait stream ended without a status".into(),
                },
            }),
        }
    }

    async fn collect_outcome(
        &self,
        spec: &JobSpec,
        id: &str,
        image: &ResolvedImage,
        ended: Ended,
    ) -> Result<JobOutcome, RuntimeError> {
        let inspect = self
            .docker
            .inspect_container(id, None)
            .await
            .map_err(docker_err(format!("inspecting finished container {id}")))?;
        let state = inspect.state.unwrap_or_default();
        let started_at = state.started_at.unwrap_or_default();
        let finished_at = state.finished_at.unwrap_or_default();
        let wall_secs = wall_seconds(&started_at, &finished_at);
        let exit_code = state.exit_code.unwrap_or(-1);
        let oom_killed = state.oom_killed.unwrap_or(false);
        let timed_out = ended == Ended::TimedOut || wall_secs >= spec.timeout.as_secs_f64();
        let interrupted = ended == Ended::Exited
            && !timed_out
            && !oom_killed
            && ended_by_restart(
                &started_at,
                &finished_at,
                engine_started_at(&self.settings.engine_pid_file),
            );
        let logs = self.capture_logs(id, &spec.work_dir).await?;
        Ok(JobOutcome {
            container_id: id.into(),
            image_digest: image.digest.clone(),
            exit_code,
            oom_killed,
            // After a daemon restart the timer flag is lost; the run length still tells.
            timed_out,
            output_limit: ended == Ended::OutputLimit,
            interrupted,
            started_at,
            finished_at,
            wall_secs,
            stdout_path: logs.stdout.path,
            stdout_sha256: logs.stdout.sha256,
            stderr_path: logs.stderr.path,
            stderr_sha256: logs.stderr.sha256,
        })
    }

    /// What a job's container printed so far: stdout and stderr, each its
    /// first `cap` bytes (the live logs a creator follows while it runs).
    pub async fn logs_so_far(
        &self,
        job_id: &str,
        cap: usize,
    ) -> Result<(Vec<u8>, Vec<u8>), RuntimeError> {
        let name = container_name(job_id);
        let options = LogsOptions {
            stdout: true,
            stderr: true,
            follow: false,
            ..Default::default()
        };
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        let mut frames = self.docker.logs(&name, Some(options));
        while let Some(frame) = frames.next().await {
            let (into, message) =
                match frame.map_err(docker_err(format!("reading logs of {name}")))? {
                    bollard::container::LogOutput::StdErr { message } => (&mut stderr, message),
                    bollard::container::LogOutput::StdOut { message }
                    | bollard::container::LogOutput::Console { message } => (&mut stdout, message),
                    bollard::container::LogOutput::StdIn { .. } => continue,
                };
            let room = cap.saturating_sub(into.len());
            into.extend_from_slice(&message[..message.len().min(room)]);
            if stdout.len() >= cap && stderr.len() >= cap {
                break;
            }
        }
        Ok((stdout, stderr))
    }

    /// Writes the container's stdout/stderr byte streams to `stdout.log` / `stderr.log`.
    async fn capture_logs(&self, id: &str, work_dir: &Path) -> Result<CapturedLogs, RuntimeError> {
        let mut stdout = HashedFile::create(work_dir.join("stdout.log")).await?;
        let mut stderr = HashedFile::create(work_dir.join("stderr.log")).await?;
        let options = LogsOptions {
            stdout: true,
            stderr: true,
            follow: false,
            ..Default::default()
        };
        let mut frames = self.docker.logs(id, Some(options));
        while let Some(frame) = frames.next().await {
            match frame.map_err(docker_err(format!("reading logs of {id}")))? {
                bollard::container::LogOutput::StdErr { message } => stderr.write(&message).await?,
                bollard::container::LogOutput::StdOut { message }
                | bollard::container::LogOutput::Console { message } => {
                    stdout.write(&message).await?
                }
                bollard::container::LogOutput::StdIn { .. } => {}
            }
        }
        Ok(CapturedLogs {
            stdout: stdout.finish().await?,
            stderr: stderr.finish().await?,
        })
    }

    /// Removes a job's container (after its outputs are committed). Missing is fine.
    pub async fn remove(&self, job_id: &str) -> Result<(), RuntimeError> {
        self.remove_named(&container_name(job_id)).await
    }

    /// Deletes a job's work directory (what the daemon created, and the
    /// job's outputs as [`remove_outputs`](Self::remove_outputs) does).
    pub async fn remove_work_dir(&self, work_dir: &Path) -> Result<(), RuntimeError> {
        self.remove_outputs(&work_dir.join("output")).await?;
        remove_tree(work_dir).await.map_err(io_err(work_dir))
    }

    /// Deletes a job's output directory. The job ran as `runtime.user` and
    /// may have left entries only that user can delete (a 0700 directory, a
    /// 000 file). When the daemon cannot, the directory moves at once to
    /// `<work_dir>/.trash` (out of the attempt's way: a rerun starts from an
    /// empty directory, the attempt can end); the trash is emptied as the
    /// job's user by [`empty_trash`](Self::empty_trash). Missing is fine.
    pub async fn remove_outputs(&self, output: &Path) -> Result<(), RuntimeError> {
        match remove_tree(output).await {
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {}
            done => return done.map_err(io_err(output)),
        }
        let attempt = output.parent().unwrap_or(output);
        let trash = trash_dir(attempt.parent().unwrap_or(attempt));
        tokio::fs::create_dir_all(&trash)
            .await
            .map_err(io_err(&trash))?;
        let stamp = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
        let name = attempt.file_name().unwrap_or_default().to_string_lossy();
        let entry = trash.join(format!("{name}-{stamp}"));
        tokio::fs::rename(output, &entry)
            .await
            .map_err(io_err(output))
        // Emptied by the daemon's housekeeping, off the job's path.
    }

    /// Deletes every entry of a trash directory through the cleaner.
    pub async fn empty_trash(&self, trash: &Path) -> Result<(), RuntimeError> {
        let mut entries = match tokio::fs::read_dir(trash).await {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            listed => listed.map_err(io_err(trash))?,
        };
        while let Some(entry) = entries.next_entry().await.map_err(io_err(trash))? {
            let file_name = entry.file_name().to_string_lossy().into_owned();
            if file_name.starts_with(STUCK) {
                continue;
            }
            let dir = entry.path();
            tracing::info!(dir = %dir.display(), "deleting a job's files as the job's user");
            let name = format!("ake-clean-{file_name}");
            if let Err(e) = self.run_cleaner(&name, &dir).await {
                // Not tried again (a cleaner a minute, forever): the
                // operator deletes it, and the disk check says if it matters.
                let stuck = trash.join(format!("{STUCK}{file_name}"));
                tokio::fs::rename(&dir, &stuck)
                    .await
                    .map_err(io_err(&dir))?;
                tracing::error!(
                    "{e}; left in {} for the operator (`sudo rm -rf {}`)",
                    stuck.display(),
                    stuck.display()
                );
                continue;
            }
            remove_tree(&dir).await.map_err(io_err(&dir))?;
        }
        Ok(())
    }

    /// Why the cleaner could not run: its image is neither here nor
    /// pullable within five minutes. Checked only for a daemon that is not
    /// root (root deletes a job's files itself).
    pub async fn cleaner_problem(&self) -> Option<String> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            return None;
        }
        let image = &self.settings.cleaner_image;
        if self.docker.inspect_image(image).await.is_ok() {
            return None;
        }
        let pulled = tokio::time::timeout(Duration::from_secs(300), self.pull(image)).await;
        match pulled {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(format!(
                "the cleaner image {image} is not here and cannot be pulled ({e}): pull it or set runtime.cleaner_image to a local image with /bin/busybox"
            )),
            Err(_) => Some(format!(
                "the cleaner image {image} is not here and did not pull within 5 minutes: pull it or set runtime.cleaner_image"
            )),
        }
    }

    /// Runs the cleaner over `dir` and waits for it (at most two minutes).
    async fn run_cleaner(&self, name: &str, dir: &Path) -> Result<(), RuntimeError> {
        // The readiness gate pulls it (a pull here would hold up the job).
        let image = &self.settings.cleaner_image;
        // A cleaner left by a crash is replaced, never reused.
        self.remove_named(name).await?;
        let body = ContainerCreateBody {
            image: Some(image.clone()),
            cmd: Some(vec![
                "/bin/busybox".into(),
                "sh".into(),
                "-c".into(),
                CLEANER_SCRIPT.into(),
            ]),
            entrypoint: Some(vec![]),
            user: Some(self.settings.user.clone()),
            network_disabled: Some(true),
            host_config: Some(HostConfig {
                cap_drop: Some(vec!["ALL".into()]),
                security_opt: Some(vec!["no-new-privileges".into()]),
                readonly_rootfs: Some(true),
                network_mode: Some("none".into()),
                pids_limit: Some(16),
                memory: Some(128 << 20),
                mounts: Some(vec![bind_mount(dir, "/w", false)]),
                auto_remove: Some(false),
                ..Default::default()
            }),
            ..Default::default()
        };
        let options = CreateContainerOptions {
            name: Some(name.into()),
            ..Default::default()
        };
        let created = self
            .docker
            .create_container(Some(options), body)
            .await
            .map_err(docker_err(format!("creating cleaner {name}")))?;
        let ran = async {
            self.start(&created.id).await?;
            tokio::time::timeout(Duration::from_secs(120), self.wait_exit(&created.id))
                .await
                .map_err(|_| RuntimeError::Docker {
                    context: format!("waiting for cleaner {name}"),
                    source: DockerError::DockerStreamError {
                        error: "still deleting after 120 s".into(),
                    },
                })??;
            let code = self
                .docker
                .inspect_container(&created.id, None)
                .await
                .map_err(docker_err(format!("inspecting cleaner {name}")))?
                .state
                .and_then(|s| s.exit_code);
            if code == Some(0) {
                return Ok(());
            }
            Err(RuntimeError::Io {
                path: dir.to_path_buf(),
                source: std::io::Error::other(format!(
                    "the cleaner could not delete everything (exit {code:?}; a tree deeper than PATH_MAX?): delete it as root with `rm -rf {}`",
                    dir.display()
                )),
            })
        }
        .await;
        self.remove_named(name).await?;
        ran
    }

    /// Removes the container called `name` whatever its state; missing is fine.
    async fn remove_named(&self, name: &str) -> Result<(), RuntimeError> {
        let options = RemoveContainerOptions {
            force: true,
            v: true,
            ..Default::default()
        };
        match self.docker.remove_container(name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if is_status(&e, 404) => Ok(()),
            Err(e) => Err(docker_err(format!("removing container {name}"))(e)),
        }
    }

    /// Containers (any state) carrying the AKE job label, optionally for one job only.
    pub async fn job_containers(
        &self,
        job_id: Option<&str>,
    ) -> Result<Vec<ContainerSummary>, RuntimeError> {
        let label = match job_id {
            Some(id) => format!("{JOB_LABEL}={id}"),
            None => JOB_LABEL.to_string(),
        };
        let options = ListContainersOptions {
            all: true,
            filters: Some(HashMap::from([("label".to_string(), vec![label])])),
            ..Default::default()
        };
        self.docker
            .list_containers(Some(options))
            .await
            .map_err(docker_err("listing job containers"))
    }
}

/// Accepts an existing container only if it was created for the same spec.
fn adopt(spec: &JobSpec, existing: ContainerInspectResponse) -> Result<JobContainer, RuntimeError> {
    let found = existing
        .config
        .and_then(|c| c.labels)
        .and_then(|mut l| l.remove(SPEC_HASH_LABEL));
    if found.as_deref() != Some(spec.spec_hash.as_str()) {
        return Err(RuntimeError::ContainerConflict {
            name: spec.container_name(),
            expected: spec.spec_hash.clone(),
            found,
        });
    }
    let state = existing.state.unwrap_or_default();
    tracing::info!(job = %spec.job_id, status = ?state.status, "reattaching to existing container");
    Ok(JobContainer {
        id: existing.id.unwrap_or_else(|| spec.container_name()),
        status: state.status.unwrap_or(ContainerStateStatusEnum::EMPTY),
        started_at: state.started_at,
    })
}

/// Every digest an image answers to: its repository digests and its ID.
fn image_digests(inspect: &ImageInspect) -> Vec<String> {
    let mut found: Vec<String> = inspect
        .repo_digests
        .iter()
        .flatten()
        .filter_map(|d| d.split_once('@').map(|(_, digest)| digest.to_string()))
        .collect();
    found.extend(inspect.id.clone());
    found
}

/// What the cleaner runs over the output directory mounted at /w: every
/// entry made its owner's to enter, then everything deleted, dot files too.
/// (The entries are listed by find, in batches that fit the argument
/// limit: busybox's chmod stops at /w itself, which is not theirs.) It
/// fails unless /w ends empty.
const CLEANER_SCRIPT: &str = "B=/bin/busybox; $B find /w -mindepth 1 -maxdepth 1 -exec $B chmod -R u+rwx {} + 2>/dev/null; $B find /w -mindepth 1 -maxdepth 1 -exec $B rm -rf {} +; [ -z \"$($B ls -A /w)\" ]";

/// The prefix of a trash entry the cleaner could not empty.
pub const STUCK: &str = "stuck-";

/// Where a job's outputs wait for the cleaner: beside the attempts, in the
/// work dir the daemon owns.
pub fn trash_dir(work_dir: &Path) -> PathBuf {
    work_dir.join(".trash")
}

/// `remove_dir_all`, with a missing directory already done.
async fn remove_tree(dir: &Path) -> std::io::Result<()> {
    match tokio::fs::remove_dir_all(dir).await {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        done => done,
    }
}

/// Creates the work dir (owner-only) and the output dir the container writes to.
async fn prepare_work_dir(spec: &JobSpec) -> Result<(), RuntimeError> {
    use std::os::unix::fs::PermissionsExt;
    let output = spec.output_dir();
    tokio::fs::create_dir_all(&output)
        .await
        .map_err(io_err(&output))?;
    tokio::fs::set_permissions(&spec.work_dir, std::fs::Permissions::from_mode(0o700))
        .await
        .map_err(io_err(&spec.work_dir))?;
    // The image may run as any uid and has no CAP_DAC_OVERRIDE, so the output dir must be
    // world-writable; the 0700 parent keeps other host users out.
    tokio::fs::set_permissions(&output, std::fs::Permissions::from_mode(0o777))
        .await
        .map_err(io_err(&output))
}

/// How long before the running engine started a container may have
/// finished and still count as stopped by the restart: the engine stops its
/// containers as it goes down (15 s each by default) and a host takes
/// minutes to reboot. A job that ended by itself in that window while no
/// daemon watched is run again: time lost, never stake.
const RESTART_WINDOW: Duration = Duration::from_secs(15 * 60);
/// How long after starting an engine marks the containers it found dead.
const RESTORE_GRACE: Duration = Duration::from_secs(30);

/// Whether the engine, not the job, ended this run, read from the engine's
/// own record (exit codes are the job's to choose: one that traps SIGTERM
/// exits 0): the container started before the running engine and finished
/// as that engine's predecessor went down or as it came up. With
/// live-restore a container outlives the restart and finishes later: that
/// is its own exit, whatever the code.
fn ended_by_restart(
    started_at: &str,
    finished_at: &str,
    engine_started: Option<time::OffsetDateTime>,
) -> bool {
    let (Some(started), Some(finished), Some(engine)) = (
        parse_docker_time(started_at),
        parse_docker_time(finished_at),
        engine_started,
    ) else {
        return false;
    };
    started < engine && finished >= engine - RESTART_WINDOW && finished <= engine + RESTORE_GRACE
}

/// When the running Docker engine started (from its pid file and /proc),
/// or failing that when the host booted; None when /proc says neither.
pub fn engine_started_at(pid_file: &Path) -> Option<time::OffsetDateTime> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let btime: i64 = stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    let boot = time::OffsetDateTime::from_unix_timestamp(btime).ok()?;
    let engine = || {
        let pid = std::fs::read_to_string(pid_file).ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).ok()?;
        // Field 22 (starttime, clock ticks after boot); fields 3.. follow the ")".
        let ticks: u64 = stat
            .rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(19)?
            .parse()
            .ok()?;
        // SAFETY: sysconf has no preconditions.
        let hz = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) })
            .ok()?
            .max(1);
        Some(boot + Duration::from_millis(ticks.saturating_mul(1000) / hz))
    };
    Some(engine().unwrap_or(boot))
}

fn parse_docker_time(text: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
}

fn elapsed_since(started_at: &str) -> Option<Duration> {
    let started = parse_docker_time(started_at)?;
    let elapsed = time::OffsetDateTime::now_utc() - started;
    elapsed.try_into().ok()
}

/// Seconds between Docker's start and finish timestamps; 0 when either is unknown.
fn wall_seconds(started_at: &str, finished_at: &str) -> f64 {
    match (
        parse_docker_time(started_at),
        parse_docker_time(finished_at),
    ) {
        (Some(start), Some(end)) if end > start => (end - start).as_seconds_f64(),
        _ => 0.0,
    }
}

struct CapturedLogs {
    stdout: CapturedFile,
    stderr: CapturedFile,
}

struct CapturedFile {
    path: PathBuf,
    sha256: String,
}

/// A file written and hashed in one pass.
struct HashedFile {
    path: PathBuf,
    file: tokio::io::BufWriter<tokio::fs::File>,
    hasher: Sha256,
}

impl HashedFile {
    async fn create(path: PathBuf) -> Result<Self, RuntimeError> {
        let file = tokio::fs::File::create(&path)
            .await
            .map_err(io_err(&path))?;
        Ok(Self {
            path,
            file: tokio::io::BufWriter::new(file),
            hasher: Sha256::new(),
        })
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), RuntimeError> {
        self.hasher.update(bytes);
        self.file.write_all(bytes).await.map_err(io_err(&self.path))
    }

    async fn finish(mut self) -> Result<CapturedFile, RuntimeError> {
        self.file.flush().await.map_err(io_err(&self.path))?;
        self.file
            .get_ref()
            .sync_all()
            .await
            .map_err(io_err(&self.path))?;
        Ok(CapturedFile {
            path: self.path,
            sha256: hex::encode(self.hasher.finalize()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(gpus: &[&str]) -> JobSpec {
        JobSpec {
            job_id: "42".into(),
            image: "busybox:latest".into(),
            spec_hash: "ab".repeat(32),
            command: vec!["/bin/true".into()],
            env: vec!["A=1".into()],
            gpu_uuids: gpus.iter().map(|s| s.to_string()).collect(),
            cpuset: None,
            offline: false,
            driver_capabilities: vec!["compute".into(), "utility".into()],
            input_dir: Some("/data/in".into()),
            work_dir: "/data/work/42".into(),
            timeout: Duration::from_secs(60),
            stop_by: None,
            prepare_by: None,
            started_before: false,
            max_output_bytes: 1 << 20,
            max_output_files: 100,
        }
    }

    #[test]
    fn one_gpu_becomes_one_nvidia_device_request() {
        let uuid = "GPU-5f9c0e8a-1b2c-3d4e-5f60-718293a4b5c6";
        let host = host_config(&spec(&[uuid]), &RuntimeSettings::default());
        assert_eq!(
            host.device_requests,
            Some(vec![DeviceRequest {
                driver: Some("nvidia".into()),
                count: None,
                device_ids: Some(vec![uuid.into()]),
                capabilities: Some(vec![vec!["gpu".into(), "compute".into(), "utility".into()]]),
                options: None,
            }])
        );
    }

    #[test]
    fn no_gpu_means_no_device_request() {
        let host = host_config(&spec(&[]), &RuntimeSettings::default());
        assert_eq!(host.device_requests, None);
    }

    #[test]
    fn host_config_is_hardened_by_default() {
        let settings = RuntimeSettings::default();
        let host = host_config(&spec(&[]), &settings);
        assert_eq!(host.cap_drop, Some(vec!["ALL".to_string()]));
        assert_eq!(
            host.security_opt,
            Some(vec!["no-new-privileges".to_string()])
        );
        assert_eq!(host.readonly_rootfs, Some(true));
        assert_eq!(host.network_mode.as_deref(), Some("none"));
        assert_eq!(host.memory, host.memory_swap);
        assert_eq!(host.memory, Some(16 * 1024 * 1024 * 1024));
        assert_eq!(host.nano_cpus, Some(4_000_000_000));
        assert_eq!(host.shm_size, Some(1024 * 1024 * 1024));
        assert_eq!(host.pids_limit, Some(4096));
        assert_eq!(host.auto_remove, Some(false));
        assert_eq!(host.init, Some(true));
        assert_eq!(host.ipc_mode.as_deref(), Some("private"));
        let ulimits = host.ulimits.clone().unwrap();
        let core = ulimits.iter().find(|u| u.name.as_deref() == Some("core"));
        assert_eq!(core.and_then(|u| u.hard), Some(0));
        assert!(host.tmpfs.unwrap()["/tmp"].contains("size=1024m"));
        let log = host.log_config.unwrap();
        assert_eq!(log.typ.as_deref(), Some("json-file"));
        assert_eq!(log.config.unwrap()["max-size"], "10m");
        let mounts = host.mounts.unwrap();
        assert_eq!(mounts[0].target.as_deref(), Some(OUTPUT_MOUNT));
        assert_eq!(mounts[0].source.as_deref(), Some("/data/work/42/output"));
        assert_eq!(mounts[0].read_only, Some(false));
        assert_eq!(mounts[1].target.as_deref(), Some(INPUT_MOUNT));
        assert_eq!(mounts[1].read_only, Some(true));
    }

    #[test]
    fn egress_is_opt_in() {
        let settings = RuntimeSettings {
            allow_network: true,
            ..Default::default()
        };
        let body = container_config(&spec(&[]), "sha256:x", &settings);
        assert_eq!(body.network_disabled, Some(false));
        assert_eq!(
            body.host_config.unwrap().network_mode.as_deref(),
            Some(JOB_NETWORK)
        );

        // An audited job runs offline on a node that allows egress.
        let audited = JobSpec {
            offline: true,
            ..spec(&[])
        };
        let body = container_config(&audited, "sha256:x", &settings);
        assert_eq!(body.network_disabled, Some(true));
        assert_eq!(
            body.host_config.unwrap().network_mode.as_deref(),
            Some("none")
        );
    }

    #[test]
    fn jobs_run_unprivileged_and_never_choose_their_gpus() {
        let mut s = spec(&[]);
        s.env = vec![
            "NVIDIA_VISIBLE_DEVICES=all".into(),
            "NVIDIA_DRIVER_CAPABILITIES=all".into(),
            "AKE_OUTPUT_DIR=/etc".into(),
            "SCENE=x".into(),
        ];
        let body = container_config(&s, "sha256:x", &RuntimeSettings::default());
        assert_eq!(body.user.as_deref(), Some("65534:65534"));
        let env = body.env.unwrap();
        assert!(
            env.contains(&"NVIDIA_VISIBLE_DEVICES=void".into()),
            "{env:?}"
        );
        assert!(env.contains(&"NVIDIA_DRIVER_CAPABILITIES=compute,utility".into()));
        assert!(env.contains(&"NVIDIA_MIG_CONFIG_DEVICES=void".into()));
        assert!(env.contains(&"SCENE=x".into()));
        // Only the node's own NVIDIA_* values, each once.
        assert_eq!(
            env.iter().filter(|e| e.starts_with("NVIDIA_")).count(),
            2 + NVIDIA_SWITCHES_OFF.len()
        );
        assert!(!env.contains(&"NVIDIA_VISIBLE_DEVICES=all".into()));
        assert!(!env.contains(&"AKE_OUTPUT_DIR=/etc".into()));
        let gpu = container_config(&spec(&["GPU-1", "GPU-2"]), "x", &Default::default());
        assert!(gpu
            .env
            .unwrap()
            .contains(&"NVIDIA_VISIBLE_DEVICES=GPU-1,GPU-2".into()));
    }

    #[test]
    fn container_is_labelled_and_named_by_job() {
        let s = spec(&[]);
        let body = container_config(&s, "sha256:abc", &RuntimeSettings::default());
        let labels = body.labels.unwrap();
        assert_eq!(labels[JOB_LABEL], "42");
        assert_eq!(labels[SPEC_HASH_LABEL], s.spec_hash);
        assert_eq!(body.image.as_deref(), Some("sha256:abc"));
        assert_eq!(s.container_name(), "ake-job-42");
        assert!(body
            .env
            .unwrap()
            .contains(&"AKE_OUTPUT_DIR=/ake/output".into()));
    }

    #[test]
    fn pinned_digest_is_split_and_checked() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let image = format!("repo/x:1@{digest}");
        assert_eq!(
            split_pinned_digest(&image).unwrap(),
            ("repo/x:1", Some(digest.as_str()))
        );
        assert_eq!(split_pinned_digest("repo/x:1").unwrap(), ("repo/x:1", None));
        assert!(split_pinned_digest("repo/x@sha256:short").is_err());
        assert!(split_pinned_digest("repo/x@md5:abc").is_err());
    }

    #[test]
    fn bad_job_ids_and_relative_paths_are_rejected() {
        let mut s = spec(&[]);
        s.job_id = "../etc".into();
        assert!(matches!(
            validate_spec(&s),
            Err(RuntimeError::InvalidSpec(_))
        ));
        let mut s = spec(&[]);
        s.work_dir = "relative".into();
        assert!(validate_spec(&s).is_err());
        validate_spec(&spec(&[])).unwrap();
    }

    #[test]
    fn preallocated_space_counts_toward_the_output_limit() {
        use std::os::unix::io::AsRawFd;
        let dir = tempfile::tempdir().unwrap();
        let file = std::fs::File::create(dir.path().join("hidden")).unwrap();
        // FALLOC_FL_KEEP_SIZE: 4 MiB on disk, a size of 0.
        // SAFETY: a valid descriptor, in-range arguments.
        let r = unsafe { libc::fallocate(file.as_raw_fd(), 1, 0, 4 << 20) };
        if r != 0 {
            eprintln!("fallocate unsupported here; nothing to check");
            return;
        }
        assert_eq!(file.metadata().unwrap().len(), 0);
        let limits = OutputLimits {
            bytes: 1 << 20,
            files: 10,
        };
        assert!(over_limits(dir.path(), limits));
        assert!(!over_limits(
            dir.path(),
            OutputLimits {
                bytes: 8 << 20,
                files: 10
            }
        ));
    }

    #[test]
    fn only_a_run_the_engine_ended_counts_as_a_restart() {
        let engine = parse_docker_time("2025-01-01T12:00:00Z");
        let started = "2025-01-01T11:00:00Z";
        // Stopped as the engine went down, or marked dead as it came back:
        // whatever the job's exit code.
        assert!(ended_by_restart(started, "2025-01-01T11:59:50Z", engine));
        assert!(
            ended_by_restart(started, "2025-01-01T11:50:00Z", engine),
            "a reboot"
        );
        assert!(
            ended_by_restart(started, "2025-01-01T12:00:20Z", engine),
            "restored dead"
        );
        assert!(
            !ended_by_restart(started, "2025-01-01T11:30:00Z", engine),
            "finished long before the engine stopped: its own exit"
        );
        assert!(
            !ended_by_restart(started, "2025-01-01T12:05:00Z", engine),
            "outlived the restart (live-restore): its own exit"
        );
        assert!(
            !ended_by_restart("2025-01-01T12:00:01Z", "2025-01-01T12:00:10Z", engine),
            "started by this engine"
        );
        assert!(
            !ended_by_restart(started, "2025-01-01T11:59:50Z", None),
            "unknown is not a restart"
        );
        assert!(!ended_by_restart(started, "0001-01-01T00:00:00Z", engine));
    }

    #[test]
    fn the_engine_start_is_known_here() {
        let started =
            engine_started_at(Path::new("/var/run/docker.pid")).expect("/proc/stat has btime");
        assert!(started <= time::OffsetDateTime::now_utc());
    }

    #[test]
    fn wall_seconds_from_docker_timestamps() {
        let secs = wall_seconds(
            "2025-01-01T00:00:00.250000000Z",
            "2025-01-01T00:00:02.750000000Z",
        );
        assert!((secs - 2.5).abs() < 1e-9, "{secs}");
        assert_eq!(wall_seconds("0001-01-01T00:00:00Z", "garbage"), 0.0);
    }

    #[test]
    fn only_unknown_states_are_retryable() {
        let docker = RuntimeError::Docker {
            context: "x".into(),
            source: DockerError::DockerStreamError {
                error: "eof".into(),
            },
        };
        assert!(docker.is_retryable());
        let mismatch = RuntimeError::DigestMismatch {
            image: "i".into(),
            expected: "e".into(),
            found: vec![],
        };
        assert!(!mismatch.is_retryable());
    }
}
