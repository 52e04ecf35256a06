//! Noticing that the machine slept, so every connection reconnects at once on wake.
//!
//! After a suspend, an open TCP connection is usually dead without either side having said
//! so (the server gave up on it, the Wi-Fi changed). Nothing arrives, and the idle timeout
//! alone would notice only minutes later: tokio's timers run on `CLOCK_MONOTONIC`, which
//! stands still while the machine sleeps, so the idle time left before the suspend is still
//! left after it. The browser's `EventSource` cannot tell either. Here a slow tick compares
//! `CLOCK_MONOTONIC` with `CLOCK_BOOTTIME` (which counts the suspend): when the second ran
//! ahead, the machine slept, and [`Wakeup`] makes every connection reconnect.
//!
//! [`SleepDetector`] is the pure part (clock readings in, "slept this long" out), tested
//! without sleeping anything; [`watch_for_sleep`] reads the clocks
//! ([`crate::Engine::watch_for_sleep`] starts it for an engine).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Makes every connection of an [`Engine`](crate::Engine) reconnect at once (the machine
/// woke from sleep, the network changed); cheap to clone and to keep after the engine is
/// gone.
#[derive(Debug, Clone)]
pub struct Wakeup(Arc<watch::Sender<Duration>>);

impl Wakeup {
    /// A signal nobody listens to yet.
    pub(crate) fn new() -> Self {
        Self(Arc::new(watch::channel(Duration::ZERO).0))
    }

    /// Every OPEN connection closes and reconnects with reason "the system woke", with a
    /// fresh backoff; one waiting to reconnect tries at once. `slept` is for that reason.
    pub fn wake(&self, slept: Duration) {
        self.0.send_replace(slept);
    }

    /// What one connection listens to: the value is how long the machine slept.
    pub(crate) fn subscribe(&self) -> watch::Receiver<Duration> {
        self.0.subscribe()
    }
}

/// How often the clocks are compared: a wake is acted on within this long. One wakeup
/// every few seconds costs nothing measurable, even with a thousand subscriptions.
const CHECK_INTERVAL: Duration = Duration::from_secs(5);

/// How much further the boot clock must have run than the monotonic one to count as a
/// sleep: far above scheduling noise, far below any real suspend.
const SLEEP_THRESHOLD: Duration = Duration::from_secs(3);

/// Turns pairs of clock readings into "the machine slept this long".
#[derive(Debug, Default)]
pub struct SleepDetector {
    last: Option<(Duration, Duration)>,
}

impl SleepDetector {
    /// Feeds one reading of (`CLOCK_MONOTONIC`, `CLOCK_BOOTTIME`); returns how long the
    /// machine slept since the previous reading, if it did.
    pub fn observe(&mut self, monotonic: Duration, boottime: Duration) -> Option<Duration> {
        let previous = self.last.replace((monotonic, boottime))?;
        let awake = monotonic.saturating_sub(previous.0);
        let elapsed = boottime.saturating_sub(previous.1);
        let slept = elapsed.saturating_sub(awake);
        (slept >= SLEEP_THRESHOLD).then_some(slept)
    }
}

/// Reads (`CLOCK_MONOTONIC`, `CLOCK_BOOTTIME`); `None` where there is no boot clock.
pub fn read_clocks() -> Option<(Duration, Duration)> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use rustix::time::{ClockId, clock_gettime};
        let read = |clock| {
            let ts = clock_gettime(clock);
            Some(Duration::new(
                u64::try_from(ts.tv_sec).ok()?,
                u32::try_from(ts.tv_nsec).ok()?,
            ))
        };
        Some((read(ClockId::Monotonic)?, read(ClockId::Boottime)?))
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        None
    }
}

/// Compares the clocks every [`CHECK_INTERVAL`] until `cancel`, and wakes every connection
/// of `wakeup`'s engine whenever the machine slept. Returns at once where there is no boot
/// clock.
pub async fn watch_for_sleep(wakeup: Wakeup, cancel: CancellationToken) {
    let mut detector = SleepDetector::default();
    let Some((monotonic, boottime)) = read_clocks() else {
        tracing::debug!("no boot clock: sleep is noticed by the idle timeout only");
        return;
    };
    detector.observe(monotonic, boottime);
    let mut tick = tokio::time::interval(CHECK_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let Some((monotonic, boottime)) = read_clocks() else {
            continue;
        };
        if let Some(slept) = detector.observe(monotonic, boottime) {
            tracing::info!(slept = %crate::state::fmt_duration(slept), "the system woke from sleep; reconnecting");
            wakeup.wake(slept);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn both_clocks_running_together_is_no_sleep() {
        let mut d = SleepDetector::default();
        assert_eq!(
            d.observe(100 * S, 150 * S),
            None,
            "the first reading only sets a base"
        );
        assert_eq!(d.observe(105 * S, 155 * S), None);
        // Scheduling noise under the threshold.
        assert_eq!(
            d.observe(110 * S, 162 * S),
            None,
            "2 s of drift is not a sleep"
        );
    }

    #[test]
    fn a_boot_clock_running_ahead_is_the_time_slept() {
        let mut d = SleepDetector::default();
        d.observe(100 * S, 150 * S);
        // 5 s awake, 40 min asleep.
        assert_eq!(d.observe(105 * S, (155 + 2400) * S), Some(2400 * S));
        // The next interval is measured from the wake, not from before it.
        assert_eq!(d.observe(110 * S, (160 + 2400) * S), None);
        assert_eq!(d.observe(111 * S, (161 + 2400 + 3) * S), Some(3 * S));
    }

    #[test]
    fn clocks_going_backwards_never_panic_or_report() {
        let mut d = SleepDetector::default();
        d.observe(100 * S, 150 * S);
        assert_eq!(d.observe(90 * S, 140 * S), None);
    }

    #[test]
    fn the_real_clocks_read_and_agree_while_awake() {
        let (m1, b1) = read_clocks().expect("Linux has both clocks");
        std::thread::sleep(Duration::from_millis(20));
        let (m2, b2) = read_clocks().unwrap();
        assert!(m2 > m1 && b2 > b1);
        let mut d = SleepDetector::default();
        d.observe(m1, b1);
        assert_eq!(d.observe(m2, b2), None);
    }
}
