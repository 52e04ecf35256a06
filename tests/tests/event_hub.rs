//! The local event hub, against the real daemon: two clients see every event; a client
//! that reconnects with `Last-Event-ID` gets what it missed from history and then live
//! events, nothing twice; no token, no stream; a client that stops reading slows nothing
//! and is cut off once its buffer overflows; the Unix socket variant.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use ssenotify_e2e::home::*;
use ssenotify_e2e::{Gate, Response, Step, TestServer, poll, sse_event};

/// One event as a hub client parsed it.
#[derive(Debug, Clone)]
struct HubEvent {
    row: u64,
    event: String,
    envelope: Value,
}

/// A free loopback port (the kernel's choice, released for the daemon to take).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A home whose file turns the hub on at `listen` and subscribes to `subs` (id, URL).
fn home_with_hub(listen: &str, subs: &[(&str, String)], extra: &str) -> Home {
    let home = Home::new();
    let mut text = format!("version = 1\n\n[hub]\nlisten = \"{listen}\"\n");
    for (id, url) in subs {
        text.push_str(&format!(
            "\n[[subscription]]\nid = \"{id}\"\nurl = \"{url}\"\n{extra}"
        ));
    }
    std::fs::create_dir_all(home.config_dir()).unwrap();
    std::fs::write(home.subs_file(), text).unwrap();
    home
}

/// The request head of a hub stream.
fn request(path: &str, token: Option<&str>, last: Option<u64>) -> String {
    let mut head =
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n");
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    if let Some(last) = last {
        head.push_str(&format!("Last-Event-ID: {last}\r\n"));
    }
    head + "\r\n"
}

/// Sends `request` on `stream`; returns the status line and the headers' lines, and the
/// stream positioned at the body.
fn open<S: Read + Write>(mut stream: S, request: &str) -> (String, BufReader<S>) {
    stream.write_all(request.as_bytes()).unwrap();
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "head ended early: {head}"
        );
        if line == "\r\n" {
            return (head, reader);
        }
        head.push_str(&line);
    }
}

/// Connects to the hub at `port` (retrying until the daemon serves it).
fn connect(port: u16) -> TcpStream {
    poll(WAIT, || TcpStream::connect(("127.0.0.1", port)).ok()).expect("the hub listens")
}

/// A client reading its stream on a thread: every event parsed, then `None` at its end.
struct Reader {
    events: mpsc::Receiver<Option<HubEvent>>,
}

impl Reader {
    /// Reads the body of `reader` (chunked framing lines are skipped: each frame is one
    /// chunk, so an `id:`, `event:` or `data:` line is never split).
    fn spawn<S: Read + Send + 'static>(mut reader: BufReader<S>) -> Self {
        let (tx, events) = mpsc::channel();
        std::thread::spawn(move || {
            let (mut row, mut event, mut data) = (None, None, None);
            let mut line = String::new();
            loop {
                line.clear();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let line = line.trim_end_matches(['\r', '\n']);
                if let Some(v) = line.strip_prefix("id: ") {
                    row = v.parse().ok();
                } else if let Some(v) = line.strip_prefix("event: ") {
                    event = Some(v.to_owned());
                } else if let Some(v) = line.strip_prefix("data: ") {
                    // A stream cut off mid-frame ends in a partial line: never dispatched.
                    data = serde_json::from_str::<Value>(v).ok();
                } else if line.is_empty()
                    && let (Some(r), Some(e), Some(d)) = (row, event.take(), data.take())
                {
                    let parsed = HubEvent {
                        row: r,
                        event: e,
                        envelope: d,
                    };
                    if tx.send(Some(parsed)).is_err() {
                        return;
                    }
                }
            }
            let _ = tx.send(None);
        });
        Self { events }
    }

    /// The next `n` events (panics when they do not come within `timeout`).
    fn take(&self, n: usize, timeout: Duration) -> Vec<HubEvent> {
        (0..n)
            .map(|i| {
                self.events
                    .recv_timeout(timeout)
                    .unwrap_or_else(|_| panic!("event {i} of {n} did not come"))
                    .unwrap_or_else(|| panic!("the stream ended after {i} of {n} events"))
            })
            .collect()
    }

    /// Every event until the stream ends (panics if it does not end within `timeout`).
    fn until_end(&self, timeout: Duration) -> Vec<HubEvent> {
        let mut all = Vec::new();
        loop {
            match self.events.recv_timeout(timeout) {
                Ok(Some(event)) => all.push(event),
                Ok(None) => return all,
                Err(_) => panic!("the stream did not end; {} events so far", all.len()),
            }
        }
    }
}

/// `n` events from `first` and then the hub at `port`, as an EventSource client reads them:
/// when its stream is cut off (a client that fell behind), it reconnects with
/// `Last-Event-ID`. Returns the events and how many times it reconnected.
fn follow(
    port: u16,
    token: &str,
    first: Reader,
    n: usize,
    timeout: Duration,
) -> (Vec<HubEvent>, usize) {
    let mut events: Vec<HubEvent> = Vec::new();
    let mut reconnects = 0;
    let mut reader = Some(first);
    while events.len() < n {
        let current = reader.get_or_insert_with(|| {
            let last = events.last().map(|e| e.row);
            let (_, body) = open(connect(port), &request("/events", Some(token), last));
            Reader::spawn(body)
        });
        match current.events.recv_timeout(timeout) {
            Ok(Some(event)) => events.push(event),
            Ok(None) => {
                reconnects += 1;
                reader = None;
            }
            Err(_) => panic!("no event within {timeout:?} after {}", events.len()),
        }
    }
    (events, reconnects)
}

/// The hub's token, as a script gets it.
fn token(home: &Home) -> String {
    home.ok(&["hub", "token"]).trim().to_owned()
}

/// A server whose stream sends `batches` of events (ids `<tag>-<n>`, data `<tag> <n>`),
/// each once its gate opens.
fn batched_server(tag: &'static str, batches: &[usize], gates: &[Gate]) -> TestServer {
    let mut steps = Vec::new();
    let mut n = 0;
    for (size, gate) in batches.iter().zip(gates) {
        steps.push(Step::Wait(gate.clone()));
        for _ in 0..*size {
            n += 1;
            steps.push(Step::Send(sse_event(
                None,
                Some(&format!("{tag}-{n}")),
                &format!("{tag} {n}"),
            )));
        }
    }
    steps.push(Step::Hold);
    TestServer::start(move |_, _| Response::sse_steps(steps.clone()))
}

fn datas(events: &[HubEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| e.envelope["data"].as_str().unwrap().to_owned())
        .collect()
}

fn assert_increasing(events: &[HubEvent]) {
    for pair in events.windows(2) {
        assert!(pair[0].row < pair[1].row, "row ids increase: {pair:?}");
    }
}

#[test]
fn two_clients_see_every_event_and_a_resume_loses_and_repeats_nothing() {
    let gates_a: Vec<Gate> = (0..3).map(|_| Gate::new()).collect();
    let gates_b: Vec<Gate> = (0..3).map(|_| Gate::new()).collect();
    let a = batched_server("a", &[3, 3, 3], &gates_a);
    let b = batched_server("b", &[3, 3, 3], &gates_b);
    let port = free_port();
    let home = home_with_hub(
        &format!("127.0.0.1:{port}"),
        &[("a", a.url("/a")), ("b", b.url("/b"))],
        "",
    );
    let _daemon = home.start_daemon();
    assert_eq!(
        home.ok(&["hub", "url"]),
        format!("http://127.0.0.1:{port}/events\n")
    );
    let token = token(&home);

    // The head is answered once the client is subscribed: nothing after it is missed.
    let (head, all) = open(connect(port), &request("/events", Some(&token), None));
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/event-stream")
    );
    let (_, only_a) = open(connect(port), &request("/events/a", Some(&token), None));
    let (all, only_a) = (Reader::spawn(all), Reader::spawn(only_a));

    gates_a[0].open();
    gates_b[0].open();
    let first = all.take(6, WAIT);
    assert_increasing(&first);
    let mut seen = datas(&first);
    seen.sort();
    assert_eq!(seen, ["a 1", "a 2", "a 3", "b 1", "b 2", "b 3"]);
    let e = &first.iter().find(|e| e.envelope["data"] == "a 1").unwrap();
    assert_eq!(e.event, "message");
    assert_eq!(e.envelope["subscription"], "a");
    assert_eq!(e.envelope["type"], "message");
    assert_eq!(e.envelope["last_event_id"], "a-1");
    // What the router did, as history says (`run --no-notify`: kept in history).
    assert_eq!(e.envelope["action"], "history");
    assert!(e.envelope["time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(datas(&only_a.take(3, WAIT)), ["a 1", "a 2", "a 3"]);

    // The first client goes away; six events arrive while it is gone.
    drop(all);
    let last = first.last().unwrap().row;
    gates_a[1].open();
    gates_b[1].open();
    poll(WAIT, || {
        (home.history(&["a"]).len() == 6 && home.history(&["b"]).len() == 6).then_some(())
    })
    .expect("the second batch is in history");
    // It comes back while the third batch is arriving: the seam of replay and live.
    gates_a[2].open();
    gates_b[2].open();
    let (head, again) = open(connect(port), &request("/events", Some(&token), Some(last)));
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let rest = Reader::spawn(again).take(12, WAIT);
    assert_increasing(&rest);
    assert!(rest[0].row > last);
    let mut every: Vec<String> = seen.into_iter().chain(datas(&rest)).collect();
    every.sort();
    let mut expected: Vec<String> = ["a", "b"]
        .iter()
        .flat_map(|t| (1..=9).map(move |n| format!("{t} {n}")))
        .collect();
    expected.sort();
    assert_eq!(every, expected, "every event once, none twice");
    assert_eq!(
        datas(&only_a.take(6, WAIT)),
        ["a 4", "a 5", "a 6", "a 7", "a 8", "a 9"],
        "the other client kept pace all along"
    );
}

#[test]
fn no_token_no_stream_and_an_off_hub_says_what_to_set() {
    let port = free_port();
    let home = home_with_hub(&format!("127.0.0.1:{port}"), &[], "");
    let _daemon = home.start_daemon();
    let token = token(&home);
    assert_eq!(token.len(), 64);
    assert_eq!(mode(&home.data_dir().join("hub.token")), 0o600);
    for (request, status) in [
        (request("/events", None, None), "401"),
        (request("/events", Some("not-the-token"), None), "401"),
        (request("/nowhere", Some(&token), None), "404"),
        (request("/events", Some(&token), None), "200"),
    ] {
        let (head, _) = open(connect(port), &request);
        assert!(
            head.starts_with(&format!("HTTP/1.1 {status}")),
            "{request}: {head}"
        );
        if status == "401" {
            assert!(
                head.to_ascii_lowercase()
                    .contains("www-authenticate: bearer")
            );
        }
    }

    // A shared file cannot open or move the hub: an import leaves `[hub]` as it was.
    let shared = home.write(
        "shared.toml",
        "version = 1\n\n[hub]\nlisten = \"127.0.0.1:1\"\n",
    );
    home.ok(&["import", shared.to_str().unwrap()]);
    assert_eq!(
        home.ok(&["hub", "url"]),
        format!("http://127.0.0.1:{port}/events\n")
    );

    let off = Home::new();
    for what in ["url", "token"] {
        let output = off.run(&["hub", what]);
        assert_eq!(output.status.code(), Some(1), "{}", show(&output));
        assert!(
            stderr(&output).contains("the event hub is off"),
            "{}",
            show(&output)
        );
        assert!(stderr(&output).contains("listen = \"127.0.0.1:47412\""));
    }
    let wide = home_with_hub("0.0.0.0:47412", &[], "");
    let output = wide.run(&["check"]);
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    assert!(
        show(&output).contains("hub.listen: \"0.0.0.0:47412\" is not a loopback address"),
        "{}",
        show(&output)
    );
}

#[test]
fn a_client_that_stops_reading_slows_nothing_and_is_cut_off() {
    // 1,500 events of 8 KiB, one a millisecond: 12 MB, far more than the client's 1 MiB
    // buffer and its socket's, at a pace a reading client keeps up with.
    const EVENTS: usize = 1500;
    let gate = Gate::new();
    let big = "x".repeat(8 * 1024);
    let mut steps = vec![Step::Wait(gate.clone())];
    for n in 1..=EVENTS {
        let data = format!("{n} {big}");
        steps.push(Step::Send(sse_event(None, Some(&n.to_string()), &data)));
        steps.push(Step::sleep_ms(1));
    }
    steps.push(Step::Hold);
    let server = TestServer::start(move |_, _| Response::sse_steps(steps.clone()));
    let port = free_port();
    let home = home_with_hub(
        &format!("127.0.0.1:{port}"),
        &[("big", server.url("/big"))],
        "history = { max_events = 5000 }\n",
    );
    let daemon = home.start_daemon();
    let token = token(&home);
    let (_, slow) = open(connect(port), &request("/events", Some(&token), None));
    // The other client reads as it comes (and, should a loaded machine hold its thread
    // back long enough to be cut off too, resumes like any EventSource client).
    let fast = {
        let (_, body) = open(connect(port), &request("/events", Some(&token), None));
        let first = Reader::spawn(body);
        let token = token.clone();
        std::thread::spawn(move || follow(port, &token, first, EVENTS, Duration::from_secs(30)))
    };

    gate.open();
    // The other client and history keep pace while the slow one reads nothing.
    let (got, reconnects) = fast.join().unwrap();
    assert_eq!(got.len(), EVENTS);
    assert_increasing(&got);
    eprintln!("the reading client reconnected {reconnects} times");
    poll(WAIT, || {
        (home.history(&["big", "--limit", "10000"]).len() == EVENTS).then_some(())
    })
    .expect("history holds every event");

    // Reading at last, the slow client finds its stream cut off short of the end.
    let slow = Reader::spawn(slow).until_end(WAIT);
    assert!(slow.len() < EVENTS, "cut off: {} events", slow.len());
    assert_increasing(&slow);
    assert!(daemon.log().contains("fell behind"), "{}", daemon.log());
    // It resumes from history: the rest, nothing twice.
    let last = slow.last().map_or(0, |e| e.row);
    let (_, again) = open(connect(port), &request("/events", Some(&token), Some(last)));
    let rest = Reader::spawn(again).take(EVENTS - slow.len(), WAIT);
    let numbers: Vec<usize> = slow
        .iter()
        .chain(&rest)
        .map(|e| {
            let data = e.envelope["data"].as_str().unwrap();
            data.split(' ').next().unwrap().parse().unwrap()
        })
        .collect();
    assert_eq!(numbers, (1..=EVENTS).collect::<Vec<_>>());
}

#[test]
fn a_unix_socket_hub_is_0600_and_answers_its_own_user_only() {
    let gate = Gate::new();
    let server = batched_server("u", &[1], std::slice::from_ref(&gate));
    let home = home_with_hub("unix:hub.sock", &[("u", server.url("/u"))], "");
    let daemon = home.start_daemon();
    let socket = home.runtime_dir().join("hub.sock");
    assert_eq!(
        home.ok(&["hub", "url"]).trim(),
        format!("unix:{}", socket.display())
    );
    let stream = poll(WAIT, || UnixStream::connect(&socket).ok()).expect("the hub listens");
    assert_eq!(mode(&socket), 0o600);
    let token = token(&home);
    let (head, body) = open(stream, &request("/events", Some(&token), None));
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    gate.open();
    assert_eq!(datas(&Reader::spawn(body).take(1, WAIT)), ["u 1"]);

    // Another user, with the token and every mode on the way loosened, gets no answer.
    for (path, loose) in [
        (home.path().to_path_buf(), 0o755),
        (home.path().join("run"), 0o755),
        (home.runtime_dir(), 0o777),
        (socket.clone(), 0o777),
    ] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(loose)).unwrap();
    }
    let asked = request("/events", Some(&token), None);
    let own = ask_as(None, &socket, &asked);
    assert!(
        stdout(&own).contains("reply:HTTP/1.1 200"),
        "{}",
        show(&own)
    );
    let nobody = ask_as(Some(65534), &socket, &asked);
    let out = stdout(&nobody);
    assert!(out.contains("connected\n"), "{}", show(&nobody));
    assert!(
        out.ends_with("reply:\n") && !out.contains("timed out"),
        "{}",
        show(&nobody)
    );
    poll(WAIT, || {
        daemon
            .log()
            .contains("refused a connection from another user")
            .then_some(())
    })
    .unwrap_or_else(|| panic!("the refusal is logged:\n{}", daemon.log()));
}

#[test]
fn listen_hub_reads_the_hub_with_its_url_and_token() {
    let gate = Gate::new();
    let server = batched_server("l", &[2], std::slice::from_ref(&gate));
    let port = free_port();
    let home = home_with_hub(&format!("127.0.0.1:{port}"), &[("l", server.url("/l"))], "");
    let _daemon = home.start_daemon();
    gate.open();
    poll(WAIT, || (home.history(&["l"]).len() == 2).then_some(())).expect("events recorded");
    // From row 0: what history holds, through the hub, as `listen --json` prints events.
    let output = home
        .command(&[
            "listen",
            "--hub",
            "l",
            "--json",
            "--max-events",
            "2",
            "--last-event-id",
            "0",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", show(&output));
    let envelopes: Vec<Value> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|line| line["kind"] == "event")
        .map(|line| serde_json::from_str(line["data"].as_str().unwrap()).unwrap())
        .collect();
    let datas: Vec<&str> = envelopes
        .iter()
        .map(|e| e["data"].as_str().unwrap())
        .collect();
    assert_eq!(datas, ["l 1", "l 2"]);
    assert!(envelopes.iter().all(|e| e["subscription"] == "l"));

    let off = Home::new();
    let output = off.run(&["listen", "--hub"]);
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    assert!(
        stderr(&output).contains("the event hub is off"),
        "{}",
        show(&output)
    );
}
