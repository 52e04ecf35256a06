//! The tray icon of `ssenotify run --tray`: a StatusNotifierItem (with a dbusmenu menu) on
//! the D-Bus session bus, served by [ksni] in pure Rust, so the daemon that shows it links
//! no GTK or WebKit and stays small. The window is a separate program (`ssenotify-app`),
//! started from the menu.
//!
//! - The image shows the aggregate [`TrayState`] of all subscriptions (green all open,
//!   amber some connecting, red some failed or notifications down, grey nothing active);
//!   the tooltip says the same in words and names what failed.
//! - The menu: "Show window" (also a left click) starts the app, "Pause all" / "Resume
//!   all" edit the subscriptions file like the CLI does and make the daemon apply it,
//!   "Quit" makes [`run`] return so the caller stops the daemon.
//!
//! The item needs a StatusNotifierWatcher (the host side: KDE, GNOME's AppIndicator
//! extension, XFCE, LXQt, waybar, ...). Without one the item is still served and registers
//! as soon as a watcher appears; the daemon is never held up by a missing tray.
//!
//! # Layout
//!
//! - `lib.rs`: [`run`], the loop that follows the daemon and answers the menu.
//! - `state`: what the tray shows, as pure functions of the daemon's statuses and the
//!   notifier's health ([`TrayState`], [`aggregate`], the tooltip).
//! - `item`: the StatusNotifierItem itself (ksni): image, tooltip, menu, actions.
//! - `icon`: the four images, decoded from `icons/` at start.
//! - `launch`: "Show window": finds and starts the app ([`APP_ENV`]).
//!
//! [ksni]: https://crates.io/crates/ksni

mod icon;
mod item;
mod launch;
mod state;

use std::time::Duration;

use ksni::TrayMethods as _;
use ssenotify_daemon::Daemon;
use ssenotify_protocol::DaemonEvent;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use crate::item::{Action, Item};
use crate::state::View;

pub use crate::launch::APP_ENV;
pub use crate::state::{TrayState, aggregate};

/// Menu actions queued for the loop; a click while as many wait is dropped.
const ACTION_QUEUE: usize = 16;

/// How long status changes gather before the tray looks at every subscription again: the
/// view is computed from all of them, so at 10,000 subscriptions starting (two changes
/// each) looking once per change would be quadratic; five times a second is soon enough
/// for an icon.
const SETTLE: Duration = Duration::from_millis(200);

/// How often the notifier's health is looked at: it changes without a daemon event (the
/// notification server goes away), and a cheap check every few seconds is soon enough.
const HEALTH_INTERVAL: Duration = Duration::from_secs(2);

/// Shows `daemon` in the tray until the user chooses Quit, then returns; the caller then
/// shuts the daemon down (as on SIGTERM).
///
/// Start the daemon with `Options { tray: true }` ([`Daemon::start_with`]): the app probes
/// the control socket as soon as it answers and reads `tray` to tell whether closing its
/// window leaves an icon. This records it again, for daemons started otherwise.
///
/// Never fails: without a session bus it logs a warning, records `set_tray(false)` (the
/// icon can never show) and never returns; without a tray host it keeps the item ready
/// for one (see the crate docs). The daemon runs on either way, and the caller's other
/// stop conditions (signals) still apply.
///
/// The item stays on the bus until the tokio runtime stops (for `ssenotify run`, at
/// exit), not until this returns: Quit arrives inside the host's `Event` call, and taking
/// the item off the bus at once would race the reply ("recipient disconnected").
pub async fn run(daemon: &Daemon) {
    daemon.set_tray(true);
    let (actions_tx, mut actions) = mpsc::channel(ACTION_QUEUE);
    let mut shown = View::of(&daemon.status(), &daemon.info());
    // `assume_sni_available`: a missing watcher is reported to `Item::watcher_offline`
    // instead of failing, and ksni registers whenever one appears (a tray host that
    // starts after the daemon, or restarts).
    let spawned = Item::new(shown.clone(), actions_tx)
        .assume_sni_available(true)
        .spawn()
        .await;
    let handle = match spawned {
        Ok(handle) => handle,
        Err(error) => {
            tracing::warn!(%error, "no tray icon; the daemon runs on without one");
            daemon.set_tray(false);
            return std::future::pending().await;
        }
    };
    let launcher = launch::Launcher::from_env();
    let mut updates = daemon.updates();
    let mut following = true;
    let mut health = tokio::time::interval(HEALTH_INTERVAL);
    health.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let settled = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(settled);
    let mut changed = false;
    loop {
        tokio::select! {
            received = updates.recv(), if following => match received {
                // Only events that add to the unread count change what the tray shows;
                // skip the others cheaply.
                Ok(DaemonEvent::Event(event)) if !event.action.wants_attention() => continue,
                // A change (or missed ones: recomputing from the status table catches up):
                // looked at once the changes around it have settled.
                Ok(_) | Err(RecvError::Lagged(_)) => {
                    if !changed {
                        changed = true;
                        settled.as_mut().reset(tokio::time::Instant::now() + SETTLE);
                    }
                    continue;
                }
                // Only once the daemon is gone; the timer still runs until the caller stops.
                Err(RecvError::Closed) => following = false,
            },
            () = &mut settled, if changed => changed = false,
            _ = health.tick() => {}
            Some(action) = actions.recv() => match action {
                Action::Quit => break,
                Action::ShowWindow => {
                    launcher.launch();
                    continue;
                }
                Action::SetAllPaused(paused) => {
                    edit(daemon, "pause/resume all", move |paths| {
                        ssenotify_config::edit::set_all_paused(paths, paused)
                    })
                    .await
                }
                Action::SetDoNotDisturb(on) => {
                    edit(daemon, "do not disturb", move |paths| {
                        ssenotify_config::edit::set_do_not_disturb(paths, on)
                    })
                    .await
                }
                Action::HostShown(shown) => {
                    daemon.set_tray_host(shown);
                    continue;
                }
            },
        }
        let next = View::of(&daemon.status(), &daemon.info());
        if next != shown {
            shown = next.clone();
            handle.update(move |item| item.view = next).await;
        }
    }
    tracing::info!("quit chosen from the tray");
}

/// Makes one edit of the subscriptions file through the same operation as the CLI and the
/// app (the file, under its lock), then has the daemon apply it at once.
async fn edit(
    daemon: &Daemon,
    what: &'static str,
    change: impl FnOnce(&ssenotify_config::Paths) -> Result<(), ssenotify_config::edit::EditError>
    + Send
    + 'static,
) {
    let paths = daemon.paths().clone();
    // The file lock may be held by another ssenotify process for a moment.
    let edited =
        ssenotify_daemon::ops::blocking(move || change(&paths).map_err(|e| e.to_string())).await;
    let result = match edited {
        Ok(()) => daemon.reload().await.map(drop),
        Err(error) => Err(error),
    };
    if let Err(error) = result {
        tracing::warn!(%error, "{what} from the tray failed");
    }
}
