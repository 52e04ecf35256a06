//! The lean transport: a plain `http://` request over its own TCP connection, the I/O shell
//! around [`crate::h1`].
//!
//! Why not reqwest here: hyper's HTTP/1.1 client keeps about 25 KiB per connection (an
//! 8 KiB read buffer, an 8 KiB write buffer and a 9 KiB request queue) for as long as the
//! stream lives, which is most of an idle subscription's memory. This shell holds no
//! buffer while it waits: a readable socket is read into one buffer per thread, and the
//! bytes go straight through the framing into the parser. reqwest keeps everything else:
//! TLS (and HTTP/2, whose connections many streams share), and any request a proxy from the
//! environment applies to.

use std::cell::RefCell;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Poll, ready};
use std::time::Duration;

use reqwest::Url;
use reqwest::header::HeaderMap;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

use crate::h1::{self, Body, H1Error};

/// How much one read takes from the socket at most.
const READ_SIZE: usize = 16 * 1024;

thread_local! {
    /// The one read buffer of each runtime thread: a socket is read only when readable, and
    /// its bytes are handed on before anything else runs on the thread.
    static READ_BUFFER: RefCell<Box<[u8]>> = RefCell::new(vec![0; READ_SIZE].into_boxed_slice());
}

/// Why a lean request failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LeanError {
    /// The host name did not resolve.
    #[error("dns error: {0}")]
    Dns(io::Error),
    /// No address of the host accepted the connection.
    #[error("tcp connect error: {0}")]
    Connect(io::Error),
    /// Connecting took longer than the connect timeout.
    #[error("tcp connect error: timed out after {0:?}")]
    ConnectTimeout(Duration),
    /// Reading or writing the connection failed.
    #[error("connection error: {0}")]
    Io(io::Error),
    /// The response is not valid HTTP/1.1.
    #[error("{0}")]
    Http(#[from] H1Error),
}

/// How lean connections are made.
#[derive(Debug, Clone)]
pub(crate) struct Lean {
    /// Sent unless a subscription's headers name their own.
    pub user_agent: &'static str,
    /// The most a connect may take.
    pub connect_timeout: Duration,
    /// Idle time before the kernel's keep-alive probes start.
    pub keepalive: Duration,
}

/// A response's body on its own connection, as it arrives.
pub(crate) struct Response {
    stream: TcpStream,
    body: Body,
    /// Body bytes that arrived with the head, handed out first.
    early: Vec<u8>,
}

impl Lean {
    /// Connects to `url`'s host, sends a `GET` with `headers` and reads the response's head.
    pub(crate) async fn send(
        &self,
        url: &Url,
        headers: &HeaderMap,
    ) -> Result<(h1::Head, Response), LeanError> {
        let mut stream = self.connect(url).await?;
        stream
            .write_all(&h1::request(url, headers, self.user_agent))
            .await
            .map_err(LeanError::Io)?;
        let mut buf = Vec::with_capacity(1024);
        loop {
            if let Some((head, used)) = h1::parse_head(&buf)? {
                let body = Body::new(&head)?;
                buf.drain(..used);
                buf.shrink_to_fit();
                let response = Response {
                    stream,
                    body,
                    early: buf,
                };
                return Ok((head, response));
            }
            if stream.read_buf(&mut buf).await.map_err(LeanError::Io)? == 0 {
                return Err(H1Error::Incomplete.into());
            }
        }
    }

    async fn connect(&self, url: &Url) -> Result<TcpStream, LeanError> {
        let host = url.host_str().unwrap_or("");
        // An IPv6 literal comes bracketed in URLs, bare in socket addresses.
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = url.port_or_known_default().unwrap_or(80);
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(LeanError::Dns)?
            .collect();
        // Each address gets its share of the timeout (as hyper's connector gives it), so a
        // host whose first address swallows packets is still reached on the next.
        let share = self.connect_timeout / (addrs.len().max(1) as u32);
        let mut last = LeanError::Connect(io::Error::new(
            io::ErrorKind::NotFound,
            "no address for the host",
        ));
        let mut connected = None;
        for addr in addrs {
            match tokio::time::timeout(share, TcpStream::connect(addr)).await {
                Ok(Ok(stream)) => {
                    connected = Some(stream);
                    break;
                }
                Ok(Err(error)) => last = LeanError::Connect(error),
                Err(_) => last = LeanError::ConnectTimeout(share),
            }
        }
        let stream = connected.ok_or(last)?;
        // Events are small and must not wait for more; keep-alive probes notice a peer
        // that vanished without a FIN sooner than the idle timeout would (as reqwest's).
        stream.set_nodelay(true).map_err(LeanError::Io)?;
        let keepalive = socket2::TcpKeepalive::new().with_time(self.keepalive);
        socket2::SockRef::from(&stream)
            .set_tcp_keepalive(&keepalive)
            .map_err(LeanError::Io)?;
        Ok(stream)
    }
}

impl Response {
    /// Waits for the next bytes of the body and hands them to `data`; `false` once the body
    /// has ended (or the server closed a body that runs to the close).
    pub(crate) async fn read(
        &mut self,
        data: &mut (dyn FnMut(&[u8]) + Send),
    ) -> Result<bool, LeanError> {
        if !self.early.is_empty() {
            let early = std::mem::take(&mut self.early);
            return Ok(!self.body.feed(&early, data)?);
        }
        if self.body.is_done() {
            return Ok(false);
        }
        // `poll_read`, not `readable` and `try_read`: a read that leaves the buffer part
        // empty has drained the socket, and tokio then waits for the next edge instead of
        // trying once more only to hear `WouldBlock` (a second `recv` for every event).
        let (stream, body) = (&mut self.stream, &mut self.body);
        std::future::poll_fn(|cx| {
            READ_BUFFER.with_borrow_mut(|buf| {
                let mut read = ReadBuf::new(buf);
                ready!(Pin::new(&mut *stream).poll_read(cx, &mut read)).map_err(LeanError::Io)?;
                Poll::Ready(match read.filled() {
                    [] => body.eof().map(|()| false).map_err(LeanError::from),
                    bytes => Ok(!body.feed(bytes, data)?),
                })
            })
        })
        .await
    }
}
