//! What a subscription without rules shows, end to end on a real desktop bus (loopback SSE
//! server → `ssenotify run` → D-Bus → dunst): every event type notifies but housekeeping
//! ones, JSON's well-known fields make the popup, and `preset = "ntfy"` shows ntfy's
//! messages as ntfy's apps do and resumes from the last message, never from a keepalive.
//!
//! Needs what `notify_dunst.rs` needs (`scripts/setup.sh test` installs it).

use std::time::Duration;

use serde_json::Value;
use ssenotify_e2e::desktop::{Desktop, DunstNotification, ours};
use ssenotify_e2e::{Response, Step, TestServer, poll, sse_event};

/// Generous: CI runs several desktops at once on two cores.
const WAIT: Duration = Duration::from_secs(10);

/// Our notifications in dunst's history, oldest first: (summary, body, urgency).
fn shown(history: &[DunstNotification]) -> Vec<(String, String, String)> {
    ours(history)
        .into_iter()
        .map(|n| (n.summary, n.body, n.urgency.unwrap_or_default()))
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
    let server = TestServer::streaming(body);
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
    // Then the connection drops: the reconnect must ask for what follows m1.
    let server = TestServer::first_response_plays(vec![Step::Send(first), Step::Close]);
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

/// A 4x4 red PNG.
fn png() -> Vec<u8> {
    // Written out (signature, IHDR, a stored zlib IDAT, IEND) so the test needs no image
    // library and shows what it sends.
    let mut out = Vec::new();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        out.extend((data.len() as u32).to_be_bytes());
        let mut crc_input = kind.to_vec();
        crc_input.extend(data);
        out.extend(kind);
        out.extend(data);
        out.extend(crc32(&crc_input).to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend(4u32.to_be_bytes());
    ihdr.extend(4u32.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]); // 8-bit RGB
    // Four rows, each a filter byte and four red pixels, stored (uncompressed) in zlib.
    let row: Vec<u8> = std::iter::once(0).chain([255, 0, 0].repeat(4)).collect();
    let raw = row.repeat(4);
    let mut zlib = vec![0x78, 0x01, 0x01];
    zlib.extend((raw.len() as u16).to_le_bytes());
    zlib.extend((!(raw.len() as u16)).to_le_bytes());
    zlib.extend(&raw);
    zlib.extend(adler32(&raw).to_be_bytes());
    let mut png = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
    chunk(b"IHDR", &ihdr);
    chunk(b"IDAT", &zlib);
    chunk(b"IEND", &[]);
    png.extend(out);
    png
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn adler32(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in bytes {
        a = (a + u32::from(byte)) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

#[test]
fn an_icon_url_is_fetched_once_and_sent_as_pixels_and_a_broken_one_costs_nothing() {
    let desk = Desktop::start();
    let images = TestServer::start(|request, _| match request.path.as_str() {
        "/icon.png" => Response::body(200, "image/png", png()),
        "/huge.png" => Response::body(200, "image/png", vec![0u8; 3 * 1024 * 1024]),
        _ => Response::status(404),
    });
    let event = |n: u32, icon: &str| {
        sse_event(
            None,
            Some(&n.to_string()),
            &format!(
                r#"{{"title":"t{n}","message":"m","icon":"{}"}}"#,
                images.url(icon)
            ),
        )
    };
    let mut body = Vec::new();
    body.extend(event(1, "/icon.png"));
    body.extend(event(2, "/missing.png"));
    body.extend(event(3, "/huge.png"));
    body.extend(event(4, "/icon.png"));
    let server = TestServer::streaming(body);
    desk.write_subscriptions(&format!(
        "[[subscription]]\nid = \"img\"\nurl = \"{}\"\n",
        server.url("/events")
    ));
    let monitor = desk.monitor_notify_calls();
    let _daemon = desk.run_daemon();

    desk.wait_for_dunst(WAIT, "four popups", |h| shown(h).len() >= 4);
    let calls: Vec<(String, bool)> = monitor
        .calls()
        .into_iter()
        .map(|c| (c.summary, c.hints.iter().any(|h| h == "image-data")))
        .collect();
    assert_eq!(
        calls,
        [("t1", true), ("t2", false), ("t3", false), ("t4", true)]
            .map(|(s, image)| (s.to_owned(), image)),
        "pixels for a good image; nothing for a missing or too large one"
    );
    let fetched = |path: &str| images.requests().iter().filter(|r| r.path == path).count();
    assert_eq!(
        fetched("/icon.png"),
        1,
        "the second use comes from the cache"
    );
    assert_eq!(fetched("/missing.png"), 1);
}

/// Writes an executable shell script `name` into `dir`.
fn script(dir: &std::path::Path, name: &str, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write the script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// Makes dunst's context menu run a `dmenu` of `desk`'s own (in its `bin/`): dunst writes
/// every action as a line and invokes the line it prints, so `pick` (a shell filter)
/// presses a button as a user would. Every menu shown is kept in `menu.txt`. Returns the
/// `bin` directory and that file.
fn fake_dmenu(desk: &Desktop, pick: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let bin = desk.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let menu = desk.path().join("menu.txt");
    script(
        &bin,
        "fake-dmenu",
        &format!("tee -a {} | {pick}", menu.display()),
    );
    let rc = desk.path().join("config/dunst/dunstrc");
    let dunstrc = std::fs::read_to_string(&rc).unwrap().replacen(
        "[global]\n",
        &format!(
            "[global]\n    dmenu = {}\n",
            bin.join("fake-dmenu").display()
        ),
        1,
    );
    std::fs::write(&rc, dunstrc).unwrap();
    (bin, menu)
}

/// How many popups dunst shows now. Not `wait_for_dunst`: reading dunst's history closes
/// the popups, and a closed popup has no menu.
fn displayed(desk: &Desktop) -> Option<u32> {
    let out = desk
        .command("dunstctl")
        .args(["count", "displayed"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

#[test]
fn a_button_pressed_in_dunst_opens_its_url_and_only_http_urls_become_buttons() {
    let desk = Desktop::start();
    // The menu picks the Dashboard button; `xdg-open` (the daemon's way to open a URL)
    // writes what it was given.
    let (bin, menu) = fake_dmenu(&desk, "grep -m1 Dashboard");
    let opened = desk.path().join("opened.txt");
    script(
        &bin,
        "xdg-open",
        &format!("echo \"$1\" >> {}", opened.display()),
    );

    let data = serde_json::json!({"topic": "ops", "message": "deploy done", "actions": [
        {"action": "view", "label": "Dashboard", "url": "https://dash.example/ops"},
        {"action": "view", "label": "Secrets", "url": "file:///etc/shadow"}]});
    let body = sse_event(None, None, &data.to_string());
    let server = TestServer::streaming(body);
    desk.write_subscriptions(&format!(
        "[[subscription]]\nid = \"ops\"\nurl = \"{}\"\npreset = \"ntfy\"\n",
        server.url("/ops/sse")
    ));
    let monitor = desk.monitor_notify_calls();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let _daemon = desk.run_daemon_with(|command| {
        command.env("PATH", &path);
    });
    poll(WAIT, || (displayed(&desk)? >= 1).then_some(())).expect("dunst shows the popup");
    let calls = monitor.calls();
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!(
        calls[0].actions,
        ["button-0", "Dashboard"],
        "the file: URL is no button"
    );

    let context = desk
        .command("dunstctl")
        .arg("context")
        .output()
        .expect("dunstctl runs");
    assert!(context.status.success(), "{context:?}");
    let opened_urls = poll(WAIT, || {
        std::fs::read_to_string(&opened)
            .ok()
            .filter(|s| !s.is_empty())
    })
    .unwrap_or_else(|| {
        panic!(
            "nothing was opened; dunst's menu was:\n{}",
            std::fs::read_to_string(&menu).unwrap_or_default()
        )
    });
    assert_eq!(opened_urls.trim(), "https://dash.example/ops");
}

#[test]
fn an_http_button_pressed_in_dunst_sends_its_request_and_history_keeps_what_it_got() {
    let desk = Desktop::start();
    // The menu picks the button named in `choice.txt`.
    let choice = desk.path().join("choice.txt");
    let (_, menu) = fake_dmenu(
        &desk,
        &format!("grep -m1 -F \"$(cat {})\"", choice.display()),
    );

    // The API the rule's buttons call (503 for /fail, /bounce redirects elsewhere), and
    // another origin an event names.
    let elsewhere = TestServer::start(|_, _| Response::status(200));
    let bounced = elsewhere.url("/bounced");
    let api = TestServer::start(move |request, _| match request.path.as_str() {
        "/fail" => Response::status(503),
        "/bounce" => Response::redirect(307, &bounced),
        _ => Response::status(200),
    });
    let secrets = desk.config_dir().join("secrets");
    std::fs::create_dir_all(&secrets).unwrap();
    std::fs::write(secrets.join("api-token"), "Bearer s3cret-e2e\n").unwrap();

    let event = |job: &str, target: &str| {
        sse_event(
            None,
            None,
            &serde_json::json!({"job": job, "target": target}).to_string(),
        )
    };
    let mut body = event("restart", "");
    body.extend(event("fail", ""));
    body.extend(event("away", elsewhere.url("").trim_end_matches('/')));
    body.extend(event("bounce", ""));
    let server = TestServer::streaming(body);
    desk.write_subscriptions(&format!(
        r#"[[subscription]]
id = "ops"
url = "{sse}"

[[subscription.rules]]
when = [{{ pointer = "/job", equals = "away" }}]
title = "{{{{ json.job }}}}"
buttons = [{{ label = "Press away", http = {{ url = "{{{{ json.target }}}}/away",
  headers = {{ Authorization = "file:secrets/api-token" }} }} }}]

[[subscription.rules]]
title = "{{{{ json.job }}}}"
buttons = [{{ label = "Press {{{{ json.job }}}}", http = {{ url = "{api}/{{{{ json.job }}}}",
  method = "PUT", body = '{{"job": "{{{{ json.job }}}}"}}',
  headers = {{ Authorization = "file:secrets/api-token", X-Tag = "e2e" }} }} }}]
"#,
        sse = server.url("/ops/sse"),
        api = api.url("").trim_end_matches('/'),
    ));
    let _daemon = desk.run_daemon();
    poll(WAIT, || (displayed(&desk)? >= 4).then_some(())).expect("dunst shows the four popups");
    let press = |label: &str| {
        std::fs::write(&choice, label).unwrap();
        let context = desk
            .command("dunstctl")
            .arg("context")
            .output()
            .expect("dunstctl runs");
        assert!(context.status.success(), "{context:?}");
    };
    let arrived = |server: &TestServer, path: &str| {
        poll(WAIT, || {
            server.requests().into_iter().find(|r| r.path == path)
        })
        .unwrap_or_else(|| {
            panic!(
                "no request to {path}; dunst's menu was:\n{}",
                std::fs::read_to_string(&menu).unwrap_or_default()
            )
        })
    };

    press("Press restart");
    let restart = arrived(&api, "/restart");
    assert_eq!(restart.method, "PUT");
    assert_eq!(
        String::from_utf8_lossy(&restart.body),
        r#"{"job": "restart"}"#
    );
    assert_eq!(restart.header("authorization"), Some("Bearer s3cret-e2e"));
    assert_eq!(restart.header("x-tag"), Some("e2e"));

    press("Press fail");
    let fail = arrived(&api, "/fail");
    assert_eq!(fail.header("authorization"), Some("Bearer s3cret-e2e"));

    // The rendered URL is on another origin than the rule writes out: the request goes
    // there, but without the secret header.
    press("Press away");
    let away = arrived(&elsewhere, "/away");
    assert_eq!(away.method, "POST", "the default method");
    assert_eq!(away.header("authorization"), None, "{away:?}");

    // Each event's history row keeps what its button got.
    let results = || -> Vec<(String, String)> {
        let output = desk.ssenotify_output(&["history", "ops", "--json"]);
        let events: Vec<Value> = serde_json::from_slice(&output.stdout).expect("a JSON array");
        events
            .iter()
            .filter_map(|e| {
                let data: Value = serde_json::from_str(e["data"].as_str()?).ok()?;
                Some((
                    data["job"].as_str()?.to_owned(),
                    e["button"].as_str()?.to_owned(),
                ))
            })
            .collect()
    };
    // A redirect to another origin is not followed: the secret header stays home.
    press("Press bounce");
    let bounce = arrived(&api, "/bounce");
    assert_eq!(bounce.header("authorization"), Some("Bearer s3cret-e2e"));

    let results = poll(WAIT, || Some(results()).filter(|r| r.len() == 4))
        .unwrap_or_else(|| panic!("history: {:?}", results()));
    let of = |job: &str| {
        results
            .iter()
            .find(|(j, _)| j == job)
            .map(|(_, r)| r.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(of("restart"), "Press restart: 200 OK");
    assert_eq!(
        of("fail"),
        "Press fail: the server answered 503 Service Unavailable"
    );
    assert!(
        of("away").starts_with("Press away: 200 OK (secret headers not sent"),
        "{results:?}"
    );
    assert_eq!(
        of("bounce"),
        "Press bounce: the server answered 307 Temporary Redirect (a redirect to another origin is not followed)"
    );
    assert!(
        elsewhere.requests().iter().all(|r| r.path != "/bounced"),
        "{:?}",
        elsewhere.requests()
    );
    assert!(!format!("{results:?}").contains("s3cret"));
    // The text form says it too, under its event.
    let text = desk.ssenotify_output(&["history", "ops"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("\n    button: Press restart: 200 OK\n"),
        "{text}"
    );

    // The failure is told in a notification of its own.
    let history = desk.wait_for_dunst(WAIT, "the failed buttons' notices", |h| {
        shown(h)
            .iter()
            .filter(|(_, body, _)| body.starts_with("Press"))
            .count()
            >= 2
    });
    let mut notices: Vec<_> = shown(&history)
        .into_iter()
        .filter(|(_, body, _)| body.starts_with("Press"))
        .collect();
    notices.sort();
    assert_eq!(
        notices,
        [
            row("bounce", &of("bounce"), "normal"),
            row(
                "fail",
                "Press fail: the server answered 503 Service Unavailable",
                "normal"
            )
        ],
        "a notice for each failed button only"
    );
}
