//! The notification an event's JSON asks for when no template says otherwise: the
//! well-known fields that ntfy, Gotify and most webhook bridges send (`title`, `message`,
//! `priority`, `click`, `tags`...), shown as ntfy's own apps show them, so that a default
//! popup never shows a raw JSON object when the object says what to show.
//!
//! Fields, first found wins (`docs/routing.md`, "Defaults" is the reference):
//! - title: `title`;
//! - body: `message`, `body`, `text`;
//! - urgency: `priority` (ntfy's 1-5 or its names), `urgency` (`low`/`normal`/`critical`);
//! - click URL: `click`, `url`;
//! - tags: a list of strings; those that are emoji shortcodes (`warning`, `tada`) go in
//!   front of the title (of the body when there is no title), the rest are listed under the
//!   body, as ntfy renders them.
//!
//! An object with some of these but no message gets its other fields as `key: value`
//! lines for a body.

use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::button::{RawButton, ntfy_actions};
use crate::decision::Press;
use crate::spec::{Preset, Urgency, UrgencyMapSpec, UrgencyPreset};
use crate::urgency::UrgencyMap;

/// What an event's JSON object says about its notification.
#[derive(Debug, PartialEq)]
pub(crate) struct Known {
    /// The title, with the tags' emoji in front.
    pub(crate) title: Option<String>,
    /// The body: the message (with the tags' emoji in front when there is no title) and a
    /// line naming the other tags; empty when it has neither (never the raw object).
    pub(crate) body: String,
    /// The urgency its priority names.
    pub(crate) urgency: Option<Urgency>,
    /// The URL to open on click (not vetted yet).
    pub(crate) click: Option<String>,
    /// An icon URL (`icon`; not vetted yet).
    pub(crate) icon: Option<String>,
    /// An image URL (`image`; ntfy: an attachment whose type is an image).
    pub(crate) image: Option<String>,
    /// Buttons (URLs not vetted yet): ntfy's `view` actions (and with the ntfy preset its
    /// `http` actions), then its attachment.
    pub(crate) buttons: Vec<RawButton>,
    /// Whether the message is markdown (`"content_type": "text/markdown"`, as ntfy sends
    /// it, or `"markdown": true`).
    pub(crate) markdown: bool,
}

/// The well-known fields of `json`, or `None` when it is not an object that has any (its
/// data is then shown as it is).
pub(crate) fn known(json: &Value, preset: Option<Preset>) -> Option<Known> {
    let object = json.as_object()?;
    let title = text(object, &["title"]);
    let message = text(object, &["message", "body", "text"]);
    let urgency = urgency(object);
    let click = text(object, &["click", "url"]).map(str::to_owned);
    let tags: Vec<&str> = object
        .get("tags")
        .and_then(Value::as_array)
        .map(|tags| tags.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let topic = match preset {
        Some(Preset::Ntfy) => text(object, &["topic"]),
        None => None,
    };
    if title.is_none()
        && message.is_none()
        && urgency.is_none()
        && click.is_none()
        && topic.is_none()
    {
        // Tags alone do not make an object a message (`{"tags": [...]}` in a data feed).
        return None;
    }
    let (mut emoji, mut other) = (Vec::new(), Vec::new());
    for tag in tags {
        match emojis::get_by_shortcode(tag) {
            Some(e) => emoji.push(e.as_str()),
            None => other.push(tag),
        }
    }
    let with_emoji = |text: &str| {
        if emoji.is_empty() {
            text.to_owned()
        } else {
            format!("{} {text}", emoji.join(" "))
        }
    };
    let mut body = match (title, message) {
        (Some(_), Some(message)) => message.to_owned(),
        (None, Some(message)) => with_emoji(message),
        (_, None) => rest(object),
    };
    let title = match title {
        Some(title) => Some(with_emoji(title)),
        // ntfy shows the topic when a message has no title (its tags' emoji are in the body).
        None => topic.map(str::to_owned),
    };
    if !other.is_empty() {
        if !body.is_empty() {
            body.push('\n');
        }
        body.push_str("Tags: ");
        body.push_str(&other.join(", "));
    }
    let markdown = object.get("content_type").and_then(Value::as_str) == Some("text/markdown")
        || object.get("markdown").and_then(Value::as_bool) == Some(true);
    let icon = text(object, &["icon"]).map(str::to_owned);
    let attachment = object.get("attachment").and_then(Value::as_object);
    let image = text(object, &["image"]).map(str::to_owned).or_else(|| {
        let attachment = attachment?;
        let kind = attachment.get("type").and_then(Value::as_str)?;
        kind.starts_with("image/")
            .then(|| text(attachment, &["url"]).map(str::to_owned))
            .flatten()
    });
    // A request is sent for an event's own action only from a feed said to be ntfy's.
    let mut buttons = ntfy_actions(object, preset == Some(Preset::Ntfy));
    if let Some(attachment) = attachment
        && let Some(url) = text(attachment, &["url"])
    {
        let name = text(attachment, &["name"]).unwrap_or("attachment");
        buttons.push(RawButton {
            label: format!("Open {name}"),
            press: Press::View(url.to_owned()),
        });
    }
    Some(Known {
        buttons,
        icon,
        image,
        markdown,
        title,
        body,
        urgency,
        click,
    })
}

/// The fields read above and ntfy's envelope: what a body made of the rest leaves out.
const READ: &[&str] = &[
    "title",
    "message",
    "body",
    "text",
    "priority",
    "urgency",
    "click",
    "url",
    "tags",
    "id",
    "time",
    "expires",
    "event",
    "topic",
    "icon",
    "image",
    "attachment",
    "actions",
    "content_type",
    "markdown",
];

/// The body of an object with no message: its other fields as `key: value` lines.
fn rest(object: &Map<String, Value>) -> String {
    let mut lines = Vec::new();
    for (key, value) in object {
        if READ.contains(&key.as_str()) || value.is_null() {
            continue;
        }
        match value {
            Value::String(s) => lines.push(format!("{key}: {s}")),
            other => lines.push(format!("{key}: {other}")),
        }
    }
    lines.join("\n")
}

/// The first of `keys` holding a non-blank string.
fn text<'a>(object: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a str> {
    keys.iter()
        .filter_map(|key| object.get(*key)?.as_str())
        .find(|s| !s.trim().is_empty())
}

/// The urgency `priority` (ntfy's scale, the most common) or `urgency` (by name) names.
fn urgency(object: &Map<String, Value>) -> Option<Urgency> {
    static NTFY: OnceLock<UrgencyMap> = OnceLock::new();
    static NAMES: OnceLock<UrgencyMap> = OnceLock::new();
    let ntfy = NTFY.get_or_init(|| {
        UrgencyMap::compile(Some(&UrgencyMapSpec::Preset(UrgencyPreset::Ntfy)))
            .expect("the ntfy preset compiles")
    });
    let names = NAMES.get_or_init(|| UrgencyMap::compile(None).expect("the names compile"));
    object
        .get("priority")
        .and_then(|p| ntfy.lookup(p))
        .or_else(|| object.get("urgency").and_then(|u| names.lookup(u)))
}
