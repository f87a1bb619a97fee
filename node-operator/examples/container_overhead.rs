//! Measures job container overhead: `DockerRuntime::run` + `remove` versus plain `docker run`
//! of the same FROM-scratch busybox image running `/bin/busybox true`.
//!
//! Run: `cargo run -p ake-node --example container_overhead -- [iterations]`
//! Needs docker, /bin/busybox (busybox-static).

use std::process::Command;
use std::time::{Duration, Instant};

use ake_node::config::RuntimeSettings;
use ake_node::runtime::{DockerRuntime, JobSpec};

fn docker(args: &[&str]) -> std::process::Output {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker CLI");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn build_image(tag: &str) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy("/bin/busybox", dir.path().join("busybox"))
        .expect("/bin/busybox missing: apt-get install -y busybox-static");
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\n",
    )
    .unwrap();
    docker(&["build", "-q", "-t", tag, dir.path().to_str().unwrap()]);
}

fn stats(samples: &mut [Duration]) -> (f64, f64, f64) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mean = samples.iter().map(|d| ms(*d)).sum::<f64>() / samples.len() as f64;
    (ms(samples[0]), ms(samples[samples.len() / 2]), mean)
}

#[tokio::main]
async fn main() {
    let iterations: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("iterations must be a number"))
        .unwrap_or(10);
    let tag = format!("ake-node-bench:{}", std::process::id());
    build_image(&tag);
    let settings = RuntimeSettings {
        memory_mb: 256,
        shm_size_mb: 64,
        tmp_size_mb: 64,
        ..Default::default()
    };
    let runtime = DockerRuntime::connect(settings, vec![]).await.unwrap();
    let cpus = runtime.settings().cpus.to_string();
    let work = tempfile::tempdir().unwrap();

    let mut plain = Vec::new();
    let mut hardened_cli = Vec::new();
    let mut ake = Vec::new();
    for i in 0..iterations {
        let start = Instant::now();
        docker(&["run", "--rm", &tag, "/bin/busybox", "true"]);
        plain.push(start.elapsed());

        let start = Instant::now();
        docker(&[
            "run",
            "--rm",
            "--cap-drop",
            "ALL",
            "--security-opt",
            "no-new-privileges",
            "--pids-limit",
            "4096",
            "--memory",
            "256m",
            "--memory-swap",
            "256m",
            "--cpus",
            &cpus,
            "--shm-size",
            "64m",
            "--read-only",
            "--tmpfs",
            "/tmp:size=64m",
            "--network",
            "none",
            &tag,
            "/bin/busybox",
            "true",
        ]);
        hardened_cli.push(start.elapsed());

        let spec = JobSpec {
            job_id: format!("bench-{}-{i}", std::process::id()),
            image: tag.clone(),
            spec_hash: "00".repeat(32),
            command: vec!["/bin/busybox".into(), "true".into()],
            env: vec![],
            gpu_uuids: vec![],
            cpuset: None,
            offline: false,
            driver_capabilities: vec![],
            input_dir: None,
            work_dir: work.path().join(i.to_string()),
            timeout: Duration::from_secs(60),
            stop_by: None,
            prepare_by: None,
            started_before: false,
            max_output_bytes: 1 << 30,
            max_output_files: 10_000,
        };
        let start = Instant::now();
        let outcome = runtime.run(&spec).await.unwrap();
        runtime.remove(&spec.job_id).await.unwrap();
        ake.push(start.elapsed());
        assert_eq!(outcome.exit_code, 0);
    }
    docker(&["rmi", "-f", &tag]);

    println!("container overhead, {iterations} runs of `/bin/busybox true` (ms)");
    println!(
        "{:<44} {:>8} {:>8} {:>8}",
        "method", "min", "median", "mean"
    );
    for (name, samples) in [
        ("docker run --rm (CLI)", &mut plain),
        ("docker run --rm + same hardening (CLI)", &mut hardened_cli),
        ("DockerRuntime::run + remove (bollard)", &mut ake),
    ] {
        let (min, median, mean) = stats(samples);
        println!("{name:<44} {min:>8.1} {median:>8.1} {mean:>8.1}");
    }
}
