//! What a [`crate::TestServer`] saw (connections, requests, streams) and the test's orders to
//! its connections (kill, freeze), shared by the HTTP/1.1 and HTTP/2 sides.

use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::http::{Request, Response};

/// What the server knows about one accepted TCP connection.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    /// 0-based accept order; matches [`Request::conn`].
    pub index: usize,
    /// Client address (its ephemeral port distinguishes reconnects).
    pub peer: SocketAddr,
    /// When the connection was accepted.
    pub opened_at: Instant,
    /// When the server saw the client close (EOF, reset, or a failed write) before the server closed.
    pub closed_by_client_at: Option<Instant>,
    /// When the server ended the response by closing its side.
    pub closed_by_server_at: Option<Instant>,
    /// Whether TLS negotiated HTTP/2 (ALPN `h2`) on it.
    pub h2: bool,
    /// Responses being played on it now (an HTTP/1.1 connection has at most one).
    pub open_streams: usize,
    /// The most responses it ever played at once.
    pub peak_streams: usize,
    /// Whether [`crate::TestServer::freeze_connections`] made it go silent.
    pub frozen: bool,
}

impl ConnectionInfo {
    /// Whether neither side has closed the connection yet.
    pub fn is_open(&self) -> bool {
        self.closed_by_client_at.is_none() && self.closed_by_server_at.is_none()
    }
}

/// Everything recorded so far.
#[derive(Default)]
pub(crate) struct State {
    pub(crate) requests: Vec<Request>,
    pub(crate) conns: Vec<ConnectionInfo>,
    /// Bytes of response bodies that left, over all connections (after HTTP/2 flow control).
    pub(crate) body_bytes: u64,
    /// HTTP/2 streams waiting now for the client to open its flow-control window.
    pub(crate) blocked_streams: usize,
}

/// The test's orders to the connections open when it gives them, counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Orders {
    /// Drop the socket without a goodbye (no TLS close_notify, no GOAWAY).
    pub(crate) kills: u64,
    /// Stop reading and writing but keep the socket: a half-open connection.
    pub(crate) freezes: u64,
}

/// A connection's view of the orders: those counted in `given` came before it.
pub(crate) struct OrdersSince {
    pub(crate) orders: watch::Receiver<Orders>,
    pub(crate) given: Orders,
}

pub(crate) type Handler = dyn Fn(&Request, usize) -> Response + Send + Sync;

/// The state, its change signal, the orders and the handler, shared by all connections.
pub(crate) struct Shared {
    state: Mutex<State>,
    /// Bumped after every state change so waiters on any runtime can re-check.
    pub(crate) changed: watch::Sender<u64>,
    pub(crate) orders: watch::Sender<Orders>,
    handler: Box<Handler>,
}

impl Shared {
    pub(crate) fn new(handler: Box<Handler>) -> Self {
        Self {
            state: Mutex::default(),
            changed: watch::Sender::new(0),
            orders: watch::Sender::new(Orders::default()),
            handler,
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not take every later assertion down with it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn update<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let result = f(&mut self.lock());
        self.changed.send_modify(|v| *v += 1);
        result
    }

    /// Records `request` (its `index` assigned here) and asks the handler for its response;
    /// a panicking handler answers 500.
    pub(crate) fn respond(&self, mut request: Request) -> (Request, Response) {
        let request = self.update(|s| {
            request.index = s.requests.len();
            s.requests.push(request.clone());
            request
        });
        let response = catch_unwind(AssertUnwindSafe(|| (self.handler)(&request, request.index)))
            .unwrap_or_else(|_| {
                Response::body(
                    500,
                    "text/plain",
                    "ssenotify-e2e: test server handler panicked",
                )
            });
        (request, response)
    }

    /// Gives the connections open now an order; returns which ones it concerns. Taken under
    /// the state's lock, as a new connection takes its copy of the orders ([`Shared::accepted`]),
    /// so that every connection either sees the order or is in the list.
    pub(crate) fn order(&self, give: impl FnOnce(&mut Orders)) -> Vec<usize> {
        self.update(|s| {
            self.orders.send_modify(give);
            s.conns
                .iter()
                .filter(|c| c.is_open())
                .map(|c| c.index)
                .collect()
        })
    }

    /// Records a new connection from `peer`: its index, and the orders it will obey (those
    /// given from now on).
    pub(crate) fn accepted(&self, peer: SocketAddr) -> (usize, OrdersSince) {
        self.update(|s| {
            let index = s.conns.len();
            s.conns.push(ConnectionInfo {
                index,
                peer,
                opened_at: Instant::now(),
                closed_by_client_at: None,
                closed_by_server_at: None,
                h2: false,
                open_streams: 0,
                peak_streams: 0,
                frozen: false,
            });
            let orders = self.orders.subscribe();
            let given = *orders.borrow();
            (index, OrdersSince { orders, given })
        })
    }

    /// Blocks the calling thread until `check` holds (the server runs on its own thread);
    /// panics after `timeout`, naming `what`.
    pub(crate) fn block_until(
        &self,
        timeout: Duration,
        what: &str,
        check: impl Fn(&State) -> bool,
    ) {
        let deadline = Instant::now() + timeout;
        while !check(&self.lock()) {
            assert!(
                Instant::now() < deadline,
                "test server: {what} not done in {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Counts a response being played on connection `conn` until the guard goes.
    pub(crate) fn open_stream(self: &Arc<Self>, conn: usize) -> OpenStream {
        self.update(|s| {
            let c = &mut s.conns[conn];
            c.open_streams += 1;
            c.peak_streams = c.peak_streams.max(c.open_streams);
        });
        OpenStream {
            shared: Arc::clone(self),
            conn,
        }
    }

    /// Waits until `check` finds what it looks for, or `timeout` passes (then one last check).
    pub(crate) async fn wait_until<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&State) -> Option<T>,
    ) -> Option<T> {
        let deadline = tokio::time::Instant::now() + timeout;
        // Subscribe before checking so a change between the check and the wait is not missed.
        let mut changed = self.changed.subscribe();
        loop {
            if let Some(found) = check(&self.lock()) {
                return Some(found);
            }
            if tokio::time::timeout_at(deadline, changed.changed())
                .await
                .is_err()
            {
                return check(&self.lock());
            }
        }
    }
}

/// One response being played: counted in its connection's `open_streams` while it lives.
pub(crate) struct OpenStream {
    shared: Arc<Shared>,
    conn: usize,
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.shared.update(|s| s.conns[self.conn].open_streams -= 1);
    }
}
