//! [`Subscription`]: the handle of one running subscription (pause, resume, close).

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A reconnect request: where to resume from, when not from the last event received.
#[derive(Debug, Clone, Default)]
pub(crate) struct Kick {
    /// The last event ID and resume cursor to go back to.
    pub from: Option<(String, Option<String>)>,
}

/// The handle of one running subscription. Dropping it closes the subscription.
pub struct Subscription {
    pub(crate) paused: watch::Sender<bool>,
    pub(crate) kick: watch::Sender<Kick>,
    pub(crate) cancel: CancellationToken,
    pub(crate) task: Option<JoinHandle<()>>,
}

impl Subscription {
    /// Close the connection and stay CLOSED until resumed; the last event ID is kept.
    pub fn pause(&self) {
        self.paused.send_replace(true);
    }

    /// Reconnect a paused subscription at once, with a fresh backoff.
    pub fn resume(&self) {
        self.paused.send_replace(false);
    }

    /// Reconnect now, from any state but paused: an OPEN connection is closed and opened
    /// again, a wait between attempts is cut short, and a subscription CLOSED for good (a
    /// 404, an expired token) tries again; the backoff starts afresh and the reason says
    /// "reconnect requested by user".
    pub fn reconnect(&self) {
        self.kick.send_replace(Kick { from: None });
    }

    /// [`Subscription::reconnect`], resuming from an earlier point than the last event
    /// received: that request sends `last_event_id` (and the resume adapter's `cursor`), so
    /// the server replays what came after it (events the caller could not keep).
    pub fn reconnect_from(&self, last_event_id: &str, cursor: Option<&str>) {
        self.kick.send_replace(Kick {
            from: Some((last_event_id.to_owned(), cursor.map(str::to_owned))),
        });
    }

    /// Whether the subscription is paused.
    pub fn is_paused(&self) -> bool {
        *self.paused.borrow()
    }

    /// Close for good: abort the request (the server sees the socket close), report
    /// CLOSED "closed by user", and wait until the connection task has finished.
    pub async fn close(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            // A panic in the task has already been reported by tokio; closing goes on.
            let _ = task.await;
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}
