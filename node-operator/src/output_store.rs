//! Uploads committed outputs to a local directory or S3 (object_store) and fetches them back.
//!
//! Layout under the store's base: `jobs/<job id>/<merkle root>/files/<path>` and
//! `jobs/<job id>/<merkle root>/manifest.json`. The manifest is written last and marks a
//! complete upload, so re-uploading after a crash is harmless and skips finished work.
//! Files sent while the job ran wait under `jobs/<job id>/staging/` (see [`staging`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use sha2::Digest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::outputs::{safe_relative_path, verify, OutputError, OutputManifest};

mod staging;
pub use staging::{Staged, STAGE_EVERY};

const MANIFEST_OBJECT: &str = "manifest.json";
/// The job's captured output streams, uploaded under `logs/`.
const LOG_FILES: [&str; 2] = ["stdout.log", "stderr.log"];
/// Files above this size are sent as multipart uploads, bounding memory use.
const MULTIPART_THRESHOLD: u64 = 16 << 20;
const PART_SIZE: usize = 8 << 20;
const PARTS_IN_FLIGHT: usize = 4;
/// Files uploaded at once: many small frames need parallel requests to use
/// the uplink (each PUT waits a round trip).
const FILES_IN_FLIGHT: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "output_store URL {url:?} is invalid: {reason}; use file:///abs/dir or \
         s3://bucket/prefix?region=..&endpoint=.."
    )]
    BadUrl { url: String, reason: String },
    #[error("object store error while {context}: {source}")]
    Store {
        context: String,
        source: object_store::Error,
    },
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{uri} is not inside this output store ({base})")]
    ForeignUri { uri: String, base: String },
    #[error("manifest at {uri} is not valid: {source}")]
    BadManifest {
        uri: String,
        source: serde_json::Error,
    },
    #[error("{what} at {path} is {size} bytes, more than the {max} this reader takes")]
    TooLarge {
        what: &'static str,
        path: String,
        size: u64,
        max: u64,
    },
    #[error(transparent)]
    Output(#[from] OutputError),
}

/// The largest manifest read (10,000 files of long paths fit in a few MiB).
const MAX_MANIFEST_BYTES: u64 = 16 << 20;
/// The largest committed log read into memory.
const MAX_LOG_BYTES: u64 = 64 << 20;
/// The largest live log read: what a node uploads (4 MiB each) and slack.
const MAX_LIVE_LOG_BYTES: u64 = 8 << 20;

impl StoreError {
    /// Network and storage hiccups: retry, uploads are idempotent. A missing object is not.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Store { source, .. } => !matches!(source, object_store::Error::NotFound { .. }),
            Self::Io { .. } => true,
            _ => false,
        }
    }
}

fn store_err(context: impl Into<String>) -> impl FnOnce(object_store::Error) -> StoreError {
    let context = context.into();
    move |source| StoreError::Store { context, source }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Where job outputs go.
/// The node's uplink to its output store: what the stop time reserves for
/// a job's outputs, measured by its uploads.
#[derive(Debug, Clone, Copy)]
pub struct Uplink {
    configured: f64,
    measured: f64,
}

impl Uplink {
    /// Starts from the operator's estimate (`uplink_mbit`).
    pub fn new(mbit: u64) -> Self {
        let bytes_per_sec = mbit as f64 * 125_000.0;
        Self {
            configured: bytes_per_sec,
            measured: bytes_per_sec,
        }
    }

    /// How long `bytes` take to go up, with a quarter more for slower moments.
    pub fn upload_time(&self, bytes: u64) -> std::time::Duration {
        std::time::Duration::from_secs_f64(bytes as f64 / self.measured.max(1.0) * 1.25)
    }

    /// Folds in an upload that sent `bytes` in `files` files in `took`.
    /// Only uploads that measure bandwidth count (1 MiB or more, files of
    /// 256 KiB on average: many tiny files measure round trips), and a
    /// sample counts for at most 4x, at least 1/4 of the configured rate,
    /// so no job's outputs can make the next jobs' reserves absurd.
    pub fn observe(&mut self, bytes: u64, files: u64, took: std::time::Duration) -> bool {
        if bytes < 1 << 20 || bytes / files.max(1) < 256 << 10 || took.as_millis() < 500 {
            return false;
        }
        let seen =
            (bytes as f64 / took.as_secs_f64()).clamp(self.configured / 4.0, self.configured * 4.0);
        self.measured = 0.7 * self.measured + 0.3 * seen;
        true
    }

    pub fn bytes_per_sec(&self) -> f64 {
        self.measured
    }
}

#[derive(Debug, Clone)]
pub struct OutputStore {
    /// Bytes and files this store has sent (skipped files are not sent).
    sent: Arc<(std::sync::atomic::AtomicU64, std::sync::atomic::AtomicU64)>,
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
    /// URI of `prefix`, e.g. `s3://bucket/prefix`; returned URIs extend it.
    base_uri: String,
}

impl OutputStore {
    /// `file:///abs/dir` (created if missing) or `s3://bucket[/prefix][?endpoint=URL&region=R]`.
    /// S3 credentials come from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
    /// AWS_SESSION_TOKEN, ...); an `http://` endpoint is allowed for local S3-compatible stores.
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        let bad = |reason: &str| StoreError::BadUrl {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let parsed = url::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
        match parsed.scheme() {
            "file" => {
                let dir = parsed
                    .to_file_path()
                    .map_err(|()| bad("not an absolute local path"))?;
                std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
                let store = LocalFileSystem::new_with_prefix(&dir)
                    .map_err(store_err(format!("opening {}", dir.display())))?;
                Ok(Self {
                    sent: Arc::default(),
                    store: Arc::new(store),
                    prefix: ObjectPath::default(),
                    base_uri: format!("file://{}", dir.display())
                        .trim_end_matches('/')
                        .into(),
                })
            }
            "s3" => Self::s3(&parsed).map_err(|reason| bad(&reason)),
            other => Err(bad(&format!("unsupported scheme {other:?}"))),
        }
    }

    fn s3(url: &url::Url) -> Result<Self, String> {
        let bucket = url.host_str().ok_or("missing bucket name")?;
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        for (key, value) in url.query_pairs() {
            builder = match key.as_ref() {
                "region" => builder.with_region(value.as_ref()),
                "endpoint" => builder
                    .with_allow_http(value.starts_with("http://"))
                    .with_endpoint(value.as_ref()),
                other => return Err(format!("unknown query parameter {other:?}")),
            };
        }
        let store = builder.build().map_err(|e| e.to_string())?;
        let prefix = url.path().trim_matches('/');
        let prefix = ObjectPath::parse(prefix).map_err(|e| e.to_string())?;
        let base_uri = match prefix.as_ref() {
            "" => format!("s3://{bucket}"),
            p => format!("s3://{bucket}/{p}"),
        };
        Ok(Self {
            sent: Arc::default(),
            store: Arc::new(store),
            prefix,
            base_uri,
        })
    }

    /// The store an output URI (as returned by [`Self::put_dir`]) lives in.
    /// For S3, credentials, region and endpoint come from the environment.
    pub fn for_output(uri: &str) -> Result<Self, StoreError> {
        let base = uri
            .rfind("/jobs/")
            .map(|i| &uri[..i])
            .ok_or_else(|| StoreError::BadUrl {
                url: uri.to_string(),
                reason: "not an AKE output URI (no /jobs/<job>/<root>)".into(),
            })?;
        Self::from_url(base)
    }

    pub fn base_uri(&self) -> &str {
        &self.base_uri
    }

    /// Uploads the files listed in `manifest` from `dir`, then the manifest. Returns the URI
    /// of the upload. Idempotent and resumable: a complete upload of the same root is not
    /// repeated, and files a cut-short one stored are not sent again. A file `staged`
    /// while the job ran with the committed hash is moved into place, not sent again.
    pub async fn put_dir(
        &self,
        job_id: &str,
        dir: &Path,
        manifest: &OutputManifest,
        staged: &Staged,
    ) -> Result<String, StoreError> {
        let root = manifest.root_hex();
        let location = self
            .prefix
            .clone()
            .join("jobs")
            .join(job_id)
            .join(root.as_str());
        let uri = format!("{}/jobs/{job_id}/{root}", self.base_uri);
        let manifest_path = location.clone().join(MANIFEST_OBJECT);
        if self.store.head(&manifest_path).await.is_ok() {
            tracing::info!(%uri, "outputs already uploaded");
            return Ok(uri);
        }
        // Several files at once; a file already stored at its size (an
        // upload cut short by a restart) is not sent again: its key is
        // under the root, which commits to its content, and a store only
        // shows an object once it is whole.
        let files = location.clone().join("files");
        // Boxed: a stream of borrowing futures is otherwise not provably
        // Send (rust-lang/rust#102211) and the daemon runs on a spawned task.
        let uploads = manifest.files.iter().map(|file| {
            let target = object_path(&files, &file.path);
            let upload: futures_util::future::BoxFuture<'_, Result<bool, StoreError>> =
                Box::pin(async move {
                    let relative = safe_relative_path(&file.path)?;
                    if self.stored_at_size(&target, file.size).await
                        || self.move_staged(job_id, staged, file, &target).await
                    {
                        return Ok(false);
                    }
                    self.upload_file(&dir.join(relative), &target, file.size)
                        .await
                        .map(|()| true)
                });
            upload
        });
        let uploads: Vec<_> = uploads.collect();
        let mut uploads = futures_util::stream::iter(uploads).buffer_unordered(FILES_IN_FLIGHT);
        let mut skipped = 0usize;
        while let Some(sent) = uploads.next().await {
            skipped += usize::from(!sent?);
        }
        if skipped > 0 {
            tracing::info!(
                skipped,
                "files stored by an earlier attempt or while the job ran were not sent again"
            );
        }
        self.store
            .put(&manifest_path, PutPayload::from(manifest.to_json()))
            .await
            .map_err(store_err(format!("writing {manifest_path}")))?;
        Ok(uri)
    }

    async fn stored_at_size(&self, target: &ObjectPath, size: u64) -> bool {
        self.store
            .head(target)
            .await
            .is_ok_and(|meta| meta.size == size)
    }

    /// (bytes, files) sent so far.
    pub fn sent(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::SeqCst;
        (self.sent.0.load(SeqCst), self.sent.1.load(SeqCst))
    }

    async fn upload_file(
        &self,
        source: &Path,
        target: &ObjectPath,
        size: u64,
    ) -> Result<(), StoreError> {
        self.send_file(source, target, size).await?;
        use std::sync::atomic::Ordering::SeqCst;
        self.sent.0.fetch_add(size, SeqCst);
        self.sent.1.fetch_add(1, SeqCst);
        Ok(())
    }

    async fn send_file(
        &self,
        source: &Path,
        target: &ObjectPath,
        size: u64,
    ) -> Result<(), StoreError> {
        let file = tokio::fs::File::open(source)
            .await
            .map_err(io_err(source))?;
        self.send_open(file, source, target, size, None)
            .await
            .map(drop)
    }

    /// Sends the first `size` bytes of the open `file`; with `hasher`, hashes
    /// exactly the bytes sent. Returns how many were sent.
    async fn send_open(
        &self,
        file: tokio::fs::File,
        source: &Path,
        target: &ObjectPath,
        size: u64,
        mut hasher: Option<&mut sha2::Sha256>,
    ) -> Result<u64, StoreError> {
        let mut file = file.take(size);
        if size <= MULTIPART_THRESHOLD {
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes).await.map_err(io_err(source))?;
            if let Some(hasher) = hasher {
                hasher.update(&bytes);
            }
            let sent = bytes.len() as u64;
            self.store
                .put(target, PutPayload::from(bytes))
                .await
                .map_err(store_err(format!("uploading {target}")))?;
            return Ok(sent);
        }
        let upload = self
            .store
            .put_multipart(target)
            .await
            .map_err(store_err(format!("starting upload of {target}")))?;
        let mut guard = AbortOnDrop(Some(WriteMultipart::new_with_chunk_size(upload, PART_SIZE)));
        let writer = guard.0.as_mut().expect("just set");
        let mut sent = 0u64;
        let mut buf = vec![0u8; 1 << 20];
        let copied: Result<(), StoreError> = async {
            loop {
                let n = file.read(&mut buf).await.map_err(io_err(source))?;
                if n == 0 {
                    return Ok(());
                }
                writer
                    .wait_for_capacity(PARTS_IN_FLIGHT)
                    .await
                    .map_err(store_err(format!("uploading {target}")))?;
                if let Some(hasher) = hasher.as_mut() {
                    hasher.update(&buf[..n]);
                }
                writer.write(&buf[..n]);
                sent += n as u64;
            }
        }
        .await;
        copied?;
        let writer = guard.0.take().expect("still set");
        writer
            .finish()
            .await
            .map(|_| sent)
            .map_err(store_err(format!("completing upload of {target}")))
    }

    /// Uploads the job's captured stdout and stderr next to its files (under
    /// `logs/`), so the creator can read what the job printed; their hashes
    /// are committed facts of the manifest. Call before [`Self::put_dir`],
    /// whose manifest marks the upload complete.
    pub async fn put_logs(
        &self,
        job_id: &str,
        manifest: &OutputManifest,
        work_dir: &Path,
    ) -> Result<(), StoreError> {
        let location = self
            .prefix
            .clone()
            .join("jobs")
            .join(job_id)
            .join(manifest.root_hex())
            .join("logs");
        for name in LOG_FILES {
            let source = work_dir.join(name);
            let size = tokio::fs::metadata(&source)
                .await
                .map_err(io_err(&source))?
                .len();
            self.upload_file(&source, &location.clone().join(name), size)
                .await?;
        }
        Ok(())
    }

    /// The store path of a job's live logs.
    fn live(&self, job_id: &str) -> ObjectPath {
        self.prefix.clone().join("jobs").join(job_id).join("live")
    }

    /// Where a job's live logs go while it runs: `<base>/jobs/<job>/live`.
    pub fn live_logs_uri(&self, job_id: &str) -> String {
        format!("{}/jobs/{job_id}/live", self.base_uri)
    }

    /// Uploads what the job printed so far under its live logs location,
    /// replacing the last upload (each log is whole up to the daemon's cap,
    /// so a reader knows what it already saw by its length).
    pub async fn put_live_logs(
        &self,
        job_id: &str,
        stdout: &[u8],
        stderr: &[u8],
    ) -> Result<(), StoreError> {
        let location = self.live(job_id);
        for (name, bytes) in LOG_FILES.into_iter().zip([stdout, stderr]) {
            let path = location.clone().join(name);
            self.store
                .put(&path, PutPayload::from(bytes.to_vec()))
                .await
                .map_err(store_err(format!("writing {path}")))?;
        }
        Ok(())
    }

    /// Deletes a job's live logs: its attempt is over here, and its result
    /// (if any) commits the whole logs. Failures are only logged: a few
    /// MiB are left behind.
    pub async fn drop_live_logs(&self, job_id: &str) {
        let location = self.live(job_id);
        for name in LOG_FILES {
            let path = location.clone().join(name);
            match self.store.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => tracing::warn!("could not delete the live log {path}: {e}"),
            }
        }
    }

    /// A live log (`stdout.log` or `stderr.log`) as last uploaded: the
    /// node's word, which nothing verifies until the result commits the
    /// whole log. Empty when nothing was uploaded yet.
    pub async fn fetch_live_log(&self, uri: &str, name: &str) -> Result<Vec<u8>, StoreError> {
        if !LOG_FILES.contains(&name) {
            return Err(StoreError::ForeignUri {
                uri: format!("{uri}/{name}"),
                base: self.base_uri.clone(),
            });
        }
        let path = self.job_location(uri, |last| last == "live")?.join(name);
        match self
            .read_object(&path, "the live log", MAX_LIVE_LOG_BYTES)
            .await
        {
            Err(StoreError::Store {
                source: object_store::Error::NotFound { .. },
                ..
            }) => Ok(Vec::new()),
            got => Ok(got?.to_vec()),
        }
    }

    /// Writes a small object under `canary/<name>`, reads it back and
    /// deletes it: proof that the node's credentials can publish results
    /// before it takes a job whose result it must publish.
    pub async fn canary(&self, name: &str) -> Result<(), StoreError> {
        let path = self.prefix.clone().join("canary").join(name);
        let written = format!("ake-node canary {name} {:?}", std::time::SystemTime::now());
        self.store
            .put(&path, PutPayload::from(written.clone().into_bytes()))
            .await
            .map_err(store_err(format!("writing {path}")))?;
        let read = self.read_object(&path, "the canary", 4096).await?;
        if read.as_ref() != written.as_bytes() {
            return Err(OutputError::FileMismatch {
                path: path.to_string(),
                problem: "reads back other bytes than were written".into(),
            }
            .into());
        }
        // Left behind, it is a few bytes; the next canary overwrites it.
        let _ = self.store.delete(&path).await;
        Ok(())
    }

    /// A whole object's bytes, refused past `max` before any is read: the
    /// URI came from someone else, and so did the object's size.
    async fn read_object(
        &self,
        path: &ObjectPath,
        what: &'static str,
        max: u64,
    ) -> Result<bytes::Bytes, StoreError> {
        let got = self
            .store
            .get(path)
            .await
            .map_err(store_err(format!("reading {path}")))?;
        let size = got.meta.size;
        if size > max {
            return Err(StoreError::TooLarge {
                what,
                path: path.to_string(),
                size,
                max,
            });
        }
        got.bytes()
            .await
            .map_err(store_err(format!("reading {path}")))
    }

    /// The manifest of an upload, checked against the root its URI names.
    async fn manifest_at(&self, uri: &str) -> Result<(ObjectPath, OutputManifest), StoreError> {
        let location = self.location_of(uri)?;
        let bytes = self
            .read_object(
                &location.clone().join(MANIFEST_OBJECT),
                "the manifest",
                MAX_MANIFEST_BYTES,
            )
            .await?;
        let manifest =
            OutputManifest::from_json(&bytes).map_err(|source| StoreError::BadManifest {
                uri: uri.to_string(),
                source,
            })?;
        let root = location.filename().unwrap_or_default();
        if !manifest.root_hex().eq_ignore_ascii_case(root) {
            return Err(OutputError::FileMismatch {
                path: MANIFEST_OBJECT.into(),
                problem: format!(
                    "hashes to root {}, its URI says {root}",
                    manifest.root_hex()
                ),
            }
            .into());
        }
        Ok((location, manifest))
    }

    /// One of the job's logs (`stdout.log` or `stderr.log`), checked against
    /// the hash the manifest commits to.
    pub async fn fetch_log(&self, uri: &str, name: &str) -> Result<Vec<u8>, StoreError> {
        let (location, manifest) = self.manifest_at(uri).await?;
        let expected = match name {
            "stdout.log" => manifest.facts.stdout_sha256,
            "stderr.log" => manifest.facts.stderr_sha256,
            other => {
                return Err(StoreError::ForeignUri {
                    uri: format!("{uri}/logs/{other}"),
                    base: self.base_uri.clone(),
                })
            }
        };
        let bytes = self
            .read_object(&location.join("logs").join(name), "the log", MAX_LOG_BYTES)
            .await?;
        let got: [u8; 32] = sha2::Sha256::digest(&bytes).into();
        if got != expected {
            return Err(OutputError::FileMismatch {
                path: format!("logs/{name}"),
                problem: format!(
                    "has sha256 {}, the manifest says {}",
                    hex::encode(got),
                    hex::encode(expected)
                ),
            }
            .into());
        }
        Ok(bytes.to_vec())
    }

    /// Downloads an upload made by [`Self::put_dir`] into `dest` and verifies every file
    /// against the manifest and the root in the URI. Returns the manifest.
    pub async fn fetch_dir(&self, uri: &str, dest: &Path) -> Result<OutputManifest, StoreError> {
        self.fetch_dir_within(uri, dest, u64::MAX).await
    }

    /// As [`Self::fetch_dir`], refusing before any file is fetched when the
    /// manifest lists more than `max_bytes`, and each file as soon as it
    /// grows past the size the manifest gives it.
    pub async fn fetch_dir_within(
        &self,
        uri: &str,
        dest: &Path,
        max_bytes: u64,
    ) -> Result<OutputManifest, StoreError> {
        let (location, manifest) = self.manifest_at(uri).await?;
        let root = location.filename().unwrap_or_default().to_string();
        if manifest.total_bytes() > max_bytes {
            return Err(StoreError::TooLarge {
                what: "the outputs",
                path: uri.to_string(),
                size: manifest.total_bytes(),
                max: max_bytes,
            });
        }
        // A run may commit no files at all: the directory still exists.
        tokio::fs::create_dir_all(dest)
            .await
            .map_err(io_err(dest))?;
        for file in &manifest.files {
            let target = dest.join(safe_relative_path(&file.path)?);
            let source = object_path(&location.clone().join("files"), &file.path);
            self.download_file(&source, &target, file.size).await?;
        }
        verify(dest, &manifest, &root).await?;
        Ok(manifest)
    }

    /// Streams `source` to `target`, stopping once it is longer than `size`.
    async fn download_file(
        &self,
        source: &ObjectPath,
        target: &Path,
        size: u64,
    ) -> Result<(), StoreError> {
        if let Some(parent) = target.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(io_err(parent))?;
        }
        let mut stream = self
            .store
            .get(source)
            .await
            .map_err(store_err(format!("downloading {source}")))?
            .into_stream();
        let mut file = tokio::fs::File::create(target)
            .await
            .map_err(io_err(target))?;
        let mut written = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(store_err(format!("downloading {source}")))?;
            written = written.saturating_add(chunk.len() as u64);
            if written > size {
                return Err(OutputError::FileMismatch {
                    path: source.to_string(),
                    problem: format!("is longer than the {size} bytes the manifest lists"),
                }
                .into());
            }
            file.write_all(&chunk).await.map_err(io_err(target))?;
        }
        file.flush().await.map_err(io_err(target))
    }

    /// Where a result's outputs are (`<base>/jobs/<job>/<root hex>`).
    fn location_of(&self, uri: &str) -> Result<ObjectPath, StoreError> {
        self.job_location(uri, |last| last.len() == 64)
    }

    /// The store path of `uri`, which must be `<base>/jobs/<job>/<last>`
    /// with `last` accepted by `fits`.
    fn job_location(
        &self,
        uri: &str,
        fits: impl Fn(&str) -> bool,
    ) -> Result<ObjectPath, StoreError> {
        let foreign = || StoreError::ForeignUri {
            uri: uri.to_string(),
            base: self.base_uri.clone(),
        };
        let relative = uri
            .strip_prefix(&self.base_uri)
            .and_then(|rest| rest.strip_prefix('/'))
            .ok_or_else(foreign)?;
        match relative.split('/').collect::<Vec<_>>()[..] {
            ["jobs", job, last] if !job.is_empty() && fits(last) => {
                Ok(self.prefix.clone().join("jobs").join(job).join(last))
            }
            _ => Err(foreign()),
        }
    }
}

/// A multipart upload that did not finish is aborted, also when its
/// future is dropped (staging stops when the run ends): S3 would otherwise
/// keep, and bill, its parts.
struct AbortOnDrop(Option<WriteMultipart>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        let (Some(writer), Ok(runtime)) = (self.0.take(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        runtime.spawn(async move {
            if let Err(e) = writer.abort().await {
                tracing::warn!("could not abort an unfinished upload: {e}");
            }
        });
    }
}

/// Object path of a manifest path (already checked by `safe_relative_path`).
fn object_path(base: &ObjectPath, relative: &str) -> ObjectPath {
    relative
        .split('/')
        .fold(base.clone(), |path, part| path.join(part))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outputs::{RunFacts, UsageReceipt};

    /// Uploads `out` as job-1's outputs, nothing staged.
    async fn put_all(store: &OutputStore, out: &Path, manifest: &OutputManifest) -> String {
        store
            .put_dir("job-1", out, manifest, &Staged::default())
            .await
            .unwrap()
    }

    pub(super) fn facts() -> RunFacts {
        RunFacts {
            stdout_sha256: [1; 32],
            stderr_sha256: [2; 32],
            image_digest: "sha256:abc".into(),
            spec_hash: "00".repeat(32),
            exit_code: 0,
            usage: UsageReceipt::default(),
        }
    }

    #[test]
    fn urls_are_parsed_or_rejected_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("file://{}/store", dir.path().display());
        let store = OutputStore::from_url(&url).unwrap();
        assert_eq!(store.base_uri(), url);
        assert!(dir.path().join("store").is_dir());

        let s3 = OutputStore::from_url(
            "s3://bucket/some/prefix?region=eu-west-1&endpoint=http://127.0.0.1:9",
        )
        .unwrap();
        assert_eq!(s3.base_uri(), "s3://bucket/some/prefix");

        for bad in [
            "gs://bucket",
            "file://relative",
            "s3://bucket?color=red",
            "not a url",
        ] {
            let err = OutputStore::from_url(bad).unwrap_err();
            assert!(matches!(err, StoreError::BadUrl { .. }), "{bad}: {err}");
        }
    }

    #[tokio::test]
    async fn an_upload_cut_short_resumes_without_sending_stored_files_again() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        std::fs::create_dir_all(&out).unwrap();
        for i in 0..20 {
            std::fs::write(out.join(format!("frame-{i:02}.png")), [i as u8; 1000]).unwrap();
        }
        let manifest = OutputManifest::build(&out, facts(), crate::outputs::OutputLimits::NONE)
            .await
            .unwrap();
        let store =
            OutputStore::from_url(&format!("file://{}", tmp.path().join("store").display()))
                .unwrap();
        let uri = put_all(&store, &out, &manifest).await;
        // Cut short before the manifest (the completion mark), and one file
        // never arrived.
        let stored = tmp
            .path()
            .join("store/jobs/job-1")
            .join(manifest.root_hex());
        std::fs::remove_file(stored.join(MANIFEST_OBJECT)).unwrap();
        std::fs::remove_file(stored.join("files/frame-07.png")).unwrap();
        // Stored files are not sent again: the source of one changed (same
        // size) and its stored copy stays as it was.
        std::fs::write(out.join("frame-03.png"), [0xee; 1000]).unwrap();
        assert_eq!(put_all(&store, &out, &manifest).await, uri);
        assert_eq!(
            std::fs::read(stored.join("files/frame-03.png")).unwrap(),
            [3; 1000]
        );
        // The missing one was, and the whole upload verifies.
        let fetched = store
            .fetch_dir(&uri, &tmp.path().join("dest"))
            .await
            .unwrap();
        assert_eq!(fetched, manifest);
    }

    #[tokio::test]
    async fn local_round_trip_is_idempotent_and_verified() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        std::fs::create_dir_all(out.join("nested")).unwrap();
        std::fs::write(out.join("a.txt"), b"alpha").unwrap();
        // Above the multipart threshold, to exercise the streaming path.
        let big: Vec<u8> = (0..MULTIPART_THRESHOLD + 12_345)
            .map(|i| (i % 251) as u8)
            .collect();
        std::fs::write(out.join("nested/big.bin"), &big).unwrap();
        let manifest = OutputManifest::build(&out, facts(), crate::outputs::OutputLimits::NONE)
            .await
            .unwrap();

        let store =
            OutputStore::from_url(&format!("file://{}", tmp.path().join("store").display()))
                .unwrap();
        let uri = put_all(&store, &out, &manifest).await;
        assert_eq!(
            uri,
            format!("{}/jobs/job-1/{}", store.base_uri(), manifest.root_hex())
        );
        assert_eq!(put_all(&store, &out, &manifest).await, uri);

        let dest = tmp.path().join("dest");
        let fetched = store.fetch_dir(&uri, &dest).await.unwrap();
        assert_eq!(fetched, manifest);
        assert_eq!(std::fs::read(dest.join("nested/big.bin")).unwrap(), big);
        assert_eq!(std::fs::read(dest.join("a.txt")).unwrap(), b"alpha");

        let stored = tmp
            .path()
            .join("store/jobs/job-1")
            .join(manifest.root_hex())
            .join("files/a.txt");
        std::fs::write(&stored, b"tampered").unwrap();
        let err = store
            .fetch_dir(&uri, &tmp.path().join("dest2"))
            .await
            .unwrap_err();
        // Longer than listed: stopped as soon as it passed its size.
        assert!(
            err.to_string().contains("a.txt is longer than the 5 bytes"),
            "{err}"
        );
        std::fs::write(&stored, b"alphA").unwrap();
        let err = store
            .fetch_dir(&uri, &tmp.path().join("dest3"))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("a.txt has"), "{err}");

        let err = store
            .fetch_dir("s3://elsewhere/jobs/x/y", &dest)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::ForeignUri { .. }), "{err}");
    }
}
