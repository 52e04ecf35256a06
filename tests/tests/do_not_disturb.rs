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
    // History keeps which rule matched and the notification made, held or shown (what the
    // window's inspector shows).
    let output = desk.ssenotify_output(&["history", "ops", "--json"]);
    let rows: Vec<Value> = serde_json::from_slice(&output.stdout).expect("JSON");
    let made: Vec<(Value, Value, Value)> = rows
        .iter()
        .rev()
        .map(|r| {
            (
                r["rule"].clone(),
                r["shown"]["title"].clone(),
                r["shown"]["urgency"].clone(),
            )
        })
        .collect();
    assert_eq!(
        made,
        [
            (1.into(), "Ops".into(), "normal".into()),
            (0.into(), "Ops · page".into(), "critical".into()),
            (1.into(), "Ops".into(), "normal".into()),
        ]
    );
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

#[test]
fn show_anyway_lifts_quiet_hours_until_they_end_with_one_digest() {
    use ssenotify_e2e::{Gate, Step};
    let desk = Desktop::start();
    let gate = Gate::new();
    let server = TestServer::first_response_plays(vec![
        Step::Send(sse_event(None, Some("1"), "held at night")),
        Step::Wait(gate.clone()),
        Step::Send(sse_event(None, Some("2"), "shown anyway")),
        Step::Hold,
    ]);
    // Quiet hours around now, ending in two hours (crossing midnight if need be).
    let now = chrono::Local::now();
    let hhmm = |t: chrono::DateTime<chrono::Local>| t.format("%H:%M").to_string();
    let end = now + chrono::Duration::hours(2);
    desk.write_subscriptions(&format!(
        "[[notifications.quiet_hours]]\nfrom = \"{}\"\nto = \"{}\"\n\n\
         [[subscription]]\nid = \"ops\"\nname = \"Ops\"\nurl = \"{}\"\n",
        hhmm(now - chrono::Duration::hours(1)),
        hhmm(end),
        server.url("/events")
    ));
    let daemon = desk.run_daemon();
    poll(WAIT, || {
        let output = desk.ssenotify_output(&["history", "ops", "--json"]);
        let rows: Vec<Value> = serde_json::from_slice(&output.stdout).ok()?;
        (rows.first()?["action"] == "quiet").then_some(())
    })
    .unwrap_or_else(|| panic!("the first event held:\n{}", daemon.log()));
    assert_eq!(daemon_report(&desk)["quiet"]["kind"], "quiet_hours");

    let lifted = desk.ssenotify_output(&["show-anyway"]);
    assert!(lifted.status.success(), "show-anyway: {lifted:?}");
    assert!(
        String::from_utf8_lossy(&lifted.stdout)
            .starts_with(&format!("quiet hours lifted until {}", hhmm(end))),
        "{lifted:?}"
    );
    let history = desk.wait_for_dunst(WAIT, "the digest", |h| !summaries(h).is_empty());
    assert_eq!(summaries(&history), ["1 event from Ops during quiet hours"]);
    poll(WAIT, || {
        daemon_report(&desk)["quiet"].is_null().then_some(())
    })
    .expect("the daemon no longer says notifications are held");
    // Events show again at once.
    gate.open();
    let history = desk.wait_for_dunst(WAIT, "the next event", |h| summaries(h).len() >= 2);
    assert_eq!(summaries(&history)[1], "Ops");
    let text = std::fs::read_to_string(desk.config_dir().join("subscriptions.toml")).unwrap();
    assert!(text.contains("show_anyway_until = "), "{text}");
}
