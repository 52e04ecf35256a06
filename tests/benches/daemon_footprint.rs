//! The daemon's footprint at scale, side by side with eventsource-client: resident memory
//! per idle subscription and the time until all are connected, for each set size, then the
//! CPU both use idle with the largest set.
//!
//! Run: `cargo bench -p ssenotify-e2e --bench daemon_footprint`
//! (`BENCH_SETS`, default `1000,10000`, the set sizes; `BENCH_RUNS`, default 3, the runs
//! per size whose medians are printed; `BENCH_IDLE_SECS`, default 30, the idle CPU
//! measurement). ssenotify is the release `ssenotify run --no-notify`, each run in its own
//! temporary XDG directories with one `[[subscription]]` per feed; the peer is `es_idle`
//! (eventsource-client on hyper, one shared transport, the same two-worker runtime), holding
//! the same feeds. Every feed is a loopback server that sends a comment on connecting and
//! then one every 30 s: idle, as between events. Each run gets a fresh server (a fresh port), so that the
//! previous run's closed sockets in TIME_WAIT do not use up the ephemeral ports.
//!
//! "connected" is the time from spawning the process until the server has every request;
//! memory is VmRSS two seconds after that, divided by the subscriptions. Needs a file limit
//! above twice the largest set (the server holds both ends' worth in this process).

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use ssenotify_e2e::procstat::{TICKS_PER_SEC, cpu_ticks, env_or, vm_rss_kib};
use ssenotify_e2e::{Response, Step, TestServer, ssenotify_bin};

/// How long the slowest connect may take before the run is called failed.
const CONNECT_LIMIT: Duration = Duration::from_secs(120);

/// A measured process, stopped (SIGTERM, then its stdin closed) when dropped.
struct Held {
    child: Child,
    stdin: Option<ChildStdin>,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Held {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

/// Which program holds the subscriptions.
#[derive(Clone, Copy, PartialEq)]
enum Peer {
    Ssenotify,
    EventsourceClient,
}

impl Peer {
    fn name(self) -> &'static str {
        match self {
            Peer::Ssenotify => "ssenotify",
            Peer::EventsourceClient => "eventsource-client",
        }
    }

    /// Starts the program holding `n` subscriptions to `server`.
    fn start(self, server: &TestServer, n: usize) -> Held {
        match self {
            Peer::Ssenotify => {
                let dir = tempfile::tempdir().expect("temp dir");
                let config = dir.path().join("config/ssenotify");
                std::fs::create_dir_all(&config).unwrap();
                let mut file = String::from("version = 1\n");
                for i in 0..n {
                    file.push_str(&format!(
                        "\n[[subscription]]\nid = \"s{i}\"\nurl = \"{}\"\n",
                        server.url(&format!("/idle/{i}"))
                    ));
                }
                std::fs::write(config.join("subscriptions.toml"), file).unwrap();
                let child = Command::new(ssenotify_bin())
                    .args(["run", "--no-notify"])
                    .env("XDG_CONFIG_HOME", dir.path().join("config"))
                    .env("XDG_DATA_HOME", dir.path().join("data"))
                    .env("XDG_RUNTIME_DIR", dir.path().join("run"))
                    .env("HOME", dir.path())
                    .env("NO_PROXY", "127.0.0.1")
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("ssenotify runs");
                Held {
                    child,
                    stdin: None,
                    _dir: Some(dir),
                }
            }
            Peer::EventsourceClient => {
                let mut child = Command::new(env!("CARGO_BIN_EXE_es_idle"))
                    .args([server.url("/idle/"), n.to_string()])
                    .env("NO_PROXY", "127.0.0.1")
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("es_idle runs");
                let stdin = child.stdin.take();
                // Its "open" line is not waited for (the server's count is, as for ssenotify),
                // but its stdout is drained so that the line never blocks it.
                let stdout = child.stdout.take().expect("piped stdout");
                std::thread::spawn(move || BufReader::new(stdout).lines().count());
                Held {
                    child,
                    stdin,
                    _dir: None,
                }
            }
        }
    }
}

/// A feed that sends a comment on connecting and one every 30 s (as servers keep proxies
/// from closing idle streams), for longer than any measurement.
fn idle_feed() -> Vec<Step> {
    let mut steps = vec![Step::send(b": welcome\n\n")];
    for _ in 0..40 {
        steps.push(Step::Sleep(Duration::from_secs(30)));
        steps.push(Step::send(b": keep-alive\n\n"));
    }
    steps.push(Step::Hold);
    steps
}

/// One run's figures.
struct Run {
    connected: Duration,
    rss_kib: u64,
}

fn run_once(peer: Peer, n: usize) -> (Run, Held, TestServer) {
    let server = TestServer::start(|_, _| Response::sse_steps(idle_feed()));
    let started = Instant::now();
    let held = peer.start(&server, n);
    while server.request_count() < n {
        assert!(
            started.elapsed() < CONNECT_LIMIT,
            "{}: only {} of {n} connected",
            peer.name(),
            server.request_count()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let connected = started.elapsed();
    // Let start-up garbage settle.
    std::thread::sleep(Duration::from_secs(2));
    let rss_kib = vm_rss_kib(held.child.id());
    (Run { connected, rss_kib }, held, server)
}

fn median<T: Copy + PartialOrd>(mut values: Vec<T>) -> T {
    values.sort_by(|a, b| a.partial_cmp(b).expect("comparable"));
    values[values.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let idle_secs: u64 = env_or("BENCH_IDLE_SECS", 30);
    let runs: usize = env_or::<usize>("BENCH_RUNS", 3).max(1);
    let sets: Vec<usize> = std::env::var("BENCH_SETS")
        .unwrap_or_else(|_| "1000,10000".into())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    let largest = sets.iter().copied().max().unwrap_or(0);
    println!("medians of {runs} runs");
    println!(
        "{:<20} {:>13} {:>14} {:>10} {:>20}",
        "", "subscriptions", "connected (s)", "RSS (MiB)", "per subscription KiB"
    );
    let mut per_sub = Vec::new();
    let mut idle = Vec::new();
    for &n in &sets {
        for peer in [Peer::Ssenotify, Peer::EventsourceClient] {
            let mut times = Vec::new();
            let mut rss = Vec::new();
            for run in 0..runs {
                let (figures, held, _server) = run_once(peer, n);
                times.push(figures.connected.as_secs_f64());
                rss.push(figures.rss_kib);
                // One at a time: both sets at once would need twice the file descriptors.
                if n == largest && run + 1 == runs {
                    idle.push((peer, idle_cpu(&held, idle_secs)));
                }
            }
            let rss = median(rss);
            let kib = rss as f64 / n as f64;
            println!(
                "{:<20} {n:>13} {:>14.2} {:>10.1} {kib:>20.1}",
                peer.name(),
                median(times),
                rss as f64 / 1024.0,
            );
            per_sub.push((n, peer, kib));
        }
    }
    for &n in &sets {
        let of = |p: Peer| {
            per_sub
                .iter()
                .find(|(m, q, _)| *m == n && *q == p)
                .map(|(_, _, kib)| *kib)
        };
        if let (Some(ours), Some(peer)) = (of(Peer::Ssenotify), of(Peer::EventsourceClient)) {
            println!(
                "memory per subscription at {n}: ssenotify / eventsource-client = {:.2}",
                ours / peer
            );
        }
    }
    for (peer, used) in idle {
        println!(
            "idle CPU, {} with {largest} subscriptions over {idle_secs} s: {used:.2} s ({:.3} %)",
            peer.name(),
            used / idle_secs as f64 * 100.0
        );
    }
}

/// Seconds of CPU `held` uses over `secs` idle seconds.
fn idle_cpu(held: &Held, secs: u64) -> f64 {
    let start = cpu_ticks(held.child.id());
    std::thread::sleep(Duration::from_secs(secs));
    (cpu_ticks(held.child.id()) - start) as f64 / TICKS_PER_SEC
}
