//! End-to-end test support for ssenotify.
//!
//! The centrepiece is [`TestServer`]: a real HTTP/1.1 server on `127.0.0.1`
//! whose responses are scripted per request as a [`Response`] (status line,
//! headers, then a plan of [`Step`]s). The HTTP is written by hand on a raw
//! `TcpListener` rather than with hyper/axum so that every byte on the wire is
//! exactly what the test asked for: split UTF-8 sequences, odd line endings,
//! missing headers and abrupt closes are all expressible. Over TLS
//! ([`TestServer::start_tls`], certificates from a [`TestCa`] made at run time) it also
//! speaks HTTP/2 (the `h2` crate, with a chosen stream limit) to a client that asks for it.
//!
//! # Layout
//!
//! - `server`: [`TestServer`], scripted responses on loopback (TLS optional), and the
//!   test's orders to its connections (kill, freeze).
//! - `http1`: one HTTP/1.1 request per connection, its response written byte for byte.
//! - `record`: what it saw ([`ConnectionInfo`], requests, open streams, bytes sent).
//! - `http2`: the HTTP/2 side of a TLS server: scripted responses on streams, sent as the
//!   client's flow-control window allows.
//! - `tls`: [`TestCa`], a CA and a server certificate made at run time, and [`Alpn`].
//! - `http`: a request as the server read it, and a scripted [`Response`] of [`Step`]s
//!   (a [`Gate`] holds a plan until the test has seen what came before).
//! - `client`: [`Client`], one engine subscription read by a test.
//! - `sse`: building event-stream bytes ([`sse_event`], [`http_chunk`]).
//! - `bin`: where the `ssenotify` binary under test is ([`ssenotify_bin`]).
//! - [`procstat`]: a measured process's CPU time and resident memory, from `/proc`.
//! - [`home`]: one user's XDG directories, commands run in them, a daemon guard.
//! - [`desktop`]: a private session bus, Xvfb and dunst for the notification tests.
//! - `bin/es_consumer.rs`, `bin/es_idle.rs`: the eventsource-client peers of the benchmarks.
//!
//! ```no_run
//! use std::time::Duration;
//! use ssenotify_e2e::{Response, Step, TestServer, sse_event};
//!
//! # async fn demo() {
//! let server = TestServer::start(|req, n| match n {
//!     0 => Response::status(503),
//!     _ => Response::sse_steps(vec![
//!         Step::send(sse_event(Some("ping"), Some("1"), "hello")),
//!         Step::Hold,
//!     ]),
//! });
//! let url = server.url("/events");
//! // ... point the engine or the `ssenotify` binary at `url` ...
//! let reqs = server.wait_for_requests(2, Duration::from_secs(5)).await.unwrap();
//! assert_eq!(reqs[1].header("accept"), Some("text/event-stream"));
//! # }
//! ```

mod bin;
mod client;
pub mod desktop;
pub mod home;
mod http;
mod http1;
mod http2;
pub mod procstat;
mod record;
mod server;
mod sse;
mod tls;

pub use bin::ssenotify_bin;
pub use client::{Client, WAIT, fast_settings};
pub use http::{Gate, Request, Response, Step};
pub use record::ConnectionInfo;
pub use server::{TestServer, TlsOptions};
pub use sse::{http_chunk, sse_event};
pub use tls::{Alpn, TestCa};

use std::time::{Duration, Instant};

/// Call `check` every 20 ms until it returns `Some`; `None` after `timeout`.
///
/// For waiting on another process (a daemon, dunst) from a plain `#[test]`, where a fixed
/// sleep would be either flaky or slow.
pub fn poll<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
