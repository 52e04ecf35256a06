//! Event history and resume points, in SQLite.
//!
//! One database file per user, shared by the daemon (the only writer) and `ssenotify
//! history` (a reader). WAL mode lets the reader see committed rows while the daemon
//! writes, and a busy timeout covers the short moments SQLite still locks (checkpoints,
//! schema set-up, a second writer such as `forget` from the CLI).
//!
//! # Schema (version 1, `PRAGMA user_version`)
//!
//! ```sql
//! CREATE TABLE events (
//!     id            INTEGER PRIMARY KEY AUTOINCREMENT,  -- the row id (RowId)
//!     sub_id        TEXT    NOT NULL,
//!     event_type    TEXT    NOT NULL,
//!     data          TEXT    NOT NULL,
//!     event_id      TEXT,             -- the event's own `id:`; NULL when it had none
//!     last_event_id TEXT    NOT NULL, -- the last event ID in force at dispatch
//!     received_at   INTEGER NOT NULL, -- unix milliseconds
//!     action        TEXT    NOT NULL  -- Action::as_str
//! ) STRICT;
//! CREATE INDEX events_by_sub ON events (sub_id, id);
//! CREATE INDEX events_by_age ON events (sub_id, received_at);
//! CREATE UNIQUE INDEX events_dedup ON events (sub_id, event_id) WHERE event_id IS NOT NULL;
//! CREATE TABLE resume (
//!     sub_id        TEXT PRIMARY KEY,
//!     last_event_id TEXT    NOT NULL,
//!     cursor        TEXT,
//!     updated_at    INTEGER NOT NULL  -- unix milliseconds
//! ) STRICT, WITHOUT ROWID;
//! ```
//!
//! # Pipeline
//!
//! Recording and routing are two steps: [`History::record`] (or [`HistoryWriter::record`])
//! stores a batch with [`Action::Pending`] and says, per event, whether it is new or a
//! duplicate; the router then decides for the new ones, and [`History::set_actions`]
//! stores the decisions. A single call taking a routing closure was rejected: the router
//! is async, stateful code (rate windows, quiet hours, the notifier), and running it on
//! the writer thread inside an open write transaction would either need that state behind
//! locks or stall every other subscription's writes while one event is routed. The cost
//! of two steps is a short window where a row says `pending`; after a crash in that
//! window, the server's replay comes back as a [`Recorded::Duplicate`] whose action is
//! still `pending`, so the router can still route it and nothing is lost or shown twice.
//!
//! # Limits
//!
//! Each subscription keeps at most [`Retention::max_events`] rows (plus fewer than
//! [`PRUNE_EVERY`] between automatic prunes) no older than [`Retention::max_age`]; a
//! removed subscription's rows go with [`History::forget`]. Deduplication only knows the
//! rows still kept: an ID pruned away is new again if a server replays it.

mod writer;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::{
    Connection, ErrorCode, OpenFlags, OptionalExtension, Transaction, TransactionBehavior, params,
};
use serde::{Deserialize, Serialize};

use crate::subscription::Event;

pub use writer::{HistoryWriter, WRITER_BATCH, WRITER_QUEUE};

/// The schema version this build writes and reads (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Default [`Retention::max_events`]: the last 1,000 events of each subscription.
pub const DEFAULT_MAX_EVENTS: usize = 1000;

/// Default [`Retention::max_age`]: 30 days.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// The most events a subscription may keep, whatever its configuration asks for.
pub const MAX_EVENTS_LIMIT: usize = 100_000;

/// A subscription is pruned automatically after this many new rows (and on its first
/// batch after opening), so pruning costs one indexed delete per this many inserts.
pub const PRUNE_EVERY: u32 = 64;

/// The most rows one [`History::page`] returns.
pub const MAX_PAGE: usize = 10_000;

/// How long a statement waits for another connection's lock before failing.
///
/// Generous on purpose: a reader must not fail because the daemon is checkpointing, and
/// a CLI `forget` must wait for the daemon's current batch rather than error.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The WAL file is truncated back to this size after a checkpoint; without a limit a long
/// read (e.g. a slow `history --json | less`) lets it grow and it never shrinks.
const JOURNAL_SIZE_LIMIT: i64 = 8 * 1024 * 1024;

/// Schema migrations; entry `n` takes the database from version `n` to `n + 1`.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    sub_id        TEXT    NOT NULL,
    event_type    TEXT    NOT NULL,
    data          TEXT    NOT NULL,
    event_id      TEXT,
    last_event_id TEXT    NOT NULL,
    received_at   INTEGER NOT NULL,
    action        TEXT    NOT NULL
) STRICT;
CREATE INDEX events_by_sub ON events (sub_id, id);
CREATE INDEX events_by_age ON events (sub_id, received_at);
CREATE UNIQUE INDEX events_dedup ON events (sub_id, event_id) WHERE event_id IS NOT NULL;
CREATE TABLE resume (
    sub_id        TEXT PRIMARY KEY,
    last_event_id TEXT    NOT NULL,
    cursor        TEXT,
    updated_at    INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
"#];

/// A row's id in the events table: increasing, never reused (even after [`History::forget`]).
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
}

impl Action {
    /// Every action, in declaration order.
    pub const ALL: [Action; 10] = [
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

    fn dedup_key(&self) -> Option<&str> {
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

/// How much history a subscription keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// The most events kept (clamped to [`MAX_EVENTS_LIMIT`]).
    pub max_events: usize,
    /// Events older than this are removed.
    pub max_age: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            max_events: DEFAULT_MAX_EVENTS,
            max_age: DEFAULT_MAX_AGE,
        }
    }
}

/// A recorded event as read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    /// What the router did with it.
    pub action: Action,
}

/// How many events a subscription (or the whole history) holds, and the newest's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Stats {
    /// Rows held.
    pub count: u64,
    /// The latest `received_at` (unix ms), when there is any row.
    pub last_received_at: Option<i64>,
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
        /// [`SCHEMA_VERSION`].
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
    /// The [`HistoryWriter`] has stopped (closed, or its thread ended).
    #[error("history {}: the writer has stopped", path.display())]
    Closed {
        /// The database file.
        path: PathBuf,
    },
}

/// The event history and resume points of every subscription.
pub struct History {
    conn: Connection,
    path: PathBuf,
    book: Book,
}

/// In-memory per-subscription bookkeeping: configured retention and inserts since pruning.
#[derive(Default)]
struct Book {
    retention: HashMap<Arc<str>, Retention>,
    since_prune: HashMap<Arc<str>, u32>,
}

impl Book {
    fn retention(&self, sub: &str) -> Retention {
        self.retention.get(sub).copied().unwrap_or_default()
    }
}

impl fmt::Debug for History {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("History").field("path", &self.path).finish()
    }
}

/// Turns a rusqlite result into one that names the file and the operation.
trait Context<T> {
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

impl History {
    /// Open (creating it, its directory and its schema if needed) the database at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, HistoryError> {
        let path = path.as_ref().to_owned();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| HistoryError::Io {
                path: path.clone(),
                op: "creating its directory",
                cause: Arc::new(e),
            })?;
        }
        let op = "opening";
        let mut conn = Connection::open(&path).ctx(&path, op)?;
        conn.busy_timeout(BUSY_TIMEOUT).ctx(&path, op)?;
        // Only an empty file can take auto_vacuum, so only before the first table; it lets
        // `forget` hand freed pages back to the file system.
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .ctx(&path, op)?;
        if version == 0 {
            conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")
                .ctx(&path, op)?;
        }
        let mode = enable_wal(&conn, &path)?;
        if !mode.eq_ignore_ascii_case("wal") {
            // e.g. a file system without shared memory; history still works, only the
            // reader may now wait for the writer.
            tracing::warn!(path = %path.display(), mode, "history is not in WAL mode");
        }
        // In WAL mode NORMAL loses at most the last commits on power loss, never on a
        // crash of the process, and saves an fsync per batch.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .ctx(&path, op)?;
        conn.pragma_update(None, "journal_size_limit", JOURNAL_SIZE_LIMIT)
            .ctx(&path, op)?;
        migrate(&mut conn, &path)?;
        Ok(Self {
            conn,
            path,
            book: Book::default(),
        })
    }

    /// Open an existing database for reading only (the CLI while the daemon runs).
    ///
    /// Never creates or upgrades anything, so it cannot race the daemon's writes; a
    /// missing file is an error (callers can check for it and show an empty history).
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Self, HistoryError> {
        let path = path.as_ref().to_owned();
        let op = "opening read-only";
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags).ctx(&path, op)?;
        conn.busy_timeout(BUSY_TIMEOUT).ctx(&path, op)?;
        let found: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .ctx(&path, op)?;
        if found != SCHEMA_VERSION {
            return Err(HistoryError::Schema {
                path,
                found,
                supported: SCHEMA_VERSION,
            });
        }
        Ok(Self {
            conn,
            path,
            book: Book::default(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Close the database, reporting what dropping it would hide (e.g. a failed checkpoint).
    pub fn close(self) -> Result<(), HistoryError> {
        let path = self.path;
        self.conn.close().map_err(|(_, e)| e).ctx(&path, "closing")
    }

    /// Set the retention used by automatic pruning and [`History::prune_all`] for `sub`.
    pub fn set_retention(&mut self, sub: &str, retention: Retention) {
        self.book.retention.insert(sub.into(), retention);
    }

    /// The retention in force for `sub` (the default unless [`History::set_retention`]).
    pub fn retention(&self, sub: &str) -> Retention {
        self.book.retention(sub)
    }

    /// Record a batch in one transaction; per event, whether it was new or a duplicate.
    pub fn record(&mut self, batch: &[NewEvent]) -> Result<Vec<Recorded>, HistoryError> {
        self.record_with_resume(batch, &[])
    }

    /// Record a batch and save resume points in the same transaction.
    ///
    /// After a crash the stored resume point is exactly as far as the stored events: a
    /// restart neither skips events (ID ahead of rows) nor replays ones already routed
    /// without the dedup rows to catch them.
    pub fn record_with_resume(
        &mut self,
        batch: &[NewEvent],
        resume: &[ResumeUpdate],
    ) -> Result<Vec<Recorded>, HistoryError> {
        self.write("recording events", |tx, book| {
            let recorded = insert_events(tx, book, batch)?;
            for update in resume {
                save_resume(tx, update)?;
            }
            Ok(recorded)
        })
    }

    /// Store the router's decision for a row; `false` if the row is gone (pruned).
    pub fn set_action(&mut self, row: RowId, action: Action) -> Result<bool, HistoryError> {
        set_action(&self.conn, row, action).ctx(&self.path, "storing an action")
    }

    /// The notification of event `row` was not shown after all: its action becomes
    /// `error` (from `pending` or `notified`; any other decision stands). Returns whether
    /// the row changed.
    pub fn notify_failed(&mut self, row: RowId) -> Result<bool, HistoryError> {
        notify_failed(&self.conn, row).ctx(&self.path, "marking a failed notification")
    }

    /// Store several decisions in one transaction.
    pub fn set_actions(&mut self, actions: &[(RowId, Action)]) -> Result<(), HistoryError> {
        self.write("storing actions", |tx, _| {
            for &(row, action) in actions {
                set_action(tx, row, action)?;
            }
            Ok(())
        })
    }

    /// Save `sub`'s resume point on its own (when no event goes with it).
    pub fn save_resume(
        &mut self,
        sub: &str,
        last_event_id: &str,
        cursor: Option<&str>,
    ) -> Result<(), HistoryError> {
        let update = ResumeUpdate {
            sub_id: sub.into(),
            last_event_id: last_event_id.into(),
            cursor: cursor.map(Arc::from),
        };
        save_resume(&self.conn, &update).ctx(&self.path, "saving a resume point")
    }

    /// `sub`'s stored resume point.
    pub fn resume(&self, sub: &str) -> Result<Option<ResumePoint>, HistoryError> {
        let op = "reading a resume point";
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT sub_id, last_event_id, cursor, updated_at FROM resume WHERE sub_id = ?1",
            )
            .ctx(&self.path, op)?;
        stmt.query_row([sub], resume_point)
            .optional()
            .ctx(&self.path, op)
    }

    /// Every stored resume point, by subscription id.
    pub fn resume_all(&self) -> Result<Vec<ResumePoint>, HistoryError> {
        let op = "reading resume points";
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT sub_id, last_event_id, cursor, updated_at FROM resume ORDER BY sub_id",
            )
            .ctx(&self.path, op)?;
        let rows = stmt.query_map([], resume_point).ctx(&self.path, op)?;
        rows.collect::<rusqlite::Result<_>>().ctx(&self.path, op)
    }

    /// Remove `sub`'s rows beyond `retention` as of `now`; returns how many were removed.
    pub fn prune(
        &mut self,
        sub: &str,
        retention: &Retention,
        now: SystemTime,
    ) -> Result<u64, HistoryError> {
        self.write("pruning", |tx, book| {
            let removed = prune(tx, sub, retention, unix_ms(now))?;
            book.since_prune.insert(sub.into(), 0);
            Ok(removed)
        })
    }

    /// Prune every subscription with rows by its retention (idle ones age out too).
    pub fn prune_all(&mut self, now: SystemTime) -> Result<u64, HistoryError> {
        self.write("pruning", |tx, book| prune_all(tx, book, unix_ms(now)))
    }

    /// Remove every row and the resume point of a removed subscription.
    pub fn forget(&mut self, sub: &str) -> Result<u64, HistoryError> {
        self.write("forgetting a subscription", |tx, book| {
            forget(tx, book, sub)
        })
    }

    /// Forget every subscription not in `keep` (ones removed while the daemon was down).
    pub fn forget_except(&mut self, keep: &[&str]) -> Result<u64, HistoryError> {
        self.write("forgetting removed subscriptions", |tx, book| {
            forget_except(tx, book, |sub| keep.contains(&sub))
        })
    }

    /// Up to `limit` events (of `sub`, or of all), newest first, older than `before_row`.
    ///
    /// Page by passing the last row of one page as `before_row` of the next; rows added
    /// meanwhile never shift a page, unlike an offset.
    pub fn page(
        &self,
        sub: Option<&str>,
        before_row: Option<RowId>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, HistoryError> {
        let op = "reading history";
        let before = before_row.unwrap_or(RowId::MAX);
        let limit = limit.min(MAX_PAGE) as i64;
        const COLUMNS: &str =
            "id, sub_id, event_type, data, event_id, last_event_id, received_at, action";
        let mut stmt;
        let rows = match sub {
            Some(sub) => {
                stmt = self
                    .conn
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM events WHERE sub_id = ?1 AND id < ?2 \
                         ORDER BY id DESC LIMIT ?3"
                    ))
                    .ctx(&self.path, op)?;
                stmt.query_map(params![sub, before, limit], raw_event)
            }
            None => {
                stmt = self
                    .conn
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM events WHERE id < ?1 ORDER BY id DESC LIMIT ?2"
                    ))
                    .ctx(&self.path, op)?;
                stmt.query_map(params![before, limit], raw_event)
            }
        }
        .ctx(&self.path, op)?;
        let mut events = Vec::new();
        for row in rows {
            let (event, action) = row.ctx(&self.path, op)?;
            let action = action
                .parse()
                .map_err(|e: UnknownAction| HistoryError::Corrupt {
                    path: self.path.clone(),
                    row: event.row,
                    reason: e.to_string(),
                })?;
            events.push(StoredEvent { action, ..event });
        }
        Ok(events)
    }

    /// How many events `sub` (or the whole history) holds.
    pub fn count(&self, sub: Option<&str>) -> Result<u64, HistoryError> {
        Ok(self.stats(sub)?.count)
    }

    /// The count and newest receive time of `sub` (or of the whole history).
    pub fn stats(&self, sub: Option<&str>) -> Result<Stats, HistoryError> {
        let op = "reading history statistics";
        let stats = |r: &rusqlite::Row<'_>| {
            Ok(Stats {
                count: r.get::<_, i64>(0)? as u64,
                last_received_at: r.get(1)?,
            })
        };
        match sub {
            Some(sub) => self
                .conn
                .prepare_cached("SELECT count(*), max(received_at) FROM events WHERE sub_id = ?1")
                .and_then(|mut s| s.query_row([sub], stats)),
            None => self
                .conn
                .prepare_cached("SELECT count(*), max(received_at) FROM events")
                .and_then(|mut s| s.query_row([], stats)),
        }
        .ctx(&self.path, op)
    }

    /// [`History::stats`] of every subscription with rows, by subscription id.
    pub fn stats_all(&self) -> Result<Vec<(String, Stats)>, HistoryError> {
        let op = "reading history statistics";
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT sub_id, count(*), max(received_at) FROM events \
                 GROUP BY sub_id ORDER BY sub_id",
            )
            .ctx(&self.path, op)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    Stats {
                        count: r.get::<_, i64>(1)? as u64,
                        last_received_at: r.get(2)?,
                    },
                ))
            })
            .ctx(&self.path, op)?;
        rows.collect::<rusqlite::Result<_>>().ctx(&self.path, op)
    }

    /// Run `f` in one write transaction and commit it.
    ///
    /// The write lock is taken up front (IMMEDIATE), so a second writer waits (busy
    /// timeout) at BEGIN instead of failing with SQLITE_BUSY halfway through when a read
    /// lock cannot be upgraded.
    fn write<T>(
        &mut self,
        op: &'static str,
        f: impl FnOnce(&Transaction<'_>, &mut Book) -> rusqlite::Result<T>,
    ) -> Result<T, HistoryError> {
        let result = (|| {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = f(&tx, &mut self.book)?;
            tx.commit()?;
            Ok(value)
        })();
        result.ctx(&self.path, op)
    }
}

/// Switch to WAL (a no-op once the file is in WAL mode); returns the mode in force.
fn enable_wal(conn: &Connection, path: &Path) -> Result<String, HistoryError> {
    // Changing the journal mode needs the file to itself, and SQLite reports BUSY at once
    // instead of calling the busy handler; two processes creating the file at the same
    // time (the daemon and a CLI) hit that, so wait here as the busy timeout would.
    let deadline = Instant::now() + BUSY_TIMEOUT;
    loop {
        match conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0)) {
            Err(e)
                if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy)
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            result => return result.ctx(path, "switching to WAL"),
        }
    }
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), HistoryError> {
    let op = "applying the schema";
    // IMMEDIATE: two processes opening a new file at once must not both create tables.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx(path, op)?;
    let found: i64 = tx
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .ctx(path, op)?;
    if !(0..=SCHEMA_VERSION).contains(&found) {
        return Err(HistoryError::Schema {
            path: path.to_owned(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for (version, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.execute_batch(sql).ctx(path, op)?;
        tx.pragma_update(None, "user_version", version as i64 + 1)
            .ctx(path, op)?;
    }
    tx.commit().ctx(path, op)
}

type RawEvent = (StoredEvent, String);

/// A row with its action still as text, so a bad value can be reported with its row.
fn raw_event(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawEvent> {
    Ok((
        StoredEvent {
            row: r.get(0)?,
            sub_id: r.get(1)?,
            event_type: r.get(2)?,
            data: r.get(3)?,
            event_id: r.get(4)?,
            last_event_id: r.get(5)?,
            received_at: r.get(6)?,
            action: Action::Pending,
        },
        r.get(7)?,
    ))
}

fn resume_point(r: &rusqlite::Row<'_>) -> rusqlite::Result<ResumePoint> {
    Ok(ResumePoint {
        sub_id: r.get(0)?,
        last_event_id: r.get(1)?,
        cursor: r.get(2)?,
        updated_at: r.get(3)?,
    })
}

fn insert_events(
    conn: &Connection,
    book: &mut Book,
    batch: &[NewEvent],
) -> rusqlite::Result<Vec<Recorded>> {
    // ON CONFLICT names the dedup index, where INSERT OR IGNORE would also silently skip
    // rows that break any other constraint.
    let mut insert = conn.prepare_cached(
        "INSERT INTO events \
             (sub_id, event_type, data, event_id, last_event_id, received_at, action) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
         ON CONFLICT (sub_id, event_id) WHERE event_id IS NOT NULL DO NOTHING",
    )?;
    let mut recorded = Vec::with_capacity(batch.len());
    let mut touched: Vec<Arc<str>> = Vec::new();
    for event in batch {
        let key = event.dedup_key();
        let added = insert.execute(params![
            &*event.sub_id,
            &*event.event_type,
            event.data,
            key,
            &*event.last_event_id,
            event.received_at,
            event.action.as_str(),
        ])?;
        if added == 1 {
            recorded.push(Recorded::New {
                row: conn.last_insert_rowid(),
            });
            match book.since_prune.get_mut(&event.sub_id) {
                Some(n) => *n += 1,
                // First rows since opening: prune once now, so a daemon restarted more
                // often than every PRUNE_EVERY events still trims its history.
                None => {
                    book.since_prune.insert(event.sub_id.clone(), PRUNE_EVERY);
                }
            }
            if !touched.contains(&event.sub_id) {
                touched.push(event.sub_id.clone());
            }
        } else {
            let (row, action): (RowId, String) = conn
                .prepare_cached(
                    "SELECT id, action FROM events WHERE sub_id = ?1 AND event_id = ?2",
                )?
                .query_row(params![&*event.sub_id, key], |r| Ok((r.get(0)?, r.get(1)?)))?;
            // An unreadable action on the earlier copy is treated as already routed: a
            // missed notification is better than a repeated one.
            let action = action.parse().unwrap_or(Action::Error);
            recorded.push(Recorded::Duplicate { row, action });
        }
    }
    let now = now_ms();
    for sub in touched {
        if book
            .since_prune
            .get(&sub)
            .is_some_and(|&n| n >= PRUNE_EVERY)
        {
            prune(conn, &sub, &book.retention(&sub), now)?;
            book.since_prune.insert(sub, 0);
        }
    }
    Ok(recorded)
}

fn save_resume(conn: &Connection, update: &ResumeUpdate) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO resume (sub_id, last_event_id, cursor, updated_at) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (sub_id) DO UPDATE SET last_event_id = excluded.last_event_id, \
             cursor = excluded.cursor, updated_at = excluded.updated_at",
    )?
    .execute(params![
        &*update.sub_id,
        &*update.last_event_id,
        update.cursor.as_deref(),
        now_ms()
    ])?;
    Ok(())
}

fn set_action(conn: &Connection, row: RowId, action: Action) -> rusqlite::Result<bool> {
    // A failure the notifier reported is final: the router's "notified" for the same row
    // may arrive after it (both travel through the writer, the failure from another task).
    let changed = conn
        .prepare_cached("UPDATE events SET action = ?2 WHERE id = ?1 AND action != 'error'")?
        .execute(params![row, action.as_str()])?;
    Ok(changed == 1)
}

fn notify_failed(conn: &Connection, row: RowId) -> rusqlite::Result<bool> {
    let changed = conn
        .prepare_cached(
            "UPDATE events SET action = 'error' WHERE id = ?1 AND action IN ('pending', 'notified')",
        )?
        .execute(params![row])?;
    Ok(changed == 1)
}

fn prune(conn: &Connection, sub: &str, retention: &Retention, now: i64) -> rusqlite::Result<u64> {
    let max_age = i64::try_from(retention.max_age.as_millis()).unwrap_or(i64::MAX);
    let cutoff = now.saturating_sub(max_age);
    let by_age = conn
        .prepare_cached("DELETE FROM events WHERE sub_id = ?1 AND received_at < ?2")?
        .execute(params![sub, cutoff])?;
    // The newest row past the limit and everything older; no row there, nothing to do.
    let keep = retention.max_events.min(MAX_EVENTS_LIMIT) as i64;
    let by_count = conn
        .prepare_cached(
            "DELETE FROM events WHERE sub_id = ?1 AND id <= \
                 (SELECT id FROM events WHERE sub_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
        )?
        .execute(params![sub, keep])?;
    Ok((by_age + by_count) as u64)
}

fn prune_all(conn: &Connection, book: &mut Book, now: i64) -> rusqlite::Result<u64> {
    let mut removed = 0;
    for sub in known_subscriptions(conn)? {
        removed += prune(conn, &sub, &book.retention(&sub), now)?;
        book.since_prune.insert(sub.into(), 0);
    }
    Ok(removed)
}

fn forget(conn: &Connection, book: &mut Book, sub: &str) -> rusqlite::Result<u64> {
    let removed = conn
        .prepare_cached("DELETE FROM events WHERE sub_id = ?1")?
        .execute([sub])?;
    conn.prepare_cached("DELETE FROM resume WHERE sub_id = ?1")?
        .execute([sub])?;
    // A removed subscription may have held most of the file; give the pages back.
    conn.execute_batch("PRAGMA incremental_vacuum")?;
    book.retention.remove(sub);
    book.since_prune.remove(sub);
    Ok(removed as u64)
}

fn forget_except(
    conn: &Connection,
    book: &mut Book,
    keep: impl Fn(&str) -> bool,
) -> rusqlite::Result<u64> {
    let mut removed = 0;
    for sub in known_subscriptions(conn)? {
        if !keep(&sub) {
            removed += forget(conn, book, &sub)?;
        }
    }
    Ok(removed)
}

fn known_subscriptions(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    // DISTINCT over the (sub_id, ...) index; UNION also picks up resume-only subscriptions.
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT sub_id FROM events UNION SELECT sub_id FROM resume ORDER BY 1",
    )?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    rows.collect()
}
