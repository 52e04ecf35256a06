//! Reading and writing the file's text: the versioned TOML and JSON layouts, parsing with
//! every problem located, and rendering.

use std::path::Path;

use serde::{Deserialize, Serialize};
use ssenotify_router::NotificationSettings;

use crate::hub::HubSpec;
use crate::locate::{self, PathSegment};
use crate::set::{Format, SubscriptionSet};
use crate::spec::{self, SubscriptionSpec};
use crate::validate::{self, ConfigError, Found, LiteralSecrets};

/// The schema version this build reads and writes.
pub const SCHEMA_VERSION: u32 = 1;

/// The first lines of a TOML file ssenotify writes from scratch (an edit keeps the file's own).
pub(crate) const TOML_HEADER: &str = "# ssenotify subscriptions: see docs/subscriptions.md.\n\
     # ssenotify edits this file in place: comments outside the values it changes are kept.\n\n";

/// The TOML file; its doc comments and serde attributes are also its JSON Schema
/// (see the `schema` module).
#[derive(Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "ssenotify subscriptions file")]
pub(crate) struct TomlFile {
    /// The file format's version: this ssenotify reads and writes 1.
    #[serde(default = "schema_version")]
    #[schemars(schema_with = "version_schema")]
    version: u32,
    /// File-wide notification settings: quiet hours and the default rate limit.
    #[serde(default, skip_serializing_if = "spec::is_default")]
    #[schemars(schema_with = "crate::schema_parts::notifications")]
    notifications: NotificationSettings,
    /// The local event hub: where the daemon serves every event to scripts (off unless
    /// `listen` is set).
    #[serde(default, skip_serializing_if = "spec::is_default")]
    hub: HubSpec,
    /// One table per subscription (`[[subscription]]`).
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
    #[serde(default, skip_serializing_if = "spec::is_default")]
    hub: HubSpec,
    // Always written, so that scripts can rely on the array being there.
    #[serde(default)]
    subscriptions: Vec<SubscriptionSpec>,
}

/// Only the version, read when the file does not fit the schema: a file from a newer
/// ssenotify is reported as such rather than as a pile of unknown keys.
#[derive(Deserialize)]
struct VersionProbe {
    #[serde(default)]
    version: Option<i64>,
}

fn schema_version() -> u32 {
    SCHEMA_VERSION
}

/// `version` in the JSON Schema: exactly this build's format version.
fn version_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "description": "The file format's version: this ssenotify reads and writes this one.",
        "type": "integer",
        "const": SCHEMA_VERSION,
        "default": SCHEMA_VERSION
    })
}

impl SubscriptionSet {
    /// Parse and validate `text`; `file` names it in errors (`<stdin>` for a pipe).
    pub fn parse(
        text: &str,
        format: Format,
        file: &Path,
        literal: LiteralSecrets,
    ) -> Result<Self, ConfigError> {
        // One parse when the file fits the schema; only a file that does not is read again
        // for its version, so that a newer ssenotify's file is reported as such rather than
        // as a pile of unknown keys (10,000 subscriptions are 1 MB of TOML: twice is slow).
        let parsed = match format {
            Format::Toml => toml::from_str::<TomlFile>(text)
                .map(|f| (f.version, f.notifications, f.hub, f.subscriptions))
                .map_err(|e| toml_errors(text, file, &e)),
            Format::Json => serde_json::from_str::<JsonFile>(text)
                .map(|f| (f.version, f.notifications, f.hub, f.subscriptions))
                .map_err(|e| json_error(file, &e)),
        };
        let set = match parsed {
            Ok((version, _, _, _)) if version != SCHEMA_VERSION => {
                return Err(version_error(text, format, file, i64::from(version)));
            }
            Ok((_, notifications, hub, subscriptions)) => Self {
                notifications,
                hub,
                subscriptions,
            },
            Err(error) => {
                let probe = match format {
                    Format::Toml => toml::from_str::<VersionProbe>(text).ok(),
                    Format::Json => serde_json::from_str::<VersionProbe>(text).ok(),
                };
                return Err(match probe.and_then(|p| p.version) {
                    Some(version) if version != i64::from(SCHEMA_VERSION) => {
                        version_error(text, format, file, version)
                    }
                    _ => error,
                });
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
            hub: self.hub.clone(),
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
            hub: self.hub.clone(),
            subscriptions: self.subscriptions.clone(),
        };
        let mut text =
            serde_json::to_string_pretty(&file).expect("the subscription set serializes to JSON");
        text.push('\n');
        text
    }
}

/// A file of another schema version (a newer ssenotify wrote it).
fn version_error(text: &str, format: Format, file: &Path, version: i64) -> ConfigError {
    let found = Found {
        path: vec![PathSegment::from("version")],
        message: format!(
            "version: this ssenotify reads version {SCHEMA_VERSION}, not {version} (was the file written by a newer ssenotify?)"
        ),
    };
    ConfigError::located(file, Some((text, format)), vec![found])
}

/// Every subscription's first type error, not only the file's first: serde stops at one,
/// so each `[[subscription]]` (and what precedes the first) is read again on its own and
/// its error placed in the whole text. A file that is not TOML at all keeps its one error.
fn toml_errors(text: &str, file: &Path, first: &toml::de::Error) -> ConfigError {
    let Ok(doc) = toml_edit::Document::parse(text) else {
        return toml_error(text, file, first);
    };
    let mut starts: Vec<usize> = doc
        .get("subscription")
        .and_then(toml_edit::Item::as_array_of_tables)
        .map(|subs| {
            subs.iter()
                .filter_map(|t| t.span())
                .map(|s| s.start)
                .collect()
        })
        .unwrap_or_default();
    starts.sort_unstable();
    if starts.is_empty() {
        return toml_error(text, file, first);
    }
    let mut bounds = vec![0];
    bounds.extend(starts);
    bounds.push(text.len());
    let problems: Vec<_> = bounds
        .windows(2)
        .filter_map(|pair| {
            let error = toml::from_str::<TomlFile>(&text[pair[0]..pair[1]]).err()?;
            let at = error
                .span()
                .map(|span| locate::line_col(text, pair[0] + span.start));
            Some((at, error.message().trim().to_owned()))
        })
        .collect();
    if problems.is_empty() {
        return toml_error(text, file, first);
    }
    ConfigError::several(file, problems)
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
