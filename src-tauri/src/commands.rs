//! IPC: the typed commands the webview may call (docs/ipc.md; each needs an `allow-*`
//! permission in capabilities/main-window.json, see build.rs) and the app state they share.
//!
//! Each command is a line or two over the engine's crates: edits go through
//! `ssenotify_config::edit` on a blocking thread ([`edit`]), then the daemon applies them;
//! reads of the file and of history go through `ssenotify_daemon::ops::blocking` too.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use ssenotify_config::edit::{self, EditError, ImportOptions, ImportSource, NewSubscription};
use ssenotify_config::{
    Format, PathSegment, Paths, Store, SubscriptionSet, SubscriptionSpec, TrustItem,
};
use ssenotify_daemon::demo::demo_subscription;
use ssenotify_daemon::ops::{self, RouteReport};
use ssenotify_history::{HistoryReader, Stats as HistoryStats, StoredEvent};
use ssenotify_protocol::{
    AppInfo, ClientError, CommandError, FieldProblem, QuietState, Reply, Request, ServerInfo,
    StatusReport, SubscriptionStatus,
};
use ssenotify_router::{NotificationSettings, Urgency};
use tauri::{AppHandle, State};
use tauri_plugin_autostart::ManagerExt as _;

use crate::engine::Engine;

/// State shared by commands and the event forwarder.
pub struct AppState {
    /// The daemon.
    pub engine: Engine,
    /// Files from the command line that the UI has not taken yet: a window created for a
    /// second launch loads after the launch's event was sent, so the files wait here.
    pub open_files: Mutex<Vec<String>>,
    /// The list [`list_changes`] last answered with, so that the next answer is the
    /// difference.
    pub sent: Mutex<Sent>,
}

/// What [`list_changes`] last sent the UI.
#[derive(Debug, Default)]
pub struct Sent {
    version: u64,
    set: Option<SubscriptionSet>,
}

type Result<T, E = CommandError> = std::result::Result<T, E>;

/// A refused edit as the form shows it: validation problems on their fields (the config
/// crate names each problem's place in the schema).
fn edit_error(error: EditError) -> CommandError {
    match error {
        EditError::Invalid(config) => {
            let problems: Vec<FieldProblem> = config
                .problems
                .iter()
                .map(|p| FieldProblem {
                    // A header's problem names its header: the form shows it on that row.
                    field: p.field().map(|field| match (field, p.field_path()) {
                        ("headers", [PathSegment::Key(name), ..]) => format!("headers.{name}"),
                        _ => field.to_owned(),
                    }),
                    line: p.line,
                    column: p.column,
                    message: p.message.clone(),
                })
                .collect();
            CommandError {
                message: config.to_string(),
                field: problems.iter().find_map(|p| p.field.clone()),
                problems,
            }
        }
        EditError::Exists(_) => CommandError::on_field(error.to_string(), "id"),
        EditError::Usage(_) => CommandError::on_field(error.to_string(), "headers"),
        other => CommandError::new(other.to_string()),
    }
}

/// Runs `work` with the user's paths on a blocking thread (file locks, fsync, SQLite).
async fn blocking<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&Paths) -> T + Send + 'static,
) -> T {
    let paths = state.engine.paths.clone();
    ops::blocking(move || work(&paths)).await
}

/// Makes one edit of the subscriptions file, then has the engine apply it.
async fn edit<T: Send + 'static>(
    state: &AppState,
    change: impl FnOnce(&Paths) -> Result<T, EditError> + Send + 'static,
) -> Result<T> {
    let value = blocking(state, change).await.map_err(edit_error)?;
    state.engine.reload().await.map_err(CommandError::new)?;
    Ok(value)
}

/// The subscriptions file as it is now.
async fn load(state: &AppState) -> Result<SubscriptionSet> {
    blocking(state, |paths| Store::new(paths.clone()).load())
        .await
        .map_err(|e| CommandError::new(e.to_string()))
}

/// The app's version, where its files are, and which engine runs.
#[tauri::command]
pub async fn app_info(app: AppHandle, state: State<'_, AppState>) -> Result<AppInfo> {
    Ok(state.engine.describe(&app).await)
}

/// A subscription with its live state.
#[derive(Debug, Serialize)]
pub struct SubscriptionView {
    /// As in the subscriptions file.
    pub spec: SubscriptionSpec,
    /// Its live state, `null` until the engine has applied it.
    pub status: Option<SubscriptionStatus>,
}

/// Every subscription in file order, with its live state.
#[tauri::command]
pub async fn list_subscriptions(state: State<'_, AppState>) -> Result<Vec<SubscriptionView>> {
    let set = load(&state).await?;
    let statuses = state.engine.report(None, None).await;
    Ok(join(set.subscriptions, statuses))
}

/// The subscriptions as the file has them now, either all of them or, when `since` is the
/// `version` of the previous answer, only what changed after it.
#[derive(Debug, Serialize)]
pub struct SubscriptionChanges {
    /// Pass it as `since` next time to get only what changes after this answer.
    pub version: u64,
    /// Whether `views` is every subscription (the list is replaced) or only those added or
    /// changed since (the list is patched; new ones go last, as in the file).
    pub full: bool,
    /// In file order, each with its live state.
    pub views: Vec<SubscriptionView>,
    /// Ids no longer in the file (only in a patch).
    pub removed: Vec<String>,
}

/// The list as [`list_subscriptions`] has it, or only what changed since the answer of
/// version `since`: after one edit of a 10,000-subscription file, one view crosses IPC, not
/// 10,000 (the file is still read whole; the engine is asked only about what changed).
#[tauri::command]
pub async fn list_changes(
    state: State<'_, AppState>,
    since: Option<u64>,
) -> Result<SubscriptionChanges> {
    let set = load(&state).await?;
    let (version, patch) = {
        let mut sent = state.sent.lock().unwrap_or_else(|e| e.into_inner());
        let patch = match (&sent.set, since) {
            (Some(previous), Some(since)) if since == sent.version => patch(previous, &set),
            _ => None,
        };
        sent.version += 1;
        sent.set = Some(set.clone());
        (sent.version, patch)
    };
    let Some((changed, removed)) = patch else {
        let statuses = state.engine.report(None, None).await;
        return Ok(SubscriptionChanges {
            version,
            full: true,
            views: join(set.subscriptions, statuses),
            removed: Vec::new(),
        });
    };
    let statuses = match changed.is_empty() {
        true => None,
        false => {
            let ids = changed.iter().map(|s| s.id.clone()).collect();
            state.engine.report(None, Some(ids)).await
        }
    };
    Ok(SubscriptionChanges {
        version,
        full: false,
        views: join(changed, statuses),
        removed,
    })
}

/// What changed from `previous` to `next`: the added or changed specs (in file order) and
/// the removed ids; `None` when the order of the kept ones changed or new ones are not last
/// (the UI then takes the whole list).
fn patch(
    previous: &SubscriptionSet,
    next: &SubscriptionSet,
) -> Option<(Vec<SubscriptionSpec>, Vec<String>)> {
    let before: HashMap<&str, &SubscriptionSpec> = previous
        .subscriptions
        .iter()
        .map(|s| (s.id.as_str(), s))
        .collect();
    let after = next.positions();
    let kept_before = previous
        .subscriptions
        .iter()
        .filter(|s| after.contains_key(s.id.as_str()))
        .map(|s| s.id.as_str());
    let kept_after = next
        .subscriptions
        .iter()
        .take_while(|s| before.contains_key(s.id.as_str()))
        .map(|s| s.id.as_str());
    if !kept_before.eq(kept_after) {
        return None;
    }
    let changed = next
        .subscriptions
        .iter()
        .filter(|s| before.get(s.id.as_str()) != Some(s))
        .cloned()
        .collect();
    let removed = previous
        .subscriptions
        .iter()
        .filter(|s| !after.contains_key(s.id.as_str()))
        .map(|s| s.id.clone())
        .collect();
    Some((changed, removed))
}

/// Each spec with its live status from `report`, joined by id.
fn join(specs: Vec<SubscriptionSpec>, report: Option<StatusReport>) -> Vec<SubscriptionView> {
    let mut statuses: HashMap<String, SubscriptionStatus> = report
        .map(|r| r.subscriptions)
        .unwrap_or_default()
        .into_iter()
        .map(|s| (s.id.clone(), s))
        .collect();
    specs
        .into_iter()
        .map(|spec| SubscriptionView {
            status: statuses.remove(&spec.id),
            spec,
        })
        .collect()
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
    let new = NewSubscription {
        url: input.url,
        id: blank(input.id),
        name: blank(input.name),
        headers: input.headers,
        paused: input.paused,
    };
    edit(&state, move |paths| edit::add(paths, new)).await
}

/// Replaces a subscription (the edit form).
#[tauri::command]
pub async fn update_subscription(state: State<'_, AppState>, spec: SubscriptionSpec) -> Result<()> {
    edit(&state, move |paths| edit::update(paths, spec)).await
}

/// Whether notifications are held now (quiet hours, do not disturb) and until when: the
/// header's indicator (asked again each minute, and after a change).
#[tauri::command]
pub async fn quiet_state(state: State<'_, AppState>) -> Result<Option<QuietState>> {
    // No ids: the daemon's report on itself without the whole list.
    Ok(state
        .engine
        .report(None, Some(Vec::new()))
        .await
        .and_then(|report| report.daemon.quiet))
}

/// Turns do not disturb on or off (the header's toggle; the tray has the same).
#[tauri::command]
pub async fn set_do_not_disturb(state: State<'_, AppState>, on: bool) -> Result<()> {
    edit(&state, move |paths| edit::set_do_not_disturb(paths, on)).await
}

/// Checks a subscription as adding it (`new`) or saving it would, writing nothing: the
/// form's errors as the user types.
#[tauri::command]
pub async fn check_subscription(
    state: State<'_, AppState>,
    spec: SubscriptionSpec,
    new: bool,
) -> Result<()> {
    blocking(&state, move |paths| edit::check(paths, spec, new))
        .await
        .map_err(edit_error)
}

/// Removes a subscription, and then its history and resume point.
#[tauri::command]
pub async fn remove_subscription(state: State<'_, AppState>, id: String) -> Result<()> {
    let removed = id.clone();
    edit(&state, move |paths| edit::remove(paths, &removed)).await?;
    ops::forget(&state.engine.paths, vec![id])
        .await
        .map_err(CommandError::new)
}

/// Pauses or resumes one subscription.
#[tauri::command]
pub async fn set_paused(state: State<'_, AppState>, id: String, paused: bool) -> Result<()> {
    edit(&state, move |paths| edit::set_paused(paths, &id, paused)).await
}

/// Pauses or resumes every subscription.
#[tauri::command]
pub async fn set_all_paused(state: State<'_, AppState>, paused: bool) -> Result<()> {
    edit(&state, move |paths| edit::set_all_paused(paths, paused)).await
}

/// Mutes a subscription's popups for `minutes` (0 unmutes).
#[tauri::command]
pub async fn mute_subscription(state: State<'_, AppState>, id: String, minutes: u32) -> Result<()> {
    edit(&state, move |paths| edit::mute_for(paths, &id, minutes)).await
}

/// Reconnects a subscription now ("Retry now"): from CLOSED, or a wait before the next try.
#[tauri::command]
pub async fn reconnect_subscription(state: State<'_, AppState>, id: String) -> Result<()> {
    ask_engine(&state, Request::Reconnect { id }).await
}

/// Sends the engine a request that it carries out or refuses, and says which.
async fn ask_engine(state: &AppState, request: Request) -> Result<()> {
    match ssenotify_protocol::request(&state.engine.socket(), &request).await {
        Ok(Reply::Done { .. }) => Ok(()),
        Ok(Reply::Error { message }) => Err(CommandError::new(message)),
        Ok(_) => Err(CommandError::new("unexpected reply from the engine")),
        Err(err) => Err(CommandError::new(format!(
            "the engine did not answer: {err}"
        ))),
    }
}

/// "Show anyway": lifts the quiet hours in force until they end (see `edit::show_anyway`).
#[tauri::command]
pub async fn show_anyway(state: State<'_, AppState>) -> Result<()> {
    edit(&state, move |paths| {
        edit::show_anyway(paths, chrono::Local::now().naive_local()).map(|_| ())
    })
    .await
}

/// Marks subscriptions read (all of them when `ids` is absent): the engine zeroes their
/// unread counts and keeps the mark across restarts.
#[tauri::command]
pub async fn mark_read(state: State<'_, AppState>, ids: Option<Vec<String>>) -> Result<()> {
    ask_engine(&state, Request::MarkRead { ids }).await
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

impl ImportFormat {
    /// The source an import of this format reads, and the name it has in errors.
    fn source(format: Option<Self>) -> (ImportSource, &'static str) {
        match format {
            None => (ImportSource::Native(None), "<import>"),
            Some(Self::Toml) => (ImportSource::Native(Some(Format::Toml)), "<import>.toml"),
            Some(Self::Json) => (ImportSource::Native(Some(Format::Json)), "<import>.json"),
            Some(Self::Ntfy) => (ImportSource::Ntfy, "client.yml"),
        }
    }
}

/// What an import did (or, dry, would do), with what could not be carried over.
#[derive(Debug, Serialize)]
pub struct ImportResult {
    /// Added / changed / removed / unchanged, by id.
    #[serde(flatten)]
    pub diff: ssenotify_config::DiffSummary,
    /// What the input held that could not be carried over.
    pub warnings: Vec<String>,
    /// What the import lets run or read that the file did not allow before; a real import
    /// with any is refused unless `trust` was sent.
    pub trust: Vec<TrustItem>,
}

/// Imports subscriptions (merge, or `replace`); with `dry_run` only reports the diff and
/// what would need trust. `trust` (absent: false) is sent only after the user confirmed
/// the list the dry run showed.
#[tauri::command]
pub async fn import_subscriptions(
    state: State<'_, AppState>,
    text: String,
    format: Option<ImportFormat>,
    replace: bool,
    dry_run: bool,
    trust: Option<bool>,
) -> Result<ImportResult> {
    let (source, name) = ImportFormat::source(format);
    let options = ImportOptions {
        replace,
        dry_run,
        trust: trust.unwrap_or(false),
    };
    let import = move |paths: &Paths| edit::import(paths, &text, Path::new(name), source, options);
    let outcome = if dry_run {
        blocking(&state, import).await.map_err(edit_error)?
    } else {
        let outcome = edit(&state, import).await?;
        let removed = outcome.diff.removed.iter().map(|s| s.id.clone()).collect();
        ops::forget(&state.engine.paths, removed)
            .await
            .map_err(CommandError::new)?;
        outcome
    };
    Ok(ImportResult {
        diff: outcome.diff.summary(),
        warnings: outcome.warnings,
        trust: outcome.trust,
    })
}

/// Every subscription as a file (`toml` or `json`), secrets as references.
#[tauri::command]
pub async fn export_subscriptions(state: State<'_, AppState>, format: String) -> Result<String> {
    let format: Format = format.parse().map_err(CommandError::new)?;
    blocking(&state, move |paths| edit::export(paths, format))
        .await
        .map_err(edit_error)
}

/// Exports the subscriptions in `format` to a file the user picks in a save dialog; returns
/// its path, or `None` when they cancelled.
#[tauri::command]
pub async fn export_to_file(
    app: AppHandle,
    state: State<'_, AppState>,
    format: String,
) -> Result<Option<String>> {
    use tauri::Manager;
    use tauri_plugin_dialog::DialogExt;
    let format: Format = format.parse().map_err(CommandError::new)?;
    let extension = match format {
        Format::Toml => "toml",
        Format::Json => "json",
    };
    let mut dialog = app
        .dialog()
        .file()
        .set_title("Export subscriptions")
        .set_file_name(format!("subscriptions.{extension}"))
        .add_filter(extension.to_uppercase(), &[extension]);
    if let Some(window) = app.get_webview_window("main") {
        dialog = dialog.set_parent(&window);
    }
    // The dialog runs on the main thread; this waits for it off the async runtime.
    let Some(chosen) = ops::blocking(move || dialog.blocking_save_file()).await else {
        return Ok(None);
    };
    let path = chosen
        .into_path()
        .map_err(|e| CommandError::new(format!("not a local file: {e}")))?;
    let shown = path.display().to_string();
    blocking(&state, move |paths| edit::export_to(paths, format, &path))
        .await
        .map_err(edit_error)?;
    Ok(Some(shown))
}

/// A page of history, newest first (`before_row` pages back).
#[tauri::command]
pub async fn history_page(
    state: State<'_, AppState>,
    subscription: Option<String>,
    before_row: Option<i64>,
    limit: usize,
) -> Result<Vec<StoredEvent>> {
    blocking(&state, move |paths| {
        let db = paths.history_db();
        if !db.exists() {
            return Ok(Vec::new());
        }
        HistoryReader::open(&db)?.page(subscription.as_deref(), before_row, limit)
    })
    .await
    .map_err(|e| CommandError::new(e.to_string()))
}

/// How many events history holds for `subscription` (or in all), and how many retention
/// removed: the one count the window shows.
#[tauri::command]
pub async fn history_stats(
    state: State<'_, AppState>,
    subscription: Option<String>,
) -> Result<HistoryStats> {
    blocking(&state, move |paths| {
        let db = paths.history_db();
        if !db.exists() {
            return Ok(HistoryStats::default());
        }
        HistoryReader::open(&db)?.stats(subscription.as_deref())
    })
    .await
    .map_err(|e| CommandError::new(e.to_string()))
}

/// What `spec`'s rules make of a recorded SSE body (the rule tester).
#[tauri::command]
pub async fn test_rules(
    state: State<'_, AppState>,
    spec: SubscriptionSpec,
    transcript: String,
) -> Result<RouteReport> {
    let set = load(&state).await?;
    ops::route_transcript(&set, &spec, transcript.as_bytes())
        .map_err(|e| CommandError::new(e.to_string()))
}

/// Shows a sample notification and reports the notification server.
#[tauri::command]
pub async fn test_notification(urgency: Option<Urgency>) -> Result<ServerInfo> {
    ssenotify_daemon::notify_test(urgency.unwrap_or_default())
        .await
        .map_err(CommandError::new)
}

/// Adds the demo subscription (the engine serves its feed on loopback); returns its id.
#[tauri::command]
pub async fn add_demo(state: State<'_, AppState>) -> Result<String> {
    edit(&state, |paths| edit::add_spec(paths, demo_subscription())).await
}

/// The app's settings as the webview sees them.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    /// Quiet hours, default rate limit (the file's `[notifications]`).
    pub notifications: NotificationSettings,
    /// Whether the app starts (hidden) on login.
    pub autostart: bool,
    /// Where the local event hub serves (its `/events` URL, or `unix:PATH`); absent when off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hub: Option<String>,
}

/// Current settings. Autostart is read from the system (the autostart entry), not a file,
/// so it cannot disagree with what will actually happen on login.
#[tauri::command]
pub async fn get_settings(app: AppHandle, state: State<'_, AppState>) -> Result<Settings> {
    let set = load(&state).await?;
    Ok(Settings {
        hub: set.hub.address(&state.engine.paths).map(|a| a.events_url()),
        notifications: set.notifications,
        autostart: autostart(&app)?,
    })
}

/// The local event hub's bearer token, for the Settings' "Copy token" (never logged).
#[tauri::command]
pub async fn hub_token(state: State<'_, AppState>) -> Result<String> {
    let set = load(&state).await?;
    blocking(&state, move |paths| {
        set.hub.require(paths)?;
        ssenotify_config::hub_token(paths).map_err(|e| {
            format!(
                "cannot read the hub token {}: {e}",
                paths.hub_token().display()
            )
        })
    })
    .await
    .map_err(CommandError::new)
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
        edit(&state, move |paths| {
            edit::set_notifications(paths, notifications)
        })
        .await?;
    }
    if let Some(enabled) = autostart {
        change_autostart(&app, enabled)?;
    }
    Ok(())
}

fn autostart(app: &AppHandle) -> Result<bool> {
    app.autolaunch()
        .is_enabled()
        .map_err(|e| CommandError::new(format!("cannot read the autostart setting: {e}")))
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

/// What `set_autostart` returns.
#[derive(Debug, Clone, Serialize)]
pub struct AutostartState {
    /// Whether starting on login is on now.
    pub autostart: bool,
}

/// Turns starting on login on or off (the entry launches the app with `--hidden`); returns
/// whether it is now on.
#[tauri::command]
pub fn set_autostart(app: AppHandle, enabled: bool) -> Result<AutostartState> {
    change_autostart(&app, enabled)?;
    Ok(AutostartState {
        autostart: autostart(&app)?,
    })
}

/// Stops the engine (every subscription, the tray icon); the window closes once the engine
/// says goodbye on its watch stream. With no engine answering, the window just closes.
#[tauri::command]
pub async fn quit(app: AppHandle, state: State<'_, AppState>) -> Result<()> {
    match ssenotify_protocol::request(&state.engine.socket(), &Request::Quit).await {
        Ok(Reply::Done { .. }) => Ok(()),
        Ok(Reply::Error { message }) => Err(CommandError::new(message)),
        Ok(_) => Err(CommandError::new("unexpected reply from the engine")),
        Err(ClientError::NotRunning { .. }) => {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn set(specs: &[(&str, &str)]) -> SubscriptionSet {
        SubscriptionSet {
            subscriptions: specs
                .iter()
                .map(|&(id, url)| SubscriptionSpec::new(id, url))
                .collect(),
            ..SubscriptionSet::default()
        }
    }

    fn ids(specs: &[SubscriptionSpec]) -> Vec<&str> {
        specs.iter().map(|s| s.id.as_str()).collect()
    }

    #[test]
    fn a_patch_holds_what_was_added_changed_or_removed() {
        let before = set(&[("a", "http://a/"), ("b", "http://b/"), ("c", "http://c/")]);
        let after = set(&[("a", "http://a/"), ("c", "http://c2/"), ("d", "http://d/")]);
        let (changed, removed) = patch(&before, &after).unwrap();
        assert_eq!(ids(&changed), ["c", "d"]);
        assert_eq!(removed, ["b"]);
        let (changed, removed) = patch(&after, &after).unwrap();
        assert!(changed.is_empty() && removed.is_empty());
    }

    #[test]
    fn a_new_order_is_sent_whole() {
        let before = set(&[("a", "http://a/"), ("b", "http://b/")]);
        assert!(patch(&before, &set(&[("b", "http://b/"), ("a", "http://a/")])).is_none());
        // A new one anywhere but last cannot be patched in either.
        let inserted = set(&[("a", "http://a/"), ("n", "http://n/"), ("b", "http://b/")]);
        assert!(patch(&before, &inserted).is_none());
    }
}
