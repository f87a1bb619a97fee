//! The GPU host's container boundary: on a GPU host it includes the NVIDIA
//! Container Toolkit, whose hooks run on the host while a job's container is
//! created, and the NVIDIA kernel driver, which every GPU job talks to. A
//! version with a known container escape would hand a job the node's hot
//! key, its store credentials and every later job, so the node refuses to
//! arm on one (`doctor` says the same).
//!
//! The table lists each escape with the first fixed release of every branch
//! NVIDIA published a fix for. Add a row when NVIDIA publishes a bulletin.

use std::cmp::Ordering;
use std::path::Path;
use std::time::Duration;

/// What a version is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    /// NVIDIA Container Toolkit (`nvidia-container-cli`, `nvidia-ctk`).
    Toolkit,
    /// The NVIDIA kernel driver (NVML's driver version).
    Driver,
}

impl Component {
    fn name(self) -> &'static str {
        match self {
            Self::Toolkit => "NVIDIA Container Toolkit",
            Self::Driver => "NVIDIA driver",
        }
    }
}

/// One known container escape.
#[derive(Debug, Clone, Copy)]
pub struct Advisory {
    pub cve: &'static str,
    pub component: Component,
    /// The first fixed release of each branch with a fix (a branch is the
    /// first number: 1 for toolkit 1.x, 570 for driver R570).
    pub fixed_in: &'static [&'static str],
    pub impact: &'static str,
}

/// Known container escapes through the toolkit or the driver.
pub const KNOWN_ESCAPES: [Advisory; 5] = [
    Advisory {
        cve: "CVE-2024-0132",
        component: Component::Toolkit,
        fixed_in: &["1.16.2"],
        impact: "a crafted image races the toolkit's mounts and reaches the host filesystem",
    },
    Advisory {
        cve: "CVE-2025-23359",
        component: Component::Toolkit,
        fixed_in: &["1.17.4"],
        impact: "bypass of the CVE-2024-0132 fix: the host filesystem",
    },
    Advisory {
        cve: "CVE-2025-23266",
        component: Component::Toolkit,
        fixed_in: &["1.17.8"],
        impact: "an image's LD_PRELOAD is loaded into the createContainer hook: root on the host",
    },
    Advisory {
        cve: "CVE-2025-33219",
        component: Component::Driver,
        fixed_in: &["535.288.01", "570.211.01"],
        impact: "integer overflow in the kernel module reachable from a GPU job: code execution and escalation of privileges",
    },
    Advisory {
        cve: "CVE-2026-24187",
        component: Component::Driver,
        fixed_in: &["535.309.01", "580.159.03", "595.71.05"],
        impact: "kernel driver flaws of NVIDIA's June 2026 display driver bulletin (CVSS up to 8.8; R570 and R590 got no fix)",
    },
];

/// A dotted version; a pre-release (`1.17.8-rc.1`) sorts before its release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    parts: [u64; 4],
    release: bool,
}

impl Version {
    /// Parses `1.17.8`, `v1.17.8`, `570.211.01`, `1.17.8-rc.1`; None for
    /// anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim().trim_start_matches('v');
        let (numbers, pre) = match text.split_once(['-', '~', '+']) {
            Some((numbers, suffix)) => (numbers, !suffix.is_empty()),
            None => (text, false),
        };
        let mut parts = [0u64; 4];
        let mut count = 0;
        for part in numbers.split('.') {
            *parts.get_mut(count)? = part.parse().ok()?;
            count += 1;
        }
        (count >= 2).then_some(Self {
            parts,
            release: !pre,
        })
    }

    fn branch(&self) -> u64 {
        self.parts[0]
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.parts, self.release).cmp(&(other.parts, other.release))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Why `version` of `component` must not run jobs: one line per known
/// escape it is open to. A branch with a fix is safe from that fix on; a
/// branch older than the newest fixed one that got no fix is open (NVIDIA
/// fixes only branches it still supports); a newer branch is safe. An
/// unparsable version is refused: what cannot be checked is not trusted.
pub fn open_escapes(component: Component, version: &str) -> Vec<String> {
    let Some(v) = Version::parse(version) else {
        return vec![format!(
            "cannot parse the {} version '{version}': refusing GPU jobs until it is known",
            component.name()
        )];
    };
    KNOWN_ESCAPES
        .iter()
        .filter(|a| a.component == component)
        .filter_map(|a| {
            let fixed: Vec<Version> = a.fixed_in.iter().filter_map(|f| Version::parse(f)).collect();
            let same_branch = fixed.iter().find(|f| f.branch() == v.branch());
            let newest_branch = fixed.iter().map(Version::branch).max().unwrap_or(0);
            let open = match same_branch {
                Some(first_fixed) => v < *first_fixed,
                None => v.branch() < newest_branch,
            };
            open.then(|| {
                format!(
                    "{} {version} is open to {} ({}); upgrade to a fixed release (first fixed: {}), then restart ake-node",
                    component.name(),
                    a.cve,
                    a.impact,
                    a.fixed_in.join(", ")
                )
            })
        })
        .collect()
}

/// The toolkit's binaries that report a version: the library's CLI and the
/// Go hooks (CVE-2025-23266 lived in the hooks, which ship in another
/// package than the CLI and can lag behind it).
const TOOLKIT_BINARIES: [&str; 3] = [
    "nvidia-container-cli",
    "nvidia-ctk",
    "nvidia-container-runtime-hook",
];

/// The installed toolkit's version: the lowest any of its binaries reports
/// (`--version`), or the configured binary's alone. A binary that is there
/// but prints no version, or none of them there, is an error.
pub async fn toolkit_version(cli: Option<&Path>) -> Result<String, String> {
    let candidates: Vec<&Path> = match cli {
        Some(path) => vec![path],
        None => TOOLKIT_BINARIES.iter().map(Path::new).collect(),
    };
    let mut lowest: Option<(Version, String)> = None;
    let mut missing = Vec::new();
    for binary in candidates {
        let run = tokio::process::Command::new(binary)
            .arg("--version")
            .kill_on_drop(true)
            .output();
        let text = match tokio::time::timeout(Duration::from_secs(10), run).await {
            Ok(Ok(out)) if out.status.success() => String::from_utf8_lossy(&out.stdout).to_string(),
            Ok(Ok(out)) => {
                return Err(format!(
                    "{} --version exited with {}",
                    binary.display(),
                    out.status
                ))
            }
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                missing.push(binary.display().to_string());
                continue;
            }
            Ok(Err(e)) => return Err(format!("{}: {e}", binary.display())),
            Err(_) => {
                return Err(format!(
                    "{} --version did not answer in 10 s",
                    binary.display()
                ))
            }
        };
        let found = version_in(&text).ok_or_else(|| {
            format!(
                "{} --version printed no version: {}",
                binary.display(),
                text.trim()
            )
        })?;
        let parsed = Version::parse(&found).expect("version_in returns parsable versions");
        if lowest.as_ref().is_none_or(|(v, _)| parsed < *v) {
            lowest = Some((parsed, found));
        }
    }
    lowest.map(|(_, text)| text).ok_or_else(|| {
        format!(
            "cannot read the NVIDIA Container Toolkit's version (not found: {}): install toolkit {} or later, or set nvidia_toolkit_cli",
            missing.join(", "),
            newest_toolkit_fix()
        )
    })
}

/// The version on the first line that names one (`cli-version: 1.17.8`,
/// `NVIDIA Container Toolkit CLI version 1.17.8`).
fn version_in(text: &str) -> Option<String> {
    text.lines()
        .filter(|line| line.to_ascii_lowercase().contains("version"))
        .find_map(|line| {
            line.split([' ', ':'])
                .rev()
                .find(|word| Version::parse(word).is_some())
                .map(str::to_string)
        })
}

/// The oldest toolkit release open to none of the known escapes.
pub fn newest_toolkit_fix() -> &'static str {
    KNOWN_ESCAPES
        .iter()
        .filter(|a| a.component == Component::Toolkit)
        .flat_map(|a| a.fixed_in.iter().copied())
        .max_by_key(|f| Version::parse(f).map(|v| (v.parts, v.release)))
        .unwrap_or("the newest")
}

/// Where the NVIDIA Container Toolkit keeps its settings.
pub const TOOLKIT_CONFIG: &str = "/etc/nvidia-container-runtime/config.toml";

/// What the toolkit's own settings (`config.toml` text) let an image
/// change: problems that keep the node out of the queue, and advice.
pub fn toolkit_config_findings(text: &str) -> (Vec<String>, Vec<String>) {
    let (mut problems, mut advice) = (Vec::new(), Vec::new());
    let config: toml::Table = match text.parse() {
        Ok(config) => config,
        Err(e) => {
            problems.push(format!("{TOOLKIT_CONFIG} does not parse ({e}): the node cannot tell what it lets images do"));
            return (problems, advice);
        }
    };
    if let Some(resource) = config
        .get("swarm-resource")
        .and_then(|v| v.as_str())
        .filter(|v| !v.is_empty())
    {
        problems.push(format!(
            "the toolkit's swarm-resource = \"{resource}\" lets an image's {resource}* variables choose GPUs over the node's NVIDIA_VISIBLE_DEVICES: remove it from {TOOLKIT_CONFIG}"
        ));
    }
    if config
        .get("accept-nvidia-visible-devices-as-volume-mounts")
        .and_then(|v| v.as_bool())
        == Some(true)
    {
        problems.push(format!(
            "accept-nvidia-visible-devices-as-volume-mounts = true lets mounts choose GPUs: set it to false in {TOOLKIT_CONFIG}"
        ));
    }
    let compat_hook_off = config
        .get("features")
        .and_then(|f| f.get("disable-cuda-compat-lib-hook"))
        .and_then(|v| v.as_bool())
        == Some(true);
    if !compat_hook_off {
        advice.push(format!(
            "set disable-cuda-compat-lib-hook = true under [features] in {TOOLKIT_CONFIG} (the createContainer hook of CVE-2025-23266 then never runs)"
        ));
    }
    (problems, advice)
}

/// The findings of the toolkit's settings file at `path` (the default
/// place when None); a host without the file has the toolkit's defaults.
pub fn toolkit_config_at(path: Option<&Path>) -> (Vec<String>, Vec<String>) {
    let path = path.unwrap_or(Path::new(TOOLKIT_CONFIG));
    match std::fs::read_to_string(path) {
        Ok(text) => toolkit_config_findings(&text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => toolkit_config_findings(""),
        Err(e) => (
            vec![format!("cannot read {}: {e}", path.display())],
            Vec::new(),
        ),
    }
}

/// Why this GPU host must not take jobs: every known escape its toolkit
/// and driver are open to, or why a version could not be read. Empty when
/// both are checked and clean.
pub fn host_problems(
    toolkit: &Result<String, String>,
    driver: &Result<String, String>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (component, version) in [(Component::Toolkit, toolkit), (Component::Driver, driver)] {
        match version {
            Ok(v) => problems.extend(open_escapes(component, v)),
            Err(why) => problems.push(why.clone()),
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(component: Component, version: &str) -> Vec<String> {
        open_escapes(component, version)
    }

    #[test]
    fn hostile_toolkits_with_known_escapes_are_refused() {
        let cases = [
            ("1.17.7", vec!["CVE-2025-23266"]),
            ("1.17.3", vec!["CVE-2025-23359", "CVE-2025-23266"]),
            (
                "1.16.1",
                vec!["CVE-2024-0132", "CVE-2025-23359", "CVE-2025-23266"],
            ),
            ("1.17.8-rc.1", vec!["CVE-2025-23266"]),
            (
                "0.9.0",
                vec!["CVE-2024-0132", "CVE-2025-23359", "CVE-2025-23266"],
            ),
        ];
        for (version, cves) in cases {
            let found = open(Component::Toolkit, version);
            assert_eq!(found.len(), cves.len(), "{version}: {found:?}");
            for (line, cve) in found.iter().zip(cves) {
                assert!(line.contains(cve) && line.contains(version), "{line}");
            }
        }
        for fixed in ["1.17.8", "v1.17.8", "1.18.0", "1.17.10", "2.0.0"] {
            assert!(open(Component::Toolkit, fixed).is_empty(), "{fixed}");
        }
    }

    #[test]
    fn hostile_drivers_with_known_escapes_are_refused() {
        for (open_driver, cves) in [
            ("535.230.02", vec!["CVE-2025-33219", "CVE-2026-24187"]),
            ("535.288.01", vec!["CVE-2026-24187"]),
            ("570.211.01", vec!["CVE-2026-24187"]),
            ("550.163.01", vec!["CVE-2025-33219", "CVE-2026-24187"]),
            ("580.95.05", vec!["CVE-2026-24187"]),
            ("590.48.01", vec!["CVE-2026-24187"]),
            ("470.256.02", vec!["CVE-2025-33219", "CVE-2026-24187"]),
        ] {
            let found = open(Component::Driver, open_driver);
            assert_eq!(found.len(), cves.len(), "{open_driver}: {found:?}");
            for (line, cve) in found.iter().zip(cves) {
                assert!(line.contains(cve), "{line}");
            }
        }
        // Fixed on their branch, or a branch newer than any listed fix.
        for fixed in ["535.309.01", "580.159.03", "595.71.05", "600.20.01"] {
            assert!(open(Component::Driver, fixed).is_empty(), "{fixed}");
        }
    }

    #[test]
    fn hostile_unparsable_versions_are_refused() {
        for garbage in ["", "unknown", "1", "1.x.3", "1.2.3.4.5", "latest"] {
            let found = open(Component::Toolkit, garbage);
            assert!(
                found.len() == 1 && found[0].contains("cannot parse"),
                "{garbage:?}: {found:?}"
            );
            assert_eq!(open(Component::Driver, garbage).len(), 1);
        }
        let missing = host_problems(&Err("no toolkit".into()), &Ok("595.71.05".into()));
        assert_eq!(missing, vec!["no toolkit".to_string()]);
        assert!(host_problems(&Ok("1.17.8".into()), &Ok("595.71.05".into())).is_empty());
    }

    #[test]
    fn hostile_toolkit_settings_that_let_images_choose_gpus_are_refused() {
        let (problems, advice) = toolkit_config_findings(
            "swarm-resource = \"DOCKER_RESOURCE_GPU\"\naccept-nvidia-visible-devices-as-volume-mounts = true\n",
        );
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("DOCKER_RESOURCE_GPU*"));
        assert_eq!(advice.len(), 1);
        let safe = "#swarm-resource = \"DOCKER_RESOURCE_GPU\"\naccept-nvidia-visible-devices-as-volume-mounts = false\n[features]\ndisable-cuda-compat-lib-hook = true\n";
        assert_eq!(toolkit_config_findings(safe), (vec![], vec![]));
        assert_eq!(toolkit_config_findings("[[broken").0.len(), 1);
    }

    #[test]
    fn versions_are_read_from_both_clis() {
        let cli = "cli-version: 1.17.8\nlib-version: 1.17.8\nbuild date: 2025-07-15T09:37+00:00\n";
        assert_eq!(version_in(cli).as_deref(), Some("1.17.8"));
        let ctk = "NVIDIA Container Toolkit CLI version 1.18.0\ncommit: 0a1b2c3\n";
        assert_eq!(version_in(ctk).as_deref(), Some("1.18.0"));
        let hook = "NVIDIA Container Runtime Hook version 1.17.7\ncommit: 1a2b3c4\n";
        assert_eq!(version_in(hook).as_deref(), Some("1.17.7"));
        assert_eq!(version_in("nothing here"), None);
        assert_eq!(newest_toolkit_fix(), "1.17.8");
        assert!(Version::parse("1.17.8-rc.1") < Version::parse("1.17.8"));
        assert!(Version::parse("570.211.01") > Version::parse("570.86.15"));
    }
}
