//! Gap rows: an outage the daemon could not prove complete, kept in history beside the
//! events ([`Action::Gap`]), so that a list shows where something may be missing.
//!
//! A gap row is an ordinary row (no schema change): type [`GAP_TYPE`], no event ID (so
//! deduplication never touches it), action `gap`, and its [`Outage`] as JSON in `data`.
//! Retention counts it like an event.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::model::{Action, GapClass, NewEvent, RowKind, StoredEvent};

/// The event type of a gap row (also its name for anyone forwarding rows as events).
pub const GAP_TYPE: &str = "ssenotify.gap";

/// An outage kept as a gap row: when the subscription stopped receiving, when the first
/// event after it arrived, why it stopped, and what the first events proved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outage {
    /// The last sign of life before it (unix ms): the drop, pause, or (after the daemon
    /// was not running) the last event stored.
    pub start: i64,
    /// The first event after the reconnect (unix ms).
    pub end: i64,
    /// Why receiving stopped (the connection's reason, "paused", "the daemon was not running").
    pub cause: String,
    /// What the first events after it proved.
    pub class: GapClass,
    /// Why it is a gap or unknown, in words ("reconnected without a resume point").
    pub why: String,
}

impl Outage {
    /// The row that keeps this outage for subscription `sub_id`, whose resume point was
    /// `last_event_id`.
    pub fn row(&self, sub_id: Arc<str>, last_event_id: &str) -> NewEvent {
        NewEvent {
            sub_id,
            event_type: GAP_TYPE.into(),
            data: serde_json::to_string(self).expect("an outage serializes"),
            event_id: None,
            last_event_id: last_event_id.into(),
            received_at: self.end,
            action: Action::Gap,
        }
    }

    /// The outage a gap row's `data` holds.
    pub fn from_data(data: &str) -> Option<Self> {
        serde_json::from_str(data).ok()
    }

    /// "possible gap 14:02–14:09 (reconnected without a resume point)", in local time.
    pub fn summary(&self) -> String {
        format!(
            "possible gap {}–{} ({})",
            local_hm(self.start),
            local_hm(self.end),
            self.why
        )
    }

    /// The summary with what began the outage: "possible gap 14:02–14:09 (…); outage
    /// began with: server closed the stream".
    pub fn line(&self) -> String {
        format!("{}; outage began with: {}", self.summary(), self.cause)
    }
}

fn local_hm(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.with_timezone(&chrono::Local).format("%H:%M").to_string())
        .unwrap_or_else(|| "?".into())
}

impl StoredEvent {
    /// Fills in what the row is (its kind, and a gap row's outage) from its action and data.
    pub(crate) fn classified(mut self) -> Self {
        if self.action == Action::Gap {
            self.kind = RowKind::Gap;
            if let Some(outage) = Outage::from_data(&self.data) {
                self.start = Some(outage.start);
                self.end = Some(outage.end);
                self.cause = Some(outage.cause);
                self.class = Some(outage.class);
                self.why = Some(outage.why);
            }
        }
        self
    }

    /// One line for people: a gap row's [`Outage::line`], or the event's data.
    pub fn text(&self) -> String {
        match (self.kind, Outage::from_data(&self.data)) {
            (RowKind::Gap, Some(outage)) => outage.line(),
            _ => self.data.clone(),
        }
    }
}
