//! The HTTP/1.1 side of a [`crate::TestServer`]: one request per connection, its scripted
//! [`Response`] written byte for byte.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::http::{MAX_BODY, MAX_HEAD, Request, Response, Step, head_end, parse_head};
use crate::record::Shared;

/// How long a server-side close waits for the client's FIN before dropping the socket.
const LINGER: Duration = Duration::from_secs(1);

/// How a connection's script ended.
enum Outcome {
    /// The client went away first (EOF, reset, or write failure), noticed at this instant.
    ClientClosed(Instant),
    /// The script ran out or hit [`Step::Close`]: the server closes.
    ServerClose,
}

/// Serves one request on `io` and records how the connection ended.
pub(crate) async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    conn: usize,
    shared: &Arc<Shared>,
) {
    match exchange(io, conn, shared).await {
        Outcome::ClientClosed(at) => {
            shared.update(|s| s.conns[conn].closed_by_client_at = Some(at));
        }
        Outcome::ServerClose => {
            // Recorded before the FIN goes out: a client that has just seen the end of the
            // stream must find it recorded (it raced the other way on a loaded machine).
            shared.update(|s| s.conns[conn].closed_by_server_at = Some(Instant::now()));
            let _ = io.shutdown().await;
            // Closing with unread input makes the kernel send RST, which can discard
            // response bytes the client has not read yet; drain until its FIN instead.
            let _ = tokio::time::timeout(LINGER, wait_for_eof(io)).await;
        }
    }
}

/// Reads one HTTP/1.1 request, records it, and plays the handler's scripted response.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    conn: usize,
    shared: &Arc<Shared>,
) -> Outcome {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(end) = head_end(&buf).filter(|&end| end <= MAX_HEAD) {
            break end;
        }
        if buf.len() >= MAX_HEAD {
            return play(stream, &Response::status(431), shared).await;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return Outcome::ClientClosed(Instant::now()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let at = Instant::now();
    let Some(head) = parse_head(&buf[..end - 4]) else {
        return play(stream, &Response::status(400), shared).await;
    };

    let len = head.content_length();
    if len > MAX_BODY {
        return play(
            stream,
            &Response::status(413).reason("Content Too Large"),
            shared,
        )
        .await;
    }
    let mut body = buf.split_off(end);
    while body.len() < len {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return Outcome::ClientClosed(Instant::now()),
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    body.truncate(len);

    let (_, response) = shared.respond(Request {
        index: 0,
        conn,
        method: head.method,
        path: head.path,
        version: head.version,
        headers: head.headers,
        body,
        at,
    });
    let _stream = shared.open_stream(conn);
    play(stream, &response, shared).await
}

async fn play<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    response: &Response,
    shared: &Shared,
) -> Outcome {
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
                shared.update(|s| s.body_bytes += bytes.len() as u64);
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

async fn send<S: AsyncWrite + Unpin>(stream: &mut S, bytes: &[u8]) -> std::io::Result<()> {
    stream.write_all(bytes).await?;
    stream.flush().await
}

/// Sleeps for `duration` unless the client closes first; returns when it did.
async fn pause<S: AsyncRead + Unpin>(stream: &mut S, duration: Duration) -> Option<Instant> {
    tokio::select! {
        () = tokio::time::sleep(duration) => None,
        at = wait_for_eof(stream) => Some(at),
    }
}

/// Reads (and discards) until EOF or an error, i.e. until the client has closed.
///
/// A half-close by the client counts as a close: HTTP clients do not half-close
/// a request they still want the answer to.
async fn wait_for_eof<S: AsyncRead + Unpin>(stream: &mut S) -> Instant {
    let mut scratch = [0u8; 1024];
    loop {
        match stream.read(&mut scratch).await {
            Ok(0) | Err(_) => return Instant::now(),
            Ok(_) => {}
        }
    }
}
