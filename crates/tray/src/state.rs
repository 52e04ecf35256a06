//! What the tray shows: the aggregate state of every subscription, and the lines of its
//! tooltip (what is held, what failed, and which feeds the silent-feed alarm found
//! silent). Pure functions of the daemon's status table and its report on itself.

use ssenotify_protocol::{
    DaemonInfo, NotifierState, QuietKind, ReadyState, Silence, SilenceKind, SubscriptionStatus,
};

/// Most failing subscriptions named in the tooltip; the rest are counted.
const MAX_DETAILS: usize = 5;

/// The aggregate state the tray image shows, worst first when several apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TrayState {
    /// No subscriptions, or all paused or disabled.
    #[default]
    Idle,
    /// Every active subscription is OPEN.
    AllOpen,
    /// At least one is CONNECTING (and none failed).
    SomeConnecting,
    /// At least one is CLOSED by a failure, or notifications cannot be shown.
    SomeFailed,
}

impl TrayState {
    /// Folds per-subscription counts into one state. Paused subscriptions count nowhere.
    pub fn from_counts(open: usize, connecting: usize, failed: usize, notifier_ok: bool) -> Self {
        if failed > 0 || !notifier_ok {
            Self::SomeFailed
        } else if connecting > 0 {
            Self::SomeConnecting
        } else if open > 0 {
            Self::AllOpen
        } else {
            Self::Idle
        }
    }

    /// One line saying what the state means (the tooltip's title).
    pub fn tooltip(self) -> &'static str {
        match self {
            Self::Idle => "ssenotify: no active subscriptions",
            Self::AllOpen => "ssenotify: all subscriptions open",
            Self::SomeConnecting => "ssenotify: some subscriptions connecting",
            Self::SomeFailed => "ssenotify: some subscriptions failed",
        }
    }
}

/// Whether a subscription is meant to be connected: paused and disabled ones count nowhere.
fn active(status: &SubscriptionStatus) -> bool {
    status.enabled && !status.paused
}

/// Folds the statuses into a [`TrayState`]; an active subscription that is CLOSED counts
/// as failed (a running subscription only closes for good on a fatal response).
pub fn aggregate(statuses: &[SubscriptionStatus], notifier_ok: bool) -> TrayState {
    let (mut open, mut connecting, mut failed) = (0, 0, 0);
    for status in statuses.iter().filter(|s| active(s)) {
        match status.ready_state {
            ReadyState::Open => open += 1,
            ReadyState::Connecting => connecting += 1,
            ReadyState::Closed => failed += 1,
        }
    }
    TrayState::from_counts(open, connecting, failed, notifier_ok)
}

/// Everything the item shows; the item is only updated when this changes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct View {
    pub state: TrayState,
    /// The tooltip's lines under the title: what is held, what failed, and why.
    pub details: Vec<String>,
    /// Whether do not disturb is on (the menu's checkmark).
    pub do_not_disturb: bool,
}

impl View {
    /// The view of `statuses` and the daemon's report on itself (notifier health, quiet).
    pub fn of(statuses: &[SubscriptionStatus], daemon: &DaemonInfo) -> Self {
        let health = &daemon.notifier;
        let notifier_down = health.state == NotifierState::Down;
        let mut details = Vec::new();
        let do_not_disturb = daemon
            .quiet
            .as_ref()
            .is_some_and(|q| q.kind == QuietKind::DoNotDisturb);
        let unread: u64 = statuses.iter().map(|s| s.unread).sum();
        if unread > 0 {
            details.push(format!("{unread} unread"));
        }
        if let Some(quiet) = &daemon.quiet {
            details.push(match (quiet.kind, quiet.until) {
                (QuietKind::DoNotDisturb, _) => "Do not disturb: notifications are held".to_owned(),
                (QuietKind::QuietHours, Some(until)) => format!(
                    "Quiet hours until {}: notifications are held",
                    local_time(until)
                ),
                (QuietKind::QuietHours, None) => "Quiet hours: notifications are held".to_owned(),
            });
        }
        if notifier_down {
            details.push(match &health.error {
                Some(why) => format!("notifications cannot be shown: {why}"),
                None => "notifications cannot be shown".to_owned(),
            });
        }
        let failed: Vec<&SubscriptionStatus> = statuses
            .iter()
            .filter(|s| active(s) && s.ready_state == ReadyState::Closed)
            .collect();
        for status in failed.iter().take(MAX_DETAILS) {
            details.push(format!("{}: {}", status.name, status.reason));
        }
        if failed.len() > MAX_DETAILS {
            details.push(format!("and {} more", failed.len() - MAX_DETAILS));
        }
        // The silent-feed alarm: a feed that stopped sending is news even while OPEN.
        let silent: Vec<(&SubscriptionStatus, Silence)> = statuses
            .iter()
            .filter(|s| active(s))
            .filter_map(|s| Some((s, s.silent?)))
            .collect();
        for (status, silence) in silent.iter().take(MAX_DETAILS) {
            details.push(match silence.kind {
                SilenceKind::Silent => format!("{}: silent feed", status.name),
                SilenceKind::Offline => format!("{}: no connection, no events", status.name),
            });
        }
        if silent.len() > MAX_DETAILS {
            details.push(format!("and {} more silent", silent.len() - MAX_DETAILS));
        }
        Self {
            state: aggregate(statuses, !notifier_down),
            details,
            do_not_disturb,
        }
    }

    /// The tooltip's description. Hosts may render a subset of HTML there, so names and
    /// reasons (which come from the user's file and from servers) are escaped.
    pub fn description(&self) -> String {
        let mut text = String::new();
        for (i, line) in self.details.iter().enumerate() {
            if i > 0 {
                text.push('\n');
            }
            for c in line.chars() {
                match c {
                    '&' => text.push_str("&amp;"),
                    '<' => text.push_str("&lt;"),
                    '>' => text.push_str("&gt;"),
                    c => text.push(c),
                }
            }
        }
        text
    }
}

/// `HH:MM` in local time, of Unix milliseconds.
fn local_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.with_timezone(&chrono::Local).format("%H:%M").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use ssenotify_protocol::{NotifierHealth, QuietState};

    use super::*;

    fn health(state: NotifierState, error: Option<&str>) -> DaemonInfo {
        DaemonInfo {
            pid: 1,
            notifier: NotifierHealth {
                state,
                error: error.map(str::to_owned),
                ..NotifierHealth::default()
            },
            config_error: None,
            tray: true,
            tray_host: true,
            quiet: None,
        }
    }

    fn status(id: &str, ready_state: ReadyState, paused: bool) -> SubscriptionStatus {
        SubscriptionStatus {
            name: id.to_uppercase(),
            paused,
            ..SubscriptionStatus::new(id, ready_state, "HTTP 404 Not Found")
        }
    }

    #[test]
    fn worst_state_wins() {
        use TrayState::*;
        assert_eq!(TrayState::from_counts(0, 0, 0, true), Idle);
        assert_eq!(TrayState::from_counts(3, 0, 0, true), AllOpen);
        assert_eq!(TrayState::from_counts(3, 1, 0, true), SomeConnecting);
        assert_eq!(TrayState::from_counts(3, 1, 1, true), SomeFailed);
        assert_eq!(TrayState::from_counts(3, 0, 0, false), SomeFailed);
        assert_eq!(TrayState::from_counts(0, 0, 0, false), SomeFailed);
    }

    #[test]
    fn aggregate_skips_paused_and_disabled_and_counts_closed_as_failed() {
        use ReadyState::*;
        assert_eq!(aggregate(&[], true), TrayState::Idle);
        let mut all = vec![status("a", Connecting, false), status("b", Open, false)];
        assert_eq!(aggregate(&all, true), TrayState::SomeConnecting);
        all[0] = status("a", Open, false);
        assert_eq!(aggregate(&all, true), TrayState::AllOpen);
        assert_eq!(aggregate(&all, false), TrayState::SomeFailed);
        all.push(status("c", Closed, false));
        assert_eq!(aggregate(&all, true), TrayState::SomeFailed);
        all[2] = status("c", Closed, true);
        assert_eq!(aggregate(&all, true), TrayState::AllOpen);
        all[2].paused = false;
        all[2].enabled = false;
        assert_eq!(aggregate(&all, true), TrayState::AllOpen);
    }

    #[test]
    fn view_names_what_failed_escaped_and_capped() {
        let up = health(NotifierState::Up, None);
        let mut all: Vec<SubscriptionStatus> = (0..7)
            .map(|i| status(&format!("s{i}"), ReadyState::Closed, false))
            .collect();
        all[0].name = "<b>A&B</b>".into();
        let view = View::of(&all, &up);
        assert_eq!(view.state, TrayState::SomeFailed);
        assert_eq!(view.details.len(), MAX_DETAILS + 1);
        assert_eq!(view.details[MAX_DETAILS], "and 2 more");
        assert!(
            view.description()
                .starts_with("&lt;b&gt;A&amp;B&lt;/b&gt;: HTTP 404 Not Found\nS1: HTTP 404")
        );

        let down = health(NotifierState::Down, Some("no bus"));
        let view = View::of(&[], &down);
        assert_eq!(view.state, TrayState::SomeFailed);
        assert_eq!(view.details, ["notifications cannot be shown: no bus"]);
        // Disabled notifications (`run --no-notify`) are not a failure.
        let view = View::of(&[], &health(NotifierState::Disabled, None));
        assert_eq!(view, View::default());
    }

    #[test]
    fn view_counts_unread_events_across_subscriptions() {
        let daemon = health(NotifierState::Up, None);
        let mut a = status("a", ReadyState::Open, false);
        let mut b = status("b", ReadyState::Open, false);
        assert!(
            View::of(&[a.clone(), b.clone()], &daemon)
                .details
                .is_empty()
        );
        a.unread = 3;
        b.unread = 1_000;
        assert_eq!(View::of(&[a, b], &daemon).details, ["1003 unread"]);
    }

    #[test]
    fn view_says_when_notifications_are_held_and_checks_do_not_disturb() {
        let mut daemon = health(NotifierState::Up, None);
        daemon.quiet = Some(QuietState {
            kind: QuietKind::DoNotDisturb,
            until: None,
        });
        let view = View::of(&[], &daemon);
        assert!(view.do_not_disturb);
        assert_eq!(view.details, ["Do not disturb: notifications are held"]);
        let seven = chrono::Local::now()
            .date_naive()
            .and_hms_opt(7, 0, 0)
            .and_then(|t| t.and_local_timezone(chrono::Local).earliest())
            .unwrap();
        daemon.quiet = Some(QuietState {
            kind: QuietKind::QuietHours,
            until: Some(seven.timestamp_millis()),
        });
        let view = View::of(&[], &daemon);
        assert!(!view.do_not_disturb);
        assert_eq!(
            view.details,
            ["Quiet hours until 07:00: notifications are held"]
        );
    }

    #[test]
    fn view_names_silent_feeds_open_or_not() {
        let up = health(NotifierState::Up, None);
        let mut quiet = status("a", ReadyState::Open, false);
        quiet.silent = Some(Silence {
            kind: SilenceKind::Silent,
            since: 1,
        });
        let mut gone = status("b", ReadyState::Connecting, false);
        gone.silent = Some(Silence {
            kind: SilenceKind::Offline,
            since: 1,
        });
        let view = View::of(&[quiet, gone, status("c", ReadyState::Open, false)], &up);
        assert_eq!(view.state, TrayState::SomeConnecting);
        assert_eq!(
            view.details,
            ["A: silent feed", "B: no connection, no events"]
        );
    }
}
