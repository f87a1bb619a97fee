//! GPU inventory and metering through NVML (nvml-wrapper).
//!
//! A host without the NVIDIA driver is a normal case: the node then serves CPU-only markets.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nvml_wrapper::enum_wrappers::device::TemperatureSensor;
use nvml_wrapper::error::NvmlError;
use nvml_wrapper::{Device, Nvml};
use serde::{Deserialize, Serialize};

/// One GPU as the market sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuDevice {
    pub index: u32,
    pub uuid: String,
    /// Marketing name, e.g. "NVIDIA H100 80GB HBM3".
    pub model: String,
    pub vram_mib: u64,
    /// The CPUs NUMA-near this GPU (NVML's CPU affinity); empty when NVML
    /// cannot tell.
    #[serde(default)]
    pub cpus: Vec<u32>,
    /// The full GPU a MIG instance is part of (None for a whole GPU).
    #[serde(default)]
    pub mig_parent: Option<String>,
    /// The whole GPUs this one reaches over NVLink (NVML's peer-to-peer
    /// status); empty for a MIG slice or when NVML cannot tell.
    #[serde(default)]
    pub nvlink_peers: Vec<String>,
}

/// The GPUs this node can offer.
#[derive(Clone)]
pub enum GpuInventory {
    /// No usable NVML: the node runs CPU-only markets.
    None { reason: String },
    Nvml {
        nvml: Arc<Nvml>,
        devices: Vec<GpuDevice>,
    },
}

impl std::fmt::Debug for GpuInventory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::None { reason } => f.debug_struct("None").field("reason", reason).finish(),
            Self::Nvml { devices, .. } => f.debug_struct("Nvml").field("devices", devices).finish(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    #[error("NVML {operation} failed for GPU {uuid}: {source}")]
    Nvml {
        operation: &'static str,
        uuid: String,
        source: NvmlError,
    },
    #[error("NVML {operation} failed: {source}")]
    NvmlGlobal {
        operation: &'static str,
        source: NvmlError,
    },
    #[error("GPU {uuid} is not in this node's inventory; only assign GPUs listed by NVML")]
    UnknownGpu { uuid: String },
    #[error("this node has no usable NVML ({reason}); it cannot meter GPU jobs")]
    NoNvml { reason: String },
    #[error(
        "energy counter of GPU {uuid} went backwards ({start_mj} -> {end_mj} mJ): the NVIDIA \
         driver was reloaded during the job, so its energy cannot be measured"
    )]
    EnergyCounterReset {
        uuid: String,
        start_mj: u64,
        end_mj: u64,
    },
    #[error("GPU sampling task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error(
        "NVML did not answer within {0:?} (a GPU fallen off the bus?): check `nvidia-smi` and \
         the kernel log; the node stays out of the queue meanwhile"
    )]
    Timeout(Duration),
}

/// How long one NVML round may take: a GPU fallen off the bus can block a
/// call for minutes, and it must not block the daemon with it.
pub const NVML_TIMEOUT: Duration = Duration::from_secs(5);

/// NVML calls that timed out and have not returned: while one hangs, no
/// other call starts, so a hung driver holds one blocking thread, not one
/// per check and sample.
static NVML_STUCK: AtomicUsize = AtomicUsize::new(0);

const RUNNING: u8 = 0;
const RETURNED: u8 = 1;
const ABANDONED: u8 = 2;

/// Marks its call returned when dropped (a panic too), and takes it off
/// the stuck count if the caller had given up on it.
struct Call(Arc<AtomicU8>);

impl Drop for Call {
    fn drop(&mut self) {
        if self.0.swap(RETURNED, Ordering::SeqCst) == ABANDONED {
            NVML_STUCK.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Runs blocking NVML calls off the async workers, for at most
/// [`NVML_TIMEOUT`] (a stuck call keeps its blocking thread; the daemon
/// goes on, and NVML is not called again until it returns).
pub async fn off_the_loop<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, GpuError> {
    if NVML_STUCK.load(Ordering::SeqCst) > 0 {
        return Err(GpuError::Timeout(NVML_TIMEOUT));
    }
    let state = Arc::new(AtomicU8::new(RUNNING));
    let call = Call(Arc::clone(&state));
    let running = tokio::task::spawn_blocking(move || {
        let value = f();
        drop(call);
        value
    });
    match tokio::time::timeout(NVML_TIMEOUT, running).await {
        Ok(joined) => joined.map_err(GpuError::Task),
        Err(_) => {
            let gave_up =
                state.compare_exchange(RUNNING, ABANDONED, Ordering::SeqCst, Ordering::SeqCst);
            if gave_up.is_ok() {
                NVML_STUCK.fetch_add(1, Ordering::SeqCst);
            }
            Err(GpuError::Timeout(NVML_TIMEOUT))
        }
    }
}

static WARNED_NO_NVML: AtomicBool = AtomicBool::new(false);

/// Initializes NVML (from `lib_path` when given) and lists the GPUs. Never fails: without NVML
/// it returns [`GpuInventory::None`] and warns once per process.
pub fn detect_gpus(lib_path: Option<&Path>) -> GpuInventory {
    match init_nvml(lib_path).and_then(|nvml| list_devices(&nvml).map(|d| (nvml, d))) {
        Ok((nvml, devices)) => GpuInventory::Nvml {
            nvml: Arc::new(nvml),
            devices,
        },
        Err(e) => {
            let reason = format!("{e}");
            if !WARNED_NO_NVML.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    %reason,
                    "NVML unavailable: running CPU-only markets. Install the NVIDIA driver or \
                     set nvml_lib_path to libnvidia-ml.so to offer GPUs"
                );
            }
            GpuInventory::None { reason }
        }
    }
}

fn init_nvml(lib_path: Option<&Path>) -> Result<Nvml, GpuError> {
    let result = match lib_path {
        Some(path) => Nvml::builder().lib_path(path.as_os_str()).init(),
        None => Nvml::init(),
    };
    result.map_err(|source| GpuError::NvmlGlobal {
        operation: "initialization",
        source,
    })
}

/// Most MIG instances one GPU can hold (7 on an A100 or H100).
const MAX_MIG_INSTANCES: u32 = 7;

/// Every whole GPU, and in place of a GPU in MIG mode its MIG instances
/// (each a device of its own, as `nvidia-smi -L` lists them).
fn list_devices(nvml: &Nvml) -> Result<Vec<GpuDevice>, GpuError> {
    let global = |operation| move |source| GpuError::NvmlGlobal { operation, source };
    let count = nvml.device_count().map_err(global("device count"))?;
    let mut listed = Vec::new();
    let mut wholes: Vec<(usize, Device<'_>)> = Vec::new();
    for index in 0..count {
        let device = nvml
            .device_by_index(index)
            .map_err(global("device by index"))?;
        let whole = describe(&device, index, None)?;
        let mig_on = device.mig_mode().is_ok_and(|m| m.current == 1);
        if !mig_on {
            listed.push(whole);
            wholes.push((listed.len() - 1, device));
            continue;
        }
        // An index past the last instance is NotFound: the list ends there.
        for slice in (0..MAX_MIG_INSTANCES).map_while(|i| device.mig_device_by_index(i).ok()) {
            let mut mig = describe(&slice, index, Some(whole.uuid.clone()))?;
            mig.cpus.clone_from(&whole.cpus);
            listed.push(mig);
        }
    }
    link_nvlink_peers(&mut listed, &wholes);
    Ok(listed)
}

/// Records which whole GPUs reach each other over NVLink: one NVML call per
/// pair (at most 64 * 63 / 2 on the largest hosts NVML lists).
fn link_nvlink_peers(listed: &mut [GpuDevice], wholes: &[(usize, Device<'_>)]) {
    use nvml_wrapper::enum_wrappers::device::{P2pCapabilitiesIndex, P2pStatus};
    for (i, (a, first)) in wholes.iter().enumerate() {
        for (b, second) in &wholes[i + 1..] {
            let linked = first.p2p_status(second, P2pCapabilitiesIndex::NvLink);
            if matches!(linked, Ok(P2pStatus::Ok)) {
                let (ua, ub) = (listed[*a].uuid.clone(), listed[*b].uuid.clone());
                listed[*a].nvlink_peers.push(ub);
                listed[*b].nvlink_peers.push(ua);
            }
        }
    }
}

fn describe(
    device: &Device<'_>,
    index: u32,
    parent: Option<String>,
) -> Result<GpuDevice, GpuError> {
    let uuid = device.uuid().map_err(|source| GpuError::NvmlGlobal {
        operation: "device uuid",
        source,
    })?;
    let on = |operation| per_gpu(operation, &uuid);
    Ok(GpuDevice {
        index,
        model: device.name().map_err(on("name"))?,
        vram_mib: device.memory_info().map_err(on("memory info"))?.total >> 20,
        cpus: device
            .cpu_affinity(CPU_MASK_WORDS)
            .map(|mask| cpus_in_mask(&mask))
            .unwrap_or_default(),
        uuid: uuid.clone(),
        mig_parent: parent,
        nvlink_peers: Vec::new(),
    })
}

/// Words of NVML's CPU affinity mask read: 1,024 CPUs.
const CPU_MASK_WORDS: usize = 16;

/// The CPU numbers set in an affinity mask of machine words.
fn cpus_in_mask(mask: &[std::os::raw::c_ulong]) -> Vec<u32> {
    let bits = std::os::raw::c_ulong::BITS;
    (0u32..)
        .zip(mask)
        .flat_map(|(word, &value)| {
            (0..bits)
                .filter(move |bit| value >> bit & 1 == 1)
                .map(move |bit| word * bits + bit)
        })
        .collect()
}

fn per_gpu<'a>(operation: &'static str, uuid: &'a str) -> impl FnOnce(NvmlError) -> GpuError + 'a {
    move |source| GpuError::Nvml {
        operation,
        uuid: uuid.to_string(),
        source,
    }
}

impl GpuInventory {
    pub fn devices(&self) -> &[GpuDevice] {
        match self {
            Self::None { .. } => &[],
            Self::Nvml { devices, .. } => devices,
        }
    }

    /// The part of this host a slot owns: exactly the named GPUs or MIG
    /// instances (none for a CPU slot).
    pub fn only(&self, uuids: &[String]) -> Result<GpuInventory, GpuError> {
        let Self::Nvml { nvml, devices } = self else {
            return match uuids.first() {
                None => Ok(self.clone()),
                Some(uuid) => Err(GpuError::UnknownGpu { uuid: uuid.clone() }),
            };
        };
        let picked = uuids
            .iter()
            .map(|uuid| {
                devices
                    .iter()
                    .find(|d| &d.uuid == uuid)
                    .cloned()
                    .ok_or_else(|| GpuError::UnknownGpu { uuid: uuid.clone() })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self::Nvml {
            nvml: Arc::clone(nvml),
            devices: picked,
        })
    }

    /// Why this machine does not hold what the Node account claims (`gpus`
    /// devices of `model` with `vram_mib`), or None when it does. A node
    /// registered without VRAM is a CPU node and claims no GPU.
    pub fn claim_problem(&self, gpus: u16, model: &str, vram_mib: u32) -> Option<String> {
        if vram_mib == 0 {
            return None;
        }
        if let Some(slice) = self
            .devices()
            .iter()
            .find(|d| d.mig_parent.is_some() && d.model != model)
        {
            return Some(format!(
                "GPU {} is a MIG instance ({}, {} MiB) and the node is registered as {model}: a slice \
                 is never offered as a whole GPU; register this slot with model \"{}\" in a market \
                 for that slice, or give the slot whole GPUs",
                slice.uuid, slice.model, slice.vram_mib, slice.model
            ));
        }
        let vram = u64::from(vram_mib);
        let matching = self
            .devices()
            .iter()
            .filter(|d| {
                d.model == model && d.vram_mib * 100 >= vram * 98 && d.vram_mib * 100 <= vram * 102
            })
            .count();
        (matching < usize::from(gpus)).then(|| {
            let seen: Vec<String> = self
                .devices()
                .iter()
                .map(|d| format!("{} ({} MiB)", d.model, d.vram_mib))
                .collect();
            format!(
                "the node is registered with {gpus} x {model} ({vram_mib} MiB) but NVML sees {}: \
                 fix the GPUs (or nvml_lib_path), or re-register the node with what it has",
                if seen.is_empty() {
                    "no GPU".to_string()
                } else {
                    seen.join(", ")
                }
            )
        })
    }

    pub fn is_cpu_only(&self) -> bool {
        self.devices().is_empty()
    }

    /// The NVIDIA driver's version as NVML reports it (e.g. `570.211.01`).
    pub fn driver_version(&self) -> Result<String, String> {
        match self {
            Self::None { reason } => Err(format!("no NVML ({reason})")),
            Self::Nvml { nvml, .. } => nvml
                .sys_driver_version()
                .map_err(|e| format!("NVML cannot tell the driver version: {e}")),
        }
    }

    /// A sampler for the given GPUs, which must all be in the inventory.
    pub fn sampler(&self, uuids: &[String]) -> Result<GpuSampler, GpuError> {
        let (nvml, devices) = match self {
            Self::None { reason } => {
                return Err(GpuError::NoNvml {
                    reason: reason.clone(),
                })
            }
            Self::Nvml { nvml, devices } => (nvml, devices),
        };
        if let Some(unknown) = uuids
            .iter()
            .find(|u| !devices.iter().any(|d| &d.uuid == *u))
        {
            return Err(GpuError::UnknownGpu {
                uuid: unknown.clone(),
            });
        }
        Ok(GpuSampler {
            nvml: Arc::clone(nvml),
            uuids: Arc::new(uuids.to_vec()),
        })
    }
}

/// Watches NVML for what makes a GPU unfit for paid work: uncorrected ECC
/// errors since the last reset, memory pages waiting to be retired (a GPU
/// reset retires them) and critical Xid errors (driver events, remembered
/// until ake-node restarts: reset the GPU, then restart the daemon).
#[derive(Clone)]
pub struct GpuHealth {
    nvml: Arc<Nvml>,
    uuids: Vec<String>,
    /// The whole GPUs the watched MIG instances are part of: the driver
    /// reports a slice's Xid errors on its parent.
    parents: Vec<String>,
    /// Critical Xids of every GPU of the host (one watch per host).
    xids: Arc<std::sync::Mutex<Vec<(String, String)>>>,
}

impl GpuInventory {
    /// The health watch of every GPU (None without NVML); starts a thread
    /// that listens for critical Xid events.
    pub fn health(&self) -> Option<GpuHealth> {
        let Self::Nvml { nvml, devices } = self else {
            return None;
        };
        let health = GpuHealth {
            nvml: Arc::clone(nvml),
            uuids: devices.iter().map(|d| d.uuid.clone()).collect(),
            parents: devices
                .iter()
                .filter_map(|d| d.mig_parent.clone())
                .collect(),
            xids: Arc::default(),
        };
        let (nvml, xids) = (Arc::clone(nvml), Arc::clone(&health.xids));
        let spawned = std::thread::Builder::new()
            .name("ake-xid".into())
            .spawn(move || watch_xids(&nvml, &xids));
        if let Err(e) = spawned {
            tracing::warn!("cannot watch for Xid errors: {e}");
        }
        Some(health)
    }
}

impl GpuHealth {
    /// The same watch over a slot's GPUs only: its problems are theirs.
    pub fn of(&self, slot: &GpuInventory) -> GpuHealth {
        let devices = slot.devices();
        GpuHealth {
            nvml: Arc::clone(&self.nvml),
            uuids: devices.iter().map(|d| d.uuid.clone()).collect(),
            parents: devices
                .iter()
                .filter_map(|d| d.mig_parent.clone())
                .collect(),
            xids: Arc::clone(&self.xids),
        }
    }

    /// [`problems`](Self::problems) off the async workers, within
    /// [`NVML_TIMEOUT`]: NVML that does not answer is a problem itself.
    pub async fn checked(&self) -> Vec<String> {
        let health = self.clone();
        off_the_loop(move || health.problems())
            .await
            .unwrap_or_else(|e| vec![e.to_string()])
    }

    /// Why a GPU must not take jobs now; empty when all are healthy. A
    /// query the device does not support says nothing.
    pub fn problems(&self) -> Vec<String> {
        use nvml_wrapper::enum_wrappers::device::{EccCounter, MemoryError};
        let mut problems: Vec<String> = self
            .xids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(uuid, _)| self.uuids.contains(uuid) || self.parents.contains(uuid))
            .map(|(_, problem)| problem.clone())
            .collect();
        // A MIG instance's memory errors are its parent GPU's to report.
        let mut watched: Vec<&String> = self.uuids.iter().chain(&self.parents).collect();
        watched.sort_unstable();
        watched.dedup();
        for uuid in watched {
            let Ok(device) = self.nvml.device_by_uuid(uuid.as_str()) else {
                problems.push(format!("GPU {uuid} is no longer visible to NVML"));
                continue;
            };
            if let Ok(n @ 1..) =
                device.total_ecc_errors(MemoryError::Uncorrected, EccCounter::Volatile)
            {
                problems.push(format!(
                    "GPU {uuid} has {n} uncorrected ECC errors since its last reset"
                ));
            }
            if let Ok(true) = device.are_pages_pending_retired() {
                problems.push(format!(
                    "GPU {uuid} has memory pages waiting to be retired: reset the GPU"
                ));
            }
        }
        problems
    }
}

/// Xids caused by what a job ran, not by the GPU (the set NVIDIA's
/// Kubernetes device plugin also ignores).
const APPLICATION_XIDS: [u64; 6] = [13, 31, 43, 45, 68, 109];

/// Records every critical Xid the driver reports, until NVML stops answering.
fn watch_xids(nvml: &Nvml, xids: &std::sync::Mutex<Vec<(String, String)>>) {
    use nvml_wrapper::bitmasks::event::EventTypes;
    let Ok(mut set) = nvml.create_event_set() else {
        return;
    };
    let count = nvml.device_count().unwrap_or(0);
    for index in 0..count {
        let registered = nvml
            .device_by_index(index)
            .map_err(|e| e.to_string())
            .and_then(|d| {
                d.register_events(EventTypes::CRITICAL_XID_ERROR, set)
                    .map_err(|e| e.to_string())
            });
        match registered {
            Ok(back) => set = back,
            Err(e) => {
                tracing::warn!("Xid events are not available: {e}");
                return;
            }
        }
    }
    loop {
        match set.wait(1_000) {
            Ok(event) => {
                let uuid = event.device.uuid().unwrap_or_else(|_| "?".into());
                let xid = match event.event_data {
                    Some(nvml_wrapper::enums::event::XidError::Value(xid)) => xid,
                    _ => 0,
                };
                // A job's own fault (bad kernel, killed process) is not the GPU's.
                if APPLICATION_XIDS.contains(&xid) {
                    tracing::info!("GPU {uuid}: Xid {xid} (an application error, not a GPU fault)");
                    continue;
                }
                let problem = format!("GPU {uuid} reported critical Xid {xid}");
                tracing::error!("{problem}");
                xids.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((uuid, problem));
            }
            Err(NvmlError::Timeout) => {}
            Err(e) => {
                tracing::warn!("stopped watching Xid events: {e}");
                return;
            }
        }
    }
}

/// Point-in-time readings of one GPU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuSample {
    pub uuid: String,
    pub gpu_util_percent: u32,
    pub memory_util_percent: u32,
    pub memory_used_mib: u64,
    pub power_mw: u32,
    pub temperature_c: u32,
}

/// Reads a fixed set of GPUs. NVML calls run on the blocking pool: a wedged driver must not
/// stall the async runtime.
#[derive(Clone)]
pub struct GpuSampler {
    nvml: Arc<Nvml>,
    uuids: Arc<Vec<String>>,
}

impl GpuSampler {
    pub fn uuids(&self) -> &[String] {
        &self.uuids
    }

    pub async fn sample(&self) -> Result<Vec<GpuSample>, GpuError> {
        self.on_each_gpu(sample_device).await
    }

    /// Cumulative energy counters (mJ since driver load), one per GPU.
    pub async fn energy_counters_mj(&self) -> Result<Vec<u64>, GpuError> {
        self.on_each_gpu(|device, uuid| {
            device
                .total_energy_consumption()
                .map_err(per_gpu("total energy consumption", uuid))
        })
        .await
    }

    /// Starts measuring energy for a job; [`EnergyMeter::finish`] returns what it used.
    pub async fn energy_meter(&self) -> Result<EnergyMeter, GpuError> {
        Ok(EnergyMeter {
            start_mj: self.energy_counters_mj().await?,
            sampler: self.clone(),
        })
    }

    async fn on_each_gpu<T: Send + 'static>(
        &self,
        read: fn(&Device<'_>, &str) -> Result<T, GpuError>,
    ) -> Result<Vec<T>, GpuError> {
        let nvml = Arc::clone(&self.nvml);
        let uuids = Arc::clone(&self.uuids);
        off_the_loop(move || {
            uuids
                .iter()
                .map(|uuid| {
                    let device = nvml
                        .device_by_uuid(uuid.as_str())
                        .map_err(per_gpu("device by uuid", uuid))?;
                    read(&device, uuid)
                })
                .collect()
        })
        .await?
    }
}

fn sample_device(device: &Device<'_>, uuid: &str) -> Result<GpuSample, GpuError> {
    let utilization = device
        .utilization_rates()
        .map_err(per_gpu("utilization", uuid))?;
    Ok(GpuSample {
        uuid: uuid.to_string(),
        gpu_util_percent: utilization.gpu,
        memory_util_percent: utilization.memory,
        memory_used_mib: device
            .memory_info()
            .map_err(per_gpu("memory info", uuid))?
            .used
            >> 20,
        power_mw: device.power_usage().map_err(per_gpu("power usage", uuid))?,
        temperature_c: device
            .temperature(TemperatureSensor::Gpu)
            .map_err(per_gpu("temperature", uuid))?,
    })
}

/// Energy counters captured at job start.
pub struct EnergyMeter {
    sampler: GpuSampler,
    start_mj: Vec<u64>,
}

impl EnergyMeter {
    /// Energy used since the meter started, summed over the job's GPUs, in millijoules.
    pub async fn finish(self) -> Result<u64, GpuError> {
        let end_mj = self.sampler.energy_counters_mj().await?;
        self.sampler
            .uuids
            .iter()
            .zip(self.start_mj.iter().zip(end_mj))
            .map(|(uuid, (&start_mj, end_mj))| {
                end_mj
                    .checked_sub(start_mj)
                    .ok_or_else(|| GpuError::EnergyCounterReset {
                        uuid: uuid.clone(),
                        start_mj,
                        end_mj,
                    })
            })
            .sum()
    }
}
