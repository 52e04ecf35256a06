//! Engine updates to the webview, batched: at most one emit per interval per stream (~10 a
//! second), so a 10,000-event burst costs the UI a handful of renders instead of freezing it.
//!
//! [`Batcher`] is the pure part (no clock of its own, no I/O) and [`forward`] drives it from a
//! broadcast channel; both are generic so the engine's real types slot in unchanged.

use std::collections::VecDeque;
use std::time::Duration;

use serde::Serialize;
use tauri::{AppHandle, Emitter};
use tokio::sync::broadcast;
use tokio::time::Instant;

/// The longest the webview waits for an update, and the shortest gap between two emits.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(100);

/// Event carrying a [`Batch`] of engine events (newest last).
pub const EVENTS_EVENT: &str = "engine:events";

/// Event carrying a [`Batch`] of subscription state changes (latest per subscription).
pub const STATES_EVENT: &str = "engine:states";

/// Most events kept between two emits; older ones are counted in [`Batch::dropped`] (the
/// UI fetches history pages for anything it missed).
pub const MAX_EVENTS_PER_BATCH: usize = 500;

/// Most state changes kept between two emits: one per subscription after coalescing.
pub const MAX_STATES_PER_BATCH: usize = 4096;

/// What one emit carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Batch<T> {
    /// Items in arrival order (oldest first).
    pub items: Vec<T>,
    /// Items left out since the previous batch (over the cap, or lagged on the channel).
    pub dropped: u64,
}

/// Collects items and releases them at most once per interval.
///
/// With a key function, a new item replaces a pending one with the same key (state changes:
/// only the latest per subscription matters); without, items queue and the oldest are dropped
/// past the cap (events: the newest are what the user sees).
pub struct Batcher<T, K = ()> {
    pending: VecDeque<T>,
    key: Option<fn(&T) -> K>,
    cap: usize,
    dropped: u64,
    interval: Duration,
    last_flush: Option<Instant>,
}

impl<T> Batcher<T> {
    /// A queueing batcher keeping at most `cap` items per batch.
    pub fn new(interval: Duration, cap: usize) -> Self {
        Self::build(interval, cap, None)
    }
}

impl<T, K: PartialEq> Batcher<T, K> {
    /// A coalescing batcher: a new item replaces the pending one with the same key.
    pub fn coalescing(interval: Duration, cap: usize, key: fn(&T) -> K) -> Self {
        Self::build(interval, cap, Some(key))
    }

    fn build(interval: Duration, cap: usize, key: Option<fn(&T) -> K>) -> Self {
        Self {
            pending: VecDeque::new(),
            key,
            cap: cap.max(1),
            dropped: 0,
            interval,
            last_flush: None,
        }
    }

    /// Adds an item.
    pub fn push(&mut self, item: T) {
        if let Some(key) = self.key {
            let k = key(&item);
            // Linear scan: pending holds at most one item per subscription and is emptied
            // every interval, so this stays small.
            if let Some(pos) = self.pending.iter().position(|p| key(p) == k) {
                // Move it to the back: the batch stays in order of last change.
                self.pending.remove(pos);
                self.pending.push_back(item);
                return;
            }
        }
        if self.pending.len() == self.cap {
            self.pending.pop_front();
            self.dropped += 1;
        }
        self.pending.push_back(item);
    }

    /// Records items that never reached the batcher (a lagging broadcast receiver).
    pub fn note_dropped(&mut self, n: u64) {
        self.dropped += n;
    }

    /// Whether nothing waits to be released.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty() && self.dropped == 0
    }

    /// When the pending items may be released: `None` if there are none. The first item
    /// after a quiet spell is due at once, so a lone event shows without delay.
    pub fn deadline(&self) -> Option<Instant> {
        if self.is_empty() {
            return None;
        }
        Some(match self.last_flush {
            Some(last) => last + self.interval,
            None => Instant::now(),
        })
    }

    /// Releases the pending items if a batch is due at `now`.
    pub fn take_if_due(&mut self, now: Instant) -> Option<Batch<T>> {
        let due = self.deadline()?;
        (now >= due).then(|| self.take(now))
    }

    /// Releases whatever is pending now, due or not (the channel closed).
    pub fn take(&mut self, now: Instant) -> Batch<T> {
        self.last_flush = Some(now);
        Batch {
            items: self.pending.drain(..).collect(),
            dropped: std::mem::take(&mut self.dropped),
        }
    }
}

/// Drives `batcher` from `rx` until the channel closes, handing each due batch to `sink`.
pub async fn forward<T, K, F>(
    mut rx: broadcast::Receiver<T>,
    mut batcher: Batcher<T, K>,
    mut sink: F,
) where
    T: Clone,
    K: PartialEq,
    F: FnMut(Batch<T>),
{
    loop {
        let deadline = batcher.deadline();
        tokio::select! {
            received = rx.recv() => match received {
                Ok(item) => batcher.push(item),
                Err(broadcast::error::RecvError::Lagged(n)) => batcher.note_dropped(n),
                Err(broadcast::error::RecvError::Closed) => break,
            },
            // Only armed while something is pending, so an idle stream costs no wakeups.
            () = sleep_until_some(deadline) => {}
        }
        if let Some(batch) = batcher.take_if_due(Instant::now()) {
            sink(batch);
        }
    }
    if !batcher.is_empty() {
        sink(batcher.take(Instant::now()));
    }
}

async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Spawns the two forwarders (events and states) from the app's broadcast channels to the
/// webview, and the tray's state follower, on Tauri's async runtime.
// WIRE: subscribe to the engine's DaemonHandle broadcast instead of AppState's channels.
pub fn start_forwarders(app: &AppHandle, state: &crate::commands::AppState) {
    let emit = |app: AppHandle, name: &'static str| {
        move |batch: Batch<serde_json::Value>| {
            if let Err(err) = app.emit(name, batch) {
                tracing::warn!(%err, name, "could not emit to the webview");
            }
        }
    };
    tauri::async_runtime::spawn(forward(
        state.events.subscribe(),
        Batcher::new(FLUSH_INTERVAL, MAX_EVENTS_PER_BATCH),
        emit(app.clone(), EVENTS_EVENT),
    ));
    tauri::async_runtime::spawn(crate::tray::follow_states(
        app.clone(),
        state.states.subscribe(),
    ));
    tauri::async_runtime::spawn(forward(
        state.states.subscribe(),
        Batcher::coalescing(FLUSH_INTERVAL, MAX_STATES_PER_BATCH, state_key),
        emit(app.clone(), STATES_EVENT),
    ));
}

/// Placeholder coalescing key until the engine's state type exists: its `id` field.
fn state_key(state: &serde_json::Value) -> Option<String> {
    state
        .get("id")
        .and_then(|id| id.as_str())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[tokio::test(start_paused = true)]
    async fn first_item_is_due_at_once_then_at_most_once_per_interval() {
        let mut b = Batcher::new(100 * MS, 10);
        assert_eq!(b.deadline(), None);
        let t0 = Instant::now();
        b.push(1);
        assert_eq!(b.take_if_due(t0).unwrap().items, [1]);
        b.push(2);
        b.push(3);
        assert_eq!(b.take_if_due(t0 + 99 * MS), None);
        assert_eq!(b.deadline(), Some(t0 + 100 * MS));
        let batch = b.take_if_due(t0 + 100 * MS).unwrap();
        assert_eq!(
            batch,
            Batch {
                items: vec![2, 3],
                dropped: 0
            }
        );
        assert_eq!(b.deadline(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn over_the_cap_keeps_the_newest_and_counts_the_rest() {
        let mut b = Batcher::new(100 * MS, 3);
        for i in 0..10 {
            b.push(i);
        }
        b.note_dropped(5);
        let batch = b.take(Instant::now());
        assert_eq!(batch.items, [7, 8, 9]);
        assert_eq!(batch.dropped, 7 + 5);
        assert!(b.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn coalescing_keeps_the_latest_per_key_in_order_of_last_change() {
        let mut b = Batcher::coalescing(100 * MS, 10, |s: &(char, u32)| s.0);
        for item in [('a', 1), ('b', 1), ('a', 2), ('c', 1), ('b', 2)] {
            b.push(item);
        }
        let batch = b.take(Instant::now());
        assert_eq!(batch.items, [('a', 2), ('c', 1), ('b', 2)]);
        assert_eq!(batch.dropped, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_of_ten_thousand_becomes_a_few_capped_batches() {
        let (tx, rx) = broadcast::channel(16_384);
        let (out_tx, mut out_rx) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(forward(rx, Batcher::new(100 * MS, 500), move |b| {
            out_tx.send((Instant::now(), b)).unwrap();
        }));
        let start = Instant::now();
        // 10,000 events over one second, in bursts of 100 every 10 ms.
        for round in 0..100 {
            for i in 0..100 {
                tx.send(round * 100 + i).unwrap();
            }
            tokio::time::sleep(10 * MS).await;
        }
        drop(tx);
        task.await.unwrap();

        let mut batches = Vec::new();
        while let Ok(b) = out_rx.try_recv() {
            batches.push(b);
        }
        // One immediate batch, then one per 100 ms over ~1 s, plus the final flush.
        assert!(batches.len() <= 13, "{} batches", batches.len());
        for pair in batches.windows(2).take(batches.len().saturating_sub(2)) {
            assert!(
                pair[1].0 - pair[0].0 >= 100 * MS,
                "emits closer than the interval"
            );
        }
        let delivered: usize = batches.iter().map(|(_, b)| b.items.len()).sum();
        let dropped: u64 = batches.iter().map(|(_, b)| b.dropped).sum();
        assert_eq!(
            delivered as u64 + dropped,
            10_000,
            "every event is delivered or counted"
        );
        assert!(batches.iter().all(|(_, b)| b.items.len() <= 500));
        // The newest event always reaches the UI.
        assert_eq!(batches.last().unwrap().1.items.last(), Some(&9_999));
        assert!(Instant::now() - start < 2_000 * MS);
    }

    #[tokio::test(start_paused = true)]
    async fn lagging_receiver_reports_what_it_missed() {
        let (tx, rx) = broadcast::channel(4);
        for i in 0..10 {
            tx.send(i).unwrap();
        }
        drop(tx);
        let mut out = Vec::new();
        forward(rx, Batcher::new(100 * MS, 100), |b| out.push(b)).await;
        let delivered: usize = out.iter().map(|b| b.items.len()).sum();
        let dropped: u64 = out.iter().map(|b| b.dropped).sum();
        assert_eq!((delivered, dropped), (4, 6));
    }
}
