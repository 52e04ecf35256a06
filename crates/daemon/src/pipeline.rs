//! The pipeline: every subscription's updates in; history, routing and sinks out.
//!
//! States go to the live status table; events go to history first (deduplication, and the
//! resume point in the same transaction), then through the subscription's [`Router`], then
//! to the notification sink; every face hears both through the live broadcast. One task,
//! fed by the supervisor's merged channel: it keeps draining while the control loop
//! applies a change, since closing a subscription waits until its CLOSED report has been
//! forwarded.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ssenotify_config::{Paths, SubscriptionSet};
use ssenotify_history::{
    Action as HistoryAction, Decided, HistoryReader, HistoryWriter, NewEvent, Outage, Recorded,
    ResumeUpdate, RowId, Shown,
};
use ssenotify_protocol::{DaemonEvent, LiveEvent};
use ssenotify_router::{self as router, Decision, Flags, Millis, Router};
use ssenotify_sse::{Event, ReadyState, Reason, StateChange, Tagged, Update};
use tokio::sync::mpsc;

use crate::command::{Commands, MAX_QUEUED, QueueFull};
use crate::live::Live;
use crate::messages::{Command, Configure, Pending};
use crate::outage::Watch;
use crate::sink::{Delivery, OnFailure, OnPressed, Tracked};
use crate::watchdog::{self, Alarm, Watchdog};

/// How a history failure reads in a subscription's `error`, so that it is cleared when
/// writes work again (and no other error is).
const HISTORY_ERROR: &str = "history: ";
/// Events arriving this soon after a resumed connection opened count as catch-up replay.
const CATCH_UP_WINDOW: Duration = Duration::from_secs(2);
/// How long a stopping daemon lets running commands finish before it kills them (within
/// the 2 s a shutdown takes at most).
const COMMAND_GRACE: Duration = Duration::from_millis(1500);
/// Most events handed to history in one transaction.
const PIPELINE_BATCH: usize = 512;

/// Per-subscription routing state in the pipeline.
struct Route {
    router: Option<Router>,
    /// When the current connection opened, and whether it resumed from a stored point.
    opened: Option<(Instant, bool)>,
    /// Its gap accounting.
    outage: Watch,
}

/// Where a subscription with unsaved events is on its way back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recovery {
    /// History refuses its events.
    Failing,
    /// History works again; the reconnect from the last saved point is asked for.
    Reconnecting,
    /// That reconnect is under way: the replay starts when it opens.
    Replaying,
}

/// The pipeline task: updates in, history + routing + sinks out.
pub(crate) struct Pipeline {
    live: Arc<Live>,
    history: HistoryWriter,
    configure: mpsc::Receiver<Configure>,
    /// Commands to the control loop (reconnecting what history could not keep).
    control: mpsc::Sender<Pending>,
    /// Runs rules' `command` actions.
    commands: Commands,
    /// Subscriptions with events history could not record, until the server has replayed
    /// them: meanwhile their stored resume point stays at the last event saved (so even a
    /// crash loses nothing for good).
    unsaved: HashMap<Arc<str>, Recovery>,
    /// Reconnects from the last saved point not yet handed to the control loop.
    reconnects: Vec<String>,
    routes: HashMap<Arc<str>, Route>,
    /// Routed rows' actions not yet handed to history: they go with the next batch's events
    /// when one is waiting already, else at once on their own.
    actions: Vec<Decided>,
    started: Instant,
    /// The next time any router has a summary or digest due.
    next_tick: Option<Millis>,
    /// The silent-feed alarm; woken by the same timer.
    watchdog: Watchdog,
    /// When each subscription's last event was stored before this start (unix ms): the
    /// start of its outage while the daemon was not running. Taken as its route is made.
    stopped: HashMap<String, i64>,
    /// Where `http` buttons read their header references.
    secrets: Option<Paths>,
}

impl Pipeline {
    /// A pipeline with no routes yet.
    pub fn new(
        live: Arc<Live>,
        history: HistoryWriter,
        configure: mpsc::Receiver<Configure>,
        control: mpsc::Sender<Pending>,
    ) -> Self {
        Self {
            live,
            history,
            configure,
            control,
            commands: Commands::start(),
            unsaved: HashMap::new(),
            reconnects: Vec::new(),
            routes: HashMap::new(),
            actions: Vec::new(),
            started: Instant::now(),
            next_tick: None,
            watchdog: Watchdog::default(),
            stopped: HashMap::new(),
            secrets: None,
        }
    }

    /// Where `http` buttons read their header references (`file:` relative to its config
    /// dir); the user's own directories when not said.
    pub fn secrets_from(mut self, paths: Paths) -> Self {
        self.secrets = Some(paths);
        self
    }

    /// Each subscription's last stored event time (unix ms), to account for the outage
    /// while the daemon was not running.
    pub fn stopped_since(mut self, stopped: HashMap<String, i64>) -> Self {
        self.stopped = stopped;
        self
    }

    fn now(&self) -> router::Now {
        router::Now {
            mono: Millis::from(self.started.elapsed()),
            local: chrono::Local::now().naive_local(),
        }
    }

    /// Runs until the merged channel ends (every subscription closed and drained).
    pub async fn run(mut self, mut merged: mpsc::Receiver<Tagged>) {
        let mut batch: Vec<Tagged> = Vec::with_capacity(PIPELINE_BATCH);
        loop {
            let tick_in = self
                .next_tick
                .map(|at| at.saturating_since(self.now().mono))
                .into_iter()
                .chain(self.watchdog.next_in(ssenotify_history::now_ms()))
                .min()
                .unwrap_or(Duration::from_secs(3600));
            // Biased: a new set's routes before any event (see `ControlLoop::reload`), and
            // a due summary before the next batch (a sustained flood must not starve it).
            let held = !self.actions.is_empty();
            tokio::select! {
                biased;
                Some(Configure::Set(set)) = self.configure.recv() => {
                    self.configure_routes(&set);
                    self.configure_watchdog(&set).await;
                }
                _ = tokio::time::sleep(tick_in) => self.tick(),
                count = merged.recv_many(&mut batch, PIPELINE_BATCH) => {
                    if count == 0 {
                        break;
                    }
                    self.handle(std::mem::take(&mut batch)).await;
                }
                // Only when no event waits (biased: the branch above comes first).
                () = std::future::ready(()), if held => self.store_actions().await,
            }
        }
        self.store_actions().await;
        tracing::debug!("pipeline drained");
        self.commands.shutdown(COMMAND_GRACE).await;
    }

    fn configure_routes(&mut self, set: &SubscriptionSet) {
        self.routes.retain(|id, _| set.get(id).is_some());
        self.unsaved.retain(|id, _| set.get(id).is_some());
        for spec in &set.subscriptions {
            let route = self.routes.entry(spec.id.as_str().into()).or_insert(Route {
                router: None,
                opened: None,
                outage: Watch::default(),
            });
            route.outage.configure(spec);
            if let Some(since) = self.stopped.remove(&spec.id) {
                let last_id = self
                    .live
                    .table()
                    .resume
                    .get(&spec.id)
                    .map(|(last, _)| last.clone());
                route
                    .outage
                    .not_running_since(since, last_id.unwrap_or_default());
            }
            if route.outage.needs_last_seq() {
                seed_sequence(&mut route.outage, self.history.path(), &spec.id);
            }
            let result = match &mut route.router {
                Some(router) => router.reconfigure(
                    spec.display_name(),
                    spec.preset,
                    &spec.rules,
                    spec.rate_limit.as_ref(),
                    &set.notifications,
                ),
                None => Router::new(
                    spec.display_name(),
                    spec.preset,
                    &spec.rules,
                    spec.rate_limit.as_ref(),
                    &set.notifications,
                )
                .map(|router| route.router = Some(router)),
            };
            if let Err(error) = result {
                // The file validator compiles rules too, so this is a bug, not a user error.
                tracing::error!(subscription = %spec.id, %error, "rules do not compile");
            }
            if let Some(router) = &mut route.router {
                let until = spec.mute_until.and_then(|until| {
                    let left = until
                        .signed_duration_since(chrono::Utc::now())
                        .to_std()
                        .ok()?;
                    Some(Millis::from(self.started.elapsed() + left))
                });
                router.mute_until(until);
            }
        }
        // Only the first set meets the subscriptions as the last run left them.
        self.stopped = HashMap::new();
        // A change of quiet hours can make a held digest due now.
        self.schedule_tick();
    }

    async fn handle(&mut self, batch: Vec<Tagged>) {
        let received_at = ssenotify_history::now_ms();
        let mut events: Vec<(Arc<str>, Event, bool)> = Vec::new();
        for tagged in batch {
            match tagged.update {
                Update::State(change) => self.state(&tagged.id, &change),
                Update::Event(event) => {
                    let mut catch_up = false;
                    let mut gap = None;
                    if let Some(route) = self.routes.get_mut(&tagged.id) {
                        catch_up = route
                            .opened
                            .is_some_and(|(at, resumed)| resumed && at.elapsed() < CATCH_UP_WINDOW);
                        gap = route.outage.on_event(&event, received_at);
                    }
                    if let Some(outage) = gap {
                        // In history, the gap comes after the events before it.
                        if !events.is_empty() {
                            self.events(std::mem::take(&mut events), received_at).await;
                        }
                        self.keep_gap(tagged.id.clone(), outage).await;
                    }
                    events.push((tagged.id, event, catch_up));
                }
            }
        }
        if !events.is_empty() {
            self.events(events, received_at).await;
        }
    }

    /// Keeps a possible gap as a history row, shows it to every face, and notifies of it
    /// when `notify_gaps` asks (held by mute, quiet hours and the rate limit like an event).
    async fn keep_gap(&mut self, id: Arc<str>, outage: Outage) {
        let last_id = {
            let table = self.live.table();
            table
                .resume
                .get(id.as_ref())
                .map(|(last, _)| last.clone())
                .unwrap_or_default()
        };
        let row = outage.row(id.clone(), &last_id);
        let kept = match self.history.record(vec![row.clone()], Vec::new()).await {
            Ok(recorded) => recorded.first().map(|r| r.row()),
            Err(error) => {
                tracing::error!(%error, "history could not record a possible gap");
                None
            }
        };
        tracing::warn!(subscription = %id, cause = %outage.cause, "{}", outage.summary());
        self.live.publish(DaemonEvent::Event(LiveEvent {
            subscription: id.to_string(),
            row: kept,
            event_type: row.event_type.to_string(),
            data: row.data,
            last_event_id: row.last_event_id.to_string(),
            action: HistoryAction::Gap,
            received_at: row.received_at,
            unread: self
                .live
                .table()
                .status
                .get(id.as_ref())
                .map_or(0, |s| s.unread),
            rule: None,
            shown: None,
        }));
        let now = self.now();
        let Some(router) = self
            .routes
            .get_mut(&id)
            .filter(|r| r.outage.notify)
            .and_then(|r| r.router.as_mut())
        else {
            return;
        };
        let title = format!("{}: possible gap", router.name());
        let notification =
            router::Notification::summary(title, &outage.line(), router::Urgency::Normal);
        if router
            .admit_notice(&notification, &outage.summary(), now)
            .is_ok()
        {
            self.live.sink.deliver(&id, notification);
        }
        self.schedule_tick();
    }

    fn state(&mut self, id: &Arc<str>, change: &StateChange) {
        if let Some(route) = self.routes.get_mut(id) {
            let live = &self.live;
            route.outage.on_state(change, || {
                let table = live.table();
                table
                    .resume
                    .get(id.as_ref())
                    .map(|(last, _)| last.clone())
                    .unwrap_or_default()
            });
        }
        if let Some(recovery) = self.unsaved.get_mut(id) {
            match (*recovery, change.ready_state) {
                (Recovery::Reconnecting, ReadyState::Connecting)
                    if change.reason == Reason::ReconnectRequested =>
                {
                    *recovery = Recovery::Replaying;
                }
                // The replay starts: from here on its events move the resume point again.
                (Recovery::Replaying, ReadyState::Open) => {
                    self.unsaved.remove(id);
                }
                _ => {}
            }
        }
        if change.ready_state == ReadyState::Open {
            let resumed = self
                .live
                .table()
                .resume
                .get(id.as_ref())
                .is_some_and(|(last, cursor)| !last.is_empty() || cursor.is_some());
            if let Some(route) = self.routes.get_mut(id) {
                route.opened = Some((Instant::now(), resumed));
            }
        }
        let mut table = self.live.table();
        let changed = table.status.change_state(id.as_ref(), |entry| {
            entry.ready_state = change.ready_state;
            entry.reason = change.reason.to_string();
            entry.hint = change.reason.explain(&entry.url);
            entry.status = change.reason.status();
            entry.since = ssenotify_history::unix_ms(change.at);
            entry.retry_in_ms = change.retry_in.map(|d| d.as_millis() as u64);
        });
        if let Some(entry) = changed
            && change.reason != Reason::ClosedByUser
        {
            self.live.publish(DaemonEvent::Status(entry.clone()));
        }
    }

    async fn events(&mut self, events: Vec<(Arc<str>, Event, bool)>, received_at: i64) {
        // Events of one subscription arrive in order; the last one carries the resume point.
        let mut resume_points: HashMap<Arc<str>, ResumeUpdate> = HashMap::new();
        let new_events: Vec<NewEvent> = events
            .iter()
            .map(|(id, event, _)| {
                // An event without a cursor of its own (one the resume adapter does not
                // count, such as ntfy's keepalives) leaves the cursor where it was.
                let cursor = event.cursor.as_deref().map(Arc::from).or_else(|| {
                    resume_points
                        .get(id)
                        .and_then(|point: &ResumeUpdate| point.cursor.clone())
                });
                resume_points.insert(
                    id.clone(),
                    ResumeUpdate {
                        sub_id: id.clone(),
                        last_event_id: event.last_event_id.as_str().into(),
                        cursor,
                    },
                );
                NewEvent::new(
                    id.clone(),
                    event,
                    event.id.as_deref().or(event.cursor.as_deref()),
                    received_at,
                )
            })
            .collect();
        {
            let table = self.live.table();
            for point in resume_points.values_mut().filter(|p| p.cursor.is_none()) {
                point.cursor = table
                    .resume
                    .get(point.sub_id.as_ref())
                    .and_then(|(_, cursor)| cursor.as_deref().map(Arc::from));
            }
        }
        let points: Vec<ResumeUpdate> = resume_points.into_values().collect();
        let stored: Vec<ResumeUpdate> = points
            .iter()
            .filter(|p| !self.unsaved.contains_key(&p.sub_id))
            .cloned()
            .collect();
        let earlier = std::mem::take(&mut self.actions);
        let recorded = match self.history.record_after(earlier, new_events, stored).await {
            Ok(recorded) => {
                self.saved(&points).await;
                recorded.into_iter().map(Some).collect()
            }
            Err(error) => {
                // History is down (disk full, read-only): notifications still flow, but the
                // resume point stays at the last event saved (see `saved`).
                tracing::error!(%error, "history could not record events");
                let mut table = self.live.table();
                for point in &points {
                    self.unsaved.insert(point.sub_id.clone(), Recovery::Failing);
                    if let Some(entry) = table.status.get_mut(point.sub_id.as_ref()) {
                        entry.error = Some(format!("{HISTORY_ERROR}{error}"));
                        self.live.publish(DaemonEvent::Status(entry.clone()));
                    }
                }
                vec![None; events.len()]
            }
        };
        let now = self.now();
        let mut actions = Vec::new();
        let mut dropped = Vec::new();
        // Rows this batch added: a copy of one of them later in the same batch is a plain
        // duplicate, although its earlier copy is still `pending` (it is routed just below).
        let mut added = HashSet::new();
        for ((id, event, catch_up), recorded) in events.into_iter().zip(recorded) {
            let duplicate = recorded.as_ref().is_some_and(|r| {
                if r.is_new() {
                    added.insert(r.row());
                }
                !r.needs_routing() || (!r.is_new() && added.contains(&r.row()))
            });
            let mut rule = None;
            let mut shown = None;
            let action = match self.routes.get_mut(&id).and_then(|r| r.router.as_mut()) {
                _ if duplicate => HistoryAction::Duplicate,
                Some(router) => {
                    let decision = router.route(
                        &event,
                        Flags {
                            duplicate,
                            catch_up,
                        },
                        now,
                    );
                    rule = decision.rule;
                    shown = made(&decision.action);
                    self.act(&id, decision, recorded.as_ref().map(|r| r.row()))
                }
                None => HistoryAction::History,
            };
            // Kept only for what was shown or held: with notifications off (`run
            // --no-notify`) the decision is a plain `history`, and costs no more.
            if !(action.wants_attention() || action == HistoryAction::Muted) {
                shown = None;
            }
            // A dropped event is neither shown nor kept (`drop` promises that); its row
            // went in only to find duplicates, and goes now.
            let row = match (recorded.map(Recorded::row), action) {
                (Some(row), HistoryAction::Dropped) => {
                    dropped.push(row);
                    None
                }
                (Some(row), HistoryAction::Duplicate) => (!dropped.contains(&row)).then_some(row),
                (Some(row), action) => {
                    actions.push(Decided {
                        row,
                        action,
                        rule: rule.and_then(|r| u32::try_from(r).ok()),
                        shown: shown.clone(),
                    });
                    Some(row)
                }
                (None, _) => None,
            };
            // A duplicate was received before and counted then.
            let unread = {
                let mut table = self.live.table();
                let cap = table.unread_caps.get(id.as_ref()).copied();
                if action == HistoryAction::Duplicate {
                    table.status.get(id.as_ref()).map_or(0, |s| s.unread)
                } else if let Some(entry) = table.status.get_mut(id.as_ref()) {
                    entry.events += 1;
                    entry.last_event_at = Some(received_at);
                    if row.is_some() {
                        entry.last_row = row;
                    }
                    if action.wants_attention() {
                        entry.unread = (entry.unread + 1).min(cap.unwrap_or(u64::MAX));
                    }
                    entry.unread
                } else {
                    0
                }
            };
            // What history keeps counts for the silent-feed alarm (so it counts again
            // after a restart).
            if !matches!(action, HistoryAction::Duplicate | HistoryAction::Dropped) {
                let alarms = self.watchdog.counted(&self.live, &id, rule, received_at);
                if !alarms.is_empty() {
                    self.alarm(alarms, now);
                }
            }
            self.live.publish(DaemonEvent::Event(LiveEvent {
                subscription: id.to_string(),
                row,
                event_type: event.event_type.to_string(),
                data: event.data,
                last_event_id: event.last_event_id.to_string(),
                action,
                received_at,
                unread,
                rule: rule.and_then(|r| u32::try_from(r).ok()),
                shown,
            }));
        }
        if !actions.is_empty() {
            // Stored with the next batch's events (one commit for both), or alone at once.
            self.actions.extend(actions);
        }
        if !dropped.is_empty() && self.history.discard(dropped).await.is_err() {
            tracing::error!("history is closed; dropped events not discarded");
        }
        self.schedule_tick();
    }

    /// Hands the routed rows' actions still held to history on their own.
    async fn store_actions(&mut self) {
        let actions = std::mem::take(&mut self.actions);
        if !actions.is_empty() && self.history.set_actions(actions).await.is_err() {
            tracing::error!("history is closed; actions not stored");
        }
    }

    /// Events up to `points` are saved: they are the resume points now. A subscription
    /// whose earlier events could not be saved reconnects from its last saved point, so the
    /// server replays them (they come back as catch-up: deduplicated, rate-limited).
    async fn saved(&mut self, points: &[ResumeUpdate]) {
        let mut recovered = Vec::new();
        {
            let mut table = self.live.table();
            for point in points {
                let id = point.sub_id.as_ref();
                if let Some(recovery) = self.unsaved.get_mut(id) {
                    if *recovery != Recovery::Failing {
                        // Still on its way back: the resume point stays where it was.
                        continue;
                    }
                    *recovery = Recovery::Reconnecting;
                    recovered.push(id.to_owned());
                    if let Some(entry) = table.status.get_mut(id)
                        && entry
                            .error
                            .as_deref()
                            .is_some_and(|e| e.starts_with(HISTORY_ERROR))
                    {
                        entry.error = None;
                        self.live.publish(DaemonEvent::Status(entry.clone()));
                    }
                    // The point to go back to is the last one saved: keep it.
                    continue;
                }
                table.resume.insert(
                    id.to_owned(),
                    (
                        point.last_event_id.to_string(),
                        point.cursor.as_ref().map(|c| c.to_string()),
                    ),
                );
            }
        }
        for id in recovered {
            tracing::warn!(subscription = %id, "history works again: reconnecting from the last saved event");
            self.reconnects.push(id);
        }
        // Never waiting on the control loop: it may itself be waiting for this pipeline to
        // drain (closing a subscription), so a full queue is tried again at the next batch.
        while let Some(id) = self.reconnects.pop() {
            let (reply, _) = tokio::sync::oneshot::channel();
            if let Err(error) = self.control.try_send((Command::ReconnectFrom(id), reply)) {
                if let tokio::sync::mpsc::error::TrySendError::Full((
                    Command::ReconnectFrom(id),
                    _,
                )) = error
                {
                    self.reconnects.push(id);
                }
                break;
            }
        }
    }

    /// Carry out a router decision for the event recorded as `row`; returns what history
    /// records.
    fn act(&self, id: &str, decision: Decision, row: Option<RowId>) -> HistoryAction {
        if let Some(error) = &decision.template_error
            && let Some(entry) = self.live.table().status.get_mut(id)
        {
            entry.error = Some(format!("template error: {error}"));
        }
        if let Some(refused) = &decision.refused_click_url {
            tracing::warn!(subscription = %id, reason = %refused.reason, "click URL refused");
        }
        match decision.action {
            router::Action::Notify(notification) => {
                // "notified" is stored now; if the server then fails to show it, the row
                // becomes "error" (history keeps that over a later "notified").
                let delivery = match row {
                    Some(row) => {
                        let history = self.history.clone();
                        let failed: OnFailure = Box::new(move || history.notify_failed_now(row));
                        let history = self.history.clone();
                        let pressed: OnPressed =
                            Arc::new(move |result| history.button_result_now(row, result));
                        let tracked = Tracked {
                            failed,
                            pressed,
                            secrets: self.secrets.clone(),
                        };
                        self.live.sink.deliver_tracked(id, notification, tracked)
                    }
                    None => self.live.sink.deliver(id, notification),
                };
                match delivery {
                    Delivery::Queued => HistoryAction::Notified,
                    Delivery::Dropped => HistoryAction::Error,
                    // Recorded like a `history` rule: kept, deliberately not shown.
                    Delivery::Disabled => HistoryAction::History,
                }
            }
            router::Action::History => HistoryAction::History,
            router::Action::Drop => HistoryAction::Dropped,
            router::Action::Command { argv, env, timeout } => {
                match self.commands.spawn(id, argv, env, timeout) {
                    Ok(()) => HistoryAction::Command,
                    Err(QueueFull) => {
                        tracing::warn!(subscription = %id, "{MAX_QUEUED} commands wait already: this one is not run");
                        HistoryAction::Error
                    }
                }
            }
            router::Action::Suppressed { why, .. } => match why {
                router::SuppressReason::RateLimited | router::SuppressReason::CatchUp => {
                    HistoryAction::RateLimited
                }
                router::SuppressReason::Quiet => HistoryAction::Quiet,
                router::SuppressReason::Muted => HistoryAction::Muted,
                router::SuppressReason::Duplicate => HistoryAction::Duplicate,
            },
        }
    }

    fn schedule_tick(&mut self) {
        self.next_tick = self
            .routes
            .values()
            .filter_map(|r| r.router.as_ref()?.next_deadline())
            .min();
    }

    /// Follows the file's `expect_every`s; a new watch's clock starts from history.
    async fn configure_watchdog(&mut self, set: &SubscriptionSet) {
        let wanted = self
            .watchdog
            .configure(&self.live, set, ssenotify_history::now_ms());
        if wanted.is_empty() {
            return;
        }
        let path = self.history.path().to_owned();
        let (found, wanted) = tokio::task::spawn_blocking(move || {
            let found = watchdog::recent(&path, &wanted);
            (found, wanted)
        })
        .await
        .expect("reading history back does not panic");
        for want in wanted {
            let rows = found.get(&want.sub).map(Vec::as_slice).unwrap_or_default();
            let router = self.routes.get(&want.sub).and_then(|r| r.router.as_ref());
            let last = watchdog::last_counted(rows, want.rule, router);
            self.watchdog.seed(&want.sub, want.rule, last);
        }
    }

    /// Shows the silent-feed alarm's notifications, unless mute or quiet hours hold them.
    fn alarm(&mut self, alarms: Vec<Alarm>, now: router::Now) {
        for alarm in alarms {
            let admitted = self
                .routes
                .get_mut(&alarm.sub)
                .and_then(|r| r.router.as_mut())
                .is_none_or(|router| {
                    router
                        .admit_own(&alarm.notification, alarm.break_quiet, now)
                        .is_ok()
                });
            if admitted {
                self.live.sink.deliver(&alarm.sub, alarm.notification);
            }
        }
        // A held alarm makes a digest due at the end of quiet hours.
        self.schedule_tick();
    }

    fn tick(&mut self) {
        let now = self.now();
        let alarms = self.watchdog.due(&self.live, ssenotify_history::now_ms());
        if !alarms.is_empty() {
            self.alarm(alarms, now);
        }
        for (id, route) in &mut self.routes {
            let Some(router) = &mut route.router else {
                continue;
            };
            if router.next_deadline().is_some_and(|at| at <= now.mono) {
                for summary in router.tick(now) {
                    self.live.sink.deliver(id, summary);
                }
            }
        }
        self.schedule_tick();
    }
}

/// The last sequence number `id` stored, read once after a start: a sequence declared
/// in the file proves continuity across a restart too. One indexed read of a few rows,
/// done in place: it happens once per such subscription.
fn seed_sequence(watch: &mut Watch, db: &std::path::Path, id: &str) {
    let rows = HistoryReader::open(db).and_then(|reader| reader.page(Some(id), None, 16));
    match rows {
        Ok(rows) => {
            if let Some(last) = rows.iter().find(|r| r.action != HistoryAction::Gap) {
                watch.seed_seq(&last.data);
            }
        }
        Err(error) => tracing::debug!(subscription = %id, %error, "no stored sequence number"),
    }
}

/// The notification a decision made (shown now, or held), as history keeps it for the
/// inspector.
fn made(action: &router::Action) -> Option<Shown> {
    let notification = match action {
        router::Action::Notify(notification) => notification,
        router::Action::Suppressed {
            notification: Some(notification),
            ..
        } => notification,
        _ => return None,
    };
    let urgency = match notification.urgency {
        router::Urgency::Low => "low",
        router::Urgency::Normal => "normal",
        router::Urgency::Critical => "critical",
    };
    Some(Shown {
        title: notification.title.clone(),
        body: notification.body.clone(),
        urgency: urgency.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Mutex;

    use ssenotify_config::{Format, LiteralSecrets};
    use ssenotify_history::HistoryReader;
    use ssenotify_protocol::{NotifierHealth, SubscriptionStatus};
    use ssenotify_router::Notification;

    use super::*;
    use crate::sink::NotifySink;

    /// A sink that keeps what it was asked to show.
    #[derive(Default)]
    struct Recording(Mutex<Vec<Notification>>);

    impl NotifySink for Recording {
        fn deliver(&self, _: &str, notification: Notification) -> Delivery {
            self.0.lock().unwrap().push(notification);
            Delivery::Queued
        }
        fn health(&self) -> NotifierHealth {
            NotifierHealth::default()
        }
    }

    fn event(event_type: &str, id: &str, data: &str) -> Update {
        Update::Event(Event {
            event_type: event_type.into(),
            data: data.into(),
            last_event_id: id.into(),
            id: Some(id.into()),
            cursor: None,
        })
    }

    fn tagged(update: Update) -> Tagged {
        Tagged {
            id: "a".into(),
            update,
        }
    }

    /// Drives the pipeline with updates only: no sockets, no processes, a real history file.
    #[tokio::test]
    async fn events_are_stored_once_routed_and_published_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("history.sqlite3");
        let history = HistoryWriter::open(&db).unwrap();
        let sink = Arc::new(Recording::default());
        let live = Arc::new(Live::new(HashMap::new(), sink.clone(), false, 64));
        live.table().status.insert(
            "a".into(),
            SubscriptionStatus::new("a", ReadyState::Connecting, Reason::Started),
        );
        let mut published = live.subscribe();
        let set = SubscriptionSet::parse(
            "[[subscription]]\nid = \"a\"\nurl = \"https://a.example/sse\"\n\
             [[subscription.rules]]\nevent = \"alert\"\ntitle = \"{{ data }}\"\n\
             [[subscription.rules]]\nevent = \"noise\"\naction = \"drop\"\n",
            Format::Toml,
            Path::new("t.toml"),
            LiteralSecrets::Reject,
        )
        .unwrap();

        let (configure, configure_rx) = mpsc::channel(1);
        let (merged, merged_rx) = mpsc::channel(16);
        let (control, _commands) = mpsc::channel(4);
        let pipeline = Pipeline::new(live.clone(), history.clone(), configure_rx, control);
        let task = tokio::spawn(pipeline.run(merged_rx));
        configure.send(Configure::Set(set)).await.unwrap();
        let open = StateChange::now(ReadyState::Open, Reason::Opened { status: 200 }, None);
        for update in [
            Update::State(open),
            event("alert", "1", "disk full"),
            event("alert", "1", "disk full"),
            event("message", "2", "fyi"),
            event("noise", "3", "ignore me"),
        ] {
            merged.send(tagged(update)).await.unwrap();
        }
        drop(merged);
        task.await.unwrap();
        history.close().await.unwrap();

        let shown: Vec<String> = sink
            .0
            .lock()
            .unwrap()
            .iter()
            .map(|n| n.title.clone())
            .collect();
        assert_eq!(shown, ["disk full"], "the duplicate is not shown again");
        let mut seen = Vec::new();
        while let Ok(update) = published.try_recv() {
            seen.push(match update {
                DaemonEvent::Status(s) => format!("status {}", s.ready_state),
                DaemonEvent::Event(e) => format!(
                    "event {} {} {}",
                    e.last_event_id,
                    e.action,
                    if e.row.is_some() {
                        "stored"
                    } else {
                        "not stored"
                    }
                ),
                DaemonEvent::Config { .. } => "config".into(),
                DaemonEvent::Removed { .. } => "removed".into(),
            });
        }
        assert_eq!(
            seen,
            [
                "status OPEN",
                "event 1 notified stored",
                "event 1 duplicate stored",
                "event 2 history stored",
                "event 3 dropped not stored"
            ]
        );
        let rows = HistoryReader::open(&db)
            .unwrap()
            .page(Some("a"), None, 10)
            .unwrap();
        let actions: Vec<_> = rows.iter().map(|r| (r.data.as_str(), r.action)).collect();
        assert_eq!(
            actions,
            [
                ("fyi", HistoryAction::History),
                ("disk full", HistoryAction::Notified)
            ],
            "a dropped event is not kept"
        );
        let table = live.table();
        assert_eq!(table.status["a"].ready_state, ReadyState::Open);
        assert_eq!(table.status["a"].events, 3, "the duplicate is not counted");
        assert_eq!(
            table.resume["a"].0, "3",
            "the resume point is the last event's id"
        );
    }

    /// Runs `updates` of subscription "a" (set up by `file`) through a pipeline; returns
    /// what the sink was asked to show and the rows of history (newest first).
    async fn run_a(
        file: &str,
        updates: Vec<Update>,
    ) -> (Vec<String>, Vec<(String, HistoryAction)>) {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("history.sqlite3");
        let history = HistoryWriter::open(&db).unwrap();
        let sink = Arc::new(Recording::default());
        let live = Arc::new(Live::new(HashMap::new(), sink.clone(), false, 64));
        live.table().status.insert(
            "a".into(),
            SubscriptionStatus::new("a", ReadyState::Connecting, Reason::Started),
        );
        let set = SubscriptionSet::parse(
            file,
            Format::Toml,
            Path::new("t.toml"),
            LiteralSecrets::Reject,
        )
        .unwrap();
        let (configure, configure_rx) = mpsc::channel(1);
        let (merged, merged_rx) = mpsc::channel(16);
        let (control, _commands) = mpsc::channel(4);
        let pipeline = Pipeline::new(live.clone(), history.clone(), configure_rx, control);
        let task = tokio::spawn(pipeline.run(merged_rx));
        configure.send(Configure::Set(set)).await.unwrap();
        for update in updates {
            merged.send(tagged(update)).await.unwrap();
        }
        drop(merged);
        task.await.unwrap();
        history.close().await.unwrap();
        let shown = sink
            .0
            .lock()
            .unwrap()
            .iter()
            .map(|n| n.title.clone())
            .collect();
        let rows = HistoryReader::open(&db)
            .unwrap()
            .page(Some("a"), None, 10)
            .unwrap();
        (
            shown,
            rows.into_iter().map(|r| (r.event_type, r.action)).collect(),
        )
    }

    /// A connection that dropped between events `1` and `5` (ids that jump: a gap).
    fn dropped_between_1_and_5() -> Vec<Update> {
        let open = || {
            Update::State(StateChange::now(
                ReadyState::Open,
                Reason::Opened { status: 200 },
                None,
            ))
        };
        vec![
            open(),
            event("message", "1", "one"),
            Update::State(StateChange::now(
                ReadyState::Connecting,
                Reason::StreamEnded,
                None,
            )),
            open(),
            event("message", "5", "five"),
        ]
    }

    #[tokio::test]
    async fn a_gap_is_kept_before_the_event_that_proves_it_and_notified_when_asked() {
        let sub = "[[subscription]]\nid = \"a\"\nurl = \"https://a.example/sse\"\n\
                   gap_threshold = \"0s\"\nnotify_gaps = true\n\
                   [[subscription.rules]]\nevent = \"*\"\naction = \"history\"\n";
        let (shown, rows) = run_a(sub, dropped_between_1_and_5()).await;
        assert_eq!(
            shown,
            ["a: possible gap"],
            "only the gap pops up (the rule keeps events quiet)"
        );
        assert_eq!(
            rows,
            [
                ("message".to_owned(), HistoryAction::History),
                ("ssenotify.gap".to_owned(), HistoryAction::Gap),
                ("message".to_owned(), HistoryAction::History),
            ]
        );

        // Quiet hours all day hold it (for the digest); the row stands.
        let quiet = format!(
            "[notifications]\nquiet_hours = [{{ from = \"00:00\", to = \"00:00\" }}]\n{sub}"
        );
        let (shown, rows) = run_a(&quiet, dropped_between_1_and_5()).await;
        assert!(shown.is_empty(), "{shown:?}");
        assert_eq!(rows[1].1, HistoryAction::Gap);

        // At the default threshold (a minute) a quick reconnect is no row, and without
        // notify_gaps nothing pops up.
        let default = "[[subscription]]\nid = \"a\"\nurl = \"https://a.example/sse\"\n\
                       [[subscription.rules]]\nevent = \"*\"\naction = \"history\"\n";
        let (shown, rows) = run_a(default, dropped_between_1_and_5()).await;
        assert!(shown.is_empty() && rows.len() == 2, "{shown:?} {rows:?}");
    }
}
