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

impl Reason {
    /// What the reason means for someone who is not debugging HTTP, with what to do, for
    /// the usual failures of a subscription to `url` (`None`: the reason says it already).
    /// The reason itself stays the technical text, one click away in the app.
    pub fn explain(&self, url: &str) -> Option<String> {
        let parsed = reqwest::Url::parse(url).ok();
        let host = parsed
            .as_ref()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| "the server".into());
        let address = match parsed
            .as_ref()
            .and_then(reqwest::Url::port_or_known_default)
        {
            Some(port) => format!("{host}:{port}"),
            None => host.clone(),
        };
        Some(match self {
            Self::Network { error } => {
                let error = error.to_ascii_lowercase();
                let has = |needles: &[&str]| needles.iter().any(|n| error.contains(n));
                if has(&["connection refused"]) {
                    format!("Connection refused: is the server running on {address}?")
                } else if has(&[
                    "dns error",
                    "failed to lookup address",
                    "name or service not known",
                    "temporary failure in name resolution",
                    "no address associated",
                ]) {
                    format!("Cannot find {host}: check the address, or the network's DNS.")
                } else if has(&["network is unreachable", "no route to host"]) {
                    format!("No route to {address}: is this machine online?")
                } else if has(&["timed out", "timeout"]) {
                    format!("No answer from {address}: is it reachable from here (firewall, VPN)?")
                } else if has(&["certificate", "unknownissuer"]) {
                    format!(
                        "{host}'s certificate is not trusted: for a server with its own certificate, set ca_file."
                    )
                } else if has(&[
                    "connection reset",
                    "closed before",
                    "broken pipe",
                    "unexpected eof",
                    "connection closed",
                ]) {
                    format!("{host} closed the connection; trying again.")
                } else {
                    return None;
                }
            }
            Self::HttpStatus { status: 401, .. } => {
                "The server wants credentials (HTTP 401): check the subscription's token or password.".into()
            }
            Self::HttpStatus { status: 403, .. } => {
                "The server refused access (HTTP 403): check the token and what it may read.".into()
            }
            Self::HttpStatus {
                status: 404 | 410, ..
            } => format!("Nothing at this address on {host} (HTTP 404): has the feed moved?"),
            Self::HttpStatus { status: 429, .. } => {
                "The server asks to slow down (HTTP 429); trying again later.".into()
            }
            Self::HttpStatus { status, .. } if *status >= 500 => {
                format!("{host} has a problem (HTTP {status}); trying again.")
            }
            Self::WrongContentType { content_type } => {
                let what = if content_type.is_empty() {
                    "something"
                } else {
                    content_type.split(';').next().unwrap_or_default().trim()
                };
                format!("This address answered with {what}, not an event stream: is it the stream's URL?")
            }
            Self::IdleTimeout { after } => format!(
                "Nothing arrived for {}: the connection is presumed dead; reconnecting.",
                fmt_duration(*after)
            ),
            _ => return None,
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_failures_are_explained_with_what_to_do() {
        let url = "http://127.0.0.1:18999/events";
        let network = |error: &str| Reason::Network {
            error: error.into(),
        };
        let explain = |reason: Reason| reason.explain(url).unwrap_or_default();
        assert_eq!(
            explain(network(
                "tcp connect error: Connection refused (os error 111)"
            )),
            "Connection refused: is the server running on 127.0.0.1:18999?"
        );
        assert!(
            explain(network("dns error: failed to lookup address information"))
                .starts_with("Cannot find 127.0.0.1")
        );
        assert!(
            explain(network("tcp connect error: timed out after 30s"))
                .starts_with("No answer from 127.0.0.1:18999")
        );
        assert!(explain(network("invalid peer certificate: UnknownIssuer")).contains("ca_file"));
        let status = |status| Reason::HttpStatus {
            status,
            text: String::new(),
        };
        assert!(explain(status(401)).contains("credentials"));
        assert!(explain(status(404)).contains("moved"));
        assert!(explain(status(503)).contains("trying again"));
        let html = Reason::WrongContentType {
            content_type: "text/html; charset=utf-8".into(),
        };
        assert!(explain(html).contains("answered with text/html, not an event stream"));
        // What needs no words gets none.
        assert_eq!(Reason::Opened { status: 200 }.explain(url), None);
        assert_eq!(network("something odd").explain(url), None);
        assert_eq!(status(418).explain(url), None);
    }
}
