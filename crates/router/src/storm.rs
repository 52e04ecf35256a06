//! Storm control for one subscription: duplicates, mute, quiet hours (held for a digest),
//! the catch-up allowance and the popup rate limit (excess coalesced into a summary).
//!
//! Every method takes the caller's [`Now`]; nothing here reads a clock or sleeps.

use std::collections::VecDeque;
use std::time::Duration;

use super::decision::{Notification, SuppressReason};
use super::input::{Flags, Millis, Now};
use super::quiet::{QuietEnd, QuietHours};
use super::spec::{RateLimitSpec, Urgency};
use super::template::Rendered;

/// Popups per window when neither the subscription nor `[notifications]` says.
pub(crate) const DEFAULT_RATE_MAX: u32 = 5;
/// The rate-limit window when neither the subscription nor `[notifications]` says.
pub(crate) const DEFAULT_RATE_PER: Duration = Duration::from_secs(10);
/// Replayed events that may pop up before the rest are summarised.
pub(crate) const DEFAULT_CATCH_UP: u32 = 3;
/// A pause this long between replayed events ends a catch-up run (a later reconnect
/// starts a new one with a fresh allowance).
pub(crate) const CATCH_UP_GAP: Duration = Duration::from_secs(30);

// Lines a summary or digest lists (the most recent events it stands for).
const SAMPLES: usize = 3;

/// The effective rate limit of a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    pub(crate) max: u32,
    pub(crate) per: Duration,
    pub(crate) catch_up: u32,
}

impl Limits {
    /// Key by key: the subscription's, else the file's `[notifications]`, else built-in.
    pub(crate) fn resolve(own: Option<&RateLimitSpec>, file: &RateLimitSpec) -> Self {
        let pick = |f: fn(&RateLimitSpec) -> Option<u32>| own.and_then(f).or_else(|| f(file));
        Self {
            max: pick(|s| s.max.map(|m| m.get())).unwrap_or(DEFAULT_RATE_MAX),
            per: own
                .and_then(|s| s.per)
                .or(file.per)
                .unwrap_or(DEFAULT_RATE_PER),
            catch_up: pick(|s| s.catch_up).unwrap_or(DEFAULT_CATCH_UP),
        }
    }
}

/// Events counted instead of shown: how many, how urgent the worst, the latest few.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Tally {
    count: u64,
    urgency: Urgency,
    samples: VecDeque<String>,
}

impl Tally {
    fn new() -> Self {
        Self {
            count: 0,
            urgency: Urgency::Low,
            samples: VecDeque::with_capacity(SAMPLES),
        }
    }

    fn add(&mut self, r: &Rendered) {
        self.add_one(r.notification.urgency, r.sample.clone());
    }

    fn add_one(&mut self, urgency: Urgency, sample: String) {
        self.count += 1;
        self.urgency = self.urgency.max(urgency);
        if self.samples.len() == SAMPLES {
            self.samples.pop_front();
        }
        self.samples.push_back(sample);
    }

    fn into_notification(self, title: String) -> Notification {
        let body = self
            .samples
            .iter()
            .map(|s| format!("• {s}"))
            .collect::<Vec<_>>()
            .join("\n");
        Notification::summary(title, &body, self.urgency)
    }
}

fn events(n: u64) -> &'static str {
    if n == 1 { "event" } else { "events" }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Window {
    end: Millis,
    shown: u32,
}

/// The storm-control state of one subscription (survives reconfiguration).
#[derive(Debug, Clone, Default)]
pub(crate) struct Storm {
    window: Option<Window>,
    /// Rate-limited and catch-up events, shown as one summary at `due`.
    coalesced: Option<(Millis, Tally)>,
    /// Held during quiet hours; `held_due` is when to check whether quiet ended
    /// (`None` while quiet has no end in sight).
    held: Option<Tally>,
    held_due: Option<Millis>,
    catch_up_run: u32,
    catch_up_last: Option<Millis>,
    muted_until: Option<Millis>,
}

impl Storm {
    /// Checks that apply to every action with a side effect: duplicates and mute.
    pub(crate) fn gate(&mut self, flags: Flags, now: Now) -> Result<(), SuppressReason> {
        if flags.duplicate {
            return Err(SuppressReason::Duplicate);
        }
        match self.muted_until {
            Some(until) if now.mono < until => return Err(SuppressReason::Muted),
            Some(_) => self.muted_until = None,
            None => {}
        }
        Ok(())
    }

    /// Whether a rendered notification may pop up now; if not, it is counted into the
    /// summary or digest that will stand for it (except duplicates and muted ones).
    pub(crate) fn admit(
        &mut self,
        r: &Rendered,
        flags: Flags,
        now: Now,
        limits: &Limits,
        quiet: &QuietHours,
    ) -> Result<(), SuppressReason> {
        self.gate(flags, now)?;
        if !r.break_quiet && quiet.contains(now.local) {
            self.held.get_or_insert_with(Tally::new).add(r);
            self.held_due = quiet_deadline(quiet, now);
            return Err(SuppressReason::Quiet);
        }
        if self.catch_up_exhausted(flags.catch_up, now.mono, limits.catch_up) {
            self.coalesce(r, now.mono, limits);
            return Err(SuppressReason::CatchUp);
        }
        if !self.take_popup(now.mono, limits) {
            self.coalesce(r, now.mono, limits);
            return Err(SuppressReason::RateLimited);
        }
        Ok(())
    }

    /// Whether a notification of ssenotify's own (the silent-feed alarm) may pop up now:
    /// mute and quiet hours hold it as they hold an event's (its title is its digest
    /// line); the rate limit does not, since one alarm per silence is its own limit.
    pub(crate) fn admit_own(
        &mut self,
        notification: &Notification,
        break_quiet: bool,
        now: Now,
        quiet: &QuietHours,
    ) -> Result<(), SuppressReason> {
        self.gate(Flags::default(), now)?;
        if !break_quiet && quiet.contains(now.local) {
            self.held
                .get_or_insert_with(Tally::new)
                .add_one(notification.urgency, notification.title.clone());
            self.held_due = quiet_deadline(quiet, now);
            return Err(SuppressReason::Quiet);
        }
        Ok(())
    }

    fn catch_up_exhausted(&mut self, catch_up: bool, now: Millis, allowance: u32) -> bool {
        if !catch_up {
            // A live event means the replay is over.
            self.catch_up_run = 0;
            self.catch_up_last = None;
            return false;
        }
        if self
            .catch_up_last
            .is_some_and(|last| now.saturating_since(last) >= CATCH_UP_GAP)
        {
            self.catch_up_run = 0;
        }
        self.catch_up_last = Some(now);
        self.catch_up_run = self.catch_up_run.saturating_add(1);
        self.catch_up_run > allowance
    }

    fn take_popup(&mut self, now: Millis, limits: &Limits) -> bool {
        let mut w = self.current_window(now).unwrap_or(Window {
            end: now + limits.per,
            shown: 0,
        });
        let ok = w.shown < limits.max;
        w.shown += u32::from(ok);
        self.window = Some(w);
        ok
    }

    fn current_window(&self, now: Millis) -> Option<Window> {
        self.window.filter(|w| now < w.end)
    }

    fn coalesce(&mut self, r: &Rendered, now: Millis, limits: &Limits) {
        // Due when the current window ends, so the summary comes right after the popups
        // it follows; a catch-up surplus outside any window waits one window length.
        let due = self.current_window(now).map_or(now + limits.per, |w| w.end);
        self.coalesced
            .get_or_insert_with(|| (due, Tally::new()))
            .1
            .add(r);
    }

    /// Summaries whose time has come: "N more events from <name>" at the end of a
    /// window, and the quiet-hours digest once quiet has ended.
    pub(crate) fn tick(&mut self, now: Now, name: &str, quiet: &QuietHours) -> Vec<Notification> {
        let mut out = Vec::new();
        if self
            .coalesced
            .as_ref()
            .is_some_and(|(due, _)| now.mono >= *due)
            && let Some((_, tally)) = self.coalesced.take()
        {
            let n = tally.count;
            out.push(tally.into_notification(format!("{n} more {} from {name}", events(n))));
        }
        if self.held.is_some() && self.held_due.is_some_and(|due| now.mono >= due) {
            if quiet.contains(now.local) {
                // Woken early (clock change, suspend): look again when it really ends.
                self.held_due = quiet_deadline(quiet, now);
            } else if let Some(tally) = self.held.take() {
                self.held_due = None;
                let n = tally.count;
                out.push(tally.into_notification(format!(
                    "{n} {} from {name} during quiet hours",
                    events(n)
                )));
            }
        }
        out
    }

    /// When [`Storm::tick`] has something to do next.
    pub(crate) fn next_deadline(&self) -> Option<Millis> {
        let coalesced = self.coalesced.as_ref().map(|(due, _)| *due);
        let held = self.held.as_ref().and(self.held_due);
        coalesced.into_iter().chain(held).min()
    }

    /// The settings changed: a held digest must be re-judged against the new quiet hours.
    pub(crate) fn settings_changed(&mut self) {
        if self.held.is_some() {
            self.held_due = Some(Millis(0));
        }
    }

    pub(crate) fn mute_until(&mut self, until: Option<Millis>) {
        self.muted_until = until;
    }

    pub(crate) fn muted_until(&self) -> Option<Millis> {
        self.muted_until
    }
}

// The monotonic instant at which the current quiet ends, from the local end time.
fn quiet_deadline(quiet: &QuietHours, now: Now) -> Option<Millis> {
    match quiet.end(now.local) {
        QuietEnd::At(end) => {
            let left = (end - now.local).to_std().unwrap_or_default();
            Some(now.mono + left)
        }
        // Not quiet (any more): due right away.
        QuietEnd::NotQuiet => Some(now.mono),
        QuietEnd::Never => None,
    }
}
