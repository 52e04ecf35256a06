//! The tray icon: its image shows the aggregate state of all subscriptions at a glance, its
//! menu shows the window, pauses or resumes everything, and quits.

use ssenotify_engine::daemon::DaemonEvent;
use tauri::image::Image;
use tauri::menu::{Menu, MenuEvent, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager};

/// Id of the app's one tray icon.
pub const TRAY_ID: &str = "main";

const MENU_SHOW: &str = "show";
const MENU_PAUSE_ALL: &str = "pause-all";
const MENU_RESUME_ALL: &str = "resume-all";
const MENU_QUIT: &str = "quit";

/// The aggregate state the tray image shows, worst first when several apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayState {
    /// No subscriptions, or all paused.
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

    /// The PNG for this state (RGBA, from icons/make-icons.sh).
    fn icon_png(self) -> &'static [u8] {
        match self {
            Self::Idle => include_bytes!("../icons/tray-idle.png"),
            Self::AllOpen => include_bytes!("../icons/tray-open.png"),
            Self::SomeConnecting => include_bytes!("../icons/tray-connecting.png"),
            Self::SomeFailed => include_bytes!("../icons/tray-failed.png"),
        }
    }

    /// Tooltip text (hosts that support tooltips show it on hover).
    pub fn tooltip(self) -> &'static str {
        match self {
            Self::Idle => "ssenotify: no active subscriptions",
            Self::AllOpen => "ssenotify: all subscriptions open",
            Self::SomeConnecting => "ssenotify: some subscriptions connecting",
            Self::SomeFailed => "ssenotify: some subscriptions failed",
        }
    }
}

/// Creates the tray icon and its menu. Under Xvfb there is no tray host: the item still
/// exists on D-Bus and nothing draws it, which is fine.
pub fn create(app: &AppHandle) -> tauri::Result<()> {
    let menu = Menu::with_items(
        app,
        &[
            &MenuItem::with_id(app, MENU_SHOW, "Show window", true, None::<&str>)?,
            &PredefinedMenuItem::separator(app)?,
            &MenuItem::with_id(app, MENU_PAUSE_ALL, "Pause all", true, None::<&str>)?,
            &MenuItem::with_id(app, MENU_RESUME_ALL, "Resume all", true, None::<&str>)?,
            &PredefinedMenuItem::separator(app)?,
            &MenuItem::with_id(app, MENU_QUIT, "Quit", true, None::<&str>)?,
        ],
    )?;
    let initial = TrayState::Idle;
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(Image::from_bytes(initial.icon_png())?)
        .tooltip(initial.tooltip())
        .menu(&menu)
        .on_menu_event(on_menu_event)
        .build(app)?;
    Ok(())
}

/// Swaps the tray image and tooltip for `state`. Callers skip repeats: each call decodes the
/// PNG and rewrites the indicator's icon file.
pub fn set_state(app: &AppHandle, state: TrayState) -> tauri::Result<()> {
    if let Some(tray) = app.tray_by_id(TRAY_ID) {
        tray.set_icon(Some(Image::from_bytes(state.icon_png())?))?;
        tray.set_tooltip(Some(state.tooltip()))?;
    }
    Ok(())
}

/// Folds the statuses (`SubscriptionStatus` as JSON) into a [`TrayState`]; paused and
/// disabled subscriptions count nowhere, a CLOSED one counts as failed.
pub fn aggregate(statuses: &[serde_json::Value], notifier_ok: bool) -> TrayState {
    let (mut open, mut connecting, mut failed) = (0, 0, 0);
    for status in statuses {
        let flag = |key: &str| status.get(key).and_then(|v| v.as_bool());
        if flag("paused") == Some(true) || flag("enabled") == Some(false) {
            continue;
        }
        match status.get("ready_state").and_then(|v| v.as_str()) {
            Some("OPEN") => open += 1,
            Some("CONNECTING") => connecting += 1,
            Some("CLOSED") => failed += 1,
            _ => {}
        }
    }
    TrayState::from_counts(open, connecting, failed, notifier_ok)
}

/// Keeps the tray image in step with the engine: recomputed on every status change the
/// daemon broadcasts (events are skipped), and every few seconds for the notifier's health
/// (or, with an external daemon, `updates` is `None` and only the timer runs).
pub async fn follow(
    app: AppHandle,
    mut updates: Option<tokio::sync::broadcast::Receiver<DaemonEvent>>,
) {
    use tokio::sync::broadcast::error::RecvError;
    let state = app.state::<crate::commands::AppState>();
    let mut shown = TrayState::Idle;
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(2));
    loop {
        let recompute = match updates.as_mut() {
            Some(rx) => tokio::select! {
                received = rx.recv() => match received {
                    Ok(DaemonEvent::Event { .. }) => false,
                    Ok(_) | Err(RecvError::Lagged(_)) => true,
                    // The daemon stopped (quit): nothing more to follow.
                    Err(RecvError::Closed) => return,
                },
                _ = tick.tick() => true,
            },
            None => {
                tick.tick().await;
                true
            }
        };
        if !recompute {
            continue;
        }
        let (statuses, notifier_ok) = state.engine.statuses().await;
        let next = aggregate(&statuses, notifier_ok);
        if next != shown {
            shown = next;
            if let Err(err) = set_state(&app, next) {
                tracing::warn!(%err, "could not update the tray icon");
            }
        }
    }
}

fn on_menu_event(app: &AppHandle, event: MenuEvent) {
    match event.id().as_ref() {
        MENU_SHOW => crate::window::show(app),
        MENU_PAUSE_ALL | MENU_RESUME_ALL => {
            let paused = event.id().as_ref() == MENU_PAUSE_ALL;
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                crate::commands::pause_all(&app.state::<crate::commands::AppState>(), paused).await;
            });
        }
        MENU_QUIT => quit(app),
        other => tracing::debug!(id = other, "unknown tray menu item"),
    }
}

/// Quits: stops the engine first (connections close, history is flushed, the control
/// socket goes), then exits.
pub fn quit(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        app.state::<crate::commands::AppState>()
            .engine
            .shutdown()
            .await;
        app.exit(0);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn aggregate_skips_paused_and_counts_closed_as_failed() {
        use serde_json::json;
        let s = |id: &str, ready: &str, paused: bool| json!({"id": id, "ready_state": ready, "paused": paused, "enabled": true});
        assert_eq!(aggregate(&[], true), TrayState::Idle);
        let mut all = vec![s("a", "CONNECTING", false), s("b", "OPEN", false)];
        assert_eq!(aggregate(&all, true), TrayState::SomeConnecting);
        all[0] = s("a", "OPEN", false);
        assert_eq!(aggregate(&all, true), TrayState::AllOpen);
        assert_eq!(aggregate(&all, false), TrayState::SomeFailed);
        all.push(s("c", "CLOSED", false));
        assert_eq!(aggregate(&all, true), TrayState::SomeFailed);
        all[2] = s("c", "CLOSED", true);
        assert_eq!(aggregate(&all, true), TrayState::AllOpen);
    }

    #[test]
    fn every_state_has_a_decodable_rgba_icon() {
        use TrayState::*;
        for state in [Idle, AllOpen, SomeConnecting, SomeFailed] {
            let image = Image::from_bytes(state.icon_png()).expect("png decodes");
            assert_eq!((image.width(), image.height()), (64, 64));
            assert_eq!(image.rgba().len(), 64 * 64 * 4);
        }
    }
}
