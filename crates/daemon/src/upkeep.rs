//! History upkeep while the daemon runs: rows age out when they are due (a quiet feed's
//! too, which no new event would prune), and subscriptions missing from the file for longer
//! than the grace period are forgotten.

use std::sync::Arc;
use std::time::Duration;

use ssenotify_history::{HistoryWriter, now_ms};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::live::Live;

/// How long a subscription that disappeared from the file without an explicit removal
/// (`ssenotify remove`, `import --replace`, the app's Remove) keeps its history and resume
/// point: an editor, a sync tool or a half-finished paste can empty the file for a moment,
/// and a subscription put back within this time resumes where it left off.
pub(crate) const FORGET_MISSING_AFTER: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// The longest the upkeep sleeps: orphans past the grace period are forgotten within it.
const MAX_SLEEP: Duration = Duration::from_secs(60 * 60);

/// The shortest: a burst of rows due one after another is handled in one pass per second.
const MIN_SLEEP: Duration = Duration::from_secs(1);

/// Runs the upkeep until `cancel`. `shortest_max_age` is the smallest `max_age` of the
/// subscriptions applied now: a subscription's first row is due that long after it
/// arrives, so the upkeep never sleeps longer (a change of it wakes the upkeep at once).
pub(crate) async fn run(
    history: HistoryWriter,
    live: Arc<Live>,
    mut shortest_max_age: watch::Receiver<Duration>,
    cancel: CancellationToken,
) {
    loop {
        let due = match history.expire().await {
            Ok(due) => due,
            Err(error) => {
                tracing::warn!(%error, "history rows could not be aged out");
                None
            }
        };
        match history.forget_orphans(FORGET_MISSING_AFTER).await {
            Ok(forgotten) => {
                let mut table = live.table();
                for id in forgotten {
                    tracing::info!(subscription = %id, "missing from the subscriptions file for 7 days: history forgotten");
                    table.resume.remove(&id);
                }
            }
            Err(error) => tracing::warn!(%error, "missing subscriptions could not be forgotten"),
        }
        let until_due = due.map_or(MAX_SLEEP, |due| {
            Duration::from_millis(u64::try_from(due.saturating_sub(now_ms())).unwrap_or(0))
        });
        let sleep = until_due
            .min(*shortest_max_age.borrow_and_update())
            .clamp(MIN_SLEEP, MAX_SLEEP);
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(sleep) => {}
            changed = shortest_max_age.changed() => if changed.is_err() { return },
        }
    }
}
