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
//! - `set`: [`SubscriptionSet`], the file's content as a value, and its [`Format`]s.
//! - `file`: the file's text: the versioned TOML and JSON layouts, parsing with every
//!   problem located ([`SubscriptionSet::parse`]), rendering.
//! - `spec`: the schema as types ([`SubscriptionSpec`], [`AuthSpec`], [`Secret`],
//!   [`HistorySpec`], [`ResumeSpec`]), with the file's defaults and limits.
//! - `validate`: strict and complete validation: every independent problem at once, each
//!   with its path in the schema ([`Problem::path`], [`Problem::field`]) ([`ConfigError`]).
//! - `hub`: `[hub]`, the local event hub's settings ([`HubSpec`]): its address, loopback
//!   or a Unix socket only ([`HubAddress`]), and its bearer token file ([`hub_token`]).
//! - `locate` (private): turns a problem's path into a line and column of the source text.
//! - `secrets`: `env:NAME` and `file:PATH` references, resolved only when a connection is
//!   made ([`SubscriptionSpec::to_settings`]); literal secrets in input to `add`/`import`
//!   are moved to 0600 files ([`Store::stash_secrets`]).
//! - `secret_names`: which header and query parameter names hold secrets
//!   ([`is_secret_header`], [`is_secret_query`]).
//! - `url_secrets` (private): credentials written in a URL (`user:password@`, a query
//!   parameter named like a secret): refused in the file, lifted into `auth` and `query` by
//!   `add`/`import`, masked in messages.
//! - `store`: [`Store`] reads and writes the file: atomic replace under an exclusive lock,
//!   and a read-modify-write [`Store::update`] that never writes a set that does not
//!   validate.
//! - `rewrite` (private): edits the existing text in place, so the user's comments survive.
//! - `diff`: compares two sets by id ([`diff`]): for `import` (merge or replace, dry run)
//!   and for the daemon, which restarts only the subscriptions whose connection changed.
//! - `trust`: [`TrustItem`], what an import would newly let run (command rules) or read
//!   (references outside the secrets dir, and any in an `http` button's headers); `import`
//!   refuses it unless trusted.
//! - `ntfy`: [`from_ntfy_client_yml`] turns an ntfy `client.yml` into subscriptions.
//! - `schema`: the file's JSON Schema ([`json_schema`]), derived from the types above, and
//!   the `#:schema` directive of a new file ([`schema_for_new_file`]).
//! - `schema_parts` (private): what no derive gives: the schema of durations, timestamps
//!   and the router's part of the file (rules, rate limits, quiet hours), held to the
//!   router's serde types by the schema tests.
//! - `paths`: [`Paths`], where a user's files live (XDG directories), and
//!   [`create_private_dir`], how its private directories are made (0700 from the start).
//! - [`edit`]: the edits every face makes (add, update, remove, pause, mute, import,
//!   export), through the [`Store`].

mod diff;
pub mod edit;
mod file;
mod hub;
mod locate;
mod ntfy;
mod paths;
mod rewrite;
pub mod schema;
mod schema_parts;
mod secret_names;
mod secrets;
mod set;
mod spec;
mod store;
mod trust;
mod url_secrets;
mod validate;

pub use diff::{Change, ChangeSummary, Diff, DiffSummary, diff, needs_reconnect};
pub use file::SCHEMA_VERSION;
pub use hub::{EXAMPLE_LISTEN, HubAddress, HubSpec, hub_token};
pub use locate::PathSegment;
pub use ntfy::{NtfyImport, from_ntfy_client_yml};
pub use paths::{Paths, create_private_dir};
pub use schema::{INSTALLED_SCHEMA, json_schema, json_schema_text, schema_for_new_file};
pub use secret_names::{is_secret_header, is_secret_query};
pub use secrets::{ResolveError, StashedSecret};
pub use set::{Format, SubscriptionSet};
pub use spec::{
    AuthSpec, DEFAULT_GAP_THRESHOLD, DEFAULT_MAX_AGE, DEFAULT_MAX_EVENT_SIZE, DEFAULT_MAX_EVENTS,
    Field, HistorySpec, MAX_EVENTS_LIMIT, ResumeSpec, Secret, SubscriptionSpec, format_duration,
    format_timestamp, parse_duration, parse_timestamp,
};
pub use store::{Store, StoreError};
pub use trust::TrustItem;
pub use validate::{ConfigError, LiteralSecrets, Problem, validate_id};

#[cfg(test)]
mod tests;
