//! IPC: the typed commands the webview may call (each needs an `allow-*` permission in
//! capabilities/main-window.json, see build.rs) and the app state they share.

use std::sync::Mutex;

use serde::Serialize;
use tauri::{AppHandle, State};
use tauri_plugin_autostart::ManagerExt as _;
use tokio::sync::broadcast;

/// Capacity of the placeholder broadcast channels (the engine's own will replace them).
const CHANNEL_CAPACITY: usize = 4096;

/// State shared by commands, the tray and the event forwarders.
// WIRE: hold the engine's DaemonHandle here; its broadcast replaces these two senders.
pub struct AppState {
    /// Engine events for the webview (see events.rs).
    pub events: broadcast::Sender<serde_json::Value>,
    /// Subscription state changes for the webview (see events.rs).
    pub states: broadcast::Sender<serde_json::Value>,
    /// Files from the command line that the UI has not taken yet: a window created for a
    /// second launch loads after the launch's event was sent, so the files wait here.
    pub open_files: Mutex<Vec<String>>,
}

impl Default for AppState {
    fn default() -> Self {
        Self {
            events: broadcast::channel(CHANNEL_CAPACITY).0,
            states: broadcast::channel(CHANNEL_CAPACITY).0,
            open_files: Mutex::default(),
        }
    }
}

/// An error a command returns to the webview: a message, and the form field it belongs to
/// when it is a validation error (the UI shows it next to that field).
#[derive(Debug, Clone, Serialize)]
pub struct CommandError {
    /// Human-readable, shown as text.
    pub message: String,
    /// The field that is wrong, e.g. `url`; `None` for errors about the whole request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl CommandError {
    /// An error about the whole request.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            field: None,
        }
    }
}

/// What `app_info` reports.
#[derive(Debug, Clone, Serialize)]
pub struct AppInfo {
    /// The app's version (Cargo package version).
    pub version: String,
    /// One line about the engine, for the header.
    pub status: String,
    /// Where the app keeps the user's files (tests check it is their temporary directory).
    pub config_dir: Option<String>,
}

/// The app's version and a status line.
#[tauri::command]
pub fn app_info(app: AppHandle) -> AppInfo {
    AppInfo {
        version: app.package_info().version.to_string(),
        // WIRE: the engine's summary ("3 subscriptions, 3 open" / "daemon already running").
        status: "engine not connected yet".into(),
        config_dir: crate::paths::config_dir().map(|d| d.to_string_lossy().into_owned()),
    }
}

/// The app's settings as the webview sees them.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    /// Whether the app starts (hidden) on login.
    pub autostart: bool,
}

/// Current settings. Autostart is read from the system (the autostart entry), not a file,
/// so it cannot disagree with what will actually happen on login.
#[tauri::command]
pub fn get_settings(app: AppHandle) -> Result<Settings, CommandError> {
    let autostart = app
        .autolaunch()
        .is_enabled()
        .map_err(|e| CommandError::new(format!("cannot read the autostart setting: {e}")))?;
    // WIRE: quiet hours, default rate limit, history retention from the engine's settings.
    Ok(Settings { autostart })
}

/// Turns starting on login on or off (the entry launches the app with `--hidden`).
#[tauri::command]
pub fn set_autostart(app: AppHandle, enabled: bool) -> Result<Settings, CommandError> {
    let autolaunch = app.autolaunch();
    let result = if enabled {
        autolaunch.enable()
    } else {
        autolaunch.disable()
    };
    result.map_err(|e| CommandError::new(format!("cannot change autostart: {e}")))?;
    get_settings(app)
}

/// Hands the UI the files passed on the command line since it last asked, and forgets them.
#[tauri::command]
pub fn take_open_files(state: State<'_, AppState>) -> Vec<String> {
    std::mem::take(&mut *state.open_files.lock().unwrap_or_else(|e| e.into_inner()))
}

/// Tray "Pause all".
// WIRE: DaemonHandle::pause on every subscription.
pub fn pause_all(_app: &AppHandle) {
    tracing::info!("pause all (engine not connected yet)");
}

/// Tray "Resume all".
// WIRE: DaemonHandle::resume on every subscription.
pub fn resume_all(_app: &AppHandle) {
    tracing::info!("resume all (engine not connected yet)");
}
