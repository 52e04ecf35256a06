//! A private desktop for notification tests: a virtual X display (Xvfb), a D-Bus session
//! bus of its own, dunst as the notification server, and isolated XDG directories.
//!
//! Nothing is shared with the machine's session: every [`Desktop`] owns
//!
//! - an Xvfb on a display number Xvfb picked itself (`-displayfd`: it takes the first free
//!   number under its own lock files, so parallel tests never race for one);
//! - a `dbus-daemon` (the session bus `dbus-launch` would start, but as a direct child
//!   with a config of ours, so it is reaped on drop and only the services we list exist);
//! - a temp dir holding `XDG_CONFIG_HOME`, `XDG_DATA_HOME`, `XDG_RUNTIME_DIR` (0700) and
//!   `HOME`, the dunstrc, the bus socket and the logs.
//!
//! dunst is started by D-Bus activation on the first notification, exactly as on a real
//! desktop. Its config ([`DUNSTRC`]) keeps 2,000 notifications of history and renders
//! body markup (`markup = full`, so dunst advertises `body-markup`); a format rule per
//! urgency puts `urgency=<level>` on the first line of what dunst renders, because the
//! history of dunst 1.9 (Debian 12) has no urgency field.
//!
//! [`Desktop::dunst_history`] is `dunstctl close-all` then `dunstctl history` (dunst lists
//! only closed or expired notifications). [`NotifyMonitor`] records the `Notify` calls on
//! the bus with `dbus-monitor`: the exact arguments dunst received, actions and hints
//! included, which dunst's history does not show.

use std::ffi::OsString;
use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use crate::ssenotify_bin;

/// How long Xvfb, the bus and dunst get to come up.
const START: Duration = Duration::from_secs(10);

/// dunst's config for tests. `{markup}` and `{limit}` are replaced by the options.
pub const DUNSTRC: &str = r#"[global]
    history_length = 2000
    sticky_history = yes
    markup = {markup}
    notification_limit = {limit}
    stack_duplicates = false
    show_age_threshold = -1
    idle_threshold = 0

[urgency_low]
    format = "urgency=low\n%s\n%b"
[urgency_normal]
    format = "urgency=normal\n%s\n%b"
[urgency_critical]
    format = "urgency=critical\n%s\n%b"
"#;

/// How a [`Desktop`] is set up.
#[derive(Debug, Clone, Copy)]
pub struct DesktopOptions {
    /// Whether the bus can activate dunst from the start (see
    /// [`Desktop::enable_notification_server`] for later).
    pub notification_server: bool,
    /// dunst's `markup` setting: `full` (advertises `body-markup`), `strip` or `no`.
    pub markup: &'static str,
    /// dunst's `notification_limit`: popups on screen at once, the rest wait (0: no limit,
    /// dunst's default).
    pub notification_limit: u32,
}

impl Default for DesktopOptions {
    fn default() -> Self {
        Self {
            notification_server: true,
            markup: "full",
            notification_limit: 0,
        }
    }
}

/// Xvfb + session bus + (activatable) dunst + isolated XDG dirs; all stopped on drop.
pub struct Desktop {
    dir: TempDir,
    display: String,
    bus_address: String,
    dunst: PathBuf,
    bus: Process,
    xvfb: Process,
}

impl Desktop {
    /// A desktop with dunst available and `markup = full`.
    pub fn start() -> Desktop {
        Self::with(DesktopOptions::default())
    }

    /// A desktop set up as `options` says. Panics (with the logs) if a part does not start.
    pub fn with(options: DesktopOptions) -> Desktop {
        let dunst = which("dunst").expect("dunst is installed (scripts/setup.sh test)");
        let dir = tempfile::Builder::new()
            .prefix("ssenotify-desk-")
            .tempdir()
            .expect("a temp dir");
        for sub in ["config/dunst", "data", "run", "home", "dbus-services"] {
            fs::create_dir_all(dir.path().join(sub)).expect("create a fixture dir");
        }
        fs::set_permissions(dir.path().join("run"), fs::Permissions::from_mode(0o700))
            .expect("chmod the runtime dir");
        fs::write(
            dir.path().join("config/dunst/dunstrc"),
            DUNSTRC
                .replace("{markup}", options.markup)
                .replace("{limit}", &options.notification_limit.to_string()),
        )
        .expect("write the dunstrc");

        let (xvfb, display) = start_xvfb(dir.path());
        let desktop_env = [
            ("DISPLAY", OsString::from(&display)),
            ("HOME", dir.path().join("home").into()),
            ("XDG_CONFIG_HOME", dir.path().join("config").into()),
            ("XDG_DATA_HOME", dir.path().join("data").into()),
            ("XDG_RUNTIME_DIR", dir.path().join("run").into()),
        ];
        let config = dir.path().join("bus.conf");
        fs::write(&config, bus_config(dir.path())).expect("write the bus config");
        let mut command = Command::new("dbus-daemon");
        command
            .arg("--nofork")
            .arg("--print-address=1")
            .arg(format!("--config-file={}", config.display()));
        // The activated dunst inherits this environment: our display, our dunstrc, and
        // no Wayland (dunst would prefer it).
        command
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("DBUS_SESSION_BUS_ADDRESS");
        for (key, value) in desktop_env {
            command.env(key, value);
        }
        let (bus, bus_address) = spawn_and_read_line(
            command,
            &dir.path().join("bus.log"),
            "dbus-daemon --print-address",
        );
        let desktop = Desktop {
            dir,
            display,
            bus_address,
            dunst,
            bus,
            xvfb,
        };
        if options.notification_server {
            desktop.write_dunst_service();
        }
        desktop
    }

    /// The temp dir everything lives in.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `DISPLAY`, e.g. `:3`.
    pub fn display(&self) -> &str {
        &self.display
    }

    /// `DBUS_SESSION_BUS_ADDRESS` of this desktop's bus.
    pub fn bus_address(&self) -> &str {
        &self.bus_address
    }

    /// The environment a program of this desktop gets.
    pub fn env(&self) -> Vec<(&'static str, OsString)> {
        vec![
            ("DISPLAY", self.display.clone().into()),
            ("DBUS_SESSION_BUS_ADDRESS", self.bus_address.clone().into()),
            ("HOME", self.path().join("home").into()),
            ("XDG_CONFIG_HOME", self.path().join("config").into()),
            ("XDG_DATA_HOME", self.path().join("data").into()),
            ("XDG_RUNTIME_DIR", self.path().join("run").into()),
            // Loopback servers must never be reached through a proxy.
            ("NO_PROXY", "127.0.0.1,localhost".into()),
            ("no_proxy", "127.0.0.1,localhost".into()),
        ]
    }

    /// `program` with this desktop's environment (and no Wayland).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        command.env_remove("WAYLAND_DISPLAY");
        for (key, value) in self.env() {
            command.env(key, value);
        }
        command
    }

    /// The real `ssenotify` binary in this desktop.
    pub fn ssenotify(&self) -> Command {
        self.command(ssenotify_bin())
    }

    /// Run `ssenotify ARGS` to completion.
    pub fn ssenotify_output(&self, args: &[&str]) -> Output {
        self.ssenotify()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("ssenotify runs")
    }

    /// `$XDG_CONFIG_HOME/ssenotify`.
    pub fn config_dir(&self) -> PathBuf {
        self.path().join("config/ssenotify")
    }

    /// Write the subscriptions file.
    pub fn write_subscriptions(&self, toml: &str) {
        fs::create_dir_all(self.config_dir()).expect("create the config dir");
        fs::write(self.config_dir().join("subscriptions.toml"), toml)
            .expect("write the subscriptions file");
    }

    /// Start `ssenotify run` (stderr, with `SSENOTIFY_LOG=info`, to a log file) and wait
    /// until its control socket answers `list`.
    pub fn run_daemon(&self) -> DaemonProcess {
        self.run_daemon_with(|_| {})
    }

    /// [`Desktop::run_daemon`], with `configure` adding flags or environment to the
    /// `ssenotify run` command first (e.g. `--tray`).
    pub fn run_daemon_with(&self, configure: impl FnOnce(&mut Command)) -> DaemonProcess {
        let log = self.path().join(format!("daemon-{}.log", unique()));
        let stderr = fs::File::create(&log).expect("create the daemon log");
        let mut command = self.ssenotify();
        command.arg("run").env("SSENOTIFY_LOG", "info");
        configure(&mut command);
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("ssenotify run starts");
        let mut daemon = DaemonProcess { child, log };
        let deadline = Instant::now() + START;
        loop {
            let list = self.ssenotify_output(&["list"]);
            if String::from_utf8_lossy(&list.stdout).contains("daemon: running") {
                return daemon;
            }
            if let Some(status) = daemon.child.try_wait().expect("try_wait") {
                panic!("ssenotify run exited ({status}):\n{}", daemon.log());
            }
            assert!(
                Instant::now() < deadline,
                "ssenotify run never answered `list`:\n{}",
                daemon.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Make dunst activatable on this bus (it was not, with `notification_server: false`):
    /// the service file goes into the bus's service dir and the bus reloads its config.
    pub fn enable_notification_server(&self) {
        self.write_dunst_service();
        let output = self
            .command("dbus-send")
            .args([
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.ReloadConfig",
            ])
            .output()
            .expect("dbus-send runs");
        assert!(output.status.success(), "ReloadConfig: {output:?}");
    }

    fn write_dunst_service(&self) {
        let rc = self.path().join("config/dunst/dunstrc");
        fs::write(
            self.path()
                .join("dbus-services/org.freedesktop.Notifications.service"),
            format!(
                "[D-BUS Service]\nName=org.freedesktop.Notifications\nExec={} -config {}\n",
                self.dunst.display(),
                rc.display()
            ),
        )
        .expect("write the dunst service file");
    }

    /// `dunstctl close-all`, then `dunstctl history`: every notification dunst has had
    /// (newest first, as dunst lists them). Empty when dunst is not running.
    pub fn dunst_history(&self) -> Vec<DunstNotification> {
        let closed = self
            .command("dunstctl")
            .arg("close-all")
            .output()
            .expect("dunstctl runs");
        if !closed.status.success() {
            return Vec::new();
        }
        let output = self
            .command("dunstctl")
            .arg("history")
            .output()
            .expect("dunstctl runs");
        assert!(output.status.success(), "dunstctl history: {output:?}");
        let json: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "dunstctl history is not JSON ({e}):\n{}",
                String::from_utf8_lossy(&output.stdout)
            )
        });
        json["data"][0]
            .as_array()
            .map(|list| list.iter().map(DunstNotification::from_json).collect())
            .unwrap_or_default()
    }

    /// Poll [`Desktop::dunst_history`] every 100 ms until `done` accepts it; panics with
    /// what dunst had (and `context`) after `timeout`.
    pub fn wait_for_dunst(
        &self,
        timeout: Duration,
        context: &str,
        mut done: impl FnMut(&[DunstNotification]) -> bool,
    ) -> Vec<DunstNotification> {
        let deadline = Instant::now() + timeout;
        loop {
            let history = self.dunst_history();
            if done(&history) {
                return history;
            }
            if Instant::now() >= deadline {
                panic!(
                    "{context}: dunst did not get there within {timeout:?}; it has {} notification(s):\n{history:#?}\n--- bus log ---\n{}",
                    history.len(),
                    fs::read_to_string(self.path().join("bus.log")).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Start recording `Notify` calls on this bus (returns once the monitor is attached).
    pub fn monitor_notify_calls(&self) -> NotifyMonitor {
        let out = self.path().join(format!("monitor-{}.txt", unique()));
        let file = fs::File::create(&out).expect("create the monitor output");
        let child = self
            .command("dbus-monitor")
            .arg("--address")
            .arg(&self.bus_address)
            .arg("type='method_call',interface='org.freedesktop.Notifications',member='Notify'")
            .stdout(file)
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-monitor starts");
        let monitor = NotifyMonitor { child, out };
        // A monitor first hears its own name come and go (BecomeMonitor drops it).
        let deadline = Instant::now() + START;
        while !monitor.raw().contains("member=NameLost") {
            assert!(
                Instant::now() < deadline,
                "dbus-monitor did not attach: {:?}",
                monitor.raw()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        monitor
    }
}

impl Drop for Desktop {
    fn drop(&mut self) {
        // dunst (activated by the bus, a child of init by then) exits with its display.
        self.xvfb.stop();
        self.bus.stop();
    }
}

/// A child process killed and reaped when dropped (so a panic half-way through
/// [`Desktop::with`] leaves nothing running).
struct Process(Child);

impl Process {
    fn stop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Our notifications in dunst's history (appname `ssenotify`), oldest first.
pub fn ours(history: &[DunstNotification]) -> Vec<DunstNotification> {
    let mut ours: Vec<DunstNotification> = history
        .iter()
        .filter(|n| n.appname == "ssenotify")
        .cloned()
        .collect();
    ours.sort_by_key(|n| (n.timestamp, n.id));
    ours
}

/// One notification from `dunstctl history`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DunstNotification {
    /// dunst's notification id (what `Notify` returned).
    pub id: i64,
    /// The application name it was sent with.
    pub appname: String,
    /// The summary as received.
    pub summary: String,
    /// The body as received.
    pub body: String,
    /// What dunst rendered (Pango markup) from our format: `urgency=<level>\n<summary>\n<body>`.
    pub message: String,
    /// The urgency dunst applied (`low`, `normal`, `critical`): from the history's own
    /// field where dunst has one, else from the first line of `message`.
    pub urgency: Option<String>,
    /// The progress hint (`-1` when none).
    pub progress: i64,
    /// dunst's timestamp (monotonic microseconds), to order by arrival.
    pub timestamp: i64,
}

impl DunstNotification {
    fn from_json(item: &Value) -> Self {
        let field = |name: &str| &item[name]["data"];
        let text = |name: &str| field(name).as_str().unwrap_or_default().to_owned();
        let message = text("message");
        let urgency = field("urgency")
            .as_str()
            .map(str::to_lowercase)
            .or_else(|| {
                message
                    .lines()
                    .next()
                    .and_then(|line| line.strip_prefix("urgency="))
                    .map(str::to_owned)
            });
        Self {
            id: field("id").as_i64().unwrap_or(-1),
            appname: text("appname"),
            summary: text("summary"),
            body: text("body"),
            message,
            urgency,
            progress: field("progress").as_i64().unwrap_or(-1),
            timestamp: field("timestamp").as_i64().unwrap_or(0),
        }
    }

    /// The body as dunst renders it (Pango markup), i.e. `message` without our format's
    /// first two lines.
    pub fn rendered_body(&self) -> &str {
        self.message.splitn(3, '\n').nth(2).unwrap_or_default()
    }
}

/// A running `ssenotify run`; SIGTERM (then SIGKILL) and reaped on drop.
pub struct DaemonProcess {
    child: Child,
    log: PathBuf,
}

impl DaemonProcess {
    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its stderr so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// Its exit status once it exits by itself within `timeout`; `None` if it still runs.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM and wait (SIGKILL after 5 s); its exit status.
    pub fn stop(&mut self) -> ExitStatus {
        if let Ok(Some(status)) = self.child.try_wait() {
            return status;
        }
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status();
        if let Some(status) = self.wait_exit(Duration::from_secs(5)) {
            return status;
        }
        let _ = self.child.kill();
        self.child.wait().expect("reap the daemon")
    }
}

impl Drop for DaemonProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One `Notify` call as it went over the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyCall {
    /// `app_name`.
    pub app_name: String,
    /// `replaces_id` (0 for a new notification).
    pub replaces_id: u32,
    /// `summary`.
    pub summary: String,
    /// `body`.
    pub body: String,
    /// `actions`: key, label, key, label...
    pub actions: Vec<String>,
    /// The `urgency` hint (0 low, 1 normal, 2 critical).
    pub urgency: Option<u8>,
    /// The names of every hint sent (`urgency`, `image-data`...).
    pub hints: Vec<String>,
}

/// `dbus-monitor` recording the `Notify` calls on a [`Desktop`]'s bus; stopped on drop.
pub struct NotifyMonitor {
    child: Child,
    out: PathBuf,
}

impl NotifyMonitor {
    /// dbus-monitor's output so far.
    pub fn raw(&self) -> String {
        fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// The `Notify` calls so far, in order. Summaries and bodies must be one line each
    /// (dbus-monitor prints strings unescaped).
    pub fn calls(&self) -> Vec<NotifyCall> {
        parse_notify_calls(&self.raw())
    }
}

impl Drop for NotifyMonitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Parses dbus-monitor's text output: a message header line at column 0, then one line
/// per top-level argument at 3 spaces, containers' contents deeper.
fn parse_notify_calls(text: &str) -> Vec<NotifyCall> {
    let mut calls = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if !(line.starts_with("method call") && line.contains("member=Notify")) {
            continue;
        }
        // Group the argument lines: each top-level argument starts at exactly 3 spaces.
        let mut args: Vec<Vec<&str>> = Vec::new();
        while let Some(next) = lines.peek() {
            if !next.starts_with(' ') {
                break;
            }
            let next = lines.next().unwrap_or_default();
            // A container's closing bracket is at the same depth as its opening line.
            let closing = matches!(next.trim(), "]" | ")");
            if next.starts_with("   ") && !next.starts_with("    ") && !closing {
                args.push(vec![next.trim()]);
            } else if let Some(arg) = args.last_mut() {
                arg.push(next.trim());
            }
        }
        let string = |arg: Option<&Vec<&str>>| -> String {
            arg.and_then(|lines| lines.first())
                .and_then(|l| l.strip_prefix("string \""))
                .and_then(|l| l.strip_suffix('"'))
                .unwrap_or_default()
                .to_owned()
        };
        let actions = args
            .get(5)
            .map(|lines| {
                lines
                    .iter()
                    .filter_map(|l| l.strip_prefix("string \"")?.strip_suffix('"'))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let hints = args
            .get(6)
            .map(|lines| {
                lines
                    .windows(2)
                    .filter(|pair| pair[0] == "dict entry(")
                    .filter_map(|pair| pair[1].strip_prefix("string \"")?.strip_suffix('"'))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let urgency = args.get(6).and_then(|lines| {
            let at = lines.iter().position(|l| *l == "string \"urgency\"")?;
            lines.get(at + 1)?.rsplit(' ').next()?.parse().ok()
        });
        calls.push(NotifyCall {
            app_name: string(args.first()),
            replaces_id: args
                .get(1)
                .and_then(|l| l.first()?.strip_prefix("uint32 ")?.parse().ok())
                .unwrap_or(0),
            summary: string(args.get(3)),
            body: string(args.get(4)),
            actions,
            urgency,
            hints,
        });
    }
    calls
}

/// Start Xvfb on a display it picks; returns it and `:<n>` once it accepts connections.
fn start_xvfb(dir: &Path) -> (Process, String) {
    let mut command = Command::new("Xvfb");
    command.args([
        "-displayfd",
        "1",
        "-screen",
        "0",
        "1024x768x24",
        "-nolisten",
        "tcp",
        "-noreset",
    ]);
    let (child, number) = spawn_and_read_line(command, &dir.join("xvfb.log"), "Xvfb -displayfd");
    let socket = PathBuf::from(format!("/tmp/.X11-unix/X{number}"));
    let deadline = Instant::now() + START;
    while !socket.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            socket.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, format!(":{number}"))
}

/// Spawn `command` (stderr to `log`) and return its first stdout line; panics with the log
/// if none comes within [`START`].
fn spawn_and_read_line(mut command: Command, log: &Path, what: &str) -> (Process, String) {
    let stderr = fs::File::create(log).expect("create a log file");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot start ({e}); run scripts/setup.sh test"));
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let _ = tx.send(lines.next());
        // Keep draining so the child never blocks on (or dies of) a closed pipe.
        for _ in lines {}
    });
    match rx.recv_timeout(START) {
        Ok(Some(Ok(line))) if !line.trim().is_empty() => (Process(child), line.trim().to_owned()),
        other => {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what}: no output ({other:?}):\n{}",
                fs::read_to_string(log).unwrap_or_default()
            );
        }
    }
}

/// A session bus config of our own: one listening socket in `dir`, and only the services
/// in `dir/dbus-services` (none of the machine's), so activation is deterministic.
fn bus_config(dir: &Path) -> String {
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:dir={dir}</listen>
  <auth>EXTERNAL</auth>
  <servicedir>{dir}/dbus-services</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
        dir = dir.display()
    )
}

/// `name` on `PATH`.
fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(name))
        .find(|path| path.is_file())
}

/// A process-unique number for file names.
fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dbus_monitor_notify_calls() {
        let text = r#"signal time=1.0 sender=org.freedesktop.DBus -> destination=:1.0 serial=2 path=/org/freedesktop/DBus; interface=org.freedesktop.DBus; member=NameAcquired
   string ":1.0"
method call time=2.0 sender=:1.1 -> destination=:1.2 serial=9 path=/org/freedesktop/Notifications; interface=org.freedesktop.Notifications; member=Notify
   string "ssenotify"
   uint32 7
   string ""
   string "Deploy <done>"
   string "a &lt;b&gt; "quoted""
   array [
      string "default"
      string "Open"
   ]
   array [
      dict entry(
         string "urgency"
         variant             byte 2
      )
   ]
   int32 -1
method call time=3.0 sender=:1.1 -> destination=:1.2 serial=10 path=/org/freedesktop/Notifications; interface=org.freedesktop.Notifications; member=Notify
   string "x"
   uint32 0
   string ""
   string "s"
   string ""
   array [
   ]
   array [
   ]
   int32 5000
"#;
        let calls = parse_notify_calls(text);
        assert_eq!(
            calls,
            vec![
                NotifyCall {
                    app_name: "ssenotify".into(),
                    replaces_id: 7,
                    summary: "Deploy <done>".into(),
                    body: r#"a &lt;b&gt; "quoted""#.into(),
                    actions: vec!["default".into(), "Open".into()],
                    urgency: Some(2),
                    hints: vec!["urgency".into()],
                },
                NotifyCall {
                    app_name: "x".into(),
                    replaces_id: 0,
                    summary: "s".into(),
                    body: String::new(),
                    actions: vec![],
                    urgency: None,
                    hints: vec![],
                },
            ]
        );
    }
}
