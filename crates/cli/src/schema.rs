//! `ssenotify schema`: the subscriptions file's JSON Schema (from `ssenotify_config`).

use std::io::Write;
use std::process::ExitCode;

/// Print the schema (JSON, draft 2020-12) on stdout.
pub fn main() -> ExitCode {
    let text = ssenotify_config::json_schema_text();
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => crate::common::fail(format!("cannot write the schema: {error}")),
    }
}
