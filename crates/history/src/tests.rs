use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use rusqlite::{Connection, TransactionBehavior};
use tempfile::TempDir;

use super::*;
use crate::db::Db;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

fn temp() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    // A directory that does not exist yet: open must create it.
    let path = dir
        .path()
        .join("data")
        .join("ssenotify")
        .join("history.sqlite3");
    (dir, path)
}

/// An event received "now" (times in the past would be pruned by age on insert).
fn ev(sub: &str, id: Option<&str>, data: &str) -> NewEvent {
    ev_at(sub, id, data, now_ms())
}

fn ev_at(sub: &str, id: Option<&str>, data: &str, received_at: i64) -> NewEvent {
    NewEvent {
        sub_id: sub.into(),
        event_type: "message".into(),
        data: data.to_owned(),
        event_id: id.map(Arc::from),
        last_event_id: id.unwrap_or("").into(),
        received_at,
        action: Action::Pending,
    }
}

fn resume_update(sub: &str, last: &str, cursor: Option<&str>) -> ResumeUpdate {
    ResumeUpdate {
        sub_id: sub.into(),
        last_event_id: last.into(),
        cursor: cursor.map(Arc::from),
    }
}

fn datas(events: &[StoredEvent]) -> Vec<&str> {
    events.iter().map(|e| e.data.as_str()).collect()
}

/// Make the database refuse a row whose data is `boom`, to see what a failure undoes.
fn fail_on_boom(path: &std::path::Path) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER boom BEFORE INSERT ON events WHEN NEW.data = 'boom' \
         BEGIN SELECT RAISE(ABORT, 'boom refused'); END;",
    )
    .unwrap();
}

#[test]
fn open_creates_directory_wal_and_schema() {
    let (_dir, path) = temp();
    let history = Db::open(&path).unwrap();
    assert!(path.exists());
    let conn = &history.read().conn;
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let sync: i64 = conn
        .pragma_query_value(None, "synchronous", |r| r.get(0))
        .unwrap();
    assert_eq!(sync, 1, "synchronous=NORMAL");
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    let vacuum: i64 = conn
        .pragma_query_value(None, "auto_vacuum", |r| r.get(0))
        .unwrap();
    assert_eq!(vacuum, 2, "auto_vacuum=INCREMENTAL");
    drop(history);
    // Reopening an up-to-date file applies nothing and keeps it.
    Db::open(&path).unwrap();
}

/// Retention by count alone: the newest `max_events`, for a month.
fn keeping(max_events: usize) -> Retention {
    Retention {
        max_events,
        max_age: Duration::from_secs(30 * 24 * 60 * 60),
    }
}

/// Writes a history file at `path` as schema `version` left it, with the rows `rows` adds.
fn written_by_version(path: &Path, version: usize, rows: impl FnOnce(&rusqlite::Transaction)) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut conn = Connection::open(path).unwrap();
    let tx = conn.transaction().unwrap();
    for sql in &crate::schema::MIGRATIONS[..version] {
        tx.execute_batch(sql).unwrap();
    }
    tx.pragma_update(None, "user_version", version as i64)
        .unwrap();
    rows(&tx);
    tx.commit().unwrap();
}

/// A history written by version 7 (before fresh rows) keeps every row, readable and
/// deduplicated, once this build has migrated it.
#[test]
fn a_version_7_history_keeps_its_rows_and_their_dedup() {
    let (_dir, path) = temp();
    written_by_version(&path, 7, |tx| {
        for i in 1..=3 {
            tx.execute(
                "INSERT INTO events (sub_id, event_type, data, event_id, last_event_id, \
                 received_at, action) VALUES ('a', 'message', ?1, ?2, ?2, ?3, 'notified')",
                rusqlite::params![format!("old {i}"), i.to_string(), now_ms()],
            )
            .unwrap();
        }
    });
    let mut history = Db::open(&path).unwrap();
    assert_eq!(
        datas(&history.read().page(Some("a"), None, 10).unwrap()),
        ["old 3", "old 2", "old 1"]
    );
    let again = history.record(&[ev("a", Some("2"), "old 2")]).unwrap();
    assert_eq!(
        again[0],
        Recorded::Duplicate {
            row: 2,
            action: Action::Notified
        }
    );
    assert!(history.record(&[ev("a", Some("4"), "new")]).unwrap()[0].is_new());
    assert_eq!(history.read().count(Some("a")).unwrap(), 4);
}

/// A history written by version 8 (the merge flag in the row) keeps every row, merged or
/// still fresh when it stopped, readable, counted and deduplicated once migrated; a copy
/// that slipped past the old dedup goes, the first kept.
#[test]
fn a_version_8_history_keeps_its_merged_and_fresh_rows() {
    let (_dir, path) = temp();
    written_by_version(&path, 8, |tx| {
        let rows = [
            ("a", Some("1"), 0),
            ("b", None, 1),
            ("a", Some("2"), 1),
            ("a", Some("1"), 1),
        ];
        for (sub, id, fresh) in rows {
            tx.execute(
                "INSERT INTO events (sub_id, event_type, data, event_id, last_event_id, \
                 received_at, action, fresh) VALUES (?1, 'message', ?2, ?3, '', ?4, 'notified', ?5)",
                rusqlite::params![sub, format!("{sub} {id:?}"), id, now_ms(), fresh],
            )
            .unwrap();
        }
    });
    let mut history = Db::open(&path).unwrap();
    assert_eq!(
        datas(&history.read().page(Some("a"), None, 10).unwrap()),
        ["a Some(\"2\")", "a Some(\"1\")"]
    );
    assert_eq!(
        datas(&history.read().page(Some("b"), None, 10).unwrap()),
        ["b None"]
    );
    let stats = history.read().stats(Some("a")).unwrap();
    assert_eq!((stats.count, stats.unmerged), (2, 0));
    for (key, row) in [("1", 1), ("2", 3)] {
        assert_eq!(
            history.record(&[ev("a", Some(key), "again")]).unwrap()[0],
            Recorded::Duplicate {
                row,
                action: Action::Notified
            },
            "{key}"
        );
    }
    assert!(history.record(&[ev("a", Some("3"), "new")]).unwrap()[0].is_new());
    assert_eq!(history.read().count(Some("a")).unwrap(), 3);
    assert_eq!(history.read().count(None).unwrap(), 4);
}

#[test]
fn newer_schema_is_refused_with_path_and_versions() {
    let (_dir, path) = temp();
    Db::open(&path).unwrap();
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    for err in [
        Db::open(&path).unwrap_err(),
        HistoryReader::open(&path).unwrap_err(),
    ] {
        assert!(matches!(err, HistoryError::Schema { found, .. } if found == SCHEMA_VERSION + 1));
        let message = err.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("newer"), "{message}");
    }
}

#[test]
fn read_only_open_of_a_missing_file_fails_and_creates_nothing() {
    let (_dir, path) = temp();
    let err = HistoryReader::open(&path).unwrap_err();
    assert!(matches!(
        err,
        HistoryError::Sqlite {
            op: "opening read-only",
            ..
        }
    ));
    assert!(err.to_string().contains("history.sqlite3"), "{err}");
    assert!(!path.exists());
}

#[test]
fn action_names_round_trip() {
    for action in Action::ALL {
        assert_eq!(action.as_str().parse::<Action>(), Ok(action));
        assert_eq!(
            serde_json::to_value(action).unwrap(),
            serde_json::Value::from(action.as_str())
        );
        assert_eq!(action.to_string(), action.as_str());
    }
    assert_eq!(Action::RateLimited.as_str(), "rate_limited");
    assert!("shown".parse::<Action>().is_err());
}

#[test]
fn duplicates_within_a_batch_and_across_batches_add_no_row() {
    let (_dir, path) = temp();
    let mut history = Db::open(&path).unwrap();
    let first = history
        .record(&[
            ev("a", Some("1"), "one"),
            ev("a", Some("2"), "two"),
            ev("a", Some("1"), "again"),
        ])
        .unwrap();
    let row1 = first[0].row();
    assert!(first[0].is_new() && first[1].is_new());
    assert_eq!(
        first[2],
        Recorded::Duplicate {
            row: row1,
            action: Action::Pending
        }
    );

    history.set_action(row1, Action::Notified).unwrap();
    let second = history
        .record(&[ev("a", Some("2"), "two"), ev("a", Some("3"), "three")])
        .unwrap();
    assert_eq!(
        second[0],
        Recorded::Duplicate {
            row: first[1].row(),
            action: Action::Pending
        }
    );
    assert!(second[1].is_new());
    let third = history.record(&[ev("a", Some("1"), "one")]).unwrap();
    assert_eq!(
        third[0],
        Recorded::Duplicate {
            row: row1,
            action: Action::Notified
        }
    );
    assert!(!third[0].needs_routing());

    // The same ID in another subscription is a different event.
    assert!(history.record(&[ev("b", Some("1"), "other")]).unwrap()[0].is_new());
    assert_eq!(history.read().count(Some("a")).unwrap(), 3);
    assert_eq!(history.read().count(None).unwrap(), 4);
    // The first copy is the one kept.
    assert_eq!(
        datas(&history.read().page(Some("a"), None, 10).unwrap()),
        ["three", "two", "one"]
    );
}

#[test]
fn after_reads_what_followed_a_row_oldest_first_of_one_or_all() {
    let (_dir, path) = temp();
    let mut history = Db::open(&path).unwrap();
    let rows: Vec<RowId> = history
        .record(&[
            ev("a", Some("1"), "a1"),
            ev("b", Some("1"), "b1"),
            ev("a", Some("2"), "a2"),
            ev("b", Some("2"), "b2"),
        ])
        .unwrap()
        .into_iter()
        .map(Recorded::row)
        .collect();
    let read = history.read();
    assert_eq!(
        datas(&read.after(None, rows[0], 10).unwrap()),
        ["b1", "a2", "b2"]
    );
    assert_eq!(datas(&read.after(Some("a"), rows[0], 10).unwrap()), ["a2"]);
    assert_eq!(datas(&read.after(None, 0, 2).unwrap()), ["a1", "b1"]);
    assert!(read.after(None, rows[3], 10).unwrap().is_empty());
}

#[test]
fn dedup_survives_a_restart() {
    let (_dir, path) = temp();
    let mut history = Db::open(&path).unwrap();
    let rows = history
        .record(&[ev("a", Some("1"), "one"), ev("a", Some("2"), "two")])
        .unwrap();
    history
        .set_actions(&[
            (rows[0].row(), Action::Notified),
            (rows[1].row(), Action::Quiet),
        ])
        .unwrap();
    drop(history);

    // The server replays after the restart.
    let mut history = Db::open(&path).unwrap();
    let replay = history
        .record(&[
            ev("a", Some("1"), "one"),
            ev("a", Some("2"), "two"),
            ev("a", Some("3"), "three"),
        ])
        .unwrap();
    assert_eq!(
        replay[..2],
        [
            Recorded::Duplicate {
                row: rows[0].row(),
                action: Action::Notified
            },
            Recorded::Duplicate {
                row: rows[1].row(),
                action: Action::Quiet
            },
        ]
    );
    assert!(replay[2].is_new());
    assert!(replay[2].row() > rows[1].row());
    assert_eq!(history.read().count(Some("a")).unwrap(), 3);
}

#[test]
fn a_crash_before_routing_leaves_a_pending_row_that_is_routed_on_replay() {
    let (_dir, path) = temp();
    let mut history = Db::open(&path).unwrap();
    let rows = history.record(&[ev("a", Some("1"), "one")]).unwrap();
    drop(history); // no set_action: the daemon died before the router decided

    let mut history = Db::open(&path).unwrap();
    let replay = history.record(&[ev("a", Some("1"), "one")]).unwrap();
    assert!(!replay[0].is_new());
    assert!(replay[0].needs_routing());
    assert_eq!(replay[0].row(), rows[0].row());
    assert!(
        history
            .set_action(replay[0].row(), Action::Notified)
            .unwrap()
    );
    assert_eq!(
        history.read().page(None, None, 1).unwrap()[0].action,
        Action::Notified
    );
    assert!(
        !history.set_action(9_999, Action::Notified).unwrap(),
        "no such row"
    );
}

#[test]
fn events_without_their_own_id_are_never_deduplicated() {
    let (_dir, path) = temp();
    let mut history = Db::open(&path).unwrap();
    // Same data, same last event ID in force, no `id:` of their own: distinct events.
    let mut inherited = ev("a", None, "tick");
    inherited.last_event_id = "7".into();
    let recorded = history
        .record(&[
            inherited.clone(),
            inherited.clone(),
            ev("a", Some(""), "reset"),
            ev("a", Some(""), "reset"),
        ])
        .unwrap();
    assert!(recorded.iter().all(|r| r.is_new()), "{recorded:?}");
    drop(history);
    let mut history = Db::open(&path).unwrap();
    assert!(history.record(&[inherited]).unwrap()[0].is_new());
    let page = history.read().page(Some("a"), None, 10).unwrap();
    assert_eq!(page.len(), 5);
    assert!(page.iter().all(|e| e.event_id.is_none()));
    assert_eq!(page[4].last_event_id, "7");
}

#[test]
fn retention_by_count_keeps_the_newest_and_applies_as_soon_as_it_is_set() {
    let (_dir, path) = temp();
    let mut history = Db::open(&path).unwrap();
    let few = keeping(5);
    let batch: Vec<_> = (0..20)
        .map(|i| ev("a", Some(&i.to_string()), &i.to_string()))
        .collect();
    history.record(&batch).unwrap();
    history.record(&[ev("b", None, "b")]).unwrap();
    assert_eq!(
        history.read().count(Some("a")).unwrap(),
        20,
        "a subscription without retention keeps everything"
    );

    // A new retention applies at once, without waiting for an event.
    let now = SystemTime::now();
    assert_eq!(history.set_retention("a", few, now).unwrap(), 15);
    assert_eq!(
        datas(&history.read().page(Some("a"), None, 100).unwrap()),
        ["19", "18", "17", "16", "15"]
    );
    assert_eq!(
        history.read().count(Some("b")).unwrap(),
        1,
        "other subscriptions untouched"
    );
    // The same retention again removes nothing.
    assert_eq!(history.set_retention("a", few, now).unwrap(), 0);
    // A pruned ID is outside the dedup window: the server's replay of it is new again.
    assert!(history.record(&[ev("a", Some("0"), "0")]).unwrap()[0].is_new());
    assert!(!history.record(&[ev("a", Some("19"), "19")]).unwrap()[0].is_new());
    history.merge().unwrap();
    assert_eq!(history.read().count(Some("a")).unwrap(), 5);
}

#[test]
fn every_merge_keeps_a_subscription_at_its_max_events_exactly() {
    let (_dir, path) = temp();
    let mut history = Db::open(&path).unwrap();
    let ten = keeping(10);
    history.set_retention("a", ten, SystemTime::now()).unwrap();
    let batch: Vec<_> = (0..30).map(|i| ev("a", None, &i.to_string())).collect();
    history.record(&batch).unwrap();
    // Fresh rows are read like the others until the merge trims them.
    assert_eq!(history.read().count(Some("a")).unwrap(), 30);
    history.merge().unwrap();
    assert_eq!(history.read().count(Some("a")).unwrap(), 10);
    for i in 0..100 {
        history.record(&[ev("a", None, &format!("x{i}"))]).unwrap();
        assert_eq!(history.read().count(Some("a")).unwrap(), 11);
        history.merge().unwrap();
        assert_eq!(history.read().count(Some("a")).unwrap(), 10);
    }
    assert_eq!(
        history.read().page(Some("a"), None, 1).unwrap()[0].data,
        "x99"
    );
    // Duplicates add no row and remove none, whether their first copy is fresh or merged.
    history.record(&[ev("a", Some("d"), "d")]).unwrap();
    for i in 0..20 {
        if i == 10 {
            history.merge().unwrap();
        }
        assert!(!history.record(&[ev("a", Some("d"), "d")]).unwrap()[0].is_new());
    }
    assert_eq!(history.read().count(Some("a")).unwrap(), 10);
    assert_eq!(
        history.read().page(Some("a"), None, 1).unwrap()[0].data,
        "d"
    );
    // A reopened database counts again before it trims, fresh rows left behind included.
    history.record(&[ev("a", Some("e"), "e")]).unwrap();
    drop(history);
    let mut history = Db::open(&path).unwrap();
    assert!(!history.record(&[ev("a", Some("e"), "e")]).unwrap()[0].is_new());
    history.set_retention("a", ten, SystemTime::now()).unwrap();
    assert_eq!(history.read().count(Some("a")).unwrap(), 10);
    history.record(&[ev("a", None, "after")]).unwrap();
    history.merge().unwrap();
    assert_eq!(history.read().count(Some("a")).unwrap(), 10);
    assert_eq!(
        datas(&history.read().page(Some("a"), None, 3).unwrap()),
        ["after", "e", "d"]
    );
}

#[test]
fn rows_removed_by_retention_are_counted_per_subscription_and_kept_across_reopening() {
    let (_dir, path) = temp();
    let mut history = Db::open(&path).unwrap();
    let three = Retention {
        max_events: 3,
        max_age: Duration::from_secs(3 * 24 * 60 * 60),
    };
    let base = now_ms();
    let start = SystemTime::UNIX_EPOCH + Duration::from_millis(base as u64);
    history.set_retention("a", three, start).unwrap();
    let batch: Vec<_> = (0..10)
        .map(|i| ev_at("a", None, &i.to_string(), base))
        .collect();
    history.record(&batch).unwrap();
    history.record(&[ev("b", None, "b")]).unwrap();
    // Before the merge, retention has yet to act on the new rows: said, so a list that
    // must agree with history knows to ask again.
    let before = history.read().stats(Some("a")).unwrap();
    assert_eq!((before.count, before.retired, before.unmerged), (10, 0, 10));
    assert_eq!(history.read().stats(None).unwrap().unmerged, 11);
    history.merge().unwrap();
    let stats = history.read().stats(Some("a")).unwrap();
    assert_eq!((stats.count, stats.retired, stats.unmerged), (3, 7, 0));
    assert_eq!(history.read().stats(None).unwrap().unmerged, 0);
    let oldest = history.read().page(Some("a"), None, 3).unwrap()[2].row;
    assert_eq!(stats.oldest_row, Some(oldest));
    assert_eq!(history.read().stats(Some("b")).unwrap().retired, 0);

    // Dropped events were never meant to be kept: not retired.
    let dropped = history
        .record(&[ev_at("a", None, "dropped", base)])
        .unwrap();
    history.merge().unwrap();
    let retired = history.read().stats(Some("a")).unwrap().retired;
    history.discard(&[dropped[0].row()]).unwrap();
    assert_eq!(history.read().stats(Some("a")).unwrap().retired, retired);

    // Ageing out counts too, and the total survives a reopen.
    let later = SystemTime::UNIX_EPOCH + Duration::from_millis((base + 4 * DAY_MS) as u64);
    history.expire_all(later).unwrap();
    drop(history);
    let mut history = Db::open(&path).unwrap();
    let stats = history.read().stats(Some("a")).unwrap();
    assert_eq!((stats.count, stats.retired), (0, retired + 2));
    assert_eq!(history.read().stats(None).unwrap().retired, retired + 2);

    // Forgetting a subscription forgets its total.
    history.forget("a").unwrap();
    assert_eq!(history.read().stats(Some("a")).unwrap(), Stats::default());
}

#[test]
fn retention_by_age_and_when_the_next_row_is_due() {
    let (_dir, path) = temp();
    let mut history = Db::open(&path).unwrap();
    let three_days = Retention {
        max_events: 1000,
        max_age: Duration::from_secs(3 * 24 * 60 * 60),
    };
    let base = now_ms();
    let start = SystemTime::UNIX_EPOCH + Duration::from_millis(base as u64);
    history.set_retention("a", three_days, start).unwrap();
    history.set_retention("idle", three_days, start).unwrap();
    // Received on ten consecutive days starting now; aged out as of nine days later.
    let batch: Vec<_> = (0..10)
        .map(|day| {
            ev_at(
                "a",
                Some(&day.to_string()),
                &format!("day {day}"),
                base + day * DAY_MS,
            )
        })
        .collect();
    history.record(&batch).unwrap();
    history
        .record(&[
            ev_at("idle", None, "old", base),
            ev_at("idle", None, "new", base + 8 * DAY_MS),
        ])
        .unwrap();
    history
        .record(&[ev_at("default", None, "kept", base)])
        .unwrap();
    assert_eq!(history.read().count(Some("a")).unwrap(), 10);

    // Every subscription with a retention ages out, idle ones included; one with none set
    // is never pruned. The next row due is "day 6" of `a`, three days after it arrived.
    let now = SystemTime::UNIX_EPOCH + Duration::from_millis((base + 9 * DAY_MS) as u64);
    let (removed, next) = history.expire_all(now).unwrap();
    assert_eq!(removed, 6 + 1);
    assert_eq!(next, Some(base + 6 * DAY_MS + 3 * DAY_MS));
    assert_eq!(
        datas(&history.read().page(Some("a"), None, 100).unwrap()),
        ["day 9", "day 8", "day 7", "day 6"]
    );
    assert_eq!(
        datas(&history.read().page(Some("idle"), None, 10).unwrap()),
        ["new"]
    );
    assert_eq!(history.read().count(Some("default")).unwrap(), 1);
    // A lower max_age applies when it is set.
    let one_day = Retention {
        max_age: Duration::from_secs(24 * 60 * 60),
        ..three_days
    };
    assert_eq!(history.set_retention("a", one_day, now).unwrap(), 2);
    assert_eq!(
        datas(&history.read().page(Some("a"), None, 100).unwrap()),
        ["day 9", "day 8"]
    );
}

#[test]
fn resume_points_are_saved_with_their_batch_and_survive_a_restart() {
    let (_dir, path) = temp();
    let mut history = Db::open(&path).unwrap();
    assert_eq!(history.read().resume("a").unwrap(), None);
    history
        .record_with_resume(
            &[ev("a", Some("1"), "one"), ev("a", Some("2"), "two")],
            &[resume_update("a", "2", None)],
        )
        .unwrap();
    history.save_resume("ntfy", "", Some("cursor-9")).unwrap();
    drop(history);

    let history = Db::open(&path).unwrap();
    let a = history.read().resume("a").unwrap().unwrap();
    assert_eq!((a.last_event_id.as_str(), a.cursor), ("2", None));
    assert!(a.updated_at > 0);
    let all = history.read().resume_all().unwrap();
    assert_eq!(
        all.iter().map(|p| p.sub_id.as_str()).collect::<Vec<_>>(),
        ["a", "ntfy"]
    );
    assert_eq!(all[1].cursor.as_deref(), Some("cursor-9"));

    // A batch that fails stores neither its events nor its resume point.
    drop(history);
    fail_on_boom(&path);
    let mut history = Db::open(&path).unwrap();
    let err = history
        .record_with_resume(
            &[ev("a", Some("3"), "three"), ev("a", Some("4"), "boom")],
            &[resume_update("a", "4", Some("c4"))],
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            HistoryError::Sqlite {
                op: "recording events",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("boom refused"), "{err}");
    drop(history);
    let history = Db::open(&path).unwrap();
    assert_eq!(
        history.read().resume("a").unwrap().unwrap().last_event_id,
        "2"
    );
    assert_eq!(
        datas(&history.read().page(Some("a"), None, 10).unwrap()),
        ["two", "one"]
    );
}

#[test]
fn page_is_newest_first_and_pages_by_row() {
    let (_dir, path) = temp();
    let mut history = Db::open(&path).unwrap();
    for i in 0..10 {
        history
            .record(&[
                ev("a", None, &format!("a{i}")),
                ev("b", None, &format!("b{i}")),
            ])
            .unwrap();
    }
    let all = history.read().page(None, None, 4).unwrap();
    assert_eq!(datas(&all), ["b9", "a9", "b8", "a8"]);

    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = history.read().page(Some("a"), before, 3).unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.windows(2).all(|w| w[0].row > w[1].row));
        before = page.last().map(|e| e.row);
        seen.extend(page.into_iter().map(|e| e.data));
    }
    let expected: Vec<_> = (0..10).rev().map(|i| format!("a{i}")).collect();
    assert_eq!(seen, expected);

    // A page does not shift when newer rows arrive meanwhile.
    let first = history.read().page(None, None, 5).unwrap();
    history.record(&[ev("a", None, "late")]).unwrap();
    let second = history.read().page(None, Some(first[4].row), 5).unwrap();
    assert_eq!(datas(&second), ["a7", "b6", "a6", "b5", "a5"]);
    assert!(history.read().page(None, None, 0).unwrap().is_empty());

    let stats = history.read().stats(Some("a")).unwrap();
    assert_eq!(stats.count, 11);
    assert!(stats.last_received_at.is_some());
    assert_eq!(
        history.read().stats(Some("nobody")).unwrap(),
        Stats::default()
    );
    assert_eq!(history.read().stats(None).unwrap().count, 21);
}

#[test]
fn stored_events_serialize_for_the_cli() {
    let (_dir, path) = temp();
    let mut history = Db::open(&path).unwrap();
    let at = now_ms();
    let mut event = ev_at("a", Some("42"), "{\"x\":1}", at);
    event.event_type = "update".into();
    let row = history.record(&[event]).unwrap()[0].row();
    history.set_action(row, Action::RateLimited).unwrap();
    let json = serde_json::to_value(&history.read().page(None, None, 1).unwrap()[0]).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "row": row,
            "subscription": "a",
            "type": "update",
            "data": "{\"x\":1}",
            "id": "42",
            "last_event_id": "42",
            "received_at": at,
            "action": "rate_limited",
            "kind": "event",
        })
    );
}

#[test]
fn a_gap_row_reads_back_with_its_outage_and_counts_for_retention_like_an_event() {
    let (_dir, path) = temp();
    let mut history = Db::open(&path).unwrap();
    let now = SystemTime::now();
    history
        .set_retention(
            "a",
            Retention {
                max_events: 3,
                max_age: Duration::from_secs(3600),
            },
            now,
        )
        .unwrap();
    let outage = Outage {
        start: 1_000,
        end: 61_000,
        cause: "server closed the stream".into(),
        class: GapClass::Unknown,
        why: "reconnected without a resume point".into(),
    };
    let at = unix_ms(now);
    history.record(&[ev_at("a", Some("1"), "one", at)]).unwrap();
    let mut gap = outage.row("a".into(), "1");
    gap.received_at = at;
    let twice = history.record(&[gap.clone(), gap]).unwrap();
    assert!(twice.iter().all(|r| r.is_new()), "no id: never a duplicate");
    history.record(&[ev_at("a", Some("2"), "two", at)]).unwrap();
    history.merge().unwrap();

    let rows = history.read().page(Some("a"), None, 10).unwrap();
    assert_eq!(rows.len(), 3, "retention counts the gap rows: {rows:?}");
    assert_eq!(rows[0].kind, RowKind::Event);
    let read = &rows[1];
    assert_eq!((read.kind, read.action), (RowKind::Gap, Action::Gap));
    assert_eq!(read.event_type, GAP_TYPE);
    assert_eq!(read.class, Some(GapClass::Unknown));
    assert_eq!((read.start, read.end), (Some(1_000), Some(61_000)));
    assert!(read.text().starts_with("possible gap "), "{}", read.text());
    assert!(read.text().ends_with(
        " (reconnected without a resume point); outage began with: server closed the stream"
    ));
    let json = serde_json::to_value(read).unwrap();
    assert_eq!(json["kind"], "gap");
    assert_eq!(json["cause"], "server closed the stream");
    assert_eq!(json["class"], "unknown");
}

#[test]
fn the_writer_waits_for_another_connections_lock_and_goes_on_once_it_is_released() {
    let (_dir, path) = temp();
    let mut writer = Db::open(&path).unwrap();
    // Twice: a second wait on the same thread (its clock starts afresh) works as the first.
    for round in 0..2 {
        let (held, taken) = std::sync::mpsc::channel();
        let holder = {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut raw = Connection::open(&path).unwrap();
                let tx = raw
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .unwrap();
                held.send(()).unwrap();
                // A lock held as long as a slow CLI `forget` might hold it.
                std::thread::sleep(Duration::from_millis(200));
                let releasing = Instant::now();
                tx.commit().unwrap();
                releasing
            })
        };
        taken.recv().unwrap();
        let recorded = writer.record(&[ev("a", Some(&round.to_string()), "waited")]);
        let done = Instant::now();
        let releasing = holder.join().unwrap();
        assert!(recorded.is_ok(), "round {round}: {recorded:?}");
        assert!(
            done >= releasing,
            "round {round}: recorded while the lock was held"
        );
    }
    assert_eq!(
        HistoryReader::open(&path)
            .unwrap()
            .count(Some("a"))
            .unwrap(),
        2
    );
}

#[test]
fn a_reader_is_never_blocked_by_the_writer() {
    let (_dir, path) = temp();
    let mut writer = Db::open(&path).unwrap();
    writer.record(&[ev("a", Some("0"), "committed")]).unwrap();
    let reader = HistoryReader::open(&path).unwrap();

    // A write transaction left open (the daemon mid-batch): the reader still reads, at
    // once, and sees only what was committed.
    let mut raw = Connection::open(&path).unwrap();
    let tx = raw
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .unwrap();
    tx.execute(
        "INSERT INTO events (sub_id, event_type, data, last_event_id, received_at, action) \
         VALUES ('a', 'message', 'uncommitted', '', 0, 'pending')",
        [],
    )
    .unwrap();
    tx.execute(
        "INSERT INTO fresh_rows (id) VALUES (last_insert_rowid())",
        [],
    )
    .unwrap();
    assert_eq!(
        datas(&reader.page(Some("a"), None, 10).unwrap()),
        ["committed"]
    );
    tx.commit().unwrap();
    assert_eq!(reader.count(Some("a")).unwrap(), 2);
    drop(raw);

    // Writing and reading at the same time from two threads: every read succeeds and
    // sees whole batches only.
    let batches = 200;
    let thread = std::thread::spawn(move || {
        for i in 0..batches {
            let batch: Vec<_> = (0..5)
                .map(|j| ev("w", Some(&format!("{i}-{j}")), "x"))
                .collect();
            writer.record(&batch).unwrap();
        }
    });
    let mut last = 0;
    while !thread.is_finished() {
        let count = reader.count(Some("w")).unwrap();
        assert_eq!(count % 5, 0, "a batch is seen whole or not at all");
        assert!(count >= last);
        last = count;
        reader.page(None, None, 20).unwrap();
    }
    thread.join().unwrap();
    assert_eq!(reader.count(Some("w")).unwrap(), 5 * batches);
    // A reader has no write method at all; its connection refuses writes too.
    assert!(
        reader
            .conn
            .execute("DELETE FROM events WHERE sub_id = 'a'", [])
            .is_err()
    );
    assert_eq!(reader.count(Some("a")).unwrap(), 2);
}

#[test]
fn read_only_open_works_after_the_writer_has_closed() {
    let (_dir, path) = temp();
    let mut history = Db::open(&path).unwrap();
    history.record(&[ev("a", None, "one")]).unwrap();
    history.close().unwrap();
    let reader = HistoryReader::open(&path).unwrap();
    assert_eq!(datas(&reader.page(None, None, 10).unwrap()), ["one"]);
}

#[test]
fn a_reader_of_a_file_being_created_waits_for_its_schema() {
    // A deleted history is recreated by the daemon while `history` may be reading: the
    // reader can open the new file before the writer has given it its schema.
    for _ in 0..20 {
        let (_dir, path) = temp();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::File::create(&path).unwrap();
        let reader = {
            let path = path.clone();
            std::thread::spawn(move || HistoryReader::open(&path).map(|r| r.count(None)))
        };
        let _writer = Db::open(&path).unwrap();
        let count = reader
            .join()
            .unwrap()
            .expect("the reader waited for the schema");
        assert_eq!(count.unwrap(), 0);
    }
}

#[test]
fn two_processes_may_open_the_same_new_file_at_once() {
    let (_dir, path) = temp();
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut history = Db::open(&path).unwrap();
                history
                    .record(&[ev("a", Some(&i.to_string()), "x")])
                    .unwrap();
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(Db::open(&path).unwrap().read().count(None).unwrap(), 4);
}

#[test]
fn forget_removes_a_subscription_entirely() {
    let (_dir, path) = temp();
    let mut history = Db::open(&path).unwrap();
    history
        .record_with_resume(
            &[
                ev("gone", Some("1"), "x"),
                ev("gone", Some("2"), "y"),
                ev("kept", Some("1"), "z"),
            ],
            &[
                resume_update("gone", "2", None),
                resume_update("kept", "1", None),
            ],
        )
        .unwrap();
    history.save_resume("old", "9", None).unwrap();
    assert_eq!(history.forget("gone").unwrap(), 2);
    assert_eq!(history.read().count(Some("gone")).unwrap(), 0);
    assert_eq!(history.read().resume("gone").unwrap(), None);
    assert_eq!(history.read().count(Some("kept")).unwrap(), 1);
    // A subscription re-added under the same id starts afresh: its old IDs are new.
    assert!(history.record(&[ev("gone", Some("1"), "x")]).unwrap()[0].is_new());
}

#[test]
fn a_subscription_missing_from_the_file_keeps_its_history_for_the_grace_period() {
    let (_dir, path) = temp();
    let mut history = Db::open(&path).unwrap();
    history
        .record_with_resume(
            &[ev("a", Some("1"), "x"), ev("b", Some("7"), "y")],
            &[resume_update("a", "1", None), resume_update("b", "7", None)],
        )
        .unwrap();
    history.save_resume("resume-only", "9", None).unwrap();
    let week = Duration::from_secs(7 * 24 * 60 * 60);
    let t0 = SystemTime::now();

    // The file lost `b` and `resume-only` (an editor that truncated it, say): nothing goes.
    let report = history.reconcile(&["a"], week, t0).unwrap();
    assert_eq!(report.orphaned, ["b", "resume-only"]);
    assert!(report.forgotten.is_empty());
    assert_eq!(history.read().count(Some("b")).unwrap(), 1);
    // Seen missing again later: still counted from the first time.
    let report = history.reconcile(&["a"], week, t0 + week / 2).unwrap();
    assert!(report.orphaned.is_empty() && report.forgotten.is_empty());

    // `b` is back: its rows and resume point stand, and it is no orphan any more.
    let report = history.reconcile(&["a", "b"], week, t0 + week / 2).unwrap();
    assert_eq!(report.returned, ["b"]);
    assert_eq!(
        history.read().resume("b").unwrap().unwrap().last_event_id,
        "7"
    );
    assert!(!history.record(&[ev("b", Some("7"), "y")]).unwrap()[0].is_new());

    // Past the grace period, the one still missing is forgotten, and only it.
    let later = t0 + week + Duration::from_secs(1);
    let report = history.reconcile(&["a", "b"], week, later).unwrap();
    assert_eq!(report.forgotten, ["resume-only"]);
    assert_eq!(history.read().resume("resume-only").unwrap(), None);
    assert_eq!(history.read().count(None).unwrap(), 2);
}

#[tokio::test]
async fn writer_records_flushes_and_reports() {
    let (_dir, path) = temp();
    let writer = HistoryWriter::spawn(Db::open(&path).unwrap()).unwrap();
    let recorded = writer
        .record(
            vec![ev("a", Some("1"), "one"), ev("a", Some("1"), "one")],
            vec![resume_update("a", "1", None)],
        )
        .await
        .unwrap();
    assert!(recorded[0].is_new());
    assert_eq!(recorded[1].row(), recorded[0].row());
    writer
        .set_actions(vec![(recorded[0].row(), Action::Notified)])
        .await
        .unwrap();
    writer.flush().await.unwrap();

    // After flush another connection sees the decision.
    let reader = HistoryReader::open(&path).unwrap();
    assert_eq!(
        reader.page(None, None, 1).unwrap()[0].action,
        Action::Notified
    );
    assert_eq!(reader.resume("a").unwrap().unwrap().last_event_id, "1");

    // Many subscriptions at once: every event exactly once, whatever the batching.
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let writer = writer.clone();
            tokio::spawn(async move {
                for i in 0..50 {
                    let id = format!("{}", i / 2); // each ID sent twice
                    let sub = format!("s{t}");
                    let r = writer
                        .record(vec![ev(&sub, Some(&id), "x")], vec![])
                        .await
                        .unwrap();
                    assert_eq!(r[0].is_new(), i % 2 == 0);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    writer.flush().await.unwrap();
    assert_eq!(reader.count(None).unwrap(), 1 + 8 * 25);
    assert_eq!(writer.forget(vec!["s0".into()]).await.unwrap(), 25);
    writer.set_retention("s1", keeping(5)).await.unwrap();
    // Nothing is old: expiring removes nothing, and says when the oldest row is due.
    assert!(writer.expire().await.unwrap().is_some());
    assert_eq!(reader.count(None).unwrap(), 1 + 6 * 25 + 5);
    writer.close().await.unwrap();
}

/// Waits until `done` holds, for at most 10 s; false if it never did.
fn eventually(mut done: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// Fresh rows join the indexes on their own, with nothing more asked of the writer: the
/// trim lands (rows keep their ids), a replay of a merged event is still a duplicate, and
/// readers saw every row in between.
#[tokio::test]
async fn the_writer_merges_fresh_rows_by_itself_and_retention_follows() {
    let (_dir, path) = temp();
    let writer = HistoryWriter::spawn(Db::open(&path).unwrap()).unwrap();
    let three = Retention {
        max_events: 3,
        max_age: Duration::from_secs(3600),
    };
    writer.set_retention("a", three).await.unwrap();
    let batch: Vec<_> = (0..10)
        .map(|i| ev("a", Some(&i.to_string()), &i.to_string()))
        .collect();
    let recorded = writer.record(batch, vec![]).await.unwrap();
    let reader = HistoryReader::open(&path).unwrap();
    let fresh = |conn: &Connection| -> i64 {
        conn.query_row("SELECT count(*) FROM fresh_rows", [], |r| r.get(0))
            .unwrap()
    };
    let raw = Connection::open(&path).unwrap();
    assert_eq!(fresh(&raw), 10, "recorded fresh");
    assert_eq!(reader.count(Some("a")).unwrap(), 10, "fresh rows are read");
    assert!(
        eventually(|| reader.count(Some("a")).unwrap() == 3),
        "merged and trimmed without another request"
    );
    assert_eq!(fresh(&raw), 0);
    let kept: Vec<RowId> = reader
        .page(Some("a"), None, 10)
        .unwrap()
        .iter()
        .map(|e| e.row)
        .collect();
    let newest: Vec<RowId> = recorded.iter().rev().take(3).map(|r| r.row()).collect();
    assert_eq!(kept, newest);
    assert_eq!(reader.stats(Some("a")).unwrap().retired, 7);
    let again = writer
        .record(vec![ev("a", Some("9"), "9")], vec![])
        .await
        .unwrap();
    assert_eq!(
        again[0],
        Recorded::Duplicate {
            row: newest[0],
            action: Action::Pending
        }
    );
    // A burst is merged in the commit right after the one that brings it, before the
    // writer takes another request, not at its subscription's moment: it never stands
    // long beyond the limit. (Reading resume points neither merges nor waits for a merge.)
    let burst: Vec<_> = (0..crate::fresh::FRESH_PER_SUB + 44)
        .map(|i| ev("a", None, &format!("burst {i}")))
        .collect();
    writer.record(burst, vec![]).await.unwrap();
    writer.resume_all().await.unwrap();
    assert_eq!(reader.count(Some("a")).unwrap(), 3);
    writer.close().await.unwrap();
}

/// Under a steady load of many subscriptions the rows retention picks go while newer rows
/// are still fresh, not only once the load stops; and once a reader sees nothing unmerged,
/// every subscription is within its limit (no picked row is left for later).
#[tokio::test]
async fn picked_rows_go_under_load_and_none_is_left_once_nothing_is_fresh() {
    let (_dir, path) = temp();
    let writer = HistoryWriter::spawn(Db::open(&path).unwrap()).unwrap();
    let five = Retention {
        max_events: 5,
        max_age: Duration::from_secs(3600),
    };
    let subs: Vec<String> = (0..20).map(|i| format!("s{i}")).collect();
    for sub in &subs {
        writer.set_retention(sub.as_str(), five).await.unwrap();
    }
    let reader = HistoryReader::open(&path).unwrap();
    let start = std::time::Instant::now();
    let mut rounds = 0;
    let mut retired_under_load = 0;
    // A batch every 20 ms for 1.5 s: some rows are always fresh.
    while start.elapsed() < Duration::from_millis(1500) {
        let batch = subs
            .iter()
            .map(|s| ev(s, None, &rounds.to_string()))
            .collect();
        writer.record(batch, vec![]).await.unwrap();
        rounds += 1;
        retired_under_load = reader.stats(None).unwrap().retired;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let recorded = rounds * subs.len() as u64;
    assert!(
        retired_under_load > recorded / 4,
        "retention kept up under load: {retired_under_load} of {recorded} rows removed"
    );
    assert!(eventually(|| reader.stats(None).unwrap().unmerged == 0));
    for sub in &subs {
        assert_eq!(
            reader.count(Some(sub)).unwrap(),
            5,
            "{sub} once nothing is fresh"
        );
    }
    assert_eq!(reader.stats(None).unwrap().retired, recorded - 5 * 20);
    writer.close().await.unwrap();
}

/// Dropped events may take the last fresh rows: then, as after a merge that leaves
/// nothing fresh, no picked row is left for a reader to count once none is unmerged.
#[test]
fn no_picked_row_is_left_once_dropped_events_leave_nothing_fresh() {
    use crate::fresh::FRESH_PER_SUB;
    let (_dir, path) = temp();
    let mut history = Db::open(&path).unwrap();
    let five = keeping(5);
    history.set_retention("a", five, SystemTime::now()).unwrap();
    // A burst makes `a` due at once; `b`'s one row is not due yet and stays fresh.
    let burst: Vec<_> = (0..FRESH_PER_SUB)
        .map(|i| ev("a", None, &i.to_string()))
        .collect();
    history.record(&burst).unwrap();
    let dropped = history.record(&[ev("b", None, "dropped")]).unwrap()[0].row();
    history.merge_due().unwrap();
    assert_eq!(history.read().stats(None).unwrap().unmerged, 1);
    assert_eq!(
        history.read().count(Some("a")).unwrap(),
        FRESH_PER_SUB as u64,
        "picked, not deleted yet"
    );
    assert_eq!(history.discard(&[dropped]).unwrap(), 1);
    assert_eq!(history.read().stats(None).unwrap().unmerged, 0);
    assert_eq!(history.read().count(Some("a")).unwrap(), 5);
    assert_eq!(
        history.read().stats(Some("a")).unwrap().retired,
        FRESH_PER_SUB as u64 - 5
    );
}

/// Picked rows go oldest first across subscriptions, a slice at a time, and each
/// subscription's count and last picked row follow what is left.
#[test]
fn picked_rows_are_taken_in_id_order_a_slice_at_a_time() {
    use crate::doomed::{DELETE_SLICE, Doomed};
    let (a, b): (Arc<str>, Arc<str>) = ("a".into(), "b".into());
    let mut doomed = Doomed::default();
    assert_eq!(doomed.due_in(), None);
    let slice = DELETE_SLICE as RowId;
    // `a`: the odd rows below one slice; `b`: the even rows of two.
    let odd: Vec<RowId> = (0..slice / 2).map(|i| 2 * i + 1).collect();
    let even: Vec<RowId> = (0..slice).map(|i| 2 * i).collect();
    doomed.pick(&a, &odd);
    assert!(
        doomed.due_in().unwrap() > Duration::ZERO,
        "half a slice waits"
    );
    assert_eq!(doomed.of("a"), (odd.len() as u64, slice - 1));
    doomed.pick(&b, &even);
    assert_eq!(doomed.due_in(), Some(Duration::ZERO), "a full slice is due");
    let first: Vec<RowId> = doomed.take(false).iter().map(|(row, _)| *row).collect();
    assert_eq!(
        first,
        (0..slice).collect::<Vec<_>>(),
        "the oldest slice, in id order"
    );
    assert_eq!(doomed.of("a"), (0, -1), "every row of a went");
    assert_eq!(doomed.of("b"), (slice as u64 / 2, 2 * slice - 2));
    let left = doomed.due_in().unwrap();
    assert!(
        left > Duration::ZERO && left <= crate::doomed::DELETE_AFTER,
        "what is left is due when the first pick is: {left:?}"
    );
    assert_eq!(doomed.take(true).len(), DELETE_SLICE / 2);
    assert!(doomed.is_empty());
    assert_eq!((doomed.of("a"), doomed.due_in()), ((0, -1), None));
}

/// The WAL is copied back into the file while the writer keeps its connection open, long
/// before SQLite's own threshold: the checkpointer does it, not a commit.
#[tokio::test]
async fn committed_pages_reach_the_file_without_a_commit_paying_for_it() {
    let (_dir, path) = temp();
    let writer = HistoryWriter::spawn(Db::open(&path).unwrap()).unwrap();
    let empty = std::fs::metadata(&path).unwrap().len();
    let batch: Vec<_> = (0..2000)
        .map(|i| ev("a", Some(&i.to_string()), &"x".repeat(100)))
        .collect();
    writer.record(batch, vec![]).await.unwrap();
    assert!(
        eventually(|| std::fs::metadata(&path).unwrap().len() > empty + 100_000),
        "the rows were copied into the database file"
    );
    writer.close().await.unwrap();
}

/// The pipeline hands a batch's decisions over with the next batch's events: they are
/// stored first, so a copy in that next batch already finds its earlier row decided (and
/// is not routed again).
#[tokio::test]
async fn record_after_stores_the_earlier_actions_before_the_new_events() {
    let (_dir, path) = temp();
    let writer = HistoryWriter::spawn(Db::open(&path).unwrap()).unwrap();
    let first = writer
        .record(vec![ev("a", Some("1"), "one")], vec![])
        .await
        .unwrap();
    let row = first[0].row();
    let next = writer
        .record_after(
            vec![(row, Action::Notified).into()],
            vec![ev("a", Some("1"), "one"), ev("a", Some("2"), "two")],
            vec![resume_update("a", "2", None)],
        )
        .await
        .unwrap();
    assert_eq!(
        next[0],
        Recorded::Duplicate {
            row,
            action: Action::Notified
        }
    );
    assert!(next[1].is_new());
    writer.close().await.unwrap();
    let reader = HistoryReader::open(&path).unwrap();
    assert_eq!(datas(&reader.page(None, None, 10).unwrap()), ["two", "one"]);
    assert_eq!(reader.resume("a").unwrap().unwrap().last_event_id, "2");
}

#[tokio::test]
async fn close_commits_everything_queued_before_it() {
    let (_dir, path) = temp();
    let writer = HistoryWriter::spawn(Db::open(&path).unwrap()).unwrap();
    let rows: Vec<RowId> = writer
        .record(
            (0..100)
                .map(|i| ev("a", Some(&i.to_string()), "x"))
                .collect(),
            vec![],
        )
        .await
        .unwrap()
        .into_iter()
        .map(Recorded::row)
        .collect();
    // Queued without waiting for a commit, as the router does, then the shutdown.
    for &row in &rows {
        writer
            .set_actions(vec![(row, Action::History)])
            .await
            .unwrap();
    }
    writer
        .save_resume(resume_update("a", "99", Some("c99")))
        .await
        .unwrap();
    // A record still in flight from another task when the shutdown starts.
    let other = writer.clone();
    let in_flight =
        tokio::spawn(async move { other.record(vec![ev("b", Some("1"), "late")], vec![]).await });
    tokio::task::yield_now().await;
    let late = writer.clone();
    writer.close().await.unwrap();

    // Once closed, the writer refuses more, from any clone.
    let err = late
        .record(vec![ev("b", None, "after")], vec![])
        .await
        .unwrap_err();
    assert!(matches!(err, HistoryError::Closed { .. }), "{err}");
    assert!(matches!(
        late.flush().await,
        Err(HistoryError::Closed { .. })
    ));
    let in_flight = in_flight.await.unwrap();

    // The file is closed (WAL checkpointed) and holds everything queued before close.
    let history = HistoryReader::open(&path).unwrap();
    let a = history.page(Some("a"), None, 1000).unwrap();
    assert_eq!(a.len(), 100);
    assert!(a.iter().all(|e| e.action == Action::History));
    let resume = history.resume("a").unwrap().unwrap();
    assert_eq!(
        (resume.last_event_id.as_str(), resume.cursor.as_deref()),
        ("99", Some("c99"))
    );
    // The in-flight record either made it in before close, or was refused: never lost
    // silently.
    match in_flight {
        Ok(r) => {
            assert!(r[0].is_new());
            assert_eq!(history.count(Some("b")).unwrap(), 1);
        }
        Err(e) => {
            assert!(matches!(e, HistoryError::Closed { .. }));
            assert_eq!(history.count(Some("b")).unwrap(), 0);
        }
    }
}

#[tokio::test]
async fn writer_failures_are_isolated_and_reported() {
    let (_dir, path) = temp();
    Db::open(&path).unwrap();
    fail_on_boom(&path);
    let writer = HistoryWriter::spawn(Db::open(&path).unwrap()).unwrap();
    let err = writer
        .record(
            vec![ev("a", Some("1"), "ok"), ev("a", Some("2"), "boom")],
            vec![resume_update("a", "2", None)],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            HistoryError::Sqlite {
                op: "recording events",
                ..
            }
        ),
        "{err}"
    );
    // The writer goes on; the failed request left nothing behind.
    let ok = writer
        .record(vec![ev("a", Some("1"), "ok")], vec![])
        .await
        .unwrap();
    assert!(ok[0].is_new());

    // A failed request without a reply is reported by the next flush, once.
    Connection::open(&path)
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER no_error BEFORE UPDATE ON events WHEN NEW.action = 'error' \
             BEGIN SELECT RAISE(ABORT, 'no errors here'); END;",
        )
        .unwrap();
    writer
        .set_actions(vec![(ok[0].row(), Action::Error)])
        .await
        .unwrap();
    let err = writer.flush().await.unwrap_err();
    assert!(
        matches!(
            err,
            HistoryError::Sqlite {
                op: "storing actions",
                ..
            }
        ),
        "{err}"
    );
    writer.flush().await.unwrap();
    writer.close().await.unwrap();

    let history = HistoryReader::open(&path).unwrap();
    assert_eq!(datas(&history.page(None, None, 10).unwrap()), ["ok"]);
    assert_eq!(
        history.page(None, None, 1).unwrap()[0].action,
        Action::Pending
    );
    assert_eq!(history.resume("a").unwrap(), None);
}

#[test]
fn a_failed_notification_is_an_error_whichever_write_comes_first() {
    let (_dir, path) = temp();
    let mut history = Db::open(&path).unwrap();
    let rows: Vec<RowId> = history
        .record(&[
            ev("a", Some("1"), "one"),
            ev("a", Some("2"), "two"),
            ev("a", Some("3"), "three"),
        ])
        .unwrap()
        .into_iter()
        .map(Recorded::row)
        .collect();
    // The router's decision first, then the notifier's failure.
    history.set_action(rows[0], Action::Notified).unwrap();
    assert!(history.notify_failed(rows[0]).unwrap());
    // The failure first (the notifier can be faster than the router's batch write).
    assert!(history.notify_failed(rows[1]).unwrap());
    assert!(!history.set_action(rows[1], Action::Notified).unwrap());
    // Another decision is not the notifier's to change.
    history.set_action(rows[2], Action::Quiet).unwrap();
    assert!(!history.notify_failed(rows[2]).unwrap());
    let actions: Vec<String> = history
        .read()
        .page(Some("a"), None, 10)
        .unwrap()
        .into_iter()
        .rev()
        .map(|e| e.action.to_string())
        .collect();
    assert_eq!(actions, ["error", "error", "quiet"]);
}

/// Decisions are stored a run at a time where rows follow each other and are decided
/// alike; what each row says is the same as one at a time.
#[test]
fn runs_of_like_decisions_are_stored_as_one_each_row_as_decided() {
    let (_dir, path) = temp();
    let mut history = Db::open(&path).unwrap();
    let batch: Vec<_> = (0..8).map(|i| ev("a", None, &i.to_string())).collect();
    let rows: Vec<RowId> = history
        .record(&batch)
        .unwrap()
        .into_iter()
        .map(Recorded::row)
        .collect();
    // The notifier's failure came first for row 2, inside a run.
    assert!(history.notify_failed(rows[2]).unwrap());
    let shown = Shown {
        title: "t".into(),
        body: "b".into(),
        urgency: "normal".into(),
    };
    let decided = |i: usize, action| Decided::from((rows[i], action));
    let actions = vec![
        decided(0, Action::History),
        decided(1, Action::History),
        decided(2, Action::History),
        decided(3, Action::History),
        decided(4, Action::History),
        // Row 5 is left undecided: a run does not reach over it.
        decided(6, Action::History),
        Decided {
            rule: Some(1),
            shown: Some(shown.clone()),
            ..decided(7, Action::History)
        },
    ];
    history.set_decisions(&actions).unwrap();
    let stored = history.read().page(Some("a"), None, 10).unwrap();
    let stored: Vec<(String, Option<u32>)> = stored
        .into_iter()
        .rev()
        .map(|e| (e.action.to_string(), e.rule))
        .collect();
    let want = [
        ("history", None),
        ("history", None),
        ("error", None),
        ("history", None),
        ("history", None),
        ("pending", None),
        ("history", None),
        ("history", Some(1)),
    ];
    let want: Vec<(String, Option<u32>)> = want.iter().map(|(a, r)| (a.to_string(), *r)).collect();
    assert_eq!(stored, want);
}

#[tokio::test]
async fn a_deleted_history_file_is_recreated_with_its_resume_points() {
    let (_dir, path) = temp();
    let writer = HistoryWriter::open(&path).unwrap();
    writer
        .record(
            vec![ev("a", Some("1"), "before")],
            vec![resume_update("a", "1", None)],
        )
        .await
        .unwrap();
    writer.flush().await.unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let file = format!("{}{suffix}", path.display());
        let _ = std::fs::remove_file(file);
    }
    assert!(!path.exists());

    // The next write notices, recreates the file and goes there.
    writer
        .record(
            vec![ev("b", Some("9"), "after")],
            vec![resume_update("b", "9", None)],
        )
        .await
        .unwrap();
    writer.flush().await.unwrap();
    let reader = HistoryReader::open(&path).unwrap();
    assert_eq!(datas(&reader.page(None, None, 10).unwrap()), ["after"]);
    let resumes: Vec<(String, String)> = reader
        .resume_all()
        .unwrap()
        .into_iter()
        .map(|p| (p.sub_id, p.last_event_id))
        .collect();
    assert_eq!(
        resumes,
        [("a".into(), "1".into()), ("b".into(), "9".into())],
        "the resume points of the deleted file are kept"
    );
    writer.close().await.unwrap();
}

#[tokio::test]
async fn unread_counts_follow_read_marks_and_attention_and_survive_a_reopen() {
    let (_dir, path) = temp();
    let writer = HistoryWriter::spawn(Db::open(&path).unwrap()).unwrap();
    let events = (0..6).map(|i| ev(if i < 4 { "a" } else { "b" }, None, "x"));
    let rows: Vec<RowId> = writer
        .record(events.collect(), vec![])
        .await
        .unwrap()
        .iter()
        .map(|r| r.row())
        .collect();
    let actions = [
        Action::Notified,
        Action::History,
        Action::Quiet,
        Action::RateLimited,
        Action::Error,
        Action::Dropped,
    ];
    writer
        .set_actions(rows.iter().copied().zip(actions).collect())
        .await
        .unwrap();
    writer.flush().await.unwrap();
    let reader = HistoryReader::open(&path).unwrap();
    let last = reader.last_row().unwrap();
    assert_eq!(last, rows[5]);
    let unread = |upto| {
        let mut counts = reader.unread(upto).unwrap();
        counts.sort();
        counts
    };
    // A `history` row and a dropped one never ask for attention.
    assert_eq!(unread(last), [("a".to_owned(), 3), ("b".to_owned(), 1)]);
    // Rows after `upto` are left to whoever counts them live.
    assert_eq!(unread(rows[2]), [("a".to_owned(), 2)]);

    writer
        .mark_read(vec![("a".into(), Some(rows[2])), ("b".into(), None)])
        .await
        .unwrap();
    assert_eq!(unread(last), [("a".to_owned(), 1)]);
    assert_eq!(reader.read_mark("b").unwrap(), Some(rows[5]));
    // A mark never moves back.
    writer
        .mark_read(vec![("a".into(), Some(rows[0]))])
        .await
        .unwrap();
    assert_eq!(reader.read_mark("a").unwrap(), Some(rows[2]));
    writer.close().await.unwrap();

    let reopened = HistoryReader::open(&path).unwrap();
    assert_eq!(reopened.unread(last).unwrap(), [("a".to_owned(), 1)]);
    let writer = HistoryWriter::spawn(Db::open(&path).unwrap()).unwrap();
    writer.forget(vec!["a".into()]).await.unwrap();
    writer.flush().await.unwrap();
    assert_eq!(
        reopened.read_mark("a").unwrap(),
        None,
        "forget drops the mark"
    );
}

#[tokio::test]
async fn a_buttons_result_is_kept_in_its_row_and_read_back() {
    let (_dir, path) = temp();
    let writer = HistoryWriter::spawn(Db::open(&path).unwrap()).unwrap();
    let recorded = writer
        .record(
            vec![ev("a", Some("1"), "one"), ev("a", Some("2"), "two")],
            vec![],
        )
        .await
        .unwrap();
    let row = recorded[0].row();
    writer.button_result_now(row, "Restart: the server answered 503".into());
    writer.button_result_now(row, "Restart: 200 OK".into());
    writer.flush().await.unwrap();
    let rows = HistoryReader::open(&path)
        .unwrap()
        .page(Some("a"), None, 10)
        .unwrap();
    // Newest first: the second event has no result; the first, the last press's.
    assert_eq!(rows[0].button, None);
    assert_eq!(rows[1].button.as_deref(), Some("Restart: 200 OK"));
    let json = serde_json::to_value(&rows[1]).unwrap();
    assert_eq!(json["button"], "Restart: 200 OK");
    assert!(
        serde_json::to_value(&rows[0])
            .unwrap()
            .get("button")
            .is_none()
    );
}

#[tokio::test]
async fn the_rule_and_the_notification_are_kept_with_the_decision_even_after_a_failure() {
    let (_dir, path) = temp();
    let writer = HistoryWriter::spawn(Db::open(&path).unwrap()).unwrap();
    let rows: Vec<RowId> = writer
        .record(
            vec![ev("a", None, "x"), ev("a", None, "y"), ev("a", None, "z")],
            vec![],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.row())
        .collect();
    let shown = Shown {
        title: "CI · deploy".into(),
        body: "api &lt;v2&gt; is out".into(),
        urgency: "critical".into(),
    };
    // The notifier's failure can arrive before the router's decision: it stays an error,
    // and the inspector still learns what was meant to be shown, by which rule.
    writer.notify_failed_now(rows[1]);
    writer
        .set_actions(vec![
            Decided {
                row: rows[0],
                action: Action::Notified,
                rule: Some(2),
                shown: Some(shown.clone()),
            },
            Decided {
                row: rows[1],
                action: Action::Notified,
                rule: None,
                shown: Some(shown.clone()),
            },
            (rows[2], Action::History).into(),
        ])
        .await
        .unwrap();
    writer.flush().await.unwrap();
    let reader = HistoryReader::open(&path).unwrap();
    let page = reader.page(Some("a"), None, 10).unwrap();
    let got: Vec<(Action, Option<u32>, Option<Shown>)> = page
        .into_iter()
        .rev()
        .map(|e| (e.action, e.rule, e.shown))
        .collect();
    assert_eq!(
        got,
        [
            (Action::Notified, Some(2), Some(shown.clone())),
            (Action::Error, None, Some(shown)),
            (Action::History, None, None),
        ]
    );
}
