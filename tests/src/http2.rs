//! The HTTP/2 side of a [`crate::TestServer`] over TLS: one connection's streams, each
//! answered with its scripted [`Response`], the body sent as the client's flow-control
//! window allows (so a client that stops reading stops the server: backpressure is seen).
//!
//! A [`Step::Close`] ends the stream (END_STREAM), not the connection; a [`Step::Hold`]
//! keeps the stream open until the client resets it or the connection goes.

use std::future::poll_fn;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use h2::server::SendResponse;
use h2::{RecvStream, SendStream};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::http::{Request, Response, Step};
use crate::record::Shared;

/// Header fields HTTP/2 forbids (RFC 9113, 8.2.2): a scripted HTTP/1.1 response's
/// `Connection: close` and the like are left out.
const CONNECTION_SPECIFIC: [&str; 5] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
];

/// Serves HTTP/2 on `io` (TLS has negotiated `h2`) until the client closes the connection or
/// breaks the protocol, and records when that was noticed. At most `max_streams` streams are
/// open at once (SETTINGS_MAX_CONCURRENT_STREAMS).
pub(crate) async fn serve<S>(io: S, conn: usize, shared: &Arc<Shared>, max_streams: u32)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut builder = h2::server::Builder::new();
    builder.max_concurrent_streams(max_streams);
    if let Ok(mut connection) = builder.handshake::<_, Bytes>(io).await {
        accept(&mut connection, conn, shared).await;
    }
    shared.update(|s| s.conns[conn].closed_by_client_at = Some(Instant::now()));
}

/// Answers each stream the client opens on its own task.
async fn accept<S>(
    connection: &mut h2::server::Connection<S, Bytes>,
    conn: usize,
    shared: &Arc<Shared>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    while let Some(Ok((request, respond))) = connection.accept().await {
        let (_, response) = shared.respond(recorded(&request, conn));
        let open = shared.open_stream(conn);
        let shared = Arc::clone(shared);
        // The connection is driven here, by `accept`; each stream plays on its own task, and
        // ends with an error when the connection goes (killed, frozen, closed by the client).
        tokio::spawn(async move {
            play(respond, &response, &shared).await;
            drop(open);
        });
    }
}

/// The request as the tests see it: the regular header fields, `HTTP/2` as its version.
fn recorded(request: &http::Request<RecvStream>, conn: usize) -> Request {
    Request {
        index: 0,
        conn,
        method: request.method().to_string(),
        path: request
            .uri()
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned()),
        version: "HTTP/2".to_owned(),
        headers: request
            .headers()
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).trim().to_owned();
                (name.as_str().to_owned(), value)
            })
            .collect(),
        body: Vec::new(),
        at: Instant::now(),
    }
}

/// Plays `response` on one stream; returns when it ended (script done, reset, or gone).
async fn play(mut respond: SendResponse<Bytes>, response: &Response, shared: &Shared) {
    if response.raw {
        let error = Response::body(500, "text/plain", "a raw response needs HTTP/1.1");
        return Box::pin(play(respond, &error, shared)).await;
    }
    if !response.head_delay.is_zero()
        && tokio::select! {
            () = tokio::time::sleep(response.head_delay) => false,
            _ = poll_fn(|cx| respond.poll_reset(cx)) => true,
        }
    {
        return;
    }
    let mut head = http::Response::builder().status(response.status);
    for (name, value) in &response.headers {
        if !CONNECTION_SPECIFIC.contains(&name.to_ascii_lowercase().as_str()) {
            head = head.header(name.as_str(), value.as_str());
        }
    }
    let head = head.body(()).expect("a scripted head HTTP/2 can carry");
    let Ok(mut stream) = respond.send_response(head, false) else {
        return;
    };
    for step in &response.steps {
        let went_on = match step {
            Step::Send(bytes) => send(&mut stream, Bytes::copy_from_slice(bytes), shared).await,
            Step::Sleep(duration) => tokio::select! {
                () = tokio::time::sleep(*duration) => true,
                _ = poll_fn(|cx| stream.poll_reset(cx)) => false,
            },
            Step::Close => break,
            Step::Hold => {
                let _ = poll_fn(|cx| stream.poll_reset(cx)).await;
                return;
            }
            Step::Wait(gate) => tokio::select! {
                () = gate.pass() => true,
                _ = poll_fn(|cx| stream.poll_reset(cx)) => false,
            },
        };
        if !went_on {
            return;
        }
    }
    let _ = stream.send_data(Bytes::new(), true);
}

/// Sends `data` as the stream's flow-control window opens; false if the stream went away.
async fn send(stream: &mut SendStream<Bytes>, mut data: Bytes, shared: &Shared) -> bool {
    while !data.is_empty() {
        stream.reserve_capacity(data.len());
        let mut capacity = stream.capacity();
        if capacity == 0 {
            shared.update(|s| s.blocked_streams += 1);
            let granted = poll_fn(|cx| stream.poll_capacity(cx)).await;
            shared.update(|s| s.blocked_streams -= 1);
            match granted {
                Some(Ok(granted)) => capacity = granted,
                _ => return false,
            }
        }
        let chunk = data.split_to(capacity.min(data.len()));
        let len = chunk.len() as u64;
        if stream.send_data(chunk, false).is_err() {
            return false;
        }
        shared.update(|s| s.body_bytes += len);
    }
    true
}
