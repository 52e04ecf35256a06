//! Gap accounting: each subscription's outages, from the last sign of life to the first
//! event after the reconnect, classified by `continuity` and, when not proven complete and
//! at least `gap_threshold` long, handed back to the pipeline to keep as a gap row.
//!
//! Nothing here writes per event: an outage's start is the drop's time (known in memory),
//! or after the daemon was not running the resume point's save time, which every stored
//! batch already writes. An outage open when the daemon stops is lost with it, and the
//! restart's outage (from the last event stored) stands for it.

use std::time::Duration;

use ssenotify_config::SubscriptionSpec;
use ssenotify_history::Outage;
use ssenotify_sse::{Event, ReadyState, Reason, StateChange};

use crate::continuity::{After, Before, Verdict, classify};

/// The cause of an outage that began while the daemon was not running.
pub(crate) const NOT_RUNNING: &str = "the daemon was not running";

/// One subscription's gap accounting.
#[derive(Debug, Default)]
pub(crate) struct Watch {
    /// `gap_threshold`: shorter possible gaps are not kept.
    threshold: Duration,
    /// `notify_gaps`.
    pub notify: bool,
    /// `sequence`: the JSON pointer to each event's sequence number.
    sequence: Option<Box<str>>,
    /// Whether the connection is OPEN.
    open: bool,
    /// The last event's sequence number (only with `sequence`).
    seq: Option<i64>,
    /// The outage under way, until the first events after the reconnect settle it (boxed:
    /// every subscription holds a `Watch`, few an outage).
    pending: Option<Box<Pending>>,
}

#[derive(Debug)]
struct Pending {
    start: i64,
    cause: String,
    before: Before,
    /// The server sent the stored resume point again: it replays from there.
    replayed: bool,
}

impl Watch {
    /// Applies the subscription's settings (a change keeps an outage under way).
    pub fn configure(&mut self, spec: &SubscriptionSpec) {
        self.threshold = spec.gap_threshold;
        self.notify = spec.notify_gaps;
        if self.sequence.as_deref() != spec.sequence.as_deref() {
            self.sequence = spec.sequence.as_deref().map(Box::from);
            self.seq = None;
        }
    }

    /// Whether the subscription declares a `sequence` whose last number is not known yet.
    pub fn needs_last_seq(&self) -> bool {
        self.sequence.is_some() && self.seq.is_none()
    }

    /// Sets the last sequence number from a stored event's `data` (after a restart).
    pub fn seed_seq(&mut self, data: &str) {
        self.seq = self.sequence_of(data);
        if let Some(pending) = &mut self.pending {
            pending.before.seq = self.seq;
        }
    }

    /// An outage that began while the daemon was not running: the last event stored at
    /// `last_saved` (unix ms), with resume point `last_id`.
    pub fn not_running_since(&mut self, last_saved: i64, last_id: String) {
        self.pending = Some(Box::new(Pending {
            start: last_saved,
            cause: NOT_RUNNING.into(),
            before: Before {
                last_id,
                seq: self.seq,
            },
            replayed: false,
        }));
    }

    /// A state change; `last_id` reads the resume point when an outage begins.
    pub fn on_state(&mut self, change: &StateChange, last_id: impl FnOnce() -> String) {
        let was_open = std::mem::replace(&mut self.open, change.ready_state == ReadyState::Open);
        let paused = change.reason == Reason::Paused;
        if self.open || self.pending.is_some() || !(was_open || paused) {
            return;
        }
        let at = ssenotify_history::unix_ms(change.at);
        // A half-open socket received nothing for the whole idle timeout.
        let start = match change.reason {
            Reason::IdleTimeout { after } => at.saturating_sub(after.as_millis() as i64),
            _ => at,
        };
        self.pending = Some(Box::new(Pending {
            start,
            cause: change.reason.to_string(),
            before: Before {
                last_id: last_id(),
                seq: self.seq,
            },
            replayed: false,
        }));
    }

    /// An event received at `now` (unix ms): returns the outage it settles as a possible
    /// gap to keep (at least `gap_threshold` long).
    pub fn on_event(&mut self, event: &Event, now: i64) -> Option<Outage> {
        let seq = self
            .sequence
            .as_ref()
            .and_then(|_| self.sequence_of(&event.data));
        if seq.is_some() {
            self.seq = seq;
        }
        let pending = self.pending.as_mut()?;
        let after = After {
            id: event.id.as_deref(),
            seq,
        };
        let (class, why) = match classify(&pending.before, after, pending.replayed) {
            Verdict::Wait => {
                pending.replayed |= after.id == Some(pending.before.last_id.as_str());
                return None;
            }
            Verdict::Complete => {
                self.pending = None;
                return None;
            }
            Verdict::Possible(class, why) => (class, why),
        };
        let pending = self.pending.take()?;
        let long = now.saturating_sub(pending.start) >= self.threshold.as_millis() as i64;
        long.then_some(Outage {
            start: pending.start,
            end: now,
            cause: pending.cause,
            class,
            why,
        })
    }

    fn sequence_of(&self, data: &str) -> Option<i64> {
        let pointer = self.sequence.as_deref()?;
        let json: serde_json::Value = serde_json::from_str(data).ok()?;
        let value = json.pointer(pointer)?;
        value
            .as_i64()
            .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
    }
}
