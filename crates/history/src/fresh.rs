//! Fresh rows: what history recorded since its last merge, kept out of the
//! per-subscription indexes until then.
//!
//! A row that joins `events_by_sub` and `events_dedup` as it goes in costs an index page of
//! each per subscription in every commit, and trimming that subscription to its
//! `max_events` two more: a commit that records one event for each of fifty subscriptions
//! writes some two hundred pages to the WAL, whatever the size of the events, and at
//! thousands of events a second that was most of the daemon's work. So a row goes in with
//! `fresh = 1`, which keeps it out of both (partial) indexes and puts it at the end of
//! `events_fresh`; at most every [`MERGE_AFTER`] (sooner after [`MERGE_ROWS`] rows) one
//! statement moves every fresh row into the indexes, each subscription's pages written
//! once, and retention trims the subscriptions that grew.
//!
//! What that changes: a query naming one subscription reads the view `sub_events` (its
//! indexed rows and the fresh ones, which SQLite merges in id order); the writer finds a
//! fresh row's duplicate here, in memory; and a subscription may hold up to
//! [`MERGE_AFTER`] worth of events beyond its `max_events` until the next merge.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::model::RowId;

/// The longest a row stays fresh: how late retention may trim, and the writer's idle wake.
pub(crate) const MERGE_AFTER: Duration = Duration::from_millis(500);

/// Merge sooner once this many rows are fresh, oldest subscriptions first, to bound the
/// memory of the bookkeeping.
pub(crate) const MERGE_ROWS: usize = 16_384;

/// The most rows one commit merges (unless asked for all): merging a subscription's rows
/// is spread over the commits, so that none waits long behind a merge of everything.
pub(crate) const MERGE_SLICE: usize = 512;

/// One subscription's fresh rows.
#[derive(Debug)]
struct SubFresh {
    since: Instant,
    rows: Vec<RowId>,
    /// Their dedup keys (the stored `event_id`).
    keys: HashMap<Box<str>, RowId>,
}

/// The fresh rows' bookkeeping in the writer.
#[derive(Debug, Default)]
pub(crate) struct Fresh {
    subs: HashMap<Arc<str>, SubFresh>,
    /// Subscriptions in the order their oldest fresh row came (so by when they are due).
    queue: VecDeque<Arc<str>>,
    rows: usize,
    /// After a failed merge: none before this.
    not_before: Option<Instant>,
}

impl Fresh {
    /// The rows a stopped writer left fresh (a crash between two merges).
    pub(crate) fn load(conn: &Connection) -> rusqlite::Result<Self> {
        let mut fresh = Self::default();
        let mut stmt =
            conn.prepare("SELECT id, sub_id, event_id FROM events WHERE fresh = 1 ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, RowId>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })?;
        for row in rows {
            let (id, sub, key) = row?;
            fresh.added(&Arc::from(sub), key.as_deref(), id);
        }
        Ok(fresh)
    }

    /// The fresh row of `sub` with dedup key `key`, if there is one.
    pub(crate) fn find(&self, sub: &str, key: &str) -> Option<RowId> {
        self.subs.get(sub)?.keys.get(key).copied()
    }

    /// Books a row just inserted fresh.
    pub(crate) fn added(&mut self, sub: &Arc<str>, key: Option<&str>, row: RowId) {
        let entry = self.subs.entry(sub.clone()).or_insert_with(|| {
            self.queue.push_back(sub.clone());
            SubFresh {
                since: Instant::now(),
                rows: Vec::new(),
                keys: HashMap::new(),
            }
        });
        entry.rows.push(row);
        if let Some(key) = key {
            entry.keys.insert(key.into(), row);
        }
        self.rows += 1;
    }

    /// Books a fresh row deleted (a dropped event); merging it later finds nothing to do.
    pub(crate) fn removed(&mut self, sub: &str, key: Option<&str>) {
        if let (Some(entry), Some(key)) = (self.subs.get_mut(sub), key) {
            entry.keys.remove(key);
        }
    }

    /// Books every fresh row of `sub` deleted.
    pub(crate) fn forget(&mut self, sub: &str) {
        if let Some(entry) = self.subs.remove(sub) {
            self.rows -= entry.rows.len();
            self.queue.retain(|s| &**s != sub);
        }
    }

    /// Whether no row is fresh.
    pub(crate) fn is_empty(&self) -> bool {
        self.subs.is_empty()
    }

    /// How long until the next merge is due (zero: now); `None` with nothing fresh.
    pub(crate) fn due_in(&self) -> Option<Duration> {
        let oldest = self.subs.get(self.queue.front()?)?.since;
        let due = if self.rows >= MERGE_ROWS {
            Duration::ZERO
        } else {
            MERGE_AFTER.saturating_sub(oldest.elapsed())
        };
        let retry = self.not_before.map_or(Duration::ZERO, |at| {
            at.saturating_duration_since(Instant::now())
        });
        Some(due.max(retry))
    }

    /// Takes the subscriptions due for a merge, oldest first, with their rows: every one
    /// with `all`, else those due now up to about [`MERGE_SLICE`] rows.
    pub(crate) fn take_due(&mut self, all: bool) -> Vec<(Arc<str>, Vec<RowId>)> {
        let mut taken = Vec::new();
        let mut rows = 0;
        while let Some(sub) = self.queue.front() {
            let entry = &self.subs[sub];
            let due = all || self.rows >= MERGE_ROWS || entry.since.elapsed() >= MERGE_AFTER;
            if !due || (!all && rows > 0 && rows + entry.rows.len() > MERGE_SLICE) {
                break;
            }
            let sub = self.queue.pop_front().expect("a front");
            let entry = self
                .subs
                .remove(&sub)
                .expect("queued subscriptions have rows");
            rows += entry.rows.len();
            self.rows -= entry.rows.len();
            taken.push((sub, entry.rows));
        }
        taken
    }

    /// Keeps `other`'s postponement (this bookkeeping replaces it).
    pub(crate) fn postponed_like(&mut self, other: &Fresh) {
        self.not_before = other.not_before;
    }

    /// Tries the merge again only after [`MERGE_AFTER`] (it failed).
    pub(crate) fn postpone(&mut self) {
        self.not_before = Some(Instant::now() + MERGE_AFTER);
    }
}
