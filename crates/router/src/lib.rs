//! `ssenotify-router`: turns a subscription's events into notify / history / drop /
//! command decisions. Pure logic: no D-Bus, no processes, no sockets, no clock of its own.
//!
//! One [`Router`] per subscription. Its state (rate-limit window, pending summary, held
//! digest, mute) belongs to that subscription alone, so routers never contend, a
//! subscription whose rules change is recompiled alone ([`Router::reconfigure`] keeps the
//! state), and `ssenotify route --subscription ID` builds exactly one. The daemon keeps
//! them next to the connections, keyed by subscription id.
//!
//! Time is injected: every call takes a [`Now`] (a monotonic [`Millis`] for windows and
//! deadlines, the local wall-clock time for quiet hours). The daemon calls
//! [`Router::tick`] when [`Router::next_deadline`] comes, to collect the summaries and
//! digests that are due. Rule syntax and semantics: `docs/routing.md`.
//!
//! # Layout
//!
//! - [`spec`]: the rules part of the subscriptions file as written: [`RuleSpec`],
//!   conditions, urgency maps, rate limits and quiet hours ([`NotificationSettings`]). The
//!   config crate embeds these in its schema; this crate never reads the file.
//! - [`duration`]: the file's one duration syntax (`3s`, `2m`, `30d`), used by every spec.
//! - `input`: what the caller tells the router: the time ([`Now`], [`Millis`]) and what
//!   it knows of an event ([`Flags`]).
//! - `route`: [`Router`], one subscription's routing: first matching rule, storm control,
//!   quiet hours; and [`validate_rules`].
//! - `rule` (private): compiled rules: matching (event glob, JSON-pointer conditions) and
//!   the action a match takes.
//! - `view` (private): the event as rules see it (its data parsed as JSON once), and JSON
//!   pointer helpers.
//! - `error`: problems found in rules ([`RuleError`]), collected per subscription.
//! - `button` (private): `view` and `http` buttons, a rule's and ntfy's `actions`; which
//!   origin a rule's secret headers may go to ([`literal_origin`]).
//! - `template` (private): minijinja templates for titles and bodies, with fuel limits.
//! - `urgency` (private): urgency from a JSON field through a preset or a table.
//! - `wellknown` (private): the notification an event's JSON asks for when no template
//!   says otherwise (`title`, `message`, `priority`, `click`, `tags`), as ntfy shows it.
//! - `markdown` (private): a small markdown subset as body markup (`markdown = true`).
//! - `text` (private): markup escaping, truncation, click-URL vetting.
//! - `storm` (private): rate limits, catch-up limits, summaries.
//! - `quiet` (private): quiet hours and the digest held through them.
//! - `decision`: what the router decided ([`Decision`], [`Action`], [`Notification`]).

mod button;
mod decision;
pub mod duration;
mod error;
mod input;
mod markdown;
mod quiet;
mod route;
mod rule;
pub mod spec;
mod storm;
mod template;
mod text;
mod urgency;
mod view;
mod wellknown;

#[cfg(test)]
mod tests;

pub use button::{literal_origin, origin_of};
pub use decision::{
    Action, Button, Decision, HttpRequest, Notification, Press, RefusedUrl, SuppressReason,
};
pub use error::{RuleError, RuleErrors};
pub use input::{Flags, Millis, Now};
pub use quiet::QuietNow;
pub use route::{Router, validate_rules};
pub use spec::{
    ActionKind, ButtonSpec, ConditionSpec, DEFAULT_HTTP_TIMEOUT, HttpButtonSpec, MAX_BUTTONS,
    MAX_HTTP_TIMEOUT, NotificationSettings, Preset, QuietHoursSpec, RateLimitSpec, RuleSpec,
    TimeOfDay, Timeout, Urgency, UrgencyMapSpec, UrgencyPreset,
};
pub use text::vet_click_url;
pub use text::{escape_markup, unescape_markup};
