//! Shared by the Docker-backed tests: the engine (a loud skip outside CI, a
//! failure under CI=true) and a test image built here FROM scratch from
//! Debian's static busybox and a static C memory hog.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::process::{Child, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use ake_node::config::RuntimeSettings;
use ake_node::runtime::DockerRuntime;

pub const BUSYBOX: &str = "/bin/busybox";

const MEMHOG_C: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
    unsigned long mb = argc > 1 ? strtoul(argv[1], 0, 10) : 256;
    for (unsigned long i = 0; i < mb; i++) {
        char *p = malloc(1 << 20);
        if (!p) { puts("malloc failed"); return 2; }
        memset(p, 1, 1 << 20);
    }
    printf("allocated %lu MiB\n", mb);
    return 0;
}
"#;

/// A port free on loopback now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Connects to Docker; `None` (after a loud message) when there is no engine outside CI.
pub async fn runtime(settings: RuntimeSettings, test: &str) -> Option<DockerRuntime> {
    match DockerRuntime::connect(settings, vec![]).await {
        Ok(rt) => Some(rt),
        Err(e) if in_ci() => panic!("CI=true but no usable Docker engine for {test}: {e}"),
        Err(e) => {
            // Straight to stderr: the harness captures eprintln! of passing tests.
            let _ = writeln!(
                std::io::stderr(),
                "\n!!!!! SKIPPED docker test `{test}`: no Docker engine ({e}) !!!!!\n"
            );
            None
        }
    }
}

/// The test image is shared by the tests running at the same time and removed by the last one.
static IMAGE: Mutex<(Option<String>, usize)> = Mutex::new((None, 0));

pub struct TestImage {
    pub tag: String,
}

impl TestImage {
    pub fn acquire() -> Self {
        let mut image = IMAGE.lock().unwrap_or_else(|e| e.into_inner());
        if image.0.is_none() {
            image.0 = Some(build_test_image());
        }
        image.1 += 1;
        Self {
            tag: image.0.clone().unwrap(),
        }
    }

    pub fn id(&self) -> String {
        let out = docker(&["image", "inspect", "--format", "{{.Id}}", &self.tag]);
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }
}

impl Drop for TestImage {
    fn drop(&mut self) {
        let mut image = IMAGE.lock().unwrap_or_else(|e| e.into_inner());
        image.1 -= 1;
        if image.1 == 0 {
            if let Some(tag) = image.0.take() {
                let _ = docker(&["rmi", "-f", &tag]);
            }
        }
    }
}

pub fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("the docker CLI must be installed to build the test image")
}

pub fn build_test_image() -> String {
    assert!(
        Path::new(BUSYBOX).exists(),
        "{BUSYBOX} missing: install it with `apt-get install -y busybox-static`"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(BUSYBOX, dir.path().join("busybox")).unwrap();
    std::fs::write(dir.path().join("memhog.c"), MEMHOG_C).unwrap();
    let gcc = Command::new("gcc")
        .args(["-static", "-O1", "-o", "memhog", "memhog.c"])
        .current_dir(dir.path())
        .output()
        .expect("gcc is needed to build the OOM helper (apt-get install -y gcc libc6-dev)");
    assert!(
        gcc.status.success(),
        "gcc -static failed (need libc6-dev): {}",
        String::from_utf8_lossy(&gcc.stderr)
    );
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nCOPY memhog /bin/memhog\nLABEL ake.test=1\n",
    )
    .unwrap();
    let tag = format!("ake-node-test:{}", unique());
    let out = docker(&["build", "-q", "-t", &tag, dir.path().to_str().unwrap()]);
    assert!(
        out.status.success(),
        "docker build failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    tag
}

/// An image built FROM another local one with extra Dockerfile lines (an
/// image's own ENV, say); removed when dropped.
pub struct DerivedImage {
    pub tag: String,
}

impl DerivedImage {
    pub fn build(base: &str, lines: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("Dockerfile"),
            format!("FROM {base}\n{lines}\n"),
        )
        .unwrap();
        let tag = format!("ake-node-test-derived:{}", unique());
        let out = docker(&["build", "-q", "-t", &tag, dir.path().to_str().unwrap()]);
        assert!(
            out.status.success(),
            "docker build failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self { tag }
    }
}

impl Drop for DerivedImage {
    fn drop(&mut self) {
        let _ = docker(&["rmi", "-f", &self.tag]);
    }
}

pub fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}-{nanos}", std::process::id())
}

/// mJ added to a GPU's energy counter on every nvmlDeviceGetTotalEnergyConsumption call.
pub const ENERGY_STEP_MJ: [u64; 2] = [1_500, 2_250];

const SHIM_C: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct { const char *name; const char *uuid; unsigned long long total, used;
                 unsigned gpu_util, mem_util, power_mw, temp_c;
                 unsigned long long energy, energy_step; } fake_gpu;
typedef struct { unsigned version; unsigned long long total, reserved, free, used; } nvmlMemory_v2_t;
typedef struct { unsigned gpu, memory; } nvmlUtilization_t;
typedef fake_gpu *nvmlDevice_t;

enum { OK = 0, INVALID_ARGUMENT = 2, NOT_FOUND = 6, INSUFFICIENT_SIZE = 7 };

static fake_gpu gpus[7] = {
    { "NVIDIA H100 80GB HBM3", "GPU-11111111-2222-3333-4444-555555555555",
      85520809984ULL, 1073741824ULL, 87, 45, 312000, 64, 1000000ULL, 1500ULL },
    { "NVIDIA GeForce RTX 4090", "GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
      25757220864ULL, 536870912ULL, 12, 3, 95000, 41, 5000000ULL, 2250ULL },
    { "NVIDIA H100 80GB HBM3", "GPU-22222222-2222-3333-4444-555555555555",
      85520809984ULL, 1073741824ULL, 50, 20, 300000, 60, 1000000ULL, 1500ULL },
    { "NVIDIA H100 80GB HBM3", "GPU-33333333-2222-3333-4444-555555555555",
      85520809984ULL, 1073741824ULL, 50, 20, 300000, 60, 1000000ULL, 1500ULL },
    { "NVIDIA H100 80GB HBM3", "GPU-44444444-2222-3333-4444-555555555555",
      85520809984ULL, 1073741824ULL, 50, 20, 300000, 60, 1000000ULL, 1500ULL },
    /* MIG instances of the fourth H100 when FAKE_NVML_MIG is set */
    { "NVIDIA H100 80GB HBM3 MIG 3g.40gb", "MIG-55555555-2222-3333-4444-555555555555",
      42762752000ULL, 0ULL, 0, 0, 0, 0, 0ULL, 0ULL },
    { "NVIDIA H100 80GB HBM3 MIG 3g.40gb", "MIG-66666666-2222-3333-4444-555555555555",
      42762752000ULL, 0ULL, 0, 0, 0, 0, 0ULL, 0ULL },
};

/* FAKE_NVML_GPUS=4: four H100s (the first one as in the default layout),
   two near each half of this machine's CPUs; else an H100 and an RTX 4090. */
static int four(void) { const char *v = getenv("FAKE_NVML_GPUS"); return v && strcmp(v, "4") == 0; }
static fake_gpu *listed(unsigned i) {
    static const int layout4[4] = { 0, 2, 3, 4 };
    return four() ? &gpus[layout4[i]] : &gpus[i];
}
static unsigned count(void) { return four() ? 4 : 2; }

static int copy_str(const char *src, char *dst, unsigned len) {
    if (strlen(src) + 1 > len) return INSUFFICIENT_SIZE;
    strcpy(dst, src);
    return OK;
}

int nvmlInit_v2(void) { return OK; }
int nvmlShutdown(void) { return OK; }
const char *nvmlErrorString(int r) { return r == NOT_FOUND ? "Not Found" : "fake nvml error"; }
/* FAKE_NVML_DRIVER overrides the driver version (a release with no known escape by default). */
int nvmlSystemGetDriverVersion(char *v, unsigned len) {
    const char *version = getenv("FAKE_NVML_DRIVER");
    return copy_str(version ? version : "595.71.05", v, len);
}
int nvmlDeviceGetCount_v2(unsigned *n) { *n = count(); return OK; }
int nvmlDeviceGetHandleByIndex_v2(unsigned i, nvmlDevice_t *d) {
    if (i >= count()) return INVALID_ARGUMENT;
    *d = listed(i);
    return OK;
}
int nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *d) {
    for (int i = 0; i < 7; i++)
        if (strcmp(uuid, gpus[i].uuid) == 0) { *d = &gpus[i]; return OK; }
    return NOT_FOUND;
}
/* GPUs 0-1 of the list are near the first half of the online CPUs, 2-3
   near the second (all of them on a one-CPU machine). */
/* The default layout's two GPUs are bridged by NVLink; the four-GPU one has
   none. Status 0 is NVML_P2P_STATUS_OK, 5 NVML_P2P_STATUS_NOT_SUPPORTED;
   index 2 is NVML_P2P_CAPS_INDEX_NVLINK. */
static unsigned position_of(nvmlDevice_t d) {
    for (unsigned i = 0; i < count(); i++) if (listed(i) == d) return i;
    return 99;
}
int nvmlDeviceGetP2PStatus(nvmlDevice_t a, nvmlDevice_t b, int index, int *status) {
    int bridged = !four() && position_of(a) + position_of(b) == 1;
    *status = index == 2 && bridged ? 0 : 5;
    return OK;
}
int nvmlDeviceGetCpuAffinity(nvmlDevice_t d, unsigned size, unsigned long *set) {
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned position = 0;
    for (unsigned i = 0; i < count(); i++) if (listed(i) == d) position = i;
    long half = online >= 2 ? online / 2 : 1;
    long first = online >= 2 ? (long)(position / 2) * half : 0;
    memset(set, 0, size * sizeof(unsigned long));
    for (long c = first; c < first + half && c < (long)size * 64; c++) set[c / 64] |= 1UL << (c % 64);
    return OK;
}
static int mig_on(nvmlDevice_t d) { return getenv("FAKE_NVML_MIG") && four() && d == &gpus[4]; }
int nvmlDeviceGetMigMode(nvmlDevice_t d, unsigned *current, unsigned *pending) {
    *current = *pending = mig_on(d) ? 1 : 0;
    return OK;
}
int nvmlDeviceGetMigDeviceHandleByIndex(nvmlDevice_t d, unsigned i, nvmlDevice_t *mig) {
    if (!mig_on(d) || i >= 2) return NOT_FOUND;
    *mig = &gpus[5 + i];
    return OK;
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

/* Health: the file named by FAKE_NVML_STATE may hold "ecc=<n>", "pending=1"
   or "xid=<n>" lines, all about the first GPU; read on every call. */
static unsigned long long state_value(const char *key) {
    const char *path = getenv("FAKE_NVML_STATE");
    if (!path) return 0;
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[128]; unsigned long long v = 0; size_t n = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, n) == 0 && line[n] == '=') v = strtoull(line + n + 1, 0, 10);
    fclose(f);
    return v;
}
int nvmlDeviceGetTotalEccErrors(nvmlDevice_t d, int type, int counter, unsigned long long *c) {
    /* "hang=<s>": the call blocks that long, as on a GPU fallen off the bus */
    unsigned long long hang = state_value("hang");
    if (hang) sleep((unsigned)hang);
    /* type 1: uncorrected; counter 0: volatile (since the last reset) */
    *c = (d == &gpus[0] && type == 1 && counter == 0) ? state_value("ecc") : 0;
    return OK;
}
int nvmlDeviceGetRetiredPagesPendingStatus(nvmlDevice_t d, int *pending) {
    *pending = d == &gpus[0] ? (int)state_value("pending") : 0;
    return OK;
}
typedef struct { nvmlDevice_t device; unsigned long long type, data; unsigned gi, ci; } nvmlEventData_t;
static int event_set;
static unsigned long long delivered_xid;
int nvmlEventSetCreate(void **set) { *set = &event_set; return OK; }
int nvmlEventSetFree(void *set) { return OK; }
int nvmlDeviceRegisterEvents(nvmlDevice_t d, unsigned long long types, void *set) { return OK; }
int nvmlEventSetWait_v2(void *set, nvmlEventData_t *data, unsigned timeout_ms) {
    unsigned long long xid = state_value("xid");
    if (xid && xid != delivered_xid) {
        delivered_xid = xid;
        data->device = &gpus[0]; data->type = 0x8; data->data = xid; data->gi = data->ci = 0;
        return OK;
    }
    usleep(timeout_ms * 1000);
    return 10; /* NVML_ERROR_TIMEOUT */
}
"#;

pub const H100: &str = "GPU-11111111-2222-3333-4444-555555555555";
pub const RTX4090: &str = "GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
/// The four H100s NVML lists with `FAKE_NVML_GPUS=4`, in order.
pub const FOUR_H100: [&str; 4] = [
    H100,
    "GPU-22222222-2222-3333-4444-555555555555",
    "GPU-33333333-2222-3333-4444-555555555555",
    "GPU-44444444-2222-3333-4444-555555555555",
];
/// The MIG instances the fourth H100 holds with `FAKE_NVML_MIG=1`.
pub const MIG_SLICES: [&str; 2] = [
    "MIG-55555555-2222-3333-4444-555555555555",
    "MIG-66666666-2222-3333-4444-555555555555",
];

/// Compiles the shim once per test process.
pub fn fake_nvml() -> &'static Path {
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

/// moto's server process; killed when dropped.
pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto_port() -> u16 {
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

pub fn start_moto() -> Option<Moto> {
    let port = moto_port();
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
pub fn create_bucket(port: u16, bucket: &str) {
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
