//! Read marks: which of a subscription's rows the user has seen, so unread counts survive
//! restarts. A mark is a row id: every row up to it is read. An event counts as unread when
//! it asked for the user's attention ([`Action::wants_attention`]): a row kept by a
//! `history` rule or dropped never does.

use rusqlite::{Connection, OptionalExtension};

use crate::model::{Action, Context, HistoryError, RowId};
use crate::read::HistoryReader;

impl Action {
    /// Whether an event routed this way counts as unread until the user reads it: shown,
    /// summarised by the rate limit, held by quiet hours, or meant to be shown but failed.
    pub fn wants_attention(self) -> bool {
        matches!(
            self,
            Self::Notified | Self::RateLimited | Self::Quiet | Self::Error
        )
    }
}

/// Marks `sub`'s rows up to `row` read; `None`: up to its newest stored row.
pub(crate) fn mark_read(conn: &Connection, sub: &str, row: Option<RowId>) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO read_marks (sub_id, row) \
         VALUES (?1, coalesce(?2, \
             (SELECT id FROM sub_events WHERE sub_id = ?1 ORDER BY id DESC LIMIT 1), 0)) \
         ON CONFLICT (sub_id) DO UPDATE SET row = max(row, excluded.row)",
    )?
    .execute(rusqlite::params![sub, row])?;
    Ok(())
}

impl HistoryReader {
    /// The newest row id in the whole history (0 when it is empty).
    pub fn last_row(&self) -> Result<RowId, HistoryError> {
        self.conn
            .prepare_cached("SELECT coalesce(max(id), 0) FROM events")
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .ctx(&self.path, "reading the newest row")
    }

    /// Per subscription, how many rows up to `upto` are unread (after its read mark, and
    /// wanting attention); subscriptions with none are left out.
    pub fn unread(&self, upto: RowId) -> Result<Vec<(String, u64)>, HistoryError> {
        let op = "counting unread events";
        let wanted: Vec<String> = Action::ALL
            .into_iter()
            .filter(|a| a.wants_attention())
            .map(|a| format!("'{}'", a.as_str()))
            .collect();
        let sql = format!(
            "SELECT e.sub_id, count(*) FROM events e \
             LEFT JOIN read_marks m ON m.sub_id = e.sub_id \
             WHERE e.id > coalesce(m.row, 0) AND e.id <= ?1 AND e.action IN ({}) \
             GROUP BY e.sub_id",
            wanted.join(",")
        );
        let mut stmt = self.conn.prepare(&sql).ctx(&self.path, op)?;
        let rows = stmt
            .query_map([upto], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))
            .ctx(&self.path, op)?;
        rows.collect::<rusqlite::Result<_>>().ctx(&self.path, op)
    }

    /// `sub`'s read mark: every row up to it is read.
    pub fn read_mark(&self, sub: &str) -> Result<Option<RowId>, HistoryError> {
        self.conn
            .prepare_cached("SELECT row FROM read_marks WHERE sub_id = ?1")
            .and_then(|mut s| s.query_row([sub], |r| r.get(0)).optional())
            .ctx(&self.path, "reading a read mark")
    }
}
