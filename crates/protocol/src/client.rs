//! The client side of the control socket: one request and its reply ([`request`]), or a
//! `watch` stream ([`watch`], [`watch_snapshot`], [`Watcher`]).

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

use crate::message::{Done, Reply, Request, WatchLine};
use crate::status::StatusReport;
use crate::wire::{parse_reply, write_line};

/// How long a client waits for the daemon's reply before giving up.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

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
    read: BufReader<OwnedReadHalf>,
    /// Kept open: the daemon takes a closed write half as the watcher hanging up.
    _write: OwnedWriteHalf,
    /// The line being read.
    line: Vec<u8>,
}

impl Watcher {
    /// The next line; `Ok(None)` when the daemon closed the stream.
    ///
    /// Cancel-safe (a `select!` may drop it mid-line): the part of a line read so far stays
    /// in the buffer, and the next call reads on from there. (`read_until` keeps what it
    /// read when cancelled; `read_line` would lose it.)
    pub async fn next(&mut self) -> io::Result<Option<WatchLine>> {
        if self.read.read_until(b'\n', &mut self.line).await? == 0 && self.line.is_empty() {
            return Ok(None);
        }
        let parsed = serde_json::from_slice(&self.line);
        self.line.clear();
        parsed
            .map(Some)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }
}

/// Starts watching the daemon at `path`: every update it publishes from now on.
pub async fn watch(path: &Path) -> Result<Watcher, ClientError> {
    start_watch(path, false).await.map(|(watcher, _)| watcher)
}

/// Starts watching the daemon at `path` from a snapshot: the status of every subscription
/// now, then every update published after it (an update may repeat what the snapshot
/// already shows; none is missed).
pub async fn watch_snapshot(path: &Path) -> Result<(Watcher, StatusReport), ClientError> {
    match start_watch(path, true).await? {
        (watcher, Some(snapshot)) => Ok((watcher, *snapshot)),
        (_, None) => Err(ClientError::Io {
            path: path.to_path_buf(),
            source: io::Error::other("the daemon sent no snapshot (is it older than this client?)"),
        }),
    }
}

async fn start_watch(
    path: &Path,
    snapshot: bool,
) -> Result<(Watcher, Option<Box<StatusReport>>), ClientError> {
    match exchange(path, &Request::Watch { snapshot }).await? {
        (
            Reply::Done {
                detail: Done::Watching { snapshot, .. },
            },
            read,
            write,
        ) => Ok((
            Watcher {
                read,
                _write: write,
                line: Vec::new(),
            },
            snapshot,
        )),
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
) -> Result<(Reply, BufReader<OwnedReadHalf>, OwnedWriteHalf), ClientError> {
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
        let reply = parse_reply(&line).map_err(io::Error::other)?;
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
    use std::time::Duration;

    use tokio::io::AsyncWriteExt;
    use tokio::net::UnixListener;

    use super::*;
    use crate::{DaemonEvent, WatchNotice};

    /// A watcher's read may be dropped by a `select!` between two halves of a line (the app's
    /// batcher does this whenever its flush timer wins); the line must still arrive whole.
    #[tokio::test]
    async fn a_line_split_across_a_cancelled_read_arrives_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let line = r#"{"kind":"removed","ids":["a"]}"#;
        let (first, rest) = line.split_at(12);
        let (halfway_tx, halfway) = tokio::sync::oneshot::channel();
        let (go_on_tx, go_on) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 64];
            let _ = tokio::io::AsyncReadExt::read(&mut stream, &mut request).await;
            stream
                .write_all(b"{\"reply\":\"done\",\"detail\":{\"watching\":true}}\n")
                .await
                .unwrap();
            stream.write_all(first.as_bytes()).await.unwrap();
            let _ = halfway_tx.send(());
            go_on.await.unwrap();
            stream
                .write_all(format!("{rest}\n{{\"kind\":\"shutdown\"}}\n").as_bytes())
                .await
                .unwrap();
            stream
        });
        let mut watcher = watch(&path).await.unwrap();
        halfway.await.unwrap();
        tokio::select! {
            line = watcher.next() => panic!("half a line was taken for a line: {line:?}"),
            () = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
        go_on_tx.send(()).unwrap();
        assert_eq!(
            watcher.next().await.unwrap(),
            Some(WatchLine::Update(DaemonEvent::Removed {
                ids: vec!["a".into()]
            }))
        );
        assert_eq!(
            watcher.next().await.unwrap(),
            Some(WatchLine::Notice(WatchNotice::Shutdown))
        );
        drop(server.await.unwrap());
        assert_eq!(watcher.next().await.unwrap(), None);
    }
}
