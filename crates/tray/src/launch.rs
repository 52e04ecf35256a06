//! "Show window": start the desktop app (`ssenotify-app`), a client of this daemon.
//!
//! The app is single-instance, so starting it while its window is open just focuses that
//! window: the tray never needs to know whether the app runs.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// The environment variable naming the program "Show window" runs.
pub const APP_ENV: &str = "SSENOTIFY_APP";
/// The desktop app's binary name.
const APP_NAME: &str = "ssenotify-app";

/// Which program "Show window" runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Launcher {
    program: PathBuf,
}

impl Launcher {
    /// `$SSENOTIFY_APP` (one program path, run without a shell), else `ssenotify-app` next
    /// to this executable (an installed or built pair), else `ssenotify-app` on `PATH`.
    pub fn from_env() -> Self {
        let beside = std::env::current_exe()
            .ok()
            .and_then(|exe| Some(exe.parent()?.join(APP_NAME)))
            .filter(|path| path.is_file());
        Self::choose(std::env::var_os(APP_ENV), beside)
    }

    fn choose(configured: Option<OsString>, beside: Option<PathBuf>) -> Self {
        let program = configured
            .filter(|value| !value.is_empty())
            .map(PathBuf::from)
            .or(beside)
            .unwrap_or_else(|| PathBuf::from(APP_NAME));
        Self { program }
    }

    /// The program this launcher runs.
    #[cfg(test)]
    pub fn program(&self) -> &Path {
        &self.program
    }

    /// Starts the app detached and returns at once; a failure is logged, not returned (the
    /// tray has nowhere better to show it).
    ///
    /// The app gets its own process group, so a Ctrl-C meant for a daemon run from a
    /// terminal does not close the window, and no stdin (it must never read the daemon's).
    /// A task reaps it when it exits, so no zombie is left behind.
    pub fn launch(&self) {
        match spawn(&self.program) {
            Ok(mut child) => {
                tracing::info!(program = %self.program.display(), pid = child.id(), "app started");
                let program = self.program.clone();
                tokio::spawn(async move {
                    match child.wait().await {
                        Ok(status) if !status.success() => {
                            tracing::warn!(program = %program.display(), %status, "the app exited with an error");
                        }
                        Ok(_) => {}
                        Err(error) => tracing::debug!(%error, "could not wait for the app"),
                    }
                });
            }
            Err(error) => {
                tracing::warn!(
                    program = %self.program.display(),
                    %error,
                    "cannot start the app (set {APP_ENV} to its path)"
                );
            }
        }
    }
}

fn spawn(program: &Path) -> std::io::Result<tokio::process::Child> {
    tokio::process::Command::new(program)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_wins_then_the_sibling_then_path() {
        let beside = Some(PathBuf::from("/opt/ssenotify/ssenotify-app"));
        let set = Some(OsString::from("/tmp/my app"));
        assert_eq!(
            Launcher::choose(set, beside.clone()).program(),
            Path::new("/tmp/my app")
        );
        assert_eq!(
            Launcher::choose(Some(OsString::new()), beside.clone()).program(),
            Path::new("/opt/ssenotify/ssenotify-app")
        );
        assert_eq!(
            Launcher::choose(None, None).program(),
            Path::new("ssenotify-app")
        );
    }

    #[tokio::test]
    async fn a_missing_program_is_logged_not_fatal() {
        Launcher::choose(Some("/nonexistent/ssenotify-app".into()), None).launch();
    }
}
