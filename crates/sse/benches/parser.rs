//! Parser throughput: ssenotify's sans-IO parser against eventsource-client, on identical bytes.
//!
//! Both parsers get the very same [`Bytes`] chunks (64 KiB each) of one in-memory body.
//! eventsource-client keeps its parser private, so it is driven through its public client
//! with an in-memory [`HttpTransport`] that answers `200 text/event-stream` with those
//! chunks; reconnect is disabled, so its stream ends with the body. Before any timing, each
//! comparison asserts that both parsers dispatch the same events with the same data.
//!
//! Groups:
//! - `small_events`: 1,000,000 `event: msg\ndata: {"n":123}\n\n` events, throughput in events.
//! - `large_events`: 16 events of 1 MiB of data each, throughput in bytes.
//! - `linear`: ours only, ~16 MiB of events of 1 KiB .. 4 MiB data, throughput in bytes, to
//!   show that the cost per byte does not grow with the event size.
//!
//! Run with `cargo bench -p ssenotify-sse --bench parser`.

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group,
    criterion_main, measurement::WallTime,
};
use eventsource_client::{Client as _, ClientBuilder, Error as EsError, ReconnectOptions, SSE};
use futures_util::StreamExt as _;
use launchdarkly_sdk_transport::{
    ByteStream, HttpTransport, Request, Response, ResponseFuture, TransportError,
};
use ssenotify_sse::parse::{DEFAULT_MAX_EVENT_SIZE, Output, Parser};

/// Size of each chunk fed to the parsers, like one socket read.
const CHUNK: usize = 64 * 1024;

/// One small event, the shape of a typical notification.
const SMALL_EVENT: &[u8] = b"event: msg\ndata: {\"n\":123}\n\n";

/// How many small events the `small_events` body holds.
const SMALL_COUNT: usize = 1_000_000;

/// Data size of each event in the `large_events` body.
const LARGE_SIZE: usize = 1024 * 1024;

/// How many events the `large_events` body holds.
const LARGE_COUNT: usize = 16;

/// The total body size each `linear` case aims at.
const LINEAR_TOTAL: usize = 16 * 1024 * 1024;

/// Data sizes of the `linear` cases.
const LINEAR_SIZES: [usize; 5] = [1024, 16 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024];

/// Event size cap for the `linear` group: above its largest (4 MiB) event.
const LINEAR_MAX_EVENT_SIZE: usize = 8 * 1024 * 1024;

/// Split `body` into 64 KiB [`Bytes`] chunks sharing one allocation.
fn chunked(body: Vec<u8>) -> Vec<Bytes> {
    let body = Bytes::from(body);
    (0..body.len())
        .step_by(CHUNK)
        .map(|start| body.slice(start..(start + CHUNK).min(body.len())))
        .collect()
}

/// A body of `count` events, each `data: ` + `size` bytes of `x` + a blank line.
fn data_events(size: usize, count: usize) -> Vec<u8> {
    let mut event = Vec::with_capacity(size + 8);
    event.extend_from_slice(b"data: ");
    event.resize(6 + size, b'x');
    event.extend_from_slice(b"\n\n");
    event.repeat(count)
}

/// Total length of the chunks, for byte throughput.
fn total_len(chunks: &[Bytes]) -> u64 {
    chunks.iter().map(|c| c.len() as u64).sum()
}

/// Feed all chunks to a fresh parser, calling `on_event(type, data)` per dispatched event.
fn run_ours(chunks: &[Bytes], max_event_size: usize, mut on_event: impl FnMut(&str, &str)) {
    let mut parser = Parser::new(max_event_size);
    for chunk in chunks {
        parser
            .feed(chunk, |out| {
                if let Output::Event(ev) = out {
                    on_event(ev.event_type, ev.data);
                }
            })
            .expect("our parser refused the bench body");
    }
}

/// Ours, as timed: count events and black-box each data length.
fn count_ours(chunks: &[Bytes], max_event_size: usize) -> usize {
    let mut events = 0usize;
    run_ours(chunks, max_event_size, |_, data| {
        events += 1;
        black_box(data.len());
    });
    events
}

/// An [`HttpTransport`] that answers every request with `200 text/event-stream` and the
/// given chunks as its body.
#[derive(Clone)]
struct MemoryTransport {
    /// The body, already chunked; cloning a [`Bytes`] only bumps a reference count.
    chunks: Vec<Bytes>,
}

impl HttpTransport for MemoryTransport {
    fn request(&self, _request: Request<Option<Bytes>>) -> ResponseFuture {
        let items: Vec<Result<Bytes, TransportError>> =
            self.chunks.iter().cloned().map(Ok).collect();
        let body: ByteStream = Box::pin(futures_util::stream::iter(items));
        let response = Response::builder()
            .status(200)
            .header("content-type", "text/event-stream")
            .body(body)
            .expect("valid response");
        Box::pin(std::future::ready(Ok(response)))
    }
}

/// Drive eventsource-client over the chunks to the end of the body, calling
/// `on_event(type, data)` per dispatched event.
fn run_theirs(
    runtime: &tokio::runtime::Runtime,
    chunks: &[Bytes],
    mut on_event: impl FnMut(&str, &str),
) {
    let client = ClientBuilder::for_url("http://bench.invalid/")
        .expect("valid url")
        .reconnect(
            ReconnectOptions::reconnect(false)
                .retry_initial(false)
                .build(),
        )
        .build_with_transport(MemoryTransport {
            chunks: chunks.to_vec(),
        });
    runtime.block_on(async {
        let mut stream = client.stream();
        while let Some(item) = stream.next().await {
            match item {
                Ok(SSE::Event(ev)) => on_event(&ev.event_type, &ev.data),
                Ok(SSE::Connected(_) | SSE::Comment(_)) => {}
                // The body ended on an event boundary; with reconnect off the stream closes.
                Err(EsError::Eof) => {}
                Err(e) => panic!("eventsource-client failed on the bench body: {e}"),
            }
        }
    });
}

/// Theirs, as timed: count events and black-box each data length.
fn count_theirs(runtime: &tokio::runtime::Runtime, chunks: &[Bytes]) -> usize {
    let mut events = 0usize;
    run_theirs(runtime, chunks, |_, data| {
        events += 1;
        black_box(data.len());
    });
    events
}

/// Assert, before timing, that both parsers dispatch the same events with the same data.
fn assert_same_events(runtime: &tokio::runtime::Runtime, chunks: &[Bytes], expected: usize) {
    let mut ours = Vec::new();
    run_ours(chunks, DEFAULT_MAX_EVENT_SIZE, |t, d| {
        ours.push((t.to_owned(), d.to_owned()))
    });
    let mut theirs = Vec::new();
    run_theirs(runtime, chunks, |t, d| {
        theirs.push((t.to_owned(), d.to_owned()))
    });
    assert_eq!(ours.len(), expected, "our event count");
    assert_eq!(theirs.len(), expected, "eventsource-client event count");
    assert!(ours == theirs, "the parsers dispatched different events");
}

/// A current-thread runtime for eventsource-client (everything is ready at once).
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Modest settings so the whole bench runs in a few minutes on two cores.
fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        // Iterations take tens to hundreds of milliseconds: equal-sized samples.
        .sampling_mode(SamplingMode::Flat);
}

/// Both parsers on 1,000,000 small events; throughput in events.
fn small_events(c: &mut Criterion) {
    let runtime = runtime();
    let chunks = chunked(SMALL_EVENT.repeat(SMALL_COUNT));
    assert_same_events(&runtime, &chunks, SMALL_COUNT);

    let mut group = c.benchmark_group("small_events");
    configure(&mut group);
    group.throughput(Throughput::Elements(SMALL_COUNT as u64));
    group.bench_function("ssenotify", |b| {
        b.iter(|| assert_eq!(count_ours(&chunks, DEFAULT_MAX_EVENT_SIZE), SMALL_COUNT))
    });
    group.bench_function("eventsource-client", |b| {
        b.iter(|| assert_eq!(count_theirs(&runtime, &chunks), SMALL_COUNT))
    });
    group.finish();
}

/// Both parsers on 16 events of 1 MiB of data; throughput in bytes.
fn large_events(c: &mut Criterion) {
    let runtime = runtime();
    let chunks = chunked(data_events(LARGE_SIZE, LARGE_COUNT));
    assert_same_events(&runtime, &chunks, LARGE_COUNT);

    let mut group = c.benchmark_group("large_events");
    configure(&mut group);
    group.throughput(Throughput::Bytes(total_len(&chunks)));
    group.bench_function("ssenotify", |b| {
        b.iter(|| assert_eq!(count_ours(&chunks, DEFAULT_MAX_EVENT_SIZE), LARGE_COUNT))
    });
    group.bench_function("eventsource-client", |b| {
        b.iter(|| assert_eq!(count_theirs(&runtime, &chunks), LARGE_COUNT))
    });
    group.finish();
}

/// Ours only, ~16 MiB of events per data size from 1 KiB to 4 MiB; throughput in bytes.
fn linear(c: &mut Criterion) {
    let mut group = c.benchmark_group("linear");
    configure(&mut group);
    for size in LINEAR_SIZES {
        let count = LINEAR_TOTAL / size;
        let chunks = chunked(data_events(size, count));
        let mut sizes_ok = true;
        run_ours(&chunks, LINEAR_MAX_EVENT_SIZE, |_, d| {
            sizes_ok &= d.len() == size
        });
        assert!(sizes_ok, "an event of the wrong size");
        assert_eq!(count_ours(&chunks, LINEAR_MAX_EVENT_SIZE), count);

        group.throughput(Throughput::Bytes(total_len(&chunks)));
        group.bench_with_input(
            BenchmarkId::new("ssenotify", format!("{}KiB", size / 1024)),
            &chunks,
            |b, chunks| b.iter(|| assert_eq!(count_ours(chunks, LINEAR_MAX_EVENT_SIZE), count)),
        );
    }
    group.finish();
}

criterion_group!(benches, small_events, large_events, linear);
criterion_main!(benches);
