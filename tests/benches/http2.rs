//! HTTP/2 against HTTP/1.1: 1,000 idle subscriptions in the release daemon to one TLS loopback
//! server (a CA made at run time, every subscription's `ca_file`) that offers h2, and the
//! same 1,000 to one that offers only HTTP/1.1, in the same run: time until all are OPEN, the
//! daemon's resident memory (in all, and per subscription above the same daemon with none),
//! its sockets (`/proc/PID/fd` entries that are sockets), and the TCP connections the server
//! accepted (TLS handshakes) and still has open.
//!
//! Run: `cargo bench -p ssenotify-e2e --bench http2` (`BENCH_SUBS` sets the number of
//! subscriptions, default 1000; `BENCH_RUNS` the runs per protocol, default 3, medians shown).
//! The bench process holds the servers' side of every connection: it needs more than 1,024
//! open files at 1,000 HTTP/1.1 subscriptions (`ulimit -n`).

use std::fs;
use std::time::{Duration, Instant};

use ssenotify_e2e::home::{Home, block_on};
use ssenotify_e2e::procstat::vm_rss_kib;
use ssenotify_e2e::{Alpn, Response, Step, TestCa, TestServer, TlsOptions, poll};

/// What one run measured.
struct Figures {
    open_after: Duration,
    rss_kib: u64,
    sockets: usize,
    accepted: usize,
    open_conns: usize,
}

fn sockets(pid: u32) -> usize {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter(|e| {
                    fs::read_link(e.path())
                        .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"))
                })
                .count()
        })
        .unwrap_or(0)
}

/// How many of the daemon's subscriptions are OPEN.
fn open_in_daemon(home: &Home) -> usize {
    home.control(r#"{"cmd":"status"}"#)
        .and_then(|status| {
            let subs = status["subscriptions"].as_array()?.clone();
            Some(subs.iter().filter(|s| s["ready_state"] == "OPEN").count())
        })
        .unwrap_or(0)
}

/// The daemon with `n` subscriptions to `server` (none when `n` is 0), measured once all
/// are OPEN and start-up garbage has settled.
fn run(server: &TestServer, ca: &TestCa, n: usize) -> Figures {
    let home = Home::new();
    let mut file = String::from("version = 1\n");
    for i in 0..n {
        file.push_str(&format!(
            "\n[[subscription]]\nid = \"s{i}\"\nurl = \"{}\"\nca_file = \"{}\"\n",
            server.url(&format!("/idle/{i}")),
            ca.ca_file().display()
        ));
    }
    fs::create_dir_all(home.config_dir()).unwrap();
    fs::write(home.subs_file(), file).unwrap();
    let accepted_before = server.connections().len();
    let started = Instant::now();
    let daemon = home.start_daemon();
    poll(Duration::from_secs(120), || {
        (open_in_daemon(&home) == n).then_some(())
    })
    .unwrap_or_else(|| panic!("only {} of {n} OPEN", open_in_daemon(&home)));
    let open_after = started.elapsed();
    assert!(block_on(
        server.wait_for_open_streams(n, Duration::from_secs(10))
    ));
    std::thread::sleep(Duration::from_secs(2));
    let figures = Figures {
        open_after,
        rss_kib: vm_rss_kib(daemon.pid()),
        sockets: sockets(daemon.pid()),
        accepted: server.connections().len() - accepted_before,
        open_conns: server.open_connections(),
    };
    drop(daemon);
    // The next run starts from a server with none of this one's connections.
    assert!(block_on(
        server.wait_for_open_connections(0, Duration::from_secs(10))
    ));
    figures
}

fn median<T: Copy + Ord>(mut values: Vec<T>) -> T {
    values.sort();
    values[values.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let env = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let n = env("BENCH_SUBS", 1000);
    let runs = env("BENCH_RUNS", 3).max(1);
    let ca = TestCa::new();
    // Every stream gets one comment and is then held open: idle, as in real life.
    let idle = |_: &ssenotify_e2e::Request, _| {
        Response::sse_steps(vec![Step::send(b": welcome\n\n"), Step::Hold])
    };
    let servers = [("HTTP/2", Alpn::H2), ("HTTP/1.1", Alpn::Http1)].map(|(name, alpn)| {
        let options = TlsOptions {
            alpn,
            ..TlsOptions::default()
        };
        (name, TestServer::start_tls(&ca, options, idle))
    });
    let base = median(
        (0..runs)
            .map(|_| run(&servers[0].1, &ca, 0).rss_kib)
            .collect(),
    );
    println!(
        "{n} idle subscriptions, one TLS loopback server, release daemon, medians of {runs} \
         (a daemon with none: {:.1} MiB)",
        base as f64 / 1024.0
    );
    println!(
        "| protocol | all OPEN after | RSS | RSS per subscription | daemon sockets | \
         connections accepted | connections open |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (name, server) in &servers {
        let all: Vec<Figures> = (0..runs).map(|_| run(server, &ca, n)).collect();
        let rss = median(all.iter().map(|f| f.rss_kib).collect());
        println!(
            "| {name} | {:.2} s | {:.1} MiB | {:.1} KiB | {} | {} | {} |",
            median(all.iter().map(|f| f.open_after).collect()).as_secs_f64(),
            rss as f64 / 1024.0,
            rss.saturating_sub(base) as f64 / n as f64,
            median(all.iter().map(|f| f.sockets).collect()),
            median(all.iter().map(|f| f.accepted).collect()),
            median(all.iter().map(|f| f.open_conns).collect()),
        );
    }
}
