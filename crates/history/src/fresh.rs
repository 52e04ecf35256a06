//! Fresh rows: what history recorded since its last merge, kept out of the
//! per-subscription index until then.
//!
//! A row that joins `sub_rows` and its dedup index as it goes in costs a page of each per
//! subscription in every commit, and trimming that subscription to its `max_events` two
//! more: a commit that records one event for each of fifty subscriptions writes some two
//! hundred pages to the WAL, whatever the size of the events, and at thousands of events a
//! second that was most of the daemon's work. So a row goes in listed in `fresh_rows` (the
//! table's last page, as the row itself); at most [`MERGE_AFTER`] later (sooner after
//! [`MERGE_ROWS`] rows) its subscription's fresh rows move into `sub_rows` together, its
//! pages written once, and retention picks the rows they push out (see `doomed.rs`). The
//! row itself is not written again: until version 9 a flag in it said it was fresh, and
//! each merge rewrote every table page holding one of its rows, which with busy feeds
//! interleaved was a page a row. Subscriptions merge in groups spread over time
//! ([`GROUPS`]), a slice per commit, each in a commit of its own right after the one that
//! answered the requests, so that no event waits behind a merge in its own commit.
//!
//! What that changes: a query naming one subscription reads the view `sub_events` (its
//! merged rows and the fresh ones, which SQLite merges in id order); the writer finds a
//! fresh row's duplicate here, in memory; and a subscription may hold up to
//! [`MERGE_AFTER`] worth of events beyond its `max_events` until the next merge, at most
//! [`FRESH_PER_SUB`] of them and a batch.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::model::RowId;

/// The longest a row stays fresh: how late retention may trim, and the writer's idle wake.
pub(crate) const MERGE_AFTER: Duration = Duration::from_millis(500);

/// Merge sooner once this many rows are fresh, oldest first, to bound the memory of the
/// bookkeeping.
pub(crate) const MERGE_ROWS: usize = 16_384;

/// A subscription with this many fresh rows is due at once: a burst of one feed does not
/// hold thousands of events beyond its `max_events` for half a second.
pub(crate) const FRESH_PER_SUB: usize = 256;

/// The most rows one commit merges (unless asked for all), so that no commit waits long
/// behind a merge.
pub(crate) const MERGE_SLICE: usize = 1024;

/// Subscriptions are merged in this many groups, each at its own moments of every
/// half-period: a subscription's rows are due between half of [`MERGE_AFTER`] and all of it
/// after the first of them, at its group's next moment. Without groups, subscriptions that
/// started together stay in step, and every merge comes at once (a stall of tens of
/// milliseconds twice a second under a flood); with one group per subscription, each
/// merge is small and rewrites the same table pages many times over.
const GROUPS: u32 = 32;

/// One subscription's fresh rows.
#[derive(Debug)]
struct SubFresh {
    due: Instant,
    rows: Vec<RowId>,
    /// Their dedup keys (the stored `event_id`).
    keys: HashMap<Box<str>, RowId>,
}

/// The fresh rows' bookkeeping in the writer.
#[derive(Debug)]
pub(crate) struct Fresh {
    subs: HashMap<Arc<str>, SubFresh>,
    /// Subscriptions by when they are due; an entry whose subscription is gone or due at
    /// another time is stale and skipped.
    queue: BinaryHeap<Reverse<(Instant, Arc<str>)>>,
    rows: usize,
    /// What the groups' moments count from.
    epoch: Instant,
    /// After a failed merge: none before this.
    not_before: Option<Instant>,
}

impl Default for Fresh {
    fn default() -> Self {
        Self {
            subs: HashMap::new(),
            queue: BinaryHeap::new(),
            rows: 0,
            epoch: Instant::now(),
            not_before: None,
        }
    }
}

impl Fresh {
    /// The rows a stopped writer left fresh (a crash between two merges).
    pub(crate) fn load(conn: &Connection) -> rusqlite::Result<Self> {
        let mut fresh = Self::default();
        let mut stmt = conn.prepare(
            "SELECT f.id, e.sub_id, e.event_id FROM fresh_rows f \
                 CROSS JOIN events e ON e.id = f.id ORDER BY f.id",
        )?;
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

    /// When rows of `sub` that are fresh from now on are due: its group's next moment at
    /// least half of [`MERGE_AFTER`] from now.
    fn due(&self, sub: &str) -> Instant {
        // A fixed hasher: a subscription keeps its group for the writer's life.
        let hasher = BuildHasherDefault::<DefaultHasher>::default();
        let group = (hasher.hash_one(sub) % u64::from(GROUPS)) as u32;
        let half = MERGE_AFTER / 2;
        let offset = half / GROUPS * group;
        let earliest = self.epoch.elapsed() + half;
        let periods = earliest
            .saturating_sub(offset)
            .as_nanos()
            .div_ceil(half.as_nanos());
        self.epoch + offset + half * u32::try_from(periods).unwrap_or(u32::MAX)
    }

    /// The fresh row of `sub` with dedup key `key`, if there is one.
    pub(crate) fn find(&self, sub: &str, key: &str) -> Option<RowId> {
        self.subs.get(sub)?.keys.get(key).copied()
    }

    /// Books a row just inserted fresh.
    pub(crate) fn added(&mut self, sub: &Arc<str>, key: Option<&str>, row: RowId) {
        if !self.subs.contains_key(sub) {
            let due = self.due(sub);
            self.queue.push(Reverse((due, sub.clone())));
            let entry = SubFresh {
                due,
                rows: Vec::new(),
                keys: HashMap::new(),
            };
            self.subs.insert(sub.clone(), entry);
        }
        let entry = self.subs.get_mut(sub).expect("inserted above");
        entry.rows.push(row);
        if let Some(key) = key {
            entry.keys.insert(key.into(), row);
        }
        self.rows += 1;
        if entry.rows.len() == FRESH_PER_SUB {
            // Its entry in the queue goes stale.
            entry.due = Instant::now();
            self.queue.push(Reverse((entry.due, sub.clone())));
        }
    }

    /// Books a row deleted (a dropped event), if it was fresh: with its subscription's
    /// last one, nothing of it is fresh any more (its entry in the queue goes stale).
    pub(crate) fn removed(&mut self, sub: &str, key: Option<&str>, row: RowId) {
        let Some(entry) = self.subs.get_mut(sub) else {
            return;
        };
        let Some(at) = entry.rows.iter().position(|&r| r == row) else {
            return;
        };
        entry.rows.swap_remove(at);
        self.rows -= 1;
        if let Some(key) = key {
            entry.keys.remove(key);
        }
        if entry.rows.is_empty() {
            self.subs.remove(sub);
        }
    }

    /// Whether no row is fresh.
    pub(crate) fn is_empty(&self) -> bool {
        self.subs.is_empty()
    }

    /// The queue's first live entry, stale ones dropped.
    fn next(&mut self) -> Option<Instant> {
        while let Some(Reverse((due, sub))) = self.queue.peek() {
            if self.subs.get(sub).is_some_and(|e| e.due == *due) {
                return Some(*due);
            }
            self.queue.pop();
        }
        None
    }

    /// How long until the next merge is due (zero: now); `None` with nothing fresh.
    pub(crate) fn due_in(&mut self) -> Option<Duration> {
        let next = self.next()?;
        let due = if self.rows >= MERGE_ROWS {
            Duration::ZERO
        } else {
            next.saturating_duration_since(Instant::now())
        };
        let retry = self.not_before.map_or(Duration::ZERO, |at| {
            at.saturating_duration_since(Instant::now())
        });
        Some(due.max(retry))
    }

    /// Takes the subscriptions to merge, with their rows: every one with `all`, else those
    /// due now (the first due first) up to about [`MERGE_SLICE`] rows.
    pub(crate) fn take_due(&mut self, all: bool) -> Vec<(Arc<str>, Vec<RowId>)> {
        if all {
            self.queue.clear();
            self.rows = 0;
            return self.subs.drain().map(|(sub, e)| (sub, e.rows)).collect();
        }
        let now = Instant::now();
        let mut taken = Vec::new();
        let mut rows = 0;
        while let Some(due) = self.next() {
            if (due > now && self.rows < MERGE_ROWS) || rows >= MERGE_SLICE {
                break;
            }
            let Reverse((_, sub)) = self.queue.pop().expect("a live entry");
            let entry = self.subs.remove(&sub).expect("a live entry's rows");
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
