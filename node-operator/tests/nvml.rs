//! GPU inventory and metering against a fake libnvidia-ml built here from C (needs gcc).
//! The shim exports exactly the NVML symbols nvml-wrapper 0.13 calls for our queries and
//! simulates two GPUs whose energy counters advance by a fixed step on every read.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use ake_node::gpu::{detect_gpus, GpuError, GpuInventory};

/// mJ added to a GPU's energy counter on every nvmlDeviceGetTotalEnergyConsumption call.
const ENERGY_STEP_MJ: [u64; 2] = [1_500, 2_250];

const SHIM_C: &str = r#"
#include <stdio.h>
#include <string.h>

typedef struct { const char *name; const char *uuid; unsigned long long total, used;
                 unsigned gpu_util, mem_util, power_mw, temp_c;
                 unsigned long long energy, energy_step; } fake_gpu;
typedef struct { unsigned version; unsigned long long total, reserved, free, used; } nvmlMemory_v2_t;
typedef struct { unsigned gpu, memory; } nvmlUtilization_t;
typedef fake_gpu *nvmlDevice_t;

enum { OK = 0, INVALID_ARGUMENT = 2, NOT_FOUND = 6, INSUFFICIENT_SIZE = 7 };

static fake_gpu gpus[2] = {
    { "NVIDIA H100 80GB HBM3", "GPU-11111111-2222-3333-4444-555555555555",
      85520809984ULL, 1073741824ULL, 87, 45, 312000, 64, 1000000ULL, 1500ULL },
    { "NVIDIA GeForce RTX 4090", "GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
      25757220864ULL, 536870912ULL, 12, 3, 95000, 41, 5000000ULL, 2250ULL },
};

static int copy_str(const char *src, char *dst, unsigned len) {
    if (strlen(src) + 1 > len) return INSUFFICIENT_SIZE;
    strcpy(dst, src);
    return OK;
}

int nvmlInit_v2(void) { return OK; }
int nvmlShutdown(void) { return OK; }
const char *nvmlErrorString(int r) { return r == NOT_FOUND ? "Not Found" : "fake nvml error"; }
int nvmlSystemGetDriverVersion(char *v, unsigned len) { return copy_str("550.54.15", v, len); }
int nvmlDeviceGetCount_v2(unsigned *n) { *n = 2; return OK; }
int nvmlDeviceGetHandleByIndex_v2(unsigned i, nvmlDevice_t *d) {
    if (i >= 2) return INVALID_ARGUMENT;
    *d = &gpus[i];
    return OK;
}
int nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *d) {
    for (int i = 0; i < 2; i++)
        if (strcmp(uuid, gpus[i].uuid) == 0) { *d = &gpus[i]; return OK; }
    return NOT_FOUND;
}
int nvmlDeviceGetName(nvmlDevice_t d, char *n, unsigned len) { return copy_str(d->name, n, len); }
int nvmlDeviceGetUUID(nvmlDevice_t d, char *u, unsigned len) { return copy_str(d->uuid, u, len); }
int nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t d, nvmlMemory_v2_t *m) {
    if ((m->version >> 24) != 2 || (m->version & 0xffffff) != sizeof(nvmlMemory_v2_t))
        return INVALID_ARGUMENT;
    m->total = d->total; m->used = d->used; m->reserved = 0; m->free = d->total - d->used;
    return OK;
}
int nvmlDeviceGetUtilizationRates(nvmlDevice_t d, nvmlUtilization_t *u) {
    u->gpu = d->gpu_util; u->memory = d->mem_util; return OK;
}
int nvmlDeviceGetPowerUsage(nvmlDevice_t d, unsigned *p) { *p = d->power_mw; return OK; }
int nvmlDeviceGetTemperature(nvmlDevice_t d, int sensor, unsigned *t) {
    if (sensor != 0) return INVALID_ARGUMENT;
    *t = d->temp_c; return OK;
}
int nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t d, unsigned long long *e) {
    d->energy += d->energy_step; *e = d->energy; return OK;
}
"#;

const H100: &str = "GPU-11111111-2222-3333-4444-555555555555";
const RTX4090: &str = "GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";

/// Compiles the shim once per test process.
fn fake_nvml() -> &'static Path {
    static SHIM: OnceLock<PathBuf> = OnceLock::new();
    SHIM.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("ake-fake-nvml-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("fake_nvml.c"), SHIM_C).unwrap();
        let lib = dir.join("libnvidia-ml-fake.so");
        let out = Command::new("gcc")
            .args(["-shared", "-fPIC", "-O1", "-o"])
            .arg(&lib)
            .arg(dir.join("fake_nvml.c"))
            .output()
            .expect("gcc is needed to build the fake libnvidia-ml (apt-get install -y gcc)");
        assert!(
            out.status.success(),
            "compiling the NVML shim failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        lib
    })
}

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
