//! Outputs sent while the job still runs. Every [`STAGE_EVERY`] the node
//! looks at the running job's output directory; a file whose size and
//! change times held still since the last look goes up to the attempt's
//! staging area (`jobs/<attempt>/staging/<run>/`), hashed as it is read. When the
//! run ends, a staged file whose hash is the committed one is moved into
//! place in the store instead of being sent again; any other is sent as
//! usual. So a job that changes a file after it was staged (a creator's
//! trick to make the stored object differ from the commitment, and win a
//! dispute) only gets its committed content sent. What is staged never
//! exceeds the job's output caps, so a job that writes, waits and deletes
//! or rewrites makes the node send at most one cap more than its outputs.
//! Files over 5 GiB are not staged (S3 copies at most that much in one
//! request). The staging area goes when the attempt is cleaned up.
//!
//! The job writes while the node reads: files are opened beneath the
//! output directory through no link at all (openat2 with RESOLVE_BENEATH
//! and RESOLVE_NO_SYMLINKS), so a job that swaps a directory for a link
//! cannot make the node send a host file. A kernel without openat2
//! (before 5.6) stages nothing; the outputs then go up after the run.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use futures_util::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::ObjectStoreExt;
use sha2::Digest;

use super::{io_err, object_path, OutputStore, StoreError};
use crate::outputs::{candidate_files, Hash, OutputFile, OutputLimits};

/// How often a running job's outputs are looked at.
pub const STAGE_EVERY: Duration = Duration::from_secs(15);

/// The largest file staged: S3's CopyObject moves at most 5 GiB.
const STAGE_MAX_FILE: u64 = 5 << 30;

/// What went up while the job ran, and what is being watched.
#[derive(Debug, Default, Clone)]
pub struct Staged {
    /// This run's own staging folder: what an earlier run of the attempt
    /// (or a request of a killed process landing late) left is never used.
    run: u64,
    /// The kernel has no openat2: nothing is staged.
    unsupported: bool,
    /// Relative path: the bytes sent and their SHA-256.
    files: HashMap<String, (u64, Hash)>,
    /// Relative path: its size and change times at the last look.
    looked: HashMap<String, [i64; 5]>,
    /// Bytes sent to staging in all, within the job's output cap.
    bytes: u64,
}

impl Staged {
    /// Nothing staged yet, in a folder of its own.
    pub fn for_run() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Staged {
            run: nanos ^ u64::from(std::process::id()).rotate_left(48),
            ..Staged::default()
        }
    }

    /// The run is over: what was watched no longer matters.
    pub fn forget_looks(&mut self) {
        self.looked = HashMap::new();
    }

    /// How many files went up while the job ran.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

impl OutputStore {
    fn staging(&self, job_id: &str) -> ObjectPath {
        self.prefix
            .clone()
            .join("jobs")
            .join(job_id)
            .join("staging")
    }

    fn staging_of_run(&self, job_id: &str, staged: &Staged) -> ObjectPath {
        self.staging(job_id).join(staged.run.to_string())
    }

    /// One look at a running job's `output_dir`: each file that held still
    /// since the last look goes up to staging, within `limits` in all.
    pub async fn stage(
        &self,
        job_id: &str,
        output_dir: &Path,
        staged: &mut Staged,
        limits: OutputLimits,
    ) -> Result<(), StoreError> {
        if staged.unsupported {
            return Ok(());
        }
        let root = open_root(output_dir).map_err(io_err(output_dir))?;
        let mut looked = HashMap::new();
        for (path, _) in candidate_files(output_dir).await? {
            if staged.files.contains_key(&path) {
                continue;
            }
            let file = match open_beneath(&root, &path) {
                Ok(file) => file,
                Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
                    tracing::info!("this kernel has no openat2: outputs go up after the run");
                    staged.unsupported = true;
                    return Ok(());
                }
                // A link, a vanished file: not this file, not now.
                Err(_) => continue,
            };
            let Ok(meta) = file.metadata() else { continue };
            if !meta.is_file() {
                continue;
            }
            let now = [
                meta.size() as i64,
                meta.mtime(),
                meta.mtime_nsec(),
                meta.ctime(),
                meta.ctime_nsec(),
            ];
            let settled = staged.looked.get(&path) == Some(&now);
            looked.insert(path.clone(), now);
            let fits = meta.size() <= STAGE_MAX_FILE
                && (staged.files.len() as u64) < limits.files
                && staged
                    .bytes
                    .checked_add(meta.size())
                    .is_some_and(|b| b <= limits.bytes);
            if !settled || !fits {
                continue;
            }
            let target = object_path(&self.staging_of_run(job_id, staged), &path);
            let mut hasher = sha2::Sha256::new();
            let source = output_dir.join(&path);
            let file = tokio::fs::File::from_std(file);
            let sent = self
                .send_open(file, &source, &target, meta.size(), Some(&mut hasher))
                .await?;
            staged.bytes += sent;
            staged.files.insert(path, (sent, hasher.finalize().into()));
        }
        staged.looked = looked;
        Ok(())
    }

    /// Moves the staged copy of `file` to `target` if it holds the
    /// committed bytes; false when there is none or it cannot be moved.
    pub(super) async fn move_staged(
        &self,
        job_id: &str,
        staged: &Staged,
        file: &OutputFile,
        target: &ObjectPath,
    ) -> bool {
        if staged.files.get(&file.path) != Some(&(file.size, file.sha256)) {
            return false;
        }
        let from = object_path(&self.staging_of_run(job_id, staged), &file.path);
        match self.store.rename(&from, target).await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(
                    "could not move the staged {} into place, sending it: {e}",
                    file.path
                );
                false
            }
        }
    }

    /// Deletes what the attempt's staging area still holds (files changed
    /// after they were staged, never committed, or staged by any run of it),
    /// in bulk where the store can. Off the job's path: the attempt is over.
    pub async fn drop_staging(&self, job_id: &str) {
        use futures_util::TryStreamExt;
        let staging = self.staging(job_id);
        let listed = self
            .store
            .list(Some(&staging))
            .map_ok(|meta| meta.location)
            .boxed();
        let mut deleted = self.store.delete_stream(listed);
        while let Some(result) = deleted.next().await {
            match result {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => {
                    return tracing::warn!("could not delete a staged copy under {staging}: {e}")
                }
            }
        }
    }
}

/// The output directory itself; a link in its place is refused.
fn open_root(dir: &Path) -> std::io::Result<OwnedFd> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
        .open(dir)?;
    Ok(dir.into())
}

/// `relative` opened for reading beneath `root` through no link at all:
/// whatever the job swaps in while it runs, this opens one of its own
/// files or fails. Non-blocking, so a FIFO cannot hold the node.
fn open_beneath(root: &OwnedFd, relative: &str) -> std::io::Result<std::fs::File> {
    let path = std::ffi::CString::new(relative).map_err(std::io::Error::other)?;
    // SAFETY: open_how is plain integers; zero is a valid value of each.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK) as u64;
    how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS;
    // SAFETY: a valid directory descriptor, C string and open_how, with its size.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root.as_raw_fd(),
            path.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor, owned by no one else.
    Ok(unsafe { std::fs::File::from_raw_fd(fd as i32) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output_store::tests::facts;
    use crate::outputs::OutputManifest;

    const CAPS: OutputLimits = OutputLimits {
        bytes: 1 << 20,
        files: 100,
    };

    #[tokio::test]
    async fn settled_files_go_up_while_the_job_runs_and_only_committed_bytes_are_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        std::fs::create_dir_all(out.join("frames")).unwrap();
        let store =
            OutputStore::from_url(&format!("file://{}", tmp.path().join("store").display()))
                .unwrap();
        let staging = tmp.path().join("store/jobs/job-1/staging");
        for i in 0..4u8 {
            std::fs::write(out.join(format!("frames/{i}.png")), [i; 1000]).unwrap();
        }
        let mut staged = Staged::for_run();
        // The first look only notes each file; the second sends those that held still.
        store.stage("job-1", &out, &mut staged, CAPS).await.unwrap();
        assert!(staged.is_empty() && !staging.exists());
        std::fs::write(out.join("frames/3.png"), [3; 1001]).unwrap();
        store.stage("job-1", &out, &mut staged, CAPS).await.unwrap();
        assert_eq!(staged.len(), 3, "the file still being written waits");
        assert!(staging
            .join(staged.run.to_string())
            .join("frames/0.png")
            .exists());
        // The job changes a staged file in place after it went up (same
        // size): its committed content is what the store ends up holding.
        std::fs::write(out.join("frames/1.png"), [0xee; 1000]).unwrap();
        let manifest = OutputManifest::build(&out, facts(), OutputLimits::NONE)
            .await
            .unwrap();
        let uri = store
            .put_dir("job-1", &out, &manifest, &staged)
            .await
            .unwrap();
        assert_eq!(
            store.sent(),
            (1000 + 1001, 2),
            "only the changed file and the one never staged were sent"
        );
        let fetched = store
            .fetch_dir(&uri, &tmp.path().join("dest"))
            .await
            .unwrap();
        assert_eq!(fetched, manifest);
        assert_eq!(
            std::fs::read(tmp.path().join("dest/frames/1.png")).unwrap(),
            [0xee; 1000]
        );
        // Cleaning the attempt up empties its staging area.
        assert!(!walkdir(&staging).is_empty());
        store.drop_staging("job-1").await;
        let left: Vec<_> = walkdir(&staging);
        assert!(left.is_empty(), "staging still holds {left:?}");
    }

    #[tokio::test]
    async fn a_link_swapped_in_while_the_job_runs_sends_no_host_file_and_caps_hold() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let host = tmp.path().join("host");
        std::fs::create_dir_all(out.join("frames")).unwrap();
        std::fs::create_dir_all(&host).unwrap();
        std::fs::write(host.join("secret"), b"host key").unwrap();
        std::fs::write(out.join("frames/secret"), b"job data").unwrap();
        let store =
            OutputStore::from_url(&format!("file://{}", tmp.path().join("store").display()))
                .unwrap();
        let mut staged = Staged::default();
        store.stage("job-1", &out, &mut staged, CAPS).await.unwrap();
        // Between the looks the job swaps its directory for a link to the host's.
        std::fs::rename(out.join("frames"), out.join("old")).unwrap();
        std::os::unix::fs::symlink(&host, out.join("frames")).unwrap();
        std::os::unix::fs::symlink(host.join("secret"), out.join("link")).unwrap();
        store.stage("job-1", &out, &mut staged, CAPS).await.unwrap();
        store.stage("job-1", &out, &mut staged, CAPS).await.unwrap();
        let sent: Vec<_> = walkdir(&tmp.path().join("store"));
        assert!(
            sent.iter()
                .all(|p| !p.ends_with("frames/secret") && !p.ends_with("link")),
            "{sent:?}"
        );
        assert_eq!(staged.len(), 1, "only old/secret, the job's own file");
        // A name listed before the swap opens nothing once it leads through a link.
        let root = open_root(&out).unwrap();
        for through_a_link in ["frames/secret", "link", "../host/secret"] {
            assert!(
                open_beneath(&root, through_a_link).is_err(),
                "{through_a_link}"
            );
        }
        let mut own = String::new();
        std::io::Read::read_to_string(&mut open_beneath(&root, "old/secret").unwrap(), &mut own)
            .unwrap();
        assert_eq!(own, "job data");

        // What is staged never passes the caps, whatever is deleted after.
        let caps = OutputLimits {
            bytes: 2_500,
            files: 100,
        };
        let mut staged = Staged::default();
        for round in 0..3u8 {
            for i in 0..2u8 {
                std::fs::write(out.join(format!("old/{round}-{i}")), [i; 1000]).unwrap();
            }
            store.stage("job-2", &out, &mut staged, caps).await.unwrap();
            store.stage("job-2", &out, &mut staged, caps).await.unwrap();
        }
        // old/secret (8 bytes) and two frames fit; no third frame does.
        assert!(staged.bytes == 2_008 && staged.len() == 3, "{staged:?}");
    }

    fn walkdir(dir: &Path) -> Vec<String> {
        let mut found = Vec::new();
        let Ok(entries) = std::fs::read_dir(dir) else {
            return found;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                found.extend(walkdir(&path));
            } else {
                found.push(path.display().to_string());
            }
        }
        found
    }
}
