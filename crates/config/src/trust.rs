//! What an import would newly let run or read: rules that run a program, secret
//! references to anything outside ssenotify's own secrets directory, and any reference
//! in an `http` button's headers (sent to the button's origin when pressed).
//!
//! A shared subscriptions file is data from someone else. Imported as it is, it could run a
//! program on every event its server sends, or send `file:~/.ssh/id_ed25519` as a header to
//! that server. `edit::import` lists such items as [`TrustItem`]s and the
//! faces refuse them unless the user says they trust them (`import --trust`, the app's
//! confirmation). Only additions and changes count: what the file already allowed, for the
//! same server, is not asked again, so importing the same input twice is quiet. Hand edits
//! of the file are the user's own and are never checked.

use std::fmt;
use std::path::{Component, Path};

use serde::Serialize;
use ssenotify_router::ActionKind;

use super::secrets::secret_refs;
use super::{Diff, Paths, Secret, SubscriptionSpec};

/// One thing an import would let run or read that the file did not allow before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TrustItem {
    /// A rule with `action = "command"`: its program runs on this subscription's events.
    Command {
        /// The subscription's id.
        subscription: String,
        /// The server whose events run it (scheme, host and port of the URL).
        server: String,
        /// The rule's index in `rules` (0-based).
        rule: usize,
        /// The program and its arguments.
        argv: Vec<String>,
    },
    /// A reference read when connecting, whose value goes to the subscription's server.
    Read {
        /// The subscription's id.
        subscription: String,
        /// The server the value is sent to (scheme, host and port of the URL).
        server: String,
        /// The field, as written in the file (`headers.X-Token`, `auth.password`, `query.key`).
        field: String,
        /// The reference as written (`file:~/.ssh/id_ed25519`, `env:AWS_SECRET_ACCESS_KEY`).
        reference: String,
    },
}

impl fmt::Display for TrustItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Command {
                subscription,
                server,
                rule,
                argv,
            } => write!(
                f,
                "subscription {subscription:?}: rules[{rule}]: runs {argv:?} on events from {server}"
            ),
            Self::Read {
                subscription,
                server,
                field,
                reference,
            } => {
                // Quoted and escaped: the text came from someone else's file and may be
                // printed on a terminal.
                let what = match Secret::parse(reference) {
                    Secret::Env(name) => format!("environment variable {name:?}"),
                    Secret::File(path) => format!("file {path:?}"),
                    Secret::Literal(_) => "a value".to_owned(),
                };
                let field = field.escape_debug();
                write!(
                    f,
                    "subscription {subscription:?}: {field}: reads {what} and sends it to {server}"
                )
            }
        }
    }
}

/// What applying `diff` would newly let run or read: the command rules and outside
/// references of added subscriptions, and of changed ones those that are new or now go to
/// another server.
pub(crate) fn new_trust(paths: &Paths, diff: &Diff) -> Vec<TrustItem> {
    let added = diff.added.iter().map(|spec| (spec, None));
    let changed = diff
        .changed
        .iter()
        .map(|change| (&change.new, Some(&change.old)));
    added
        .chain(changed)
        .flat_map(|(new, old)| trust_of(paths, new, old))
        .collect()
}

fn trust_of(
    paths: &Paths,
    new: &SubscriptionSpec,
    old: Option<&SubscriptionSpec>,
) -> Vec<TrustItem> {
    let server = origin(&new.url);
    // What the file allowed is allowed for the server it was allowed for, not another.
    let old = old.filter(|old| origin(&old.url) == server);
    let mut items = Vec::new();
    for (rule, spec) in new.rules.iter().enumerate() {
        let runs = |r: &ssenotify_router::RuleSpec| {
            r.action == ActionKind::Command && r.command == spec.command
        };
        if spec.action == ActionKind::Command && !old.is_some_and(|o| o.rules.iter().any(runs)) {
            items.push(TrustItem::Command {
                subscription: new.id.clone(),
                server: server.clone(),
                rule,
                argv: spec.command.clone(),
            });
        }
    }
    let before: Vec<&Secret> = old
        .map(|o| secret_refs(o).into_iter().map(|(_, s)| s).collect())
        .unwrap_or_default();
    for (field, secret) in secret_refs(new) {
        if reads_outside(paths, secret) && !before.contains(&secret) {
            items.push(TrustItem::Read {
                subscription: new.id.clone(),
                server: server.clone(),
                field,
                reference: secret.as_written(),
            });
        }
    }
    // A button's reference goes to the button's own origin when pressed: every one counts,
    // even one under the secrets dir (another subscription's token sent somewhere new).
    let before = old.map(button_refs).unwrap_or_default();
    for (field, target, secret) in button_refs(new) {
        if !before.iter().any(|(_, t, s)| *t == target && *s == secret) {
            items.push(TrustItem::Read {
                subscription: new.id.clone(),
                server: target,
                field,
                reference: secret.as_written(),
            });
        }
    }
    items
}

/// The references in the headers of `spec`'s `http` buttons: the field as written
/// (`rules[0].buttons[1].http.headers.Authorization`), the origin the value is sent to,
/// and the reference.
fn button_refs(spec: &SubscriptionSpec) -> Vec<(String, String, Secret)> {
    let mut refs = Vec::new();
    for (i, rule) in spec.rules.iter().enumerate() {
        for (j, button) in rule.buttons.iter().enumerate() {
            let Some(http) = &button.http else { continue };
            let target =
                ssenotify_router::literal_origin(&http.url).unwrap_or_else(|| http.url.clone());
            for (name, value) in &http.headers {
                let secret = Secret::parse(value);
                if !secret.is_literal() {
                    let field = format!("rules[{i}].buttons[{j}].http.headers.{name}");
                    refs.push((field, target.clone(), secret));
                }
            }
        }
    }
    refs
}

/// Whether `secret` reads something other than ssenotify's own secrets directory: any
/// environment variable, or a file elsewhere (`..` is never taken to stay inside).
fn reads_outside(paths: &Paths, secret: &Secret) -> bool {
    match secret {
        Secret::Literal(_) => false,
        Secret::Env(_) => true,
        Secret::File(written) => {
            let path = paths.expand(written);
            !is_inside(&path, &paths.secrets_dir())
        }
    }
}

fn is_inside(path: &Path, dir: &Path) -> bool {
    path.starts_with(dir)
        && path
            .components()
            .all(|c| !matches!(c, Component::ParentDir | Component::CurDir))
}

/// `https://host:port` of a URL (the default port left out), or the text when it does not
/// parse.
fn origin(url: &str) -> String {
    ssenotify_sse::http_url(url)
        .map_or_else(|_| url.to_owned(), |url| url.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use ssenotify_router::RuleSpec;

    use super::*;
    use crate::{AuthSpec, SubscriptionSet, diff};

    fn paths() -> Paths {
        Paths::at("/home/u")
    }

    fn command_rule(argv: &[&str]) -> RuleSpec {
        RuleSpec {
            action: ActionKind::Command,
            command: argv.iter().map(|s| s.to_string()).collect(),
            ..RuleSpec::default()
        }
    }

    fn set(specs: &[SubscriptionSpec]) -> SubscriptionSet {
        SubscriptionSet {
            subscriptions: specs.to_vec(),
            ..SubscriptionSet::default()
        }
    }

    fn trust(current: &[SubscriptionSpec], incoming: &[SubscriptionSpec]) -> Vec<String> {
        new_trust(&paths(), &diff(&set(current), &set(incoming), false))
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    /// A subscription that runs a program and reads three references, one of them its own.
    fn risky(url: &str) -> SubscriptionSpec {
        let mut spec = SubscriptionSpec::new("ci", url);
        spec.rules = vec![RuleSpec::default(), command_rule(&["/bin/sh", "-c", "x"])];
        spec.headers
            .insert("X-Key".into(), Secret::parse("file:~/.ssh/id_ed25519"));
        spec.headers.insert(
            "X-Own".into(),
            Secret::parse("file:secrets/ci.header-x-own"),
        );
        spec.query
            .insert("token".into(), Secret::parse("env:AWS_SECRET"));
        spec.auth = Some(AuthSpec::Bearer {
            token: Secret::parse("file:secrets/../../../etc/shadow"),
        });
        spec
    }

    #[test]
    fn a_new_subscription_lists_each_program_and_outside_reference() {
        assert_eq!(
            trust(&[], &[risky("https://evil.example/sse")]),
            [
                r#"subscription "ci": rules[1]: runs ["/bin/sh", "-c", "x"] on events from https://evil.example"#,
                r#"subscription "ci": headers.X-Key: reads file "~/.ssh/id_ed25519" and sends it to https://evil.example"#,
                r#"subscription "ci": query.token: reads environment variable "AWS_SECRET" and sends it to https://evil.example"#,
                r#"subscription "ci": auth.token: reads file "secrets/../../../etc/shadow" and sends it to https://evil.example"#,
            ]
        );
        let item = &new_trust(
            &paths(),
            &diff(&set(&[]), &set(&[risky("https://e.x")]), false),
        )[0];
        assert_eq!(
            serde_json::to_value(item).unwrap(),
            serde_json::json!({"kind": "command", "subscription": "ci", "server": "https://e.x",
                               "rule": 1, "argv": ["/bin/sh", "-c", "x"]})
        );
    }

    #[test]
    fn what_the_file_allowed_for_the_same_server_is_not_asked_again() {
        let current = risky("https://ci.example/sse");
        let mine = std::slice::from_ref(&current);
        assert!(trust(mine, mine).is_empty());
        // Another change (and another path on the same server) asks nothing.
        let mut renamed = current.clone();
        renamed.name = Some("CI".into());
        renamed.url = "https://ci.example/other".into();
        renamed.rules.swap(0, 1);
        assert!(trust(mine, &[renamed]).is_empty());
        // A changed program, a new reference: only those.
        let mut changed = current.clone();
        changed.rules[1] = command_rule(&["/usr/bin/curl", "https://x"]);
        changed
            .headers
            .insert("X-Other".into(), Secret::parse("env:HOME"));
        assert_eq!(
            trust(mine, &[changed]),
            [
                r#"subscription "ci": rules[1]: runs ["/usr/bin/curl", "https://x"] on events from https://ci.example"#,
                r#"subscription "ci": headers.X-Other: reads environment variable "HOME" and sends it to https://ci.example"#,
            ]
        );
        // The same file sent to another server is new trust, every item of it.
        assert_eq!(
            trust(mine, &[risky("https://ci.example:8443/sse")]).len(),
            4
        );
    }

    #[test]
    fn every_reference_in_an_http_buttons_headers_is_named_with_where_it_goes() {
        let button = |url: &str, headers: &[(&str, &str)]| ssenotify_router::ButtonSpec {
            label: "Restart".into(),
            view: None,
            http: Some(ssenotify_router::HttpButtonSpec {
                url: url.into(),
                headers: headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                ..Default::default()
            }),
        };
        let mut spec = SubscriptionSpec::new("ci", "https://ci.example/sse");
        spec.rules = vec![RuleSpec {
            buttons: vec![
                // Even a file of the secrets dir: it may be another subscription's token.
                button(
                    "https://hooks.example:8443/r/{{ id }}",
                    &[
                        ("Authorization", "file:secrets/other.auth-token"),
                        ("Content-Type", "text/plain"),
                    ],
                ),
                button("https://ci.example/ack", &[]),
            ],
            ..RuleSpec::default()
        }];
        let mine = std::slice::from_ref(&spec);
        assert_eq!(
            trust(&[], mine),
            [
                r#"subscription "ci": rules[0].buttons[0].http.headers.Authorization: reads file "secrets/other.auth-token" and sends it to https://hooks.example:8443"#
            ]
        );
        assert!(
            trust(mine, mine).is_empty(),
            "allowed before: not asked again"
        );
        // The same reference sent to another origin is asked again.
        let mut moved = spec.clone();
        moved.rules[0].buttons[0].http.as_mut().unwrap().url = "https://evil.example/r".into();
        assert_eq!(trust(mine, &[moved]).len(), 1);
    }

    #[test]
    fn command_rules_without_the_command_action_and_own_secrets_need_nothing() {
        let mut spec = SubscriptionSpec::new("a", "https://a.example/");
        spec.rules = vec![RuleSpec::default()];
        spec.auth = Some(AuthSpec::Basic {
            username: "u".into(),
            password: Secret::parse("file:/home/u/config/secrets/a.auth-password"),
        });
        spec.headers
            .insert("X-Title".into(), Secret::parse("hello"));
        assert!(trust(&[], &[spec]).is_empty());
    }
}
