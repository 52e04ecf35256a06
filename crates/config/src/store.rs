//! Reading and writing the subscriptions file: atomic replace under an exclusive lock.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::{ConfigError, Format, LiteralSecrets, Paths, SubscriptionSet, rewrite};

/// Why the subscriptions file (or a stashed secret) could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file, or the set a change would write, does not validate.
    #[error("{0}")]
    Invalid(#[from] ConfigError),
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A file could not be written; the old one is intact.
    #[error("cannot write {}: {source} (the file was left as it was)", path.display())]
    Write {
        /// The file (or directory) that could not be written.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The lock file could not be opened or locked.
    #[error("cannot lock {}: {source}", path.display())]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

/// The subscriptions file of one user, with its lock and secrets directory.
#[derive(Debug, Clone)]
pub struct Store {
    paths: Paths,
    /// Test hook: writes fail with "no space left" after this many bytes.
    #[cfg(test)]
    pub(super) fail_writes_after: Option<usize>,
}

impl Store {
    /// The store at `paths` (nothing is touched until it is used).
    pub fn new(paths: Paths) -> Self {
        Self {
            paths,
            #[cfg(test)]
            fail_writes_after: None,
        }
    }

    /// The directories and files this store uses.
    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// Read and validate the subscriptions file; an absent file is an empty set.
    ///
    /// Takes no lock: writers replace the file by rename, so a reader sees the old or the
    /// new content, never a mix.
    pub fn load(&self) -> Result<SubscriptionSet, StoreError> {
        Ok(self.read()?.1)
    }

    /// The file's text (`None` when there is no file) and the set it holds.
    fn read(&self) -> Result<(Option<String>, SubscriptionSet), StoreError> {
        let path = self.paths.subscriptions_file();
        match fs::read_to_string(&path) {
            Ok(text) => {
                let set =
                    SubscriptionSet::parse(&text, Format::Toml, &path, LiteralSecrets::Reject)?;
                Ok((Some(text), set))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok((None, SubscriptionSet::default())),
            Err(source) => Err(StoreError::Read { path, source }),
        }
    }

    /// Read, change and write the file as one step that no other writer can interleave with.
    ///
    /// Under the exclusive lock: re-read the file (an invalid file fails here and is never
    /// overwritten), apply `change`, validate the result (literal secrets are rejected, so
    /// stash them first), and write it atomically only if it differs. The file is edited
    /// in place, so the user's comments and layout outside the changed values survive
    /// (see `rewrite.rs`). An error from `change` writes nothing. After a write, stashed
    /// secret files that nothing refers to any more are deleted.
    pub fn update<T, E>(
        &self,
        change: impl FnOnce(&mut SubscriptionSet) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let _lock = self.lock()?;
        let (text, current) = self.read()?;
        let mut next = current.clone();
        let value = change(&mut next)?;
        if next != current {
            let path = self.paths.subscriptions_file();
            next.validate(&path, LiteralSecrets::Reject)
                .map_err(StoreError::from)?;
            // Keep a mode the user chose (0644 to share it, say); new files are private.
            let mode = fs::metadata(&path).map_or(0o600, |m| m.permissions().mode() & 0o777);
            let fresh = text.as_deref().is_none_or(|t| t.trim().is_empty());
            let mut text = rewrite::rewrite(text.as_deref(), &current, &next);
            // A new file names its schema (taplo's directive), so an editor completes keys
            // and flags typos; an existing file's first lines are the user's.
            if fresh && let Some(schema) = crate::schema::schema_for_new_file(&self.paths) {
                text.insert_str(0, &crate::schema::directive(&schema));
            }
            self.write_atomic(&path, text.as_bytes(), mode)?;
            self.prune_secrets(&next);
        }
        Ok(value)
    }

    /// Take the writers' lock, creating the config dir and lock file as needed.
    ///
    /// A separate lock file, not the subscriptions file itself: the rename replaces that
    /// file's inode, and a lock held on the old inode would not exclude a writer that
    /// opened the new one.
    fn lock(&self) -> Result<File, StoreError> {
        let dir = &self.paths.config_dir;
        fs::create_dir_all(dir).map_err(|source| StoreError::Write {
            path: dir.clone(),
            source,
        })?;
        let path = self.paths.lock_file();
        let lock_error = |source| StoreError::Lock {
            path: path.clone(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(lock_error)?;
        file.lock().map_err(lock_error)?;
        Ok(file)
    }

    /// Replace `path` with `bytes` so that a crash leaves either the old or the new content.
    ///
    /// A temporary file in the same directory (rename is atomic only within one file
    /// system) is written, synced, renamed over `path`, and the directory synced so that
    /// the rename itself survives a power cut. On failure the temporary file is removed.
    pub(super) fn write_atomic(
        &self,
        path: &Path,
        bytes: &[u8],
        mode: u32,
    ) -> Result<(), StoreError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let dir = path.parent().unwrap_or(Path::new("."));
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let tmp = dir.join(format!(
            ".{name}.{}.{}.tmp",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let result = self
            .write_new(&tmp, bytes, mode)
            .and_then(|()| fs::rename(&tmp, path))
            .and_then(|()| File::open(dir)?.sync_all());
        if result.is_err() {
            // Best effort: after a successful rename there is nothing left to remove.
            let _ = fs::remove_file(&tmp);
        }
        result.map_err(|source| StoreError::Write {
            path: path.to_path_buf(),
            source,
        })
    }

    fn write_new(&self, tmp: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(tmp)?;
        // The umask may have narrowed the mode at creation.
        file.set_permissions(Permissions::from_mode(mode))?;
        self.write_all(&mut file, bytes)?;
        file.sync_all()
    }

    #[cfg(not(test))]
    fn write_all(&self, file: &mut File, bytes: &[u8]) -> io::Result<()> {
        file.write_all(bytes)
    }

    #[cfg(test)]
    fn write_all(&self, file: &mut File, bytes: &[u8]) -> io::Result<()> {
        match self.fail_writes_after {
            Some(limit) if limit < bytes.len() => {
                file.write_all(&bytes[..limit])?;
                Err(io::Error::new(
                    io::ErrorKind::StorageFull,
                    "No space left on device",
                ))
            }
            _ => file.write_all(bytes),
        }
    }
}
