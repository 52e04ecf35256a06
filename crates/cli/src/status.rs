//! `ssenotify status` and `ssenotify watch`: the running daemon's live state, without the
//! subscriptions file. `status` asks once (everything, some ids, or what changed after a
//! version it reported); `watch` prints a snapshot and then every change as it happens.
//! Also the rows and lines `list` prints from the same state.

use std::collections::HashMap;
use std::io::{self, Write};
use std::process::ExitCode;

use serde::Serialize;
use ssenotify_config::Paths;
use ssenotify_history::{Action, Outage};
use ssenotify_protocol::{
    self as protocol, ClientError, DaemonEvent, DaemonInfo, QuietKind, Reply, Request,
    StatusReport, SubscriptionStatus, WatchLine, WatchNotice,
};

use crate::common::{Printable, fail};

/// Arguments of `ssenotify status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Only these subscriptions (default: every one).
    ids: Vec<String>,
    /// Print the daemon's reply as one JSON object.
    #[arg(long)]
    json: bool,
    /// Only what changed after this version (the `version` of an earlier `status --json`).
    #[arg(long, value_name = "VERSION")]
    since: Option<u64>,
}

/// Arguments of `ssenotify watch`.
#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    /// One JSON object per line: the snapshot, then each update as the daemon sends it.
    #[arg(long)]
    json: bool,
}

/// The running daemon's status reply for `request`.
pub fn ask(paths: &Paths, request: &Request) -> Result<StatusReport, ClientError> {
    let socket = paths.control_socket();
    match crate::common::block_on(protocol::request(&socket, request))? {
        Reply::Status(report) => Ok(report),
        other => Err(ClientError::Io {
            path: socket,
            source: io::Error::other(format!("unexpected reply: {other:?}")),
        }),
    }
}

/// Each status of `report` by subscription id.
pub fn by_id(report: &StatusReport) -> HashMap<&str, &SubscriptionStatus> {
    report
        .subscriptions
        .iter()
        .map(|s| (s.id.as_str(), s))
        .collect()
}

/// `ssenotify status`: exit 1 when no daemon runs, or when an id asked for is unknown.
pub fn status(args: StatusArgs, paths: &Paths) -> ExitCode {
    let request = Request::Status {
        since: args.since,
        ids: (!args.ids.is_empty()).then(|| args.ids.clone()),
    };
    let report = match ask(paths, &request) {
        Ok(report) => report,
        Err(error) => return fail(error),
    };
    let mut out = io::BufWriter::new(io::stdout().lock());
    let written = if args.json {
        serde_json::to_writer(&mut out, &report)
            .map_err(io::Error::other)
            .and_then(|()| writeln!(out))
    } else {
        print_report(&mut out, &report)
    };
    if let Err(error) = written.and_then(|()| out.flush()) {
        return fail(format!("cannot write the status: {error}"));
    }
    // With ids, `removed` names those the daemon does not have.
    match report.removed.first() {
        Some(id) if !args.ids.is_empty() => fail(format!("no subscription with id {id:?}")),
        _ => ExitCode::SUCCESS,
    }
}

/// The text form of a status reply: the daemon's line, then a row per subscription.
fn print_report(out: &mut impl Write, report: &StatusReport) -> io::Result<()> {
    print_daemon(out, &report.daemon)?;
    if let Some(error) = &report.daemon.config_error {
        writeln!(out, "subscriptions file NOT applied:\n{error}")?;
    }
    for s in &report.subscriptions {
        print_status(out, s)?;
    }
    for id in &report.removed {
        writeln!(out, "{id:<24} removed")?;
    }
    Ok(())
}

/// One subscription's row, as `list` prints it: id, readyState, URL and reason.
pub fn print_row(
    out: &mut impl Write,
    id: &str,
    state: &str,
    url: &str,
    reason: &str,
) -> io::Result<()> {
    writeln!(out, "{id:<24} {state:<10} {url:<40} {reason}")
}

/// One live status as a row.
pub fn print_status(out: &mut impl Write, s: &SubscriptionStatus) -> io::Result<()> {
    print_row(out, &s.id, s.ready_state.as_str(), &s.url, &reason_of(s))
}

/// The daemon's line: `daemon: running (pid N[, tray icon]), notifications: STATE`.
pub fn print_daemon(out: &mut impl Write, daemon: &DaemonInfo) -> io::Result<()> {
    let tray = if daemon.tray { ", tray icon" } else { "" };
    let held = match &daemon.quiet {
        None => String::new(),
        Some(quiet) => {
            let until = quiet
                .until
                .and_then(chrono::DateTime::from_timestamp_millis)
                .map(|t| format!(" until {}", t.with_timezone(&chrono::Local).format("%H:%M")))
                .unwrap_or_default();
            match quiet.kind {
                QuietKind::DoNotDisturb => ", held: do not disturb".to_owned(),
                QuietKind::QuietHours => format!(", held: quiet hours{until}"),
            }
        }
    };
    writeln!(
        out,
        "daemon: running (pid {}{tray}), notifications: {}{held}",
        daemon.pid,
        daemon.notifier.state.as_str()
    )
}

/// A status's reason, with the problem that keeps it from running or recording, and a
/// raised silent-feed alarm, if any.
pub fn reason_of(status: &SubscriptionStatus) -> String {
    let mut reason = match &status.error {
        Some(error) if !status.reason.contains(error.as_str()) => {
            format!("{} ({error})", status.reason)
        }
        _ => status.reason.clone(),
    };
    if let Some(silence) = status.silent {
        let since = chrono::DateTime::from_timestamp_millis(silence.since)
            .map(|t| {
                t.with_timezone(&chrono::Local)
                    .format("%F %H:%M")
                    .to_string()
            })
            .unwrap_or_default();
        reason.push_str(&format!(
            " [{}: nothing since {since}]",
            silence.kind.as_str()
        ));
    }
    if status.unread > 0 {
        reason.push_str(&format!(" [{} unread]", status.unread));
    }
    reason
}

/// `watch --json`'s first line: the snapshot, told apart from the updates by its kind.
#[derive(Serialize)]
struct SnapshotLine<'a> {
    kind: &'static str,
    #[serde(flatten)]
    report: &'a StatusReport,
}

/// `ssenotify watch`: the snapshot, then every update until the daemon stops (exit 0 when
/// it says so, or on SIGINT/SIGTERM; exit 1 when no daemon runs or it went away without a
/// word).
pub fn watch(args: WatchArgs, paths: &Paths) -> ExitCode {
    crate::common::block_on(async {
        let (mut watcher, snapshot) = match protocol::watch_snapshot(&paths.control_socket()).await
        {
            Ok(started) => started,
            Err(error) => return fail(error),
        };
        let mut out = io::stdout().lock();
        let first = if args.json {
            let line = SnapshotLine {
                kind: "snapshot",
                report: &snapshot,
            };
            serde_json::to_writer(&mut out, &line)
                .map_err(io::Error::other)
                .and_then(|()| writeln!(out))
        } else {
            print_report(&mut out, &snapshot)
        };
        if first.and_then(|()| out.flush()).is_err() {
            return ExitCode::SUCCESS;
        }
        loop {
            let line = tokio::select! {
                () = crate::common::interrupted() => return ExitCode::SUCCESS,
                line = watcher.next() => line,
            };
            let line = match line {
                Ok(Some(line)) => line,
                Ok(None) => return fail("the daemon went away"),
                Err(error) => return fail(format!("the watch stream broke: {error}")),
            };
            let goodbye = matches!(line, WatchLine::Notice(WatchNotice::Shutdown));
            let written = if args.json {
                serde_json::to_writer(&mut out, &line)
                    .map_err(io::Error::other)
                    .and_then(|()| writeln!(out))
            } else {
                print_update(&mut out, &line)
            };
            // A closed stdout (`| head`) ends the watch quietly.
            if written.and_then(|()| out.flush()).is_err() || goodbye {
                return ExitCode::SUCCESS;
            }
        }
    })
}

/// One update in text: a row per status, a line per event, removal, apply or notice.
fn print_update(out: &mut impl Write, line: &WatchLine) -> io::Result<()> {
    match line {
        WatchLine::Update(DaemonEvent::Status(s)) => print_status(out, s),
        WatchLine::Update(DaemonEvent::Event(e)) => {
            // A possible gap in words, as `history` prints it.
            let gap = (e.action == Action::Gap)
                .then(|| Outage::from_data(&e.data))
                .flatten();
            let data = gap.map_or_else(|| e.data.clone(), |outage| outage.line());
            writeln!(
                out,
                "{:<24} {} #{}: {} [{}]",
                e.subscription,
                Printable(&e.event_type),
                Printable(&e.last_event_id),
                Printable(&data),
                e.action
            )
        }
        WatchLine::Update(DaemonEvent::Removed { ids }) => {
            for id in ids {
                writeln!(out, "{id:<24} removed")?;
            }
            Ok(())
        }
        WatchLine::Update(DaemonEvent::Config {
            error: Some(error), ..
        }) => writeln!(out, "subscriptions file NOT applied:\n{error}"),
        WatchLine::Update(DaemonEvent::Config { applied, .. }) => {
            let report = applied.clone().unwrap_or_default();
            writeln!(
                out,
                "subscriptions file applied: {} started, {} restarted, {} stopped, {} failed",
                report.started.len(),
                report.restarted.len(),
                report.stopped.len(),
                report.failed.len()
            )
        }
        WatchLine::Notice(WatchNotice::Lagged { count }) => {
            writeln!(out, "({count} updates skipped: this watch read too slowly)")
        }
        WatchLine::Notice(WatchNotice::Shutdown) => writeln!(out, "daemon: stopped"),
    }
}
