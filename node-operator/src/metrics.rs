//! Prometheus metrics of the node and a minimal HTTP endpoint serving them on loopback.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::gpu::GpuSample;

const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// How a job ended, as a bounded label value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobResult {
    Succeeded,
    Failed,
    TimedOut,
    OomKilled,
    /// The node gave the job up (e.g. unknown state it could not recover).
    Abandoned,
}

impl JobResult {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::TimedOut => "timed_out",
            Self::OomKilled => "oom_killed",
            Self::Abandoned => "abandoned",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

/// The node's on-chain state, as the `ake_node_state` label.
pub const NODE_STATES: [&str; 5] = ["idle", "queued", "busy", "suspended", "held"];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GpuLabels {
    uuid: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RpcLabels {
    endpoint: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RpcErrorLabels {
    endpoint: String,
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PhaseLabels {
    phase: String,
}

/// What the host's endpoints do, whichever slot asked: one series per
/// endpoint for the whole host (the slots share their RPC client).
#[derive(Clone, Default)]
struct HostMetrics {
    rpc_errors: Family<RpcErrorLabels, Counter>,
    rpc_up: Family<RpcLabels, Gauge>,
    rpc_slots_behind: Family<RpcLabels, Gauge>,
}

impl HostMetrics {
    fn register(registry: &mut Registry) -> Self {
        let host = Self::default();
        registry.register(
            "ake_rpc_errors",
            "Failed Solana RPC requests (an endpoint unavailable), by endpoint and method",
            host.rpc_errors.clone(),
        );
        registry.register(
            "ake_rpc_up",
            "Whether each configured RPC endpoint answered when last measured (1) or not (0)",
            host.rpc_up.clone(),
        );
        registry.register(
            "ake_rpc_slots_behind",
            "Slots each answering RPC endpoint trails the most advanced one (or the cluster, by its own health check); reads go to current ones first",
            host.rpc_slots_behind.clone(),
        );
        let build = Family::<BuildLabels, Gauge>::default();
        build
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        registry.register("ake_node_build_info", "The running ake-node version", build);
        host
    }
}

type FloatGauge = Gauge<f64, AtomicU64>;

/// An RPC URL as metrics and `/status` show it: scheme, host and port,
/// without the user, path or query that often carry a provider's API key.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest))
            if !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) =>
        {
            (scheme, rest)
        }
        _ => ("", url),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    match scheme {
        "" => host.to_string(),
        scheme => format!("{scheme}://{host}"),
    }
}

/// Scrapes served at once; more are refused at accept, so a flood of idle
/// connections cannot take the daemon's file descriptors.
const MAX_CONNECTIONS: usize = 16;
/// How long a scrape may take to send its headers, and to finish.
const HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
const CONNECTION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// What tells one slot's metrics from another's on a host's endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotLabels {
    pub slot: String,
    /// The slot's Node account.
    pub node: String,
    pub market: String,
}

/// One slot's metrics; share it in an `Arc`. Every slot of a host writes
/// into one registry, each under its own `slot`/`node`/`market` labels.
pub struct NodeMetrics {
    /// The host's registry, set once every slot has registered.
    registry: Arc<std::sync::OnceLock<Registry>>,
    jobs: Family<OutcomeLabels, Counter>,
    job_duration: Histogram,
    pickup_latency: Histogram,
    gpu_utilization: Family<GpuLabels, FloatGauge>,
    gpu_temperature: Family<GpuLabels, FloatGauge>,
    gpu_power: Family<GpuLabels, FloatGauge>,
    gpu_memory_used: Family<GpuLabels, Gauge>,
    host: HostMetrics,
    earned: Counter,
    handed_back: Family<ReasonLabels, Counter>,
    tx_refused: Family<ReasonLabels, Counter>,
    node_state: Family<StateLabels, Gauge>,
    node_expiries: Gauge,
    signer_balance: Gauge,
    not_ready: Gauge,
    job_phase: Family<PhaseLabels, Gauge>,
    /// The phase `job_phase` shows now (its series is removed on a change).
    phase: std::sync::Mutex<Option<String>>,
    job_deadline: Gauge,
    upload_bytes: Counter,
    work_free_bytes: Gauge,
    work_floor_bytes: Gauge,
    release_budget_left: Gauge,
    heartbeat: Gauge,
    signer_floor: Gauge,
    gpu_problems: Gauge,
    /// What `GET /status` answers: the daemon's open attempts, as JSON.
    status: std::sync::RwLock<String>,
}

impl Default for NodeMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl NodeMetrics {
    /// One node's metrics, without labels.
    pub fn new() -> Self {
        let shared = Arc::new(std::sync::OnceLock::new());
        let mut root = Registry::default();
        let host = HostMetrics::register(&mut root);
        let metrics = Self::register(&mut root, Arc::clone(&shared), host);
        let _ = shared.set(root);
        metrics
    }

    /// The metrics of each slot of a host, in one registry.
    pub fn for_slots(slots: &[SlotLabels]) -> Vec<Arc<NodeMetrics>> {
        let shared = Arc::new(std::sync::OnceLock::new());
        let mut root = Registry::default();
        let host = HostMetrics::register(&mut root);
        let metrics = slots
            .iter()
            .map(|labels| {
                let pairs = [
                    ("slot", labels.slot.clone()),
                    ("node", labels.node.clone()),
                    ("market", labels.market.clone()),
                ]
                .map(|(k, v)| (std::borrow::Cow::Borrowed(k), std::borrow::Cow::Owned(v)));
                let sub = root.sub_registry_with_labels(pairs.into_iter());
                Arc::new(Self::register(sub, Arc::clone(&shared), host.clone()))
            })
            .collect();
        let _ = shared.set(root);
        metrics
    }

    fn register(
        registry: &mut Registry,
        shared: Arc<std::sync::OnceLock<Registry>>,
        host: HostMetrics,
    ) -> Self {
        let jobs = Family::<OutcomeLabels, Counter>::default();
        registry.register("ake_jobs", "Jobs finished, by outcome", jobs.clone());
        // 1 s .. ~36 h
        let job_duration = Histogram::new(exponential_buckets(1.0, 2.0, 18));
        registry.register(
            "ake_job_duration_seconds",
            "Wall time of job containers",
            job_duration.clone(),
        );
        // 50 ms .. ~27 min
        let pickup_latency = Histogram::new(exponential_buckets(0.05, 2.0, 16));
        registry.register(
            "ake_pickup_latency_seconds",
            "From assignment visible on chain to container started",
            pickup_latency.clone(),
        );
        let gpu_utilization = Family::<GpuLabels, FloatGauge>::default();
        registry.register(
            "ake_gpu_utilization_ratio",
            "GPU core utilization, 0 to 1",
            gpu_utilization.clone(),
        );
        let gpu_memory_used = Family::<GpuLabels, Gauge>::default();
        registry.register(
            "ake_gpu_memory_used_bytes",
            "GPU memory in use",
            gpu_memory_used.clone(),
        );
        let gpu_temperature = Family::<GpuLabels, FloatGauge>::default();
        registry.register(
            "ake_gpu_temperature_celsius",
            "GPU core temperature",
            gpu_temperature.clone(),
        );
        let gpu_power = Family::<GpuLabels, FloatGauge>::default();
        registry.register("ake_gpu_power_watts", "GPU power draw", gpu_power.clone());
        let earned = Counter::default();
        registry.register(
            "ake_earned_base_units",
            "AKE earned, in token base units",
            earned.clone(),
        );
        let handed_back = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "ake_jobs_handed_back",
            "Jobs this node could not run and handed back (release_job), by reason",
            handed_back.clone(),
        );
        let tx_refused = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "ake_transactions_failed",
            "Journaled transactions that landed and failed (then signed again while the job was still this node's), by purpose",
            tx_refused.clone(),
        );
        let node_state = Family::<StateLabels, Gauge>::default();
        registry.register(
            "ake_node_state",
            "1 for the node's current on-chain state",
            node_state.clone(),
        );
        let node_expiries = Gauge::default();
        registry.register(
            "ake_node_jobs_expired",
            "Jobs that expired on this node (the on-chain counter; each is a slash)",
            node_expiries.clone(),
        );
        let signer_balance = Gauge::default();
        registry.register(
            "ake_signer_balance_lamports",
            "SOL the node's signer holds for fees, in lamports",
            signer_balance.clone(),
        );
        let not_ready = Gauge::default();
        registry.register(
            "ake_node_not_ready_problems",
            "Problems keeping the node out of the queue (0: ready; `ake-node status` names them)",
            not_ready.clone(),
        );
        let job_phase = Family::<PhaseLabels, Gauge>::default();
        registry.register(
            "ake_job_phase",
            "1 for the phase of the job in progress (the journal's name for it); no series when idle",
            job_phase.clone(),
        );
        let gauge = |registry: &mut Registry, name: &str, help: &str| {
            let gauge = Gauge::default();
            registry.register(name, help, gauge.clone());
            gauge
        };
        let job_deadline = gauge(registry, "ake_job_deadline_timestamp_seconds", "The on-chain deadline of the job in progress (unix seconds; 0 when idle): slack is this minus time()");
        let work_free_bytes = gauge(
            registry,
            "ake_work_dir_free_bytes",
            "Bytes free on the work dir's filesystem",
        );
        let work_floor_bytes = gauge(
            registry,
            "ake_work_dir_floor_bytes",
            "Bytes the work dir must keep free to take a job (below it the node leaves the queue)",
        );
        let release_budget_left = gauge(
            registry,
            "ake_release_budget_left",
            "Hand-backs the owner has left in this release-budget window",
        );
        let heartbeat = gauge(
            registry,
            "ake_node_heartbeat_timestamp_seconds",
            "When the daemon's loop last read its node (unix seconds)",
        );
        let signer_floor = gauge(registry, "ake_signer_floor_lamports", "SOL the hot key must hold to stay in the queue (its next transactions at the fee cap), in lamports");
        let gpu_problems = gauge(
            registry,
            "ake_gpu_problems",
            "Health problems of the slot's GPUs (ECC, retired pages, Xid, NVML not answering)",
        );
        let upload_bytes = Counter::default();
        registry.register(
            "ake_upload_bytes",
            "Bytes of outputs sent to the output store (rate() is the uplink in use)",
            upload_bytes.clone(),
        );
        Self {
            registry: shared,
            host,
            job_phase,
            phase: Default::default(),
            job_deadline,
            upload_bytes,
            work_free_bytes,
            work_floor_bytes,
            release_budget_left,
            heartbeat,
            signer_floor,
            gpu_problems,
            jobs,
            job_duration,
            pickup_latency,
            gpu_utilization,
            gpu_temperature,
            gpu_power,
            gpu_memory_used,
            earned,
            handed_back,
            tx_refused,
            node_state,
            node_expiries,
            signer_balance,
            not_ready,
            status: std::sync::RwLock::new("{}".into()),
        }
    }

    pub fn handed_back(&self, reason: &str) {
        self.handed_back
            .get_or_create(&ReasonLabels {
                reason: reason.to_string(),
            })
            .inc();
    }

    pub fn tx_refused(&self, purpose: &str) {
        self.tx_refused
            .get_or_create(&ReasonLabels {
                reason: purpose.to_string(),
            })
            .inc();
    }

    /// The node's state (one of [`NODE_STATES`]) and its on-chain expiry count.
    pub fn node(&self, state: &'static str, jobs_expired: u64) {
        for s in NODE_STATES {
            self.node_state
                .get_or_create(&StateLabels { state: s })
                .set(i64::from(s == state));
        }
        self.node_expiries
            .set(i64::try_from(jobs_expired).unwrap_or(i64::MAX));
    }

    pub fn signer_balance(&self, lamports: u64) {
        self.signer_balance
            .set(i64::try_from(lamports).unwrap_or(i64::MAX));
    }

    pub fn not_ready(&self, problems: usize) {
        self.not_ready
            .set(i64::try_from(problems).unwrap_or(i64::MAX));
    }

    pub fn set_status(&self, json: String) {
        *self.status.write().unwrap_or_else(|e| e.into_inner()) = json;
    }

    pub fn status(&self) -> String {
        self.status
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn job_finished(&self, result: JobResult, duration_secs: f64) {
        self.jobs
            .get_or_create(&OutcomeLabels {
                outcome: result.as_str(),
            })
            .inc();
        self.job_duration.observe(duration_secs);
    }

    pub fn job_picked_up(&self, latency_secs: f64) {
        self.pickup_latency.observe(latency_secs);
    }

    pub fn record_gpu(&self, sample: &GpuSample) {
        let labels = GpuLabels {
            uuid: sample.uuid.clone(),
        };
        self.gpu_utilization
            .get_or_create(&labels)
            .set(f64::from(sample.gpu_util_percent) / 100.0);
        self.gpu_memory_used
            .get_or_create(&labels)
            .set(i64::try_from(sample.memory_used_mib << 20).unwrap_or(i64::MAX));
        self.gpu_temperature
            .get_or_create(&labels)
            .set(sample.temperature_c.into());
        self.gpu_power
            .get_or_create(&labels)
            .set(f64::from(sample.power_mw) / 1000.0);
    }

    /// One RPC request `method` that `endpoint` could not serve.
    pub fn rpc_error(&self, endpoint: &str, method: &str) {
        self.host
            .rpc_errors
            .get_or_create(&RpcErrorLabels {
                endpoint: redact_url(endpoint),
                method: method.to_string(),
            })
            .inc();
    }

    pub fn rpc_endpoint(&self, health: &ake_sdk::chain::rpc::EndpointHealth) {
        let labels = RpcLabels {
            endpoint: redact_url(&health.url),
        };
        self.host
            .rpc_up
            .get_or_create(&labels)
            .set(i64::from(health.error.is_none()));
        self.host
            .rpc_slots_behind
            .get_or_create(&labels)
            .set(i64::try_from(health.behind).unwrap_or(i64::MAX));
    }

    /// The phase of the job in progress (None: no job).
    pub fn job_phase(&self, phase: Option<&str>) {
        let mut current = self.phase.lock().unwrap_or_else(|e| e.into_inner());
        if current.as_deref() == phase {
            return;
        }
        if let Some(old) = current.take() {
            self.job_phase.remove(&PhaseLabels { phase: old });
        }
        if let Some(phase) = phase {
            self.job_phase
                .get_or_create(&PhaseLabels {
                    phase: phase.to_string(),
                })
                .set(1);
            *current = Some(phase.to_string());
        }
    }

    /// The on-chain deadline of the job in progress (0: none).
    pub fn job_deadline(&self, unix_secs: i64) {
        self.job_deadline.set(unix_secs);
    }

    pub fn uploaded(&self, bytes: u64) {
        self.upload_bytes.inc_by(bytes);
    }

    pub fn work_disk(&self, free: u64, floor: u64) {
        self.work_free_bytes
            .set(i64::try_from(free).unwrap_or(i64::MAX));
        self.work_floor_bytes
            .set(i64::try_from(floor).unwrap_or(i64::MAX));
    }

    pub fn release_budget_left(&self, left: u32) {
        self.release_budget_left.set(i64::from(left));
    }

    /// The daemon's loop turned (now).
    pub fn heartbeat(&self) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.heartbeat.set(i64::try_from(now).unwrap_or(i64::MAX));
    }

    pub fn signer_floor(&self, lamports: u64) {
        self.signer_floor
            .set(i64::try_from(lamports).unwrap_or(i64::MAX));
    }

    pub fn gpu_problems(&self, problems: usize) {
        self.gpu_problems
            .set(i64::try_from(problems).unwrap_or(i64::MAX));
    }

    pub fn earned(&self, base_units: u64) {
        self.earned.inc_by(base_units);
    }

    /// OpenMetrics text exposition.
    /// The whole host's metrics (every slot's), as OpenMetrics text.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        if let Some(registry) = self.registry.get() {
            prometheus_client::encoding::text::encode(&mut text, registry)
                .expect("writing to a String cannot fail");
        }
        text
    }
}

/// Fills the `ake_gpu_*` gauges from `sampler` every `every`, until aborted.
pub fn sample_gpus(
    metrics: Arc<NodeMetrics>,
    sampler: crate::gpu::GpuSampler,
    every: std::time::Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match sampler.sample().await {
                Ok(samples) => samples.iter().for_each(|s| metrics.record_gpu(s)),
                Err(e) => tracing::warn!("GPU sampling failed: {e}"),
            }
            tokio::time::sleep(every).await;
        }
    })
}

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error(
        "metrics_addr {0} is not a loopback address and no token protects it: set \
         metrics_token_file, or expose metrics through a reverse proxy"
    )]
    NotLoopback(SocketAddr),
    #[error("the metrics token must be at least 16 characters: write a longer one to metrics_token_file")]
    WeakToken,
    #[error("cannot listen on {addr} for metrics: {source} (is another process using it?)")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A running metrics endpoint; aborting the handle stops it.
pub struct MetricsServer {
    pub local_addr: SocketAddr,
    pub handle: JoinHandle<()>,
}

/// Serves `GET /metrics` on `addr`, which must be loopback.
/// Serves the host's metrics and every slot's status (`slots`: `metrics`).
/// With a `token`, every request must carry `Authorization: Bearer
/// <token>` (else 401), on any address; without one, only loopback.
pub async fn serve(
    addr: SocketAddr,
    metrics: Vec<Arc<NodeMetrics>>,
    token: Option<String>,
) -> Result<MetricsServer, MetricsError> {
    if token.is_none() && !addr.ip().is_loopback() {
        return Err(MetricsError::NotLoopback(addr));
    }
    if token.as_ref().is_some_and(|t| t.len() < 16) {
        return Err(MetricsError::WeakToken);
    }
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| MetricsError::Bind { addr, source })?;
    let local_addr = listener
        .local_addr()
        .map_err(|source| MetricsError::Bind { addr, source })?;
    let handle = tokio::spawn(accept_loop(listener, metrics, token.map(Arc::from)));
    Ok(MetricsServer { local_addr, handle })
}

async fn accept_loop(
    listener: TcpListener,
    metrics: Vec<Arc<NodeMetrics>>,
    token: Option<Arc<str>>,
) {
    let metrics = Arc::new(metrics);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors, say: wait rather than spin.
                tracing::warn!(error = %e, "metrics accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let metrics = Arc::clone(&metrics);
        let token = token.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let metrics = Arc::clone(&metrics);
                let allowed = authorized(&req, token.as_deref());
                async move {
                    Ok::<_, Infallible>(match allowed {
                        true => respond(&req, &metrics),
                        false => unauthorized(),
                    })
                }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .keep_alive(false)
                .serve_connection(TokioIo::new(stream), service);
            match tokio::time::timeout(CONNECTION_TIMEOUT, connection).await {
                Ok(Err(e)) => tracing::debug!(error = %e, "metrics connection ended with an error"),
                Err(_) => tracing::debug!("metrics connection timed out"),
                Ok(Ok(())) => {}
            }
            drop(permit);
        });
    }
}

/// The request carries the bearer token (compared in constant time), or
/// none is required.
fn authorized<B>(req: &Request<B>, token: Option<&str>) -> bool {
    let Some(token) = token else {
        return true;
    };
    let given = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    given.len() == token.len()
        && given
            .bytes()
            .zip(token.bytes())
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}

fn unauthorized() -> Response<Full<Bytes>> {
    Response::builder()
        .status(StatusCode::UNAUTHORIZED)
        .header(hyper::header::WWW_AUTHENTICATE, "Bearer")
        .body(Full::new(Bytes::from(
            "send Authorization: Bearer <the token in metrics_token_file>\n",
        )))
        .expect("static response parts are valid")
}

fn respond<B>(req: &Request<B>, slots: &[Arc<NodeMetrics>]) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match (req.method(), req.uri().path()) {
        (&hyper::Method::GET, "/metrics") => (
            StatusCode::OK,
            CONTENT_TYPE,
            slots.first().map(|m| m.encode()).unwrap_or_default(),
        ),
        (&hyper::Method::GET, "/status") => {
            let each: Vec<serde_json::Value> = slots
                .iter()
                .map(|m| serde_json::from_str(&m.status()).unwrap_or_default())
                .collect();
            let body = serde_json::json!({ "slots": each }).to_string();
            (StatusCode::OK, "application/json", body)
        }
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "only GET /metrics and GET /status are served\n".to_string(),
        ),
    };
    Response::builder()
        .status(status)
        .header(hyper::header::CONTENT_TYPE, content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("static response parts are valid")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn http_get(addr: SocketAddr, path: &str) -> String {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response
    }

    #[tokio::test]
    async fn scrape_over_http_finds_every_metric() {
        let metrics = Arc::new(NodeMetrics::new());
        metrics.job_finished(JobResult::Succeeded, 42.0);
        metrics.job_finished(JobResult::OomKilled, 3.0);
        metrics.job_picked_up(0.8);
        metrics.record_gpu(&GpuSample {
            uuid: "GPU-1".into(),
            gpu_util_percent: 87,
            memory_util_percent: 40,
            memory_used_mib: 1000,
            power_mw: 312_500,
            temperature_c: 64,
        });
        metrics.rpc_error("https://rpc.example", "accounts");
        metrics.rpc_endpoint(&ake_sdk::chain::rpc::EndpointHealth {
            url: "https://rpc.example".into(),
            slot: Some(1_000),
            behind: 100,
            latency_ms: 20,
            error: None,
        });
        metrics.earned(1_500_000);
        metrics.earned(500_000);
        metrics.handed_back("input_hash_mismatch");
        metrics.node("queued", 2);
        metrics.signer_balance(5_000);
        metrics.set_status("{\"open\":[]}".into());

        let server = serve(
            "127.0.0.1:0".parse().unwrap(),
            vec![Arc::clone(&metrics)],
            None,
        )
        .await
        .unwrap();
        let response = http_get(server.local_addr, "/metrics").await;
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.contains("openmetrics-text"));
        for expected in [
            "ake_jobs_total{outcome=\"succeeded\"} 1",
            "ake_jobs_total{outcome=\"oom_killed\"} 1",
            "ake_job_duration_seconds_count 2",
            "ake_job_duration_seconds_sum 45.0",
            "ake_pickup_latency_seconds_count 1",
            "ake_gpu_utilization_ratio{uuid=\"GPU-1\"} 0.87",
            "ake_gpu_memory_used_bytes{uuid=\"GPU-1\"} 1048576000",
            "ake_jobs_handed_back_total{reason=\"input_hash_mismatch\"} 1",
            "ake_node_state{state=\"queued\"} 1",
            "ake_node_state{state=\"busy\"} 0",
            "ake_node_jobs_expired 2",
            "ake_signer_balance_lamports 5000",
            "ake_node_build_info{version=\"",
            "ake_gpu_temperature_celsius{uuid=\"GPU-1\"} 64.0",
            "ake_gpu_power_watts{uuid=\"GPU-1\"} 312.5",
            "ake_rpc_errors_total{endpoint=\"https://rpc.example\",method=\"accounts\"} 1",
            "ake_rpc_up{endpoint=\"https://rpc.example\"} 1",
            "ake_rpc_slots_behind{endpoint=\"https://rpc.example\"} 100",
            "ake_earned_base_units_total 2000000",
        ] {
            assert!(
                response.contains(expected),
                "missing {expected:?} in:\n{response}"
            );
        }

        let status = http_get(server.local_addr, "/status").await;
        assert!(status.ends_with("{\"slots\":[{\"open\":[]}]}"), "{status}");
        let missing = http_get(server.local_addr, "/").await;
        assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
        server.handle.abort();
    }

    #[tokio::test]
    async fn each_slot_of_a_host_is_scraped_under_its_own_labels() {
        let labels = |slot: &str| SlotLabels {
            slot: slot.into(),
            node: format!("node-{slot}"),
            market: "0".into(),
        };
        let slots = NodeMetrics::for_slots(&[labels("gpu0"), labels("gpu1")]);
        slots[0].job_finished(JobResult::Succeeded, 1.0);
        slots[0].node("idle", 0);
        slots[1].node("busy", 0);
        slots[1].set_status("{\"slot\":\"gpu1\"}".into());
        let server = serve("127.0.0.1:0".parse().unwrap(), slots, None)
            .await
            .unwrap();
        let text = http_get(server.local_addr, "/metrics").await;
        for expected in [
            "ake_jobs_total{slot=\"gpu0\",node=\"node-gpu0\",market=\"0\",outcome=\"succeeded\"} 1",
            "ake_node_state{slot=\"gpu1\",node=\"node-gpu1\",market=\"0\",state=\"busy\"} 1",
            "ake_node_state{slot=\"gpu0\",node=\"node-gpu0\",market=\"0\",state=\"busy\"} 0",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
        }
        assert_eq!(
            text.matches("# TYPE ake_jobs counter").count(),
            1,
            "one family per metric, every slot in it: {text}"
        );
        assert_eq!(text.matches("ake_node_build_info{").count(), 1, "{text}");
        let status = http_get(server.local_addr, "/status").await;
        assert!(
            status.ends_with("{\"slots\":[{},{\"slot\":\"gpu1\"}]}"),
            "{status}"
        );
        server.handle.abort();
    }

    const RULES: &str = include_str!("../alerts/ake-node.rules.yml");

    /// Every metric the shipped alert rules name is one a daemon exports
    /// (a renamed metric would leave an alert that never fires).
    #[test]
    fn alert_rules_name_only_exported_metrics() {
        let slot = &NodeMetrics::for_slots(&[SlotLabels {
            slot: "s".into(),
            node: "n".into(),
            market: "0".into(),
        }])[0];
        // A labelled family shows once it has a series.
        slot.node("idle", 0);
        slot.rpc_endpoint(&ake_sdk::chain::rpc::EndpointHealth {
            url: "https://rpc.example".into(),
            slot: Some(1),
            behind: 0,
            latency_ms: 1,
            error: None,
        });
        let text = slot.encode();
        let exported: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        let mut named: Vec<&str> = RULES
            .lines()
            .filter(|l| l.trim_start().starts_with("expr:"))
            .flat_map(|l| l.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')))
            .filter(|w| w.starts_with("ake_"))
            .collect();
        named.sort_unstable();
        named.dedup();
        assert!(named.len() >= 9, "{named:?}");
        for metric in named {
            assert!(
                exported.contains(&metric),
                "{metric} is not exported: {exported:?}"
            );
        }
    }

    /// `promtool check rules` and `promtool test rules` (Debian's
    /// prometheus package; .ci/run installs it) on the shipped rules.
    #[test]
    fn alert_rules_pass_promtool() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("alerts");
        let promtool = std::process::Command::new("promtool")
            .arg("check")
            .arg("rules")
            .arg(dir.join("ake-node.rules.yml"))
            .output();
        let Ok(checked) = promtool else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI needs promtool (apt-get install prometheus)"
            );
            eprintln!("promtool not installed: skipping the alert rules' tests");
            return;
        };
        assert!(
            checked.status.success(),
            "{}",
            String::from_utf8_lossy(&checked.stdout)
        );
        let tested = std::process::Command::new("promtool")
            .arg("test")
            .arg("rules")
            .arg("ake-node.test.yml")
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            tested.status.success(),
            "{}{}",
            String::from_utf8_lossy(&tested.stdout),
            String::from_utf8_lossy(&tested.stderr)
        );
    }

    #[test]
    fn rpc_urls_lose_their_keys() {
        for (url, shown) in [
            (
                "https://mainnet.helius-rpc.com/?api-key=SECRET",
                "https://mainnet.helius-rpc.com",
            ),
            (
                "https://x.solana-mainnet.quiknode.pro/SECRET/",
                "https://x.solana-mainnet.quiknode.pro",
            ),
            (
                "http://user:SECRET@127.0.0.1:8899/path",
                "http://127.0.0.1:8899",
            ),
            ("http://127.0.0.1:8899", "http://127.0.0.1:8899"),
            ("http://[::1]:8899/x", "http://[::1]:8899"),
            ("host:8899/x?cb=http://y", "host:8899"),
        ] {
            assert_eq!(redact_url(url), shown);
        }
    }

    /// Idle connections past the cap are dropped at accept; a connection
    /// that never sends its headers is closed by the header timeout; the
    /// endpoint keeps answering throughout.
    #[tokio::test]
    async fn idle_connections_cannot_starve_the_endpoint() {
        let server = serve(
            "127.0.0.1:0".parse().unwrap(),
            vec![Arc::new(NodeMetrics::new())],
            None,
        )
        .await
        .unwrap();
        let mut idle = Vec::new();
        for _ in 0..MAX_CONNECTIONS * 4 {
            idle.push(
                tokio::net::TcpStream::connect(server.local_addr)
                    .await
                    .unwrap(),
            );
        }
        // The first MAX_CONNECTIONS hold their permits until the header timeout.
        tokio::time::sleep(HEADER_TIMEOUT + std::time::Duration::from_secs(1)).await;
        let response = http_get(server.local_addr, "/metrics").await;
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        let mut buf = [0u8; 1];
        let read = tokio::time::timeout(HEADER_TIMEOUT, idle[0].read(&mut buf)).await;
        let closed = read.is_ok_and(|r| r.map_or(true, |n| n == 0));
        assert!(closed, "the silent connection was closed");
        server.handle.abort();
    }

    #[tokio::test]
    async fn public_bind_is_refused() {
        let err = serve(
            "0.0.0.0:0".parse().unwrap(),
            vec![Arc::new(NodeMetrics::new())],
            None,
        )
        .await
        .err()
        .unwrap();
        assert!(matches!(err, MetricsError::NotLoopback(_)));
    }

    /// With a token, a scrape without it (or with another) gets 401 and
    /// nothing else; with it, the metrics.
    #[tokio::test]
    async fn a_token_guards_every_path() {
        let metrics = vec![Arc::new(NodeMetrics::new())];
        let weak = serve(
            "127.0.0.1:0".parse().unwrap(),
            metrics.clone(),
            Some("short".into()),
        );
        assert!(matches!(weak.await.err().unwrap(), MetricsError::WeakToken));
        let token = "0123456789abcdef-secret".to_string();
        let server = serve("127.0.0.1:0".parse().unwrap(), metrics, Some(token.clone()))
            .await
            .unwrap();
        let get = |path: &'static str, auth: Option<String>| async move {
            let mut stream = tokio::net::TcpStream::connect(server.local_addr)
                .await
                .unwrap();
            let header = auth.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
            let request =
                format!("GET {path} HTTP/1.1\r\nHost: x\r\n{header}Connection: close\r\n\r\n");
            stream.write_all(request.as_bytes()).await.unwrap();
            let mut response = String::new();
            stream.read_to_string(&mut response).await.unwrap();
            response
        };
        for (path, auth) in [
            ("/metrics", None),
            ("/status", None),
            (
                "/metrics",
                Some("Bearer 0123456789abcdef-secreT".to_string()),
            ),
            ("/metrics", Some(format!("Basic {token}"))),
        ] {
            let response = get(path, auth).await;
            assert!(response.starts_with("HTTP/1.1 401"), "{response}");
            assert!(!response.contains("ake_"), "{response}");
        }
        let response = get("/metrics", Some(format!("Bearer {token}"))).await;
        assert!(
            response.starts_with("HTTP/1.1 200") && response.contains("ake_node_build_info"),
            "{response}"
        );
        server.handle.abort();
    }
}
