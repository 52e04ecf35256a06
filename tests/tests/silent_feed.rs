//! The silent-feed alarm (`expect_every`) end to end: a loopback SSE server → the real
//! `ssenotify run` → D-Bus → a real dunst on its own Xvfb and session bus.
//!
//! Periods are a few seconds. The servers are scripted with gates, so an event comes back
//! when the test has seen the alarm, never after a guessed delay.

use std::time::{Duration, Instant};

use serde_json::Value;
use ssenotify_e2e::desktop::{Desktop, ours};
use ssenotify_e2e::{Gate, Response, Step, TestServer, poll, sse_event};

/// Generous: CI runs several desktops at once on two cores.
const WAIT: Duration = Duration::from_secs(15);

fn summaries(desk: &Desktop) -> Vec<String> {
    ours(&desk.dunst_history())
        .into_iter()
        .map(|n| n.summary)
        .collect()
}

/// `ssenotify list --json`: the live state of `id`.
fn live(desk: &Desktop, id: &str) -> Value {
    let output = desk.ssenotify_output(&["list", "--json"]);
    assert!(output.status.success(), "list --json: {output:?}");
    let list: Value = serde_json::from_slice(&output.stdout).expect("list --json is JSON");
    list.as_array()
        .and_then(|items| items.iter().find(|s| s["id"] == id))
        .map(|entry| entry["live"].clone())
        .unwrap_or_else(|| panic!("{id} not in {list}"))
}

/// `ssenotify history ID --json`, oldest first, once it holds `count` rows.
fn history(desk: &Desktop, id: &str, count: usize) -> Vec<Value> {
    poll(WAIT, || {
        let output = desk.ssenotify_output(&["history", id, "--json"]);
        let mut rows: Vec<Value> = serde_json::from_slice(&output.stdout).ok()?;
        rows.reverse();
        (rows.len() >= count).then_some(rows)
    })
    .unwrap_or_else(|| panic!("history of {id} never held {count} rows"))
}

/// The subscriptions file: one subscription of `url` whose events go to history only, so
/// every notification dunst shows is the alarm's.
fn subscription(url: &str, extra: &str) -> String {
    format!(
        "[[subscription]]\nid = \"beat\"\nname = \"Backups\"\nurl = \"{url}\"\n{extra}\n\
         [[subscription.rules]]\nevent = \"*\"\naction = \"history\"\n"
    )
}

#[test]
fn a_silent_feed_alerts_once_and_gives_one_all_clear_when_events_come_back() {
    let desk = Desktop::start();
    let gate = Gate::new();
    let script = gate.clone();
    let server = TestServer::start(move |_, _| {
        Response::sse_steps(vec![
            Step::Send(sse_event(None, Some("1"), "backup done")),
            Step::Wait(script.clone()),
            Step::Send(sse_event(None, Some("2"), "backup done again")),
            Step::Hold,
        ])
    });
    desk.write_subscriptions(&subscription(
        &server.url("/events"),
        "expect_every = \"2s\"",
    ));
    let _daemon = desk.run_daemon();
    let first = history(&desk, "beat", 1)[0]["received_at"]
        .as_i64()
        .expect("received_at");

    let shown = desk.wait_for_dunst(WAIT, "the alarm", |h| !ours(h).is_empty());
    let alarm = &ours(&shown)[0];
    assert!(
        alarm.summary.starts_with("Backups: silent for ")
            && alarm.summary.contains(" s (last event ")
            && alarm.summary.ends_with(')'),
        "{alarm:#?}"
    );
    assert_eq!(alarm.urgency.as_deref(), Some("critical"), "the default");
    let entry = live(&desk, "beat");
    assert_eq!(entry["silent"]["kind"], "silent", "{entry}");
    assert_eq!(
        entry["silent"]["since"], first,
        "silent since the last event: {entry}"
    );

    // Three more periods of silence: still the one alarm.
    let raised = Instant::now();
    poll(WAIT, || {
        (raised.elapsed() >= Duration::from_secs(6)).then_some(())
    });
    assert_eq!(summaries(&desk).len(), 1, "{:?}", summaries(&desk));

    gate.open();
    let shown = desk.wait_for_dunst(WAIT, "the all-clear", |h| ours(h).len() >= 2);
    let texts: Vec<String> = ours(&shown).into_iter().map(|n| n.summary).collect();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(
        texts[1].starts_with("Backups: events again after ") && texts[1].ends_with(" s"),
        "{texts:?}"
    );
    assert_eq!(ours(&shown)[1].urgency.as_deref(), Some("normal"));
    let cleared = poll(WAIT, || {
        let entry = live(&desk, "beat");
        entry.get("silent").is_none().then_some(entry)
    });
    assert!(cleared.is_some(), "the live status still shows the alarm");
    assert_eq!(server.request_count(), 1, "one connection throughout");
}

#[test]
fn a_feed_that_cannot_connect_is_reported_offline_with_the_reason() {
    let desk = Desktop::start();
    let server = TestServer::start(|_, n| match n {
        0 => Response::sse_steps(vec![
            Step::Send(sse_event(None, Some("1"), "backup done")),
            Step::Close,
        ]),
        _ => Response::status(503),
    });
    desk.write_subscriptions(&subscription(
        &server.url("/events"),
        "expect_every = \"2s\"\nsilent_urgency = \"normal\"\nreconnect_time = \"200ms\"",
    ));
    let _daemon = desk.run_daemon();
    history(&desk, "beat", 1);

    let shown = desk.wait_for_dunst(WAIT, "the alarm", |h| !ours(h).is_empty());
    let alarm = &ours(&shown)[0];
    let (head, reason) = alarm
        .summary
        .split_once("): ")
        .unwrap_or_else(|| panic!("no reason in {alarm:#?}"));
    assert!(
        head.starts_with("Backups: no connection for ") && head.contains(" (last event "),
        "{alarm:#?}"
    );
    assert!(
        reason.contains("503"),
        "the reason in people's words: {reason}"
    );
    assert_eq!(alarm.urgency.as_deref(), Some("normal"), "silent_urgency");
    let entry = live(&desk, "beat");
    assert_eq!(entry["silent"]["kind"], "offline", "{entry}");
    assert_ne!(entry["ready_state"], "OPEN", "{entry}");
}

#[test]
fn a_daemon_restart_does_not_reset_the_clock_of_a_rule() {
    let desk = Desktop::start();
    // The first connection: the rule's event, then (once it is in history, so it is
    // received later) another the rule does not count. Every later one: nothing at all.
    let gate = Gate::new();
    let script = gate.clone();
    let server = TestServer::start(move |_, n| match n {
        0 => Response::sse_steps(vec![
            Step::Send(sse_event(Some("beat"), Some("1"), "alive")),
            Step::Wait(script.clone()),
            Step::Send(sse_event(Some("log"), Some("2"), "noise")),
            Step::Hold,
        ]),
        _ => Response::sse_steps(vec![Step::Hold]),
    });
    let url = server.url("/events");
    desk.write_subscriptions(&format!(
        "[[subscription]]\nid = \"beat\"\nname = \"Backups\"\nurl = \"{url}\"\n\
         [[subscription.rules]]\nevent = \"beat\"\naction = \"history\"\nexpect_every = \"5s\"\n\
         [[subscription.rules]]\nevent = \"*\"\naction = \"history\"\n"
    ));
    let mut first = desk.run_daemon();
    let beat = history(&desk, "beat", 1)[0]["received_at"]
        .as_i64()
        .expect("received_at");
    gate.open();
    let rows = history(&desk, "beat", 2);
    assert_eq!(rows[1]["type"], "log");
    assert!(rows[1]["received_at"].as_i64() > Some(beat), "{rows:#?}");
    first.stop();

    let _second = desk.run_daemon();
    let shown = desk.wait_for_dunst(WAIT, "the alarm", |h| !ours(h).is_empty());
    let alarm = &ours(&shown)[0];
    assert!(
        alarm.summary.starts_with("Backups: silent for ") && alarm.summary.contains("(last event "),
        "the clock ran from the rule's last event in history: {alarm:#?}"
    );
    let entry = live(&desk, "beat");
    assert_eq!(
        entry["silent"]["since"], beat,
        "since the last `beat` event, not the later `log` one nor the restart: {entry}"
    );
    assert_eq!(summaries(&desk).len(), 1);
}

#[test]
fn quiet_hours_hold_the_alarm_unless_it_is_critical() {
    let desk = Desktop::start();
    let server = TestServer::start(|_, _| {
        Response::sse_steps(vec![
            Step::Send(sse_event(None, Some("1"), "backup done")),
            Step::Hold,
        ])
    });
    let url = server.url("/events");
    // Quiet all day. `held` (normal) falls silent first: were it shown, the notifier's
    // queue would show it before `loud` (critical, breaking through).
    desk.write_subscriptions(&format!(
        "[[notifications.quiet_hours]]\nfrom = \"00:00\"\nto = \"00:00\"\n\n\
         [[subscription]]\nid = \"held\"\nurl = \"{url}\"\nexpect_every = \"1s\"\nsilent_urgency = \"normal\"\n\
         [[subscription.rules]]\nevent = \"*\"\naction = \"history\"\n\n\
         [[subscription]]\nid = \"loud\"\nurl = \"{url}\"\nexpect_every = \"3s\"\n\
         [[subscription.rules]]\nevent = \"*\"\naction = \"history\"\n"
    ));
    let _daemon = desk.run_daemon();
    let raised = poll(WAIT, || {
        let held = live(&desk, "held");
        (held["silent"]["kind"] == "silent").then_some(held)
    });
    assert!(raised.is_some(), "the held alarm was never raised");
    let shown = desk.wait_for_dunst(WAIT, "the critical alarm", |h| !ours(h).is_empty());
    let texts: Vec<String> = ours(&shown).into_iter().map(|n| n.summary).collect();
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(texts[0].starts_with("loud: silent for "), "{texts:?}");
}
