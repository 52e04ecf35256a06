//! [`TestServer`]: the accept loop, TLS and ALPN (HTTP/2 goes to `http2`, the rest to
//! `http1`), what the tests ask of it, and their orders to its connections.

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio_rustls::TlsAcceptor;

use crate::http::{Request, Response, Step};
use crate::record::{ConnectionInfo, Orders, OrdersSince, Shared, State};
use crate::tls::{Alpn, TestCa};

/// How long a kill or freeze may take (a connection in its TLS handshake obeys after it).
const ORDERS_OBEYED: Duration = Duration::from_secs(10);

/// How a [`TestServer`] speaks TLS.
#[derive(Debug, Clone, Copy)]
pub struct TlsOptions {
    /// What it offers in ALPN: HTTP/2 and HTTP/1.1, or HTTP/1.1 only.
    pub alpn: Alpn,
    /// SETTINGS_MAX_CONCURRENT_STREAMS of its HTTP/2 connections (hyper's server: 200).
    pub max_concurrent_streams: u32,
}

impl Default for TlsOptions {
    fn default() -> Self {
        Self {
            alpn: Alpn::H2,
            max_concurrent_streams: 200,
        }
    }
}

/// What every connection task needs: the recording, and TLS when the server has it.
struct Serving {
    shared: Arc<Shared>,
    tls: Option<(TlsAcceptor, TlsOptions)>,
}

/// A real server on `127.0.0.1:<ephemeral>` that answers each request with a scripted
/// [`Response`]: HTTP/1.1 in clear ([`TestServer::start`]), or over TLS with HTTP/2 when the
/// client's ALPN asks for it ([`TestServer::start_tls`]).
///
/// It runs on its own thread with its own single-threaded tokio runtime, so it
/// keeps serving even while the test blocks its own thread (e.g. waiting on a
/// child process inside a current-thread `#[tokio::test]`). Dropping it stops
/// that runtime, which drops every connection task and so closes every socket
/// before `drop` returns.
pub struct TestServer {
    addr: SocketAddr,
    tls: bool,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl TestServer {
    /// A server whose first response plays `steps` (then ends as they say); every later
    /// request gets a held, empty stream.
    pub fn first_response_plays(steps: Vec<Step>) -> TestServer {
        TestServer::start(move |_, n| {
            Response::sse_steps(if n == 0 {
                steps.clone()
            } else {
                vec![Step::Hold]
            })
        })
    }

    /// A server whose first response streams `body` and holds the connection open; later
    /// requests get a held, empty stream.
    pub fn streaming(body: Vec<u8>) -> TestServer {
        TestServer::first_response_plays(vec![Step::Send(body), Step::Hold])
    }

    /// Binds `127.0.0.1:0` and starts serving; `handler(request, n)` scripts the reply to the `n`th (0-based) request.
    ///
    /// Works inside or outside a tokio runtime. Panics if the socket cannot be bound.
    pub fn start<H>(handler: H) -> TestServer
    where
        H: Fn(&Request, usize) -> Response + Send + Sync + 'static,
    {
        Self::launch(None, Box::new(handler))
    }

    /// [`TestServer::start`] over TLS with `ca`'s server certificate; HTTP/2 for a client
    /// that chooses `h2` in ALPN (when `options` offer it), HTTP/1.1 otherwise.
    pub fn start_tls<H>(ca: &TestCa, options: TlsOptions, handler: H) -> TestServer
    where
        H: Fn(&Request, usize) -> Response + Send + Sync + 'static,
    {
        let acceptor = TlsAcceptor::from(ca.server_config(options.alpn));
        Self::launch(Some((acceptor, options)), Box::new(handler))
    }

    fn launch(
        tls: Option<(TlsAcceptor, TlsOptions)>,
        handler: Box<crate::record::Handler>,
    ) -> TestServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("set listener non-blocking");
        let addr = listener.local_addr().expect("listener address");
        let shared = Arc::new(Shared::new(handler));
        let (shutdown, shutdown_rx) = oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("test server runtime");
        let has_tls = tls.is_some();
        let serving = Arc::new(Serving {
            shared: Arc::clone(&shared),
            tls,
        });
        let thread = thread::Builder::new()
            .name(format!("test-server-{}", addr.port()))
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = TcpListener::from_std(listener).expect("register listener");
                    tokio::select! {
                        _ = shutdown_rx => {}
                        () = accept_loop(listener, serving) => {}
                    }
                });
                // Dropping the runtime drops the connection tasks, closing their sockets.
                drop(runtime);
            })
            .expect("spawn test server thread");
        TestServer {
            addr,
            tls: has_tls,
            shared,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT` (`https://` over TLS) followed by `path` (a leading `/` is
    /// added if missing).
    pub fn url(&self, path: &str) -> String {
        let slash = if path.starts_with('/') { "" } else { "/" };
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}{slash}{path}", self.addr)
    }

    /// Snapshot of every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.lock().requests.clone()
    }

    /// How many requests have arrived so far (without copying them).
    pub fn request_count(&self) -> usize {
        self.shared.lock().requests.len()
    }

    /// Snapshot of every connection accepted so far, in accept order.
    pub fn connections(&self) -> Vec<ConnectionInfo> {
        self.shared.lock().conns.clone()
    }

    /// Number of connections neither side has closed yet.
    pub fn open_connections(&self) -> usize {
        self.shared
            .lock()
            .conns
            .iter()
            .filter(|c| c.is_open())
            .count()
    }

    /// Waits until at least `n` requests have arrived; returns all of them, or `None` on timeout.
    pub async fn wait_for_requests(&self, n: usize, timeout: Duration) -> Option<Vec<Request>> {
        self.wait_until(timeout, |s| {
            (s.requests.len() >= n).then(|| s.requests.clone())
        })
        .await
    }

    /// Waits until the client closes connection `conn`; returns when the server noticed.
    ///
    /// `None` on timeout, or at once if the server closed that connection first
    /// (the client can then no longer be the one to close it).
    pub async fn wait_for_client_close(&self, conn: usize, timeout: Duration) -> Option<Instant> {
        self.wait_until(timeout, |s| {
            let c = s.conns.get(conn)?;
            match (c.closed_by_client_at, c.closed_by_server_at) {
                (Some(at), _) => Some(Some(at)),
                (None, Some(_)) => Some(None),
                (None, None) => None,
            }
        })
        .await
        .flatten()
    }

    /// Waits until exactly `n` connections are open; returns whether that happened in time.
    pub async fn wait_for_open_connections(&self, n: usize, timeout: Duration) -> bool {
        self.wait_until(timeout, |s| {
            (s.conns.iter().filter(|c| c.is_open()).count() == n).then_some(())
        })
        .await
        .is_some()
    }

    /// Responses being played now, over all open connections but frozen ones (HTTP/2
    /// streams, and one per HTTP/1.1 connection answering a request).
    pub fn open_streams(&self) -> usize {
        open_streams(&self.shared.lock())
    }

    /// Waits until exactly `n` responses are being played (see [`TestServer::open_streams`]);
    /// returns whether that happened in time.
    pub async fn wait_for_open_streams(&self, n: usize, timeout: Duration) -> bool {
        self.wait_until(timeout, |s| (open_streams(s) == n).then_some(()))
            .await
            .is_some()
    }

    /// Bytes of response bodies sent so far, over all connections (HTTP/2: only what the
    /// client's flow-control windows let through).
    pub fn body_bytes(&self) -> u64 {
        self.shared.lock().body_bytes
    }

    /// Waits until an HTTP/2 stream has data to send and the client's window is closed
    /// (backpressure); returns whether that happened in time.
    pub async fn wait_for_blocked_stream(&self, timeout: Duration) -> bool {
        self.wait_until(timeout, |s| (s.blocked_streams > 0).then_some(()))
            .await
            .is_some()
    }

    /// Drops every connection open now without a goodbye (no TLS close_notify, no GOAWAY),
    /// as a crashed server or a dead link would; later connections are served as usual.
    /// Returns once the server has closed them.
    pub fn kill_connections(&self) {
        let killed = self.shared.order(|o| o.kills += 1);
        self.shared.block_until(ORDERS_OBEYED, "kill", |s| {
            killed.iter().all(|&i| !s.conns[i].is_open())
        });
    }

    /// Makes every connection open now go silent: nothing read, nothing written (HTTP/2
    /// PINGs unanswered), the socket kept: a half-open connection. Later connections are
    /// served as usual; [`TestServer::kill_connections`] closes the frozen ones. Returns once
    /// the server has stopped serving them (their streams are no longer counted open).
    pub fn freeze_connections(&self) {
        let frozen = self.shared.order(|o| o.freezes += 1);
        self.shared.block_until(ORDERS_OBEYED, "freeze", |s| {
            frozen
                .iter()
                .all(|&i| s.conns[i].frozen || !s.conns[i].is_open())
        });
    }

    async fn wait_until<T>(
        &self,
        timeout: Duration,
        check: impl FnMut(&State) -> Option<T>,
    ) -> Option<T> {
        self.shared.wait_until(timeout, check).await
    }
}

/// A frozen connection plays nothing, whatever its streams were.
fn open_streams(state: &State) -> usize {
    state
        .conns
        .iter()
        .filter(|c| c.is_open() && !c.frozen)
        .map(|c| c.open_streams)
        .sum()
}

impl Drop for TestServer {
    fn drop(&mut self) {
        drop(self.shutdown.take());
        if let Some(thread) = self.thread.take() {
            // A server-thread panic was already reported by the panic hook; re-raising it here would abort during unwinding.
            let _ = thread.join();
        }
    }
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

async fn accept_loop(listener: TcpListener, serving: Arc<Serving>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let (conn, orders) = serving.shared.accepted(peer);
                let serving = Arc::clone(&serving);
                tokio::spawn(serve_connection(stream, conn, orders, serving));
            }
            Err(err) => {
                // Transient (e.g. EMFILE under a parallel test run): back off instead of spinning.
                eprintln!("test server accept error: {err}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// What the test ordered a connection to do (see [`Orders`]).
#[derive(PartialEq, Eq)]
enum Order {
    Kill,
    Freeze,
}

async fn serve_connection(
    stream: TcpStream,
    conn: usize,
    orders: OrdersSince,
    serving: Arc<Serving>,
) {
    // Each Send step must leave as its own write, not be coalesced by Nagle.
    let _ = stream.set_nodelay(true);
    let shared = &serving.shared;
    match &serving.tls {
        None => obey(stream, conn, shared, None, orders).await,
        Some((acceptor, options)) => {
            // A client that refuses the certificate ends the handshake: nothing to serve.
            let Ok(stream) = acceptor.accept(stream).await else {
                shared.update(|s| s.conns[conn].closed_by_client_at = Some(Instant::now()));
                return;
            };
            let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
            let max_streams = h2.then_some(options.max_concurrent_streams);
            shared.update(|s| s.conns[conn].h2 = h2);
            obey(stream, conn, shared, max_streams, orders).await;
        }
    }
}

/// Serves `io` (HTTP/2 with at most `h2_streams` streams when given, HTTP/1.1 otherwise)
/// until it ends or the test orders it killed or frozen.
async fn obey<S: AsyncRead + AsyncWrite + Unpin>(
    mut io: S,
    conn: usize,
    shared: &Arc<Shared>,
    h2_streams: Option<u32>,
    OrdersSince { mut orders, given }: OrdersSince,
) {
    let order = tokio::select! {
        () = serve(&mut io, conn, shared, h2_streams) => return,
        order = next_order(&mut orders, given) => order,
    };
    if order == Order::Freeze {
        // Dropping the server's side of the protocol ends its streams; the socket stays.
        shared.update(|s| s.conns[conn].frozen = true);
        let _ = orders.wait_for(|o| o.kills > given.kills).await;
    }
    shared.update(|s| s.conns[conn].closed_by_server_at = Some(Instant::now()));
    drop(io);
}

async fn next_order(orders: &mut watch::Receiver<Orders>, given: Orders) -> Order {
    loop {
        let now = *orders.borrow_and_update();
        if now.kills > given.kills {
            return Order::Kill;
        }
        if now.freezes > given.freezes {
            return Order::Freeze;
        }
        if orders.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Plays the protocol on `io` until the connection ends, and records how it ended.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    conn: usize,
    shared: &Arc<Shared>,
    h2_streams: Option<u32>,
) {
    match h2_streams {
        Some(max) => crate::http2::serve(io, conn, shared, max).await,
        None => crate::http1::serve(io, conn, shared).await,
    }
}
