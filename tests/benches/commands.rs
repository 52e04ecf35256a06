//! How long the commands that read the daemon's state take as the number of subscriptions
//! grows: `list --json`, `status --json`, a `status --since` delta, the first line of
//! `watch --json` (its snapshot), `export`, and a bare `status` request on the control
//! socket (the daemon's share, without starting a process).
//!
//! Run: `cargo bench -p ssenotify-e2e --bench commands` (`BENCH_SETS`, e.g. `1000,10000`,
//! the set sizes, default `1000,10000`; `BENCH_RUNS` the runs per command, default 5).
//! Each set runs in its own temporary XDG directories against the release
//! `ssenotify run --no-notify`, every subscription an idle stream of one loopback server,
//! all OPEN before anything is timed. Prints the median per command and size, and the
//! ratio of the largest size to the smallest (10 for linear growth from 1,000 to 10,000).
//! A command this binary does not have (an older build) is shown as `-`.

use std::io::{BufRead, BufReader};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use ssenotify_e2e::home::{Daemon, Home};
use ssenotify_e2e::procstat::env_or;
use ssenotify_e2e::{Response, Step, TestServer, poll, ssenotify_bin};

/// How long a set may take to be all OPEN.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(120);

/// The median of `runs` timings of `f` (which panics if the command failed).
fn median(runs: usize, mut f: impl FnMut() -> Duration) -> Duration {
    let mut times: Vec<Duration> = (0..runs).map(|_| f()).collect();
    times.sort();
    times[times.len() / 2]
}

/// Runs `ssenotify ARGS` to completion, stdout read as a consumer would; returns its output.
fn timed(home: &Home, args: &[&str]) -> (Duration, Output) {
    let started = Instant::now();
    let output = home.run(args);
    let took = started.elapsed();
    assert!(
        output.status.success(),
        "ssenotify {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (took, output)
}

/// Whether the binary knows the subcommand `name` (it did not before this bench existed).
fn has_command(home: &Home, name: &str) -> bool {
    home.run(&[name, "--help"]).status.success()
}

/// The daemon's status reply, through the control socket.
fn status(home: &Home) -> Value {
    home.control(r#"{"cmd":"status"}"#)
        .expect("the daemon answers a status request")
}

/// Writes `n` subscriptions to `server`, starts the daemon and waits until all are OPEN.
fn start_set(home: &Home, server: &TestServer, n: usize) -> Daemon {
    let mut file = String::from("version = 1\n");
    for i in 0..n {
        file.push_str(&format!(
            "\n[[subscription]]\nid = \"s{i}\"\nurl = \"{}\"\n",
            server.url(&format!("/idle/{i}"))
        ));
    }
    std::fs::create_dir_all(home.config_dir()).unwrap();
    std::fs::write(home.subs_file(), file).unwrap();
    // Not `start_daemon`: its wait is sized for a handful of subscriptions.
    let daemon = home.spawn_daemon("daemon.log");
    let all_open = poll(CONNECT_TIMEOUT, || {
        let reply = home.control(r#"{"cmd":"status"}"#)?;
        let subs = reply["subscriptions"].as_array()?;
        (subs.len() == n && subs.iter().all(|s| s["ready_state"] == "OPEN")).then_some(())
    });
    assert!(all_open.is_some(), "{n} subscriptions not all OPEN in time");
    daemon
}

/// Time from starting `watch --json` to its first line (the snapshot).
fn watch_snapshot(home: &Home) -> Duration {
    let started = Instant::now();
    let mut child = home
        .command(&["watch", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ssenotify watch runs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let took = started.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.starts_with('{'), "watch printed {line:?}");
    took
}

/// The timings at one size, in the order of [`LABELS`]; `None` where the binary lacks it.
fn measure(home: &Home, runs: usize) -> Vec<Option<Duration>> {
    let has_status = has_command(home, "status");
    let has_watch = has_command(home, "watch");
    let socket = median(runs, || {
        let started = Instant::now();
        status(home);
        started.elapsed()
    });
    let list = median(runs, || timed(home, &["list", "--json"]).0);
    let status_json = has_status.then(|| median(runs, || timed(home, &["status", "--json"]).0));
    let status_text = has_status.then(|| median(runs, || timed(home, &["status"]).0));
    let delta = has_status.then(|| {
        // One subscription changes after the version a client last saw: it reconnects.
        let (_, out) = timed(home, &["status", "--json"]);
        let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
        let version = seen["version"].to_string();
        timed(home, &["reconnect", "s0"]);
        median(runs, || {
            let (took, out) = timed(home, &["status", "--json", "--since", &version]);
            let delta: Value = serde_json::from_slice(&out.stdout).unwrap();
            let changed = delta["subscriptions"].as_array().map_or(0, Vec::len);
            assert!(changed <= 1, "a delta of one change carries {changed}");
            took
        })
    });
    let watch = has_watch.then(|| median(runs, || watch_snapshot(home)));
    let export = median(runs, || timed(home, &["export"]).0);
    vec![
        Some(socket),
        Some(list),
        status_json,
        status_text,
        delta,
        watch,
        Some(export),
    ]
}

/// What [`measure`] times, in order.
const LABELS: [&str; 7] = [
    "status request (socket)",
    "list --json",
    "status --json",
    "status",
    "status --since (1 changed)",
    "watch --json (snapshot)",
    "export",
];

fn ms(d: Option<Duration>) -> String {
    d.map_or_else(
        || "-".into(),
        |d| format!("{:.1}", d.as_secs_f64() * 1000.0),
    )
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let runs: usize = env_or("BENCH_RUNS", 5).max(1);
    let sets: Vec<usize> = std::env::var("BENCH_SETS")
        .unwrap_or_else(|_| "1000,10000".into())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    // Built (if needed) before anything is timed.
    ssenotify_bin();
    // Every connection gets one comment and is then held open: idle, as between events.
    let server = TestServer::start(|_, _| {
        Response::sse_steps(vec![Step::send(b": welcome\n\n"), Step::Hold])
    });
    let mut columns = Vec::new();
    for &n in &sets {
        let home = Home::new();
        let started = Instant::now();
        let daemon = start_set(&home, &server, n);
        eprintln!(
            "{n} subscriptions all OPEN after {:.1} s",
            started.elapsed().as_secs_f64()
        );
        columns.push(measure(&home, runs));
        drop(daemon);
    }
    print!("{:<28}", "median of runs, ms");
    for n in &sets {
        print!("{:>12}", format!("N={n}"));
    }
    let ratio_label = match (sets.first(), sets.last()) {
        (Some(first), Some(last)) if sets.len() > 1 => format!("{last}/{first}"),
        _ => String::new(),
    };
    println!("{:>12}", ratio_label);
    for (row, label) in LABELS.iter().enumerate() {
        print!("{label:<28}");
        for column in &columns {
            print!("{:>12}", ms(column[row]));
        }
        let ratio = match (columns.first(), columns.last()) {
            (Some(first), Some(last)) if columns.len() > 1 => first[row]
                .zip(last[row])
                .map(|(a, b)| format!("{:.1}x", b.as_secs_f64() / a.as_secs_f64())),
            _ => None,
        };
        println!("{:>12}", ratio.unwrap_or_default());
    }
    // The median, not a mean: one slow start of a process says little about the command.
    println!("({runs} runs each; release build; one idle loopback server)");
}
