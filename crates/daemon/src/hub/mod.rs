//! The local event hub: every event the daemon records, served as `text/event-stream` to
//! local scripts and status bars, so they need no connection or token of their own.
//!
//! Served while `[hub] listen` is set, on a loopback address or a Unix socket (0600, and
//! every peer checked: a non-loopback address, or a process of another user, is never
//! answered), to requests carrying the bearer token of `ssenotify hub token`. The control
//! loop starts, moves and stops it as the setting changes.
//!
//! - `service`: one request: path, token, `Last-Event-ID`.
//! - `stream`: one client's stream: replay, then live, through a bounded queue.
//! - `envelope`: what a client receives for one row.

mod envelope;
mod service;
mod stream;

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::FileTypeExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use ssenotify_config::{HubAddress, Paths};
use ssenotify_protocol::DaemonEvent;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::broadcast;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use service::Hub;

pub use stream::{BUFFER, KEEP_ALIVE};

/// Most clients served at once; a connection beyond them is closed at once.
pub const MAX_CLIENTS: usize = 64;

/// The running hub; [`HubServer::stop`] closes it and every client.
pub(crate) struct HubServer {
    address: HubAddress,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

/// Starts, moves or stops the hub so that it serves at `wanted` (the file's `[hub]`, `None`
/// when off); returns what runs. A failure (the port is taken) is logged and retried at
/// the next change of the file.
pub(crate) async fn follow(
    running: Option<HubServer>,
    wanted: Option<HubAddress>,
    paths: &Paths,
    updates: &broadcast::Sender<DaemonEvent>,
) -> Option<HubServer> {
    match (running, &wanted) {
        (Some(running), Some(wanted)) if running.address() == wanted => return Some(running),
        (Some(running), _) => running.stop().await,
        (None, _) => {}
    }
    let address = wanted?;
    let token_paths = paths.clone();
    let token = match crate::ops::blocking(move || ssenotify_config::hub_token(&token_paths)).await
    {
        Ok(token) => token,
        Err(error) => {
            let file = paths.hub_token();
            tracing::error!(%error, file = %file.display(), "the event hub has no token; not served");
            return None;
        }
    };
    match HubServer::start(address.clone(), token, updates.clone(), paths.history_db()).await {
        Ok(server) => Some(server),
        Err(error) => {
            tracing::error!(%error, %address, "the event hub cannot be served");
            None
        }
    }
}

/// A listener of either kind.
enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

impl HubServer {
    /// Serves the hub at `address` with `token`, fed from `updates` and `history`.
    pub(crate) async fn start(
        address: HubAddress,
        token: String,
        updates: broadcast::Sender<DaemonEvent>,
        history: PathBuf,
    ) -> io::Result<Self> {
        let listener = match &address {
            HubAddress::Tcp(addr) => Listener::Tcp(TcpListener::bind(addr).await?),
            HubAddress::Unix(path) => {
                let path = path.clone();
                Listener::Unix(crate::ops::blocking(move || bind_unix(&path)).await?)
            }
        };
        let hub = Arc::new(Hub {
            token,
            updates,
            history,
        });
        let cancel = CancellationToken::new();
        let task = tokio::spawn(accept(listener, hub, cancel.clone()));
        tracing::info!(%address, "event hub served");
        Ok(Self {
            address,
            cancel,
            task,
        })
    }

    /// Where it listens.
    pub(crate) fn address(&self) -> &HubAddress {
        &self.address
    }

    /// Closes the listener and every client, and waits until they are gone.
    pub(crate) async fn stop(self) {
        self.cancel.cancel();
        let _ = self.task.await;
        if let HubAddress::Unix(path) = &self.address {
            let _ = tokio::fs::remove_file(path).await;
        }
        tracing::info!(address = %self.address, "event hub stopped");
    }
}

/// Binds the hub's Unix socket 0600; its directory is made private when ssenotify creates
/// it, and left as it is when it exists (it may be the user's own, or shared). A path
/// that holds anything but a socket is refused rather than replaced.
fn bind_unix(path: &std::path::Path) -> io::Result<UnixListener> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if !meta.file_type().is_socket() => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists and is not a socket", path.display()),
            ));
        }
        _ => {}
    }
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    if !dir.exists() {
        ssenotify_config::create_private_dir(dir)?;
    }
    crate::socket::bind_0600(path)
}

/// Accepts until `cancel`, at most [`MAX_CLIENTS`] at once, every peer checked.
async fn accept(listener: Listener, hub: Arc<Hub>, cancel: CancellationToken) {
    let mut clients = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => break,
            Some(_) = clients.join_next(), if !clients.is_empty() => continue,
            accepted = next(&listener) => accepted,
        };
        let io = match accepted {
            Ok(Some(io)) => io,
            Ok(None) => continue,
            Err(error) => {
                // Out of file descriptors, say: wait instead of spinning on the error.
                tracing::debug!(%error, "hub: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if clients.len() >= MAX_CLIENTS {
            tracing::warn!(MAX_CLIENTS, "hub: too many clients; one refused");
            continue;
        }
        clients.spawn(serve(io, hub.clone(), cancel.child_token()));
    }
    clients.shutdown().await;
}

/// The next connection whose peer may be answered (`None`: one refused).
async fn next(listener: &Listener) -> io::Result<Option<Box<dyn Io>>> {
    Ok(match listener {
        Listener::Tcp(listener) => {
            let (stream, peer) = listener.accept().await?;
            loopback(peer).then(|| Box::new(stream) as Box<dyn Io>)
        }
        Listener::Unix(listener) => {
            let (stream, _) = listener.accept().await?;
            crate::socket::same_user(&stream, "event hub").then(|| Box::new(stream) as Box<dyn Io>)
        }
    })
}

/// Whether a TCP peer is on this machine; a refusal is logged.
fn loopback(peer: SocketAddr) -> bool {
    let ok = peer.ip().is_loopback() || peer.ip().to_canonical().is_loopback();
    if !ok {
        tracing::warn!(%peer, "hub: refused a connection from another machine");
    }
    ok
}

/// A connection's byte stream, TCP or Unix.
trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// Serves one connection until it ends, the daemon stops the hub (`stop`), or its client
/// falls too far behind: then the connection is dropped, not drained.
async fn serve(io: Box<dyn Io>, hub: Arc<Hub>, stop: CancellationToken) {
    let overflow = stop.child_token();
    let on_overflow = overflow.clone();
    let service = service_fn(move |request| {
        let response = service::answer(&hub, &request, on_overflow.clone());
        async move { Ok::<_, Infallible>(response) }
    });
    let connection = http1::Builder::new().serve_connection(TokioIo::new(io), service);
    tokio::select! {
        _ = connection => {}
        () = overflow.cancelled() => {}
    }
}
