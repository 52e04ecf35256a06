//! What the benchmarks share: what `/proc` says about a process they measure (CPU time,
//! resident memory), and their settings from the environment.

/// Clock ticks per second of `/proc/PID/stat` times (USER_HZ is 100 on Linux).
pub const TICKS_PER_SEC: f64 = 100.0;

/// utime + stime of `pid`, in clock ticks (0 once the process is gone).
pub fn cpu_ticks(pid: u32) -> u64 {
    stat_ticks(format!("/proc/{pid}/stat").as_ref())
}

/// utime + stime of `pid`'s threads named `name` (as `comm` shows it: at most 15 bytes),
/// in clock ticks: where in the process the time goes.
pub fn thread_cpu_ticks(pid: u32, name: &str) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|comm| comm.trim_end() == name)
        })
        .map(|task| stat_ticks(&task.path().join("stat")))
        .sum()
}

/// utime + stime from a `stat` file of `/proc` (a process's or a thread's), 0 if unreadable.
fn stat_ticks(path: &std::path::Path) -> u64 {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0);
    let stime: u64 = fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    utime + stime
}

/// VmRSS of `pid`, in KiB (0 once the process is gone).
pub fn vm_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

/// The environment variable `name` parsed, or `default` when it is unset or does not parse.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
