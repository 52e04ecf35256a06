//! [`Client`]: one engine subscription driven by a test, waiting on its updates.

use std::time::Duration;

use ssenotify_sse::{
    Engine, Event, Policy, ReadyState, Settings, StateChange, Subscription, Update, Updates,
};

/// How long a test waits for an update before failing.
pub const WAIT: Duration = Duration::from_secs(10);

/// Settings with fast reconnects, so tests do not wait the 3 s default.
pub fn fast_settings(url: String) -> Settings {
    let mut settings = Settings::new(url);
    settings.policy = Policy {
        initial_reconnect: Duration::from_millis(50),
        ..Policy::default()
    };
    settings
}

/// A subscription on its own engine, read by a test.
pub struct Client {
    /// The engine it runs on (its wake signal, for the sleep tests).
    pub engine: Engine,
    /// The handle, until the test closes or drops it.
    pub subscription: Option<Subscription>,
    /// Its updates.
    pub updates: Updates,
}

impl Client {
    /// Subscribe with `settings`; panics if they are refused.
    pub async fn start(settings: Settings) -> Self {
        let engine = Engine::new();
        let (subscription, updates) = engine.subscribe(settings).await.expect("valid settings");
        Self {
            engine,
            subscription: Some(subscription),
            updates,
        }
    }

    /// The handle; panics once closed.
    pub fn handle(&self) -> &Subscription {
        self.subscription.as_ref().expect("not closed")
    }

    /// The next update; panics after [`WAIT`].
    pub async fn next(&mut self) -> Update {
        tokio::time::timeout(WAIT, self.updates.recv())
            .await
            .expect("an update within the wait")
            .expect("the subscription is still reporting")
    }

    /// The next state change, skipping events.
    pub async fn next_state(&mut self) -> StateChange {
        loop {
            if let Update::State(change) = self.next().await {
                return change;
            }
        }
    }

    /// States up to and including the first one in `state`.
    pub async fn until_state(&mut self, state: ReadyState) -> Vec<StateChange> {
        let mut seen = Vec::new();
        loop {
            let change = self.next_state().await;
            let done = change.ready_state == state;
            seen.push(change);
            if done {
                return seen;
            }
        }
    }

    /// The next `n` events, skipping states.
    pub async fn events(&mut self, n: usize) -> Vec<Event> {
        let mut events = Vec::new();
        while events.len() < n {
            if let Update::Event(event) = self.next().await {
                events.push(event);
            }
        }
        events
    }

    /// Close the subscription and wait for its task.
    pub async fn close(&mut self) {
        if let Some(subscription) = self.subscription.take() {
            subscription.close().await;
        }
    }
}
