//! Runs real containers against the local Docker engine, from an image built here FROM scratch
//! (Debian's static busybox + a static C memory hog). Needs: docker, /bin/busybox
//! (busybox-static), gcc with a static libc (libc6-dev).
//!
//! Without a Docker engine the tests print a loud SKIPPED line; with CI=true they fail.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

mod support;

use ake_node::config::RuntimeSettings;
use ake_node::runtime::{container_config, container_name, DockerRuntime, JobSpec, RuntimeError};
use sha2::{Digest, Sha256};
use support::*;

/// A job with its own work dir; its container is force-removed when the test ends.
struct TestJob {
    spec: JobSpec,
    dir: tempfile::TempDir,
}

impl TestJob {
    fn new(image: &TestImage, name: &str, script: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let spec = JobSpec {
            job_id: format!("test-{name}-{}", unique()),
            image: image.tag.clone(),
            spec_hash: hex::encode(Sha256::digest(name.as_bytes())),
            command: vec![BUSYBOX.into(), "sh".into(), "-c".into(), script.into()],
            env: vec![],
            gpu_uuids: vec![],
            cpuset: None,
            offline: false,
            driver_capabilities: vec!["compute".into(), "utility".into()],
            input_dir: None,
            work_dir: dir.path().join("work"),
            timeout: Duration::from_secs(60),
            stop_by: None,
            prepare_by: None,
            started_before: false,
            max_output_bytes: 1 << 30,
            max_output_files: 10_000,
        };
        Self { spec, dir }
    }

    fn output(&self, name: &str) -> PathBuf {
        self.spec.output_dir().join(name)
    }
}

impl Drop for TestJob {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", &container_name(&self.spec.job_id)]);
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn small_limits() -> RuntimeSettings {
    RuntimeSettings {
        memory_mb: 64,
        shm_size_mb: 16,
        tmp_size_mb: 16,
        cpus: 1.0,
        pids_limit: 64,
        stop_grace_secs: 1,
        ..Default::default()
    }
}

#[tokio::test]
async fn success_writes_output_and_captures_logs() {
    let Some(rt) = runtime(small_limits(), "success").await else {
        return;
    };
    let image = TestImage::acquire();
    let script = "echo hello; echo oops >&2; echo result > /ake/output/result.txt; \
                  /bin/busybox cat /ake/input/in.txt";
    let mut job = TestJob::new(&image, "success", script);
    let input = job.dir.path().join("input");
    std::fs::create_dir(&input).unwrap();
    std::fs::write(input.join("in.txt"), "input-data\n").unwrap();
    job.spec.input_dir = Some(input);

    let outcome = rt.run(&job.spec).await.unwrap();

    assert_eq!(outcome.exit_code, 0);
    assert!(!outcome.oom_killed && !outcome.timed_out);
    assert_eq!(read(&job.output("result.txt")), "result\n");
    let stdout = std::fs::read(&outcome.stdout_path).unwrap();
    assert_eq!(stdout, b"hello\ninput-data\n");
    assert_eq!(outcome.stdout_sha256, hex::encode(Sha256::digest(&stdout)));
    assert_eq!(read(&outcome.stderr_path), "oops\n");
    assert_eq!(
        outcome.stderr_sha256,
        hex::encode(Sha256::digest(b"oops\n"))
    );
    assert!(outcome.image_digest.starts_with("sha256:"));
    assert!(outcome.started_at.starts_with("20") && outcome.finished_at.starts_with("20"));
    assert!(outcome.wall_secs > 0.0 && outcome.wall_secs < 30.0);
}

#[tokio::test]
async fn nonzero_exit_is_a_normal_outcome() {
    let Some(rt) = runtime(small_limits(), "nonzero_exit").await else {
        return;
    };
    let image = TestImage::acquire();
    let job = TestJob::new(&image, "exit3", "echo failing; exit 3");
    let outcome = rt.run(&job.spec).await.unwrap();
    assert_eq!(outcome.exit_code, 3);
    assert!(!outcome.oom_killed && !outcome.timed_out);
    assert_eq!(read(&outcome.stdout_path), "failing\n");
}

#[tokio::test]
async fn memory_limit_oom_kills() {
    let Some(rt) = runtime(small_limits(), "oom").await else {
        return;
    };
    let image = TestImage::acquire();
    let job = TestJob::new(&image, "oom", "/bin/memhog 512");
    let outcome = rt.run(&job.spec).await.unwrap();
    assert!(outcome.oom_killed, "{outcome:?}");
    assert_eq!(outcome.exit_code, 137);
    assert!(!read(&outcome.stdout_path).contains("allocated"));
}

#[tokio::test]
async fn deadline_stops_then_kills() {
    let Some(rt) = runtime(small_limits(), "deadline").await else {
        return;
    };
    let image = TestImage::acquire();
    // The job ignores SIGTERM (forwarded by the init), so this exercises the kill after the grace.
    let mut job = TestJob::new(
        &image,
        "deadline",
        "trap '' TERM; echo started; /bin/busybox sleep 60",
    );
    job.spec.timeout = Duration::from_secs(2);
    let started = Instant::now();
    let outcome = rt.run(&job.spec).await.unwrap();
    assert!(outcome.timed_out, "{outcome:?}");
    assert_eq!(outcome.exit_code, 137, "killed after the grace");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert!(outcome.wall_secs >= 2.0 && outcome.wall_secs < 15.0);
    assert_eq!(read(&outcome.stdout_path), "started\n");
}

#[tokio::test]
async fn network_is_none_unless_allowed() {
    let Some(rt) = runtime(small_limits(), "network").await else {
        return;
    };
    let image = TestImage::acquire();
    let job = TestJob::new(&image, "net", "/bin/busybox ls /sys/class/net");
    let outcome = rt.run(&job.spec).await.unwrap();
    assert_eq!(read(&outcome.stdout_path), "lo\n");

    let open = RuntimeSettings {
        allow_network: true,
        ..small_limits()
    };
    let Some(rt) = runtime(open, "network").await else {
        return;
    };
    let job = TestJob::new(&image, "net-open", "/bin/busybox ls /sys/class/net");
    let outcome = rt.run(&job.spec).await.unwrap();
    assert!(read(&outcome.stdout_path).contains("eth0"));
}

#[tokio::test]
async fn rootfs_is_read_only_and_caps_dropped() {
    let Some(rt) = runtime(small_limits(), "read_only").await else {
        return;
    };
    let image = TestImage::acquire();
    let script = "echo x > /evil 2>/dev/null && echo root-writable || echo root-ro; \
                  echo x > /tmp/ok && echo tmp-ok; \
                  echo x > /ake/output/ok && echo out-ok; \
                  /bin/busybox grep CapEff /proc/self/status; \
                  /bin/busybox grep NoNewPrivs /proc/self/status";
    let job = TestJob::new(&image, "ro", script);
    let outcome = rt.run(&job.spec).await.unwrap();
    let stdout = read(&outcome.stdout_path);
    let lines: Vec<&str> = stdout.lines().map(str::trim).collect();
    assert_eq!(lines[..3], ["root-ro", "tmp-ok", "out-ok"], "{stdout}");
    assert!(lines[3].ends_with("0000000000000000"), "{stdout}");
    assert!(lines[4].ends_with('1'), "{stdout}");
}

#[tokio::test]
async fn second_run_reattaches_instead_of_running_twice() {
    let Some(rt) = runtime(small_limits(), "reattach").await else {
        return;
    };
    let image = TestImage::acquire();
    let job = TestJob::new(
        &image,
        "reattach",
        "echo run >> /ake/output/runs; /bin/busybox sleep 2",
    );
    let (first, second) = tokio::join!(rt.run(&job.spec), rt.run(&job.spec));
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(first.container_id, second.container_id);
    assert_eq!(first.started_at, second.started_at);
    let again = rt.run(&job.spec).await.unwrap();
    assert_eq!(
        again.started_at, first.started_at,
        "exited container not restarted"
    );
    assert_eq!(read(&job.output("runs")), "run\n");
    let containers = rt.job_containers(Some(&job.spec.job_id)).await.unwrap();
    assert_eq!(containers.len(), 1);

    rt.remove(&job.spec.job_id).await.unwrap();
    rt.remove(&job.spec.job_id).await.unwrap();
    assert!(rt
        .job_containers(Some(&job.spec.job_id))
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn same_job_with_other_spec_hash_conflicts() {
    let Some(rt) = runtime(small_limits(), "conflict").await else {
        return;
    };
    let image = TestImage::acquire();
    let mut job = TestJob::new(&image, "conflict", "exit 0");
    rt.run(&job.spec).await.unwrap();
    job.spec.spec_hash = "00".repeat(32);
    let err = rt.run(&job.spec).await.unwrap_err();
    assert!(
        matches!(err, RuntimeError::ContainerConflict { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("docker rm -f ake-job-"));
}

#[tokio::test]
async fn pinned_digest_is_enforced() {
    let Some(rt) = runtime(small_limits(), "digest").await else {
        return;
    };
    let image = TestImage::acquire();
    let id = image.id();
    let mut job = TestJob::new(&image, "digest-ok", "exit 0");
    job.spec.image = format!("{}@{id}", image.tag);
    assert_eq!(rt.run(&job.spec).await.unwrap().image_digest, id);

    // Neither here nor pullable by its digest (no registry here): refused.
    let mut job = TestJob::new(&image, "digest-bad", "exit 0");
    job.spec.image = format!("{}@sha256:{}", image.tag, "0".repeat(64));
    assert_pin_refused(&rt, &job).await;
}

/// A pinned image the node cannot find or pull by its digest is refused
/// before any container exists.
async fn assert_pin_refused(rt: &DockerRuntime, job: &TestJob) {
    let err = rt.run(&job.spec).await.unwrap_err();
    assert!(
        matches!(
            err,
            RuntimeError::DigestMismatch { .. } | RuntimeError::ImagePull { .. }
        ),
        "{err}"
    );
    assert!(rt
        .job_containers(Some(&job.spec.job_id))
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn image_outside_allowlist_is_refused() {
    let Some(_) = runtime(small_limits(), "allowlist").await else {
        return;
    };
    let rt = DockerRuntime::connect(small_limits(), vec!["ghcr.io/ake/".into()])
        .await
        .unwrap();
    let image = TestImage::acquire();
    let job = TestJob::new(&image, "allowlist", "exit 0");
    let err = rt.run(&job.spec).await.unwrap_err();
    assert!(matches!(err, RuntimeError::ImageNotAllowed { .. }), "{err}");
    assert!(rt
        .job_containers(Some(&job.spec.job_id))
        .await
        .unwrap()
        .is_empty());
    // Created under a list that allowed it, then the list changed: the
    // job's container is reattached, not refused (its step would retry
    // until the deadline).
    let open = DockerRuntime::connect(small_limits(), vec![])
        .await
        .unwrap();
    let ran = open.run(&job.spec).await.unwrap();
    // (The daemon says so from its journal.)
    let mut started = job.spec.clone();
    started.started_before = true;
    let again = rt.run(&started).await.unwrap();
    assert_eq!(again.started_at, ran.started_at);
}

#[tokio::test]
async fn a_pinned_image_is_found_by_its_digest_when_its_tag_names_another() {
    let Some(rt) = runtime(small_limits(), "digest_lookup").await else {
        return;
    };
    let image = TestImage::acquire();
    let pinned = DerivedImage::build(&image.tag, "LABEL ake.test.version=1");
    let newer = DerivedImage::build(&image.tag, "LABEL ake.test.version=2");
    let id_of = |tag: &str| {
        let out = docker(&["inspect", "-f", "{{.Id}}", tag]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let pinned_id = id_of(&pinned.tag);
    assert_ne!(pinned_id, id_of(&newer.tag));
    // The tag in the reference names the newer image; the pin, the older.
    let mut job = TestJob::new(&image, "digest-lookup", "exit 0");
    job.spec.image = format!("{}@{pinned_id}", newer.tag);
    let outcome = rt.run(&job.spec).await.unwrap();
    assert_eq!(outcome.image_digest, pinned_id);
    let ran = docker(&[
        "inspect",
        "-f",
        "{{.Image}}",
        &container_name(&job.spec.job_id),
    ]);
    assert_eq!(String::from_utf8_lossy(&ran.stdout).trim(), pinned_id);
    // A pin naming a local image of another repository is not run: by ID
    // any image on the host would do, one the allowlist never saw.
    let mut job = TestJob::new(&image, "digest-other-repo", "exit 0");
    job.spec.image = format!("{}@{}", newer.tag, image.id());
    assert_pin_refused(&rt, &job).await;
}

#[tokio::test]
async fn default_limits_fit_any_host() {
    // Defaults ask for 4 CPUs; Docker refuses more CPUs than the host has, so connect clamps.
    let Some(rt) = runtime(RuntimeSettings::default(), "default_limits").await else {
        return;
    };
    let host_cpus = rt.docker().info().await.unwrap().ncpu.unwrap() as f64;
    assert_eq!(rt.settings().cpus, host_cpus.min(4.0));
    let image = TestImage::acquire();
    let job = TestJob::new(&image, "defaults", "echo ok");
    let outcome = rt.run(&job.spec).await.unwrap();
    assert_eq!(outcome.exit_code, 0);
    assert_eq!(read(&outcome.stdout_path), "ok\n");
}

/// CVE-2025-23266: the NVIDIA toolkit's createContainer hook ran on the host
/// with the container's environment, image ENV included, so an image's
/// LD_PRELOAD became root on the host. Such an image is refused before any
/// container exists (the daemon hands the job back, free, as ImageNotAllowed).
#[tokio::test]
async fn hostile_image_env_ld_preload_is_refused_before_a_container_exists() {
    let Some(rt) = runtime(small_limits(), "hostile_image_env").await else {
        return;
    };
    let image = TestImage::acquire();
    for line in [
        "ENV LD_PRELOAD=/ake/output/evil.so",
        "ENV GLIBC_TUNABLES=glibc.malloc.mxfast=0",
        "ENV LD_LIBRARY_PATH=/proc/self/cwd/lib",
    ] {
        let hostile = DerivedImage::build(&image.tag, line);
        let mut job = TestJob::new(&image, "hostile-env", "exit 0");
        job.spec.image = hostile.tag.clone();
        let err = rt.run(&job.spec).await.unwrap_err();
        let variable = line[4..].split('=').next().unwrap();
        assert!(
            matches!(&err, RuntimeError::ImageConfigRefused { name, .. } if name == variable),
            "{line}: {err}"
        );
        assert!(!err.is_retryable(), "a refusal, not an engine problem");
        assert!(rt
            .job_containers(Some(&job.spec.job_id))
            .await
            .unwrap()
            .is_empty());
    }
    // A VOLUME where the toolkit may read a GPU selection from mounts (the
    // node backs every image VOLUME with a tmpfs mount).
    let hostile = DerivedImage::build(&image.tag, "VOLUME /var/run/nvidia-container-devices/all");
    let mut job = TestJob::new(&image, "hostile-volume", "exit 0");
    job.spec.image = hostile.tag.clone();
    let err = rt.run(&job.spec).await.unwrap_err();
    assert!(
        matches!(&err, RuntimeError::ImageConfigRefused { name, .. } if name.contains("nvidia-container-devices")),
        "{err}"
    );
    // What CUDA base images set runs: their requirements in NVIDIA_*
    // variables (the node overrides the ones that matter, next test) and an
    // absolute LD_LIBRARY_PATH (host paths to a hook, never the container's).
    let cuda_like = DerivedImage::build(
        &image.tag,
        "ENV NVIDIA_REQUIRE_CUDA=cuda>=12.0 LD_LIBRARY_PATH=/usr/local/nvidia/lib:/usr/local/nvidia/lib64",
    );
    let mut job = TestJob::new(&image, "cuda-like", "exit 0");
    job.spec.image = cuda_like.tag.clone();
    assert_eq!(rt.run(&job.spec).await.unwrap().exit_code, 0);
}

/// A job spec that sets a loader variable (a client other than `ake` can
/// post one) never reaches Docker.
#[tokio::test]
async fn hostile_spec_env_ld_preload_never_reaches_a_container() {
    let Some(rt) = runtime(small_limits(), "hostile_spec_env").await else {
        return;
    };
    let image = TestImage::acquire();
    for env in [
        "LD_PRELOAD=/ake/output/evil.so",
        "NVIDIA_VISIBLE_DEVICES=all",
    ] {
        let mut job = TestJob::new(&image, "hostile-spec-env", "exit 0");
        job.spec.env = vec![env.into()];
        let err = rt.run(&job.spec).await.unwrap_err();
        assert!(matches!(err, RuntimeError::InvalidSpec(_)), "{env}: {err}");
        assert!(err.to_string().contains(env.split('=').next().unwrap()));
        assert!(rt
            .job_containers(Some(&job.spec.job_id))
            .await
            .unwrap()
            .is_empty());
    }
}

/// The GPU container as the node creates it (created, not started: there is
/// no NVIDIA runtime here), read back from the engine: the image asks for
/// every GPU, every driver capability and MIG management, and gets exactly
/// the job's GPU and the market's capabilities.
#[tokio::test]
async fn hostile_image_cannot_widen_what_a_gpu_container_gets() {
    let Some(rt) = runtime(small_limits(), "hostile_gpu_caps").await else {
        return;
    };
    let image = TestImage::acquire();
    let hostile = DerivedImage::build(
        &image.tag,
        "ENV NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=all NVIDIA_MIG_CONFIG_DEVICES=all NVIDIA_GDS=enabled",
    );
    let mut job = TestJob::new(&image, "gpu-caps", "exit 0");
    job.spec.gpu_uuids = vec![H100.into()];
    let resolved = rt.resolve_image(&hostile.tag).await.unwrap();
    let body = container_config(&job.spec, &resolved.id, rt.settings());
    std::fs::create_dir_all(job.spec.output_dir()).unwrap();
    let name = job.spec.container_name();
    let options = bollard::query_parameters::CreateContainerOptions {
        name: Some(name.clone()),
        ..Default::default()
    };
    rt.docker()
        .create_container(Some(options), body)
        .await
        .unwrap();
    let created = rt.docker().inspect_container(&name, None).await.unwrap();
    // What the engine will hand the runtime: image ENV merged with ours.
    let env = created.config.unwrap().env.unwrap();
    let nvidia: Vec<&String> = env.iter().filter(|e| e.starts_with("NVIDIA_")).collect();
    for want in [
        format!("NVIDIA_VISIBLE_DEVICES={H100}"),
        "NVIDIA_DRIVER_CAPABILITIES=compute,utility".to_string(),
        "NVIDIA_MIG_CONFIG_DEVICES=void".to_string(),
        "NVIDIA_GDS=disabled".to_string(),
    ] {
        assert!(nvidia.contains(&&want), "{want} missing from {nvidia:?}");
    }
    assert!(
        !nvidia
            .iter()
            .any(|e| e.ends_with("=all") || e.ends_with("=enabled")),
        "{nvidia:?}"
    );
    let requests = created.host_config.unwrap().device_requests.unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].device_ids, Some(vec![H100.to_string()]));
    assert_eq!(
        requests[0].capabilities,
        Some(vec![vec![
            "gpu".to_string(),
            "compute".to_string(),
            "utility".to_string()
        ]])
    );
}
