//! The on-chain commitment to a job's results: a SHA-256 Merkle root over the output files and
//! the facts of the run, plus the JSON manifest that lets a downloader recompute it.
//!
//! Encoding (all integers big-endian, `len` = u32 byte length):
//! - file leaf:  `H(0x00 || "file" || len(path) || path || sha256(file) || size:u64)`
//! - fact leaf:  `H(0x00 || "fact" || len(key) || key || len(value) || value)` for, in order,
//!   `stdout_sha256`, `stderr_sha256` (32 raw bytes), `image_digest`, `spec_hash` (UTF-8),
//!   `exit_code` (i64), `wall_secs`, `gpu_secs`, `energy_mj` (u64)
//! - inner node: `H(0x01 || left || right)`; an odd node at the end of a level moves up as is.
//!
//! Leaves are the file leaves sorted by path (bytewise), then the fact leaves.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

pub const MANIFEST_VERSION: u32 = 1;

const LEAF_PREFIX: u8 = 0x00;
const NODE_PREFIX: u8 = 0x01;

/// One committed output file. `path` is relative, `/`-separated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputFile {
    pub path: String,
    pub size: u64,
    #[serde(with = "hex::serde")]
    pub sha256: Hash,
}

/// Metered resource use, committed with the outputs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageReceipt {
    pub wall_secs: u64,
    pub gpu_secs: u64,
    pub energy_mj: u64,
}

/// The non-file facts of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunFacts {
    #[serde(with = "hex::serde")]
    pub stdout_sha256: Hash,
    #[serde(with = "hex::serde")]
    pub stderr_sha256: Hash,
    pub image_digest: String,
    pub spec_hash: String,
    pub exit_code: i64,
    pub usage: UsageReceipt,
}

/// Uploaded next to the files so anyone can recompute the root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputManifest {
    pub version: u32,
    /// Sorted by path.
    pub files: Vec<OutputFile>,
    /// What the job left that is not committed, and why (a link, a special
    /// or unreadable file, past the output limit): listed, never fatal.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedFile>,
    pub facts: RunFacts,
}

/// An entry of the output directory that is not committed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkippedFile {
    pub path: String,
    pub why: String,
}

/// How much of a job's output directory is committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputLimits {
    pub bytes: u64,
    pub files: u64,
}

impl OutputLimits {
    pub const NONE: Self = Self {
        bytes: u64::MAX,
        files: u64::MAX,
    };
}

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("output {path} is not a regular file ({why})")]
    UnsupportedFile { path: String, why: String },
    #[error("output path {0:?} is not a valid relative UTF-8 path")]
    BadPath(PathBuf),
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("manifest version {0} is not supported (expected {MANIFEST_VERSION})")]
    UnsupportedVersion(u32),
    #[error(
        "manifest root {computed} does not match the committed root {expected}: the manifest \
         was altered"
    )]
    RootMismatch { expected: String, computed: String },
    #[error("output {path} {problem}")]
    FileMismatch { path: String, problem: String },
    #[error("output task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> OutputError + '_ {
    move |source| OutputError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn sha256(parts: &[&[u8]]) -> Hash {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

fn with_len(bytes: &[u8]) -> Vec<u8> {
    let mut out = (bytes.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(bytes);
    out
}

fn file_leaf(file: &OutputFile) -> Hash {
    sha256(&[
        &[LEAF_PREFIX],
        b"file",
        &with_len(file.path.as_bytes()),
        &file.sha256,
        &file.size.to_be_bytes(),
    ])
}

fn fact_leaf(key: &str, value: &[u8]) -> Hash {
    sha256(&[
        &[LEAF_PREFIX],
        b"fact",
        &with_len(key.as_bytes()),
        &with_len(value),
    ])
}

/// Root of a Merkle tree over already-hashed leaves (all-zero for no leaves).
pub fn merkle_root(leaves: &[Hash]) -> Hash {
    let mut level = leaves.to_vec();
    if level.is_empty() {
        return [0; 32];
    }
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [left, right] => sha256(&[&[NODE_PREFIX], left, right]),
                [single] => *single,
                _ => unreachable!("chunks(2) yields one or two"),
            })
            .collect();
    }
    level[0]
}

impl RunFacts {
    fn leaves(&self) -> Vec<Hash> {
        vec![
            fact_leaf("stdout_sha256", &self.stdout_sha256),
            fact_leaf("stderr_sha256", &self.stderr_sha256),
            fact_leaf("image_digest", self.image_digest.as_bytes()),
            fact_leaf("spec_hash", self.spec_hash.as_bytes()),
            fact_leaf("exit_code", &self.exit_code.to_be_bytes()),
            fact_leaf("wall_secs", &self.usage.wall_secs.to_be_bytes()),
            fact_leaf("gpu_secs", &self.usage.gpu_secs.to_be_bytes()),
            fact_leaf("energy_mj", &self.usage.energy_mj.to_be_bytes()),
        ]
    }
}

impl OutputManifest {
    /// Hashes the regular files under `dir`, in path order, while they fit
    /// `limits`; links, special and unreadable files and whatever does not
    /// fit are listed as skipped. Whatever a job leaves, this is a result.
    pub async fn build(
        dir: &Path,
        facts: RunFacts,
        limits: OutputLimits,
    ) -> Result<Self, OutputError> {
        let (files, skipped) = scan_dir(dir, limits).await?;
        Ok(Self {
            version: MANIFEST_VERSION,
            files,
            skipped,
            facts,
        })
    }

    pub fn leaves(&self) -> Vec<Hash> {
        self.file_leaves().chain(self.facts.leaves()).collect()
    }

    /// The file leaves, sorted by path.
    fn file_leaves(&self) -> impl Iterator<Item = Hash> + '_ {
        let mut files: Vec<&OutputFile> = self.files.iter().collect();
        files.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
        files.into_iter().map(file_leaf)
    }

    pub fn root(&self) -> Hash {
        merkle_root(&self.leaves())
    }

    pub fn root_hex(&self) -> String {
        hex::encode(self.root())
    }

    /// What two honest runs of a deterministic job share, compared by an
    /// `exact` audit: the Merkle root over the output files (as in the
    /// root) and the exit code. Not the logs, the usage or the image
    /// digest, which differ between runs and nodes of the same work.
    pub fn output_digest(&self) -> Hash {
        let exit = fact_leaf("exit_code", &self.facts.exit_code.to_be_bytes());
        let leaves: Vec<Hash> = self.file_leaves().chain([exit]).collect();
        merkle_root(&leaves)
    }

    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("manifest serialization cannot fail")
    }

    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

/// Checks downloaded files in `dir` against `manifest` and the manifest against the committed
/// `root` (hex). Every difference is an error naming the file.
pub async fn verify(dir: &Path, manifest: &OutputManifest, root: &str) -> Result<(), OutputError> {
    if manifest.version != MANIFEST_VERSION {
        return Err(OutputError::UnsupportedVersion(manifest.version));
    }
    let computed = manifest.root_hex();
    if !computed.eq_ignore_ascii_case(root) {
        return Err(OutputError::RootMismatch {
            expected: root.to_string(),
            computed,
        });
    }
    let (actual, skipped) = scan_dir(dir, OutputLimits::NONE).await?;
    if let Some(odd) = skipped.into_iter().next() {
        return Err(OutputError::UnsupportedFile {
            path: odd.path,
            why: odd.why,
        });
    }
    compare_files(&manifest.files, &actual)
}

fn compare_files(expected: &[OutputFile], actual: &[OutputFile]) -> Result<(), OutputError> {
    let mismatch = |path: &str, problem: String| OutputError::FileMismatch {
        path: path.to_string(),
        problem,
    };
    let mut listed: BTreeMap<&str, &OutputFile> = BTreeMap::new();
    for file in expected {
        if listed.insert(&file.path, file).is_some() {
            return Err(mismatch(
                &file.path,
                "is listed twice in the manifest".into(),
            ));
        }
    }
    for file in actual {
        match listed.remove(file.path.as_str()) {
            None => return Err(mismatch(&file.path, "is not in the manifest".into())),
            Some(want) if want.size != file.size => {
                return Err(mismatch(
                    &file.path,
                    format!("has {} bytes, manifest says {}", file.size, want.size),
                ))
            }
            Some(want) if want.sha256 != file.sha256 => {
                return Err(mismatch(
                    &file.path,
                    format!(
                        "has sha256 {}, manifest says {}",
                        hex::encode(file.sha256),
                        hex::encode(want.sha256)
                    ),
                ))
            }
            Some(_) => {}
        }
    }
    match listed.into_keys().next() {
        Some(missing) => Err(mismatch(missing, "is missing".into())),
        None => Ok(()),
    }
}

/// Entries looked at before the walk stops: a job that writes millions of
/// files costs the node a bounded walk.
const MAX_WALK_ENTRIES: usize = 200_000;

/// The regular files under `root` that fit `limits`, sorted by relative path
/// and hashed, and what was skipped.
async fn scan_dir(
    root: &Path,
    limits: OutputLimits,
) -> Result<(Vec<OutputFile>, Vec<SkippedFile>), OutputError> {
    let root = root.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut walk = Walk::default();
        walk.dir(&root, &root);
        walk.found
            .sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let (mut files, mut total) = (Vec::new(), 0u64);
        for (path, size) in walk.found {
            let fits = (files.len() as u64) < limits.files
                && total.checked_add(size).is_some_and(|t| t <= limits.bytes);
            if !fits {
                walk.skipped.push(skip(path, "past the job's output limit"));
                continue;
            }
            match hash_file(&root.join(&path)) {
                Ok(sha256) => {
                    total += size;
                    files.push(OutputFile { path, size, sha256 });
                }
                Err(_) => walk.skipped.push(skip(path, "unreadable")),
            }
        }
        Ok((files, walk.skipped))
    })
    .await?
}

/// The regular files a walk of `root` finds now (relative path, size),
/// unsorted and unopened: names for a caller that opens each beneath the
/// root itself, because the job may still be changing the directory.
pub async fn candidate_files(root: &Path) -> Result<Vec<(String, u64)>, OutputError> {
    let root = root.to_path_buf();
    Ok(tokio::task::spawn_blocking(move || {
        let mut walk = Walk::default();
        walk.dir(&root, &root);
        walk.found
    })
    .await?)
}

fn skip(path: String, why: &str) -> SkippedFile {
    SkippedFile {
        path,
        why: why.into(),
    }
}

#[derive(Default)]
struct Walk {
    found: Vec<(String, u64)>,
    skipped: Vec<SkippedFile>,
    seen: usize,
}

impl Walk {
    fn dir(&mut self, root: &Path, dir: &Path) {
        let name =
            |path: &Path| relative_path(root, path).unwrap_or_else(|_| path.display().to_string());
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) => {
                return self
                    .skipped
                    .push(skip(name(dir), &format!("unreadable directory: {e}")))
            }
        };
        for entry in entries.flatten() {
            self.seen += 1;
            if self.seen > MAX_WALK_ENTRIES {
                return self
                    .skipped
                    .push(skip(name(dir), "the walk stopped: too many entries"));
            }
            let path = entry.path();
            // symlink_metadata: never follow a link the job planted.
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            let why = if meta.is_dir() {
                self.dir(root, &path);
                continue;
            } else if meta.is_file() {
                match relative_path(root, &path) {
                    Ok(relative) if storable(&relative) => {
                        self.found.push((relative, meta.len()));
                        continue;
                    }
                    Ok(_) => "a name an object store cannot hold (control characters, a backslash, or too long)",
                    Err(_) => "a name that is not UTF-8",
                }
            } else if meta.is_symlink() {
                "a symbolic link (it could expose host files)"
            } else {
                "a special file"
            };
            self.skipped.push(skip(name(&path), why));
        }
    }
}

/// A path every store can hold and `safe_relative_path` accepts: S3 keys
/// are at most 1,024 bytes, file names at most 255.
fn storable(path: &str) -> bool {
    path.len() <= 900
        && !path.chars().any(|c| c.is_control() || c == '\\')
        && path.split('/').all(|part| part.len() <= 200)
        && safe_relative_path(path).is_ok()
}

fn relative_path(root: &Path, path: &Path) -> Result<String, OutputError> {
    if path == root {
        return Ok(".".into());
    }
    let relative = path
        .strip_prefix(root)
        .map_err(|_| OutputError::BadPath(path.to_path_buf()))?;
    let parts: Option<Vec<&str>> = relative
        .components()
        .map(|c| match c {
            Component::Normal(part) => part.to_str(),
            _ => None,
        })
        .collect();
    parts
        .map(|p| p.join("/"))
        .ok_or_else(|| OutputError::BadPath(relative.to_path_buf()))
}

/// Turns a manifest path into a safe relative path: no absolute, `..` or empty components.
pub fn safe_relative_path(path: &str) -> Result<PathBuf, OutputError> {
    let bad = || OutputError::BadPath(PathBuf::from(path));
    if path.is_empty() || path.contains('\\') {
        return Err(bad());
    }
    path.split('/')
        .map(|part| match part {
            "" | "." | ".." => Err(bad()),
            part => Ok(part),
        })
        .collect()
}

/// SHA-256 of a file, streamed.
pub fn hash_file(path: &Path) -> Result<Hash, OutputError> {
    let mut file = std::fs::File::open(path).map_err(io_err(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(io_err(path))?;
        if n == 0 {
            return Ok(hasher.finalize().into());
        }
        hasher.update(&buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> RunFacts {
        RunFacts {
            stdout_sha256: sha256(&[b"out"]),
            stderr_sha256: sha256(&[b"err"]),
            image_digest: format!("sha256:{}", "c".repeat(64)),
            spec_hash: "d".repeat(64),
            exit_code: 0,
            usage: UsageReceipt {
                wall_secs: 60,
                gpu_secs: 120,
                energy_mj: 9_000_000,
            },
        }
    }

    fn write_outputs(dir: &Path) {
        std::fs::create_dir_all(dir.join("sub/deeper")).unwrap();
        std::fs::write(dir.join("model.bin"), vec![7u8; 100_000]).unwrap();
        std::fs::write(dir.join("sub/metrics.json"), b"{\"loss\":0.1}").unwrap();
        std::fs::write(dir.join("sub/deeper/empty"), b"").unwrap();
    }

    async fn manifest_of(dir: &Path) -> OutputManifest {
        OutputManifest::build(dir, facts(), OutputLimits::NONE)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn manifest_lists_sorted_files_with_hashes() {
        let dir = tempfile::tempdir().unwrap();
        write_outputs(dir.path());
        let manifest = manifest_of(dir.path()).await;
        let paths: Vec<&str> = manifest.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["model.bin", "sub/deeper/empty", "sub/metrics.json"]);
        assert_eq!(manifest.files[0].size, 100_000);
        assert_eq!(manifest.files[0].sha256, sha256(&[&[7u8; 100_000]]));
        assert_eq!(manifest.total_bytes(), 100_000 + 12);
        assert_eq!(manifest.leaves().len(), 3 + 8);
    }

    #[tokio::test]
    async fn root_is_deterministic_and_order_independent() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        write_outputs(a.path());
        write_outputs(b.path());
        let mut first = manifest_of(a.path()).await;
        let second = manifest_of(b.path()).await;
        assert_eq!(first.root(), second.root());
        first.files.reverse();
        assert_eq!(first.root(), second.root(), "leaves are sorted by path");
        let json = first.to_json();
        assert_eq!(
            OutputManifest::from_json(&json).unwrap().root(),
            second.root()
        );
    }

    #[tokio::test]
    async fn any_changed_byte_file_or_fact_changes_the_root() {
        let dir = tempfile::tempdir().unwrap();
        write_outputs(dir.path());
        let base = manifest_of(dir.path()).await.root();

        let mut bytes = vec![7u8; 100_000];
        bytes[54_321] = 8;
        std::fs::write(dir.path().join("model.bin"), &bytes).unwrap();
        assert_ne!(manifest_of(dir.path()).await.root(), base, "one byte");
        std::fs::write(dir.path().join("model.bin"), vec![7u8; 100_000]).unwrap();
        assert_eq!(manifest_of(dir.path()).await.root(), base, "restored");

        std::fs::rename(
            dir.path().join("sub/metrics.json"),
            dir.path().join("sub/m.json"),
        )
        .unwrap();
        assert_ne!(manifest_of(dir.path()).await.root(), base, "renamed file");
        std::fs::rename(
            dir.path().join("sub/m.json"),
            dir.path().join("sub/metrics.json"),
        )
        .unwrap();

        std::fs::write(dir.path().join("extra"), b"").unwrap();
        assert_ne!(
            manifest_of(dir.path()).await.root(),
            base,
            "added empty file"
        );
        std::fs::remove_file(dir.path().join("extra")).unwrap();

        let manifest = manifest_of(dir.path()).await;
        let changes: Vec<fn(&mut RunFacts)> = vec![
            |f| f.exit_code = 1,
            |f| f.stdout_sha256[0] ^= 1,
            |f| f.stderr_sha256[31] ^= 1,
            |f| f.image_digest.push('0'),
            |f| f.spec_hash = "e".repeat(64),
            |f| f.usage.wall_secs += 1,
            |f| f.usage.gpu_secs += 1,
            |f| f.usage.energy_mj += 1,
        ];
        for (i, change) in changes.iter().enumerate() {
            let mut changed = manifest.clone();
            change(&mut changed.facts);
            assert_ne!(changed.root(), base, "fact change #{i}");
        }
    }

    #[test]
    fn merkle_tree_shape() {
        let leaves: Vec<Hash> = (0u8..3).map(|i| [i; 32]).collect();
        let node = |l: &Hash, r: &Hash| sha256(&[&[NODE_PREFIX], l, r]);
        assert_eq!(merkle_root(&leaves[..1]), leaves[0]);
        assert_eq!(merkle_root(&leaves[..2]), node(&leaves[0], &leaves[1]));
        assert_eq!(
            merkle_root(&leaves),
            node(&node(&leaves[0], &leaves[1]), &leaves[2])
        );
        // A node can never be confused with a leaf: leaves are hashed with a different prefix.
        assert_ne!(
            file_leaf(&OutputFile {
                path: "a".into(),
                size: 0,
                sha256: [0; 32]
            }),
            [0; 32]
        );
    }

    #[tokio::test]
    async fn what_does_not_fit_is_skipped_in_path_order() {
        let dir = tempfile::tempdir().unwrap();
        write_outputs(dir.path());
        let limits = OutputLimits {
            bytes: 50_000,
            files: 10,
        };
        let m = OutputManifest::build(dir.path(), facts(), limits)
            .await
            .unwrap();
        let paths: Vec<&str> = m.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["sub/deeper/empty", "sub/metrics.json"]);
        assert_eq!(
            m.skipped,
            vec![skip("model.bin".into(), "past the job's output limit")]
        );
        let limits = OutputLimits {
            bytes: u64::MAX,
            files: 1,
        };
        let m = OutputManifest::build(dir.path(), facts(), limits)
            .await
            .unwrap();
        assert_eq!(m.files.len(), 1);
        assert_eq!(m.skipped.len(), 2);
    }

    #[tokio::test]
    async fn names_no_store_can_hold_are_listed_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a\\b"), b"x").unwrap();
        std::fs::write(dir.path().join("bell\u{7}"), b"x").unwrap();
        std::fs::write(dir.path().join("ok"), b"x").unwrap();
        let m = OutputManifest::build(dir.path(), facts(), OutputLimits::NONE)
            .await
            .unwrap();
        assert_eq!(m.files.len(), 1);
        assert_eq!(m.skipped.len(), 2, "{:?}", m.skipped);
    }

    #[tokio::test]
    async fn links_and_special_files_are_listed_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("leak")).unwrap();
        std::fs::write(dir.path().join("ok.txt"), b"ok").unwrap();
        let m = OutputManifest::build(dir.path(), facts(), OutputLimits::NONE)
            .await
            .unwrap();
        assert_eq!(m.files.len(), 1);
        assert_eq!(m.skipped[0].path, "leak");
        assert!(m.skipped[0].why.contains("symbolic link"));
        let json = m.to_json();
        assert_eq!(OutputManifest::from_json(&json).unwrap(), m);
    }

    #[tokio::test]
    async fn verify_accepts_intact_and_names_tampered_files() {
        let dir = tempfile::tempdir().unwrap();
        write_outputs(dir.path());
        let manifest = manifest_of(dir.path()).await;
        let root = manifest.root_hex();
        verify(dir.path(), &manifest, &root).await.unwrap();

        std::fs::write(dir.path().join("sub/metrics.json"), b"{\"loss\":0.0}").unwrap();
        let err = verify(dir.path(), &manifest, &root).await.unwrap_err();
        assert!(
            err.to_string().contains("sub/metrics.json has sha256"),
            "{err}"
        );

        std::fs::write(dir.path().join("sub/metrics.json"), b"{}").unwrap();
        let err = verify(dir.path(), &manifest, &root).await.unwrap_err();
        assert!(err.to_string().contains("has 2 bytes"), "{err}");

        std::fs::write(dir.path().join("sub/metrics.json"), b"{\"loss\":0.1}").unwrap();
        std::fs::remove_file(dir.path().join("sub/deeper/empty")).unwrap();
        let err = verify(dir.path(), &manifest, &root).await.unwrap_err();
        assert!(
            err.to_string().contains("sub/deeper/empty is missing"),
            "{err}"
        );

        std::fs::write(dir.path().join("sub/deeper/empty"), b"").unwrap();
        std::fs::write(dir.path().join("bonus"), b"x").unwrap();
        let err = verify(dir.path(), &manifest, &root).await.unwrap_err();
        assert!(
            err.to_string().contains("bonus is not in the manifest"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn verify_rejects_a_manifest_that_does_not_match_the_root() {
        let dir = tempfile::tempdir().unwrap();
        write_outputs(dir.path());
        let manifest = manifest_of(dir.path()).await;
        let root = manifest.root_hex();
        let mut forged = manifest.clone();
        forged.facts.exit_code = -1;
        let err = verify(dir.path(), &forged, &root).await.unwrap_err();
        assert!(matches!(err, OutputError::RootMismatch { .. }), "{err}");
    }

    #[test]
    fn manifest_paths_must_be_safe() {
        assert_eq!(
            safe_relative_path("a/b.txt").unwrap(),
            PathBuf::from("a/b.txt")
        );
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "a/./b",
            "a\\b",
        ] {
            assert!(safe_relative_path(bad).is_err(), "{bad:?}");
        }
    }
}
