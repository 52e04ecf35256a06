//! [`Router`]: one subscription's routing. The first matching rule decides; storm control
//! and quiet hours decide whether a notification is shown now, later (summarised, in a
//! digest) or not at all.

use std::collections::BTreeMap;

use ssenotify_sse::Event;

use crate::decision::{Action, Decision, Notification, SuppressReason};
use crate::error::RuleErrors;
use crate::input::{Flags, Millis, Now};
use crate::quiet::QuietHours;
use crate::rule::{RuleAction, Rules};
use crate::spec::{NotificationSettings, Preset, RateLimitSpec, RuleSpec};
use crate::storm::{Limits, Storm};
use crate::template::Rendered;
use crate::view::EventView;

/// Longest `SSE_DATA` handed to a command, in bytes (Linux refuses a single environment
/// string above 128 KiB with `E2BIG`).
pub(crate) const MAX_COMMAND_DATA_BYTES: usize = 128_000;

/// Checks a subscription's rules the way [`Router::new`] would, reporting every problem.
pub fn validate_rules(rules: &[RuleSpec]) -> Result<(), RuleErrors> {
    // No rules is the implicit default, which always compiles; skipping its template
    // environment keeps validating 10,000 subscriptions without rules cheap.
    if rules.is_empty() {
        return Ok(());
    }
    Rules::compile(rules, None).map(drop)
}

/// Routes the events of one subscription.
pub struct Router {
    name: String,
    preset: Option<Preset>,
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
    /// A router for the subscription `name` with its preset, rules and rate limit, under
    /// the file-wide `settings`; fails if any rule does not compile.
    pub fn new(
        name: &str,
        preset: Option<Preset>,
        rules: &[RuleSpec],
        rate_limit: Option<&RateLimitSpec>,
        settings: &NotificationSettings,
    ) -> Result<Self, RuleErrors> {
        Ok(Self {
            name: name.to_owned(),
            preset,
            rules: Rules::compile(rules, preset)?,
            limits: Limits::resolve(rate_limit, &settings.rate_limit),
            quiet: QuietHours::new(settings),
            storm: Storm::default(),
        })
    }

    /// Applies a changed configuration, keeping the storm state (mute, window, pending
    /// summary, held digest); on error nothing changes.
    pub fn reconfigure(
        &mut self,
        name: &str,
        preset: Option<Preset>,
        rules: &[RuleSpec],
        rate_limit: Option<&RateLimitSpec>,
        settings: &NotificationSettings,
    ) -> Result<(), RuleErrors> {
        let next = Self::new(name, preset, rules, rate_limit, settings)?;
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
                let rendered =
                    notify.render(self.rules.env.as_deref(), &view, &self.name, self.preset);
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

    /// The index of the rule an event matches, without routing it (no state changes):
    /// `None` for the implicit rules, or when no rule matches.
    pub fn matching_rule(&self, event: &Event) -> Option<usize> {
        let (index, _) = self.rules.first_match(&EventView::new(event))?;
        (!self.rules.implicit).then_some(index)
    }

    /// Whether a notification of ssenotify's own about this subscription (the silent-feed
    /// alarm) may be shown now: `Err` when mute or quiet hours hold it (then it is counted
    /// into the quiet-hours digest, like an event's).
    pub fn admit_own(
        &mut self,
        notification: &Notification,
        break_quiet: bool,
        now: Now,
    ) -> Result<(), SuppressReason> {
        self.storm
            .admit_own(notification, break_quiet, now, &self.quiet)
    }

    /// Whether a notice of ssenotify's own about this subscription (a possible gap) may pop
    /// up now: mute, quiet hours and the rate limit hold it as they hold an event's (it is
    /// then counted in the summary or digest, `sample` standing for it there).
    pub fn admit_notice(
        &mut self,
        notification: &Notification,
        sample: &str,
        now: Now,
    ) -> Result<(), SuppressReason> {
        let rendered = Rendered {
            notification: notification.clone(),
            template_error: None,
            refused_click_url: None,
            break_quiet: false,
            sample: sample.to_owned(),
        };
        self.storm
            .admit(&rendered, Flags::default(), now, &self.limits, &self.quiet)
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
