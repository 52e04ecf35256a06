//! The main window. Closing it "hides it to the tray" by destroying it: a hidden WebKit
//! webview keeps its web process (well over 100 MB) alive, a destroyed one gives it back.
//! The tray and a second launch create it again from tauri.conf.json; the UI rebuilds its
//! state from the app (engine) on start, so nothing is lost.

use tauri::{AppHandle, Manager, WebviewWindow, WebviewWindowBuilder, Window, WindowEvent};

/// Label of the main window (tauri.conf.json and the capability use the same).
pub const MAIN: &str = "main";

/// Window event hook. The close itself goes ahead (see the module doc); the app stays up
/// because main.rs refuses the exit that the last window closing requests.
pub fn on_window_event(window: &Window, event: &WindowEvent) {
    if window.label() == MAIN && matches!(event, WindowEvent::Destroyed) {
        tracing::info!("main window closed; the app stays in the tray");
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

/// Builds the main window from its tauri.conf.json entry (`create: false` there, so a
/// `--hidden` start never pays for a webview).
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
