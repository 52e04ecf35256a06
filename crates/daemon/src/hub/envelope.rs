//! What a hub client receives for one history row: an SSE frame whose `id` is the row id
//! (increasing across all subscriptions, so one `Last-Event-ID` resumes them all), whose
//! `event` is the event's type, and whose data is a one-line JSON envelope.

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat};
use ssenotify_history::{Action, RowKind, StoredEvent};
use ssenotify_protocol::LiveEvent;

/// One row as the hub tells it, from the live broadcast or from history.
pub(crate) struct Row<'a> {
    /// The history row id; `None` when history could not record it (sent without `id:`).
    pub row: Option<i64>,
    /// What kind of row: `None` for a server's event; the daemon's own rows (a gap, a
    /// silence) name their kind and become `event: ssenotify.<kind>`.
    pub kind: Option<&'a str>,
    pub subscription: &'a str,
    pub event_type: &'a str,
    pub data: &'a str,
    pub last_event_id: &'a str,
    pub received_at: i64,
    pub action: Action,
}

impl<'a> From<&'a LiveEvent> for Row<'a> {
    fn from(e: &'a LiveEvent) -> Self {
        Self {
            row: e.row,
            // The live broadcast carries a gap row as its action.
            kind: (e.action == Action::Gap).then_some("gap"),
            subscription: &e.subscription,
            event_type: &e.event_type,
            data: &e.data,
            last_event_id: &e.last_event_id,
            received_at: e.received_at,
            action: e.action,
        }
    }
}

impl<'a> From<&'a StoredEvent> for Row<'a> {
    fn from(e: &'a StoredEvent) -> Self {
        Self {
            row: Some(e.row),
            kind: (e.kind == RowKind::Gap).then_some("gap"),
            subscription: &e.sub_id,
            event_type: &e.event_type,
            data: &e.data,
            last_event_id: &e.last_event_id,
            received_at: e.received_at,
            action: e.action,
        }
    }
}

impl Row<'_> {
    /// Whether a client is told about it: a duplicate was told the first time, and a
    /// dropped event is kept nowhere (what `drop` promises).
    pub fn is_told(&self) -> bool {
        !matches!(self.action, Action::Duplicate | Action::Dropped)
    }

    /// The SSE frame: `id:`, `event:`, and the envelope as one `data:` line.
    pub fn frame(&self) -> Bytes {
        let time = rfc3339(self.received_at);
        let envelope = serde_json::json!({
            "subscription": self.subscription,
            "type": self.event_type,
            "data": self.data,
            "last_event_id": self.last_event_id,
            "time": time,
            "action": self.action.as_str(),
        });
        let mut frame = String::with_capacity(self.data.len() + 200);
        if let Some(row) = self.row {
            frame.push_str(&format!("id: {row}\n"));
        }
        match self.kind {
            Some(kind) => frame.push_str(&format!("event: ssenotify.{kind}\n")),
            None => frame.push_str(&format!("event: {}\n", self.event_type)),
        }
        // serde_json escapes every line break: the envelope is one line.
        frame.push_str(&format!("data: {envelope}\n\n"));
        Bytes::from(frame)
    }
}

/// Unix milliseconds as the envelopes write times: RFC 3339, UTC, to the millisecond.
pub(crate) fn rfc3339(ms: i64) -> Option<String> {
    DateTime::from_timestamp_millis(ms).map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(data: &str) -> Row<'_> {
        Row {
            row: Some(42),
            kind: None,
            subscription: "alerts",
            event_type: "message",
            data,
            last_event_id: "7",
            received_at: 1_700_000_000_123,
            action: Action::Notified,
        }
    }

    #[test]
    fn a_frame_carries_the_row_id_the_type_and_a_one_line_envelope() {
        let frame = row("line 1\nline 2").frame();
        let text = std::str::from_utf8(&frame).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "id: 42");
        assert_eq!(lines[1], "event: message");
        let json: serde_json::Value =
            serde_json::from_str(lines[2].strip_prefix("data: ").unwrap()).unwrap();
        assert_eq!(json["data"], "line 1\nline 2");
        assert_eq!(json["subscription"], "alerts");
        assert_eq!(json["action"], "notified");
        assert_eq!(json["time"], "2023-11-14T22:13:20.123Z");
        assert!(text.ends_with("\n\n") && text.matches('\n').count() == 4);
    }

    #[test]
    fn the_daemons_own_rows_are_named_by_kind() {
        // A gap row as the live broadcast carries it: named by its action.
        let live = LiveEvent {
            subscription: "alerts".into(),
            row: Some(43),
            event_type: "ssenotify.gap".into(),
            data: "{}".into(),
            last_event_id: String::new(),
            action: Action::Gap,
            received_at: 1,
            unread: 0,
            rule: None,
            shown: None,
        };
        let gap = Row::from(&live);
        assert!(
            std::str::from_utf8(&gap.frame())
                .unwrap()
                .contains("event: ssenotify.gap\n")
        );
        let mut dropped = row("x");
        dropped.action = Action::Dropped;
        assert!(!dropped.is_told() && row("x").is_told());
    }
}
