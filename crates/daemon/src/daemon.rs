//! [`Daemon`]: everything `ssenotify run` (and its tray icon) runs, wired together, and the
//! handle its owner keeps.
//!
//! Three tasks, one direction of data: the control loop (`control.rs`) owns the
//! supervisor and applies the subscriptions file; the pipeline (`pipeline.rs`) consumes
//! every subscription's updates; the control socket (`socket.rs`) hands requests to the
//! control loop and streams updates to watchers. One cancellation token stops them all.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ssenotify_config::Paths;
use ssenotify_history::HistoryWriter;
use ssenotify_protocol::{DaemonEvent, DaemonInfo, SubscriptionStatus};
use ssenotify_sse::{ApplyReport, Engine, Supervisor};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::control::ControlLoop;
use crate::error::DaemonError;
use crate::instance::InstanceLock;
use crate::live::Live;
use crate::messages::ReloadRequest;
use crate::pipeline::Pipeline;
use crate::sink::NotifySink;

/// How many updates may queue per listener (a watcher, the tray) before the slowest one
/// loses the oldest: the daemon never waits for a listener.
const UI_BUFFER: usize = 4096;

/// How a daemon is run, fixed before its control socket answers.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// A tray icon will show this daemon (`run --tray`); see [`Daemon::set_tray`].
    pub tray: bool,
}

/// A running daemon. Cheap to share by reference; [`Daemon::shutdown`] stops it.
pub struct Daemon {
    live: Arc<Live>,
    paths: Paths,
    cancel: CancellationToken,
    reload: mpsc::Sender<ReloadRequest>,
    tasks: Vec<JoinHandle<()>>,
    pipeline: JoinHandle<()>,
    history: HistoryWriter,
    _instance: InstanceLock,
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
        let lock_paths = paths.clone();
        let instance = crate::ops::blocking(move || InstanceLock::acquire(&lock_paths)).await?;
        let db = paths.history_db();
        let history = crate::ops::blocking(move || HistoryWriter::open(db)).await?;
        let points = history.resume_all().await?;
        let counted_upto = crate::unread::newest_row(paths.history_db()).await;
        // A resume point is saved with every stored batch: its time is the last event's.
        let stopped: HashMap<String, i64> = points
            .iter()
            .map(|point| (point.sub_id.clone(), point.updated_at))
            .collect();
        let resume: HashMap<String, (String, Option<String>)> = points
            .into_iter()
            .map(|point| (point.sub_id, (point.last_event_id, point.cursor)))
            .collect();
        let socket_path = paths.control_socket();
        let bind_path = socket_path.clone();
        let listener = crate::ops::blocking(move || crate::socket::bind(&bind_path))
            .await
            .map_err(|source| DaemonError::Io {
                what: "control socket",
                path: socket_path.clone(),
                source,
            })?;

        let live = Arc::new(Live::new(resume, sink, options.tray, UI_BUFFER));
        let cancel = CancellationToken::new();
        let engine = Engine::with_shutdown(cancel.child_token());
        // After a suspend every socket is presumed dead: reconnect all at once on wake.
        let sleep_task = engine.watch_for_sleep();
        let (supervisor, merged) = Supervisor::new(engine);
        let (configure_tx, configure_rx) = mpsc::channel(16);
        let (commands_tx, commands_rx) = mpsc::channel(64);
        let pipeline = Pipeline::new(
            live.clone(),
            history.clone(),
            configure_rx,
            commands_tx.clone(),
        )
        .stopped_since(stopped)
        .secrets_from(paths.clone());
        let pipeline = tokio::spawn(pipeline.run(merged));

        let (reload_tx, reload_rx) = mpsc::channel(8);
        let (max_age_tx, max_age_rx) = watch::channel(Duration::MAX);
        let mut control = ControlLoop::new(
            live.clone(),
            paths.clone(),
            supervisor,
            history.clone(),
            configure_tx,
            max_age_tx,
        );
        // The first apply happens before `start` returns, so callers see the set running.
        // An invalid file is reported through the status and the log; the daemon runs on
        // (with nothing) and applies the file as soon as it is fixed.
        let _ = control.reload(false).await;
        let unread_task = tokio::spawn(crate::unread::count_stored(
            paths.history_db(),
            counted_upto,
            live.clone(),
        ));
        let control_task = tokio::spawn(control.run(commands_rx, reload_rx, cancel.clone()));
        let upkeep_task = tokio::spawn(crate::upkeep::run(
            history.clone(),
            live.clone(),
            max_age_rx,
            cancel.clone(),
        ));
        let socket_task = tokio::spawn(crate::socket::serve(
            listener,
            commands_tx,
            live.sender(),
            cancel.clone(),
        ));
        tracing::info!(socket = %socket_path.display(), "daemon started");
        Ok(Daemon {
            live,
            paths,
            cancel,
            reload: reload_tx,
            tasks: vec![
                control_task,
                socket_task,
                sleep_task,
                upkeep_task,
                unread_task,
            ],
            pipeline,
            history,
            _instance: instance,
        })
    }

    /// The live state of every subscription in the file.
    pub fn status(&self) -> Vec<SubscriptionStatus> {
        self.live.statuses()
    }

    /// The daemon's report on itself: notifier health, configuration error, tray.
    pub fn info(&self) -> DaemonInfo {
        self.live.info()
    }

    /// The last error of the subscriptions file, if the current file does not validate.
    pub fn config_error(&self) -> Option<String> {
        self.live.table().config_error.clone()
    }

    /// Status changes and events, for a UI.
    pub fn updates(&self) -> broadcast::Receiver<DaemonEvent> {
        self.live.subscribe()
    }

    /// Resolves when a client asked the daemon to stop (`ssenotify quit`, the app's Quit);
    /// the owner then calls [`Daemon::shutdown`], as on SIGTERM.
    pub async fn quit_requested(&self) {
        self.live.quit.cancelled().await;
    }

    /// Records whether a tray icon shows this daemon (reported by `status` as `tray`).
    pub fn set_tray(&self, shown: bool) {
        self.live.set_tray(shown);
        self.live.set_tray_host(shown);
    }

    /// Records whether a tray host shows the icon now (reported by `status` as `tray_host`).
    pub fn set_tray_host(&self, shown: bool) {
        self.live.set_tray_host(shown);
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
        let _ = tokio::fs::remove_file(self.paths.control_socket()).await;
        tracing::info!("daemon stopped");
    }
}
