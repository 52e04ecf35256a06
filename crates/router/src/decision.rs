//! What the router decides, as the notifier, the command runner, `ssenotify route
//! --dry-run` and the UI's rule tester receive it.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Serialize, Serializer};

use super::spec::{Timeout, Urgency};
use super::text::{MAX_FIELD_CHARS, escape_markup, one_line};

/// A notification ready for the notification server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notification {
    /// Application name to announce; the notifier's default (`ssenotify`) when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_name: Option<String>,
    /// The summary: plain text on one line, never empty.
    pub title: String,
    /// The body, already escaped for freedesktop markup.
    pub body: String,
    /// A themed icon name, an absolute path, or a vetted http(s) URL to fetch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    /// A vetted http(s) URL of an image to fetch and show (the `image-data` hint).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The urgency hint.
    pub urgency: Urgency,
    /// How long the notification stays up.
    #[serde(skip_serializing_if = "Timeout::is_default")]
    pub timeout: Timeout,
    /// The freedesktop `category` hint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// The freedesktop `sound-name` hint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sound: Option<String>,
    /// A vetted `http`/`https` URL to open on click.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub click_url: Option<String>,
    /// Notifications with the same key replace each other in place.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replace_key: Option<String>,
    /// Progress in percent (the `value` hint), 0 to 100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<u8>,
    /// Buttons, at most [`crate::MAX_BUTTONS`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Button>,
}

/// A button on a notification.
///
/// Serialized flat: `{"label": "Open", "view": "https://…"}` or `{"label": "Restart",
/// "http": {"method": "POST", "url": "https://…", …}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Button {
    /// Its label: plain text on one line.
    pub label: String,
    /// What pressing it does.
    #[serde(flatten)]
    pub press: Press,
}

/// What pressing a button does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Press {
    /// Open this vetted http(s) URL in the desktop's browser.
    View(String),
    /// Send this request.
    Http(HttpRequest),
}

/// The request an `http` button sends when pressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpRequest {
    /// The method, upper case.
    pub method: String,
    /// The vetted http(s) URL.
    pub url: String,
    /// Header values: for a rule's button as the file writes them (a literal, `env:NAME`,
    /// `file:PATH`), resolved when pressed; for an event's own action, as given.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The body; empty for none.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub body: String,
    /// How long the request may take.
    #[serde(serialize_with = "duration_str")]
    pub timeout: Duration,
    /// The origin the rule's URL names as written, the only one its secret headers go to;
    /// none when the rule templates its scheme, host or port (or the event asked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_origin: Option<String>,
    /// The event asked for this request (ntfy's `http` action): untrusted, so its header
    /// values are never read as secret references.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub from_event: bool,
}

impl Notification {
    /// A notification of ssenotify's own (summaries, digests, the test sample) from plain
    /// text: the body is escaped for the server's markup.
    pub fn summary(title: String, body: &str, urgency: Urgency) -> Self {
        Self {
            app_name: None,
            title: one_line(&title, MAX_FIELD_CHARS),
            body: escape_markup(body),
            icon: None,
            image: None,
            urgency,
            timeout: Timeout::Default,
            category: None,
            sound: None,
            click_url: None,
            replace_key: None,
            progress: None,
            buttons: Vec::new(),
        }
    }
}

/// What happens to one event, and why.
///
/// Serialized flat, one JSON object per event:
/// `{"rule":0,"action":"notify","title":"…","body":"…","urgency":"normal"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Index of the rule that matched; `None` for the implicit rule or when none matched.
    pub rule: Option<usize>,
    /// What to do.
    #[serde(flatten)]
    pub action: Action,
    /// Template errors of this event (the affected fields fell back to their defaults).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_error: Option<String>,
    /// A click URL that was rendered but refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused_click_url: Option<RefusedUrl>,
}

impl Decision {
    /// Whether the event belongs in history: everything except [`Action::Drop`].
    pub fn keeps_history(&self) -> bool {
        !matches!(self.action, Action::Drop)
    }
}

/// The outcome of routing one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Show this notification now.
    Notify(Notification),
    /// Store the event only.
    History,
    /// Neither show nor store.
    Drop,
    /// Run a program (no shell); event fields are in `env`.
    Command {
        /// Program and arguments, exactly as configured.
        argv: Vec<String>,
        /// `SSE_EVENT_TYPE`, `SSE_EVENT_ID`, `SSE_DATA`, `SSE_SUBSCRIPTION`.
        env: BTreeMap<String, String>,
        /// Kill the program after this long.
        #[serde(serialize_with = "duration_str")]
        timeout: Duration,
    },
    /// Nothing is shown now (the event still goes to history).
    Suppressed {
        /// Why.
        why: SuppressReason,
        /// What would have been shown (absent when a command was suppressed).
        #[serde(skip_serializing_if = "Option::is_none")]
        notification: Option<Notification>,
    },
}

/// Why a notification (or command) was held back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SuppressReason {
    /// Over the rate limit: counted into the end-of-window summary.
    RateLimited,
    /// Quiet hours: counted into the digest shown when they end.
    Quiet,
    /// The subscription is muted (history only, no summary).
    Muted,
    /// The event was already delivered before.
    Duplicate,
    /// A replayed event beyond the catch-up allowance: counted into the summary.
    CatchUp,
}

/// A click URL the router would not pass on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefusedUrl {
    /// The URL as rendered.
    pub url: String,
    /// Why it was refused.
    pub reason: String,
}

fn duration_str<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::duration::format_duration(*d))
}
