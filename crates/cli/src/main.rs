//! `ssenotify`: the command line over the ssenotify engine.
//!
//! # Layout
//! - `main.rs`: argument parsing (clap) and dispatch; exit codes.
//! - [`listen`]: `ssenotify listen`, one subscription printed as it happens.
//! - [`route`]: `ssenotify route` and `notify-test`, tools for writing rules.
//! - [`run`]: `ssenotify run`, the daemon (headless, or with its tray icon).
//! - [`manage`]: the commands that read and edit subscriptions and history, through the
//!   subscriptions file and the daemon's control socket.
//!
//! The binary holds no SSE logic of its own: `listen` prints `ssenotify_sse` updates,
//! `run` is `ssenotify_daemon`, and the management commands edit through
//! `ssenotify_config::edit` and ask the daemon through `ssenotify_protocol`, like the app.

mod listen;
mod manage;
mod route;
mod run;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code for usage errors (bad flags, bad URL or header syntax), as clap uses.
const EXIT_USAGE: u8 = 2;

/// Desktop notifications from Server-Sent Events streams.
#[derive(Debug, Parser)]
#[command(name = "ssenotify", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Subscribe to one SSE URL and print its states and events.
    Listen(listen::Args),
    /// Run every enabled subscription (the daemon); `--tray` adds a tray icon.
    Run(run::Args),
    /// Add a subscription.
    Add(manage::AddArgs),
    /// Remove a subscription (and its history).
    Remove(manage::IdArgs),
    /// Pause a subscription: its connection closes until resumed.
    Pause(manage::IdArgs),
    /// Resume a paused subscription.
    Resume(manage::IdArgs),
    /// Show no popups from a subscription for a while (events are still recorded).
    Mute(manage::MuteArgs),
    /// End a mute.
    Unmute(manage::IdArgs),
    /// List subscriptions with their live state when the daemon runs.
    List(manage::ListArgs),
    /// Show recorded events, newest first.
    History(manage::HistoryArgs),
    /// Merge subscriptions from a file or stdin (idempotent; --dry-run shows the diff).
    Import(manage::ImportArgs),
    /// Print every subscription (secrets as references).
    Export(manage::ExportArgs),
    /// Feed a recorded SSE stream (stdin) through a subscription's rules; one JSON line per event.
    Route(route::RouteArgs),
    /// Show a sample notification and report the notification server and its capabilities.
    NotifyTest(route::NotifyTestArgs),
    /// Stop the running daemon (and its tray icon, and the app's window) cleanly.
    Quit,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    if let Command::Listen(args) = cli.command {
        return listen::main(args);
    }
    if let Command::Run(args) = cli.command {
        return run::main(args);
    }
    if let Command::NotifyTest(args) = cli.command {
        return route::notify_test(args);
    }
    let paths = match paths() {
        Ok(paths) => paths,
        Err(code) => return code,
    };
    match cli.command {
        Command::Listen(_) | Command::Run(_) | Command::NotifyTest(_) => {
            unreachable!("handled above")
        }
        Command::Route(args) => route::route(args, &paths),
        Command::Add(args) => manage::add(args, &paths),
        Command::Remove(args) => manage::remove(args, &paths),
        Command::Pause(args) => manage::set_paused(args, &paths, true),
        Command::Resume(args) => manage::set_paused(args, &paths, false),
        Command::Mute(args) => manage::mute(args, &paths),
        Command::Unmute(args) => manage::unmute(args, &paths),
        Command::List(args) => manage::list(args, &paths),
        Command::History(args) => manage::history(args, &paths),
        Command::Import(args) => manage::import(args, &paths),
        Command::Export(args) => manage::export(args, &paths),
        Command::Quit => manage::quit(&paths),
    }
}

/// Where this user's files live (XDG directories); exit 1 when there is no home.
fn paths() -> Result<ssenotify_config::Paths, ExitCode> {
    ssenotify_config::Paths::from_env().ok_or_else(|| {
        eprintln!("ssenotify: cannot determine the home directory (is HOME set?)");
        ExitCode::FAILURE
    })
}

/// Run one future to completion on a small runtime (for the short CLI commands).
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread tokio runtime builds")
        .block_on(future)
}

/// The desktop notification sink for `run`.
fn notifier() -> std::sync::Arc<dyn ssenotify_daemon::NotifySink> {
    ssenotify_daemon::DesktopNotifier::spawn()
}

/// Report a failed command: the message on stderr, exit 1.
fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("ssenotify: {message}");
    ExitCode::FAILURE
}

/// Resolves on SIGINT or SIGTERM.
async fn interrupted() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler installs");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Untrusted text for a terminal: control characters (newlines, ANSI escapes) escaped, so
/// one event stays one line and a server cannot drive the user's terminal.
struct Printable<'a>(&'a str);

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

/// Logs go to stderr (stdout belongs to the command's output); `SSENOTIFY_LOG` or
/// `RUST_LOG` set the filter, default `warn`.
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("SSENOTIFY_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Print a usage error the way clap does and return its exit code.
fn usage_error(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}\n\nFor more information, try '--help'.");
    ExitCode::from(EXIT_USAGE)
}
