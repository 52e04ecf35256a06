//! The control loop: owns the [`Supervisor`], applies the subscriptions file, and answers
//! the control socket's commands.
//!
//! It loads the file at start, notices changes to it (a cheap metadata check every
//! [`WATCH_INTERVAL`]), applies a valid new set by diff (only what changed reconnects), and
//! keeps the old set when the file does not validate. Reading the file and resolving its
//! secret references happen on a blocking thread.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ssenotify_config::{Paths, Store, SubscriptionSet, SubscriptionSpec};
use ssenotify_history::{HistoryWriter, Retention};
use ssenotify_protocol::{DaemonEvent, Done, Reply, SubscriptionStatus};
use ssenotify_sse::{ApplyReport, Desired, ReadyState, Reason, Supervisor};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::demo::{self, DemoServer};
use crate::hub::HubServer;
use crate::live::{Live, ResumeFrom};
use crate::messages::{Command, Configure, Pending, ReloadRequest};
use crate::ops::blocking;
use crate::upkeep::FORGET_MISSING_AFTER;

/// How often the control loop checks whether the subscriptions file changed.
///
/// A metadata `stat` is cheap; four a second keeps "edited by hand → applied" well
/// under the promised second without an inotify dependency, and it survives editors
/// that replace the file by rename. A change is applied once two checks in a row agree
/// (250 to 500 ms after the save), so a file caught mid-write is never applied.
const WATCH_INTERVAL: Duration = Duration::from_millis(250);

/// Time between two events of the demo feed.
const DEMO_INTERVAL: Duration = Duration::from_secs(1);

/// What the subscriptions file looked like: (modified, length, inode).
type Fingerprint = (Option<SystemTime>, u64, u64);

/// The control loop's state.
pub(crate) struct ControlLoop {
    live: Arc<Live>,
    store: Store,
    paths: Paths,
    supervisor: Supervisor,
    history: HistoryWriter,
    configure: mpsc::Sender<Configure>,
    /// The smallest `max_age` applied, for the upkeep's timer.
    shortest_max_age: watch::Sender<Duration>,
    /// What the file looked like when last read.
    fingerprint: Option<Fingerprint>,
    /// A change seen at the last check: applied once the file has stopped changing.
    settling: Option<Option<Fingerprint>>,
    /// The set currently applied.
    current: Option<SubscriptionSet>,
    /// The demo feed's server, while a subscription uses it.
    demo: Option<DemoServer>,
    /// The local event hub, while `[hub] listen` is set.
    hub: Option<HubServer>,
    /// The retention history was last given per subscription: only a change is sent again.
    retention: HashMap<String, Retention>,
}

impl ControlLoop {
    /// A loop for `paths` that has applied nothing yet.
    pub fn new(
        live: Arc<Live>,
        paths: Paths,
        supervisor: Supervisor,
        history: HistoryWriter,
        configure: mpsc::Sender<Configure>,
        shortest_max_age: watch::Sender<Duration>,
    ) -> Self {
        Self {
            live,
            store: Store::new(paths.clone()),
            paths,
            supervisor,
            history,
            configure,
            shortest_max_age,
            fingerprint: None,
            settling: None,
            current: None,
            demo: None,
            hub: None,
            retention: HashMap::new(),
        }
    }

    /// Answers commands and reloads, and follows the file, until `cancel`; then closes
    /// every subscription.
    pub async fn run(
        mut self,
        mut commands: mpsc::Receiver<Pending>,
        mut reloads: mpsc::Receiver<ReloadRequest>,
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
                    let now = fingerprint(self.paths.subscriptions_file()).await;
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
                Some((command, reply)) = commands.recv() => {
                    let answer = self.answer(command).await;
                    let _ = reply.send(answer);
                }
            }
        }
        self.supervisor.shutdown().await;
        if let Some(demo) = self.demo.take() {
            demo.stop().await;
        }
        if let Some(hub) = self.hub.take() {
            hub.stop().await;
        }
    }

    /// Load the file and apply it; an invalid file leaves the running set as it was.
    ///
    /// `force` (an explicit reload: the CLI after an edit, the app) applies the set even
    /// when the file is unchanged: its secret references are resolved again, so a secret
    /// file rewritten by `import` reconnects the subscriptions that use it (the supervisor
    /// compares resolved settings, so nothing else reconnects).
    pub async fn reload(&mut self, force: bool) -> Result<ApplyReport, String> {
        self.fingerprint = fingerprint(self.paths.subscriptions_file()).await;
        let store = self.store.clone();
        let set = match blocking(move || store.load()).await {
            Ok(set) => set,
            Err(error) => {
                let message = error.to_string();
                tracing::error!("subscriptions file not applied: {message}");
                self.live.table().config_error = Some(message.clone());
                self.live.publish(DaemonEvent::Config {
                    applied: None,
                    error: Some(message.clone()),
                });
                return Err(message);
            }
        };
        {
            let mut table = self.live.table();
            table.config_error = None;
            table.notifications = set.notifications.clone();
        }
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
        // Watchers hear what changed; `unchanged` would name every subscription each time.
        self.live.publish(DaemonEvent::Config {
            applied: Some(ApplyReport {
                unchanged: Vec::new(),
                ..report.clone()
            }),
            error: None,
        });
        Ok(report)
    }

    async fn apply(&mut self, set: &SubscriptionSet) -> ApplyReport {
        // Every status entry exists before a connection starts: the pipeline only updates
        // existing entries, so a state change that raced ahead of the entry (a fast OPEN,
        // a 404's CLOSED) would be lost and `list` would show "connecting" for good. The
        // unread caps too: an event counted before its cap stays counted over it.
        let ids: HashSet<&str> = set.subscriptions.iter().map(|s| s.id.as_str()).collect();
        let mut added = HashSet::new();
        let resume = {
            let mut table = self.live.table();
            for spec in &set.subscriptions {
                if table.status.get(&spec.id).is_none() {
                    table.status.insert(spec.id.clone(), initial_status(spec));
                    added.insert(spec.id.as_str());
                }
                table
                    .unread_caps
                    .insert(spec.id.clone(), spec.history.max_events as u64);
            }
            table.resume.clone()
        };
        let demo_url = self.demo_for(set).await;
        let hub = set.hub.address(&self.paths);
        self.hub = crate::hub::follow(self.hub.take(), hub, &self.paths, &self.live.sender()).await;
        let paths = self.paths.clone();
        let specs = set.subscriptions.clone();
        let (desired, resolve_errors) =
            blocking(move || resolve(&paths, &specs, &resume, demo_url.as_deref())).await;
        let mut report = self.supervisor.apply(desired).await;
        report.failed.extend(resolve_errors);

        // A subscription missing from the file keeps its history and resume point for a
        // grace period (never deleted on a guess: see upkeep.rs); the others get their
        // retention, applied at once when it changed.
        let keep: Vec<String> = set.subscriptions.iter().map(|s| s.id.clone()).collect();
        match self.history.reconcile(keep, FORGET_MISSING_AFTER).await {
            Ok(report) => {
                for id in &report.orphaned {
                    tracing::warn!(subscription = %id, "missing from the subscriptions file: its history is kept for 7 days");
                }
                let mut table = self.live.table();
                for id in &report.forgotten {
                    table.resume.remove(id);
                }
            }
            Err(error) => tracing::warn!(%error, "history could not be compared with the file"),
        }
        self.retention.retain(|id, _| ids.contains(id.as_str()));
        for spec in &set.subscriptions {
            let retention = Retention {
                max_events: spec.history.max_events,
                max_age: spec.history.max_age,
            };
            if self.retention.get(&spec.id) == Some(&retention) {
                continue;
            }
            match self
                .history
                .set_retention(spec.id.as_str(), retention)
                .await
            {
                Ok(()) => {
                    self.retention.insert(spec.id.clone(), retention);
                }
                Err(error) => tracing::warn!(%error, "history retention not set"),
            }
        }
        let shortest = set.subscriptions.iter().map(|s| s.history.max_age).min();
        self.shortest_max_age
            .send_if_modified(|now| match shortest {
                Some(shortest) if shortest != *now => {
                    *now = shortest;
                    true
                }
                _ => false,
            });

        let mut table = self.live.table();
        let removed = table.status.retain(|id| ids.contains(id));
        table.unread_caps.retain(|id, _| ids.contains(id.as_str()));
        if !removed.is_empty() {
            self.live.publish(DaemonEvent::Removed { ids: removed });
        }
        // Only what this apply changed is published: a reload after one edit costs the
        // watchers one line, not one per subscription.
        for spec in &set.subscriptions {
            let error = report.failed.get(&spec.id).cloned();
            let changed = table.status.update(
                &spec.id,
                || initial_status(spec),
                |entry| {
                    entry.name = spec.display_name().to_owned();
                    entry.url = spec.url.clone();
                    entry.enabled = spec.enabled;
                    entry.paused = spec.paused;
                    entry.error = error;
                    if !spec.enabled {
                        entry.ready_state = ReadyState::Closed;
                        entry.reason = "disabled".into();
                        entry.status = None;
                    } else if let Some(error) = &entry.error {
                        entry.ready_state = ReadyState::Closed;
                        entry.reason = format!("not started: {error}");
                        entry.status = None;
                    }
                },
            );
            let status = match changed {
                Some(status) => Some(status),
                // New in this apply: already in the table, but no watcher has heard of it.
                None if added.contains(spec.id.as_str()) => table.status.get(&spec.id),
                None => None,
            };
            if let Some(status) = status {
                self.live.publish(DaemonEvent::Status(status.clone()));
            }
        }
        report
    }

    async fn answer(&mut self, command: Command) -> Reply {
        match command {
            Command::Ping => Reply::Pong {
                pid: std::process::id(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            Command::Status { since, ids } => {
                Reply::Status(self.live.report(since, ids.as_deref()))
            }
            Command::Reload => match self.reload(true).await {
                Ok(report) => Reply::Done {
                    detail: Done::Applied(report),
                },
                Err(message) => Reply::Error { message },
            },
            Command::Quit => {
                tracing::info!("asked to quit over the control socket");
                self.live.quit.cancel();
                Reply::Done {
                    detail: Done::Quitting { quitting: true },
                }
            }
            Command::Forget(ids) => self.forget(ids).await,
            Command::MarkRead(ids) => self.mark_read(ids).await,
            Command::Reconnect(id) => self.reconnect(id),
            Command::ReconnectFrom(id) => {
                let (last_event_id, cursor) = self
                    .live
                    .table()
                    .resume
                    .get(&id)
                    .cloned()
                    .unwrap_or_default();
                self.supervisor
                    .reconnect_from(&id, &last_event_id, cursor.as_deref());
                Reply::Done {
                    detail: Done::Reconnecting { reconnecting: id },
                }
            }
        }
    }
}

impl ControlLoop {
    /// Starts the demo feed's server when `set` has an enabled subscription that uses it,
    /// stops it when none does; returns where it is.
    async fn demo_for(&mut self, set: &SubscriptionSet) -> Option<String> {
        let wanted = set
            .subscriptions
            .iter()
            .any(|s| s.enabled && demo::is_demo(&s.url));
        match (wanted, self.demo.take()) {
            (true, Some(running)) => self.demo = Some(running),
            (true, None) => match DemoServer::start(DEMO_INTERVAL).await {
                Ok(started) => self.demo = Some(started),
                Err(error) => tracing::warn!(%error, "the demo feed cannot be served"),
            },
            (false, Some(running)) => running.stop().await,
            (false, None) => {}
        }
        self.demo.as_ref().map(|demo| demo.url().to_owned())
    }

    /// Reconnects one running subscription now; a paused or disabled one is refused.
    fn reconnect(&self, id: String) -> Reply {
        let spec = self.current.as_ref().and_then(|set| set.get(&id));
        let refused = match spec {
            None => Some(format!("no subscription with id {id:?}")),
            Some(spec) if !spec.enabled => Some(format!("subscription {id:?} is disabled")),
            Some(spec) if spec.paused => Some(format!(
                "subscription {id:?} is paused; resume it to reconnect"
            )),
            Some(_) if !self.supervisor.reconnect(&id) => {
                let why = self.live.table().status.get(&id).map(|s| s.reason.clone());
                Some(format!(
                    "subscription {id:?} is not running: {}",
                    why.unwrap_or_default()
                ))
            }
            Some(_) => None,
        };
        match refused {
            Some(message) => Reply::Error { message },
            None => {
                tracing::info!(subscription = %id, "reconnect requested");
                Reply::Done {
                    detail: Done::Reconnecting { reconnecting: id },
                }
            }
        }
    }

    /// Marks subscriptions read: live at once, in history for the next start.
    async fn mark_read(&mut self, ids: Option<Vec<String>>) -> Reply {
        let marks = match crate::unread::mark(&self.live, ids) {
            Ok(marks) => marks,
            Err(message) => return Reply::Error { message },
        };
        let marked_read = marks.iter().map(|(id, _)| id.clone()).collect();
        match self.history.mark_read(marks).await {
            Ok(()) => Reply::Done {
                detail: Done::MarkedRead { marked_read },
            },
            Err(error) => Reply::Error {
                message: error.to_string(),
            },
        }
    }

    /// Deletes the history of subscriptions the user removed, once the applied file no
    /// longer has them.
    async fn forget(&mut self, ids: Vec<String>) -> Reply {
        let running: HashSet<&str> = self
            .current
            .iter()
            .flat_map(|set| &set.subscriptions)
            .map(|s| s.id.as_str())
            .collect();
        if let Some(still) = ids.iter().find(|id| running.contains(id.as_str())) {
            return Reply::Error {
                message: format!(
                    "subscription {still:?} is still in the subscriptions file; remove it first"
                ),
            };
        }
        match self.history.forget(ids.clone()).await {
            Ok(rows) => {
                tracing::info!(?ids, rows, "history of removed subscriptions forgotten");
                let mut table = self.live.table();
                for id in &ids {
                    table.resume.remove(id);
                }
                Reply::Done {
                    detail: Done::Forgotten { forgotten: ids },
                }
            }
            Err(error) => Reply::Error {
                message: error.to_string(),
            },
        }
    }
}

/// The engine settings of every enabled subscription, resuming where each left off; the
/// ones whose secret references cannot be resolved, with why. Reads secret files.
fn resolve(
    paths: &Paths,
    specs: &[SubscriptionSpec],
    resume: &HashMap<String, ResumeFrom>,
    demo_url: Option<&str>,
) -> (Vec<Desired>, BTreeMap<String, String>) {
    let mut desired = Vec::new();
    let mut errors = BTreeMap::new();
    for spec in specs.iter().filter(|s| s.enabled) {
        let from = match resume.get(&spec.id) {
            Some((_, Some(cursor))) if spec.resume_adapter().is_some() => cursor.as_str(),
            Some((last_id, _)) => last_id.as_str(),
            None => "",
        };
        match spec.to_settings(paths, from) {
            Ok(mut settings) => {
                if demo::is_demo(&spec.url) {
                    match demo_url {
                        Some(url) => settings.url = url.to_owned(),
                        None => {
                            errors.insert(spec.id.clone(), "the demo feed is not served".into());
                            continue;
                        }
                    }
                }
                desired.push(Desired {
                    id: spec.id.clone(),
                    settings,
                    paused: spec.paused,
                })
            }
            Err(error) => {
                errors.insert(spec.id.clone(), error.to_string());
            }
        }
    }
    (desired, errors)
}

/// What the file at `path` looks like now; `None` when it does not exist.
async fn fingerprint(path: PathBuf) -> Option<Fingerprint> {
    use std::os::unix::fs::MetadataExt;
    let meta = tokio::fs::metadata(path).await.ok()?;
    Some((meta.modified().ok(), meta.len(), meta.ino()))
}

fn initial_status(spec: &SubscriptionSpec) -> SubscriptionStatus {
    SubscriptionStatus {
        name: spec.display_name().to_owned(),
        url: spec.url.clone(),
        enabled: spec.enabled,
        paused: spec.paused,
        since: ssenotify_history::now_ms(),
        ..SubscriptionStatus::new(&spec.id, ReadyState::Connecting, Reason::Started)
    }
}
