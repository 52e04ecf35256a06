//! The demo feed: a small SSE server on loopback, so a new user sees notifications within
//! seconds of installing, without finding a server first.
//!
//! One stream mixes three named events, each with an `id:`, as real feeds do: `news`
//! (a headline with a link), `chat` (a message), and `progress` (a long task's percentage,
//! for replace-in-place). It honours `Last-Event-ID`, so pausing and resuming the demo
//! shows resumption at work. [`demo_subscription`] is the subscription (with rules) that
//! uses it.
//!
//! The daemon serves the feed only while a subscription names [`DEMO_URL`], on a port the
//! kernel picks (so no other user can take it first), to at most a few clients at once.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use ssenotify_config::SubscriptionSpec;
use ssenotify_router::RuleSpec;
use ssenotify_router::spec::RateLimitSpec;

/// The URL of the demo subscription in the file: a reserved name (RFC 6761's `.invalid`
/// never resolves) that the daemon replaces with its own loopback server's address.
pub const DEMO_URL: &str = "http://demo.ssenotify.invalid/";
/// The URL earlier versions wrote for the demo subscription; still recognised.
const LEGACY_URL: &str = "http://127.0.0.1:47411/demo";
/// The demo subscription's id.
pub const DEMO_ID: &str = "demo";
/// The path of the demo stream on the daemon's server.
const DEMO_PATH: &str = "/demo";
/// Most clients the demo server serves at once; more are closed at once.
const MAX_CONNECTIONS: usize = 8;

const NEWS: [(&str, &str); 4] = [
    (
        "Local SSE server keeps its promise",
        "https://html.spec.whatwg.org/multipage/server-sent-events.html",
    ),
    (
        "Reconnect storms tamed by jitter",
        "https://en.wikipedia.org/wiki/Exponential_backoff",
    ),
    (
        "Desktop notifications, now with fewer popups",
        "https://specifications.freedesktop.org/notification-spec/latest/",
    ),
    (
        "Last-Event-ID: the header nobody remembers",
        "https://developer.mozilla.org/en-US/docs/Web/API/EventSource",
    ),
];
const CHAT: [(&str, &str); 4] = [
    ("ana", "build is green again"),
    ("bo", "who broke the staging deploy?"),
    ("ana", "lunch at noon?"),
    ("cy", "release notes are up"),
];

/// The event with id `n` of the demo stream: every second a progress tick, every fifth
/// a chat message, every eleventh a headline.
pub fn demo_event(n: u64) -> String {
    let (event, data) = if n.is_multiple_of(11) {
        let (title, url) = NEWS[(n / 11) as usize % NEWS.len()];
        ("news", serde_json::json!({ "title": title, "url": url }))
    } else if n.is_multiple_of(5) {
        let (from, text) = CHAT[(n / 5) as usize % CHAT.len()];
        ("chat", serde_json::json!({ "from": from, "text": text }))
    } else {
        let percent = (n * 7) % 101;
        (
            "progress",
            serde_json::json!({ "task": "demo-build", "percent": percent }),
        )
    };
    format!("event: {event}\nid: {n}\ndata: {data}\n\n")
}

/// Whether `url` names the demo feed (served by the daemon itself).
pub fn is_demo(url: &str) -> bool {
    url == LEGACY_URL
        || ssenotify_sse::http_url(url)
            .is_ok_and(|url| url.host_str() == Some("demo.ssenotify.invalid"))
}

/// The demo subscription, with rules that show each kind of event well.
pub fn demo_subscription() -> SubscriptionSpec {
    let mut spec = SubscriptionSpec::new(DEMO_ID, DEMO_URL);
    spec.name = Some("Demo feed".into());
    let rules = r#"
[[rules]]
event = "news"
title = "{{ json.title }}"
body = "Click to read more"
click_url = "{{ json.url }}"

[[rules]]
event = "chat"
title = "{{ json.from }}"
body = "{{ json.text }}"

[[rules]]
event = "progress"
title = "{{ json.task }}"
body = "{{ json.percent }}% done"
replace_key = "{{ json.task }}"
progress = "{{ json.percent }}"
urgency = "low"
"#;
    #[derive(serde::Deserialize)]
    struct Rules {
        rules: Vec<RuleSpec>,
    }
    spec.rules = toml::from_str::<Rules>(rules)
        .expect("the demo rules are valid")
        .rules;
    // One event a second: the default limit (5 per 10 s) would summarise the demo's own
    // progress away. Its own limit shows every kind of popup, and still says what one is.
    spec.rate_limit = Some(RateLimitSpec {
        max: std::num::NonZeroU32::new(DEMO_RATE_MAX),
        per: Some(Duration::from_secs(10)),
        catch_up: None,
    });
    spec
}

/// Popups the demo subscription allows per 10 s: more than its stream sends.
const DEMO_RATE_MAX: u32 = 12;

/// The running demo server; [`DemoServer::stop`] closes it and every client.
pub(crate) struct DemoServer {
    url: String,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

impl DemoServer {
    /// Serves the demo stream on a loopback port of the kernel's choosing; `interval` is
    /// the time between events (one second; shorter in tests).
    pub(crate) async fn start(interval: Duration) -> std::io::Result<Self> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let url = format!("http://{}{DEMO_PATH}", listener.local_addr()?);
        let cancel = CancellationToken::new();
        let task = tokio::spawn(accept(listener, interval, cancel.clone()));
        tracing::info!(%url, "demo feed served");
        Ok(Self { url, cancel, task })
    }

    /// Where the demo stream is.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Closes the listener and every client, and waits until they are gone.
    pub(crate) async fn stop(self) {
        self.cancel.cancel();
        let _ = self.task.await;
        tracing::info!("demo feed stopped");
    }
}

/// Accepts until `cancel`, at most [`MAX_CONNECTIONS`] clients at once; waits for them.
async fn accept(listener: TcpListener, interval: Duration, cancel: CancellationToken) {
    let mut clients = JoinSet::new();
    loop {
        let stream = tokio::select! {
            _ = cancel.cancelled() => break,
            Some(_) = clients.join_next(), if !clients.is_empty() => continue,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors, say: wait instead of spinning on the error.
                    tracing::debug!(%error, "demo feed: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        if clients.len() >= MAX_CONNECTIONS {
            continue;
        }
        let cancel = cancel.clone();
        clients.spawn(async move {
            tokio::select! {
                _ = cancel.cancelled() => {}
                _ = connection(stream, interval) => {}
            }
        });
    }
    clients.shutdown().await;
}

/// One client: read the request head, answer with the stream from after its last ID.
async fn connection(mut stream: TcpStream, interval: Duration) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 || head.len() > 16 * 1024 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split_whitespace().nth(1).unwrap_or("/");
    if path.split('?').next() != Some(DEMO_PATH) {
        stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await?;
        return Ok(());
    }
    let last_id: u64 = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("last-event-id")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    stream
        .write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\
              Connection: close\r\n\r\nretry: 2000\n\n",
        )
        .await?;
    let mut ticker = tokio::time::interval(interval);
    ticker.tick().await;
    for n in last_id + 1.. {
        stream.write_all(demo_event(n).as_bytes()).await?;
        ticker.tick().await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_subscription_validates_and_its_rules_compile() {
        let spec = demo_subscription();
        assert!(is_demo(&spec.url));
        let set = ssenotify_config::SubscriptionSet {
            subscriptions: vec![spec],
            ..Default::default()
        };
        set.validate(
            std::path::Path::new("<demo>"),
            ssenotify_config::LiteralSecrets::Reject,
        )
        .unwrap();
    }

    #[test]
    fn the_stream_mixes_named_events_with_ids() {
        let mut parser = ssenotify_sse::Parser::default();
        let mut seen = Vec::new();
        let body: String = (1..=22).map(demo_event).collect();
        parser
            .feed(body.as_bytes(), |out| {
                if let ssenotify_sse::Output::Event(e) = out {
                    seen.push((e.event_type.to_owned(), e.last_event_id.to_owned()));
                }
            })
            .unwrap();
        assert_eq!(seen.len(), 22);
        assert_eq!(seen[10], ("news".into(), "11".into()));
        assert_eq!(seen[4], ("chat".into(), "5".into()));
        assert_eq!(seen[0], ("progress".into(), "1".into()));
    }

    /// Two minutes of the stream through the demo's own rules: every event pops up, none is
    /// summarised by the rate limit.
    #[test]
    fn the_demo_never_trips_its_own_rate_limit() {
        let spec = demo_subscription();
        let mut router = ssenotify_router::Router::new(
            "Demo feed",
            None,
            &spec.rules,
            spec.rate_limit.as_ref(),
            &ssenotify_router::spec::NotificationSettings::default(),
        )
        .unwrap();
        let mut parser = ssenotify_sse::Parser::default();
        let noon = chrono::NaiveDate::from_ymd_opt(2026, 12, 7)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap();
        for n in 1..=120u64 {
            let mut events = Vec::new();
            parser
                .feed(demo_event(n).as_bytes(), |out| {
                    if let ssenotify_sse::Output::Event(e) = out {
                        events.push(ssenotify_sse::Event {
                            event_type: e.event_type.into(),
                            data: e.data.to_owned(),
                            last_event_id: e.last_event_id.into(),
                            id: Some(e.last_event_id.into()),
                            cursor: None,
                        });
                    }
                })
                .unwrap();
            let now = ssenotify_router::Now {
                mono: ssenotify_router::Millis(n * 1000),
                local: noon,
            };
            for event in &events {
                let decision = router.route(event, ssenotify_router::Flags::default(), now);
                assert!(
                    matches!(decision.action, ssenotify_router::Action::Notify(_)),
                    "event {n}: {decision:?}"
                );
            }
        }
    }

    #[tokio::test]
    async fn it_resumes_after_the_last_event_id() {
        let server = DemoServer::start(Duration::from_millis(10)).await.unwrap();
        let addr = server
            .url()
            .trim_start_matches("http://")
            .trim_end_matches(DEMO_PATH)
            .to_owned();
        let mut stream = TcpStream::connect(&addr).await.unwrap();
        stream
            .write_all(b"GET /demo HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 41\r\n\r\n")
            .await
            .unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&got).contains("id: 43\n") {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0);
            got.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8_lossy(&got);
        assert!(text.contains("text/event-stream"));
        assert!(text.contains("id: 42\n") && !text.contains("id: 41\n"));
        server.stop().await;
        assert!(
            TcpStream::connect(&addr).await.is_err(),
            "stopped: nothing listens any more"
        );
    }
}
