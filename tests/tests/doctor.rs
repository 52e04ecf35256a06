//! `ssenotify doctor` on a real private desktop (Xvfb, a session bus, dunst by D-Bus
//! activation; see `ssenotify_e2e::desktop`), with a real daemon and real streams.

use std::time::Duration;

use ssenotify_e2e::desktop::{Desktop, DesktopOptions};
use ssenotify_e2e::{Response, Step, TestServer, poll};

const WAIT: Duration = Duration::from_secs(10);

/// `doctor`'s lines and its exit code.
fn doctor(desk: &Desktop) -> (Vec<String>, Option<i32>) {
    let output = desk.ssenotify_output(&["doctor"]);
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    (
        text.lines().map(str::to_owned).collect(),
        output.status.code(),
    )
}

/// The line of `check`, which must exist.
fn line<'a>(lines: &'a [String], check: &str) -> &'a str {
    lines
        .iter()
        .find(|l| {
            l.get(5..)
                .is_some_and(|rest| rest.starts_with(&format!("{check}:")))
        })
        .unwrap_or_else(|| panic!("no {check} line in:\n{}", lines.join("\n")))
}

#[test]
fn doctor_reports_a_working_desktop_and_what_holds_notifications_back() {
    let desk = Desktop::start();
    let open = TestServer::start(|_, _| Response::sse_steps(vec![Step::Hold]));
    let gone = TestServer::start(|_, _| Response::status(404));
    desk.write_subscriptions(&format!(
        r#"version = 1

[notifications]
quiet_hours = [{{ from = "00:00", to = "00:00" }}]   # the whole day: in force now

[[subscription]]
id = "live"
url = "{}"

[[subscription]]
id = "gone"
url = "{}"

[[subscription]]
id = "hushed"
url = "{}"
mute_until = "2099-01-01T00:00:00Z"
"#,
        open.url("/live"),
        gone.url("/gone"),
        open.url("/hushed"),
    ));
    let daemon = desk.run_daemon();
    // Wait for the states doctor reports, not for a time.
    poll(WAIT, || {
        let list = String::from_utf8_lossy(&desk.ssenotify_output(&["list"]).stdout).into_owned();
        (list.contains("CLOSED") && list.matches("OPEN").count() >= 2).then_some(())
    })
    .expect("two subscriptions OPEN and one CLOSED");

    let (lines, code) = doctor(&desk);
    let all = lines.join("\n");
    assert!(line(&lines, "session bus").starts_with("OK   "), "{all}");
    let server = line(&lines, "notification server");
    assert!(
        server.starts_with("OK   notification server: dunst"),
        "{all}"
    );
    let caps = line(&lines, "capabilities");
    assert!(
        caps.starts_with("OK   ") && caps.contains("actions") && caps.contains("body-markup"),
        "{all}"
    );
    // Xvfb has no tray host: a warning that says what to do, not a failure.
    let tray = line(&lines, "tray host");
    assert!(tray.starts_with("WARN ") && tray.contains("→ "), "{all}");
    let running = line(&lines, "daemon");
    assert!(
        running.starts_with(&format!(
            "OK   daemon: running (pid {}, since ",
            daemon.pid()
        )),
        "{all}"
    );
    assert!(
        line(&lines, "quiet hours").starts_with("WARN quiet hours: in force now"),
        "{all}"
    );
    let mutes = line(&lines, "mutes");
    assert!(
        mutes.starts_with("WARN ") && mutes.contains("hushed until 2099-01-01T00:00:00Z"),
        "{all}"
    );
    assert!(
        line(&lines, "connections").starts_with("OK   connections: 2 of 3 OPEN"),
        "{all}"
    );
    let gone = line(&lines, "subscription");
    assert!(
        gone.starts_with("FAIL subscription: gone CLOSED: ")
            && gone.contains("404")
            && gone.contains("ssenotify reconnect gone"),
        "{all}"
    );
    for dir in ["config dir", "data dir", "runtime dir"] {
        assert!(line(&lines, dir).starts_with("OK   "), "{all}");
    }
    assert_eq!(code, Some(1), "a FAIL line exits 1:\n{all}");

    // With the broken subscription gone, nothing fails: exit 0 despite the warnings.
    let remove = desk.ssenotify_output(&["remove", "gone"]);
    assert!(remove.status.success(), "{remove:?}");
    let (lines, code) = doctor(&desk);
    assert!(
        !lines.iter().any(|l| l.starts_with("FAIL")),
        "{}",
        lines.join("\n")
    );
    assert_eq!(code, Some(0), "{}", lines.join("\n"));
}

#[test]
fn doctor_fails_without_a_notification_server_or_a_daemon() {
    let desk = Desktop::with(DesktopOptions {
        notification_server: false,
        ..DesktopOptions::default()
    });
    let (lines, code) = doctor(&desk);
    let all = lines.join("\n");
    assert!(line(&lines, "session bus").starts_with("OK   "), "{all}");
    let server = line(&lines, "notification server");
    assert!(
        server.starts_with("FAIL notification server: none answers"),
        "{all}"
    );
    assert!(server.contains("→ install and start one"), "{all}");
    assert!(
        line(&lines, "daemon").starts_with("FAIL daemon: not running"),
        "{all}"
    );
    assert!(
        line(&lines, "subscriptions").starts_with("WARN subscriptions: none"),
        "{all}"
    );
    assert_eq!(code, Some(1), "{all}");

    let json = desk.ssenotify_output(&["doctor", "--json"]);
    let first: serde_json::Value = serde_json::from_str(
        String::from_utf8_lossy(&json.stdout)
            .lines()
            .nth(1)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(first["level"], "FAIL");
    assert_eq!(first["check"], "notification server");
    assert!(first["fix"].as_str().unwrap().contains("install"));
}
