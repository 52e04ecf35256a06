//! What the daemon's tasks tell each other: commands for the control loop (from the
//! control socket, the handle, the pipeline) and the set the pipeline routes for.

use ssenotify_config::SubscriptionSet;
use ssenotify_protocol::Reply;
use ssenotify_sse::ApplyReport;
use tokio::sync::oneshot;

/// What the control loop answers; `watch` never reaches it (the socket streams it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    /// Who is there.
    Ping,
    /// The statuses asked for (every one, or what changed after a version, of every
    /// subscription or of some ids), and the daemon's own.
    Status {
        /// Only what changed after this version.
        since: Option<u64>,
        /// Only these ids.
        ids: Option<Vec<String>>,
    },
    /// Apply the file now.
    Reload,
    /// Stop the daemon.
    Quit,
    /// Mark subscriptions read (all of them when `None`).
    MarkRead(Option<Vec<String>>),
    /// Forget the history of subscriptions the user removed.
    Forget(Vec<String>),
    /// Reconnect one subscription now.
    Reconnect(String),
    /// Reconnect one subscription from its last saved resume point (the pipeline, once
    /// history works again after events could not be saved).
    ReconnectFrom(String),
}

/// A command waiting for the control loop to answer it.
pub(crate) type Pending = (Command, oneshot::Sender<Reply>);

/// An in-process reload (the handle's [`crate::Daemon::reload`]) and where its answer goes.
pub(crate) type ReloadRequest = oneshot::Sender<Result<ApplyReport, String>>;

/// What the pipeline needs to know of the file: routers per subscription.
pub(crate) enum Configure {
    /// The set the control loop is about to apply.
    Set(SubscriptionSet),
}
