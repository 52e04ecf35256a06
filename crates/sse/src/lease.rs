//! Which of a trust's clients (connection pools) carries a request, so that HTTP/2 streams
//! share connections without ever waiting for a free stream: the accounting behind
//! `client.rs`, generic over the client so that it is tested without a network.
//!
//! A server allows only so many streams on one HTTP/2 connection
//! (SETTINGS_MAX_CONCURRENT_STREAMS) and an event stream never ends, while a pool puts every
//! request to one h2 origin on its one connection: past the server's limit a request would
//! wait for ever. So a request leases a client on which fewer than
//! [`STREAMS_PER_CONNECTION`] requests to its origin are in flight or streaming, and the
//! caller grows another client when every one is full.
//!
//! The first request to an origin on a client that has none open is its pilot: the others
//! wait (at most [`PILOT_WAIT`]) until it has its answer, and then find the HTTP/2
//! connection it opened in the pool. Without that, hyper starts a connection for each of
//! them (it cannot know before ALPN that one will do) and throws away all but one after
//! their TLS handshakes: 1,000 subscriptions starting together cost the server about 800
//! handshakes for 10 connections.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;

/// The most requests to one origin that one client (so one HTTP/2 connection) carries at
/// once: RFC 9113 (6.5.2) asks servers to allow at least 100, and the common servers and
/// proxies allow 100 (HAProxy, Apache, h2o) or more (nginx 128, hyper 200, Go 250).
pub(crate) const STREAMS_PER_CONNECTION: usize = 100;

/// How long the other requests wait for a pilot's answer before going ahead anyway (a server
/// that holds its response head back, a handshake on a slow link).
pub(crate) const PILOT_WAIT: Duration = Duration::from_secs(2);

/// An https origin: host and port. Plain http has nothing to share (HTTP/1.1, one
/// connection per request) and is not counted.
pub(crate) type Origin = (String, u16);

/// The clients of one trust and what each carries; cheap to share behind an `Arc`.
pub(crate) struct Shares<C> {
    /// Never shrinks, so a [`Lease`] names its client by index; an unused client keeps no
    /// connection once its pool's idle timeout has passed.
    clients: Mutex<Vec<Share<C>>>,
}

struct Share<C> {
    client: C,
    origins: HashMap<Origin, Use>,
}

/// What one client carries to one origin.
#[derive(Default)]
struct Use {
    /// Requests in flight or streaming.
    streams: usize,
    /// While the pilot waits for its answer: resolves (closes) when it has it.
    pilot: Option<watch::Receiver<()>>,
}

impl<C: Clone> Shares<C> {
    /// Shares of `first`, the trust's first client.
    pub(crate) fn new(first: C) -> Arc<Self> {
        Arc::new(Self {
            clients: Mutex::new(vec![Share {
                client: first,
                origins: HashMap::new(),
            }]),
        })
    }

    /// A client for one request to `origin` (`None`: plain http, the first client), on which
    /// it is one of at most [`STREAMS_PER_CONNECTION`] to that origin; `grow` makes another
    /// client when all are full (`None` if it cannot: the least busy one is shared then).
    /// Waits for a pilot's answer first (see the module's documentation).
    pub(crate) async fn lease(
        self: &Arc<Self>,
        origin: Option<Origin>,
        grow: impl FnOnce() -> Option<C>,
    ) -> Lease<C> {
        let Some(origin) = origin else {
            return Lease {
                client: lock(&self.clients)[0].client.clone(),
                slot: None,
            };
        };
        let (lease, pilot) = self.take(origin, grow);
        if let Some(mut answered) = pilot {
            // Closed when the pilot has its answer or is gone.
            let _ = tokio::time::timeout(PILOT_WAIT, answered.changed()).await;
        }
        lease
    }

    /// Counts a request to `origin` on the first client with room; the lease, and the
    /// pilot to wait for, if any.
    fn take(
        self: &Arc<Self>,
        origin: Origin,
        grow: impl FnOnce() -> Option<C>,
    ) -> (Lease<C>, Option<watch::Receiver<()>>) {
        let mut clients = lock(&self.clients);
        let streams = |share: &Share<C>| share.origins.get(&origin).map_or(0, |u| u.streams);
        let index = match clients
            .iter()
            .position(|share| streams(share) < STREAMS_PER_CONNECTION)
        {
            Some(index) => index,
            None => match grow() {
                Some(client) => {
                    clients.push(Share {
                        client,
                        origins: HashMap::new(),
                    });
                    clients.len() - 1
                }
                None => (0..clients.len())
                    .min_by_key(|&i| streams(&clients[i]))
                    .unwrap_or(0),
            },
        };
        let share = &mut clients[index];
        let client = share.client.clone();
        let usage = share.origins.entry(origin.clone()).or_default();
        usage.streams += 1;
        let (wait_for, pilot) = match &usage.pilot {
            Some(pilot) => (Some(pilot.clone()), None),
            None if usage.streams == 1 => {
                let (answered, pending) = watch::channel(());
                usage.pilot = Some(pending);
                (None, Some(answered))
            }
            None => (None, None),
        };
        let slot = Slot {
            shares: Arc::clone(self),
            index,
            origin,
            pilot,
        };
        (
            Lease {
                client,
                slot: Some(slot),
            },
            wait_for,
        )
    }
}

/// A client for one request, counted against its connection's streams until dropped.
pub(crate) struct Lease<C> {
    client: C,
    slot: Option<Slot<C>>,
}

impl<C> Lease<C> {
    /// The client to send the request with.
    pub(crate) fn client(&self) -> &C {
        &self.client
    }

    /// The request has its answer (a response head, of whatever status): the requests
    /// waiting for this pilot go.
    pub(crate) fn answered(&mut self) {
        if let Some(slot) = &mut self.slot {
            slot.land();
        }
    }

    /// Whether this request is a pilot still waiting for its answer.
    #[cfg(test)]
    fn is_pilot(&self) -> bool {
        self.slot.as_ref().is_some_and(|slot| slot.pilot.is_some())
    }
}

impl Lease<reqwest::Client> {
    /// Sends `request` (made with [`Lease::client`]) and marks the lease answered when the
    /// response head arrives.
    pub(crate) async fn send(
        &mut self,
        request: reqwest::RequestBuilder,
    ) -> reqwest::Result<reqwest::Response> {
        let response = request.send().await?;
        self.answered();
        Ok(response)
    }
}

/// The stream a [`Lease`] counts, given back when it goes.
struct Slot<C> {
    shares: Arc<Shares<C>>,
    index: usize,
    origin: Origin,
    /// Held by a pilot until it lands: dropping it releases the requests waiting for it.
    pilot: Option<watch::Sender<()>>,
}

impl<C> Slot<C> {
    fn land(&mut self) {
        if self.pilot.take().is_some()
            && let Some(usage) = lock(&self.shares.clients)[self.index]
                .origins
                .get_mut(&self.origin)
        {
            usage.pilot = None;
        }
    }
}

impl<C> Drop for Slot<C> {
    fn drop(&mut self) {
        // A pilot that failed lands too: the others try for themselves.
        self.land();
        let mut clients = lock(&self.shares.clients);
        let origins = &mut clients[self.index].origins;
        if let Some(usage) = origins.get_mut(&self.origin) {
            usage.streams -= 1;
            if usage.streams == 0 {
                origins.remove(&self.origin);
            }
        }
    }
}

/// Locks `mutex`; a panic elsewhere while it was held leaves counts that are still usable.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Option<Origin> {
        Some(("example.com".to_owned(), 443))
    }

    /// Leases to `origin` on `shares`, clients numbered in the order they were grown.
    async fn lease(shares: &Arc<Shares<u32>>, origin: Option<Origin>) -> Lease<u32> {
        let next = lock(&shares.clients).len() as u32;
        shares.lease(origin, || Some(next)).await
    }

    #[tokio::test(start_paused = true)]
    async fn no_client_carries_more_than_its_share_of_one_origin() {
        let shares = Shares::new(0);
        let mut held = Vec::new();
        for _ in 0..250 {
            let mut lease = lease(&shares, origin()).await;
            lease.answered();
            held.push(lease);
        }
        let on = |client| held.iter().filter(|l| *l.client() == client).count();
        assert_eq!((on(0), on(1), on(2)), (100, 100, 50));
        // A stream that ends frees a place on its client, which the next request takes.
        held.remove(10);
        assert_eq!(*lease(&shares, origin()).await.client(), 0);
        // Another origin has the whole of the first client.
        let other = Some(("other.example".to_owned(), 443));
        assert_eq!(*lease(&shares, other).await.client(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn plain_http_is_not_counted() {
        let shares = Shares::new(0);
        let held: Vec<_> =
            futures_util::future::join_all((0..300).map(|_| lease(&shares, None))).await;
        assert!(held.iter().all(|l| *l.client() == 0 && !l.is_pilot()));
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_request_to_an_origin_flies_first_and_the_rest_follow_its_answer() {
        let shares = Shares::new(0);
        let mut pilot = lease(&shares, origin()).await;
        assert!(pilot.is_pilot());
        let follower = tokio::spawn({
            let shares = Arc::clone(&shares);
            async move { lease(&shares, origin()).await }
        });
        tokio::time::sleep(PILOT_WAIT / 2).await;
        assert!(!follower.is_finished(), "waits for the pilot");
        pilot.answered();
        let follower = follower.await.unwrap();
        assert!(!follower.is_pilot());
        // With streams open, nobody waits; once none is, the next request is a pilot again.
        let third = lease(&shares, origin()).await;
        assert!(!third.is_pilot());
        drop((pilot, follower, third));
        assert!(lease(&shares, origin()).await.is_pilot());
    }

    #[tokio::test(start_paused = true)]
    async fn a_pilot_that_fails_or_hangs_holds_nobody_back_for_long() {
        let shares = Shares::new(0);
        let pilot = lease(&shares, origin()).await;
        let follower = tokio::spawn({
            let shares = Arc::clone(&shares);
            async move { lease(&shares, origin()).await }
        });
        tokio::task::yield_now().await;
        drop(pilot);
        assert!(!follower.await.unwrap().is_pilot());

        let _hanging = lease(&shares, origin()).await;
        let started = tokio::time::Instant::now();
        let _late = lease(&shares, origin()).await;
        assert_eq!(started.elapsed(), PILOT_WAIT);
    }
}
