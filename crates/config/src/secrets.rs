//! Secret references: resolving them when a connection is made, and stashing literal
//! secrets from `add`/`import` input into files so that the subscriptions file never
//! holds them.

use std::collections::HashSet;
use std::fs;
use std::path::PathBuf;

use super::secret_names::{is_secret_header, is_secret_query};
use super::validate::validate_id;
use super::{
    AuthSpec, ConfigError, Paths, Secret, Store, StoreError, SubscriptionSet, SubscriptionSpec,
};
use ssenotify_sse::{Auth, Resume, Settings};

/// A secret reference (or the URL) of a subscription could not be resolved.
///
/// The message names the subscription, the field and the reference, never a secret value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("subscription {subscription:?}: {field}: {reason}")]
pub struct ResolveError {
    /// The subscription's id.
    pub subscription: String,
    /// The field, as written in the file (`auth.token`, `headers.Authorization`).
    pub field: String,
    /// What went wrong, naming the reference.
    pub reason: String,
}

/// A literal secret moved to a file by [`Store::stash_secrets`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StashedSecret {
    /// The field it came from (`auth.password`, `headers.X-Api-Key`).
    pub field: String,
    /// The file that holds it.
    pub path: PathBuf,
    /// Whether the file's content is (or, when planned, would be) new or different.
    pub changed: bool,
}

impl Secret {
    /// The value: the literal, the environment variable, or the file's content without
    /// its final newline. The error names the reference, never a value.
    pub fn resolve(&self, paths: &Paths) -> Result<String, String> {
        match self {
            Self::Literal(value) => Ok(value.clone()),
            Self::Env(name) => std::env::var(name).map_err(|e| match e {
                std::env::VarError::NotPresent => {
                    format!("environment variable {name} (from \"env:{name}\") is not set")
                }
                std::env::VarError::NotUnicode(_) => {
                    format!("environment variable {name} (from \"env:{name}\") is not valid UTF-8")
                }
            }),
            Self::File(written) => {
                let path = paths.expand(written);
                read_secret_file(&path).map_err(|e| {
                    format!(
                        "cannot read {} (from \"file:{written}\"): {e}",
                        path.display()
                    )
                })
            }
        }
    }
}

fn read_secret_file(path: &std::path::Path) -> std::io::Result<String> {
    let mut text = fs::read_to_string(path)?;
    // Editors and `echo` end files with a newline that is not part of the secret.
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    Ok(text)
}

impl SubscriptionSpec {
    /// The engine settings for a connection, with every reference resolved.
    ///
    /// `resume_from` is the stored resume point: the last event ID (sent as
    /// `Last-Event-ID`), or for a subscription with a `resume` adapter the last cursor
    /// (which the engine sends as the adapter's query parameter). Empty for none.
    pub fn to_settings(&self, paths: &Paths, resume_from: &str) -> Result<Settings, ResolveError> {
        let fail = |field: &str, reason: String| ResolveError {
            subscription: self.id.clone(),
            field: field.to_owned(),
            reason,
        };
        let headers = self
            .headers
            .iter()
            .map(|(name, value)| {
                let value = value
                    .resolve(paths)
                    .map_err(|reason| fail(&format!("headers.{name}"), reason))?;
                Ok((name.clone(), value))
            })
            .collect::<Result<_, _>>()?;
        let url = self.url_with_query(paths, &fail)?;
        let auth = match &self.auth {
            None => None,
            Some(AuthSpec::Basic { username, password }) => Some(Auth::Basic {
                username: username.clone(),
                password: password
                    .resolve(paths)
                    .map_err(|reason| fail("auth.password", reason))?,
            }),
            Some(AuthSpec::Bearer { token }) => Some(Auth::Bearer {
                token: token
                    .resolve(paths)
                    .map_err(|reason| fail("auth.token", reason))?,
            }),
        };
        // A resume adapter replaces Last-Event-ID: its server sends no `id:` to resume from.
        let (last_event_id, resume) = match self.resume_adapter() {
            None => (resume_from.to_owned(), None),
            Some(spec) => (
                String::new(),
                Some(Resume {
                    events: spec.counted_events(),
                    pointer: spec.cursor,
                    query: spec.query,
                    cursor: (!resume_from.is_empty()).then(|| resume_from.to_owned()),
                }),
            ),
        };
        Ok(Settings {
            url,
            headers,
            auth,
            last_event_id,
            policy: self.policy(),
            extra_ca_file: self.ca_file.as_ref().map(|p| paths.expand(p)),
            resume,
        })
    }
}

impl SubscriptionSpec {
    /// The URL to connect to: `url` with the `query` table's parameters, resolved, appended.
    fn url_with_query(
        &self,
        paths: &Paths,
        fail: &impl Fn(&str, String) -> ResolveError,
    ) -> Result<String, ResolveError> {
        if self.query.is_empty() {
            return Ok(self.url.clone());
        }
        let mut url = ssenotify_sse::http_url(&self.url).map_err(|reason| fail("url", reason))?;
        let mut resolved = Vec::with_capacity(self.query.len());
        for (name, value) in &self.query {
            let value = value
                .resolve(paths)
                .map_err(|reason| fail(&format!("query.{name}"), reason))?;
            resolved.push((name, value));
        }
        url.query_pairs_mut().extend_pairs(resolved);
        Ok(url.into())
    }
}

impl Store {
    /// Move the literal secrets of `spec` (auth password/token, secret-named headers and
    /// query parameters, credentials written in the URL) into files under the secrets dir
    /// (0700; files 0600) and replace them with `file:` references, so that the set can be
    /// saved. Files whose content is already right are left untouched.
    pub fn stash_secrets(
        &self,
        spec: &mut SubscriptionSpec,
    ) -> Result<Vec<StashedSecret>, StoreError> {
        self.stash(spec, true)
    }

    /// What [`stash_secrets`](Self::stash_secrets) would do, without writing (for `--dry-run`):
    /// `spec` gets the references, and `changed` tells which files would be written.
    pub fn plan_secrets(
        &self,
        spec: &mut SubscriptionSpec,
    ) -> Result<Vec<StashedSecret>, StoreError> {
        self.stash(spec, false)
    }

    fn stash(
        &self,
        spec: &mut SubscriptionSpec,
        write: bool,
    ) -> Result<Vec<StashedSecret>, StoreError> {
        // The id names files: never let an invalid one (`../x`) reach a path.
        validate_id(&spec.id).map_err(|message| {
            ConfigError::single(
                &self.paths().subscriptions_file(),
                None,
                format!("subscription: {message}"),
            )
        })?;
        // `user:pw@` and `?token=` become `auth` and `query` literals, stashed below.
        super::url_secrets::lift(spec);
        let dir = self.paths().secrets_dir();
        let mut stashed = Vec::new();
        let mut names = Vec::new();
        let id = spec.id.clone();
        for (field, slot) in literal_secret_slots(spec) {
            let Secret::Literal(value) = &*slot else {
                continue;
            };
            let mut name = format!("{id}.{}", file_stem(&field));
            // Two header names can map to one stem (`X!Key`, `X#Key`): keep them apart.
            let base = name.clone();
            let mut n = 1;
            while names.contains(&name) {
                n += 1;
                name = format!("{base}-{n}");
            }
            names.push(name.clone());
            let path = dir.join(&name);
            let changed = read_secret_file(&path).ok().as_deref() != Some(value.as_str());
            if write && changed {
                create_private_dir(&dir)?;
                self.write_atomic(&path, value.as_bytes(), 0o600)?;
            }
            *slot = Secret::File(format!("secrets/{name}"));
            stashed.push(StashedSecret {
                field,
                path,
                changed,
            });
        }
        Ok(stashed)
    }
}

impl Store {
    /// Deletes the files in the secrets dir that no subscription of `set` refers to any
    /// more (a removed subscription, a secret replaced by another reference), so a secret
    /// the user let go of does not stay on disk. Called after ssenotify wrote `set`; the
    /// secrets dir is ssenotify's own, so anything unreferenced there is a leftover.
    /// Returns the files deleted; a file that cannot be deleted is logged, never an error:
    /// the subscriptions file is already written.
    pub(super) fn prune_secrets(&self, set: &SubscriptionSet) -> Vec<PathBuf> {
        let paths = self.paths();
        let referenced: HashSet<PathBuf> = set
            .subscriptions
            .iter()
            .flat_map(secret_refs)
            .filter_map(|(_, secret)| match secret {
                Secret::File(path) => Some(paths.expand(path)),
                _ => None,
            })
            .collect();
        let Ok(entries) = fs::read_dir(paths.secrets_dir()) else {
            return Vec::new();
        };
        let mut pruned = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if !entry.file_type().is_ok_and(|t| t.is_file()) || referenced.contains(&path) {
                continue;
            }
            match fs::remove_file(&path) {
                Ok(()) => pruned.push(path),
                Err(error) => {
                    tracing::warn!(%error, path = %path.display(), "an unused secret file stays")
                }
            }
        }
        pruned
    }
}

/// Every value of `spec` that may be a reference (header values, query parameters and
/// auth), whatever its form, with its field as written in the file (`headers.X-Key`).
pub(crate) fn secret_refs(spec: &SubscriptionSpec) -> Vec<(String, &Secret)> {
    let mut secrets: Vec<(String, &Secret)> = Vec::new();
    for (name, value) in &spec.headers {
        secrets.push((format!("headers.{name}"), value));
    }
    for (name, value) in &spec.query {
        secrets.push((format!("query.{name}"), value));
    }
    match &spec.auth {
        Some(AuthSpec::Basic { password, .. }) => secrets.push(("auth.password".into(), password)),
        Some(AuthSpec::Bearer { token }) => secrets.push(("auth.token".into(), token)),
        None => {}
    }
    secrets
}

/// The fields of `spec` that hold a secret written in clear.
fn literal_secret_slots(spec: &mut SubscriptionSpec) -> Vec<(String, &mut Secret)> {
    let mut slots = Vec::new();
    for (name, value) in &mut spec.headers {
        if is_secret_header(name) && value.is_literal() {
            slots.push((format!("headers.{name}"), value));
        }
    }
    for (name, value) in &mut spec.query {
        if is_secret_query(name) && value.is_literal() {
            slots.push((format!("query.{name}"), value));
        }
    }
    match &mut spec.auth {
        Some(AuthSpec::Basic { password, .. }) if password.is_literal() => {
            slots.push(("auth.password".into(), password));
        }
        Some(AuthSpec::Bearer { token }) if token.is_literal() => {
            slots.push(("auth.token".into(), token));
        }
        _ => {}
    }
    slots
}

/// `headers.X-Api-Key` → `header-x-api-key`, `auth.password` → `auth-password`,
/// `query.token` → `query-token`.
fn file_stem(field: &str) -> String {
    let field = field
        .strip_prefix("headers.")
        .map_or_else(|| field.to_owned(), |name| format!("header.{name}"));
    field
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '_') => c,
            _ => '-',
        })
        .collect()
}

fn create_private_dir(dir: &std::path::Path) -> Result<(), StoreError> {
    super::paths::create_private_dir(dir).map_err(|source| StoreError::Write {
        path: dir.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_stems_are_safe_names() {
        assert_eq!(file_stem("auth.password"), "auth-password");
        assert_eq!(file_stem("headers.X-Api-Key"), "header-x-api-key");
        assert_eq!(file_stem("headers.X!Key"), "header-x-key");
        assert_eq!(file_stem("query.access_token"), "query-access_token");
    }
}
