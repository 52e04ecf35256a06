//! readyState and the reason behind every change of it.
//!
//! A browser only says "error". A desktop user staring at a dead feed needs to know whether
//! the server said 503, the certificate failed, or the socket went silent, so every
//! transition carries a [`Reason`], and the HTTP status when there was a response.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

/// The browser's `EventSource.readyState`, with the same numbering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "UPPERCASE")]
pub enum ReadyState {
    /// 0: connecting, or waiting to reconnect.
    Connecting = 0,
    /// 1: a good response is being read.
    Open = 1,
    /// 2: closed for good (by the user, a fatal response, or the server's 204).
    Closed = 2,
}

impl ReadyState {
    /// The name used in JSON and logs: `CONNECTING`, `OPEN`, `CLOSED`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connecting => "CONNECTING",
            Self::Open => "OPEN",
            Self::Closed => "CLOSED",
        }
    }
}

impl fmt::Display for ReadyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why readyState changed (or why a reconnect was scheduled again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// The subscription was just started.
    Started,
    /// A paused subscription was resumed by the user.
    Resumed,
    /// A good response arrived: 200 with `text/event-stream`.
    Opened {
        /// The HTTP status (200).
        status: u16,
    },
    /// A good response arrived after redirects that left the subscription's origin.
    OpenedElsewhere {
        /// The HTTP status (200).
        status: u16,
        /// The origin that answered (`https://host:port`: no user info, path or query).
        origin: String,
        /// Secret headers (custom ones, or `auth`'s Authorization) were not sent there.
        secrets_withheld: bool,
    },
    /// The server answered with a status that is retried (5xx, 408, 429) or fatal (other).
    HttpStatus {
        /// The HTTP status code.
        status: u16,
        /// Its canonical reason phrase, for humans.
        text: String,
    },
    /// 200, but not `text/event-stream`: fatal.
    WrongContentType {
        /// What the server sent (empty when the header was missing).
        content_type: String,
    },
    /// 200, but compressed with a coding the client cannot decode: fatal.
    UnsupportedEncoding {
        /// The `Content-Encoding` the server sent.
        encoding: String,
    },
    /// The server sent 204 No Content: it asks the client to stop.
    NoContent,
    /// Connecting, sending or reading failed (DNS, refused, reset, TLS, ...).
    Network {
        /// The error chain as text.
        error: String,
    },
    /// The request could not even be built (bad header), or its redirects went wrong (a
    /// loop, more than 10, a non-http(s) `Location`): fatal.
    InvalidRequest {
        /// What was wrong.
        error: String,
    },
    /// The server ended a good response.
    StreamEnded,
    /// No bytes arrived for the idle timeout: the socket is presumed half-open.
    IdleTimeout {
        /// The configured idle timeout.
        after: Duration,
    },
    /// An event (or one field line) grew past the configured maximum.
    EventTooLarge {
        /// The configured maximum, in bytes.
        limit: usize,
    },
    /// The machine slept (see `wake`): the socket is presumed dead, so it reconnects now.
    SystemWoke {
        /// How long the machine slept.
        slept: Duration,
    },
    /// The user asked to reconnect now (`ssenotify reconnect`, the app's "Retry now").
    ReconnectRequested,
    /// The user paused the subscription.
    Paused,
    /// The user (or shutdown) closed the subscription.
    ClosedByUser,
}

impl Reason {
    /// The HTTP status this reason carries, when there was a response.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Opened { status }
            | Self::OpenedElsewhere { status, .. }
            | Self::HttpStatus { status, .. } => Some(*status),
            Self::WrongContentType { .. } | Self::UnsupportedEncoding { .. } => Some(200),
            Self::NoContent => Some(204),
            _ => None,
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Started => f.write_str("connecting"),
            Self::Resumed => f.write_str("resumed by user"),
            Self::Opened { status } => write!(f, "HTTP {status} OK"),
            Self::OpenedElsewhere {
                status,
                origin,
                secrets_withheld,
            } => {
                write!(f, "HTTP {status} OK (redirected to {origin}")?;
                if *secrets_withheld {
                    f.write_str("; secret headers not sent")?;
                }
                f.write_str(")")
            }
            Self::HttpStatus { status, text } if text.is_empty() => write!(f, "HTTP {status}"),
            Self::HttpStatus { status, text } => write!(f, "HTTP {status} {text}"),
            Self::WrongContentType { content_type } if content_type.is_empty() => {
                f.write_str("wrong content type: none (expected text/event-stream)")
            }
            Self::WrongContentType { content_type } => write!(
                f,
                "wrong content type: {content_type} (expected text/event-stream)"
            ),
            Self::UnsupportedEncoding { encoding } => write!(
                f,
                "unsupported content encoding: {encoding} (gzip, br and deflate are decoded)"
            ),
            Self::NoContent => f.write_str("stopped by server: HTTP 204 No Content"),
            Self::Network { error } => write!(f, "network error: {error}"),
            Self::InvalidRequest { error } => write!(f, "invalid request: {error}"),
            Self::StreamEnded => f.write_str("server closed the stream"),
            Self::IdleTimeout { after } => {
                write!(f, "idle timeout: no bytes for {}", fmt_duration(*after))
            }
            Self::EventTooLarge { limit } => {
                write!(f, "event too large: more than {limit} bytes")
            }
            Self::SystemWoke { slept } => write!(
                f,
                "the system woke after {} asleep; reconnecting",
                fmt_duration(*slept)
            ),
            Self::ReconnectRequested => f.write_str("reconnect requested by user"),
            Self::Paused => f.write_str("paused by user"),
            Self::ClosedByUser => f.write_str("closed by user"),
        }
    }
}

/// One readyState report: the new state, why, and when the next attempt is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateChange {
    /// The state entered.
    pub ready_state: ReadyState,
    /// Why.
    pub reason: Reason,
    /// When CONNECTING after a failure: how long until the next attempt.
    pub retry_in: Option<Duration>,
    /// Wall-clock time of the change, for the UI's timeline.
    pub at: SystemTime,
}

impl StateChange {
    /// A change happening now.
    pub fn now(ready_state: ReadyState, reason: Reason, retry_in: Option<Duration>) -> Self {
        Self {
            ready_state,
            reason,
            retry_in,
            at: SystemTime::now(),
        }
    }
}

/// A duration as people read it in reasons and logs: `750ms`, `3s`, `1.5s`, `2m`.
pub fn fmt_duration(d: Duration) -> String {
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
