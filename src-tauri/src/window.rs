//! The main window. Closing it "hides it to the tray" by ending this process: the daemon
//! keeps running with its tray icon, whose "Show window" starts the app again; the UI
//! rebuilds its state from the engine on start, so nothing is lost.

use std::sync::atomic::{AtomicBool, Ordering};

use tauri::{AppHandle, Manager, WebviewWindow, WebviewWindowBuilder, Window, WindowEvent};

/// Label of the main window (tauri.conf.json and the capability use the same).
pub const MAIN: &str = "main";

/// The variable WebKitGTK reads to draw without accelerated (GL) compositing.
pub const NO_COMPOSITING_ENV: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";

/// Whether this process put [`NO_COMPOSITING_ENV`] in its own environment (so its children,
/// the engine and what the engine opens, must not inherit it).
static NO_COMPOSITING_SET_HERE: AtomicBool = AtomicBool::new(false);

/// Turns WebKitGTK's accelerated compositing off for the window, unless the user's
/// environment already says (any value, `0` included, is left as it is).
///
/// The UI is a list and a few forms: GPU compositing buys it nothing, and costs the web
/// process its GL stack (measured under Xvfb with Mesa's llvmpipe: WebKit's web process
/// 171 MB PSS with it, 96 MB without); it is also the usual cause of blank WebKitGTK windows
/// on some drivers. WebKit reads the variable when it starts the web process; the per-view
/// setting (`hardware-acceleration-policy`) cannot be used instead, because Tauri only hands
/// out the view once its page is loading, and switching then crashes the web process.
///
/// Must be called before this process starts any thread.
#[allow(unsafe_code)]
pub fn disable_gpu_compositing() {
    if std::env::var_os(NO_COMPOSITING_ENV).is_some() {
        return;
    }
    // SAFETY: main calls this before any thread exists, so nothing reads or writes the
    // environment concurrently (the reason `set_var` is unsafe).
    unsafe { std::env::set_var(NO_COMPOSITING_ENV, "1") };
    NO_COMPOSITING_SET_HERE.store(true, Ordering::Relaxed);
}

/// Whether [`disable_gpu_compositing`] set the variable (rather than the user).
pub fn gpu_compositing_disabled_here() -> bool {
    NO_COMPOSITING_SET_HERE.load(Ordering::Relaxed)
}

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
