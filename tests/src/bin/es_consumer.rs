//! A tiny consumer built on eventsource-client: the peer in the end-to-end benchmark.
//!
//! It does what `ssenotify listen --json --once` does, one JSON line per event on stdout,
//! so that the two are compared doing the same work: `es_consumer URL > /dev/null`.

use std::io::Write;

use eventsource_client::{Client as _, ClientBuilder, ReconnectOptions, SSE};
use futures_util::StreamExt;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let url = std::env::args().nth(1).expect("usage: es_consumer URL");
    let transport = launchdarkly_sdk_transport::HyperTransport::new().expect("HTTP transport");
    let client = ClientBuilder::for_url(&url)
        .expect("valid URL")
        .reconnect(ReconnectOptions::reconnect(false).build())
        .build_with_transport(transport);
    let mut stream = client.stream();
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    while let Some(item) = stream.next().await {
        match item {
            Ok(SSE::Event(event)) => {
                let line = serde_json::json!({
                    "kind": "event",
                    "type": event.event_type,
                    "data": event.data,
                    "last_event_id": event.id.unwrap_or_default(),
                });
                serde_json::to_writer(&mut out, &line).expect("stdout");
                out.write_all(b"\n").expect("stdout");
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    out.flush().expect("stdout");
}
