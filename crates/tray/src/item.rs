//! The StatusNotifierItem itself (a [`ksni::Tray`]): its properties come from the current
//! [`View`]; its menu and left click only send an [`Action`] to the loop in `lib.rs`, which
//! owns the daemon (ksni calls these callbacks with its own lock held, so they must not
//! wait for anything).

use std::sync::atomic::{AtomicBool, Ordering};

use ksni::menu::{CheckmarkItem, StandardItem};
use ksni::{Category, MenuItem, OfflineReason, Status, ToolTip};
use tokio::sync::mpsc;

use crate::icon::Icons;
use crate::state::{TrayState, View};

/// What the user asked for from the tray.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// "Show window" or a left click: start (or focus) the desktop app.
    ShowWindow,
    /// "Pause all" (`true`) or "Resume all" (`false`).
    SetAllPaused(bool),
    /// The "Do not disturb" checkmark: on (`true`) or off.
    SetDoNotDisturb(bool),
    /// "Quit": stop the daemon.
    Quit,
    /// A tray host appeared (`true`) or is gone (`false`): whether the icon can be seen.
    HostShown(bool),
}

/// The item ksni serves on the session bus.
pub(crate) struct Item {
    /// What the item shows now.
    pub view: View,
    icons: Icons,
    actions: mpsc::Sender<Action>,
    /// Whether "no tray host" was logged at warn level already (later ones go to info).
    warned: AtomicBool,
}

impl Item {
    pub fn new(view: View, actions: mpsc::Sender<Action>) -> Self {
        Self {
            view,
            icons: Icons::load(),
            actions,
            warned: AtomicBool::new(false),
        }
    }

    fn send(&self, action: Action) {
        // The host calls in on ksni's own thread, which must never wait: a user cannot click
        // faster than the loop answers, so a full queue only drops a repeat (and a closed
        // one means the daemon is shutting down).
        if self.actions.try_send(action).is_err() {
            tracing::debug!("tray action dropped: the previous ones are still queued");
        }
    }

    fn entry(label: &str, action: Action) -> MenuItem<Self> {
        StandardItem {
            label: label.into(),
            activate: Box::new(move |item: &mut Self| item.send(action)),
            ..Default::default()
        }
        .into()
    }
}

impl ksni::Tray for Item {
    fn id(&self) -> String {
        "ssenotify".into()
    }

    fn title(&self) -> String {
        "ssenotify".into()
    }

    fn category(&self) -> Category {
        Category::ApplicationStatus
    }

    fn status(&self) -> Status {
        match self.view.state {
            TrayState::SomeFailed => Status::NeedsAttention,
            _ => Status::Active,
        }
    }

    fn icon_pixmap(&self) -> Vec<ksni::Icon> {
        vec![self.icons.get(self.view.state).clone()]
    }

    fn tool_tip(&self) -> ToolTip {
        ToolTip {
            title: self.view.state.tooltip().into(),
            description: self.view.description(),
            ..Default::default()
        }
    }

    fn activate(&mut self, _x: i32, _y: i32) {
        self.send(Action::ShowWindow);
    }

    fn menu(&self) -> Vec<MenuItem<Self>> {
        vec![
            Self::entry("Show window", Action::ShowWindow),
            MenuItem::Separator,
            Self::entry("Pause all", Action::SetAllPaused(true)),
            Self::entry("Resume all", Action::SetAllPaused(false)),
            MenuItem::Separator,
            CheckmarkItem {
                label: "Do not disturb".into(),
                checked: self.view.do_not_disturb,
                activate: Box::new(|item: &mut Self| {
                    item.send(Action::SetDoNotDisturb(!item.view.do_not_disturb))
                }),
                ..Default::default()
            }
            .into(),
            MenuItem::Separator,
            Self::entry("Quit", Action::Quit),
        ]
    }

    fn watcher_online(&self) {
        tracing::info!("a StatusNotifierWatcher appeared; the tray icon registers with it");
        self.send(Action::HostShown(true));
    }

    fn watcher_offline(&self, reason: OfflineReason) -> bool {
        let reason = match reason {
            OfflineReason::Error(error) => error.to_string(),
            _ => "the watcher left the bus".to_owned(),
        };
        if self.warned.swap(true, Ordering::Relaxed) {
            tracing::info!(%reason, "tray icon not shown: no StatusNotifierWatcher");
        } else {
            tracing::warn!(
                %reason,
                "tray icon not shown: no StatusNotifierWatcher (the desktop has no \
                 StatusNotifierItem tray); the daemon runs on and the icon appears when one starts"
            );
        }
        self.send(Action::HostShown(false));
        // Keep serving: ksni registers again as soon as a watcher (re)appears.
        true
    }
}
