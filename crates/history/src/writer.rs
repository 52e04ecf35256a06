//! [`HistoryWriter`]: the history's connection on its own thread, for async callers.
//!
//! SQLite calls block, so they do not belong on the tokio workers. One thread owns the
//! connection and commits whatever is queued as one transaction: under a burst, a
//! thousand events from many subscriptions cost one commit instead of a thousand.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::TransactionBehavior;
use tokio::sync::{mpsc, oneshot};

use crate::checkpoint::{BACKSTOP_PAGES, Checkpointer};
use crate::db::{
    Book, Db, Reconciled, button_result, discard, expire_all, forget, forget_orphans,
    insert_events, merge, notify_failed, reconcile, save_resume, set_actions, set_retention,
};
use crate::model::{
    Context, Decided, HistoryError, NewEvent, Recorded, ResumePoint, ResumeUpdate, Retention,
    RowId, now_ms,
};

/// How many requests may wait for the writer before senders wait (backpressure).
const WRITER_QUEUE: usize = 1024;

/// The most queued requests committed in one transaction; bounds how long a request
/// waits behind others.
const WRITER_BATCH: usize = 512;

/// The least time from one commit's start to the next: a request arriving sooner waits
/// the rest, so that what arrives meanwhile shares its commit. Each commit writes the
/// table's last pages and every touched resume point again, so under a flood commits
/// every half millisecond cost several times what one every two costs, for a latency of
/// at most this much. 2 ms against 1 ms at 10,000 events/s (README, the throughput
/// bench): the writer 0.86–0.93×, p99 0.65–0.77× (fewer commits compete less for the
/// cores), p50 +1.4 ms; 3 ms gained little more (0.96×) for another 1.4 ms at p50.
pub const COMMIT_GAP: Duration = Duration::from_millis(2);

/// What the writer thread is asked to do.
enum Op {
    Record {
        /// Earlier rows' actions, stored first (see [`HistoryWriter::record_after`]).
        actions: Vec<Decided>,
        events: Vec<NewEvent>,
        resume: Vec<ResumeUpdate>,
    },
    SetActions(Vec<Decided>),
    Discard(Vec<RowId>),
    NotifyFailed(RowId),
    ButtonResult(RowId, String),
    SaveResume(ResumeUpdate),
    SetRetention(Arc<str>, Retention),
    Expire,
    Forget(Vec<String>),
    MarkRead(Vec<(String, Option<RowId>)>),
    Reconcile {
        keep: Vec<String>,
        grace_ms: i64,
    },
    ForgetOrphans {
        grace_ms: i64,
    },
    /// Every stored resume point (read through the writer's own connection).
    ResumeAll,
    /// Nothing to write: answered once everything before it is committed.
    Flush,
    /// Stop taking requests, commit what is queued, close the database.
    Close,
}

impl Op {
    fn name(&self) -> &'static str {
        match self {
            Self::Record { .. } => "recording events",
            Self::SetActions(_) => "storing actions",
            Self::Discard(_) => "discarding dropped events",
            Self::NotifyFailed(_) => "marking a failed notification",
            Self::ButtonResult(..) => "recording what a button's request got",
            Self::SaveResume(_) => "saving a resume point",
            Self::SetRetention(..) => "setting retention",
            Self::Expire => "pruning",
            Self::Forget(_) | Self::ForgetOrphans { .. } => "forgetting a subscription",
            Self::MarkRead(_) => "marking events read",
            Self::Reconcile { .. } => "reconciling with the file",
            Self::ResumeAll => "reading resume points",
            Self::Flush => "flushing",
            Self::Close => "closing",
        }
    }
}

/// Where the answer goes. Requests without one report failures at the next flush or close.
enum Reply {
    None,
    Recorded(oneshot::Sender<Result<Vec<Recorded>, HistoryError>>),
    Count(oneshot::Sender<Result<u64, HistoryError>>),
    Resume(oneshot::Sender<Result<Vec<ResumePoint>, HistoryError>>),
    Next(oneshot::Sender<Result<Option<i64>, HistoryError>>),
    Reconciled(oneshot::Sender<Result<Reconciled, HistoryError>>),
    Done(oneshot::Sender<Result<(), HistoryError>>),
}

enum Outcome {
    Recorded(Vec<Recorded>),
    Count(u64),
    Resume(Vec<ResumePoint>),
    Next(Option<i64>),
    Reconciled(Reconciled),
    Done,
}

struct Request {
    op: Op,
    reply: Reply,
}

/// A cloneable async handle to the history database, which it opens read-write and owns on
/// a dedicated thread (`ssenotify-history`); nothing else writes.
///
/// Requests are applied in the order they were sent (per sender), each batch of queued
/// requests in one transaction; a request that fails is rolled back alone (a savepoint
/// each) and the others still commit.
#[derive(Clone)]
pub struct HistoryWriter {
    tx: mpsc::Sender<Request>,
    path: Arc<Path>,
}

impl std::fmt::Debug for HistoryWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistoryWriter")
            .field("path", &self.path)
            .finish()
    }
}

impl HistoryWriter {
    /// Open (creating it, its directory and its schema if needed) the database at `path`
    /// on a new thread, and return its handle.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, HistoryError> {
        Self::spawn(Db::open(path)?)
    }

    /// Move `db` onto a new thread and return its handle.
    pub(crate) fn spawn(mut history: Db) -> Result<Self, HistoryError> {
        let path: Arc<Path> = history.path().into();
        let io = |op| {
            let path = path.clone();
            move |e| HistoryError::Io {
                path: path.to_path_buf(),
                op,
                cause: Arc::new(e),
            }
        };
        let checkpointer = Checkpointer::start(path.to_path_buf())
            .map_err(io("starting the checkpoint thread"))?;
        history
            .parts()
            .0
            .pragma_update(None, "wal_autocheckpoint", BACKSTOP_PAGES)
            .ctx(&path, "opening")?;
        let (tx, rx) = mpsc::channel(WRITER_QUEUE);
        std::thread::Builder::new()
            .name("ssenotify-history".into())
            .spawn(move || run(history, rx, checkpointer))
            .map_err(io("starting the writer thread"))?;
        Ok(Self { tx, path })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Record `events` (and the `resume` points, atomically with them); per event, new or
    /// duplicate. One call may carry the events and resume points of many subscriptions.
    pub async fn record(
        &self,
        events: Vec<NewEvent>,
        resume: Vec<ResumeUpdate>,
    ) -> Result<Vec<Recorded>, HistoryError> {
        self.record_after(Vec::new(), events, resume).await
    }

    /// [`HistoryWriter::set_actions`] and [`HistoryWriter::record`] in one request, so in
    /// one transaction: a busy pipeline stores a batch's decisions with the next batch's
    /// events instead of paying a commit for each. A failure fails both (the rows keep
    /// `pending`, as after a crash between the two steps).
    pub async fn record_after(
        &self,
        actions: Vec<Decided>,
        events: Vec<NewEvent>,
        resume: Vec<ResumeUpdate>,
    ) -> Result<Vec<Recorded>, HistoryError> {
        let (reply, answer) = oneshot::channel();
        let op = Op::Record {
            actions,
            events,
            resume,
        };
        self.send(op, Reply::Recorded(reply)).await?;
        answer.await.map_err(|_| self.closed())?
    }

    /// Queue the router's decisions (a `(row, action)` alone, or [`Decided`] with the rule
    /// and notification); a failure is reported by the next flush or close.
    pub async fn set_actions<D: Into<Decided>>(&self, actions: Vec<D>) -> Result<(), HistoryError> {
        let actions = actions.into_iter().map(Into::into).collect();
        self.send(Op::SetActions(actions), Reply::None).await
    }

    /// Queue marking `row`'s notification as not shown: its action becomes `error` (from
    /// `pending` or `notified`; any other decision stands). Never waits (it is called from
    /// the notifier's task): with the queue full, the mark is logged and dropped. A failure
    /// is reported by the next flush.
    pub fn notify_failed_now(&self, row: RowId) {
        let request = Request {
            op: Op::NotifyFailed(row),
            reply: Reply::None,
        };
        if self.tx.try_send(request).is_err() {
            tracing::warn!(
                row,
                "history is busy or closed: a failed notification not marked"
            );
        }
    }

    /// Record what the `http` button pressed on event `row`'s notification got (the last
    /// press wins). Never waits, like [`HistoryWriter::notify_failed_now`].
    pub fn button_result_now(&self, row: RowId, result: String) {
        let request = Request {
            op: Op::ButtonResult(row, result),
            reply: Reply::None,
        };
        if self.tx.try_send(request).is_err() {
            tracing::warn!(
                row,
                "history is busy or closed: a button's result not recorded"
            );
        }
    }

    /// Queue deleting the rows of events the router dropped (a `drop` rule keeps nothing).
    pub async fn discard(&self, rows: Vec<RowId>) -> Result<(), HistoryError> {
        self.send(Op::Discard(rows), Reply::None).await
    }

    /// Queue a resume point on its own; a failure is reported by the next flush or close.
    pub async fn save_resume(&self, update: ResumeUpdate) -> Result<(), HistoryError> {
        self.send(Op::SaveResume(update), Reply::None).await
    }

    /// Set `sub`'s retention; a changed one is applied at once.
    pub async fn set_retention(
        &self,
        sub: impl Into<Arc<str>>,
        retention: Retention,
    ) -> Result<(), HistoryError> {
        self.send(Op::SetRetention(sub.into(), retention), Reply::None)
            .await
    }

    /// Age out every subscription's old rows now; returns when the next row is due (unix
    /// ms), if any row is left.
    pub async fn expire(&self) -> Result<Option<i64>, HistoryError> {
        let (reply, answer) = oneshot::channel();
        self.send(Op::Expire, Reply::Next(reply)).await?;
        answer.await.map_err(|_| self.closed())?
    }

    /// Remove the rows and resume points of subscriptions the user removed; returns the
    /// rows removed.
    pub async fn forget(&self, subs: Vec<String>) -> Result<u64, HistoryError> {
        self.counted(Op::Forget(subs)).await
    }

    /// Marks each subscription's rows read up to its row (`None`: up to its newest row);
    /// a mark never moves back.
    pub async fn mark_read(&self, marks: Vec<(String, Option<RowId>)>) -> Result<(), HistoryError> {
        self.done(Op::MarkRead(marks)).await
    }

    /// Compare history with the subscriptions in the file (`keep`): one missing from it is
    /// kept for `grace`, then forgotten (see [`Reconciled`]).
    pub async fn reconcile(
        &self,
        keep: Vec<String>,
        grace: std::time::Duration,
    ) -> Result<Reconciled, HistoryError> {
        let (reply, answer) = oneshot::channel();
        let grace_ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
        self.send(Op::Reconcile { keep, grace_ms }, Reply::Reconciled(reply))
            .await?;
        answer.await.map_err(|_| self.closed())?
    }

    /// Forget the subscriptions missing from the file for longer than `grace`; returns
    /// their ids.
    pub async fn forget_orphans(
        &self,
        grace: std::time::Duration,
    ) -> Result<Vec<String>, HistoryError> {
        let grace_ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
        let (reply, answer) = oneshot::channel();
        self.send(Op::ForgetOrphans { grace_ms }, Reply::Reconciled(reply))
            .await?;
        Ok(answer.await.map_err(|_| self.closed())??.forgotten)
    }

    /// Every stored resume point, by subscription id, as committed so far.
    pub async fn resume_all(&self) -> Result<Vec<ResumePoint>, HistoryError> {
        let (reply, answer) = oneshot::channel();
        self.send(Op::ResumeAll, Reply::Resume(reply)).await?;
        answer.await.map_err(|_| self.closed())?
    }

    /// Wait until everything sent before is committed; reports unreported failures.
    pub async fn flush(&self) -> Result<(), HistoryError> {
        self.done(Op::Flush).await
    }

    /// Commit everything queued, close the database and stop the thread.
    ///
    /// Every clone's later requests fail with [`HistoryError::Closed`]. Returns once the
    /// database file is closed, so a process may exit right after.
    pub async fn close(self) -> Result<(), HistoryError> {
        self.done(Op::Close).await
    }

    async fn counted(&self, op: Op) -> Result<u64, HistoryError> {
        let (reply, answer) = oneshot::channel();
        self.send(op, Reply::Count(reply)).await?;
        answer.await.map_err(|_| self.closed())?
    }

    async fn done(&self, op: Op) -> Result<(), HistoryError> {
        let (reply, answer) = oneshot::channel();
        self.send(op, Reply::Done(reply)).await?;
        answer.await.map_err(|_| self.closed())?
    }

    async fn send(&self, op: Op, reply: Reply) -> Result<(), HistoryError> {
        self.tx
            .send(Request { op, reply })
            .await
            .map_err(|_| self.closed())
    }

    fn closed(&self) -> HistoryError {
        HistoryError::Closed {
            path: self.path.to_path_buf(),
        }
    }
}

/// The writer thread.
fn run(mut history: Db, mut rx: mpsc::Receiver<Request>, checkpointer: Checkpointer) {
    // The first failure no caller has heard of yet (from a request without a reply).
    let mut unreported: Option<HistoryError> = None;
    let mut closers = Vec::new();
    let mut batch = Vec::with_capacity(WRITER_BATCH);
    // Only to wait for a request with a timeout: fresh rows are merged when due even if
    // nothing else comes.
    let timer = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build();
    let mut last_commit = std::time::Instant::now();
    loop {
        let due = history.fresh_due_in();
        // `None`: nothing came before the merge was due (an empty batch merges).
        let first = match (due, &timer) {
            (Some(due), Ok(timer)) => timer
                .block_on(async { tokio::time::timeout(due, rx.recv()).await })
                .ok(),
            _ => Some(rx.blocking_recv()),
        };
        if let Some(first) = first {
            let Some(first) = first else { break };
            let since = last_commit.elapsed();
            if since < COMMIT_GAP {
                std::thread::sleep(COMMIT_GAP - since);
            }
            last_commit = std::time::Instant::now();
            batch.push(first);
        }
        while !batch.is_empty() && batch.len() < WRITER_BATCH {
            match rx.try_recv() {
                Ok(request) => batch.push(request),
                Err(_) => break,
            }
        }
        if batch.iter().any(|r| matches!(r.op, Op::Close)) {
            // Refuse new requests; those already queued are still received and committed
            // before blocking_recv reports the end.
            rx.close();
        }
        let requests = !batch.is_empty();
        apply(&mut history, &mut batch, &mut unreported, &mut closers);
        // A merge due goes in a commit of its own, once the requests' commit has answered
        // them: a commit that carries events never waits for one.
        if requests && history.fresh_due_in() == Some(Duration::ZERO) {
            apply(&mut history, &mut batch, &mut unreported, &mut closers);
        }
        checkpointer.committed();
    }
    checkpointer.stop();
    let closed = history.close();
    let result = match (unreported, closed) {
        (_, Err(e)) | (Some(e), Ok(())) => Err(e),
        (None, Ok(())) => Ok(()),
    };
    for closer in closers {
        let _ = closer.send(result.clone());
    }
}

/// Apply `batch` (emptying it) in one transaction and answer every request.
fn apply(
    history: &mut Db,
    batch: &mut Vec<Request>,
    unreported: &mut Option<HistoryError>,
    closers: &mut Vec<oneshot::Sender<Result<(), HistoryError>>>,
) {
    if let Err(error) = history.reopen_if_replaced() {
        tracing::error!(%error, "the history file was replaced and could not be recreated");
    }
    let path = history.path().to_owned();
    let mut outcomes = Vec::with_capacity(batch.len());
    let (conn, book) = history.parts();
    let committed = execute_all(conn, book, &path, batch, &mut outcomes);
    for (request, outcome) in batch.drain(..).zip(outcomes) {
        let outcome = match &committed {
            Ok(()) => outcome,
            Err(e) => Err(e.clone()),
        };
        match request.reply {
            Reply::None => {
                if let Err(e) = outcome {
                    tracing::warn!(error = %e, "history write failed");
                    unreported.get_or_insert(e);
                }
            }
            Reply::Recorded(reply) => {
                let _ = reply.send(outcome.map(|o| match o {
                    Outcome::Recorded(r) => r,
                    _ => unreachable!("a record request yields its records"),
                }));
            }
            Reply::Count(reply) => {
                let _ = reply.send(outcome.map(|o| match o {
                    Outcome::Count(n) => n,
                    _ => unreachable!("a counted request yields a count"),
                }));
            }
            Reply::Next(reply) => {
                let _ = reply.send(outcome.map(|o| match o {
                    Outcome::Next(next) => next,
                    _ => unreachable!("an expiry yields the next deadline"),
                }));
            }
            Reply::Reconciled(reply) => {
                let _ = reply.send(outcome.map(|o| match o {
                    Outcome::Reconciled(report) => report,
                    _ => unreachable!("a reconcile yields its report"),
                }));
            }
            Reply::Resume(reply) => {
                let _ = reply.send(outcome.map(|o| match o {
                    Outcome::Resume(points) => points,
                    _ => unreachable!("a resume request yields resume points"),
                }));
            }
            Reply::Done(reply) => {
                let result = outcome.map(drop).and_then(|()| match unreported.take() {
                    Some(e) => Err(e),
                    None => Ok(()),
                });
                if matches!(request.op, Op::Close) {
                    closers.push(reply);
                    if let Err(e) = result {
                        unreported.get_or_insert(e);
                    }
                } else {
                    let _ = reply.send(result);
                }
            }
        }
    }
}

/// Run every request of `batch` in one transaction, one savepoint each, pushing one
/// outcome per request (an empty batch: the merge that is due); the error is the
/// transaction's own (BEGIN or COMMIT).
fn execute_all(
    conn: &mut rusqlite::Connection,
    book: &mut Book,
    path: &Path,
    batch: &[Request],
    outcomes: &mut Vec<Result<Outcome, HistoryError>>,
) -> Result<(), HistoryError> {
    let op = "committing a batch";
    let mut rolled_back = false;
    let result = (|| {
        let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for request in batch {
            let savepoint = tx.savepoint()?;
            let outcome = execute(&savepoint, book, &request.op);
            if outcome.is_ok() {
                savepoint.commit()?;
            } else {
                // Dropping the savepoint rolls that request back alone.
                rolled_back = true;
            }
            outcomes.push(outcome.ctx(path, request.op.name()));
        }
        if batch.is_empty() && book.due_in() == Some(Duration::ZERO) {
            let savepoint = tx.savepoint()?;
            match merge(&savepoint, book, false) {
                Ok(()) => savepoint.commit()?,
                // Rolled back: the rows stay fresh, readable and deduplicated, and a merge
                // is tried again later.
                Err(error) => {
                    tracing::error!(%error, "history could not merge its fresh rows");
                    rolled_back = true;
                    book.fresh.postpone();
                }
            }
        }
        tx.commit()
    })();
    if rolled_back || result.is_err() {
        // What was rolled back left the fresh rows' bookkeeping ahead of the file: read
        // it again from the file, and forget the picked rows and counts.
        book.rolled_back();
        match crate::fresh::Fresh::load(conn) {
            Ok(fresh) => {
                let postponed = std::mem::replace(&mut book.fresh, fresh);
                book.fresh.postponed_like(&postponed);
            }
            Err(error) => tracing::error!(%error, "history could not read its fresh rows"),
        }
    }
    // A BEGIN that failed left no outcomes; every request shares the error.
    outcomes.resize_with(batch.len(), || Ok(Outcome::Done));
    result.ctx(path, op)
}

fn execute(conn: &rusqlite::Connection, book: &mut Book, op: &Op) -> rusqlite::Result<Outcome> {
    Ok(match op {
        Op::Record {
            actions,
            events,
            resume,
        } => {
            set_actions(conn, actions)?;
            let recorded = insert_events(conn, book, events)?;
            for update in resume {
                save_resume(conn, update)?;
            }
            Outcome::Recorded(recorded)
        }
        Op::SetActions(actions) => {
            set_actions(conn, actions)?;
            Outcome::Done
        }
        Op::Discard(rows) => Outcome::Count(discard(conn, book, rows)?),
        Op::NotifyFailed(row) => {
            notify_failed(conn, *row)?;
            Outcome::Done
        }
        Op::ButtonResult(row, result) => {
            button_result(conn, *row, result)?;
            Outcome::Done
        }
        Op::SaveResume(update) => {
            save_resume(conn, update)?;
            Outcome::Done
        }
        Op::SetRetention(sub, retention) => {
            Outcome::Count(set_retention(conn, book, sub, *retention, now_ms())?)
        }
        Op::Expire => Outcome::Next(expire_all(conn, book, now_ms())?.1),
        Op::Forget(subs) => {
            let mut removed = 0;
            for sub in subs {
                removed += forget(conn, book, sub)?;
            }
            Outcome::Count(removed)
        }
        Op::MarkRead(marks) => {
            for (sub, row) in marks {
                crate::unread::mark_read(conn, sub, *row)?;
            }
            Outcome::Done
        }
        Op::Reconcile { keep, grace_ms } => {
            Outcome::Reconciled(reconcile(conn, book, keep, *grace_ms, now_ms())?)
        }
        Op::ForgetOrphans { grace_ms } => Outcome::Reconciled(Reconciled {
            forgotten: forget_orphans(conn, book, now_ms().saturating_sub(*grace_ms))?,
            ..Reconciled::default()
        }),
        Op::ResumeAll => Outcome::Resume(crate::read::resume_all(conn)?),
        // What was flushed is merged too: retention exact, every row in the indexes.
        Op::Flush | Op::Close => {
            merge(conn, book, true)?;
            Outcome::Done
        }
    })
}
