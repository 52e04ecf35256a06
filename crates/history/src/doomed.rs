//! Rows retention has picked to go, deleted together in id order.
//!
//! Rows sit in the table in the order they came, so the oldest rows of one subscription
//! are spread over many pages, each shared with every other busy subscription's rows of
//! that moment. Trimming each subscription as its fresh rows merge (see `fresh.rs`,
//! subscriptions merge in groups at different moments) rewrote each of those pages once
//! for every group with a row on it. So a trim only picks the rows (an index walk, no
//! write): they go later, all subscriptions' together in id order, a page rewritten once,
//! at most [`DELETE_AFTER`] after the first was picked, a slice per commit.
//!
//! What that changes: a subscription may hold rows beyond its `max_events` for up to
//! [`DELETE_AFTER`] longer. Readers cannot see the picked rows, so none stay picked once
//! no row is fresh: the merge that leaves nothing fresh deletes them in its commit, and a
//! reader's `unmerged` of 0 still means retention has done its work.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::model::RowId;

/// The longest a picked row waits to be deleted.
pub(crate) const DELETE_AFTER: Duration = Duration::from_millis(250);

/// Delete sooner once this many rows are picked, and at most this many a commit.
pub(crate) const DELETE_SLICE: usize = 256;

/// One subscription's picked rows: its rows up to `upto`, `rows` of them still there.
#[derive(Debug)]
struct SubDoomed {
    rows: u64,
    upto: RowId,
}

/// The picked rows' bookkeeping in the writer.
#[derive(Debug, Default)]
pub(crate) struct Doomed {
    rows: Vec<(RowId, Arc<str>)>,
    subs: HashMap<Arc<str>, SubDoomed>,
    /// When the oldest picked row was picked.
    since: Option<Instant>,
}

impl Doomed {
    /// How many of `sub`'s rows are picked, and the last of them (`-1`: none).
    pub(crate) fn of(&self, sub: &str) -> (u64, RowId) {
        self.subs.get(sub).map_or((0, -1), |s| (s.rows, s.upto))
    }

    /// Books `rows` of `sub` (its oldest not yet picked, in id order) as picked.
    pub(crate) fn pick(&mut self, sub: &Arc<str>, rows: &[RowId]) {
        let Some(&last) = rows.last() else { return };
        self.since.get_or_insert_with(Instant::now);
        let entry = self
            .subs
            .entry(sub.clone())
            .or_insert(SubDoomed { rows: 0, upto: -1 });
        entry.rows += rows.len() as u64;
        entry.upto = last;
        self.rows.extend(rows.iter().map(|&row| (row, sub.clone())));
    }

    /// Whether no row is picked.
    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// How long until the picked rows are due (zero: now); `None` with none picked.
    pub(crate) fn due_in(&self) -> Option<Duration> {
        let since = self.since?;
        if self.rows.len() >= DELETE_SLICE {
            return Some(Duration::ZERO);
        }
        Some((since + DELETE_AFTER).saturating_duration_since(Instant::now()))
    }

    /// Takes the oldest picked rows to delete now, in id order: all of them with `all`,
    /// else up to [`DELETE_SLICE`].
    pub(crate) fn take(&mut self, all: bool) -> Vec<(RowId, Arc<str>)> {
        self.rows.sort_unstable_by_key(|&(row, _)| row);
        let rest = if all || self.rows.len() <= DELETE_SLICE {
            Vec::new()
        } else {
            self.rows.split_off(DELETE_SLICE)
        };
        let taken = std::mem::replace(&mut self.rows, rest);
        for (_, sub) in &taken {
            if let Some(entry) = self.subs.get_mut(sub) {
                entry.rows -= 1;
                if entry.rows == 0 {
                    self.subs.remove(sub);
                }
            }
        }
        // Rows left keep the first pick's deadline, which they may share: once it has
        // passed, each next commit takes a slice until none is left.
        if self.rows.is_empty() {
            self.since = None;
        }
        taken
    }
}
