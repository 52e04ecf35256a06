//! The HTTP/1.1 a plain `http://` subscription speaks (the engine's lean transport) against
//! real servers on loopback: every body framing, interim responses, HTTP/1.0, broken
//! responses; and a request a proxy from the environment applies to goes through the proxy.

use std::process::Command;

use ssenotify_e2e::{Client, Response, Step, TestServer, fast_settings, sse_event};
use ssenotify_sse::{ReadyState, Reason};

const HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n";

/// A raw response: `head` (status line and headers, without the blank line), then `body`
/// in the pieces given, each written on its own, then the server holds the connection.
fn raw(head: &[u8], pieces: &[&[u8]]) -> Response {
    let mut steps = vec![Step::Send([head, b"\r\n"].concat())];
    for piece in pieces {
        steps.push(Step::Send(piece.to_vec()));
        steps.push(Step::sleep_ms(5));
    }
    steps.push(Step::Hold);
    Response::raw(steps)
}

/// The data of the first `n` events of a subscription to `response`.
async fn first_events(response: Response, n: usize) -> Vec<String> {
    let server = TestServer::start(move |_, _| response.clone());
    let mut client = Client::start(fast_settings(server.url("/"))).await;
    let data = client.events(n).await.into_iter().map(|e| e.data).collect();
    client.close().await;
    data
}

#[tokio::test]
async fn a_chunked_stream_is_read_across_any_chunk_boundaries() {
    let head = [HEAD, b"Transfer-Encoding: chunked\r\n"].concat();
    // Chunk boundaries fall inside a field, inside the CRLF after a chunk, and inside a
    // size line with an extension.
    let pieces: &[&[u8]] = &[
        b"7\r\ndata: o",
        b"\r\n",
        b"5;x=1\r\nne\n\nd\r",
        b"\n12\r\nata: two\n\ndata: th\r\n",
        b"5\r\nree\n\n\r\n0\r\n\r\n",
    ];
    assert_eq!(
        first_events(raw(&head, pieces), 3).await,
        ["one", "two", "three"]
    );
}

#[tokio::test]
async fn a_stream_with_a_length_ends_there_and_reconnects() {
    let body = sse_event(None, Some("7"), "counted");
    let server = TestServer::start(move |request, _| {
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: {}\r\n",
            body.len()
        );
        let mut response = raw(head.as_bytes(), &[&body, b"data: past the length\n\n"]);
        if request.header("last-event-id").is_some() {
            response = Response::sse_steps(vec![Step::Hold]);
        }
        response
    });
    let mut client = Client::start(fast_settings(server.url("/"))).await;
    assert_eq!(client.events(1).await[0].data, "counted");
    let states = client.until_state(ReadyState::Open).await;
    assert!(
        states.iter().any(|s| s.reason == Reason::StreamEnded),
        "the body ended at its length: {states:?}"
    );
    assert_eq!(server.requests()[1].header("last-event-id"), Some("7"));
    client.close().await;
}

#[tokio::test]
async fn interim_responses_are_skipped_and_http_1_0_streams_until_the_close() {
    let early_hints = [
        &b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"[..],
        HEAD,
    ]
    .concat();
    assert_eq!(
        first_events(raw(&early_hints, &[b"data: hinted\n\n"]), 1).await,
        ["hinted"]
    );
    // HTTP/1.0 knows no chunked coding: the body is whatever comes until the close.
    let old =
        b"HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n";
    assert_eq!(
        first_events(raw(old, &[b"data: 1.0\n\n"]), 1).await,
        ["1.0"]
    );
}

#[tokio::test]
async fn broken_responses_are_network_errors_that_are_retried() {
    for (what, response) in [
        (
            "bad status line",
            Response::raw(vec![Step::send(b"HTTP/1.1 OK\r\n\r\n"), Step::Close]),
        ),
        (
            "not HTTP",
            Response::raw(vec![Step::send(b"SSH-2.0-OpenSSH\r\n\r\n"), Step::Close]),
        ),
        (
            "closed before the head ended",
            Response::raw(vec![Step::send(HEAD), Step::Close]),
        ),
        (
            "broken chunked framing",
            raw(
                &[HEAD, b"Transfer-Encoding: chunked\r\n"].concat(),
                &[b"zz\r\n"],
            ),
        ),
        (
            "a head over 64 KiB",
            raw(
                &[HEAD, b"X-Big: ", &vec![b'x'; 70 * 1024], b"\r\n"].concat(),
                &[],
            ),
        ),
    ] {
        let server = TestServer::start(move |_, n| match n {
            0 => response.clone(),
            _ => Response::sse_steps(vec![Step::send(b"data: recovered\n\n"), Step::Hold]),
        });
        let mut client = Client::start(fast_settings(server.url("/"))).await;
        // A broken head fails before OPEN, a broken body after it: either way a retry
        // follows, and then the OPEN of the good response.
        let mut states = Vec::new();
        let retried = loop {
            let change = client.next_state().await;
            states.push(change.clone());
            if change.ready_state == ReadyState::Connecting && change.retry_in.is_some() {
                break change;
            }
            assert!(states.len() < 4, "{what}: no retry in {states:?}");
        };
        client.until_state(ReadyState::Open).await;
        assert!(
            matches!(retried.reason, Reason::Network { .. }),
            "{what}: {:?}",
            retried.reason
        );
        assert_eq!(client.events(1).await[0].data, "recovered", "{what}");
        client.close().await;
    }
}

#[test]
fn a_proxy_from_the_environment_carries_the_request() {
    // The "proxy" is a test server: a request through a proxy names the whole URL.
    let proxy = TestServer::start(|_, _| Response::sse(b"data: via the proxy\n\n"));
    let output = Command::new(ssenotify_e2e::ssenotify_bin())
        .args([
            "listen",
            "--json",
            "--once",
            "http://feed.example.invalid/events",
        ])
        .env("HTTP_PROXY", proxy.url("/"))
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .env_remove("http_proxy")
        .output()
        .expect("ssenotify runs");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("via the proxy"),
        "{output:?}"
    );
    let request = &proxy.requests()[0];
    assert_eq!(request.path, "http://feed.example.invalid/events");
}
