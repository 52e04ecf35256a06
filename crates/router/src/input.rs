//! What the caller tells the router: the time of a call, on its own clocks (the router has
//! none), and what it knows of an event that the router cannot.

use std::ops::Add;
use std::time::Duration;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

/// Milliseconds on the caller's monotonic clock (any origin, e.g. daemon start).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Millis(pub u64);

impl Millis {
    /// How long after `earlier` this is (zero if it is not after).
    pub fn saturating_since(self, earlier: Millis) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

impl From<Duration> for Millis {
    fn from(d: Duration) -> Self {
        Self(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

impl Add<Duration> for Millis {
    type Output = Millis;
    fn add(self, d: Duration) -> Millis {
        Millis(self.0.saturating_add(Millis::from(d).0))
    }
}

/// The moment of a call, as the caller's clocks show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// Monotonic time: rate windows, summaries and mutes are measured on it.
    pub mono: Millis,
    /// Local wall-clock time: quiet hours are judged on it.
    pub local: NaiveDateTime,
}

/// What the caller knows about an event that the router cannot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags {
    /// History already holds this event (same subscription and id): never notify again.
    pub duplicate: bool,
    /// Replayed after a reconnect or restart rather than live.
    pub catch_up: bool,
}
