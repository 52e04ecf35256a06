//! Comparing two sets by id: what an import would do, and what the daemon must restart.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use serde::Serialize;

use super::spec::is_default;
use super::{Field, StashedSecret, SubscriptionSet, SubscriptionSpec};
use ssenotify_router::NotificationSettings;

/// What turns one set into another, by subscription id.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Diff {
    /// Subscriptions only in the incoming set, in its order.
    pub added: Vec<SubscriptionSpec>,
    /// Subscriptions in both that differ, in the current set's order.
    pub changed: Vec<Change>,
    /// Subscriptions to remove (only when replacing), in the current set's order.
    pub removed: Vec<SubscriptionSpec>,
    /// Ids left as they are (equal in both, or when merging only in the current set), in
    /// the current set's order.
    pub unchanged: Vec<String>,
    /// The new file-wide notification settings, when they change.
    pub notifications: Option<NotificationSettings>,
}

/// What a [`Diff`] does, by id (`import --json`, the app's import view).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffSummary {
    /// Ids only in the incoming set.
    pub added: Vec<String>,
    /// Subscriptions in both that differ.
    pub changed: Vec<ChangeSummary>,
    /// Ids removed (only when replacing).
    pub removed: Vec<String>,
    /// Ids left as they are.
    pub unchanged: Vec<String>,
    /// Whether the file-wide notification settings change.
    pub notifications_changed: bool,
}

/// One changed subscription in a [`DiffSummary`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeSummary {
    /// Its id.
    pub id: String,
    /// The keys that change.
    pub fields: Vec<Field>,
    /// Whether the change reconnects it (URL, headers, ...) or only re-routes.
    pub reconnect: bool,
}

/// One subscription present in both sets with different settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The current subscription.
    pub old: SubscriptionSpec,
    /// The incoming one (same id).
    pub new: SubscriptionSpec,
    /// The fields that differ.
    pub fields: Vec<Field>,
}

impl Change {
    /// The subscription's id.
    pub fn id(&self) -> &str {
        &self.new.id
    }

    /// Whether the connection must be restarted (not only the routing updated).
    pub fn needs_reconnect(&self) -> bool {
        self.fields.iter().any(|f| f.needs_reconnect())
    }
}

/// Whether going from `old` to `new` (same id) needs the connection restarted: a change of
/// url, headers, auth, policy, ca_file, enabled, paused or resume. Name, rules, rate limit,
/// mute and history apply to the running connection.
pub fn needs_reconnect(old: &SubscriptionSpec, new: &SubscriptionSpec) -> bool {
    old.changed_fields(new).iter().any(|f| f.needs_reconnect())
}

/// Compare `current` with `incoming` by id.
///
/// Merge (`replace == false`): subscriptions only in `current` are kept, and `incoming`'s
/// notification settings apply only if it sets them (differ from the default). Replace:
/// the result is exactly `incoming`'s content. The daemon applies a reloaded file with
/// `diff(&running, &loaded, true)`.
pub fn diff(current: &SubscriptionSet, incoming: &SubscriptionSet, replace: bool) -> Diff {
    let mut out = Diff::default();
    let incoming_at = incoming.positions();
    let current_at = current.positions();
    for old in &current.subscriptions {
        match incoming_at
            .get(old.id.as_str())
            .map(|&i| &incoming.subscriptions[i])
        {
            Some(new) if new == old => out.unchanged.push(old.id.clone()),
            Some(new) => out.changed.push(Change {
                old: old.clone(),
                new: new.clone(),
                fields: old.changed_fields(new),
            }),
            None if replace => out.removed.push(old.clone()),
            None => out.unchanged.push(old.id.clone()),
        }
    }
    out.added = incoming
        .subscriptions
        .iter()
        .filter(|s| !current_at.contains_key(s.id.as_str()))
        .cloned()
        .collect();
    let takes_notifications = replace || !is_default(&incoming.notifications);
    if takes_notifications && incoming.notifications != current.notifications {
        out.notifications = Some(incoming.notifications.clone());
    }
    out
}

impl Diff {
    /// Whether applying it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.changed.is_empty()
            && self.removed.is_empty()
            && self.notifications.is_none()
    }

    /// Apply to `set` (the `current` it was computed from): changed subscriptions are
    /// replaced in place, removed ones dropped, added ones appended.
    pub fn apply(&self, set: &mut SubscriptionSet) {
        let at: HashMap<String, usize> = set
            .positions()
            .into_iter()
            .map(|(id, i)| (id.to_owned(), i))
            .collect();
        for change in &self.changed {
            match at.get(change.id()) {
                Some(&i) => set.subscriptions[i] = change.new.clone(),
                None => set.subscriptions.push(change.new.clone()),
            }
        }
        let removed: HashSet<&str> = self.removed.iter().map(|s| s.id.as_str()).collect();
        set.subscriptions
            .retain(|s| !removed.contains(s.id.as_str()));
        let present: HashSet<String> = set.subscriptions.iter().map(|s| s.id.clone()).collect();
        for added in &self.added {
            if present.contains(&added.id) {
                set.upsert(added.clone());
            } else {
                set.subscriptions.push(added.clone());
            }
        }
        if let Some(notifications) = &self.notifications {
            set.notifications = notifications.clone();
        }
    }

    /// Count the secrets of subscription `id` that [`Store::stash_secrets`] wrote (or
    /// [`Store::plan_secrets`] would write) with new content as changes of `headers`,
    /// `query` or `auth`. The reference in the file stays the same (`file:secrets/<id>.<field>`), so
    /// the specs compare equal, yet the subscription must reconnect with the new value:
    /// an import that rotates a token is a change, in the dry run too.
    ///
    /// [`Store::stash_secrets`]: super::Store::stash_secrets
    /// [`Store::plan_secrets`]: super::Store::plan_secrets
    pub fn note_stashed_secrets(
        &mut self,
        current: &SubscriptionSet,
        id: &str,
        stashed: &[StashedSecret],
    ) {
        let mut fields: Vec<Field> = Vec::new();
        for secret in stashed.iter().filter(|s| s.changed) {
            let field = match secret.field.split('.').next() {
                Some("auth") => Field::Auth,
                Some("query") => Field::Query,
                _ => Field::Headers,
            };
            if !fields.contains(&field) {
                fields.push(field);
            }
        }
        if fields.is_empty() {
            return;
        }
        if let Some(change) = self.changed.iter_mut().find(|c| c.id() == id) {
            for field in fields {
                if !change.fields.contains(&field) {
                    change.fields.push(field);
                }
            }
        } else if let Some(spec) = current.get(id)
            && self.unchanged.iter().any(|u| u == id)
        {
            self.unchanged.retain(|u| u != id);
            self.changed.push(Change {
                old: spec.clone(),
                new: spec.clone(),
                fields,
            });
            // `changed` keeps the current set's order.
            let at = current.positions();
            self.changed.sort_by_key(|c| at.get(c.id()).copied());
        }
    }

    /// The ids whose connection must be restarted (the daemon's view of `changed`).
    pub fn reconnect_ids(&self) -> impl Iterator<Item = &str> {
        self.changed
            .iter()
            .filter(|c| c.needs_reconnect())
            .map(Change::id)
    }

    /// The ids whose change applies without reconnecting (name, routing, mute, history).
    pub fn routing_only_ids(&self) -> impl Iterator<Item = &str> {
        self.changed
            .iter()
            .filter(|c| !c.needs_reconnect())
            .map(Change::id)
    }

    /// One line per id for `--dry-run`: `+ id`, `~ id (url, rules)`, `- id`, `= id`, and
    /// `~ [notifications]` when the file-wide settings change.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for spec in &self.added {
            let _ = writeln!(out, "+ {}", spec.id);
        }
        for change in &self.changed {
            let fields: Vec<&str> = change.fields.iter().map(|f| f.key()).collect();
            let _ = writeln!(out, "~ {} ({})", change.id(), fields.join(", "));
        }
        for spec in &self.removed {
            let _ = writeln!(out, "- {}", spec.id);
        }
        for id in &self.unchanged {
            let _ = writeln!(out, "= {id}");
        }
        if self.notifications.is_some() {
            out.push_str("~ [notifications]\n");
        }
        out
    }

    /// What the diff does, by id: what `import --json` prints and the app shows.
    pub fn summary(&self) -> DiffSummary {
        let ids = |specs: &[SubscriptionSpec]| -> Vec<String> {
            specs.iter().map(|s| s.id.clone()).collect()
        };
        DiffSummary {
            added: ids(&self.added),
            changed: self
                .changed
                .iter()
                .map(|c| ChangeSummary {
                    id: c.id().to_owned(),
                    fields: c.fields.clone(),
                    reconnect: c.needs_reconnect(),
                })
                .collect(),
            removed: ids(&self.removed),
            unchanged: self.unchanged.clone(),
            notifications_changed: self.notifications.is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn set(specs: &[SubscriptionSpec]) -> SubscriptionSet {
        SubscriptionSet {
            subscriptions: specs.to_vec(),
            ..SubscriptionSet::default()
        }
    }

    fn spec(id: &str) -> SubscriptionSpec {
        SubscriptionSpec::new(id, format!("https://example.com/{id}"))
    }

    #[test]
    fn merge_adds_and_updates_and_keeps_the_rest() {
        let current = set(&[spec("a"), spec("b"), spec("c")]);
        let mut b2 = spec("b");
        b2.url = "https://example.com/moved".into();
        let incoming = set(&[spec("d"), b2.clone(), spec("a")]);
        let d = diff(&current, &incoming, false);
        assert_eq!(d.added, [spec("d")]);
        assert_eq!(d.changed.len(), 1);
        assert_eq!(d.changed[0].fields, [Field::Url]);
        assert!(d.removed.is_empty());
        assert_eq!(d.unchanged, ["a", "c"]);
        assert_eq!(d.render_text(), "+ d\n~ b (url)\n= a\n= c\n");

        let mut applied = current.clone();
        d.apply(&mut applied);
        assert_eq!(applied, set(&[spec("a"), b2, spec("c"), spec("d")]));
        // The same input again changes nothing.
        let again = diff(&applied, &incoming, false);
        assert!(again.is_empty(), "{again:?}");
        assert_eq!(again.unchanged, ["a", "b", "c", "d"]);
    }

    #[test]
    fn replace_removes_what_the_input_lacks() {
        let current = set(&[spec("a"), spec("b"), spec("c")]);
        let incoming = set(&[spec("c"), spec("x")]);
        let d = diff(&current, &incoming, true);
        assert_eq!(d.removed, [spec("a"), spec("b")]);
        assert_eq!(d.render_text(), "+ x\n- a\n- b\n= c\n");
        let mut applied = current.clone();
        d.apply(&mut applied);
        assert_eq!(applied, incoming);
        assert!(diff(&applied, &incoming, true).is_empty());
    }

    #[test]
    fn a_rewritten_secret_file_is_a_change() {
        let current = set(&[spec("a"), spec("b"), spec("c")]);
        let mut d = diff(&current, &current, false);
        let secret = |field: &str, changed| StashedSecret {
            field: field.into(),
            path: "/secrets/x".into(),
            changed,
        };
        d.note_stashed_secrets(&current, "a", &[secret("headers.Authorization", false)]);
        assert!(d.is_empty(), "same content: no change");
        d.note_stashed_secrets(&current, "c", &[secret("auth.token", true)]);
        d.note_stashed_secrets(
            &current,
            "b",
            &[
                secret("headers.X-Api-Key", true),
                secret("auth.password", true),
            ],
        );
        assert_eq!(d.render_text(), "~ b (headers, auth)\n~ c (auth)\n= a\n");
        assert_eq!(d.reconnect_ids().collect::<Vec<_>>(), ["b", "c"]);
    }

    #[test]
    fn reconnect_is_told_apart_from_routing_only() {
        let current = set(&[spec("a"), spec("b"), spec("c")]);
        let mut a = spec("a");
        a.name = Some("Alpha".into());
        let mut b = spec("b");
        b.max_event_size = 1024;
        let mut c = spec("c");
        c.history.max_age = Duration::from_secs(3600);
        let d = diff(&current, &set(&[a.clone(), b.clone(), c]), true);
        assert_eq!(d.reconnect_ids().collect::<Vec<_>>(), ["b"]);
        assert_eq!(d.routing_only_ids().collect::<Vec<_>>(), ["a", "c"]);
        assert!(!needs_reconnect(&spec("a"), &a));
        assert!(needs_reconnect(&spec("b"), &b));
        assert_eq!(
            serde_json::to_value(d.summary()).unwrap()["changed"][1],
            serde_json::json!({"id": "b", "fields": ["max_event_size"], "reconnect": true})
        );
        assert!(!d.summary().notifications_changed);
    }
}
