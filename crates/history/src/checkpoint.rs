//! The checkpointer: copies the WAL back into the database file on a thread of its own.
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses its threshold: under
//! a flood that was a thousand pages copied and two fsyncs every few dozen commits, with
//! every event behind that commit waiting for them. A passive checkpoint on another
//! connection copies the same pages while the writer goes on appending to the WAL, and a
//! restart now and then brings the WAL back to its beginning (see [`checkpoint`]).
//!
//! Measured with the throughput bench (10,000 events/s): with the checkpoint in the
//! commits, p99 from the server's write to the row was 10–13 ms; with passive checkpoints
//! alone the WAL never started over and the writer's backstop stalled it 40–50 ms every
//! 2 s; with restarts at 64 MB, truncating the WAL back to its size limit stalled the
//! writer as long. Restarts at 16 MB, below the size limit (so nothing is truncated under
//! a flood), leave no stall that shows in p99.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

use crate::schema::wait_for_locks;

/// How often the checkpointer copies what was committed meanwhile.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// From this many pages in the WAL, a checkpoint also starts it over.
const RESTART_PAGES: i64 = 4096;

/// The writer's own automatic checkpoint, kept as a backstop (pages in the WAL): it only
/// runs when the checkpointer falls far behind.
pub(crate) const BACKSTOP_PAGES: i64 = 16_384;

#[derive(Default)]
struct State {
    committed: bool,
    stop: bool,
}

/// A handle to the checkpointer thread of one database file.
pub(crate) struct Checkpointer {
    state: Arc<(Mutex<State>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts the checkpointer of the database at `path`.
    pub(crate) fn start(path: PathBuf) -> std::io::Result<Self> {
        let state = Arc::new((Mutex::new(State::default()), Condvar::new()));
        let shared = state.clone();
        let thread = std::thread::Builder::new()
            .name("ssenotify-checkpoint".into())
            .spawn(move || run(&path, &shared))?;
        Ok(Self {
            state,
            thread: Some(thread),
        })
    }

    /// Says that a transaction was committed: the next round has work.
    pub(crate) fn committed(&self) {
        let (lock, wake) = &*self.state;
        let mut state = lock.lock().unwrap_or_else(|e| e.into_inner());
        if !state.committed {
            state.committed = true;
            wake.notify_one();
        }
    }

    /// Stops the thread and waits for it, so that the writer's connection is the last one
    /// open (closing it checkpoints everything and removes the WAL).
    pub(crate) fn stop(mut self) {
        {
            let (lock, wake) = &*self.state;
            lock.lock().unwrap_or_else(|e| e.into_inner()).stop = true;
            wake.notify_one();
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(path: &std::path::Path, state: &(Mutex<State>, Condvar)) {
    let (lock, wake) = state;
    let mut last = Instant::now();
    loop {
        {
            let mut guard = lock.lock().unwrap_or_else(|e| e.into_inner());
            // Wait for a commit, then for the rest of the period.
            loop {
                if guard.stop {
                    return;
                }
                let left = CHECKPOINT_EVERY.saturating_sub(last.elapsed());
                if guard.committed && left.is_zero() {
                    break;
                }
                let wait = if guard.committed {
                    left
                } else {
                    CHECKPOINT_EVERY
                };
                guard = wake
                    .wait_timeout(guard, wait)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            guard.committed = false;
        }
        last = Instant::now();
        if let Err(error) = checkpoint(path) {
            // The writer's backstop still bounds the WAL.
            tracing::debug!(%error, "history checkpoint failed");
        }
    }
}

/// A passive checkpoint on a connection of its own (opened each time, so that a file
/// replaced behind the daemon's back is the one checkpointed), then, once the WAL is
/// long, a restart.
///
/// The passive pass copies while the writer goes on appending, so it never ends with the
/// WAL copied to its end at the moment the writer begins a transaction, and only then
/// would the WAL start over at its beginning: it would grow to the writer's backstop, whose
/// checkpoint then runs inside a commit (some 25 ms with its fsyncs, every 2 s under a
/// flood). A restart holds the writer back only while it copies what came since the
/// last passive pass, so a second pass goes just before it: at 10,000 events/s the
/// writer's p99 0.88× (`cargo bench -p ssenotify-history --bench writer`), the daemon's
/// 0.95× (lower in each of 3 runs of the throughput bench, CPU 1.04×, within noise).
fn checkpoint(path: &std::path::Path) -> rusqlite::Result<()> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags)?;
    wait_for_locks(&mut conn)?;
    let log: i64 = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))?;
    if log >= RESTART_PAGES {
        // Once more first: the restart holds the writer while it copies what came since
        // the last pass, and the first one took long enough for a dozen commits to come.
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        // A complete checkpoint ends with an fsync of the database file, under the write
        // lock: of every page the passive passes copied since the last restart (5-6 ms
        // here). Synced first, outside the lock, that fsync has only the restart's pages
        // (0.5-2 ms): the writer's p99 0.86×, the daemon's 0.95× (lower in every run).
        if let Err(error) = std::fs::File::open(path).and_then(|file| file.sync_data()) {
            tracing::debug!(%error, "history file not synced before the WAL restart");
        }
        conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()))?;
    }
    Ok(())
}
