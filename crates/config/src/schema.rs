//! The subscriptions file's JSON Schema, for editors (taplo, Even Better TOML, and the
//! YAML/JSON language servers) and for `ssenotify schema`.
//!
//! The schema is derived from the file's Rust types (`TomlFile` and the types of
//! `spec.rs`, with schemars), so a key added there is in the schema with its doc comment.
//! The routing part (rules, rate limits, quiet hours) is the router's types, which carry no
//! schema of their own: `schema_parts` describes them, and this module's tests keep it in
//! step with the router's serde definitions (every key and name they accept is in the
//! schema, and every example in docs/ passes both).
//!
//! The schema is versioned with the file format: its `$id` and the `version` key name
//! [`SCHEMA_VERSION`], and the installed file is where a file ssenotify writes points
//! (its first line, `#:schema ...`, taplo's directive).

use std::path::{Path, PathBuf};

use crate::file::{SCHEMA_VERSION, TomlFile};
use crate::paths::Paths;

/// Where the .deb installs the schema.
pub const INSTALLED_SCHEMA: &str = "/usr/share/ssenotify/subscriptions.schema.json";

/// The schema's file name (the .deb's, and the copy a source build keeps in the data dir).
pub const SCHEMA_FILE_NAME: &str = "subscriptions.schema.json";

/// The JSON Schema (draft 2020-12) of the TOML subscriptions file this build reads.
pub fn json_schema() -> serde_json::Value {
    let generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    let mut schema = generator.into_root_schema_for::<TomlFile>();
    schema.insert(
        "$id".into(),
        format!("https://ssenotify.invalid/schema/subscriptions-v{SCHEMA_VERSION}.json").into(),
    );
    schema.insert(
        "description".into(),
        format!(
            "The subscriptions file of ssenotify, format version {SCHEMA_VERSION} \
             (~/.config/ssenotify/subscriptions.toml; reference: docs/subscriptions.md)."
        )
        .into(),
    );
    let mut value = schema.to_value();
    drop_null(&mut value);
    value
}

/// TOML has no null (an absent key is how the file says "none"), so the `null` schemars
/// allows for an `Option` is taken out: `"type": ["string", "null"]` becomes `"string"`
/// and `"anyOf": [X, {"type": "null"}]` becomes X.
fn drop_null(value: &mut serde_json::Value) {
    use serde_json::Value;
    let Value::Object(map) = value else {
        if let Value::Array(items) = value {
            items.iter_mut().for_each(drop_null);
        }
        return;
    };
    if let Some(Value::Array(types)) = map.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types.remove(0);
            map.insert("type".into(), only);
        }
    }
    if let Some(Value::Array(options)) = map.get_mut("anyOf") {
        options.retain(|o| o.get("type").is_none_or(|t| t != "null"));
        if options.len() == 1 {
            let Some(Value::Object(only)) = options.pop() else {
                unreachable!("a schema is an object")
            };
            map.remove("anyOf");
            for (key, v) in only {
                map.entry(key).or_insert(v);
            }
        }
    }
    map.values_mut().for_each(drop_null);
}

/// The schema as the file ssenotify installs and prints: pretty JSON and a final newline.
pub fn json_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&json_schema()).expect("a JSON value prints");
    text.push('\n');
    text
}

/// The schema a new subscriptions file points at: the installed one when there is one
/// (the .deb), else a copy in the data dir that this build writes (a source build), so
/// that the directive always names a file that exists and matches the binary.
pub fn schema_for_new_file(paths: &Paths) -> Option<PathBuf> {
    let installed = Path::new(INSTALLED_SCHEMA);
    if installed.is_file() {
        return Some(installed.to_path_buf());
    }
    let copy = paths.data_dir.join(SCHEMA_FILE_NAME);
    let text = json_schema_text();
    if std::fs::read_to_string(&copy).ok().as_deref() == Some(text.as_str()) {
        return Some(copy);
    }
    // Best effort: without the copy the file is still written, only without the directive.
    crate::paths::create_private_dir(&paths.data_dir).ok()?;
    let temp = copy.with_extension("json.tmp");
    std::fs::write(&temp, text).ok()?;
    std::fs::rename(&temp, &copy).ok()?;
    Some(copy)
}

/// The `#:schema` directive line (taplo's syntax) naming `schema`.
pub fn directive(schema: &Path) -> String {
    format!("#:schema file://{}\n", schema.display())
}

#[cfg(test)]
mod tests;
