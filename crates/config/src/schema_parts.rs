//! The parts of the file's JSON Schema that no derive can give: values read by hand
//! (durations, timestamps) and the routing part of the file, the router's rule, rate-limit
//! and notification-settings types (`ssenotify_router::spec`), written here because the
//! router crate carries no schema derive. The tests in `schema/tests.rs` hold these to the
//! router's serde definitions: every key and value name serde accepts is listed here.
//!
//! A leaf module: `spec` and `file` name these functions in their `schemars` attributes.

use schemars::{Schema, SchemaGenerator, json_schema};
use serde_json::{Value, json};

/// The shape of a duration (humantime's syntax: numbers each followed by a unit).
pub(crate) const DURATION_PATTERN: &str = r"^\s*([0-9]+\s*[A-Za-zµ]+\s*)+$";

/// A duration as the file writes it: `500ms`, `3s`, `2m`, `1h 30m`, `30d`.
pub(crate) fn duration(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "description": "A duration such as \"3s\", \"2m\", \"1h 30m\" or \"30d\".",
        "pattern": DURATION_PATTERN
    })
}

/// An RFC 3339 timestamp.
pub(crate) fn timestamp(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "format": "date-time",
        "description": "No popups until this time: an RFC 3339 timestamp such as \"2025-06-01T18:00:00Z\"."
    })
}

/// `expect_every` of a subscription (the silent-feed alarm).
pub(crate) fn expect_every(_: &mut SchemaGenerator) -> Schema {
    expect_every_value(
        "Alert when no event is kept for this long (the silent-feed alarm): \"15m\".",
    )
    .try_into()
    .expect("an object schema")
}

/// `silent_urgency` of a subscription.
pub(crate) fn silent_urgency(_: &mut SchemaGenerator) -> Schema {
    silent_urgency_value().try_into().expect("an object schema")
}

fn expect_every_value(description: &str) -> Value {
    duration_described(description)
}

fn silent_urgency_value() -> Value {
    urgency("The urgency of the silent-feed alarm (default critical).")
}

/// `rules`: the subscription's routing rules, first match wins.
pub(crate) fn rules(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "description": "Routing rules, first match wins (docs/routing.md).",
        "items": rule()
    })
}

/// `preset`: a kind of server shown as its own apps show it.
pub(crate) fn preset(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "enum": ["ntfy"],
        "description": "A kind of server shown as its own apps show it: which events notify, how their JSON reads, and its resume adapter (docs/routing.md#ntfy)."
    })
}

/// `rate_limit` of a subscription.
pub(crate) fn rate_limit(_: &mut SchemaGenerator) -> Schema {
    rate_limit_value().try_into().expect("an object schema")
}

/// `[notifications]`: quiet hours, do not disturb and the default rate limit.
pub(crate) fn notifications(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "description": "File-wide notification settings: quiet hours, do not disturb and the default rate limit.",
        "additionalProperties": false,
        "properties": {
            "quiet_hours": {
                "type": "array",
                "description": "Periods in which notifications are held for one digest.",
                "items": quiet_hours()
            },
            "do_not_disturb": {
                "type": "boolean",
                "description": "Quiet around the clock until turned off; held notifications come as one digest then, critical ones break through.",
                "default": false
            },
            "show_anyway_until": {
                "type": "string",
                "description": "Quiet hours hold nothing until this local time (the window's Show anyway, `ssenotify show-anyway`); do not disturb still holds. Written by ssenotify.",
                "pattern": "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?$"
            },
            "rate_limit": rate_limit_value()
        }
    })
}

fn duration_described(description: &str) -> Value {
    json!({ "type": "string", "description": description, "pattern": DURATION_PATTERN })
}

/// One button of a rule: `view` or `http`.
fn button() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["label"],
        "oneOf": [ { "required": ["view"] }, { "required": ["http"] } ],
        "properties": {
            "label": template("the button's label."),
            "view": template("the http(s) URL opened when the button is pressed."),
            "http": {
                "type": "object",
                "additionalProperties": false,
                "required": ["url"],
                "description": "The request sent when the button is pressed (the result is kept in the event's history row).",
                "properties": {
            "url": template("the http(s) URL the request goes to."),
            "method": {
                "type": "string",
                "description": "The method (default POST).",
                "pattern": "^([Gg][Ee][Tt]|[Pp][Oo][Ss][Tt]|[Pp][Uu][Tt]|[Pp][Aa][Tt][Cc][Hh]|[Dd][Ee][Ll][Ee][Tt][Ee])$"
            },
            "headers": {
                "type": "object",
                "description": "Request headers: a literal, \"env:NAME\" or \"file:PATH\"; secret ones go only to the origin the URL names as written.",
                "additionalProperties": { "type": "string" }
            },
            "body": template("the request body."),
            "timeout": duration_described("How long the request may take (default 10s, at most 60s).")
                }
            }
        }
    })
}

fn template(description: &str) -> Value {
    json!({ "type": "string", "description": format!("Template (minijinja): {description}") })
}

fn urgency(description: &str) -> Value {
    json!({ "enum": ["low", "normal", "critical"], "description": description })
}

fn rule() -> Value {
    json!({
        "type": "object",
        "description": "One routing rule (the first rule that matches an event wins).",
        "additionalProperties": false,
        "properties": {
            "event": { "type": "string", "description": "The event type (or glob) this rule matches; `message` when absent." },
            "when": { "type": "array", "description": "Conditions on the data; all must hold.", "items": condition() },
            "action": {
                "enum": ["notify", "history", "drop", "command"],
                "default": "notify",
                "description": "What a match does: show a notification, store only, neither, or run `command`."
            },
            "title": template("the notification's title; the data's `title`, else the subscription name, when absent."),
            "body": template("the notification's body; the data's `message`, else the data, when absent."),
            "icon": template("a themed icon name, an absolute path, or an http(s) URL (fetched)."),
            "image": template("the http(s) URL of an image shown in the notification (fetched)."),
            "urgency": urgency("Fixed urgency, or the fallback when `urgency_from` finds nothing mapped."),
            "urgency_from": { "type": "string", "description": "JSON pointer to the field the urgency is taken from." },
            "urgency_map": {
                "description": "How the `urgency_from` value maps to an urgency: a preset or a table of value = urgency.",
                "oneOf": [
                    { "enum": ["ntfy", "gotify"] },
                    { "type": "object", "additionalProperties": urgency("The urgency of this value (or range such as \"4-7\", \"8-\").") }
                ]
            },
            "timeout": {
                "type": "string",
                "description": "How long the notification stays up: `default`, `never`, or a duration.",
                "anyOf": [ { "enum": ["default", "never"] }, { "pattern": DURATION_PATTERN } ]
            },
            "category": template("the freedesktop category (`im.received`, `transfer.complete`, ...)."),
            "sound": template("the themed sound name played with the notification."),
            "click_url": template("the http(s) URL opened when the notification is clicked."),
            "replace_key": template("the key that makes later notifications replace this one in place."),
            "progress": template("a progress value, 0 to 100."),
            "app_name": template("the application name shown with the notification."),
            "break_quiet": { "type": "boolean", "description": "Whether this rule's notifications break through quiet hours (default: when the rule's urgency is critical)." },
            "markdown": { "type": "boolean", "description": "Whether the body is markdown, shown with bold, italic and lists (default: when the event's JSON says so)." },
            "buttons": {
                "type": "array",
                "maxItems": 3,
                "description": "Buttons on the notification, where the server shows actions.",
                "items": button()
            },
            "command": {
                "type": "array",
                "items": { "type": "string" },
                "description": "The program and its arguments for `action = \"command\"` (no shell, no templating)."
            },
            "command_timeout": duration_described("How long the command may run before it is killed (default 30s)."),
            "expect_every": expect_every_value("Alert when no event matching this rule arrives for this long (the silent-feed alarm): \"15m\"."),
            "silent_urgency": silent_urgency_value()
        }
    })
}

fn condition() -> Value {
    let number = |description: &str| json!({ "type": "number", "description": description });
    json!({
        "type": "object",
        "description": "A condition on the event data (on the JSON value at `pointer`, or on the raw text).",
        "additionalProperties": false,
        "properties": {
            "pointer": { "type": "string", "description": "RFC 6901 JSON pointer (`/build/status`; \"\" is the whole document)." },
            "equals": { "description": "The value equals this (numbers compare numerically)." },
            "exists": { "type": "boolean", "description": "The pointer resolves (true) or does not (false)." },
            "regex": { "type": "string", "description": "The value's text matches this regular expression (unanchored)." },
            "contains": { "type": "string", "description": "The value's text contains this substring." },
            "gt": number("The value is a number greater than this."),
            "ge": number("The value is a number greater than or equal to this."),
            "lt": number("The value is a number less than this."),
            "le": number("The value is a number less than or equal to this."),
            "not": { "type": "boolean", "default": false, "description": "Inverts the result." }
        }
    })
}

fn rate_limit_value() -> Value {
    json!({
        "type": "object",
        "description": "A popup rate limit; absent keys fall back to [notifications], then to 5 per 10s with 3 catch-up popups.",
        "additionalProperties": false,
        "properties": {
            "max": { "type": "integer", "minimum": 1, "maximum": u32::MAX, "description": "At most this many popups per window." },
            "per": duration_described("The window length (longer than 0s)."),
            "catch_up": { "type": "integer", "minimum": 0, "maximum": u32::MAX, "description": "How many replayed (catch-up) events may pop up before the rest are summarised." }
        }
    })
}

/// The day names chrono reads, any letter case: `mon` ... `sun` and `monday` ... `sunday`.
fn day_pattern() -> String {
    let any_case = |word: &str| -> String {
        word.chars()
            .map(|c| format!("[{}{}]", c.to_ascii_uppercase(), c))
            .collect()
    };
    let days = [
        ("mon", "day"),
        ("tue", "sday"),
        ("wed", "nesday"),
        ("thu", "rsday"),
        ("fri", "day"),
        ("sat", "urday"),
        ("sun", "day"),
    ];
    let alternatives: Vec<String> = days
        .iter()
        .map(|(short, rest)| format!("{}({})?", any_case(short), any_case(rest)))
        .collect();
    format!("^({})$", alternatives.join("|"))
}

fn quiet_hours() -> Value {
    let time = |description: &str| json!({ "type": "string", "pattern": "^([01]?[0-9]|2[0-3]):[0-5][0-9]$", "description": description });
    json!({
        "type": "object",
        "description": "A recurring quiet period in local time (`from` later than `to` crosses midnight).",
        "additionalProperties": false,
        "required": ["from", "to"],
        "properties": {
            "days": {
                "type": "array",
                "description": "Days the period starts on (`mon` ... `sun`); every day when absent.",
                "items": { "type": "string", "pattern": day_pattern() }
            },
            "from": time("Local start time, HH:MM."),
            "to": time("Local end time, HH:MM (exclusive).")
        }
    })
}
