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

/// Emptied batches, handed back by receivers for connections to fill again; one pool per
/// engine, shared by its subscriptions.
///
/// Allocating a fresh 20 KiB batch per socket read made glibc consolidate its free lists
/// every time (a tenth of `listen`'s time on a fast stream); recycling them avoids it. The
/// pool is the engine's, not each subscription's, and holds at most [`POOLED`] batches:
/// batches parked per subscription were 30 KiB of each idle subscription's memory.
#[derive(Debug, Default)]
pub(crate) struct BatchPool(Mutex<Vec<Batch>>);

/// The most emptied batches a pool keeps.
const POOLED: usize = 8;

impl BatchPool {
    /// An empty batch, recycled when one is available (a new one allocates only as it is
    /// filled, so a state change costs a few updates' worth, not a full batch).
    pub(crate) fn take(&self) -> Batch {
        self.lock().pop().unwrap_or_default()
    }

    /// Keep an emptied batch for reuse, if it has room and the pool is not full.
    fn give(&self, batch: Batch) {
        if batch.capacity() == 0 || !batch.is_empty() {
            return;
        }
        let mut pool = self.lock();
        if pool.len() < POOLED {
            pool.push(batch);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Batch>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
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

/// A subscription's own update channel: the connection's sink and the subscriber's
/// receiving end, recycling batches through the engine's `pool`.
pub(crate) fn channel(pool: Arc<BatchPool>) -> (Sink, Updates) {
    let (tx, rx) = mpsc::channel(UPDATE_BUFFER);
    let updates = Updates {
        rx,
        batch: Batch::new(),
        pool: pool.clone(),
    };
    (Sink::Own { tx, pool }, updates)
}

/// An update from one subscription, tagged with its id: what a channel shared by many
/// subscriptions carries (the [`Supervisor`](crate::Supervisor)'s merged stream).
#[derive(Debug, Clone)]
pub struct Tagged {
    /// The subscription's id.
    pub id: Arc<str>,
    /// What happened.
    pub update: Update,
}

/// Where a connection sends what it reports.
#[derive(Debug)]
pub(crate) enum Sink {
    /// Its own channel, in batches, read through [`Updates`] (one subscription's reader).
    Own {
        tx: mpsc::Sender<Batch>,
        pool: Arc<BatchPool>,
    },
    /// A channel many subscriptions share, each update tagged with the subscription's id.
    /// No channel and no task of its own: at ten thousand subscriptions, those were 2 KiB
    /// of each one's memory.
    Shared {
        tx: mpsc::Sender<Tagged>,
        id: Arc<str>,
    },
}

impl Sink {
    /// Sends one update; false once nobody receives them.
    pub(crate) async fn send(&self, update: Update) -> bool {
        match self {
            Self::Own { tx, pool } => {
                let mut batch = pool.take();
                batch.push_back(update);
                tx.send(batch).await.is_ok()
            }
            // A place first, then the value: waiting with the value inside the future would
            // make every stream's task hold room for it.
            Self::Shared { tx, id } => match tx.reserve().await {
                Ok(place) => {
                    place.send(Tagged {
                        id: id.clone(),
                        update,
                    });
                    true
                }
                Err(_) => false,
            },
        }
    }

    /// Sends every update of `updates` in order, leaving it empty; false once nobody
    /// receives them.
    pub(crate) async fn send_all(&self, updates: &mut Vec<Update>) -> bool {
        match self {
            Self::Own { tx, pool } => {
                // One pass (draining chunk by chunk from the front would move the rest down
                // each time), keeping the vector's capacity for the next read.
                let mut events = updates.drain(..);
                while events.len() > 0 {
                    let mut batch = pool.take();
                    batch.extend(events.by_ref().take(BATCH_EVENTS));
                    if tx.send(batch).await.is_err() {
                        return false;
                    }
                }
                true
            }
            Self::Shared { tx, id } => {
                for update in std::mem::take(updates) {
                    let Ok(place) = tx.reserve().await else {
                        return false;
                    };
                    place.send(Tagged {
                        id: id.clone(),
                        update,
                    });
                }
                // The vector's room is given up with it: kept, it would be a few hundred
                // bytes (after a burst, tens of KiB) in each of thousands of idle streams.
                true
            }
        }
    }
}

impl Updates {
    /// The next update; `None` once the subscription has finished and everything was read.
    pub async fn recv(&mut self) -> Option<Update> {
        if let Some(update) = self.next_in_batch() {
            return Some(update);
        }
        self.batch = self.rx.recv().await?;
        self.next_in_batch()
    }

    /// The next update if one is ready now.
    pub fn try_recv(&mut self) -> Option<Update> {
        if let Some(update) = self.next_in_batch() {
            return Some(update);
        }
        self.batch = self.rx.try_recv().ok()?;
        self.next_in_batch()
    }

    /// The next update of the current batch; once it is empty, the batch goes back to the
    /// pool at once (an idle subscription holds none while it waits).
    fn next_in_batch(&mut self) -> Option<Update> {
        let update = self.batch.pop_front();
        if self.batch.is_empty() {
            self.pool.give(std::mem::take(&mut self.batch));
        }
        update
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
