//! The engine the window talks to: always a daemon process (`ssenotify run --tray`), reached
//! through its control socket, started by the app when none runs.
//!
//! Why not host the engine in this process: a process that links WebKitGTK costs 65–97 MB
//! (PSS) before it shows anything, and WebKit's network process outlives a destroyed
//! webview, so an app that keeps running in the tray could not get near the 60 MB goal.
//! The daemon with its tray icon holds no GTK or WebKit (about 15 MB), and this process
//! exists only while the window is open: closing the window ends it and gives everything
//! WebKit took back. See README "How the app is built".

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ssenotify_config::Paths;
use ssenotify_protocol::{
    AppInfo, ClientError, DaemonInfo, EngineKind, Reply, Request, StatusReport, SubscriptionStatus,
    request,
};
use tauri::AppHandle;
use tokio::sync::RwLock;

/// Environment variable naming the `ssenotify` binary to start the daemon with (tests,
/// unusual installs); otherwise the one next to this executable, then `PATH`.
pub const DAEMON_BIN_ENV: &str = "SSENOTIFY_BIN";

/// How long the app waits for a daemon it started to answer before reporting a failure.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);

/// How the app is connected to the engine; changes when the daemon stops or comes back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// A daemon answers at the control socket.
    Daemon {
        /// Its process id.
        pid: u32,
        /// Whether it shows a tray icon (`run --tray`): without one, closing the window
        /// leaves nothing on screen, and the UI says so.
        tray: bool,
    },
    /// No daemon answers (the message says why); edits still reach the file and apply
    /// when a daemon starts.
    Down(String),
}

/// The running daemon, seen from the window.
pub struct Engine {
    /// The user's files (the same as the daemon's: both follow the XDG variables).
    pub paths: Paths,
    link: RwLock<Link>,
}

impl Engine {
    /// Connects to the user's daemon, starting `ssenotify run --tray` if none runs.
    pub async fn connect() -> Self {
        let Some(paths) = Paths::from_env() else {
            return Self {
                paths: Paths::at(std::env::temp_dir().join("ssenotify")),
                link: RwLock::new(Link::Down("no home directory".into())),
            };
        };
        let link = ensure_daemon(&paths).await;
        Self {
            paths,
            link: RwLock::new(link),
        }
    }

    /// The current link.
    pub async fn link(&self) -> Link {
        self.link.read().await.clone()
    }

    /// Re-establishes the link (starting a daemon again if it died); returns the new one.
    pub async fn reconnect(&self) -> Link {
        let link = ensure_daemon(&self.paths).await;
        *self.link.write().await = link.clone();
        link
    }

    /// Records that the daemon went away (its watch stream ended without a goodbye).
    pub async fn lost(&self, why: &str) {
        *self.link.write().await = Link::Down(why.to_owned());
    }

    /// The daemon's control socket.
    pub fn socket(&self) -> PathBuf {
        self.paths.control_socket()
    }

    /// Makes the daemon apply the subscriptions file now (after an edit).
    pub async fn reload(&self) -> Result<(), String> {
        match request(&self.socket(), &Request::Reload).await {
            Ok(Reply::Error { message }) => Err(message),
            Ok(_) => Ok(()),
            // Nothing runs: the edit is in the file, applied when a daemon starts.
            Err(ClientError::NotRunning { .. }) => Ok(()),
            Err(err) => Err(format!("the engine did not answer: {err}")),
        }
    }

    /// The daemon's status reply (every subscription, or what changed after `since`, of
    /// every one or of `ids`, and its own report: notifier health, configuration error,
    /// tray); nothing when none answers.
    pub async fn report(
        &self,
        since: Option<u64>,
        ids: Option<Vec<String>>,
    ) -> Option<StatusReport> {
        match request(&self.socket(), &Request::Status { since, ids }).await {
            Ok(Reply::Status(report)) => Some(report),
            _ => None,
        }
    }

    /// [`AppInfo`] for the current link and the daemon's report now.
    pub async fn describe(&self, app: &AppHandle) -> AppInfo {
        match self.report(None, None).await {
            Some(report) => {
                self.describe_with(app, &report.subscriptions, Some(&report.daemon))
                    .await
            }
            None => self.describe_with(app, &[], None).await,
        }
    }

    /// [`AppInfo`] for the current link, the statuses and the daemon's report (also sent
    /// with updates when the link changes).
    pub async fn describe_with(
        &self,
        app: &AppHandle,
        statuses: &[SubscriptionStatus],
        daemon: Option<&DaemonInfo>,
    ) -> AppInfo {
        let open = statuses
            .iter()
            .filter(|s| s.ready_state == ssenotify_protocol::ReadyState::Open)
            .count();
        let s = if statuses.len() == 1 { "" } else { "s" };
        let summary = format!("{} subscription{s}, {open} open", statuses.len());
        let config_error = daemon.and_then(|d| d.config_error.clone());
        // The link says who runs; the daemon's report says, right now, whether its icon
        // shows (a tray host can come and go after the link was made).
        let host_shown = daemon.is_none_or(|d| d.tray_host);
        // Only the no-tray-host notice is information to dismiss; the others are problems.
        let dismissible = config_error.is_none() && !host_shown;
        let (engine, engine_pid, notice, status) = match self.link().await {
            Link::Daemon { pid, tray: true } => {
                let notice = config_error.or_else(|| {
                    (!host_shown).then(|| {
                        "This desktop shows no tray icons (it has no StatusNotifierItem host; on \
                         GNOME, the AppIndicator extension adds one): closing this window leaves \
                         ssenotify running in the background. Open ssenotify again from your \
                         applications to see it, or stop it in Settings → Quit."
                            .to_owned()
                    })
                });
                (EngineKind::Running, Some(pid), notice, summary)
            }
            Link::Daemon { pid, tray: false } => (
                EngineKind::External,
                Some(pid),
                Some(format!(
                    "ssenotify run (pid {pid}) already runs for this user without a tray icon: \
                     the app shows and edits its subscriptions instead of starting a second \
                     engine, and closing this window leaves no icon behind"
                )),
                format!("headless daemon (pid {pid}); {summary}"),
            ),
            Link::Down(why) => (
                EngineKind::Error,
                None,
                Some(format!("the engine is not running: {why}")),
                "engine not running".into(),
            ),
        };
        AppInfo {
            version: app.package_info().version.to_string(),
            config_dir: self.paths.config_dir.to_string_lossy().into_owned(),
            data_dir: self.paths.data_dir.to_string_lossy().into_owned(),
            dismissible: dismissible && engine == EngineKind::Running,
            engine,
            engine_pid,
            notice,
            status,
        }
    }
}

/// Asks the daemon at `paths` who it is; starts one if nobody answers.
async fn ensure_daemon(paths: &Paths) -> Link {
    if let Some(link) = probe(paths).await {
        return link;
    }
    let started = Instant::now();
    // Creating the log file and forking are blocking calls: off the async runtime.
    let spawn_paths = paths.clone();
    let spawned = tokio::task::spawn_blocking(move || spawn_daemon(&spawn_paths))
        .await
        .unwrap_or_else(|e| Err(format!("cannot start the engine: {e}")));
    let mut child = match spawned {
        Ok(child) => child,
        Err(why) => return Link::Down(why),
    };
    loop {
        tokio::time::sleep(Duration::from_millis(25)).await;
        if let Some(link) = probe(paths).await {
            tracing::info!(
                ms = started.elapsed().as_millis() as u64,
                ?link,
                "engine started"
            );
            reap_later(child);
            return link;
        }
        if let Ok(Some(status)) = child.try_wait() {
            // Lost a race with another starter (`ssenotify run`, a second app): use theirs.
            if let Some(link) = probe(paths).await {
                return link;
            }
            return Link::Down(format!(
                "the engine exited at start ({status}); see {}",
                daemon_log(paths).display()
            ));
        }
        if started.elapsed() > START_TIMEOUT {
            reap_later(child);
            return Link::Down(format!(
                "the engine did not answer within {} s; see {}",
                START_TIMEOUT.as_secs(),
                daemon_log(paths).display()
            ));
        }
    }
}

/// The daemon's identity, if one answers.
async fn probe(paths: &Paths) -> Option<Link> {
    // No subscription asked for: only the daemon's own report, whatever the set's size.
    let who = Request::Status {
        since: None,
        ids: Some(Vec::new()),
    };
    match request(&paths.control_socket(), &who).await {
        Ok(Reply::Status(report)) => Some(Link::Daemon {
            pid: report.daemon.pid,
            tray: report.daemon.tray,
        }),
        _ => None,
    }
}

/// Where a daemon the app started writes its log.
pub fn daemon_log(paths: &Paths) -> PathBuf {
    paths.data_dir.join("daemon.log")
}

/// Starts `ssenotify run --tray` in its own process group, so it outlives the window and
/// a Ctrl-C in the terminal that launched the app.
fn spawn_daemon(paths: &Paths) -> Result<std::process::Child, String> {
    use std::os::unix::process::CommandExt as _;
    let bin = ssenotify_daemon::companion_program(DAEMON_BIN_ENV, "ssenotify");
    let log_path = daemon_log(paths);
    // Private like the rest of the data dir: logs name subscriptions and their hosts.
    let log = ssenotify_config::create_private_dir(&paths.data_dir)
        .and_then(|()| {
            use std::os::unix::fs::OpenOptionsExt as _;
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&log_path)
        })
        .map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
    let log_err = log
        .try_clone()
        .map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
    tracing::info!(bin = %bin.display(), log = %log_path.display(), "starting the engine");
    let mut command = Command::new(&bin);
    if crate::window::gpu_compositing_disabled_here() {
        // The window's own setting, not the user's: a browser the engine opens for a
        // notification's click must not inherit it.
        command.env_remove(crate::window::NO_COMPOSITING_ENV);
    }
    command
        .args(["run", "--tray"])
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start the engine ({}): {e}", bin.display()))
}

/// Waits for a started daemon on a thread of its own, so it never lingers as a zombie
/// while the window is open.
fn reap_later(mut child: std::process::Child) {
    std::thread::spawn(move || {
        let _ = child.wait();
    });
}
