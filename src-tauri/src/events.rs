//! Engine updates to the webview, batched: at most one emit per interval per stream (~10 a
//! second), so a 10,000-event burst costs the UI a handful of renders instead of freezing it.
//!
//! [`Batcher`] is the pure part (no clock of its own, no I/O) and [`forward`] drives it from a
//! [`Source`]: the daemon's watch stream in the app, a broadcast channel in tests; both are
//! generic so the engine's real types slot in unchanged.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::Hash;
use std::time::Duration;

use serde::Serialize;
use ssenotify_protocol::{
    DaemonEvent, LiveEvent, StatusReport, SubscriptionStatus, UpdateBatch, WatchLine, WatchNotice,
    Watcher,
};
use tauri::{AppHandle, Emitter, Manager};
use tokio::sync::broadcast;
use tokio::time::Instant;

/// The longest the webview waits for an update, and the shortest gap between two emits.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(100);

/// Most events kept between two emits; older ones are counted in [`Batch::dropped`] (the
/// UI fetches history pages for anything it missed).
pub const MAX_EVENTS_PER_BATCH: usize = 500;

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
/// only the latest per subscription matters, so a batch holds at most one per subscription
/// and needs no cap); without, items queue and the oldest are dropped past the cap (events:
/// the newest are what the user sees). Either way a push costs the same whatever is
/// pending: 10,000 subscriptions changing at once coalesce in linear time.
pub struct Batcher<T, K = ()> {
    /// Pending items by arrival number: in order, and removable from the middle.
    pending: BTreeMap<u64, T>,
    /// The arrival number of the pending item of each key (coalescing only).
    keys: HashMap<K, u64>,
    key: Option<fn(&T) -> K>,
    arrivals: u64,
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

impl<T, K: Hash + Eq> Batcher<T, K> {
    /// A coalescing batcher: a new item replaces the pending one with the same key.
    pub fn coalescing(interval: Duration, key: fn(&T) -> K) -> Self {
        Self::build(interval, usize::MAX, Some(key))
    }

    fn build(interval: Duration, cap: usize, key: Option<fn(&T) -> K>) -> Self {
        Self {
            pending: BTreeMap::new(),
            keys: HashMap::new(),
            key,
            arrivals: 0,
            cap: cap.max(1),
            dropped: 0,
            interval,
            last_flush: None,
        }
    }

    /// Adds an item.
    pub fn push(&mut self, item: T) {
        self.arrivals += 1;
        if let Some(key) = self.key {
            // It goes to the back: the batch stays in order of last change.
            if let Some(previous) = self.keys.insert(key(&item), self.arrivals) {
                self.pending.remove(&previous);
            }
        } else if self.pending.len() == self.cap {
            self.pending.pop_first();
            self.dropped += 1;
        }
        self.pending.insert(self.arrivals, item);
    }

    /// Forgets the pending item with this key, if any (its subscription is gone).
    pub fn discard(&mut self, key: &K) {
        if let Some(arrival) = self.keys.remove(key) {
            self.pending.remove(&arrival);
        }
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

    /// Releases whatever is pending now, due or not (the channel closed).
    pub fn take(&mut self, now: Instant) -> Batch<T> {
        self.last_flush = Some(now);
        self.keys.clear();
        Batch {
            items: std::mem::take(&mut self.pending).into_values().collect(),
            dropped: std::mem::take(&mut self.dropped),
        }
    }
}

/// What [`forward`] drives: a batcher of some kind.
pub trait Collect {
    /// What goes in.
    type Item;
    /// What one release carries.
    type Out;
    /// Adds an item.
    fn push(&mut self, item: Self::Item);
    /// Records items that never arrived (a lagging receiver).
    fn note_dropped(&mut self, n: u64);
    /// Whether nothing waits.
    fn is_empty(&self) -> bool;
    /// When the pending items may be released, `None` if there are none.
    fn deadline(&self) -> Option<Instant>;
    /// Releases whatever is pending.
    fn take(&mut self, now: Instant) -> Self::Out;
    /// Whether a batch may be released at `now` (ignoring whether anything is pending).
    fn is_due(&self, now: Instant) -> bool;
    /// Releases the pending items if due at `now`.
    fn take_if_due(&mut self, now: Instant) -> Option<Self::Out> {
        (!self.is_empty() && self.is_due(now)).then(|| self.take(now))
    }
}

impl<T, K: Hash + Eq> Collect for Batcher<T, K> {
    type Item = T;
    type Out = Batch<T>;
    fn push(&mut self, item: T) {
        Batcher::push(self, item);
    }
    fn note_dropped(&mut self, n: u64) {
        Batcher::note_dropped(self, n);
    }
    fn is_empty(&self) -> bool {
        Batcher::is_empty(self)
    }
    fn deadline(&self) -> Option<Instant> {
        Batcher::deadline(self)
    }
    fn take(&mut self, now: Instant) -> Batch<T> {
        Batcher::take(self, now)
    }
    fn is_due(&self, now: Instant) -> bool {
        // Compared with the last flush, not with `deadline()`: that reads the clock again
        // for a first batch and so would always lie after `now`.
        self.last_flush
            .is_none_or(|last| now >= last + self.interval)
    }
}

/// What a [`Source`] yields.
#[derive(Debug)]
pub enum Received<T> {
    /// The next item.
    Item(T),
    /// `n` items were skipped upstream.
    Lagged(u64),
    /// The source ended.
    Closed,
}

/// Where [`forward`] reads items from.
pub trait Source {
    /// What it yields.
    type Item;
    /// The next item; must be cancel-safe (it runs in a `select!`).
    fn recv(&mut self) -> impl std::future::Future<Output = Received<Self::Item>> + Send;
}

impl<T: Clone + Send> Source for broadcast::Receiver<T> {
    type Item = T;
    async fn recv(&mut self) -> Received<T> {
        match broadcast::Receiver::recv(self).await {
            Ok(item) => Received::Item(item),
            Err(broadcast::error::RecvError::Lagged(n)) => Received::Lagged(n),
            Err(broadcast::error::RecvError::Closed) => Received::Closed,
        }
    }
}

/// The daemon's watch stream as a [`Source`]; remembers whether it ended with a goodbye.
pub struct WatchSource {
    watcher: Watcher,
    /// The daemon said it is stopping on purpose (tray Quit, SIGTERM).
    pub said_goodbye: bool,
}

impl Source for WatchSource {
    type Item = DaemonEvent;
    async fn recv(&mut self) -> Received<DaemonEvent> {
        match self.watcher.next().await {
            Ok(Some(WatchLine::Update(event))) => Received::Item(event),
            Ok(Some(WatchLine::Notice(WatchNotice::Lagged { count }))) => Received::Lagged(count),
            Ok(Some(WatchLine::Notice(WatchNotice::Shutdown))) => {
                self.said_goodbye = true;
                Received::Closed
            }
            Ok(None) => Received::Closed,
            Err(err) => {
                tracing::warn!(%err, "the engine's watch stream broke");
                Received::Closed
            }
        }
    }
}

/// Drives `batcher` from `source` until it closes, handing each due batch to `sink`.
pub async fn forward<S, C, F>(source: &mut S, mut batcher: C, mut sink: F)
where
    S: Source,
    C: Collect<Item = S::Item>,
    F: FnMut(C::Out),
{
    loop {
        let deadline = batcher.deadline();
        tokio::select! {
            received = source.recv() => match received {
                Received::Item(item) => batcher.push(item),
                Received::Lagged(n) => batcher.note_dropped(n),
                Received::Closed => break,
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

/// Batches [`DaemonEvent`]s into [`UpdateBatch`]es (docs/ipc.md): statuses coalesced per
/// subscription, removals collected, events capped at [`MAX_EVENTS_PER_BATCH`], all
/// released together at most once per interval.
pub struct UpdateBatcher {
    statuses: Batcher<SubscriptionStatus, String>,
    removed: BTreeSet<String>,
    events: Batcher<LiveEvent>,
    config: Option<DaemonEvent>,
    /// The stream lagged since the last batch: statuses may have been missed.
    resync: bool,
    interval: Duration,
    last_flush: Option<Instant>,
}

impl UpdateBatcher {
    /// An empty batcher releasing at most once per `interval`.
    pub fn new(interval: Duration) -> Self {
        Self {
            statuses: Batcher::coalescing(interval, |s| s.id.clone()),
            removed: BTreeSet::new(),
            events: Batcher::new(interval, MAX_EVENTS_PER_BATCH),
            config: None,
            resync: false,
            interval,
            last_flush: None,
        }
    }
}

impl Collect for UpdateBatcher {
    type Item = DaemonEvent;
    type Out = UpdateBatch;

    fn push(&mut self, item: DaemonEvent) {
        match item {
            DaemonEvent::Status(status) => {
                self.removed.remove(&status.id);
                self.statuses.push(status);
            }
            DaemonEvent::Removed { ids } => {
                for id in ids {
                    self.statuses.discard(&id);
                    self.removed.insert(id);
                }
            }
            DaemonEvent::Event(event) => self.events.push(event),
            config @ DaemonEvent::Config { .. } => self.config = Some(config),
        }
    }

    fn note_dropped(&mut self, n: u64) {
        // What was skipped may have been events (the UI pages history for those) or status
        // changes (the UI refetches the list).
        self.events.note_dropped(n);
        self.resync = true;
    }

    fn is_empty(&self) -> bool {
        self.statuses.is_empty()
            && self.removed.is_empty()
            && self.events.is_empty()
            && self.config.is_none()
            && !self.resync
    }

    fn deadline(&self) -> Option<Instant> {
        if self.is_empty() {
            return None;
        }
        Some(match self.last_flush {
            Some(last) => last + self.interval,
            None => Instant::now(),
        })
    }

    fn is_due(&self, now: Instant) -> bool {
        self.last_flush
            .is_none_or(|last| now >= last + self.interval)
    }

    fn take(&mut self, now: Instant) -> UpdateBatch {
        self.last_flush = Some(now);
        let events = self.events.take(now);
        UpdateBatch {
            statuses: self.statuses.take(now).items,
            removed: std::mem::take(&mut self.removed).into_iter().collect(),
            resync: std::mem::take(&mut self.resync),
            events: events.items,
            dropped: events.dropped,
            config: self.config.take(),
            engine: None,
        }
    }
}

/// The one webview event carrying engine updates.
pub const UPDATE_EVENT: &str = "ssenotify://update";

/// Spawns, on Tauri's async runtime, the forwarder of the daemon's updates to the webview.
///
/// The window follows the engine: when the daemon says goodbye (Quit in its tray menu, or
/// SIGTERM) the app exits too; when it dies without one, the UI says so and the app starts
/// a daemon again every few seconds until one answers.
pub fn start_forwarders(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let state = app.state::<crate::commands::AppState>();
        let engine = &state.engine;
        loop {
            match ssenotify_protocol::watch_snapshot(&engine.socket()).await {
                Ok((watcher, snapshot)) => {
                    // The list may have changed while nobody watched: send it whole, from
                    // the snapshot the stream starts at (every line after it is a change).
                    announce(&app, Some(snapshot)).await;
                    let mut source = WatchSource {
                        watcher,
                        said_goodbye: false,
                    };
                    let emitter = app.clone();
                    forward(
                        &mut source,
                        UpdateBatcher::new(FLUSH_INTERVAL),
                        move |update| {
                            if let Err(err) = emitter.emit(UPDATE_EVENT, update) {
                                tracing::warn!(%err, "could not emit to the webview");
                            }
                        },
                    )
                    .await;
                    if source.said_goodbye {
                        tracing::info!("the engine stopped; the window closes with it");
                        app.exit(0);
                        return;
                    }
                    engine.lost("the engine stopped unexpectedly").await;
                    announce(&app, None).await;
                }
                Err(err) => tracing::debug!(%err, "no engine to watch"),
            }
            tokio::time::sleep(RECONNECT_INTERVAL).await;
            engine.reconnect().await;
        }
    });
}

/// How often the window tries to bring a dead engine back.
pub const RECONNECT_INTERVAL: Duration = Duration::from_secs(2);

/// Tells the webview the engine link changed, with every status of `snapshot` (none while
/// the engine is down).
async fn announce(app: &AppHandle, snapshot: Option<StatusReport>) {
    let state = app.state::<crate::commands::AppState>();
    let (statuses, daemon) = match snapshot {
        Some(report) => (report.subscriptions, Some(report.daemon)),
        None => (Vec::new(), None),
    };
    let info = state
        .engine
        .describe_with(app, &statuses, daemon.as_ref())
        .await;
    let payload = UpdateBatch {
        statuses,
        removed: Vec::new(),
        resync: false,
        events: Vec::new(),
        dropped: 0,
        config: None,
        engine: Some(info),
    };
    if let Err(err) = app.emit(UPDATE_EVENT, payload) {
        tracing::warn!(%err, "could not emit to the webview");
    }
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
        let mut b = Batcher::coalescing(100 * MS, |s: &(char, u32)| s.0);
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
        let task = tokio::spawn(async move {
            let mut rx = rx;
            forward(&mut rx, Batcher::new(100 * MS, 500), move |b| {
                out_tx.send((Instant::now(), b)).unwrap();
            })
            .await;
        });
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
    async fn updates_coalesce_statuses_cap_events_and_keep_the_last_config() {
        use ssenotify_protocol::{Action, ReadyState};
        let status = |id: &str, ready: ReadyState| SubscriptionStatus::new(id, ready, "");
        let event = |n: usize| {
            DaemonEvent::Event(LiveEvent {
                subscription: "a".into(),
                row: Some(n as i64),
                event_type: "message".into(),
                data: n.to_string(),
                last_event_id: String::new(),
                action: Action::History,
                received_at: 0,
                unread: 0,
                rule: None,
                shown: None,
            })
        };
        let mut b = UpdateBatcher::new(100 * MS);
        assert_eq!(b.deadline(), None);
        b.push(DaemonEvent::Status(status("a", ReadyState::Connecting)));
        b.push(DaemonEvent::Status(status("b", ReadyState::Connecting)));
        b.push(DaemonEvent::Status(status("a", ReadyState::Open)));
        for n in 0..10_000 {
            b.push(event(n));
        }
        b.push(DaemonEvent::Config {
            applied: None,
            error: Some("bad".into()),
        });
        b.note_dropped(7);
        let update = b.take(Instant::now());
        let ids: Vec<_> = update
            .statuses
            .iter()
            .map(|s| (s.id.as_str(), s.ready_state))
            .collect();
        assert_eq!(
            ids,
            [("b", ReadyState::Connecting), ("a", ReadyState::Open)]
        );
        assert_eq!(update.events.len(), MAX_EVENTS_PER_BATCH);
        assert_eq!(update.dropped, (10_000 - MAX_EVENTS_PER_BATCH + 7) as u64);
        assert!(update.config.is_some());
        let json = serde_json::to_value(&update).unwrap();
        assert_eq!(json["statuses"][1]["ready_state"], "OPEN");
        assert_eq!(json["events"][0]["type"], "message");
        assert_eq!(json["events"][0]["subscription"], "a");
        assert!(b.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn lagging_receiver_reports_what_it_missed() {
        let (tx, rx) = broadcast::channel(4);
        for i in 0..10 {
            tx.send(i).unwrap();
        }
        drop(tx);
        let mut out = Vec::new();
        let mut rx = rx;
        forward(&mut rx, Batcher::new(100 * MS, 100), |b| out.push(b)).await;
        let delivered: usize = out.iter().map(|b| b.items.len()).sum();
        let dropped: u64 = out.iter().map(|b| b.dropped).sum();
        assert_eq!((delivered, dropped), (4, 6));
    }

    fn status(id: &str, ready: ssenotify_protocol::ReadyState) -> DaemonEvent {
        DaemonEvent::Status(SubscriptionStatus::new(id, ready, ""))
    }

    #[tokio::test(start_paused = true)]
    async fn ten_thousand_subscriptions_changing_at_once_all_reach_the_ui() {
        use ssenotify_protocol::ReadyState::{Connecting, Open};
        let mut b = UpdateBatcher::new(100 * MS);
        // A start (or a wake) changes every subscription twice within one interval.
        for state in [Connecting, Open] {
            for i in 0..10_000 {
                b.push(status(&format!("s{i}"), state));
            }
        }
        let update = b.take(Instant::now());
        assert_eq!(
            update.statuses.len(),
            10_000,
            "one per subscription, none dropped"
        );
        assert!(update.statuses.iter().all(|s| s.ready_state == Open));
        assert_eq!(update.statuses[0].id, "s0", "in order of last change");
        assert_eq!(update.statuses[9_999].id, "s9999");
        assert!(!update.resync);
    }

    #[tokio::test(start_paused = true)]
    async fn a_removal_travels_and_takes_the_pending_status_with_it() {
        use ssenotify_protocol::ReadyState::Open;
        let mut b = UpdateBatcher::new(100 * MS);
        b.push(status("a", Open));
        b.push(status("b", Open));
        b.push(DaemonEvent::Removed {
            ids: vec!["b".into(), "c".into()],
        });
        let update = b.take(Instant::now());
        let ids: Vec<&str> = update.statuses.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["a"]);
        assert_eq!(update.removed, ["b", "c"]);
        // Back again before the next batch: a status, not a removal.
        b.push(DaemonEvent::Removed {
            ids: vec!["a".into()],
        });
        b.push(status("a", Open));
        let update = b.take(Instant::now());
        assert_eq!((update.statuses.len(), update.removed.len()), (1, 0));
        assert!(b.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_lagging_stream_asks_the_ui_to_refetch_the_list() {
        let mut b = UpdateBatcher::new(100 * MS);
        b.note_dropped(3);
        assert!(!b.is_empty(), "a lag alone is worth a batch");
        let update = b.take(Instant::now());
        assert!(update.resync);
        assert_eq!(update.dropped, 3);
        let json = serde_json::to_value(&update).unwrap();
        assert_eq!(json["resync"], true);
        let quiet = serde_json::to_value(b.take(Instant::now())).unwrap();
        assert!(quiet.get("resync").is_none() && quiet.get("removed").is_none());
    }
}
