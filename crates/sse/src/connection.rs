//! One subscription's life over HTTP: the thin async shell around [`crate::parse`] and
//! [`crate::policy`].
//!
//! It owns the request, reads the body into the parser, keeps readyState with a reason for
//! every change, and waits between attempts. Every decision (what a status means, how long
//! to wait) is delegated to the pure policy functions.

use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{
    CONTENT_ENCODING, CONTENT_TYPE, HeaderMap, HeaderValue, LOCATION, RETRY_AFTER,
};

use crate::decode::Decoder;
use crate::transport::{Answer, Body, SendError, Transport};
use std::sync::Arc;

use smol_str::SmolStr;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::client::Trust;
use crate::event::{Event, Sink, Update};
use crate::pace::Origin;
use crate::parse::{Output, Parser};
use crate::policy::{self, HEALTHY_AFTER, Policy, Verdict};
use crate::redirect::Chain;
use crate::settings::{Resume, redacted, standard_headers};
use crate::state::{ReadyState, Reason, StateChange};
use crate::subscription::Kick;

/// How an attempt (a request and, if good, its stream) ended.
enum End {
    /// Try again after the policy's delay.
    Retry {
        reason: Reason,
        retry_after: Option<Duration>,
        healthy: bool,
    },
    /// CLOSED for good (fatal status, wrong content type, 204).
    Closed(Reason),
    /// Nobody receives updates any more: stop quietly.
    Abandoned,
}

impl End {
    fn retry(reason: Reason) -> Self {
        Self::Retry {
            reason,
            retry_after: None,
            healthy: false,
        }
    }
}

/// The state of one running subscription task.
pub(crate) struct Connection {
    client: Trust,
    transport: Arc<Transport>,
    url: reqwest::Url,
    /// Its own headers and Authorization (the standard ones are added per request).
    headers: HeaderMap,
    policy: Policy,
    parser: Parser,
    resume: Option<Resume>,
    /// Where its updates go.
    sink: Sink,
    paused: watch::Receiver<bool>,
    /// Reconnect requests from the handle.
    kick: watch::Receiver<Kick>,
    /// The engine's wake notices (how long the machine slept).
    wake: watch::Receiver<Duration>,
    cancel: CancellationToken,
    /// The pacing its origin's subscriptions share (see `pace.rs`).
    origin: Arc<Origin>,
    /// Events parsed from the current chunk, sent as one batch.
    batch: Vec<Update>,
    /// The last type and ID handed out, reused while they do not change.
    last_type: SmolStr,
    last_id: SmolStr,
}

impl Connection {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        client: Trust,
        transport: Arc<Transport>,
        url: reqwest::Url,
        headers: HeaderMap,
        policy: Policy,
        parser: Parser,
        resume: Option<Resume>,
        sink: Sink,
        paused: watch::Receiver<bool>,
        kick: watch::Receiver<Kick>,
        wake: watch::Receiver<Duration>,
        cancel: CancellationToken,
        origin: Arc<Origin>,
    ) -> Self {
        let last_id = SmolStr::new(parser.last_event_id());
        Self {
            client,
            transport,
            url,
            headers,
            policy,
            parser,
            resume,
            sink,
            paused,
            kick,
            wake,
            cancel,
            origin,
            batch: Vec::new(),
            last_type: SmolStr::new_static("message"),
            last_id,
        }
    }

    /// Run until closed by the user, shut down, or closed for good by the server.
    pub(crate) async fn run(mut self: Box<Self>) {
        if !self
            .emit(ReadyState::Connecting, Reason::Started, None)
            .await
        {
            return;
        }
        // A crowd of subscriptions started together (the daemon starting, an import) does
        // not all knock at once.
        let spread = self.origin.jitter(rand::random::<f64>());
        if !spread.is_zero() {
            tokio::select! {
                _ = self.cancel.cancelled() => {
                    self.closed_by_user().await;
                    return;
                }
                _ = tokio::time::sleep(spread) => {}
            }
        }
        let mut failures: u32 = 0;
        loop {
            if *self.paused.borrow() {
                if !self.emit(ReadyState::Closed, Reason::Paused, None).await {
                    return;
                }
                let resumed = tokio::select! {
                    _ = self.cancel.cancelled() => false,
                    r = self.paused.wait_for(|paused| !*paused) => r.is_ok(),
                };
                if !resumed {
                    self.closed_by_user().await;
                    return;
                }
                failures = 0;
                if !self
                    .emit(ReadyState::Connecting, Reason::Resumed, None)
                    .await
                {
                    return;
                }
            }

            let cancel = self.cancel.clone();
            let mut paused = self.paused.clone();
            // A clone sees what the handle's own receiver has not seen yet.
            let mut kick = self.kick.clone();
            let end = tokio::select! {
                _ = cancel.cancelled() => None,
                _ = wait_paused(&mut paused) => continue,
                // Asked to reconnect: this attempt ends here, the next starts at once.
                _ = changed(&mut kick) => Some(End::retry(Reason::ReconnectRequested)),
                end = self.attempt() => Some(end),
            };
            if let Some(End::Retry {
                reason: Reason::ReconnectRequested,
                ..
            }) = &end
            {
                self.kick.mark_unchanged();
                self.kicked();
            }
            let Some(end) = end else {
                self.closed_by_user().await;
                return;
            };

            let (reason, retry_after, healthy) = match end {
                End::Abandoned => return,
                End::Closed(reason) => {
                    if !self.emit(ReadyState::Closed, reason, None).await || !self.policy.reconnect
                    {
                        return;
                    }
                    // CLOSED for good stays CLOSED until the user asks to reconnect (an
                    // expired token renewed, a moved feed back) or pauses it.
                    tokio::select! {
                        _ = self.cancel.cancelled() => {
                            self.closed_by_user().await;
                            return;
                        }
                        _ = wait_paused(&mut self.paused) => continue,
                        _ = changed(&mut self.kick) => self.kicked(),
                    }
                    failures = 0;
                    if !self
                        .emit(ReadyState::Connecting, Reason::ReconnectRequested, None)
                        .await
                    {
                        return;
                    }
                    continue;
                }
                End::Retry {
                    reason,
                    retry_after,
                    healthy,
                } => (reason, retry_after, healthy),
            };
            if !self.policy.reconnect {
                self.emit(ReadyState::Closed, reason, None).await;
                return;
            }
            if reason == Reason::ReconnectRequested {
                // At once and with a fresh backoff: the user is waiting for it.
                failures = 0;
                if !self.emit(ReadyState::Connecting, reason, None).await {
                    return;
                }
                continue;
            }
            failures = if healthy {
                0
            } else {
                failures.saturating_add(1)
            };
            // The origin's crowd jitter on top: streams dropped by one outage come back
            // spread out (`pace.rs`).
            let delay = policy::reconnect_delay(
                self.parser.retry().unwrap_or(self.policy.initial_reconnect),
                failures,
                self.policy.backoff_cap,
                retry_after,
                rand::random::<f64>(),
            ) + self.origin.jitter(rand::random::<f64>());
            tracing::debug!(url = %self.url_for_logs(), %reason, ?delay, failures, "reconnecting");
            if !self.emit(ReadyState::Connecting, reason, Some(delay)).await {
                return;
            }
            tokio::select! {
                _ = self.cancel.cancelled() => {
                    self.closed_by_user().await;
                    return;
                }
                _ = wait_paused(&mut self.paused) => {}
                // Woken from sleep: the wait was for a network that may be back now.
                _ = woke(&mut self.wake) => {}
                _ = changed(&mut self.kick) => {
                    self.kicked();
                    failures = 0;
                    if !self
                        .emit(ReadyState::Connecting, Reason::ReconnectRequested, None)
                        .await
                    {
                        return;
                    }
                }
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }

    /// One request and, when the response is good, its stream until it ends.
    async fn attempt(&mut self) -> End {
        // Boxed: opening (reqwest's future, or a DNS lookup and a connect; the response's
        // headers) is large and over in a moment; inline, its room would stay in every
        // stream's task for the hours the stream lives.
        match Box::pin(self.open()).await {
            Ok((body, decoder, opened)) => self.stream(body, decoder, opened).await,
            Err(end) => end,
        }
    }

    /// The request (and its redirects) up to a response that opens a stream: its body, the
    /// decoder of its content coding, and the reason OPEN gives; or how the attempt ended.
    async fn open(&mut self) -> Result<(Body, Decoder, Reason), End> {
        self.parser.reset_stream();
        let mut request = standard_headers();
        request.extend(self.headers.clone());
        if !self.parser.last_event_id().is_empty() {
            match HeaderValue::from_str(self.parser.last_event_id()) {
                Ok(value) => {
                    request.insert("last-event-id", value);
                }
                // The parser never keeps an ID with NUL, CR or LF, but one with another
                // control character (U+0001-U+001F but TAB, U+007F) is valid for the spec and a
                // browser sends it raw; HTTP's grammar (RFC 9110, 5.5) forbids it and the http
                // crate cannot build such a header without `unsafe`. Resuming without the
                // header beats never connecting again (README, "Where ssenotify does less").
                Err(_) => tracing::warn!(
                    "the last event ID has a control character HTTP forbids in a header; \
                     reconnecting without Last-Event-ID"
                ),
            }
        }
        // Our turn among the origin's attempts in flight, until the response's headers.
        let origin = self.origin.clone();
        let turn = origin.turn().await;
        let sent = self.send(&request).await;
        drop(turn);
        let (
            Answer {
                status,
                headers,
                body,
            },
            chain,
        ) = sent?;

        let content_type = headers
            .get(CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let http_status = || Reason::HttpStatus {
            status,
            text: reqwest::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("")
                .to_owned(),
        };
        let decoder = match policy::classify(status, content_type.as_deref()) {
            Verdict::Open => {
                let encoding = headers.get(CONTENT_ENCODING).map(|v| v.to_str());
                Decoder::for_encoding(encoding.and_then(Result::ok))
                    .map_err(|encoding| End::Closed(Reason::UnsupportedEncoding { encoding }))?
            }
            Verdict::Stop => return Err(End::Closed(Reason::NoContent)),
            Verdict::Fatal => return Err(End::Closed(http_status())),
            Verdict::WrongContentType => {
                return Err(End::Closed(Reason::WrongContentType {
                    content_type: content_type.unwrap_or_default(),
                }));
            }
            Verdict::Retry => {
                let retry_after = headers
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| policy::parse_retry_after(v, SystemTime::now()));
                return Err(End::Retry {
                    reason: http_status(),
                    retry_after,
                    healthy: false,
                });
            }
        };
        Ok((body, decoder, chain.opened(status)))
    }

    /// An open stream, read until it ends.
    async fn stream(&mut self, mut body: Body, mut decoder: Decoder, opened: Reason) -> End {
        let opened_at = Instant::now();
        if !self.emit(ReadyState::Open, opened, None).await {
            return End::Abandoned;
        }
        let mut dispatched = false;
        let idle = tokio::time::sleep(self.policy.idle_timeout);
        tokio::pin!(idle);
        // The read's callback borrows all of `self`: the wake notices are watched through a
        // clone (it has seen what the original has), put back once the stream ends.
        let mut wake = self.wake.clone();
        let reason = loop {
            // What one read yields, decoded and parsed into `self.batch`; the first error of
            // the content coding or the parser ends the stream.
            let mut fed: Result<(), Reason> = Ok(());
            let read = {
                let mut data = |raw: &[u8]| {
                    if fed.is_err() {
                        return;
                    }
                    let mut parse = |bytes: &[u8]| {
                        if fed.is_ok()
                            && let Err(crate::parse::ParseError::EventTooLarge { limit }) =
                                self.feed(bytes)
                        {
                            fed = Err(Reason::EventTooLarge { limit });
                        }
                    };
                    if let Err(error) = decoder.feed(raw, &mut parse) {
                        fed = Err(Reason::Network {
                            error: format!("error decoding the response body: {error}"),
                        });
                    }
                };
                tokio::select! {
                    read = body.read(&mut data) => Some(read),
                    _ = &mut idle => None,
                    slept = woke(&mut wake) => break Reason::SystemWoke { slept },
                }
            };
            let Some(read) = read else {
                break Reason::IdleTimeout {
                    after: self.policy.idle_timeout,
                };
            };
            match read {
                Ok(more) => {
                    idle.as_mut()
                        .reset(tokio::time::Instant::now() + self.policy.idle_timeout);
                    dispatched |= !self.batch.is_empty();
                    if !self.send_batch().await {
                        return End::Abandoned;
                    }
                    if let Err(reason) = fed {
                        break reason;
                    }
                    if !more {
                        break Reason::StreamEnded;
                    }
                }
                Err(error) => break Reason::Network { error },
            }
        };
        self.wake = wake;
        // A wake says nothing about the server: start the backoff afresh.
        let woken = matches!(reason, Reason::SystemWoke { .. });
        End::Retry {
            reason,
            retry_after: None,
            healthy: woken || dispatched || opened_at.elapsed() >= HEALTHY_AFTER,
        }
    }

    /// Takes the reconnect request's resume point, if it names one.
    fn kicked(&mut self) {
        let from = self.kick.borrow().from.clone();
        if let Some((last_event_id, cursor)) = from {
            self.parser.resume_from(&last_event_id);
            self.last_id = SmolStr::new(&last_event_id);
            if let Some(resume) = &mut self.resume {
                resume.cursor = cursor;
            }
        }
    }

    /// The request and its redirects, up to the response that answers it, with the chain
    /// that led there (each hop gets the headers its origin may have).
    async fn send(&self, headers: &HeaderMap) -> Result<(Answer, Chain), End> {
        let mut chain = Chain::new(self.request_url());
        loop {
            let mut hop_headers = headers.clone();
            chain.withhold(&mut hop_headers);
            // A response's head counts as bytes for the idle timeout too: a server that never
            // answers, or an HTTP/2 request waiting for a free stream on a connection whose
            // server allows fewer than the client assumes, tries again instead of waiting
            // for ever.
            let idle = self.policy.idle_timeout;
            let sent = tokio::time::timeout(
                idle,
                self.transport
                    .send(&self.client, chain.current(), hop_headers),
            )
            .await;
            let answer = match sent {
                Err(_) => return Err(End::retry(Reason::IdleTimeout { after: idle })),
                Ok(Ok(answer)) => answer,
                Ok(Err(SendError::Invalid(error))) => {
                    return Err(End::Closed(Reason::InvalidRequest { error }));
                }
                Ok(Err(SendError::Network(error))) => {
                    return Err(End::retry(Reason::Network { error }));
                }
            };
            match chain.follow(answer.status, answer.headers.get(LOCATION)) {
                Ok(true) => {}
                Ok(false) => return Ok((answer, chain)),
                Err(error) => {
                    return Err(End::Closed(Reason::InvalidRequest {
                        error: error.to_string(),
                    }));
                }
            }
        }
    }

    /// The URL of the next attempt: with the resume cursor, when there is one.
    fn request_url(&self) -> reqwest::Url {
        let mut url = self.url.clone();
        if let Some(Resume {
            query,
            cursor: Some(cursor),
            ..
        }) = &self.resume
        {
            let kept: Vec<(String, String)> = url
                .query_pairs()
                .filter(|(name, _)| name != query.as_str())
                .map(|(n, v)| (n.into_owned(), v.into_owned()))
                .collect();
            url.query_pairs_mut()
                .clear()
                .extend_pairs(kept)
                .append_pair(query, cursor);
        }
        url
    }

    /// Parse one chunk into `self.batch`.
    fn feed(&mut self, bytes: &[u8]) -> Result<(), crate::parse::ParseError> {
        let Self {
            parser,
            resume,
            batch,
            last_type,
            last_id,
            ..
        } = self;
        parser.feed(bytes, |output| {
            if let Output::Event(event) = output {
                if !same(last_type, event.event_type) {
                    *last_type = SmolStr::new(event.event_type);
                }
                if !same(last_id, event.last_event_id) {
                    *last_id = SmolStr::new(event.last_event_id);
                }
                let cursor = resume.as_mut().and_then(|resume| {
                    let counts = resume.events.is_empty()
                        || resume.events.iter().any(|t| t == event.event_type);
                    if !counts {
                        return None;
                    }
                    let cursor = cursor_of(event.data, &resume.pointer)?;
                    resume.cursor = Some(cursor.to_string());
                    Some(cursor)
                });
                batch.push(Update::Event(Event {
                    event_type: last_type.clone(),
                    data: event.data.to_owned(),
                    last_event_id: last_id.clone(),
                    id: (event.has_id && !event.last_event_id.is_empty()).then(|| last_id.clone()),
                    cursor,
                }));
            }
        })
    }

    async fn send_batch(&mut self) -> bool {
        self.sink.send_all(&mut self.batch).await
    }

    async fn closed_by_user(&self) {
        self.emit(ReadyState::Closed, Reason::ClosedByUser, None)
            .await;
    }

    /// Report a state; false when nobody listens any more.
    async fn emit(&self, state: ReadyState, reason: Reason, retry_in: Option<Duration>) -> bool {
        let change = StateChange::now(state, reason, retry_in);
        self.sink.send(Update::State(change)).await
    }

    /// The URL without user info or query, which may hold credentials.
    fn url_for_logs(&self) -> String {
        redacted(&self.url)
    }
}

/// String equality that never calls `memcmp` for two empty strings: glibc's vector
/// `memcmp` reads their dangling pointers with a masked load that costs a ~100 ns
/// microcode assist, which was a quarter of `listen`'s time on a stream without ids.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && (a.is_empty() || a == b)
}

/// The resume cursor at `pointer` in JSON `data`: a string, or a number as text.
fn cursor_of(data: &str, pointer: &str) -> Option<SmolStr> {
    let json: serde_json::Value = serde_json::from_str(data).ok()?;
    match json.pointer(pointer)? {
        serde_json::Value::String(s) if !s.is_empty() => Some(SmolStr::new(s)),
        serde_json::Value::Number(n) => Some(SmolStr::new(n.to_string())),
        _ => None,
    }
}

/// Resolves once the subscription is paused (never, if the handle is gone: cancel covers that).
async fn wait_paused(paused: &mut watch::Receiver<bool>) {
    if paused.wait_for(|p| *p).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Resolves at the handle's next reconnect request (never, once the handle is gone: cancel
/// covers that).
async fn changed(kick: &mut watch::Receiver<Kick>) {
    if kick.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Resolves at the engine's next wake notice, with how long the machine slept (never, once
/// the engine is gone).
async fn woke(wake: &mut watch::Receiver<Duration>) -> Duration {
    match wake.changed().await {
        Ok(()) => *wake.borrow_and_update(),
        Err(_) => std::future::pending().await,
    }
}
