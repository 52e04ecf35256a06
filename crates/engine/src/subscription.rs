//! The engine's public face: start subscriptions, control them, receive their updates.

use std::collections::HashMap;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;
use smol_str::SmolStr;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::connection::Connection;
use crate::parse::Parser;
use crate::policy::Policy;
use crate::state::StateChange;

/// How many batches of updates may wait for a slow consumer before the connection stops
/// reading; with [`BATCH_EVENTS`], at most 4096 events are ever queued per subscription.
///
/// Backpressure instead of an unbounded queue: a stalled UI slows the socket read (TCP
/// pushes back on the server) rather than growing memory without bound.
pub const UPDATE_BUFFER: usize = 16;
/// The most events sent as one batch (the events of one socket read, split).
pub const BATCH_EVENTS: usize = 256;

/// A batch of updates as it crosses the channel.
pub(crate) type Batch = VecDeque<Update>;

/// Emptied batches, handed back by the receiver for the connection to fill again.
///
/// Allocating a fresh 20 KiB batch per socket read made glibc consolidate its free lists
/// every time (a tenth of `listen`'s time on a fast stream); recycling them avoids it.
#[derive(Debug, Default)]
pub(crate) struct BatchPool(Mutex<Vec<Batch>>);

impl BatchPool {
    /// An empty batch, recycled when one is available.
    pub(crate) fn take(&self) -> Batch {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .unwrap_or_else(|| VecDeque::with_capacity(BATCH_EVENTS))
    }

    /// Keep an emptied batch for reuse (a few at most).
    fn give(&self, batch: Batch) {
        let mut pool = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if batch.is_empty() && pool.len() < 4 {
            pool.push(batch);
        }
    }
}

/// The receiving end of a subscription's updates, one [`Update`] at a time.
///
/// The connection sends the events of a socket read as batches: a channel operation per
/// event cost more than parsing the event (about a quarter of `listen`'s time).
#[derive(Debug)]
pub struct Updates {
    rx: mpsc::Receiver<Batch>,
    batch: Batch,
    pool: Arc<BatchPool>,
}

impl Updates {
    /// The next update; `None` once the subscription has finished and everything was read.
    pub async fn recv(&mut self) -> Option<Update> {
        loop {
            if let Some(update) = self.batch.pop_front() {
                return Some(update);
            }
            let next = self.rx.recv().await?;
            self.pool.give(std::mem::replace(&mut self.batch, next));
        }
    }

    /// The next update if one is ready now.
    pub fn try_recv(&mut self) -> Option<Update> {
        loop {
            if let Some(update) = self.batch.pop_front() {
                return Some(update);
            }
            let next = self.rx.try_recv().ok()?;
            self.pool.give(std::mem::replace(&mut self.batch, next));
        }
    }

    /// Whether no update is ready now.
    pub fn is_empty(&self) -> bool {
        self.batch.is_empty() && self.rx.is_empty()
    }
}

/// Everything needed to run one subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The `http` or `https` URL of the event stream.
    pub url: String,
    /// Extra request headers, already resolved (no `env:`/`file:` references here).
    pub headers: Vec<(String, String)>,
    /// Credentials sent as the `Authorization` header.
    pub auth: Option<Auth>,
    /// The ID to resume from (sent as `Last-Event-ID` on the first request); empty for none.
    pub last_event_id: String,
    /// Reconnect and limit settings.
    pub policy: Policy,
    /// A PEM file of extra CA certificates trusted for this subscription (self-hosted servers).
    pub extra_ca_file: Option<PathBuf>,
    /// How to resume from a server that sends no `id:` (e.g. ntfy's `?since=`).
    pub resume: Option<Resume>,
}

/// A resume adapter for servers that send no `id:` field.
///
/// `Last-Event-ID` only works when the server sends `id:`. Some servers (ntfy) put a
/// message ID in the JSON data instead and accept it back as a query parameter; the
/// adapter takes the cursor from each event's data and sends it on every reconnect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    /// JSON pointer (RFC 6901) to the cursor in the event data, e.g. `/id`.
    pub pointer: String,
    /// The query parameter that carries the cursor, e.g. `since`.
    pub query: String,
    /// The cursor to start from (from history after a restart); `None` for a fresh start.
    pub cursor: Option<String>,
}

impl Settings {
    /// Settings for `url` with the default policy and nothing else.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            headers: Vec::new(),
            auth: None,
            last_event_id: String::new(),
            policy: Policy::default(),
            extra_ca_file: None,
            resume: None,
        }
    }
}

/// Credentials for the `Authorization` header.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// HTTP Basic: `user:password`, base64-encoded on the wire.
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: String,
    },
    /// `Authorization: Bearer <token>`.
    Bearer {
        /// The token.
        token: String,
    },
}

impl std::fmt::Debug for Auth {
    // Secrets must never reach logs, even through `{:?}` of the settings.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Basic { username, .. } => write!(f, "Basic({username}:***)"),
            Self::Bearer { .. } => f.write_str("Bearer(***)"),
        }
    }
}

/// A dispatched event, owned, as the rest of the program receives it.
///
/// Type and IDs are [`SmolStr`]s: short ones (nearly all) live inline, so handing an event
/// on costs no allocation and no atomic reference count for them, which showed in
/// profiles of fast streams; long ones are shared like an `Arc<str>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// The event type (`message` unless the server named it with `event:`).
    #[serde(rename = "type")]
    pub event_type: SmolStr,
    /// The event's data (lines joined with LF).
    pub data: String,
    /// The last event ID in force at dispatch (empty when none).
    pub last_event_id: SmolStr,
    /// The event's own ID: `last_event_id` when this event's block carried `id:` itself,
    /// `None` when the ID was inherited from an earlier event. Deduplication keys on it.
    #[serde(skip)]
    pub id: Option<SmolStr>,
    /// The resume cursor taken from this event's data by the subscription's [`Resume`]
    /// adapter; `None` without an adapter or when the data holds none.
    #[serde(skip)]
    pub cursor: Option<SmolStr>,
}

/// What a subscription reports, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    /// readyState changed (or a reconnect was rescheduled with a new reason).
    State(StateChange),
    /// An event was dispatched.
    Event(Event),
}

/// Why a subscription could not be started from its settings.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The URL does not parse, or is not `http`/`https`.
    #[error("invalid URL {url:?}: {reason}")]
    Url {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A header name is not a valid HTTP token.
    #[error("invalid header name {name:?}")]
    HeaderName {
        /// The name as given.
        name: String,
    },
    /// A header value holds characters HTTP cannot carry (e.g. a newline).
    #[error("invalid value for header {name:?} (control characters are not allowed)")]
    HeaderValue {
        /// The header's name (the value is not repeated: it may be a secret).
        name: String,
    },
    /// The extra CA file cannot be read or holds no certificate.
    #[error("extra CA file {}: {reason}", path.display())]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The HTTP client could not be built (TLS backend initialisation).
    #[error("HTTP client: {0}")]
    Client(String),
}

/// One client per `ca_file` (`None`: the system's roots only), with the file's modification
/// time when it was read, so a renewed file is read again.
type Clients = HashMap<Option<PathBuf>, (Option<SystemTime>, reqwest::Client)>;

/// The runtime shared by every subscription: HTTP clients and the shutdown token.
///
/// One `reqwest::Client` per distinct extra-CA file rather than one per subscription:
/// each client holds its own TLS root store and connection pool, which would cost hundreds
/// of kilobytes per subscription at a thousand of them.
pub struct Engine {
    shutdown: CancellationToken,
    clients: Mutex<Clients>,
    /// Tells every connection that the machine woke from sleep (the value: how long).
    wake: Arc<watch::Sender<Duration>>,
}

/// Makes every connection of an [`Engine`] reconnect at once (the machine woke from
/// sleep, the network changed); cheap to clone and to keep after the engine is gone.
#[derive(Debug, Clone)]
pub struct Wakeup(Arc<watch::Sender<Duration>>);

impl Wakeup {
    /// Every OPEN connection closes and reconnects with reason "the system woke", with a
    /// fresh backoff; one waiting to reconnect tries at once. `slept` is for that reason.
    pub fn wake(&self, slept: Duration) {
        self.0.send_replace(slept);
    }
}

impl Default for Engine {
    fn default() -> Self {
        Self::new()
    }
}

impl Engine {
    /// An engine with its own shutdown token.
    pub fn new() -> Self {
        Self::with_shutdown(CancellationToken::new())
    }

    /// An engine whose subscriptions all close when `shutdown` is cancelled.
    pub fn with_shutdown(shutdown: CancellationToken) -> Self {
        Self {
            shutdown,
            clients: Mutex::new(HashMap::new()),
            wake: Arc::new(watch::channel(Duration::ZERO).0),
        }
    }

    /// A handle that makes every connection reconnect at once (see [`Wakeup`]).
    pub fn wakeup(&self) -> Wakeup {
        Wakeup(self.wake.clone())
    }

    /// Starts, on the current tokio runtime, the task that reconnects every subscription
    /// when the machine wakes from sleep ([`crate::wake`]); it ends with the engine's
    /// shutdown token.
    pub fn watch_for_sleep(&self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(crate::wake::watch_for_sleep(
            self.wakeup(),
            self.shutdown.clone(),
        ))
    }

    /// The token that closes every subscription of this engine.
    pub fn shutdown_token(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// Start a subscription on the current tokio runtime.
    ///
    /// It begins CONNECTING at once; its updates arrive on the returned receiver. Dropping
    /// the [`Subscription`] closes it, as does the engine's shutdown.
    pub fn subscribe(&self, settings: Settings) -> Result<(Subscription, Updates), SettingsError> {
        let url = parse_url(&settings.url)?;
        let headers = request_headers(&settings)?;
        let client = self.client(settings.extra_ca_file.as_deref())?;
        let parser =
            Parser::with_last_event_id(settings.policy.max_event_size, &settings.last_event_id);
        let (tx, rx) = mpsc::channel(UPDATE_BUFFER);
        let pool = Arc::new(BatchPool::default());
        let (paused_tx, paused_rx) = watch::channel(false);
        let cancel = self.shutdown.child_token();
        let connection = Connection::new(
            client,
            url,
            headers,
            settings.policy,
            parser,
            settings.resume,
            tx,
            pool.clone(),
            paused_rx,
            self.wake.subscribe(),
            cancel.clone(),
        );
        let task = tokio::spawn(connection.run());
        Ok((
            Subscription {
                paused: paused_tx,
                cancel,
                task: Some(task),
            },
            Updates {
                rx,
                batch: Batch::new(),
                pool,
            },
        ))
    }

    fn client(&self, extra_ca: Option<&Path>) -> Result<reqwest::Client, SettingsError> {
        let key = extra_ca.map(Path::to_path_buf);
        // Clients are shared (one connection pool per trust), but a `ca_file` that changed
        // since it was read (a renewed certificate) gets a new client when a subscription
        // using it starts.
        let modified = extra_ca.and_then(|path| std::fs::metadata(path).ok()?.modified().ok());
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((read_at, client)) = clients.get(&key)
            && *read_at == modified
        {
            return Ok(client.clone());
        }
        let client = build_client(extra_ca)?;
        clients.insert(key, (modified, client.clone()));
        Ok(client)
    }
}

/// The handle of one running subscription. Dropping it closes the subscription.
pub struct Subscription {
    paused: watch::Sender<bool>,
    cancel: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl Subscription {
    /// Close the connection and stay CLOSED until resumed; the last event ID is kept.
    pub fn pause(&self) {
        self.paused.send_replace(true);
    }

    /// Reconnect a paused subscription at once, with a fresh backoff.
    pub fn resume(&self) {
        self.paused.send_replace(false);
    }

    /// Whether the subscription is paused.
    pub fn is_paused(&self) -> bool {
        *self.paused.borrow()
    }

    /// Close for good: abort the request (the server sees the socket close), report
    /// CLOSED "closed by user", and wait until the connection task has finished.
    pub async fn close(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            // A panic in the task has already been reported by tokio; closing goes on.
            let _ = task.await;
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

fn parse_url(url: &str) -> Result<reqwest::Url, SettingsError> {
    http_url(url).map_err(|reason| SettingsError::Url {
        url: url.to_owned(),
        reason,
    })
}

/// Parse an absolute `http`/`https` URL: the one check behind subscription URLs, the file
/// validator and click URLs, so all three accept and refuse the same things.
pub(crate) fn http_url(url: &str) -> Result<reqwest::Url, String> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| format!("not an absolute URL ({e}); expected an http:// or https:// URL"))?;
    match parsed.scheme() {
        "http" | "https" => Ok(parsed),
        other => Err(format!(
            "scheme \"{other}\" is not allowed; expected http or https"
        )),
    }
}

/// The headers every request of this subscription carries (all but `Last-Event-ID`).
fn request_headers(settings: &Settings) -> Result<HeaderMap, SettingsError> {
    let mut headers = HeaderMap::new();
    headers.insert(
        reqwest::header::ACCEPT,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(
        reqwest::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    );
    for (name, value) in &settings.headers {
        let header = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| SettingsError::HeaderName { name: name.clone() })?;
        let mut value = HeaderValue::from_str(value.trim())
            .map_err(|_| SettingsError::HeaderValue { name: name.clone() })?;
        if is_sensitive(&header) {
            value.set_sensitive(true);
        }
        headers.insert(header, value);
    }
    if let Some(auth) = &settings.auth {
        let text = match auth {
            Auth::Basic { username, password } => {
                use base64::Engine as _;
                let raw = format!("{username}:{password}");
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(raw)
                )
            }
            Auth::Bearer { token } => format!("Bearer {token}"),
        };
        let mut value = HeaderValue::from_str(&text).map_err(|_| SettingsError::HeaderValue {
            name: "Authorization".into(),
        })?;
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    Ok(headers)
}

/// Headers whose values are secrets: marked so `Debug` output never shows them.
pub fn is_sensitive(name: &HeaderName) -> bool {
    let name = name.as_str();
    matches!(
        name,
        "authorization" | "proxy-authorization" | "cookie" | "x-api-key" | "x-auth-token"
    ) || name.contains("token")
        || name.contains("secret")
        || name.contains("key")
}

fn build_client(extra_ca: Option<&Path>) -> Result<reqwest::Client, SettingsError> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("ssenotify/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(30))
        // Kernel keep-alive probes notice a peer that vanished without a FIN sooner than
        // the idle timeout would on servers that send no keep-alive comments.
        .tcp_keepalive(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::limited(10));
    if let Some(path) = extra_ca {
        let ca_error = |reason: String| SettingsError::CaFile {
            path: path.to_path_buf(),
            reason,
        };
        use rustls::pki_types::{CertificateDer, pem::PemObject as _};
        let pem = std::fs::read(path).map_err(|e| ca_error(e.to_string()))?;
        let certs = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ca_error(format!("not a PEM certificate file: {e}")))?;
        if certs.is_empty() {
            return Err(ca_error("no PEM certificate found".into()));
        }
        // Our own rustls setup, not add_root_certificate: it also trusts a self-signed
        // server certificate given here (tls.rs says why reqwest's cannot).
        builder =
            builder.use_preconfigured_tls(crate::tls::client_config(certs).map_err(ca_error)?);
    }
    builder
        .build()
        .map_err(|e| SettingsError::Client(e.to_string()))
}
