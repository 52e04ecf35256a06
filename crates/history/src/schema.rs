//! The database file: its schema and migrations, and how a connection to it is opened
//! (read-write with WAL for the one writer, read-only for everyone else).
//!
//! # Schema (version 9, `PRAGMA user_version`)
//!
//! ```sql
//! CREATE TABLE events (
//!     id            INTEGER PRIMARY KEY AUTOINCREMENT,  -- the row id (RowId)
//!     sub_id        TEXT    NOT NULL,
//!     event_type    TEXT    NOT NULL,
//!     data          TEXT    NOT NULL,
//!     event_id      TEXT,             -- the event's own `id:`; NULL when it had none
//!     last_event_id TEXT    NOT NULL, -- the last event ID in force at dispatch
//!     received_at   INTEGER NOT NULL, -- unix milliseconds
//!     action        TEXT    NOT NULL  -- Action::as_str
//! ) STRICT;
//! CREATE INDEX events_by_sub ON events (sub_id, id);
//! CREATE UNIQUE INDEX events_dedup ON events (sub_id, event_id) WHERE event_id IS NOT NULL;
//! CREATE TABLE resume (
//!     sub_id        TEXT PRIMARY KEY,
//!     last_event_id TEXT    NOT NULL,
//!     cursor        TEXT,
//!     updated_at    INTEGER NOT NULL  -- unix milliseconds
//! ) STRICT, WITHOUT ROWID;
//! -- Version 2: subscriptions missing from the file, kept for a grace period.
//! CREATE TABLE orphans (
//!     sub_id        TEXT PRIMARY KEY,
//!     since         INTEGER NOT NULL  -- unix milliseconds: first seen missing
//! ) STRICT, WITHOUT ROWID;
//! -- Version 3: no index `events_by_age` (sub_id, received_at): each event paid for it
//! -- twice (insert, trim), for queries that are rare.
//! -- Version 4: how many of a subscription's rows retention removed (max_events, max_age),
//! -- so a list can say "N older events removed by retention" instead of jumping.
//! CREATE TABLE retired (
//!     sub_id        TEXT PRIMARY KEY,
//!     rows          INTEGER NOT NULL
//! ) STRICT, WITHOUT ROWID;
//! -- Version 5: what the user has read: a subscription's rows up to `row` are read, so its
//! -- unread count survives restarts (see `unread.rs`).
//! CREATE TABLE read_marks (
//!     sub_id        TEXT PRIMARY KEY,
//!     row           INTEGER NOT NULL
//! ) STRICT, WITHOUT ROWID;
//! -- Version 6: what the event's last pressed `http` button got ("Restart: 200 OK").
//! ALTER TABLE events ADD COLUMN button TEXT;
//! -- Version 7: which rule matched (0-based) and the notification it made (JSON: title,
//! -- body, urgency), for the inspector; NULL for rows routed before, or without them.
//! ALTER TABLE events ADD COLUMN rule INTEGER;
//! ALTER TABLE events ADD COLUMN shown TEXT;
//! -- Version 8: rows go in `fresh` and join the per-subscription indexes in bulk (see
//! -- `fresh.rs`): a commit then writes the table's last pages, not two index pages per
//! -- subscription that had an event. A query that names one subscription reads
//! -- `sub_events`, which finds its rows through both indexes.
//! ALTER TABLE events ADD COLUMN fresh INTEGER NOT NULL DEFAULT 0;
//! CREATE INDEX events_by_sub ON events (sub_id, id) WHERE fresh = 0;
//! CREATE UNIQUE INDEX events_dedup ON events (sub_id, event_id)
//!     WHERE event_id IS NOT NULL AND fresh = 0;
//! CREATE INDEX events_fresh ON events (id) WHERE fresh = 1;
//! CREATE VIEW sub_events AS
//!     SELECT * FROM events WHERE fresh = 0 UNION ALL SELECT * FROM events WHERE fresh = 1;
//! -- Version 9: a merge rewrote each table page holding one of its rows, since the flag
//! -- lived in the row; with busy feeds interleaved, a page per row. A subscription's rows
//! -- are now listed in `sub_rows` (the merged) and `fresh_rows` (the rest), and the table
//! -- is written once a row. `fresh` is left unused (dropping it rewrites the table).
//! CREATE TABLE sub_rows (
//!     sub_id        TEXT    NOT NULL,
//!     id            INTEGER NOT NULL,  -- events.id
//!     event_id      TEXT,              -- events.event_id, for the dedup index
//!     PRIMARY KEY (sub_id, id)
//! ) STRICT, WITHOUT ROWID;
//! CREATE UNIQUE INDEX sub_rows_dedup ON sub_rows (sub_id, event_id) WHERE event_id IS NOT NULL;
//! CREATE TABLE fresh_rows (id INTEGER PRIMARY KEY) STRICT;  -- events.id
//! DROP INDEX events_by_sub; DROP INDEX events_dedup; DROP INDEX events_fresh;
//! CREATE VIEW sub_events AS  -- the columns of `events` but `fresh`
//!     SELECT s.id, s.sub_id, e.event_type, … FROM sub_rows s CROSS JOIN events e ON e.id = s.id
//!     UNION ALL
//!     SELECT f.id, e.sub_id, e.event_type, … FROM fresh_rows f CROSS JOIN events e ON e.id = f.id;
//! -- Whoever deletes a row, its entries go with it.
//! CREATE TRIGGER events_gone AFTER DELETE ON events BEGIN
//!     DELETE FROM sub_rows WHERE sub_id = OLD.sub_id AND id = OLD.id;
//!     DELETE FROM fresh_rows WHERE id = OLD.id;
//! END;
//! ```

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};

use crate::model::{Context, HistoryError};

/// The schema version this build writes and reads (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The query counting the rows of subscription `?1` not yet merged (see `fresh.rs`).
macro_rules! unmerged_of_sub {
    () => {
        "SELECT count(*) FROM fresh_rows f CROSS JOIN events e ON e.id = f.id \
         WHERE e.sub_id = ?1"
    };
}

/// Counts subscription `?1`'s rows not yet merged.
pub(crate) const UNMERGED_OF_SUB: &str = unmerged_of_sub!();

/// Counts subscription `?1`'s rows: from the index entries alone, not each row's page.
pub(crate) const ROWS_OF_SUB: &str = concat!(
    "SELECT (SELECT count(*) FROM sub_rows WHERE sub_id = ?1) + (",
    unmerged_of_sub!(),
    ")"
);

/// How long a statement waits for another connection's lock before failing.
///
/// Generous on purpose: a reader must not fail because the daemon is checkpointing, and
/// a CLI `forget` must wait for the daemon's current batch rather than error.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How often a statement kept waiting by another connection's lock tries again.
///
/// SQLite's own busy handler (`busy_timeout`) sleeps 1, 2, 5, 10, 15 … ms between tries,
/// so the writer held back a few ms by the checkpointer's restart lost 9 ms, now and then
/// 20: at 10,000 events/s, most of the events behind p99. Polling instead: the writer's
/// p99 11.6 → 7.4 ms (`cargo bench -p ssenotify-history --bench writer`); with the
/// checkpointer's second pass before a restart, the daemon's 0.62× (README).
const BUSY_POLL: Duration = Duration::from_micros(100);

/// Makes `conn` wait for other connections' locks as [`BUSY_TIMEOUT`] and [`BUSY_POLL`] say.
pub(crate) fn wait_for_locks(conn: &mut Connection) -> rusqlite::Result<()> {
    thread_local! {
        /// When the current statement of this thread first found a lock taken.
        static SINCE: std::cell::Cell<Option<Instant>> = const { std::cell::Cell::new(None) };
    }
    fn poll(tries: i32) -> bool {
        let now = Instant::now();
        let since = SINCE.with(|since| match since.get() {
            Some(at) if tries > 0 => at,
            _ => {
                since.set(Some(now));
                now
            }
        });
        if now.duration_since(since) >= BUSY_TIMEOUT {
            return false;
        }
        std::thread::sleep(BUSY_POLL);
        true
    }
    conn.busy_handler(Some(poll))
}

/// The WAL file is truncated back to this size after a checkpoint; without a limit a long
/// read (e.g. a slow `history --json | less`) lets it grow and it never shrinks. Above
/// the size the checkpointer lets it reach under a flood (16 MB), whose truncation would
/// stall the writer (`checkpoint.rs`).
const JOURNAL_SIZE_LIMIT: i64 = 32 * 1024 * 1024;

/// Schema migrations; entry `n` takes the database from version `n` to `n + 1`.
pub(crate) const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    sub_id        TEXT    NOT NULL,
    event_type    TEXT    NOT NULL,
    data          TEXT    NOT NULL,
    event_id      TEXT,
    last_event_id TEXT    NOT NULL,
    received_at   INTEGER NOT NULL,
    action        TEXT    NOT NULL
) STRICT;
CREATE INDEX events_by_sub ON events (sub_id, id);
CREATE INDEX events_by_age ON events (sub_id, received_at);
CREATE UNIQUE INDEX events_dedup ON events (sub_id, event_id) WHERE event_id IS NOT NULL;
CREATE TABLE resume (
    sub_id        TEXT PRIMARY KEY,
    last_event_id TEXT    NOT NULL,
    cursor        TEXT,
    updated_at    INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
"#,
    r#"
CREATE TABLE orphans (
    sub_id        TEXT PRIMARY KEY,
    since         INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
"#,
    // Every event paid for a third index, in its insert and again in its trim, for queries
    // that run rarely (ageing out, statistics) and read a subscription's rows through
    // `events_by_sub` just as well.
    r#"
DROP INDEX events_by_age;
"#,
    r#"
CREATE TABLE retired (
    sub_id        TEXT PRIMARY KEY,
    rows          INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
"#,
    r#"
CREATE TABLE read_marks (
    sub_id        TEXT PRIMARY KEY,
    row           INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
"#,
    r#"
ALTER TABLE events ADD COLUMN button TEXT;
"#,
    r#"
ALTER TABLE events ADD COLUMN rule INTEGER;
ALTER TABLE events ADD COLUMN shown TEXT;
"#,
    // Every event paid for two index pages per subscription in each commit (its entry in
    // `events_by_sub` and `events_dedup`, and its trim's); fresh rows wait outside them.
    r#"
ALTER TABLE events ADD COLUMN fresh INTEGER NOT NULL DEFAULT 0;
DROP INDEX events_by_sub;
DROP INDEX events_dedup;
CREATE INDEX events_by_sub ON events (sub_id, id) WHERE fresh = 0;
CREATE UNIQUE INDEX events_dedup ON events (sub_id, event_id)
    WHERE event_id IS NOT NULL AND fresh = 0;
CREATE INDEX events_fresh ON events (id) WHERE fresh = 1;
CREATE VIEW sub_events AS
    SELECT * FROM events WHERE fresh = 0 UNION ALL SELECT * FROM events WHERE fresh = 1;
"#,
    // A merge rewrote every table page holding one of its rows (the flag lives in the
    // row), and with the busy feeds' rows interleaved that was a page per row: most of the
    // WAL under a flood. The per-subscription entries now live in a table of their own.
    // Every row is merged here. The ones fresh under version 8 were deduplicated in memory;
    // should a copy have slipped through, the first is kept rather than the migration
    // failing. Loaded in key order, the dedup index built after: a third of the time of
    // inserting each row into both (4.8 s per million rows in the daemon, 2 cores).
    r#"
CREATE TABLE sub_rows (
    sub_id        TEXT    NOT NULL,
    id            INTEGER NOT NULL,
    event_id      TEXT,
    PRIMARY KEY (sub_id, id)
) STRICT, WITHOUT ROWID;
INSERT INTO sub_rows (sub_id, id, event_id)
    SELECT sub_id, id, event_id FROM events ORDER BY sub_id, id;
DELETE FROM sub_rows WHERE (sub_id, id) IN (
    SELECT sub_id, id FROM (
        SELECT sub_id, id,
               row_number() OVER (PARTITION BY sub_id, event_id ORDER BY id) AS copy
        FROM sub_rows WHERE event_id IS NOT NULL
    ) WHERE copy > 1
);
CREATE UNIQUE INDEX sub_rows_dedup ON sub_rows (sub_id, event_id) WHERE event_id IS NOT NULL;
DELETE FROM events WHERE id NOT IN (SELECT id FROM sub_rows);
CREATE TABLE fresh_rows (
    id            INTEGER PRIMARY KEY
) STRICT;
DROP VIEW sub_events;
DROP INDEX events_by_sub;
DROP INDEX events_dedup;
DROP INDEX events_fresh;
CREATE VIEW sub_events AS
    SELECT s.id AS id, s.sub_id AS sub_id, e.event_type AS event_type, e.data AS data,
           e.event_id AS event_id, e.last_event_id AS last_event_id,
           e.received_at AS received_at, e.action AS action, e.button AS button,
           e.rule AS rule, e.shown AS shown
        FROM sub_rows s CROSS JOIN events e ON e.id = s.id
    UNION ALL
    SELECT f.id, e.sub_id, e.event_type, e.data, e.event_id, e.last_event_id,
           e.received_at, e.action, e.button, e.rule, e.shown
        FROM fresh_rows f CROSS JOIN events e ON e.id = f.id;
CREATE TRIGGER events_gone AFTER DELETE ON events BEGIN
    DELETE FROM sub_rows WHERE sub_id = OLD.sub_id AND id = OLD.id;
    DELETE FROM fresh_rows WHERE id = OLD.id;
END;
"#,
];

/// Switch to WAL (a no-op once the file is in WAL mode); returns the mode in force.
fn enable_wal(conn: &Connection, path: &Path) -> Result<String, HistoryError> {
    // Changing the journal mode needs the file to itself, and SQLite reports BUSY at once
    // instead of calling the busy handler; two processes creating the file at the same
    // time (the daemon and a CLI) hit that, so wait here as the busy timeout would.
    let deadline = Instant::now() + BUSY_TIMEOUT;
    loop {
        match conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0)) {
            Err(e)
                if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy)
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            result => return result.ctx(path, "switching to WAL"),
        }
    }
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), HistoryError> {
    let op = "applying the schema";
    // IMMEDIATE: two processes opening a new file at once must not both create tables.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx(path, op)?;
    let found: i64 = tx
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .ctx(path, op)?;
    if !(0..=SCHEMA_VERSION).contains(&found) {
        return Err(HistoryError::Schema {
            path: path.to_owned(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    // A new file's schema takes no time; an upgrade rewrites indexes, a minute or more for
    // tens of millions of rows, and the log says why the start waits.
    let upgrade = (found > 0 && found < SCHEMA_VERSION).then(Instant::now);
    if upgrade.is_some() {
        tracing::info!(path = %path.display(), from = found, to = SCHEMA_VERSION,
            "upgrading the history file (once)");
    }
    for (version, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.execute_batch(sql).ctx(path, op)?;
        tx.pragma_update(None, "user_version", version as i64 + 1)
            .ctx(path, op)?;
    }
    tx.commit().ctx(path, op)?;
    if let Some(started) = upgrade {
        tracing::info!(path = %path.display(), took = ?started.elapsed(),
            "history file upgraded");
    }
    Ok(())
}

/// Open (creating it, its directory and its schema if needed) the database at `path`.
pub(crate) fn open_read_write(path: &Path) -> Result<Connection, HistoryError> {
    let path = path.to_owned();
    let io = |op| {
        let path = path.clone();
        move |e| HistoryError::Io {
            path,
            op,
            cause: Arc::new(e),
        }
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        private::create_dir(dir).map_err(io("creating its directory"))?;
    }
    private::create_file(&path).map_err(io("creating it with mode 0600"))?;
    let op = "opening";
    let mut conn = Connection::open(&path).ctx(&path, op)?;
    wait_for_locks(&mut conn).ctx(&path, op)?;
    // Only an empty file can take auto_vacuum, so only before the first table; it lets
    // `forget` hand freed pages back to the file system.
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .ctx(&path, op)?;
    if version == 0 {
        conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")
            .ctx(&path, op)?;
    }
    let mode = enable_wal(&conn, &path)?;
    if !mode.eq_ignore_ascii_case("wal") {
        // e.g. a file system without shared memory; history still works, only the
        // reader may now wait for the writer.
        tracing::warn!(path = %path.display(), mode, "history is not in WAL mode");
    }
    // In WAL mode NORMAL loses at most the last commits on power loss, never on a
    // crash of the process, and saves an fsync per batch.
    conn.pragma_update(None, "synchronous", "NORMAL")
        .ctx(&path, op)?;
    conn.pragma_update(None, "journal_size_limit", JOURNAL_SIZE_LIMIT)
        .ctx(&path, op)?;
    // Before temporary storage moves to memory: an upgrade's sorts of a large history
    // spill to temporary files instead of holding it all.
    migrate(&mut conn, &path)?;
    // Every request of a batch runs in a savepoint, whose undo copies of the pages it
    // touches would otherwise go through a temporary file: a write system call per page.
    conn.pragma_update(None, "temp_store", "MEMORY")
        .ctx(&path, op)?;
    // The statements are few and run thousands of times a second: without the planner's
    // stability guarantee SQLite prepares some again whenever a bound value changes.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )
    .ctx(&path, op)?;
    Ok(conn)
}

/// Open an existing database for reading only (the CLI while the daemon runs).
///
/// Never creates or upgrades anything, so it cannot race the daemon's writes; a
/// missing file is an error (callers can check for it and show an empty history).
pub(crate) fn open_read_only(path: &Path) -> Result<Connection, HistoryError> {
    let path = path.to_owned();
    let op = "opening read-only";
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(&path, flags).ctx(&path, op)?;
    wait_for_locks(&mut conn).ctx(&path, op)?;
    // Version 0 is a file the daemon has just created and not yet given its schema (a
    // deleted history is recreated while readers poll it): wait for the schema as the busy
    // timeout would wait for a lock.
    let deadline = Instant::now() + BUSY_TIMEOUT;
    let found = loop {
        let found: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .ctx(&path, op)?;
        if found != 0 || Instant::now() >= deadline {
            break found;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    if found != SCHEMA_VERSION {
        return Err(HistoryError::Schema {
            path,
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(conn)
}

/// History is private: the directory 0700 and the database 0600 from the moment each
/// exists. SQLite gives the `-wal` and `-shm` files it creates the database's own mode,
/// so they are 0600 too.
mod private {
    use std::fs::{self, DirBuilder, OpenOptions, Permissions};
    use std::io;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    use std::path::Path;

    /// `dir` (missing parents get the usual mode) with mode 0700; an existing one that
    /// others can read is narrowed. (The config crate has the same rule for the other
    /// directories; this crate depends on none of ssenotify's but the SSE client.)
    pub(super) fn create_dir(dir: &Path) -> io::Result<()> {
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent)?;
        }
        match DirBuilder::new().mode(0o700).create(dir) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => narrow(dir, 0o700),
            other => other,
        }
    }

    /// The database file with mode 0600 before SQLite opens it (SQLite would create it
    /// with 0644 less the umask); an existing database, WAL or shared-memory file that
    /// others can read (an older version made it) is narrowed.
    pub(super) fn create_file(path: &Path) -> io::Result<()> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)?;
        narrow(path, 0o600)?;
        for suffix in ["-wal", "-shm"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            match narrow(Path::new(&name), 0o600) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                other => other?,
            }
        }
        Ok(())
    }

    fn narrow(path: &Path, mode: u32) -> io::Result<()> {
        if fs::metadata(path)?.permissions().mode() & 0o077 != 0 {
            fs::set_permissions(path, Permissions::from_mode(mode))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn the_database_its_wal_files_and_its_directory_are_private() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data/ssenotify");
        let path = dir.join("history.sqlite3");
        let conn = open_read_write(&path).unwrap();
        // A write makes SQLite create the WAL (the shared-memory file came with WAL mode).
        conn.execute("INSERT INTO resume VALUES ('a', '1', NULL, 0)", [])
            .unwrap();
        assert_eq!(mode(&dir), 0o700);
        for name in [
            "history.sqlite3",
            "history.sqlite3-wal",
            "history.sqlite3-shm",
        ] {
            assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
        }
        drop(conn);

        // What an older version left behind (umask modes) is narrowed on the next open.
        let loose = std::fs::Permissions::from_mode(0o755);
        std::fs::set_permissions(&dir, loose.clone()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let conn = open_read_write(&path).unwrap();
        assert_eq!((mode(&dir), mode(&path)), (0o700, 0o600));
        drop(conn);
    }
}
