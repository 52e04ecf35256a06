//! Rewriting the subscriptions file in place, so that a change keeps what the user wrote.
//!
//! People keep the file in their dotfiles, with comments, blank lines and their own key
//! order; ssenotify changes it too (pause, add, import, the app). Instead of serializing
//! the new set from scratch, [`rewrite`] edits the existing document towards it with
//! `toml_edit`: only the keys whose meaning changed are touched, removed subscriptions go,
//! new ones are appended. The new set serialized canonically ([`SubscriptionSet::to_toml`])
//! supplies the text of every changed or new value: nothing here formats a value itself.
//!
//! A changed nested value (an inline table, `[subscription.auth]`, the `rules`) is replaced
//! as a whole: comments inside it are lost, those around it are kept.
//!
//! The merged text must read back as exactly the new set; otherwise (or when the file
//! cannot be edited this way) the canonical text is written, as before. A bug here can
//! lose comments, never a setting.

use std::path::Path;

use toml_edit::{ArrayOfTables, DocumentMut, Item, Table};

use crate::file::TOML_HEADER;
use crate::{Format, LiteralSecrets, SubscriptionSet};
use ssenotify_router::NotificationSettings;

/// What older ssenotify wrote at the top of the file; it says comments are lost, which is
/// no longer true, so a rewrite puts the current header in its place.
const LEGACY_HEADER: &str = "# ssenotify subscriptions: see docs/subscriptions.md.\n\
     # ssenotify rewrites this file when it changes it (comments are not kept).\n";

/// The text to write for `next`: `old` (the file's text, which reads as `current`) edited
/// towards it, or `next` serialized canonically when there is no file to keep or the edit
/// cannot be trusted.
pub(super) fn rewrite(
    old: Option<&str>,
    current: &SubscriptionSet,
    next: &SubscriptionSet,
) -> String {
    let fresh = next.to_toml();
    // An empty file has nothing to keep, and deserves the header of a new one.
    let Some(old) = old.filter(|text| !text.trim().is_empty()) else {
        return fresh;
    };
    match merge(old, current, next, &fresh) {
        Ok(text) => text,
        Err(why) => {
            tracing::debug!("subscriptions file written whole, comments not kept: {why}");
            fresh
        }
    }
}

/// `old` edited towards `next`, checked to read back as `next`; `Err` says why not.
fn merge(
    old: &str,
    current: &SubscriptionSet,
    next: &SubscriptionSet,
    fresh: &str,
) -> Result<String, String> {
    let mut doc: DocumentMut = old
        .parse()
        .map_err(|e| format!("toml_edit cannot read the file: {e}"))?;
    let fresh: DocumentMut = fresh
        .parse()
        .map_err(|e| format!("toml_edit cannot read the canonical text: {e}"))?;
    merge_notifications(&mut doc, &fresh, current, next);
    merge_subscriptions(&mut doc, &fresh, current, next)?;
    let mut text = doc.to_string();
    if let Some(rest) = text.strip_prefix(LEGACY_HEADER) {
        text = format!("{}\n{rest}", TOML_HEADER.trim_end_matches('\n'));
    }
    let back = SubscriptionSet::parse(
        &text,
        Format::Toml,
        Path::new("<merged>"),
        LiteralSecrets::Reject,
    )
    .map_err(|e| format!("the merged text does not read back: {e}"))?;
    if back != *next {
        return Err("the merged text reads back as a different set".into());
    }
    Ok(text)
}

/// `[notifications]`, key by key.
fn merge_notifications(
    doc: &mut DocumentMut,
    fresh: &DocumentMut,
    current: &SubscriptionSet,
    next: &SubscriptionSet,
) {
    if current.notifications == next.notifications {
        return;
    }
    let fresh = fresh.get("notifications");
    let first_table = first_position(doc.as_table());
    let root = doc.as_table_mut();
    match (root.get_mut("notifications"), fresh) {
        (Some(Item::Table(old)), Some(Item::Table(fresh))) if !old.is_dotted() => {
            let mut keys: Vec<String> = old.iter().map(|(key, _)| key.to_owned()).collect();
            for (key, _) in fresh.iter() {
                if !old.contains_key(key) {
                    keys.push(key.to_owned());
                }
            }
            for key in keys {
                let new = fresh.get(&key);
                if !same_settings(&key, old.get(&key), new) {
                    set_key(old, &key, new);
                }
            }
        }
        (None, Some(Item::Table(fresh))) => {
            // Above the subscriptions, where a new file has it (a table placed after the
            // others would otherwise be written last).
            let mut table = fresh.clone();
            unplace_table(&mut table);
            table.set_position(first_table.map(|p| p - 1));
            // With no keys above the tables, the file's header comment is in the first
            // table's prefix: it stays on top, above the new table.
            if root.get_values().is_empty()
                && let Some(first) = first_table.and_then(|p| table_at(root, p))
            {
                let prefix = prefix_of(first);
                let (header, rest) = split_detached(&prefix).unwrap_or(("", &prefix));
                first
                    .decor_mut()
                    .set_prefix(format!("\n{}", skip_blank_lines(rest)));
                if let Some(top) = first_header(&mut table) {
                    let top_prefix = if header.is_empty() {
                        String::new()
                    } else {
                        format!("{header}\n")
                    };
                    top.decor_mut().set_prefix(top_prefix);
                }
            }
            root.insert("notifications", Item::Table(table));
        }
        // Removed, or written in a form not worth merging into (inline, dotted): whole.
        (_, new) => set_key(root, "notifications", new),
    }
}

/// Whether `a` and `b`, as the value of `[notifications]` key `key` (absent: `None`),
/// mean the same settings: `"90s"` and `"1m 30s"`, an explicit default and no key are alike.
fn same_settings(key: &str, a: Option<&Item>, b: Option<&Item>) -> bool {
    let read = |item: Option<&Item>| {
        let mut doc = DocumentMut::new();
        if let Some(item) = item {
            let mut item = item.clone();
            unplace(&mut item);
            doc.insert(key, item);
        }
        toml::from_str::<NotificationSettings>(&doc.to_string()).ok()
    };
    matches!((read(a), read(b)), (Some(a), Some(b)) if a == b)
}

/// `[[subscription]]`: matched by id; a matched entry changes only its changed keys.
fn merge_subscriptions(
    doc: &mut DocumentMut,
    fresh: &DocumentMut,
    current: &SubscriptionSet,
    next: &SubscriptionSet,
) -> Result<(), String> {
    // Ids looked up by position: one edit of a 10,000-subscription file stays linear.
    let next_at = next.positions();
    let current_at = current.positions();
    // Kept entries stay where they are and new ones go last: a set in another order
    // (file order is the order people see) cannot be reached by editing.
    let kept = current
        .subscriptions
        .iter()
        .filter(|s| next_at.contains_key(s.id.as_str()))
        .chain(
            next.subscriptions
                .iter()
                .filter(|s| !current_at.contains_key(s.id.as_str())),
        )
        .map(|s| &s.id);
    if !kept.eq(next.subscriptions.iter().map(|s| &s.id)) {
        return Err("the order of the subscriptions changed".into());
    }
    let fresh_entry = |index: usize| {
        fresh
            .get("subscription")
            .and_then(|item| item.as_array_of_tables())
            .and_then(|tables| tables.get(index))
            .ok_or_else(|| format!("the canonical text has no subscription #{index}"))
    };
    let mut trailing = doc.trailing().as_str().unwrap_or_default().to_owned();

    if !current.subscriptions.is_empty() {
        let Some(tables) = entries(doc) else {
            return Err("the subscriptions are not [[subscription]] tables".into());
        };
        if tables.len() != current.subscriptions.len() {
            return Err("toml_edit and toml see different subscriptions".into());
        }
        // Back to front, so that comments a removed entry passes on reach an entry that stays.
        for (index, spec) in current.subscriptions.iter().enumerate().rev() {
            if next_at.contains_key(spec.id.as_str()) {
                continue;
            }
            let removed = tables.remove(index);
            let Some(kept) = removed.decor().prefix().and_then(detached) else {
                continue;
            };
            match tables.get_mut(index) {
                Some(following) => {
                    let prefix = prefix_of(following);
                    let prefix = format!("{kept}\n{}", skip_blank_lines(&prefix));
                    following.decor_mut().set_prefix(prefix);
                }
                None if trailing.trim().is_empty() => trailing = kept.to_owned(),
                None => trailing = format!("{kept}\n{}", skip_blank_lines(&trailing)),
            }
        }
        let staying = current
            .subscriptions
            .iter()
            .filter(|s| next_at.contains_key(s.id.as_str()));
        for (table, old) in tables.iter_mut().zip(staying) {
            let index = *next_at
                .get(old.id.as_str())
                .ok_or("a kept subscription is not in the new set")?;
            let fresh = fresh_entry(index)?;
            for field in old.changed_fields(&next.subscriptions[index]) {
                set_key(table, field.key(), fresh.get(field.key()));
            }
        }
        if tables.is_empty() {
            // Re-added below at the end, so that new entries are written last.
            doc.remove("subscription");
        }
    }

    let added: Vec<usize> = (0..next.subscriptions.len())
        .filter(|&i| !current_at.contains_key(next.subscriptions[i].id.as_str()))
        .collect();
    if !added.is_empty() {
        // Comments at the end of the file stay at the end of what was there (they may
        // belong to the last entry), unless some table is written after the entries.
        let entries = doc.get("subscription").and_then(Item::as_array_of_tables);
        let ends_file = entries.is_none_or(|tables| {
            let last_entry = tables.iter().last().and_then(last_position);
            last_entry.is_none() || last_entry == last_position(doc.as_table())
        });
        let tables = doc
            .entry("subscription")
            .or_insert(Item::ArrayOfTables(ArrayOfTables::new()))
            .as_array_of_tables_mut()
            .ok_or("the subscriptions are not [[subscription]] tables")?;
        for (n, index) in added.into_iter().enumerate() {
            let mut table = fresh_entry(index)?.clone();
            unplace_table(&mut table);
            if n == 0 && ends_file && !trailing.trim().is_empty() {
                let prefix = format!("{}\n{}", trailing.trim_end(), prefix_of(&table));
                table.decor_mut().set_prefix(prefix);
                trailing.clear();
            }
            tables.push(table);
        }
    }
    doc.set_trailing(trailing);
    Ok(())
}

/// The `[[subscription]]` tables of `doc`, if that is how they are written.
fn entries(doc: &mut DocumentMut) -> Option<&mut ArrayOfTables> {
    doc.get_mut("subscription")?.as_array_of_tables_mut()
}

/// Set `table[key]` to the canonical `fresh` item (`None`: remove the key), keeping the
/// comments around the key and the style it was written in (inline or a `[table]`).
fn set_key(table: &mut Table, key: &str, fresh: Option<&Item>) {
    let Some(fresh) = fresh else {
        table.remove(key);
        return;
    };
    let mut new = fresh.clone();
    unplace(&mut new);
    match table.get_mut(key) {
        Some(old) if !old.is_none() => {
            let old_item = std::mem::take(old);
            *old = restyle(old_item, new);
        }
        _ => {
            if let Some(value) = new.as_value_mut() {
                value.decor_mut().clear();
            }
            table.insert(key, new);
        }
    }
}

/// `new` in the form of `old`, with `old`'s surrounding comments and place in the file.
///
/// Comments inside `old` are lost: the value changed, and which of its comments still
/// apply is anyone's guess.
fn restyle(old: Item, new: Item) -> Item {
    match old {
        Item::Value(old) => match new.into_value() {
            Ok(mut value) => {
                // The decor holds the spaces around the value and a `# comment` after it.
                *value.decor_mut() = old.decor().clone();
                Item::Value(value)
            }
            Err(new) => new,
        },
        // `a.b = 1` keys: written back as `a = { b = 1 }`, one line where there were several.
        Item::Table(old) if old.is_dotted() => new.into_value().map_or_else(|new| new, Item::Value),
        Item::Table(old) => match new.into_table() {
            Ok(mut table) => {
                *table.decor_mut() = old.decor().clone();
                table.set_position(old.position());
                Item::Table(table)
            }
            Err(new) => new,
        },
        Item::ArrayOfTables(old) => match new.into_array_of_tables() {
            Ok(mut tables) => {
                if let (Some(old), Some(first)) = (old.get(0), tables.get_mut(0)) {
                    *first.decor_mut() = old.decor().clone();
                    first.set_position(old.position());
                }
                Item::ArrayOfTables(tables)
            }
            Err(new) => new,
        },
        Item::None => new,
    }
}

/// Forget the positions `item`'s tables had in the canonical text: unplaced tables are
/// written after the table before them, which is where they now belong.
fn unplace(item: &mut Item) {
    match item {
        Item::Table(table) => unplace_table(table),
        Item::ArrayOfTables(tables) => tables.iter_mut().for_each(unplace_table),
        Item::None | Item::Value(_) => {}
    }
}

fn unplace_table(table: &mut Table) {
    table.set_position(None);
    for (_, item) in table.iter_mut() {
        unplace(item);
    }
}

/// The lowest position of a table under `table` (not itself): the first written.
fn first_position(table: &Table) -> Option<isize> {
    positions(table).min()
}

/// The highest position of `table` and the tables under it: the last written.
fn last_position(table: &Table) -> Option<isize> {
    table.position().into_iter().chain(positions(table)).max()
}

/// The positions of the tables under `table`.
fn positions(table: &Table) -> Box<dyn Iterator<Item = isize> + '_> {
    Box::new(table.iter().flat_map(|(_, item)| {
        match item {
            Item::Table(t) => Box::new(t.position().into_iter().chain(positions(t))),
            Item::ArrayOfTables(tables) => Box::new(
                tables
                    .iter()
                    .flat_map(|t| t.position().into_iter().chain(positions(t))),
            ) as Box<dyn Iterator<Item = isize>>,
            _ => Box::new(std::iter::empty()),
        }
    }))
}

/// The table at `position` under `table`.
fn table_at(table: &mut Table, position: isize) -> Option<&mut Table> {
    table.iter_mut().find_map(|(_, item)| match item {
        Item::Table(t) => table_or_under(t, position),
        Item::ArrayOfTables(tables) => tables.iter_mut().find_map(|t| table_or_under(t, position)),
        _ => None,
    })
}

fn table_or_under(table: &mut Table, position: isize) -> Option<&mut Table> {
    if table.position() == Some(position) {
        Some(table)
    } else {
        table_at(table, position)
    }
}

/// The first table of `table` (itself included) that is written with a header: an
/// implicit table without keys (`[a]` above `[a.b]`) is not.
fn first_header(table: &mut Table) -> Option<&mut Table> {
    if !table.is_implicit() || !table.get_values().is_empty() {
        return Some(table);
    }
    table.iter_mut().find_map(|(_, item)| match item {
        Item::Table(t) => first_header(t),
        Item::ArrayOfTables(tables) => tables.iter_mut().next().and_then(first_header),
        _ => None,
    })
}

fn prefix_of(table: &Table) -> String {
    table
        .decor()
        .prefix()
        .and_then(|p| p.as_str())
        .unwrap_or_default()
        .to_owned()
}

/// The comments above a removed table that are not about it: what is above the last blank
/// line before its header (the file's header comment, a note on the entry before).
fn detached(prefix: &toml_edit::RawString) -> Option<&str> {
    split_detached(prefix.as_str()?).map(|(above, _)| above)
}

/// A table's prefix split at its last blank line, into the comments above it and what is
/// below it (directly above the header); `None` when nothing above it is a comment.
fn split_detached(prefix: &str) -> Option<(&str, &str)> {
    let mut blank = None;
    let mut start = 0;
    for line in prefix.split_inclusive('\n') {
        if line.ends_with('\n') && line.trim().is_empty() {
            blank = Some((start, start + line.len()));
        }
        start += line.len();
    }
    let (above, below) = blank?;
    prefix[..above]
        .lines()
        .any(|line| line.trim_start().starts_with('#'))
        .then(|| (&prefix[..above], &prefix[below..]))
}

/// `text` without its leading blank lines.
fn skip_blank_lines(text: &str) -> &str {
    let mut rest = text;
    while let Some((line, after)) = rest.split_once('\n') {
        if !line.trim().is_empty() {
            break;
        }
        rest = after;
    }
    rest
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SubscriptionSpec;

    fn read(text: &str) -> SubscriptionSet {
        SubscriptionSet::parse(text, Format::Toml, Path::new("t"), LiteralSecrets::Reject)
            .unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    /// The rewrite of `old` after `change`, checked to read back as the changed set.
    fn change(old: &str, change: impl FnOnce(&mut SubscriptionSet)) -> String {
        let current = read(old);
        let mut next = current.clone();
        change(&mut next);
        let text = rewrite(Some(old), &current, &next);
        assert_eq!(read(&text), next, "{text}");
        text
    }

    #[test]
    fn a_new_or_empty_file_is_the_canonical_text() {
        let mut next = SubscriptionSet::default();
        next.subscriptions
            .push(SubscriptionSpec::new("a", "https://e.com/a"));
        let current = SubscriptionSet::default();
        assert_eq!(rewrite(None, &current, &next), next.to_toml());
        assert_eq!(rewrite(Some(" \n"), &current, &next), next.to_toml());
        assert!(next.to_toml().starts_with(TOML_HEADER));
    }

    #[test]
    fn values_written_differently_but_meaning_the_same_are_kept() {
        let old = "[[subscription]]\nid = 'a'\nurl = 'https://e.com/a'\n\
                   reconnect_time = '3000ms' # three seconds\nmax_event_size = 1_000\n\
                   history = { max_age = '720h' }\nenabled = true\n";
        let text = change(old, |set| set.subscriptions[0].paused = true);
        assert_eq!(text, format!("{old}paused = true\n"));
    }

    #[test]
    fn a_changed_value_keeps_its_comments_and_style() {
        let old = "[[subscription]]\n# where\nurl = 'https://e.com/a' # old one\nid = 'a'\n\
                   auth = { type = 'bearer', token = 'env:A' } # inline\n\
                   # the history\n[subscription.history]\nmax_events = 5 # few\n";
        let text = change(old, |set| {
            let a = &mut set.subscriptions[0];
            a.url = "https://e.com/b".into();
            a.auth = Some(crate::AuthSpec::Bearer {
                token: "env:B".into(),
            });
            a.history.max_events = 6;
        });
        assert_eq!(
            text,
            "[[subscription]]\n# where\nurl = \"https://e.com/b\" # old one\nid = 'a'\n\
             auth = { type = \"bearer\", token = \"env:B\" } # inline\n\
             # the history\n[subscription.history]\nmax_events = 6\n"
        );
    }

    #[test]
    fn dotted_keys_become_an_inline_table_when_they_change() {
        let old = "[[subscription]]\nid = 'a'\nurl = 'https://e.com/a'\n\
                   resume.cursor = '/id' # dotted\nresume.query = 'since'\n";
        let text = change(old, |set| {
            set.subscriptions[0].resume.as_mut().unwrap().query = "after".into();
        });
        assert!(
            text.contains("resume = { cursor = \"/id\", query = \"after\" }"),
            "{text}"
        );
    }

    #[test]
    fn a_removed_first_entry_leaves_the_file_header_in_place() {
        let old = "# my subscriptions\n# (dotfiles)\n\n# A is old\n[[subscription]]\n\
                   id = 'a'\nurl = 'https://e.com/a'\n\n# B\n[[subscription]]\nid = 'b'\n\
                   url = 'https://e.com/b'\n";
        let text = change(old, |set| {
            set.remove("a");
        });
        assert_eq!(
            text,
            "# my subscriptions\n# (dotfiles)\n\n# B\n[[subscription]]\nid = 'b'\n\
             url = 'https://e.com/b'\n"
        );
        // The last one too: the header stays, the entry's own comment goes.
        let text = change(&text, |set| {
            set.remove("b");
        });
        assert_eq!(text, "# my subscriptions\n# (dotfiles)\n");
        // And a new one comes after it.
        let text = change(&text, |set| {
            set.subscriptions
                .push(SubscriptionSpec::new("c", "https://e.com/c"));
        });
        assert_eq!(
            text,
            "# my subscriptions\n# (dotfiles)\n\n[[subscription]]\nid = \"c\"\n\
             url = \"https://e.com/c\"\n"
        );
    }

    #[test]
    fn notifications_merge_key_by_key_and_a_new_table_goes_first() {
        let old = "version = 1\n\n[[subscription]]\nid = 'a'\nurl = 'https://e.com/a'\n";
        let text = change(old, |set| {
            set.notifications.rate_limit.catch_up = Some(3);
        });
        assert_eq!(
            text,
            "version = 1\n\n[notifications.rate_limit]\ncatch_up = 3\n\n\
             [[subscription]]\nid = 'a'\nurl = 'https://e.com/a'\n"
        );
    }

    #[test]
    fn new_notifications_go_below_the_header_comment_of_a_file_without_version() {
        let old = "# mine\n\n# A\n[[subscription]]\nid = 'a'\nurl = 'https://e.com/a'\n";
        let text = change(old, |set| {
            set.notifications.rate_limit.catch_up = Some(3);
        });
        assert_eq!(
            text,
            "# mine\n\n[notifications.rate_limit]\ncatch_up = 3\n\n\
             # A\n[[subscription]]\nid = 'a'\nurl = 'https://e.com/a'\n"
        );
        let old = "[[subscription]]\nid = 'a'\nurl = 'https://e.com/a'\n";
        let text = change(old, |set| {
            set.notifications.rate_limit.catch_up = Some(3);
        });
        assert_eq!(
            text,
            "[notifications.rate_limit]\ncatch_up = 3\n\n[[subscription]]\nid = 'a'\n\
             url = 'https://e.com/a'\n"
        );
    }

    #[test]
    fn the_legacy_header_is_replaced_not_repeated() {
        let old = format!("{LEGACY_HEADER}\nversion = 1\n");
        let text = change(&old, |set| {
            set.subscriptions
                .push(SubscriptionSpec::new("a", "https://e.com/a"));
        });
        assert!(text.starts_with(TOML_HEADER), "{text}");
        assert_eq!(text.matches("ssenotify subscriptions:").count(), 1);
    }

    #[test]
    fn a_reordered_set_falls_back_to_the_canonical_text() {
        let old = "# mine\n[[subscription]]\nid = 'a'\nurl = 'https://e.com/a'\n\
                   [[subscription]]\nid = 'b'\nurl = 'https://e.com/b'\n";
        let text = change(old, |set| set.subscriptions.reverse());
        assert_eq!(text, read(&text).to_toml());
        // Inline arrays of subscriptions are not edited in place either.
        let old = "subscription = [{ id = 'a', url = 'https://e.com/a' }] # inline\n";
        let text = change(old, |set| set.subscriptions[0].paused = true);
        assert!(text.starts_with(TOML_HEADER), "{text}");
    }
}
