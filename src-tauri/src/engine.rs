//! The engine the app hosts: the same `Daemon` as `ssenotify run`, or, when that already
//! runs for this user, the running daemon reached through its control socket.

use std::sync::Arc;

use serde_json::Value;
use ssenotify_engine::config::Paths;
use ssenotify_engine::control::{self, Reply, Request};
use ssenotify_engine::daemon::{Daemon, DaemonError, NotifySink};
use ssenotify_engine::notifier::DesktopNotifier;
use tokio::sync::RwLock;

/// Which engine the app talks to; fixed at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// The app runs the engine itself.
    Running,
    /// Another ssenotify process (pid) runs it; the app edits the file and asks it to reload.
    External(u32),
    /// The engine could not start (the message says why); edits still reach the file.
    Failed(String),
}

/// The hosted (or external) engine.
pub struct Engine {
    /// The user's files.
    pub paths: Paths,
    /// Which engine this is.
    pub mode: Mode,
    /// The daemon while it runs here; taken on quit.
    daemon: RwLock<Option<Daemon>>,
    /// The notification sink handed to the daemon (for its health).
    notifier: Option<Arc<DesktopNotifier>>,
}

impl Engine {
    /// Starts the daemon, unless one already runs for this user. Must run on the tokio
    /// runtime (the daemon and the notifier spawn their tasks there).
    pub async fn start() -> Self {
        let Some(paths) = Paths::from_env() else {
            let paths = Paths::at(std::env::temp_dir().join("ssenotify"));
            return Self::without_daemon(paths, Mode::Failed("no home directory".into()));
        };
        let notifier = DesktopNotifier::spawn();
        let sink: Arc<dyn NotifySink> = notifier.clone();
        match Daemon::start(paths.clone(), sink).await {
            Ok(daemon) => Self {
                paths,
                mode: Mode::Running,
                daemon: RwLock::new(Some(daemon)),
                notifier: Some(notifier),
            },
            Err(DaemonError::AlreadyRunning { pid, .. }) => {
                tracing::warn!(pid, "ssenotify already runs for this user; using it");
                Self::without_daemon(paths, Mode::External(pid))
            }
            Err(err) => {
                tracing::error!(%err, "the engine could not start");
                Self::without_daemon(paths, Mode::Failed(err.to_string()))
            }
        }
    }

    fn without_daemon(paths: Paths, mode: Mode) -> Self {
        Self {
            paths,
            mode,
            daemon: RwLock::new(None),
            notifier: None,
        }
    }

    /// Makes the engine apply the subscriptions file now (after an edit).
    pub async fn reload(&self) -> Result<(), String> {
        match &self.mode {
            Mode::Running => match &*self.daemon.read().await {
                Some(daemon) => daemon.reload().await.map(drop),
                None => Err("the app is quitting".into()),
            },
            Mode::External(_) => {
                match control::request(&self.paths.control_socket(), &Request::Reload).await {
                    Ok(Reply::Error { message }) => Err(message),
                    Ok(_) => Ok(()),
                    Err(err) => Err(format!("the running daemon did not answer: {err}")),
                }
            }
            // Nothing runs: the edit is in the file, applied when an engine starts.
            Mode::Failed(_) => Ok(()),
        }
    }

    /// The live state of every subscription (`SubscriptionStatus` as JSON), and whether
    /// notifications can be shown.
    pub async fn statuses(&self) -> (Vec<Value>, bool) {
        match &self.mode {
            Mode::Running => {
                let statuses = match &*self.daemon.read().await {
                    Some(daemon) => daemon
                        .status()
                        .into_iter()
                        .map(|s| serde_json::to_value(s).unwrap_or_default())
                        .collect(),
                    None => Vec::new(),
                };
                let notifier_ok = self
                    .notifier
                    .as_ref()
                    .is_none_or(|n| n.health_now().state != "down");
                (statuses, notifier_ok)
            }
            Mode::External(_) => {
                match control::request(&self.paths.control_socket(), &Request::Status).await {
                    Ok(Reply::Status {
                        subscriptions,
                        daemon,
                    }) => {
                        let down = daemon.pointer("/notifier/state").and_then(Value::as_str)
                            == Some("down");
                        (subscriptions, !down)
                    }
                    _ => (Vec::new(), true),
                }
            }
            Mode::Failed(_) => (Vec::new(), true),
        }
    }

    /// The daemon's live updates, when it runs here.
    pub async fn updates(
        &self,
    ) -> Option<tokio::sync::broadcast::Receiver<ssenotify_engine::daemon::DaemonEvent>> {
        self.daemon.read().await.as_ref().map(Daemon::updates)
    }

    /// The subscriptions file's validation error, if the running daemon reports one.
    pub async fn config_error(&self) -> Option<String> {
        self.daemon
            .read()
            .await
            .as_ref()
            .and_then(Daemon::config_error)
    }

    /// Stops the daemon (closes connections and the control socket, flushes history);
    /// later calls do nothing.
    pub async fn shutdown(&self) {
        let daemon = self.daemon.write().await.take();
        if let Some(daemon) = daemon {
            daemon.shutdown().await;
        }
        if let Some(notifier) = &self.notifier {
            notifier.flush().await;
        }
    }
}
