//! Durations as the subscriptions file writes them (`3s`, `2m`, `1h 30m`, `30d`): one
//! syntax for every duration of the file, rules included, so a written file reads back the
//! same. It lives here, in the lowest crate whose specs hold durations; the config crate
//! uses it for the rest of the file.

use std::time::Duration;

/// Format a duration exactly, in the largest unit that divides it: `3s`, `2m`, `30d`, `1500ms`.
///
/// Unlike `humantime::format_duration` (which writes `1month 29days 13h 26m 24s` for 60
/// days) this stays short, and [`parse_duration`] reads it back to the same value.
pub fn format_duration(d: Duration) -> String {
    const UNITS: [(&str, u128); 7] = [
        ("d", 86_400_000_000_000),
        ("h", 3_600_000_000_000),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
        ("ns", 1),
    ];
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    let (unit, size) = UNITS
        .iter()
        .find(|(_, size)| nanos.is_multiple_of(*size))
        .copied()
        .unwrap_or(("ns", 1));
    format!("{}{unit}", nanos / size)
}

/// Parse a duration as people write it: `3s`, `2m`, `1h 30m`, `30d`, `1500ms`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| {
        format!("invalid duration {text:?} ({e}); expected a duration like \"3s\", \"2m\", \"1h 30m\" or \"30d\"")
    })
}
