//! eventsource-client holding many idle subscriptions in one process: the peer of the daemon
//! footprint benchmark (`tests/benches/daemon_footprint.rs`).
//!
//! `es_idle URL_PREFIX N` opens `URL_PREFIX0` .. `URL_PREFIX{N-1}` on one shared transport
//! and a two-worker runtime (as `ssenotify run` has), prints `open` once every stream has
//! yielded its first item, then holds them until stdin closes and prints `events N`, the
//! events all streams dispatched (the throughput benchmark's peer checks it got them all).

use std::io::Read as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use eventsource_client::{Client as _, ClientBuilder, ReconnectOptions, SSE};
use futures_util::StreamExt;
use tokio::sync::Notify;

fn main() {
    let mut args = std::env::args().skip(1);
    let prefix = args.next().expect("usage: es_idle URL_PREFIX N");
    let n: usize = args
        .next()
        .and_then(|n| n.parse().ok())
        .expect("usage: es_idle URL_PREFIX N");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let events = Arc::new(AtomicUsize::new(0));
    let counted = events.clone();
    runtime.block_on(async move {
        let transport = launchdarkly_sdk_transport::HyperTransport::new().expect("HTTP transport");
        let started = Arc::new(AtomicUsize::new(0));
        let all = Arc::new(Notify::new());
        for i in 0..n {
            let client = ClientBuilder::for_url(&format!("{prefix}{i}"))
                .expect("valid URL")
                .reconnect(ReconnectOptions::reconnect(true).build())
                .build_with_transport(transport.clone());
            let (started, all, events) = (started.clone(), all.clone(), counted.clone());
            tokio::spawn(async move {
                let mut stream = client.stream();
                let mut first = true;
                while let Some(item) = stream.next().await {
                    if let Ok(SSE::Event(_)) = item {
                        events.fetch_add(1, Ordering::Relaxed);
                    }
                    if first && item.is_ok() {
                        first = false;
                        if started.fetch_add(1, Ordering::SeqCst) + 1 == n {
                            all.notify_one();
                        }
                    }
                }
            });
        }
        all.notified().await;
    });
    println!("open");
    // The workers keep serving the streams while this thread waits for the benchmark to
    // close our stdin (or die).
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    println!("events {}", events.load(Ordering::Relaxed));
    drop(runtime);
}
