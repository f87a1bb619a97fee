//! Single-instance lock: two daemons sharing a work dir and journal would run jobs twice.
//! An exclusive `flock` on a lock file is released by the kernel when the process dies, so a
//! crashed daemon never leaves a stale lock behind.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another ake-node (pid {holder}) already holds {path}; stop it before starting a second \
         one on the same work dir"
    )]
    AlreadyRunning { path: PathBuf, holder: String },
    #[error("cannot open or lock {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Held for the daemon's lifetime; dropping it releases the lock.
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
    path: PathBuf,
}

impl InstanceLock {
    /// Takes the lock without waiting and writes our pid into the file for diagnostics.
    pub fn acquire(path: &Path) -> Result<Self, LockError> {
        let io = |source| LockError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Err(LockError::AlreadyRunning {
                    path: path.to_path_buf(),
                    holder: holder.trim().to_string(),
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        Ok(Self {
            _file: file,
            path: path.to_path_buf(),
        })
    }

    /// The pid of the process holding the lock at `path`, if one does:
    /// probed with a shared lock on a read-only handle, so nothing is
    /// created or written (a daemon starting meanwhile is not refused).
    pub fn holder(path: &Path) -> Result<Option<String>, LockError> {
        let io = |source| LockError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = match File::open(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            opened => opened.map_err(io)?,
        };
        match file.try_lock_shared() {
            Ok(()) => Ok(None),
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                file.read_to_string(&mut holder).map_err(io)?;
                Ok(Some(holder.trim().to_string()))
            }
            Err(TryLockError::Error(e)) => Err(io(e)),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_fails_with_holder_pid_until_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ake-node.lock");
        let first = InstanceLock::acquire(&path).unwrap();
        let err = InstanceLock::acquire(&path).unwrap_err();
        match &err {
            LockError::AlreadyRunning { holder, .. } => {
                assert_eq!(holder, &std::process::id().to_string())
            }
            other => panic!("expected AlreadyRunning, got {other:?}"),
        }
        assert!(err.to_string().contains("stop it before starting a second"));
        assert_eq!(
            InstanceLock::holder(&path).unwrap(),
            Some(std::process::id().to_string())
        );
        drop(first);
        assert_eq!(InstanceLock::holder(&path).unwrap(), None);
        assert_eq!(
            InstanceLock::holder(&dir.path().join("absent")).unwrap(),
            None
        );
        let again = InstanceLock::acquire(&path).unwrap();
        assert_eq!(again.path(), path);
    }

    #[test]
    fn unwritable_location_is_an_io_error() {
        let err = InstanceLock::acquire(Path::new("/nonexistent-dir/ake.lock")).unwrap_err();
        assert!(matches!(err, LockError::Io { .. }), "{err}");
    }
}
