//! `ssenotify`: the command line over the ssenotify engine.
//!
//! # Layout
//! - `main.rs`: argument parsing (clap) and dispatch; exit codes.
//! - [`listen`]: `ssenotify listen`, one subscription printed as it happens.
//!
//! The binary holds no SSE logic of its own: everything it prints comes from
//! `ssenotify_engine` updates, so the daemon and the app see exactly the same behaviour.

mod listen;

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    match cli.command {
        Command::Listen(args) => listen::main(args),
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
