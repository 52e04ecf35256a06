//! The scriptable HTTP/1.1 server: accept loop, per-connection script runner, recording.

use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};

use crate::http::{MAX_BODY, MAX_HEAD, Request, Response, Step, head_end, parse_head};

/// How long a server-side close waits for the client's FIN before dropping the socket.
const LINGER: Duration = Duration::from_secs(1);

type Handler = dyn Fn(&Request, usize) -> Response + Send + Sync;

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
}

impl ConnectionInfo {
    /// Whether neither side has closed the connection yet.
    pub fn is_open(&self) -> bool {
        self.closed_by_client_at.is_none() && self.closed_by_server_at.is_none()
    }
}

#[derive(Default)]
struct State {
    requests: Vec<Request>,
    conns: Vec<ConnectionInfo>,
}

struct Shared {
    state: Mutex<State>,
    /// Bumped after every state change so waiters on any runtime can re-check.
    changed: watch::Sender<u64>,
    handler: Box<Handler>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not take every later assertion down with it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn update<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let result = f(&mut self.lock());
        self.changed.send_modify(|v| *v += 1);
        result
    }
}

/// A real HTTP/1.1 server on `127.0.0.1:<ephemeral>` that answers each request with a scripted [`Response`].
///
/// It runs on its own thread with its own single-threaded tokio runtime, so it
/// keeps serving even while the test blocks its own thread (e.g. waiting on a
/// child process inside a current-thread `#[tokio::test]`). Dropping it stops
/// that runtime, which drops every connection task and so closes every socket
/// before `drop` returns.
pub struct TestServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl TestServer {
    /// Binds `127.0.0.1:0` and starts serving; `handler(request, n)` scripts the reply to the `n`th (0-based) request.
    ///
    /// Works inside or outside a tokio runtime. Panics if the socket cannot be bound.
    pub fn start<H>(handler: H) -> TestServer
    where
        H: Fn(&Request, usize) -> Response + Send + Sync + 'static,
    {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("set listener non-blocking");
        let addr = listener.local_addr().expect("listener address");
        let shared = Arc::new(Shared {
            state: Mutex::default(),
            changed: watch::Sender::new(0),
            handler: Box::new(handler),
        });
        let (shutdown, shutdown_rx) = oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("test server runtime");
        let task_shared = Arc::clone(&shared);
        let thread = thread::Builder::new()
            .name(format!("test-server-{}", addr.port()))
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = TcpListener::from_std(listener).expect("register listener");
                    tokio::select! {
                        _ = shutdown_rx => {}
                        () = accept_loop(listener, task_shared) => {}
                    }
                });
                // Dropping the runtime drops the connection tasks, closing their sockets.
                drop(runtime);
            })
            .expect("spawn test server thread");
        TestServer {
            addr,
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

    /// `http://127.0.0.1:PORT` followed by `path` (a leading `/` is added if missing).
    pub fn url(&self, path: &str) -> String {
        let slash = if path.starts_with('/') { "" } else { "/" };
        format!("http://{}{slash}{path}", self.addr)
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

    async fn wait_until<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&State) -> Option<T>,
    ) -> Option<T> {
        let deadline = tokio::time::Instant::now() + timeout;
        // Subscribe before checking so a change between the check and the wait is not missed.
        let mut changed = self.shared.changed.subscribe();
        loop {
            if let Some(found) = check(&self.shared.lock()) {
                return Some(found);
            }
            if tokio::time::timeout_at(deadline, changed.changed())
                .await
                .is_err()
            {
                return check(&self.shared.lock());
            }
        }
    }
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

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let conn = shared.update(|s| {
                    let index = s.conns.len();
                    s.conns.push(ConnectionInfo {
                        index,
                        peer,
                        opened_at: Instant::now(),
                        closed_by_client_at: None,
                        closed_by_server_at: None,
                    });
                    index
                });
                tokio::spawn(serve_connection(stream, conn, Arc::clone(&shared)));
            }
            Err(err) => {
                // Transient (e.g. EMFILE under a parallel test run): back off instead of spinning.
                eprintln!("test server accept error: {err}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// How a connection's script ended.
enum Outcome {
    /// The client went away first (EOF, reset, or write failure), noticed at this instant.
    ClientClosed(Instant),
    /// The script ran out or hit [`Step::Close`]: the server closes.
    ServerClose,
}

async fn serve_connection(mut stream: TcpStream, conn: usize, shared: Arc<Shared>) {
    // Each Send step must leave as its own write, not be coalesced by Nagle.
    let _ = stream.set_nodelay(true);
    match exchange(&mut stream, conn, &shared).await {
        Outcome::ClientClosed(at) => {
            shared.update(|s| s.conns[conn].closed_by_client_at = Some(at));
        }
        Outcome::ServerClose => {
            // Recorded before the FIN goes out: a client that has just seen the end of the
            // stream must find it recorded (it raced the other way on a loaded machine).
            shared.update(|s| s.conns[conn].closed_by_server_at = Some(Instant::now()));
            let _ = stream.shutdown().await;
            // Closing with unread input makes the kernel send RST, which can discard
            // response bytes the client has not read yet; drain until its FIN instead.
            let _ = tokio::time::timeout(LINGER, wait_for_eof(&mut stream)).await;
        }
    }
}

/// Reads one request, records it, and plays the handler's scripted response.
async fn exchange(stream: &mut TcpStream, conn: usize, shared: &Shared) -> Outcome {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(end) = head_end(&buf).filter(|&end| end <= MAX_HEAD) {
            break end;
        }
        if buf.len() >= MAX_HEAD {
            return play(stream, &Response::status(431)).await;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return Outcome::ClientClosed(Instant::now()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let at = Instant::now();
    let Some(head) = parse_head(&buf[..end - 4]) else {
        return play(stream, &Response::status(400)).await;
    };

    let len = head.content_length();
    if len > MAX_BODY {
        return play(stream, &Response::status(413).reason("Content Too Large")).await;
    }
    let mut body = buf.split_off(end);
    while body.len() < len {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return Outcome::ClientClosed(Instant::now()),
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    body.truncate(len);

    let request = shared.update(|s| {
        let request = Request {
            index: s.requests.len(),
            conn,
            method: head.method,
            path: head.path,
            version: head.version,
            headers: head.headers,
            body,
            at,
        };
        s.requests.push(request.clone());
        request
    });
    let response = catch_unwind(AssertUnwindSafe(|| {
        (shared.handler)(&request, request.index)
    }))
    .unwrap_or_else(|_| {
        Response::body(
            500,
            "text/plain",
            "ssenotify-e2e: test server handler panicked",
        )
    });
    play(stream, &response).await
}

async fn play(stream: &mut TcpStream, response: &Response) -> Outcome {
    if !response.head_delay.is_zero()
        && let Some(at) = pause(stream, response.head_delay).await
    {
        return Outcome::ClientClosed(at);
    }
    let head = response.head_bytes();
    if !head.is_empty() && send(stream, &head).await.is_err() {
        return Outcome::ClientClosed(Instant::now());
    }
    for step in &response.steps {
        match step {
            Step::Send(bytes) => {
                if send(stream, bytes).await.is_err() {
                    return Outcome::ClientClosed(Instant::now());
                }
            }
            Step::Sleep(duration) => {
                if let Some(at) = pause(stream, *duration).await {
                    return Outcome::ClientClosed(at);
                }
            }
            Step::Close => return Outcome::ServerClose,
            Step::Hold => return Outcome::ClientClosed(wait_for_eof(stream).await),
            Step::Wait(gate) => {
                tokio::select! {
                    () = gate.pass() => {}
                    at = wait_for_eof(stream) => return Outcome::ClientClosed(at),
                }
            }
        }
    }
    Outcome::ServerClose
}

async fn send(stream: &mut TcpStream, bytes: &[u8]) -> std::io::Result<()> {
    stream.write_all(bytes).await?;
    stream.flush().await
}

/// Sleeps for `duration` unless the client closes first; returns when it did.
async fn pause(stream: &mut TcpStream, duration: Duration) -> Option<Instant> {
    tokio::select! {
        () = tokio::time::sleep(duration) => None,
        at = wait_for_eof(stream) => Some(at),
    }
}

/// Reads (and discards) until EOF or an error, i.e. until the client has closed.
///
/// A half-close by the client counts as a close: HTTP clients do not half-close
/// a request they still want the answer to.
async fn wait_for_eof(stream: &mut TcpStream) -> Instant {
    let mut scratch = [0u8; 1024];
    loop {
        match stream.read(&mut scratch).await {
            Ok(0) | Err(_) => return Instant::now(),
            Ok(_) => {}
        }
    }
}
