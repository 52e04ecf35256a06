//! The daemon's live state, shared by the control loop, the pipeline and the [`Daemon`]
//! handle: the status table, the resume points reached, the last configuration error
//! (one lock for all three, never held across an `await`), and the broadcast every face
//! hears updates on.
//!
//! [`Daemon`]: crate::Daemon

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use ssenotify_protocol::{DaemonEvent, DaemonInfo, SubscriptionStatus};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::sink::NotifySink;

/// A subscription's resume point: the last event ID, and the cursor of a resume adapter.
pub(crate) type ResumeFrom = (String, Option<String>);

/// What one lock guards.
#[derive(Default)]
pub(crate) struct Table {
    /// Live status per subscription id, in id order.
    pub status: BTreeMap<String, SubscriptionStatus>,
    /// The resume point each subscription reached.
    pub resume: HashMap<String, ResumeFrom>,
    /// Why the subscriptions file is not applied, if it does not validate.
    pub config_error: Option<String>,
}

/// State shared by the control loop, the pipeline and the handle.
pub(crate) struct Live {
    table: Mutex<Table>,
    ui: broadcast::Sender<DaemonEvent>,
    pub sink: Arc<dyn NotifySink>,
    /// Whether a tray icon shows this daemon (`run --tray`): the app tells the user when
    /// closing its window would leave nothing on screen.
    tray: AtomicBool,
    /// Whether a tray host shows the icon (a StatusNotifierWatcher took it): without one
    /// (GNOME without the AppIndicator extension), closing the window leaves nothing to
    /// click, and the app says so.
    tray_host: AtomicBool,
    /// Cancelled when a client asks the daemon to stop; its owner waits on it.
    pub quit: CancellationToken,
}

impl Live {
    /// Live state starting from the stored resume points; `ui_buffer` updates may queue per
    /// listener before the slowest one loses the oldest.
    pub fn new(
        resume: HashMap<String, ResumeFrom>,
        sink: Arc<dyn NotifySink>,
        tray: bool,
        ui_buffer: usize,
    ) -> Self {
        Self {
            table: Mutex::new(Table {
                resume,
                ..Table::default()
            }),
            ui: broadcast::channel(ui_buffer).0,
            sink,
            tray: tray.into(),
            // Until the tray reports otherwise: ksni says so only when no host takes it.
            tray_host: tray.into(),
            quit: CancellationToken::new(),
        }
    }

    /// The table, locked. Poisoning is ignored: every update leaves the table consistent.
    pub fn table(&self) -> MutexGuard<'_, Table> {
        self.table
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Tell every listener; no listener is the normal case for the headless daemon.
    pub fn publish(&self, event: DaemonEvent) {
        let _ = self.ui.send(event);
    }

    /// A new listener of everything published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<DaemonEvent> {
        self.ui.subscribe()
    }

    /// The sender listeners subscribe to (the control socket's watchers).
    pub fn sender(&self) -> broadcast::Sender<DaemonEvent> {
        self.ui.clone()
    }

    /// Every subscription's status, in id order.
    pub fn statuses(&self) -> Vec<SubscriptionStatus> {
        self.table().status.values().cloned().collect()
    }

    /// The daemon's report on itself.
    pub fn info(&self) -> DaemonInfo {
        DaemonInfo {
            pid: std::process::id(),
            notifier: self.sink.health(),
            config_error: self.table().config_error.clone(),
            tray: self.tray.load(Ordering::Relaxed),
            tray_host: self.tray_host.load(Ordering::Relaxed),
        }
    }

    /// Records whether a tray icon shows this daemon.
    pub fn set_tray(&self, shown: bool) {
        self.tray.store(shown, Ordering::Relaxed);
    }

    /// Records whether a tray host shows the icon now.
    pub fn set_tray_host(&self, shown: bool) {
        self.tray_host.store(shown, Ordering::Relaxed);
    }
}
