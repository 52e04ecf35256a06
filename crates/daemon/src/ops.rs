//! What the faces ask of the engine beside the control socket, for async callers: edits of
//! the subscriptions file, history pages, the rule tester.
//!
//! The edits themselves are `ssenotify_config::edit` (blocking: a file lock, an fsync);
//! [`blocking`] runs them, and any other file or SQLite work, on tokio's blocking threads,
//! so an async caller (the app's IPC commands, the tray's menu) never stalls its runtime.

use serde::Serialize;
use ssenotify_config::{SubscriptionSet, SubscriptionSpec};
use ssenotify_router::{Decision, Flags, Millis, Notification, Now, Router, RuleErrors};
use ssenotify_sse::{Event, Output, Parser};

/// Runs `work` on a blocking thread and waits for it; a panic in it resumes here.
pub async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        Err(error) => std::panic::resume_unwind(error.into_panic()),
    }
}

/// One event of a transcript and what the rules decided for it.
#[derive(Debug, Clone, Serialize)]
pub struct Routed {
    /// The event as the parser dispatched it.
    pub event: Event,
    /// The router's decision.
    pub decision: Decision,
}

/// What a recorded stream would produce under a subscription's rules.
#[derive(Debug, Clone, Serialize)]
pub struct RouteReport {
    /// One entry per dispatched event.
    pub events: Vec<Routed>,
    /// Summaries and digests the storm control would show afterwards.
    pub summaries: Vec<Notification>,
    /// Why the transcript stopped early, if it did (an event over the size limit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

/// Feed a recorded SSE body through `spec`'s rules, as if it arrived live just now
/// (`ssenotify route`, the UI's rule tester). Nothing is shown or stored.
pub fn route_transcript(
    set: &SubscriptionSet,
    spec: &SubscriptionSpec,
    transcript: &[u8],
) -> Result<RouteReport, RuleErrors> {
    let mut router = Router::new(
        spec.display_name(),
        &spec.rules,
        spec.rate_limit.as_ref(),
        &set.notifications,
    )?;
    let mut parser = Parser::new(spec.max_event_size);
    let mut events = Vec::new();
    let stopped = parser
        .feed(transcript, |output| {
            if let Output::Event(event) = output {
                events.push(Event {
                    event_type: event.event_type.into(),
                    data: event.data.to_owned(),
                    last_event_id: event.last_event_id.into(),
                    id: event.has_id.then(|| event.last_event_id.into()),
                    cursor: None,
                });
            }
        })
        .err()
        .map(|e| e.to_string());
    let local = chrono::Local::now().naive_local();
    // All at one instant: a transcript is a burst, which is what storm control is for.
    let now = Now {
        mono: Millis(0),
        local,
    };
    let events = events
        .into_iter()
        .map(|event| {
            let decision = router.route(&event, Flags::default(), now);
            Routed { event, decision }
        })
        .collect();
    let later = Now {
        mono: Millis(u64::MAX / 2),
        local,
    };
    Ok(RouteReport {
        events,
        summaries: router.tick(later),
        stopped,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use ssenotify_config::{Format, LiteralSecrets};

    use super::*;

    #[test]
    fn transcripts_route_through_the_rules() {
        let set = SubscriptionSet::parse(
            "[[subscription]]\nid = \"ci\"\nurl = \"https://ci.example/sse\"\n\
             [[subscription.rules]]\nevent = \"build\"\ntitle = \"{{ json.name }}\"\n",
            Format::Toml,
            Path::new("t.toml"),
            LiteralSecrets::Reject,
        )
        .unwrap();
        let spec = set.get("ci").unwrap();
        let report = route_transcript(
            &set,
            spec,
            b"event: build\ndata: {\"name\":\"<b>\"}\n\ndata: plain\n\n",
        )
        .unwrap();
        assert_eq!(report.events.len(), 2);
        match &report.events[0].decision.action {
            ssenotify_router::Action::Notify(n) => assert_eq!(n.title, "<b>"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            report.events[1].decision.action,
            ssenotify_router::Action::History
        );
    }
}
