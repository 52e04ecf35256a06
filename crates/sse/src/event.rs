//! What a subscription reports: dispatched [`Event`]s and readyState changes, in order, as
//! [`Update`]s on a bounded channel read through [`Updates`].

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use smol_str::SmolStr;
use tokio::sync::mpsc;

use crate::state::StateChange;

/// How many batches of updates may wait for a slow consumer before the connection stops
/// reading; with [`BATCH_EVENTS`], at most 4096 events are ever queued per subscription.
///
/// Backpressure instead of an unbounded queue: a stalled UI slows the socket read (TCP
/// pushes back on the server) rather than growing memory without bound.
const UPDATE_BUFFER: usize = 16;
/// The most events sent as one batch (the events of one socket read, split).
pub(crate) const BATCH_EVENTS: usize = 256;

/// A batch of updates as it crosses the channel.
pub(crate) type Batch = VecDeque<Update>;

/// Emptied batches, handed back by the receiver for the connection to fill again.
///
/// Allocating a fresh 20 KiB batch per socket read made glibc consolidate its free lists
/// every time (a tenth of `listen`'s time on a fast stream); recycling them avoids it.
#[derive(Debug, Default)]
pub(crate) struct BatchPool(Mutex<Vec<Batch>>);

impl BatchPool {
    /// An empty batch, recycled when one is available.
    pub(crate) fn take(&self) -> Batch {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .unwrap_or_else(|| VecDeque::with_capacity(BATCH_EVENTS))
    }

    /// Keep an emptied batch for reuse (a few at most).
    fn give(&self, batch: Batch) {
        let mut pool = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if batch.is_empty() && pool.len() < 4 {
            pool.push(batch);
        }
    }
}

/// The receiving end of a subscription's updates, one [`Update`] at a time.
///
/// The connection sends the events of a socket read as batches: a channel operation per
/// event cost more than parsing the event (about a quarter of `listen`'s time).
#[derive(Debug)]
pub struct Updates {
    rx: mpsc::Receiver<Batch>,
    batch: Batch,
    pool: Arc<BatchPool>,
}

/// A subscription's update channel: the connection's sending end, the pool of emptied
/// batches it fills, and the subscriber's receiving end.
pub(crate) fn channel() -> (mpsc::Sender<Batch>, Arc<BatchPool>, Updates) {
    let (tx, rx) = mpsc::channel(UPDATE_BUFFER);
    let pool = Arc::new(BatchPool::default());
    let updates = Updates {
        rx,
        batch: Batch::new(),
        pool: pool.clone(),
    };
    (tx, pool, updates)
}

impl Updates {
    /// The next update; `None` once the subscription has finished and everything was read.
    pub async fn recv(&mut self) -> Option<Update> {
        loop {
            if let Some(update) = self.batch.pop_front() {
                return Some(update);
            }
            let next = self.rx.recv().await?;
            self.pool.give(std::mem::replace(&mut self.batch, next));
        }
    }

    /// The next update if one is ready now.
    pub fn try_recv(&mut self) -> Option<Update> {
        loop {
            if let Some(update) = self.batch.pop_front() {
                return Some(update);
            }
            let next = self.rx.try_recv().ok()?;
            self.pool.give(std::mem::replace(&mut self.batch, next));
        }
    }

    /// Whether no update is ready now.
    pub fn is_empty(&self) -> bool {
        self.batch.is_empty() && self.rx.is_empty()
    }
}

/// A dispatched event, owned, as the rest of the program receives it.
///
/// Type and IDs are [`SmolStr`]s: short ones (nearly all) live inline, so handing an event
/// on costs no allocation and no atomic reference count for them, which showed in
/// profiles of fast streams; long ones are shared like an `Arc<str>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// The event type (`message` unless the server named it with `event:`).
    #[serde(rename = "type")]
    pub event_type: SmolStr,
    /// The event's data (lines joined with LF).
    pub data: String,
    /// The last event ID in force at dispatch (empty when none).
    pub last_event_id: SmolStr,
    /// The event's own ID: `last_event_id` when this event's block carried `id:` itself,
    /// `None` when the ID was inherited from an earlier event. Deduplication keys on it.
    #[serde(skip)]
    pub id: Option<SmolStr>,
    /// The resume cursor taken from this event's data by the subscription's [`Resume`]
    /// adapter; `None` without an adapter or when the data holds none.
    #[serde(skip)]
    pub cursor: Option<SmolStr>,
}

/// What a subscription reports, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    /// readyState changed (or a reconnect was rescheduled with a new reason).
    State(StateChange),
    /// An event was dispatched.
    Event(Event),
}
