//! "Show window": start the desktop app (`ssenotify-app`), a client of this daemon.
//!
//! The app is single-instance, so starting it while its window is open just focuses that
//! window: the tray never needs to know whether the app runs.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use ssenotify_daemon::companion_program;

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
    /// `$SSENOTIFY_APP`, else `ssenotify-app` next to this executable, else on `PATH`
    /// ([`companion_program`]).
    pub fn from_env() -> Self {
        Self {
            program: companion_program(APP_ENV, APP_NAME),
        }
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

    #[tokio::test]
    async fn a_missing_program_is_logged_not_fatal() {
        Launcher {
            program: "/nonexistent/ssenotify-app".into(),
        }
        .launch();
    }
}
