//! Where ssenotify keeps its files, and how its private directories are made.

use std::fs::{self, DirBuilder, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The directories ssenotify uses, and the files in them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// The subscriptions file, its lock and stashed secrets (`$XDG_CONFIG_HOME/ssenotify`).
    pub config_dir: PathBuf,
    /// History (`$XDG_DATA_HOME/ssenotify`).
    pub data_dir: PathBuf,
    /// The control socket (`$XDG_RUNTIME_DIR/ssenotify`).
    pub runtime_dir: PathBuf,
}

impl Paths {
    /// The platform's directories for ssenotify; `None` when there is no home directory.
    ///
    /// On Linux these follow `XDG_CONFIG_HOME`, `XDG_DATA_HOME` and `XDG_RUNTIME_DIR`. With
    /// no runtime dir (macOS, or a session without one) the socket goes in the data dir:
    /// unlike a fixed name under `/tmp`, another user cannot create it first.
    pub fn from_env() -> Option<Self> {
        let dirs = directories::ProjectDirs::from("", "", "ssenotify")?;
        let data_dir = dirs.data_dir().to_path_buf();
        Some(Self {
            config_dir: dirs.config_dir().to_path_buf(),
            runtime_dir: dirs
                .runtime_dir()
                .map_or_else(|| data_dir.clone(), Path::to_path_buf),
            data_dir,
        })
    }

    /// Where files fetched for notifications are cached (`$XDG_CACHE_HOME/ssenotify`);
    /// `None` when there is no home directory.
    pub fn cache_dir() -> Option<PathBuf> {
        directories::ProjectDirs::from("", "", "ssenotify").map(|d| d.cache_dir().to_path_buf())
    }

    /// Everything under one root (`config/`, `data/`, `run/`): for tests and portable setups.
    pub fn at(root: impl AsRef<Path>) -> Self {
        let root = root.as_ref();
        Self {
            config_dir: root.join("config"),
            data_dir: root.join("data"),
            runtime_dir: root.join("run"),
        }
    }

    /// The subscriptions file.
    pub fn subscriptions_file(&self) -> PathBuf {
        self.config_dir.join("subscriptions.toml")
    }

    /// The lock every writer of the subscriptions file holds.
    pub fn lock_file(&self) -> PathBuf {
        self.config_dir.join("subscriptions.lock")
    }

    /// Where literal secrets given to `add`/`import` are stashed (mode 0700).
    pub fn secrets_dir(&self) -> PathBuf {
        self.config_dir.join("secrets")
    }

    /// The history database.
    pub fn history_db(&self) -> PathBuf {
        self.data_dir.join("history.sqlite3")
    }

    /// The local event hub's bearer token (0600; kept across restarts).
    pub fn hub_token(&self) -> PathBuf {
        self.data_dir.join("hub.token")
    }

    /// The daemon's control socket.
    pub fn control_socket(&self) -> PathBuf {
        self.runtime_dir.join("ssenotify.sock")
    }

    /// The single-instance lock (holds the running daemon's pid).
    pub fn instance_lock(&self) -> PathBuf {
        self.runtime_dir.join("ssenotify.pid")
    }

    /// A path as written in the file (`file:` references, `ca_file`): absolute, `~/` for
    /// the home directory, or relative to the config dir (not to wherever the daemon runs).
    pub fn expand(&self, written: impl AsRef<Path>) -> PathBuf {
        let written = written.as_ref();
        if let Ok(rest) = written.strip_prefix("~")
            && let Some(base) = directories::BaseDirs::new()
        {
            return base.home_dir().join(rest);
        }
        // `join` keeps an absolute path as it is.
        self.config_dir.join(written)
    }
}

/// Create `dir` with mode 0700 from the moment it exists (missing parents get the usual
/// mode), or narrow an existing `dir` that others can read to 0700.
///
/// `create_dir_all` then `chmod` would leave a moment in which another user can open the
/// directory, and keep an opened handle; a directory made with its mode has no such moment.
/// An existing directory is ssenotify's own (an older version made it with the umask), so
/// narrowing it is safe; one owned by another user fails here, as it should.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)?;
    }
    match DirBuilder::new().mode(0o700).create(dir) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        other => return other,
    }
    let meta = fs::metadata(dir)?;
    if !meta.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotADirectory,
            format!("{} exists and is not a directory", dir.display()),
        ));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        fs::set_permissions(dir, Permissions::from_mode(0o700))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_live_in_their_directories() {
        let paths = Paths::at("/r");
        assert_eq!(
            paths.subscriptions_file(),
            Path::new("/r/config/subscriptions.toml")
        );
        assert_eq!(paths.lock_file(), Path::new("/r/config/subscriptions.lock"));
        assert_eq!(paths.secrets_dir(), Path::new("/r/config/secrets"));
        assert_eq!(paths.history_db(), Path::new("/r/data/history.sqlite3"));
        assert_eq!(paths.control_socket(), Path::new("/r/run/ssenotify.sock"));
    }

    #[test]
    fn written_paths_expand_against_home_and_config_dir() {
        let paths = Paths::at("/r");
        assert_eq!(paths.expand("/etc/ca.pem"), Path::new("/etc/ca.pem"));
        assert_eq!(paths.expand("secrets/a"), Path::new("/r/config/secrets/a"));
        if let Some(base) = directories::BaseDirs::new() {
            assert_eq!(paths.expand("~/t"), base.home_dir().join("t"));
        }
    }

    #[test]
    fn from_env_names_ssenotify_directories() {
        // XDG_* overrides need a child process: set_var is unsafe, and unsafe is forbidden.
        if let Some(paths) = Paths::from_env() {
            assert!(paths.config_dir.ends_with("ssenotify"), "{paths:?}");
            assert!(paths.data_dir.ends_with("ssenotify"), "{paths:?}");
        }
    }

    #[test]
    fn private_dirs_are_made_0700_and_loose_ones_narrowed() {
        let root = tempfile::tempdir().unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = root.path().join("a/b/ssenotify");
        create_private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        fs::set_permissions(&dir, Permissions::from_mode(0o755)).unwrap();
        create_private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        let file = root.path().join("file");
        fs::write(&file, "").unwrap();
        let err = create_private_dir(&file).unwrap_err().to_string();
        assert!(err.contains("not a directory"), "{err}");
    }
}
