//! `ssenotify doctor`: "why do I see no notifications?" in one command.
//!
//! Each check prints one line, `OK`, `WARN` or `FAIL`, with what was found and, when it is
//! not OK, what to do. It asks the real things: the session bus, the notification server
//! (notify-rust's `GetServerInformation` and `GetCapabilities`, no popup shown), the tray
//! host's name on the bus, the daemon's lock and control socket, the subscriptions file
//! through the router (quiet hours) and the directories. Exit 1 when a check FAILs.

use std::fmt;
use std::future::Future;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use ssenotify_config::{Paths, Store, SubscriptionSet, SubscriptionSpec};
use ssenotify_protocol::{ReadyState, Request, StatusReport};
use ssenotify_router::{Action, SuppressReason};

/// How long any one question may take: a hung bus or server is itself the answer.
const ASK: Duration = Duration::from_secs(5);
/// Less free space than this fails: history writes would fail soon.
const DISK_FAIL: u64 = 10 << 20;
/// Less free space than this warns.
const DISK_WARN: u64 = 200 << 20;
/// The tray host's well-known name (StatusNotifierItem).
const WATCHER: &str = "org.kde.StatusNotifierWatcher";

/// Arguments of `ssenotify doctor`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// One JSON object per line: `{"level", "check", "detail", "fix"}`.
    #[arg(long)]
    json: bool,
}

/// A check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
enum Level {
    Ok,
    Warn,
    Fail,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, so that `{:<4}` lines the checks up.
        f.pad(match self {
            Self::Ok => "OK",
            Self::Warn => "WARN",
            Self::Fail => "FAIL",
        })
    }
}

/// One line of the report.
#[derive(Debug, Serialize)]
struct Line {
    level: Level,
    check: &'static str,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<String>,
}

impl Line {
    fn ok(check: &'static str, detail: impl Into<String>) -> Self {
        Self {
            level: Level::Ok,
            check,
            detail: detail.into(),
            fix: None,
        }
    }

    fn warn(check: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            level: Level::Warn,
            check,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    fn fail(check: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            level: Level::Fail,
            ..Self::warn(check, detail, fix)
        }
    }
}

/// Run every check, print a line each; exit 1 when one FAILs.
pub fn main(args: Args, paths: &Paths) -> ExitCode {
    let lines = crate::common::block_on(checks(paths));
    for line in &lines {
        if args.json {
            println!(
                "{}",
                serde_json::to_string(line).expect("a line serializes")
            );
        } else {
            let fix = line
                .fix
                .as_deref()
                .map(|f| format!(" → {f}"))
                .unwrap_or_default();
            println!("{:<4} {}: {}{fix}", line.level, line.check, line.detail);
        }
    }
    if lines.iter().any(|l| l.level == Level::Fail) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

async fn checks(paths: &Paths) -> Vec<Line> {
    let mut lines = Vec::new();
    let bus = session_bus(&mut lines).await;
    notification_server(&mut lines).await;
    tray_host(&mut lines, bus.as_ref()).await;
    let report = daemon(&mut lines, paths).await;
    let file = subscriptions_file(&mut lines, paths);
    if let Some(set) = &file {
        quiet_and_mutes(&mut lines, set);
    }
    if let Some(report) = &report {
        subscription_states(&mut lines, report);
    }
    for (name, dir, private) in [
        ("config dir", &paths.config_dir, false),
        ("data dir", &paths.data_dir, true),
        ("runtime dir", &paths.runtime_dir, true),
    ] {
        lines.push(directory(name, dir, private));
    }
    lines
}

/// `future` within [`ASK`], its error (or the timeout) as text.
async fn within<T, E: fmt::Display>(
    future: impl Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(ASK, future).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer within {}s", ASK.as_secs())),
    }
}

async fn session_bus(lines: &mut Vec<Line>) -> Option<zbus::Connection> {
    let address = std::env::var("DBUS_SESSION_BUS_ADDRESS")
        .unwrap_or_else(|_| "unset ($XDG_RUNTIME_DIR/bus is tried)".to_owned());
    match within(zbus::Connection::session()).await {
        Ok(connection) => {
            lines.push(Line::ok("session bus", address));
            Some(connection)
        }
        Err(error) => {
            lines.push(Line::fail(
                "session bus",
                format!("cannot connect ({error}); DBUS_SESSION_BUS_ADDRESS: {address}"),
                "notifications travel over the session bus: run ssenotify inside your desktop \
                 session (or a user service of it), or start a bus with `dbus-run-session`",
            ));
            None
        }
    }
}

async fn notification_server(lines: &mut Vec<Line>) {
    let blocking = |f: fn() -> Result<_, notify_rust::error::Error>| async move {
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
    };
    let info = match within(blocking(notify_rust::get_server_information)).await {
        Ok(info) => info,
        Err(error) => {
            lines.push(Line::fail(
                "notification server",
                format!("none answers on the session bus ({error})"),
                "install and start one (dunst, mako, xfce4-notifyd, or your desktop's own); \
                 `ssenotify notify-test` shows a sample once it is there",
            ));
            return;
        }
    };
    lines.push(Line::ok(
        "notification server",
        format!(
            "{} {} ({}), spec {}",
            info.name, info.version, info.vendor, info.spec_version
        ),
    ));
    let capabilities = tokio::task::spawn_blocking(notify_rust::get_capabilities).await;
    match capabilities {
        Ok(Ok(caps)) => {
            let list = caps.join(", ");
            if caps.iter().any(|c| c == "actions") {
                lines.push(Line::ok("capabilities", list));
            } else {
                lines.push(Line::warn(
                    "capabilities",
                    format!("{list} (no `actions`)"),
                    "clicking a notification cannot open its click_url with this server; \
                     the notification itself still shows",
                ));
            }
        }
        Ok(Err(error)) => lines.push(Line::warn(
            "capabilities",
            format!("the server did not list them ({error})"),
            "ssenotify assumes plain text bodies; notifications still show",
        )),
        Err(error) => lines.push(Line::warn("capabilities", error.to_string(), "try again")),
    }
}

async fn tray_host(lines: &mut Vec<Line>, bus: Option<&zbus::Connection>) {
    let Some(bus) = bus else {
        lines.push(Line::warn(
            "tray host",
            "not checked: no session bus",
            "the tray icon needs the session bus too",
        ));
        return;
    };
    let asked = within(async {
        let proxy = zbus::fdo::DBusProxy::new(bus).await?;
        let name = zbus::names::BusName::try_from(WATCHER).expect("a valid bus name");
        proxy.name_has_owner(name).await
    })
    .await;
    match asked {
        Ok(true) => lines.push(Line::ok("tray host", format!("{WATCHER} is on the bus"))),
        Ok(false) => lines.push(Line::warn(
            "tray host",
            format!("no {WATCHER} on the bus: the tray icon (`run --tray`, the app) shows nowhere"),
            "notifications are not affected; for the icon use a panel with a \
             StatusNotifierItem tray (KDE, XFCE, LXQt, waybar; GNOME with the AppIndicator extension)",
        )),
        Err(error) => lines.push(Line::warn("tray host", error, "check the session bus")),
    }
}

/// The daemon: running (since when), and its live status; `None` when not running.
async fn daemon(lines: &mut Vec<Line>, paths: &Paths) -> Option<StatusReport> {
    // The engine writes its pid into the lock when it starts: the file's time is its start.
    let started = std::fs::metadata(paths.instance_lock())
        .and_then(|m| m.modified())
        .ok();
    let Some(pid) = ssenotify_daemon::running_pid(paths) else {
        lines.push(Line::fail(
            "daemon",
            "not running: nothing receives your subscriptions' events",
            "start it: `ssenotify run`, the desktop app, or `ssenotify service install` \
             (a systemd user service)",
        ));
        return None;
    };
    let since = started.map(since_text).unwrap_or_default();
    let request = Request::Status {
        since: None,
        ids: None,
    };
    let socket = paths.control_socket();
    let report = match within(ssenotify_protocol::request(&socket, &request)).await {
        Ok(ssenotify_protocol::Reply::Status(report)) => report,
        Ok(other) => {
            lines.push(Line::fail(
                "daemon",
                format!("pid {pid}{since}: unexpected reply {other:?}"),
                "restart it: `ssenotify quit`, then start it again",
            ));
            return None;
        }
        Err(error) => {
            lines.push(Line::fail(
                "daemon",
                format!("pid {pid}{since} holds the lock but its socket does not answer ({error})"),
                "restart it: `ssenotify quit` (or kill the pid), then start it again",
            ));
            return None;
        }
    };
    let tray = if report.daemon.tray {
        ", with its tray icon"
    } else {
        ""
    };
    lines.push(Line::ok(
        "daemon",
        format!("running (pid {pid}{since}{tray})"),
    ));
    let notifier = &report.daemon.notifier;
    let counts = format!("{} shown, {} missed", notifier.delivered, notifier.missed);
    match notifier.state.as_str() {
        "down" => lines.push(Line::fail(
            "daemon's notifications",
            format!(
                "down: {} ({counts})",
                notifier
                    .error
                    .as_deref()
                    .unwrap_or("the last notification failed")
            ),
            "see the notification server line above; the daemon retries with the next event",
        )),
        "disabled" => lines.push(Line::warn(
            "daemon's notifications",
            "off (`run --no-notify`): events are recorded, nothing is shown",
            "restart the daemon without --no-notify",
        )),
        state => lines.push(Line::ok(
            "daemon's notifications",
            format!("{state} ({counts})"),
        )),
    }
    if let Some(error) = &report.daemon.config_error {
        lines.push(Line::fail(
            "subscriptions file",
            format!("not applied; the daemon runs its last valid set: {error}"),
            "fix the file (`ssenotify check` lists every problem)",
        ));
    }
    Some(report)
}

/// ` since 2026-12-06 08:10:03 (for 3m)`.
fn since_text(started: SystemTime) -> String {
    let local: chrono::DateTime<chrono::Local> = started.into();
    let age = SystemTime::now()
        .duration_since(started)
        .map(|d| humantime::format_duration(Duration::from_secs(d.as_secs())).to_string())
        .unwrap_or_else(|_| "0s".into());
    format!(", since {} (for {age})", local.format("%Y-%m-%d %H:%M:%S"))
}

fn subscriptions_file(lines: &mut Vec<Line>, paths: &Paths) -> Option<SubscriptionSet> {
    let file = paths.subscriptions_file();
    match Store::new(paths.clone()).load() {
        Ok(set) if set.subscriptions.is_empty() => {
            lines.push(Line::warn(
                "subscriptions",
                format!("none in {}", file.display()),
                "add one: `ssenotify add URL` (or the app's \"Try the demo feed\")",
            ));
            Some(set)
        }
        Ok(set) => {
            let enabled = set
                .subscriptions
                .iter()
                .filter(|s| s.enabled && !s.paused)
                .count();
            lines.push(Line::ok(
                "subscriptions file",
                format!(
                    "{}: {} subscriptions, {enabled} enabled and not paused",
                    file.display(),
                    set.subscriptions.len()
                ),
            ));
            Some(set)
        }
        Err(error) => {
            let first = error
                .to_string()
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned();
            lines.push(Line::fail(
                "subscriptions file",
                format!("does not validate: {first}"),
                "`ssenotify check` lists every problem with its line and column",
            ));
            None
        }
    }
}

/// Quiet hours in force now (asked of the router itself, with the file's settings) and
/// subscriptions muted now.
fn quiet_and_mutes(lines: &mut Vec<Line>, set: &SubscriptionSet) {
    let probe = SubscriptionSpec::new("doctor", "https://doctor.invalid/");
    let quiet = ssenotify_daemon::ops::route_transcript(set, &probe, b"data: doctor\n\n")
        .ok()
        .and_then(|report| report.events.into_iter().next())
        .is_some_and(|routed| {
            matches!(
                routed.decision.action,
                Action::Suppressed {
                    why: SuppressReason::Quiet,
                    ..
                }
            )
        });
    if quiet {
        lines.push(Line::warn(
            "quiet hours",
            "in force now: notifications are held and shown as one digest when they end",
            "critical ones still show; change `[notifications] quiet_hours` to end them",
        ));
    } else if set.notifications.quiet_hours.is_empty() {
        lines.push(Line::ok("quiet hours", "none set"));
    } else {
        lines.push(Line::ok("quiet hours", "not in force now"));
    }
    let now = chrono::Utc::now();
    let muted: Vec<String> = set
        .subscriptions
        .iter()
        .filter_map(|s| {
            let until = s.mute_until?;
            (until > now).then(|| {
                format!(
                    "{} until {}",
                    s.id,
                    ssenotify_config::format_timestamp(&until)
                )
            })
        })
        .collect();
    if muted.is_empty() {
        lines.push(Line::ok("mutes", "none in force"));
    } else {
        lines.push(Line::warn(
            "mutes",
            format!("muted now: {}", muted.join(", ")),
            "`ssenotify unmute ID` ends a mute",
        ));
    }
}

fn subscription_states(lines: &mut Vec<Line>, report: &StatusReport) {
    let running: Vec<_> = report
        .subscriptions
        .iter()
        .filter(|s| s.enabled && !s.paused)
        .collect();
    let paused = report.subscriptions.iter().filter(|s| s.paused).count();
    let not_open: Vec<_> = running
        .iter()
        .filter(|s| s.ready_state != ReadyState::Open)
        .collect();
    let paused_text = if paused > 0 {
        format!(" ({paused} paused)")
    } else {
        String::new()
    };
    lines.push(Line::ok(
        "connections",
        format!(
            "{} of {} OPEN{paused_text}",
            running.len() - not_open.len(),
            running.len()
        ),
    ));
    for s in not_open {
        let closed = s.ready_state == ReadyState::Closed;
        let fix = if closed {
            format!("fix the cause, then `ssenotify reconnect {}`", s.id)
        } else {
            "it retries on its own; `ssenotify watch` follows it".to_owned()
        };
        let line = |check| {
            let detail = format!(
                "{} {}: {}",
                s.id,
                s.ready_state.as_str(),
                crate::status::reason_of(s)
            );
            if closed {
                Line::fail(check, detail, fix.clone())
            } else {
                Line::warn(check, detail, fix.clone())
            }
        };
        lines.push(line("subscription"));
    }
}

/// A directory's owner, mode and free space.
fn directory(name: &'static str, dir: &Path, private: bool) -> Line {
    let shown = dir.display();
    let meta = match std::fs::metadata(dir) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let parent = existing_ancestor(dir);
            return match free_space(&parent) {
                Some(free) if free < DISK_FAIL => Line::fail(
                    name,
                    format!("{shown} does not exist yet; only {} free", bytes(free)),
                    "free some disk space",
                ),
                _ => Line::ok(
                    name,
                    format!("{shown} does not exist yet (created when needed)"),
                ),
            };
        }
        Err(e) => {
            return Line::fail(
                name,
                format!("{shown}: {e}"),
                "check the path and its parents' permissions",
            );
        }
    };
    let uid = rustix::process::geteuid().as_raw();
    if meta.uid() != uid {
        return Line::fail(
            name,
            format!("{shown} belongs to uid {}, not you ({uid})", meta.uid()),
            format!("`chown -R {uid} {shown}`"),
        );
    }
    let mode = meta.permissions().mode() & 0o777;
    if rustix::fs::access(
        dir,
        rustix::fs::Access::WRITE_OK | rustix::fs::Access::EXEC_OK,
    )
    .is_err()
    {
        return Line::fail(
            name,
            format!("{shown} is not writable (mode {mode:o})"),
            format!("`chmod u+rwx {shown}`"),
        );
    }
    let free = free_space(dir);
    let free_text = free
        .map(|f| format!(", {} free", bytes(f)))
        .unwrap_or_default();
    match free {
        Some(f) if f < DISK_FAIL => {
            return Line::fail(
                name,
                format!("{shown}: only {} free", bytes(f)),
                "free some disk space: history and the file cannot be written",
            );
        }
        Some(f) if f < DISK_WARN => {
            return Line::warn(
                name,
                format!("{shown}: only {} free", bytes(f)),
                "free some disk space before history writes fail",
            );
        }
        _ => {}
    }
    if private && mode & 0o077 != 0 {
        return Line::warn(
            name,
            format!("{shown} is mode {mode:o}: other users can look in"),
            format!("`chmod 700 {shown}` (ssenotify creates it 0700)"),
        );
    }
    Line::ok(name, format!("{shown} (mode {mode:o}{free_text})"))
}

fn existing_ancestor(dir: &Path) -> PathBuf {
    let mut here = dir.to_path_buf();
    while !here.exists() {
        if !here.pop() {
            return PathBuf::from("/");
        }
    }
    here
}

/// Bytes available to an unprivileged user on `dir`'s filesystem.
fn free_space(dir: &Path) -> Option<u64> {
    let stat = rustix::fs::statvfs(dir).ok()?;
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
}

fn bytes(n: u64) -> String {
    const GB: u64 = 1 << 30;
    const MB: u64 = 1 << 20;
    if n >= GB {
        format!("{:.1} GB", n as f64 / GB as f64)
    } else {
        format!("{} MB", n / MB)
    }
}
