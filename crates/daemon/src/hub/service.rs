//! One hub request: its path, its bearer token and its `Last-Event-ID`, checked in that
//! order, then the stream it asked for (or the status that says why not).

use std::path::PathBuf;

use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use ssenotify_protocol::DaemonEvent;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::stream::{self, Body, Wanted};

/// What every request of one hub is answered from.
pub(crate) struct Hub {
    /// The bearer token a request must carry.
    pub token: String,
    /// The daemon's broadcast of everything it does.
    pub updates: broadcast::Sender<DaemonEvent>,
    /// The history database, for catching a client up.
    pub history: PathBuf,
}

/// Answers `request`; a stream's feeder runs on its own task, and cancels `overflow`
/// when the client falls too far behind.
pub(crate) fn answer<B>(
    hub: &Hub,
    request: &Request<B>,
    overflow: CancellationToken,
) -> Response<Body> {
    let subscription = match request.uri().path() {
        "/events" | "/events/" => None,
        path => match path.strip_prefix("/events/") {
            Some(id) if ssenotify_config::validate_id(id).is_ok() => Some(id.to_owned()),
            _ => {
                return plain(
                    StatusCode::NOT_FOUND,
                    "not found: the hub serves /events and /events/<subscription id>\n",
                );
            }
        },
    };
    if request.method() != Method::GET {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "only GET is served\n");
    }
    if !authorized(request.headers(), &hub.token) {
        let mut response = plain(
            StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token: send \"Authorization: Bearer $(ssenotify hub token)\"\n",
        );
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"ssenotify\""),
        );
        return response;
    }
    let after = match request.headers().get("last-event-id").map(|v| v.to_str()) {
        None => None,
        Some(Ok(v)) if v.trim().is_empty() => None,
        Some(Ok(v)) if v.trim().parse::<i64>().is_ok() => v.trim().parse().ok(),
        Some(_) => {
            return plain(
                StatusCode::BAD_REQUEST,
                "Last-Event-ID: expected the id of the last event seen (a history row id, a number)\n",
            );
        }
    };
    // Subscribed before history is read: see stream.rs on the seam.
    let updates = hub.updates.subscribe();
    let (queue, body) = stream::queue();
    let wanted = Wanted {
        subscription,
        after,
    };
    tokio::spawn(stream::feed(
        updates,
        hub.history.clone(),
        wanted,
        queue,
        overflow,
    ));
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // nginx and its kind would otherwise hold events back in their buffer.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// Whether `headers` carry `Authorization: Bearer <token>`; compared in constant time.
fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let (a, b) = (given.trim().as_bytes(), token.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A short plain-text answer.
fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut response = Response::new(stream::text(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(auth).unwrap());
        h
    }

    #[test]
    fn only_the_exact_bearer_token_is_accepted() {
        assert!(authorized(&headers("Bearer abc"), "abc"));
        for wrong in ["Bearer abd", "Bearer ab", "Basic abc", "abc", "Bearer abcd"] {
            assert!(!authorized(&headers(wrong), "abc"), "{wrong}");
        }
        assert!(!authorized(&HeaderMap::new(), "abc"));
    }
}
