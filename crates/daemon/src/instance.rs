//! The single-instance lock: one engine per user, whoever starts it (`ssenotify run`, the
//! app, a user service).

use std::fs::File;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;

use ssenotify_config::Paths;

use crate::error::DaemonError;

/// The single-instance lock: an exclusive `flock` on a pid file in the runtime directory.
///
/// The kernel drops the lock when the process dies however it dies (kill -9 included), so
/// a crash never leaves a stale lock behind, unlike a pid file alone.
pub(crate) struct InstanceLock {
    _file: File,
}

impl InstanceLock {
    pub(crate) fn acquire(paths: &Paths) -> Result<Self, DaemonError> {
        let path = paths.instance_lock();
        let io = |source| DaemonError::Io {
            what: "instance lock",
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent() {
            ssenotify_config::create_private_dir(dir).map_err(io)?;
        }
        let mut file = std::fs::OpenOptions::new()
            .mode(0o600)
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let pid = std::fs::read_to_string(&path)
                    .ok()
                    .and_then(|text| text.trim().parse().ok())
                    .unwrap_or(0);
                return Err(DaemonError::AlreadyRunning { pid, lock: path });
            }
            Err(std::fs::TryLockError::Error(source)) => return Err(io(source)),
        }
        file.set_len(0).map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        Ok(Self { _file: file })
    }
}

/// Whether a daemon holds the instance lock at `paths` right now (and its pid).
pub fn running_pid(paths: &Paths) -> Option<u32> {
    match InstanceLock::acquire(paths) {
        Err(DaemonError::AlreadyRunning { pid, .. }) => Some(pid),
        _ => None,
    }
}
