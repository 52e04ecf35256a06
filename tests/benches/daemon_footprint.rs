//! The daemon's footprint: resident memory with 1, 100 and 1,000 idle subscriptions against
//! a local server, and its CPU use over a minute idle with the largest set.
//!
//! Run: `cargo bench -p ssenotify-e2e --bench daemon_footprint`
//! (`BENCH_IDLE_SECS` sets the idle measurement, default 60 s; `BENCH_SETS`, e.g.
//! `1,100,1000`, the set sizes). Uses the release `ssenotify run --no-notify`, each set in
//! its own temporary XDG directories.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ssenotify_e2e::{Response, Step, TestServer, ssenotify_bin};

/// Clock ticks per second for /proc/PID/stat times (USER_HZ is 100 on Linux).
const TICKS_PER_SEC: f64 = 100.0;

fn proc_field(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// utime + stime of `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0);
    let stime: u64 = fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    utime + stime
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let idle_secs: u64 = std::env::var("BENCH_IDLE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let sets: Vec<usize> = std::env::var("BENCH_SETS")
        .unwrap_or_else(|_| "1,100,1000".into())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    // Every connection gets one comment and is then held open: idle, as in real life
    // between events.
    let server = TestServer::start(|_, _| {
        Response::sse_steps(vec![Step::send(b": welcome\n\n"), Step::Hold])
    });
    let bin = ssenotify_bin();
    println!("subscriptions  RSS (MiB)  per subscription (KiB)");
    let mut largest = None;
    for &n in &sets {
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
        let before = server.open_connections();
        let child = Command::new(&bin)
            .args(["run", "--no-notify"])
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .env("XDG_DATA_HOME", dir.path().join("data"))
            .env("XDG_RUNTIME_DIR", dir.path().join("run"))
            .env("HOME", dir.path())
            .env("NO_PROXY", "127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ssenotify runs");
        let daemon = Daemon(child);
        let pid = daemon.0.id();
        let deadline = Instant::now() + Duration::from_secs(60);
        while server.open_connections() < before + n {
            assert!(
                Instant::now() < deadline,
                "only {} of {n} connected",
                server.open_connections() - before
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // Let start-up garbage settle.
        std::thread::sleep(Duration::from_secs(2));
        let rss_kib = proc_field(pid, "VmRSS:").unwrap_or(0);
        println!(
            "{n:>13}  {:>9.1}  {:>22.1}",
            rss_kib as f64 / 1024.0,
            rss_kib as f64 / n as f64
        );
        if Some(n) == sets.iter().max().copied() {
            largest = Some((n, daemon, dir));
        } else {
            drop(daemon);
            drop(dir);
        }
    }
    if let Some((n, daemon, _dir)) = largest {
        let pid = daemon.0.id();
        let start = cpu_ticks(pid);
        std::thread::sleep(Duration::from_secs(idle_secs));
        let used = (cpu_ticks(pid) - start) as f64 / TICKS_PER_SEC;
        println!(
            "idle CPU with {n} subscriptions over {idle_secs} s: {used:.2} s of CPU ({:.3} %)",
            used / idle_secs as f64 * 100.0
        );
    }
}
