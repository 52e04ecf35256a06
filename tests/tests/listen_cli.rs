//! `ssenotify listen`, the real binary against real servers: the `--json` contract, exit
//! codes, flags, and reconnects.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use ssenotify_e2e::{Response, Step, TestServer, sse_event, ssenotify_bin};

fn listen(args: &[&str]) -> Output {
    Command::new(ssenotify_bin())
        .arg("listen")
        .args(args)
        .env("NO_PROXY", "127.0.0.1")
        .output()
        .expect("ssenotify runs")
}

fn json_lines(output: &Output) -> Vec<Value> {
    String::from_utf8(output.stdout.clone())
        .expect("stdout is UTF-8")
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}")))
        .collect()
}

#[test]
fn json_output_is_exactly_the_contract() {
    let body = b"\xEF\xBB\xBFid: 1\nevent: build\ndata: {\"step\":1}\n\n\
: keep-alive\n\
data: line one\ndata: line two\n\n\
id\ndata: \xFF after reset\r\n\r\n\
retry: 10\n\n\
data: unterminated"
        .to_vec();
    let server = TestServer::start(move |_, _| Response::sse(body.clone()));
    let output = listen(&["--json", "--once", &server.url("/feed")]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(
        json_lines(&output),
        vec![
            json!({"kind":"state","ready_state":"CONNECTING","reason":"connecting"}),
            json!({"kind":"state","ready_state":"OPEN","reason":"HTTP 200 OK","status":200}),
            json!({"kind":"event","type":"build","data":"{\"step\":1}","last_event_id":"1"}),
            json!({"kind":"event","type":"message","data":"line one\nline two","last_event_id":"1"}),
            json!({"kind":"event","type":"message","data":"\u{FFFD} after reset","last_event_id":""}),
            json!({"kind":"state","ready_state":"CLOSED","reason":"server closed the stream"}),
        ]
    );
    // Key order is part of the contract too (other tools may read it with simple parsers).
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[1],
        r#"{"kind":"state","ready_state":"OPEN","reason":"HTTP 200 OK","status":200}"#
    );
    assert_eq!(
        lines[2],
        r#"{"kind":"event","type":"build","data":"{\"step\":1}","last_event_id":"1"}"#
    );
}

#[test]
fn once_exit_codes_follow_the_contract() {
    let server = TestServer::start(|req, _| match req.path.as_str() {
        "/gone" => Response::status(404),
        "/stop" => Response::status(204),
        "/html" => Response::html("<p>hi</p>"),
        "/busy" => Response::status(503),
        _ => Response::sse(b"data: x\n\n"),
    });
    let cases = [
        ("/ok", 0, None),
        ("/stop", 0, None),
        ("/gone", 1, Some("HTTP 404 Not Found")),
        ("/html", 1, Some("wrong content type: text/html")),
        ("/busy", 1, Some("HTTP 503")),
    ];
    for (path, code, stderr) in cases {
        let output = listen(&["--json", "--once", &server.url(path)]);
        assert_eq!(output.status.code(), Some(code), "{path}: {output:?}");
        let last = json_lines(&output).pop().unwrap();
        assert_eq!(last["ready_state"], "CLOSED", "{path}");
        if let Some(reason) = stderr {
            let err = String::from_utf8_lossy(&output.stderr);
            assert!(err.contains(reason), "{path}: stderr {err:?}");
        }
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = listen(&["--once", &format!("http://127.0.0.1:{port}/")]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("refused"));
}

#[test]
fn status_is_present_only_when_there_was_a_response() {
    let server = TestServer::start(|_, _| Response::status(404));
    let lines = json_lines(&listen(&["--json", "--once", &server.url("/")]));
    assert!(lines[0].get("status").is_none(), "{:?}", lines[0]);
    assert_eq!(lines[1]["status"], 404);
}

#[test]
fn max_events_exits_after_n_events() {
    let server = TestServer::start(|_, _| {
        let mut body = Vec::new();
        for n in 0..10 {
            body.extend(sse_event(None, Some(&n.to_string()), &format!("n{n}")));
        }
        Response::sse_steps(vec![Step::Send(body), Step::Hold])
    });
    let output = listen(&["--json", "--max-events", "3", &server.url("/")]);
    assert_eq!(output.status.code(), Some(0));
    let events: Vec<Value> = json_lines(&output)
        .into_iter()
        .filter(|l| l["kind"] == "event")
        .collect();
    assert_eq!(events.len(), 3);
    assert_eq!(events[2]["data"], "n2");
}

#[test]
fn headers_and_last_event_id_reach_the_server_and_reconnects_carry_the_id() {
    let server = TestServer::start(|_, n| {
        Response::sse(sse_event(Some("tick"), Some(&format!("t{n}")), "x"))
    });
    let output = listen(&[
        "--json",
        "-H",
        "X-Api-Key: secret-value",
        "--header",
        "X-Other:  spaced ",
        "--last-event-id",
        "41",
        "--reconnect-time",
        "20ms",
        "--max-events",
        "4",
        &server.url("/"),
    ]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let requests = server.requests();
    assert!(requests.len() >= 4);
    assert_eq!(requests[0].header("x-api-key"), Some("secret-value"));
    assert_eq!(requests[0].header("x-other"), Some("spaced"));
    assert_eq!(requests[0].header("last-event-id"), Some("41"));
    for (n, request) in requests.iter().enumerate().take(4).skip(1) {
        let expected = format!("t{}", n - 1);
        assert_eq!(request.header("last-event-id"), Some(expected.as_str()));
    }
    let states: Vec<Value> = json_lines(&output)
        .into_iter()
        .filter(|l| l["kind"] == "state" && l["ready_state"] == "CONNECTING")
        .collect();
    assert!(
        states
            .iter()
            .skip(1)
            .all(|s| s["reason"] == "server closed the stream")
    );
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        vec!["ftp://example.com/"],
        vec!["not a url"],
        vec!["-H", "no colon here", "http://127.0.0.1:1/"],
        vec!["--max-events", "many", "http://127.0.0.1:1/"],
        vec!["--no-such-flag", "http://127.0.0.1:1/"],
        vec![],
    ] {
        let output = listen(&args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
        assert!(!output.stderr.is_empty());
    }
}

#[test]
fn readable_output_escapes_control_characters() {
    let server = TestServer::start(|_, _| {
        Response::sse(b"event: alert\nid: 7\ndata: red \x1b[31m\ndata: second\n\n")
    });
    let output = listen(&["--once", &server.url("/")]);
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "[CONNECTING] connecting");
    assert_eq!(lines[1], "[OPEN] HTTP 200 OK (status 200)");
    assert_eq!(lines[2], r"alert #7: red \u{1b}[31m\nsecond");
    assert!(lines[3].starts_with("[CLOSED] server closed the stream"));
    assert!(!text.contains('\x1b'));
}

#[test]
fn sigterm_closes_the_socket_and_exits_cleanly() {
    let server = TestServer::start(|_, _| {
        Response::sse_steps(vec![Step::send(b"data: hi\n\n"), Step::Hold])
    });
    let mut child = Command::new(ssenotify_bin())
        .args(["listen", "--json", &server.url("/")])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // Wait for the event, so the socket is surely open.
    for line in lines.by_ref() {
        if line.unwrap().contains(r#""kind":"event""#) {
            break;
        }
    }
    let sent = Instant::now();
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(sent.elapsed() < Duration::from_secs(2));
    assert_eq!(status.code(), Some(0));
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    assert_eq!(
        rest.last().map(String::as_str),
        Some(r#"{"kind":"state","ready_state":"CLOSED","reason":"closed by user"}"#)
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert!(
        runtime
            .block_on(server.wait_for_client_close(0, Duration::from_secs(1)))
            .is_some()
    );
}
