//! Redirects against real servers on 127.0.0.1 (two ports are two origins): a subscription's
//! secret headers and its `auth` go only to the origin they were configured for, every other
//! header (`Last-Event-ID` too) follows every hop, and loops and long chains end CLOSED.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ssenotify_e2e::{Client, Request, Response, Step, TestServer, WAIT, fast_settings};
use ssenotify_sse::{Auth, ReadyState, Reason, Settings};

/// The headers a subscription treats as secret, and one it does not.
const SECRET_HEADERS: [(&str, &str); 3] = [
    ("X-Api-Token", "s3cret-header"),
    ("Cookie", "session=s3cret-cookie"),
    ("X-Signing-Key", "s3cret-key"),
];

/// Settings for `url` with secret headers, Bearer auth, a plain header and a resume point.
fn with_secrets(url: String) -> Settings {
    let mut settings = fast_settings(url);
    settings.headers = SECRET_HEADERS
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    settings.headers.push(("X-Client".into(), "plain".into()));
    settings.auth = Some(Auth::Bearer {
        token: "s3cret-bearer".into(),
    });
    settings.last_event_id = "41".into();
    settings
}

fn hold(body: Vec<u8>) -> Response {
    Response::sse_steps(vec![Step::Send(body), Step::Hold])
}

/// Whether `request` carries every secret of [`with_secrets`].
fn has_all_secrets(request: &Request) -> bool {
    SECRET_HEADERS
        .iter()
        .all(|(name, value)| request.header(name) == Some(*value))
        && request.header("authorization") == Some("Bearer s3cret-bearer")
}

/// Whether `request` carries none of them.
fn has_no_secret(request: &Request) -> bool {
    SECRET_HEADERS
        .iter()
        .all(|(name, _)| request.header(name).is_none())
        && request.header("authorization").is_none()
        && !request
            .headers
            .iter()
            .any(|(_, value)| value.contains("s3cret"))
}

#[tokio::test]
async fn secrets_stay_behind_on_a_redirect_to_another_origin() {
    let other = TestServer::start(|_, n| match n {
        0 => Response::sse(b"id: 42\ndata: from elsewhere\n\n"),
        _ => hold(b"data: again\n\n".to_vec()),
    });
    let moved = other.url("/moved");
    let home = TestServer::start(move |_, _| Response::redirect(302, &moved));
    let mut client = Client::start(with_secrets(home.url("/feed?token=in-query"))).await;

    let open = client.until_state(ReadyState::Open).await.pop().unwrap();
    let there = &other.requests()[0];
    assert!(has_no_secret(there), "{:?}", there.headers);
    assert_eq!(there.header("last-event-id"), Some("41"));
    assert_eq!(there.header("x-client"), Some("plain"));
    assert_eq!(there.header("accept"), Some("text/event-stream"));
    // Nor the first URL (its query may hold a token) as a Referer.
    assert_eq!(there.header("referer"), None);
    assert!(has_all_secrets(&home.requests()[0]));
    let origin = format!("http://127.0.0.1:{}", other.port());
    assert_eq!(
        open.reason,
        Reason::OpenedElsewhere {
            status: 200,
            origin: origin.clone(),
            secrets_withheld: true,
        }
    );
    assert_eq!(
        open.reason.to_string(),
        format!("HTTP 200 OK (redirected to {origin}; secret headers not sent)")
    );
    assert_eq!(open.reason.status(), Some(200));
    assert_eq!(client.events(1).await[0].data, "from elsewhere");

    // The reconnect starts again at the subscription's own URL, secrets and all, with the
    // ID the other origin sent.
    client.until_state(ReadyState::Open).await;
    let requests = home.wait_for_requests(2, WAIT).await.unwrap();
    assert!(has_all_secrets(&requests[1]));
    assert_eq!(requests[1].header("last-event-id"), Some("42"));
    assert!(has_no_secret(&other.requests()[1]));
    client.close().await;
}

#[tokio::test]
async fn a_chain_back_to_the_first_origin_keeps_the_secrets_behind() {
    // The other server sends the client back to the first one, which starts second.
    let home_root = Arc::new(OnceLock::<String>::new());
    let back = Arc::clone(&home_root);
    let other = TestServer::start(move |_, _| {
        Response::redirect(307, &format!("{}/back-home", back.get().unwrap()))
    });
    let bounce = other.url("/bounce");
    let home = TestServer::start(move |request, _| match request.path.as_str() {
        "/feed" => Response::redirect(301, &bounce),
        _ => hold(b"data: home again\n\n".to_vec()),
    });
    home_root
        .set(format!("http://127.0.0.1:{}", home.port()))
        .unwrap();
    let mut client = Client::start(with_secrets(home.url("/feed"))).await;

    let open = client.until_state(ReadyState::Open).await.pop().unwrap();
    let requests = home.requests();
    assert_eq!(requests[1].path, "/back-home");
    assert!(has_no_secret(&requests[1]), "{:?}", requests[1].headers);
    assert_eq!(requests[1].header("last-event-id"), Some("41"));
    assert!(has_no_secret(&other.requests()[0]));
    assert_eq!(
        open.reason.to_string(),
        format!(
            "HTTP 200 OK (redirected to http://127.0.0.1:{}; secret headers not sent)",
            home.port()
        )
    );
    client.close().await;
}

#[tokio::test]
async fn same_origin_redirects_keep_every_header() {
    let home = TestServer::start(|request, _| match request.path.as_str() {
        "/a/start" => Response::redirect(302, "next"),
        "/a/next" => Response::redirect(308, "../b/stream?x=1"),
        "/b/stream?x=1" => hold(b"data: here\n\n".to_vec()),
        _ => Response::status(404),
    });
    let mut client = Client::start(with_secrets(home.url("/a/start"))).await;
    let open = client.until_state(ReadyState::Open).await.pop().unwrap();
    assert_eq!(open.reason, Reason::Opened { status: 200 });
    assert_eq!(open.reason.to_string(), "HTTP 200 OK");
    let requests = home.requests();
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/a/start", "/a/next", "/b/stream?x=1"]);
    for request in &requests {
        assert!(has_all_secrets(request), "{}", request.path);
        assert_eq!(request.header("last-event-id"), Some("41"));
    }
    client.close().await;
}

#[tokio::test]
async fn a_relative_location_that_names_another_host_is_another_origin() {
    let other = TestServer::start(|_, _| hold(b"data: x\n\n".to_vec()));
    let scheme_relative = format!("//127.0.0.1:{}/x", other.port());
    let home = TestServer::start(move |_, _| Response::redirect(303, &scheme_relative));
    let mut client = Client::start(with_secrets(home.url("/feed"))).await;
    let open = client.until_state(ReadyState::Open).await.pop().unwrap();
    assert!(has_no_secret(&other.requests()[0]));
    assert!(
        matches!(
            open.reason,
            Reason::OpenedElsewhere {
                secrets_withheld: true,
                ..
            }
        ),
        "{:?}",
        open.reason
    );
    client.close().await;
}

#[tokio::test]
async fn without_secrets_the_reason_names_only_where_it_went() {
    let other = TestServer::start(|_, _| hold(b"data: x\n\n".to_vec()));
    let moved = other.url("/moved");
    let home = TestServer::start(move |_, _| Response::redirect(302, &moved));
    let mut client = Client::start(fast_settings(home.url("/feed"))).await;
    let open = client.until_state(ReadyState::Open).await.pop().unwrap();
    assert_eq!(
        open.reason.to_string(),
        format!(
            "HTTP 200 OK (redirected to http://127.0.0.1:{})",
            other.port()
        )
    );
    client.close().await;
}

/// CLOSED with `reason`, after `requests` requests and no retry.
async fn assert_closed(server: &TestServer, settings: Settings, reason: &str, requests: usize) {
    let mut client = Client::start(settings).await;
    let states = client.until_state(ReadyState::Closed).await;
    assert!(
        states.iter().all(|s| s.ready_state != ReadyState::Open),
        "{states:?}"
    );
    assert_eq!(states.last().unwrap().reason.to_string(), reason);
    // Ten reconnection times later, nothing was retried.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(server.requests().len(), requests);
}

#[tokio::test]
async fn a_redirect_loop_ends_closed_and_names_the_url_without_its_query() {
    let server = TestServer::start(|request, _| match request.path_only() {
        "/a" => Response::redirect(302, "/b"),
        _ => Response::redirect(302, "/a?token=s3cret"),
    });
    let reason = format!(
        "invalid request: redirect loop: back to http://127.0.0.1:{}/a",
        server.port()
    );
    assert_closed(
        &server,
        fast_settings(server.url("/a?token=s3cret")),
        &reason,
        2,
    )
    .await;
}

#[tokio::test]
async fn ten_redirects_are_followed_and_an_eleventh_ends_closed() {
    let chain = |limit: usize| {
        move |request: &Request, _| {
            let n: usize = request.path[1..].parse().unwrap();
            if n < limit {
                Response::redirect(307, &format!("/{}", n + 1))
            } else {
                hold(b"data: arrived\n\n".to_vec())
            }
        }
    };
    let ten = TestServer::start(chain(10));
    let mut client = Client::start(fast_settings(ten.url("/0"))).await;
    client.until_state(ReadyState::Open).await;
    assert_eq!(client.events(1).await[0].data, "arrived");
    assert_eq!(ten.requests().len(), 11);
    client.close().await;

    let eleven = TestServer::start(chain(11));
    let settings = fast_settings(eleven.url("/0"));
    let reason = "invalid request: too many redirects (more than 10)";
    assert_closed(&eleven, settings, reason, 11).await;
}

#[tokio::test]
async fn a_redirect_to_another_scheme_ends_closed() {
    let server = TestServer::start(|_, _| Response::redirect(302, "file:///etc/passwd"));
    let reason = "invalid request: redirect to a \"file\" URL (only http and https are followed)";
    assert_closed(&server, fast_settings(server.url("/")), reason, 1).await;
}
