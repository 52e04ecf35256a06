//! `ssenotify-protocol`: the contract between the daemon and its faces (the CLI, the tray,
//! the app's window), as Rust types, with the client side of the control socket.
//!
//! The control socket is a Unix socket in the runtime directory (mode 0600): one JSON
//! [`Request`] per line, one JSON [`Reply`] per line; small enough to debug with `socat`.
//! Edits to subscriptions do not travel here: they go through the subscriptions file (under
//! its lock), and `reload` only asks the daemon to apply the file now. One request is not
//! answered once but streamed: `watch` turns the connection into a feed of [`WatchLine`]s
//! (every status change and event) until the client hangs up or the daemon stops.
//!
//! Nothing a client asks for again costs the whole set when little changed: `status` can be
//! asked for what changed after a version it saw ([`StatusReport::version`]), and `watch`
//! can start with one snapshot, after which its lines are the changes.
//!
//! Nothing crosses the socket as untyped JSON: every message is a type here, and the UI's
//! TypeScript definitions of them (`ui/src/protocol/`) are generated from these types by
//! this crate's tests (`cargo test -p ssenotify-protocol`), which fail when the committed
//! files are stale.
//!
//! # Layout
//!
//! - `message`: the socket's messages: [`Request`], [`Reply`] (with [`Done`]),
//!   [`WatchLine`], [`WatchNotice`].
//! - `status`: what the daemon reports: [`SubscriptionStatus`], [`StatusReport`] (a
//!   `status` reply: all of them or a delta), [`DaemonEvent`] (with [`LiveEvent`]),
//!   [`DaemonInfo`], [`NotifierHealth`], [`ServerInfo`].
//! - `wire`: the framing both ends share (one JSON value per line, [`MAX_REQUEST`]), and
//!   [`parse_reply`], which reads large replies without serde's buffering of tagged enums.
//! - `client`: [`request`], [`watch`] and [`watch_snapshot`], the client side
//!   ([`ClientError`]).
//! - `app`: the desktop app's contract with its web UI (Tauri IPC): [`AppInfo`],
//!   [`CommandError`], [`UpdateBatch`].
//!
//! `tests/typescript.rs` lists the types the UI gets and checks `ui/src/protocol/`.

mod app;
mod client;
mod message;
mod status;
mod wire;

pub use app::{AppInfo, CommandError, EngineKind, FieldProblem, UpdateBatch};
pub use client::{ClientError, Watcher, request, watch, watch_snapshot};
pub use message::{Done, Reply, Request, WatchLine, WatchNotice};
/// Re-exported: the wire types of the layers below that messages carry.
pub use ssenotify_history::{Action, Stats as HistoryStats, StoredEvent};
/// Re-exported: the wire types of the layers below that messages carry.
pub use ssenotify_sse::{ApplyReport, ReadyState};
pub use status::{
    DaemonEvent, DaemonInfo, LiveEvent, NotifierHealth, NotifierState, QuietKind, QuietState,
    ServerInfo, Silence, SilenceKind, StatusReport, SubscriptionStatus, TimelineEntry,
};
pub use wire::{MAX_REQUEST, parse_reply, push_line, write_line};
