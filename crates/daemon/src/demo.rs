//! The demo feed: a small SSE server on loopback, so a new user sees notifications within
//! seconds of installing, without finding a server first.
//!
//! One stream mixes three named events, each with an `id:`, as real feeds do: `news`
//! (a headline with a link), `chat` (a message), and `progress` (a long task's percentage,
//! for replace-in-place). It honours `Last-Event-ID`, so pausing and resuming the demo
//! shows resumption at work. [`demo_subscription`] is the subscription (with rules) that
//! uses it.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use ssenotify_config::SubscriptionSpec;
use ssenotify_router::RuleSpec;

/// The loopback port the demo server prefers (the demo subscription's URL names it).
pub const DEMO_PORT: u16 = 47_411;
/// The demo subscription's id.
pub const DEMO_ID: &str = "demo";
/// The path of the demo stream.
pub const DEMO_PATH: &str = "/demo";

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

/// The demo subscription, with rules that show each kind of event well.
pub fn demo_subscription(port: u16) -> SubscriptionSpec {
    let mut spec = SubscriptionSpec::new(DEMO_ID, format!("http://127.0.0.1:{port}{DEMO_PATH}"));
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
    spec
}

/// Serve the demo stream on `addr` until `cancel`; returns the bound address.
///
/// `interval` is the time between events (one second in the app; shorter in tests).
pub async fn serve(
    addr: SocketAddr,
    interval: Duration,
    cancel: CancellationToken,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let stream = tokio::select! {
                _ = cancel.cancelled() => return,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(_) => continue,
                },
            };
            let cancel = cancel.clone();
            tokio::spawn(async move {
                tokio::select! {
                    _ = cancel.cancelled() => {}
                    _ = connection(stream, interval) => {}
                }
            });
        }
    });
    Ok(bound)
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
        let spec = demo_subscription(DEMO_PORT);
        let set = ssenotify_config::SubscriptionSet {
            notifications: Default::default(),
            subscriptions: vec![spec],
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

    #[tokio::test]
    async fn it_resumes_after_the_last_event_id() {
        let cancel = CancellationToken::new();
        let addr = serve(
            "127.0.0.1:0".parse().unwrap(),
            Duration::from_millis(10),
            cancel.clone(),
        )
        .await
        .unwrap();
        let mut stream = TcpStream::connect(addr).await.unwrap();
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
        cancel.cancel();
    }
}
