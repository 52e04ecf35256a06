//! `Db`: the read-write connection the writer thread owns, with the bookkeeping of
//! automatic pruning, and every statement that writes.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use rusqlite::{Connection, params};

use crate::model::{
    Action, Context, HistoryError, NewEvent, Recorded, ResumeUpdate, Retention, RowId, now_ms,
};
use crate::read::HistoryReader;
use crate::schema;

/// A subscription is pruned automatically after this many new rows (and on its first
/// batch after opening), so pruning costs one indexed delete per this many inserts.
pub(crate) const PRUNE_EVERY: u32 = 64;

/// The event history and resume points of every subscription, read-write. Only the
/// writer thread ([`crate::HistoryWriter`]) holds one outside this crate's tests.
pub(crate) struct Db {
    read: HistoryReader,
    book: Book,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("path", &self.read.path).finish()
    }
}

/// In-memory per-subscription bookkeeping: configured retention and inserts since pruning.
#[derive(Default)]
pub(crate) struct Book {
    retention: HashMap<Arc<str>, Retention>,
    since_prune: HashMap<Arc<str>, u32>,
}

impl Book {
    fn retention(&self, sub: &str) -> Option<Retention> {
        self.retention.get(sub).copied()
    }

    /// Sets the retention automatic pruning uses for `sub`.
    pub(crate) fn set_retention(&mut self, sub: Arc<str>, retention: Retention) {
        self.retention.insert(sub, retention);
    }
}

impl Db {
    /// Open (creating it, its directory and its schema if needed) the database at `path`.
    pub(crate) fn open(path: impl AsRef<Path>) -> Result<Self, HistoryError> {
        let path = path.as_ref().to_owned();
        let conn = schema::open_read_write(&path)?;
        Ok(Self {
            read: HistoryReader { conn, path },
            book: Book::default(),
        })
    }

    /// The database file.
    pub(crate) fn path(&self) -> &Path {
        &self.read.path
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

pub(crate) fn insert_events(
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
            && let Some(retention) = book.retention(&sub)
        {
            prune(conn, &sub, &retention, now)?;
            book.since_prune.insert(sub, 0);
        }
    }
    Ok(recorded)
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

pub(crate) fn set_action(conn: &Connection, row: RowId, action: Action) -> rusqlite::Result<bool> {
    // A failure the notifier reported is final: the router's "notified" for the same row
    // may arrive after it (both travel through the writer, the failure from another task).
    let changed = conn
        .prepare_cached("UPDATE events SET action = ?2 WHERE id = ?1 AND action != 'error'")?
        .execute(params![row, action.as_str()])?;
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

pub(crate) fn prune(
    conn: &Connection,
    sub: &str,
    retention: &Retention,
    now: i64,
) -> rusqlite::Result<u64> {
    let max_age = i64::try_from(retention.max_age.as_millis()).unwrap_or(i64::MAX);
    let cutoff = now.saturating_sub(max_age);
    let by_age = conn
        .prepare_cached("DELETE FROM events WHERE sub_id = ?1 AND received_at < ?2")?
        .execute(params![sub, cutoff])?;
    // The newest row past the limit and everything older; no row there, nothing to do.
    let keep = i64::try_from(retention.max_events).unwrap_or(i64::MAX);
    let by_count = conn
        .prepare_cached(
            "DELETE FROM events WHERE sub_id = ?1 AND id <= \
                 (SELECT id FROM events WHERE sub_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
        )?
        .execute(params![sub, keep])?;
    Ok((by_age + by_count) as u64)
}

/// Prune `sub` by its retention, if it has one; returns how many rows were removed.
pub(crate) fn prune_one(
    conn: &Connection,
    book: &mut Book,
    sub: &Arc<str>,
    now: i64,
) -> rusqlite::Result<u64> {
    let removed = match book.retention(sub) {
        Some(retention) => prune(conn, sub, &retention, now)?,
        None => 0,
    };
    book.since_prune.insert(sub.clone(), 0);
    Ok(removed)
}

pub(crate) fn prune_all(conn: &Connection, book: &mut Book, now: i64) -> rusqlite::Result<u64> {
    let mut removed = 0;
    for sub in known_subscriptions(conn)? {
        if let Some(retention) = book.retention(&sub) {
            removed += prune(conn, &sub, &retention, now)?;
        }
        book.since_prune.insert(sub.into(), 0);
    }
    Ok(removed)
}

pub(crate) fn forget(conn: &Connection, book: &mut Book, sub: &str) -> rusqlite::Result<u64> {
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

pub(crate) fn forget_except(
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

        /// Set the retention used by automatic pruning and [`Db::prune_all`] for `sub`.
        pub(crate) fn set_retention(&mut self, sub: &str, retention: Retention) {
            self.book.set_retention(sub.into(), retention);
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
            set_action(&self.read.conn, row, action).ctx(&self.read.path, "storing an action")
        }

        /// The notification of event `row` was not shown after all: its action becomes
        /// `error` (from `pending` or `notified`; any other decision stands). Returns whether
        /// the row changed.
        pub(crate) fn notify_failed(&mut self, row: RowId) -> Result<bool, HistoryError> {
            notify_failed(&self.read.conn, row)
                .ctx(&self.read.path, "marking a failed notification")
        }

        /// Store several decisions in one transaction.
        pub(crate) fn set_actions(
            &mut self,
            actions: &[(RowId, Action)],
        ) -> Result<(), HistoryError> {
            self.write("storing actions", |tx, _| {
                for &(row, action) in actions {
                    set_action(tx, row, action)?;
                }
                Ok(())
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

        /// Remove `sub`'s rows beyond `retention` as of `now`; returns how many were removed.
        pub(crate) fn prune(
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
        pub(crate) fn prune_all(&mut self, now: SystemTime) -> Result<u64, HistoryError> {
            self.write("pruning", |tx, book| prune_all(tx, book, unix_ms(now)))
        }

        /// Remove every row and the resume point of a removed subscription.
        pub(crate) fn forget(&mut self, sub: &str) -> Result<u64, HistoryError> {
            self.write("forgetting a subscription", |tx, book| {
                forget(tx, book, sub)
            })
        }

        /// Forget every subscription not in `keep` (ones removed while the daemon was down).
        pub(crate) fn forget_except(&mut self, keep: &[&str]) -> Result<u64, HistoryError> {
            self.write("forgetting removed subscriptions", |tx, book| {
                forget_except(tx, book, |sub| keep.contains(&sub))
            })
        }
    }
}
