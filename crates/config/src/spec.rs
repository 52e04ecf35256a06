//! One subscription as the file describes it, and the serde forms of its values.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, SecondsFormat};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use ssenotify_router::{Preset, RateLimitSpec, RuleSpec, Urgency};
use ssenotify_sse::policy::{DEFAULT_BACKOFF_CAP, DEFAULT_IDLE_TIMEOUT, DEFAULT_RECONNECT, Policy};

pub use ssenotify_router::duration::{format_duration, parse_duration};

/// The largest event accepted unless `max_event_size` says otherwise, in bytes.
pub const DEFAULT_MAX_EVENT_SIZE: usize = ssenotify_sse::parse::DEFAULT_MAX_EVENT_SIZE;

/// Default `history.max_events`: the last 1,000 events of each subscription.
pub const DEFAULT_MAX_EVENTS: usize = 1000;

/// Default `history.max_age`: 30 days.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// Default `gap_threshold`: outages shorter than a minute are not reported as gaps.
pub const DEFAULT_GAP_THRESHOLD: Duration = Duration::from_secs(60);

/// The most events a subscription may keep, whatever its file asks for.
pub const MAX_EVENTS_LIMIT: usize = 100_000;

/// One subscription: where to connect, how, and what to do with its events.
///
/// Fields left at their default are omitted when the file is written, so hand-written
/// files stay small and a written file reads like one a person would write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionSpec {
    /// The stable identifier: 1 to 64 of `A-Z a-z 0-9 _ . -`, not starting with `.` or `-`.
    #[schemars(regex(pattern = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$"))]
    pub id: String,
    /// The name shown to people; the id when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The `http`/`https` URL of the event stream.
    #[schemars(regex(pattern = r"^[hH][tT][tT][pP][sS]?://"))]
    pub url: String,
    /// Extra request headers: name → literal value or secret reference.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, Secret>,
    /// Query parameters added to the URL when connecting: name → literal value or secret
    /// reference (where `add`/`import` put a token found in the URL, so the file never
    /// holds it in clear).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, Secret>,
    /// Credentials sent as the `Authorization` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthSpec>,
    /// Whether the daemon runs this subscription at all.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub enabled: bool,
    /// Whether the subscription is paused (kept, but not connected).
    #[serde(default, skip_serializing_if = "is_false")]
    pub paused: bool,
    /// The reconnection time until the server sends `retry:`.
    #[serde(
        default = "default_reconnect",
        skip_serializing_if = "is_default_reconnect",
        with = "duration_serde"
    )]
    #[schemars(schema_with = "crate::schema_parts::duration")]
    pub reconnect_time: Duration,
    /// The cap of the exponential backoff between failing attempts.
    #[serde(
        default = "default_backoff_cap",
        skip_serializing_if = "is_default_backoff_cap",
        with = "duration_serde"
    )]
    #[schemars(schema_with = "crate::schema_parts::duration")]
    pub backoff_cap: Duration,
    /// How long a connection may receive nothing before it is declared dead.
    #[serde(
        default = "default_idle_timeout",
        skip_serializing_if = "is_default_idle_timeout",
        with = "duration_serde"
    )]
    #[schemars(schema_with = "crate::schema_parts::duration")]
    pub idle_timeout: Duration,
    /// The largest event accepted, in bytes.
    #[serde(
        default = "default_max_event_size",
        skip_serializing_if = "is_default_max_event_size"
    )]
    pub max_event_size: usize,
    /// A PEM file of extra CA certificates (absolute, `~/`, or relative to the config dir).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// The kind of server, shown as its own apps show it (`ntfy`): which events notify,
    /// how their JSON reads, and (ntfy) the resume adapter when `resume` is not set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema_parts::preset")]
    pub preset: Option<Preset>,
    /// The resume adapter for servers that send no `id:` (ntfy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<ResumeSpec>,
    /// How much of this subscription's history is kept.
    #[serde(default, skip_serializing_if = "is_default")]
    pub history: HistorySpec,
    /// Routing rules, first match wins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::schema_parts::rules")]
    pub rules: Vec<RuleSpec>,
    /// A popup rate limit for this subscription.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema_parts::rate_limit")]
    pub rate_limit: Option<RateLimitSpec>,
    /// No popups until this time (events are still received and recorded).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "timestamp_serde"
    )]
    #[schemars(schema_with = "crate::schema_parts::timestamp")]
    pub mute_until: Option<DateTime<FixedOffset>>,
    // The silent-feed alarm (README "Silent-feed alarm", docs/subscriptions.md).
    /// Alert when no event is kept for this long (a rule's `expect_every` counts only its
    /// matches).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt_duration_serde"
    )]
    #[schemars(schema_with = "crate::schema_parts::expect_every")]
    pub expect_every: Option<Duration>,
    /// The urgency of that alert (default critical).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema_parts::silent_urgency")]
    pub silent_urgency: Option<Urgency>,
    // Gap accounting: see the daemon's `outage` module.
    /// An outage not proven complete and lasting at least this long is kept in history as
    /// a "possible gap" row (`0s`: every one).
    #[serde(
        default = "default_gap_threshold",
        skip_serializing_if = "is_default_gap_threshold",
        with = "duration_serde"
    )]
    #[schemars(schema_with = "crate::schema_parts::duration")]
    pub gap_threshold: Duration,
    /// Whether a possible gap is also shown as a notification.
    #[serde(default, skip_serializing_if = "is_false")]
    pub notify_gaps: bool,
    /// A JSON pointer to an integer in each event's data that grows by one per event
    /// (`"/seq"`): it proves across a reconnect that nothing was skipped, or that something was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<String>,
}

impl SubscriptionSpec {
    /// A subscription of `url` named `id`, every other setting at its default.
    pub fn new(id: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: None,
            url: url.into(),
            headers: BTreeMap::new(),
            query: BTreeMap::new(),
            auth: None,
            enabled: true,
            paused: false,
            reconnect_time: DEFAULT_RECONNECT,
            backoff_cap: DEFAULT_BACKOFF_CAP,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_event_size: DEFAULT_MAX_EVENT_SIZE,
            ca_file: None,
            preset: None,
            resume: None,
            history: HistorySpec::default(),
            rules: Vec::new(),
            rate_limit: None,
            mute_until: None,
            expect_every: None,
            silent_urgency: None,
            gap_threshold: DEFAULT_GAP_THRESHOLD,
            notify_gaps: false,
            sequence: None,
        }
    }

    /// The name shown to people: `name`, or the id when there is none.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }

    /// The resume adapter in force: `resume`, or the preset's (ntfy: `/id` as `?since=`).
    pub fn resume_adapter(&self) -> Option<ResumeSpec> {
        match (&self.resume, self.preset) {
            (Some(resume), _) => Some(resume.clone()),
            (None, Some(Preset::Ntfy)) => Some(ResumeSpec::ntfy()),
            (None, None) => None,
        }
    }

    /// The engine's reconnect and limit settings for this subscription.
    pub fn policy(&self) -> Policy {
        Policy {
            reconnect: true,
            initial_reconnect: self.reconnect_time,
            backoff_cap: self.backoff_cap,
            idle_timeout: self.idle_timeout,
            max_event_size: self.max_event_size,
        }
    }

    /// The fields that differ between `self` (old) and `new`, in file order.
    pub fn changed_fields(&self, new: &Self) -> Vec<Field> {
        // Destructured rather than accessed by name so that a field added to the struct
        // fails to compile here until it is classified (routing-only or reconnect).
        let Self {
            id: _,
            name,
            url,
            headers,
            query,
            auth,
            enabled,
            paused,
            reconnect_time,
            backoff_cap,
            idle_timeout,
            max_event_size,
            ca_file,
            preset,
            resume,
            history,
            rules,
            rate_limit,
            mute_until,
            expect_every,
            silent_urgency,
            gap_threshold,
            notify_gaps,
            sequence,
        } = self;
        let checks = [
            (Field::Name, *name == new.name),
            (Field::Url, *url == new.url),
            (Field::Headers, *headers == new.headers),
            (Field::Query, *query == new.query),
            (Field::Auth, *auth == new.auth),
            (Field::Enabled, *enabled == new.enabled),
            (Field::Paused, *paused == new.paused),
            (Field::ReconnectTime, *reconnect_time == new.reconnect_time),
            (Field::BackoffCap, *backoff_cap == new.backoff_cap),
            (Field::IdleTimeout, *idle_timeout == new.idle_timeout),
            (Field::MaxEventSize, *max_event_size == new.max_event_size),
            (Field::CaFile, *ca_file == new.ca_file),
            (Field::Preset, *preset == new.preset),
            (Field::Resume, *resume == new.resume),
            (Field::History, *history == new.history),
            (Field::Rules, *rules == new.rules),
            (Field::RateLimit, *rate_limit == new.rate_limit),
            (Field::MuteUntil, *mute_until == new.mute_until),
            (Field::ExpectEvery, *expect_every == new.expect_every),
            (Field::SilentUrgency, *silent_urgency == new.silent_urgency),
            (Field::GapThreshold, *gap_threshold == new.gap_threshold),
            (Field::NotifyGaps, *notify_gaps == new.notify_gaps),
            (Field::Sequence, *sequence == new.sequence),
        ];
        checks
            .into_iter()
            .filter(|(_, same)| !same)
            .map(|(field, _)| field)
            .collect()
    }
}

/// A field of a subscription, as named in the file (for diffs and live apply).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// `name`
    Name,
    /// `url`
    Url,
    /// `headers`
    Headers,
    /// `query`
    Query,
    /// `auth`
    Auth,
    /// `enabled`
    Enabled,
    /// `paused`
    Paused,
    /// `reconnect_time`
    ReconnectTime,
    /// `backoff_cap`
    BackoffCap,
    /// `idle_timeout`
    IdleTimeout,
    /// `max_event_size`
    MaxEventSize,
    /// `ca_file`
    CaFile,
    /// `preset`
    Preset,
    /// `resume`
    Resume,
    /// `history`
    History,
    /// `rules`
    Rules,
    /// `rate_limit`
    RateLimit,
    /// `mute_until`
    MuteUntil,
    /// `expect_every`
    ExpectEvery,
    /// `silent_urgency`
    SilentUrgency,
    /// `gap_threshold`
    GapThreshold,
    /// `notify_gaps`
    NotifyGaps,
    /// `sequence`
    Sequence,
}

impl Field {
    /// The key as written in the file.
    pub fn key(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Url => "url",
            Self::Headers => "headers",
            Self::Query => "query",
            Self::Auth => "auth",
            Self::Enabled => "enabled",
            Self::Paused => "paused",
            Self::ReconnectTime => "reconnect_time",
            Self::BackoffCap => "backoff_cap",
            Self::IdleTimeout => "idle_timeout",
            Self::MaxEventSize => "max_event_size",
            Self::CaFile => "ca_file",
            Self::Preset => "preset",
            Self::Resume => "resume",
            Self::History => "history",
            Self::Rules => "rules",
            Self::RateLimit => "rate_limit",
            Self::MuteUntil => "mute_until",
            Self::ExpectEvery => "expect_every",
            Self::SilentUrgency => "silent_urgency",
            Self::GapThreshold => "gap_threshold",
            Self::NotifyGaps => "notify_gaps",
            Self::Sequence => "sequence",
        }
    }

    /// Whether a change of this field means the connection must be restarted (or started
    /// or stopped); the others (name, routing, mute, retention) apply to a live connection.
    pub fn needs_reconnect(self) -> bool {
        match self {
            Self::Url
            | Self::Headers
            | Self::Query
            | Self::Auth
            | Self::Enabled
            | Self::Paused
            | Self::ReconnectTime
            | Self::BackoffCap
            | Self::IdleTimeout
            | Self::MaxEventSize
            | Self::CaFile
            | Self::Preset
            | Self::Resume => true,
            Self::Name
            | Self::History
            | Self::Rules
            | Self::RateLimit
            | Self::MuteUntil
            | Self::ExpectEvery
            | Self::SilentUrgency => false,
            Self::GapThreshold | Self::NotifyGaps | Self::Sequence => false,
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// Credentials for the `Authorization` header: `{ type = "basic", ... }` or `{ type = "bearer", ... }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum AuthSpec {
    /// HTTP Basic.
    Basic {
        /// The user name (not a secret; must not contain `:`).
        username: String,
        /// The password: a reference (`env:`/`file:`) in the file.
        password: Secret,
    },
    /// `Authorization: Bearer <token>`.
    Bearer {
        /// The token: a reference (`env:`/`file:`) in the file.
        token: Secret,
    },
}

/// A header value or credential: a literal, or a reference resolved at connection time.
///
/// Written as one string: `env:NAME`, `file:PATH`, or anything else as a literal. A value
/// that starts with `env:` or `file:` is always a reference.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    /// `env:NAME`: the value of an environment variable of the daemon.
    Env(String),
    /// `file:PATH`: a file's content without its final newline (path absolute, `~/`, or
    /// relative to the config dir).
    File(String),
    /// The value itself.
    Literal(String),
}

impl Secret {
    /// Read the written form: `env:NAME`, `file:PATH`, or a literal.
    pub fn parse(text: &str) -> Self {
        if let Some(name) = text.strip_prefix("env:") {
            Self::Env(name.to_owned())
        } else if let Some(path) = text.strip_prefix("file:") {
            Self::File(path.to_owned())
        } else {
            Self::Literal(text.to_owned())
        }
    }

    /// The written form (a literal is returned as is: do not log it).
    pub fn as_written(&self) -> String {
        match self {
            Self::Env(name) => format!("env:{name}"),
            Self::File(path) => format!("file:{path}"),
            Self::Literal(value) => value.clone(),
        }
    }

    /// Whether the value is written in clear rather than referenced.
    pub fn is_literal(&self) -> bool {
        matches!(self, Self::Literal(_))
    }
}

impl fmt::Debug for Secret {
    // A literal may be a password that has not been stashed yet: keep it out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Literal(_) => f.write_str("Literal(***)"),
            other => write!(f, "{:?}", other.as_written()),
        }
    }
}

impl From<&str> for Secret {
    fn from(text: &str) -> Self {
        Self::parse(text)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.as_written())
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_str(
            deserializer,
            "a string (a value, env:NAME or file:PATH)",
            |text| Ok(Self::parse(text)),
        )
    }
}

impl schemars::JsonSchema for Secret {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Secret".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A value, or a reference resolved when connecting: `env:NAME` (an environment variable of the daemon) or `file:PATH` (a file's content)."
        })
    }
}

/// The resume adapter: where the cursor is in each event's data, and how to send it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResumeSpec {
    /// A JSON pointer (RFC 6901) into the event data, e.g. `/id`.
    pub cursor: String,
    /// The query parameter that carries the cursor on reconnect, e.g. `since`.
    pub query: String,
    /// The event types whose cursor counts: `message` (the type of events sent without
    /// `event:`) unless given; `["*"]` for every type.
    #[serde(
        default = "default_resume_events",
        skip_serializing_if = "is_default_resume_events"
    )]
    pub events: Vec<String>,
}

fn default_resume_events() -> Vec<String> {
    vec!["message".into()]
}

fn is_default_resume_events(events: &Vec<String>) -> bool {
    *events == default_resume_events()
}

impl ResumeSpec {
    /// The ntfy adapter: `/id` of each message, sent back as `?since=` (its `open` and
    /// `keepalive` events carry ids the server does not keep).
    pub fn ntfy() -> Self {
        Self {
            cursor: "/id".into(),
            query: "since".into(),
            events: default_resume_events(),
        }
    }

    /// The event types whose cursor counts, as the engine takes them (empty: every type).
    pub fn counted_events(&self) -> Vec<String> {
        if self.events.iter().any(|t| t == "*") {
            Vec::new()
        } else {
            self.events.clone()
        }
    }
}

/// How much history is kept for one subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HistorySpec {
    /// Keep at most this many events (the newest).
    #[serde(
        default = "default_history_events",
        skip_serializing_if = "is_default_history_events"
    )]
    pub max_events: usize,
    /// Drop events older than this.
    #[serde(
        default = "default_history_age",
        skip_serializing_if = "is_default_history_age",
        with = "duration_serde"
    )]
    #[schemars(schema_with = "crate::schema_parts::duration")]
    pub max_age: Duration,
}

impl Default for HistorySpec {
    fn default() -> Self {
        Self {
            max_events: DEFAULT_MAX_EVENTS,
            max_age: DEFAULT_MAX_AGE,
        }
    }
}

/// Parse an RFC 3339 timestamp such as `2025-06-01T18:00:00Z` or `2025-06-01T20:00:00+02:00`.
pub fn parse_timestamp(text: &str) -> Result<DateTime<FixedOffset>, String> {
    DateTime::parse_from_rfc3339(text).map_err(|e| {
        format!("invalid timestamp {text:?} ({e}); expected RFC 3339 like \"2025-06-01T18:00:00Z\"")
    })
}

/// The written form of a timestamp: RFC 3339, `Z` for UTC, fractions only when present.
pub fn format_timestamp(t: &DateTime<FixedOffset>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Deserialize a string and convert it, with a precise "expected" for other types.
fn deserialize_str<'de, D, T>(
    deserializer: D,
    expecting: &'static str,
    convert: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    struct Visitor<F>(&'static str, F);

    impl<T, F: FnOnce(&str) -> Result<T, String>> serde::de::Visitor<'_> for Visitor<F> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }

        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<T, E> {
            (self.1)(text).map_err(E::custom)
        }
    }

    deserializer.deserialize_str(Visitor(expecting, convert))
}

mod duration_serde {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_duration(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        deserialize_str(
            deserializer,
            "a duration string like \"3s\" or \"2m\"",
            parse_duration,
        )
    }
}

mod opt_duration_serde {
    use super::*;

    pub fn serialize<S: Serializer>(
        d: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::duration_serde::serialize(d, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        super::duration_serde::deserialize(deserializer).map(Some)
    }
}

mod timestamp_serde {
    use super::*;

    pub fn serialize<S: Serializer>(
        t: &Option<DateTime<FixedOffset>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => serializer.serialize_str(&format_timestamp(t)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<DateTime<FixedOffset>>, D::Error> {
        deserialize_str(
            deserializer,
            "an RFC 3339 timestamp string like \"2025-06-01T18:00:00Z\"",
            parse_timestamp,
        )
        .map(Some)
    }
}

// serde's `default` and `skip_serializing_if` take paths, not expressions.
fn yes() -> bool {
    true
}
fn is_true(v: &bool) -> bool {
    *v
}
fn is_false(v: &bool) -> bool {
    !*v
}
pub(super) fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}
fn default_reconnect() -> Duration {
    DEFAULT_RECONNECT
}
fn is_default_reconnect(d: &Duration) -> bool {
    *d == DEFAULT_RECONNECT
}
fn default_backoff_cap() -> Duration {
    DEFAULT_BACKOFF_CAP
}
fn is_default_backoff_cap(d: &Duration) -> bool {
    *d == DEFAULT_BACKOFF_CAP
}
fn default_idle_timeout() -> Duration {
    DEFAULT_IDLE_TIMEOUT
}
fn is_default_idle_timeout(d: &Duration) -> bool {
    *d == DEFAULT_IDLE_TIMEOUT
}
fn default_gap_threshold() -> Duration {
    DEFAULT_GAP_THRESHOLD
}
fn is_default_gap_threshold(d: &Duration) -> bool {
    *d == DEFAULT_GAP_THRESHOLD
}
fn default_max_event_size() -> usize {
    DEFAULT_MAX_EVENT_SIZE
}
fn is_default_max_event_size(n: &usize) -> bool {
    *n == DEFAULT_MAX_EVENT_SIZE
}
fn default_history_events() -> usize {
    DEFAULT_MAX_EVENTS
}
fn is_default_history_events(n: &usize) -> bool {
    *n == DEFAULT_MAX_EVENTS
}
fn default_history_age() -> Duration {
    DEFAULT_MAX_AGE
}
fn is_default_history_age(d: &Duration) -> bool {
    *d == DEFAULT_MAX_AGE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_format_exactly_and_read_back() {
        for (d, text) in [
            (Duration::from_secs(3), "3s"),
            (Duration::from_secs(120), "2m"),
            (Duration::from_secs(30 * 86_400), "30d"),
            (Duration::from_secs(60 * 86_400), "60d"),
            (Duration::from_secs(5400), "90m"),
            (Duration::from_millis(1500), "1500ms"),
            (Duration::from_nanos(7), "7ns"),
            (Duration::ZERO, "0s"),
        ] {
            assert_eq!(format_duration(d), text);
            assert_eq!(parse_duration(text), Ok(d), "{text}");
        }
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        let err = parse_duration("3 sex").unwrap_err();
        assert!(err.contains("expected a duration like"), "{err}");
    }

    #[test]
    fn secrets_read_and_write_their_form_and_hide_literals() {
        assert_eq!(Secret::parse("env:TOKEN"), Secret::Env("TOKEN".into()));
        assert_eq!(Secret::parse("file:~/t"), Secret::File("~/t".into()));
        assert_eq!(Secret::parse("hunter2"), Secret::Literal("hunter2".into()));
        for text in ["env:TOKEN", "file:~/t", "hunter2", ""] {
            assert_eq!(Secret::parse(text).as_written(), text);
        }
        assert_eq!(format!("{:?}", Secret::parse("hunter2")), "Literal(***)");
        assert_eq!(format!("{:?}", Secret::parse("env:X")), "\"env:X\"");
    }

    #[test]
    fn changed_fields_separate_routing_from_reconnect() {
        let old = SubscriptionSpec::new("a", "https://example.com/sse");
        let mut new = old.clone();
        assert!(old.changed_fields(&new).is_empty());
        new.name = Some("Alpha".into());
        new.mute_until = Some(parse_timestamp("2030-01-01T00:00:00Z").unwrap());
        new.rules.push(RuleSpec::default());
        let fields = old.changed_fields(&new);
        assert_eq!(fields, [Field::Name, Field::Rules, Field::MuteUntil]);
        assert!(!fields.iter().any(|f| f.needs_reconnect()));
        new.paused = true;
        new.idle_timeout = Duration::from_secs(5);
        let fields = old.changed_fields(&new);
        assert!(fields.contains(&Field::Paused) && fields.contains(&Field::IdleTimeout));
        assert!(fields.iter().any(|f| f.needs_reconnect()));
    }
}
