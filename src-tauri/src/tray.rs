//! The tray icon: its image shows the aggregate state of all subscriptions at a glance, its
//! menu shows the window, pauses or resumes everything, and quits.

use std::collections::HashMap;

use tauri::AppHandle;
use tauri::image::Image;
use tauri::menu::{Menu, MenuEvent, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;

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

/// The last known state of every subscription, folded into a [`TrayState`].
#[derive(Debug, Default)]
pub struct Tally {
    by_id: HashMap<String, (ReadyState, bool)>,
}

/// A subscription's readyState as the tally counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadyState {
    Connecting,
    Open,
    Closed,
}

impl Tally {
    /// Records one state change; `None` if it is not one the tally understands.
    // WIRE: take the engine's state-change type instead of JSON (`id`, `readyState`,
    // `paused`, and whether a CLOSED is a failure or a deliberate stop).
    pub fn apply(&mut self, change: &serde_json::Value) -> Option<()> {
        let id = change.get("id")?.as_str()?.to_owned();
        if change.get("removed").and_then(|v| v.as_bool()) == Some(true) {
            self.by_id.remove(&id);
            return Some(());
        }
        let ready = match change.get("readyState")?.as_str()? {
            "CONNECTING" => ReadyState::Connecting,
            "OPEN" => ReadyState::Open,
            "CLOSED" => ReadyState::Closed,
            _ => return None,
        };
        let paused = change
            .get("paused")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        self.by_id.insert(id, (ready, paused));
        Some(())
    }

    /// The aggregate over every subscription that is not paused.
    pub fn state(&self, notifier_ok: bool) -> TrayState {
        let (mut open, mut connecting, mut failed) = (0, 0, 0);
        for (ready, paused) in self.by_id.values() {
            match (ready, paused) {
                (_, true) => {}
                (ReadyState::Open, _) => open += 1,
                (ReadyState::Connecting, _) => connecting += 1,
                (ReadyState::Closed, _) => failed += 1,
            }
        }
        TrayState::from_counts(open, connecting, failed, notifier_ok)
    }
}

/// Keeps the tray image in step with subscription state changes until the channel closes.
pub async fn follow_states(
    app: AppHandle,
    mut rx: tokio::sync::broadcast::Receiver<serde_json::Value>,
) {
    use tokio::sync::broadcast::error::RecvError;
    let mut tally = Tally::default();
    let mut shown = TrayState::Idle;
    loop {
        match rx.recv().await {
            Ok(change) => {
                if tally.apply(&change).is_none() {
                    tracing::debug!(%change, "state change the tray does not understand");
                }
            }
            // Missed changes only delay the image: the next change recomputes everything
            // the tally knows.
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return,
        }
        // WIRE: notifier health from the engine.
        let state = tally.state(true);
        if state != shown {
            shown = state;
            if let Err(err) = set_state(&app, state) {
                tracing::warn!(%err, "could not update the tray icon");
            }
        }
    }
}

fn on_menu_event(app: &AppHandle, event: MenuEvent) {
    match event.id().as_ref() {
        MENU_SHOW => crate::window::show(app),
        MENU_PAUSE_ALL => crate::commands::pause_all(app),
        MENU_RESUME_ALL => crate::commands::resume_all(app),
        MENU_QUIT => {
            // WIRE: stop the engine first so every connection closes cleanly.
            app.exit(0);
        }
        other => tracing::debug!(id = other, "unknown tray menu item"),
    }
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
    fn tally_follows_the_latest_change_per_subscription() {
        use serde_json::json;
        let mut t = Tally::default();
        assert_eq!(t.state(true), TrayState::Idle);
        t.apply(&json!({"id": "a", "readyState": "CONNECTING"}))
            .unwrap();
        t.apply(&json!({"id": "b", "readyState": "OPEN"})).unwrap();
        assert_eq!(t.state(true), TrayState::SomeConnecting);
        t.apply(&json!({"id": "a", "readyState": "OPEN"})).unwrap();
        assert_eq!(t.state(true), TrayState::AllOpen);
        t.apply(&json!({"id": "c", "readyState": "CLOSED"}))
            .unwrap();
        assert_eq!(t.state(true), TrayState::SomeFailed);
        // A paused subscription counts nowhere; a removed one is forgotten.
        t.apply(&json!({"id": "c", "readyState": "CLOSED", "paused": true}))
            .unwrap();
        assert_eq!(t.state(true), TrayState::AllOpen);
        t.apply(&json!({"id": "a", "removed": true})).unwrap();
        t.apply(&json!({"id": "b", "removed": true})).unwrap();
        assert_eq!(t.state(true), TrayState::Idle);
        assert_eq!(t.apply(&json!({"id": "x", "readyState": "WEIRD"})), None);
        assert_eq!(t.apply(&json!({"readyState": "OPEN"})), None);
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
