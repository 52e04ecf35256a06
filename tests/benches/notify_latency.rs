//! Event-to-notification-call latency over loopback at 100 events per second.
//!
//! Run: `cargo bench -p ssenotify-e2e --bench notify_latency`
//! (`BENCH_SECS` sets how long the stream runs, default 20; `BENCH_DUNST_SECS` the run
//! through dunst, default 10; `0` skips either; `BENCH_DUNST_LIMIT` is dunst's
//! `notification_limit`, default 5).
//!
//! 1. **The boundary we own.** The daemon runs in this process
//!    (`Daemon::start(paths, sink)`) with a recording [`NotifySink`]: the instant of each
//!    `deliver` call is the notification call. A loopback SSE server writes one event every
//!    10 ms, each carrying the instant just before its write; the figure is deliver time
//!    minus write time, through everything in between (TCP, the SSE parser, history's
//!    SQLite transaction, routing and templates, storm control). Target: p99 ≤ 5 ms.
//! 2. **Through the real notifier and dunst.** The same path with the real
//!    `DesktopNotifier` in front of dunst on a private Xvfb and session bus (the test
//!    fixture of `tests/src/desktop.rs`). It runs in a child process of this bench, because
//!    notify-rust finds the bus through the environment and this crate may not call the
//!    unsafe `set_var`. A watcher samples the notifier's `delivered` counter every 50 µs,
//!    which moves when `show_async` has returned (the server answered `Notify`).
//!    dunst shows at most 5 popups at once here (the rest wait in its queue): with no
//!    limit, 100 popups a second pile up on screen and redrawing them takes dunst and Xvfb
//!    all of two cores, so the figure would be dunst's drawing, not the call. In real use
//!    the rate limit (5 popups per 10 s by default) keeps far below either.
//!
//! The server here is a few lines of its own rather than [`ssenotify_e2e::TestServer`]:
//! the timestamp must be taken when an event is written, not when a script is built.

use std::io::Write as _;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ssenotify_config::Paths;
use ssenotify_daemon::{Daemon, Delivery, DesktopNotifier, NotifySink};
use ssenotify_e2e::desktop::{Desktop, DesktopOptions};
use ssenotify_protocol::NotifierHealth;
use ssenotify_router::Notification;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Events per second.
const RATE: u64 = 100;
/// The target for the p99 of write → deliver.
const TARGET_P99: Duration = Duration::from_millis(5);
/// Set in the child process that runs the dunst measurement.
const CHILD: &str = "SSENOTIFY_BENCH_DUNST_CHILD";

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Records when each notification reaches the sink, and optionally passes it on.
struct Recording {
    origin: Instant,
    /// (instant of `deliver` since `origin`, the notification's body, whether the inner
    /// sink queued it).
    calls: Mutex<Vec<(Duration, String, bool)>>,
    inner: Option<Arc<DesktopNotifier>>,
}

impl NotifySink for Recording {
    fn deliver(&self, subscription: &str, notification: Notification) -> Delivery {
        let at = self.origin.elapsed();
        let body = notification.body.clone();
        let delivery = match &self.inner {
            Some(inner) => inner.deliver(subscription, notification),
            None => Delivery::Queued,
        };
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).push((
            at,
            body,
            delivery == Delivery::Queued,
        ));
        delivery
    }

    fn health(&self) -> NotifierHealth {
        match &self.inner {
            Some(inner) => inner.health(),
            None => NotifierHealth::default(),
        }
    }
}

/// A loopback SSE server on its own thread: one connection, `count` events at [`RATE`]
/// per second, each `data: <seq> <nanoseconds since origin, taken just before the write>`.
fn start_server(origin: Instant, count: u64) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.set_nonblocking(true).expect("non-blocking");
    let url = format!("http://{}/events", listener.local_addr().expect("address"));
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("server runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let (mut stream, _) = listener.accept().await.expect("the daemon connects");
            stream.set_nodelay(true).expect("nodelay");
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = stream.read(&mut buf).await.expect("request");
                assert!(n > 0, "the client closed before its request ended");
                head.extend_from_slice(&buf[..n]);
            }
            stream
                .write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n",
                )
                .await
                .expect("head");
            let start = tokio::time::Instant::now() + Duration::from_millis(200);
            for seq in 0..count {
                tokio::time::sleep_until(start + Duration::from_nanos(seq * 1_000_000_000 / RATE))
                    .await;
                let written = origin.elapsed().as_nanos();
                let event = format!("id: {seq}\ndata: {seq} {written}\n\n");
                if stream.write_all(event.as_bytes()).await.is_err() {
                    return;
                }
            }
            // Hold the stream until the daemon goes.
            let _ = stream.read(&mut buf).await;
        });
    });
    url
}

/// Start the daemon in `dir` on a subscription to `url` whose rate limit lets every event
/// through; returns it once the file is applied.
async fn start_daemon(dir: &std::path::Path, url: &str, sink: Arc<dyn NotifySink>) -> Daemon {
    let paths = Paths::at(dir);
    std::fs::create_dir_all(&paths.config_dir).expect("config dir");
    std::fs::write(
        paths.subscriptions_file(),
        format!(
            "[[subscription]]\nid = \"bench\"\nurl = \"{url}\"\nrate_limit = {{ max = 1000, per = \"1s\" }}\n"
        ),
    )
    .expect("subscriptions file");
    Daemon::start(paths, sink).await.expect("the daemon starts")
}

/// Wait until `sink` has `count` calls (or `timeout`); returns each call's
/// (write instant, deliver instant, queued) by sequence number.
async fn wait_for_calls(
    sink: &Recording,
    count: u64,
    timeout: Duration,
) -> Vec<(Duration, Duration, bool)> {
    let deadline = Instant::now() + timeout;
    loop {
        let len = sink.calls.lock().unwrap_or_else(|p| p.into_inner()).len();
        if len as u64 >= count || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let calls = sink.calls.lock().unwrap_or_else(|p| p.into_inner());
    assert_eq!(
        calls.len() as u64,
        count,
        "every event must reach the sink once"
    );
    calls
        .iter()
        .enumerate()
        .map(|(n, (delivered, body, queued))| {
            let (seq, written) = body.split_once(' ').expect("`<seq> <nanos>`");
            assert_eq!(seq.parse::<usize>().ok(), Some(n), "in order, none lost");
            let written = Duration::from_nanos(written.parse().expect("nanoseconds"));
            (written, *delivered, *queued)
        })
        .collect()
}

struct Stats {
    n: usize,
    p50: Duration,
    p90: Duration,
    p99: Duration,
    max: Duration,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    let n = samples.len();
    let at = |q: f64| samples[((q * n as f64).ceil() as usize).clamp(1, n) - 1];
    Stats {
        n,
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
        max: samples[n - 1],
    }
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

fn print(label: &str, stats: &Stats) {
    println!(
        "  {label:<34} p50 {:>10}  p90 {:>10}  p99 {:>10}  max {:>10}  (n = {})",
        ms(stats.p50),
        ms(stats.p90),
        ms(stats.p99),
        ms(stats.max),
        stats.n
    );
}

fn runtime() -> tokio::runtime::Runtime {
    // As `ssenotify run` builds it.
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Part 1: write → `NotifySink::deliver`, recording sink.
fn measure_deliver(secs: u64) -> Stats {
    let count = secs * RATE;
    let origin = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    let url = start_server(origin, count);
    let sink = Arc::new(Recording {
        origin,
        calls: Mutex::new(Vec::with_capacity(count as usize)),
        inner: None,
    });
    runtime().block_on(async {
        let daemon = start_daemon(dir.path(), &url, sink.clone()).await;
        let calls = wait_for_calls(&sink, count, Duration::from_secs(secs + 10)).await;
        daemon.shutdown().await;
        stats(calls.iter().map(|(w, d, _)| d.saturating_sub(*w)).collect())
    })
}

/// Part 2, in the child: the real `DesktopNotifier` in front of dunst.
fn measure_dunst_child(secs: u64) {
    let count = secs * RATE;
    let origin = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    let url = start_server(origin, count);
    runtime().block_on(async {
        let notifier = DesktopNotifier::spawn();
        let sink = Arc::new(Recording {
            origin,
            calls: Mutex::new(Vec::with_capacity(count as usize)),
            inner: Some(notifier.clone()),
        });
        // The instants at which `delivered` moved: show_async has returned.
        let stop = Arc::new(AtomicBool::new(false));
        let watcher = {
            let notifier = notifier.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut shown = Vec::with_capacity(count as usize);
                let mut seen = 0;
                while !stop.load(Ordering::Relaxed) {
                    let delivered = notifier.health().delivered;
                    let now = origin.elapsed();
                    while seen < delivered {
                        shown.push(now);
                        seen += 1;
                    }
                    std::thread::sleep(Duration::from_micros(50));
                }
                shown
            })
        };
        let daemon = start_daemon(dir.path(), &url, sink.clone()).await;
        let calls = wait_for_calls(&sink, count, Duration::from_secs(secs + 10)).await;
        notifier.flush().await;
        std::thread::sleep(Duration::from_millis(5));
        stop.store(true, Ordering::Relaxed);
        let shown = watcher.join().expect("the watcher");
        let health = notifier.health();
        daemon.shutdown().await;
        // The notifier sends in order; the k-th time `delivered` moved is the k-th queued
        // notification, as long as none failed after being queued.
        let queued: Vec<(Duration, Duration)> =
            calls.iter().filter(|c| c.2).map(|c| (c.0, c.1)).collect();
        let dropped = calls.len() - queued.len();
        assert_eq!(
            health.missed as usize, dropped,
            "a queued notification failed (health: {health:?})"
        );
        assert_eq!(shown.len(), queued.len(), "health: {health:?}");
        println!(
            "real notifier: DesktopNotifier → {} on Xvfb (notification_limit = {}), {count} events at {RATE}/s",
            health.server.as_deref().unwrap_or("?"),
            env_u64("BENCH_DUNST_LIMIT", 5),
        );
        println!(
            "  shown {}, dropped {dropped} (a full queue; it holds {})",
            health.delivered,
            ssenotify_daemon::NOTIFICATION_QUEUE
        );
        print(
            "event written → deliver",
            &stats(calls.iter().map(|(w, d, _)| d.saturating_sub(*w)).collect()),
        );
        let first = shown[0].saturating_sub(queued[0].1);
        // Service time: from when the sender could start on a notification (it was queued
        // and the previous one had returned) until its show_async returned.
        let service: Vec<Duration> = (1..shown.len())
            .map(|k| shown[k].saturating_sub(queued[k].1.max(shown[k - 1])))
            .collect();
        print("one show_async (service time)", &stats(service));
        print(
            "deliver → show_async returned",
            &stats(
                queued
                    .iter()
                    .zip(&shown)
                    .skip(1)
                    .map(|((_, d), s)| s.saturating_sub(*d))
                    .collect(),
            ),
        );
        print(
            "event written → shown",
            &stats(
                queued
                    .iter()
                    .zip(&shown)
                    .skip(1)
                    .map(|((w, _), s)| s.saturating_sub(*w))
                    .collect(),
            ),
        );
        println!(
            "  (the first notification, which starts dunst by D-Bus activation and asks its capabilities, took {}; excluded above)",
            ms(first)
        );
    });
}

fn main() {
    // `cargo test --benches` runs bench binaries with `--test`: nothing to check then.
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    if std::env::var_os(CHILD).is_some() {
        measure_dunst_child(env_u64("BENCH_DUNST_SECS", 10));
        return;
    }
    let secs = env_u64("BENCH_SECS", 20);
    if secs > 0 {
        println!(
            "notify_latency: {} events at {RATE}/s over loopback → in-process daemon → recording NotifySink",
            secs * RATE
        );
        let deliver = measure_deliver(secs);
        print("event written → deliver", &deliver);
        println!(
            "  target p99 ≤ {}: {}",
            ms(TARGET_P99),
            if deliver.p99 <= TARGET_P99 {
                "met"
            } else {
                "MISSED"
            }
        );
        let _ = std::io::stdout().flush();
    }

    let dunst_secs = env_u64("BENCH_DUNST_SECS", 10);
    if dunst_secs == 0 {
        return;
    }
    let desk = Desktop::with(DesktopOptions {
        notification_limit: env_u64("BENCH_DUNST_LIMIT", 5) as u32,
        ..DesktopOptions::default()
    });
    let mut child = Command::new(std::env::current_exe().expect("this bench's path"));
    child.env(CHILD, "1").env_remove("WAYLAND_DISPLAY");
    for (key, value) in desk.env() {
        child.env(key, value);
    }
    let status = child.status().expect("the dunst run starts");
    assert!(status.success(), "the dunst run failed: {status}");
}
