//! Job specs in TOML, validated before anything is sent: every invalid field
//! gets an error that names it and the allowed range.

use std::collections::BTreeMap;

use ake_market::constants::{MAX_BATCH_FRAMES, MAX_IMAGE_LEN, MAX_INLINE_SPEC_BYTES, MAX_URI_LEN};
use ake_market::instructions::PostJobArgs;
use ake_market::state::{EnvVar, InlineSpec, InputFile, JobSpec, Market, RemoteSpec, Verify};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSpecFile {
    /// Market index (GPU class); default 0.
    #[serde(default)]
    pub market: u16,
    /// Container image; pin it with `@sha256:<digest>`.
    pub image: Option<String>,
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub inputs: Vec<InputEntry>,
    pub gpus: u16,
    pub max_duration_secs: u32,
    #[serde(default)]
    pub min_reputation_bps: u16,
    /// Largest total output the node may upload; default 1 GiB.
    pub max_output_mb: Option<u64>,
    /// A spec too large for one transaction: its URI and sha256 instead.
    pub spec_uri: Option<String>,
    pub spec_sha256: Option<String>,
    /// A batch: `"1-240"` (inclusive) or one frame `"7"`. `{frame}` (or
    /// `{frame:04}`, zero-padded) in the command and env is the frame number.
    pub frames: Option<String>,
    /// `"exact"`: results may be audited by re-running the job on another
    /// owner's node, outputs compared bit for bit (the job must be
    /// deterministic); `"none"` (default): never audited.
    #[serde(default)]
    pub verify: VerifyMode,
}

/// How a spec's results may be checked (`verify = ...`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerifyMode {
    #[default]
    None,
    Exact,
}

impl From<VerifyMode> for Verify {
    fn from(mode: VerifyMode) -> Self {
        match mode {
            VerifyMode::None => Verify::None,
            VerifyMode::Exact => Verify::Exact,
        }
    }
}

/// An inclusive range of frame numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameRange {
    pub first: u32,
    pub count: u32,
}

impl FrameRange {
    /// Parses `"1-240"` or `"7"`.
    pub fn parse(s: &str) -> Result<Self, SpecError> {
        let number = |t: &str| {
            t.trim().parse::<u32>().map_err(|_| {
                bad(
                    "frames",
                    format!("{s:?} is not a frame range: write \"1-240\" (first-last) or one frame number"),
                )
            })
        };
        let (first, last) = match s.split_once('-') {
            Some((a, b)) => (number(a)?, number(b)?),
            None => (number(s)?, number(s)?),
        };
        if last < first {
            return Err(bad(
                "frames",
                format!("{s:?}: the last frame comes before the first"),
            ));
        }
        let count = u64::from(last - first) + 1;
        if count > u64::from(MAX_BATCH_FRAMES) {
            return Err(bad(
                "frames",
                format!(
                    "{s:?} is {count} frames; a batch holds at most {MAX_BATCH_FRAMES}: split it"
                ),
            ));
        }
        Ok(FrameRange {
            first,
            count: count as u32,
        })
    }

    pub fn last(&self) -> u32 {
        self.first + (self.count - 1)
    }

    pub fn frames(&self) -> impl Iterator<Item = u32> {
        self.first..=self.last()
    }
}

/// The spec of one frame of a batch: `{frame}` and `{frame:0N}` (padded to
/// N digits) replaced in the command and the env values.
pub fn spec_for_frame(spec: &InlineSpec, frame: u32) -> InlineSpec {
    let mut out = spec.clone();
    for arg in &mut out.command {
        *arg = substitute_frame(arg, frame);
    }
    for var in &mut out.env {
        var.value = substitute_frame(&var.value, frame);
    }
    out
}

/// Whether a spec uses `{frame}` anywhere a batch substitutes it.
pub fn uses_frame(spec: &InlineSpec) -> bool {
    let marked = |s: &str| substitute_frame(s, 0) != s;
    spec.command.iter().any(|a| marked(a)) || spec.env.iter().any(|v| marked(&v.value))
}

fn substitute_frame(text: &str, frame: u32) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("{frame") {
        out.push_str(&rest[..at]);
        let tail = &rest[at + "{frame".len()..];
        let (width, used) = match tail.split_once('}') {
            Some(("", _)) => (Some(0), 1),
            Some((w, _)) if w.len() <= 3 && w.starts_with(":0") => {
                (w[2..].parse::<usize>().ok(), w.len() + 1)
            }
            _ => (None, 0),
        };
        match width {
            Some(width) => {
                out.push_str(&format!("{frame:0width$}"));
                rest = &tail[used..];
            }
            None => {
                out.push_str("{frame");
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputEntry {
    pub url: String,
    pub sha256: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{field}: {problem}")]
pub struct SpecError {
    pub field: String,
    pub problem: String,
}

/// A TOML or type error named by its key (`gpus`, `env.SCENE`, the table
/// it is in when it has no key of its own), its line and column.
fn toml_error(text: &str, e: &toml::de::Error) -> SpecError {
    let Some(span) = e.span() else {
        return bad("spec", e.message());
    };
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    let (table, key) = key_at(text, line);
    // A missing field is reported on the table that lacks it (the whole
    // document at its first byte): no line of its own to point at.
    if e.message().starts_with("missing field") {
        let field = if table.is_empty() {
            "spec".into()
        } else {
            table
        };
        return bad(field, e.message());
    }
    let field = match (table.is_empty(), key) {
        (true, Some(key)) => key,
        (false, Some(key)) => format!("{table}.{key}"),
        (false, None) => table,
        (true, None) => "spec".to_string(),
    };
    bad(
        field,
        format!("line {line}, column {column}: {}", e.message()),
    )
}

/// The table and the key whose value line `line` (1-based) belongs to: the
/// last `key =` written at the top level of a table (not inside an array or
/// inline table spanning lines) at or above it.
fn key_at(text: &str, line: usize) -> (String, Option<String>) {
    let (mut table, mut key, mut depth) = (String::new(), None, 0i32);
    for l in text.lines().take(line) {
        let l = l.trim();
        if depth == 0 && l.starts_with('[') {
            table = l.trim_matches(|c| c == '[' || c == ']').trim().to_string();
            key = None;
            continue;
        }
        if depth == 0 {
            if let Some((k, _)) = l.split_once('=') {
                let k = k.trim();
                let bare = k
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.\"'".contains(c));
                if !k.is_empty() && !l.starts_with('#') && bare {
                    key = Some(k.trim_matches('"').to_string());
                }
            }
        }
        depth += bracket_depth(l);
    }
    (table, key)
}

/// How much `line` opens arrays and inline tables (closing counts
/// negative), outside strings and comments.
fn bracket_depth(line: &str) -> i32 {
    let (mut depth, mut quote) = (0, None);
    for c in line.chars() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') => break,
            (None, '[' | '{') => depth += 1,
            (None, ']' | '}') => depth -= 1,
            _ => {}
        }
    }
    depth
}

fn bad(field: impl Into<String>, problem: impl Into<String>) -> SpecError {
    SpecError {
        field: field.into(),
        problem: problem.into(),
    }
}

/// A validated spec: what to post, and warnings to show.
#[derive(Debug, Clone)]
pub struct ValidSpec {
    pub market: u16,
    pub args: PostJobArgs,
    /// Set for a batch.
    pub frames: Option<FrameRange>,
    pub warnings: Vec<String>,
}

pub fn parse_sha256(field: &str, s: &str) -> Result<[u8; 32], SpecError> {
    let hex = s.strip_prefix("sha256:").unwrap_or(s);
    let bytes = hex::decode(hex).map_err(|_| bad(field, "must be 64 hex digits (a sha256)"))?;
    bytes
        .try_into()
        .map_err(|_| bad(field, "must be 64 hex digits (a sha256)"))
}

/// Nodes fetch inputs and remote specs over https or http only (a file://
/// or s3:// URL would read the node's own disk or credentials).
fn check_url(field: &str, url: &str) -> Result<(), SpecError> {
    if url.len() > MAX_URI_LEN {
        return Err(bad(field, format!("at most {MAX_URI_LEN} bytes")));
    }
    if !["https://", "http://"].iter().any(|p| url.starts_with(p)) {
        return Err(bad(
            field,
            "must start with https:// or http:// (nodes fetch nothing else)",
        ));
    }
    Ok(())
}

/// What a default ake-node keeps back from a job's on-chain deadline for
/// stopping the container, committing and uploading the outputs and
/// confirming the result: a market's shortest job plus its completion grace
/// must leave room for it and for starting the job.
pub const NODE_DEADLINE_RESERVE_SECS: u64 = 180;
/// What a default node needs to fetch a job's spec and inputs and start its
/// container, beside the reserve.
pub const NODE_START_SECS: u64 = 60;

/// Variables that change how the host's dynamic loader and libc behave.
/// On a GPU host the NVIDIA Container Toolkit runs hooks ON THE HOST with
/// the container's environment (CVE-2025-23266 loaded an image's
/// `LD_PRELOAD` into the createContainer hook as root, from a path under
/// `/proc/self/cwd`, the container's root). From glibc's list of variables
/// it drops for setuid programs (`unsecvars.h`); every `LD_*` and `MALLOC_*`
/// counts too.
const HOST_LOADER_VARIABLES: [&str; 12] = [
    "GCONV_PATH",
    "GETCONF_DIR",
    "GLIBC_TUNABLES",
    "HOSTALIASES",
    "LOCALDOMAIN",
    "LOCPATH",
    "NIS_PATH",
    "NLSPATH",
    "RESOLV_HOST_CONF",
    "RES_OPTIONS",
    "TMPDIR",
    "TZDIR",
];

/// Of those, the ones an image may set to absolute paths outside `/proc`
/// (CUDA base images set `LD_LIBRARY_PATH=/usr/local/nvidia/lib:...`): such
/// a path names the host's own files to a hook, never the container's.
const IMAGE_PATH_VARIABLES: [&str; 9] = [
    "LD_LIBRARY_PATH",
    "GETCONF_DIR",
    "HOSTALIASES",
    "LOCPATH",
    "NIS_PATH",
    "NLSPATH",
    "RESOLV_HOST_CONF",
    "TMPDIR",
    "TZDIR",
];

/// Why a job spec may not set the variable `name`, or None when it may:
/// every `LD_*` and `MALLOC_*` and the libc variables above (a spec is the
/// creator's to change; an image's own `ENV` is judged by
/// [`refused_image_env`]), and the ones the node sets itself (`NVIDIA_*`
/// choose the GPUs and driver capabilities the toolkit mounts; `AKE_*` tell
/// the job where its files are).
pub fn refused_env_name(name: &str) -> Option<&'static str> {
    if name.starts_with("LD_")
        || name.starts_with("MALLOC_")
        || HOST_LOADER_VARIABLES.contains(&name)
    {
        Some("changes how the host's loader or libc behaves (GPU hooks run on the host with the job's environment): no node runs a job that sets it; remove it")
    } else if name.starts_with("NVIDIA_") {
        Some("set by the node (the GPUs and driver capabilities the job paid for): remove it")
    } else if name.starts_with("AKE_") {
        Some("set by the node (the job's input and output folders): remove it")
    } else {
        None
    }
}

/// The variable of an image's `ENV` (`KEY=value` entries) no node accepts,
/// or None: any `LD_*` but `LD_LIBRARY_PATH` (`LD_PRELOAD`, `LD_AUDIT`
/// load code into every process, a hook included), `GCONV_PATH` and
/// `GLIBC_TUNABLES`, and a path variable with an entry that is relative or
/// under `/proc` (it would name the container's files to a host hook).
/// `NVIDIA_*` may stand there (CUDA images declare their requirements with
/// them: the node overrides every one that selects devices or
/// capabilities), and so may `MALLOC_*` (runtimes tune their allocator
/// with them; they load nothing).
pub fn refused_image_env(env: &[String]) -> Option<&str> {
    env.iter().find_map(|entry| {
        let (name, value) = entry.split_once('=').unwrap_or((entry.as_str(), ""));
        let refused = if IMAGE_PATH_VARIABLES.contains(&name) {
            value
                .split(':')
                .any(|p| !p.starts_with('/') || p.starts_with("/proc") || p.contains(".."))
        } else {
            name.starts_with("LD_") || name == "GCONV_PATH" || name == "GLIBC_TUNABLES"
        };
        refused.then_some(name)
    })
}

/// `KEY` of a `KEY=value` environment entry.
pub fn env_name(entry: &str) -> &str {
    entry.split_once('=').map_or(entry, |(name, _)| name)
}

/// The document a remote spec (`spec_uri`) points at: the container part of
/// a job spec file, in the same TOML; `spec_sha256` is the sha256 of its bytes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteSpecFile {
    pub image: String,
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub inputs: Vec<InputEntry>,
    pub max_output_mb: Option<u64>,
}

impl RemoteSpecFile {
    /// Parses and checks a fetched remote spec; a remote spec has no size limit
    /// beyond what the node agrees to download.
    pub fn parse(text: &str) -> Result<InlineSpec, SpecError> {
        let file: Self = toml::from_str(text).map_err(|e| toml_error(text, &e))?;
        inline_spec(
            &file.image,
            &file.command,
            &file.env,
            &file.inputs,
            file.max_output_mb,
            &mut Vec::new(),
        )
    }
}

/// A container image reference split into what an engine looks up and
/// the pinned digest, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageReference<'a> {
    /// `[registry[:port]/]path[:tag]`.
    pub name: &'a str,
    /// `sha256:<64 hex digits>`.
    pub digest: Option<&'a str>,
}

/// Checks `image` against the reference grammar container engines accept
/// (`[registry[:port]/]path[:tag][@sha256:<64 lowercase hex>]`, path
/// components lowercase letters and digits joined by `.`, `_`, `__` or
/// dashes), so a spec no engine can pull is refused before anything is
/// posted or escrowed.
pub fn parse_image_reference(image: &str) -> Result<ImageReference<'_>, String> {
    let expected = "expected [registry[:port]/]name[:tag][@sha256:<64 hex digits>]";
    let invalid = |why: &str| format!("'{image}' is not an image reference: {why}; {expected}");
    let (name, digest) = match image.split_once('@') {
        Some((name, digest)) => {
            let hex_len = match digest.split_once(':') {
                Some(("sha256", hex)) if hex.len() == 64 => Some(hex),
                Some(("sha512", hex)) if hex.len() == 128 => Some(hex),
                _ => None,
            };
            let ok = hex_len
                .is_some_and(|hex| hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
            if !ok {
                return Err(invalid(
                    "the digest must be sha256: and 64 (or sha512: and 128) lowercase hex digits",
                ));
            }
            (name, Some(digest))
        }
        None => (image, None),
    };
    let path_start = name.rfind('/').map_or(0, |i| i + 1);
    let (repository, tag) = match name[path_start..].rfind(':') {
        Some(i) => (&name[..path_start + i], Some(&name[path_start + i + 1..])),
        None => (name, None),
    };
    if let Some(tag) = tag {
        let ok = (1..=128).contains(&tag.len())
            && !tag.starts_with(['.', '-'])
            && tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
        if !ok {
            return Err(invalid(
                "a tag is 1..128 letters, digits, _ . - (not starting with . or -)",
            ));
        }
    }
    let mut components: Vec<&str> = repository.split('/').collect();
    let first = components[0];
    // Docker's rule: a first component with a dot, a colon or an uppercase
    // letter, or "localhost", is a registry.
    let registry = components.len() > 1
        && (first.contains(['.', ':', '['])
            || first == "localhost"
            || first != first.to_lowercase());
    if registry {
        if !registry_ok(first) {
            return Err(invalid(
                "the registry is a host name or [IPv6] address with an optional :port",
            ));
        }
        components.remove(0);
    }
    if !components.iter().all(|c| path_component_ok(c)) {
        return Err(invalid(
            "name components are lowercase letters and digits, joined by . _ __ or dashes",
        ));
    }
    Ok(ImageReference { name, digest })
}

/// `host[:port]` or `[ipv6][:port]`; host labels are letters, digits and
/// inner dashes.
fn registry_ok(registry: &str) -> bool {
    let (host, port) = match registry.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((ip, port)) => {
                if ip.parse::<std::net::Ipv6Addr>().is_err() {
                    return false;
                }
                (
                    None,
                    if port.is_empty() {
                        None
                    } else {
                        Some(port.strip_prefix(':').unwrap_or("x"))
                    },
                )
            }
            None => return false,
        },
        None => match registry.split_once(':') {
            Some((host, port)) => (Some(host), Some(port)),
            None => (Some(registry), None),
        },
    };
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok());
    let host_ok = host.is_none_or(|h| {
        !h.is_empty()
            && h.split('.').all(|label| {
                !label.is_empty()
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
    });
    port_ok && host_ok
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
fn path_component_ok(component: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = component.as_bytes();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut separator = String::new();
    for &b in bytes {
        if alnum(b) {
            let dashes = !separator.is_empty() && separator.bytes().all(|s| s == b'-');
            if !(separator.is_empty() || dashes || matches!(separator.as_str(), "." | "_" | "__")) {
                return false;
            }
            separator.clear();
        } else if b"._-".contains(&b) {
            separator.push(char::from(b));
        } else {
            return false;
        }
    }
    true
}

/// The container part of a spec, checked field by field.
fn inline_spec(
    image: &str,
    command: &[String],
    env: &BTreeMap<String, String>,
    inputs: &[InputEntry],
    max_output_mb: Option<u64>,
    warnings: &mut Vec<String>,
) -> Result<InlineSpec, SpecError> {
    if image.is_empty() || image.len() > MAX_IMAGE_LEN {
        return Err(bad("image", format!("must be 1..={MAX_IMAGE_LEN} bytes")));
    }
    parse_image_reference(image).map_err(|why| bad("image", why))?;
    if !image.contains("@sha256:") {
        warnings.push(format!(
            "image '{image}' has no @sha256 digest: nodes will run whatever the tag points to; pin it for reproducible results"
        ));
    }
    if command.is_empty() {
        warnings.push(format!(
            "command is empty: nodes run the image's own ENTRYPOINT/CMD ('{image}'); set command to be explicit"
        ));
    }
    let mut files = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        check_url(&format!("inputs[{i}].url"), &input.url)?;
        let sha256 = parse_sha256(&format!("inputs[{i}].sha256"), &input.sha256)?;
        files.push(InputFile {
            url: input.url.clone(),
            sha256,
        });
    }
    for name in env.keys() {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(bad(
                format!("env.{name}"),
                "names are letters, digits and _",
            ));
        }
        if let Some(why) = refused_env_name(name) {
            return Err(bad(format!("env.{name}"), why));
        }
    }
    let max_output_mb = max_output_mb.unwrap_or(1024);
    if !(1..=1 << 20).contains(&max_output_mb) {
        return Err(bad("max_output_mb", "must be 1..=1048576"));
    }
    Ok(InlineSpec {
        image: image.to_string(),
        command: command.to_vec(),
        env: env
            .iter()
            .map(|(name, value)| EnvVar {
                name: name.clone(),
                value: value.clone(),
            })
            .collect(),
        inputs: files,
        max_output_bytes: max_output_mb << 20,
    })
}

impl JobSpecFile {
    pub fn parse(text: &str) -> Result<Self, SpecError> {
        toml::from_str(text).map_err(|e| toml_error(text, &e))
    }

    /// Checks every field against the market it targets.
    pub fn validate(&self, market: &Market) -> Result<ValidSpec, SpecError> {
        let mut warnings = Vec::new();
        if !(1..=market.max_gpus_per_job).contains(&self.gpus) {
            return Err(bad(
                "gpus",
                format!(
                    "must be 1..={} on market {}",
                    market.max_gpus_per_job, self.market
                ),
            ));
        }
        let min_duration = u32::from(market.min_duration_secs).max(1);
        if !(min_duration..=market.max_duration_secs).contains(&self.max_duration_secs) {
            let why = if min_duration > 1 {
                " (a node keeps part of the deadline back to commit the result, so a shorter job could not be run in time)"
            } else {
                ""
            };
            return Err(bad(
                "max_duration_secs",
                format!(
                    "must be {min_duration}..={} on market {}{why}",
                    market.max_duration_secs, self.market
                ),
            ));
        }
        if self.min_reputation_bps > 10_000 {
            return Err(bad("min_reputation_bps", "must be 0..=10000"));
        }
        if self.verify == VerifyMode::Exact && self.frames.is_some() {
            return Err(bad(
                "verify",
                "\"exact\" is for single jobs: a batch's frames are renders, which differ across GPUs; set verify = \"none\"",
            ));
        }
        let spec = match (&self.spec_uri, &self.image) {
            (Some(uri), None) => {
                check_url("spec_uri", uri)?;
                let sha = self
                    .spec_sha256
                    .as_deref()
                    .ok_or_else(|| bad("spec_sha256", "required with spec_uri"))?;
                JobSpec::Remote(RemoteSpec {
                    uri: uri.clone(),
                    sha256: parse_sha256("spec_sha256", sha)?,
                })
            }
            (Some(_), Some(_)) => {
                return Err(bad(
                    "spec_uri",
                    "give either image (inline spec) or spec_uri, not both",
                ))
            }
            (None, None) => {
                return Err(bad(
                    "image",
                    "required (or spec_uri for a spec too large to post inline)",
                ))
            }
            (None, Some(image)) => JobSpec::Inline(inline_spec(
                image,
                &self.command,
                &self.env,
                &self.inputs,
                self.max_output_mb,
                &mut warnings,
            )?),
        };
        if self.verify == VerifyMode::Exact && !spec.pins_its_image() {
            return Err(bad(
                "image",
                "verify = \"exact\" needs the image pinned by digest (name@sha256:<64 hex>; `docker inspect --format '{{index .RepoDigests 0}}' IMAGE` prints it): a tag can move between the job's run and its audit's, and its runs would disagree",
            ));
        }
        if let JobSpec::Inline(_) = spec {
            let len = anchor_lang::prelude::borsh::to_vec(&spec)
                .map(|v| v.len())
                .unwrap_or(usize::MAX);
            if len > MAX_INLINE_SPEC_BYTES {
                return Err(bad(
                    "spec",
                    format!(
                        "the inline spec is {len} bytes; at most {MAX_INLINE_SPEC_BYTES} fit one transaction: host it and give spec_uri + spec_sha256"
                    ),
                ));
            }
        }
        let frames = self.frames.as_deref().map(FrameRange::parse).transpose()?;
        if let JobSpec::Inline(inline) = &spec {
            if frames.is_some() {
                let first = spec_for_frame(inline, 0);
                let unknown = first
                    .command
                    .iter()
                    .chain(first.env.iter().map(|v| &v.value))
                    .find(|s| s.contains("{frame"));
                if let Some(s) = unknown {
                    return Err(bad(
                        "frames",
                        format!("{s:?} has a placeholder that is not {{frame}} or {{frame:0N}} (N 1..9 digits of zero padding)"),
                    ));
                }
            }
            match (frames, uses_frame(inline)) {
                (Some(_), false) => warnings.push(
                    "frames is set but neither command nor env uses {frame}: every frame runs the same thing".into(),
                ),
                (None, true) => warnings.push(
                    "{frame} appears but frames is not set: it is passed to the container as written".into(),
                ),
                _ => {}
            }
        }
        Ok(ValidSpec {
            market: self.market,
            frames,
            args: PostJobArgs {
                nonce: 0,
                gpus: self.gpus,
                max_duration_secs: self.max_duration_secs,
                min_reputation_bps: self.min_reputation_bps,
                max_tokens: u64::MAX,
                spec,
                verify: self.verify.into(),
            },
            warnings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn market() -> Box<Market> {
        let mut m: Box<Market> = bytemuck::zeroed_box();
        m.max_gpus_per_job = 8;
        m.max_duration_secs = 3_600;
        m
    }

    const OK: &str = r#"
image = "ake/render@sha256:1111111111111111111111111111111111111111111111111111111111111111"
command = ["ake-render", "--samples", "8"]
gpus = 1
max_duration_secs = 600
[env]
SCENE = "spheres"
"#;

    #[test]
    fn examples_in_the_repo_validate() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        for name in ["render-job.toml", "inference-job.toml"] {
            let text = std::fs::read_to_string(dir.join(name)).unwrap();
            JobSpecFile::parse(&text)
                .unwrap()
                .validate(&market())
                .unwrap();
        }
    }

    #[test]
    fn each_bad_field_is_named() {
        let m = market();
        let v = JobSpecFile::parse(OK).unwrap().validate(&m).unwrap();
        assert!(v.warnings.is_empty());
        let cases = [
            ("gpus = 1", "gpus = 9", "gpus"),
            (
                "max_duration_secs = 600",
                "max_duration_secs = 0",
                "max_duration_secs",
            ),
            (
                "gpus = 1",
                "gpus = 1\nmin_reputation_bps = 10001",
                "min_reputation_bps",
            ),
            (
                "SCENE = \"spheres\"",
                "SCENE = \"spheres\"\n[[inputs]]\nurl = \"ftp://x\"\nsha256 = \"00\"",
                "inputs[0].url",
            ),
            (
                "SCENE = \"spheres\"",
                "SCENE = \"spheres\"\n[[inputs]]\nurl = \"https://x\"\nsha256 = \"zz\"",
                "inputs[0].sha256",
            ),
        ];
        // An audited spec whose image is a tag, and an audited batch.
        let exact = "gpus = 1\nverify = \"exact\"";
        let tagged = OK.replace("@sha256:", ":v").replace("gpus = 1", exact);
        let err = JobSpecFile::parse(&tagged)
            .unwrap()
            .validate(&m)
            .unwrap_err();
        assert!(
            err.field == "image" && err.problem.contains("pinned by digest"),
            "{err}"
        );
        let pinned = JobSpecFile::parse(&OK.replace("gpus = 1", exact)).unwrap();
        assert_eq!(pinned.validate(&m).unwrap().args.verify, Verify::Exact);
        for (from, to, field) in cases {
            let err = JobSpecFile::parse(&OK.replace(from, to))
                .unwrap()
                .validate(&m)
                .unwrap_err();
            assert_eq!(err.field, field, "{err}");
        }
        let huge = OK.replace("spheres", &"x".repeat(500));
        assert_eq!(
            JobSpecFile::parse(&huge)
                .unwrap()
                .validate(&m)
                .unwrap_err()
                .field,
            "spec"
        );
        let typo = OK.replace("gpus", "gpu");
        assert!(JobSpecFile::parse(&typo)
            .unwrap_err()
            .problem
            .contains("gpu"));
    }

    /// GPU hooks run on the host with the job's environment: a spec that
    /// sets a loader or libc variable, or one the node owns, is refused
    /// before posting, naming the key.
    #[test]
    fn hostile_spec_setting_a_loader_variable_is_refused_naming_the_key() {
        for name in [
            "LD_PRELOAD",
            "LD_LIBRARY_PATH",
            "LD_AUDIT",
            "GLIBC_TUNABLES",
            "GCONV_PATH",
            "LOCPATH",
            "MALLOC_MMAP_THRESHOLD_",
            "TMPDIR",
            "NVIDIA_VISIBLE_DEVICES",
            "NVIDIA_DRIVER_CAPABILITIES",
            "AKE_OUTPUT_DIR",
        ] {
            let text = OK.replace("SCENE = \"spheres\"", &format!("{name} = \"/tmp/x\""));
            let err = JobSpecFile::parse(&text)
                .unwrap()
                .validate(&market())
                .unwrap_err();
            assert_eq!(err.field, format!("env.{name}"), "{err}");
            assert!(err.problem.contains("remove it"), "{err}");
        }
        // Names that merely look alike are a job's own business.
        for name in ["LDAP_URI", "MY_LD_PRELOAD", "CUDA_VISIBLE_DEVICES"] {
            let text = OK.replace("SCENE = \"spheres\"", &format!("{name} = \"x\""));
            JobSpecFile::parse(&text)
                .unwrap()
                .validate(&market())
                .unwrap();
        }
        let image_env = |e: &[&str]| -> Option<String> {
            let env: Vec<String> = e.iter().map(|s| s.to_string()).collect();
            refused_image_env(&env).map(String::from)
        };
        assert_eq!(
            image_env(&["PATH=/bin", "LD_PRELOAD=/x.so"]).as_deref(),
            Some("LD_PRELOAD")
        );
        assert_eq!(
            image_env(&["NVIDIA_REQUIRE_CUDA=cuda>=12", "NVIDIA_VISIBLE_DEVICES=all"]),
            None
        );
        // What CUDA and PyTorch base images set runs; the hook-hijacking
        // forms of the same variables do not.
        assert_eq!(
            image_env(&[
                "LD_LIBRARY_PATH=/usr/local/nvidia/lib:/usr/local/nvidia/lib64",
                "MALLOC_ARENA_MAX=2"
            ]),
            None
        );
        for hostile in [
            "LD_LIBRARY_PATH=/proc/self/cwd/lib",
            "LD_LIBRARY_PATH=lib",
            "LD_LIBRARY_PATH=/usr/lib::/lib",
            "LD_LIBRARY_PATH=/usr/../proc/self/cwd",
            "LD_AUDIT=/x.so",
            "GCONV_PATH=/usr/lib",
            "GLIBC_TUNABLES=glibc.malloc.mxfast=0",
            "LOCPATH=/proc/self/cwd/locale",
        ] {
            let name = hostile.split('=').next().unwrap();
            assert_eq!(image_env(&[hostile]).as_deref(), Some(name), "{hostile}");
        }
    }

    /// Type and syntax errors name the key (with its table), the line and
    /// the column, as a TOML user reads them.
    #[test]
    fn each_spec_error_names_its_key_line_and_column() {
        let cases = [
            ("gpus = 1", "gpus = -1", "gpus", "line 4, column 8"),
            ("gpus = 1", "gpus = \"two\"", "gpus", "line 4, column 8"),
            (
                "command = [\"ake-render\", \"--samples\", \"8\"]",
                "command = \"/ake-render\"",
                "command",
                "line 3, column 11",
            ),
            (
                "max_duration_secs = 600",
                "max_duration_secs = 123456789012345678901",
                "max_duration_secs",
                "line 5, column 21",
            ),
            (
                "SCENE = \"spheres\"",
                "SCENE = 7",
                "env.SCENE",
                "line 7, column 9",
            ),
            ("gpus = 1", "gpu = 1", "gpu", "line 4, column 1"),
            (
                "command = [\"ake-render\", \"--samples\", \"8\"]",
                "command = [\n  \"--epochs=3\",\n  7,\n]",
                "command",
                "line 5, column 3",
            ),
        ];
        for (from, to, field, at) in cases {
            let err = JobSpecFile::parse(&OK.replace(from, to)).unwrap_err();
            assert_eq!(err.field, field, "{to}: {err}");
            assert!(err.problem.starts_with(at), "{to}: {err}");
        }
        // A missing field names the document, not the first key in it.
        let err =
            JobSpecFile::parse(&format!("market = 0\n{}", OK.replace("gpus = 1", ""))).unwrap_err();
        assert_eq!(err.field, "spec", "{err}");
        assert!(err.problem.contains("missing field `gpus`"), "{err}");
        // An empty command is the image's own: posted, with a warning.
        let v = JobSpecFile::parse(&OK.replace(
            "command = [\"ake-render\", \"--samples\", \"8\"]",
            "command = []",
        ))
        .unwrap()
        .validate(&market())
        .unwrap();
        assert!(
            v.warnings[0].contains("the image's own ENTRYPOINT/CMD"),
            "{:?}",
            v.warnings
        );
    }

    #[test]
    fn a_short_job_names_the_market_minimum() {
        let mut m = market();
        m.min_duration_secs = 240;
        let err =
            JobSpecFile::parse(&OK.replace("max_duration_secs = 600", "max_duration_secs = 1"))
                .unwrap()
                .validate(&m)
                .unwrap_err();
        assert_eq!(err.field, "max_duration_secs");
        assert!(
            err.problem.starts_with(
                "must be 240..=3600 on market 0 (a node keeps part of the deadline back"
            ),
            "{err}"
        );
    }

    #[test]
    fn a_missing_digest_warns() {
        let v = JobSpecFile::parse(&OK.replace(
            "@sha256:1111111111111111111111111111111111111111111111111111111111111111",
            ":latest",
        ))
        .unwrap()
        .validate(&market())
        .unwrap();
        assert_eq!(v.warnings.len(), 1);
    }

    #[test]
    fn a_remote_spec_is_the_container_part_in_the_same_toml() {
        let doc = "image = \"ake/render:1\"\ncommand = [\"render\"]\n[env]\nSCENE = \"x\"\n[[inputs]]\nurl = \"https://cdn.example/scene.bin\"\nsha256 = \"".to_string()
            + &"ab".repeat(32)
            + "\"\n";
        let spec = RemoteSpecFile::parse(&doc).unwrap();
        assert_eq!(spec.image, "ake/render:1");
        assert_eq!(spec.inputs[0].sha256, [0xab; 32]);
        assert_eq!(spec.max_output_bytes, 1024 << 20);
        let err = RemoteSpecFile::parse(&doc.replace("https://", "file://")).unwrap_err();
        assert_eq!(err.field, "inputs[0].url");
        assert!(
            RemoteSpecFile::parse("gpus = 1").is_err(),
            "not a container spec"
        );
    }

    #[test]
    fn image_references_are_checked_like_an_engine_would() {
        let digest = format!("sha256:{}", "a".repeat(64));
        for good in [
            "busybox".to_string(),
            "ake/render:local".into(),
            "ghcr.io/org/my_img.v2:1.2-rc".into(),
            "localhost:5000/x/y__z:tag".into(),
            "[::1]:5000/x:1".into(),
            "MyHost/x".into(),
            "docker.io/library/ubuntu:22.04".into(),
            format!("repo/x@sha512:{}", "b".repeat(128)),
            format!("repo/x:1@{digest}"),
            format!("repo/x@{digest}"),
        ] {
            let parsed = parse_image_reference(&good);
            assert!(parsed.is_ok(), "{good}: {parsed:?}");
        }
        assert_eq!(
            parse_image_reference(&format!("repo/x:1@{digest}")).unwrap(),
            ImageReference {
                name: "repo/x:1",
                digest: Some(digest.as_str())
            }
        );
        for bad in [
            "ake render".to_string(),
            "Ake/Render".into(),
            "x@sha256:short".into(),
            format!("x@sha256:{}", "g".repeat(64)),
            format!("x@sha256:{}", "A".repeat(64)),
            "x@md5:abc".into(),
            "x:".into(),
            ":tag".into(),
            "x//y".into(),
            "x:tag with space".into(),
            "-x".into(),
            "x..y".into(),
            "ex ample.com/x".into(),
            "-a-.com/x".into(),
            "[::zz]:5000/x".into(),
            "host:port/x".into(),
        ] {
            let err = parse_image_reference(&bad).unwrap_err();
            assert!(err.contains("expected [registry"), "{bad}: {err}");
        }
    }

    #[test]
    fn frame_ranges_and_substitution() {
        assert_eq!(
            FrameRange::parse("1-240").unwrap(),
            FrameRange {
                first: 1,
                count: 240
            }
        );
        assert_eq!(
            FrameRange::parse("7").unwrap(),
            FrameRange { first: 7, count: 1 }
        );
        for bad_range in ["", "a-b", "5-1", "0-10000", "1-2-3"] {
            let e = FrameRange::parse(bad_range).unwrap_err();
            assert_eq!(e.field, "frames", "{bad_range}");
        }
        assert_eq!(FrameRange::parse("0-9999").unwrap().count, 10_000);
        assert_eq!(substitute_frame("f{frame}.png", 12), "f12.png");
        assert_eq!(substitute_frame("f{frame:04}.png", 12), "f0012.png");
        assert_eq!(substitute_frame("{frame}-{frame}", 3), "3-3");
        assert_eq!(
            substitute_frame("{frames} {frame:x}", 3),
            "{frames} {frame:x}"
        );
        let spec = InlineSpec {
            image: "i".into(),
            command: vec!["render".into(), "--frame".into(), "{frame}".into()],
            env: vec![EnvVar {
                name: "OUT".into(),
                value: "/out/{frame:03}.png".into(),
            }],
            inputs: vec![],
            max_output_bytes: 1,
        };
        assert!(uses_frame(&spec));
        let f = spec_for_frame(&spec, 5);
        assert_eq!(f.command[2], "5");
        assert_eq!(f.env[0].value, "/out/005.png");
        assert!(!uses_frame(&f));
    }
}
