//! Unread counts: per subscription, the events that asked for attention since the user
//! last marked it read. The pipeline counts new events live; at start the rows already in
//! history are counted once, off the runtime, up to the newest row of that moment (so no
//! row is counted twice); a mark is stored in history so the count survives restarts.

use std::path::PathBuf;
use std::sync::Arc;

use ssenotify_history::{HistoryReader, RowId};
use ssenotify_protocol::DaemonEvent;

use crate::live::Live;

/// The newest row in history when the daemon starts: rows after it are counted live.
pub(crate) async fn newest_row(db: PathBuf) -> RowId {
    crate::ops::blocking(move || HistoryReader::open(db).and_then(|r| r.last_row()))
        .await
        .unwrap_or_else(|error| {
            tracing::warn!(%error, "unread counts start from zero");
            RowId::MAX
        })
}

/// Adds history's unread rows up to `upto` to the live counts, except for subscriptions
/// marked read meanwhile (their mark covers those rows).
pub(crate) async fn count_stored(db: PathBuf, upto: RowId, live: Arc<Live>) {
    let counted = crate::ops::blocking(move || HistoryReader::open(db)?.unread(upto)).await;
    let mut table = live.table();
    let marked = table.marked_early.take().unwrap_or_default();
    let counts = match counted {
        Ok(counts) => counts,
        Err(error) => {
            tracing::warn!(%error, "stored unread events could not be counted");
            return;
        }
    };
    for (id, n) in counts {
        if marked.contains(&id) {
            continue;
        }
        let cap = table.unread_caps.get(&id).copied().unwrap_or(u64::MAX);
        if let Some(status) = table.status.get_mut(&id) {
            // Rows counted live meanwhile may be among those retention removed since.
            status.unread = (status.unread + n).min(cap);
            live.publish(DaemonEvent::Status(status.clone()));
        }
    }
}

/// Marks `ids` (all when `None`) read in the live table; returns the marks to store: each
/// one's newest counted row, or `None` for "its newest row in history".
pub(crate) fn mark(
    live: &Live,
    ids: Option<Vec<String>>,
) -> Result<Vec<(String, Option<RowId>)>, String> {
    let mut table = live.table();
    let ids = match ids {
        Some(ids) => {
            if let Some(unknown) = ids.iter().find(|id| table.status.get(id).is_none()) {
                return Err(format!("no subscription with id {unknown:?}"));
            }
            ids
        }
        None => table.status.values().map(|s| s.id.clone()).collect(),
    };
    let mut marks = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(early) = table.marked_early.as_mut() {
            early.insert(id.clone());
        }
        let Some(status) = table.status.get(&id) else {
            continue;
        };
        let last_row = status.last_row;
        if status.unread > 0
            && let Some(status) = table.status.get_mut(&id)
        {
            status.unread = 0;
            live.publish(DaemonEvent::Status(status.clone()));
        }
        marks.push((id, last_row));
    }
    Ok(marks)
}
