//! Why the daemon could not start.

use std::path::PathBuf;

use ssenotify_history::HistoryError;

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// Another daemon (or the app) of this user already runs.
    #[error("ssenotify is already running for this user (pid {pid}); lock {}", lock.display())]
    AlreadyRunning {
        /// Its process id, as it wrote it (0 when unreadable).
        pid: u32,
        /// The lock file.
        lock: PathBuf,
    },
    /// A file or socket could not be set up.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being set up.
        what: &'static str,
        /// Where.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The history database could not be opened.
    #[error(transparent)]
    History(#[from] HistoryError),
}
