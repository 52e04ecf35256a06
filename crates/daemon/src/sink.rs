//! Where notifications go: the [`NotifySink`] the pipeline delivers to, the daemon's only
//! dependency on the desktop. [`crate::DesktopNotifier`] is the real one;
//! [`NoNotifications`] shows nothing (`run --no-notify`, machines without a desktop).

use std::sync::Arc;

use ssenotify_config::Paths;
use ssenotify_protocol::{NotifierHealth, NotifierState};
use ssenotify_router::Notification;

/// Where notifications go.
pub trait NotifySink: Send + Sync + 'static {
    /// Queue one notification of subscription `subscription`; never blocks.
    fn deliver(&self, subscription: &str, notification: Notification) -> Delivery;
    /// [`NotifySink::deliver`], and tell `tracked` if the notification server later
    /// refuses it or never answers, so history can say so (a queued popup is not yet a
    /// shown one), and what its pressed `http` buttons got. Sinks that cannot tell just
    /// deliver.
    fn deliver_tracked(
        &self,
        subscription: &str,
        notification: Notification,
        tracked: Tracked,
    ) -> Delivery {
        drop(tracked);
        self.deliver(subscription, notification)
    }
    /// The sink's health, for `ssenotify list` and the tray.
    fn health(&self) -> NotifierHealth;
}

/// Called by a [`NotifySink`] when a queued notification could not be shown.
pub type OnFailure = Box<dyn FnOnce() + Send>;

/// Called by a [`NotifySink`] with what a pressed `http` button got ("Restart: 200 OK").
pub type OnPressed = Arc<dyn Fn(String) + Send + Sync>;

/// What a [`NotifySink`] reports back about one notification, and what its buttons need.
pub struct Tracked {
    /// Called if the notification could not be shown.
    pub failed: OnFailure,
    /// Called with what each pressed `http` button got.
    pub pressed: OnPressed,
    /// Where the buttons' header references (`file:`) are read; the user's own when absent.
    pub secrets: Option<Paths>,
}

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
    fn health(&self) -> NotifierHealth {
        NotifierHealth {
            state: NotifierState::Disabled,
            ..NotifierHealth::default()
        }
    }
}
