//! What the faces ask of the engine beside the control socket, for async callers: edits of
//! the subscriptions file, history pages, the rule tester.
//!
//! The edits themselves are `ssenotify_config::edit` (blocking: a file lock, an fsync);
//! [`blocking`] runs them, and any other file or SQLite work, on tokio's blocking threads,
//! so an async caller (the app's IPC commands, the tray's menu) never stalls its runtime.

use serde::Serialize;
use ssenotify_config::{Paths, SubscriptionSet, SubscriptionSpec};
use ssenotify_history::HistoryWriter;
use ssenotify_protocol::{ClientError, Done, Reply, Request};
use ssenotify_router::{Decision, Flags, Millis, Notification, Now, Router, RuleErrors};
use ssenotify_sse::{Event, Output, Parser};

/// Runs `work` on a blocking thread and waits for it; a panic in it resumes here.
pub async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        Err(error) => std::panic::resume_unwind(error.into_panic()),
    }
}

/// Deletes the history and resume points of subscriptions the user removed (`remove`,
/// `import --replace`, the app's Remove), once the file no longer has them: through the
/// running daemon, or directly when none runs.
pub async fn forget(paths: &Paths, ids: Vec<String>) -> Result<(), String> {
    if ids.is_empty() {
        return Ok(());
    }
    let request = Request::Forget { ids: ids.clone() };
    match ssenotify_protocol::request(&paths.control_socket(), &request).await {
        Ok(Reply::Done {
            detail: Done::Forgotten { .. },
        }) => Ok(()),
        Ok(Reply::Error { message }) => Err(message),
        Ok(other) => Err(format!("unexpected reply to forget: {other:?}")),
        Err(ClientError::NotRunning { .. }) => {
            let db = paths.history_db();
            let exists = {
                let db = db.clone();
                blocking(move || db.exists()).await
            };
            if !exists {
                return Ok(());
            }
            let history = blocking(move || HistoryWriter::open(db))
                .await
                .map_err(|e| e.to_string())?;
            let forgotten = history.forget(ids).await.map_err(|e| e.to_string());
            history.close().await.map_err(|e| e.to_string())?;
            forgotten.map(drop)
        }
        Err(error) => Err(error.to_string()),
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
    /// The transcript ends inside an event (no blank line after it): the end of a stream
    /// discards it, and so did this test.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unterminated: bool,
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
        spec.preset,
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
    let unterminated = stopped.is_none() && parser.holds_partial_event();
    let local = chrono::Local::now().naive_local();
    // All at one instant: a transcript is a burst, which is what storm control is for.
    let now = Now {
        mono: Millis(0),
        local,
    };
    // As in the daemon, an event whose ID came before is a duplicate: never shown, never
    // counted in a summary or digest.
    let mut seen = std::collections::HashSet::new();
    let events = events
        .into_iter()
        .map(|event| {
            let duplicate = event.id.as_ref().is_some_and(|id| !seen.insert(id.clone()));
            let flags = Flags {
                duplicate,
                ..Flags::default()
            };
            let decision = router.route(&event, flags, now);
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
        unterminated,
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
        assert!(!report.unterminated);
        // A pasted sample that stops before its blank line: the last event is not routed,
        // and the report says why.
        for cut in [&b"data: one\n\ndata: two\n"[..], b"data: one\n\ndata: tw"] {
            let report = route_transcript(&set, spec, cut).unwrap();
            assert_eq!(report.events.len(), 1);
            assert!(report.unterminated, "{:?}", String::from_utf8_lossy(cut));
        }
        let comment = route_transcript(&set, spec, b"data: one\n\n: just a comment").unwrap();
        assert!(!comment.unterminated, "a comment is no event");
    }

    #[test]
    fn a_repeated_id_in_a_transcript_is_a_duplicate_and_counts_nowhere() {
        let set = SubscriptionSet::parse(
            "[notifications]\nrate_limit = { max = 1, per = \"1m\" }\n\
             [[subscription]]\nid = \"ci\"\nurl = \"https://ci.example/sse\"\n",
            Format::Toml,
            Path::new("t.toml"),
            LiteralSecrets::Reject,
        )
        .unwrap();
        let spec = set.get("ci").unwrap();
        let body = b"id: 1\ndata: first\n\nid: 1\ndata: again\n\nid: 2\ndata: second\n\n";
        let report = route_transcript(&set, spec, body).unwrap();
        let actions: Vec<String> = report
            .events
            .iter()
            .map(|r| match &r.decision.action {
                ssenotify_router::Action::Notify(_) => "notify".to_owned(),
                ssenotify_router::Action::Suppressed { why, .. } => format!("{why:?}"),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(actions, ["notify", "Duplicate", "RateLimited"]);
        // The summary stands for the one rate-limited event, not the duplicate.
        assert_eq!(report.summaries.len(), 1);
        assert!(
            report.summaries[0].title.contains('1') && !report.summaries[0].body.contains("again"),
            "{:?}",
            report.summaries[0]
        );
    }
}
