//! Do not disturb, end to end on a real desktop bus (loopback SSE server → `ssenotify run`
//! → D-Bus → dunst): while it is on, notifications are held (a rule's critical urgency
//! breaks through) and the daemon says so; `ssenotify dnd off` shows one digest of what
//! was held.
//!
//! Needs what `notify_dunst.rs` needs (`scripts/setup.sh test` installs it).

use std::time::Duration;

use serde_json::Value;
use ssenotify_e2e::desktop::{Desktop, DunstNotification, ours};
use ssenotify_e2e::{TestServer, poll, sse_event};

/// Generous: CI runs several desktops at once on two cores.
const WAIT: Duration = Duration::from_secs(10);

/// The summaries of our notifications in dunst's history, oldest first.
fn summaries(history: &[DunstNotification]) -> Vec<String> {
    ours(history).into_iter().map(|n| n.summary).collect()
}

/// `ssenotify status --json`'s daemon report.
fn daemon_report(desk: &Desktop) -> Value {
    let output = desk.ssenotify_output(&["status", "--json"]);
    assert!(output.status.success(), "status: {output:?}");
    serde_json::from_slice::<Value>(&output.stdout).expect("JSON")["daemon"].clone()
}

#[test]
fn do_not_disturb_holds_popups_until_it_is_turned_off_then_shows_one_digest() {
    let desk = Desktop::start();
    let mut body = Vec::new();
    body.extend(sse_event(None, Some("1"), "held one"));
    body.extend(sse_event(Some("page"), Some("2"), "db1 is down"));
    body.extend(sse_event(None, Some("3"), "held two"));
    let server = TestServer::streaming(body);
    desk.write_subscriptions(&format!(
        "[notifications]\ndo_not_disturb = true\n\n\
         [[subscription]]\nid = \"ops\"\nname = \"Ops\"\nurl = \"{}\"\n\n\
         [[subscription.rules]]\nevent = \"page\"\nurgency = \"critical\"\n\n\
         [[subscription.rules]]\n",
        server.url("/events")
    ));
    let daemon = desk.run_daemon();

    // All three recorded: two held for quiet, the critical page shown.
    let actions = poll(WAIT, || {
        let output = desk.ssenotify_output(&["history", "ops", "--json"]);
        let rows: Vec<Value> = serde_json::from_slice(&output.stdout).ok()?;
        let actions: Vec<String> = rows
            .iter()
            .rev()
            .map(|r| r["action"].as_str().unwrap_or_default().to_owned())
            .collect();
        (actions.len() == 3).then_some(actions)
    })
    .unwrap_or_else(|| panic!("three events recorded:\n{}", daemon.log()));
    assert_eq!(actions, ["quiet", "notified", "quiet"]);
    let history = desk.wait_for_dunst(WAIT, "the page", |h| !summaries(h).is_empty());
    assert_eq!(summaries(&history), ["Ops · page"]);
    // The daemon says why the others wait, in JSON and in words.
    assert_eq!(
        daemon_report(&desk)["quiet"],
        serde_json::json!({ "kind": "do_not_disturb" })
    );
    let text = desk.ssenotify_output(&["status"]);
    assert!(
        String::from_utf8_lossy(&text.stdout).contains(", held: do not disturb\n"),
        "{text:?}"
    );

    // Off: one digest of the two held, and nothing held any more.
    let off = desk.ssenotify_output(&["dnd", "off"]);
    assert!(off.status.success(), "dnd off: {off:?}");
    let history = desk.wait_for_dunst(WAIT, "the digest", |h| summaries(h).len() >= 2);
    assert_eq!(
        summaries(&history),
        ["Ops · page", "2 events from Ops during quiet hours"]
    );
    let report = poll(WAIT, || {
        let report = daemon_report(&desk);
        report["quiet"].is_null().then_some(report)
    });
    assert!(report.is_some(), "still held after dnd off");
    let on = desk.ssenotify_output(&["dnd", "on"]);
    assert!(on.status.success(), "dnd on: {on:?}");
    assert!(
        std::fs::read_to_string(desk.config_dir().join("subscriptions.toml"))
            .unwrap()
            .contains("do_not_disturb = true"),
        "the switch lives in the file"
    );
}
