//! Fetching a job's inputs (and remote specs) and checking each against the
//! sha256 the spec committed to, before the container sees any of them.
//!
//! A creator chooses the URLs, so every fetch is hostile until proven
//! otherwise: only http(s) (file:// only where the operator switched it on
//! for tests), never to loopback, link-local or private addresses unless the
//! operator allows them (checked on every connection, redirects and DNS
//! answers included), bounded in time and in bytes, streamed to a temporary
//! file while hashing and renamed into place only once verified.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

/// What the operator lets a job's URLs reach, and how much.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InputPolicy {
    /// Largest single input (or remote spec), bytes.
    pub max_bytes: u64,
    /// Largest sum of one job's inputs, bytes: the work dir keeps this much
    /// free (with `max_output_bytes`) before the node takes a job.
    pub max_total_bytes: u64,
    /// Seconds to wait for a connection.
    pub connect_timeout_secs: u64,
    /// Seconds without a byte before a download is abandoned.
    pub read_timeout_secs: u64,
    /// Seconds one download may take in all (retries included).
    pub total_timeout_secs: u64,
    /// Lets URLs reach loopback, link-local and private addresses (a lab,
    /// or the tests): off, a job could read the operator's own network.
    pub allow_private_networks: bool,
    /// Accepts file:// URLs (tests only): any host file could be asked for.
    pub allow_file_urls: bool,
}

impl Default for InputPolicy {
    fn default() -> Self {
        Self {
            max_bytes: 10 << 30,
            max_total_bytes: 20 << 30,
            connect_timeout_secs: 10,
            read_timeout_secs: 30,
            total_timeout_secs: 600,
            allow_private_networks: false,
            allow_file_urls: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("input {url}: sha256 is {got}, the job spec says {expected}; refusing to run it")]
    HashMismatch {
        url: String,
        expected: String,
        got: String,
    },
    #[error("input {url}: {reason}")]
    Fetch {
        url: String,
        reason: String,
        retryable: bool,
    },
}

impl InputError {
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            InputError::Fetch {
                retryable: true,
                ..
            }
        )
    }
}

/// The file name an input gets under /ake/input: the last path segment.
pub fn input_name(url: &str, index: usize) -> String {
    let last = url
        .rsplit('/')
        .next()
        .unwrap_or("")
        .split(['?', '#'])
        .next()
        .unwrap_or("");
    let safe: String = last
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "._-".contains(*c))
        .collect();
    if safe.is_empty() || safe.starts_with('.') {
        format!("input-{index}")
    } else {
        safe
    }
}

/// Addresses a job must not reach without the operator's leave: the host
/// itself, its LAN, cloud metadata (169.254.169.254) and the like.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || a == 0
                || a >= 240 // reserved
                || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
                || (a == 198 && (18..20).contains(&b)) // benchmarking
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link local
                || v6.to_ipv4_mapped().is_some_and(|v4| is_private(IpAddr::V4(v4)))
                || first == 0x2002 // 6to4 may carry any IPv4 address
                || v6.segments()[..6] == [0x64, 0xff9b, 0, 0, 0, 0] // NAT64
        }
    }
}

/// Resolves names, then refuses private answers: checked at connect time,
/// so a DNS answer that changes after a first check (rebinding) is caught.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let public: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| !is_private(a.ip()))
                .collect();
            if public.is_empty() {
                return Err(format!(
                    "{host} resolves only to loopback/private/link-local addresses, which \
                     inputs.allow_private_networks forbids"
                )
                .into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

fn literal_private(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => is_private(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => is_private(IpAddr::V6(ip)),
        _ => false,
    }
}

/// Fetches URLs under one policy.
#[derive(Clone)]
pub struct Fetcher {
    policy: InputPolicy,
    client: reqwest::Client,
}

impl Fetcher {
    pub fn new(policy: InputPolicy) -> Result<Self, reqwest::Error> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(policy.connect_timeout_secs))
            .read_timeout(Duration::from_secs(policy.read_timeout_secs))
            // A proxy would resolve names where the check cannot see them.
            .no_proxy();
        if !policy.allow_private_networks {
            builder = builder.dns_resolver(Arc::new(PublicOnly)).redirect(
                reqwest::redirect::Policy::custom(|attempt| {
                    if attempt.previous().len() >= 5 {
                        attempt.error("more than 5 redirects")
                    } else if literal_private(attempt.url()) {
                        attempt.error("redirect to a private address")
                    } else {
                        attempt.follow()
                    }
                }),
            );
        }
        Ok(Self {
            policy,
            client: builder.build()?,
        })
    }

    pub fn policy(&self) -> &InputPolicy {
        &self.policy
    }

    /// Downloads `url` to `target` if it is not already there, verified:
    /// streamed to `<target>.part` while hashing, renamed only when the hash
    /// is `expected`. A verified file is never downloaded again.
    pub async fn fetch_to(
        &self,
        url: &str,
        expected: &[u8; 32],
        target: &Path,
        until: Instant,
        max_bytes: u64,
    ) -> Result<(), InputError> {
        if file_sha256(target).await.as_ref() == Some(expected) {
            return Ok(());
        }
        // Hidden: no input name starts with a dot, so none can collide with it.
        let name = target.file_name().unwrap_or_default().to_string_lossy();
        let part = target.with_file_name(format!(".{name}.part"));
        let got = self.download(url, &part, until, max_bytes).await?;
        if got != *expected {
            let _ = tokio::fs::remove_file(&part).await;
            return Err(InputError::HashMismatch {
                url: url.into(),
                expected: hex::encode(expected),
                got: hex::encode(got),
            });
        }
        tokio::fs::rename(&part, target)
            .await
            .map_err(|e| fetch_err(url, format!("cannot move into place: {e}"), true))
    }

    /// One download with its retries, bounded by `total_timeout_secs` and
    /// by `until` (the caller's own limit).
    async fn download(
        &self,
        url: &str,
        part: &Path,
        until: Instant,
        max_bytes: u64,
    ) -> Result<[u8; 32], InputError> {
        let parsed =
            url::Url::parse(url).map_err(|e| fetch_err(url, format!("not a URL: {e}"), false))?;
        match parsed.scheme() {
            "http" | "https" => {}
            "file" if self.policy.allow_file_urls => {
                return self.copy_file(url, &parsed, part, max_bytes).await
            }
            "file" => {
                return Err(fetch_err(
                    url,
                    "file:// inputs are refused (they could read any host file); use https".into(),
                    false,
                ))
            }
            other => {
                return Err(fetch_err(
                    url,
                    format!(
                        "scheme {other}:// is not supported; inputs are fetched over https or http"
                    ),
                    false,
                ))
            }
        }
        if !self.policy.allow_private_networks && literal_private(&parsed) {
            return Err(fetch_err(
                url,
                "points at a loopback/private/link-local address, which \
                 inputs.allow_private_networks forbids"
                    .into(),
                false,
            ));
        }
        let end = until.min(Instant::now() + Duration::from_secs(self.policy.total_timeout_secs));
        let mut backoff = Duration::from_secs(1);
        loop {
            match self.attempt(url, part, end, max_bytes).await {
                Err(e) if e.is_retryable() && Instant::now() + backoff < end => {
                    tracing::warn!("{e}; retrying in {backoff:?}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
                other => return other,
            }
        }
    }

    async fn attempt(
        &self,
        url: &str,
        part: &Path,
        end: Instant,
        max: u64,
    ) -> Result<[u8; 32], InputError> {
        let left = end.saturating_duration_since(Instant::now());
        let request = self.client.get(url).timeout(left).send();
        let mut resp = request.await.map_err(|e| request_err(url, e))?;
        let status = resp.status();
        if !status.is_success() {
            // 408, 429 and 5xx may pass; anything else is the creator's URL.
            let transient =
                status.as_u16() == 408 || status.as_u16() == 429 || status.is_server_error();
            return Err(fetch_err(url, format!("HTTP {status}"), transient));
        }
        if resp.content_length().is_some_and(|n| n > max) {
            return Err(too_big(url, max));
        }
        let mut file = tokio::fs::File::create(part)
            .await
            .map_err(|e| fetch_err(url, format!("cannot write {}: {e}", part.display()), true))?;
        let mut hasher = Sha256::new();
        let mut total = 0u64;
        while let Some(chunk) = resp.chunk().await.map_err(|e| request_err(url, e))? {
            total = total.saturating_add(chunk.len() as u64);
            if total > max {
                drop(file);
                let _ = tokio::fs::remove_file(part).await;
                return Err(too_big(url, max));
            }
            hasher.update(&chunk);
            file.write_all(&chunk).await.map_err(|e| {
                fetch_err(url, format!("cannot write {}: {e}", part.display()), true)
            })?;
        }
        file.sync_all()
            .await
            .map_err(|e| fetch_err(url, format!("cannot write {}: {e}", part.display()), true))?;
        Ok(hasher.finalize().into())
    }

    async fn copy_file(
        &self,
        url: &str,
        parsed: &url::Url,
        part: &Path,
        max_bytes: u64,
    ) -> Result<[u8; 32], InputError> {
        let path = parsed
            .to_file_path()
            .map_err(|_| fetch_err(url, "not a file path".into(), false))?;
        let meta = tokio::fs::metadata(&path)
            .await
            .map_err(|e| fetch_err(url, e.to_string(), false))?;
        if !meta.is_file() || meta.len() > max_bytes {
            return Err(too_big(url, max_bytes));
        }
        tokio::fs::copy(&path, part)
            .await
            .map_err(|e| fetch_err(url, e.to_string(), false))?;
        file_sha256(part)
            .await
            .ok_or_else(|| fetch_err(url, "copied file unreadable".into(), true))
    }

    /// Downloads every input into `dir` (named by [`input_name`]) and checks
    /// its hash; returns `dir`.
    pub async fn fetch_inputs(
        &self,
        inputs: &[(String, [u8; 32])],
        dir: &Path,
        until: Instant,
    ) -> Result<PathBuf, InputError> {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| fetch_err(&dir.display().to_string(), e.to_string(), true))?;
        let mut names = std::collections::HashSet::new();
        let mut fetched = 0u64;
        for (i, (url, expected)) in inputs.iter().enumerate() {
            // Two URLs ending in the same name must not overwrite each other.
            let mut name = input_name(url, i);
            if !names.insert(name.clone()) {
                name = format!("input-{i}-{name}");
                names.insert(name.clone());
            }
            let left = self.policy.max_total_bytes.saturating_sub(fetched);
            let max = self.policy.max_bytes.min(left);
            let path = dir.join(name);
            self.fetch_to(url, expected, &path, until, max).await?;
            let size = tokio::fs::metadata(&path).await.map_or(0, |m| m.len());
            fetched = fetched.saturating_add(size);
        }
        Ok(dir.to_path_buf())
    }
}

fn fetch_err(url: &str, reason: String, retryable: bool) -> InputError {
    InputError::Fetch {
        url: url.into(),
        reason,
        retryable,
    }
}

fn too_big(url: &str, max: u64) -> InputError {
    fetch_err(
        url,
        format!("larger than {max} bytes (what the node's inputs.max_bytes, and max_total_bytes for all of a job's inputs, leave for it); not fetched"),
        false,
    )
}

/// A refused connection to a private address is the URL's fault; a timeout
/// or a reset may pass.
fn request_err(url: &str, e: reqwest::Error) -> InputError {
    let refused_by_policy = std::error::Error::source(&e).is_some_and(|s| {
        let text = format!("{s:?}");
        text.contains("allow_private_networks") || text.contains("redirect to a private")
    });
    let retryable = !refused_by_policy && !e.is_redirect() && !e.is_builder();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    fetch_err(url, text, retryable)
}

/// The sha256 of a file, or None when it cannot be read.
async fn file_sha256(path: &Path) -> Option<[u8; 32]> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut file = std::fs::File::open(path).ok()?;
        let mut hasher = Sha256::new();
        std::io::copy(&mut file, &mut hasher).ok()?;
        Some(hasher.finalize().into())
    })
    .await
    .ok()
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            input_name("https://x/a/prompts.jsonl?sig=1", 0),
            "prompts.jsonl"
        );
        assert_eq!(input_name("https://x/", 3), "input-3");
        assert_eq!(input_name("file:///etc/../..", 1), "input-1");
    }

    #[test]
    fn private_ranges() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "198.18.0.1",
            "240.0.0.1",
            "64:ff9b::7f00:1",
            "2002:7f00:1::1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["1.1.1.1", "8.8.8.8", "2606:4700::1111"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(30)
    }

    fn fetcher(policy: InputPolicy) -> Fetcher {
        Fetcher::new(policy).unwrap()
    }

    #[tokio::test]
    async fn file_urls_are_refused_unless_switched_on() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("data.bin");
        std::fs::write(&src, b"hello").unwrap();
        let url = format!("file://{}", src.display());
        let good: [u8; 32] = Sha256::digest(b"hello").into();
        let err = fetcher(InputPolicy::default())
            .fetch_inputs(&[(url.clone(), good)], &dir.path().join("in0"), soon())
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("file:// inputs are refused"),
            "{err}"
        );
        assert!(!err.is_retryable());
        let open = fetcher(InputPolicy {
            allow_file_urls: true,
            ..Default::default()
        });
        let out = open
            .fetch_inputs(&[(url.clone(), good)], &dir.path().join("in"), soon())
            .await
            .unwrap();
        assert_eq!(std::fs::read(out.join("data.bin")).unwrap(), b"hello");
        let err = open
            .fetch_inputs(&[(url, [0; 32])], &dir.path().join("in2"), soon())
            .await
            .unwrap_err();
        assert!(matches!(err, InputError::HashMismatch { .. }), "{err}");
        assert!(!err.is_retryable());
        assert!(
            !dir.path().join("in2/data.bin").exists()
                && !dir.path().join("in2/.data.bin.part").exists(),
            "nothing unverified is left where the job could see it"
        );
    }

    #[tokio::test]
    async fn same_names_never_overwrite_and_caps_hold() {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["a", "b"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
            std::fs::write(dir.path().join(sub).join("data.bin"), sub).unwrap();
        }
        let url = |sub: &str| format!("file://{}/{sub}/data.bin", dir.path().display());
        let hash = |b: &[u8]| -> [u8; 32] { Sha256::digest(b).into() };
        let open = fetcher(InputPolicy {
            allow_file_urls: true,
            ..Default::default()
        });
        let inputs = [(url("a"), hash(b"a")), (url("b"), hash(b"b"))];
        let out = open
            .fetch_inputs(&inputs, &dir.path().join("in"), soon())
            .await
            .unwrap();
        assert_eq!(std::fs::read(out.join("data.bin")).unwrap(), b"a");
        assert_eq!(std::fs::read(out.join("input-1-data.bin")).unwrap(), b"b");
        let err = open
            .fetch_to(&url("a"), &hash(b"a"), &dir.path().join("x"), soon(), 0)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("larger than 0 bytes"), "{err}");
    }

    #[tokio::test]
    async fn private_addresses_and_other_schemes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = fetcher(InputPolicy::default());
        for url in [
            "http://127.0.0.1:9/x",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/x",
            "http://localhost:9/x",
            "ftp://example.com/x",
            "s3://bucket/key",
        ] {
            let err = f
                .fetch_to(url, &[0; 32], &dir.path().join("x"), soon(), 1 << 20)
                .await
                .unwrap_err();
            assert!(!err.is_retryable(), "{url}: {err}");
        }
    }
}
