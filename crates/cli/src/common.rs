//! What every command shares: where the user's files are, exit codes and error output, a
//! small runtime for the short commands, signals, and text safe for a terminal.

use std::process::ExitCode;

/// Exit code for usage errors (bad flags, bad URL or header syntax), as clap uses.
pub const EXIT_USAGE: u8 = 2;

/// Where this user's files live (XDG directories); exit 1 when there is no home.
pub fn paths() -> Result<ssenotify_config::Paths, ExitCode> {
    ssenotify_config::Paths::from_env().ok_or_else(|| {
        eprintln!("ssenotify: cannot determine the home directory (is HOME set?)");
        ExitCode::FAILURE
    })
}

/// Run one future to completion on a small runtime (for the short CLI commands).
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread tokio runtime builds")
        .block_on(future)
}

/// Report a failed command: the message on stderr, exit 1.
pub fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("ssenotify: {message}");
    ExitCode::FAILURE
}

/// Resolves on SIGINT or SIGTERM.
pub async fn interrupted() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler installs");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Untrusted text for a terminal: control characters (newlines, ANSI escapes) escaped, so
/// one event stays one line and a server cannot drive the user's terminal.
pub struct Printable<'a>(pub &'a str);

impl std::fmt::Display for Printable<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for c in self.0.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                std::fmt::Write::write_char(f, c)?;
            }
        }
        Ok(())
    }
}

/// Print a usage error the way clap does and return its exit code.
pub fn usage_error(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}\n\nFor more information, try '--help'.");
    ExitCode::from(EXIT_USAGE)
}
