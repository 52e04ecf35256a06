//! "Nothing lost" (README, "What ssenotify promises"), against the real `ssenotify` binary,
//! real files and loopback servers: history and resume points survive an emptied, deleted
//! or truncated subscriptions file and go only on an explicit removal; retention holds
//! without new events; `drop` keeps nothing; a history that cannot be written, or is
//! deleted, loses no event for good; and `list --json` still shows what runs when the file
//! is broken.

use std::fs;
use std::time::Duration;

use serde_json::Value;
use ssenotify_e2e::home::*;
use ssenotify_e2e::{Request, Response, Step, TestServer, poll, sse_event};

/// A stream of `tick` events, one every `every_ms`, continuing after the request's
/// `Last-Event-ID` (numeric ids from 1), as a server that honours it does.
fn ticking(every_ms: u64) -> TestServer {
    TestServer::start(move |req: &Request, _| {
        let from = req
            .header("last-event-id")
            .and_then(|id| id.parse::<u64>().ok())
            .map_or(1, |id| id + 1);
        let mut steps = Vec::new();
        for id in from..from + 10_000 {
            steps.push(Step::Send(sse_event(
                Some("tick"),
                Some(&id.to_string()),
                &format!("tick {id}"),
            )));
            steps.push(Step::sleep_ms(every_ms));
        }
        Response::sse_steps(steps)
    })
}

/// A server that sends `ids` (one event each) and holds the stream.
fn sending(ids: &'static [&'static str]) -> TestServer {
    TestServer::start(move |_, _| {
        let mut steps: Vec<Step> = ids
            .iter()
            .map(|id| Step::Send(sse_event(None, Some(id), &format!("event {id}"))))
            .collect();
        steps.push(Step::Hold);
        Response::sse_steps(steps)
    })
}

/// The `Last-Event-ID` of every request `server` saw, in order.
fn last_event_ids(server: &TestServer) -> Vec<Option<String>> {
    server
        .requests()
        .iter()
        .map(|r| r.header("last-event-id").map(str::to_owned))
        .collect()
}

fn live_field(home: &Home, id: &str, field: &str) -> Value {
    home.live(id)
        .map(|s| s[field].clone())
        .unwrap_or(Value::Null)
}

/// Waits until `id` is OPEN in the daemon's status.
fn until_open(home: &Home, id: &str) {
    poll(WAIT, || {
        (live_field(home, id, "ready_state") == "OPEN").then_some(())
    })
    .unwrap_or_else(|| panic!("{id} never OPEN: {:?}", home.live(id)));
}

#[test]
fn an_emptied_deleted_or_truncated_file_loses_no_history_and_no_resume_point() {
    let a = sending(&["a1", "a2", "a3"]);
    let b = sending(&["b1", "b2"]);
    let home = Home::new();
    home.ok(&["add", &a.url("/a"), "--id", "a"]);
    home.ok(&["add", &b.url("/b"), "--id", "b"]);
    let _daemon = home.start_daemon();
    poll(WAIT, || {
        (home.history(&["--limit", "100"]).len() == 5).then_some(())
    })
    .expect("both feeds recorded");
    let before = home.history(&["--limit", "100"]);
    let file = fs::read(home.subs_file()).unwrap();

    // Emptied for 3 s (an editor that truncates before it writes, a sync tool): the daemon
    // applies the empty set, and must delete nothing.
    fs::write(home.subs_file(), "").unwrap();
    poll(WAIT, || {
        (a.open_connections() == 0 && b.open_connections() == 0).then_some(())
    })
    .expect("the empty set was applied");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(home.history(&["--limit", "100"]), before);
    fs::write(home.subs_file(), &file).unwrap();
    poll(WAIT, || {
        (a.requests().len() == 2 && b.requests().len() == 2).then_some(())
    })
    .expect("both reconnect when the file is back");
    assert_eq!(last_event_ids(&a)[1].as_deref(), Some("a3"));
    assert_eq!(last_event_ids(&b)[1].as_deref(), Some("b2"));

    // Deleted for a moment, then cut to a valid prefix (only `a`), then whole again.
    fs::remove_file(home.subs_file()).unwrap();
    poll(WAIT, || (a.open_connections() == 0).then_some(())).expect("applied");
    let only_a = String::from_utf8(file.clone()).unwrap();
    let cut = only_a
        .find("[[subscription]]\nid = \"b\"")
        .expect("b's table");
    fs::write(home.subs_file(), &only_a[..cut]).unwrap();
    poll(WAIT, || (a.requests().len() == 3).then_some(())).expect("a back");
    fs::write(home.subs_file(), &file).unwrap();
    poll(WAIT, || (b.requests().len() == 3).then_some(())).expect("b back");
    assert_eq!(last_event_ids(&a)[2].as_deref(), Some("a3"));
    assert_eq!(last_event_ids(&b)[2].as_deref(), Some("b2"));
    // Replays are duplicates: history holds each event once, nothing lost.
    let after: Vec<Value> = home.history(&["--limit", "100"]);
    assert_eq!(after, before);
}

#[test]
fn remove_deletes_history_and_resume_point_and_a_re_added_id_starts_afresh() {
    let a = sending(&["1", "2"]);
    let home = Home::new();
    home.ok(&["add", &a.url("/a"), "--id", "a"]);
    let mut daemon = home.start_daemon();
    poll(WAIT, || (home.history(&["a"]).len() == 2).then_some(())).expect("recorded");
    assert_eq!(home.ok(&["remove", "a"]), "removed a\n");
    assert!(
        home.history(&["a"]).is_empty(),
        "remove deletes its history"
    );
    home.ok(&["add", &a.url("/a"), "--id", "a"]);
    poll(WAIT, || (a.requests().len() == 2).then_some(())).expect("re-added");
    assert_eq!(last_event_ids(&a)[1], None, "no resume point left behind");

    // Without a daemon, remove deletes the history file's rows itself.
    poll(WAIT, || (home.history(&["a"]).len() == 2).then_some(())).expect("recorded");
    daemon.signal("TERM");
    daemon.wait_exit(WAIT).expect("stopped");
    home.ok(&["remove", "a"]);
    assert!(home.history(&["a"]).is_empty());
}

#[test]
fn retention_holds_after_a_burst_and_for_a_quiet_feed() {
    let burst: &'static [&'static str] = Box::leak(
        (1..=400)
            .map(|i| &*Box::leak(i.to_string().into_boxed_str()))
            .collect::<Vec<&str>>()
            .into_boxed_slice(),
    );
    let busy = sending(burst);
    let quiet = sending(&["q1", "q2", "q3"]);
    let home = Home::new();
    fs::create_dir_all(home.config_dir()).unwrap();
    fs::write(
        home.subs_file(),
        format!(
            "[[subscription]]\nid = \"busy\"\nurl = \"{}\"\nhistory = {{ max_events = 5 }}\n\n\
             [[subscription]]\nid = \"quiet\"\nurl = \"{}\"\nhistory = {{ max_age = \"2s\" }}\n",
            busy.url("/busy"),
            quiet.url("/quiet")
        ),
    )
    .unwrap();
    let _daemon = home.start_daemon();
    // 400 events, then nothing more: exactly the newest 5 stay.
    poll(WAIT, || {
        let ids = home.history(&["busy", "--limit", "1000"]);
        (ids.first().is_some_and(|e| e["id"] == "400") && ids.len() == 5).then_some(())
    })
    .unwrap_or_else(|| panic!("{:?}", home.history(&["busy", "--limit", "1000"]).len()));
    // A feed that went quiet still ages out, without a new event to trigger it.
    poll(WAIT, || (home.history(&["quiet"]).len() == 3).then_some(())).expect("recorded");
    poll(WAIT, || home.history(&["quiet"]).is_empty().then_some(())).expect("aged out after 2 s");
    // A lower max_events applies as soon as the file says so.
    let text = fs::read_to_string(home.subs_file())
        .unwrap()
        .replace("max_events = 5", "max_events = 2");
    fs::write(home.subs_file(), text).unwrap();
    poll(WAIT, || (home.history(&["busy"]).len() == 2).then_some(()))
        .expect("trimmed to the new limit");
    // What retention removed is counted where the rows end, not silently missing.
    let text = home.ok(&["history", "busy", "--limit", "1000"]);
    assert!(
        text.ends_with("\n(398 older events removed by retention)\n"),
        "{text}"
    );
    let text = home.ok(&["history", "quiet"]);
    assert_eq!(text, "(3 older events removed by retention)\n");
    // Not where rows were left out by --limit: older ones are there.
    assert!(
        !home
            .ok(&["history", "busy", "--limit", "1"])
            .contains("retention")
    );
}

#[test]
fn a_dropped_event_is_not_kept_but_the_stream_resumes_after_it() {
    let feed = sending(&["1", "2", "3"]);
    let home = Home::new();
    fs::create_dir_all(home.config_dir()).unwrap();
    fs::write(
        home.subs_file(),
        format!(
            "[[subscription]]\nid = \"f\"\nurl = \"{}\"\n\n\
             [[subscription.rules]]\nwhen = [{{ equals = \"event 3\" }}]\naction = \"drop\"\n",
            feed.url("/f")
        ),
    )
    .unwrap();
    let mut daemon = home.start_daemon();
    poll(WAIT, || {
        (home.live("f").is_some_and(|s| s["events"] == 3)).then_some(())
    })
    .expect("three events received");
    let kept: Vec<String> = home
        .history(&["f"])
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kept, ["2", "1"], "the dropped event is not stored");
    daemon.signal("TERM");
    daemon.wait_exit(WAIT).expect("stopped");
    let _daemon = home.start_daemon();
    poll(WAIT, || (feed.requests().len() == 2).then_some(())).expect("restarted");
    assert_eq!(last_event_ids(&feed)[1].as_deref(), Some("3"));
}

/// The numeric event ids history holds for `sub`, oldest first.
fn saved_ids(home: &Home, sub: &str) -> Vec<u64> {
    home.history_ids(sub)
}

#[test]
fn events_history_could_not_save_are_replayed_once_it_can_and_none_is_lost() {
    let server = ticking(40);
    let home = Home::new();
    home.ok(&["add", &server.url("/ticks"), "--id", "ticks"]);
    let _daemon = home.start_daemon();
    poll(WAIT, || {
        (saved_ids(&home, "ticks").len() >= 5).then_some(())
    })
    .expect("recording");

    // The database refuses every new row (as a full disk would) for a while.
    let db = home.path().join("data/ssenotify/history.sqlite3");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER refuse BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
    )
    .unwrap();
    poll(WAIT, || {
        live_field(&home, "ticks", "error")
            .as_str()
            .is_some_and(|e| e.contains("history"))
            .then_some(())
    })
    .expect("list shows the history error");
    let list = home.ok(&["list"]);
    assert!(list.contains("history"), "{list}");
    let saved_before = *saved_ids(&home, "ticks").last().unwrap();
    // Events keep arriving meanwhile and cannot be saved.
    let requests = server.requests().len();
    poll(WAIT, || {
        (live_field(&home, "ticks", "events").as_u64() >= Some(saved_before + 10)).then_some(())
    })
    .expect("events keep arriving");

    // Writes work again: the subscription reconnects from the last saved event, and the
    // server's replay fills the hole.
    conn.execute_batch("DROP TRIGGER refuse;").unwrap();
    poll(WAIT, || (server.requests().len() > requests).then_some(()))
        .expect("reconnected once history works");
    let resumed_from = server
        .requests()
        .last()
        .unwrap()
        .header("last-event-id")
        .map(str::to_owned);
    assert_eq!(resumed_from, Some(saved_before.to_string()));
    poll(WAIT, || {
        let ids = saved_ids(&home, "ticks");
        (ids.len() as u64 > saved_before + 10).then_some(())
    })
    .expect("recording again");
    // Every event once, none missing (the replayed ones are stored after those that came
    // on the old connection while it reconnected, hence the sort).
    let mut ids = saved_ids(&home, "ticks");
    ids.sort_unstable();
    let expected: Vec<u64> = (1..=*ids.last().unwrap()).collect();
    assert_eq!(
        ids, expected,
        "every event saved exactly once, none missing"
    );
    assert_eq!(live_field(&home, "ticks", "error"), Value::Null);
}

#[test]
fn a_deleted_history_file_is_recreated_and_keeps_the_resume_points() {
    let server = ticking(40);
    let home = Home::new();
    home.ok(&["add", &server.url("/ticks"), "--id", "ticks"]);
    let mut daemon = home.start_daemon();
    poll(WAIT, || {
        (saved_ids(&home, "ticks").len() >= 3).then_some(())
    })
    .expect("recording");
    let db = home.path().join("data/ssenotify/history.sqlite3");
    for suffix in ["", "-wal", "-shm"] {
        let _ = fs::remove_file(format!("{}{suffix}", db.display()));
    }
    poll(WAIT, || {
        (db.exists() && saved_ids(&home, "ticks").len() >= 3).then_some(())
    })
    .expect("recreated, with new events");
    daemon.signal("TERM");
    daemon.wait_exit(WAIT).expect("stopped");
    let last = *saved_ids(&home, "ticks").last().unwrap();
    let requests = server.requests().len();
    let _daemon = home.start_daemon();
    poll(WAIT, || (server.requests().len() > requests).then_some(())).expect("restarted");
    assert_eq!(
        server.requests().last().unwrap().header("last-event-id"),
        Some(last.to_string().as_str()),
        "the restart resumes where the recreated file says"
    );
}

#[test]
fn list_json_shows_what_runs_while_the_file_does_not_validate() {
    let feed = sending(&["1"]);
    let home = Home::new();
    home.ok(&["add", &feed.url("/f"), "--id", "f"]);
    let _daemon = home.start_daemon();
    until_open(&home, "f");
    fs::write(home.subs_file(), "[[subscription]]\nid = \"f\"\nurl = 42\n").unwrap();
    poll(WAIT, || {
        home.status()["daemon"]["config_error"].as_str().map(drop)
    })
    .expect("the daemon saw the broken file");
    let output = home.run(&["list", "--json"]);
    assert!(!output.status.success(), "{}", show(&output));
    assert!(
        stderr(&output).contains("subscriptions.toml"),
        "{}",
        show(&output)
    );
    let list: Value = serde_json::from_str(&stdout(&output)).expect("a JSON array");
    assert_eq!(list[0]["id"], "f");
    assert_eq!(list[0]["live"]["ready_state"], "OPEN");
}

/// Feeds and events per feed of the flood below (history keeps them all, to be checked).
const FLOOD_FEEDS: usize = 10;
const FLOOD_LEN: u64 = 4000;

/// Every feed's ids in history, in row order.
fn flood_ids(home: &Home) -> Vec<Vec<u64>> {
    (0..FLOOD_FEEDS)
        .map(|feed| home.history_ids(&format!("f{feed}")))
        .collect()
}

/// How many rows history holds (a cheap look while the daemon writes).
fn rows(home: &Home) -> u64 {
    let db = home.data_dir().join("history.sqlite3");
    rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|conn| conn.query_row("SELECT count(*) FROM events", [], |r| r.get::<_, i64>(0)))
        .map_or(0, |n| n as u64)
}

#[test]
fn kill_9_during_a_sustained_flood_loses_nothing_and_repeats_nothing() {
    // Each feed sends everything after its Last-Event-ID at once, then holds: the daemon
    // writes as fast as it can (the sockets wait for it), so the kill lands inside busy
    // batches.
    let server = TestServer::start(|req: &Request, _| {
        let from = req
            .header("last-event-id")
            .and_then(|id| id.parse::<u64>().ok())
            .map_or(1, |id| id + 1);
        let mut steps: Vec<Step> = (from..=FLOOD_LEN)
            .map(|id| {
                Step::Send(sse_event(
                    None,
                    Some(&id.to_string()),
                    &format!("{} {id}", req.path),
                ))
            })
            .collect();
        steps.push(Step::Hold);
        Response::sse_steps(steps)
    });
    let home = Home::new();
    fs::create_dir_all(home.config_dir()).unwrap();
    let mut file = String::from("version = 1\n");
    for feed in 0..FLOOD_FEEDS {
        file.push_str(&format!(
            "[[subscription]]\nid = \"f{feed}\"\nurl = \"{}\"\n\
             history = {{ max_events = {FLOOD_LEN} }}\n",
            server.url(&format!("/f{feed}"))
        ));
    }
    fs::write(home.subs_file(), file).unwrap();
    let mut daemon = home.start_daemon();
    let total = FLOOD_FEEDS as u64 * FLOOD_LEN;
    poll(WAIT, || (rows(&home) >= total / 4).then_some(()))
        .expect("a quarter of the flood recorded");
    daemon.kill9();

    let before = flood_ids(&home);
    assert!(
        before.iter().any(|ids| ids.len() < FLOOD_LEN as usize),
        "killed mid-flood"
    );
    for (feed, ids) in before.iter().enumerate() {
        let expected: Vec<u64> = (1..=ids.len() as u64).collect();
        assert_eq!(*ids, expected, "f{feed}: a gap or a repeat before the kill");
    }

    let _daemon = home.start_daemon();
    // A lost event never comes: then the comparison below says which.
    let _ = poll(Duration::from_secs(30), || {
        (rows(&home) >= total).then_some(())
    });
    for (feed, ids) in flood_ids(&home).iter().enumerate() {
        assert_eq!(
            *ids,
            (1..=FLOOD_LEN).collect::<Vec<_>>(),
            "f{feed}: every id exactly once, in order"
        );
        // The restarted daemon asked for what followed its last saved event.
        let path = format!("/f{feed}");
        let resumed: Vec<Option<String>> = server
            .requests()
            .iter()
            .filter(|r| r.path == path)
            .map(|r| r.header("last-event-id").map(str::to_owned))
            .collect();
        let last = before[feed].last().map(u64::to_string);
        assert_eq!(resumed, [None, last], "f{feed}: one start, one resume");
    }
}
