//! `ssenotify-daemon`: everything `ssenotify run` runs, wired together: the subscriptions
//! of the file, history, routing, notifications, and the control socket the faces talk to.
//!
//! Data flows one way: the supervisor's merged updates → the pipeline → history, the
//! router, the notification sink, and every listener. Nothing downstream calls back
//! upstream except through commands (reload, quit) handled by the control loop. One
//! cancellation token stops everything; blocking work (files, SQLite, locks) runs on
//! blocking threads, never on the async runtime's.
//!
//! # Layout
//!
//! - `daemon`: [`Daemon`], start and shutdown, and the handle its owner (the CLI's `run`,
//!   the tray) keeps.
//! - `error`: [`DaemonError`], why the daemon could not start.
//! - `control` (private): the control loop: follows and applies the subscriptions file,
//!   answers commands; owns the supervisor.
//! - `pipeline` (private): updates in; history, routing and sinks out.
//! - `outage` (private): gap accounting: each subscription's outages, kept as gap rows
//!   when not proven complete; `continuity` (private): the pure rules that classify them.
//! - `messages` (private): what the tasks tell each other: commands for the control
//!   loop, the set the pipeline routes for.
//! - `live` (private): the shared live state: status table (every change versioned, so a
//!   client asks for what changed since a version it saw), resume points, config error.
//! - `unread` (private): unread counts: counted live, seeded from history at start, marks
//!   stored in history.
//! - `upkeep` (private): history upkeep while running: rows aged out when due, and
//!   subscriptions missing from the file forgotten after the grace period.
//! - `socket` (private): the control socket's server side (0600 in a 0700 directory, peers
//!   of another uid refused): requests to the control loop, `watch` streams (the messages
//!   are `ssenotify-protocol`'s).
//! - [`hub`]: the local event hub: every recorded event as `text/event-stream` on loopback
//!   or a Unix socket, behind a bearer token, resumable by `Last-Event-ID` from history.
//! - `instance` (private): the single-instance lock ([`running_pid`]).
//! - `sink`: where notifications go: [`NotifySink`], [`Delivery`], [`NoNotifications`].
//! - `notifier`: [`DesktopNotifier`], the only code that talks to the notification server;
//!   [`notify_test`], [`open_url`].
//! - `images` (private): icons and images given as http(s) URLs: fetched (bounded),
//!   cached, decoded into the pixels the notification server is sent.
//! - `button` (private): sends the request of a pressed `http` button (bounded, secret
//!   headers only to the rule's origin) and says what it got.
//! - `command` (private): runs a rule's `command` action.
//! - [`ops`]: what the faces ask beside the socket, for async callers (blocking work off
//!   the runtime; the rule tester).
//! - [`demo`]: the demo feed and its subscription.
//! - `companion`: [`companion_program`], how one ssenotify program finds another.
//! - `watchdog` (private): the silent-feed alarm (`expect_every`): one deadline heap for
//!   every watched subscription, woken by the pipeline's timer; clocks seeded from history.

mod button;
mod command;
mod companion;
mod continuity;
mod control;
mod daemon;
pub mod demo;
mod error;
pub mod hub;
mod images;
mod instance;
mod live;
mod messages;
mod notifier;
pub mod ops;
mod outage;
mod pipeline;
mod sink;
mod socket;
mod unread;
mod upkeep;
mod watchdog;

pub use companion::companion_program;
pub use daemon::{Daemon, Options};
pub use error::DaemonError;
pub use instance::running_pid;
pub use notifier::{DesktopNotifier, QUEUE as NOTIFICATION_QUEUE, open_url, test as notify_test};
pub use sink::{Delivery, NoNotifications, NotifySink, OnFailure, OnPressed, Tracked};
