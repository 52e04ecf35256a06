//! The control socket: how `ssenotify list`, `import`, `pause` ... talk to a running daemon
//! (or the app, which hosts the same daemon).
//!
//! A Unix socket in the runtime directory, mode 0600, so only the user can reach it. The
//! protocol is one JSON request per line and one JSON reply per line; small enough to
//! debug with `socat`. Edits to subscriptions do not travel here: they go through the
//! subscriptions file (under its lock), and `reload` only asks the daemon to apply the
//! file now instead of at its next check.
//!
//! One request is not answered once but streamed: `watch` turns the connection into a feed
//! of [`WatchLine`]s (every status change and event, as the app's window shows them) until
//! the client hangs up or the daemon stops. The desktop app's window is such a client.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::daemon::DaemonEvent;

/// The longest request line accepted; a request is a few hundred bytes.
pub const MAX_REQUEST: usize = 64 * 1024;
/// How long a client waits for the daemon's reply before giving up.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a stopping daemon waits for its watchers to take the `shutdown` line.
pub const WATCH_GOODBYE: Duration = Duration::from_millis(500);

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
    /// Stream every status change and event as [`WatchLine`]s until either side closes.
    Watch,
    /// Stop the daemon (as SIGTERM does): `ssenotify quit`, and the app's Quit when no tray
    /// icon offers one.
    Quit,
}

/// One line of a `watch` stream.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WatchLine {
    /// About the stream itself.
    Notice(WatchNotice),
    /// What the daemon published.
    Update(DaemonEvent),
}

/// What a `watch` stream says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WatchNotice {
    /// The watcher read too slowly and `count` updates were skipped; the daemon never waits
    /// for a watcher, so a slow window cannot hold events back.
    Lagged {
        /// Updates skipped.
        count: u64,
    },
    /// The daemon is stopping on purpose (Quit, SIGTERM); the stream ends after this line.
    /// A stream that ends without it means the daemon died.
    Shutdown,
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

/// Accept connections until `cancel`; each request line is handed to the daemon loop, and
/// `watch` requests are fed from `updates`.
pub async fn serve(
    listener: UnixListener,
    requests: mpsc::Sender<Pending>,
    updates: broadcast::Sender<DaemonEvent>,
    cancel: CancellationToken,
) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let stream = tokio::select! {
            _ = cancel.cancelled() => break,
            // Reap finished connections so the set does not grow with every `list`.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
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
        let updates = updates.clone();
        let cancel = cancel.clone();
        connections.spawn(async move {
            if let Err(error) = handle(stream, requests, &updates, &cancel).await {
                tracing::debug!(%error, "control connection ended");
            }
        });
    }
    // Watchers write their `shutdown` line on cancel; give them a moment to, then go.
    let _ = tokio::time::timeout(WATCH_GOODBYE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
}

async fn handle(
    stream: UnixStream,
    requests: mpsc::Sender<Pending>,
    updates: &broadcast::Sender<DaemonEvent>,
    cancel: &CancellationToken,
) -> io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read.take(MAX_REQUEST as u64 * 16));
    let mut line = String::new();
    loop {
        line.clear();
        let read = tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            read = lines.read_line(&mut line) => read?,
        };
        if read == 0 {
            return Ok(());
        }
        let reply = if line.len() > MAX_REQUEST {
            Reply::Error {
                message: format!("request longer than {MAX_REQUEST} bytes"),
            }
        } else {
            match serde_json::from_str::<Request>(line.trim_end()) {
                Ok(Request::Watch) => {
                    // Subscribe before answering, so nothing published after the client
                    // reads the reply (and then asks for the current state) is missed.
                    let feed = updates.subscribe();
                    write_line(
                        &mut write,
                        &Reply::Done {
                            detail: serde_json::json!({"watching": true}),
                        },
                    )
                    .await?;
                    return stream_updates(feed, lines, write, cancel).await;
                }
                Ok(request) => {
                    let (tx, rx) = oneshot::channel();
                    if requests.send((request, tx)).await.is_err() {
                        return Ok(());
                    }
                    tokio::select! {
                        _ = cancel.cancelled() => return Ok(()),
                        reply = rx => reply.unwrap_or(Reply::Error {
                            message: "the daemon is shutting down".into(),
                        }),
                    }
                }
                Err(error) => Reply::Error {
                    message: format!("bad request: {error}"),
                },
            }
        };
        write_line(&mut write, &reply).await?;
    }
}

async fn write_line(
    write: &mut tokio::net::unix::OwnedWriteHalf,
    value: &impl Serialize,
) -> io::Result<()> {
    let mut text = serde_json::to_string(value).map_err(io::Error::other)?;
    text.push('\n');
    write.write_all(text.as_bytes()).await
}

/// Feeds one watcher until it hangs up or the daemon stops. Updates are written in runs
/// (one write per wakeup, not per line) so a 10,000-event burst costs a few syscalls.
async fn stream_updates(
    mut feed: broadcast::Receiver<DaemonEvent>,
    mut client: BufReader<tokio::io::Take<tokio::net::unix::OwnedReadHalf>>,
    mut write: tokio::net::unix::OwnedWriteHalf,
    cancel: &CancellationToken,
) -> io::Result<()> {
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut scratch = [0u8; 256];
    let push = |buf: &mut Vec<u8>, line: &WatchLine| -> io::Result<()> {
        serde_json::to_writer(&mut *buf, line).map_err(io::Error::other)?;
        buf.push(b'\n');
        Ok(())
    };
    loop {
        let first = tokio::select! {
            _ = cancel.cancelled() => {
                push(&mut buf, &WatchLine::Notice(WatchNotice::Shutdown))?;
                write.write_all(&buf).await?;
                return write.shutdown().await;
            }
            // A watcher sends nothing after `watch`: any read result means it hung up.
            _ = client.read(&mut scratch) => return Ok(()),
            received = feed.recv() => received,
        };
        let mut received = Some(first);
        while let Some(next) = received {
            match next {
                Ok(update) => push(&mut buf, &WatchLine::Update(update))?,
                Err(broadcast::error::RecvError::Lagged(count)) => {
                    push(&mut buf, &WatchLine::Notice(WatchNotice::Lagged { count }))?
                }
                // The daemon dropped its sender: it is gone without a goodbye.
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            }
            if buf.len() >= 64 * 1024 {
                break;
            }
            received = match feed.try_recv() {
                Ok(update) => Some(Ok(update)),
                Err(broadcast::error::TryRecvError::Lagged(count)) => {
                    Some(Err(broadcast::error::RecvError::Lagged(count)))
                }
                Err(_) => None,
            };
        }
        write.write_all(&buf).await?;
        buf.clear();
    }
}

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
    let (reply, ..) = exchange(path, request).await?;
    Ok(reply)
}

/// A `watch` stream from a running daemon: [`Watcher::next`] yields its lines.
pub struct Watcher {
    read: BufReader<tokio::net::unix::OwnedReadHalf>,
    /// Kept open: the daemon takes a closed write half as the watcher hanging up.
    _write: tokio::net::unix::OwnedWriteHalf,
    line: String,
}

impl Watcher {
    /// The next line; `Ok(None)` when the daemon closed the stream.
    pub async fn next(&mut self) -> io::Result<Option<WatchLine>> {
        self.line.clear();
        if self.read.read_line(&mut self.line).await? == 0 {
            return Ok(None);
        }
        serde_json::from_str(&self.line)
            .map(Some)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }
}

/// Starts watching the daemon at `path`: every update it publishes from now on.
pub async fn watch(path: &Path) -> Result<Watcher, ClientError> {
    match exchange(path, &Request::Watch).await? {
        (Reply::Done { .. }, read, write) => Ok(Watcher {
            read,
            _write: write,
            line: String::new(),
        }),
        (other, ..) => Err(ClientError::Io {
            path: path.to_path_buf(),
            source: io::Error::other(format!("watch refused: {other:?}")),
        }),
    }
}

/// Connects, sends `request` and reads the first reply line; the connection stays usable.
async fn exchange(
    path: &Path,
    request: &Request,
) -> Result<
    (
        Reply,
        BufReader<tokio::net::unix::OwnedReadHalf>,
        tokio::net::unix::OwnedWriteHalf,
    ),
    ClientError,
> {
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
        write_line(&mut write, request).await?;
        let mut read = BufReader::new(read);
        let mut line = String::new();
        read.read_line(&mut line).await?;
        let reply = serde_json::from_str::<Reply>(&line).map_err(io::Error::other)?;
        Ok((reply, read, write))
    };
    match tokio::time::timeout(REPLY_TIMEOUT, exchange).await {
        Ok(result) => result.map_err(io_error),
        Err(_) => Err(io_error(io::Error::new(
            io::ErrorKind::TimedOut,
            "no reply in time",
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::SubscriptionStatus;
    use crate::state::ReadyState;

    fn status(id: &str, ready_state: ReadyState) -> DaemonEvent {
        DaemonEvent::Status(SubscriptionStatus::new(id, ready_state, "test"))
    }

    struct Server {
        socket: PathBuf,
        updates: broadcast::Sender<DaemonEvent>,
        cancel: CancellationToken,
        task: tokio::task::JoinHandle<()>,
        _dir: tempfile::TempDir,
    }

    fn server(capacity: usize) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("s.sock");
        let listener = bind(&socket).unwrap();
        let (requests, mut pending) = mpsc::channel::<Pending>(4);
        // The daemon loop, reduced to what these tests ask of it.
        tokio::spawn(async move {
            while let Some((_, reply)) = pending.recv().await {
                let _ = reply.send(Reply::Pong {
                    pid: 1,
                    version: "t".into(),
                });
            }
        });
        let (updates, _) = broadcast::channel(capacity);
        let cancel = CancellationToken::new();
        let task = tokio::spawn(serve(listener, requests, updates.clone(), cancel.clone()));
        Server {
            socket,
            updates,
            cancel,
            task,
            _dir: dir,
        }
    }

    fn id_of(line: WatchLine) -> String {
        match line {
            WatchLine::Update(DaemonEvent::Status(s)) => s.id,
            other => panic!("expected a status, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_watcher_gets_every_update_in_order_then_a_goodbye() {
        let s = server(64);
        let mut watcher = watch(&s.socket).await.unwrap();
        // Plain requests still work beside a watcher.
        assert!(matches!(
            request(&s.socket, &Request::Ping).await.unwrap(),
            Reply::Pong { .. }
        ));
        for i in 0..10 {
            s.updates
                .send(status(&format!("s{i}"), ReadyState::Open))
                .unwrap();
        }
        for i in 0..10 {
            assert_eq!(
                id_of(watcher.next().await.unwrap().unwrap()),
                format!("s{i}")
            );
        }
        s.cancel.cancel();
        assert!(matches!(
            watcher.next().await.unwrap(),
            Some(WatchLine::Notice(WatchNotice::Shutdown))
        ));
        assert!(watcher.next().await.unwrap().is_none());
        tokio::time::timeout(Duration::from_secs(2), s.task)
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn a_slow_watcher_is_told_how_much_it_missed_and_never_blocks_the_daemon() {
        let s = server(8);
        let mut watcher = watch(&s.socket).await.unwrap();
        // The server side may already have taken a few; everything else overflows.
        for i in 0..1000 {
            s.updates
                .send(status(&format!("s{i}"), ReadyState::Open))
                .unwrap();
        }
        let (mut seen, mut missed, mut last) = (0u64, 0u64, String::new());
        while seen + missed < 1000 {
            match watcher.next().await.unwrap().unwrap() {
                WatchLine::Notice(WatchNotice::Lagged { count }) => missed += count,
                line => {
                    last = id_of(line);
                    seen += 1;
                }
            }
        }
        assert_eq!(seen + missed, 1000);
        assert!(missed > 0, "a buffer of 8 cannot hold a burst of 1000");
        assert_eq!(last, "s999", "the newest update always arrives");
    }

    #[tokio::test]
    async fn a_watcher_hanging_up_ends_its_task() {
        let s = server(8);
        let watcher = watch(&s.socket).await.unwrap();
        assert_eq!(s.updates.receiver_count(), 1);
        drop(watcher);
        tokio::time::timeout(Duration::from_secs(2), async {
            while s.updates.receiver_count() > 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("the server lets go of the feed when the watcher leaves");
    }

    #[test]
    fn watch_lines_round_trip_through_json() {
        for line in [
            WatchLine::Notice(WatchNotice::Shutdown),
            WatchLine::Notice(WatchNotice::Lagged { count: 3 }),
            WatchLine::Update(status("a", ReadyState::Connecting)),
        ] {
            let text = serde_json::to_string(&line).unwrap();
            let back: WatchLine = serde_json::from_str(&text).unwrap();
            assert_eq!(serde_json::to_string(&back).unwrap(), text);
        }
        assert_eq!(
            serde_json::to_string(&WatchLine::Notice(WatchNotice::Shutdown)).unwrap(),
            r#"{"kind":"shutdown"}"#
        );
    }
}
