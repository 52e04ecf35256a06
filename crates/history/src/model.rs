//! The history's vocabulary: what is recorded ([`NewEvent`]), what recording did
//! ([`Recorded`]), what is read back ([`StoredEvent`], [`ResumePoint`], [`Stats`]), what the
//! router did ([`Action`]), what a row is ([`RowKind`], a gap row's [`GapClass`]), and what can go
//! wrong ([`HistoryError`]).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use ssenotify_sse::Event;

/// A row's id in the events table: increasing, never reused (even after a subscription is forgotten).
pub type RowId = i64;

/// Milliseconds since the Unix epoch (negative before it), the unit of every stored time.
pub fn unix_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// The current time in unix milliseconds.
pub fn now_ms() -> i64 {
    unix_ms(SystemTime::now())
}

/// What the router did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Recorded; the router has not decided yet (or the daemon stopped before it did).
    Pending,
    /// Shown as a desktop notification.
    Notified,
    /// Kept in history only, by a rule.
    History,
    /// Dropped by a rule (still recorded, so the user can see what was dropped).
    Dropped,
    /// Over the subscription's rate limit; counted in a summary notification.
    RateLimited,
    /// Held by quiet hours; counted in the digest.
    Quiet,
    /// The subscription was muted or snoozed.
    Muted,
    /// Already seen. Reported by [`Recorded::Duplicate`]; a duplicate never gets a row.
    Duplicate,
    /// A rule ran a command.
    Command,
    /// Routing failed (e.g. the notification server was unreachable).
    Error,
    /// Not an event: a possible gap the daemon recorded (see `gap`).
    Gap,
}

impl Action {
    /// Every action, in declaration order.
    pub const ALL: [Action; 11] = [
        Self::Pending,
        Self::Notified,
        Self::History,
        Self::Dropped,
        Self::RateLimited,
        Self::Quiet,
        Self::Muted,
        Self::Duplicate,
        Self::Command,
        Self::Error,
        Self::Gap,
    ];

    /// The stored and printed name: `notified`, `rate_limited`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Notified => "notified",
            Self::History => "history",
            Self::Dropped => "dropped",
            Self::RateLimited => "rate_limited",
            Self::Quiet => "quiet",
            Self::Muted => "muted",
            Self::Duplicate => "duplicate",
            Self::Command => "command",
            Self::Error => "error",
            Self::Gap => "gap",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not an [`Action`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown action {0:?}")]
pub struct UnknownAction(pub String);

impl FromStr for Action {
    type Err = UnknownAction;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| UnknownAction(s.to_owned()))
    }
}

/// An event to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// The subscription's stable id.
    pub sub_id: Arc<str>,
    /// The event type.
    pub event_type: Arc<str>,
    /// The event's data.
    pub data: String,
    /// The event's own ID: `Some` only when its block carried an `id:` field.
    ///
    /// The key of deduplication. An empty ID is treated as none: `id:` with no value is
    /// how a server resets the last event ID, not a name for this event.
    pub event_id: Option<Arc<str>>,
    /// The last event ID in force at dispatch.
    pub last_event_id: Arc<str>,
    /// When it was received, in unix milliseconds.
    pub received_at: i64,
    /// The action stored with the row; [`Action::Pending`] until the router decides.
    pub action: Action,
}

impl NewEvent {
    /// A pending record of `event` for subscription `sub_id`, received at `received_at` (ms).
    pub fn new(
        sub_id: impl Into<Arc<str>>,
        event: &Event,
        event_id: Option<&str>,
        received_at: i64,
    ) -> Self {
        Self {
            sub_id: sub_id.into(),
            event_type: event.event_type.as_str().into(),
            data: event.data.clone(),
            event_id: event_id.map(Arc::from),
            last_event_id: event.last_event_id.as_str().into(),
            received_at,
            action: Action::Pending,
        }
    }

    /// The key of deduplication: the event's own ID, when it has a non-empty one.
    pub(crate) fn dedup_key(&self) -> Option<&str> {
        self.event_id.as_deref().filter(|id| !id.is_empty())
    }
}

/// What recording one event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Recorded {
    /// A new row.
    New {
        /// The new row.
        row: RowId,
    },
    /// The subscription already holds an event with this ID; no row was added.
    Duplicate {
        /// The row that holds the earlier copy.
        row: RowId,
        /// That row's action: [`Action::Pending`] means it was never routed.
        action: Action,
    },
}

impl Recorded {
    /// The new row, or the row of the earlier copy.
    pub fn row(self) -> RowId {
        match self {
            Self::New { row } | Self::Duplicate { row, .. } => row,
        }
    }

    /// Whether the event must be routed: it is new, or its earlier copy never was.
    pub fn needs_routing(self) -> bool {
        matches!(
            self,
            Self::New { .. }
                | Self::Duplicate {
                    action: Action::Pending,
                    ..
                }
        )
    }

    /// Whether a new row was added.
    pub fn is_new(self) -> bool {
        matches!(self, Self::New { .. })
    }
}

/// A subscription's resume point to store, replacing the previous one whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumeUpdate {
    /// The subscription's id.
    pub sub_id: Arc<str>,
    /// The last event ID in force (sent as `Last-Event-ID`); empty for none.
    pub last_event_id: Arc<str>,
    /// The resume cursor taken from event data, for servers that send no `id:`.
    pub cursor: Option<Arc<str>>,
}

/// A stored resume point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResumePoint {
    /// The subscription's id.
    #[serde(rename = "subscription")]
    pub sub_id: String,
    /// The last event ID in force; empty for none.
    pub last_event_id: String,
    /// The resume cursor, when the subscription uses one.
    pub cursor: Option<String>,
    /// When it was saved, in unix milliseconds.
    pub updated_at: i64,
}

/// How much history a subscription keeps. Its defaults and limits are the subscriptions
/// file's (`history = { max_events, max_age }`); a subscription with none set is never
/// pruned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// The most events kept.
    pub max_events: usize,
    /// Events older than this are removed.
    pub max_age: Duration,
}

/// What a row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum RowKind {
    /// An event the server sent.
    Event,
    /// A possible gap: an outage after which continuity could not be proven.
    Gap,
}

/// How an outage was classified on the first events after the reconnect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum GapClass {
    /// It is proven that events were skipped (an id or sequence number jumped).
    Gap,
    /// Nothing could be proven either way (no ids, ids that started again, no cursor).
    Unknown,
}

impl GapClass {
    /// The stored and printed name: `gap`, `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gap => "gap",
            Self::Unknown => "unknown",
        }
    }
}

/// A recorded event as read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StoredEvent {
    /// The row id (the paging cursor).
    pub row: RowId,
    /// The subscription's id.
    #[serde(rename = "subscription")]
    pub sub_id: String,
    /// The event type.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The event's data.
    pub data: String,
    /// The event's own ID, when its block had one.
    #[serde(rename = "id")]
    pub event_id: Option<String>,
    /// The last event ID in force at dispatch.
    pub last_event_id: String,
    /// When it was received, in unix milliseconds.
    pub received_at: i64,
    /// What the router did with it (`gap` for a gap row).
    pub action: Action,
    /// `event`, or `gap` for a possible gap (then the fields below say which outage).
    pub kind: RowKind,
    /// A gap row's outage start (unix ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub start: Option<i64>,
    /// A gap row's outage end: the first event after the reconnect (unix ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub end: Option<i64>,
    /// A gap row's cause: why receiving stopped.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub cause: Option<String>,
    /// A gap row's class: `gap` (events were skipped) or `unknown` (nothing provable).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub class: Option<GapClass>,
    /// A gap row's explanation ("reconnected without a resume point").
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub why: Option<String>,
    /// What the last `http` button pressed on its notification got ("Restart: 200 OK",
    /// "Restart: the server answered 503 Service Unavailable"); never a secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub button: Option<String>,
    /// The rule that matched it (0-based, in the subscription's `rules`); absent when none
    /// did (the defaults decided) or for rows routed before this was kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub rule: Option<u32>,
    /// The notification the router made of it: shown, or held (quiet hours, the rate
    /// limit, a mute); absent when it made none.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub shown: Option<Shown>,
}

/// A notification as history keeps it for the inspector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Shown {
    /// Its title (summary).
    pub title: String,
    /// Its body, as sent (escaped markup where the server renders markup).
    pub body: String,
    /// `low`, `normal` or `critical`.
    pub urgency: String,
}

/// The router's decision for a recorded row, as history stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    /// The row.
    pub row: RowId,
    /// What the router did.
    pub action: Action,
    /// The rule that matched (0-based), if one did.
    pub rule: Option<u32>,
    /// The notification it made, if any.
    pub shown: Option<Shown>,
}

impl From<(RowId, Action)> for Decided {
    fn from((row, action): (RowId, Action)) -> Self {
        Self {
            row,
            action,
            rule: None,
            shown: None,
        }
    }
}

/// How many events a subscription (or the whole history) holds, from which row, the
/// newest's time, and how many retention removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "HistoryStats"))]
pub struct Stats {
    /// Rows held.
    pub count: u64,
    /// The latest `received_at` (unix ms), when there is any row.
    pub last_received_at: Option<i64>,
    /// Rows removed by retention (`max_events`, `max_age`) over the file's life; rows of
    /// dropped events and of forgotten subscriptions do not count.
    pub retired: u64,
    /// The oldest row held, when there is any: a list showing rows older than this shows
    /// what history no longer holds.
    pub oldest_row: Option<RowId>,
    /// Rows not yet merged into their subscription's indexes (at most half a second old):
    /// retention may still remove up to this many, so a list that must agree with history
    /// asks again once they are merged.
    pub unmerged: u64,
}

/// A history operation failed; says which database and what was being done.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HistoryError {
    /// SQLite refused.
    #[error("history {}: {op}: {cause}", path.display())]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// SQLite's error (shared so the writer can report one failure to many callers).
        cause: Arc<rusqlite::Error>,
    },
    /// A file-system operation failed (creating the directory, starting the writer thread).
    #[error("history {}: {op}: {cause}", path.display())]
    Io {
        /// The database file.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The I/O error.
        cause: Arc<std::io::Error>,
    },
    /// The file's schema is not the one this build reads.
    #[error(
        "history {}: schema version {found}, this build {}",
        path.display(),
        if *found > *supported {
            format!("supports up to {supported} (written by a newer ssenotify)")
        } else {
            format!("needs {supported} (open it read-write once to upgrade)")
        }
    )]
    Schema {
        /// The database file.
        path: PathBuf,
        /// The file's `user_version`.
        found: i64,
        /// [`SCHEMA_VERSION`](crate::SCHEMA_VERSION).
        supported: i64,
    },
    /// A stored value could not be read back.
    #[error("history {}: row {row}: {reason}", path.display())]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// The row.
        row: RowId,
        /// What is wrong with it.
        reason: String,
    },
    /// The [`HistoryWriter`](crate::HistoryWriter) has stopped (closed, or its thread ended).
    #[error("history {}: the writer has stopped", path.display())]
    Closed {
        /// The database file.
        path: PathBuf,
    },
}

/// Turns a rusqlite result into one that names the file and the operation.
pub(crate) trait Context<T> {
    fn ctx(self, path: &Path, op: &'static str) -> Result<T, HistoryError>;
}

impl<T> Context<T> for rusqlite::Result<T> {
    fn ctx(self, path: &Path, op: &'static str) -> Result<T, HistoryError> {
        self.map_err(|e| HistoryError::Sqlite {
            path: path.to_owned(),
            op,
            cause: Arc::new(e),
        })
    }
}
