//! GPU inventory and metering against a fake libnvidia-ml built here from C (needs gcc).
//! The shim exports exactly the NVML symbols nvml-wrapper 0.13 calls for our queries and
//! simulates two GPUs whose energy counters advance by a fixed step on every read.

mod support;

use std::path::Path;

use ake_node::gpu::{detect_gpus, GpuError, GpuInventory};
use support::{fake_nvml, ENERGY_STEP_MJ, H100, RTX4090};

fn inventory() -> GpuInventory {
    let inventory = detect_gpus(Some(fake_nvml()));
    assert!(!inventory.is_cpu_only(), "{inventory:?}");
    inventory
}

#[test]
fn inventory_lists_model_vram_and_uuid() {
    let devices = inventory().devices().to_vec();
    assert_eq!(devices.len(), 2);
    assert_eq!(devices[0].index, 0);
    assert_eq!(devices[0].model, "NVIDIA H100 80GB HBM3");
    assert_eq!(devices[0].uuid, H100);
    assert_eq!(devices[0].vram_mib, 81_559);
    assert_eq!(devices[1].model, "NVIDIA GeForce RTX 4090");
    assert_eq!(devices[1].uuid, RTX4090);
    assert_eq!(devices[1].vram_mib, 24_564);
}

#[tokio::test]
async fn sampler_reads_utilization_memory_power_temperature() {
    let sampler = inventory()
        .sampler(&[RTX4090.to_string(), H100.to_string()])
        .unwrap();
    let samples = sampler.sample().await.unwrap();
    assert_eq!(samples.len(), 2);
    let (rtx, h100) = (&samples[0], &samples[1]);
    assert_eq!(rtx.uuid, RTX4090);
    assert_eq!(
        (
            rtx.gpu_util_percent,
            rtx.memory_util_percent,
            rtx.memory_used_mib
        ),
        (12, 3, 512)
    );
    assert_eq!((rtx.power_mw, rtx.temperature_c), (95_000, 41));
    assert_eq!(h100.uuid, H100);
    assert_eq!(
        (
            h100.gpu_util_percent,
            h100.memory_util_percent,
            h100.memory_used_mib
        ),
        (87, 45, 1024)
    );
    assert_eq!((h100.power_mw, h100.temperature_c), (312_000, 64));
}

/// The only test reading energy counters: the shim's counters are process-global.
#[tokio::test]
async fn job_energy_is_end_minus_start() {
    let inventory = inventory();
    let both = inventory
        .sampler(&[H100.to_string(), RTX4090.to_string()])
        .unwrap();
    let meter = both.energy_meter().await.unwrap();
    // Reads in between advance the counters too; the meter must count them.
    both.energy_counters_mj().await.unwrap();
    let used = meter.finish().await.unwrap();
    assert_eq!(used, 2 * (ENERGY_STEP_MJ[0] + ENERGY_STEP_MJ[1]));

    let one = inventory.sampler(&[RTX4090.to_string()]).unwrap();
    let meter = one.energy_meter().await.unwrap();
    assert_eq!(meter.finish().await.unwrap(), ENERGY_STEP_MJ[1]);
}

#[test]
fn unknown_gpu_is_refused() {
    let err = inventory()
        .sampler(&["GPU-not-here".to_string()])
        .err()
        .unwrap();
    assert!(matches!(err, GpuError::UnknownGpu { .. }), "{err}");
}

#[test]
fn missing_library_means_cpu_only_with_reason() {
    let inventory = detect_gpus(Some(Path::new("/nonexistent/libnvidia-ml.so.1")));
    match &inventory {
        GpuInventory::None { reason } => {
            assert!(reason.contains("initialization"), "{reason}")
        }
        other => panic!("expected no GPUs, got {other:?}"),
    }
    assert!(inventory.is_cpu_only());
    let err = inventory.sampler(&[]).err().unwrap();
    assert!(matches!(err, GpuError::NoNvml { .. }), "{err}");
}

#[test]
fn a_node_never_claims_more_than_nvml_sees() {
    let gpus = inventory();
    // The shim has one H100 (81,559 MiB) and one RTX 4090 (24,563 MiB).
    assert_eq!(gpus.claim_problem(1, "NVIDIA H100 80GB HBM3", 81_559), None);
    assert_eq!(
        gpus.claim_problem(1, "NVIDIA GeForce RTX 4090", 24_564),
        None,
        "within 2%"
    );
    let fewer = gpus
        .claim_problem(2, "NVIDIA H100 80GB HBM3", 81_559)
        .unwrap();
    assert!(fewer.contains("NVML sees"), "{fewer}");
    assert!(
        gpus.claim_problem(1, "NVIDIA A100-SXM4-80GB", 81_559)
            .is_some(),
        "model"
    );
    assert!(
        gpus.claim_problem(1, "NVIDIA H100 80GB HBM3", 40_000)
            .is_some(),
        "VRAM"
    );
    assert_eq!(
        gpus.claim_problem(4, "CPU", 0),
        None,
        "a CPU node claims no GPU"
    );
    let none = detect_gpus(Some(Path::new("/nonexistent/libnvidia-ml.so")));
    assert!(none
        .claim_problem(1, "NVIDIA H100 80GB HBM3", 81_559)
        .unwrap()
        .contains("no GPU"));
}

#[test]
fn ecc_errors_pending_retirement_and_xid_make_a_gpu_unhealthy() {
    let state = std::env::temp_dir().join(format!("ake-nvml-state-{}", std::process::id()));
    std::fs::write(&state, "").unwrap();
    // Only this test reads the health state.
    std::env::set_var("FAKE_NVML_STATE", &state);
    let health = inventory().health().unwrap();
    assert_eq!(health.problems(), Vec::<String>::new());
    std::fs::write(&state, "ecc=3\n").unwrap();
    let problems = health.problems();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains(&format!("GPU {H100} has 3 uncorrected ECC errors")));
    std::fs::write(&state, "pending=1\n").unwrap();
    assert!(health.problems()[0].contains("pages waiting to be retired"));
    std::fs::write(&state, "xid=79\n").unwrap();
    let end = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !health
        .problems()
        .iter()
        .any(|p| p.contains("critical Xid 79"))
    {
        assert!(std::time::Instant::now() < end, "{:?}", health.problems());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // An Xid is remembered after the driver moves on.
    std::fs::write(&state, "").unwrap();
    assert!(health.problems().iter().any(|p| p.contains("Xid 79")));
}

#[tokio::test]
async fn gpu_gauges_are_filled_by_the_sampler() {
    let gpus = inventory();
    let metrics = std::sync::Arc::new(ake_node::metrics::NodeMetrics::new());
    let sampler = gpus.sampler(&[H100.to_string()]).unwrap();
    let task = ake_node::metrics::sample_gpus(
        metrics.clone(),
        sampler,
        std::time::Duration::from_millis(50),
    );
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    task.abort();
    let text = metrics.encode();
    for expected in [
        format!("ake_gpu_utilization_ratio{{uuid=\"{H100}\"}} 0.87"),
        format!("ake_gpu_temperature_celsius{{uuid=\"{H100}\"}} 64.0"),
        format!("ake_gpu_power_watts{{uuid=\"{H100}\"}} 312.0"),
        format!("ake_gpu_memory_used_bytes{{uuid=\"{H100}\"}} 1073741824"),
    ] {
        assert!(text.contains(&expected), "missing {expected} in:\n{text}");
    }
}

#[test]
fn nvlink_peers_are_read_from_nvml() {
    // The fake bridges its two GPUs.
    let devices = inventory().devices().to_vec();
    assert_eq!(devices[0].nvlink_peers, [RTX4090]);
    assert_eq!(devices[1].nvlink_peers, [H100]);
}
