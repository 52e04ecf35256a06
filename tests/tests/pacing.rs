//! Connection attempts paced per origin (`ssenotify_sse::pace`): a crowd of subscriptions
//! started together, or dropped together by an outage, never has more than
//! `MAX_IN_FLIGHT` requests waiting for their response's headers at one server.

use std::time::{Duration, Instant};

use ssenotify_e2e::{Response, Step, TestServer, WAIT, fast_settings, sse_event};
use ssenotify_sse::pace::MAX_IN_FLIGHT;
use ssenotify_sse::{Engine, ReadyState, Subscription, Update, Updates};

/// How long the server keeps each request waiting for its head.
const HEAD_DELAY: Duration = Duration::from_millis(100);

/// The most requests that arrived within any window shorter than [`HEAD_DELAY`].
///
/// Each request holds its place from before it is sent until its head arrives, at least
/// `HEAD_DELAY` after the server got it; so requests arriving within a shorter window all
/// held places at its end at once.
fn most_in_a_window(arrivals: &mut [Instant]) -> usize {
    arrivals.sort();
    let window = HEAD_DELAY - Duration::from_millis(10);
    let mut most = 0;
    let mut first = 0;
    for last in 0..arrivals.len() {
        while arrivals[last] - arrivals[first] >= window {
            first += 1;
        }
        most = most.max(last - first + 1);
    }
    most
}

/// Starts `n` subscriptions to `server` on one engine.
async fn start(engine: &Engine, server: &TestServer, n: usize) -> Vec<(Subscription, Updates)> {
    let mut subs = Vec::new();
    for i in 0..n {
        subs.push(
            engine
                .subscribe(fast_settings(server.url(&format!("/feed/{i}"))))
                .await
                .expect("valid settings"),
        );
    }
    subs
}

/// Waits until every subscription has reported OPEN `times` times.
async fn until_open(subs: &mut [(Subscription, Updates)], times: usize) {
    for (_, updates) in subs.iter_mut() {
        let mut opened = 0;
        while opened < times {
            match tokio::time::timeout(WAIT, updates.recv()).await {
                Ok(Some(Update::State(change))) if change.ready_state == ReadyState::Open => {
                    opened += 1
                }
                Ok(Some(_)) => {}
                other => panic!("no OPEN: {other:?}"),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crowd_of_starts_never_has_more_than_the_limit_in_flight_at_one_origin() {
    let n = 4 * MAX_IN_FLIGHT;
    let server = TestServer::start(|_, _| {
        let mut response = Response::sse_steps(vec![Step::send(b": hi\n\n"), Step::Hold]);
        response.head_delay = HEAD_DELAY;
        response
    });
    let engine = Engine::new();
    let mut subs = start(&engine, &server, n).await;
    until_open(&mut subs, 1).await;
    let mut arrivals: Vec<Instant> = server.requests().iter().map(|r| r.at).collect();
    assert_eq!(arrivals.len(), n);
    let most = most_in_a_window(&mut arrivals);
    assert!(
        most <= MAX_IN_FLIGHT,
        "{most} requests were in flight at once (limit {MAX_IN_FLIGHT})"
    );
    // Paced, not serialised: the places were all used.
    assert!(most > MAX_IN_FLIGHT / 2, "only {most} at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_after_an_outage_are_paced_the_same_way() {
    let n = 4 * MAX_IN_FLIGHT;
    // The first connection of each feed ends at once (the outage); the reconnects are
    // kept waiting for their head, as by a server that is busy coming back.
    let server = TestServer::start(|request, _| {
        if request.header("last-event-id").is_none() {
            Response::sse(sse_event(None, Some("1"), "before"))
        } else {
            let mut response = Response::sse_steps(vec![Step::send(b": back\n\n"), Step::Hold]);
            response.head_delay = HEAD_DELAY;
            response
        }
    });
    let engine = Engine::new();
    let mut subs = start(&engine, &server, n).await;
    until_open(&mut subs, 2).await;
    let mut arrivals: Vec<Instant> = server
        .requests()
        .iter()
        .filter(|r| r.header("last-event-id") == Some("1"))
        .map(|r| r.at)
        .collect();
    assert_eq!(arrivals.len(), n, "every feed reconnected once");
    let most = most_in_a_window(&mut arrivals);
    assert!(
        most <= MAX_IN_FLIGHT,
        "{most} reconnects were in flight at once (limit {MAX_IN_FLIGHT})"
    );
}

#[tokio::test]
async fn separate_origins_do_not_wait_for_each_other() {
    // A slow server's crowd must not hold back another server's subscriptions.
    let slow = TestServer::start(|_, _| {
        let mut response = Response::sse_steps(vec![Step::Hold]);
        response.head_delay = Duration::from_secs(30);
        response
    });
    let fast = TestServer::start(|_, _| Response::sse_steps(vec![Step::Hold]));
    let engine = Engine::new();
    let _stuck = start(&engine, &slow, 2 * MAX_IN_FLIGHT).await;
    slow.wait_for_requests(MAX_IN_FLIGHT, WAIT)
        .await
        .expect("the slow server's places are taken");
    let mut other = start(&engine, &fast, 1).await;
    until_open(&mut other, 1).await;
    assert_eq!(
        slow.requests().len(),
        MAX_IN_FLIGHT,
        "the slow origin still has only its places in flight"
    );
}
