//! Commands stay proportional to what changed: `status --since` answers with the changes
//! after a version it reported, `watch` starts from a snapshot and then carries only
//! changes, and an edit of one subscription costs a watcher one status line, not one per
//! subscription. Real `ssenotify` processes against a holding loopback server.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;

use serde_json::Value;
use ssenotify_e2e::home::*;
use ssenotify_e2e::poll;

/// A home with subscriptions `ids` to `server`, its daemon started, all of them OPEN with
/// the one event the server sends counted (so nothing changes on its own afterwards).
fn running(ids: &[&str], server: &ssenotify_e2e::TestServer) -> (Home, Daemon) {
    let home = Home::new();
    for id in ids {
        home.ok(&["add", &server.url(&format!("/{id}")), "--id", id]);
    }
    let daemon = home.start_daemon();
    let open = poll(WAIT, || {
        let subs = home.status()["subscriptions"].as_array()?.clone();
        (subs.len() == ids.len()
            && subs
                .iter()
                .all(|s| s["ready_state"] == "OPEN" && s["events"] == 1))
        .then_some(())
    });
    assert!(open.is_some(), "not all OPEN:\n{}", daemon.log());
    (home, daemon)
}

/// `ssenotify status ARGS --json`, parsed.
fn status_json(home: &Home, args: &[&str]) -> Value {
    let mut all = vec!["status", "--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&home.ok(&all)).unwrap()
}

fn ids(report: &Value) -> Vec<&str> {
    report["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect()
}

#[test]
fn status_since_a_version_answers_with_what_changed_after_it() {
    let server = holding_server("d");
    let (home, _daemon) = running(&["a", "b", "c"], &server);
    let all = status_json(&home, &[]);
    assert_eq!(
        (all["full"].as_bool(), ids(&all)),
        (Some(true), vec!["a", "b", "c"])
    );
    let seen = all["version"].as_u64().unwrap().to_string();
    // Nothing happened since: an empty delta.
    let none = status_json(&home, &["--since", &seen]);
    assert_eq!((none["full"].as_bool(), ids(&none).len()), (Some(false), 0));

    // b reconnects: only b is in the delta, however many times it changed. It is settled
    // once the server's one event of the new connection is counted too.
    home.ok(&["reconnect", "b"]);
    let delta = poll(WAIT, || {
        let delta = status_json(&home, &["--since", &seen]);
        let b = &delta["subscriptions"][0];
        (b["ready_state"] == "OPEN" && b["reason"] == "HTTP 200 OK" && b["events"] == 2)
            .then_some(delta)
    })
    .expect("b's reconnect shows in a delta");
    assert_eq!(
        (delta["full"].as_bool(), ids(&delta)),
        (Some(false), vec!["b"])
    );
    // Its timeline, in every answer, keeps each change with its reason (a reloaded window
    // shows it again), oldest first.
    let timeline: Vec<(&str, &str)> = delta["subscriptions"][0]["timeline"]
        .as_array()
        .expect("a timeline")
        .iter()
        .map(|t| (t["state"].as_str().unwrap(), t["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(
        timeline[timeline.len() - 3..],
        [
            ("OPEN", "HTTP 200 OK"),
            ("CONNECTING", "reconnect requested by user"),
            ("OPEN", "HTTP 200 OK"),
        ],
        "{delta}"
    );

    // c goes: a delta from the last version names it as removed, and nothing else.
    let seen = delta["version"].as_u64().unwrap().to_string();
    home.ok(&["remove", "c"]);
    let gone = poll(WAIT, || {
        let delta = status_json(&home, &["--since", &seen]);
        (delta["removed"] == serde_json::json!(["c"])).then_some(delta)
    })
    .expect("c's removal shows in a delta");
    assert!(ids(&gone).is_empty(), "{gone}");

    // A version this daemon never gave out (an earlier daemon's) gets everything.
    let old = status_json(&home, &["--since", "1"]);
    assert_eq!(
        (old["full"].as_bool(), ids(&old)),
        (Some(true), vec!["a", "b"])
    );

    // Some ids only, in text; an unknown one is an error after the rest is shown.
    let out = home.run(&["status", "b", "zz"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let text = stdout(&out);
    assert!(text.starts_with("daemon: running (pid "), "{text}");
    assert!(text.contains("\nb ") && text.contains("OPEN"), "{text}");
    assert!(!text.contains("\na "), "only what was asked for: {text}");
    assert!(
        stderr(&out).contains("no subscription with id \"zz\""),
        "{}",
        show(&out)
    );
}

/// `ssenotify watch --json`, its lines arriving on a channel.
struct Watch {
    child: Child,
    lines: mpsc::Receiver<Value>,
}

impl Watch {
    fn start(home: &Home) -> Self {
        let mut child = home
            .command(&["watch", "--json"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("ssenotify watch runs");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(serde_json::from_str(&line).unwrap()).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    /// The lines up to and including the first that `done` accepts.
    fn until(&self, what: &str, done: impl Fn(&Value) -> bool) -> Vec<Value> {
        let mut seen = Vec::new();
        loop {
            match self.lines.recv_timeout(WAIT) {
                Ok(line) => {
                    let last = done(&line);
                    seen.push(line);
                    if last {
                        return seen;
                    }
                }
                Err(_) => panic!("no {what} in time; saw {seen:?}"),
            }
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn watch_starts_from_a_snapshot_and_one_edit_costs_one_status_line() {
    let server = holding_server("w");
    let (home, _daemon) = running(&["a", "b", "c", "d"], &server);
    let mut watch = Watch::start(&home);
    let first = watch.until("snapshot", |_| true).remove(0);
    assert_eq!(first["kind"], "snapshot");
    assert_eq!(ids(&first), ["a", "b", "c", "d"]);
    assert!(first["version"].as_u64().is_some() && first["daemon"]["pid"].is_u64());

    // Pausing one subscription reloads the whole file; watchers hear about that one.
    home.ok(&["pause", "b"]);
    let paused =
        |l: &Value| l["kind"] == "status" && l["id"] == "b" && l["reason"] == "paused by user";
    let mut lines = watch.until("b paused", paused);
    // The apply's own line may come before or after b's pause.
    if !lines.iter().any(|l| l["kind"] == "config") {
        lines.extend(watch.until("the apply", |l| l["kind"] == "config"));
    }
    let others: Vec<&Value> = lines
        .iter()
        .filter(|l| l["kind"] == "status" && l["id"] != "b")
        .collect();
    assert!(
        others.is_empty(),
        "statuses of untouched subscriptions: {others:?}"
    );
    let config = lines.iter().find(|l| l["kind"] == "config").unwrap();
    assert_eq!(
        config["applied"]["unchanged"],
        serde_json::json!([]),
        "{config}"
    );

    home.ok(&["remove", "d"]);
    watch.until("d removed", |l| {
        l["kind"] == "removed" && l["ids"] == serde_json::json!(["d"])
    });

    home.ok(&["quit"]);
    watch.until("the goodbye", |l| l["kind"] == "shutdown");
    let status = poll(WAIT, || watch.child.try_wait().unwrap()).expect("watch exits");
    assert!(status.success(), "{status}");
}

#[test]
fn watch_without_a_daemon_says_so() {
    let home = Home::new();
    let out = home.run(&["watch"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        stderr(&out).contains("no daemon is running"),
        "{}",
        show(&out)
    );
    let out = home.run(&["status", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
}

#[test]
fn list_joins_the_file_with_the_live_state_by_id() {
    let server = holding_server("l");
    let (home, _daemon) = running(&["z", "a", "m"], &server);
    let list: Value = serde_json::from_str(&home.ok(&["list", "--json"])).unwrap();
    let rows: Vec<(&str, &str)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            (
                item["id"].as_str().unwrap(),
                item["live"]["id"].as_str().unwrap(),
            )
        })
        .collect();
    // File order, each with its own live state.
    assert_eq!(rows, [("z", "z"), ("a", "a"), ("m", "m")]);
    let text = home.ok(&["list"]);
    assert!(text.starts_with("daemon: running (pid "), "{text}");
    assert_eq!(
        text.lines().filter(|l| l.contains(" OPEN ")).count(),
        3,
        "{text}"
    );
}
