//! `Db`: the read-write connection the writer thread owns, with the bookkeeping of
//! automatic pruning, and every statement that writes.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, params};

use crate::doomed::Doomed;
use crate::fresh::Fresh;
use crate::model::{
    Action, Context, Decided, HistoryError, NewEvent, Recorded, ResumeUpdate, Retention, RowId,
    now_ms,
};
use crate::read::HistoryReader;
use crate::schema;

/// The event history and resume points of every subscription, read-write. Only the
/// writer thread ([`crate::HistoryWriter`]) holds one outside this crate's tests.
pub(crate) struct Db {
    read: HistoryReader,
    book: Book,
    /// The file opened (device, inode): a file deleted or replaced behind the daemon's back
    /// is noticed by comparing it with what the path names now.
    file: Option<(u64, u64)>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("path", &self.read.path).finish()
    }
}

/// In-memory per-subscription bookkeeping: configured retention, and how many rows each
/// subscription holds (counted once, then kept up to date), so that every write can keep
/// `max_events` exactly without counting again.
#[derive(Default)]
pub(crate) struct Book {
    retention: HashMap<Arc<str>, Retention>,
    rows: HashMap<Arc<str>, u64>,
    /// The rows not yet merged into the per-subscription indexes.
    pub(crate) fresh: Fresh,
    /// The rows retention picked, to delete together.
    pub(crate) doomed: Doomed,
}

impl Book {
    fn retention(&self, sub: &str) -> Option<Retention> {
        self.retention.get(sub).copied()
    }

    /// How many rows `sub` holds; counted in the database the first time.
    fn rows(&mut self, conn: &Connection, sub: &Arc<str>) -> rusqlite::Result<&mut u64> {
        if !self.rows.contains_key(sub) {
            let count: i64 = conn
                .prepare_cached(schema::ROWS_OF_SUB)?
                .query_row([&**sub], |r| r.get(0))?;
            self.rows.insert(sub.clone(), count as u64);
        }
        Ok(self.rows.get_mut(sub).expect("inserted above"))
    }

    /// How long until a merge or a deletion is due (zero: now); `None` with neither to do.
    pub(crate) fn due_in(&mut self) -> Option<std::time::Duration> {
        match (self.fresh.due_in(), self.doomed.due_in()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Forgets what a rolled-back commit may have left ahead of the file: the picked rows
    /// (the next trims pick them again) and the counts (counted again when next needed).
    pub(crate) fn rolled_back(&mut self) {
        self.doomed = Doomed::default();
        self.rows.clear();
    }

    /// Records that `removed` rows of `sub` went, when its count is known.
    fn removed(&mut self, sub: &str, removed: u64) {
        if let Some(rows) = self.rows.get_mut(sub) {
            *rows = rows.saturating_sub(removed);
        }
    }
}

impl Db {
    /// Open (creating it, its directory and its schema if needed) the database at `path`.
    pub(crate) fn open(path: impl AsRef<Path>) -> Result<Self, HistoryError> {
        let path = path.as_ref().to_owned();
        let conn = schema::open_read_write(&path)?;
        let file = identity(&path);
        let fresh = Fresh::load(&conn).ctx(&path, "reading the rows not yet merged")?;
        Ok(Self {
            read: HistoryReader { conn, path },
            book: Book {
                fresh,
                ..Book::default()
            },
            file,
        })
    }

    /// When the file was deleted or replaced since it was opened (a user cleaning up, a
    /// restore from backup), recreates it with the resume points of the old one (still
    /// readable through the open connection) and the retention in force; returns whether it
    /// did. Without this, writes would go on into a deleted file, unseen, and a restart would
    /// lose every resume point.
    pub(crate) fn reopen_if_replaced(&mut self) -> Result<bool, HistoryError> {
        if self.file.is_none() || identity(&self.read.path) == self.file {
            return Ok(false);
        }
        let points = crate::read::resume_all(&self.read.conn)
            .ctx(&self.read.path, "reading resume points before reopening")?;
        let mut fresh = Db::open(&self.read.path)?;
        let retention = std::mem::take(&mut self.book.retention);
        fresh.book.retention = retention;
        {
            let (conn, _) = fresh.parts();
            for point in &points {
                save_resume(
                    conn,
                    &ResumeUpdate {
                        sub_id: point.sub_id.as_str().into(),
                        last_event_id: point.last_event_id.as_str().into(),
                        cursor: point.cursor.as_deref().map(Arc::from),
                    },
                )
                .ctx(&self.read.path, "restoring resume points")?;
            }
        }
        tracing::warn!(
            path = %self.read.path.display(),
            resume_points = points.len(),
            "the history file was deleted or replaced: recreated it with the resume points"
        );
        let old = std::mem::replace(self, fresh);
        let _ = old.close();
        Ok(true)
    }

    /// The database file.
    pub(crate) fn path(&self) -> &Path {
        &self.read.path
    }

    /// How long until a merge or a deletion is due; `None` with neither to do.
    pub(crate) fn fresh_due_in(&mut self) -> Option<std::time::Duration> {
        self.book.due_in()
    }

    /// The connection and the bookkeeping, for the writer thread's batches.
    pub(crate) fn parts(&mut self) -> (&mut Connection, &mut Book) {
        (&mut self.read.conn, &mut self.book)
    }

    /// Close the database, reporting what dropping it would hide (e.g. a failed checkpoint).
    pub(crate) fn close(self) -> Result<(), HistoryError> {
        let path = self.read.path;
        self.read
            .conn
            .close()
            .map_err(|(_, e)| e)
            .ctx(&path, "closing")
    }
}

/// The (device, inode) of the file at `path`, if there is one.
fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.dev(), meta.ino()))
}

pub(crate) fn insert_events(
    conn: &Connection,
    book: &mut Book,
    batch: &[NewEvent],
) -> rusqlite::Result<Vec<Recorded>> {
    // Fresh: outside the per-subscription indexes until the next merge (see `fresh.rs`).
    let mut insert = conn.prepare_cached(
        "INSERT INTO events \
             (sub_id, event_type, data, event_id, last_event_id, received_at, action) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    let mut fresh = conn.prepare_cached("INSERT INTO fresh_rows (id) VALUES (?1)")?;
    let mut recorded = Vec::with_capacity(batch.len());
    for event in batch {
        let key = event.dedup_key();
        if let Some(key) = key
            && let Some((row, action)) = earlier_copy(conn, book, &event.sub_id, key)?
        {
            // An unreadable action on the earlier copy is treated as already routed: a
            // missed notification is better than a repeated one.
            let action = action.parse().unwrap_or(Action::Error);
            recorded.push(Recorded::Duplicate { row, action });
            continue;
        }
        insert.execute(params![
            &*event.sub_id,
            &*event.event_type,
            event.data,
            key,
            &*event.last_event_id,
            event.received_at,
            event.action.as_str(),
        ])?;
        let row = conn.last_insert_rowid();
        fresh.execute([row])?;
        recorded.push(Recorded::New { row });
        book.fresh.added(&event.sub_id, key, row);
        // Counted before these rows when first seen: the count query then includes them.
        if let Some(rows) = book.rows.get_mut(&event.sub_id) {
            *rows += 1;
        }
    }
    Ok(recorded)
}

/// The row and action of `sub`'s event with dedup key `key`, fresh or indexed.
fn earlier_copy(
    conn: &Connection,
    book: &Book,
    sub: &str,
    key: &str,
) -> rusqlite::Result<Option<(RowId, String)>> {
    if let Some(row) = book.fresh.find(sub, key) {
        // Gone only if something deleted it behind the bookkeeping's back (ageing out
        // merges first): then the indexes answer.
        let action = conn
            .prepare_cached("SELECT action FROM events WHERE id = ?1")?
            .query_row([row], |r| r.get(0))
            .optional()?;
        if let Some(action) = action {
            return Ok(Some((row, action)));
        }
    }
    conn.prepare_cached(
        "SELECT s.id, e.action FROM sub_rows s CROSS JOIN events e ON e.id = s.id \
         WHERE s.sub_id = ?1 AND s.event_id = ?2",
    )?
    .query_row(params![sub, key], |r| Ok((r.get(0)?, r.get(1)?)))
    .optional()
}

/// Moves fresh rows into the per-subscription indexes, then trims each subscription
/// merged to its `max_events` (see `fresh.rs`): every fresh row with `all`, else those of
/// the subscriptions due, a slice at a time. When picked rows are due instead, deletes
/// them (see `doomed.rs`): a commit carries one or the other.
pub(crate) fn merge(conn: &Connection, book: &mut Book, all: bool) -> rusqlite::Result<()> {
    if !all && book.doomed.due_in() == Some(std::time::Duration::ZERO) {
        return delete_doomed(conn, book, false).map(drop);
    }
    if !book.fresh.is_empty() {
        // A failure rolls the merge back, and the writer reads the bookkeeping again.
        let taken = book.fresh.take_due(all);
        let mut index = conn.prepare_cached(
            "INSERT INTO sub_rows (sub_id, id, event_id) \
             SELECT sub_id, id, event_id FROM events WHERE id = ?1",
        )?;
        let mut unfresh = conn.prepare_cached("DELETE FROM fresh_rows WHERE id = ?1")?;
        for (_, rows) in &taken {
            for row in rows {
                index.execute([row])?;
                unfresh.execute([row])?;
            }
        }
        for (sub, _) in &taken {
            trim(conn, book, sub)?;
        }
    }
    unless_fresh_none_picked(conn, book)
}

/// Deletes every picked row once no row is fresh: readers cannot see which rows are
/// picked, so when they see none unmerged, retention must have done its work.
fn unless_fresh_none_picked(conn: &Connection, book: &mut Book) -> rusqlite::Result<()> {
    if book.fresh.is_empty() && !book.doomed.is_empty() {
        delete_doomed(conn, book, true)?;
    }
    Ok(())
}

/// Picks `sub`'s oldest rows beyond its `max_events`, to delete with the others (see
/// `doomed.rs`).
///
/// Runs at every merge of the rows it grew by (and when its retention changes), so a
/// subscription holds at most its limit once fresh rows are merged and picked rows
/// deleted; picking exactly the excess costs an index walk of the rows picked, not of the
/// rows kept. Only merged rows go (the oldest are; the view would also scan every other
/// subscription's fresh rows).
fn trim(conn: &Connection, book: &mut Book, sub: &Arc<str>) -> rusqlite::Result<()> {
    let Some(retention) = book.retention(sub) else {
        return Ok(());
    };
    let rows = *book.rows(conn, sub)?;
    let (picked, upto) = book.doomed.of(sub);
    let excess = rows.saturating_sub(picked + retention.max_events as u64);
    if excess == 0 {
        return Ok(());
    }
    let rows = conn
        .prepare_cached(
            "SELECT id FROM sub_rows WHERE sub_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
        )?
        .query_map(params![&**sub, upto, excess as i64], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<RowId>>>()?;
    book.doomed.pick(sub, &rows);
    Ok(())
}

/// Deletes picked rows in id order, the oldest slice (every one with `all`), and books
/// them as gone to retention; returns how many went.
fn delete_doomed(conn: &Connection, book: &mut Book, all: bool) -> rusqlite::Result<u64> {
    let mut delete = conn.prepare_cached("DELETE FROM events WHERE id = ?1")?;
    let mut removed: HashMap<Arc<str>, u64> = HashMap::new();
    for (row, sub) in book.doomed.take(all) {
        // Gone already if a `drop` rule discarded it meanwhile.
        if delete.execute([row])? == 1 {
            *removed.entry(sub).or_default() += 1;
        }
    }
    let mut total = 0;
    for (sub, rows) in removed {
        retired(conn, book, &sub, rows)?;
        total += rows;
    }
    Ok(total)
}

/// Books `removed` rows of `sub` as gone to retention: out of its count, into its
/// `retired` total.
fn retired(conn: &Connection, book: &mut Book, sub: &str, removed: u64) -> rusqlite::Result<()> {
    if removed == 0 {
        return Ok(());
    }
    book.removed(sub, removed);
    conn.prepare_cached(
        "INSERT INTO retired (sub_id, rows) VALUES (?1, ?2) \
         ON CONFLICT (sub_id) DO UPDATE SET rows = rows + excluded.rows",
    )?
    .execute(params![sub, removed as i64])?;
    Ok(())
}

/// Deletes `sub`'s rows received before `now - max_age`; returns how many went.
fn expire(conn: &Connection, book: &mut Book, sub: &str, now: i64) -> rusqlite::Result<u64> {
    let Some(retention) = book.retention(sub) else {
        return Ok(0);
    };
    let max_age = i64::try_from(retention.max_age.as_millis()).unwrap_or(i64::MAX);
    let removed = conn
        .prepare_cached(
            "DELETE FROM events WHERE id IN \
                 (SELECT id FROM sub_events WHERE sub_id = ?1 AND received_at < ?2)",
        )?
        .execute(params![sub, now.saturating_sub(max_age)])? as u64;
    retired(conn, book, sub, removed)?;
    Ok(removed)
}

/// Sets `sub`'s retention; when it changed, applies it at once (a lowered `max_events` or
/// `max_age` does not wait for the next event). Returns how many rows went.
pub(crate) fn set_retention(
    conn: &Connection,
    book: &mut Book,
    sub: &Arc<str>,
    retention: Retention,
    now: i64,
) -> rusqlite::Result<u64> {
    // Before the new retention: what the merge trims goes by the one the rows came under.
    merge(conn, book, true)?;
    if book.retention.insert(sub.clone(), retention) == Some(retention) {
        return Ok(0);
    }
    let expired = expire(conn, book, sub, now)?;
    trim(conn, book, sub)?;
    Ok(expired + delete_doomed(conn, book, true)?)
}

/// Ages out every subscription's old rows; returns how many went and when the oldest row
/// left will be due (unix ms), so the caller can sleep until then.
pub(crate) fn expire_all(
    conn: &Connection,
    book: &mut Book,
    now: i64,
) -> rusqlite::Result<(u64, Option<i64>)> {
    merge(conn, book, true)?;
    let subs: Vec<(Arc<str>, Retention)> = book
        .retention
        .iter()
        .map(|(sub, retention)| (sub.clone(), *retention))
        .collect();
    let mut removed = 0;
    let mut next: Option<i64> = None;
    for (sub, retention) in subs {
        removed += expire(conn, book, &sub, now)?;
        let oldest: Option<i64> = conn
            .prepare_cached("SELECT min(received_at) FROM sub_events WHERE sub_id = ?1")?
            .query_row([&*sub], |r| r.get(0))?;
        if let Some(oldest) = oldest {
            let max_age = i64::try_from(retention.max_age.as_millis()).unwrap_or(i64::MAX);
            let due = oldest.saturating_add(max_age);
            next = Some(next.map_or(due, |next| next.min(due)));
        }
    }
    Ok((removed, next))
}

/// Deletes the rows of events the router dropped (a `drop` rule keeps nothing); returns
/// how many went.
pub(crate) fn discard(conn: &Connection, book: &mut Book, rows: &[RowId]) -> rusqlite::Result<u64> {
    let mut delete =
        conn.prepare_cached("DELETE FROM events WHERE id = ?1 RETURNING sub_id, event_id")?;
    let mut removed = 0;
    for &row in rows {
        let gone = delete
            .query_row([row], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
            })
            .optional()?;
        if let Some((sub, key)) = gone {
            book.fresh.removed(&sub, key.as_deref(), row);
            book.removed(&sub, 1);
            removed += 1;
        }
    }
    unless_fresh_none_picked(conn, book)?;
    Ok(removed)
}

pub(crate) fn save_resume(conn: &Connection, update: &ResumeUpdate) -> rusqlite::Result<()> {
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

/// Stores the router's decisions: a run of consecutive rows decided alike, with no rule or
/// notification to keep (a flood kept by a `history` rule), in one statement.
pub(crate) fn set_actions(conn: &Connection, actions: &[Decided]) -> rusqlite::Result<()> {
    let plain = |d: &Decided| d.rule.is_none() && d.shown.is_none();
    let mut rest = actions;
    while let Some(first) = rest.first() {
        let run = if plain(first) {
            1 + rest[1..]
                .iter()
                .zip(rest)
                .take_while(|(d, prev)| {
                    plain(d) && d.action == first.action && d.row == prev.row + 1
                })
                .count()
        } else {
            1
        };
        if run == 1 {
            set_action(conn, first)?;
        } else {
            // As `set_action`: a failure the notifier reported stands.
            conn.prepare_cached(
                "UPDATE events SET action = ?3, rule = NULL, shown = NULL \
                 WHERE id BETWEEN ?1 AND ?2 AND action != 'error'",
            )?
            .execute(params![first.row, rest[run - 1].row, first.action.as_str()])?;
        }
        rest = &rest[run..];
    }
    Ok(())
}

pub(crate) fn set_action(conn: &Connection, decided: &Decided) -> rusqlite::Result<bool> {
    let Decided {
        row,
        action,
        rule,
        shown,
    } = decided;
    let shown = shown
        .as_ref()
        .map(|s| serde_json::to_string(s).expect("a Shown serializes"));
    // A failure the notifier reported is final: the router's "notified" for the same row
    // may arrive after it (both travel through the writer, the failure from another task).
    let changed = conn
        .prepare_cached(
            "UPDATE events SET action = ?2, rule = ?3, shown = ?4 WHERE id = ?1 AND action != 'error'",
        )?
        .execute(params![row, action.as_str(), rule, shown])?;
    if changed == 0 && (rule.is_some() || shown.is_some()) {
        // What was meant to be shown still tells the inspector why it failed.
        conn.prepare_cached("UPDATE events SET rule = ?2, shown = ?3 WHERE id = ?1")?
            .execute(params![row, rule, shown])?;
    }
    Ok(changed == 1)
}

pub(crate) fn notify_failed(conn: &Connection, row: RowId) -> rusqlite::Result<bool> {
    let changed = conn
        .prepare_cached(
            "UPDATE events SET action = 'error' WHERE id = ?1 AND action IN ('pending', 'notified')",
        )?
        .execute(params![row])?;
    Ok(changed == 1)
}

pub(crate) fn button_result(conn: &Connection, row: RowId, result: &str) -> rusqlite::Result<bool> {
    let changed = conn
        .prepare_cached("UPDATE events SET button = ?2 WHERE id = ?1")?
        .execute(params![row, result])?;
    Ok(changed == 1)
}

pub(crate) fn forget(conn: &Connection, book: &mut Book, sub: &str) -> rusqlite::Result<u64> {
    merge(conn, book, true)?;
    let removed = conn
        .prepare_cached(
            "DELETE FROM events WHERE id IN (SELECT id FROM sub_events WHERE sub_id = ?1)",
        )?
        .execute([sub])?;
    conn.prepare_cached("DELETE FROM resume WHERE sub_id = ?1")?
        .execute([sub])?;
    // A removed subscription may have held most of the file; give the pages back.
    conn.execute_batch("PRAGMA incremental_vacuum")?;
    conn.prepare_cached("DELETE FROM orphans WHERE sub_id = ?1")?
        .execute([sub])?;
    conn.prepare_cached("DELETE FROM retired WHERE sub_id = ?1")?
        .execute([sub])?;
    conn.prepare_cached("DELETE FROM read_marks WHERE sub_id = ?1")?
        .execute([sub])?;
    book.retention.remove(sub);
    book.rows.remove(sub);
    Ok(removed as u64)
}

/// What [`reconcile`] found: subscriptions newly missing from the file, and the ones
/// forgotten because they were missing for longer than the grace period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Missing from the file since this call; their history is kept for the grace period.
    pub orphaned: Vec<String>,
    /// Back in the file after having been missing: their history and resume point stand.
    pub returned: Vec<String>,
    /// Missing for longer than the grace period: their history and resume point are gone.
    pub forgotten: Vec<String>,
}

/// Compares what history holds with the subscriptions in the file (`keep`): one missing
/// from the file is an orphan from now on (its history is kept), one back in the file is
/// no orphan any more, and an orphan older than `grace` is forgotten.
///
/// History is never deleted because a subscription is missing once: an editor that
/// truncates before it writes, a sync tool, or a half-finished paste can empty the file
/// for a moment. Only an explicit removal ([`forget`]) or the grace period deletes it.
pub(crate) fn reconcile(
    conn: &Connection,
    book: &mut Book,
    keep: &[String],
    grace_ms: i64,
    now: i64,
) -> rusqlite::Result<Reconciled> {
    let mut report = Reconciled::default();
    let mut unmark = conn.prepare_cached("DELETE FROM orphans WHERE sub_id = ?1")?;
    for id in keep {
        if unmark.execute([id])? > 0 {
            report.returned.push(id.clone());
        }
    }
    let mut mark = conn.prepare_cached(
        "INSERT INTO orphans (sub_id, since) VALUES (?1, ?2) ON CONFLICT (sub_id) DO NOTHING",
    )?;
    for sub in known_subscriptions(conn)? {
        if !keep.contains(&sub) && mark.execute(params![sub, now])? > 0 {
            report.orphaned.push(sub);
        }
    }
    report.forgotten = forget_orphans(conn, book, now.saturating_sub(grace_ms))?;
    Ok(report)
}

/// Forgets every orphan missing since before `cutoff` (unix ms); returns their ids.
pub(crate) fn forget_orphans(
    conn: &Connection,
    book: &mut Book,
    cutoff: i64,
) -> rusqlite::Result<Vec<String>> {
    let expired: Vec<String> = conn
        .prepare_cached("SELECT sub_id FROM orphans WHERE since < ?1 ORDER BY sub_id")?
        .query_map([cutoff], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for sub in &expired {
        forget(conn, book, sub)?;
    }
    Ok(expired)
}

fn known_subscriptions(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    // Through the (sub_id, ...) index and the fresh rows; UNION also picks up resume-only
    // subscriptions.
    let mut stmt = conn.prepare_cached(
        "SELECT sub_id FROM sub_rows \
         UNION SELECT e.sub_id FROM fresh_rows f CROSS JOIN events e ON e.id = f.id \
         UNION SELECT sub_id FROM resume ORDER BY 1",
    )?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    rows.collect()
}

/// The writer thread's operations, synchronously, for this crate's tests (the writer
/// itself runs them through `writer.rs`'s batches).
#[cfg(test)]
mod sync {
    use std::sync::Arc;
    use std::time::SystemTime;

    use rusqlite::{Transaction, TransactionBehavior};

    use super::*;
    use crate::model::unix_ms;

    impl Db {
        /// Reads through this connection: it sees its own writes at once.
        pub(crate) fn read(&self) -> &HistoryReader {
            &self.read
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
                    .read
                    .conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)?;
                let value = f(&tx, &mut self.book)?;
                tx.commit()?;
                Ok(value)
            })();
            result.ctx(&self.read.path, op)
        }

        /// Merge the fresh rows now, as the writer does when they are due.
        pub(crate) fn merge(&mut self) -> Result<(), HistoryError> {
            self.write("merging", |tx, book| merge(tx, book, true))
        }

        /// Merge what is due (or delete the picked rows due), as the writer's next merge
        /// commit does.
        pub(crate) fn merge_due(&mut self) -> Result<(), HistoryError> {
            self.write("merging", |tx, book| merge(tx, book, false))
        }

        /// Set `sub`'s retention (applied at once when it changed); returns the rows removed.
        pub(crate) fn set_retention(
            &mut self,
            sub: &str,
            retention: Retention,
            now: SystemTime,
        ) -> Result<u64, HistoryError> {
            self.write("setting retention", |tx, book| {
                set_retention(tx, book, &sub.into(), retention, unix_ms(now))
            })
        }

        /// Record a batch in one transaction; per event, whether it was new or a duplicate.
        pub(crate) fn record(&mut self, batch: &[NewEvent]) -> Result<Vec<Recorded>, HistoryError> {
            self.record_with_resume(batch, &[])
        }

        /// Record a batch and save resume points in the same transaction.
        ///
        /// After a crash the stored resume point is exactly as far as the stored events: a
        /// restart neither skips events (ID ahead of rows) nor replays ones already routed
        /// without the dedup rows to catch them.
        pub(crate) fn record_with_resume(
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
        pub(crate) fn set_action(
            &mut self,
            row: RowId,
            action: Action,
        ) -> Result<bool, HistoryError> {
            set_action(&self.read.conn, &(row, action).into())
                .ctx(&self.read.path, "storing an action")
        }

        /// The notification of event `row` was not shown after all: its action becomes
        /// `error` (from `pending` or `notified`; any other decision stands). Returns whether
        /// the row changed.
        pub(crate) fn notify_failed(&mut self, row: RowId) -> Result<bool, HistoryError> {
            notify_failed(&self.read.conn, row)
                .ctx(&self.read.path, "marking a failed notification")
        }

        /// Store the router's decisions in one transaction, as the writer does.
        pub(crate) fn set_decisions(&mut self, actions: &[Decided]) -> Result<(), HistoryError> {
            self.write("storing actions", |tx, _| set_actions(tx, actions))
        }

        /// Store several decisions in one transaction.
        pub(crate) fn set_actions(
            &mut self,
            actions: &[(RowId, Action)],
        ) -> Result<(), HistoryError> {
            let actions: Vec<Decided> = actions.iter().map(|&d| d.into()).collect();
            self.write("storing actions", |tx, _| set_actions(tx, &actions))
        }

        /// Delete the rows of dropped events.
        pub(crate) fn discard(&mut self, rows: &[RowId]) -> Result<u64, HistoryError> {
            self.write("discarding dropped events", |tx, book| {
                discard(tx, book, rows)
            })
        }

        /// Save `sub`'s resume point on its own (when no event goes with it).
        pub(crate) fn save_resume(
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
            save_resume(&self.read.conn, &update).ctx(&self.read.path, "saving a resume point")
        }

        /// Age out every subscription's old rows as of `now`; the rows removed, and when the
        /// next is due.
        pub(crate) fn expire_all(
            &mut self,
            now: SystemTime,
        ) -> Result<(u64, Option<i64>), HistoryError> {
            self.write("pruning", |tx, book| expire_all(tx, book, unix_ms(now)))
        }

        /// Remove every row and the resume point of a removed subscription.
        pub(crate) fn forget(&mut self, sub: &str) -> Result<u64, HistoryError> {
            self.write("forgetting a subscription", |tx, book| {
                forget(tx, book, sub)
            })
        }

        /// Compare history with the subscriptions in the file, as of `now`.
        pub(crate) fn reconcile(
            &mut self,
            keep: &[&str],
            grace: std::time::Duration,
            now: SystemTime,
        ) -> Result<Reconciled, HistoryError> {
            let keep: Vec<String> = keep.iter().map(|s| s.to_string()).collect();
            let grace = grace.as_millis() as i64;
            self.write("reconciling with the file", |tx, book| {
                reconcile(tx, book, &keep, grace, unix_ms(now))
            })
        }
    }
}
