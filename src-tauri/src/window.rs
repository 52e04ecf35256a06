//! The main window. Closing it "hides it to the tray" by ending this process: the daemon
//! keeps running with its tray icon, whose "Show window" starts the app again; the UI
//! rebuilds its state from the engine on start, so nothing is lost.

use tauri::{AppHandle, Manager, WebviewWindow, WebviewWindowBuilder, Window, WindowEvent};

/// Label of the main window (tauri.conf.json and the capability use the same).
pub const MAIN: &str = "main";

/// Window event hook: only logs; the close goes ahead and the process ends with it.
pub fn on_window_event(window: &Window, event: &WindowEvent) {
    if window.label() == MAIN && matches!(event, WindowEvent::Destroyed) {
        tracing::info!("main window closed; the engine stays in the tray");
    }
}

/// Shows the main window, creating it if it is closed, and focuses it.
pub fn show(app: &AppHandle) {
    let window = match app.get_webview_window(MAIN) {
        Some(window) => window,
        None => match create(app) {
            Ok(window) => window,
            Err(err) => {
                tracing::error!(%err, "could not create the main window");
                return;
            }
        },
    };
    // Each step can fail on its own (e.g. focus under a bare X server): keep going.
    for (what, result) in [
        ("show", window.show()),
        ("unminimize", window.unminimize()),
        ("focus", window.set_focus()),
    ] {
        if let Err(err) = result {
            tracing::debug!(%err, what, "window call failed");
        }
    }
}

/// Builds the main window from its tauri.conf.json entry (`create: false` there, so it
/// exists only once the engine is connected).
fn create(app: &AppHandle) -> tauri::Result<WebviewWindow> {
    let config = app
        .config()
        .app
        .windows
        .iter()
        .find(|w| w.label == MAIN)
        .ok_or_else(|| tauri::Error::WindowNotFound)?
        .clone();
    WebviewWindowBuilder::from_config(app, &config)?.build()
}
