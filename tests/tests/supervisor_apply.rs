//! The supervisor applies a new set by diff: only what changed reconnects; the other
//! servers see no new request.

use std::collections::HashMap;
use std::time::Duration;

use ssenotify_e2e::{Response, Step, TestServer, sse_event};
use ssenotify_sse::{Desired, Engine, ReadyState, Reason, Settings, Supervisor, Tagged, Update};
use tokio::sync::mpsc::Receiver;

const WAIT: Duration = Duration::from_secs(10);

fn holding_server() -> TestServer {
    TestServer::start(|_, n| {
        Response::sse_steps(vec![
            Step::Send(sse_event(None, Some(&n.to_string()), "hello")),
            Step::Hold,
        ])
    })
}

fn desired(id: &str, server: &TestServer, header: &str) -> Desired {
    let mut settings = Settings::new(server.url("/"));
    settings.headers = vec![("X-Version".into(), header.into())];
    Desired {
        id: id.into(),
        settings,
        paused: false,
    }
}

/// Read tagged updates until every id in `ids` has reached `state`.
async fn until_all(updates: &mut Receiver<Tagged>, ids: &[&str], state: ReadyState) {
    let mut pending: HashMap<&str, bool> = ids.iter().map(|id| (*id, true)).collect();
    while pending.values().any(|p| *p) {
        let tagged = tokio::time::timeout(WAIT, updates.recv())
            .await
            .expect("updates keep coming")
            .expect("supervisor alive");
        if let Update::State(change) = &tagged.update
            && change.ready_state == state
            && let Some(p) = pending.get_mut(tagged.id.as_ref())
        {
            *p = false;
        }
    }
}

/// Read tagged updates until `id` dispatched an event with `last_event_id`.
async fn until_event(updates: &mut Receiver<Tagged>, id: &str, last_event_id: &str) {
    loop {
        let tagged = tokio::time::timeout(WAIT, updates.recv())
            .await
            .expect("updates keep coming")
            .expect("supervisor alive");
        if let Update::Event(event) = &tagged.update
            && tagged.id.as_ref() == id
            && event.last_event_id == last_event_id
        {
            return;
        }
    }
}

#[tokio::test]
async fn only_changed_subscriptions_reconnect() {
    let (a, b, c) = (holding_server(), holding_server(), holding_server());
    let (mut supervisor, mut updates) = Supervisor::new(Engine::new());
    let report = supervisor
        .apply(vec![
            desired("a", &a, "1"),
            desired("b", &b, "1"),
            desired("c", &c, "1"),
        ])
        .await;
    assert_eq!(report.started, ["a", "b", "c"]);
    until_all(&mut updates, &["a", "b", "c"], ReadyState::Open).await;

    // b changes a header; c is removed; a is given again unchanged (with an older resume
    // point, which must not matter); d is new.
    let d = holding_server();
    let mut a_again = desired("a", &a, "1");
    a_again.settings.last_event_id = "stale".into();
    let report = supervisor
        .apply(vec![a_again, desired("b", &b, "2"), desired("d", &d, "1")])
        .await;
    assert_eq!(report.unchanged, ["a"]);
    assert_eq!(report.restarted, ["b"]);
    assert_eq!(report.stopped, ["c"]);
    assert_eq!(report.started, ["d"]);
    until_all(&mut updates, &["b", "d"], ReadyState::Open).await;

    let b_requests = b.wait_for_requests(2, WAIT).await.expect("b reconnected");
    assert_eq!(b_requests[1].header("x-version"), Some("2"));
    assert!(c.wait_for_client_close(0, WAIT).await.is_some(), "c closed");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(a.requests().len(), 1, "a's server saw no new request");
    assert_eq!(a.open_connections(), 1, "a kept its socket");
    assert_eq!(c.requests().len(), 1);
    supervisor.shutdown().await;
}

#[tokio::test]
async fn pausing_through_apply_keeps_the_subscription_and_closes_its_socket() {
    let a = holding_server();
    let (mut supervisor, mut updates) = Supervisor::new(Engine::new());
    supervisor.apply(vec![desired("a", &a, "1")]).await;
    // The event with id 0 is what the reconnect after the pause must resume from.
    until_event(&mut updates, "a", "0").await;

    let mut paused = desired("a", &a, "1");
    paused.paused = true;
    let report = supervisor.apply(vec![paused]).await;
    assert_eq!(report.unchanged, ["a"]);
    until_all(&mut updates, &["a"], ReadyState::Closed).await;
    assert!(a.wait_for_client_close(0, WAIT).await.is_some());

    let report = supervisor.apply(vec![desired("a", &a, "1")]).await;
    assert_eq!(report.unchanged, ["a"]);
    until_all(&mut updates, &["a"], ReadyState::Open).await;
    let requests = a.wait_for_requests(2, WAIT).await.unwrap();
    assert_eq!(requests[1].header("last-event-id"), Some("0"));
    supervisor.shutdown().await;
}

#[tokio::test]
async fn a_subscription_that_cannot_start_is_reported_and_the_rest_run() {
    let a = holding_server();
    let (mut supervisor, mut updates) = Supervisor::new(Engine::new());
    let mut broken = desired("broken", &a, "1");
    broken.settings.url = "gopher://nope".into();
    let report = supervisor.apply(vec![desired("a", &a, "1"), broken]).await;
    assert_eq!(report.started, ["a"]);
    assert!(report.failed["broken"].contains("gopher"));
    until_all(&mut updates, &["a"], ReadyState::Open).await;
    supervisor.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_every_socket_and_reports_closed() {
    let servers: Vec<TestServer> = (0..5).map(|_| holding_server()).collect();
    let ids: Vec<String> = (0..5).map(|n| format!("s{n}")).collect();
    let (mut supervisor, mut updates) = Supervisor::new(Engine::new());
    supervisor
        .apply(
            ids.iter()
                .zip(&servers)
                .map(|(id, server)| desired(id, server, "1"))
                .collect(),
        )
        .await;
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    until_all(&mut updates, &id_refs, ReadyState::Open).await;
    let collector = tokio::spawn(async move {
        let mut closed = Vec::new();
        while let Some(tagged) = updates.recv().await {
            if let Update::State(change) = tagged.update
                && change.reason == Reason::ClosedByUser
            {
                closed.push(tagged.id.to_string());
            }
        }
        closed
    });
    supervisor.shutdown().await;
    let mut closed = collector.await.unwrap();
    closed.sort();
    assert_eq!(closed, ids);
    for server in &servers {
        assert!(server.wait_for_client_close(0, WAIT).await.is_some());
    }
}
