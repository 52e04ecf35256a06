//! A stream compressed although the request asked for none (`Accept-Encoding: identity`):
//! gzip and deflate (and br) are decoded as their pieces arrive, as a browser would; a coding
//! the client cannot decode ends CLOSED with its name instead of sitting OPEN in silence.

use std::io::Write;

use flate2::Compression;
use flate2::write::{GzEncoder, ZlibEncoder};
use ssenotify_e2e::{Client, Gate, Response, Step, TestServer, fast_settings, sse_event};
use ssenotify_sse::{ReadyState, Reason};

/// Three events compressed as one stream, each flushed into its own piece (what a server's
/// compression middleware does when it flushes after every event).
fn compressed_pieces<W: Write>(mut encoder: W, output: fn(&mut W) -> &mut Vec<u8>) -> Vec<Vec<u8>> {
    let mut pieces = Vec::new();
    for n in 1..=3 {
        let event = sse_event(None, Some(&n.to_string()), &format!("event {n}"));
        encoder.write_all(&event).unwrap();
        encoder.flush().unwrap();
        pieces.push(std::mem::take(output(&mut encoder)));
    }
    pieces
}

/// Serve `pieces` with `Content-Encoding: coding`, each after the test opened `gate`.
async fn events_arrive_piece_by_piece(coding: &str, pieces: Vec<Vec<u8>>) {
    let gate = Gate::new();
    let mut steps = Vec::new();
    for (n, piece) in pieces.into_iter().enumerate() {
        if n > 0 {
            steps.push(Step::Wait(gate.clone()));
        }
        steps.push(Step::Send(piece));
    }
    steps.push(Step::Hold);
    let response = Response::sse_steps(steps).header("Content-Encoding", coding);
    let server = TestServer::start(move |_, _| response.clone());
    let mut client = Client::start(fast_settings(server.url("/"))).await;

    let open = client.until_state(ReadyState::Open).await.pop().unwrap();
    assert_eq!(open.reason, Reason::Opened { status: 200 }, "{coding}");
    for n in 1..=3 {
        // The server sends the next piece only once this event has arrived: an event that
        // waited for the end of the body (or the next piece) would never come.
        let event = &client.events(1).await[0];
        assert_eq!(event.data, format!("event {n}"), "{coding}");
        assert_eq!(&*event.last_event_id, n.to_string(), "{coding}");
        gate.open();
    }
    assert_eq!(
        server.requests()[0].header("accept-encoding"),
        Some("identity")
    );
    client.close().await;
}

#[tokio::test]
async fn a_gzip_stream_is_decoded_as_its_pieces_arrive() {
    let gzip = GzEncoder::new(Vec::new(), Compression::default());
    let pieces = compressed_pieces(gzip, GzEncoder::get_mut);
    events_arrive_piece_by_piece("gzip", pieces).await;
}

#[tokio::test]
async fn a_deflate_stream_is_decoded_as_its_pieces_arrive() {
    let zlib = ZlibEncoder::new(Vec::new(), Compression::default());
    let pieces = compressed_pieces(zlib, ZlibEncoder::get_mut);
    events_arrive_piece_by_piece("deflate", pieces).await;
}

#[tokio::test]
async fn a_coding_the_client_cannot_decode_ends_closed_with_its_name() {
    let server = TestServer::start(|_, _| {
        Response::sse_steps(vec![Step::send(b"\x28\xb5\x2f\xfd garbage"), Step::Hold])
            .header("Content-Encoding", "zstd")
    });
    let mut client = Client::start(fast_settings(server.url("/"))).await;
    let states = client.until_state(ReadyState::Closed).await;
    assert!(
        states.iter().all(|s| s.ready_state != ReadyState::Open),
        "{states:?}"
    );
    let closed = states.last().unwrap();
    assert_eq!(
        closed.reason,
        Reason::UnsupportedEncoding {
            encoding: "zstd".into()
        }
    );
    assert_eq!(
        closed.reason.to_string(),
        "unsupported content encoding: zstd (gzip, br and deflate are decoded)"
    );
}
