//! What a subscription without rules shows, end to end on a real desktop bus (loopback SSE
//! server → `ssenotify run` → D-Bus → dunst): every event type notifies but housekeeping
//! ones, JSON's well-known fields make the popup, and `preset = "ntfy"` shows ntfy's
//! messages as ntfy's apps do and resumes from the last message, never from a keepalive.
//!
//! Needs what `notify_dunst.rs` needs (`scripts/setup.sh test` installs it).

use std::time::Duration;

use serde_json::Value;
use ssenotify_e2e::desktop::{Desktop, DunstNotification};
use ssenotify_e2e::{Response, Step, TestServer, poll, sse_event};

/// Generous: CI runs several desktops at once on two cores.
const WAIT: Duration = Duration::from_secs(10);

/// Our notifications in dunst's history, oldest first: (summary, body, urgency).
fn shown(history: &[DunstNotification]) -> Vec<(String, String, String)> {
    let mut ours: Vec<&DunstNotification> = history
        .iter()
        .filter(|n| n.appname == "ssenotify")
        .collect();
    ours.sort_by_key(|n| (n.timestamp, n.id));
    ours.into_iter()
        .map(|n| {
            (
                n.summary.clone(),
                n.body.clone(),
                n.urgency.clone().unwrap_or_default(),
            )
        })
        .collect()
}

/// `ssenotify history ID --json`, oldest first: (type, action).
fn recorded(desk: &Desktop, id: &str) -> Vec<(String, String)> {
    let output = desk.ssenotify_output(&["history", id, "--limit", "100", "--json"]);
    assert!(output.status.success(), "history: {output:?}");
    let events: Vec<Value> = serde_json::from_slice(&output.stdout).expect("a JSON array");
    events
        .iter()
        .rev()
        .map(|e| {
            let text = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
            (text("type"), text("action"))
        })
        .collect()
}

fn row(summary: &str, body: &str, urgency: &str) -> (String, String, String) {
    (summary.to_owned(), body.to_owned(), urgency.to_owned())
}

#[test]
fn without_rules_every_event_notifies_from_its_well_known_fields() {
    let desk = Desktop::start();
    let mut body = Vec::new();
    body.extend(sse_event(
        None,
        Some("1"),
        r#"{"title":"Disk full","message":"/var at 99%","priority":5,"tags":["warning","db1"]}"#,
    ));
    body.extend(sse_event(Some("keepalive"), None, "{}"));
    body.extend(sse_event(Some("deploy"), Some("2"), "v1.2 shipped"));
    body.extend(sse_event(Some("ping"), None, "ping"));
    body.extend(sse_event(None, Some("3"), r#"{"build":7,"ok":true}"#));
    let server = TestServer::start(move |_, n| {
        Response::sse_steps(if n == 0 {
            vec![Step::Send(body.clone()), Step::Hold]
        } else {
            vec![Step::Hold]
        })
    });
    desk.write_subscriptions(&format!(
        "[[subscription]]\nid = \"ops\"\nname = \"Ops\"\nurl = \"{}\"\n",
        server.url("/events")
    ));
    let _daemon = desk.run_daemon();

    let history = desk.wait_for_dunst(WAIT, "three popups", |h| shown(h).len() >= 3);
    assert_eq!(
        shown(&history),
        vec![
            row("⚠️ Disk full", "/var at 99%\nTags: db1", "critical"),
            row("Ops · deploy", "v1.2 shipped", "normal"),
            row("Ops", r#"{"build":7,"ok":true}"#, "normal"),
        ]
    );
    // The housekeeping events are neither shown nor kept.
    let mut rows = Vec::new();
    poll(WAIT, || {
        rows = recorded(&desk, "ops");
        (rows.len() >= 3 && rows.iter().all(|(_, a)| a != "pending")).then_some(())
    })
    .unwrap_or_else(|| panic!("history never held three routed events: {rows:?}"));
    let notified = |t: &str| (t.to_owned(), "notified".to_owned());
    assert_eq!(
        rows,
        vec![notified("message"), notified("deploy"), notified("message")]
    );
}

#[test]
fn an_ntfy_feed_shows_messages_as_ntfy_does_and_resumes_from_the_last_message() {
    let desk = Desktop::start();
    // ntfy's SSE: `open` and `keepalive` are named events, messages are not; every JSON
    // object has an id, and only messages' ids mean something to `?since=`.
    let ntfy = |event: Option<&str>, json: &str| sse_event(event, None, json);
    let mut first = Vec::new();
    first.extend(ntfy(
        Some("open"),
        r#"{"id":"o1","time":1,"event":"open","topic":"backups"}"#,
    ));
    first.extend(ntfy(
        None,
        r#"{"id":"m1","time":2,"event":"message","topic":"backups","message":"nightly done","priority":4,"tags":["white_check_mark","nas"]}"#,
    ));
    first.extend(ntfy(
        Some("keepalive"),
        r#"{"id":"k1","time":3,"event":"keepalive","topic":"backups"}"#,
    ));
    let server = TestServer::start(move |_, n| {
        Response::sse_steps(if n == 0 {
            // Then the connection drops: the reconnect must ask for what follows m1.
            vec![Step::Send(first.clone()), Step::Close]
        } else {
            vec![Step::Hold]
        })
    });
    desk.write_subscriptions(&format!(
        "[[subscription]]\nid = \"backups\"\nurl = \"{}\"\npreset = \"ntfy\"\nreconnect_time = \"100ms\"\n",
        server.url("/backups/sse")
    ));
    let _daemon = desk.run_daemon();

    let history = desk.wait_for_dunst(WAIT, "the message", |h| !shown(h).is_empty());
    assert_eq!(
        shown(&history),
        vec![row("backups", "✅ nightly done\nTags: nas", "critical")]
    );
    poll(WAIT, || (server.request_count() >= 2).then_some(()))
        .expect("the subscription reconnects after the close");
    let second = &server.requests()[1];
    assert!(
        second.path.ends_with("/backups/sse?since=m1"),
        "resumes from the message, not the keepalive: {}",
        second.path
    );
    // Only the message is kept: open and keepalive are ntfy's protocol, not messages.
    assert_eq!(
        recorded(&desk, "backups"),
        vec![("message".to_owned(), "notified".to_owned())]
    );
}
