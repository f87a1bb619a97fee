//! Real S3 round trip against moto's server (`pip install 'moto[server]==5.2.1'`), started here
//! as a child process on a free port. Without moto the test prints a loud SKIPPED line; with
//! CI=true it fails.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ake_node::output_store::OutputStore;
use ake_node::outputs::{OutputManifest, RunFacts, UsageReceipt};

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// moto's server process; killed when dropped.
struct Moto {
    child: Child,
    port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn moto_command(port: u16) -> Option<Command> {
    let port = port.to_string();
    let args = ["-H", "127.0.0.1", "-p", port.as_str()];
    let has = |program: &str, probe: &[&str]| {
        Command::new(program)
            .args(probe)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if has("moto_server", &["--help"]) {
        let mut cmd = Command::new("moto_server");
        cmd.args(args);
        return Some(cmd);
    }
    if has("python3", &["-c", "import moto.server, flask"]) {
        let mut cmd = Command::new("python3");
        cmd.args(["-m", "moto.server"]).args(args);
        return Some(cmd);
    }
    None
}

fn start_moto() -> Option<Moto> {
    let port = free_port();
    let Some(mut cmd) = moto_command(port) else {
        let help = "install it with: pip install 'moto[server]==5.2.1'";
        assert!(
            !in_ci(),
            "CI=true but moto's server is not installed; {help}"
        );
        // Straight to stderr: the harness captures eprintln! of passing tests.
        let _ = writeln!(
            std::io::stderr(),
            "\n!!!!! SKIPPED s3 test: moto server not found; {help} !!!!!\n"
        );
        return None;
    };
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let moto = Moto { child, port };
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "moto did not listen on {port} within 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(moto)
}

/// moto accepts unsigned requests, so a raw HTTP PUT creates the bucket.
fn create_bucket(port: u16, bucket: &str) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\n\
         Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
}

#[tokio::test]
async fn s3_round_trip_through_moto() {
    let Some(moto) = start_moto() else {
        return;
    };
    create_bucket(moto.port, "ake-outputs");
    // Only test in this binary, so setting the process environment cannot race.
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");

    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    std::fs::create_dir_all(out.join("ckpt")).unwrap();
    std::fs::write(out.join("result.json"), br#"{"accuracy":0.93}"#).unwrap();
    let big: Vec<u8> = (0..(17u32 << 20)).map(|i| (i % 253) as u8).collect();
    std::fs::write(out.join("ckpt/weights.bin"), &big).unwrap();
    let facts = RunFacts {
        stdout_sha256: [3; 32],
        stderr_sha256: [4; 32],
        image_digest: format!("sha256:{}", "a".repeat(64)),
        spec_hash: "b".repeat(64),
        exit_code: 0,
        usage: UsageReceipt {
            wall_secs: 10,
            gpu_secs: 10,
            energy_mj: 1234,
        },
    };
    let manifest = OutputManifest::build(&out, facts, ake_node::outputs::OutputLimits::NONE)
        .await
        .unwrap();

    let url = format!(
        "s3://ake-outputs/node-7?region=us-east-1&endpoint=http://127.0.0.1:{}",
        moto.port
    );
    let store = OutputStore::from_url(&url).unwrap();
    let uri = store.put_dir("job-9", &out, &manifest).await.unwrap();
    assert_eq!(
        uri,
        format!("s3://ake-outputs/node-7/jobs/job-9/{}", manifest.root_hex())
    );
    // A retried upload after a crash finds the manifest and returns the same URI.
    assert_eq!(store.put_dir("job-9", &out, &manifest).await.unwrap(), uri);

    let dest = tmp.path().join("downloaded");
    let fetched = store.fetch_dir(&uri, &dest).await.unwrap();
    assert_eq!(fetched, manifest);
    assert_eq!(std::fs::read(dest.join("ckpt/weights.bin")).unwrap(), big);
    assert_eq!(
        std::fs::read(dest.join("result.json")).unwrap(),
        br#"{"accuracy":0.93}"#
    );

    let missing = format!("s3://ake-outputs/node-7/jobs/job-9/{}", "0".repeat(64));
    let err = store
        .fetch_dir(&missing, &tmp.path().join("none"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("manifest.json"), "{err}");
    assert!(
        !err.is_retryable(),
        "a missing upload is not a transient error: {err}"
    );
}
