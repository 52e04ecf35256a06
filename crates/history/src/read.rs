//! [`HistoryReader`]: reading history (pages of events, counts, resume points) on a
//! read-only connection, beside a daemon that writes.
//!
//! Every query is here once: the writer's own connection answers through the same type
//! (`Db::read`), so what the daemon reads back is what `ssenotify history` and the app see.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

use crate::model::{
    Action, Context, HistoryError, ResumePoint, RowId, RowKind, Stats, StoredEvent, UnknownAction,
};
use crate::schema;

/// The most rows one [`HistoryReader::page`] returns.
pub const MAX_PAGE: usize = 10_000;

/// Reads the event history and resume points; cannot write, by construction.
pub struct HistoryReader {
    pub(crate) conn: Connection,
    pub(crate) path: PathBuf,
}

impl std::fmt::Debug for HistoryReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistoryReader")
            .field("path", &self.path)
            .finish()
    }
}

impl HistoryReader {
    /// Open an existing database for reading only (the CLI and the app while the daemon
    /// runs).
    ///
    /// Never creates or upgrades anything, so it cannot race the daemon's writes; a
    /// missing file is an error (callers can check for it and show an empty history).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, HistoryError> {
        let path = path.as_ref().to_owned();
        let conn = schema::open_read_only(&path)?;
        Ok(Self { conn, path })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
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
        self.rows(
            sub,
            Order::NewestBefore(before_row.unwrap_or(RowId::MAX)),
            limit,
        )
    }

    /// Up to `limit` events (of `sub`, or of all) after `after_row`, oldest first: what a
    /// client that saw `after_row` missed (the event hub's `Last-Event-ID` replay).
    pub fn after(
        &self,
        sub: Option<&str>,
        after_row: RowId,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, HistoryError> {
        self.rows(sub, Order::OldestAfter(after_row), limit)
    }

    /// The rows of `sub` (or of all) on `order`'s side of its row, in its order.
    fn rows(
        &self,
        sub: Option<&str>,
        order: Order,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, HistoryError> {
        let op = "reading history";
        let limit = limit.min(MAX_PAGE) as i64;
        let (bound, row) = match order {
            Order::NewestBefore(row) => ("id < ?2 ORDER BY id DESC", row),
            Order::OldestAfter(row) => ("id > ?2 ORDER BY id ASC", row),
        };
        const COLUMNS: &str = "id, sub_id, event_type, data, event_id, last_event_id, received_at, action, button, rule, shown";
        // One statement per case, so that a subscription's read uses its index.
        let mut stmt;
        let rows = match sub {
            Some(sub) => {
                stmt = self
                    .conn
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM sub_events WHERE sub_id = ?1 AND {bound} LIMIT ?3"
                    ))
                    .ctx(&self.path, op)?;
                stmt.query_map(params![sub, row, limit], raw_event)
            }
            None => {
                let bound = bound.replace("?2", "?1");
                stmt = self
                    .conn
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM events WHERE {bound} LIMIT ?2"
                    ))
                    .ctx(&self.path, op)?;
                stmt.query_map(params![row, limit], raw_event)
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
            events.push(StoredEvent { action, ..event }.classified());
        }
        Ok(events)
    }

    /// How many events `sub` (or the whole history) holds.
    pub fn count(&self, sub: Option<&str>) -> Result<u64, HistoryError> {
        Ok(self.stats(sub)?.count)
    }

    /// The count, newest receive time, rows retired by retention and rows not yet merged
    /// of `sub` (or of the whole history).
    pub fn stats(&self, sub: Option<&str>) -> Result<Stats, HistoryError> {
        let op = "reading history statistics";
        let stats = |r: &rusqlite::Row<'_>| {
            Ok(Stats {
                count: r.get::<_, i64>(0)? as u64,
                last_received_at: r.get(1)?,
                retired: r.get::<_, i64>(2)? as u64,
                oldest_row: r.get(3)?,
                unmerged: r.get::<_, i64>(4)? as u64,
            })
        };
        match sub {
            Some(sub) => self
                .conn
                .prepare_cached(&format!(
                    "SELECT count(*), max(received_at), \
                         (SELECT coalesce(sum(rows), 0) FROM retired WHERE sub_id = ?1), \
                         min(id), ({}) FROM sub_events WHERE sub_id = ?1",
                    schema::UNMERGED_OF_SUB
                ))
                .and_then(|mut s| s.query_row([sub], stats)),
            None => self
                .conn
                .prepare_cached(
                    "SELECT count(*), max(received_at), \
                     (SELECT coalesce(sum(rows), 0) FROM retired), min(id), \
                     (SELECT count(*) FROM fresh_rows) FROM events",
                )
                .and_then(|mut s| s.query_row([], stats)),
        }
        .ctx(&self.path, op)
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
        resume_all(&self.conn).ctx(&self.path, "reading resume points")
    }
}

/// Which side of a row a read takes, and in which order.
enum Order {
    NewestBefore(RowId),
    OldestAfter(RowId),
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
            kind: RowKind::Event,
            start: None,
            end: None,
            cause: None,
            class: None,
            why: None,
            button: r.get(8)?,
            rule: r.get(9)?,
            // Written by this crate from a `Shown`; a value it cannot read is left out.
            shown: r
                .get::<_, Option<String>>(10)?
                .and_then(|text| serde_json::from_str(&text).ok()),
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

/// Every stored resume point, by subscription id (also the writer's, at the daemon's start).
pub(crate) fn resume_all(conn: &Connection) -> rusqlite::Result<Vec<ResumePoint>> {
    let mut stmt = conn.prepare_cached(
        "SELECT sub_id, last_event_id, cursor, updated_at FROM resume ORDER BY sub_id",
    )?;
    let rows = stmt.query_map([], resume_point)?;
    rows.collect()
}
