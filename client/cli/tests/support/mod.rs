//! Runs the real `ake` binary against a real `ake localnet` process.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use solana_sdk::signature::{write_keypair_file, Keypair};

pub const AKE: &str = env!("CARGO_BIN_EXE_ake");

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A localnet process, killed on drop, and a scratch directory.
pub struct Net {
    pub url: String,
    pub dir: tempfile::TempDir,
    child: Child,
}

impl Drop for Net {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Net {
    pub fn start() -> Net {
        Net::spawn(None)
    }

    /// A localnet bootstrapped from migrations/localnet.toml as `edit`
    /// rewrites it.
    pub fn start_with(edit: impl FnOnce(String) -> String) -> Net {
        let params = std::fs::read_to_string(repo_root().join("migrations/localnet.toml")).unwrap();
        Net::spawn(Some(edit(params)))
    }

    fn spawn(params: Option<String>) -> Net {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        let log = std::fs::File::create(dir.path().join("localnet.log")).unwrap();
        let out = std::fs::File::create(dir.path().join("localnet.out")).unwrap();
        // From an empty directory, without --params unless given: the
        // localnet parameters are built into `ake` (a user who installed
        // it has no migrations/ folder).
        let mut command = Command::new(AKE);
        if let Some(params) = params {
            let path = dir.path().join("params.toml");
            std::fs::write(&path, params).unwrap();
            command.arg("localnet").arg("--params").arg(path);
        } else {
            command.arg("localnet");
        }
        let child = command
            .args(["--bind", &format!("127.0.0.1:{port}")])
            .arg("--admin-keypair")
            .arg(dir.path().join("admin.json"))
            .current_dir(dir.path())
            .stdout(out)
            .stderr(log)
            .spawn()
            .expect("spawn ake localnet");
        let net = Net { url, dir, child };
        let deadline = Instant::now() + Duration::from_secs(120);
        // Ready once AKE is bootstrapped and answering.
        while !net
            .run(&["--output", "json", "epoch", "show"], "admin")
            .status
            .success()
        {
            assert!(
                Instant::now() < deadline,
                "localnet did not come up: {}",
                net.log()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
        net
    }

    /// What `ake localnet` printed on standard output: only its own report,
    /// never a program's log line.
    pub fn out(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("localnet.out")).unwrap_or_default()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("localnet.log")).unwrap_or_default()
    }

    /// A new keypair file named `name` in the scratch dir.
    pub fn wallet(&self, name: &str) -> (PathBuf, Keypair) {
        let key = Keypair::new();
        let path = self.dir.path().join(format!("{name}.json"));
        write_keypair_file(&key, &path).unwrap();
        (path, key)
    }

    pub fn keypair_path(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.json"))
    }

    /// `ake --url <net> --keypair <name>.json ARGS`.
    pub fn run(&self, args: &[&str], signer: &str) -> Output {
        Command::new(AKE)
            .args(["--url", &self.url, "--keypair"])
            .arg(self.keypair_path(signer))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run ake")
    }

    /// Runs, asserts success, returns stdout parsed as JSON (`--output json` added).
    pub fn json(&self, args: &[&str], signer: &str) -> serde_json::Value {
        let mut all = vec!["--output", "json"];
        all.extend_from_slice(args);
        let out = self.run(&all, signer);
        assert!(
            out.status.success(),
            "ake {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "ake {args:?} printed no JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// Runs, asserts failure, returns stderr.
    pub fn fails(&self, args: &[&str], signer: &str) -> String {
        let out = self.run(args, signer);
        assert!(
            !out.status.success(),
            "ake {args:?} should have failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}
