//! Recorded requests, scripted responses, and the minimal HTTP/1.1 request parser.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

/// Largest request head accepted; anything bigger is answered with 431 and closed.
pub(crate) const MAX_HEAD: usize = 64 * 1024;
/// Largest request body read; SSE clients only send GETs, so this is just a guard.
pub(crate) const MAX_BODY: usize = 1024 * 1024;

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct Request {
    /// 0-based position among all requests this server received.
    pub index: usize,
    /// 0-based index of the TCP connection it arrived on (see [`crate::ConnectionInfo`]).
    pub conn: usize,
    /// Request method, e.g. `GET`.
    pub method: String,
    /// Request target as sent, including any query string, e.g. `/events?x=1`.
    pub path: String,
    /// Protocol version from the request line, e.g. `HTTP/1.1`.
    pub version: String,
    /// Headers in arrival order, names and values as sent (values trimmed).
    pub headers: Vec<(String, String)>,
    /// Body bytes (empty unless the request carried a `Content-Length`).
    pub body: Vec<u8>,
    /// When the complete request head had been read.
    pub at: Instant,
}

impl Request {
    /// First value of header `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name` (case-insensitive), in arrival order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The path without its query string.
    pub fn path_only(&self) -> &str {
        self.path.split_once('?').map_or(&self.path, |(p, _)| p)
    }

    /// The query string (after `?`), if any.
    pub fn query(&self) -> Option<&str> {
        self.path.split_once('?').map(|(_, q)| q)
    }
}

/// One action in a response's body plan, executed in order after the head is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Write these bytes exactly as given (TCP_NODELAY is on, so they leave at once).
    Send(Vec<u8>),
    /// Pause; a client close during the pause is detected and ends the connection.
    Sleep(Duration),
    /// End the response by closing the socket (sends FIN, after a graceful drain).
    Close,
    /// Keep the socket open until the client closes it or the server is dropped.
    Hold,
    /// Wait until the test opens the gate (one [`Gate::open`] lets one wait pass), so the
    /// rest of the plan follows what the test has already seen arrive.
    Wait(Gate),
}

/// What a [`Step::Wait`] waits for: shared between a test and the responses it scripts.
#[derive(Debug, Clone)]
pub struct Gate(Arc<Semaphore>);

impl Gate {
    /// A closed gate.
    pub fn new() -> Self {
        Self(Arc::new(Semaphore::new(0)))
    }

    /// Let one waiting step (or the next one to wait) pass.
    pub fn open(&self) {
        self.0.add_permits(1);
    }

    /// Resolves when the gate lets this wait pass.
    pub(crate) async fn pass(&self) {
        if let Ok(permit) = self.0.acquire().await {
            permit.forget();
        }
    }
}

impl Default for Gate {
    fn default() -> Self {
        Self::new()
    }
}

/// Two gates are equal when they are the same gate.
impl PartialEq for Gate {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Gate {}

impl Step {
    /// Shorthand for [`Step::Send`] from anything byte-like.
    pub fn send(bytes: impl AsRef<[u8]>) -> Self {
        Step::Send(bytes.as_ref().to_vec())
    }

    /// Shorthand for [`Step::Sleep`] in milliseconds.
    pub fn sleep_ms(ms: u64) -> Self {
        Step::Sleep(Duration::from_millis(ms))
    }
}

/// A scripted response: status line, headers, then a body plan of [`Step`]s.
///
/// Nothing is added implicitly: the head is exactly the status line plus
/// `headers` in order, which is why the constructors spell out
/// `Connection: close` and friends. When the plan runs out without `Hold`, the
/// server closes the socket, so every response is one request per connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code written on the status line.
    pub status: u16,
    /// Reason phrase written on the status line (may be empty).
    pub reason: String,
    /// Header lines, written in order exactly as given.
    pub headers: Vec<(String, String)>,
    /// Body plan, executed after the head.
    pub steps: Vec<Step>,
    /// Wait this long (watching for a client close) before writing anything.
    pub head_delay: Duration,
    /// If true, no status line or headers are written: the steps are the whole response.
    pub raw: bool,
}

impl Response {
    /// A bare response: status line with the standard reason, no headers, no body.
    pub fn new(status: u16) -> Self {
        Response {
            status,
            reason: reason_phrase(status).to_owned(),
            headers: Vec::new(),
            steps: Vec::new(),
            head_delay: Duration::ZERO,
            raw: false,
        }
    }

    /// 200 `text/event-stream` that sends `body` and then closes the socket.
    pub fn sse(body: impl AsRef<[u8]>) -> Self {
        Self::sse_steps(vec![Step::send(body), Step::Close])
    }

    /// 200 `text/event-stream` (no Content-Length, `Connection: close`) with a custom plan.
    pub fn sse_steps(steps: Vec<Step>) -> Self {
        let mut r = Response::new(200)
            .header("Content-Type", "text/event-stream")
            .header("Cache-Control", "no-cache")
            .header("Connection", "close");
        r.steps = steps;
        r
    }

    /// A response with an empty body (e.g. 204, 404, 503), then close.
    ///
    /// `Content-Length: 0` is included except for 1xx/204/304, where RFC 9110
    /// forbids a body and a length header would itself be a protocol error.
    pub fn status(status: u16) -> Self {
        let r = Response::new(status);
        let r = if matches!(status, 100..=199 | 204 | 304) {
            r
        } else {
            r.header("Content-Length", "0")
        };
        r.header("Connection", "close")
    }

    /// A redirect with `Location: location` written verbatim (relative values stay relative).
    pub fn redirect(status: u16, location: &str) -> Self {
        Response::status(status).header("Location", location)
    }

    /// A non-streaming response with `Content-Type` and an exact `Content-Length`.
    pub fn body(status: u16, content_type: &str, body: impl AsRef<[u8]>) -> Self {
        let body = body.as_ref();
        let mut r = Response::new(status)
            .header("Content-Type", content_type)
            .header("Content-Length", &body.len().to_string())
            .header("Connection", "close");
        r.steps = vec![Step::send(body), Step::Close];
        r
    }

    /// Shorthand for a 200 `text/html` page with Content-Length.
    pub fn html(body: &str) -> Self {
        Response::body(200, "text/html; charset=utf-8", body)
    }

    /// A response with no head at all: `steps` are the entire bytes on the wire.
    ///
    /// For malformed status lines, HTTP/1.0 replies, or delaying the head.
    pub fn raw(steps: Vec<Step>) -> Self {
        Response {
            steps,
            raw: true,
            ..Response::new(200)
        }
    }

    /// Sets header `name` to `value`, replacing any existing header of that name (case-insensitive).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match self
            .headers
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(slot) => *slot = (name.to_owned(), value.to_owned()),
            None => self.headers.push((name.to_owned(), value.to_owned())),
        }
        self
    }

    /// Appends a header line even if one of that name exists (for duplicate-header tests).
    pub fn add_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Removes every header named `name` (case-insensitive), e.g. to drop a constructor default.
    pub fn remove_header(mut self, name: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self
    }

    /// Replaces the reason phrase on the status line.
    pub fn reason(mut self, reason: &str) -> Self {
        self.reason = reason.to_owned();
        self
    }

    /// Appends one step to the body plan.
    pub fn step(mut self, step: Step) -> Self {
        self.steps.push(step);
        self
    }

    /// Delays the whole response (head included) by `delay`, e.g. for response-timeout tests.
    pub fn delay_head(mut self, delay: Duration) -> Self {
        self.head_delay = delay;
        self
    }

    /// The exact head bytes this response writes (empty for [`Response::raw`]).
    pub fn head_bytes(&self) -> Vec<u8> {
        if self.raw {
            return Vec::new();
        }
        let mut head = format!("HTTP/1.1 {} {}\r\n", self.status, self.reason);
        for (name, value) in &self.headers {
            head.push_str(name);
            head.push_str(": ");
            head.push_str(value);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        head.into_bytes()
    }
}

/// Standard reason phrase for the codes tests are likely to use; empty otherwise.
fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        410 => "Gone",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

/// A request head parsed from the bytes before `\r\n\r\n`.
pub(crate) struct Head {
    pub method: String,
    pub path: String,
    pub version: String,
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// Declared body length; a missing or unparsable value means no body.
    pub fn content_length(&self) -> usize {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0)
    }
}

/// Position just past the first `\r\n\r\n` in `buf`, if present.
pub(crate) fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// Parses a request head (without the final blank line); `None` if it is not HTTP/1.x.
pub(crate) fn parse_head(head: &[u8]) -> Option<Head> {
    // Lossy so that a stray non-UTF-8 header value is recorded rather than
    // turning the whole request into a 400 the test never sees.
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let mut parts = lines.next()?.split(' ');
    let (method, path, version) = (parts.next()?, parts.next()?, parts.next()?);
    if method.is_empty()
        || path.is_empty()
        || !version.starts_with("HTTP/1.")
        || parts.next().is_some()
    {
        return None;
    }
    let mut headers = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    Some(Head {
        method: method.to_owned(),
        path: path.to_owned(),
        version: version.to_owned(),
        headers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_request_line_and_headers() {
        let raw = b"GET /e?a=1 HTTP/1.1\r\nHost: x\r\nLast-Event-ID:  9 \r\n\r\n";
        let end = head_end(raw).unwrap();
        assert_eq!(end, raw.len());
        let head = parse_head(&raw[..end - 4]).unwrap();
        assert_eq!(
            (head.method.as_str(), head.path.as_str()),
            ("GET", "/e?a=1")
        );
        assert_eq!(head.headers[1], ("Last-Event-ID".into(), "9".into()));
        assert!(parse_head(b"garbage").is_none());
    }

    #[test]
    fn status_heads() {
        assert_eq!(
            Response::status(204).head_bytes(),
            b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"
        );
        assert_eq!(
            Response::redirect(302, "/next").head_bytes(),
            b"HTTP/1.1 302 Found\r\nContent-Length: 0\r\nConnection: close\r\nLocation: /next\r\n\r\n"
        );
        let r = Response::sse("").header("content-type", "text/plain");
        assert_eq!(r.headers[0], ("content-type".into(), "text/plain".into()));
    }
}
