//! The history writer at a sustained event rate, beside bare SQLite doing the least the
//! same load needs, in the same run.
//!
//! Three stores take the same events (`BENCH_FEEDS` subscriptions, default 100, sharing
//! `BENCH_RATE` events a second, default 10,000, each event with an `id:` of its own) for
//! `BENCH_SECS` (default 10) after a 2 s warm-up, `BENCH_RUNS` times (default 3, the order
//! rotated each run); the medians are printed:
//!
//! - `HistoryWriter`: the shipped writer, driven the way the daemon's pipeline drives it
//!   (every event due is handed over as soon as the previous batch has been committed,
//!   with the batch's resume points and the previous batch's decisions), each subscription
//!   keeping `BENCH_MAX_EVENTS` (default 200, so trimming runs all along). Its CPU is its
//!   own thread's and its checkpointer's.
//! - `bare append`: one thread inserting the same rows into a table of the same columns,
//!   with no index, no duplicate check, no resume point, no trimming, committing at most
//!   every [`COMMIT_GAP`] (or every `BENCH_FLOOR_GAP_MS`, to see what longer commits would
//!   save): the floor of keeping a row per event in SQLite at this rate.
//! - `append + dedup index`: the same with the unique `(subscription, event ID)` index that
//!   finding a replayed event's earlier copy on disk needs.
//!
//! Latency is from an event falling due to the commit that holds it. This is the history
//! half of the daemon's throughput bench (`cargo bench -p ssenotify-e2e --bench
//! throughput`) without connections, parsing or routing, so it builds in a fraction of the
//! time and a change to the writer can be measured against its floor.
//!
//! Run with `cargo bench -p ssenotify-history --bench writer`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::{Connection, params};
use ssenotify_history::{
    Action, COMMIT_GAP, Decided, HistoryWriter, NewEvent, Recorded, ResumeUpdate, Retention,
};

const WARMUP: Duration = Duration::from_secs(2);

/// The load every store takes.
#[derive(Clone, Copy)]
struct Load {
    feeds: u64,
    rate: u64,
    secs: u64,
    max_events: usize,
    /// The floors' least time between commits.
    floor_gap: Duration,
}

impl Load {
    /// How many events fall due by `elapsed` into a run.
    fn due(self, elapsed: Duration) -> u64 {
        let limit = self.rate * (WARMUP.as_secs() + self.secs);
        (elapsed.as_nanos() * u128::from(self.rate) / 1_000_000_000).min(u128::from(limit)) as u64
    }

    /// When event `n` falls due.
    fn due_at(self, n: u64) -> Duration {
        Duration::from_nanos(n * 1_000_000_000 / self.rate)
    }

    /// Which subscription event `n` belongs to.
    fn feed(self, n: u64) -> usize {
        (n % self.feeds) as usize
    }

    /// Event `n`'s ID within its subscription.
    fn id(self, n: u64) -> String {
        (n / self.feeds).to_string()
    }

    fn data(n: u64) -> String {
        format!("{{\"seq\":{n},\"feed\":0,\"written\":{n}}}")
    }
}

/// What one store did in one run.
struct Measured {
    cpu: f64,
    p50: Duration,
    p99: Duration,
    rows: u64,
}

/// Records latencies and CPU from the end of the warm-up on.
struct Meter {
    start: Instant,
    cpu_at_warm: Option<(Instant, f64)>,
    latencies: Vec<Duration>,
}

impl Meter {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            cpu_at_warm: None,
            latencies: Vec::new(),
        }
    }

    /// Marks the start of the measured window once the warm-up is over.
    fn tick(&mut self, cpu: impl Fn() -> f64) {
        if self.cpu_at_warm.is_none() && self.start.elapsed() >= WARMUP {
            self.cpu_at_warm = Some((Instant::now(), cpu()));
        }
    }

    /// Events `from..to` became durable now.
    fn committed(&mut self, load: Load, from: u64, to: u64) {
        let now = self.start.elapsed();
        let warm = load.due(WARMUP);
        for n in from.max(warm)..to {
            self.latencies.push(now.saturating_sub(load.due_at(n)));
        }
    }

    /// The figures of a run whose store used `cpu` seconds by the end of its load.
    fn finish(mut self, cpu: f64, rows: u64) -> Measured {
        let (at, before) = self.cpu_at_warm.expect("the run outlasts its warm-up");
        self.latencies.sort_unstable();
        let pick = |q: f64| {
            let i = ((self.latencies.len() as f64 - 1.0) * q).round() as usize;
            self.latencies.get(i).copied().unwrap_or_default()
        };
        Measured {
            cpu: (cpu - before) / at.elapsed().as_secs_f64() * 100.0,
            p50: pick(0.50),
            p99: pick(0.99),
            rows,
        }
    }
}

/// CPU seconds used by this process's threads whose name starts with one of `names`
/// (`None`: the calling thread).
fn thread_cpu(names: Option<&[&str]>) -> f64 {
    let ticks = |stat: &str| -> f64 {
        // After the `(comm)` field: state is field 3, utime 14 and stime 15.
        let rest = &stat[stat.rfind(')').map_or(0, |i| i + 2)..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let parse = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        (parse(11) + parse(12)) / 100.0
    };
    let Some(names) = names else {
        return ticks(&std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default());
    };
    let mut total = 0.0;
    for task in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if names.iter().any(|n| comm.trim_end().starts_with(n)) {
            total += ticks(&std::fs::read_to_string(task.path().join("stat")).unwrap_or_default());
        }
    }
    total
}

/// The shipped writer, fed like the daemon's pipeline feeds it.
fn writer(load: Load) -> Measured {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("history.sqlite3");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // Thread names as the kernel keeps them (15 bytes).
    let threads: &[&str] = &["ssenotify-histo", "ssenotify-check"];
    runtime.block_on(async {
        let history = HistoryWriter::open(&path).expect("history opens");
        for feed in 0..load.feeds {
            let retention = Retention {
                max_events: load.max_events,
                max_age: Duration::from_secs(86_400),
            };
            history
                .set_retention(format!("f{feed}"), retention)
                .await
                .expect("retention");
        }
        let subs: Vec<Arc<str>> = (0..load.feeds).map(|f| format!("f{f}").into()).collect();
        let mut meter = Meter::new();
        let mut decided: Vec<Decided> = Vec::new();
        let (mut next, mut rows) = (0u64, 0u64);
        let end = load.due(Duration::MAX);
        while next < end {
            meter.tick(|| thread_cpu(Some(threads)));
            let due = load.due(meter.start.elapsed());
            if due == next {
                tokio::time::sleep_until((meter.start + load.due_at(next)).into()).await;
                continue;
            }
            let mut events = Vec::new();
            let mut points = std::collections::HashMap::new();
            for n in next..due {
                let sub = subs[load.feed(n)].clone();
                let id: Arc<str> = load.id(n).into();
                points.insert(
                    sub.clone(),
                    ResumeUpdate {
                        sub_id: sub.clone(),
                        last_event_id: id.clone(),
                        cursor: None,
                    },
                );
                events.push(NewEvent {
                    sub_id: sub,
                    event_type: "message".into(),
                    data: Load::data(n),
                    event_id: Some(id.clone()),
                    last_event_id: id,
                    received_at: 0,
                    action: Action::Pending,
                });
            }
            let earlier = std::mem::take(&mut decided);
            let recorded = history
                .record_after(earlier, events, points.into_values().collect())
                .await
                .expect("history records");
            meter.committed(load, next, due);
            for outcome in recorded {
                let Recorded::New { row } = outcome else {
                    panic!("every event is new, got {outcome:?}");
                };
                decided.push((row, Action::History).into());
                rows += 1;
            }
            next = due;
        }
        // Before the close, whose final checkpoint is no part of the load.
        let measured = meter.finish(thread_cpu(Some(threads)), rows);
        history.close().await.expect("history closes");
        measured
    })
}

/// Bare SQLite: the rows alone, with the dedup index when `dedup`.
fn floor(load: Load, dedup: bool) -> Measured {
    let dir = tempfile::tempdir().expect("temp dir");
    let conn = Connection::open(dir.path().join("floor.sqlite3")).expect("open");
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .expect("WAL");
    assert_eq!(mode, "wal");
    conn.pragma_update(None, "synchronous", "NORMAL")
        .expect("synchronous");
    conn.execute_batch(
        "CREATE TABLE events (id INTEGER PRIMARY KEY, sub_id TEXT NOT NULL,
         event_type TEXT NOT NULL, data TEXT NOT NULL, event_id TEXT,
         last_event_id TEXT NOT NULL, received_at INTEGER NOT NULL, action TEXT NOT NULL) STRICT;",
    )
    .expect("table");
    if dedup {
        conn.execute_batch(
            "CREATE UNIQUE INDEX events_dedup ON events (sub_id, event_id)
             WHERE event_id IS NOT NULL;",
        )
        .expect("index");
    }
    let mut insert = conn
        .prepare(
            "INSERT INTO events (sub_id, event_type, data, event_id, last_event_id, \
             received_at, action) VALUES (?1, 'message', ?2, ?3, ?3, 0, 'history')",
        )
        .expect("statement");
    let subs: Vec<String> = (0..load.feeds).map(|f| format!("f{f}")).collect();
    let mut meter = Meter::new();
    let end = load.due(Duration::MAX);
    let mut next = 0;
    while next < end {
        meter.tick(|| thread_cpu(None));
        let began = Instant::now();
        let due = load.due(meter.start.elapsed());
        if due > next {
            conn.execute_batch("BEGIN").expect("begin");
            for n in next..due {
                let sub = &subs[load.feed(n)];
                insert
                    .execute(params![sub, Load::data(n), load.id(n)])
                    .expect("insert");
            }
            conn.execute_batch("COMMIT").expect("commit");
            meter.committed(load, next, due);
            next = due;
        }
        std::thread::sleep(load.floor_gap.saturating_sub(began.elapsed()));
    }
    let mut measured = meter.finish(thread_cpu(None), 0);
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .expect("count");
    measured.rows = rows.unsigned_abs();
    measured
}

fn env_or(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a whole number, not {value:?}")),
        Err(_) => default,
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    // `cargo test --benches` runs bench binaries with `--test`: nothing to check then.
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let load = Load {
        feeds: env_or("BENCH_FEEDS", 100).max(1),
        rate: env_or("BENCH_RATE", 10_000).max(1),
        secs: env_or("BENCH_SECS", 10).max(1),
        max_events: env_or("BENCH_MAX_EVENTS", 200) as usize,
        floor_gap: Duration::from_millis(env_or(
            "BENCH_FLOOR_GAP_MS",
            COMMIT_GAP.as_millis().try_into().unwrap_or(u64::MAX),
        )),
    };
    let runs = env_or("BENCH_RUNS", 3).max(1) as usize;
    let names = ["HistoryWriter", "bare append", "append + dedup index"];
    let mut results: Vec<Vec<Measured>> = (0..names.len()).map(|_| Vec::new()).collect();
    println!(
        "history writer: {} subscriptions sharing {} events/s for {} s (after {} s of \
         warm-up), {} kept a subscription, the floors committing every {:?}, {runs} runs",
        load.feeds,
        load.rate,
        load.secs,
        WARMUP.as_secs(),
        load.max_events,
        load.floor_gap
    );
    for run in 0..runs {
        for k in 0..names.len() {
            let which = (run + k) % names.len();
            let measured = match which {
                0 => writer(load),
                1 => floor(load, false),
                _ => floor(load, true),
            };
            assert_eq!(
                measured.rows,
                load.due(Duration::MAX),
                "{}: every event has its row",
                names[which]
            );
            println!(
                "  run {} {:<22} CPU {:5.1} %  p50 {:6.2} ms  p99 {:6.2} ms",
                run + 1,
                names[which],
                measured.cpu,
                measured.p50.as_secs_f64() * 1e3,
                measured.p99.as_secs_f64() * 1e3
            );
            results[which].push(measured);
        }
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let floor_cpu = median(results[1].iter().map(|m| m.cpu).collect());
    println!("medians of {runs} runs (CPU in % of one core):");
    for (name, measured) in names.iter().zip(&results) {
        let cpu = median(measured.iter().map(|m| m.cpu).collect());
        println!(
            "  {name:<22} CPU {cpu:5.1} % ({:.2}× the bare append)  p50 {:6.2} ms  p99 {:6.2} ms",
            cpu / floor_cpu,
            median(measured.iter().map(|m| ms(m.p50)).collect()),
            median(measured.iter().map(|m| ms(m.p99)).collect()),
        );
    }
}
