//! `ssenotify-config`: the subscriptions file, every subscription a user has, as
//! human-editable TOML.
//!
//! The file (`subscriptions.toml` in the config dir, see [`Paths`]) holds a schema
//! `version`, optional file-wide `[notifications]` settings, and one `[[subscription]]`
//! table per subscription ([`SubscriptionSpec`]); `docs/subscriptions.md` documents every
//! key. The same schema is read and written as JSON for scripts (`{"version": 1,
//! "notifications": {...}, "subscriptions": [...]}`). Rules and notification settings are
//! the router's specs ([`ssenotify_router::spec`]), embedded here; the router never reads
//! the file.
//!
//! # Layout
//!
//! - `spec`: the schema as types ([`SubscriptionSpec`], [`AuthSpec`], [`Secret`],
//!   [`HistorySpec`], [`ResumeSpec`]), with the file's defaults and limits.
//! - `validate`: strict and complete validation: every independent problem at once, each
//!   with its path in the schema ([`Problem::path`], [`Problem::field`]) ([`ConfigError`]).
//! - `locate` (private): turns a problem's path into a line and column of the source text.
//! - `secrets`: `env:NAME` and `file:PATH` references, resolved only when a connection is
//!   made ([`SubscriptionSpec::to_settings`]); literal secrets in input to `add`/`import`
//!   are moved to 0600 files ([`Store::stash_secrets`]).
//! - `store`: [`Store`] reads and writes the file: atomic replace under an exclusive lock,
//!   and a read-modify-write [`Store::update`] that never writes a set that does not
//!   validate.
//! - `rewrite` (private): edits the existing text in place, so the user's comments survive.
//! - `diff`: compares two sets by id ([`diff`]): for `import` (merge or replace, dry run)
//!   and for the daemon, which restarts only the subscriptions whose connection changed.
//! - `ntfy`: [`from_ntfy_client_yml`] turns an ntfy `client.yml` into subscriptions.
//! - `paths`: [`Paths`], where a user's files live (XDG directories).
//! - [`edit`]: the edits every face makes (add, update, remove, pause, mute, import,
//!   export), through the [`Store`].

mod diff;
pub mod edit;
mod locate;
mod ntfy;
mod paths;
mod rewrite;
mod secrets;
mod spec;
mod store;
mod validate;

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use ssenotify_router::NotificationSettings;

pub use diff::{Change, ChangeSummary, Diff, DiffSummary, diff, needs_reconnect};
pub use locate::PathSegment;
pub use ntfy::{NtfyImport, from_ntfy_client_yml};
pub use paths::Paths;
pub use secrets::{ResolveError, StashedSecret};
pub use spec::{
    AuthSpec, DEFAULT_MAX_AGE, DEFAULT_MAX_EVENT_SIZE, DEFAULT_MAX_EVENTS, Field, HistorySpec,
    MAX_EVENTS_LIMIT, ResumeSpec, Secret, SubscriptionSpec, format_duration, format_timestamp,
    parse_duration, parse_timestamp,
};
pub use store::{Store, StoreError};
pub use validate::{ConfigError, LiteralSecrets, Problem, is_secret_header, validate_id};

use validate::Found;

/// The schema version this build reads and writes.
pub const SCHEMA_VERSION: u32 = 1;

/// The first lines of a TOML file ssenotify writes from scratch (an edit keeps the file's own).
const TOML_HEADER: &str = "# ssenotify subscriptions: see docs/subscriptions.md.\n\
     # ssenotify edits this file in place: comments outside the values it changes are kept.\n\n";

/// A syntax the subscriptions schema is read and written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// TOML: the subscriptions file itself, `[[subscription]]` tables.
    Toml,
    /// JSON: `{"version": 1, "subscriptions": [...]}`, for scripts.
    Json,
}

impl Format {
    /// The format a file name's extension implies (`.toml`, `.json`), if any.
    pub fn from_path(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()? {
            "toml" => Some(Self::Toml),
            "json" => Some(Self::Json),
            _ => None,
        }
    }

    /// The key of the subscriptions array: TOML reads better singular (`[[subscription]]`
    /// is one table), JSON plural (one array).
    fn list_key(self) -> &'static str {
        match self {
            Self::Toml => "subscription",
            Self::Json => "subscriptions",
        }
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "toml" => Ok(Self::Toml),
            "json" => Ok(Self::Json),
            other => Err(format!("unknown format {other:?}; expected toml or json")),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Toml => "toml",
            Self::Json => "json",
        })
    }
}

/// Every subscription of a user, with the file-wide settings: the file's content.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SubscriptionSet {
    /// File-wide notification settings (`[notifications]`).
    pub notifications: NotificationSettings,
    /// The subscriptions, in file order; ids are unique.
    pub subscriptions: Vec<SubscriptionSpec>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlFile {
    #[serde(default = "schema_version")]
    version: u32,
    #[serde(default, skip_serializing_if = "spec::is_default")]
    notifications: NotificationSettings,
    #[serde(
        default,
        rename = "subscription",
        skip_serializing_if = "Vec::is_empty"
    )]
    subscriptions: Vec<SubscriptionSpec>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonFile {
    #[serde(default = "schema_version")]
    version: u32,
    #[serde(default, skip_serializing_if = "spec::is_default")]
    notifications: NotificationSettings,
    // Always written, so that scripts can rely on the array being there.
    #[serde(default)]
    subscriptions: Vec<SubscriptionSpec>,
}

/// Only the version, read before the rest: a file from a newer ssenotify is reported as
/// such rather than as a pile of unknown keys.
#[derive(Deserialize)]
struct VersionProbe {
    #[serde(default)]
    version: Option<i64>,
}

fn schema_version() -> u32 {
    SCHEMA_VERSION
}

impl SubscriptionSet {
    /// Parse and validate `text`; `file` names it in errors (`<stdin>` for a pipe).
    pub fn parse(
        text: &str,
        format: Format,
        file: &Path,
        literal: LiteralSecrets,
    ) -> Result<Self, ConfigError> {
        let probe = match format {
            Format::Toml => {
                toml::from_str::<VersionProbe>(text).map_err(|e| toml_error(text, file, &e))
            }
            Format::Json => {
                serde_json::from_str::<VersionProbe>(text).map_err(|e| json_error(file, &e))
            }
        }?;
        if let Some(version) = probe.version.filter(|v| *v != i64::from(SCHEMA_VERSION)) {
            let found = Found {
                path: vec![PathSegment::from("version")],
                message: format!(
                    "version: this ssenotify reads version {SCHEMA_VERSION}, not {version} (was the file written by a newer ssenotify?)"
                ),
            };
            return Err(ConfigError::located(
                file,
                Some((text, format)),
                vec![found],
            ));
        }
        let set = match format {
            Format::Toml => {
                let parsed: TomlFile =
                    toml::from_str(text).map_err(|e| toml_error(text, file, &e))?;
                Self {
                    notifications: parsed.notifications,
                    subscriptions: parsed.subscriptions,
                }
            }
            Format::Json => {
                let parsed: JsonFile =
                    serde_json::from_str(text).map_err(|e| json_error(file, &e))?;
                Self {
                    notifications: parsed.notifications,
                    subscriptions: parsed.subscriptions,
                }
            }
        };
        let found = validate::check(&set, literal, format.list_key());
        if found.is_empty() {
            Ok(set)
        } else {
            Err(ConfigError::located(file, Some((text, format)), found))
        }
    }

    /// Validate a set built in code (no text, so problems name the subscription, not a line).
    pub fn validate(&self, file: &Path, literal: LiteralSecrets) -> Result<(), ConfigError> {
        let found = validate::check(self, literal, Format::Toml.list_key());
        if found.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::located(file, None, found))
        }
    }

    /// The set in `format`: stable (the same set always gives the same bytes), defaults omitted.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Toml => self.to_toml(),
            Format::Json => self.to_json(),
        }
    }

    /// The set as the TOML subscriptions file.
    pub fn to_toml(&self) -> String {
        let file = TomlFile {
            version: SCHEMA_VERSION,
            notifications: self.notifications.clone(),
            subscriptions: self.subscriptions.clone(),
        };
        // Serializing plain data (string keys, no non-finite floats) cannot fail.
        let body = toml::to_string(&file).expect("the subscription set serializes to TOML");
        format!("{TOML_HEADER}{body}")
    }

    /// The set as JSON: `{"version": 1, "subscriptions": [...]}`, pretty-printed.
    pub fn to_json(&self) -> String {
        let file = JsonFile {
            version: SCHEMA_VERSION,
            notifications: self.notifications.clone(),
            subscriptions: self.subscriptions.clone(),
        };
        let mut text =
            serde_json::to_string_pretty(&file).expect("the subscription set serializes to JSON");
        text.push('\n');
        text
    }

    /// The subscription with this id.
    pub fn get(&self, id: &str) -> Option<&SubscriptionSpec> {
        self.subscriptions.iter().find(|s| s.id == id)
    }

    /// The subscription with this id, to change it.
    pub fn get_mut(&mut self, id: &str) -> Option<&mut SubscriptionSpec> {
        self.subscriptions.iter_mut().find(|s| s.id == id)
    }

    /// Replace the subscription with the same id in place, or append it; returns the old one.
    pub fn upsert(&mut self, spec: SubscriptionSpec) -> Option<SubscriptionSpec> {
        match self.get_mut(&spec.id) {
            Some(slot) => Some(std::mem::replace(slot, spec)),
            None => {
                self.subscriptions.push(spec);
                None
            }
        }
    }

    /// Remove the subscription with this id; returns it.
    pub fn remove(&mut self, id: &str) -> Option<SubscriptionSpec> {
        let index = self.subscriptions.iter().position(|s| s.id == id)?;
        Some(self.subscriptions.remove(index))
    }
}

fn toml_error(text: &str, file: &Path, error: &toml::de::Error) -> ConfigError {
    let at = error.span().map(|span| locate::line_col(text, span.start));
    ConfigError::single(file, at, error.message().trim().to_owned())
}

fn json_error(file: &Path, error: &serde_json::Error) -> ConfigError {
    // serde_json appends the location to the message; it is carried separately here.
    let message = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    let message = message.strip_suffix(&suffix).unwrap_or(&message).to_owned();
    let at = (error.line() > 0).then(|| (error.line(), error.column().max(1)));
    ConfigError::single(file, at, message)
}

#[cfg(test)]
mod tests;
