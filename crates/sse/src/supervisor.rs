//! The supervisor: owns every running subscription and applies a new desired set by diff.
//!
//! The one place that knows "all subscriptions". Applying a set restarts only what
//! changed, so editing one subscription never makes the others' servers see a new request.
//! Updates of all subscriptions are merged into one channel, tagged with their id, so the
//! pipeline downstream (history, router, notifier, UI) has a single stream to consume.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::engine::Engine;
use crate::event::Tagged;
use crate::settings::Settings;
use crate::subscription::Subscription;

/// How many tagged updates may wait for the pipeline before subscriptions stop reading.
const MERGED_BUFFER: usize = 4096;

/// One subscription as the caller wants it to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    /// The subscription's stable id.
    pub id: String,
    /// Its engine settings (secrets already resolved).
    pub settings: Settings,
    /// Whether it should be paused (connected again only on resume).
    pub paused: bool,
}

/// What [`Supervisor::apply`] did, id by id.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ApplyReport {
    /// Started for the first time.
    pub started: Vec<String>,
    /// Closed and started again because their settings changed.
    pub restarted: Vec<String>,
    /// Closed because they are no longer wanted.
    pub stopped: Vec<String>,
    /// Left running as they were (possibly paused or resumed).
    pub unchanged: Vec<String>,
    /// Could not be started, with the reason; the previous instance (if any) is stopped.
    pub failed: BTreeMap<String, String>,
}

struct Running {
    /// What it was started with: a hash of its settings minus the resume point (which
    /// moves on its own). A hash, not a copy: at ten thousand subscriptions a copy was half
    /// a KiB of each one's memory; two different settings with one hash (odds of 2^-64 per
    /// edit) would leave the old connection running.
    fingerprint: u64,
    subscription: Subscription,
}

/// Owner of all running subscriptions.
pub struct Supervisor {
    engine: Engine,
    running: HashMap<Arc<str>, Running>,
    merged: mpsc::Sender<Tagged>,
}

impl Supervisor {
    /// A supervisor with no subscriptions, and the receiver of everyone's updates.
    pub fn new(engine: Engine) -> (Self, mpsc::Receiver<Tagged>) {
        let (merged, rx) = mpsc::channel(MERGED_BUFFER);
        (
            Self {
                engine,
                running: HashMap::new(),
                merged,
            },
            rx,
        )
    }

    /// The engine the subscriptions run on (its shutdown token closes them all).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Ids of the running subscriptions, sorted.
    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.running.keys().map(|id| id.to_string()).collect();
        ids.sort();
        ids
    }

    /// Make the running set equal `desired`, touching only what differs.
    ///
    /// A subscription whose settings are unchanged keeps its socket even if its resume point
    /// in `desired` is older than the one it has reached: the running connection knows best.
    pub async fn apply(&mut self, desired: Vec<Desired>) -> ApplyReport {
        let mut report = ApplyReport::default();
        let wanted: HashMap<&str, &Desired> = desired.iter().map(|d| (d.id.as_str(), d)).collect();
        let gone: Vec<Arc<str>> = self
            .running
            .keys()
            .filter(|id| !wanted.contains_key(id.as_ref()))
            .cloned()
            .collect();
        for id in gone {
            self.stop(&id).await;
            report.stopped.push(id.to_string());
        }
        for want in &desired {
            let fingerprint = fingerprint(&want.settings);
            let restart = match self.running.get(want.id.as_str()) {
                Some(running) if running.fingerprint == fingerprint => {
                    if want.paused != running.subscription.is_paused() {
                        if want.paused {
                            running.subscription.pause();
                        } else {
                            running.subscription.resume();
                        }
                    }
                    report.unchanged.push(want.id.clone());
                    continue;
                }
                Some(_) => {
                    self.stop(&want.id).await;
                    true
                }
                None => false,
            };
            match self.start(want).await {
                Ok(()) if restart => report.restarted.push(want.id.clone()),
                Ok(()) => report.started.push(want.id.clone()),
                Err(error) => {
                    report.failed.insert(want.id.clone(), error);
                }
            }
        }
        for list in [
            &mut report.started,
            &mut report.restarted,
            &mut report.stopped,
            &mut report.unchanged,
        ] {
            list.sort();
        }
        report
    }

    /// Pause one subscription; false when there is no such running subscription.
    pub fn pause(&self, id: &str) -> bool {
        self.running
            .get(id)
            .map(|r| r.subscription.pause())
            .is_some()
    }

    /// Resume one subscription; false when there is no such running subscription.
    pub fn resume(&self, id: &str) -> bool {
        self.running
            .get(id)
            .map(|r| r.subscription.resume())
            .is_some()
    }

    /// Reconnect one subscription now (see [`Subscription::reconnect`]); false when there is
    /// no such running subscription.
    pub fn reconnect(&self, id: &str) -> bool {
        self.running
            .get(id)
            .map(|r| r.subscription.reconnect())
            .is_some()
    }

    /// Reconnect one subscription now from an earlier resume point (see
    /// [`Subscription::reconnect_from`]); false when there is no such running subscription.
    pub fn reconnect_from(&self, id: &str, last_event_id: &str, cursor: Option<&str>) -> bool {
        self.running
            .get(id)
            .map(|r| r.subscription.reconnect_from(last_event_id, cursor))
            .is_some()
    }

    /// Close every subscription and wait until each has reported CLOSED downstream.
    pub async fn shutdown(mut self) {
        let ids: Vec<Arc<str>> = self.running.keys().cloned().collect();
        for id in ids {
            self.stop(&id).await;
        }
    }

    async fn start(&mut self, want: &Desired) -> Result<(), String> {
        let id: Arc<str> = want.id.as_str().into();
        let subscription = self
            .engine
            .subscribe_shared(want.settings.clone(), id.clone(), self.merged.clone())
            .await
            .map_err(|e| e.to_string())?;
        if want.paused {
            subscription.pause();
        }
        self.running.insert(
            id,
            Running {
                fingerprint: fingerprint(&want.settings),
                subscription,
            },
        );
        Ok(())
    }

    async fn stop(&mut self, id: &str) {
        if let Some(running) = self.running.remove(id) {
            // Returns once its task has ended, after its CLOSED report was sent.
            running.subscription.close().await;
        }
    }
}

/// A hash of `settings` without their moving parts (last event ID, resume cursor): equal
/// for settings that need no restart.
fn fingerprint(settings: &Settings) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut settings = settings.clone();
    settings.last_event_id.clear();
    if let Some(resume) = &mut settings.resume {
        resume.cursor = None;
    }
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    settings.hash(&mut hasher);
    hasher.finish()
}
