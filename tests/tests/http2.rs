//! HTTP/2 where the server offers it (README, "What ssenotify promises"): the real engine
//! (`ssenotify listen`, the daemon, the engine in-process) against a TLS loopback server
//! with a CA made at run time, which speaks h2 with a chosen stream limit.

use std::fs;
use std::process::Output;
use std::time::Duration;

use serde_json::Value;
use ssenotify_e2e::home::{Home, block_on, show, stdout};
use ssenotify_e2e::{
    Alpn, Client, Response, Step, TestCa, TestServer, TlsOptions, poll, sse_event, ssenotify_bin,
};
use ssenotify_sse::{ReadyState, Update};

/// Generous: CI runs these on two loaded cores, next to other tests.
const WAIT: Duration = Duration::from_secs(30);

/// A server's streams as the test counts them: an event with an id naming the request, then
/// held open.
fn holding(tls: TlsOptions, ca: &TestCa) -> TestServer {
    TestServer::start_tls(ca, tls, |request, n| {
        Response::sse_steps(vec![
            Step::Send(sse_event(None, Some(&format!("{n}")), request.path_only())),
            Step::Hold,
        ])
    })
}

/// A server that allows `max_concurrent_streams` streams per HTTP/2 connection.
fn h2_limit(max_concurrent_streams: u32) -> TlsOptions {
    TlsOptions {
        alpn: Alpn::H2,
        max_concurrent_streams,
    }
}

/// `ssenotify listen --json` with `args`, NO_PROXY set for loopback.
fn listen(args: &[&str], env: &[(&str, &std::path::Path)]) -> Output {
    let mut cmd = std::process::Command::new(ssenotify_bin());
    cmd.args(["listen", "--json", "--idle-timeout", "20s"])
        .args(args)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR");
    for (name, value) in env {
        cmd.env(name, value);
    }
    cmd.output().expect("ssenotify listen runs")
}

fn json_lines(output: &Output) -> Vec<Value> {
    stdout(output)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

fn events(lines: &[Value]) -> Vec<&Value> {
    lines.iter().filter(|l| l["kind"] == "event").collect()
}

/// Every connection the server accepted spoke HTTP/2, and so did every request.
fn assert_all_h2(server: &TestServer) {
    let conns = server.connections();
    assert!(!conns.is_empty());
    assert!(conns.iter().all(|c| c.h2), "{conns:?}");
    assert!(server.requests().iter().all(|r| r.version == "HTTP/2"));
}

#[test]
fn https_negotiates_h2_with_a_ca_file_and_with_the_system_roots() {
    let ca = TestCa::new();
    let server = holding(TlsOptions::default(), &ca);
    let url = server.url("/ca-file");
    let ca_file = ca.ca_file();
    let output = listen(
        &[
            "--max-events",
            "1",
            "--ca-file",
            ca_file.to_str().unwrap(),
            &url,
        ],
        &[],
    );
    assert!(output.status.success(), "{}", show(&output));
    let lines = json_lines(&output);
    assert_eq!(events(&lines)[0]["data"], "/ca-file", "{lines:?}");

    // The system's roots (here: SSL_CERT_FILE, which the system's store reads) offer h2 too.
    let url = server.url("/system-roots");
    let output = listen(&["--max-events", "1", &url], &[("SSL_CERT_FILE", &ca_file)]);
    assert!(output.status.success(), "{}", show(&output));
    assert_eq!(events(&json_lines(&output))[0]["data"], "/system-roots");
    assert_eq!(server.requests().len(), 2);
    assert_all_h2(&server);
}

#[test]
fn a_server_without_h2_is_read_over_http1() {
    let ca = TestCa::new();
    let options = TlsOptions {
        alpn: Alpn::Http1,
        ..TlsOptions::default()
    };
    let server = holding(options, &ca);
    let ca_file = ca.ca_file();
    let output = listen(
        &[
            "--max-events",
            "1",
            "--ca-file",
            ca_file.to_str().unwrap(),
            &server.url("/h1"),
        ],
        &[],
    );
    assert!(output.status.success(), "{}", show(&output));
    assert_eq!(events(&json_lines(&output))[0]["data"], "/h1");
    assert!(!server.connections()[0].h2);
    assert_eq!(server.requests()[0].version, "HTTP/1.1");
}

#[test]
fn a_reconnect_on_h2_sends_last_event_id_on_the_same_connection() {
    let ca = TestCa::new();
    let server = TestServer::start_tls(&ca, TlsOptions::default(), |_, n| match n {
        // The stream ends (END_STREAM), the connection stays.
        0 => Response::sse_steps(vec![
            Step::Send(sse_event(None, Some("7"), "first")),
            Step::Close,
        ]),
        _ => Response::sse_steps(vec![
            Step::Send(sse_event(None, Some("8"), "second")),
            Step::Hold,
        ]),
    });
    let ca_file = ca.ca_file();
    let output = listen(
        &[
            "--max-events",
            "2",
            "--reconnect-time",
            "100ms",
            "--ca-file",
            ca_file.to_str().unwrap(),
            &server.url("/resume"),
        ],
        &[],
    );
    assert!(output.status.success(), "{}", show(&output));
    let lines = json_lines(&output);
    let ids: Vec<_> = events(&lines)
        .iter()
        .map(|e| e["last_event_id"].clone())
        .collect();
    assert_eq!(ids, ["7", "8"], "{lines:?}");
    let requests = server.requests();
    assert_eq!(requests[1].header("last-event-id"), Some("7"));
    // A new stream on the connection already open: no second handshake.
    assert_eq!(requests[1].conn, requests[0].conn);
    assert_eq!(server.connections().len(), 1);
    assert_all_h2(&server);
}

/// A subscriptions file of `n` subscriptions to `server` trusting `ca`.
fn subscriptions(home: &Home, server: &TestServer, ca: &TestCa, n: usize) {
    let mut file = String::from("version = 1\n");
    for i in 0..n {
        file.push_str(&format!(
            "\n[[subscription]]\nid = \"s{i}\"\nurl = \"{}\"\nca_file = \"{}\"\n\
             reconnect_time = \"200ms\"\n",
            server.url(&format!("/feed/{i}")),
            ca.ca_file().display()
        ));
    }
    fs::create_dir_all(home.config_dir()).unwrap();
    fs::write(home.subs_file(), file).unwrap();
}

/// How many of the daemon's subscriptions pass `check`.
fn count_in_daemon(home: &Home, check: impl Fn(&Value) -> bool) -> usize {
    home.status()["subscriptions"]
        .as_array()
        .map_or(0, |subs| subs.iter().filter(|s| check(s)).count())
}

/// Waits until the daemon reports all `n` subscriptions OPEN.
fn until_all_open(home: &Home, n: usize) {
    let open = |s: &Value| s["ready_state"] == "OPEN";
    poll(WAIT, || (count_in_daemon(home, open) == n).then_some(()))
        .unwrap_or_else(|| panic!("{} of {n} OPEN", count_in_daemon(home, open)));
}

#[test]
fn three_hundred_subscriptions_to_a_server_allowing_100_streams_all_open() {
    let ca = TestCa::new();
    let server = holding(h2_limit(100), &ca);
    let home = Home::new();
    subscriptions(&home, &server, &ca, 300);
    let _daemon = home.start_daemon();
    assert!(
        block_on(server.wait_for_open_streams(300, WAIT)),
        "{} of 300 streams open",
        server.open_streams()
    );
    until_all_open(&home, 300);
    let conns = server.connections();
    assert!(conns.iter().all(|c| c.peak_streams <= 100), "{conns:?}");
    // One TLS handshake per connection needed, not one per subscription: the first request
    // of each hundred opens the connection the others share (a few more if a loaded machine
    // made them give up waiting for it).
    let carrying = conns.iter().filter(|c| c.open_streams > 0).count();
    assert!(carrying >= 3, "{conns:?}");
    assert!(
        conns.len() <= 6,
        "{} connections for 300 streams",
        conns.len()
    );
    assert_all_h2(&server);
}

#[test]
fn a_killed_connection_makes_every_stream_on_it_reconnect_with_its_last_event_id() {
    let ca = TestCa::new();
    let server = holding(h2_limit(100), &ca);
    let home = Home::new();
    subscriptions(&home, &server, &ca, 150);
    let _daemon = home.start_daemon();
    assert!(block_on(server.wait_for_open_streams(150, WAIT)));
    // Each first event stored (the resume point is the last event saved).
    let stored = |s: &Value| s["events"] == 1;
    poll(WAIT, || {
        (count_in_daemon(&home, stored) == 150).then_some(())
    })
    .unwrap_or_else(|| panic!("{} of 150 stored", count_in_daemon(&home, stored)));
    let before = server.connections().len();

    server.kill_connections();
    assert!(
        block_on(server.wait_for_open_streams(150, WAIT)),
        "{} of 150 streams back",
        server.open_streams()
    );
    until_all_open(&home, 150);
    assert!(server.connections()[..before].iter().all(|c| !c.is_open()));
    // Every subscription asked again, resuming from the event its first stream carried.
    let requests = server.requests();
    for i in 0..150 {
        let path = format!("/feed/{i}");
        let mine: Vec<_> = requests.iter().filter(|r| r.path == path).collect();
        assert_eq!(mine.len(), 2, "{path}: {mine:?}");
        let first_id = mine[0].index.to_string();
        assert_eq!(
            mine[1].header("last-event-id"),
            Some(first_id.as_str()),
            "{mine:?}"
        );
        assert!(
            mine[1].conn >= before,
            "{path} reconnected on a new connection"
        );
    }
}

#[test]
fn a_half_open_h2_connection_is_found_by_its_pings_and_every_stream_reconnects() {
    let ca = TestCa::new();
    let server = holding(TlsOptions::default(), &ca);
    let home = Home::new();
    // The idle timeout (2 min by default) is longer than the wait below: only the
    // connection's PINGs (30 s without a byte, then 20 s without an answer) can find it.
    subscriptions(&home, &server, &ca, 20);
    let _daemon = home.start_daemon();
    assert!(block_on(server.wait_for_open_streams(20, WAIT)));
    let before = server.connections().len();

    // The server forgets the frozen connections' streams; the client cannot know.
    server.freeze_connections();
    assert_eq!(server.open_streams(), 0);
    assert!(
        block_on(server.wait_for_open_streams(20, Duration::from_secs(75))),
        "{} of 20 streams back after a minute: {:#?} {:#?}",
        server.open_streams(),
        server.connections(),
        server
            .requests()
            .iter()
            .map(|r| (r.index, r.conn, r.path.clone(), r.at))
            .collect::<Vec<_>>()
    );
    let conns = server.connections();
    assert!(conns.len() > before, "{conns:?}");
    until_all_open(&home, 20);
}

#[tokio::test]
async fn a_request_waiting_for_a_stream_the_server_does_not_allow_gives_up_at_the_idle_timeout() {
    let ca = TestCa::new();
    // One stream per connection, kept busy: a comment every 100 ms.
    let mut keep_alive = vec![Step::send(b": first\n\n")];
    for _ in 0..600 {
        keep_alive.extend([Step::sleep_ms(100), Step::send(b":\n")]);
    }
    let server = TestServer::start_tls(&ca, h2_limit(1), move |_, _| {
        Response::sse_steps(keep_alive.clone())
    });
    let engine = ssenotify_sse::Engine::new();
    let settings = |path: &str| {
        let mut settings = ssenotify_e2e::fast_settings(server.url(path));
        settings.extra_ca_file = Some(ca.ca_file());
        settings.policy.idle_timeout = Duration::from_millis(500);
        settings
    };
    let (_first, mut first) = engine.subscribe(settings("/first")).await.unwrap();
    let opened = |update: Option<Update>| matches!(update, Some(Update::State(change)) if change.ready_state == ReadyState::Open);
    while !opened(tokio::time::timeout(WAIT, first.recv()).await.unwrap()) {}
    // The second shares the connection (a client assumes 100 streams) and waits for a stream.
    let (_second, mut second) = engine.subscribe(settings("/second")).await.unwrap();
    let reason = loop {
        match tokio::time::timeout(WAIT, second.recv()).await {
            Ok(Some(Update::State(change))) if change.reason != ssenotify_sse::Reason::Started => {
                break change.reason;
            }
            Ok(Some(_)) => {}
            other => panic!("no second state change: {other:?}"),
        }
    };
    assert_eq!(
        reason,
        ssenotify_sse::Reason::IdleTimeout {
            after: Duration::from_millis(500)
        }
    );
    assert_eq!(
        server.requests().len(),
        1,
        "the server never saw the second"
    );
}

#[tokio::test]
async fn a_consumer_that_stops_reading_holds_the_server_back_within_one_stream_window() {
    let ca = TestCa::new();
    // About 10 MB of 100-byte events, as fast as the client's window lets them through.
    let event = sse_event(None, None, &"x".repeat(100));
    let server = TestServer::start_tls(&ca, TlsOptions::default(), move |_, _| {
        Response::sse_steps(vec![Step::Send(event.clone()); 100_000])
    });
    let mut settings = ssenotify_e2e::fast_settings(server.url("/flood"));
    settings.extra_ca_file = Some(ca.ca_file());
    let mut client = Client::start(settings).await;
    loop {
        if let Update::State(change) = client.next().await
            && change.ready_state == ReadyState::Open
        {
            break;
        }
    }
    // From here nobody reads: the engine's queue fills, then the HTTP/2 window.
    assert!(server.wait_for_blocked_stream(WAIT).await);
    let window = 64 * 1024;
    assert!(
        until(WAIT, || server.body_bytes() >= window).await,
        "only {} bytes sent",
        server.body_bytes()
    );
    // The window, the engine's 16 queued batches and a chunk being parsed; hyper's default
    // window (2 MiB) would let the server push megabytes here.
    let bound = 4 * window;
    let over = until(Duration::from_secs(1), || server.body_bytes() > bound).await;
    assert!(!over, "the server pushed {} bytes", server.body_bytes());
    assert!(
        server.wait_for_blocked_stream(WAIT).await,
        "still held back"
    );
    assert!(client.updates.recv().await.is_some(), "still streaming");
}

/// Whether `check` holds within `timeout`, checked every 20 ms without blocking the runtime
/// (the engine under test runs on it).
async fn until(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    while !check() {
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}
