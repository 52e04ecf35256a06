//! The reconnect policy, as pure functions: what a response means, and how long to wait.
//!
//! A browser's `EventSource` fails for good on any non-200 status (a 503 during a deploy
//! kills the feed until the page reloads) and retries a dropped connection at a fixed
//! interval forever. ssenotify keeps the browser's behaviour for a healthy stream and adds
//! what a long-lived desktop subscription needs: 204 means stop, 5xx/408/429 are retried
//! with exponential backoff and jitter, `Retry-After` is honoured, the server's `retry:` is
//! the floor. Kept free of I/O and clocks so that every rule has a unit test.

use std::time::Duration;

/// The reconnection time used until the server sends `retry:` (browsers use 3 to 5 s).
pub const DEFAULT_RECONNECT: Duration = Duration::from_secs(3);
/// The longest backoff between failing attempts, unless `retry:` or `Retry-After` ask more.
pub const DEFAULT_BACKOFF_CAP: Duration = Duration::from_secs(60);
/// No bytes at all (not even a keep-alive comment) for this long means the socket is dead.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// A connection open this long counts as healthy even if it dispatched no event.
pub(crate) const HEALTHY_AFTER: Duration = Duration::from_secs(30);
/// `Retry-After` is honoured up to this bound, so a typo on the server cannot park a feed for days.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// The reconnect and limit settings of one subscription.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Policy {
    /// Reconnect at all; `false` is `listen --once`: the first end or failure is final.
    pub reconnect: bool,
    /// The reconnection time before the server sets one with `retry:`.
    pub initial_reconnect: Duration,
    /// The cap of the exponential backoff.
    pub backoff_cap: Duration,
    /// How long a connection may receive nothing before it is declared dead.
    pub idle_timeout: Duration,
    /// The largest event (data + type), or field line, accepted, in bytes; comment lines
    /// are skipped as they arrive, whatever their length.
    pub max_event_size: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            reconnect: true,
            initial_reconnect: DEFAULT_RECONNECT,
            backoff_cap: DEFAULT_BACKOFF_CAP,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_event_size: crate::parse::DEFAULT_MAX_EVENT_SIZE,
        }
    }
}

/// What a response's status line and Content-Type mean for the subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// 200 with `text/event-stream`: readyState OPEN, read the stream.
    Open,
    /// 204 No Content: the server asks the client to stop; CLOSED, no reconnect.
    Stop,
    /// 5xx, 408, 429: a passing problem on the server; retry with backoff.
    Retry,
    /// 200 with another Content-Type: fatal, CLOSED (retrying cannot fix it).
    WrongContentType,
    /// Any other status (4xx, 2xx other than 200/204, 3xx not followed): fatal, CLOSED.
    Fatal,
}

/// Classify a final (post-redirect) response.
pub fn classify(status: u16, content_type: Option<&str>) -> Verdict {
    match status {
        200 if content_type.is_some_and(is_event_stream) => Verdict::Open,
        200 => Verdict::WrongContentType,
        204 => Verdict::Stop,
        408 | 429 | 500..=599 => Verdict::Retry,
        _ => Verdict::Fatal,
    }
}

/// Whether a Content-Type header names `text/event-stream` (parameters allowed).
pub fn is_event_stream(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("text/event-stream")
}

/// Parse a `Retry-After` value: delay-seconds or an HTTP-date, relative to `now`.
pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    let delay = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        Duration::from_secs(value.parse().unwrap_or(u64::MAX))
    } else {
        let when = httpdate::parse_http_date(value).ok()?;
        when.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(delay.min(MAX_RETRY_AFTER))
}

/// The delay before the next attempt.
///
/// `failures` counts attempts in a row that did not reach a healthy stream (0 after a healthy
/// one); `reconnect` is the current reconnection time (the server's `retry:` or the
/// default), which is the floor; `jitter` is a uniform sample in `[0, 1)`, injected so the
/// function stays pure. After a healthy stream the delay is exactly the reconnection time,
/// as in a browser; then it doubles per failure up to `cap`, spread over its upper half so
/// that many clients dropped together do not come back together.
pub fn reconnect_delay(
    reconnect: Duration,
    failures: u32,
    cap: Duration,
    retry_after: Option<Duration>,
    jitter: f64,
) -> Duration {
    let backoff = if failures <= 1 {
        reconnect
    } else {
        let exp = reconnect.saturating_mul(1u32 << (failures - 1).min(20));
        let ceiling = exp.min(cap);
        let jittered = ceiling.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0));
        jittered.max(reconnect)
    };
    retry_after.map_or(backoff, |after| backoff.max(after))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    #[test]
    fn classify_follows_the_documented_policy() {
        let sse = Some("text/event-stream");
        assert_eq!(classify(200, sse), Verdict::Open);
        assert_eq!(
            classify(200, Some("Text/Event-Stream; charset=utf-8")),
            Verdict::Open
        );
        assert_eq!(classify(200, Some("text/html")), Verdict::WrongContentType);
        assert_eq!(classify(200, None), Verdict::WrongContentType);
        assert_eq!(
            classify(200, Some("text/event-streamx")),
            Verdict::WrongContentType
        );
        assert_eq!(classify(204, sse), Verdict::Stop);
        for retryable in [408, 429, 500, 502, 503, 504, 599] {
            assert_eq!(classify(retryable, sse), Verdict::Retry, "{retryable}");
        }
        for fatal in [201, 206, 304, 400, 401, 403, 404, 410] {
            assert_eq!(classify(fatal, sse), Verdict::Fatal, "{fatal}");
        }
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(42));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(42))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(42));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("99999999999", now), Some(MAX_RETRY_AFTER));
    }

    #[test]
    fn healthy_stream_reconnects_after_exactly_the_reconnection_time() {
        let r = Duration::from_millis(1500);
        let cap = Duration::from_secs(60);
        for jitter in [0.0, 0.5, 0.999] {
            assert_eq!(reconnect_delay(r, 0, cap, None, jitter), r);
            assert_eq!(reconnect_delay(r, 1, cap, None, jitter), r);
        }
    }

    #[test]
    fn backoff_doubles_within_jitter_and_stops_at_the_cap() {
        let r = Duration::from_secs(1);
        let cap = Duration::from_secs(30);
        for failures in 2..12u32 {
            let ceiling = (r * 2u32.pow(failures - 1)).min(cap);
            let low = reconnect_delay(r, failures, cap, None, 0.0);
            let high = reconnect_delay(r, failures, cap, None, 0.999_999);
            assert_eq!(low, (ceiling / 2).max(r), "failures={failures}");
            assert!(high <= ceiling && high > ceiling.mul_f64(0.99), "{high:?}");
        }
        // Growth: the lowest delay of 4 failures beats the highest of 2.
        assert!(reconnect_delay(r, 4, cap, None, 0.0) > reconnect_delay(r, 2, cap, None, 0.999));
        assert!(reconnect_delay(r, u32::MAX, cap, None, 0.999) <= cap);
    }

    #[test]
    fn server_retry_is_the_floor_even_above_the_cap() {
        let r = Duration::from_secs(90);
        let cap = Duration::from_secs(60);
        assert_eq!(reconnect_delay(r, 5, cap, None, 0.0), r);
    }

    #[test]
    fn retry_after_wins_when_longer_and_not_when_shorter() {
        let r = Duration::from_secs(1);
        let cap = Duration::from_secs(60);
        let after = Some(Duration::from_secs(10));
        assert_eq!(
            reconnect_delay(r, 1, cap, after, 0.3),
            Duration::from_secs(10)
        );
        let short = Some(Duration::from_millis(10));
        assert_eq!(reconnect_delay(r, 1, cap, short, 0.3), r);
    }
}
