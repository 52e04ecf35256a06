//! Events to desktop notifications end to end, on a real desktop bus: a loopback SSE
//! server → the real `ssenotify run` → D-Bus → a real dunst. Nothing is mocked.
//!
//! Every test owns a [`Desktop`] (its own Xvfb, session bus, dunst by D-Bus activation and
//! XDG directories; see `tests/src/desktop.rs`). What dunst received is read back with
//! `dunstctl close-all` + `dunstctl history`; where dunst's history is silent (the actions
//! of a notification, the `replaces_id` of a call) the `Notify` calls are read off the bus
//! with `dbus-monitor`.
//!
//! Needs Xvfb, dbus-daemon, dbus-monitor, dunst, dunstctl and busctl (which `dunstctl
//! history` runs): `scripts/setup.sh test` installs them.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use ssenotify_e2e::desktop::{Desktop, DesktopOptions, DunstNotification, ours};
use ssenotify_e2e::{Step, TestServer, poll, sse_event};

/// Generous: CI runs several desktops at once on two cores.
const WAIT: Duration = Duration::from_secs(10);

/// `ssenotify history ID --limit 2000 --json`, oldest first.
fn recorded(desk: &Desktop, id: &str) -> Vec<Value> {
    let output = desk.ssenotify_output(&["history", id, "--limit", "2000", "--json"]);
    assert!(output.status.success(), "history: {output:?}");
    let mut events: Vec<Value> =
        serde_json::from_slice(&output.stdout).expect("history --json is a JSON array");
    events.reverse();
    events
}

/// History once it holds `count` events of `id`, each with its router decision stored.
fn history_when_routed(desk: &Desktop, id: &str, count: usize) -> Vec<Value> {
    let mut last = Vec::new();
    poll(WAIT, || {
        last = recorded(desk, id);
        (last.len() >= count && last.iter().all(|e| e["action"] != "pending")).then_some(())
    })
    .unwrap_or_else(|| panic!("history of {id} never held {count} routed events: {last:#?}"));
    last
}

/// `ssenotify list` (text): the daemon line carries the notifier's health.
fn list_text(desk: &Desktop) -> String {
    let output = desk.ssenotify_output(&["list"]);
    assert!(output.status.success(), "list: {output:?}");
    String::from_utf8(output.stdout).expect("UTF-8")
}

/// `ssenotify list --json`: the entry of `id`.
fn list_entry(desk: &Desktop, id: &str) -> Value {
    let output = desk.ssenotify_output(&["list", "--json"]);
    assert!(output.status.success(), "list --json: {output:?}");
    let list: Value = serde_json::from_slice(&output.stdout).expect("list --json is JSON");
    list.as_array()
        .and_then(|items| items.iter().find(|s| s["id"] == id))
        .cloned()
        .unwrap_or_else(|| panic!("{id} not in {list}"))
}

fn count_actions(events: &[Value]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for event in events {
        *counts
            .entry(event["action"].as_str().unwrap_or("?").to_owned())
            .or_insert(0) += 1;
    }
    counts
}

/// Decodes the entities a Pango renderer decodes (`&lt;` `&gt;` `&quot;` `&apos;` `&amp;`).
fn decode_entities(markup: &str) -> String {
    markup
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[test]
fn notify_test_reaches_dunst_through_the_fixture() {
    let desk = Desktop::start();
    let output = desk.ssenotify_output(&["notify-test", "--urgency", "critical"]);
    assert!(output.status.success(), "notify-test: {output:?}");
    let info: Value = serde_json::from_slice(&output.stdout).expect("notify-test prints JSON");
    assert_eq!(info["name"], "dunst", "{info}");
    let caps: Vec<&str> = info["capabilities"]
        .as_array()
        .expect("capabilities")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for cap in ["body", "body-markup", "actions"] {
        assert!(caps.contains(&cap), "{cap} missing from {caps:?}");
    }

    let history = desk.wait_for_dunst(WAIT, "notify-test", |h| !ours(h).is_empty());
    let ours = ours(&history);
    assert_eq!(ours.len(), 1, "{ours:#?}");
    let sample = &ours[0];
    assert_eq!(sample.summary, "ssenotify test");
    assert_eq!(
        sample.body,
        "If you can read this, notifications work. &lt;b&gt; stays literal."
    );
    // Our dunstrc's per-urgency format is in force: this is our dunst, with our config.
    assert_eq!(sample.urgency.as_deref(), Some("critical"), "{sample:#?}");
}

#[test]
fn a_rule_renders_title_and_body_from_json_and_maps_ntfy_priority_to_urgency() {
    let desk = Desktop::start();
    let mut body = Vec::new();
    body.extend(sse_event(
        Some("alert"),
        Some("1"),
        r#"{"title":"Disk full","message":"/var is full","host":"db1","priority":5}"#,
    ));
    body.extend(sse_event(
        Some("alert"),
        Some("2"),
        r#"{"title":"Backup done","message":"nightly","host":"db2","priority":2}"#,
    ));
    body.extend(sse_event(
        Some("alert"),
        Some("3"),
        r#"{"title":"Deployed","message":"v1.2","host":"web"}"#,
    ));
    body.extend(sse_event(Some("keepalive"), None, "ping"));
    let server = TestServer::streaming(body);
    desk.write_subscriptions(&format!(
        r#"
[[subscription]]
id = "alerts"
name = "Alerts"
url = "{url}"

[[subscription.rules]]
event = "alert"
title = "{{{{ json.title }}}} on {{{{ json.host }}}}"
body = "{{{{ json.message }}}} (priority {{{{ json.priority | default('none') }}}})"
urgency_from = "/priority"
urgency_map = "ntfy"
"#,
        url = server.url("/events")
    ));
    let monitor = desk.monitor_notify_calls();
    let _daemon = desk.run_daemon();

    let history = desk.wait_for_dunst(WAIT, "three alerts", |h| ours(h).len() >= 3);
    let shown: Vec<(String, String, Option<String>)> = ours(&history)
        .into_iter()
        .map(|n| {
            assert_eq!(n.rendered_body(), n.body, "plain text renders as sent");
            (n.summary, n.body, n.urgency)
        })
        .collect();
    let expected = |s: &str, b: &str, u: &str| (s.to_owned(), b.to_owned(), Some(u.to_owned()));
    assert_eq!(
        shown,
        vec![
            expected("Disk full on db1", "/var is full (priority 5)", "critical"),
            expected("Backup done on db2", "nightly (priority 2)", "low"),
            expected("Deployed on web", "v1.2 (priority none)", "normal"),
        ]
    );

    // The urgency hint on the wire: 2 critical, 0 low, 1 normal.
    let hints: Vec<(String, Option<u8>, String)> = monitor
        .calls()
        .into_iter()
        .map(|c| (c.summary, c.urgency, c.app_name))
        .collect();
    assert_eq!(
        hints,
        [
            ("Disk full on db1", Some(2)),
            ("Backup done on db2", Some(0)),
            ("Deployed on web", Some(1)),
        ]
        .map(|(s, u)| (s.to_owned(), u, "ssenotify".to_owned()))
    );

    // The keep-alive matched no rule: history only, no popup.
    let events = history_when_routed(&desk, "alerts", 4);
    let actions: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap_or_default(),
                e["action"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        vec![
            ("alert", "notified"),
            ("alert", "notified"),
            ("alert", "notified"),
            ("keepalive", "history"),
        ]
    );
    assert_eq!(ours(&desk.dunst_history()).len(), 3);
}

#[test]
fn a_burst_of_1000_events_gives_five_popups_and_one_summary_and_history_keeps_all() {
    let desk = Desktop::start();
    // 1,000 events in ten writes of 100, 100 ms apart: all within one second.
    let mut steps = Vec::new();
    for chunk in 0..10 {
        if chunk > 0 {
            steps.push(Step::sleep_ms(100));
        }
        let mut bytes = Vec::new();
        for n in chunk * 100..(chunk + 1) * 100 {
            bytes.extend(sse_event(
                None,
                Some(&n.to_string()),
                &format!("build {n} finished"),
            ));
        }
        steps.push(Step::Send(bytes));
    }
    steps.push(Step::Hold);
    let server = TestServer::first_response_plays(steps);
    // No rules and no rate limit in the file: every message notifies, 5 per 10 s.
    desk.write_subscriptions(&format!(
        "[[subscription]]\nid = \"ci\"\nname = \"CI\"\nurl = \"{}\"\n",
        server.url("/events")
    ));
    let _daemon = desk.run_daemon();
    let started = Instant::now();

    let events = history_when_routed(&desk, "ci", 1000);
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "the burst took {:?} to reach history; the summary would not prove coalescing",
        started.elapsed()
    );
    assert_eq!(events.len(), 1000);
    let data: Vec<&str> = events.iter().filter_map(|e| e["data"].as_str()).collect();
    let expected: Vec<String> = (0..1000).map(|n| format!("build {n} finished")).collect();
    assert_eq!(data, expected, "history holds every event, in order");
    let actions = count_actions(&events);
    assert_eq!(
        actions,
        BTreeMap::from([("notified".to_owned(), 5), ("rate_limited".to_owned(), 995)]),
    );
    for (n, event) in events.iter().enumerate() {
        let want = if n < 5 { "notified" } else { "rate_limited" };
        assert_eq!(event["action"], want, "event {n}");
    }
    assert_eq!(list_entry(&desk, "ci")["live"]["events"], 1000);

    // The summary comes when the window of the first popup ends, 10 s after it.
    let history = desk.wait_for_dunst(Duration::from_secs(20), "the rate-limit summary", |h| {
        ours(h).iter().any(|n| n.summary.contains("more events"))
    });
    let shown = ours(&history);
    let popups: Vec<&str> = shown
        .iter()
        .filter(|n| n.summary == "CI")
        .map(|n| n.body.as_str())
        .collect();
    assert_eq!(
        popups,
        (0..5)
            .map(|n| format!("build {n} finished"))
            .collect::<Vec<_>>(),
        "{shown:#?}"
    );
    let summaries: Vec<&DunstNotification> = shown
        .iter()
        .filter(|n| n.summary.contains("more events"))
        .collect();
    assert_eq!(summaries.len(), 1, "{shown:#?}");
    assert_eq!(summaries[0].summary, "995 more events from CI");
    assert_eq!(
        summaries[0].body,
        "• build 997 finished\n• build 998 finished\n• build 999 finished"
    );
    assert_eq!(shown.len(), 6, "5 popups and one summary: {shown:#?}");

    // Nothing else follows: the storm is over.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(ours(&desk.dunst_history()).len(), 6);
}

#[test]
fn progress_events_with_one_replace_key_update_one_notification() {
    let desk = Desktop::start();
    let monitor = desk.monitor_notify_calls();
    let mut steps = vec![Step::send(sse_event(
        Some("progress"),
        Some("other"),
        r#"{"build":8,"step":1,"pct":50}"#,
    ))];
    for step in 1..=10 {
        steps.push(Step::sleep_ms(50));
        steps.push(Step::send(sse_event(
            Some("progress"),
            Some(&format!("p{step}")),
            &json!({"build": 7, "step": step, "pct": step * 10}).to_string(),
        )));
    }
    steps.push(Step::Hold);
    let server = TestServer::first_response_plays(steps);
    // A higher limit than the default 5/10 s, so that all ten updates are shown.
    desk.write_subscriptions(&format!(
        r#"
[[subscription]]
id = "builds"
name = "Builds"
url = "{url}"
rate_limit = {{ max = 50 }}

[[subscription.rules]]
event = "progress"
title = "Build {{{{ json.build }}}}"
body = "step {{{{ json.step }}}} of 10"
replace_key = "build-{{{{ json.build }}}}"
progress = "{{{{ json.pct }}}}"
"#,
        url = server.url("/events")
    ));
    let _daemon = desk.run_daemon();

    let events = history_when_routed(&desk, "builds", 11);
    assert_eq!(
        count_actions(&events),
        BTreeMap::from([("notified".to_owned(), 11)])
    );
    // Every call has gone over the bus (and so reached dunst before our close-all).
    let calls = poll(WAIT, || {
        let calls = monitor.calls();
        (calls.len() >= 11).then_some(calls)
    })
    .unwrap_or_else(|| panic!("11 Notify calls expected:\n{}", monitor.raw()));
    assert_eq!(calls.len(), 11, "{calls:#?}");

    let history = desk.wait_for_dunst(WAIT, "the progress notification", |h| {
        ours(h).iter().any(|n| n.body == "step 10 of 10")
    });
    let shown = ours(&history);
    let build7: Vec<&DunstNotification> = shown.iter().filter(|n| n.summary == "Build 7").collect();
    assert_eq!(build7.len(), 1, "ten updates, one notification: {shown:#?}");
    assert_eq!(build7[0].body, "step 10 of 10");
    assert_eq!(build7[0].progress, 100);
    let build8: Vec<&DunstNotification> = shown.iter().filter(|n| n.summary == "Build 8").collect();
    assert_eq!(build8.len(), 1, "{shown:#?}");
    assert_ne!(
        build8[0].id, build7[0].id,
        "another key, another notification"
    );
    assert_eq!(build8[0].progress, 50);

    // On the wire: the first update opens the notification, the nine others replace it.
    let build7_calls: Vec<_> = calls.iter().filter(|c| c.summary == "Build 7").collect();
    assert_eq!(build7_calls.len(), 10);
    assert_eq!(build7_calls[0].replaces_id, 0);
    let id = u32::try_from(build7[0].id).expect("a dunst id");
    for call in &build7_calls[1..] {
        assert_eq!(call.replaces_id, id, "{call:#?}");
    }
}

#[test]
fn javascript_and_file_click_urls_are_refused_and_get_no_default_action() {
    let desk = Desktop::start();
    let mut body = Vec::new();
    for (id, (name, url)) in [
        ("js", "javascript:alert(document.cookie)"),
        ("file", "file:///etc/passwd"),
        ("web", "https://example.com/build/1"),
    ]
    .into_iter()
    .enumerate()
    {
        body.extend(sse_event(
            Some("link"),
            Some(&id.to_string()),
            &json!({"name": name, "url": url}).to_string(),
        ));
    }
    let server = TestServer::streaming(body.clone());
    desk.write_subscriptions(&format!(
        r#"
[[subscription]]
id = "links"
url = "{url}"

[[subscription.rules]]
event = "link"
title = "link {{{{ json.name }}}}"
body = "open {{{{ json.name }}}}"
click_url = "{{{{ json.url }}}}"
"#,
        url = server.url("/events")
    ));

    // The rule tester says so before anything runs.
    let mut route = desk
        .ssenotify()
        .args(["route", "--subscription", "links", "--dry-run"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("route runs");
    std::io::Write::write_all(&mut route.stdin.take().expect("stdin"), &body)
        .expect("write the transcript");
    let output = route.wait_with_output().expect("route finishes");
    assert!(output.status.success(), "route: {output:?}");
    let lines: Vec<Value> = String::from_utf8(output.stdout)
        .expect("UTF-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    for (line, url, scheme) in [
        (&lines[0], "javascript:alert(document.cookie)", "javascript"),
        (&lines[1], "file:///etc/passwd", "file"),
    ] {
        let decision = &line["decision"];
        assert_eq!(decision["action"], "notify", "still shown: {decision}");
        assert_eq!(decision["refused_click_url"]["url"], url, "{decision}");
        let reason = decision["refused_click_url"]["reason"]
            .as_str()
            .unwrap_or_default();
        assert!(reason.contains(scheme), "{reason}");
        assert!(decision.get("click_url").is_none(), "{decision}");
    }
    assert_eq!(
        lines[2]["decision"]["click_url"],
        "https://example.com/build/1"
    );
    assert!(lines[2]["decision"].get("refused_click_url").is_none());

    let monitor = desk.monitor_notify_calls();
    let mut daemon = desk.run_daemon();
    let history = desk.wait_for_dunst(WAIT, "three links", |h| ours(h).len() >= 3);
    let summaries: Vec<String> = ours(&history).into_iter().map(|n| n.summary).collect();
    assert_eq!(summaries, ["link js", "link file", "link web"]);

    // dunst's history has no action field: the calls on the bus show what it was offered.
    let calls = monitor.calls();
    let actions_of = |summary: &str| {
        let found: Vec<_> = calls.iter().filter(|c| c.summary == summary).collect();
        assert_eq!(found.len(), 1, "{summary}: {calls:#?}");
        found[0].actions.clone()
    };
    assert_eq!(actions_of("link js"), Vec::<String>::new());
    assert_eq!(actions_of("link file"), Vec::<String>::new());
    // The control: an http(s) URL does get the click action, so the check above can fail.
    assert_eq!(actions_of("link web"), ["default", "Open"]);

    let log = poll(WAIT, || {
        let log = daemon.log();
        (log.matches("click URL refused").count() >= 2).then_some(log)
    })
    .unwrap_or_else(|| panic!("the refusals are not logged:\n{}", daemon.log()));
    assert_eq!(log.matches("click URL refused").count(), 2, "{log}");
    assert!(
        log.contains(r#"scheme "javascript" is not allowed"#),
        "{log}"
    );
    assert!(log.contains(r#"scheme "file" is not allowed"#), "{log}");
    assert!(daemon.is_running());
}

const MARKUP: &str = r#"<b>x</b> <a href="http://evil">l</a> <img src=x> &amp; done"#;

/// Markup data and a markup title through a rule-less subscription and a titled one.
fn markup_setup(desk: &Desktop) -> TestServer {
    let mut body = sse_event(None, Some("1"), MARKUP);
    body.extend(sse_event(
        Some("titled"),
        Some("2"),
        r#"{"title":"<i>t</i> & co"}"#,
    ));
    let server = TestServer::streaming(body);
    desk.write_subscriptions(&format!(
        r#"
[[subscription]]
id = "raw"
name = "Raw"
url = "{url}"

[[subscription.rules]]
event = "message"

[[subscription.rules]]
event = "titled"
title = "{{{{ json.title }}}}"
body = "titled"
"#,
        url = server.url("/events")
    ));
    server
}

#[test]
fn markup_in_event_data_arrives_escaped_and_shows_as_literal_text() {
    let desk = Desktop::start();
    let monitor = desk.monitor_notify_calls();
    let _server = markup_setup(&desk);
    let _daemon = desk.run_daemon();

    let history = desk.wait_for_dunst(WAIT, "two notifications", |h| ours(h).len() >= 2);
    let shown = ours(&history);
    let escaped = r#"&lt;b&gt;x&lt;/b&gt; &lt;a href="http://evil"&gt;l&lt;/a&gt; &lt;img src=x&gt; &amp;amp; done"#;
    let data = &shown[0];
    assert_eq!(data.summary, "Raw");
    // What went over the bus, and what dunst stored: the escaped text.
    let calls = monitor.calls();
    assert_eq!(calls[0].body, escaped, "{calls:#?}");
    assert_eq!(data.body, escaped);
    // What dunst renders (it has markup = full): no bold, no link, no image. Had the body
    // been sent raw, this would read `<b>x</b> l [image] &amp; done`.
    assert_eq!(data.rendered_body(), escaped, "{data:#?}");
    assert!(!data.message.contains("[image]") && !data.message.contains("<b>"));
    // And the text the user reads is exactly the data.
    assert_eq!(decode_entities(data.rendered_body()), MARKUP);

    // The summary is plain text, never markup: sent as is, and dunst escapes it itself.
    let titled = &shown[1];
    assert_eq!(titled.summary, "<i>t</i> & co");
    assert_eq!(
        titled.message.lines().nth(1),
        Some("&lt;i&gt;t&lt;/i&gt; &amp; co")
    );
}

#[test]
fn a_server_without_body_markup_gets_plain_text_that_shows_literally() {
    let desk = Desktop::with(DesktopOptions {
        markup: "no",
        ..DesktopOptions::default()
    });
    let test = desk.ssenotify_output(&["notify-test"]);
    assert!(test.status.success(), "{test:?}");
    let info: Value = serde_json::from_slice(&test.stdout).expect("JSON");
    assert!(
        !info["capabilities"]
            .as_array()
            .expect("capabilities")
            .iter()
            .any(|c| c == "body-markup"),
        "markup = no must not advertise body-markup: {info}"
    );
    desk.dunst_history(); // clears the sample away from the popups
    let _server = markup_setup(&desk);
    let _daemon = desk.run_daemon();

    let history = desk.wait_for_dunst(WAIT, "two notifications", |h| {
        ours(h)
            .iter()
            .filter(|n| n.summary != "ssenotify test")
            .count()
            >= 2
    });
    let shown: Vec<DunstNotification> = ours(&history)
        .into_iter()
        .filter(|n| n.summary != "ssenotify test")
        .collect();
    // Plain text for a plain-text server: the data itself, no entities to show as `&lt;`.
    assert_eq!(shown[0].body, MARKUP);
    // dunst escapes plain text itself, so it still renders literally.
    assert_eq!(decode_entities(shown[0].rendered_body()), MARKUP);
    assert!(!shown[0].message.contains("[image]"));
}

#[test]
fn without_a_notification_server_the_daemon_runs_on_history_fills_and_delivery_resumes() {
    let desk = Desktop::with(DesktopOptions {
        notification_server: false,
        ..DesktopOptions::default()
    });
    let test = desk.ssenotify_output(&["notify-test"]);
    assert_eq!(test.status.code(), Some(1), "no server yet: {test:?}");

    // One event every 250 ms for 30 s on one held stream.
    let mut steps = Vec::new();
    for n in 0..120 {
        steps.push(Step::send(sse_event(
            Some("tick"),
            Some(&n.to_string()),
            &format!("tick {n}"),
        )));
        steps.push(Step::sleep_ms(250));
    }
    steps.push(Step::Hold);
    let server = TestServer::first_response_plays(steps);
    desk.write_subscriptions(&format!(
        r#"
[[subscription]]
id = "feed"
name = "Feed"
url = "{url}"
rate_limit = {{ max = 1000 }}

[[subscription.rules]]
event = "tick"
"#,
        url = server.url("/events")
    ));
    let monitor = desk.monitor_notify_calls();
    let mut daemon = desk.run_daemon();

    // The notifier is down; the daemon answers and keeps recording.
    poll(WAIT, || {
        list_text(&desk)
            .contains("notifications: down")
            .then_some(())
    })
    .unwrap_or_else(|| panic!("list never said down:\n{}", list_text(&desk)));
    let events = history_when_routed(&desk, "feed", 5);
    let data: Vec<String> = events
        .iter()
        .map(|e| e["data"].as_str().unwrap_or_default().to_owned())
        .collect();
    let expected: Vec<String> = (0..data.len()).map(|n| format!("tick {n}")).collect();
    assert_eq!(data, expected, "every event is in history");
    assert!(daemon.is_running());
    assert!(
        ours(&desk.dunst_history()).is_empty(),
        "no server, no popups"
    );
    assert!(
        daemon
            .log()
            .contains("notification server unavailable; events still go to history"),
        "{}",
        daemon.log()
    );

    // The server becomes available (D-Bus activation now finds dunst): the next event
    // pops up, with one notice of how many could not be shown.
    desk.enable_notification_server();
    let history = desk.wait_for_dunst(WAIT, "delivery resumes", |h| {
        let ours = ours(h);
        ours.iter().any(|n| n.summary == "Feed · tick")
            && ours.iter().any(|n| n.summary == "ssenotify")
    });
    let shown = ours(&history);
    let first: usize = shown
        .iter()
        .filter(|n| n.summary == "Feed · tick")
        .filter_map(|n| n.body.strip_prefix("tick ")?.parse().ok())
        .min()
        .expect("a tick notification");
    assert!(
        first >= data.len(),
        "tick {first} was before the server came"
    );
    let notices: Vec<&DunstNotification> =
        shown.iter().filter(|n| n.summary == "ssenotify").collect();
    assert_eq!(notices.len(), 1, "{shown:#?}");
    assert_eq!(
        notices[0].body,
        format!(
            "{first} notification(s) could not be shown while the notification server was unavailable; see `ssenotify history`"
        ),
        "every tick before {first} was missed: {shown:#?}\n{}\n{}",
        monitor.raw(),
        daemon.log()
    );
    poll(WAIT, || {
        list_text(&desk).contains("notifications: up").then_some(())
    })
    .unwrap_or_else(|| panic!("list never said up:\n{}", list_text(&desk)));
    assert!(daemon.log().contains("notification server available"));

    // History has every event, before and after.
    let events = recorded(&desk, "feed");
    let ticks: BTreeSet<usize> = events
        .iter()
        .filter_map(|e| e["data"].as_str()?.strip_prefix("tick ")?.parse().ok())
        .collect();
    assert_eq!(ticks, (0..events.len()).collect(), "no gaps");
    assert!(events.len() > first);
    // And it tells what became of each: the popups the server never showed are "error"
    // (not "notified", which was stored when they were queued), the ones it showed
    // "notified".
    let shown_ticks: BTreeSet<usize> = shown
        .iter()
        .filter(|n| n.summary == "Feed · tick")
        .filter_map(|n| n.body.strip_prefix("tick ")?.parse().ok())
        .collect();
    let wrong = || {
        let events = recorded(&desk, "feed");
        let action = |n: usize| {
            events
                .iter()
                .find(|e| e["data"] == format!("tick {n}"))
                .and_then(|e| e["action"].as_str())
                .unwrap_or("?")
                .to_owned()
        };
        let mut wrong: Vec<String> = (0..first)
            .filter(|&n| action(n) != "error")
            .map(|n| format!("tick {n}: {}", action(n)))
            .collect();
        wrong.extend(
            shown_ticks
                .iter()
                .filter(|&&n| action(n) != "notified")
                .map(|&n| format!("tick {n} (shown): {}", action(n))),
        );
        wrong
    };
    if poll(WAIT, || wrong().is_empty().then_some(())).is_none() {
        panic!(
            "history actions disagree with what was shown: {:?}",
            wrong()
        );
    }
    assert!(daemon.is_running());
}

#[test]
fn a_duplicate_is_not_counted_in_the_quiet_hours_digest() {
    let desk = Desktop::start();
    // Two copies of event 1 in one write (a server replaying on reconnect does that), then
    // event 2: all held by quiet hours that cover the whole day.
    let mut body = sse_event(None, Some("1"), "dup A");
    body.extend(sse_event(None, Some("1"), "dup B"));
    body.extend(sse_event(None, Some("2"), "other"));
    let server = TestServer::first_response_plays(vec![Step::Send(body), Step::Hold]);
    let file = format!(
        "[notifications]\nquiet_hours = [{{ from = \"00:00\", to = \"23:59\" }}]\n\n\
         [[subscription]]\nid = \"feed\"\nname = \"Feed\"\nurl = \"{}\"\n",
        server.url("/events")
    );
    desk.write_subscriptions(&file);
    let _daemon = desk.run_daemon();
    let events = history_when_routed(&desk, "feed", 2);
    assert_eq!(
        count_actions(&events),
        BTreeMap::from([("quiet".to_owned(), 2)]),
        "one row per event id: {events:#?}"
    );

    // Quiet hours end (taken out of the file): the digest is due at once.
    desk.write_subscriptions(&file.replace(
        "[notifications]\nquiet_hours = [{ from = \"00:00\", to = \"23:59\" }]\n\n",
        "",
    ));
    let history = desk.wait_for_dunst(WAIT, "the quiet-hours digest", |h| {
        ours(h).iter().any(|n| n.summary.contains("quiet hours"))
    });
    let digest = ours(&history)
        .into_iter()
        .find(|n| n.summary.contains("quiet hours"))
        .unwrap();
    assert_eq!(digest.summary, "2 events from Feed during quiet hours");
    assert_eq!(digest.body, "• dup A\n• other");
}
