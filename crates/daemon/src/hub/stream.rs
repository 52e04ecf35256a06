//! One hub client's stream: what it missed (from history, after its `Last-Event-ID`), then
//! every event as it happens, through a bounded queue that never makes the daemon wait.
//!
//! The seam: the client's broadcast receiver exists before history is read, so an event is
//! either already in history or still to come on the broadcast (or both); rows are sent in
//! increasing id order and a live row at or below the last one sent is skipped. Nothing is
//! lost and nothing is sent twice.
//!
//! The bound: frames wait in the client's queue until its socket takes them; the queue
//! holds at most [`BUFFER`] bytes. A live event that does not fit ends the connection (the
//! client reconnects with its `Last-Event-ID` and catches up from history): the pipeline
//! and the other clients never wait for a slow one.

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::Frame;
use ssenotify_history::HistoryReader;
use ssenotify_protocol::{DaemonEvent, SubscriptionStatus};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use super::envelope::Row;

/// The most bytes of events queued for one client beyond what its socket holds.
pub const BUFFER: usize = 1024 * 1024;
/// How often a quiet stream gets a comment: proxies keep it open, and a half-open
/// connection is noticed.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Rows read from history at a time while catching a client up.
const REPLAY_PAGE: usize = 1000;

/// The sending side of a client's queue.
pub(crate) struct Queue {
    tx: mpsc::UnboundedSender<(Bytes, OwnedSemaphorePermit)>,
    room: Arc<Semaphore>,
}

/// The response body a client's queue feeds.
pub(crate) struct Body {
    rx: mpsc::UnboundedReceiver<(Bytes, OwnedSemaphorePermit)>,
}

/// Why a frame was not queued.
#[derive(Debug, PartialEq)]
pub(crate) enum Refused {
    /// The client hung up.
    Gone,
    /// The queue is full: the client is too slow.
    Full,
}

/// A queue of [`BUFFER`] bytes and the body it feeds.
pub(crate) fn queue() -> (Queue, Body) {
    let (tx, rx) = mpsc::unbounded_channel();
    let room = Arc::new(Semaphore::new(BUFFER));
    (Queue { tx, room }, Body { rx })
}

/// A body of one piece of text (an error's explanation).
pub(crate) fn text(text: &'static str) -> Body {
    let (queue, body) = queue();
    let _ = queue.try_push(Bytes::from_static(text.as_bytes()));
    body
}

impl Queue {
    /// The room a frame takes: its size, or all of it for a frame bigger than that (one
    /// event of any allowed size still goes through an empty queue).
    fn cost(frame: &Bytes) -> u32 {
        frame.len().clamp(1, BUFFER) as u32
    }

    /// Queues `frame` if there is room now.
    pub fn try_push(&self, frame: Bytes) -> Result<(), Refused> {
        let permit = self
            .room
            .clone()
            .try_acquire_many_owned(Self::cost(&frame))
            .map_err(|_| Refused::Full)?;
        self.tx.send((frame, permit)).map_err(|_| Refused::Gone)
    }

    /// Queues `frame` once there is room (catching up: only this client waits).
    async fn push(&self, frame: Bytes) -> Result<(), Refused> {
        let permit = tokio::select! {
            permit = self.room.clone().acquire_many_owned(Self::cost(&frame)) => {
                permit.map_err(|_| Refused::Gone)?
            }
            () = self.tx.closed() => return Err(Refused::Gone),
        };
        self.tx.send((frame, permit)).map_err(|_| Refused::Gone)
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        // The permit is returned as the frame goes to the connection.
        self.rx
            .poll_recv(cx)
            .map(|next| next.map(|(frame, _permit)| Ok(Frame::data(frame))))
    }
}

/// What a client asked for.
pub(crate) struct Wanted {
    /// One subscription's events, or every subscription's.
    pub subscription: Option<String>,
    /// The last row it saw (`Last-Event-ID`): everything after it is sent first.
    pub after: Option<i64>,
}

/// Feeds `queue` until the client hangs up, falls too far behind (then `overflow` is
/// cancelled, which closes the connection), or the daemon stops. `updates` must have been
/// subscribed before this is called.
pub(crate) async fn feed(
    mut updates: broadcast::Receiver<DaemonEvent>,
    history: PathBuf,
    wanted: Wanted,
    queue: Queue,
    overflow: CancellationToken,
) {
    let filter = wanted.subscription.as_deref();
    let mut last = wanted.after.unwrap_or(0);
    if let Some(after) = wanted.after {
        match replay(&history, filter, after, &queue).await {
            Ok(Some(sent)) => last = sent,
            Ok(None) => return,
            Err(error) => tracing::warn!(%error, "hub: history could not be replayed"),
        }
    }
    let mut keep_alive =
        tokio::time::interval_at(tokio::time::Instant::now() + KEEP_ALIVE, KEEP_ALIVE);
    // Which subscriptions this client was told are silent: an alarm raised or cleared is
    // told once, not with every later status of the same subscription.
    let mut silent: HashMap<String, bool> = HashMap::new();
    loop {
        let pushed = tokio::select! {
            _ = keep_alive.tick() => queue.try_push(Bytes::from_static(b": keep-alive\n\n")),
            update = updates.recv() => match update {
                Ok(DaemonEvent::Event(event)) => {
                    let row = Row::from(&event);
                    let wanted = row.is_told()
                        && filter.is_none_or(|id| id == row.subscription)
                        && row.row.is_none_or(|r| r > last);
                    if !wanted {
                        continue;
                    }
                    last = row.row.unwrap_or(last);
                    queue.try_push(row.frame())
                }
                Ok(DaemonEvent::Status(status)) => {
                    let raised = status.silent.is_some();
                    let told = silent.get(&status.id).copied().unwrap_or(false);
                    if raised == told || filter.is_some_and(|id| id != status.id) {
                        continue;
                    }
                    silent.insert(status.id.clone(), raised);
                    queue.try_push(silence_frame(&status))
                }
                Ok(_) => continue,
                // This client's task fell behind the broadcast itself: as full.
                Err(broadcast::error::RecvError::Lagged(_)) => Err(Refused::Full),
                Err(broadcast::error::RecvError::Closed) => return,
            },
            () = queue.tx.closed() => return,
        };
        match pushed {
            Ok(()) => {}
            Err(Refused::Gone) => return,
            Err(Refused::Full) => {
                tracing::info!(
                    buffer = BUFFER,
                    "hub: a client fell behind by more than its buffer; closing it (it resumes from history)"
                );
                overflow.cancel();
                return;
            }
        }
    }
}

/// A silent-feed alarm raised or cleared, as an `ssenotify.silent` event. It has no `id:`:
/// it is no history row, so a client's `Last-Event-ID` stays on the last row it saw.
fn silence_frame(status: &SubscriptionStatus) -> Bytes {
    let data = serde_json::json!({
        "subscription": status.id,
        "silent": status.silent.map(|s| serde_json::json!({
            "kind": s.kind.as_str(),
            "since": super::envelope::rfc3339(s.since),
        })),
        "time": super::envelope::rfc3339(ssenotify_history::now_ms()),
    });
    Bytes::from(format!("event: ssenotify.silent\ndata: {data}\n\n"))
}

/// Sends every row after `after` (of `filter`, or all); the last row id sent (or `after`),
/// or `None` when the client hung up.
async fn replay(
    history: &std::path::Path,
    filter: Option<&str>,
    after: i64,
    queue: &Queue,
) -> Result<Option<i64>, ssenotify_history::HistoryError> {
    let path = history.to_owned();
    let (mut reader, newest) = crate::ops::blocking(move || {
        let reader = HistoryReader::open(path)?;
        let newest = reader.page(None, None, 1)?.first().map(|e| e.row);
        Ok::<_, ssenotify_history::HistoryError>((reader, newest))
    })
    .await?;
    // An id above every row: from a history since deleted (row ids are never reused), or
    // whose newest rows went. Nothing to replay, and every row to come is new to it.
    if newest.is_none_or(|newest| newest < after) {
        return Ok(Some(0));
    }
    let mut last = after;
    loop {
        let sub = filter.map(str::to_owned);
        let (back, page) = crate::ops::blocking(move || {
            let page = reader.after(sub.as_deref(), last, REPLAY_PAGE);
            (reader, page)
        })
        .await;
        reader = back;
        let page = page?;
        for event in &page {
            let row = Row::from(event);
            last = event.row;
            if row.is_told() && queue.push(row.frame()).await.is_err() {
                return Ok(None);
            }
        }
        if page.len() < REPLAY_PAGE {
            return Ok(Some(last));
        }
    }
}

#[cfg(test)]
mod tests {
    use http_body::Body as _;
    use ssenotify_history::{Action, HistoryWriter, NewEvent, Recorded};
    use ssenotify_protocol::LiveEvent;

    use super::*;

    fn new_event(data: &str) -> NewEvent {
        NewEvent {
            sub_id: "a".into(),
            event_type: "message".into(),
            data: data.into(),
            event_id: Some(data.into()),
            last_event_id: data.into(),
            received_at: 0,
            action: Action::Notified,
        }
    }

    fn published(row: i64, data: &str) -> DaemonEvent {
        DaemonEvent::Event(LiveEvent {
            subscription: "a".into(),
            row: Some(row),
            event_type: "message".into(),
            data: data.into(),
            last_event_id: data.into(),
            action: Action::Notified,
            received_at: 0,
            unread: 0,
            rule: None,
            shown: None,
        })
    }

    /// The `id:` of every frame until the body has had `n` events.
    async fn ids(body: &mut Body, n: usize) -> Vec<String> {
        let mut ids = Vec::new();
        while ids.len() < n {
            let frame = std::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx))
                .await
                .expect("the stream goes on")
                .unwrap();
            let text = String::from_utf8(frame.into_data().unwrap().to_vec()).unwrap();
            ids.extend(
                text.lines()
                    .filter_map(|l| l.strip_prefix("id: ").map(str::to_owned)),
            );
        }
        ids
    }

    /// The seam: rows published after the client subscribed and committed before history
    /// was read reach it both ways; each is sent once, in order, then live rows follow.
    #[tokio::test]
    async fn a_row_both_in_history_and_on_the_broadcast_is_sent_once() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("history.sqlite3");
        let history = HistoryWriter::open(&db).unwrap();
        let rows: Vec<i64> = history
            .record(["1", "2", "3", "4"].map(new_event).to_vec(), Vec::new())
            .await
            .unwrap()
            .into_iter()
            .map(Recorded::row)
            .collect();
        let (updates, _) = broadcast::channel(16);
        let subscribed = updates.subscribe();
        // 3 and 4 were published after the subscription; the client saw 1.
        updates.send(published(rows[2], "3")).unwrap();
        updates.send(published(rows[3], "4")).unwrap();
        let (queue, mut body) = queue();
        let wanted = Wanted {
            subscription: None,
            after: Some(rows[0]),
        };
        let feeder = tokio::spawn(feed(
            subscribed,
            db,
            wanted,
            queue,
            CancellationToken::new(),
        ));
        let replayed = ids(&mut body, 3).await;
        let live = history
            .record(vec![new_event("5")], Vec::new())
            .await
            .unwrap()[0]
            .row();
        updates.send(published(live, "5")).unwrap();
        let next = ids(&mut body, 1).await;
        let expected: Vec<String> = rows[1..]
            .iter()
            .chain([&live])
            .map(i64::to_string)
            .collect();
        assert_eq!([replayed, next].concat(), expected);
        feeder.abort();
    }

    /// A client that saw a row of a history since deleted still gets what comes now.
    #[tokio::test]
    async fn an_id_from_a_deleted_history_replays_nothing_and_misses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("history.sqlite3");
        let history = HistoryWriter::open(&db).unwrap();
        let (updates, _) = broadcast::channel(16);
        let (queue, mut body) = queue();
        let wanted = Wanted {
            subscription: None,
            after: Some(5000),
        };
        let feeder = tokio::spawn(feed(
            updates.subscribe(),
            db,
            wanted,
            queue,
            CancellationToken::new(),
        ));
        let row = history
            .record(vec![new_event("1")], Vec::new())
            .await
            .unwrap()[0]
            .row();
        // Whether the feeder read history before or after this row, it is sent.
        updates.send(published(row, "1")).unwrap();
        let sent = tokio::time::timeout(Duration::from_secs(5), ids(&mut body, 1));
        assert_eq!(sent.await.expect("the row is sent"), [row.to_string()]);
        feeder.abort();
    }

    /// A silent-feed alarm is told when it is raised and when it is cleared, once each,
    /// without an `id:` (it is no history row).
    #[tokio::test]
    async fn a_silence_is_told_when_raised_and_when_cleared() {
        use ssenotify_protocol::{ReadyState, Silence, SilenceKind};
        let (updates, _) = broadcast::channel(16);
        let (queue, mut body) = queue();
        let wanted = Wanted {
            subscription: None,
            after: None,
        };
        let feeder = tokio::spawn(feed(
            updates.subscribe(),
            PathBuf::new(),
            wanted,
            queue,
            CancellationToken::new(),
        ));
        let status = |silent: Option<Silence>, events: u64| {
            DaemonEvent::Status(SubscriptionStatus {
                silent,
                events,
                ..SubscriptionStatus::new("a", ReadyState::Open, "HTTP 200 OK")
            })
        };
        let raised = Some(Silence {
            kind: SilenceKind::Silent,
            since: 1_700_000_000_000,
        });
        for update in [
            status(None, 1),
            status(raised, 1),
            status(raised, 1),
            status(None, 2),
            status(None, 3),
        ] {
            updates.send(update).unwrap();
        }
        let mut frames = Vec::new();
        while frames.len() < 2 {
            let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx))
                .await
                .unwrap()
                .unwrap();
            frames.push(String::from_utf8(frame.into_data().unwrap().to_vec()).unwrap());
        }
        assert!(
            frames
                .iter()
                .all(|f| f.starts_with("event: ssenotify.silent\ndata: {"))
        );
        assert!(frames.iter().all(|f| !f.contains("\nid:")));
        assert!(
            frames[0].contains(r#""silent":{"kind":"silent","since":"2023-11-14T22:13:20.000Z"}"#)
        );
        assert!(frames[1].contains(r#""silent":null"#));
        // Nothing more: the later statuses changed no silence.
        let more = tokio::time::timeout(
            Duration::from_millis(200),
            std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)),
        );
        assert!(more.await.is_err());
        feeder.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn a_quiet_stream_gets_a_keep_alive_comment() {
        let (updates, _) = broadcast::channel(4);
        let (queue, mut body) = queue();
        let wanted = Wanted {
            subscription: None,
            after: None,
        };
        let started = tokio::time::Instant::now();
        let feeder = tokio::spawn(feed(
            updates.subscribe(),
            PathBuf::new(),
            wanted,
            queue,
            CancellationToken::new(),
        ));
        let next = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx));
        let frame = tokio::time::timeout(KEEP_ALIVE * 2, next)
            .await
            .expect("a comment within the keep-alive interval")
            .unwrap()
            .unwrap();
        assert_eq!(frame.into_data().unwrap(), ": keep-alive\n\n");
        assert_eq!(started.elapsed(), KEEP_ALIVE);
        feeder.abort();
    }

    #[tokio::test]
    async fn a_full_queue_refuses_and_a_taken_frame_makes_room() {
        let (queue, mut body) = queue();
        let half = Bytes::from(vec![b'x'; BUFFER / 2]);
        queue.try_push(half.clone()).unwrap();
        queue.try_push(half.clone()).unwrap();
        assert_eq!(queue.try_push(Bytes::from_static(b"y")), Err(Refused::Full));
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        assert!(frame.is_some());
        queue.try_push(Bytes::from_static(b"y")).unwrap();
        drop(body);
        assert_eq!(queue.try_push(Bytes::from_static(b"z")), Err(Refused::Gone));
    }

    #[tokio::test]
    async fn an_event_bigger_than_the_buffer_still_goes_through_an_empty_queue() {
        let (queue, _body) = queue();
        queue.try_push(Bytes::from(vec![b'x'; BUFFER * 2])).unwrap();
        assert_eq!(queue.try_push(Bytes::from_static(b"y")), Err(Refused::Full));
    }
}
