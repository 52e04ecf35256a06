//! Pacing per origin: how many connection attempts may be under way at once, and how much
//! random delay spreads a crowd of them.
//!
//! A daemon that starts 10,000 subscriptions to one server, or sees them all dropped by
//! one outage, must not answer with 10,000 simultaneous handshakes. Two rules, per origin
//! (scheme, host, port of the subscription's URL):
//!
//! - **At most [`MAX_IN_FLIGHT`] attempts in flight**: from the TCP connect to the
//!   response's headers (or the failure). Later attempts wait their turn, first come first
//!   served. A fast server is barely slowed; a slow one never sees more than this many
//!   handshakes from us.
//! - **Jitter that grows with the crowd**: once an origin has seen more than
//!   [`MAX_IN_FLIGHT`] attempts in the last [`CROWD_WINDOW`], each further start or
//!   reconnect first waits a random part of [`SPREAD_PER_ATTEMPT`] times that count, at most
//!   [`MAX_SPREAD`]. A few subscriptions start and reconnect exactly on time (as a browser
//!   would); thousands started or dropped together arrive spread over up to a second.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use reqwest::Url;
use tokio::sync::{Semaphore, SemaphorePermit};

/// Most connection attempts to one origin between connect and response headers at once.
pub const MAX_IN_FLIGHT: usize = 32;
/// Extra spread per attempt the origin saw within [`CROWD_WINDOW`].
pub const SPREAD_PER_ATTEMPT: Duration = Duration::from_micros(100);
/// The widest spread: what 10,000 simultaneous attempts get.
pub const MAX_SPREAD: Duration = Duration::from_secs(1);
/// How far back attempts count towards the crowd.
pub const CROWD_WINDOW: Duration = Duration::from_secs(1);

/// What the subscriptions of one origin share.
#[derive(Debug)]
pub(crate) struct Origin {
    in_flight: Semaphore,
    /// Attempts since the start of the current window, and when it started.
    crowd: Mutex<(u32, Instant)>,
}

impl Origin {
    fn new() -> Self {
        Self {
            in_flight: Semaphore::new(MAX_IN_FLIGHT),
            crowd: Mutex::new((0, Instant::now())),
        }
    }

    /// Waits for a place among the attempts in flight; the attempt holds it until its
    /// response's headers arrive.
    pub(crate) async fn turn(&self) -> SemaphorePermit<'_> {
        // Never closed, so acquiring only ever waits.
        self.in_flight
            .acquire()
            .await
            .expect("the origin's semaphore is never closed")
    }

    /// Counts an attempt about to be made and returns the random delay it waits first;
    /// `sample` is uniform in `[0, 1)`.
    pub(crate) fn jitter(&self, sample: f64) -> Duration {
        let crowd = {
            let mut crowd = self.crowd.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            if now.duration_since(crowd.1) >= CROWD_WINDOW {
                *crowd = (0, now);
            }
            crowd.0 = crowd.0.saturating_add(1);
            crowd.0
        };
        spread(crowd).mul_f64(sample.clamp(0.0, 1.0))
    }
}

/// The spread for an attempt that is the `crowd`th in the window.
fn spread(crowd: u32) -> Duration {
    // No crowd, no jitter: a subscription on its own reconnects exactly when the server's
    // `retry:` says, as in a browser.
    if crowd as usize <= MAX_IN_FLIGHT {
        return Duration::ZERO;
    }
    SPREAD_PER_ATTEMPT.saturating_mul(crowd).min(MAX_SPREAD)
}

/// The origins of the engine's subscriptions, each shared while a subscription uses it.
#[derive(Debug, Default)]
pub(crate) struct Pacer {
    /// Keyed by the origin's ASCII serialization (`https://host:port`).
    origins: Mutex<HashMap<String, Weak<Origin>>>,
}

impl Pacer {
    /// The pacing state of `url`'s origin, created for its first subscription.
    pub(crate) fn origin(&self, url: &Url) -> Arc<Origin> {
        let mut origins = self.origins.lock().unwrap_or_else(|e| e.into_inner());
        let key = url.origin().ascii_serialization();
        if let Some(origin) = origins.get(&key).and_then(Weak::upgrade) {
            return origin;
        }
        // Forget origins nobody uses any more before the map would grow.
        if origins.len() == origins.capacity() {
            origins.retain(|_, origin| origin.strong_count() > 0);
        }
        let origin = Arc::new(Origin::new());
        origins.insert(key, Arc::downgrade(&origin));
        origin
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_few_attempts_wait_for_nothing_and_a_crowd_is_spread_up_to_a_second() {
        let limit = MAX_IN_FLIGHT as u32;
        assert_eq!(spread(1), Duration::ZERO);
        assert_eq!(spread(limit), Duration::ZERO);
        assert_eq!(spread(limit + 1), SPREAD_PER_ATTEMPT * (limit + 1));
        assert_eq!(spread(1_000), Duration::from_millis(100));
        assert_eq!(spread(10_000), MAX_SPREAD);
        assert_eq!(spread(u32::MAX), MAX_SPREAD);
        let origin = Origin::new();
        for _ in 0..limit {
            assert_eq!(origin.jitter(0.99), Duration::ZERO);
        }
        for _ in limit..999 {
            origin.jitter(0.5);
        }
        assert_eq!(origin.jitter(1.0), Duration::from_millis(100));
        assert_eq!(origin.jitter(0.0), Duration::ZERO);
    }

    #[test]
    fn subscriptions_share_their_origin_and_an_unused_one_is_forgotten() {
        let pacer = Pacer::default();
        let a = pacer.origin(&Url::parse("https://a.example/one").unwrap());
        let same = pacer.origin(&Url::parse("https://a.example:443/two?x").unwrap());
        let other_port = pacer.origin(&Url::parse("https://a.example:8443/one").unwrap());
        let other_scheme = pacer.origin(&Url::parse("http://a.example/one").unwrap());
        assert!(Arc::ptr_eq(&a, &same));
        assert!(!Arc::ptr_eq(&a, &other_port));
        assert!(!Arc::ptr_eq(&a, &other_scheme));
        drop((a, same, other_port, other_scheme));
        for i in 0..100 {
            pacer.origin(&Url::parse(&format!("http://h{i}.example/")).unwrap());
        }
        let live = pacer
            .origins
            .lock()
            .unwrap()
            .values()
            .filter(|o| o.strong_count() > 0)
            .count();
        assert_eq!(live, 0);
        assert!(pacer.origins.lock().unwrap().len() < 100 + 4);
    }

    #[tokio::test]
    async fn no_more_than_the_limit_are_in_flight_and_the_next_waits_its_turn() {
        let origin = Origin::new();
        let mut held = Vec::new();
        for _ in 0..MAX_IN_FLIGHT {
            held.push(origin.turn().await);
        }
        let next = origin.turn();
        tokio::pin!(next);
        assert!(
            futures_poll_once(next.as_mut()).await.is_none(),
            "the next one waits"
        );
        held.pop();
        assert!(
            futures_poll_once(next.as_mut()).await.is_some(),
            "and gets the freed place"
        );
    }

    /// Polls `future` once: `Some` when it is ready.
    async fn futures_poll_once<F: std::future::Future + Unpin>(future: F) -> Option<F::Output> {
        tokio::select! {
            biased;
            output = future => Some(output),
            () = std::future::ready(()) => None,
        }
    }
}
