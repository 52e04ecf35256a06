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
//! - `rule` (private): compiled rules: matching (event glob, JSON-pointer conditions) and
//!   the action a match takes.
//! - `template` (private): minijinja templates for titles and bodies, with fuel limits.
//! - `urgency` (private): urgency from a JSON field through a preset or a table.
//! - `text` (private): markup escaping, truncation, click-URL vetting.
//! - `storm` (private): rate limits, catch-up limits, summaries.
//! - `quiet` (private): quiet hours and the digest held through them.
//! - `decision`: what the router decided ([`Decision`], [`Action`], [`Notification`]).

mod decision;
pub mod duration;
mod quiet;
mod rule;
pub mod spec;
mod storm;
mod template;
mod text;
mod urgency;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::ops::Add;
use std::time::Duration;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

pub use decision::{Action, Decision, Notification, RefusedUrl, SuppressReason};
pub use rule::{DEFAULT_COMMAND_TIMEOUT, RuleError, RuleErrors};
pub use spec::{
    ActionKind, ConditionSpec, NotificationSettings, QuietHoursSpec, RateLimitSpec, RuleSpec,
    TimeOfDay, Timeout, Urgency, UrgencyMapSpec, UrgencyPreset,
};
pub use storm::{CATCH_UP_GAP, DEFAULT_CATCH_UP, DEFAULT_RATE_MAX, DEFAULT_RATE_PER};
pub use template::TEMPLATE_FUEL;
pub use text::vet_click_url;
pub use text::{escape_markup, unescape_markup};

use quiet::QuietHours;
use rule::{EventView, RuleAction, Rules};
use storm::{Limits, Storm};

use ssenotify_sse::Event;

/// Longest `SSE_DATA` handed to a command, in bytes (Linux refuses a single environment
/// string above 128 KiB with `E2BIG`).
pub const MAX_COMMAND_DATA_BYTES: usize = 128_000;

/// Milliseconds on the caller's monotonic clock (any origin, e.g. daemon start).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Millis(pub u64);

impl Millis {
    /// How long after `earlier` this is (zero if it is not after).
    pub fn saturating_since(self, earlier: Millis) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

impl From<Duration> for Millis {
    fn from(d: Duration) -> Self {
        Self(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

impl Add<Duration> for Millis {
    type Output = Millis;
    fn add(self, d: Duration) -> Millis {
        Millis(self.0.saturating_add(Millis::from(d).0))
    }
}

/// The moment of a call, as the caller's clocks show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// Monotonic time: rate windows, summaries and mutes are measured on it.
    pub mono: Millis,
    /// Local wall-clock time: quiet hours are judged on it.
    pub local: NaiveDateTime,
}

/// What the caller knows about an event that the router cannot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags {
    /// History already holds this event (same subscription and id): never notify again.
    pub duplicate: bool,
    /// Replayed after a reconnect or restart rather than live.
    pub catch_up: bool,
}

/// Checks a subscription's rules the way [`Router::new`] would, reporting every problem.
pub fn validate_rules(rules: &[RuleSpec]) -> Result<(), RuleErrors> {
    Rules::compile(rules).map(drop)
}

/// Routes the events of one subscription.
pub struct Router {
    name: String,
    rules: Rules,
    limits: Limits,
    quiet: QuietHours,
    storm: Storm,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("name", &self.name)
            .field("rules", &self.rules.rules.len())
            .field("limits", &self.limits)
            .field("storm", &self.storm)
            .finish_non_exhaustive()
    }
}

impl Router {
    /// A router for the subscription `name` with its rules and rate limit, under the
    /// file-wide `settings`; fails if any rule does not compile.
    pub fn new(
        name: &str,
        rules: &[RuleSpec],
        rate_limit: Option<&RateLimitSpec>,
        settings: &NotificationSettings,
    ) -> Result<Self, RuleErrors> {
        Ok(Self {
            name: name.to_owned(),
            rules: Rules::compile(rules)?,
            limits: Limits::resolve(rate_limit, &settings.rate_limit),
            quiet: QuietHours::new(&settings.quiet_hours),
            storm: Storm::default(),
        })
    }

    /// Applies a changed configuration, keeping the storm state (mute, window, pending
    /// summary, held digest); on error nothing changes.
    pub fn reconfigure(
        &mut self,
        name: &str,
        rules: &[RuleSpec],
        rate_limit: Option<&RateLimitSpec>,
        settings: &NotificationSettings,
    ) -> Result<(), RuleErrors> {
        let next = Self::new(name, rules, rate_limit, settings)?;
        let quiet_changed = next.quiet != self.quiet;
        let storm = std::mem::take(&mut self.storm);
        *self = Self { storm, ..next };
        if quiet_changed {
            self.storm.settings_changed();
        }
        Ok(())
    }

    /// The subscription name (the template's `subscription`, the summaries' `<name>`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Decides what to do with one event.
    pub fn route(&mut self, event: &Event, flags: Flags, now: Now) -> Decision {
        let view = EventView::new(event);
        let Some((index, rule)) = self.rules.first_match(&view) else {
            // Rules exist but none wants the event: keep it, show nothing.
            return decision(None, Action::History);
        };
        let index = (!self.rules.implicit).then_some(index);
        match &rule.action {
            RuleAction::History => decision(index, Action::History),
            RuleAction::Drop => decision(index, Action::Drop),
            RuleAction::Command { argv, timeout } => {
                let action = match self.storm.gate(flags, now) {
                    Ok(()) => Action::Command {
                        argv: argv.clone(),
                        env: command_env(event, &self.name),
                        timeout: *timeout,
                    },
                    Err(why) => Action::Suppressed {
                        why,
                        notification: None,
                    },
                };
                decision(index, action)
            }
            RuleAction::Notify(notify) => {
                let rendered = notify.render(&self.rules.env, &view, &self.name);
                let admitted = self
                    .storm
                    .admit(&rendered, flags, now, &self.limits, &self.quiet);
                let action = match admitted {
                    Ok(()) => Action::Notify(rendered.notification),
                    Err(why) => Action::Suppressed {
                        why,
                        notification: Some(rendered.notification),
                    },
                };
                Decision {
                    rule: index,
                    action,
                    template_error: rendered.template_error,
                    refused_click_url: rendered.refused_click_url,
                }
            }
        }
    }

    /// The summaries and digests due at `now` (call it at [`Router::next_deadline`]).
    pub fn tick(&mut self, now: Now) -> Vec<Notification> {
        self.storm.tick(now, &self.name, &self.quiet)
    }

    /// When [`Router::tick`] next has something to do, if ever.
    ///
    /// A quiet-hours deadline is computed from local time when the event is held; if
    /// the clocks disagree by then (suspend, DST), `tick` re-checks and moves it.
    pub fn next_deadline(&self) -> Option<Millis> {
        self.storm.next_deadline()
    }

    /// Mutes the subscription until `until` (history only, no summary); `None` unmutes.
    pub fn mute_until(&mut self, until: Option<Millis>) {
        self.storm.mute_until(until);
    }

    /// The end of the current mute, if one was set (an expired one clears on the next event).
    pub fn muted_until(&self) -> Option<Millis> {
        self.storm.muted_until()
    }
}

fn decision(rule: Option<usize>, action: Action) -> Decision {
    Decision {
        rule,
        action,
        template_error: None,
        refused_click_url: None,
    }
}

/// The event in environment variables, the only way event data reaches a command.
///
/// Arguments are never templated: a hostile server could otherwise smuggle options
/// (`--exec=...`) into the program's argv.
fn command_env(event: &Event, subscription: &str) -> BTreeMap<String, String> {
    let data = &event.data[..floor_char_boundary(&event.data, MAX_COMMAND_DATA_BYTES)];
    [
        ("SSE_EVENT_TYPE", &*event.event_type),
        ("SSE_EVENT_ID", &*event.last_event_id),
        ("SSE_DATA", data),
        ("SSE_SUBSCRIPTION", subscription),
    ]
    .into_iter()
    // `execve` cannot pass NUL inside a variable.
    .map(|(k, v)| (k.to_owned(), v.replace('\0', "\u{FFFD}")))
    .collect()
}

fn floor_char_boundary(s: &str, max: usize) -> usize {
    if s.len() <= max {
        return s.len();
    }
    (0..=max)
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0)
}
