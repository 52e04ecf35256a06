//! The desktop app's contract with its web UI (Tauri IPC, docs/ipc.md): what its commands
//! return and reject with, and the batched `ssenotify://update` event. The app forwards the
//! daemon's messages (above) into these.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::status::{DaemonEvent, LiveEvent, SubscriptionStatus};

/// Which engine the window shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum EngineKind {
    /// The engine with its tray icon (`ssenotify run --tray`), started by the app if needed.
    Running,
    /// A headless `ssenotify run` that already ran for this user: the app uses it.
    External,
    /// No engine answers (it died: the app starts one again every 2 s).
    Error,
}

/// What `app_info` returns, and what an update carries when the link to the engine changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    /// The app's version (Cargo package version).
    pub version: String,
    /// Where the user's subscriptions live.
    pub config_dir: String,
    /// Where history lives.
    pub data_dir: String,
    /// Which engine the window shows.
    pub engine: EngineKind,
    /// The engine's pid, when one answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_pid: Option<u32>,
    /// Something the UI must show visibly (no tray icon, engine down, config error).
    pub notice: Option<String>,
    /// The notice is information the user may hide for good (this desktop shows no tray
    /// icons), not a problem to fix.
    #[serde(default)]
    pub dismissible: bool,
    /// One line about the engine, for the header.
    pub status: String,
}

/// One problem of a validation error, placed where a form shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct FieldProblem {
    /// The form field it belongs to (`url`, `headers`, ...), when it names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// 1-based line in imported text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// 1-based column in imported text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// What every command rejects with: a message, and the form field it belongs to when it is
/// a validation error (the UI shows it next to that field).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CommandError {
    /// Human-readable, shown as text.
    pub message: String,
    /// The field that is wrong, e.g. `url`; absent for errors about the whole request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Every validation problem, each with its field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<FieldProblem>,
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

    /// An error about one field.
    pub fn on_field(message: impl Into<String>, field: &str) -> Self {
        Self {
            field: Some(field.into()),
            ..Self::new(message)
        }
    }
}

/// The payload of `ssenotify://update`, at most ~10 a second. It carries what changed since
/// the last batch, so its size follows the changes, not the number of subscriptions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct UpdateBatch {
    /// The latest status of each subscription that changed since the last batch (every
    /// subscription when `engine` is set).
    pub statuses: Vec<SubscriptionStatus>,
    /// Subscriptions that left the engine's set (removed from the file) since the last batch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
    /// Updates were skipped on the way (the engine's stream lagged): statuses may be stale,
    /// and the UI refetches the whole list.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub resync: bool,
    /// New events, oldest first.
    pub events: Vec<LiveEvent>,
    /// Events left out of this batch (over the cap, or lagged on the channel); the UI
    /// fetches history pages for them.
    pub dropped: u64,
    /// The last config apply or error since the last batch (`DaemonEvent::Config`).
    pub config: Option<DaemonEvent>,
    /// Set when the link to the engine changed (started, died, came back): the UI takes it
    /// as a new `app_info` and refetches the list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<AppInfo>,
}
