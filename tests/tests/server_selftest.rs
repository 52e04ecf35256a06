//! Tests of the scriptable test server itself, driven by a raw TCP client so
//! that nothing between the server and the assertions can normalise the bytes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ssenotify_e2e::{Response, Step, TestServer, http_chunk, sse_event};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(2);

/// Connects and sends a GET for `path` with `extra` header lines (each ending in `\r\n`).
async fn get(addr: SocketAddr, path: &str, extra: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let req =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n{extra}\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    stream
}

async fn read_all(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    timeout(LIMIT, stream.read_to_end(&mut out))
        .await
        .expect("server closed the response in time")
        .unwrap();
    out
}

/// Reads until `want` bytes have arrived (the server keeps the socket open).
async fn read_exact_len(stream: &mut TcpStream, want: usize) -> Vec<u8> {
    let mut out = vec![0; want];
    timeout(LIMIT, stream.read_exact(&mut out))
        .await
        .expect("bytes arrived in time")
        .unwrap();
    out
}

#[tokio::test]
async fn sse_body_is_served_byte_exactly() {
    let mut body = sse_event(Some("greeting"), Some("1"), "héllo\nwörld");
    body.extend_from_slice(b": comment\r\ndata:no-space\r\r\n");
    let served = body.clone();
    let server = TestServer::start(move |_, _| Response::sse(&served));

    let mut client = get(server.addr(), "/events?topic=a%20b", "").await;
    let got = read_all(&mut client).await;

    let mut expected = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\
        Cache-Control: no-cache\r\nConnection: close\r\n\r\n"
        .to_vec();
    expected.extend_from_slice(&body);
    assert_eq!(got, expected);

    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        (reqs[0].method.as_str(), reqs[0].path.as_str()),
        ("GET", "/events?topic=a%20b")
    );
    assert_eq!(reqs[0].path_only(), "/events");
    assert_eq!(reqs[0].query(), Some("topic=a%20b"));
    assert_eq!(reqs[0].conn, 0);
    assert!(server.connections()[0].closed_by_server_at.is_some());
    assert_eq!(
        server.url("events"),
        format!("http://{}/events", server.addr())
    );
}

#[tokio::test]
async fn custom_headers_are_recorded_case_insensitively() {
    let server = TestServer::start(|_, _| Response::status(404));
    let mut client = get(
        server.addr(),
        "/x",
        "Last-Event-ID: 42\r\nX-Custom:   spaced value \r\nX-Dup: a\r\nx-dup: b\r\n",
    )
    .await;
    let got = read_all(&mut client).await;
    assert!(got.starts_with(b"HTTP/1.1 404 Not Found\r\n"), "{got:?}");

    let reqs = server
        .wait_for_requests(1, LIMIT)
        .await
        .expect("request recorded");
    let req = &reqs[0];
    assert_eq!(req.header("last-event-id"), Some("42"));
    assert_eq!(req.header("LAST-EVENT-ID"), Some("42"));
    assert_eq!(req.header("x-custom"), Some("spaced value"));
    assert_eq!(req.header_all("X-DUP"), ["a", "b"]);
    assert_eq!(req.header("absent"), None);
}

#[tokio::test]
async fn redirect_keeps_relative_location_verbatim() {
    let server = TestServer::start(|req, _| match req.path.as_str() {
        "/old" => Response::redirect(307, "../new?x=1"),
        _ => Response::status(404),
    });
    let mut client = get(server.addr(), "/old", "").await;
    let got = read_all(&mut client).await;
    assert_eq!(
        got,
        b"HTTP/1.1 307 Temporary Redirect\r\nContent-Length: 0\r\nConnection: close\r\n\
          Location: ../new?x=1\r\n\r\n"
    );
}

#[tokio::test]
async fn client_close_is_detected_within_a_second() {
    let first = sse_event(None, Some("1"), "first");
    let served = first.clone();
    let server =
        TestServer::start(move |_, _| Response::sse_steps(vec![Step::send(&served), Step::Hold]));
    let mut client = get(server.addr(), "/stream", "").await;
    let head_len = Response::sse("").head_bytes().len();
    let got = read_exact_len(&mut client, head_len + first.len()).await;
    assert!(got.ends_with(&first));
    assert_eq!(server.open_connections(), 1);

    let closed = Instant::now();
    drop(client);
    let seen = server
        .wait_for_client_close(0, Duration::from_secs(1))
        .await
        .expect("server saw the client close");
    assert!(seen.duration_since(closed) < Duration::from_secs(1));
    assert!(server.wait_for_open_connections(0, LIMIT).await);
    assert!(server.connections()[0].closed_by_server_at.is_none());
}

#[tokio::test]
async fn client_close_is_detected_during_sleep() {
    let server = TestServer::start(|_, _| {
        Response::sse_steps(vec![
            Step::Sleep(Duration::from_secs(30)),
            Step::send("late"),
        ])
    });
    let client = get(server.addr(), "/", "").await;
    server.wait_for_requests(1, LIMIT).await.unwrap();
    drop(client);
    assert!(
        server
            .wait_for_client_close(0, Duration::from_secs(1))
            .await
            .is_some()
    );
}

#[tokio::test]
async fn status_204_has_no_body() {
    let server = TestServer::start(|_, _| Response::status(204));
    let mut client = get(server.addr(), "/", "").await;
    let got = read_all(&mut client).await;
    assert_eq!(got, b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
}

#[tokio::test]
async fn handler_sees_request_count_and_connections_are_indexed() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    let server = TestServer::start(move |_, n| {
        seen.fetch_add(1, Ordering::SeqCst);
        if n == 0 {
            Response::status(503).header("Retry-After", "1")
        } else {
            Response::html("<p>hi</p>")
        }
    });
    let first = read_all(&mut get(server.addr(), "/", "").await).await;
    assert!(first.starts_with(b"HTTP/1.1 503 Service Unavailable\r\n"));
    let second = read_all(&mut get(server.addr(), "/", "").await).await;
    assert_eq!(
        second,
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 9\r\n\
          Connection: close\r\n\r\n<p>hi</p>"
    );
    let reqs = server.requests();
    assert_eq!((reqs[0].conn, reqs[1].conn), (0, 1));
    assert_eq!((reqs[0].index, reqs[1].index), (0, 1));
    assert!(reqs[0].at <= reqs[1].at);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn steps_are_delivered_separately_in_order() {
    let server = TestServer::start(|_, _| {
        Response::sse_steps(vec![
            Step::send(b"data: \xC3"),
            Step::sleep_ms(150),
            Step::send(b"\xA9\n\n"),
        ])
        .header("Transfer-Encoding", "identity")
    });
    let mut client = get(server.addr(), "/", "").await;
    let head_len = Response::sse("")
        .header("Transfer-Encoding", "identity")
        .head_bytes()
        .len();
    let start = Instant::now();
    let first = read_exact_len(&mut client, head_len + 7).await;
    assert!(first.ends_with(b"data: \xC3"));
    let rest = read_all(&mut client).await;
    assert_eq!(rest, b"\xA9\n\n");
    assert!(start.elapsed() >= Duration::from_millis(100));
}

#[tokio::test]
async fn raw_chunked_and_delayed_head() {
    let server = TestServer::start(|_, _| {
        Response::raw(vec![
            Step::send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Step::send(http_chunk(b"data: x\n\n")),
            Step::send(http_chunk(b"")),
        ])
        .delay_head(Duration::from_millis(100))
    });
    let start = Instant::now();
    let got = read_all(&mut get(server.addr(), "/", "").await).await;
    assert!(start.elapsed() >= Duration::from_millis(90));
    assert_eq!(
        got,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\ndata: x\n\n\r\n0\r\n\r\n"
    );
}

#[tokio::test]
async fn malformed_request_gets_400_and_is_not_recorded() {
    let server = TestServer::start(|_, _| Response::sse(""));
    let mut client = TcpStream::connect(server.addr()).await.unwrap();
    client.write_all(b"NONSENSE\r\n\r\n").await.unwrap();
    let got = read_all(&mut client).await;
    assert!(got.starts_with(b"HTTP/1.1 400 Bad Request\r\n"), "{got:?}");
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn dropping_the_server_closes_held_connections() {
    let server = TestServer::start(|_, _| Response::sse_steps(vec![Step::Hold]));
    let mut client = get(server.addr(), "/", "").await;
    server.wait_for_requests(1, LIMIT).await.unwrap();
    let addr = server.addr();
    drop(server);
    let got = read_all(&mut client).await;
    assert!(got.starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert!(TcpStream::connect(addr).await.is_err(), "listener closed");
}

#[test]
fn works_without_a_tokio_runtime() {
    use std::io::{Read, Write};
    let server = TestServer::start(|_, _| Response::status(204));
    let mut client = std::net::TcpStream::connect(server.addr()).unwrap();
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    client.set_read_timeout(Some(LIMIT)).unwrap();
    let mut got = Vec::new();
    client.read_to_end(&mut got).unwrap();
    assert!(got.starts_with(b"HTTP/1.1 204 No Content\r\n"));
}
