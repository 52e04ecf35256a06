//! `ssenotify-sse`: Server-Sent Events subscriptions that behave exactly like the browser's
//! `EventSource` (WHATWG HTML, "Server-sent events"), and better where the browser is weak:
//! 5xx and network errors back off instead of giving up or hammering, any header and
//! credentials, a resume point across restarts, half-open sockets and suspends noticed,
//! and a reason for every readyState change.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ssenotify_sse::SettingsError> {
//! use ssenotify_sse::{Engine, Settings, Update};
//!
//! let engine = Engine::new();
//! let (_subscription, mut updates) = engine.subscribe(Settings::new("http://127.0.0.1:8080/sse")).await?;
//! while let Some(update) = updates.recv().await {
//!     match update {
//!         Update::State(change) => println!("{} ({})", change.ready_state, change.reason),
//!         Update::Event(event) => println!("{}: {}", event.event_type, event.data),
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # Layout
//!
//! Bytes flow down this list; nothing lower calls back up.
//!
//! - [`parse`]: the sans-IO `text/event-stream` parser. Bytes in, events out; no I/O, no
//!   clock, no allocation per byte. Everything the spec says about the wire lives here.
//! - [`policy`]: the reconnect policy as pure functions of what happened (status, errors,
//!   how long the last connection was healthy): which outcome is fatal, how long to wait.
//! - `state`: readyState ([`ReadyState`]) and the [`Reason`] carried by every change.
//! - `event`: what a subscription reports ([`Update`]: an [`Event`] or a [`StateChange`]),
//!   batched on a bounded channel read through [`Updates`] (backpressure, not memory).
//! - `settings`: what one subscription is ([`Settings`]: URL, headers, [`Auth`], resume
//!   point, [`Policy`]), the checks that turn it into a request, and which headers are
//!   secrets ([`is_secret_header`]).
//! - `redirect` (private): one request's chain of redirects as pure state: what to request
//!   next, when to give up, and which secret headers stay behind once it leaves the
//!   subscription's origin.
//! - `h1` (private): a sans-IO HTTP/1.1 client core: the request's bytes, the response head,
//!   the body's framing (length, chunked, until close).
//! - `lean` (private): the I/O shell around `h1` for plain `http://`: a TCP connection of
//!   its own per stream and no buffer held while idle (hyper keeps ~25 KiB).
//! - `decode` (private): content codings (gzip, deflate, br) decoded as pieces arrive.
//! - `transport` (private): one request and its answer, on the lean transport or reqwest
//!   (TLS, HTTP/2, proxies), the same [`Answer`](transport) for both.
//! - `connection` (private): one subscription's life over HTTP: the request and its
//!   redirects, the status, Content-Type and Content-Encoding rules, the idle timeout, the
//!   size limit, a reason for every change. A thin async shell around [`parse`],
//!   [`policy`] and `redirect`.
//! - `lease` (private): which of a trust's clients carries a request, so that HTTP/2 streams
//!   share connections without ever waiting for a free stream (at most 100 per connection
//!   to one origin), and the first request to an origin opens the connection for the rest.
//! - `client` (private): the HTTP clients subscriptions share, per trust, and their HTTP/2
//!   settings (windows, PINGs); a trust is built on a blocking thread, since that reads
//!   certificate files.
//! - `tls` (private): the TLS setups, offering HTTP/2 in ALPN: the system's roots, and trust
//!   for a `ca_file` (the system's roots plus the file's certificates, including a server
//!   certificate trusted as itself, self-signed).
//! - `wake`: noticing that the machine slept (boot clock against monotonic clock), so every
//!   connection reconnects at once on wake ([`Wakeup`]).
//! - [`pace`]: connection attempts paced per origin: how many may be in flight, and the
//!   random delay that spreads a crowd of starts or reconnects.
//! - `engine`: [`Engine`], what subscriptions share (clients, the shutdown
//!   [`CancellationToken`], the wake signal), and where they start.
//! - `subscription`: [`Subscription`], the handle of one: pause, resume, close.
//! - `supervisor`: [`Supervisor`] owns many subscriptions, applies a new desired set by
//!   diff (only what changed restarts) and merges their updates into one [`Tagged`] stream.

pub mod parse;
pub mod policy;

mod client;
mod connection;
mod decode;
mod engine;
mod event;
mod h1;
mod lean;
mod lease;
pub mod pace;
mod redirect;
mod settings;
mod state;
mod subscription;
mod supervisor;
mod tls;
mod transport;
mod wake;

pub use engine::Engine;
pub use event::{Event, Tagged, Update, Updates};
pub use parse::{EventRef, Output, ParseError, Parser};
pub use policy::Policy;
pub use settings::{Auth, Resume, Settings, SettingsError, http_url, is_secret_header};
pub use state::{ReadyState, Reason, StateChange, fmt_duration};
pub use subscription::Subscription;
pub use supervisor::{ApplyReport, Desired, Supervisor};
/// Re-exported so callers can share one shutdown token with the engine.
pub use tokio_util::sync::CancellationToken;
pub use wake::{SleepDetector, Wakeup};
