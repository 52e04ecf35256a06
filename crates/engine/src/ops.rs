//! Operations on a user's subscriptions, shared by the CLI and the tray app.
//!
//! Both faces of ssenotify edit subscriptions the same way: through the subscriptions file
//! under its lock ([`Store::update`]), validating everything before anything is written,
//! and moving literal secrets into 0600 files first. After an edit, the caller makes the
//! running daemon apply it (the CLI over the control socket, the app by calling
//! [`crate::daemon::Daemon::reload`] directly); the daemon's file watch would also notice.

use std::path::Path;

use chrono::{DateTime, FixedOffset};
use serde::Serialize;

use crate::config::{
    self, ConfigError, Diff, Format, LiteralSecrets, Paths, Secret, Store, StoreError,
    SubscriptionSet, SubscriptionSpec,
};
use crate::parse::{Output, Parser};
use crate::router::{Decision, Flags, Millis, Notification, NotificationSettings, Now, Router};
use crate::subscription::Event;

/// Why an operation was refused; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
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
pub fn parse_header(header: &str) -> Result<(String, String), OpError> {
    match header.split_once(':') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_owned(), value.trim().to_owned()))
        }
        _ => Err(OpError::Usage(format!(
            "header {header:?} is not of the form 'Name: value'"
        ))),
    }
}

/// Add a subscription; returns its id.
pub fn add(paths: &Paths, new: NewSubscription) -> Result<String, OpError> {
    let store = Store::new(paths.clone());
    store.update(|set| {
        let id = new.id.clone().unwrap_or_else(|| derive_id(&new.url, set));
        if set.get(&id).is_some() {
            return Err(OpError::Exists(id));
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
pub fn add_spec(paths: &Paths, spec: SubscriptionSpec) -> Result<String, OpError> {
    let store = Store::new(paths.clone());
    store.update(|set| {
        if set.get(&spec.id).is_some() {
            return Err(OpError::Exists(spec.id.clone()));
        }
        let id = spec.id.clone();
        put(&store, set, spec, true)?;
        Ok(id)
    })
}

/// Replace the file-wide notification settings (quiet hours, default rate limit).
pub fn set_notifications(paths: &Paths, settings: NotificationSettings) -> Result<(), OpError> {
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

/// The form field a validation problem is about: `subscription "a": url: bad` → `url`,
/// `subscription "a": headers.X-Token: ...` → `headers`. `None` when it names no field.
pub fn problem_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("subscription ")?;
    // The subscription is named `"id"` (JSON-quoted, so a quote inside is escaped) or `#n`.
    let rest = if let Some(quoted) = rest.strip_prefix('"') {
        let mut escaped = false;
        let end = quoted.char_indices().find_map(|(i, c)| match c {
            _ if escaped => {
                escaped = false;
                None
            }
            '\\' => {
                escaped = true;
                None
            }
            '"' => Some(i),
            _ => None,
        })?;
        &quoted[end + 1..]
    } else {
        rest.trim_start_matches(|c: char| c == '#' || c.is_ascii_digit())
    };
    let path = rest.strip_prefix(": ")?.split(": ").next()?;
    let field = path
        .split(['.', '['])
        .next()
        .filter(|f| !f.is_empty() && f.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))?;
    Some(field)
}

/// Replace the subscription with `spec.id` (the app's edit form); it must exist.
pub fn update(paths: &Paths, spec: SubscriptionSpec) -> Result<(), OpError> {
    let store = Store::new(paths.clone());
    store.update(|set| {
        if set.get(&spec.id).is_none() {
            return Err(OpError::NotFound(spec.id.clone()));
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
) -> Result<(), OpError> {
    let probe = SubscriptionSet {
        notifications: set.notifications.clone(),
        subscriptions: vec![spec.clone()],
    };
    let what = if new {
        "<new subscription>"
    } else {
        "<edited subscription>"
    };
    probe.validate(Path::new(what), LiteralSecrets::Allow)?;
    store.stash_secrets(&mut spec)?;
    set.upsert(spec);
    Ok(())
}

/// Remove a subscription (its history goes when the daemon applies the change).
pub fn remove(paths: &Paths, id: &str) -> Result<(), OpError> {
    edit_one(paths, id, |set, id| {
        set.remove(id);
    })
}

/// Pause or resume a subscription.
pub fn set_paused(paths: &Paths, id: &str, paused: bool) -> Result<(), OpError> {
    edit_one(paths, id, |set, id| {
        if let Some(spec) = set.get_mut(id) {
            spec.paused = paused;
        }
    })
}

/// Pause or resume every subscription (the tray's Pause all / Resume all).
pub fn set_all_paused(paths: &Paths, paused: bool) -> Result<(), OpError> {
    Store::new(paths.clone()).update(|set| {
        for spec in &mut set.subscriptions {
            spec.paused = paused;
        }
        Ok::<_, OpError>(())
    })
}

/// Mute a subscription's popups until `until` (`None` unmutes); events are still recorded.
pub fn mute(paths: &Paths, id: &str, until: Option<DateTime<FixedOffset>>) -> Result<(), OpError> {
    edit_one(paths, id, |set, id| {
        if let Some(spec) = set.get_mut(id) {
            spec.mute_until = until;
        }
    })
}

/// Mute a subscription's popups for `minutes` from now; 0 unmutes (the app's mute menu).
pub fn mute_for(paths: &Paths, id: &str, minutes: u32) -> Result<(), OpError> {
    let until = (minutes > 0).then(|| {
        (chrono::Local::now() + chrono::Duration::minutes(i64::from(minutes))).fixed_offset()
    });
    mute(paths, id, until)
}

fn edit_one(
    paths: &Paths,
    id: &str,
    change: impl FnOnce(&mut SubscriptionSet, &str),
) -> Result<(), OpError> {
    Store::new(paths.clone()).update(|set| {
        if set.get(id).is_none() {
            return Err(OpError::NotFound(id.to_owned()));
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

/// What an import did (or, dry, would do).
#[derive(Debug, Clone)]
pub struct ImportOutcome {
    /// Added / changed / removed / unchanged, by id.
    pub diff: Diff,
    /// What the input held that could not be carried over.
    pub warnings: Vec<String>,
}

/// Merge (or with `replace`, replace) the subscriptions in `text`; `name` names the input
/// in errors. Idempotent: importing the same input twice changes nothing the second time.
/// With `dry_run`, nothing is written at all (secret files included).
pub fn import(
    paths: &Paths,
    text: &str,
    name: &Path,
    source: ImportSource,
    replace: bool,
    dry_run: bool,
) -> Result<ImportOutcome, OpError> {
    let (mut incoming, warnings) = match source {
        ImportSource::Ntfy => {
            let import = config::from_ntfy_client_yml(text, name)?;
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
    let diff = store.update(|current| {
        // Secrets first: the incoming spec then holds the same `file:` reference the
        // current one does, so an unchanged subscription compares equal.
        let mut stashed = Vec::new();
        for spec in &mut incoming.subscriptions {
            let secrets = if dry_run {
                store.plan_secrets(spec)?
            } else {
                store.stash_secrets(spec)?
            };
            stashed.push((spec.id.clone(), secrets));
        }
        let mut diff = config::diff(current, &incoming, replace);
        // A rotated secret keeps its `file:` reference: count it as the change it is.
        for (id, secrets) in &stashed {
            diff.note_stashed_secrets(current, id, secrets);
        }
        if !dry_run {
            diff.apply(current);
        }
        Ok::<_, OpError>(diff)
    })?;
    Ok(ImportOutcome { diff, warnings })
}

/// Every subscription, in `format`, secrets as references.
pub fn export(paths: &Paths, format: Format) -> Result<String, OpError> {
    Ok(Store::new(paths.clone()).load()?.render(format))
}

/// One event of a transcript and what the rules decided for it.
#[derive(Debug, Clone, Serialize)]
pub struct Routed {
    /// The event as the parser dispatched it.
    pub event: Event,
    /// The router's decision.
    pub decision: Decision,
}

/// What a recorded stream would produce under a subscription's rules.
#[derive(Debug, Clone, Serialize)]
pub struct RouteReport {
    /// One entry per dispatched event.
    pub events: Vec<Routed>,
    /// Summaries and digests the storm control would show afterwards.
    pub summaries: Vec<Notification>,
    /// Why the transcript stopped early, if it did (an event over the size limit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

/// Feed a recorded SSE body through `spec`'s rules, as if it arrived live just now
/// (`ssenotify route`, the UI's rule tester). Nothing is shown or stored.
pub fn route_transcript(
    set: &SubscriptionSet,
    spec: &SubscriptionSpec,
    transcript: &[u8],
) -> Result<RouteReport, OpError> {
    let mut router = Router::new(
        spec.display_name(),
        &spec.rules,
        spec.rate_limit.as_ref(),
        &set.notifications,
    )
    .map_err(|e| OpError::Usage(e.to_string()))?;
    let mut parser = Parser::new(spec.max_event_size);
    let mut events = Vec::new();
    let stopped = parser
        .feed(transcript, |output| {
            if let Output::Event(event) = output {
                events.push(Event {
                    event_type: event.event_type.into(),
                    data: event.data.to_owned(),
                    last_event_id: event.last_event_id.into(),
                    id: event.has_id.then(|| event.last_event_id.into()),
                    cursor: None,
                });
            }
        })
        .err()
        .map(|e| e.to_string());
    let local = chrono::Local::now().naive_local();
    // All at one instant: a transcript is a burst, which is what storm control is for.
    let now = Now {
        mono: Millis(0),
        local,
    };
    let events = events
        .into_iter()
        .map(|event| {
            let decision = router.route(&event, Flags::default(), now);
            Routed { event, decision }
        })
        .collect();
    let later = Now {
        mono: Millis(u64::MAX / 2),
        local,
    };
    Ok(RouteReport {
        events,
        summaries: router.tick(later),
        stopped,
    })
}

/// An id for `url` that is not taken yet: host and path, sanitised.
fn derive_id(url: &str, set: &SubscriptionSet) -> String {
    let parts: Vec<String> = reqwest::Url::parse(url)
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
        spec.auth = Some(crate::config::AuthSpec::Bearer {
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
            assert!(matches!(result, Err(OpError::NotFound(id)) if id == "nope"));
        }
        assert!(!paths.subscriptions_file().exists(), "nothing written");
    }

    #[test]
    fn import_twice_then_dry_run_replace() {
        let (_dir, paths) = paths();
        let text = "[[subscription]]\nid = \"a\"\nurl = \"https://a.example/sse\"\n\n\
                    [[subscription]]\nid = \"b\"\nurl = \"https://b.example/sse\"\n";
        let name = Path::new("in.toml");
        let first = import(&paths, text, name, ImportSource::Native(None), false, false).unwrap();
        assert_eq!(first.diff.added.len(), 2);
        let again = import(&paths, text, name, ImportSource::Native(None), false, false).unwrap();
        assert!(again.diff.added.is_empty() && again.diff.changed.is_empty());
        let only_a = "[[subscription]]\nid = \"a\"\nurl = \"https://a.example/sse\"\n";
        let before = std::fs::read(paths.subscriptions_file()).unwrap();
        let dry = import(&paths, only_a, name, ImportSource::Native(None), true, true).unwrap();
        assert_eq!(dry.diff.removed.len(), 1);
        assert_eq!(std::fs::read(paths.subscriptions_file()).unwrap(), before);
    }

    #[test]
    fn problems_name_their_form_field() {
        assert_eq!(
            problem_field(r#"subscription "a": url: URL "x": no scheme"#),
            Some("url")
        );
        assert_eq!(
            problem_field(r#"subscription "a\": b": headers.X-Token: bad"#),
            Some("headers")
        );
        assert_eq!(
            problem_field("subscription #2: id: must not be empty"),
            Some("id")
        );
        assert_eq!(
            problem_field(r#"subscription "a": rules[0].title: bad template"#),
            Some("rules")
        );
        assert_eq!(problem_field("quiet_hours: bad"), None);
        // A real error from `add`.
        let (_dir, paths) = paths();
        let err = add(
            &paths,
            NewSubscription {
                url: "ftp://x/".into(),
                id: Some("a".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
        let OpError::Invalid(config) = err else {
            panic!("{err:?}")
        };
        assert_eq!(problem_field(&config.problems[0].message), Some("url"));
    }

    #[test]
    fn add_spec_refuses_a_taken_id_and_settings_round_trip() {
        let (_dir, paths) = paths();
        let spec = crate::demo::demo_subscription(crate::demo::DEMO_PORT);
        assert_eq!(add_spec(&paths, spec.clone()).unwrap(), "demo");
        assert!(matches!(add_spec(&paths, spec), Err(OpError::Exists(_))));
        let mut settings = NotificationSettings::default();
        set_notifications(&paths, settings.clone()).unwrap();
        settings.quiet_hours = Vec::new();
        set_notifications(&paths, settings).unwrap();
        let set = Store::new(paths.clone()).load().unwrap();
        assert_eq!(set.subscriptions.len(), 1);
    }

    #[test]
    fn transcripts_route_through_the_rules() {
        let set = SubscriptionSet::parse(
            "[[subscription]]\nid = \"ci\"\nurl = \"https://ci.example/sse\"\n\
             [[subscription.rules]]\nevent = \"build\"\ntitle = \"{{ json.name }}\"\n",
            Format::Toml,
            Path::new("t.toml"),
            LiteralSecrets::Reject,
        )
        .unwrap();
        let spec = set.get("ci").unwrap();
        let report = route_transcript(
            &set,
            spec,
            b"event: build\ndata: {\"name\":\"<b>\"}\n\ndata: plain\n\n",
        )
        .unwrap();
        assert_eq!(report.events.len(), 2);
        match &report.events[0].decision.action {
            crate::router::Action::Notify(n) => assert_eq!(n.title, "<b>"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            report.events[1].decision.action,
            crate::router::Action::History
        );
    }
}
