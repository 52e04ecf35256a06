//! [`Engine`]: what subscriptions share (HTTP clients per trust, the shutdown token, the
//! wake signal), and where they are started.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::client::{self, Clients};
use crate::connection::Connection;
use crate::event::{BatchPool, Sink, Tagged, Updates};
use crate::pace::Pacer;
use crate::parse::Parser;
use crate::settings::{Settings, SettingsError, own_headers, parse_url};
use crate::subscription::{Kick, Subscription};
use crate::transport::Transport;
use crate::wake::Wakeup;

/// The runtime shared by every subscription: HTTP clients (one per trust, see
/// `client.rs`), the shutdown token, and the wake signal.
pub struct Engine {
    shutdown: CancellationToken,
    clients: Clients,
    /// Tells every connection that the machine woke from sleep.
    wake: Wakeup,
    /// Connection attempts paced per origin.
    pacer: Pacer,
    /// Emptied update batches, recycled across subscriptions.
    batches: Arc<BatchPool>,
    /// How requests are sent (the lean transport, or the client's).
    transport: Arc<Transport>,
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
            clients: Clients::default(),
            wake: Wakeup::new(),
            pacer: Pacer::default(),
            batches: Arc::default(),
            // The lean transport sends as the clients do.
            transport: Arc::new(Transport::new(
                client::USER_AGENT,
                client::CONNECT_TIMEOUT,
                client::TCP_KEEPALIVE,
            )),
        }
    }

    /// A handle that makes every connection reconnect at once (see [`Wakeup`]).
    pub fn wakeup(&self) -> Wakeup {
        self.wake.clone()
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
    /// the [`Subscription`] closes it, as does the engine's shutdown. The first subscription
    /// of a trust (system roots, or a `ca_file`) reads its certificates on a blocking thread.
    pub async fn subscribe(
        &self,
        settings: Settings,
    ) -> Result<(Subscription, Updates), SettingsError> {
        let (sink, updates) = crate::event::channel(self.batches.clone());
        Ok((self.start(settings, sink).await?, updates))
    }

    /// [`Engine::subscribe`], its updates sent to a channel many subscriptions share,
    /// tagged with `id` (what the [`Supervisor`](crate::Supervisor) merges).
    pub async fn subscribe_shared(
        &self,
        settings: Settings,
        id: Arc<str>,
        merged: mpsc::Sender<Tagged>,
    ) -> Result<Subscription, SettingsError> {
        self.start(settings, Sink::Shared { tx: merged, id }).await
    }

    async fn start(&self, settings: Settings, sink: Sink) -> Result<Subscription, SettingsError> {
        let url = parse_url(&settings.url)?;
        let origin = self.pacer.origin(&url);
        let headers = own_headers(&settings)?;
        let client = self.clients.get(settings.extra_ca_file.as_deref()).await?;
        let parser =
            Parser::with_last_event_id(settings.policy.max_event_size, &settings.last_event_id);
        let (paused_tx, paused_rx) = watch::channel(false);
        let (kick_tx, kick_rx) = watch::channel(Kick::default());
        let cancel = self.shutdown.child_token();
        // Boxed: moved into its task by value, it would be stored there twice.
        let connection = Box::new(Connection::new(
            client,
            self.transport.clone(),
            url,
            headers,
            settings.policy,
            parser,
            settings.resume,
            sink,
            paused_rx,
            kick_rx,
            self.wake.subscribe(),
            cancel.clone(),
            origin,
        ));
        let task = tokio::spawn(connection.run());
        Ok(Subscription {
            paused: paused_tx,
            kick: kick_tx,
            cancel,
            task: Some(task),
        })
    }
}
