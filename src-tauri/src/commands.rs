//! IPC: the typed commands the webview may call (docs/ipc.md; each needs an `allow-*`
//! permission in capabilities/main-window.json, see build.rs) and the app state they share.
//! Each command is a thin layer over `ssenotify_engine::ops` and the daemon ([`Engine`]).

use std::path::Path;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use ssenotify_engine::config::{Format, Store, SubscriptionSpec};
use ssenotify_engine::control::{self, Reply, Request};
use ssenotify_engine::demo::{DEMO_PORT, demo_subscription};
use ssenotify_engine::history::{History, StoredEvent};
use ssenotify_engine::notifier::{self, ServerInfo};
use ssenotify_engine::ops::{self, ImportSource, NewSubscription, OpError, RouteReport};
use ssenotify_engine::router::{NotificationSettings, Urgency};
use tauri::{AppHandle, State};
use tauri_plugin_autostart::ManagerExt as _;

use crate::engine::{Engine, Link};

/// State shared by commands and the event forwarder.
pub struct AppState {
    /// The daemon.
    pub engine: Engine,
    /// Files from the command line that the UI has not taken yet: a window created for a
    /// second launch loads after the launch's event was sent, so the files wait here.
    pub open_files: Mutex<Vec<String>>,
}

/// One validation problem, for the form.
#[derive(Debug, Clone, Serialize)]
pub struct ProblemView {
    /// The form field it belongs to (`url`, `headers`, ...), when it names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// 1-based line in imported text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// 1-based column in imported text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
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
    /// Every validation problem, each with its field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<ProblemView>,
}

impl CommandError {
    /// An error about the whole request.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            field: None,
            problems: Vec::new(),
        }
    }

    fn on_field(message: impl Into<String>, field: &str) -> Self {
        Self {
            field: Some(field.into()),
            ..Self::new(message)
        }
    }
}

impl From<OpError> for CommandError {
    fn from(err: OpError) -> Self {
        match err {
            OpError::Invalid(config) => {
                let problems: Vec<ProblemView> = config
                    .problems
                    .iter()
                    .map(|p| ProblemView {
                        field: ops::problem_field(&p.message).map(str::to_owned),
                        line: p.line,
                        column: p.column,
                        message: p.message.clone(),
                    })
                    .collect();
                Self {
                    message: config.to_string(),
                    field: problems.iter().find_map(|p| p.field.clone()),
                    problems,
                }
            }
            OpError::Exists(_) => Self::on_field(err.to_string(), "id"),
            OpError::Usage(_) => Self::on_field(err.to_string(), "headers"),
            other => Self::new(other.to_string()),
        }
    }
}

type Result<T, E = CommandError> = std::result::Result<T, E>;

/// After an edit: make the engine apply the file.
async fn reload(state: &AppState) -> Result<()> {
    state.engine.reload().await.map_err(CommandError::new)
}

/// What `app_info` reports.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    /// The app's version (Cargo package version).
    pub version: String,
    /// Where the user's subscriptions live.
    pub config_dir: String,
    /// Where history lives.
    pub data_dir: String,
    /// `running` (a daemon with its tray icon), `external` (a headless `ssenotify run`) or
    /// `error` (none answers).
    pub engine: &'static str,
    /// The daemon's pid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine_pid: Option<u32>,
    /// Something the UI must show visibly (no tray icon, engine down, config error).
    pub notice: Option<String>,
    /// One line about the engine, for the header.
    pub status: String,
}

/// The app's version, where its files are, and which engine runs.
#[tauri::command]
pub async fn app_info(app: AppHandle, state: State<'_, AppState>) -> Result<AppInfo> {
    let (statuses, daemon) = state.engine.status().await;
    Ok(describe(&app, &state.engine, &statuses, &daemon).await)
}

/// [`AppInfo`] for the current link and the daemon's `status` reply (also sent with
/// updates when the link changes).
pub async fn describe(
    app: &AppHandle,
    engine: &Engine,
    statuses: &[Value],
    daemon: &Value,
) -> AppInfo {
    let open = statuses
        .iter()
        .filter(|s| s["ready_state"] == "OPEN")
        .count();
    let summary = format!("{} subscriptions, {open} open", statuses.len());
    let config_error = daemon["config_error"].as_str().map(str::to_owned);
    // The link says who runs; the daemon's report says, right now, whether its icon shows
    // (a tray host can come and go after the link was made).
    let host_shown = daemon["tray_host"].as_bool().unwrap_or(true);
    let (kind, pid, notice, status) = match engine.link().await {
        Link::Daemon {
            pid, tray: true, ..
        } => {
            let notice = config_error.or_else(|| {
                (!host_shown).then(|| {
                    "This desktop shows no tray icons (it has no StatusNotifierItem host; on \
                     GNOME, the AppIndicator extension adds one): closing this window leaves \
                     ssenotify running in the background. Open ssenotify again from your \
                     applications to see it, or stop it in Settings → Quit."
                        .to_owned()
                })
            });
            ("running", Some(pid), notice, summary)
        }
        Link::Daemon {
            pid, tray: false, ..
        } => (
            "external",
            Some(pid),
            Some(format!(
                "ssenotify run (pid {pid}) already runs for this user without a tray icon: \
                 the app shows and edits its subscriptions instead of starting a second \
                 engine, and closing this window leaves no icon behind"
            )),
            format!("headless daemon (pid {pid}); {summary}"),
        ),
        Link::Down(why) => (
            "error",
            None,
            Some(format!("the engine is not running: {why}")),
            "engine not running".into(),
        ),
    };
    AppInfo {
        version: app.package_info().version.to_string(),
        config_dir: engine.paths.config_dir.to_string_lossy().into_owned(),
        data_dir: engine.paths.data_dir.to_string_lossy().into_owned(),
        engine: kind,
        engine_pid: pid,
        notice,
        status,
    }
}

/// A subscription with its live state.
#[derive(Debug, Serialize)]
pub struct SubscriptionView {
    /// As in the subscriptions file.
    pub spec: SubscriptionSpec,
    /// `SubscriptionStatus`, `null` until the engine has applied it.
    pub status: Option<Value>,
}

/// Every subscription in file order, with its live state.
#[tauri::command]
pub async fn list_subscriptions(state: State<'_, AppState>) -> Result<Vec<SubscriptionView>> {
    let set = Store::new(state.engine.paths.clone())
        .load()
        .map_err(|e| CommandError::new(e.to_string()))?;
    let (mut statuses, _) = state.engine.status().await;
    Ok(set
        .subscriptions
        .into_iter()
        .map(|spec| {
            let status = statuses
                .iter()
                .position(|s| s["id"] == spec.id.as_str())
                .map(|i| statuses.swap_remove(i));
            SubscriptionView { spec, status }
        })
        .collect())
}

/// The add form's input.
#[derive(Debug, Deserialize)]
pub struct AddInput {
    url: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    headers: Vec<(String, String)>,
    #[serde(default)]
    paused: bool,
}

/// Adds a subscription; returns its id.
#[tauri::command]
pub async fn add_subscription(state: State<'_, AppState>, input: AddInput) -> Result<String> {
    let blank = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    let id = ops::add(
        &state.engine.paths,
        NewSubscription {
            url: input.url,
            id: blank(input.id),
            name: blank(input.name),
            headers: input.headers,
            paused: input.paused,
        },
    )?;
    reload(&state).await?;
    Ok(id)
}

/// Replaces a subscription (the edit form).
#[tauri::command]
pub async fn update_subscription(state: State<'_, AppState>, spec: SubscriptionSpec) -> Result<()> {
    ops::update(&state.engine.paths, spec)?;
    reload(&state).await
}

/// Removes a subscription.
#[tauri::command]
pub async fn remove_subscription(state: State<'_, AppState>, id: String) -> Result<()> {
    ops::remove(&state.engine.paths, &id)?;
    reload(&state).await
}

/// Pauses or resumes one subscription.
#[tauri::command]
pub async fn set_paused(state: State<'_, AppState>, id: String, paused: bool) -> Result<()> {
    ops::set_paused(&state.engine.paths, &id, paused)?;
    reload(&state).await
}

/// Pauses or resumes every subscription.
#[tauri::command]
pub async fn set_all_paused(state: State<'_, AppState>, paused: bool) -> Result<()> {
    ops::set_all_paused(&state.engine.paths, paused)?;
    reload(&state).await
}

/// Mutes a subscription's popups for `minutes` (0 unmutes).
#[tauri::command]
pub async fn mute_subscription(state: State<'_, AppState>, id: String, minutes: u32) -> Result<()> {
    ops::mute_for(&state.engine.paths, &id, minutes)?;
    reload(&state).await
}

/// The import formats the UI offers.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImportFormat {
    /// ssenotify TOML.
    Toml,
    /// ssenotify JSON.
    Json,
    /// ntfy's client.yml.
    Ntfy,
}

/// Imports subscriptions (merge, or `replace`); with `dry_run` only reports the diff.
#[tauri::command]
pub async fn import_subscriptions(
    state: State<'_, AppState>,
    text: String,
    format: Option<ImportFormat>,
    replace: bool,
    dry_run: bool,
) -> Result<Value> {
    let (source, name) = match format {
        None => (ImportSource::Native(None), "<import>"),
        Some(ImportFormat::Toml) => (ImportSource::Native(Some(Format::Toml)), "<import>.toml"),
        Some(ImportFormat::Json) => (ImportSource::Native(Some(Format::Json)), "<import>.json"),
        Some(ImportFormat::Ntfy) => (ImportSource::Ntfy, "client.yml"),
    };
    let outcome = ops::import(
        &state.engine.paths,
        &text,
        Path::new(name),
        source,
        replace,
        dry_run,
    )?;
    if !dry_run && !outcome.diff.is_empty() {
        reload(&state).await?;
    }
    let mut result = outcome.diff.to_json();
    result["warnings"] = outcome.warnings.into();
    Ok(result)
}

/// Every subscription as a file (`toml` or `json`), secrets as references.
#[tauri::command]
pub async fn export_subscriptions(state: State<'_, AppState>, format: String) -> Result<String> {
    let format = match format.as_str() {
        "toml" => Format::Toml,
        "json" => Format::Json,
        other => return Err(CommandError::new(format!("unknown format {other:?}"))),
    };
    Ok(ops::export(&state.engine.paths, format)?)
}

/// A page of history, newest first (`before_row` pages back).
#[tauri::command]
pub async fn history_page(
    state: State<'_, AppState>,
    subscription: Option<String>,
    before_row: Option<i64>,
    limit: usize,
) -> Result<Vec<StoredEvent>> {
    let db = state.engine.paths.history_db();
    if !db.exists() {
        return Ok(Vec::new());
    }
    tauri::async_runtime::spawn_blocking(move || {
        History::open_read_only(&db)?.page(subscription.as_deref(), before_row, limit)
    })
    .await
    .map_err(|e| CommandError::new(e.to_string()))?
    .map_err(|e| CommandError::new(e.to_string()))
}

/// What `spec`'s rules make of a recorded SSE body (the rule tester).
#[tauri::command]
pub async fn test_rules(
    state: State<'_, AppState>,
    spec: SubscriptionSpec,
    transcript: String,
) -> Result<RouteReport> {
    let set = Store::new(state.engine.paths.clone())
        .load()
        .map_err(|e| CommandError::new(e.to_string()))?;
    Ok(ops::route_transcript(&set, &spec, transcript.as_bytes())?)
}

/// Shows a sample notification and reports the notification server.
#[tauri::command]
pub async fn test_notification(urgency: Option<Urgency>) -> Result<ServerInfo> {
    notifier::test(urgency.unwrap_or_default())
        .await
        .map_err(CommandError::new)
}

/// Adds the demo subscription (the engine serves its feed on loopback); returns its id.
#[tauri::command]
pub async fn add_demo(state: State<'_, AppState>) -> Result<String> {
    let id = ops::add_spec(&state.engine.paths, demo_subscription(DEMO_PORT))?;
    reload(&state).await?;
    Ok(id)
}

/// The app's settings as the webview sees them.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    /// Quiet hours, default rate limit (the file's `[notifications]`).
    pub notifications: NotificationSettings,
    /// Whether the app starts (hidden) on login.
    pub autostart: bool,
}

/// Current settings. Autostart is read from the system (the autostart entry), not a file,
/// so it cannot disagree with what will actually happen on login.
#[tauri::command]
pub async fn get_settings(app: AppHandle, state: State<'_, AppState>) -> Result<Settings> {
    let autostart = app
        .autolaunch()
        .is_enabled()
        .map_err(|e| CommandError::new(format!("cannot read the autostart setting: {e}")))?;
    let set = Store::new(state.engine.paths.clone())
        .load()
        .map_err(|e| CommandError::new(e.to_string()))?;
    Ok(Settings {
        notifications: set.notifications,
        autostart,
    })
}

/// Changes the notification settings and/or autostart (whichever is given).
#[tauri::command]
pub async fn set_settings(
    app: AppHandle,
    state: State<'_, AppState>,
    notifications: Option<NotificationSettings>,
    autostart: Option<bool>,
) -> Result<()> {
    if let Some(notifications) = notifications {
        ops::set_notifications(&state.engine.paths, notifications)?;
        reload(&state).await?;
    }
    if let Some(enabled) = autostart {
        change_autostart(&app, enabled)?;
    }
    Ok(())
}

fn change_autostart(app: &AppHandle, enabled: bool) -> Result<()> {
    let autolaunch = app.autolaunch();
    let result = if enabled {
        autolaunch.enable()
    } else {
        autolaunch.disable()
    };
    result.map_err(|e| CommandError::new(format!("cannot change autostart: {e}")))
}

/// Turns starting on login on or off (the entry launches the app with `--hidden`); returns
/// whether it is now on.
#[tauri::command]
pub fn set_autostart(app: AppHandle, enabled: bool) -> Result<Value> {
    change_autostart(&app, enabled)?;
    let autostart = app
        .autolaunch()
        .is_enabled()
        .map_err(|e| CommandError::new(e.to_string()))?;
    Ok(serde_json::json!({ "autostart": autostart }))
}

/// Stops the engine (every subscription, the tray icon); the window closes once the engine
/// says goodbye on its watch stream. With no engine answering, the window just closes.
#[tauri::command]
pub async fn quit(app: AppHandle, state: State<'_, AppState>) -> Result<()> {
    match control::request(&state.engine.socket(), &Request::Quit).await {
        Ok(Reply::Done { .. }) => Ok(()),
        Ok(Reply::Error { message }) => Err(CommandError::new(message)),
        Ok(_) => Err(CommandError::new("unexpected reply from the engine")),
        Err(control::ClientError::NotRunning { .. }) => {
            app.exit(0);
            Ok(())
        }
        Err(err) => Err(CommandError::new(format!(
            "the engine did not answer: {err}"
        ))),
    }
}

/// Hands the UI the files passed on the command line since it last asked, and forgets them.
#[tauri::command]
pub fn take_open_files(state: State<'_, AppState>) -> Vec<String> {
    std::mem::take(&mut *state.open_files.lock().unwrap_or_else(|e| e.into_inner()))
}
