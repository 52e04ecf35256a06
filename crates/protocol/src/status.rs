//! What the daemon reports about itself and its subscriptions: the live status table, the
//! updates a `watch` stream carries, and the notifier's health.

use serde::{Deserialize, Serialize};
use ssenotify_history::{Action, Shown};
use ssenotify_sse::{ApplyReport, ReadyState};
use ts_rs::TS;

/// The live state of one subscription, as `list` and the UI show it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, TS)]
pub struct SubscriptionStatus {
    /// The subscription's id.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// Its URL.
    pub url: String,
    /// Whether it is enabled in the file.
    pub enabled: bool,
    /// Whether it is paused.
    pub paused: bool,
    /// The current readyState.
    pub ready_state: ReadyState,
    /// Why it is in that state (the technical text).
    pub reason: String,
    /// The reason in plain words, with what to do ("Connection refused: is the server
    /// running on 127.0.0.1:18999?"), for the usual failures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The HTTP status behind the reason, when there was a response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// When the state last changed (Unix ms).
    pub since: i64,
    /// When CONNECTING after a failure: milliseconds until the next attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_in_ms: Option<u64>,
    /// When the last event arrived (Unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_event_at: Option<i64>,
    /// Events received since the daemon started.
    pub events: u64,
    /// Events that asked for attention (shown, summarised, held by quiet hours) since the
    /// user last marked this subscription read; kept across restarts.
    #[serde(default)]
    pub unread: u64,
    /// The newest history row of this subscription the daemon counted (what "mark read"
    /// marks up to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_row: Option<i64>,
    /// A problem that keeps it from running (a secret that cannot be resolved, ...), or
    /// the last template error of its rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Set while the silent-feed alarm is raised (`expect_every` passed without a counted
    /// event); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silent: Option<Silence>,
    /// Its last state changes, oldest first, with their reasons: in `list`/`status`
    /// answers (so a reloaded window has them), not in each change's update.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<TimelineEntry>,
}

/// One state change of a subscription, as its timeline keeps it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, TS)]
pub struct TimelineEntry {
    /// When (Unix ms).
    pub at: i64,
    /// The state it changed to.
    pub state: ReadyState,
    /// Why (the technical text).
    pub reason: String,
    /// The HTTP status behind the reason, when there was a response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
}

/// A raised silent-feed alarm: which kind of silence, and since when.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct Silence {
    /// Whether the connection was alive (the feed fell silent) or not when it was raised.
    pub kind: SilenceKind,
    /// The last counted event (Unix ms), or when the watch began if there was none.
    pub since: i64,
}

/// What a silent-feed alarm says: the feed is silent, or ssenotify is offline.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, TS)]
#[serde(rename_all = "snake_case")]
pub enum SilenceKind {
    /// The connection is OPEN and nothing counted arrives.
    Silent,
    /// The connection is CONNECTING or CLOSED: nothing can arrive.
    Offline,
}

impl SilenceKind {
    /// The name used in JSON and by `ssenotify list`: `silent` or `offline`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Silent => "silent",
            Self::Offline => "offline",
        }
    }
}

impl SubscriptionStatus {
    /// A status that knows only its id, state and reason (named after its id, enabled, not
    /// paused, no counters): the start of the daemon's first report, and what tests of
    /// status consumers build on with `..`.
    pub fn new(id: &str, ready_state: ReadyState, reason: impl ToString) -> Self {
        Self {
            id: id.to_owned(),
            name: id.to_owned(),
            url: String::new(),
            enabled: true,
            paused: false,
            ready_state,
            reason: reason.to_string(),
            status: None,
            since: 0,
            retry_in_ms: None,
            last_event_at: None,
            events: 0,
            unread: 0,
            last_row: None,
            error: None,
            hint: None,
            silent: None,
            timeline: Vec::new(),
        }
    }
}

/// What the daemon publishes: to a `watch` stream, the tray and the app's window.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DaemonEvent {
    /// A subscription's status changed.
    Status(SubscriptionStatus),
    /// A subscription received an event (after history and routing).
    Event(LiveEvent),
    /// Subscriptions left the daemon's set (removed from the file): their statuses are gone.
    Removed {
        /// Their ids.
        ids: Vec<String>,
    },
    /// The subscriptions file was applied, or failed to validate (`error`).
    Config {
        /// The apply report, when it was applied.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        applied: Option<ApplyReport>,
        /// The validation error, when it was not.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
}

/// One event as it arrived, after history and routing (`DaemonEvent::Event`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, TS)]
pub struct LiveEvent {
    /// The subscription.
    pub subscription: String,
    /// History row id (for the inspector), if recorded.
    pub row: Option<i64>,
    /// The event type.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The event data.
    pub data: String,
    /// Its last event ID.
    pub last_event_id: String,
    /// What the router did.
    pub action: Action,
    /// When it arrived (Unix ms).
    pub received_at: i64,
    /// The subscription's unread count once this event is counted (see
    /// [`SubscriptionStatus::unread`]): the newest event a client saw carries the count.
    #[serde(default)]
    pub unread: u64,
    /// The rule that matched it (0-based), as history keeps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<u32>,
    /// The notification the router made of it (shown or held), as history keeps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shown: Option<Shown>,
}

/// Whether the notification server takes notifications.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default, TS)]
#[serde(rename_all = "snake_case")]
pub enum NotifierState {
    /// Nothing was sent yet.
    #[default]
    Unknown,
    /// The last notification was shown.
    Up,
    /// The last notification failed (no session bus, no server).
    Down,
    /// Notifications are off (`run --no-notify`).
    Disabled,
}

impl NotifierState {
    /// The name used in JSON and by `ssenotify list`: `unknown`, `up`, `down`, `disabled`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Up => "up",
            Self::Down => "down",
            Self::Disabled => "disabled",
        }
    }
}

/// The notifier's health, for `ssenotify list`, the tray icon and the app.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct NotifierHealth {
    /// Up, down, not yet known, or turned off.
    pub state: NotifierState,
    /// The server's name and version, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// Why it is down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Notifications shown since start.
    #[serde(default)]
    pub delivered: u64,
    /// Notifications that could not be shown (queue full or server down).
    #[serde(default)]
    pub missed: u64,
}

/// What the notification server says about itself (`notify-test`, the app's test button).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct ServerInfo {
    /// Its name (e.g. `dunst`).
    pub name: String,
    /// Its vendor.
    pub vendor: String,
    /// Its version.
    pub version: String,
    /// The spec version it implements.
    pub spec_version: String,
    /// Its capabilities (`body`, `body-markup`, `actions`, ...).
    pub capabilities: Vec<String>,
}

/// The daemon's answer to a `status` request: the live state of its subscriptions (all of
/// them, or what changed after a version the client saw), and its own.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, TS)]
pub struct StatusReport {
    /// The version of the daemon's status table this answer reflects; ask with it as
    /// `since` to get only what changes after it. Versions only grow, also across daemon
    /// restarts (they start at the daemon's start time in microseconds), so a version of an
    /// earlier daemon is never mistaken for one of this daemon. 0 from a daemon that
    /// predates versions.
    #[serde(default)]
    pub version: u64,
    /// Whether `subscriptions` holds every subscription asked for (true), or only those
    /// that changed after `since` (false): a client keeping a copy replaces it when true
    /// and patches it when false.
    #[serde(default = "every_subscription")]
    pub full: bool,
    /// Live state per subscription, in id order.
    pub subscriptions: Vec<SubscriptionStatus>,
    /// Subscriptions to drop from a copy: in a delta, those removed after `since`; with
    /// `ids`, those asked for that the daemon does not have.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
    /// The daemon's own state.
    pub daemon: DaemonInfo,
}

fn every_subscription() -> bool {
    true
}

/// The daemon's report on itself, with every `status` reply.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, TS)]
pub struct DaemonInfo {
    /// Its process id.
    pub pid: u32,
    /// The notification sink's health.
    pub notifier: NotifierHealth,
    /// Why the subscriptions file is not applied, when it does not validate (the daemon
    /// runs its last valid set meanwhile).
    pub config_error: Option<String>,
    /// Whether a tray icon shows this daemon (`run --tray`).
    pub tray: bool,
    /// Whether a tray host shows that icon now (without one, closing the app's window
    /// leaves nothing on screen).
    pub tray_host: bool,
    /// Whether notifications are held right now (quiet hours, do not disturb), and until
    /// when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet: Option<QuietState>,
}

/// Notifications are held right now: why, and until when.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct QuietState {
    /// Why: a quiet-hours period, or do not disturb.
    pub kind: QuietKind,
    /// When it ends (Unix ms); none for do not disturb (until turned off) and for quiet
    /// hours that chain around the clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<i64>,
}

/// Why notifications are held.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, TS)]
#[serde(rename_all = "snake_case")]
pub enum QuietKind {
    /// A `quiet_hours` period is in force.
    QuietHours,
    /// Do not disturb is on.
    DoNotDisturb,
}
