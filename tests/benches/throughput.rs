//! Throughput through the daemon: many busy feeds into the release `ssenotify run
//! --no-notify` (routing and history on, notifications off), side by side with
//! eventsource-client parsing the same feeds in the same run.
//!
//! Run: `cargo bench -p ssenotify-e2e --bench throughput`
//! (`BENCH_FEEDS`, default 100, the feeds; `BENCH_RATE`, default 100, events per second per
//! feed; `BENCH_SECS`, default 20, how long they send; `BENCH_RUNS`, default 3, the runs
//! whose medians are printed; `BENCH_MAX_EVENTS`, each subscription's history
//! `max_events`; `BENCH_BASELINE`, the path of another `ssenotify` build, say
//! of the code before a change, measured in every run too, beside this one).
//!
//! - **The feeds.** A loopback server of its own (one thread, blocking sockets): every
//!   feed sends `id: N` and `data: {"seq":N,"feed":F,"written":NANOS}` at the same rate,
//!   the feeds' events spread evenly over each period and written every millisecond, each
//!   stamped with the instant just before its write.
//! - **ssenotify.** One subscription per feed, each with one rule that matches every event
//!   and renders a title and body (so routing runs in full; the rate limit lets every
//!   event through), history keeping the last `BENCH_MAX_EVENTS` events of each (by
//!   default what a feed sends in the warm-up, 200 at 100 events/s: every event measured
//!   is trimmed in its turn, so the whole window is history's steady state; with the
//!   default 1,000, trimming would start only 10 s in).
//! - **The peer.** `es_idle` (eventsource-client on hyper, one shared transport, the same
//!   two-worker runtime) holding the same feeds: parsing only, no history, no routing.
//!   It reports how many events it dispatched, which must be all of them.
//! - **CPU.** utime + stime of the process from `/proc/PID/stat`, from 2 s after the first
//!   write (start-up and connections out of the way) to the last write, as a share of one
//!   core; beside it, the same for ssenotify's history writer thread alone (from
//!   `/proc/PID/task/*/stat`), the figure least disturbed by the other processes when a
//!   change is in the writer.
//! - **Latency, write → history row.** A reader in this process polls the history file
//!   every millisecond (`SELECT … WHERE id > last`, a read-only connection: what `ssenotify
//!   history` sees) and stamps each new row with the instant its query returned. The
//!   figure runs from the server's write through TCP, the parser, the pipeline, routing
//!   and the commit to the row being visible to a reader: an upper bound of "arrival to
//!   the history row" by up to one poll (1 ms) plus the query. Every event's row must be
//!   seen exactly once, in order per feed (row ids increase with the feed's sequence).
//!
//! The server, the reader and the measured process share the machine's cores; the poller
//! runs only beside ssenotify.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ssenotify_e2e::home::Home;
use ssenotify_e2e::poll;
use ssenotify_e2e::procstat::{TICKS_PER_SEC, cpu_ticks, env_or, thread_cpu_ticks, vm_rss_kib};

/// CPU left out at the start of the stream: connections, first statements, warm caches.
const WARMUP: Duration = Duration::from_secs(2);
/// How often the server writes what is due, and the reader polls history.
const TICK: Duration = Duration::from_millis(1);
/// How long connecting, and the last rows after the last write, may take.
const PATIENCE: Duration = Duration::from_secs(30);
/// The goals of issue 14 for ssenotify.
const TARGET_CPU: f64 = 20.0;
const TARGET_P99: Duration = Duration::from_millis(5);

/// What one run sends.
#[derive(Clone, Copy)]
struct Load {
    feeds: usize,
    rate: u64,
    secs: u64,
    /// Each subscription's history `max_events`.
    max_events: u64,
}

impl Load {
    fn per_feed(self) -> u64 {
        self.rate * self.secs
    }

    fn total(self) -> u64 {
        self.per_feed() * self.feeds as u64
    }
}

/// The loopback server: `/feed/F` for F in `0..feeds`; each connection is held by this
/// process until the server is dropped.
struct Feeds {
    url: String,
    streams: Arc<Mutex<Vec<Option<TcpStream>>>>,
    connections: Arc<Mutex<usize>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Feeds {
    fn start(feeds: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("non-blocking");
        let url = format!("http://{}/feed/", listener.local_addr().expect("address"));
        let streams = Arc::new(Mutex::new((0..feeds).map(|_| None).collect::<Vec<_>>()));
        let connections = Arc::new(Mutex::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let (streams, connections, stop) = (streams.clone(), connections.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            if let Some((feed, stream)) = answer(stream) {
                                *connections.lock().unwrap() += 1;
                                if let Some(slot) = streams.lock().unwrap().get_mut(feed) {
                                    *slot = Some(stream);
                                }
                            }
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(2)),
                    }
                }
            })
        };
        Feeds {
            url,
            streams,
            connections,
            stop,
            accept: Some(accept),
        }
    }

    /// Waits until every feed has a connection; panics after [`PATIENCE`].
    fn wait_connected(&self, feeds: usize) {
        poll(PATIENCE, || {
            let streams = self.streams.lock().unwrap();
            streams.iter().all(Option::is_some).then_some(())
        })
        .unwrap_or_else(|| panic!("not every one of {feeds} feeds was connected"));
    }

    /// A writing end of every feed's connection.
    fn writers(&self) -> Vec<TcpStream> {
        self.streams
            .lock()
            .unwrap()
            .iter()
            .map(|s| s.as_ref().expect("connected").try_clone().expect("clone"))
            .collect()
    }

    fn connections(&self) -> usize {
        *self.connections.lock().unwrap()
    }
}

impl Drop for Feeds {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

/// Sends `load` on `streams` from `start` on; returns how far behind its schedule the
/// server fell at most (a slow reader's backpressure shows there).
fn send(mut streams: Vec<TcpStream>, load: Load, origin: Instant, start: Instant) -> Duration {
    let feeds = load.feeds as u64;
    let gap = Duration::from_secs(1).as_nanos() as u64 / (load.rate * feeds);
    let total = load.total();
    let mut behind = Duration::ZERO;
    let mut next = 0u64;
    let mut line = Vec::with_capacity(128);
    while next < total {
        let now = Instant::now();
        while next < total {
            let due = start + Duration::from_nanos(next * gap);
            if due > now {
                break;
            }
            behind = behind.max(now.saturating_duration_since(due));
            let (seq, feed) = (next / feeds, (next % feeds) as usize);
            line.clear();
            let written = origin.elapsed().as_nanos();
            write!(
                line,
                "id: {seq}\ndata: {{\"seq\":{seq},\"feed\":{feed},\"written\":{written}}}\n\n"
            )
            .expect("formatting");
            streams[feed]
                .write_all(&line)
                .expect("the measured process reads its feeds");
            next += 1;
        }
        std::thread::sleep(TICK);
    }
    behind
}

/// Reads a request's head and answers it with an event-stream head; the feed it asked for.
fn answer(mut stream: TcpStream) -> Option<(usize, TcpStream)> {
    stream.set_nonblocking(false).ok()?;
    stream.set_nodelay(true).ok()?;
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let first = String::from_utf8_lossy(&head);
    let path = first.split_whitespace().nth(1)?;
    let feed = path.strip_prefix("/feed/")?.parse().ok()?;
    stream
        .write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n",
        )
        .ok()?;
    Some((feed, stream))
}

/// What the history reader saw: per feed the sequence numbers in row order, and each row's
/// latency from its write.
#[derive(Default)]
struct Seen {
    seqs: Vec<Vec<u64>>,
    latencies: Vec<Duration>,
    misfiled: u64,
}

/// Polls the history file every [`TICK`] until `total` rows were seen or `stop` is set.
fn read_history(
    db: PathBuf,
    feeds: usize,
    total: u64,
    origin: Instant,
    stop: Arc<AtomicBool>,
) -> JoinHandle<Seen> {
    std::thread::spawn(move || {
        let conn = poll(PATIENCE, || {
            let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
            let conn = rusqlite::Connection::open_with_flags(&db, flags).ok()?;
            conn.prepare("SELECT 1 FROM events LIMIT 1").ok()?;
            Some(conn)
        })
        .expect("the daemon creates its history");
        let mut query = conn
            .prepare("SELECT id, sub_id, data FROM events WHERE id > ?1 ORDER BY id")
            .expect("the events table");
        let mut seen = Seen {
            seqs: vec![Vec::new(); feeds],
            ..Seen::default()
        };
        let mut last: i64 = 0;
        let mut count = 0u64;
        while count < total && !stop.load(Ordering::Relaxed) {
            let rows: Vec<(i64, String, String)> = query
                .query_map([last], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .expect("query")
                .collect::<Result<_, _>>()
                .expect("rows");
            let at = origin.elapsed();
            for (id, sub, data) in rows {
                last = id;
                count += 1;
                let event: serde_json::Value = serde_json::from_str(&data).expect("our JSON");
                let field = |name: &str| event[name].as_u64().expect("a number");
                let feed = field("feed") as usize;
                if sub != format!("f{feed}") {
                    seen.misfiled += 1;
                }
                seen.seqs[feed].push(field("seq"));
                seen.latencies
                    .push(at.saturating_sub(Duration::from_nanos(field("written"))));
            }
            std::thread::sleep(TICK);
        }
        seen
    })
}

/// The measured program.
#[derive(Clone, Copy, PartialEq)]
enum Peer {
    Ssenotify,
    /// The `ssenotify` at `BENCH_BASELINE`.
    Baseline,
    EventsourceClient,
}

impl Peer {
    fn name(self) -> &'static str {
        match self {
            Peer::Ssenotify => "ssenotify run",
            Peer::Baseline => "baseline run",
            Peer::EventsourceClient => "eventsource-client",
        }
    }
}

/// The history writer's thread as `comm` names it (`ssenotify-history`, cut to 15 bytes).
const WRITER_THREAD: &str = "ssenotify-histo";

/// One run's figures.
struct Run {
    cpu_percent: f64,
    /// Of which the history writer's thread (none for the peer).
    writer_percent: Option<f64>,
    rss_mib: f64,
    behind: Duration,
    connections: usize,
    /// Rows seen (ssenotify) or events dispatched (the peer).
    delivered: u64,
    latency: Option<Latency>,
}

struct Latency {
    p50: Duration,
    p99: Duration,
    max: Duration,
}

fn latency(mut samples: Vec<Duration>) -> Option<Latency> {
    samples.sort();
    let n = samples.len();
    let at = |q: f64| samples[((q * n as f64).ceil() as usize).clamp(1, n) - 1];
    (n > 0).then(|| Latency {
        p50: at(0.50),
        p99: at(0.99),
        max: samples[n - 1],
    })
}

/// The subscriptions file: one subscription per feed, each with a rule every event matches.
fn subscriptions(url: &str, load: Load) -> String {
    let mut file = String::from("version = 1\n");
    for feed in 0..load.feeds {
        file.push_str(&format!(
            "\n[[subscription]]\nid = \"f{feed}\"\nurl = \"{url}{feed}\"\n\
             rate_limit = {{ max = 1000, per = \"1s\" }}\n\
             history = {{ max_events = {} }}\n\n\
             [[subscription.rules]]\nevent = \"message\"\n\
             title = \"feed {{{{ data.feed }}}}\"\nbody = \"event {{{{ data.seq }}}}\"\n",
            load.max_events
        ));
    }
    file
}

/// What a process used while the feeds sent their load.
struct Usage {
    /// CPU as a share of one core.
    cpu: f64,
    /// The same for its history writer's thread.
    writer: f64,
    rss_mib: f64,
    /// How far the sender fell behind its schedule.
    behind: Duration,
}

/// Measures the CPU of `pid` while `feeds` sends `load`.
fn stream(feeds: &Feeds, load: Load, origin: Instant, pid: u32) -> Usage {
    let start = Instant::now() + Duration::from_millis(200);
    let writers = feeds.writers();
    let sender = std::thread::spawn(move || send(writers, load, origin, start));
    let from = start + WARMUP;
    std::thread::sleep(from.saturating_duration_since(Instant::now()));
    let ticks = || (cpu_ticks(pid), thread_cpu_ticks(pid, WRITER_THREAD));
    let (t0, (ticks0, writer0)) = (Instant::now(), ticks());
    let behind = sender.join().expect("the sender");
    let (t1, (ticks1, writer1)) = (Instant::now(), ticks());
    let percent = |ticks: u64| ticks as f64 / TICKS_PER_SEC / (t1 - t0).as_secs_f64() * 100.0;
    Usage {
        cpu: percent(ticks1 - ticks0),
        writer: percent(writer1.saturating_sub(writer0)),
        rss_mib: vm_rss_kib(pid) as f64 / 1024.0,
        behind,
    }
}

/// `bin` (default: the `ssenotify` under test) through `load`.
fn run_ssenotify(load: Load, bin: Option<&Path>) -> Run {
    let origin = Instant::now();
    let feeds = Feeds::start(load.feeds);
    let home = Home::new();
    std::fs::create_dir_all(home.config_dir()).expect("config dir");
    std::fs::write(home.subs_file(), subscriptions(&feeds.url, load)).expect("file");
    let mut daemon = match bin {
        Some(bin) => {
            let mut cmd = Command::new(bin);
            home.isolate(&mut cmd).args(["run", "--no-notify"]);
            home.start_daemon_with(cmd)
        }
        None => home.start_daemon(),
    };
    feeds.wait_connected(load.feeds);
    let stop = Arc::new(AtomicBool::new(false));
    let reader = read_history(
        home.data_dir().join("history.sqlite3"),
        load.feeds,
        load.total(),
        origin,
        stop.clone(),
    );
    let usage = stream(&feeds, load, origin, daemon.pid());
    // The last rows: give them time, then stop the reader whatever it saw.
    let deadline = Instant::now() + PATIENCE;
    while !reader.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, Ordering::Relaxed);
    let seen = reader.join().expect("the history reader");
    daemon.signal("TERM");
    daemon.wait_exit(PATIENCE).expect("the daemon stops");
    check_rows(&seen, load, &daemon.log());
    assert_eq!(feeds.connections(), load.feeds, "a feed reconnected");
    Run {
        cpu_percent: usage.cpu,
        writer_percent: Some(usage.writer),
        rss_mib: usage.rss_mib,
        behind: usage.behind,
        connections: feeds.connections(),
        delivered: seen.latencies.len() as u64,
        latency: latency(seen.latencies),
    }
}

/// Every event has its row, once, under its own subscription, in order per feed.
fn check_rows(seen: &Seen, load: Load, log: &str) {
    assert_eq!(seen.misfiled, 0, "rows stored under another subscription");
    for (feed, seqs) in seen.seqs.iter().enumerate() {
        let expected: Vec<u64> = (0..load.per_feed()).collect();
        if *seqs != expected {
            let first_gap = seqs
                .iter()
                .zip(&expected)
                .position(|(a, b)| a != b)
                .unwrap_or(seqs.len().min(expected.len()));
            panic!(
                "feed {feed}: {} rows of {}, first difference at {first_gap} \
                 (each event once, in order)\n{log}",
                seqs.len(),
                expected.len()
            );
        }
    }
}

fn run_peer(load: Load) -> Run {
    let origin = Instant::now();
    let feeds = Feeds::start(load.feeds);
    let mut child = Command::new(env!("CARGO_BIN_EXE_es_idle"))
        .args([feeds.url.clone(), load.feeds.to_string()])
        .env("NO_PROXY", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("es_idle runs");
    let stdout = child.stdout.take().expect("piped stdout");
    let lines = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    feeds.wait_connected(load.feeds);
    let usage = stream(&feeds, load, origin, child.id());
    // Every event dispatched: the count moves until the last one is parsed.
    let delivered = wait_for_peer(&mut child, lines, load.total());
    assert_eq!(feeds.connections(), load.feeds, "a feed reconnected");
    Run {
        cpu_percent: usage.cpu,
        writer_percent: None,
        rss_mib: usage.rss_mib,
        behind: usage.behind,
        connections: feeds.connections(),
        delivered,
        latency: None,
    }
}

/// Closes the peer's stdin once the stream has had time to drain; the events it counted.
fn wait_for_peer(child: &mut Child, lines: JoinHandle<Vec<String>>, total: u64) -> u64 {
    // The peer says how many it got only when it stops; the sockets drain within moments
    // of the last write on loopback, so a short grace suffices for a process keeping up.
    std::thread::sleep(Duration::from_millis(500));
    drop(child.stdin.take());
    let _ = child.wait();
    let lines = lines.join().expect("the peer's output");
    let delivered = lines
        .iter()
        .find_map(|l| l.strip_prefix("events ")?.parse().ok())
        .expect("es_idle reports its events");
    assert_eq!(delivered, total, "the peer dispatched every event");
    delivered
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).expect("comparable"));
    values[values.len() / 2]
}

/// The medians of the runs' p50 and p99.
fn latency_medians(runs: &[Run]) -> (Duration, Duration) {
    let lat = |f: fn(&Latency) -> Duration| {
        Duration::from_secs_f64(median(
            runs.iter()
                .filter_map(|r| r.latency.as_ref().map(|l| f(l).as_secs_f64()))
                .collect(),
        ))
    };
    (lat(|l| l.p50), lat(|l| l.p99))
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn print_run(peer: Peer, run: &Run) {
    let (p50, p99, max) = match &run.latency {
        Some(l) => (ms(l.p50), ms(l.p99), ms(l.max)),
        None => ("-".into(), "-".into(), "-".into()),
    };
    let writer = run.writer_percent.map_or("-".into(), |w| format!("{w:.1}"));
    println!(
        "  {:<20} {:>8.1} {:>9} {:>9.1} {:>9} {:>9} {:>9} {:>9} {:>11} {:>12}",
        peer.name(),
        run.cpu_percent,
        writer,
        run.rss_mib,
        p50,
        p99,
        max,
        run.delivered,
        run.connections,
        ms(run.behind),
    );
}

fn main() {
    // `cargo test --benches` runs bench binaries with `--test`: nothing to check then.
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let rate = env_or("BENCH_RATE", 100);
    let load = Load {
        feeds: env_or("BENCH_FEEDS", 100),
        rate,
        secs: env_or("BENCH_SECS", 20),
        max_events: env_or("BENCH_MAX_EVENTS", rate * WARMUP.as_secs()),
    };
    let runs: usize = env_or::<usize>("BENCH_RUNS", 3).max(1);
    assert!(
        load.secs > WARMUP.as_secs() && load.feeds > 0 && load.rate > 0,
        "BENCH_SECS must exceed the {} s warm-up; feeds and rate must be positive",
        WARMUP.as_secs()
    );
    println!(
        "throughput: {} feeds × {} events/s = {} events/s for {} s, history keeping {} a feed, {runs} runs",
        load.feeds,
        load.rate,
        load.feeds as u64 * load.rate,
        load.secs,
        load.max_events
    );
    println!(
        "  {:<20} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>11} {:>12}",
        "",
        "CPU %",
        "writer %",
        "RSS MiB",
        "p50 ms",
        "p99 ms",
        "max ms",
        "rows",
        "connections",
        "behind ms"
    );
    let baseline = std::env::var_os("BENCH_BASELINE").map(PathBuf::from);
    let mut peers = vec![Peer::Ssenotify, Peer::EventsourceClient];
    if baseline.is_some() {
        peers.insert(1, Peer::Baseline);
    }
    let mut figures: HashMap<&str, Vec<Run>> = HashMap::new();
    for _ in 0..runs {
        for &peer in &peers {
            let run = match peer {
                Peer::Ssenotify => run_ssenotify(load, None),
                Peer::Baseline => run_ssenotify(load, baseline.as_deref()),
                Peer::EventsourceClient => run_peer(load),
            };
            print_run(peer, &run);
            let _ = std::io::stdout().flush();
            figures.entry(peer.name()).or_default().push(run);
        }
    }
    let ours = &figures[Peer::Ssenotify.name()];
    let peer = &figures[Peer::EventsourceClient.name()];
    let cpu = median(ours.iter().map(|r| r.cpu_percent).collect());
    let writer = |runs: &[Run]| median(runs.iter().filter_map(|r| r.writer_percent).collect());
    let peer_cpu = median(peer.iter().map(|r| r.cpu_percent).collect());
    let (p50, p99) = latency_medians(ours);
    println!("medians of {runs} runs:");
    if let Some(base) = figures.get(Peer::Baseline.name()) {
        let base_cpu = median(base.iter().map(|r| r.cpu_percent).collect());
        let (base_p50, base_p99) = latency_medians(base);
        println!(
            "  baseline run: CPU {base_cpu:.1} % of one core (writer {:.1} %), p50 {} ms, p99 {} ms; this build / baseline: CPU {:.2}, writer {:.2}, p50 {:.2}, p99 {:.2}",
            writer(base),
            ms(base_p50),
            ms(base_p99),
            cpu / base_cpu,
            writer(ours) / writer(base),
            p50.as_secs_f64() / base_p50.as_secs_f64(),
            p99.as_secs_f64() / base_p99.as_secs_f64(),
        );
    }
    println!(
        "  ssenotify run: CPU {cpu:.1} % of one core (target ≤ {TARGET_CPU} %: {}; the history writer's thread {:.1} %), write → history row p50 {} ms, p99 {} ms (target ≤ {} ms: {})",
        if cpu <= TARGET_CPU { "met" } else { "MISSED" },
        writer(ours),
        ms(p50),
        ms(p99),
        ms(TARGET_P99),
        if p99 <= TARGET_P99 { "met" } else { "MISSED" },
    );
    println!(
        "  eventsource-client (parsing only): CPU {peer_cpu:.1} %; ssenotify / eventsource-client = {:.2}",
        cpu / peer_cpu
    );
}
