//! ssenotify's engine: Server-Sent Events subscriptions that behave exactly like the
//! browser's `EventSource`, and better where the browser is weak.
//!
//! # Layout
//!
//! - [`parse`]: the sans-IO `text/event-stream` parser. Bytes in, events out; no I/O,
//!   no clock, no allocation per byte. Everything the spec says about the wire lives here.
//! - [`policy`]: the reconnect policy as pure functions of what happened (status, errors,
//!   how long the last connection was healthy): which outcome is fatal, and how long to wait.
//! - `connection` (private): one subscription's life over HTTP (reqwest): the request, the
//!   status and Content-Type rules, the idle timeout, the size limit, readyState with a
//!   reason for every change. A thin async shell around [`parse`] and [`policy`].
//! - [`config`]: the subscriptions file: the TOML/JSON schema, strict validation with
//!   file:line:col errors, secret references, atomic locked writes, import diffs, ntfy import.
//! - [`subscription`]: the public face of a connection: start one from its settings, get a
//!   [`Subscription`] handle to pause, resume or close it, and a stream of [`Update`]s.
//!   [`Engine`] holds what subscriptions share: HTTP clients and the one shutdown
//!   [`CancellationToken`]; cancelling it closes every socket (graceful shutdown).
//! - `tls` (private): trust for a subscription with a `ca_file`: the system's roots plus
//!   the file's certificates, including a server certificate trusted as itself (self-signed).
//! - [`history`]: what was received and what was done with it, and where to resume, in
//!   SQLite: deduplication by event ID, retention, and an async writer on its own thread.
//! - [`state`]: readyState and the [`Reason`] carried by every change.
//! - [`supervisor`]: owns all running subscriptions, applies a new set by diff (only what
//!   changed restarts) and merges their updates into one tagged stream.
//! - [`router`]: rules, templates and storm control: event in, notification decision out.
//! - [`wake`]: noticing that the machine slept (boot clock against monotonic clock), so
//!   every connection reconnects at once on wake instead of waiting for its idle timeout.

pub mod command;
pub mod config;
pub mod control;
pub mod daemon;
pub mod demo;
pub mod history;
pub mod notifier;
pub mod ops;
pub mod parse;
pub mod policy;
pub mod router;
pub mod state;
pub mod subscription;
pub mod supervisor;
pub mod wake;

mod connection;
mod tls;

pub use parse::{EventRef, Output, ParseError, Parser};
pub use policy::Policy;
pub use state::{ReadyState, Reason, StateChange};
pub use subscription::{
    Auth, Engine, Event, Resume, Settings, SettingsError, Subscription, Update, Updates, Wakeup,
};
pub use supervisor::{ApplyReport, Desired, Supervisor, Tagged};
/// Re-exported so callers can share one shutdown token with the engine.
pub use tokio_util::sync::CancellationToken;

/// A duration as people read it in reasons and logs: `750ms`, `3s`, `1.5s`, `2m`.
pub fn fmt_duration(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}
