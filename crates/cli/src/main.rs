//! `ssenotify`: the command line over the ssenotify engine.
//!
//! # Layout
//! - `main.rs`: argument parsing (clap) and dispatch.
//! - `common`: what every command shares: paths, exit codes, error output, a runtime.
//! - [`hub`]: `ssenotify hub url|token`, where the local event hub serves and its token.
//! - [`listen`]: `ssenotify listen`, one subscription printed as it happens.
//! - [`route`]: `ssenotify route` and `notify-test`, tools for writing rules.
//! - [`run`]: `ssenotify run`, the daemon (headless, or with its tray icon).
//! - [`manage`]: the commands that read and edit subscriptions and history, through the
//!   subscriptions file and the daemon's control socket.
//! - [`status`]: `ssenotify status` and `watch`, the running daemon's live state alone (a
//!   delta since a version, or a snapshot and then each change), and the rows `list`
//!   prints from it.
//! - [`completions`]: `ssenotify completions`, shell completion scripts from the clap
//!   definitions (ids completed from the file through the hidden `__complete-ids`).
//! - [`man`]: `ssenotify man`, manual pages from the clap definitions.
//! - [`schema`]: `ssenotify schema`, the subscriptions file's JSON Schema.
//! - [`check`]: `ssenotify check`, a subscriptions file validated without the daemon.
//! - [`service`]: `ssenotify service`, the systemd user unit for a build from source.
//! - [`doctor`]: `ssenotify doctor`, every reason notifications might not show, checked.
//!
//! The binary holds no SSE logic of its own: `listen` prints `ssenotify_sse` updates,
//! `run` is `ssenotify_daemon`, and the management commands edit through
//! `ssenotify_config::edit` and ask the daemon through `ssenotify_protocol`, like the app.

mod check;
mod common;
mod completions;
mod doctor;
mod hub;
mod listen;
mod man;
mod manage;
mod route;
mod run;
mod schema;
mod service;
mod status;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// Desktop notifications from Server-Sent Events: the daemon, its tray icon, and the
/// commands that manage subscriptions and their history.
#[derive(Debug, Parser)]
#[command(
    name = "ssenotify",
    version,
    propagate_version = true,
    after_help = "Examples:\n  ssenotify add https://ntfy.sh/alerts/sse --name Alerts\n  ssenotify run\n  ssenotify list\n\nEvery command, flag and exit code: `ssenotify COMMAND --help`, `man ssenotify`."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Subscribe to one SSE URL and print its states and events.
    #[command(after_help = "Example:\n  ssenotify listen --json https://ntfy.sh/mytopic/sse")]
    Listen(listen::Args),
    /// Run every enabled subscription (the daemon); `--tray` adds a tray icon.
    #[command(after_help = "Examples:\n  ssenotify run\n  ssenotify run --tray")]
    Run(run::Args),
    /// Add a subscription.
    #[command(
        after_help = "Example:\n  ssenotify add https://ci.example/events --name CI -H 'Authorization: Bearer ...'"
    )]
    Add(manage::AddArgs),
    /// Remove a subscription (and its history).
    #[command(after_help = "Example:\n  ssenotify remove alerts")]
    Remove(manage::IdArgs),
    /// Pause a subscription: its connection closes until resumed.
    #[command(after_help = "Example:\n  ssenotify pause alerts")]
    Pause(manage::IdArgs),
    /// Resume a paused subscription (one CLOSED for good reconnects too).
    #[command(after_help = "Example:\n  ssenotify resume alerts")]
    Resume(manage::IdArgs),
    /// Reconnect a subscription now, from any state but paused (after a 404, an expired
    /// token, a long backoff).
    #[command(after_help = "Example:\n  ssenotify reconnect alerts")]
    Reconnect(manage::IdArgs),
    /// Show no popups from a subscription for a while (events are still recorded).
    #[command(after_help = "Example:\n  ssenotify mute alerts --for 1h")]
    Mute(manage::MuteArgs),
    /// End a mute.
    #[command(after_help = "Example:\n  ssenotify unmute alerts")]
    Unmute(manage::IdArgs),
    /// Do not disturb, for every subscription: `on` holds notifications (critical ones
    /// break through) until `off`, which shows one digest of what was held.
    #[command(after_help = "Examples:\n  ssenotify dnd on\n  ssenotify dnd off")]
    Dnd(manage::DndArgs),
    /// Show notifications now although quiet hours hold them: until those quiet hours end
    /// (what was held comes as one digest); do not disturb is switched with `dnd`.
    #[command(after_help = "Example:\n  ssenotify show-anyway")]
    ShowAnyway,
    /// Mark subscriptions read (all of them without an id): their unread counts, shown by
    /// `list`, the app and the tray, go back to zero.
    #[command(after_help = "Examples:\n  ssenotify mark-read alerts\n  ssenotify mark-read")]
    MarkRead(manage::MarkReadArgs),
    /// List subscriptions with their live state when the daemon runs.
    #[command(after_help = "Examples:\n  ssenotify list\n  ssenotify list --json")]
    List(manage::ListArgs),
    /// The running daemon's live state of its subscriptions (all, some ids, or what changed
    /// after a version), without reading the subscriptions file.
    #[command(
        after_help = "Examples:\n  ssenotify status alerts ci\n  ssenotify status --json --since 42"
    )]
    Status(status::StatusArgs),
    /// Print the daemon's live state, then every change and event as it happens.
    #[command(after_help = "Example:\n  ssenotify watch --json")]
    Watch(status::WatchArgs),
    /// Show recorded events, newest first.
    #[command(after_help = "Example:\n  ssenotify history alerts --limit 5")]
    History(manage::HistoryArgs),
    /// Merge subscriptions from a file or stdin (idempotent; --dry-run shows the diff).
    #[command(
        after_help = "Examples:\n  ssenotify import --dry-run subs.toml\n  ssenotify import --from ntfy ~/.config/ntfy/client.yml"
    )]
    Import(manage::ImportArgs),
    /// Print every subscription (secrets as references).
    #[command(after_help = "Example:\n  ssenotify export > subs.toml")]
    Export(manage::ExportArgs),
    /// Feed a recorded SSE stream (stdin) through a subscription's rules; one JSON line per event.
    #[command(
        after_help = "Example:\n  ssenotify route --subscription alerts --dry-run < recorded.sse"
    )]
    Route(route::RouteArgs),
    /// Show a sample notification and report the notification server and its capabilities.
    #[command(after_help = "Example:\n  ssenotify notify-test --urgency critical")]
    NotifyTest(route::NotifyTestArgs),
    /// Stop the running daemon (and its tray icon, and the app's window) cleanly.
    #[command(after_help = "Example:\n  ssenotify quit")]
    Quit,
    /// Print a shell completion script (subscription ids complete from your file).
    #[command(
        after_help = "Examples:\n  ssenotify completions bash > ~/.local/share/bash-completion/completions/ssenotify\n  ssenotify completions fish > ~/.config/fish/completions/ssenotify.fish"
    )]
    Completions(completions::Args),
    /// Print a manual page (troff), or write them all with --dir.
    #[command(after_help = "Examples:\n  ssenotify man | man -l -\n  ssenotify man add | man -l -")]
    Man(man::Args),
    /// Print the subscriptions file's JSON Schema (for editors; installed by the .deb).
    #[command(
        after_help = "Example:\n  ssenotify schema > ~/.config/ssenotify/subscriptions.schema.json"
    )]
    Schema,
    /// Validate a subscriptions file (default: yours) without the daemon: every problem
    /// with file:line:col, exit 1 on any.
    #[command(after_help = "Examples:\n  ssenotify check\n  ssenotify check --json shared.toml")]
    Check(check::Args),
    /// Why do I see no notifications? Checks the bus, the notification server, the tray
    /// host, the daemon, quiet hours, mutes, subscriptions and directories.
    #[command(after_help = "Examples:\n  ssenotify doctor\n  ssenotify doctor --json")]
    Doctor(doctor::Args),
    /// Install, remove or inspect the systemd user service that runs the daemon.
    #[command(
        after_help = "Examples:\n  ssenotify service install\n  ssenotify service status\n  ssenotify service uninstall"
    )]
    Service(service::Args),
    /// The local event hub (`[hub]` in the file): its URL and bearer token, for scripts.
    #[command(
        after_help = "Examples:\n  ssenotify hub url\n  curl -N -H \"Authorization: Bearer $(ssenotify hub token)\" \"$(ssenotify hub url)\"\n  ssenotify listen --hub"
    )]
    Hub(hub::Args),
    /// The ids in the subscriptions file, one a line (for the completion scripts).
    #[command(name = "__complete-ids", hide = true)]
    CompleteIds,
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
    if let Command::Completions(args) = cli.command {
        return completions::main(args, Cli::command());
    }
    if let Command::Man(args) = cli.command {
        return man::main(args, Cli::command());
    }
    if let Command::Schema = cli.command {
        return schema::main();
    }
    let paths = match common::paths() {
        Ok(paths) => paths,
        Err(code) => return code,
    };
    match cli.command {
        Command::Listen(_)
        | Command::Run(_)
        | Command::NotifyTest(_)
        | Command::Completions(_)
        | Command::Man(_)
        | Command::Schema => {
            unreachable!("handled above")
        }
        Command::Check(args) => check::main(args, &paths),
        Command::Doctor(args) => doctor::main(args, &paths),
        Command::Service(args) => service::main(args, &paths),
        Command::Hub(args) => hub::main(args, &paths),
        Command::CompleteIds => completions::complete_ids(&paths),
        Command::Route(args) => route::route(args, &paths),
        Command::Add(args) => manage::add(args, &paths),
        Command::Remove(args) => manage::remove(args, &paths),
        Command::Pause(args) => manage::set_paused(args, &paths, true),
        Command::Resume(args) => manage::set_paused(args, &paths, false),
        Command::Reconnect(args) => manage::reconnect(args, &paths),
        Command::Mute(args) => manage::mute(args, &paths),
        Command::Dnd(args) => manage::dnd(args, &paths),
        Command::MarkRead(args) => manage::mark_read(args, &paths),
        Command::ShowAnyway => manage::show_anyway(&paths),
        Command::Unmute(args) => manage::unmute(args, &paths),
        Command::List(args) => manage::list(args, &paths),
        Command::Status(args) => status::status(args, &paths),
        Command::Watch(args) => status::watch(args, &paths),
        Command::History(args) => manage::history(args, &paths),
        Command::Import(args) => manage::import(args, &paths),
        Command::Export(args) => manage::export(args, &paths),
        Command::Quit => manage::quit(&paths),
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
