//! The engine's connection policy against real HTTP servers on 127.0.0.1: status and
//! Content-Type rules, redirects, Last-Event-ID across reconnects, `retry:`, `Retry-After`,
//! backoff, the idle timeout, the size limit, and closing.

use std::time::{Duration, Instant};

use ssenotify_e2e::{
    Client, Response, Step, TestServer, WAIT, fast_settings as settings, sse_event,
};
use ssenotify_sse::{Engine, ReadyState, Reason, Resume, Settings};

fn open_then_hold(body: Vec<u8>) -> Response {
    Response::sse_steps(vec![Step::Send(body), Step::Hold])
}

#[tokio::test]
async fn good_response_opens_with_the_spec_request_headers() {
    let server =
        TestServer::start(|_, _| open_then_hold(sse_event(Some("greet"), Some("1"), "hi")));
    let mut s = settings(server.url("/events"));
    s.headers = vec![("X-Custom".into(), "yes".into())];
    s.auth = Some(ssenotify_sse::Auth::Bearer {
        token: "t0k3n".into(),
    });
    let mut client = Client::start(s).await;

    let first = client.next_state().await;
    assert_eq!(first.ready_state, ReadyState::Connecting);
    assert_eq!(first.reason, Reason::Started);
    let open = client.next_state().await;
    assert_eq!(open.ready_state, ReadyState::Open);
    assert_eq!(open.reason.status(), Some(200));
    let events = client.events(1).await;
    assert_eq!(&*events[0].event_type, "greet");
    assert_eq!(events[0].data, "hi");
    assert_eq!(&*events[0].last_event_id, "1");

    let request = &server.requests()[0];
    assert_eq!(request.method, "GET");
    assert_eq!(request.header("accept"), Some("text/event-stream"));
    assert_eq!(request.header("cache-control"), Some("no-cache"));
    assert_eq!(request.header("last-event-id"), None);
    assert_eq!(request.header("x-custom"), Some("yes"));
    assert_eq!(request.header("authorization"), Some("Bearer t0k3n"));
    client.close().await;
}

#[tokio::test]
async fn content_type_parameters_are_allowed() {
    let server = TestServer::start(|_, _| {
        open_then_hold(b"data: x\n\n".to_vec())
            .header("Content-Type", "Text/Event-Stream; charset=utf-8")
    });
    let mut client = Client::start(settings(server.url("/"))).await;
    let states = client.until_state(ReadyState::Open).await;
    assert_eq!(states.last().unwrap().ready_state, ReadyState::Open);
    assert_eq!(client.events(1).await[0].data, "x");
    client.close().await;
}

/// A fatal outcome: CLOSED with the given reason, and never a second request.
async fn assert_fatal(response: fn() -> Response, expected: Reason) {
    let server = TestServer::start(move |_, _| response());
    let mut client = Client::start(settings(server.url("/"))).await;
    let states = client.until_state(ReadyState::Closed).await;
    let closed = states.last().unwrap();
    assert_eq!(closed.reason, expected);
    assert!(
        !states.iter().any(|s| s.ready_state == ReadyState::Open),
        "{states:?}"
    );
    // Ten reconnection times later, still one request: nothing was retried.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn wrong_content_type_is_fatal() {
    assert_fatal(
        || Response::html("<p>not a stream</p>"),
        Reason::WrongContentType {
            content_type: "text/html; charset=utf-8".into(),
        },
    )
    .await;
}

#[tokio::test]
async fn missing_content_type_is_fatal() {
    assert_fatal(
        || Response::sse(b"data: x\n\n").remove_header("Content-Type"),
        Reason::WrongContentType {
            content_type: String::new(),
        },
    )
    .await;
}

#[tokio::test]
async fn status_204_stops_for_good() {
    assert_fatal(|| Response::status(204), Reason::NoContent).await;
}

#[tokio::test]
async fn client_errors_are_fatal() {
    for (status, text) in [
        (400, "Bad Request"),
        (401, "Unauthorized"),
        (404, "Not Found"),
    ] {
        let response: fn() -> Response = match status {
            400 => || Response::status(400),
            401 => || Response::status(401),
            _ => || Response::status(404),
        };
        assert_fatal(
            response,
            Reason::HttpStatus {
                status,
                text: text.into(),
            },
        )
        .await;
    }
}

#[tokio::test]
async fn server_errors_408_and_429_are_retried() {
    for status in [500u16, 502, 503, 408, 429] {
        let server = TestServer::start(move |_, n| {
            if n == 0 {
                Response::status(status)
            } else {
                open_then_hold(b"data: back\n\n".to_vec())
            }
        });
        let mut client = Client::start(settings(server.url("/"))).await;
        let states = client.until_state(ReadyState::Open).await;
        let retried = &states[1];
        assert_eq!(retried.ready_state, ReadyState::Connecting, "{status}");
        assert_eq!(retried.reason.status(), Some(status));
        assert!(retried.retry_in.is_some());
        assert_eq!(client.events(1).await[0].data, "back");
        assert_eq!(server.requests().len(), 2);
        client.close().await;
    }
}

#[tokio::test]
async fn redirects_are_followed_including_a_relative_location() {
    let server = TestServer::start(|req, _| match req.path.as_str() {
        "/a/start" => Response::redirect(302, "next?hop=1"),
        "/a/next?hop=1" => Response::redirect(301, "/b/moved"),
        "/b/moved" => Response::redirect(303, "../c/see"),
        "/c/see" => Response::redirect(307, "/d/temp"),
        "/d/temp" => Response::redirect(308, "/stream"),
        "/stream" => open_then_hold(b"id: 9\ndata: arrived\n\n".to_vec()),
        _ => Response::status(404),
    });
    let mut client = Client::start(settings(server.url("/a/start"))).await;
    client.until_state(ReadyState::Open).await;
    assert_eq!(client.events(1).await[0].data, "arrived");
    let paths: Vec<String> = server.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        [
            "/a/start",
            "/a/next?hop=1",
            "/b/moved",
            "/c/see",
            "/d/temp",
            "/stream"
        ]
    );
    client.close().await;
}

#[tokio::test]
async fn last_event_id_is_sent_on_every_reconnect() {
    // Each response sends one event with the next id, then ends; the last one also sends an
    // id in a block that never gets its blank line, which must not be applied.
    let server = TestServer::start(|_, n| {
        let mut body = sse_event(None, Some(&format!("id-{n}")), &format!("event {n}"));
        body.extend_from_slice(b"id: never-committed\ndata: partial\n");
        Response::sse(body)
    });
    let mut s = settings(server.url("/"));
    s.last_event_id = "resume-here".into();
    let mut client = Client::start(s).await;
    let events = client.events(6).await;
    for (n, event) in events.iter().enumerate() {
        assert_eq!(event.data, format!("event {n}"));
        assert_eq!(&*event.last_event_id, format!("id-{n}"));
    }
    let requests = server.wait_for_requests(6, WAIT).await.expect("6 requests");
    assert_eq!(requests[0].header("last-event-id"), Some("resume-here"));
    for (n, request) in requests.iter().enumerate().skip(1) {
        let expected = format!("id-{}", n - 1);
        assert_eq!(
            request.header("last-event-id"),
            Some(expected.as_str()),
            "request {n}"
        );
    }
    client.close().await;
}

#[tokio::test]
async fn an_id_with_a_control_character_is_dispatched_but_not_sent_back() {
    // The spec keeps such an ID (only NUL is refused) and a browser sends it raw; HTTP forbids
    // it in a header, so ssenotify reconnects without Last-Event-ID (README: "Where ssenotify
    // does less than a browser") instead of never reconnecting. A later good ID is sent again.
    let server = TestServer::start(|_, n| match n {
        0 => Response::sse(b"id: a\x01b\ndata: one\n\n"),
        1 => Response::sse(b"id: 2\ndata: two\n\n"),
        _ => open_then_hold(Vec::new()),
    });
    let mut client = Client::start(settings(server.url("/"))).await;
    let events = client.events(2).await;
    assert_eq!(&*events[0].last_event_id, "a\u{1}b");
    assert_eq!(&*events[1].last_event_id, "2");
    let requests = server.wait_for_requests(3, WAIT).await.expect("3 requests");
    assert_eq!(requests[1].header("last-event-id"), None);
    assert_eq!(requests[2].header("last-event-id"), Some("2"));
    client.close().await;
}

#[tokio::test]
async fn retry_without_data_sets_the_reconnection_time() {
    let server = TestServer::start(|_, n| match n {
        0 => Response::sse(b"retry: 700\n\n"),
        _ => open_then_hold(b"data: again\n\n".to_vec()),
    });
    let mut client = Client::start(settings(server.url("/"))).await;
    let states = client.until_state(ReadyState::Open).await;
    let states2 = client.until_state(ReadyState::Open).await;
    let reconnecting = states2
        .iter()
        .find(|s| s.ready_state == ReadyState::Connecting)
        .expect("a reconnect");
    assert_eq!(reconnecting.reason, Reason::StreamEnded);
    assert_eq!(reconnecting.retry_in, Some(Duration::from_millis(700)));
    let requests = server.requests();
    let gap = requests[1].at - server.connections()[0].closed_by_server_at.unwrap();
    assert!(gap >= Duration::from_millis(690), "{gap:?}");
    assert!(gap < Duration::from_secs(3), "{gap:?}");
    drop(states);
    client.close().await;
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let server = TestServer::start(|_, n| match n {
        0 => Response::status(503).header("Retry-After", "1"),
        _ => open_then_hold(b"data: ok\n\n".to_vec()),
    });
    let mut client = Client::start(settings(server.url("/"))).await;
    let states = client.until_state(ReadyState::Open).await;
    assert_eq!(states[1].retry_in, Some(Duration::from_secs(1)));
    let requests = server.requests();
    let gap = requests[1].at - requests[0].at;
    assert!(gap >= Duration::from_millis(990), "{gap:?}");
    client.close().await;
}

#[tokio::test]
async fn backoff_grows_on_failures_and_resets_after_a_healthy_stream() {
    // Four 503s, then a stream that dispatches an event and ends, then 503 again.
    let server = TestServer::start(|_, n| match n {
        0..=3 => Response::status(503),
        4 => Response::sse(b"data: healthy\n\n"),
        _ => Response::status(503),
    });
    let mut s = settings(server.url("/"));
    s.policy.initial_reconnect = Duration::from_millis(100);
    let mut client = Client::start(s).await;
    let mut delays = Vec::new();
    while delays.len() < 6 {
        let change = client.next_state().await;
        if let Some(delay) = change.retry_in {
            delays.push((change.reason.clone(), delay));
        }
    }
    let ms = |i: usize| delays[i].1.as_millis();
    // Failure 1: the reconnection time; then doubling ceilings with jitter in the upper half.
    assert_eq!(ms(0), 100, "{delays:?}");
    assert!((100..=200).contains(&ms(1)), "{delays:?}");
    assert!((200..=400).contains(&ms(2)), "{delays:?}");
    assert!((400..=800).contains(&ms(3)), "{delays:?}");
    // The healthy stream ended: back to the reconnection time, and growth starts over.
    assert_eq!(delays[4].0, Reason::StreamEnded);
    assert_eq!(ms(4), 100, "{delays:?}");
    assert_eq!(ms(5), 100, "{delays:?}");
    client.close().await;
}

#[tokio::test]
async fn backoff_is_capped() {
    let server = TestServer::start(|_, _| Response::status(500));
    let mut s = settings(server.url("/"));
    s.policy.initial_reconnect = Duration::from_millis(20);
    s.policy.backoff_cap = Duration::from_millis(100);
    let mut client = Client::start(s).await;
    let mut delays = Vec::new();
    while delays.len() < 8 {
        if let Some(delay) = client.next_state().await.retry_in {
            delays.push(delay);
        }
    }
    assert!(
        delays.iter().all(|d| *d <= Duration::from_millis(100)),
        "{delays:?}"
    );
    assert!(delays[7] >= Duration::from_millis(50), "{delays:?}");
    client.close().await;
}

#[tokio::test]
async fn a_silent_connection_hits_the_idle_timeout_and_reconnects() {
    let server = TestServer::start(|_, n| match n {
        // Keep-alive comments for 900 ms keep the connection alive past the 400 ms timeout,
        // then silence.
        0 => Response::sse_steps(
            std::iter::repeat_n([Step::send(b":\n"), Step::sleep_ms(150)], 6)
                .flatten()
                .chain([Step::Hold])
                .collect(),
        ),
        _ => open_then_hold(b"data: fresh\n\n".to_vec()),
    });
    let mut s = settings(server.url("/"));
    s.policy.idle_timeout = Duration::from_millis(400);
    let mut client = Client::start(s).await;
    client.until_state(ReadyState::Open).await;
    let opened = Instant::now();
    let change = client.next_state().await;
    assert_eq!(
        change.reason,
        Reason::IdleTimeout {
            after: Duration::from_millis(400)
        }
    );
    assert!(
        opened.elapsed() >= Duration::from_millis(1000),
        "comments keep it alive"
    );
    // The dead socket is really closed, and a new request comes.
    assert!(server.wait_for_client_close(0, WAIT).await.is_some());
    assert_eq!(client.events(1).await[0].data, "fresh");
    client.close().await;
}

#[tokio::test]
async fn a_wake_from_sleep_reconnects_at_once_with_the_last_event_id() {
    // The first connection stays open and silent, as a dead socket after a suspend does.
    let server = TestServer::start(|_, n| match n {
        0 => open_then_hold(sse_event(None, Some("before-sleep"), "one")),
        _ => open_then_hold(b"data: after\n\n".to_vec()),
    });
    let mut s = settings(server.url("/"));
    // Far longer than the test: only the wake can end this connection.
    s.policy.idle_timeout = Duration::from_secs(3600);
    let mut client = Client::start(s).await;
    assert_eq!(client.events(1).await[0].data, "one");
    let slept = Duration::from_secs(40 * 60);
    let woken = Instant::now();
    client.engine.wakeup().wake(slept);
    let change = client.next_state().await;
    assert_eq!(change.ready_state, ReadyState::Connecting);
    assert_eq!(change.reason, Reason::SystemWoke { slept });
    assert_eq!(
        change.reason.to_string(),
        "the system woke after 40m asleep; reconnecting"
    );
    // A fresh backoff: the first delay, not a grown one.
    assert!(
        change.retry_in.unwrap() <= Duration::from_millis(100),
        "{change:?}"
    );
    assert!(
        server.wait_for_client_close(0, WAIT).await.is_some(),
        "the old socket is closed"
    );
    assert_eq!(client.events(1).await[0].data, "after");
    assert!(
        woken.elapsed() < Duration::from_secs(2),
        "{:?}",
        woken.elapsed()
    );
    let requests = server
        .wait_for_requests(2, WAIT)
        .await
        .expect("a second request");
    assert_eq!(requests[1].header("last-event-id"), Some("before-sleep"));
    client.close().await;
}

#[tokio::test]
async fn a_wake_cuts_a_long_reconnect_wait_short() {
    // Down with a long retry: after a wake the client tries at once instead of waiting.
    let server = TestServer::start(|_, n| match n {
        0 => Response::sse(b"retry: 600000\n\n"),
        _ => open_then_hold(b"data: back\n\n".to_vec()),
    });
    let mut client = Client::start(settings(server.url("/"))).await;
    client.until_state(ReadyState::Open).await;
    let waiting = client.next_state().await;
    assert_eq!(waiting.ready_state, ReadyState::Connecting);
    assert!(
        waiting.retry_in.unwrap() >= Duration::from_secs(60),
        "{waiting:?}"
    );
    client.engine.wakeup().wake(Duration::from_secs(10));
    assert_eq!(client.events(1).await[0].data, "back");
    client.close().await;
}

#[tokio::test]
async fn an_event_over_the_limit_is_an_error_not_memory() {
    let server = TestServer::start(|_, n| match n {
        0 => {
            let mut body = b"data: small\n\n".to_vec();
            body.extend_from_slice(b"data: ");
            body.extend(std::iter::repeat_n(b'x', 64 * 1024));
            Response::sse_steps(vec![Step::Send(body), Step::Hold])
        }
        _ => open_then_hold(b"data: after\n\n".to_vec()),
    });
    let mut s = settings(server.url("/"));
    s.policy.max_event_size = 16 * 1024;
    let mut client = Client::start(s).await;
    assert_eq!(client.events(1).await[0].data, "small");
    let change = client.next_state().await;
    assert_eq!(change.ready_state, ReadyState::Connecting);
    assert_eq!(change.reason, Reason::EventTooLarge { limit: 16 * 1024 });
    assert!(server.wait_for_client_close(0, WAIT).await.is_some());
    assert_eq!(client.events(1).await[0].data, "after");
    client.close().await;
}

#[tokio::test]
async fn closing_closes_the_socket_within_a_second() {
    let server = TestServer::start(|_, _| open_then_hold(b"data: hello\n\n".to_vec()));
    let mut client = Client::start(settings(server.url("/"))).await;
    client.events(1).await;
    let closed_at = Instant::now();
    client.subscription.take().unwrap().close().await;
    let seen = server
        .wait_for_client_close(0, Duration::from_secs(1))
        .await
        .expect("the server saw the socket close within a second");
    assert!(seen.duration_since(closed_at) < Duration::from_secs(1));
    let last = client.next_state().await;
    assert_eq!(last.ready_state, ReadyState::Closed);
    assert_eq!(last.reason, Reason::ClosedByUser);
    assert_eq!(server.open_connections(), 0);
}

#[tokio::test]
async fn dropping_the_handle_closes_the_socket_too() {
    let server = TestServer::start(|_, _| open_then_hold(b"data: hello\n\n".to_vec()));
    let mut client = Client::start(settings(server.url("/"))).await;
    client.events(1).await;
    drop(client.subscription.take());
    assert!(
        server
            .wait_for_client_close(0, Duration::from_secs(1))
            .await
            .is_some()
    );
}

#[tokio::test]
async fn pause_closes_and_resume_reconnects_with_the_last_id() {
    let server =
        TestServer::start(|_, n| open_then_hold(sse_event(None, Some(&n.to_string()), "e")));
    let mut client = Client::start(settings(server.url("/"))).await;
    client.events(1).await;
    client.handle().pause();
    let paused = client.next_state().await;
    assert_eq!(
        (paused.ready_state, paused.reason),
        (ReadyState::Closed, Reason::Paused)
    );
    assert!(server.wait_for_client_close(0, WAIT).await.is_some());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        server.requests().len(),
        1,
        "a paused subscription stays away"
    );
    client.handle().resume();
    let resumed = client.next_state().await;
    assert_eq!(resumed.reason, Reason::Resumed);
    client.until_state(ReadyState::Open).await;
    assert_eq!(server.requests()[1].header("last-event-id"), Some("0"));
    client.close().await;
}

#[tokio::test]
async fn a_refused_connection_is_retried_with_a_network_reason() {
    // Bind then drop a listener to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut client = Client::start(settings(format!("http://127.0.0.1:{port}/"))).await;
    client.next_state().await;
    let failed = client.next_state().await;
    assert_eq!(failed.ready_state, ReadyState::Connecting);
    match &failed.reason {
        Reason::Network { error } => {
            assert!(error.to_lowercase().contains("refused"), "{error}");
            assert!(!error.contains("127.0.0.1"), "no URL in reasons: {error}");
        }
        other => panic!("expected a network error, got {other:?}"),
    }
    assert!(failed.retry_in.is_some());
    client.close().await;
}

#[tokio::test]
async fn once_policy_closes_at_the_first_end() {
    let server = TestServer::start(|_, _| Response::sse(b"data: one\n\n"));
    let mut s = settings(server.url("/"));
    s.policy.reconnect = false;
    let mut client = Client::start(s).await;
    let states = client.until_state(ReadyState::Closed).await;
    assert_eq!(states.last().unwrap().reason, Reason::StreamEnded);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn the_resume_adapter_sends_the_cursor_for_servers_without_ids() {
    let server = TestServer::start(|_, n| {
        Response::sse(format!(
            "data: {{\"id\":\"msg{n}\",\"message\":\"hi\"}}\n\n"
        ))
    });
    let mut s = settings(server.url("/topic/sse?poll=0&since=old"));
    s.resume = Some(Resume {
        pointer: "/id".into(),
        query: "since".into(),
        events: Vec::new(),
        cursor: Some("start".into()),
    });
    let mut client = Client::start(s).await;
    let events = client.events(3).await;
    assert_eq!(events[0].cursor.as_deref(), Some("msg0"));
    let requests = server.wait_for_requests(3, WAIT).await.unwrap();
    assert_eq!(requests[0].path, "/topic/sse?poll=0&since=start");
    assert_eq!(requests[1].path, "/topic/sse?poll=0&since=msg0");
    assert_eq!(requests[2].path, "/topic/sse?poll=0&since=msg1");
    client.close().await;
}

#[tokio::test]
async fn invalid_settings_are_refused_up_front() {
    let engine = Engine::new();
    for (url, what) in [
        ("ftp://example.com/", "scheme"),
        ("not a url", "invalid URL"),
    ] {
        let error = engine
            .subscribe(Settings::new(url))
            .await
            .err()
            .expect("refused");
        assert!(error.to_string().contains(what), "{error}");
    }
    let mut s = Settings::new("http://127.0.0.1:1/");
    s.headers = vec![("Bad Name".into(), "v".into())];
    assert!(engine.subscribe(s).await.is_err());
    let mut s = Settings::new("http://127.0.0.1:1/");
    s.headers = vec![("X-Token".into(), "line\nbreak".into())];
    let error = engine.subscribe(s).await.err().unwrap().to_string();
    assert!(
        error.contains("X-Token") && !error.contains("line"),
        "{error}"
    );
}

#[tokio::test]
async fn an_event_knows_whether_its_id_is_its_own_or_inherited() {
    let server = TestServer::start(|_, _| {
        open_then_hold(b"id: 1\ndata: own\n\ndata: inherited\n\nid: 2\n\ndata: after bare id\n\nid\ndata: reset\n\n".to_vec())
    });
    let mut client = Client::start(settings(server.url("/"))).await;
    let events = client.events(4).await;
    let ids: Vec<(&str, Option<&str>)> = events
        .iter()
        .map(|e| (&*e.last_event_id, e.id.as_deref()))
        .collect();
    assert_eq!(
        ids,
        [("1", Some("1")), ("1", None), ("2", None), ("", None)]
    );
    client.close().await;
}

#[tokio::test]
async fn reconnect_revives_a_subscription_closed_for_good_with_its_last_event_id() {
    // 404 after one good stream (an expired token, say), until the server is fixed.
    let fixed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let server = TestServer::start({
        let fixed = fixed.clone();
        move |_, n| match n {
            0 => Response::sse_steps(vec![
                Step::Send(sse_event(None, Some("41"), "before")),
                Step::Close,
            ]),
            _ if fixed.load(std::sync::atomic::Ordering::SeqCst) => {
                open_then_hold(sse_event(None, Some("42"), "after"))
            }
            _ => Response::status(404),
        }
    });
    let mut client = Client::start(settings(server.url("/feed"))).await;
    client.events(1).await;
    let closed = client.until_state(ReadyState::Closed).await;
    assert_eq!(closed.last().unwrap().reason.status(), Some(404));
    // CLOSED for good makes no request of its own.
    let requests = server.requests().len();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(server.requests().len(), requests);

    fixed.store(true, std::sync::atomic::Ordering::SeqCst);
    client.handle().reconnect();
    let change = client.next_state().await;
    assert_eq!(
        (change.ready_state, change.reason.clone()),
        (ReadyState::Connecting, Reason::ReconnectRequested)
    );
    assert_eq!(change.retry_in, None, "at once");
    client.until_state(ReadyState::Open).await;
    assert_eq!(client.events(1).await[0].data, "after");
    let last = server.requests().last().cloned().unwrap();
    assert_eq!(last.header("last-event-id"), Some("41"));
    client.close().await;
}

#[tokio::test]
async fn reconnect_reopens_an_open_stream_and_cuts_a_wait_short_but_not_a_pause() {
    let server = TestServer::start(|_, n| match n {
        0 | 1 => open_then_hold(sse_event(None, Some(&n.to_string()), "hi")),
        _ => Response::status(503),
    });
    let mut s = settings(server.url("/feed"));
    s.policy.initial_reconnect = Duration::from_secs(60);
    let mut client = Client::start(s).await;
    client.until_state(ReadyState::Open).await;
    client.events(1).await;

    // OPEN: the socket closes and a new request goes out at once, resuming.
    client.handle().reconnect();
    assert!(server.wait_for_client_close(0, WAIT).await.is_some());
    let states = client.until_state(ReadyState::Open).await;
    assert_eq!(states[0].reason, Reason::ReconnectRequested);
    let requests = server.wait_for_requests(2, WAIT).await.unwrap();
    assert_eq!(requests[1].header("last-event-id"), Some("0"));
    client.events(1).await;

    // Waiting a minute after a 503: the retry happens now.
    client.handle().reconnect();
    loop {
        let change = client.next_state().await;
        if change.reason.status() == Some(503) {
            assert!(
                change.retry_in >= Some(Duration::from_secs(60)),
                "{change:?}"
            );
            break;
        }
    }
    let started = Instant::now();
    client.handle().reconnect();
    server
        .wait_for_requests(4, WAIT)
        .await
        .expect("retried at once");
    assert!(started.elapsed() < Duration::from_secs(10));

    // Paused: nothing happens until resumed.
    client.handle().pause();
    client.until_state(ReadyState::Closed).await;
    let requests = server.requests().len();
    client.handle().reconnect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        server.requests().len(),
        requests,
        "a paused subscription stays paused"
    );
    client.close().await;
}
