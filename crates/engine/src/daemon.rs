//! The daemon: everything `ssenotify run` (and the tray app) runs, wired together.
//!
//! Three tasks, one direction of data:
//!
//! - the **control loop** owns the [`Supervisor`]: it loads the subscriptions file at start,
//!   notices changes to it (a cheap metadata check every [`WATCH_INTERVAL`]), applies a
//!   valid new set by diff (only what changed reconnects), keeps the old set when the file
//!   does not validate, and answers the control socket;
//! - the **pipeline** consumes every subscription's updates: states go to the live status
//!   table, events go to history (dedup, resume point in the same transaction), then
//!   through the subscription's [`Router`], then to the notification sink; the UI hears
//!   both through a broadcast channel;
//! - the **control socket** server hands requests to the control loop.
//!
//! The control loop and the pipeline are separate tasks on purpose: closing a
//! subscription waits until its CLOSED report has been forwarded, which needs the
//! pipeline to keep draining while the control loop applies a change.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{Paths, Store, SubscriptionSet, SubscriptionSpec};
use crate::control::{self, Pending, Reply, Request};
use crate::history::{
    Action as HistoryAction, History, HistoryWriter, NewEvent, Recorded, ResumeUpdate, RowId,
};
use crate::router::{self, Decision, Flags, Millis, Notification, Router};
use crate::state::{ReadyState, Reason, StateChange};
use crate::subscription::{Engine, Event, Update};
use crate::supervisor::{ApplyReport, Desired, Supervisor, Tagged};

/// How often the control loop checks whether the subscriptions file changed.
///
/// A metadata `stat` is cheap; four a second keeps "edited by hand → applied" well
/// under the promised second without an inotify dependency, and it survives editors
/// that replace the file by rename. A change is applied once two checks in a row agree
/// (250 to 500 ms after the save), so a file caught mid-write is never applied.
pub const WATCH_INTERVAL: Duration = Duration::from_millis(250);
/// Events arriving this soon after a resumed connection opened count as catch-up replay.
pub const CATCH_UP_WINDOW: Duration = Duration::from_secs(2);
/// How many UI updates may queue per listener before the slowest one loses the oldest.
pub const UI_BUFFER: usize = 4096;
/// Most events handed to history in one transaction.
const PIPELINE_BATCH: usize = 512;

/// Where notifications go. The daemon's only dependency on the desktop.
pub trait NotifySink: Send + Sync + 'static {
    /// Queue one notification of subscription `subscription`; never blocks.
    fn deliver(&self, subscription: &str, notification: Notification) -> Delivery;
    /// [`NotifySink::deliver`], and call `failed` if the notification server later refuses
    /// it or never answers, so history can say so (a queued popup is not yet a shown one).
    /// Sinks that cannot tell just deliver.
    fn deliver_tracked(
        &self,
        subscription: &str,
        notification: Notification,
        failed: OnFailure,
    ) -> Delivery {
        drop(failed);
        self.deliver(subscription, notification)
    }
    /// The sink's health, for `ssenotify list` and the tray.
    fn health(&self) -> serde_json::Value;
}

/// Called by a [`NotifySink`] when a queued notification could not be shown.
pub type OnFailure = Box<dyn FnOnce() + Send>;

/// What a [`NotifySink`] did with a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Queued for the notification server.
    Queued,
    /// The queue was full or the server is down: dropped (history still has the event).
    Dropped,
    /// Notifications are turned off (`run --no-notify`): nothing was meant to be shown.
    Disabled,
}

/// A sink that shows nothing: for `run --no-notify` and machines without a desktop.
#[derive(Debug, Default)]
pub struct NoNotifications;

impl NotifySink for NoNotifications {
    fn deliver(&self, _: &str, _: Notification) -> Delivery {
        Delivery::Disabled
    }
    fn health(&self) -> serde_json::Value {
        serde_json::json!({"state": "disabled"})
    }
}

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// Another daemon (or the app) of this user already runs.
    #[error("ssenotify is already running for this user (pid {pid}); lock {}", lock.display())]
    AlreadyRunning {
        /// Its process id, as it wrote it (0 when unreadable).
        pid: u32,
        /// The lock file.
        lock: PathBuf,
    },
    /// A file or socket could not be set up.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being set up.
        what: &'static str,
        /// Where.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The history database could not be opened.
    #[error(transparent)]
    History(#[from] crate::history::HistoryError),
}

/// The live state of one subscription, as `list` and the UI show it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SubscriptionStatus {
    /// The subscription's id.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// Its URL.
    pub url: String,
    /// Whether it is enabled in the file.
    pub enabled: bool,
    /// Whether it is paused.
    pub paused: bool,
    /// The current readyState.
    pub ready_state: ReadyState,
    /// Why it is in that state.
    pub reason: String,
    /// The HTTP status behind the reason, when there was a response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// When the state last changed (Unix ms).
    pub since: i64,
    /// When CONNECTING after a failure: milliseconds until the next attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_in_ms: Option<u64>,
    /// When the last event arrived (Unix ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_event_at: Option<i64>,
    /// Events received since the daemon started.
    pub events: u64,
    /// A problem that keeps it from running (a secret that cannot be resolved, ...), or
    /// the last template error of its rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl SubscriptionStatus {
    /// A status that knows only its id, state and reason (named after its id, enabled, not
    /// paused, no counters): the start of the daemon's first report, and what tests of
    /// status consumers build on with `..`.
    pub fn new(id: &str, ready_state: ReadyState, reason: impl ToString) -> Self {
        Self {
            id: id.to_owned(),
            name: id.to_owned(),
            url: String::new(),
            enabled: true,
            paused: false,
            ready_state,
            reason: reason.to_string(),
            status: None,
            since: 0,
            retry_in_ms: None,
            last_event_at: None,
            events: 0,
            error: None,
        }
    }
}

/// What the UI hears from the daemon.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DaemonEvent {
    /// A subscription's status changed.
    Status(SubscriptionStatus),
    /// A subscription received an event (after history and routing).
    Event {
        /// The subscription.
        subscription: String,
        /// History row id (for the inspector), if recorded.
        row: Option<i64>,
        /// The event type.
        #[serde(rename = "type")]
        event_type: String,
        /// The event data.
        data: String,
        /// Its last event ID.
        last_event_id: String,
        /// What the router did.
        action: HistoryAction,
        /// When it arrived (Unix ms).
        received_at: i64,
    },
    /// The subscriptions file was applied, or failed to validate (`error`).
    Config {
        /// The apply report, when it was applied.
        #[serde(skip_serializing_if = "Option::is_none")]
        applied: Option<ApplyReport>,
        /// The validation error, when it was not.
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
}

/// State shared by the control loop, the pipeline and the handle.
struct Shared {
    status: Mutex<BTreeMap<String, SubscriptionStatus>>,
    /// The resume point each subscription reached (last event ID, cursor).
    resume: Mutex<HashMap<String, (String, Option<String>)>>,
    config_error: Mutex<Option<String>>,
    ui: broadcast::Sender<DaemonEvent>,
    sink: Arc<dyn NotifySink>,
    /// Whether a tray icon shows this daemon (`run --tray`): the app tells the user when
    /// closing its window would leave nothing on screen.
    tray: std::sync::atomic::AtomicBool,
    /// Whether a tray host shows the icon (a StatusNotifierWatcher took it): without one
    /// (GNOME without the AppIndicator extension), closing the window leaves nothing to
    /// click, and the app says so.
    tray_host: std::sync::atomic::AtomicBool,
    /// Cancelled when a client asks the daemon to stop; its owner waits on it.
    quit: CancellationToken,
}

impl Shared {
    fn publish(&self, event: DaemonEvent) {
        // No UI listening is the normal case for the headless daemon.
        let _ = self.ui.send(event);
    }

    fn statuses(&self) -> Vec<SubscriptionStatus> {
        lock(&self.status).values().cloned().collect()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A running daemon. Cheap to share by reference; [`Daemon::shutdown`] stops it.
pub struct Daemon {
    shared: Arc<Shared>,
    paths: Paths,
    cancel: CancellationToken,
    reload: mpsc::Sender<oneshot::Sender<Result<ApplyReport, String>>>,
    tasks: Vec<JoinHandle<()>>,
    pipeline: JoinHandle<()>,
    history: HistoryWriter,
    _instance: InstanceLock,
}

/// How a daemon is run, fixed before its control socket answers.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// A tray icon will show this daemon (`run --tray`); see [`Daemon::set_tray`].
    pub tray: bool,
}

impl Daemon {
    /// Start everything: take the single-instance lock, open history, apply the
    /// subscriptions file, serve the control socket.
    pub async fn start(paths: Paths, sink: Arc<dyn NotifySink>) -> Result<Daemon, DaemonError> {
        Self::start_with(paths, sink, Options::default()).await
    }

    /// [`Daemon::start`] with options: set here rather than after the start, since the
    /// first client (the app that started this daemon) asks as soon as the socket answers.
    pub async fn start_with(
        paths: Paths,
        sink: Arc<dyn NotifySink>,
        options: Options,
    ) -> Result<Daemon, DaemonError> {
        let instance = InstanceLock::acquire(&paths)?;
        let history = History::open(paths.history_db())?;
        let resume: HashMap<String, (String, Option<String>)> = history
            .resume_all()?
            .into_iter()
            .map(|point| {
                (
                    point.sub_id.to_string(),
                    (
                        point.last_event_id.to_string(),
                        point.cursor.map(|c| c.to_string()),
                    ),
                )
            })
            .collect();
        let history = HistoryWriter::spawn(history)?;
        let socket_path = paths.control_socket();
        let listener = control::bind(&socket_path).map_err(|source| DaemonError::Io {
            what: "control socket",
            path: socket_path.clone(),
            source,
        })?;

        let (ui, _) = broadcast::channel(UI_BUFFER);
        let shared = Arc::new(Shared {
            status: Mutex::new(BTreeMap::new()),
            resume: Mutex::new(resume),
            config_error: Mutex::new(None),
            ui,
            sink,
            tray: options.tray.into(),
            // Until the tray reports otherwise: ksni says so only when no host takes it.
            tray_host: options.tray.into(),
            quit: CancellationToken::new(),
        });
        let cancel = CancellationToken::new();
        let engine = Engine::with_shutdown(cancel.child_token());
        // After a suspend every socket is presumed dead: reconnect all at once on wake.
        let sleep_task = engine.watch_for_sleep();
        let (supervisor, merged) = Supervisor::new(engine);
        let (configure_tx, configure_rx) = mpsc::channel(16);
        let pipeline =
            tokio::spawn(Pipeline::new(shared.clone(), history.clone(), configure_rx).run(merged));

        let (requests_tx, requests_rx) = mpsc::channel::<Pending>(64);
        let (reload_tx, reload_rx) = mpsc::channel(8);
        let mut control = ControlLoop {
            shared: shared.clone(),
            store: Store::new(paths.clone()),
            paths: paths.clone(),
            supervisor,
            history: history.clone(),
            configure: configure_tx,
            fingerprint: None,
            settling: None,
            current: None,
        };
        // The demo feed is served by whoever runs the subscriptions, so the demo works the
        // same under the app and `ssenotify run`. Another process may hold the port
        // already (it serves the same stream); then there is nothing to do.
        let demo_addr = std::net::SocketAddr::from(([127, 0, 0, 1], crate::demo::DEMO_PORT));
        if let Err(error) =
            crate::demo::serve(demo_addr, Duration::from_secs(1), cancel.clone()).await
        {
            tracing::debug!(%error, "demo feed not served here");
        }
        // The first apply happens before `start` returns, so callers see the set running.
        // An invalid file is reported through the status and the log; the daemon runs on
        // (with nothing) and applies the file as soon as it is fixed.
        let _ = control.reload(false).await;
        let control_task = tokio::spawn(control.run(requests_rx, reload_rx, cancel.clone()));
        let socket_task = tokio::spawn(control::serve(
            listener,
            requests_tx,
            shared.ui.clone(),
            cancel.clone(),
        ));
        tracing::info!(socket = %socket_path.display(), "daemon started");
        Ok(Daemon {
            shared,
            paths,
            cancel,
            reload: reload_tx,
            tasks: vec![control_task, socket_task, sleep_task],
            pipeline,
            history,
            _instance: instance,
        })
    }

    /// The live state of every subscription in the file.
    pub fn status(&self) -> Vec<SubscriptionStatus> {
        self.shared.statuses()
    }

    /// The last error of the subscriptions file, if the current file does not validate.
    pub fn config_error(&self) -> Option<String> {
        lock(&self.shared.config_error).clone()
    }

    /// Status changes and events, for a UI.
    pub fn updates(&self) -> broadcast::Receiver<DaemonEvent> {
        self.shared.ui.subscribe()
    }

    /// Resolves when a client asked the daemon to stop (`ssenotify quit`, the app's Quit);
    /// the owner then calls [`Daemon::shutdown`], as on SIGTERM.
    pub async fn quit_requested(&self) {
        self.shared.quit.cancelled().await;
    }

    /// Records whether a tray icon shows this daemon (reported by `Status` as `tray`).
    pub fn set_tray(&self, shown: bool) {
        self.shared
            .tray
            .store(shown, std::sync::atomic::Ordering::Relaxed);
        self.set_tray_host(shown);
    }

    /// Records whether a tray host shows the icon now (reported by `Status` as `tray_host`).
    pub fn set_tray_host(&self, shown: bool) {
        self.shared
            .tray_host
            .store(shown, std::sync::atomic::Ordering::Relaxed);
    }

    /// The paths this daemon uses.
    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// Re-read the subscriptions file and apply it now.
    pub async fn reload(&self) -> Result<ApplyReport, String> {
        let (tx, rx) = oneshot::channel();
        self.reload
            .send(tx)
            .await
            .map_err(|_| "the daemon is stopping".to_owned())?;
        rx.await.map_err(|_| "the daemon is stopping".to_owned())?
    }

    /// Close every connection, flush history, remove the control socket.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
        // The control loop has shut the supervisor down: every CLOSED report is queued,
        // and the merged channel ends, which ends the pipeline after it drained.
        let _ = self.pipeline.await;
        if let Err(error) = self.history.close().await {
            tracing::error!(%error, "history could not be flushed");
        }
        let _ = std::fs::remove_file(self.paths.control_socket());
        tracing::info!("daemon stopped");
    }
}

/// The single-instance lock: an exclusive `flock` on a pid file in the runtime directory.
///
/// The kernel drops the lock when the process dies however it dies (kill -9 included), so
/// a crash never leaves a stale lock behind, unlike a pid file alone.
struct InstanceLock {
    _file: File,
}

impl InstanceLock {
    fn acquire(paths: &Paths) -> Result<Self, DaemonError> {
        let path = paths.instance_lock();
        let io = |source| DaemonError::Io {
            what: "instance lock",
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let pid = std::fs::read_to_string(&path)
                    .ok()
                    .and_then(|text| text.trim().parse().ok())
                    .unwrap_or(0);
                return Err(DaemonError::AlreadyRunning { pid, lock: path });
            }
            Err(std::fs::TryLockError::Error(source)) => return Err(io(source)),
        }
        file.set_len(0).map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        Ok(Self { _file: file })
    }
}

/// Where one ssenotify program finds the other (the app's window finds the daemon, the
/// tray's "Show window" finds the app): `$env_var` when set and not empty (one program
/// path, run without a shell), else `name` beside this executable (the .deb puts both in
/// /usr/bin, cargo in target/<profile>), else `name` for `PATH` to find.
pub fn companion_program(env_var: &str, name: &str) -> PathBuf {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.join(name)))
        .filter(|path| path.is_file());
    choose_program(std::env::var_os(env_var), beside, name)
}

fn choose_program(
    configured: Option<std::ffi::OsString>,
    beside: Option<PathBuf>,
    name: &str,
) -> PathBuf {
    configured
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
        .or(beside)
        .unwrap_or_else(|| PathBuf::from(name))
}

/// Whether a daemon holds the instance lock at `paths` right now (and its pid).
pub fn running_pid(paths: &Paths) -> Option<u32> {
    match InstanceLock::acquire(paths) {
        Err(DaemonError::AlreadyRunning { pid, .. }) => Some(pid),
        _ => None,
    }
}

/// What the pipeline needs to know of the file: routers per subscription.
enum Configure {
    Set(SubscriptionSet),
}

/// What the subscriptions file looked like: (modified, length, inode).
type Fingerprint = (Option<SystemTime>, u64, u64);

/// The control loop's state.
struct ControlLoop {
    shared: Arc<Shared>,
    store: Store,
    paths: Paths,
    supervisor: Supervisor,
    history: HistoryWriter,
    configure: mpsc::Sender<Configure>,
    /// What the file looked like when last read: (modified, length, inode).
    fingerprint: Option<Fingerprint>,
    /// A change seen at the last check: applied once the file has stopped changing.
    settling: Option<Option<Fingerprint>>,
    /// The set currently applied.
    current: Option<SubscriptionSet>,
}

impl ControlLoop {
    async fn run(
        mut self,
        mut requests: mpsc::Receiver<Pending>,
        mut reloads: mpsc::Receiver<oneshot::Sender<Result<ApplyReport, String>>>,
        cancel: CancellationToken,
    ) {
        let mut watch = tokio::time::interval(WATCH_INTERVAL);
        watch.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = watch.tick() => {
                    // A change is applied once the file looks the same at two checks in a
                    // row: an editor that saves in place truncates, then writes, and the
                    // empty file in between is a valid set with no subscriptions. Applying
                    // that would close every connection and forget every history.
                    let now = self.fingerprint();
                    if now == self.fingerprint {
                        self.settling = None;
                    } else if self.settling == Some(now) {
                        self.settling = None;
                        // Errors are published by reload itself.
                        let _ = self.reload(false).await;
                    } else {
                        self.settling = Some(now);
                    }
                }
                Some(reply) = reloads.recv() => {
                    let result = self.reload(true).await;
                    let _ = reply.send(result);
                }
                Some((request, reply)) = requests.recv() => {
                    let answer = self.answer(request).await;
                    let _ = reply.send(answer);
                }
            }
        }
        self.supervisor.shutdown().await;
    }

    fn fingerprint(&self) -> Option<Fingerprint> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(self.paths.subscriptions_file()).ok()?;
        Some((meta.modified().ok(), meta.len(), meta.ino()))
    }

    /// Load the file and apply it; an invalid file leaves the running set as it was.
    ///
    /// `force` (an explicit reload: the CLI after an edit, the app) applies the set even
    /// when the file is unchanged: its secret references are resolved again, so a secret
    /// file rewritten by `import` reconnects the subscriptions that use it (the supervisor
    /// compares resolved settings, so nothing else reconnects).
    async fn reload(&mut self, force: bool) -> Result<ApplyReport, String> {
        self.fingerprint = self.fingerprint();
        let set = match self.store.load() {
            Ok(set) => set,
            Err(error) => {
                let message = error.to_string();
                tracing::error!("subscriptions file not applied: {message}");
                *lock(&self.shared.config_error) = Some(message.clone());
                self.shared.publish(DaemonEvent::Config {
                    applied: None,
                    error: Some(message.clone()),
                });
                return Err(message);
            }
        };
        *lock(&self.shared.config_error) = None;
        if self.current.as_ref() == Some(&set) {
            if !force {
                return Ok(ApplyReport::default());
            }
            return Ok(self.apply(&set).await);
        }
        // The routes first: a connection that starts in `apply` can deliver events at
        // once, and an event that reaches the pipeline before its route is routed nowhere
        // (history only, no popup). The pipeline takes a queued configure before events.
        let _ = self.configure.send(Configure::Set(set.clone())).await;
        let report = self.apply(&set).await;
        self.current = Some(set);
        tracing::info!(
            started = report.started.len(),
            restarted = report.restarted.len(),
            stopped = report.stopped.len(),
            failed = report.failed.len(),
            "subscriptions applied"
        );
        self.shared.publish(DaemonEvent::Config {
            applied: Some(report.clone()),
            error: None,
        });
        Ok(report)
    }

    async fn apply(&mut self, set: &SubscriptionSet) -> ApplyReport {
        // Every status entry exists before a connection starts: the pipeline only updates
        // existing entries, so a state change that raced ahead of the entry (a fast OPEN,
        // a 404's CLOSED) would be lost and `list` would show "connecting" for good.
        {
            let mut status = lock(&self.shared.status);
            for spec in &set.subscriptions {
                status
                    .entry(spec.id.clone())
                    .or_insert_with(|| initial_status(spec));
            }
        }
        let mut desired = Vec::new();
        let mut resolve_errors = BTreeMap::new();
        {
            let resume = lock(&self.shared.resume);
            for spec in set.subscriptions.iter().filter(|s| s.enabled) {
                let from = match resume.get(&spec.id) {
                    Some((_, Some(cursor))) if spec.resume.is_some() => cursor.as_str(),
                    Some((last_id, _)) => last_id.as_str(),
                    None => "",
                };
                match spec.to_settings(&self.paths, from) {
                    Ok(settings) => desired.push(Desired {
                        id: spec.id.clone(),
                        settings,
                        paused: spec.paused,
                    }),
                    Err(error) => {
                        resolve_errors.insert(spec.id.clone(), error.to_string());
                    }
                }
            }
        }
        let mut report = self.supervisor.apply(desired).await;
        report.failed.extend(resolve_errors);

        // Removed subscriptions lose their history; the others get their retention.
        let keep: Vec<String> = set.subscriptions.iter().map(|s| s.id.clone()).collect();
        self.history.forget_except(keep).await.ok();
        for spec in &set.subscriptions {
            let retention = spec.history.retention();
            self.history
                .set_retention(spec.id.as_str(), retention)
                .await
                .ok();
        }

        let mut status = lock(&self.shared.status);
        status.retain(|id, _| set.get(id).is_some());
        lock(&self.shared.resume).retain(|id, _| set.get(id).is_some());
        for spec in &set.subscriptions {
            let entry = status
                .entry(spec.id.clone())
                .or_insert_with(|| initial_status(spec));
            entry.name = spec.display_name().to_owned();
            entry.url = spec.url.clone();
            entry.enabled = spec.enabled;
            entry.paused = spec.paused;
            entry.error = report.failed.get(&spec.id).cloned();
            if !spec.enabled {
                entry.ready_state = ReadyState::Closed;
                entry.reason = "disabled".into();
                entry.status = None;
            } else if let Some(error) = &entry.error {
                entry.ready_state = ReadyState::Closed;
                entry.reason = format!("not started: {error}");
                entry.status = None;
            }
            self.shared.publish(DaemonEvent::Status(entry.clone()));
        }
        report
    }

    async fn answer(&mut self, request: Request) -> Reply {
        match request {
            Request::Ping => Reply::Pong {
                pid: std::process::id(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            Request::Status => Reply::Status {
                subscriptions: self
                    .shared
                    .statuses()
                    .into_iter()
                    .map(|s| serde_json::to_value(s).unwrap_or_default())
                    .collect(),
                daemon: serde_json::json!({
                    "pid": std::process::id(),
                    "notifier": self.shared.sink.health(),
                    "config_error": *lock(&self.shared.config_error),
                    "tray": self.shared.tray.load(std::sync::atomic::Ordering::Relaxed),
                    "tray_host": self.shared.tray_host.load(std::sync::atomic::Ordering::Relaxed),
                }),
            },
            Request::Reload => match self.reload(true).await {
                Ok(report) => Reply::Done {
                    detail: serde_json::to_value(report).unwrap_or_default(),
                },
                Err(message) => Reply::Error { message },
            },
            Request::NotifyTest { .. } => Reply::Error {
                message: "notify-test is answered by the notifier".into(),
            },
            Request::Quit => {
                tracing::info!("asked to quit over the control socket");
                self.shared.quit.cancel();
                Reply::Done {
                    detail: serde_json::json!({"quitting": true}),
                }
            }
            // The socket task streams these itself; it never hands one to the loop.
            Request::Watch => Reply::Error {
                message: "watch is answered by the control socket".into(),
            },
        }
    }
}

fn initial_status(spec: &SubscriptionSpec) -> SubscriptionStatus {
    SubscriptionStatus {
        name: spec.display_name().to_owned(),
        url: spec.url.clone(),
        enabled: spec.enabled,
        paused: spec.paused,
        since: crate::history::now_ms(),
        ..SubscriptionStatus::new(&spec.id, ReadyState::Connecting, Reason::Started)
    }
}

/// Per-subscription routing state in the pipeline.
struct Route {
    router: Option<Router>,
    /// When the current connection opened, and whether it resumed from a stored point.
    opened: Option<(Instant, bool)>,
}

/// The pipeline task: updates in, history + routing + sinks out.
struct Pipeline {
    shared: Arc<Shared>,
    history: HistoryWriter,
    configure: mpsc::Receiver<Configure>,
    routes: HashMap<Arc<str>, Route>,
    started: Instant,
    /// The next time any router has a summary or digest due.
    next_tick: Option<Millis>,
}

impl Pipeline {
    fn new(
        shared: Arc<Shared>,
        history: HistoryWriter,
        configure: mpsc::Receiver<Configure>,
    ) -> Self {
        Self {
            shared,
            history,
            configure,
            routes: HashMap::new(),
            started: Instant::now(),
            next_tick: None,
        }
    }

    fn now(&self) -> router::Now {
        router::Now {
            mono: Millis::from(self.started.elapsed()),
            local: chrono::Local::now().naive_local(),
        }
    }

    async fn run(mut self, mut merged: mpsc::Receiver<Tagged>) {
        let mut batch: Vec<Tagged> = Vec::with_capacity(PIPELINE_BATCH);
        loop {
            let tick_in = self
                .next_tick
                .map(|at| at.saturating_since(self.now().mono))
                .unwrap_or(Duration::from_secs(3600));
            // Biased: a new set's routes before any event (see `ControlLoop::reload`), and
            // a due summary before the next batch (a sustained flood must not starve it).
            tokio::select! {
                biased;
                Some(Configure::Set(set)) = self.configure.recv() => self.configure_routes(&set),
                _ = tokio::time::sleep(tick_in) => self.tick(),
                count = merged.recv_many(&mut batch, PIPELINE_BATCH) => {
                    if count == 0 {
                        break;
                    }
                    self.handle(std::mem::take(&mut batch)).await;
                }
            }
        }
        tracing::debug!("pipeline drained");
    }

    fn configure_routes(&mut self, set: &SubscriptionSet) {
        self.routes.retain(|id, _| set.get(id).is_some());
        for spec in &set.subscriptions {
            let route = self.routes.entry(spec.id.as_str().into()).or_insert(Route {
                router: None,
                opened: None,
            });
            let result = match &mut route.router {
                Some(router) => router.reconfigure(
                    spec.display_name(),
                    &spec.rules,
                    spec.rate_limit.as_ref(),
                    &set.notifications,
                ),
                None => Router::new(
                    spec.display_name(),
                    &spec.rules,
                    spec.rate_limit.as_ref(),
                    &set.notifications,
                )
                .map(|router| route.router = Some(router)),
            };
            if let Err(error) = result {
                // The file validator compiles rules too, so this is a bug, not a user error.
                tracing::error!(subscription = %spec.id, %error, "rules do not compile");
            }
            if let Some(router) = &mut route.router {
                let until = spec.mute_until.and_then(|until| {
                    let left = until
                        .signed_duration_since(chrono::Utc::now())
                        .to_std()
                        .ok()?;
                    Some(Millis::from(self.started.elapsed() + left))
                });
                router.mute_until(until);
            }
        }
    }

    async fn handle(&mut self, batch: Vec<Tagged>) {
        let mut events: Vec<(Arc<str>, Event, bool)> = Vec::new();
        for tagged in batch {
            match tagged.update {
                Update::State(change) => self.state(&tagged.id, &change),
                Update::Event(event) => {
                    let catch_up = self.routes.get(&tagged.id).is_some_and(|route| {
                        route
                            .opened
                            .is_some_and(|(at, resumed)| resumed && at.elapsed() < CATCH_UP_WINDOW)
                    });
                    events.push((tagged.id, event, catch_up));
                }
            }
        }
        if !events.is_empty() {
            self.events(events).await;
        }
    }

    fn state(&mut self, id: &Arc<str>, change: &StateChange) {
        if change.ready_state == ReadyState::Open {
            let resumed = lock(&self.shared.resume)
                .get(id.as_ref())
                .is_some_and(|(last, cursor)| !last.is_empty() || cursor.is_some());
            if let Some(route) = self.routes.get_mut(id) {
                route.opened = Some((Instant::now(), resumed));
            }
        }
        let mut status = lock(&self.shared.status);
        if let Some(entry) = status.get_mut(id.as_ref()) {
            entry.ready_state = change.ready_state;
            entry.reason = change.reason.to_string();
            entry.status = change.reason.status();
            entry.since = crate::history::unix_ms(change.at);
            entry.retry_in_ms = change.retry_in.map(|d| d.as_millis() as u64);
            if change.reason != Reason::ClosedByUser {
                self.shared.publish(DaemonEvent::Status(entry.clone()));
            }
        }
    }

    async fn events(&mut self, events: Vec<(Arc<str>, Event, bool)>) {
        let received_at = crate::history::now_ms();
        // Events of one subscription arrive in order; the last one carries the resume point.
        let mut resume_points: HashMap<Arc<str>, ResumeUpdate> = HashMap::new();
        let new_events: Vec<NewEvent> = events
            .iter()
            .map(|(id, event, _)| {
                resume_points.insert(
                    id.clone(),
                    ResumeUpdate {
                        sub_id: id.clone(),
                        last_event_id: event.last_event_id.as_str().into(),
                        cursor: event.cursor.as_deref().map(Arc::from),
                    },
                );
                NewEvent::new(
                    id.clone(),
                    event,
                    event.id.as_deref().or(event.cursor.as_deref()),
                    received_at,
                )
            })
            .collect();
        {
            let mut resume = lock(&self.shared.resume);
            for point in resume_points.values() {
                resume.insert(
                    point.sub_id.to_string(),
                    (
                        point.last_event_id.to_string(),
                        point.cursor.as_ref().map(|c| c.to_string()),
                    ),
                );
            }
        }
        let recorded = match self
            .history
            .record(new_events, resume_points.into_values().collect())
            .await
        {
            Ok(recorded) => recorded.into_iter().map(Some).collect(),
            Err(error) => {
                // History is down (disk full?): notifications must still flow.
                tracing::error!(%error, "history could not record events");
                vec![None; events.len()]
            }
        };
        let now = self.now();
        let mut actions = Vec::new();
        for ((id, event, catch_up), recorded) in events.into_iter().zip(recorded) {
            let duplicate = recorded.as_ref().is_some_and(|r| !r.needs_routing());
            let action = match self.routes.get_mut(&id).and_then(|r| r.router.as_mut()) {
                _ if duplicate => HistoryAction::Duplicate,
                Some(router) => {
                    let decision = router.route(
                        &event,
                        Flags {
                            duplicate,
                            catch_up,
                        },
                        now,
                    );
                    self.act(&id, decision, recorded.as_ref().map(|r| r.row()))
                }
                None => HistoryAction::History,
            };
            if let Some(recorded) = &recorded
                && action != HistoryAction::Duplicate
            {
                actions.push((recorded.row(), action));
            }
            {
                let mut status = lock(&self.shared.status);
                if let Some(entry) = status.get_mut(id.as_ref()) {
                    entry.events += 1;
                    entry.last_event_at = Some(received_at);
                }
            }
            self.shared.publish(DaemonEvent::Event {
                subscription: id.to_string(),
                row: recorded.map(Recorded::row),
                event_type: event.event_type.to_string(),
                data: event.data,
                last_event_id: event.last_event_id.to_string(),
                action,
                received_at,
            });
        }
        if !actions.is_empty() && self.history.set_actions(actions).await.is_err() {
            tracing::error!("history is closed; actions not stored");
        }
        self.schedule_tick();
    }

    /// Carry out a router decision for the event recorded as `row`; returns what history
    /// records.
    fn act(&self, id: &str, decision: Decision, row: Option<RowId>) -> HistoryAction {
        if let Some(error) = &decision.template_error {
            let mut status = lock(&self.shared.status);
            if let Some(entry) = status.get_mut(id) {
                entry.error = Some(format!("template error: {error}"));
            }
        }
        if let Some(refused) = &decision.refused_click_url {
            tracing::warn!(subscription = %id, reason = %refused.reason, "click URL refused");
        }
        match decision.action {
            router::Action::Notify(notification) => {
                // "notified" is stored now; if the server then fails to show it, the row
                // becomes "error" (history keeps that over a later "notified").
                let delivery = match row {
                    Some(row) => {
                        let history = self.history.clone();
                        let failed: OnFailure = Box::new(move || {
                            tokio::spawn(async move {
                                let _ = history.notify_failed(row).await;
                            });
                        });
                        self.shared.sink.deliver_tracked(id, notification, failed)
                    }
                    None => self.shared.sink.deliver(id, notification),
                };
                match delivery {
                    Delivery::Queued => HistoryAction::Notified,
                    Delivery::Dropped => HistoryAction::Error,
                    // Recorded like a `history` rule: kept, deliberately not shown.
                    Delivery::Disabled => HistoryAction::History,
                }
            }
            router::Action::History => HistoryAction::History,
            router::Action::Drop => HistoryAction::Dropped,
            router::Action::Command { argv, env, timeout } => {
                crate::command::spawn(id, argv, env, timeout);
                HistoryAction::Command
            }
            router::Action::Suppressed { why, .. } => match why {
                router::SuppressReason::RateLimited | router::SuppressReason::CatchUp => {
                    HistoryAction::RateLimited
                }
                router::SuppressReason::Quiet => HistoryAction::Quiet,
                router::SuppressReason::Muted => HistoryAction::Muted,
                router::SuppressReason::Duplicate => HistoryAction::Duplicate,
            },
        }
    }

    fn schedule_tick(&mut self) {
        self.next_tick = self
            .routes
            .values()
            .filter_map(|r| r.router.as_ref()?.next_deadline())
            .min();
    }

    fn tick(&mut self) {
        let now = self.now();
        for (id, route) in &mut self.routes {
            let Some(router) = &mut route.router else {
                continue;
            };
            if router.next_deadline().is_some_and(|at| at <= now.mono) {
                for summary in router.tick(now) {
                    self.shared.sink.deliver(id, summary);
                }
            }
        }
        self.schedule_tick();
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;
    use std::path::{Path, PathBuf};

    use super::choose_program;

    #[test]
    fn a_companion_is_the_environment_then_the_sibling_then_path() {
        let beside = Some(PathBuf::from("/opt/ssenotify/ssenotify-app"));
        let set = Some(OsString::from("/tmp/my app"));
        assert_eq!(
            choose_program(set, beside.clone(), "ssenotify-app"),
            Path::new("/tmp/my app")
        );
        assert_eq!(
            choose_program(Some(OsString::new()), beside.clone(), "ssenotify-app"),
            Path::new("/opt/ssenotify/ssenotify-app")
        );
        assert_eq!(
            choose_program(None, None, "ssenotify-app"),
            Path::new("ssenotify-app")
        );
    }
}
