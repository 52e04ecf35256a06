//! `ssenotify-history`: event history and resume points, in SQLite.
//!
//! One database file per user, shared by the daemon (the only writer) and `ssenotify
//! history` (a reader). WAL mode lets the reader see committed rows while the daemon
//! writes, and a busy timeout covers the short moments SQLite still locks (checkpoints,
//! two processes creating the file at once).
//!
//! The schema and its migrations: `schema.rs`.
//!
//! # Pipeline
//!
//! Recording and routing are two steps: [`HistoryWriter::record`] stores a batch with
//! [`Action::Pending`] and says, per event, whether it is new or a duplicate; the router then decides for the new ones, and [`HistoryWriter::set_actions`]
//! stores the decisions. A single call taking a routing closure was rejected: the router
//! is async, stateful code (rate windows, quiet hours, the notifier), and running it on
//! the writer thread inside an open write transaction would either need that state behind
//! locks or stall every other subscription's writes while one event is routed. The cost
//! of two steps is a short window where a row says `pending`; after a crash in that
//! window, the server's replay comes back as a [`Recorded::Duplicate`] whose action is
//! still `pending`, so the router can still route it and nothing is lost or shown twice.
//! Not to pay two commits per batch, a busy caller hands a batch's decisions over with the
//! next batch's events ([`HistoryWriter::record_after`]): one transaction for both.
//!
//! # Limits
//!
//! Each subscription keeps at most [`Retention::max_events`] rows (exactly once the rows
//! recorded in the last half second are merged, see `fresh`, and the rows that pushes out
//! are deleted, at most a quarter of a second later, see `doomed`; until then it may hold
//! up to 256 of those beyond it, and the picked rows) no older than [`Retention::max_age`] (rows age out
//! when [`HistoryWriter::expire`] runs, which says when to run it next). A subscription
//! the user removed loses its rows with [`HistoryWriter::forget`]; one that is merely
//! missing from the file keeps them for a grace period ([`HistoryWriter::reconcile`]).
//! Deduplication only knows the rows still kept: an ID pruned away is new again if a
//! server replays it.
//!
//! # Layout
//!
//! - `model`: the vocabulary: [`NewEvent`], [`Recorded`], [`StoredEvent`], [`Action`],
//!   [`ResumePoint`], [`Retention`], [`HistoryError`].
//! - `gap`: gap rows ([`Outage`]): outages not proven complete, kept as ordinary rows of
//!   action `gap`, and how a read row learns its [`RowKind`].
//! - `schema`: the tables, migrations, and how connections are opened (WAL, busy timeout).
//! - `read`: [`HistoryReader`], every query (pages, rows after a row, counts, resume
//!   points) on a read-only connection; a write on it does not compile.
//! - `db` (private): the read-write connection, automatic pruning, every write statement.
//! - `fresh` (private): rows recorded since the last merge, outside the per-subscription
//!   indexes until then, so that a commit writes few pages however many subscriptions
//!   had events.
//! - `doomed` (private): the rows retention picked at a merge, deleted together in id
//!   order, so that an old page is rewritten once, not once per subscription on it.
//! - `unread`: read marks, which rows wanting attention ([`Action::wants_attention`]) the
//!   user has read, and the unread counts that follow.
//! - `writer`: [`HistoryWriter`], the one writer: it owns the read-write connection on its
//!   own thread and commits what is queued in one transaction.
//! - `checkpoint` (private): copies the WAL back into the file on a thread of its own, so
//!   that no commit waits for it.

mod checkpoint;
mod db;
mod doomed;
mod fresh;
mod gap;
mod model;
mod read;
mod schema;
mod unread;
mod writer;

#[cfg(test)]
mod tests;

pub use db::Reconciled;
pub use gap::{GAP_TYPE, Outage};
pub use model::{
    Action, Decided, GapClass, HistoryError, NewEvent, Recorded, ResumePoint, ResumeUpdate,
    Retention, RowId, RowKind, Shown, Stats, StoredEvent, UnknownAction, now_ms, unix_ms,
};
pub use read::{HistoryReader, MAX_PAGE};
pub use schema::SCHEMA_VERSION;
pub use writer::{COMMIT_GAP, HistoryWriter};
