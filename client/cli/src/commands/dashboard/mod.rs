//! `ake dashboard`: a local web UI against any endpoint. Pages are
//! server-rendered HTML with inline SVG charts and inline CSS: no
//! JavaScript, no build step, no external assets, so it works offline and
//! shows exactly what the chain says when the page is loaded (every request
//! reads the chain; pages of things that move reload themselves).

mod html;
mod pages;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use clap::Args;
use solana_sdk::pubkey::Pubkey;

use crate::context::{Ctx, GlobalArgs};

#[derive(Args)]
pub struct DashboardArgs {
    /// Address to serve on. Loopback by default: the pages show only what
    /// any RPC client can read, but the server is not hardened for the
    /// internet (put a proxy with TLS and auth in front to share it).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Epochs the charts and the epoch table show, newest last.
    #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub epochs: u64,
}

/// What every page handler shares.
struct Dashboard {
    ctx: Ctx,
    /// Where a job's outputs are fetched to once verified (one directory
    /// per job, removed with the process).
    outputs: tempfile::TempDir,
    /// Held while outputs are fetched: one fetch at a time.
    fetching: tokio::sync::Mutex<()>,
    /// Recent failed fetches (by job and root): when, and why.
    failures: std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, String)>>,
    epochs: u64,
}

impl Dashboard {
    /// Why fetching `name` failed, if it did within the pause.
    fn recent_failure(&self, name: &str) -> Option<String> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures
            .get(name)
            .filter(|(at, _)| at.elapsed() < pages::FAILED_FETCH_PAUSE)
            .map(|(_, why)| why.clone())
    }

    fn failed(&self, name: &str, why: String) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.retain(|_, (at, _)| at.elapsed() < pages::FAILED_FETCH_PAUSE);
        failures.insert(name.to_string(), (std::time::Instant::now(), why));
    }
}

type Shared = Arc<Dashboard>;

pub async fn run(g: &GlobalArgs, a: DashboardArgs) -> anyhow::Result<()> {
    let ctx = g.connect()?;
    // Fail before serving when the endpoint is wrong, not on every page.
    ctx.protocol
        .config()
        .await
        .with_context(|| format!("no AKE protocol at {} (is --url right?)", ctx.url))?;
    let url = ctx.url.clone();
    let (addr, server) = serve(ctx, a.bind, a.epochs).await?;
    // Tests and scripts read the real address (with --bind 127.0.0.1:0).
    println!("dashboard of {} at http://{addr}/", html::origin(&url));
    tokio::select! {
        served = server => served??,
        // Ends cleanly, so the fetched outputs' directory is removed.
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}

/// Serves the dashboard of `ctx`'s endpoint on `bind` until the task ends
/// (or is aborted); returns the address it took.
pub async fn serve(
    ctx: Ctx,
    bind: SocketAddr,
    epochs: u64,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>)> {
    let listener = tokio::net::TcpListener::bind(bind).await.with_context(|| {
        format!("cannot listen on {bind} for the dashboard (choose another address)")
    })?;
    let addr = listener.local_addr()?;
    let shared = Arc::new(Dashboard {
        ctx,
        outputs: tempfile::tempdir()?,
        fetching: Default::default(),
        failures: Default::default(),
        epochs,
    });
    let app = router(shared).layer(axum::middleware::from_fn(move |request, next| {
        guard(addr, request, next)
    }));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((addr, server))
}

fn router(shared: Shared) -> Router {
    Router::new()
        .route("/", get(network))
        .route("/epochs", get(epochs))
        .route("/markets/{index}", get(market))
        .route("/nodes/{key}", get(node))
        .route("/owners/{key}", get(owner))
        .route("/jobs/{key}", get(job))
        .route("/jobs/{key}/outputs/{*file}", get(output_file))
        .fallback(|| async { Failure::NotFound("no such page: start at /".into()) })
        .with_state(shared)
}

/// Every response: only for requests addressed to this server (a web page
/// elsewhere cannot point a browser's DNS at it and read the pages), and
/// with headers that keep a served file from running as a page.
async fn guard(
    bound: SocketAddr,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let ours = bound.ip().is_unspecified()
        || host == bound.to_string()
        || host == format!("localhost:{}", bound.port());
    let mut response = if ours {
        next.run(request).await
    } else {
        Failure::BadInput(format!(
            "this dashboard answers requests to {bound} or localhost:{}, not to {host}",
            bound.port()
        ))
        .into_response()
    };
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(
            "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'",
        ),
    );
    headers.insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("no-referrer"),
    );
    response
}

/// Why a page could not be shown: a bad address (400), nothing there
/// (404), or the endpoint failed (502). Each says what to do.
pub enum Failure {
    BadInput(String),
    NotFound(String),
    Chain(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Chain(e)
    }
}

impl From<ake_sdk::protocol::ProtocolError> for Failure {
    fn from(e: ake_sdk::protocol::ProtocolError) -> Self {
        Failure::Chain(e.into())
    }
}

impl From<ake_sdk::chain::ChainError> for Failure {
    fn from(e: ake_sdk::chain::ChainError) -> Self {
        Failure::Chain(e.into())
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let (status, what) = match self {
            Failure::BadInput(s) => (StatusCode::BAD_REQUEST, s),
            Failure::NotFound(s) => (StatusCode::NOT_FOUND, s),
            Failure::Chain(e) => (
                StatusCode::BAD_GATEWAY,
                format!("the endpoint failed: {e:#}; is it up? reload to try again"),
            ),
        };
        let body = html::page(
            "Not shown",
            &format!("<p class=error>{}</p>", html::esc(&what)),
        );
        (status, body).into_response()
    }
}

type PageResult = Result<axum::response::Html<String>, Failure>;

fn pubkey(text: &str, what: &str) -> Result<Pubkey, Failure> {
    text.parse().map_err(|_| {
        Failure::BadInput(format!(
            "'{text}' is not a {what} address (base58, 32 bytes)"
        ))
    })
}

async fn network(State(d): State<Shared>) -> PageResult {
    pages::network(&d).await
}

async fn epochs(State(d): State<Shared>) -> PageResult {
    pages::epochs(&d).await
}

async fn market(State(d): State<Shared>, Path(index): Path<String>) -> PageResult {
    let index: u16 = index
        .parse()
        .map_err(|_| Failure::BadInput(format!("'{index}' is not a market index (0, 1, ...)")))?;
    pages::market(&d, index).await
}

async fn node(State(d): State<Shared>, Path(key): Path<String>) -> PageResult {
    pages::node(&d, &pubkey(&key, "node")?).await
}

async fn owner(State(d): State<Shared>, Path(key): Path<String>) -> PageResult {
    pages::owner(&d, &pubkey(&key, "owner")?).await
}

async fn job(State(d): State<Shared>, Path(key): Path<String>) -> PageResult {
    pages::job(&d, &pubkey(&key, "job")?).await
}

/// A file of a job's verified outputs (what the job page's thumbnails
/// show). Only files the manifest lists are served, from the directory
/// the job page fetched and verified.
async fn output_file(
    State(d): State<Shared>,
    Path((key, file)): Path<(String, String)>,
) -> Result<Response, Failure> {
    let job = pubkey(&key, "job")?;
    let outputs = pages::verified_outputs(&d, &job).await?;
    let listed = outputs.manifest.files.iter().any(|f| f.path == file);
    if !listed {
        return Err(Failure::NotFound(format!(
            "{file} is not among the verified outputs of job {job}"
        )));
    }
    let path: PathBuf = outputs.dir.join(
        ake_node::outputs::safe_relative_path(&file)
            .map_err(|e| Failure::BadInput(e.to_string()))?,
    );
    // Streamed: an output may be hundreds of MiB.
    let opened = tokio::fs::File::open(&path)
        .await
        .map_err(|e| Failure::Chain(anyhow::anyhow!("reading {}: {e}", path.display())))?;
    let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(opened));
    let kind = match file.rsplit('.').next() {
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("txt" | "log") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    };
    // Anything but an image is a download, never shown as a page.
    let disposition = if kind.starts_with("image/") {
        "inline"
    } else {
        "attachment"
    };
    Ok((
        [
            (header::CONTENT_TYPE, kind),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}
