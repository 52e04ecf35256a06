//! Gap accounting (README, "What only ssenotify does"), against the real `ssenotify`
//! binary and loopback servers: four servers, (a) one that honours `Last-Event-ID`, (b) one
//! that ignores it and numbers from 1 again, (c) one that sends no ids, (d) one whose
//! `/seq` jumps; across a dropped connection, a `kill -9` of the daemon and a pause, only
//! (a)'s outage is proven complete, and the others are kept as gap rows with their class,
//! why, cause and times.

use std::fs;

use serde_json::Value;
use ssenotify_e2e::home::*;
use ssenotify_e2e::{Request, Response, Step, TestServer, poll, sse_event};

/// Events each connection sends before it holds the stream.
const PER_CONNECTION: u64 = 3;

/// (a): numeric ids continuing after the request's `Last-Event-ID`.
fn honouring() -> TestServer {
    TestServer::start(|req: &Request, _| {
        let from = req
            .header("last-event-id")
            .and_then(|id| id.parse::<u64>().ok())
            .map_or(1, |id| id + 1);
        let ids = (from..from + PER_CONNECTION).map(|id| Some(id.to_string()));
        holding(ids.map(|id| (id, "{}".to_owned())))
    })
}

/// (b): ids from 1 on every connection, whatever `Last-Event-ID` says.
fn restarting() -> TestServer {
    TestServer::start(|_, n| {
        let events = (1..=PER_CONNECTION).map(|id| (Some(id.to_string()), format!("conn {n}")));
        holding(events)
    })
}

/// (c): no ids at all.
fn anonymous() -> TestServer {
    TestServer::start(|_, n| {
        holding((1..=PER_CONNECTION).map(|i| (None, format!("conn {n} #{i}"))))
    })
}

/// (d): no ids; `/seq` counts on, but each new connection skips 7 numbers.
fn jumping() -> TestServer {
    TestServer::start(|_, n| {
        let first = n as u64 * (PER_CONNECTION + 7) + 1;
        holding((first..first + PER_CONNECTION).map(|seq| (None, format!("{{\"seq\":{seq}}}"))))
    })
}

fn holding(events: impl Iterator<Item = (Option<String>, String)>) -> Response {
    let mut steps: Vec<Step> = events
        .map(|(id, data)| Step::Send(sse_event(None, id.as_deref(), &data)))
        .collect();
    steps.push(Step::Hold);
    Response::sse_steps(steps)
}

struct Feeds {
    a: TestServer,
    b: TestServer,
    c: TestServer,
    d: TestServer,
}

/// A home with the four feeds, every outage counted (`gap_threshold = "0s"`), and a fifth
/// subscription (`quiet`, of server (c) too) at the default threshold of a minute.
fn setup() -> (Home, Feeds) {
    let feeds = Feeds {
        a: honouring(),
        b: restarting(),
        c: anonymous(),
        d: jumping(),
    };
    let home = Home::new();
    let sub = |id: &str, url: String, extra: &str| {
        format!(
            "[[subscription]]\nid = \"{id}\"\nurl = \"{url}\"\nreconnect_time = \"200ms\"\n\
             rules = [{{ event = \"*\", action = \"history\" }}]\n{extra}\n"
        )
    };
    let text = [
        sub("a", feeds.a.url("/a"), "gap_threshold = \"0s\""),
        sub("b", feeds.b.url("/b"), "gap_threshold = \"0s\""),
        sub("c", feeds.c.url("/c"), "gap_threshold = \"0s\""),
        sub(
            "d",
            feeds.d.url("/d"),
            "gap_threshold = \"0s\"\nsequence = \"/seq\"",
        ),
        sub("quiet", feeds.c.url("/quiet"), ""),
    ]
    .concat();
    fs::create_dir_all(home.config_dir()).unwrap();
    fs::write(home.subs_file(), text).unwrap();
    (home, feeds)
}

/// `sub`'s rows, newest first.
fn rows(home: &Home, sub: &str) -> Vec<Value> {
    home.history(&[sub, "--limit", "100"])
}

fn gaps(rows: &[Value]) -> Vec<Value> {
    rows.iter()
        .filter(|r| r["kind"] == "gap")
        .cloned()
        .collect()
}

fn events(rows: &[Value]) -> usize {
    rows.iter().filter(|r| r["kind"] == "event").count()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Waits until every feed's first connection's events are stored.
fn first_events(home: &Home) {
    for sub in ["a", "b", "c", "d", "quiet"] {
        poll(WAIT, || (events(&rows(home, sub)) == 3).then_some(()))
            .unwrap_or_else(|| panic!("{sub}'s first events: {:?}", rows(home, sub)));
    }
}

/// Waits until the outage is settled everywhere: (a) has its next events, the others a
/// gap row, (c) and (d) followed by the events that settled it. (b)'s events after the
/// reconnect reuse ids history holds, so deduplication takes them for copies: the gap
/// row is their only trace. Returns each subscription's rows (newest first).
fn settled(home: &Home) -> [Vec<Value>; 4] {
    poll(WAIT, || (events(&rows(home, "a")) == 6).then_some(()))
        .unwrap_or_else(|| panic!("a's replay: {:?}", rows(home, "a")));
    let settled = |sub: &str| {
        poll(WAIT, || {
            let rows = rows(home, sub);
            let after = if sub == "b" { 0 } else { 3 };
            (gaps(&rows).len() == 1 && events(&rows) == 3 + after).then_some(rows)
        })
        .unwrap_or_else(|| panic!("{sub}: no gap row: {:?}", rows(home, sub)))
    };
    [rows(home, "a"), settled("b"), settled("c"), settled("d")]
}

/// Checks the classes, reasons and times of the four outages: the outage began at or
/// after `began` (`exactly`: within 2 s of it) and ended at the first event after it.
fn check(rows: &[Vec<Value>; 4], began: i64, exactly: bool, cause: &str) {
    let [a, b, c, d] = rows;
    assert!(gaps(a).is_empty(), "(a) resumed: proven complete: {a:?}");
    for (name, rows, class, why) in [
        ("b", b, "unknown", "ids started again at 1 after 3"),
        ("c", c, "unknown", "reconnected without a resume point"),
        ("d", d, "gap", "sequence jumped from 3 to 11: 7 missing"),
    ] {
        let at = rows.iter().position(|r| r["kind"] == "gap").unwrap();
        let gap = &rows[at];
        assert_eq!(gap["class"], class, "{name}: {gap}");
        assert!(
            gap["why"].as_str().unwrap().starts_with(why),
            "{name}: {gap}"
        );
        assert!(
            gap["cause"].as_str().unwrap().contains(cause),
            "{name}: {gap}"
        );
        let (start, end) = (gap["start"].as_i64().unwrap(), gap["end"].as_i64().unwrap());
        assert!(start >= began - 1 && start <= end, "{name}: {began} {gap}");
        if exactly {
            assert!(start - began < 2000, "{name}: began {began}: {gap}");
        }
        // The row just after the gap row (newer: before it in the list) is the first event
        // after the reconnect, which ends the outage.
        if name != "b" {
            assert_eq!(rows[at - 1]["received_at"], end, "{name}: {rows:?}");
        }
        assert_eq!(gap["type"], "ssenotify.gap");
        assert_eq!(gap["action"], "gap");
    }
}

/// The text `history` prints for a gap row.
fn gap_line(home: &Home, sub: &str) -> String {
    home.ok(&["history", sub])
        .lines()
        .find(|l| l.contains("possible gap"))
        .unwrap_or_else(|| panic!("no gap line for {sub}"))
        .to_owned()
}

#[test]
fn a_dropped_connection_is_an_outage_only_a_resuming_server_proves_complete() {
    let (home, feeds) = setup();
    let _daemon = home.start_daemon();
    first_events(&home);
    let began = now_ms();
    for server in [&feeds.a, &feeds.b, &feeds.c, &feeds.d] {
        server.kill_connections();
    }
    let all = settled(&home);
    check(&all, began, true, "");
    assert_eq!(
        feeds.a.requests()[1].header("last-event-id"),
        Some("3"),
        "(a) was asked to resume"
    );
    let line = gap_line(&home, "c");
    assert!(
        line.contains("possible gap ")
            && line.contains(" (reconnected without a resume point); outage began with: "),
        "{line}"
    );
    // The same feed at the default threshold: a reconnect within a minute is no row.
    feeds.c.kill_connections();
    poll(WAIT, || (events(&rows(&home, "quiet")) >= 6).then_some(())).expect("quiet reconnected");
    assert!(gaps(&rows(&home, "quiet")).is_empty());
}

#[test]
fn a_daemon_killed_with_kill_9_is_an_outage_from_the_last_stored_event() {
    let (home, _feeds) = setup();
    let mut daemon = home.start_daemon();
    first_events(&home);
    // Each outage starts at its own subscription's last stored event: the earliest of them
    // bounds every start from below.
    let last_stored = ["b", "c", "d"]
        .map(|sub| rows(&home, sub)[0]["received_at"].as_i64().unwrap())
        .into_iter()
        .min()
        .unwrap();
    daemon.kill9();
    let restarted = now_ms();
    let _daemon = home.start_daemon();
    let all = settled(&home);
    check(&all, last_stored, true, "the daemon was not running");
    for sub in &all[1..] {
        let gap = &gaps(sub)[0];
        assert!(gap["end"].as_i64().unwrap() >= restarted, "{gap}");
    }
}

#[test]
fn a_pause_is_an_outage_until_the_first_event_after_resuming() {
    let (home, _feeds) = setup();
    let _daemon = home.start_daemon();
    first_events(&home);
    let began = now_ms();
    for sub in ["a", "b", "c", "d"] {
        home.ok(&["pause", sub]);
    }
    poll(WAIT, || {
        ["a", "b", "c", "d"]
            .iter()
            .all(|s| home.live(s).is_some_and(|l| l["ready_state"] == "CLOSED"))
            .then_some(())
    })
    .expect("all paused");
    let resumed = now_ms();
    for sub in ["a", "b", "c", "d"] {
        home.ok(&["resume", sub]);
    }
    let all = settled(&home);
    check(&all, began, true, "paused");
    for sub in &all[1..] {
        let gap = &gaps(sub)[0];
        assert!(gap["start"].as_i64().unwrap() <= resumed, "{gap}");
    }
}
