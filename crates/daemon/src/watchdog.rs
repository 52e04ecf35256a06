//! The silent-feed alarm (`expect_every`, README "Silent-feed alarm"): when nothing counted
//! arrives for that long, one alert says whether the feed is silent (OPEN) or ssenotify is
//! offline (CONNECTING, CLOSED); the first counted event after it, one all-clear.
//!
//! Cheap at any number of subscriptions: one deadline heap for all of them, woken by the
//! pipeline's own timer; an event that counts only moves a timestamp. A heap entry is
//! checked when it comes due: if an event moved the deadline meanwhile, the entry goes back
//! in at the new time (once per `expect_every` at most, however many events came).
//!
//! The clock survives restarts: a new watch starts from the last counted event in history
//! ([`Watchdog::wanted`], [`Watchdog::seed`]), not from the daemon's start.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Local};
use ssenotify_config::SubscriptionSet;
use ssenotify_history::{HistoryReader, StoredEvent};
use ssenotify_protocol::{DaemonEvent, ReadyState, Silence, SilenceKind};
use ssenotify_router::{Notification, Router, Urgency};
use ssenotify_sse::Event;

use crate::live::Live;

/// The most history rows read back per subscription to find a rule's last match.
const SEED_ROWS: usize = 1000;

/// A notification of the alarm, with how quiet hours treat it.
pub(crate) struct Alarm {
    pub sub: Arc<str>,
    pub notification: Notification,
    pub break_quiet: bool,
}

/// A watch whose clock must be read from history: the subscription's last kept event, or
/// (with `rule`) its last kept event that this rule matches.
pub(crate) struct Wanted {
    pub sub: Arc<str>,
    pub rule: Option<usize>,
}

/// Every watched subscription and the one deadline heap.
#[derive(Default)]
pub(crate) struct Watchdog {
    subs: HashMap<Arc<str>, Watched>,
    heap: BinaryHeap<Reverse<(i64, Arc<str>)>>,
}

struct Watched {
    watches: Vec<Watch>,
    /// The deadline of this subscription's entry in the heap; other entries are stale.
    queued: Option<i64>,
}

/// One `expect_every`: of the subscription (`rule: None`) or of one rule.
struct Watch {
    rule: Option<usize>,
    every: i64,
    urgency: Urgency,
    break_quiet: bool,
    /// The last counted event (Unix ms), once one is known.
    last: Option<i64>,
    /// When this watch began: the clock's start while no counted event is known.
    began: i64,
    raised: Option<Silence>,
}

impl Watch {
    fn clock(&self) -> i64 {
        self.last.unwrap_or(self.began)
    }

    fn deadline(&self) -> Option<i64> {
        self.raised.is_none().then(|| self.clock() + self.every)
    }

    fn counts(&self, rule: Option<usize>) -> bool {
        self.rule.is_none() || self.rule == rule
    }
}

impl Watchdog {
    /// Follows the file: watches added, changed or removed. A watch whose scope (the
    /// subscription, or the same rule index) stays keeps its clock and raised alarm; the new
    /// ones are returned, to be seeded from history. An alarm whose watch went stops
    /// showing in the live status.
    pub fn configure(&mut self, live: &Live, set: &SubscriptionSet, now: i64) -> Vec<Wanted> {
        let mut wanted = Vec::new();
        let mut subs = HashMap::new();
        for spec in set.subscriptions.iter().filter(|s| s.enabled) {
            let own = spec
                .expect_every
                .map(|every| (None, every, spec.silent_urgency, None));
            let rules = spec.rules.iter().enumerate().filter_map(|(i, rule)| {
                let every = rule.expect_every?;
                Some((Some(i), every, rule.silent_urgency, rule.break_quiet))
            });
            let specs: Vec<_> = own.into_iter().chain(rules).collect();
            if specs.is_empty() {
                continue;
            }
            let id: Arc<str> = spec.id.as_str().into();
            let mut old = self.subs.remove(&id);
            let watches = specs
                .into_iter()
                .map(|(rule, every, urgency, break_quiet)| {
                    let urgency = urgency.unwrap_or(Urgency::Critical);
                    let kept = old
                        .as_mut()
                        .and_then(|o| o.watches.iter().position(|w| w.rule == rule))
                        .map(|i| old.as_mut().expect("found in it").watches.swap_remove(i));
                    if kept.is_none() {
                        wanted.push(Wanted {
                            sub: id.clone(),
                            rule,
                        });
                    }
                    let (last, began, raised) =
                        kept.map_or((None, now, None), |w| (w.last, w.began, w.raised));
                    Watch {
                        rule,
                        every: i64::try_from(every.as_millis()).unwrap_or(i64::MAX / 2),
                        urgency,
                        // As a rule's notifications: through quiet hours when critical.
                        break_quiet: break_quiet.unwrap_or(urgency == Urgency::Critical),
                        last,
                        began,
                        raised,
                    }
                })
                .collect();
            let queued = old.and_then(|o| o.queued);
            let watched = Watched { watches, queued };
            set_silent(live, &id, watched.watches.iter().find_map(|w| w.raised));
            subs.insert(id, watched);
        }
        for gone in std::mem::replace(&mut self.subs, subs).into_keys() {
            set_silent(live, &gone, None);
        }
        let ids: Vec<Arc<str>> = self.subs.keys().cloned().collect();
        for id in ids {
            self.schedule(&id);
        }
        wanted
    }

    /// Sets a new watch's clock to the last counted event found in history (`None`: none,
    /// the clock runs from when the watch began).
    pub fn seed(&mut self, sub: &Arc<str>, rule: Option<usize>, last: Option<i64>) {
        let Some(watch) = self
            .subs
            .get_mut(sub)
            .and_then(|s| s.watches.iter_mut().find(|w| w.rule == rule))
        else {
            return;
        };
        // An event that came live meanwhile is later than anything history had.
        if watch.last.is_none() {
            watch.last = last;
        }
        self.schedule(sub);
    }

    /// An event of `sub` was kept after matching `rule`: it counts for the subscription's
    /// watch and that rule's. Returns the all-clear when it ends a raised alarm.
    pub fn counted(
        &mut self,
        live: &Live,
        sub: &Arc<str>,
        rule: Option<usize>,
        at: i64,
    ) -> Vec<Alarm> {
        // Most daemons watch nothing: not even a hash then.
        if self.subs.is_empty() {
            return Vec::new();
        }
        let Some(watched) = self.subs.get_mut(sub) else {
            return Vec::new();
        };
        let mut ended = Vec::new();
        for watch in watched.watches.iter_mut().filter(|w| w.counts(rule)) {
            if watch.raised.take().is_some() {
                ended.push((at - watch.clock(), watch.break_quiet));
            }
            watch.last = Some(at);
        }
        if ended.is_empty() {
            return Vec::new();
        }
        let raised = watched.watches.iter().find_map(|w| w.raised);
        self.schedule(sub);
        let Some(name) = set_silent(live, sub, raised) else {
            return Vec::new();
        };
        ended
            .into_iter()
            .map(|(silence, break_quiet)| Alarm {
                sub: sub.clone(),
                notification: Notification::summary(
                    format!("{name}: events again after {}", human(silence)),
                    "",
                    Urgency::Normal,
                ),
                break_quiet,
            })
            .collect()
    }

    /// How long until the next deadline, if any watch is running.
    pub fn next_in(&self, now: i64) -> Option<Duration> {
        let Reverse((at, _)) = self.heap.peek()?;
        Some(Duration::from_millis(u64::try_from(at - now).unwrap_or(0)))
    }

    /// The alarms due at `now`: each watch past its deadline raises one, worded after its
    /// subscription's state; the live status shows it.
    pub fn due(&mut self, live: &Live, now: i64) -> Vec<Alarm> {
        let mut alarms = Vec::new();
        while let Some(Reverse((at, _))) = self.heap.peek()
            && *at <= now
        {
            let Some(Reverse((at, sub))) = self.heap.pop() else {
                break;
            };
            let Some(watched) = self.subs.get_mut(&sub) else {
                continue;
            };
            if watched.queued != Some(at) {
                continue;
            }
            watched.queued = None;
            alarms.extend(raise(live, &sub, watched, now));
            self.schedule(&sub);
        }
        alarms
    }

    /// Puts the subscription's earliest deadline in the heap, unless an entry as early is
    /// there already (a later one stays and is skipped as stale when it comes due).
    fn schedule(&mut self, sub: &Arc<str>) {
        let Some(watched) = self.subs.get_mut(sub) else {
            return;
        };
        let next = watched.watches.iter().filter_map(Watch::deadline).min();
        match (next, watched.queued) {
            (Some(next), Some(queued)) if queued <= next => {}
            (Some(next), _) => {
                watched.queued = Some(next);
                self.heap.push(Reverse((next, sub.clone())));
            }
            (None, _) => watched.queued = None,
        }
    }
}

/// Raises the alarm of every watch of `sub` past its deadline.
fn raise(live: &Live, sub: &Arc<str>, watched: &mut Watched, now: i64) -> Vec<Alarm> {
    let due: Vec<usize> = (0..watched.watches.len())
        .filter(|&i| watched.watches[i].deadline().is_some_and(|at| at <= now))
        .collect();
    if due.is_empty() {
        return Vec::new();
    }
    let state = {
        let table = live.table();
        table.status.get(sub.as_ref()).map(|entry| {
            let why = entry.hint.clone().unwrap_or_else(|| entry.reason.clone());
            let watched = entry.enabled && !entry.paused;
            (entry.ready_state, why, watched)
        })
    };
    let Some((ready_state, why, true)) = state else {
        // Paused (or gone): not watched now; looked at again one period later.
        for &i in &due {
            let watch = &mut watched.watches[i];
            watch.began = now;
            watch.last = None;
        }
        return Vec::new();
    };
    let kind = match ready_state {
        ReadyState::Open => SilenceKind::Silent,
        ReadyState::Connecting | ReadyState::Closed => SilenceKind::Offline,
    };
    let mut texts = Vec::new();
    for &i in &due {
        let watch = &mut watched.watches[i];
        let since = watch.clock();
        watch.raised = Some(Silence { kind, since });
        let when = match watch.last {
            Some(last) => format!("last event {}", clock_time(last, now)),
            None => format!("no event since {}", clock_time(since, now)),
        };
        let text = match kind {
            SilenceKind::Silent => format!("silent for {} ({when})", human(now - since)),
            SilenceKind::Offline => {
                format!("no connection for {} ({when}): {why}", human(now - since))
            }
        };
        texts.push((text, watch.urgency, watch.break_quiet));
    }
    let raised = watched.watches.iter().find_map(|w| w.raised);
    let Some(name) = set_silent(live, sub, raised) else {
        return Vec::new();
    };
    texts
        .into_iter()
        .map(|(text, urgency, break_quiet)| Alarm {
            sub: sub.clone(),
            notification: Notification::summary(format!("{name}: {text}"), "", urgency),
            break_quiet,
        })
        .collect()
}

/// The newest history rows of each subscription (newest first): enough to find the last
/// event a rule matched, at most [`SEED_ROWS`]. Blocking: run it off the runtime.
pub(crate) fn recent(path: &Path, wanted: &[Wanted]) -> HashMap<Arc<str>, Vec<StoredEvent>> {
    let reader = match HistoryReader::open(path) {
        Ok(reader) => reader,
        Err(error) => {
            tracing::warn!(%error, "silent-feed alarm: history unreadable, clocks start now");
            return HashMap::new();
        }
    };
    let mut found: HashMap<Arc<str>, Vec<StoredEvent>> = HashMap::new();
    for want in wanted {
        // A subscription's own watch needs its newest row only.
        let limit = if want.rule.is_some() { SEED_ROWS } else { 1 };
        if found.get(&want.sub).is_some_and(|rows| rows.len() >= limit) {
            continue;
        }
        match reader.page(Some(&want.sub), None, limit) {
            Ok(rows) => {
                found.insert(want.sub.clone(), rows);
            }
            Err(error) => {
                tracing::warn!(subscription = %want.sub, %error, "silent-feed alarm: history unreadable, the clock starts now");
            }
        }
    }
    found
}

/// When the last counted event of `rows` (newest first) arrived: the newest row for the
/// subscription's watch; for a rule's, the newest row that rule matches under the rules in
/// force now (history records what the router did, not which rule matched).
pub(crate) fn last_counted(
    rows: &[StoredEvent],
    rule: Option<usize>,
    router: Option<&Router>,
) -> Option<i64> {
    let Some(rule) = rule else {
        return rows.first().map(|row| row.received_at);
    };
    let router = router?;
    rows.iter()
        .find(|row| {
            let event = Event {
                event_type: row.event_type.as_str().into(),
                data: row.data.clone(),
                last_event_id: row.last_event_id.as_str().into(),
                id: row.event_id.as_deref().map(Into::into),
                cursor: None,
            };
            router.matching_rule(&event) == Some(rule)
        })
        .map(|row| row.received_at)
}

/// Shows (or clears) the alarm in the live status; returns the subscription's name.
fn set_silent(live: &Live, sub: &str, silent: Option<Silence>) -> Option<String> {
    let mut table = live.table();
    let entry = table.status.get_mut(sub)?;
    if entry.silent != silent {
        entry.silent = silent;
        live.publish(DaemonEvent::Status(entry.clone()));
    }
    Some(entry.name.clone())
}

/// A length of time as people say it: `40 s`, `15 min`, `2 h 5 min`, `3 d 4 h`.
fn human(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    let (m, h, d) = (s / 60, s / 3600, s / 86_400);
    match () {
        _ if s < 60 => format!("{s} s"),
        _ if m < 60 => format!("{m} min"),
        _ if h < 24 && m % 60 == 0 => format!("{h} h"),
        _ if h < 24 => format!("{h} h {} min", m % 60),
        _ if h % 24 == 0 => format!("{d} d"),
        _ => format!("{d} d {} h", h % 24),
    }
}

/// A moment in local time: `02:10` today, `Dec 5 02:10` on another day.
fn clock_time(at: i64, now: i64) -> String {
    let local = |ms: i64| DateTime::from_timestamp_millis(ms).map(|t| t.with_timezone(&Local));
    match (local(at), local(now)) {
        (Some(at), Some(now)) if at.date_naive() == now.date_naive() => {
            at.format("%H:%M").to_string()
        }
        (Some(at), _) => at.format("%b %-d %H:%M").to_string(),
        (None, _) => "?".into(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use ssenotify_config::{Format, LiteralSecrets};
    use ssenotify_protocol::SubscriptionStatus;
    use ssenotify_sse::Reason;

    use super::*;
    use crate::sink::NoNotifications;

    fn set(toml: &str) -> SubscriptionSet {
        SubscriptionSet::parse(
            toml,
            Format::Toml,
            Path::new("t.toml"),
            LiteralSecrets::Reject,
        )
        .unwrap()
    }

    fn live_with(id: &str, ready_state: ReadyState) -> Live {
        let live = Live::new(HashMap::new(), Arc::new(NoNotifications), false, 8);
        let status = SubscriptionStatus {
            name: "Backups".into(),
            ..SubscriptionStatus::new(id, ready_state, Reason::Started)
        };
        live.table().status.insert(id.into(), status);
        live
    }

    fn titles(alarms: Vec<Alarm>) -> Vec<String> {
        alarms.into_iter().map(|a| a.notification.title).collect()
    }

    #[test]
    fn one_alarm_per_silence_one_heap_entry_however_many_events() {
        let live = live_with("a", ReadyState::Open);
        let mut dog = Watchdog::default();
        let wanted = dog.configure(
            &live,
            &set("[[subscription]]\nid = \"a\"\nurl = \"https://a.example/\"\nexpect_every = \"10s\"\n"),
            0,
        );
        assert_eq!(wanted.len(), 1);
        let a: Arc<str> = "a".into();
        dog.seed(&a, None, None);
        assert_eq!(dog.next_in(0), Some(Duration::from_secs(10)));
        for at in 1..=5000 {
            assert!(dog.counted(&live, &a, None, at).is_empty());
        }
        assert_eq!(dog.heap.len(), 1, "an event only moves a timestamp");
        assert!(dog.due(&live, 10_000).is_empty(), "the deadline moved on");
        assert_eq!(dog.next_in(10_000), Some(Duration::from_secs(5)));
        let raised = titles(dog.due(&live, 15_000));
        assert_eq!(raised.len(), 1, "{raised:?}");
        assert!(
            raised[0].starts_with("Backups: silent for 10 s (last event "),
            "{raised:?}"
        );
        assert!(dog.due(&live, 60_000).is_empty(), "one alarm per silence");
        assert_eq!(dog.next_in(60_000), None);
        assert_eq!(
            live.table().status["a"].silent,
            Some(Silence {
                kind: SilenceKind::Silent,
                since: 5000
            })
        );
        let clear = titles(dog.counted(&live, &a, Some(3), 65_000));
        assert_eq!(clear, ["Backups: events again after 1 min"]);
        assert_eq!(live.table().status["a"].silent, None);
        assert_eq!(dog.next_in(65_000), Some(Duration::from_secs(10)));
    }

    #[test]
    fn a_rule_watch_counts_only_its_rule_and_offline_names_the_reason() {
        let live = live_with("a", ReadyState::Connecting);
        let mut dog = Watchdog::default();
        dog.configure(
            &live,
            &set("[[subscription]]\nid = \"a\"\nurl = \"https://a.example/\"\n\
                  [[subscription.rules]]\nevent = \"x\"\naction = \"history\"\n\
                  [[subscription.rules]]\nevent = \"beat\"\naction = \"history\"\nexpect_every = \"1m\"\n"),
            0,
        );
        let a: Arc<str> = "a".into();
        dog.seed(&a, Some(1), Some(1_000));
        assert!(dog.counted(&live, &a, Some(0), 30_000).is_empty());
        assert!(dog.counted(&live, &a, None, 40_000).is_empty());
        let raised = titles(dog.due(&live, 61_000));
        assert_eq!(
            raised.len(),
            1,
            "other rules' events do not count: {raised:?}"
        );
        assert!(
            raised[0].starts_with("Backups: no connection for 1 min (last event ")
                && raised[0].ends_with("): connecting"),
            "{raised:?}"
        );
        assert_eq!(
            live.table().status["a"].silent.map(|s| s.kind),
            Some(SilenceKind::Offline)
        );
        // The key removed: the alarm no longer shows.
        let plain = set("[[subscription]]\nid = \"a\"\nurl = \"https://a.example/\"\n");
        assert!(dog.configure(&live, &plain, 70_000).is_empty());
        assert_eq!(live.table().status["a"].silent, None);
        assert_eq!(dog.next_in(70_000), None);
    }

    #[test]
    fn lengths_read_as_people_say_them() {
        for (ms, text) in [
            (4_999, "4 s"),
            (59_999, "59 s"),
            (60_000, "1 min"),
            (47 * 60_000 + 30_000, "47 min"),
            (2 * 3_600_000, "2 h"),
            (2 * 3_600_000 + 5 * 60_000, "2 h 5 min"),
            (3 * 86_400_000, "3 d"),
            (3 * 86_400_000 + 4 * 3_600_000, "3 d 4 h"),
        ] {
            assert_eq!(human(ms), text, "{ms} ms");
        }
    }
}
