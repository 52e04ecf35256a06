//! The control socket: how `ssenotify list`, `import`, `pause` ... talk to a running daemon
//! (or the app, which hosts the same daemon).
//!
//! A Unix socket in the runtime directory, mode 0600, so only the user can reach it. The
//! protocol is one JSON request per line and one JSON reply per line; small enough to
//! debug with `socat`. Edits to subscriptions do not travel here: they go through the
//! subscriptions file (under its lock), and `reload` only asks the daemon to apply the
//! file now instead of at its next check.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// The longest request line accepted; a request is a few hundred bytes.
pub const MAX_REQUEST: usize = 64 * 1024;
/// How long a client waits for the daemon's reply before giving up.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// A request to the daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Request {
    /// Is anyone there? Replies with the daemon's pid and version.
    Ping,
    /// The live state of every subscription.
    Status,
    /// Re-read the subscriptions file and apply it now.
    Reload,
    /// Send a sample notification and report the notification server.
    NotifyTest {
        /// Urgency of the sample: `low`, `normal` or `critical`.
        urgency: Option<String>,
    },
}

/// The daemon's answer to one [`Request`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    /// Answer to [`Request::Ping`].
    Pong {
        /// The daemon's process id.
        pid: u32,
        /// The daemon's version.
        version: String,
    },
    /// Answer to [`Request::Status`]: one JSON object per subscription.
    Status {
        /// Live state per subscription.
        subscriptions: Vec<serde_json::Value>,
        /// Health of the notification sink, and the last configuration error, if any.
        daemon: serde_json::Value,
    },
    /// The request was carried out; `detail` says what happened.
    Done {
        /// What happened, as JSON (e.g. an apply report).
        detail: serde_json::Value,
    },
    /// The request failed.
    Error {
        /// Why.
        message: String,
    },
}

/// One request waiting for the daemon's main loop to answer it.
pub type Pending = (Request, oneshot::Sender<Reply>);

/// Bind the control socket at `path` (replacing a stale one) with mode 0600.
///
/// Only call this while holding the single-instance lock: the socket file of a live daemon
/// would otherwise be stolen.
pub fn bind(path: &Path) -> io::Result<UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    // Create it under a restrictive umask-equivalent: bind, then chmod before anyone can
    // be told the path; the parent runtime dir is 0700 as well on a normal login.
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Accept connections until `cancel`; each request line is handed to the daemon loop.
pub async fn serve(
    listener: UnixListener,
    requests: mpsc::Sender<Pending>,
    cancel: CancellationToken,
) {
    loop {
        let stream = tokio::select! {
            _ = cancel.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "control socket accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let requests = requests.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = cancel.cancelled() => {}
                result = handle(stream, requests) => {
                    if let Err(error) = result {
                        tracing::debug!(%error, "control connection ended");
                    }
                }
            }
        });
    }
}

async fn handle(stream: UnixStream, requests: mpsc::Sender<Pending>) -> io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read.take(MAX_REQUEST as u64 * 16));
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let reply = if line.len() > MAX_REQUEST {
            Reply::Error {
                message: format!("request longer than {MAX_REQUEST} bytes"),
            }
        } else {
            match serde_json::from_str::<Request>(line.trim_end()) {
                Ok(request) => {
                    let (tx, rx) = oneshot::channel();
                    if requests.send((request, tx)).await.is_err() {
                        return Ok(());
                    }
                    rx.await.unwrap_or(Reply::Error {
                        message: "the daemon is shutting down".into(),
                    })
                }
                Err(error) => Reply::Error {
                    message: format!("bad request: {error}"),
                },
            }
        };
        let mut text = serde_json::to_string(&reply).map_err(io::Error::other)?;
        text.push('\n');
        write.write_all(text.as_bytes()).await?;
    }
}

use tokio::io::AsyncReadExt as _;

/// Why a client could not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No daemon listens at the socket (not running, or a stale socket file).
    #[error("no daemon is running (nothing listens at {})", path.display())]
    NotRunning {
        /// The socket path tried.
        path: PathBuf,
    },
    /// The daemon did not answer in time or the exchange failed.
    #[error("control socket {}: {source}", path.display())]
    Io {
        /// The socket path.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
}

/// Send one request to the daemon at `path` and wait for its reply.
pub async fn request(path: &Path, request: &Request) -> Result<Reply, ClientError> {
    let io_error = |source| ClientError::Io {
        path: path.to_path_buf(),
        source,
    };
    let stream = match UnixStream::connect(path).await {
        Ok(stream) => stream,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Err(ClientError::NotRunning {
                path: path.to_path_buf(),
            });
        }
        Err(e) => return Err(io_error(e)),
    };
    let exchange = async {
        let (read, mut write) = stream.into_split();
        let mut text = serde_json::to_string(request).map_err(io::Error::other)?;
        text.push('\n');
        write.write_all(text.as_bytes()).await?;
        let mut line = String::new();
        BufReader::new(read).read_line(&mut line).await?;
        serde_json::from_str::<Reply>(&line).map_err(io::Error::other)
    };
    match tokio::time::timeout(REPLY_TIMEOUT, exchange).await {
        Ok(result) => result.map_err(io_error),
        Err(_) => Err(io_error(io::Error::new(
            io::ErrorKind::TimedOut,
            "no reply in time",
        ))),
    }
}
