//! The server side of the control socket: how `ssenotify list`, `reload`, `quit` and the
//! app's window talk to a running daemon (the messages: `ssenotify-protocol`).
//!
//! A Unix socket in the runtime directory (0700), mode 0600 from the moment it has its
//! name, and every connection's peer checked (`SO_PEERCRED`): a process of another user is
//! refused even if someone loosened the modes. Each request line is handed to the control
//! loop as a [`Command`]; `watch` is answered here, by streaming every update the daemon
//! publishes until the client hangs up or the daemon stops (after a snapshot of every
//! status, taken once the stream is subscribed, when asked for one).

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use ssenotify_protocol::{
    DaemonEvent, Done, MAX_REQUEST, Reply, Request, WatchLine, WatchNotice, push_line, write_line,
};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::messages::{Command, Pending};

/// How long a stopping daemon waits for its watchers to take the `shutdown` line.
const WATCH_GOODBYE: Duration = Duration::from_millis(500);

/// Bind the control socket at `path` (replacing a stale one) with mode 0600.
///
/// The directory is made 0700 first; the socket is bound under a temporary name inside it,
/// given its mode, and only then renamed to `path`: no client can connect to it, by its name
/// or otherwise, before its mode is 0600 (a bind applies the umask, not a chosen mode). The
/// rename also replaces a stale socket atomically. Only call this while holding the
/// single-instance lock: the socket file of a live daemon would otherwise be stolen.
pub(crate) fn bind(path: &Path) -> io::Result<UnixListener> {
    ssenotify_config::create_private_dir(path.parent().unwrap_or(Path::new(".")))?;
    bind_0600(path)
}

/// Binds a Unix socket at `path` (replacing a stale one) with mode 0600 from the moment it
/// has its name, in a directory that exists (see [`bind`]).
pub(crate) fn bind_0600(path: &Path) -> io::Result<UnixListener> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    // One name, not one per process: the instance lock lets one daemon bind at a time, and
    // what a crash between bind and rename left behind is removed here.
    let tmp = dir.join(format!(".{name}.tmp"));
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let listener = UnixListener::bind(&tmp)?;
    let placed = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(error) = placed {
        let _ = std::fs::remove_file(&tmp);
        return Err(error);
    }
    Ok(listener)
}

/// Whether the process at the other end of `stream` runs as the daemon's own user; a
/// refusal is logged (the peer's uid and pid, never anything it sent).
pub(crate) fn same_user(stream: &UnixStream, socket: &str) -> bool {
    let own = rustix::process::geteuid().as_raw();
    match stream.peer_cred() {
        Ok(peer) if peer.uid() == own => true,
        Ok(peer) => {
            tracing::warn!(
                peer_uid = peer.uid(),
                peer_pid = ?peer.pid(),
                socket,
                "refused a connection from another user"
            );
            false
        }
        Err(error) => {
            tracing::warn!(%error, socket, "refused a connection whose user is unknown");
            false
        }
    }
}

/// Accept connections until `cancel`; each request line is handed to the control loop, and
/// `watch` requests are fed from `updates`.
pub(crate) async fn serve(
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
                // Dropping the stream closes it: the other user gets no reply at all.
                Ok((stream, _)) if !same_user(&stream, "control socket") => continue,
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
            let command = match serde_json::from_str::<Request>(line.trim_end()) {
                Ok(Request::Watch { snapshot }) => {
                    // Subscribe before the snapshot and the reply, so nothing published
                    // after them is missed (a change between the two is in both).
                    let feed = updates.subscribe();
                    let every = Command::Status {
                        since: None,
                        ids: None,
                    };
                    let snapshot = if snapshot {
                        match ask(&requests, every, cancel).await {
                            Some(Reply::Status(report)) => Some(Box::new(report)),
                            _ => return Ok(()),
                        }
                    } else {
                        None
                    };
                    write_line(
                        &mut write,
                        &Reply::Done {
                            detail: Done::Watching {
                                watching: true,
                                snapshot,
                            },
                        },
                    )
                    .await?;
                    return stream_updates(feed, lines, write, cancel).await;
                }
                Ok(Request::Ping) => Ok(Command::Ping),
                Ok(Request::Status { since, ids }) => Ok(Command::Status { since, ids }),
                Ok(Request::Reload) => Ok(Command::Reload),
                Ok(Request::Quit) => Ok(Command::Quit),
                Ok(Request::Forget { ids }) => Ok(Command::Forget(ids)),
                Ok(Request::MarkRead { ids }) => Ok(Command::MarkRead(ids)),
                Ok(Request::Reconnect { id }) => Ok(Command::Reconnect(id)),
                Err(error) => Err(error),
            };
            match command {
                Ok(command) => match ask(&requests, command, cancel).await {
                    Some(reply) => reply,
                    None => return Ok(()),
                },
                Err(error) => Reply::Error {
                    message: format!("bad request: {error}"),
                },
            }
        };
        write_line(&mut write, &reply).await?;
    }
}

/// Hands `command` to the control loop and waits for its answer; `None` when the daemon
/// stops meanwhile.
async fn ask(
    requests: &mpsc::Sender<Pending>,
    command: Command,
    cancel: &CancellationToken,
) -> Option<Reply> {
    let (tx, mut rx) = oneshot::channel();
    requests.send((command, tx)).await.ok()?;
    let reply = tokio::select! {
        biased;
        reply = &mut rx => reply,
        // `quit` stops the daemon before its answer is sent (the control loop cancels,
        // then replies): an answer on its way still goes out, so the client hears that it
        // worked; the control loop drops what it will not answer.
        _ = cancel.cancelled() => tokio::time::timeout(WATCH_GOODBYE, rx).await.ok()?,
    };
    Some(reply.unwrap_or(Reply::Error {
        message: "the daemon is shutting down".into(),
    }))
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
    loop {
        let first = tokio::select! {
            _ = cancel.cancelled() => {
                push_line(&mut buf, &WatchLine::Notice(WatchNotice::Shutdown))?;
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
                Ok(update) => push_line(&mut buf, &WatchLine::Update(update))?,
                Err(broadcast::error::RecvError::Lagged(count)) => {
                    push_line(&mut buf, &WatchLine::Notice(WatchNotice::Lagged { count }))?
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

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use ssenotify_protocol::{SubscriptionStatus, request, watch};
    use ssenotify_sse::ReadyState;

    use super::*;

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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn quit_is_answered_although_the_stop_comes_before_the_answer() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("s.sock");
        let listener = bind(&socket).unwrap();
        let (requests, mut pending) = mpsc::channel::<Pending>(4);
        let cancel = CancellationToken::new();
        let stop = cancel.clone();
        // As the control loop answers `quit`: the stop first, the answer after it.
        tokio::spawn(async move {
            while let Some((_, reply)) = pending.recv().await {
                stop.cancel();
                for _ in 0..100 {
                    tokio::task::yield_now().await;
                }
                let _ = reply.send(Reply::Done {
                    detail: ssenotify_protocol::Done::Quitting { quitting: true },
                });
            }
        });
        let (updates, _) = broadcast::channel(4);
        let task = tokio::spawn(serve(listener, requests, updates, cancel));
        let reply = request(&socket, &Request::Quit).await;
        assert!(
            matches!(reply, Ok(Reply::Done { .. })),
            "quit's client hears that it worked: {reply:?}"
        );
        task.await.unwrap();
    }

    #[tokio::test]
    async fn the_socket_is_0600_in_a_0700_dir_and_replaces_a_stale_one() {
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("run/ssenotify");
        let socket = dir.join("ssenotify.sock");
        let first = bind(&socket).unwrap();
        assert_eq!((mode(&dir), mode(&socket)), (0o700, 0o600));
        // A crashed daemon's socket file stays; the next one takes its name.
        drop(first);
        let _second = bind(&socket).unwrap();
        assert!(UnixStream::connect(&socket).await.is_ok());
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["ssenotify.sock"], "no temporary name left behind");
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
}
