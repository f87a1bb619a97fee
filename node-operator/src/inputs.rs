//! Fetching a job's inputs and checking each against the sha256 the spec
//! committed to, before the container sees any of them.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

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

async fn fetch(url: &str) -> Result<Vec<u8>, InputError> {
    let fail = |reason: String, retryable: bool| InputError::Fetch {
        url: url.into(),
        reason,
        retryable,
    };
    if let Some(path) = url.strip_prefix("file://") {
        return tokio::fs::read(path)
            .await
            .map_err(|e| fail(e.to_string(), false));
    }
    if url.starts_with("http://") || url.starts_with("https://") {
        // Bounded: an input that never ends or a server that never answers
        // must not hold the job past its free hand-back window.
        let client = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(120))
            .build()
            .map_err(|e| fail(e.to_string(), false))?;
        let resp = client
            .get(url)
            .send()
            .await
            .map_err(|e| fail(e.to_string(), true))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(fail(format!("HTTP {status}"), status.is_server_error()));
        }
        return resp
            .bytes()
            .await
            .map(|b| b.to_vec())
            .map_err(|e| fail(e.to_string(), true));
    }
    Err(fail("unsupported scheme (http, https, file)".into(), false))
}

/// Downloads every input into `dir` and checks its hash; returns `dir`.
pub async fn fetch_inputs(
    inputs: &[(String, [u8; 32])],
    dir: &Path,
) -> Result<PathBuf, InputError> {
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| InputError::Fetch {
            url: dir.display().to_string(),
            reason: e.to_string(),
            retryable: true,
        })?;
    for (i, (url, expected)) in inputs.iter().enumerate() {
        let bytes = fetch(url).await?;
        let got: [u8; 32] = Sha256::digest(&bytes).into();
        if got != *expected {
            return Err(InputError::HashMismatch {
                url: url.clone(),
                expected: hex::encode(expected),
                got: hex::encode(got),
            });
        }
        let path = dir.join(input_name(url, i));
        tokio::fs::write(&path, &bytes)
            .await
            .map_err(|e| InputError::Fetch {
                url: url.clone(),
                reason: e.to_string(),
                retryable: true,
            })?;
    }
    Ok(dir.to_path_buf())
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

    #[tokio::test]
    async fn checks_hashes() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("data.bin");
        std::fs::write(&src, b"hello").unwrap();
        let url = format!("file://{}", src.display());
        let good: [u8; 32] = Sha256::digest(b"hello").into();
        let out = fetch_inputs(&[(url.clone(), good)], &dir.path().join("in"))
            .await
            .unwrap();
        assert_eq!(std::fs::read(out.join("data.bin")).unwrap(), b"hello");
        let err = fetch_inputs(&[(url, [0; 32])], &dir.path().join("in2"))
            .await
            .unwrap_err();
        assert!(matches!(err, InputError::HashMismatch { .. }), "{err}");
        assert!(!err.is_retryable());
    }
}
