//! The routing part of the subscriptions file, as serde types.
//!
//! These are the shapes people write. They only check what serde can check alone (a
//! duration parses, a time of day is `HH:MM`); everything that needs compiling (globs,
//! regexes, JSON pointers, templates) is checked by [`crate::validate_rules`], so that an
//! error can name the rule and the field. The reference is `docs/routing.md`.

use std::collections::BTreeMap;
use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::time::Duration;

use chrono::Weekday;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// One routing rule of a subscription (the first rule that matches an event wins).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuleSpec {
    /// The event type (or glob) this rule matches; `message` when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// Conditions on the data; all must hold.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub when: Vec<ConditionSpec>,
    /// What a match does.
    #[serde(skip_serializing_if = "is_default")]
    pub action: ActionKind,
    /// Template of the notification's title (summary); the subscription name when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Template of the notification's body; the event data when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Template of the icon: a themed icon name, an absolute path, or an http(s) URL
    /// (fetched, see `docs/routing.md`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    /// Template of an http(s) URL of an image shown in the notification (fetched).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Fixed urgency, or the fallback when `urgency_from` finds nothing mapped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub urgency: Option<Urgency>,
    /// JSON pointer to the field the urgency is taken from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub urgency_from: Option<String>,
    /// How the `urgency_from` value maps to an urgency (a preset or a table).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub urgency_map: Option<UrgencyMapSpec>,
    /// How long the notification stays up: `never`, `default`, or a duration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Timeout>,
    /// Template of the freedesktop category (`im.received`, `transfer.complete`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Template of the themed sound name played with the notification.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sound: Option<String>,
    /// Template of the URL opened when the notification is clicked (`http`/`https` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub click_url: Option<String>,
    /// Template of the key that makes later notifications replace this one in place.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replace_key: Option<String>,
    /// Template of a progress value, 0 to 100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    /// Template of the application name shown with (and matched by) the notification server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_name: Option<String>,
    /// Whether this rule's notifications break through quiet hours (default: when critical).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub break_quiet: Option<bool>,
    /// Whether the body is markdown, shown with bold, italic and lists (default: when the
    /// event's JSON says so, as ntfy's `content_type = "text/markdown"` does).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub markdown: Option<bool>,
    /// Buttons shown on the notification (at most [`MAX_BUTTONS`]), where the server
    /// supports actions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<ButtonSpec>,
    /// The program and its arguments for `action = "command"` (no shell, no templating).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// How long the command may run before it is killed (default 30s).
    #[serde(with = "opt_duration", skip_serializing_if = "Option::is_none")]
    pub command_timeout: Option<Duration>,
    /// The silent-feed alarm: alert when no event matching this rule arrives for this long.
    #[serde(with = "opt_duration", skip_serializing_if = "Option::is_none")]
    pub expect_every: Option<Duration>,
    /// The urgency of that alert (default critical).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub silent_urgency: Option<Urgency>,
}

/// The most buttons one notification shows (servers show two or three at best).
pub const MAX_BUTTONS: usize = 3;

/// A button on a notification: its label and what pressing it does, exactly one of
/// `view` (open a URL) and `http` (send a request).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ButtonSpec {
    /// Template of the label.
    pub label: String,
    /// Template of the http(s) URL opened (in the desktop's browser) when pressed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view: Option<String>,
    /// The request sent when pressed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpButtonSpec>,
}

/// The longest an `http` button's request may take (its `timeout` may not say more).
pub const MAX_HTTP_TIMEOUT: Duration = Duration::from_secs(60);
/// An `http` button's timeout unless it says otherwise.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// The request an `http` button sends (as ntfy's `http` action does).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpButtonSpec {
    /// Template of the http(s) URL.
    pub url: String,
    /// The method (`GET`, `POST`, `PUT`, `PATCH`, `DELETE`); POST when absent, as in ntfy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Header values as the subscription's headers write them: a literal, `env:NAME` or
    /// `file:PATH` (resolved when pressed, sent only to the origin `url` names).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Template of the request body; none when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// How long the request may take (default 10s, at most 60s).
    #[serde(
        default,
        with = "opt_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub timeout: Option<Duration>,
}

/// A condition on the event data.
///
/// With `pointer` the data is parsed as JSON and the value at that pointer is tested;
/// without it the raw data text is tested (`contains`, `regex`, `equals` a string). Every
/// operator given must hold.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConditionSpec {
    /// RFC 6901 JSON pointer (`/build/status`; `""` is the whole document).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    /// The value equals this (numbers compare numerically: 3 equals 3.0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub equals: Option<serde_json::Value>,
    /// The pointer resolves (`true`) or does not (`false`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exists: Option<bool>,
    /// The value's text matches this regular expression (unanchored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// The value's text contains this substring.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contains: Option<String>,
    /// The value is a number (or numeric string) greater than this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gt: Option<serde_json::Number>,
    /// The value is a number (or numeric string) greater than or equal to this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ge: Option<serde_json::Number>,
    /// The value is a number (or numeric string) less than this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lt: Option<serde_json::Number>,
    /// The value is a number (or numeric string) less than or equal to this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub le: Option<serde_json::Number>,
    /// Inverts the result (a JSON condition on non-JSON data stays false).
    #[serde(skip_serializing_if = "is_default")]
    pub not: bool,
}

/// What a matching rule does with the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Show a desktop notification (and store the event in history).
    #[default]
    Notify,
    /// Store the event in history only.
    History,
    /// Neither show nor store the event.
    Drop,
    /// Run the rule's `command` with the event in environment variables.
    Command,
}

/// The freedesktop urgency level.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    /// Low: may be shown less prominently.
    Low,
    /// Normal.
    #[default]
    Normal,
    /// Critical: stays until dismissed; breaks through quiet hours unless told otherwise.
    Critical,
}

/// How `urgency_from` values map to urgencies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrgencyMapSpec {
    /// A built-in mapping.
    Preset(UrgencyPreset),
    /// Keys are exact values (`"high"`, `"3"`) or inclusive numeric ranges (`"4-7"`, `"8-"`).
    Table(BTreeMap<String, Urgency>),
}

/// The built-in urgency mappings (exact tables in `docs/routing.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UrgencyPreset {
    /// ntfy priorities: 1-2 low, 3 normal, 4-5 critical (and their names).
    Ntfy,
    /// Gotify priorities: 0-3 low, 4-7 normal, 8 and above critical.
    Gotify,
}

/// A kind of server whose messages a subscription shows as that server's own apps do
/// (`preset = "ntfy"`): which events notify, and how their JSON becomes a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// ntfy: only `message` events notify (not `open`, `keepalive`, `poll_request`), titled
    /// with the topic when they have no title.
    Ntfy,
}

impl Serialize for UrgencyMapSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Preset(p) => p.serialize(s),
            Self::Table(t) => t.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for UrgencyMapSpec {
    // Hand-written rather than `untagged` so a typo gets "unknown variant `ntfyy`,
    // expected `ntfy` or `gotify`" instead of "did not match any variant".
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = UrgencyMapSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a preset name (`ntfy`, `gotify`) or a table of value = urgency")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                UrgencyPreset::deserialize(de::value::StrDeserializer::<E>::new(v))
                    .map(UrgencyMapSpec::Preset)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                BTreeMap::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(UrgencyMapSpec::Table)
            }
        }
        d.deserialize_any(V)
    }
}

/// How long a notification stays up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Timeout {
    /// The notification server decides (`default`).
    #[default]
    Default,
    /// Until the user dismisses it (`never`).
    Never,
    /// This long (a duration such as `8s`).
    After(Duration),
}

impl Timeout {
    /// Whether this is the server's default (omitted when serialized).
    pub fn is_default(&self) -> bool {
        *self == Self::Default
    }
}

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str("default"),
            Self::Never => f.write_str("never"),
            Self::After(d) => f.write_str(&crate::duration::format_duration(*d)),
        }
    }
}

impl FromStr for Timeout {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "default" => Ok(Self::Default),
            "never" => Ok(Self::Never),
            other => match crate::duration::parse_duration(other) {
                Ok(d) if d.is_zero() => Err("a timeout of 0 is ambiguous: write `never`".into()),
                Ok(d) => Ok(Self::After(d)),
                Err(e) => Err(format!("expected `default`, `never` or a duration: {e}")),
            },
        }
    }
}

impl Serialize for Timeout {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timeout {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

/// A per-subscription popup rate limit; absent keys fall back to `[notifications]`, then
/// to the built-in defaults (5 per 10s, 3 catch-up popups).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitSpec {
    /// At most this many popups per window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<NonZeroU32>,
    /// The window length (a duration such as `10s`).
    #[serde(with = "opt_nonzero_duration", skip_serializing_if = "Option::is_none")]
    pub per: Option<Duration>,
    /// How many replayed (catch-up) events may pop up before the rest are summarised.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catch_up: Option<u32>,
}

/// The file-wide notification settings (quiet hours, default rate limit).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotificationSettings {
    /// Periods in which notifications are held for one digest (see [`QuietHoursSpec`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub quiet_hours: Vec<QuietHoursSpec>,
    /// The rate limit of subscriptions that do not set their own keys.
    #[serde(skip_serializing_if = "is_default")]
    pub rate_limit: RateLimitSpec,
    /// Do not disturb: quiet around the clock until it is turned off (the window's and
    /// the tray's toggle, `ssenotify dnd`); held notifications come as one digest then.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub do_not_disturb: bool,
    /// Quiet hours hold nothing until this local time (the window's "Show anyway"); do not
    /// disturb still does. Past, it means nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub show_anyway_until: Option<chrono::NaiveDateTime>,
}

/// A recurring quiet period in local time.
///
/// `from` later than `to` crosses midnight and belongs to the day it starts on
/// (`days = ["fri"], from = "22:00", to = "07:00"` is Friday 22:00 to Saturday 07:00);
/// `from` equal to `to` is the whole day from that time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuietHoursSpec {
    /// Days the period starts on (`mon` ... `sun`); every day when empty.
    #[serde(default, with = "weekdays", skip_serializing_if = "Vec::is_empty")]
    pub days: Vec<Weekday>,
    /// Local start time, `HH:MM`.
    pub from: TimeOfDay,
    /// Local end time, `HH:MM` (exclusive).
    pub to: TimeOfDay,
}

/// A local time of day with minute precision, written `HH:MM` (24-hour clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeOfDay {
    minutes: u16,
}

impl TimeOfDay {
    /// `hour:minute`, if both are in range.
    pub fn new(hour: u32, minute: u32) -> Option<Self> {
        (hour < 24 && minute < 60).then(|| Self {
            minutes: (hour * 60 + minute) as u16,
        })
    }

    /// Minutes since midnight.
    pub fn minutes(self) -> u32 {
        u32::from(self.minutes)
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.minutes / 60, self.minutes % 60)
    }
}

impl FromStr for TimeOfDay {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("expected a time of day `HH:MM` (00:00 to 23:59), got {s:?}");
        let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
        // One-digit hours are unambiguous (`7:30`); one-digit minutes are not (`7:5`).
        let number = |p: &str, lengths: std::ops::RangeInclusive<usize>| {
            (lengths.contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.parse::<u32>().ok())
                .flatten()
        };
        match (number(h, 1..=2), number(m, 2..=2)) {
            (Some(h), Some(m)) => Self::new(h, m).ok_or_else(bad),
            _ => Err(bad()),
        }
    }
}

impl Serialize for TimeOfDay {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TimeOfDay {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

// Durations are written like every other duration of the subscriptions file (`10s`,
// `90s`, `2m`), with the file's one duration syntax ([`crate::duration`]).
mod opt_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer, de};

    use crate::duration::{format_duration, parse_duration};

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&format_duration(*d)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let text = String::deserialize(d)?;
        parse_duration(text.trim())
            .map(Some)
            .map_err(de::Error::custom)
    }
}

// A rate-limit window of zero would divide nothing and limit nothing: refuse it early.
mod opt_nonzero_duration {
    use std::time::Duration;

    use serde::{Deserializer, Serializer, de};

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        super::opt_duration::serialize(d, s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        match super::opt_duration::deserialize(d)? {
            Some(d) if d.is_zero() => Err(de::Error::custom("the window must be longer than 0s")),
            other => Ok(other),
        }
    }
}

// Lowercase three-letter names out (`mon`); chrono's parser in (`Mon`, `monday`, ...).
mod weekdays {
    use chrono::Weekday;
    use serde::{Deserialize, Deserializer, Serializer, de, ser::SerializeSeq};

    pub fn serialize<S: Serializer>(days: &[Weekday], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(days.len()))?;
        for d in days {
            seq.serialize_element(&d.to_string().to_ascii_lowercase())?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Weekday>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|s| {
                s.parse::<Weekday>().map_err(|_| {
                    de::Error::custom(format!("unknown day {s:?}: expected mon ... sun"))
                })
            })
            .collect()
    }
}
