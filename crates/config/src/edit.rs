//! Edits of a user's subscriptions, shared by the CLI, the tray and the app: add, update,
//! remove, pause, mute, import, export.
//!
//! Every face edits subscriptions the same way: through the subscriptions file under its
//! lock ([`Store::update`]), validating everything before anything is written, and moving
//! literal secrets into 0600 files first. After an edit, the caller makes the running
//! daemon apply it (a `reload` request on its control socket); the daemon's file watch
//! would also notice. These calls block (a file lock, an fsync): async callers use the
//! daemon crate's `ops`, which runs them on a blocking thread.

use std::path::Path;

use chrono::{DateTime, FixedOffset};
use ssenotify_router::NotificationSettings;

use crate::trust::{TrustItem, new_trust};
use crate::{
    ConfigError, Diff, Format, LiteralSecrets, Paths, Secret, Store, StoreError, SubscriptionSet,
    SubscriptionSpec,
};

/// Why an operation was refused; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The input (or the set it would produce) does not validate.
    #[error("{0}")]
    Invalid(#[from] ConfigError),
    /// No subscription has this id.
    #[error("no subscription with id {0:?}")]
    NotFound(String),
    /// A subscription with this id exists already.
    #[error(
        "a subscription with id {0:?} already exists (remove it first, or import to change it)"
    )]
    Exists(String),
    /// The file could not be read, locked or written.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// Something else is wrong with the request (a header without a colon, ...).
    #[error("{0}")]
    Usage(String),
    /// An import would run programs, or read files or variables, that the file did not
    /// allow before, and was not told to trust its input ([`ImportOptions::trust`]).
    #[error("{}", untrusted_message(.0))]
    Untrusted(Vec<TrustItem>),
}

fn untrusted_message(items: &[TrustItem]) -> String {
    let mut message = String::from(
        "the input would let these run or be read, which the subscriptions file does not allow yet:",
    );
    for item in items {
        message.push_str("\n  ");
        message.push_str(&item.to_string());
    }
    message
}

/// A subscription to add, as a person types it.
#[derive(Debug, Clone, Default)]
pub struct NewSubscription {
    /// The URL of the stream.
    pub url: String,
    /// Its id; derived from the URL when absent.
    pub id: Option<String>,
    /// Its display name; the id when absent.
    pub name: Option<String>,
    /// Request headers as `(name, value)`; secret-looking values are stashed.
    pub headers: Vec<(String, String)>,
    /// Start paused.
    pub paused: bool,
}

/// Split `Name: value` into a header pair.
pub fn parse_header(header: &str) -> Result<(String, String), EditError> {
    match header.split_once(':') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_owned(), value.trim().to_owned()))
        }
        _ => Err(EditError::Usage(format!(
            "header {header:?} is not of the form 'Name: value'"
        ))),
    }
}

/// Add a subscription; returns its id.
pub fn add(paths: &Paths, new: NewSubscription) -> Result<String, EditError> {
    let store = Store::new(paths.clone());
    store.update(|set| {
        let id = new.id.clone().unwrap_or_else(|| derive_id(&new.url, set));
        if set.get(&id).is_some() {
            return Err(EditError::Exists(id));
        }
        let mut spec = SubscriptionSpec::new(id.clone(), new.url.clone());
        spec.name = new.name.clone();
        spec.paused = new.paused;
        spec.headers = new
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), Secret::parse(value)))
            .collect();
        put(&store, set, spec, true)?;
        Ok(id)
    })
}

/// Add a complete subscription (the app's demo button); refused if its id is taken.
pub fn add_spec(paths: &Paths, spec: SubscriptionSpec) -> Result<String, EditError> {
    let store = Store::new(paths.clone());
    store.update(|set| {
        if set.get(&spec.id).is_some() {
            return Err(EditError::Exists(spec.id.clone()));
        }
        let id = spec.id.clone();
        put(&store, set, spec, true)?;
        Ok(id)
    })
}

/// Replace the file-wide notification settings (quiet hours, default rate limit).
pub fn set_notifications(paths: &Paths, settings: NotificationSettings) -> Result<(), EditError> {
    let store = Store::new(paths.clone());
    store.update(|set| {
        let mut next = set.clone();
        next.notifications = settings;
        // Through the text form: the same checks a hand-edited file gets.
        SubscriptionSet::parse(
            &next.render(Format::Toml),
            Format::Toml,
            Path::new("<settings>"),
            LiteralSecrets::Reject,
        )?;
        *set = next;
        Ok(())
    })
}

/// Turn do not disturb on or off (the window's and the tray's toggle, `ssenotify dnd`).
pub fn set_do_not_disturb(paths: &Paths, on: bool) -> Result<(), EditError> {
    Store::new(paths.clone()).update(|set| {
        set.notifications.do_not_disturb = on;
        Ok(())
    })
}

/// "Show anyway": quiet hours in force at local time `now` hold nothing until they end (an
/// hour from now when they chain around the clock); returns until when, or `None` when no
/// quiet hours hold notifications now (nothing is written then).
pub fn show_anyway(
    paths: &Paths,
    now: chrono::NaiveDateTime,
) -> Result<Option<chrono::NaiveDateTime>, EditError> {
    Store::new(paths.clone()).update(|set| {
        // Judged without an earlier Show anyway, which would hide the quiet it lifted.
        let mut settings = set.notifications.clone();
        settings.show_anyway_until = None;
        let ssenotify_router::QuietNow::QuietHours(end) =
            ssenotify_router::QuietNow::of(&settings, now)
        else {
            return Ok(None);
        };
        let end = end.unwrap_or(now + chrono::Duration::hours(1));
        set.notifications.show_anyway_until = Some(end);
        Ok(Some(end))
    })
}

/// Replace the subscription with `spec.id` (the app's edit form); it must exist.
pub fn update(paths: &Paths, spec: SubscriptionSpec) -> Result<(), EditError> {
    let store = Store::new(paths.clone());
    store.update(|set| {
        if set.get(&spec.id).is_none() {
            return Err(EditError::NotFound(spec.id.clone()));
        }
        put(&store, set, spec, false)
    })
}

/// Validate one subscription on its own (so errors name it, not the file), stash its
/// literal secrets, and put it in the set.
fn put(
    store: &Store,
    set: &mut SubscriptionSet,
    mut spec: SubscriptionSpec,
    new: bool,
) -> Result<(), EditError> {
    validate_one(set, &spec, new)?;
    store.stash_secrets(&mut spec)?;
    set.upsert(spec);
    Ok(())
}

/// The checks [`put`] makes, on their own.
fn validate_one(
    set: &SubscriptionSet,
    spec: &SubscriptionSpec,
    new: bool,
) -> Result<(), EditError> {
    let probe = SubscriptionSet {
        notifications: set.notifications.clone(),
        subscriptions: vec![spec.clone()],
        ..Default::default()
    };
    let what = if new {
        "<new subscription>"
    } else {
        "<edited subscription>"
    };
    probe.validate(Path::new(what), LiteralSecrets::Allow)?;
    Ok(())
}

/// Check `spec` as adding it (`new`) or saving it over the one with its id would, without
/// writing anything: the app's form, as the user types. A new spec without an id gets
/// one when it is added, so its id is not checked.
pub fn check(paths: &Paths, mut spec: SubscriptionSpec, new: bool) -> Result<(), EditError> {
    // A file broken by hand is not this form's problem: check against an empty set then.
    let set = Store::new(paths.clone()).load().unwrap_or_default();
    if new && spec.id.is_empty() {
        spec.id = "new".to_owned();
    } else if new && set.get(&spec.id).is_some() {
        return Err(EditError::Exists(spec.id));
    }
    validate_one(&set, &spec, new)
}

/// Remove a subscription (its history goes when the daemon applies the change).
pub fn remove(paths: &Paths, id: &str) -> Result<(), EditError> {
    edit_one(paths, id, |set, id| {
        set.remove(id);
    })
}

/// Pause or resume a subscription.
pub fn set_paused(paths: &Paths, id: &str, paused: bool) -> Result<(), EditError> {
    edit_one(paths, id, |set, id| {
        if let Some(spec) = set.get_mut(id) {
            spec.paused = paused;
        }
    })
}

/// Pause or resume every subscription (the tray's Pause all / Resume all).
pub fn set_all_paused(paths: &Paths, paused: bool) -> Result<(), EditError> {
    Store::new(paths.clone()).update(|set| {
        for spec in &mut set.subscriptions {
            spec.paused = paused;
        }
        Ok::<_, EditError>(())
    })
}

/// Mute a subscription's popups until `until` (`None` unmutes); events are still recorded.
pub fn mute(
    paths: &Paths,
    id: &str,
    until: Option<DateTime<FixedOffset>>,
) -> Result<(), EditError> {
    edit_one(paths, id, |set, id| {
        if let Some(spec) = set.get_mut(id) {
            spec.mute_until = until;
        }
    })
}

/// Mute a subscription's popups for `minutes` from now; 0 unmutes (the app's mute menu).
pub fn mute_for(paths: &Paths, id: &str, minutes: u32) -> Result<(), EditError> {
    let until = (minutes > 0).then(|| {
        (chrono::Local::now() + chrono::Duration::minutes(i64::from(minutes))).fixed_offset()
    });
    mute(paths, id, until)
}

fn edit_one(
    paths: &Paths,
    id: &str,
    change: impl FnOnce(&mut SubscriptionSet, &str),
) -> Result<(), EditError> {
    Store::new(paths.clone()).update(|set| {
        if set.get(id).is_none() {
            return Err(EditError::NotFound(id.to_owned()));
        }
        change(set, id);
        Ok(())
    })
}

/// Where imported subscriptions come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportSource {
    /// ssenotify's own schema, in this format (`None`: by file extension, else sniffed).
    Native(Option<Format>),
    /// An ntfy `client.yml`.
    Ntfy,
}

/// How an import applies its input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Also remove the subscriptions that are not in the input.
    pub replace: bool,
    /// Only tell what would change; write nothing at all (secret files included).
    pub dry_run: bool,
    /// Allow what the input would newly run or read ([`ImportOutcome::trust`]); without
    /// it such an import is refused with [`EditError::Untrusted`] (a dry run only lists it).
    pub trust: bool,
}

/// What an import did (or, dry, would do).
#[derive(Debug, Clone)]
pub struct ImportOutcome {
    /// Added / changed / removed / unchanged, by id.
    pub diff: Diff,
    /// What the input held that could not be carried over.
    pub warnings: Vec<String>,
    /// What the import lets run or read that the file did not allow before: programs of
    /// command rules, references outside ssenotify's secrets directory (see `trust.rs`).
    pub trust: Vec<TrustItem>,
}

/// Merge (or with `replace`, replace) the subscriptions in `text`; `name` names the input
/// in errors. Idempotent: importing the same input twice changes nothing the second time.
/// An input that would newly run programs or read files and variables is refused, with
/// nothing written, unless `options.trust`.
pub fn import(
    paths: &Paths,
    text: &str,
    name: &Path,
    source: ImportSource,
    options: ImportOptions,
) -> Result<ImportOutcome, EditError> {
    let (mut incoming, warnings) = match source {
        ImportSource::Ntfy => {
            let import = crate::from_ntfy_client_yml(text, name)?;
            (import.set, import.warnings)
        }
        ImportSource::Native(format) => {
            let format = format.or_else(|| Format::from_path(name)).unwrap_or(
                if text.trim_start().starts_with('{') {
                    Format::Json
                } else {
                    Format::Toml
                },
            );
            (
                SubscriptionSet::parse(text, format, name, LiteralSecrets::Allow)?,
                Vec::new(),
            )
        }
    };
    let store = Store::new(paths.clone());
    let (diff, trust) = store.update(|current| {
        // Secrets first, planned (nothing is written before the import is allowed): the
        // incoming spec then holds the same `file:` reference the current one does, so an
        // unchanged subscription compares equal.
        let mut planned = incoming.clone();
        let mut stashed = Vec::new();
        for spec in &mut planned.subscriptions {
            stashed.push((spec.id.clone(), store.plan_secrets(spec)?));
        }
        let mut diff = crate::diff(current, &planned, options.replace);
        // A rotated secret keeps its `file:` reference: count it as the change it is.
        for (id, secrets) in &stashed {
            diff.note_stashed_secrets(current, id, secrets);
        }
        let trust = new_trust(paths, &diff);
        if options.dry_run {
            return Ok((diff, trust));
        }
        if !trust.is_empty() && !options.trust {
            return Err(EditError::Untrusted(trust));
        }
        // Now for real: the same references as planned, and the files written.
        for spec in &mut incoming.subscriptions {
            store.stash_secrets(spec)?;
        }
        diff.apply(current);
        Ok::<_, EditError>((diff, trust))
    })?;
    Ok(ImportOutcome {
        diff,
        warnings,
        trust,
    })
}

/// Every subscription, in `format`, secrets as references. TOML starts with the
/// `#:schema` line a new file gets, so an export saved as a file reads in an editor like one.
pub fn export(paths: &Paths, format: Format) -> Result<String, EditError> {
    let text = Store::new(paths.clone()).load()?.render(format);
    Ok(match (format, crate::schema_for_new_file(paths)) {
        (Format::Toml, Some(schema)) => format!("{}{text}", crate::schema::directive(&schema)),
        _ => text,
    })
}

/// Exports to the file `path` (the app's "Save to file…"): replaced atomically and readable
/// by its owner alone, since it names where secrets are.
pub fn export_to(paths: &Paths, format: Format, path: &Path) -> Result<(), EditError> {
    let text = export(paths, format)?;
    Store::new(paths.clone()).write_atomic(path, text.as_bytes(), 0o600)?;
    Ok(())
}

/// An id for `url` that is not taken yet: host and path, sanitised.
fn derive_id(url: &str, set: &SubscriptionSet) -> String {
    let parts: Vec<String> = ssenotify_sse::http_url(url)
        .ok()
        .map(|url| {
            let host = url.host_str().unwrap_or("").to_owned();
            std::iter::once(host)
                .chain(url.path_segments().into_iter().flatten().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let joined = parts
        .iter()
        .filter(|part| !matches!(part.as_str(), "" | "sse" | "events" | "stream" | "json"))
        .cloned()
        .collect::<Vec<_>>()
        .join("-");
    let sanitised: String = joined
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let mut base: String = sanitised
        .trim_matches(|c| c == '-' || c == '.')
        .chars()
        .take(56)
        .collect();
    if base.is_empty() {
        base = "subscription".into();
    }
    let taken = |id: &str| {
        set.subscriptions
            .iter()
            .any(|s| s.id.eq_ignore_ascii_case(id))
    };
    let mut id = base.clone();
    let mut n = 2;
    while taken(&id) {
        id = format!("{base}-{n}");
        n += 1;
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths() -> (tempfile::TempDir, Paths) {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::at(dir.path());
        (dir, paths)
    }

    #[test]
    fn export_to_a_file_replaces_it_whole_readable_by_its_owner_alone() {
        use std::os::unix::fs::PermissionsExt;
        let (dir, paths) = paths();
        add(
            &paths,
            NewSubscription {
                url: "https://ci.example/sse".into(),
                ..Default::default()
            },
        )
        .unwrap();
        let out = dir.path().join("export.json");
        std::fs::write(
            &out,
            "an older, longer file that must not leave a tail behind",
        )
        .unwrap();
        export_to(&paths, Format::Json, &out).unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        assert_eq!(text, export(&paths, Format::Json).unwrap());
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            json["subscriptions"][0]["url"], "https://ci.example/sse",
            "{json}"
        );
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let missing = dir.path().join("no/such/dir/x.toml");
        let err = export_to(&paths, Format::Toml, &missing)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no/such/dir"), "{err}");
    }

    #[test]
    fn ids_derive_from_the_url_and_stay_unique() {
        let (_dir, paths) = paths();
        let new = |url: &str| NewSubscription {
            url: url.into(),
            ..Default::default()
        };
        assert_eq!(
            add(&paths, new("https://ntfy.sh/alerts/sse")).unwrap(),
            "ntfy.sh-alerts"
        );
        assert_eq!(
            add(&paths, new("https://ntfy.sh/alerts/sse")).unwrap(),
            "ntfy.sh-alerts-2"
        );
        assert_eq!(
            add(&paths, new("http://127.0.0.1:8080/")).unwrap(),
            "127.0.0.1"
        );
        let err = add(&paths, new("ftp://x/")).unwrap_err().to_string();
        assert!(
            err.contains("<new subscription>") && err.contains("ftp"),
            "{err}"
        );
    }

    #[test]
    fn literal_secrets_never_reach_the_file() {
        let (_dir, paths) = paths();
        let id = add(
            &paths,
            NewSubscription {
                url: "https://example.com/sse".into(),
                id: Some("ci".into()),
                headers: vec![("Authorization".into(), "Bearer s3cret".into())],
                ..Default::default()
            },
        )
        .unwrap();
        let file = std::fs::read_to_string(paths.subscriptions_file()).unwrap();
        assert!(!file.contains("s3cret"), "{file}");
        assert!(file.contains("file:"), "{file}");
        assert!(!export(&paths, Format::Json).unwrap().contains("s3cret"));
        let set = Store::new(paths.clone()).load().unwrap();
        let settings = set.get(&id).unwrap().to_settings(&paths, "").unwrap();
        assert_eq!(
            settings.headers,
            [("Authorization".to_owned(), "Bearer s3cret".to_owned())]
        );
    }

    #[test]
    fn secret_files_go_when_nothing_refers_to_them() {
        let (_dir, paths) = paths();
        let with_token = |id: &str, token: &str| NewSubscription {
            url: "https://example.com/sse".into(),
            id: Some(id.into()),
            headers: vec![("Authorization".into(), format!("Bearer {token}"))],
            ..Default::default()
        };
        add(&paths, with_token("a", "one")).unwrap();
        add(&paths, with_token("b", "two")).unwrap();
        let dir = paths.secrets_dir();
        let files = || {
            let mut names: Vec<String> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        };
        assert_eq!(
            files(),
            ["a.header-authorization", "b.header-authorization"]
        );
        // A file the user put there and refers to is theirs to keep.
        std::fs::write(dir.join("shared-token"), "t").unwrap();
        let mut spec = Store::new(paths.clone())
            .load()
            .unwrap()
            .get("b")
            .unwrap()
            .clone();
        spec.auth = Some(crate::AuthSpec::Bearer {
            token: Secret::parse("file:secrets/shared-token"),
        });
        spec.headers.clear();
        update(&paths, spec).unwrap();
        assert_eq!(files(), ["a.header-authorization", "shared-token"]);

        remove(&paths, "a").unwrap();
        assert_eq!(files(), ["shared-token"]);
        // A failed edit writes nothing and deletes nothing.
        assert!(remove(&paths, "nope").is_err());
        assert_eq!(files(), ["shared-token"]);
        remove(&paths, "b").unwrap();
        assert!(files().is_empty());
    }

    #[test]
    fn edits_of_a_missing_id_are_refused() {
        let (_dir, paths) = paths();
        for result in [
            remove(&paths, "nope"),
            set_paused(&paths, "nope", true),
            mute(&paths, "nope", None),
        ] {
            assert!(matches!(result, Err(EditError::NotFound(id)) if id == "nope"));
        }
        assert!(!paths.subscriptions_file().exists(), "nothing written");
    }

    #[test]
    fn import_twice_then_dry_run_replace() {
        let (_dir, paths) = paths();
        let text = "[[subscription]]\nid = \"a\"\nurl = \"https://a.example/sse\"\n\n\
                    [[subscription]]\nid = \"b\"\nurl = \"https://b.example/sse\"\n";
        let name = Path::new("in.toml");
        let native = ImportSource::Native(None);
        let merge = ImportOptions::default();
        let first = import(&paths, text, name, native, merge).unwrap();
        assert_eq!(first.diff.added.len(), 2);
        let again = import(&paths, text, name, native, merge).unwrap();
        assert!(again.diff.added.is_empty() && again.diff.changed.is_empty());
        let only_a = "[[subscription]]\nid = \"a\"\nurl = \"https://a.example/sse\"\n";
        let before = std::fs::read(paths.subscriptions_file()).unwrap();
        let dry_replace = ImportOptions {
            replace: true,
            dry_run: true,
            trust: false,
        };
        let dry = import(&paths, only_a, name, native, dry_replace).unwrap();
        assert_eq!(dry.diff.removed.len(), 1);
        assert_eq!(std::fs::read(paths.subscriptions_file()).unwrap(), before);
    }

    #[test]
    fn add_spec_refuses_a_taken_id_and_settings_round_trip() {
        let (_dir, paths) = paths();
        let spec = SubscriptionSpec::new("demo", "http://127.0.0.1:47411/demo");
        assert_eq!(add_spec(&paths, spec.clone()).unwrap(), "demo");
        assert!(matches!(add_spec(&paths, spec), Err(EditError::Exists(_))));
        let mut settings = NotificationSettings::default();
        set_notifications(&paths, settings.clone()).unwrap();
        settings.quiet_hours = Vec::new();
        set_notifications(&paths, settings).unwrap();
        let set = Store::new(paths.clone()).load().unwrap();
        assert_eq!(set.subscriptions.len(), 1);
    }

    #[test]
    fn an_import_that_runs_or_reads_more_is_refused_unless_trusted() {
        let (_dir, paths) = paths();
        add(
            &paths,
            NewSubscription {
                url: "https://mine.example/sse".into(),
                id: Some("mine".into()),
                ..Default::default()
            },
        )
        .unwrap();
        let text = r#"
[[subscription]]
id = "ci"
url = "https://ci.example/sse"
headers = { Authorization = "Bearer literal-is-fine", X-Key = "file:~/.ssh/id_ed25519" }
rules = [{ action = "command", command = ["/bin/sh", "-c", "echo hi"] }]
"#;
        let name = Path::new("shared.toml");
        let native = ImportSource::Native(None);
        let before = std::fs::read(paths.subscriptions_file()).unwrap();
        let refused = import(&paths, text, name, native, ImportOptions::default()).unwrap_err();
        let EditError::Untrusted(items) = &refused else {
            panic!("{refused}")
        };
        assert_eq!(
            items.len(),
            2,
            "the command and the outside file: {items:?}"
        );
        let message = refused.to_string();
        assert!(
            message.contains(r#"rules[0]: runs ["/bin/sh", "-c", "echo hi"]"#),
            "{message}"
        );
        assert!(
            message.contains(r#"headers.X-Key: reads file "~/.ssh/id_ed25519""#),
            "{message}"
        );
        assert!(!message.contains("literal-is-fine"), "{message}");
        assert_eq!(std::fs::read(paths.subscriptions_file()).unwrap(), before);
        assert!(!paths.secrets_dir().exists(), "no secret stashed either");

        let dry = ImportOptions {
            dry_run: true,
            ..Default::default()
        };
        let listed = import(&paths, text, name, native, dry).unwrap();
        assert_eq!(&listed.trust, items);
        assert_eq!(std::fs::read(paths.subscriptions_file()).unwrap(), before);

        let trusted = ImportOptions {
            trust: true,
            ..Default::default()
        };
        let done = import(&paths, text, name, native, trusted).unwrap();
        assert_eq!(done.diff.added.len(), 1);
        assert_eq!(&done.trust, items);
        // The same input again is not new trust.
        let again = import(&paths, text, name, native, ImportOptions::default()).unwrap();
        assert!(again.trust.is_empty() && again.diff.is_empty(), "{again:?}");
        // A hand edit is the user's own: the file may say what an import had to ask for.
        let file = paths.subscriptions_file();
        let edited = std::fs::read_to_string(&file)
            .unwrap()
            .replace("echo hi", "edited by hand");
        std::fs::write(&file, edited).unwrap();
        let set = Store::new(paths.clone()).load().unwrap();
        assert_eq!(set.get("ci").unwrap().rules[0].command[2], "edited by hand");
    }

    #[test]
    fn credentials_in_a_url_are_stashed_like_secret_headers() {
        let (_dir, paths) = paths();
        let id = add(
            &paths,
            NewSubscription {
                url: "https://alice:pw%21@example.com/sse?topic=a&access_token=t0k".into(),
                ..Default::default()
            },
        )
        .unwrap();
        let file = std::fs::read_to_string(paths.subscriptions_file()).unwrap();
        for secret in ["pw", "t0k"] {
            assert!(!file.contains(secret), "{file}");
        }
        assert!(
            file.contains(r#"url = "https://example.com/sse?topic=a""#),
            "{file}"
        );
        assert!(
            file.contains(r#"access_token = "file:secrets/example.com.query-access_token""#),
            "{file}"
        );
        let set = Store::new(paths.clone()).load().unwrap();
        let settings = set.get(&id).unwrap().to_settings(&paths, "").unwrap();
        assert_eq!(
            settings.url,
            "https://example.com/sse?topic=a&access_token=t0k"
        );
        assert_eq!(
            settings.auth,
            Some(ssenotify_sse::Auth::Basic {
                username: "alice".into(),
                password: "pw!".into(),
            })
        );
        // Importing the same URL again is no change: it is stashed to the same files.
        let text = "[[subscription]]\nid = \"example.com\"\n\
                    url = \"https://alice:pw%21@example.com/sse?topic=a&access_token=t0k\"\n";
        let native = ImportSource::Native(None);
        let again = import(
            &paths,
            text,
            Path::new("in.toml"),
            native,
            ImportOptions::default(),
        );
        assert!(again.unwrap().diff.is_empty());
        // The file itself must not hold them; the error masks them.
        let hand =
            "[[subscription]]\nid = \"a\"\nurl = \"https://bob:hunter2@h.example/?key=k3y\"\n";
        let err =
            SubscriptionSet::parse(hand, Format::Toml, Path::new("f"), LiteralSecrets::Reject)
                .unwrap_err()
                .to_string();
        assert!(
            err.contains("holds credentials") && err.contains("\"key\" looks like a secret"),
            "{err}"
        );
        assert!(!err.contains("hunter2") && !err.contains("k3y"), "{err}");
    }
}
