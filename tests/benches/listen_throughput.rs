//! End-to-end throughput over loopback: `ssenotify listen --json --once` against a tiny
//! eventsource-client consumer (`es_consumer`), same stream, same run, stdout to /dev/null.
//!
//! Run: `cargo bench -p ssenotify-e2e --bench listen_throughput`
//! (`BENCH_EVENTS` sets the stream length, default 1,000,000; `BENCH_RUNS` the runs per
//! client, default 5). Prints events per second per client (median) and the ratio.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;

use ssenotify_e2e::ssenotify_bin;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The eventsource-client consumer (cargo builds the package's binaries for its benches).
fn es_consumer() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_es_consumer"))
}

/// Events a client printed (counted once per client, to prove both did the whole work).
fn count_events(program: &PathBuf, args: &[String]) -> usize {
    let output = Command::new(program)
        .args(args)
        .output()
        .expect("client runs");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| l.contains(r#""kind":"event""#))
        .count()
}

fn time_run(program: &PathBuf, args: &[String]) -> Duration {
    let started = Instant::now();
    let status = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .status()
        .expect("client runs");
    let elapsed = started.elapsed();
    assert!(status.success(), "{program:?} failed");
    elapsed
}

/// A server that does nothing but write: one blocking `write_all` of the whole response
/// per connection, on its own thread, so the clients (not the server) are what is measured.
/// (The scriptable test server writes through tokio in steps and was itself the limit.)
fn fast_server(body: Arc<Vec<u8>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let url = format!("http://{}/stream", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let body = body.clone();
            std::thread::spawn(move || {
                let mut head = [0u8; 4096];
                let _ = stream.read(&mut head);
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\
                      Cache-Control: no-cache\r\nConnection: close\r\n\r\n",
                );
                let _ = stream.write_all(&body);
                let _ = stream.shutdown(std::net::Shutdown::Write);
                // Read until the client closes, so the close does not reset unread data.
                let _ = std::io::copy(&mut stream, &mut std::io::sink());
            });
        }
    });
    url
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` would too, so do nothing then.
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let events = env_usize("BENCH_EVENTS", 1_000_000);
    let runs = env_usize("BENCH_RUNS", 5);
    let mut body = Vec::with_capacity(events * 30);
    for _ in 0..events {
        body.extend_from_slice(b"event: msg\ndata: {\"n\":123}\n\n");
    }
    let url = fast_server(Arc::new(body));

    let ssenotify = ssenotify_bin();
    let es = es_consumer();
    let ours: Vec<String> = ["listen", "--json", "--once", &url]
        .map(String::from)
        .to_vec();
    let theirs = vec![url.clone()];

    assert_eq!(
        count_events(&ssenotify, &ours),
        events,
        "ssenotify missed events"
    );
    assert_eq!(
        count_events(&es, &theirs),
        events,
        "eventsource-client missed events"
    );

    let mut ours_t = Vec::new();
    let mut theirs_t = Vec::new();
    for _ in 0..runs {
        ours_t.push(time_run(&ssenotify, &ours));
        theirs_t.push(time_run(&es, &theirs));
    }
    let (ours_m, theirs_m) = (median(ours_t), median(theirs_t));
    let rate = |d: Duration| events as f64 / d.as_secs_f64();
    println!("events per run: {events}, runs per client: {runs} (median shown)");
    println!(
        "ssenotify listen --json:  {:>10.0} events/s  ({:.3} s)",
        rate(ours_m),
        ours_m.as_secs_f64()
    );
    println!(
        "eventsource-client 0.18:  {:>10.0} events/s  ({:.3} s)",
        rate(theirs_m),
        theirs_m.as_secs_f64()
    );
    println!("ratio: {:.2}x", rate(ours_m) / rate(theirs_m));
}
