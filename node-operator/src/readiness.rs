//! Whether this node can finish a job it would take now: one gate for
//! arming and staying in the queue, shown by `status`, the metrics and
//! `doctor`. Each check names what is wrong and what to do; the daemon
//! keeps the node out of the queue while any fails.

use std::path::Path;
use std::time::Duration;

use ake_sdk::chain::rpc::EndpointHealth;

use crate::output_store::OutputStore;
use crate::runtime::DockerRuntime;

/// What the journal's filesystem keeps free: a job's journal entries and
/// signed transactions take kilobytes; below this, writes may fail mid-job.
pub const JOURNAL_FLOOR_BYTES: u64 = 64 << 20;

/// How long the engine or the output store may take to answer a check.
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// Bytes free to an unprivileged user on the filesystem holding `path`
/// (its nearest existing ancestor).
pub fn free_bytes(path: &Path) -> std::io::Result<u64> {
    let existing = path
        .ancestors()
        .find(|p| p.exists())
        .unwrap_or(Path::new("/"));
    let c_path = std::ffi::CString::new(existing.as_os_str().as_encoded_bytes())
        .map_err(std::io::Error::other)?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: a valid C string and a buffer of the right type.
    if unsafe { libc::statvfs(c_path.as_ptr(), stat.as_mut_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: statvfs succeeded and filled it.
    let stat = unsafe { stat.assume_init() };
    Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// The work dir must hold one job's inputs and outputs at their caps; the
/// journal its floor.
pub fn disk_problems(work_dir: &Path, work_floor: u64, journal: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for (path, floor, what) in [
        (
            work_dir,
            work_floor,
            "a job's inputs and outputs at their caps (inputs.max_total_bytes + max_output_bytes)",
        ),
        (journal, JOURNAL_FLOOR_BYTES, "the journal's floor"),
    ] {
        match free_bytes(path) {
            Ok(free) if free < floor => problems.push(format!(
                "{} has {free} bytes free, less than the {floor} of {what}: free disk space (as root, delete what {} holds) or lower the caps",
                path.display(),
                crate::runtime::trash_dir(work_dir).display()
            )),
            Ok(_) => {}
            Err(e) => problems.push(format!("cannot read the free space of {}: {e}", path.display())),
        }
    }
    problems
}

/// The engine answers a ping.
pub async fn engine_problem(runtime: &DockerRuntime) -> Option<String> {
    match tokio::time::timeout(CHECK_TIMEOUT, runtime.docker().ping()).await {
        Ok(Ok(_)) => None,
        Ok(Err(e)) => Some(format!(
            "the Docker engine does not answer ({e}): start dockerd"
        )),
        Err(_) => Some(format!(
            "the Docker engine did not answer a ping within {CHECK_TIMEOUT:?}"
        )),
    }
}

/// The output store takes a write and gives it back.
pub async fn store_problem(store: &OutputStore, name: &str) -> Option<String> {
    match tokio::time::timeout(CHECK_TIMEOUT * 3, store.canary(name)).await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(format!(
            "the output store {} refuses a test write and read ({e}): fix output_store or its credentials",
            store.base_uri()
        )),
        Err(_) => Some(format!(
            "the output store {} did not take a test write and read within {:?}",
            store.base_uri(),
            CHECK_TIMEOUT * 3
        )),
    }
}

/// One current endpoint is enough: reads go to the best, sends to all, so
/// a lagging or silent one among them costs nothing (`status` and the
/// metrics name it; `doctor` fails on it). With none current, the node
/// would be shown its jobs late.
pub fn rpc_problem(health: &[EndpointHealth]) -> Option<String> {
    if health.iter().any(EndpointHealth::is_current) {
        return None;
    }
    let why: Vec<String> = health.iter().filter_map(EndpointHealth::problem).collect();
    Some(format!("no RPC endpoint is current: {}", why.join("; ")))
}
