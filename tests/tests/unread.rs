//! Unread counts: events that asked for attention count until the user marks their
//! subscription read; a `history` rule's events never count; the marks and the counts
//! survive a restart of the daemon. Real `ssenotify` processes, a real loopback server.

use ssenotify_e2e::home::*;
use ssenotify_e2e::{Response, Step, TestServer, poll, sse_event};

/// Every connection gets events 1, 2 and 3 (ids included, so a replay is a duplicate),
/// then a held stream.
fn three_events() -> TestServer {
    TestServer::start(|_, _| {
        let events = (1..=3).map(|i| {
            let id = i.to_string();
            Step::Send(sse_event(None, Some(&id), &format!("event {i}")))
        });
        Response::sse_steps(events.chain([Step::Hold]).collect())
    })
}

/// Each subscription's (id, unread, events) as `status --json` reports them.
fn counts(home: &Home) -> Vec<(String, u64, u64)> {
    let report = home.status();
    report["subscriptions"]
        .as_array()
        .map(|subs| {
            subs.iter()
                .map(|s| {
                    (
                        s["id"].as_str().unwrap_or_default().to_owned(),
                        s["unread"].as_u64().unwrap_or(u64::MAX),
                        s["events"].as_u64().unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn row(id: &str, unread: u64, events: u64) -> (String, u64, u64) {
    (id.to_owned(), unread, events)
}

/// `status --json`'s (id, unread) of every subscription, once it equals `expected`.
fn wait_unread(home: &Home, daemon: &Daemon, expected: &[(&str, u64)]) {
    let want: Vec<(String, u64)> = expected.iter().map(|(i, u)| (i.to_string(), *u)).collect();
    let now =
        || -> Vec<(String, u64)> { counts(home).into_iter().map(|(i, u, _)| (i, u)).collect() };
    poll(WAIT, || (now() == want).then_some(()))
        .unwrap_or_else(|| panic!("{:?}\n{}", counts(home), daemon.log()));
}

/// The daemon with notifications on (not `--no-notify`: its events would only be kept in
/// history, which asks for no attention). No notification server answers on this bus:
/// an event meant to be shown counts all the same.
fn start(home: &Home) -> Daemon {
    let mut run = home.command(&["run"]);
    run.env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus");
    home.start_daemon_with(run)
}

fn restart(home: &Home, mut daemon: Daemon) -> Daemon {
    home.ok(&["quit"]);
    daemon.wait_exit(WAIT);
    start(home)
}

#[test]
fn unread_counts_until_marked_read_and_survives_a_restart() {
    let server = three_events();
    let home = Home::new();
    let sub = |id: &str| {
        format!(
            "[[subscription]]\nid = \"{id}\"\nurl = \"{}\"\n",
            server.url(&format!("/{id}"))
        )
    };
    let file = home.write(
        "subscriptions.toml",
        &format!(
            "{}\n{}\n{}\n{}rules = [{{ event = \"*\", action = \"history\" }}]\n\n\
             {}history = {{ max_events = 2 }}\n",
            sub("a"),
            sub("b"),
            sub("c"),
            sub("logs"),
            sub("small"),
        ),
    );
    home.ok(&["import", file.to_str().unwrap()]);
    let daemon = start(&home);
    // History keeps two of small's events: no more can be unread.
    let expected = [
        row("a", 3, 3),
        row("b", 3, 3),
        row("c", 3, 3),
        row("logs", 0, 3),
        row("small", 2, 3),
    ];
    poll(WAIT, || (counts(&home) == expected).then_some(()))
        .unwrap_or_else(|| panic!("{:?}\n{}", counts(&home), daemon.log()));
    assert!(
        home.ok(&["list"]).contains("[3 unread]"),
        "list shows the count"
    );
    assert_eq!(home.ok(&["mark-read", "a"]).trim(), "marked read: a");
    wait_unread(
        &home,
        &daemon,
        &[("a", 0), ("b", 3), ("c", 3), ("logs", 0), ("small", 2)],
    );
    let unknown = home.run(&["mark-read", "nope"]);
    assert!(
        !unknown.status.success() && stderr(&unknown).contains("no subscription with id \"nope\""),
        "{}",
        show(&unknown)
    );

    // After a restart the server replays 1-3: duplicates, counted before. a's mark holds;
    // the others' unread rows are counted again from history.
    let daemon = restart(&home, daemon);
    wait_unread(
        &home,
        &daemon,
        &[("a", 0), ("b", 3), ("c", 3), ("logs", 0), ("small", 2)],
    );
    // b is marked read with no event counted since the start: up to its newest row.
    home.ok(&["mark-read", "b", "logs"]);
    wait_unread(
        &home,
        &daemon,
        &[("a", 0), ("b", 0), ("c", 3), ("logs", 0), ("small", 2)],
    );

    // Once c's count is back, the restarted daemon has counted history: b's mark held.
    let daemon = restart(&home, daemon);
    wait_unread(
        &home,
        &daemon,
        &[("a", 0), ("b", 0), ("c", 3), ("logs", 0), ("small", 2)],
    );
    assert_eq!(
        home.ok(&["mark-read"]).trim(),
        "marked read: a, b, c, logs, small"
    );
    wait_unread(
        &home,
        &daemon,
        &[("a", 0), ("b", 0), ("c", 0), ("logs", 0), ("small", 0)],
    );
}
