//! The daemon's live state, shared by the control loop, the pipeline and the [`Daemon`]
//! handle: the status table, the resume points reached, the last configuration error
//! (one lock for all three, never held across an `await`), and the broadcast every face
//! hears updates on.
//!
//! The status table gives every change a version, so that a client that saw version V asks
//! for what changed after it (`status --since V`) and gets just that: its index of the
//! latest change per subscription is kept in version order, and a delta is a range of it.
//!
//! [`Daemon`]: crate::Daemon

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use chrono::TimeZone;
use ssenotify_protocol::{
    DaemonEvent, DaemonInfo, QuietKind, QuietState, StatusReport, SubscriptionStatus, TimelineEntry,
};
use ssenotify_router::QuietNow;
use ssenotify_router::spec::NotificationSettings;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::sink::NotifySink;

/// A subscription's resume point: the last event ID, and the cursor of a resume adapter.
pub(crate) type ResumeFrom = (String, Option<String>);

/// How many removed subscriptions the status table remembers for deltas; a client that
/// last looked before the oldest of them is sent everything again.
const REMEMBERED_REMOVALS: usize = 10_000;

/// How many state changes the table keeps per subscription (the `timeline` of `list` and
/// `status` answers); an idle subscription holds two.
pub(crate) const TIMELINE_LEN: usize = 10;

/// The live status of every subscription, in id order, with the version of its last change.
pub(crate) struct StatusTable {
    entries: BTreeMap<String, Versioned>,
    /// Each present id by the version of its last change: what a delta reads.
    changes: BTreeMap<u64, String>,
    /// Each removed id by the version of its removal, and the other way round.
    removals: BTreeMap<u64, String>,
    removed: HashMap<String, u64>,
    /// The last version given out.
    version: u64,
    /// The oldest version a delta can start from.
    horizon: u64,
}

struct Versioned {
    status: SubscriptionStatus,
    version: u64,
    /// Its last state changes, oldest first (kept here, not in `status`: a status is
    /// cloned on every change, its history need not be).
    timeline: Vec<TimelineEntry>,
}

impl Versioned {
    fn new(status: SubscriptionStatus, version: u64) -> Self {
        let mut entry = Self {
            status,
            version,
            timeline: Vec::new(),
        };
        entry.note_state();
        entry
    }

    /// Adds the status's state to the timeline when it differs from the last one there.
    fn note_state(&mut self) {
        let s = &self.status;
        if self
            .timeline
            .last()
            .is_some_and(|t| t.state == s.ready_state && t.reason == s.reason)
        {
            return;
        }
        if self.timeline.len() >= TIMELINE_LEN {
            self.timeline.remove(0);
        }
        self.timeline.push(TimelineEntry {
            at: s.since,
            state: s.ready_state,
            reason: s.reason.clone(),
            status: s.status,
        });
    }

    /// The status as an answer carries it: with its timeline.
    fn answer(&self) -> SubscriptionStatus {
        SubscriptionStatus {
            timeline: self.timeline.clone(),
            ..self.status.clone()
        }
    }
}

/// What a `status` request gets from the table (the daemon's own report aside).
pub(crate) struct Slice {
    pub version: u64,
    pub full: bool,
    pub subscriptions: Vec<SubscriptionStatus>,
    pub removed: Vec<String>,
}

/// Gives `id` (whose last change, if any, was `old`) the next version in `changes`;
/// returns it.
fn bump(version: &mut u64, changes: &mut BTreeMap<u64, String>, old: Option<u64>, id: &str) -> u64 {
    *version += 1;
    // The id's string moves from its old version to the new one: no allocation per change.
    let id = old
        .and_then(|old| changes.remove(&old))
        .unwrap_or_else(|| id.to_owned());
    changes.insert(*version, id);
    *version
}

impl StatusTable {
    /// An empty table whose versions start above `base`.
    fn new(base: u64) -> Self {
        Self {
            entries: BTreeMap::new(),
            changes: BTreeMap::new(),
            removals: BTreeMap::new(),
            removed: HashMap::new(),
            version: base,
            horizon: base,
        }
    }

    /// The status of `id`.
    pub fn get(&self, id: &str) -> Option<&SubscriptionStatus> {
        self.entries.get(id).map(|e| &e.status)
    }

    /// The status of `id`, to change it: it counts as changed.
    pub fn get_mut(&mut self, id: &str) -> Option<&mut SubscriptionStatus> {
        let entry = self.entries.get_mut(id)?;
        entry.version = bump(
            &mut self.version,
            &mut self.changes,
            Some(entry.version),
            id,
        );
        Some(&mut entry.status)
    }

    /// Adds or replaces the status of `id`.
    pub fn insert(&mut self, id: String, status: SubscriptionStatus) {
        let old = self.entries.get(&id).map(|entry| entry.version);
        if old.is_none()
            && let Some(removal) = self.removed.remove(&id)
        {
            // Back after a removal: it is no longer one.
            self.removals.remove(&removal);
        }
        let version = bump(&mut self.version, &mut self.changes, old, &id);
        match self.entries.get_mut(&id) {
            Some(entry) => {
                entry.status = status;
                entry.version = version;
                entry.note_state();
            }
            None => {
                self.entries.insert(id, Versioned::new(status, version));
            }
        }
    }

    /// Changes the state of `id` with `change`; its timeline notes the new state.
    pub fn change_state(
        &mut self,
        id: &str,
        change: impl FnOnce(&mut SubscriptionStatus),
    ) -> Option<&SubscriptionStatus> {
        self.get_mut(id).map(change)?;
        let entry = self.entries.get_mut(id)?;
        entry.note_state();
        Some(&entry.status)
    }

    /// Changes the status of `id` with `change` (starting from `initial()` if it has none);
    /// returns it when that changed anything, or when it is new.
    pub fn update(
        &mut self,
        id: &str,
        initial: impl FnOnce() -> SubscriptionStatus,
        change: impl FnOnce(&mut SubscriptionStatus),
    ) -> Option<&SubscriptionStatus> {
        let Some(entry) = self.entries.get(id) else {
            let mut status = initial();
            change(&mut status);
            self.insert(id.to_owned(), status);
            return self.get(id);
        };
        let mut next = entry.status.clone();
        change(&mut next);
        if next == entry.status {
            return None;
        }
        self.change_state(id, |status| *status = next)
    }

    /// Removes every status whose id `keep` refuses; returns their ids.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) -> Vec<String> {
        let gone: Vec<String> = self
            .entries
            .keys()
            .filter(|id| !keep(id))
            .cloned()
            .collect();
        for id in &gone {
            if let Some(entry) = self.entries.remove(id) {
                self.changes.remove(&entry.version);
                self.version += 1;
                self.removals.insert(self.version, id.clone());
                self.removed.insert(id.clone(), self.version);
            }
        }
        while self.removals.len() > REMEMBERED_REMOVALS {
            if let Some((version, id)) = self.removals.pop_first() {
                self.removed.remove(&id);
                self.horizon = self.horizon.max(version);
            }
        }
        gone
    }

    /// Every status, in id order.
    pub fn values(&self) -> impl Iterator<Item = &SubscriptionStatus> {
        self.entries.values().map(|e| &e.status)
    }

    /// What a `status` request asked for: every status (or those of `ids`), or only what
    /// changed after `since` when the table can tell (otherwise all of it, `full`).
    pub fn slice(&self, since: Option<u64>, ids: Option<&[String]>) -> Slice {
        let since = since.filter(|&v| (self.horizon..=self.version).contains(&v));
        let changed = |e: &Versioned| since.is_none_or(|v| e.version > v);
        let (subscriptions, removed) = match (ids, since) {
            (Some(ids), _) => {
                let mut found = Vec::new();
                let mut missing = Vec::new();
                for id in ids {
                    match self.entries.get(id) {
                        Some(e) if changed(e) => found.push(e.answer()),
                        Some(_) => {}
                        None => missing.push(id.clone()),
                    }
                }
                found.sort_by(|a, b| a.id.cmp(&b.id));
                (found, missing)
            }
            (None, None) => (
                self.entries.values().map(Versioned::answer).collect(),
                Vec::new(),
            ),
            (None, Some(v)) => {
                // The index holds one version per id: a range of it is what changed.
                let mut ids: Vec<&String> = self.changes.range(v + 1..).map(|(_, id)| id).collect();
                ids.sort_unstable();
                let found = ids.iter().map(|id| self.entries[*id].answer()).collect();
                let mut removed: Vec<String> = self
                    .removals
                    .range(v + 1..)
                    .map(|(_, id)| id.clone())
                    .collect();
                removed.sort_unstable();
                (found, removed)
            }
        };
        Slice {
            version: self.version,
            full: since.is_none(),
            subscriptions,
            removed,
        }
    }
}

impl std::ops::Index<&str> for StatusTable {
    type Output = SubscriptionStatus;

    fn index(&self, id: &str) -> &SubscriptionStatus {
        self.get(id).expect("no status for this id")
    }
}

/// Microseconds since the Unix epoch: where a daemon's versions start, so that a later
/// daemon's versions are above every version an earlier one gave out (it would take a
/// million changes a second to catch up with the clock).
fn start_version() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Whether `settings` hold notifications now, as the report says it.
fn quiet_now(settings: &NotificationSettings) -> Option<QuietState> {
    let local = |end: chrono::NaiveDateTime| {
        chrono::Local
            .from_local_datetime(&end)
            .earliest()
            .map(|t| t.timestamp_millis())
    };
    match QuietNow::of(settings, chrono::Local::now().naive_local()) {
        QuietNow::No => None,
        QuietNow::DoNotDisturb => Some(QuietState {
            kind: QuietKind::DoNotDisturb,
            until: None,
        }),
        QuietNow::QuietHours(end) => Some(QuietState {
            kind: QuietKind::QuietHours,
            until: end.and_then(local),
        }),
    }
}

/// What one lock guards.
pub(crate) struct Table {
    /// Live status per subscription id, in id order.
    pub status: StatusTable,
    /// The resume point each subscription reached.
    pub resume: HashMap<String, ResumeFrom>,
    /// Why the subscriptions file is not applied, if it does not validate.
    pub config_error: Option<String>,
    /// The file-wide notification settings in force (quiet hours, do not disturb).
    pub notifications: NotificationSettings,
    /// Until history's unread rows are counted at start: the subscriptions marked read
    /// meanwhile (see `unread.rs`).
    pub marked_early: Option<HashSet<String>>,
    /// Per subscription, the most events history keeps of it (`history.max_events`): no
    /// more can be unread. Set with the file, before any count.
    pub unread_caps: HashMap<String, u64>,
}

/// State shared by the control loop, the pipeline and the handle.
pub(crate) struct Live {
    table: Mutex<Table>,
    ui: broadcast::Sender<DaemonEvent>,
    pub sink: Arc<dyn NotifySink>,
    /// Whether a tray icon shows this daemon (`run --tray`): the app tells the user when
    /// closing its window would leave nothing on screen.
    tray: AtomicBool,
    /// Whether a tray host shows the icon (a StatusNotifierWatcher took it): without one
    /// (GNOME without the AppIndicator extension), closing the window leaves nothing to
    /// click, and the app says so.
    tray_host: AtomicBool,
    /// Cancelled when a client asks the daemon to stop; its owner waits on it.
    pub quit: CancellationToken,
}

impl Live {
    /// Live state starting from the stored resume points; `ui_buffer` updates may queue per
    /// listener before the slowest one loses the oldest.
    pub fn new(
        resume: HashMap<String, ResumeFrom>,
        sink: Arc<dyn NotifySink>,
        tray: bool,
        ui_buffer: usize,
    ) -> Self {
        Self {
            table: Mutex::new(Table {
                status: StatusTable::new(start_version()),
                resume,
                config_error: None,
                notifications: NotificationSettings::default(),
                marked_early: Some(HashSet::new()),
                unread_caps: HashMap::new(),
            }),
            ui: broadcast::channel(ui_buffer).0,
            sink,
            tray: tray.into(),
            // Until the tray reports otherwise: ksni says so only when no host takes it.
            tray_host: tray.into(),
            quit: CancellationToken::new(),
        }
    }

    /// The table, locked. Poisoning is ignored: every update leaves the table consistent.
    pub fn table(&self) -> MutexGuard<'_, Table> {
        self.table
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Tell every listener; no listener is the normal case for the headless daemon.
    pub fn publish(&self, event: DaemonEvent) {
        let _ = self.ui.send(event);
    }

    /// A new listener of everything published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<DaemonEvent> {
        self.ui.subscribe()
    }

    /// The sender listeners subscribe to (the control socket's watchers).
    pub fn sender(&self) -> broadcast::Sender<DaemonEvent> {
        self.ui.clone()
    }

    /// Every subscription's status, in id order.
    pub fn statuses(&self) -> Vec<SubscriptionStatus> {
        self.table().status.values().cloned().collect()
    }

    /// The answer to a `status` request: every status or what changed after `since`, of
    /// every subscription or of `ids`, and the daemon's report on itself.
    pub fn report(&self, since: Option<u64>, ids: Option<&[String]>) -> StatusReport {
        let slice = self.table().status.slice(since, ids);
        StatusReport {
            version: slice.version,
            full: slice.full,
            subscriptions: slice.subscriptions,
            removed: slice.removed,
            daemon: self.info(),
        }
    }

    /// The daemon's report on itself.
    pub fn info(&self) -> DaemonInfo {
        let (config_error, quiet) = {
            let table = self.table();
            (table.config_error.clone(), quiet_now(&table.notifications))
        };
        DaemonInfo {
            pid: std::process::id(),
            notifier: self.sink.health(),
            config_error,
            tray: self.tray.load(Ordering::Relaxed),
            tray_host: self.tray_host.load(Ordering::Relaxed),
            quiet,
        }
    }

    /// Records whether a tray icon shows this daemon.
    pub fn set_tray(&self, shown: bool) {
        self.tray.store(shown, Ordering::Relaxed);
    }

    /// Records whether a tray host shows the icon now.
    pub fn set_tray_host(&self, shown: bool) {
        self.tray_host.store(shown, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use ssenotify_sse::ReadyState;

    use super::*;

    fn table(ids: &[&str]) -> StatusTable {
        let mut table = StatusTable::new(1000);
        for id in ids {
            table.insert(
                (*id).into(),
                SubscriptionStatus::new(id, ReadyState::Connecting, "started"),
            );
        }
        table
    }

    fn ids(statuses: &[SubscriptionStatus]) -> Vec<&str> {
        statuses.iter().map(|s| s.id.as_str()).collect()
    }

    #[test]
    fn a_delta_holds_what_changed_after_the_version_seen_and_nothing_else() {
        let mut t = table(&["a", "b", "c", "d"]);
        let seen = t.slice(None, None);
        assert!(seen.full);
        assert_eq!(ids(&seen.subscriptions), ["a", "b", "c", "d"]);
        assert!(t.slice(Some(seen.version), None).subscriptions.is_empty());

        t.get_mut("c").unwrap().ready_state = ReadyState::Open;
        t.get_mut("a").unwrap().events += 1;
        t.get_mut("c").unwrap().events += 1;
        let delta = t.slice(Some(seen.version), None);
        assert!(!delta.full);
        assert_eq!(
            ids(&delta.subscriptions),
            ["a", "c"],
            "once each, in id order"
        );
        assert_eq!(delta.subscriptions[1].ready_state, ReadyState::Open);
        assert!(delta.version > seen.version);
        // From the version of that delta on, nothing more.
        assert!(t.slice(Some(delta.version), None).subscriptions.is_empty());
    }

    #[test]
    fn removals_are_part_of_a_delta_until_the_id_comes_back() {
        let mut t = table(&["a", "b", "c"]);
        let seen = t.slice(None, None).version;
        assert_eq!(t.retain(|id| id != "b"), ["b"]);
        let delta = t.slice(Some(seen), None);
        assert_eq!(
            (delta.subscriptions.len(), delta.removed),
            (0, vec!["b".to_owned()])
        );
        t.insert(
            "b".into(),
            SubscriptionStatus::new("b", ReadyState::Open, "back"),
        );
        let delta = t.slice(Some(seen), None);
        assert_eq!(ids(&delta.subscriptions), ["b"]);
        assert!(delta.removed.is_empty());
    }

    #[test]
    fn a_version_the_table_cannot_answer_for_gets_everything() {
        let mut t = table(&["a", "b"]);
        let now = t.slice(None, None).version;
        // Before this table's start (an earlier daemon), or one it never gave out.
        for since in [1, 999, now + 1] {
            let slice = t.slice(Some(since), None);
            assert!(slice.full, "since {since}");
            assert_eq!(ids(&slice.subscriptions), ["a", "b"]);
        }
        // Removals it no longer remembers: a client that looked before them starts over.
        let before = t.slice(None, None).version;
        for i in 0..=REMEMBERED_REMOVALS {
            t.insert(
                format!("x{i}"),
                SubscriptionStatus::new("x", ReadyState::Open, ""),
            );
        }
        t.retain(|id| !id.starts_with('x'));
        assert!(t.slice(Some(before), None).full);
    }

    #[test]
    fn an_update_that_changes_nothing_is_not_a_change() {
        let mut t = table(&["a"]);
        let seen = t.slice(None, None).version;
        let initial = || unreachable!("a exists");
        assert!(
            t.update("a", initial, |s| s.reason = "started".into())
                .is_none()
        );
        assert!(t.slice(Some(seen), None).subscriptions.is_empty());
        let changed = t.update("a", initial, |s| s.reason = "other".into());
        assert_eq!(changed.map(|s| s.reason.as_str()), Some("other"));
        let new = t.update(
            "n",
            || SubscriptionStatus::new("n", ReadyState::Connecting, ""),
            |_| {},
        );
        assert!(new.is_some(), "a new entry is a change");
        assert_eq!(ids(&t.slice(Some(seen), None).subscriptions), ["a", "n"]);
    }

    #[test]
    fn answers_carry_the_last_state_changes_with_their_reasons() {
        let mut t = table(&["a"]);
        for i in 0..TIMELINE_LEN + 3 {
            let state = if i % 2 == 0 {
                ReadyState::Open
            } else {
                ReadyState::Connecting
            };
            t.change_state("a", |s| {
                s.ready_state = state;
                s.reason = format!("change {i}");
                s.since = i as i64;
            });
            // The same state and reason again (an event counted, say): not a change of state.
            t.change_state("a", |s| s.events += 1);
        }
        let answer = &t.slice(None, None).subscriptions[0];
        let reasons: Vec<&str> = answer.timeline.iter().map(|e| e.reason.as_str()).collect();
        let want: Vec<String> = (3..TIMELINE_LEN + 3)
            .map(|i| format!("change {i}"))
            .collect();
        assert_eq!(reasons, want, "the last {TIMELINE_LEN}, oldest first");
        assert_eq!(
            answer.timeline.last().unwrap().at,
            (TIMELINE_LEN + 2) as i64
        );
        // Only answers carry it: the status itself (what each update publishes) does not.
        assert!(t.get("a").unwrap().timeline.is_empty());
    }

    #[test]
    fn asking_for_ids_gets_those_and_names_the_missing_ones() {
        let mut t = table(&["a", "b", "c"]);
        let seen = t.slice(None, None).version;
        t.get_mut("c").unwrap().events = 3;
        let asked = ["c".to_owned(), "zz".to_owned(), "a".to_owned()];
        let all = t.slice(None, Some(&asked));
        assert!(all.full);
        assert_eq!(ids(&all.subscriptions), ["a", "c"]);
        assert_eq!(all.removed, ["zz"]);
        let changed = t.slice(Some(seen), Some(&asked));
        assert_eq!(ids(&changed.subscriptions), ["c"]);
        let none = t.slice(None, Some(&[]));
        assert!(none.subscriptions.is_empty() && none.removed.is_empty());
    }
}
