//! A sans-IO HTTP/1.1 client for one request per connection: the request's bytes, the
//! response's head, and the body's framing (Content-Length, chunked, or until the server
//! closes). Bytes in, bytes out; no socket, no clock (the model is h11).
//!
//! Only what an event stream needs: a `GET`, one response, no keep-alive (the connection
//! is the stream's for its whole life, and closed after it). The I/O shell is `lean.rs`.

use std::fmt::Write as _;

use reqwest::Url;
use reqwest::header::{
    CONTENT_LENGTH, HOST, HeaderMap, HeaderName, HeaderValue, TRANSFER_ENCODING, USER_AGENT,
};

/// The largest response head accepted (status line and headers).
pub(crate) const MAX_HEAD: usize = 64 * 1024;
/// The most header fields accepted in a response head.
const MAX_HEADERS: usize = 100;

/// What is wrong with a response, as HTTP/1.1 reads it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum H1Error {
    /// The status line or a header is malformed.
    #[error("invalid HTTP response head: {0}")]
    Head(&'static str),
    /// The head is longer than [`MAX_HEAD`] or has more than [`MAX_HEADERS`] fields.
    #[error("HTTP response head too large (over {MAX_HEAD} bytes or {MAX_HEADERS} fields)")]
    HeadTooLarge,
    /// `Content-Length` is not one number.
    #[error("invalid Content-Length")]
    ContentLength,
    /// The chunked framing is broken.
    #[error("invalid chunked body: {0}")]
    Chunked(&'static str),
    /// The server closed the connection before the response was complete.
    #[error("connection closed before the response was complete")]
    Incomplete,
}

/// The bytes of a `GET` for `url` with `headers` (`Host` added, and `User-Agent` unless
/// `headers` names one).
pub(crate) fn request(url: &Url, headers: &HeaderMap, user_agent: &str) -> Vec<u8> {
    let mut head = String::with_capacity(256);
    let _ = write!(head, "GET {}", url.path());
    if let Some(query) = url.query() {
        let _ = write!(head, "?{query}");
    }
    head.push_str(" HTTP/1.1\r\nhost: ");
    head.push_str(url.host_str().unwrap_or(""));
    if let Some(port) = url.port() {
        let _ = write!(head, ":{port}");
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    let mut line = |name: &HeaderName, value: &HeaderValue| {
        bytes.extend_from_slice(name.as_str().as_bytes());
        bytes.extend_from_slice(b": ");
        bytes.extend_from_slice(value.as_bytes());
        bytes.extend_from_slice(b"\r\n");
    };
    if !headers.contains_key(USER_AGENT) {
        line(
            &USER_AGENT,
            &HeaderValue::from_str(user_agent).unwrap_or(HeaderValue::from_static("ssenotify")),
        );
    }
    for (name, value) in headers {
        if name != HOST {
            line(name, value);
        }
    }
    bytes.extend_from_slice(b"\r\n");
    bytes
}

/// A response's status line and headers.
#[derive(Debug)]
pub(crate) struct Head {
    /// The status code.
    pub status: u16,
    /// Whether the server spoke HTTP/1.0 (its body then always ends with the connection).
    pub http10: bool,
    /// The header fields.
    pub headers: HeaderMap,
}

/// The final response's head at the start of `buf`, and how many bytes it took; `None`
/// while `buf` holds only part of it. Interim (1xx) responses before it are skipped, as
/// the request never asks for one (a 101 is final: it is not an event stream).
pub(crate) fn parse_head(buf: &[u8]) -> Result<Option<(Head, usize)>, H1Error> {
    let mut start = 0;
    loop {
        let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut fields);
        let used = match response.parse(&buf[start..]) {
            Ok(httparse::Status::Complete(used)) => used,
            Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => {
                return Err(H1Error::HeadTooLarge);
            }
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(httparse::Error::TooManyHeaders) => return Err(H1Error::HeadTooLarge),
            Err(error) => return Err(H1Error::Head(head_error(error))),
        };
        let status = response.code.unwrap_or(0);
        if (100..200).contains(&status) && status != 101 {
            start += used;
            continue;
        }
        let mut headers = HeaderMap::with_capacity(response.headers.len());
        for field in response.headers.iter() {
            let name = HeaderName::from_bytes(field.name.as_bytes())
                .map_err(|_| H1Error::Head("invalid header name"))?;
            let value = HeaderValue::from_bytes(field.value)
                .map_err(|_| H1Error::Head("invalid header value"))?;
            headers.append(name, value);
        }
        let head = Head {
            status,
            http10: response.version == Some(0),
            headers,
        };
        return Ok(Some((head, start + used)));
    }
}

fn head_error(error: httparse::Error) -> &'static str {
    match error {
        httparse::Error::Status => "bad status line",
        httparse::Error::Version => "not HTTP/1.x",
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "bad line ending",
        httparse::Error::Token => "invalid token",
        httparse::Error::TooManyHeaders => "too many headers",
    }
}

/// How a response's body is delimited, read from its head (RFC 9112, 6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// No body at all (1xx, 204, 304).
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Until the server closes the connection (what most event streams use).
    UntilClose,
}

impl Framing {
    fn of(head: &Head) -> Result<Self, H1Error> {
        if matches!(head.status, 100..=199 | 204 | 304) {
            return Ok(Self::Empty);
        }
        let codings = head.headers.get_all(TRANSFER_ENCODING);
        if codings.iter().next().is_some() {
            // Only a final `chunked` delimits the body; any other coding runs to the close.
            let last = codings
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .rfind(|c| !c.is_empty());
            let chunked = !head.http10 && last.is_some_and(|c| c.eq_ignore_ascii_case("chunked"));
            return Ok(if chunked {
                Self::Chunked
            } else {
                Self::UntilClose
            });
        }
        let mut length = None;
        for value in head.headers.get_all(CONTENT_LENGTH) {
            for part in value
                .to_str()
                .map_err(|_| H1Error::ContentLength)?
                .split(',')
            {
                let part = part.trim();
                if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(H1Error::ContentLength);
                }
                let n: u64 = part.parse().map_err(|_| H1Error::ContentLength)?;
                if length.is_some_and(|l| l != n) {
                    return Err(H1Error::ContentLength);
                }
                length = Some(n);
            }
        }
        Ok(length.map_or(Self::UntilClose, Self::Length))
    }
}

/// Where the chunked decoder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Reading the size's hex digits (`digits` so far).
    Size { size: u64, digits: u8 },
    /// After the size: spaces, then an extension or the line's end.
    AfterSize { size: u64 },
    /// In a chunk extension, up to the line's end.
    Extension { size: u64 },
    /// After the size line's CR.
    SizeLf { size: u64 },
    /// Inside a chunk's data.
    Data { left: u64 },
    /// After a chunk's data: its CR.
    DataCr,
    /// After a chunk's data: its LF.
    DataLf,
    /// After the last chunk: a trailer line (`empty` while nothing but the line end came).
    Trailer { empty: bool },
    /// After a trailer line's CR.
    TrailerLf { empty: bool },
}

/// The body of one response, de-framed: raw bytes in, body bytes out.
#[derive(Debug)]
pub(crate) struct Body {
    state: BodyState,
}

#[derive(Debug)]
enum BodyState {
    Length(u64),
    Chunked(Chunk),
    UntilClose,
    Done,
}

impl Body {
    /// The decoder for the body that follows `head`.
    pub(crate) fn new(head: &Head) -> Result<Self, H1Error> {
        let state = match Framing::of(head)? {
            Framing::Empty | Framing::Length(0) => BodyState::Done,
            Framing::Length(n) => BodyState::Length(n),
            Framing::Chunked => BodyState::Chunked(Chunk::Size { size: 0, digits: 0 }),
            Framing::UntilClose => BodyState::UntilClose,
        };
        Ok(Self { state })
    }

    /// Whether the whole body has been read.
    pub(crate) fn is_done(&self) -> bool {
        matches!(self.state, BodyState::Done)
    }

    /// Reads `input`, handing each piece of body to `data`; bytes after the body's end are
    /// ignored. Returns whether the body has ended.
    pub(crate) fn feed(
        &mut self,
        mut input: &[u8],
        data: &mut dyn FnMut(&[u8]),
    ) -> Result<bool, H1Error> {
        loop {
            match &mut self.state {
                BodyState::Done => return Ok(true),
                BodyState::UntilClose => {
                    if !input.is_empty() {
                        data(input);
                    }
                    return Ok(false);
                }
                BodyState::Length(left) => {
                    let take = (*left).min(input.len() as u64) as usize;
                    if take > 0 {
                        data(&input[..take]);
                    }
                    *left -= take as u64;
                    if *left == 0 {
                        self.state = BodyState::Done;
                    }
                    return Ok(self.is_done());
                }
                BodyState::Chunked(chunk) => {
                    if input.is_empty() {
                        return Ok(false);
                    }
                    if let Chunk::Data { left } = chunk {
                        let take = (*left).min(input.len() as u64) as usize;
                        data(&input[..take]);
                        *left -= take as u64;
                        if *left == 0 {
                            *chunk = Chunk::DataCr;
                        }
                        input = &input[take..];
                        continue;
                    }
                    let byte = input[0];
                    input = &input[1..];
                    match step(*chunk, byte)? {
                        Some(next) => *chunk = next,
                        None => self.state = BodyState::Done,
                    }
                }
            }
        }
    }

    /// The connection closed: fine for a body that runs to the close or has ended, an error
    /// for one cut short.
    pub(crate) fn eof(&mut self) -> Result<(), H1Error> {
        match self.state {
            BodyState::UntilClose | BodyState::Done => {
                self.state = BodyState::Done;
                Ok(())
            }
            _ => Err(H1Error::Incomplete),
        }
    }
}

/// The chunked decoder's next state after `byte` (`None`: the body ended).
fn step(chunk: Chunk, byte: u8) -> Result<Option<Chunk>, H1Error> {
    let next = match chunk {
        Chunk::Size { size, digits } => match hex(byte) {
            Some(digit) if digits < 16 => Chunk::Size {
                size: size << 4 | u64::from(digit),
                digits: digits + 1,
            },
            Some(_) => return Err(H1Error::Chunked("chunk size too large")),
            None if digits == 0 => return Err(H1Error::Chunked("no chunk size")),
            None => return after_size(size, byte),
        },
        Chunk::AfterSize { size } => return after_size(size, byte),
        Chunk::Extension { size } => match byte {
            b'\r' => Chunk::SizeLf { size },
            b'\n' => return Ok(Some(size_line_done(size))),
            _ => Chunk::Extension { size },
        },
        Chunk::SizeLf { size } if byte == b'\n' => size_line_done(size),
        Chunk::SizeLf { .. } => return Err(H1Error::Chunked("CR without LF after the size")),
        Chunk::Data { .. } => unreachable!("data is consumed in bulk"),
        Chunk::DataCr if byte == b'\r' => Chunk::DataLf,
        Chunk::DataCr | Chunk::DataLf if byte == b'\n' => Chunk::Size { size: 0, digits: 0 },
        Chunk::DataCr | Chunk::DataLf => {
            return Err(H1Error::Chunked("no line end after the chunk's data"));
        }
        Chunk::Trailer { empty } => match byte {
            b'\r' => Chunk::TrailerLf { empty },
            b'\n' if empty => return Ok(None),
            b'\n' => Chunk::Trailer { empty: true },
            _ => Chunk::Trailer { empty: false },
        },
        Chunk::TrailerLf { empty: true } if byte == b'\n' => return Ok(None),
        Chunk::TrailerLf { empty: false } if byte == b'\n' => Chunk::Trailer { empty: true },
        Chunk::TrailerLf { .. } => return Err(H1Error::Chunked("CR without LF in the trailer")),
    };
    Ok(Some(next))
}

/// After the size's digits: optional spaces, an extension, or the line's end.
fn after_size(size: u64, byte: u8) -> Result<Option<Chunk>, H1Error> {
    Ok(Some(match byte {
        b' ' | b'\t' => Chunk::AfterSize { size },
        b';' => Chunk::Extension { size },
        b'\r' => Chunk::SizeLf { size },
        b'\n' => size_line_done(size),
        _ => return Err(H1Error::Chunked("invalid chunk size")),
    }))
}

/// A size line read: its data follows, or (size 0) the trailer.
fn size_line_done(size: u64) -> Chunk {
    if size == 0 {
        Chunk::Trailer { empty: true }
    } else {
        Chunk::Data { left: size }
    }
}

fn hex(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Head {
        parse_head(text.as_bytes()).unwrap().unwrap().0
    }

    /// The body of `raw` fed in pieces of `step` bytes, and whether it ended.
    fn body_in_pieces(head_text: &str, raw: &[u8], step: usize) -> (Vec<u8>, bool) {
        let mut body = Body::new(&head(head_text)).unwrap();
        let mut out = Vec::new();
        let mut ended = body.is_done();
        for piece in raw.chunks(step.max(1)) {
            ended = body.feed(piece, &mut |d| out.extend_from_slice(d)).unwrap();
        }
        (out, ended)
    }

    const CHUNKED: &str = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";

    #[test]
    fn the_request_has_the_target_host_and_headers() {
        let url = Url::parse("http://example.com:8080/a/b?x=1#frag").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("accept", HeaderValue::from_static("text/event-stream"));
        let text = String::from_utf8(request(&url, &headers, "ssenotify/1")).unwrap();
        assert_eq!(
            text,
            "GET /a/b?x=1 HTTP/1.1\r\nhost: example.com:8080\r\nuser-agent: ssenotify/1\r\n\
             accept: text/event-stream\r\n\r\n"
        );
        let url = Url::parse("http://[::1]/").unwrap();
        headers.insert(USER_AGENT, HeaderValue::from_static("mine"));
        let text = String::from_utf8(request(&url, &headers, "ssenotify/1")).unwrap();
        assert!(
            text.starts_with("GET / HTTP/1.1\r\nhost: [::1]\r\n"),
            "{text}"
        );
        assert!(text.contains("user-agent: mine\r\n") && !text.contains("ssenotify/1"));
    }

    #[test]
    fn a_head_is_read_once_complete_and_interim_responses_are_skipped() {
        let text = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: x";
        for cut in 0..text.len() - 7 {
            assert!(parse_head(&text[..cut]).unwrap().is_none(), "cut at {cut}");
        }
        let (parsed, used) = parse_head(text).unwrap().unwrap();
        assert_eq!(parsed.status, 200);
        assert_eq!(&text[used..], b"data: x");
        assert_eq!(parsed.headers["content-type"], "text/event-stream");
        assert!(!parsed.http10);
        assert!(head("HTTP/1.0 200 OK\r\n\r\n").http10);
    }

    #[test]
    fn bad_heads_are_errors() {
        assert!(matches!(
            parse_head(b"HTTP/2 200 OK\r\n\r\n"),
            Err(H1Error::Head(_))
        ));
        assert!(matches!(
            parse_head(b"garbage\r\n\r\n"),
            Err(H1Error::Head(_))
        ));
        let many = format!(
            "HTTP/1.1 200 OK\r\n{}\r\n",
            "a: b\r\n".repeat(MAX_HEADERS + 1)
        );
        assert_eq!(
            parse_head(many.as_bytes()).unwrap_err(),
            H1Error::HeadTooLarge
        );
        let long = format!("HTTP/1.1 200 OK\r\nx: {}", "y".repeat(MAX_HEAD));
        assert_eq!(
            parse_head(long.as_bytes()).unwrap_err(),
            H1Error::HeadTooLarge
        );
    }

    #[test]
    fn chunked_bodies_decode_in_any_pieces() {
        let raw = b"5\r\nhello\r\n1;ext=1\r\n \r\n6  \r\nworld!\r\n0\r\nx-trailer: 1\r\n\r\nafter";
        for step in 1..raw.len() {
            let (out, ended) = body_in_pieces(CHUNKED, raw, step);
            assert_eq!(out, b"hello world!", "step {step}");
            assert!(ended, "step {step}");
        }
        // Bare LF line ends are read too.
        let (out, ended) = body_in_pieces(CHUNKED, b"3\nabc\n0\n\n", 1);
        assert_eq!((out.as_slice(), ended), (&b"abc"[..], true));
    }

    #[test]
    fn broken_chunked_framing_is_an_error() {
        for raw in [
            &b"xyz\r\n"[..],
            b"\r\n",
            b"3\r\nabcX",
            b"11111111111111111\r\n",
            b"3\rX",
        ] {
            let mut body = Body::new(&head(CHUNKED)).unwrap();
            assert!(
                matches!(body.feed(raw, &mut |_| {}), Err(H1Error::Chunked(_))),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn framing_follows_rfc_9112() {
        let length = "HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n";
        assert_eq!(
            body_in_pieces(length, b"abcdef", 1),
            (b"abcd".to_vec(), true)
        );
        let close = "HTTP/1.1 200 OK\r\n\r\n";
        assert_eq!(body_in_pieces(close, b"abc", 2), (b"abc".to_vec(), false));
        let empty = "HTTP/1.1 204 No Content\r\ncontent-length: 9\r\n\r\n";
        assert_eq!(body_in_pieces(empty, b"abc", 2), (Vec::new(), true));
        // Transfer-Encoding wins over Content-Length; HTTP/1.0 has no chunked coding.
        let both = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n";
        assert_eq!(body_in_pieces(both, b"3\r\nabc\r\n0\r\n\r\n", 4).0, b"abc");
        let old = "HTTP/1.0 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
        assert_eq!(body_in_pieces(old, b"3\r\n", 4).0, b"3\r\n");
        let gzip_last = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked, gzip\r\n\r\n";
        assert_eq!(
            body_in_pieces(gzip_last, b"raw", 4),
            (b"raw".to_vec(), false)
        );
        for bad in ["x", "1, 2", "-1", ""] {
            let text = format!("HTTP/1.1 200 OK\r\ncontent-length: {bad}\r\n\r\n");
            assert_eq!(
                Body::new(&head(&text)).unwrap_err(),
                H1Error::ContentLength,
                "{bad}"
            );
        }
        let same = "HTTP/1.1 200 OK\r\ncontent-length: 2, 2\r\n\r\n";
        assert_eq!(body_in_pieces(same, b"abc", 1), (b"ab".to_vec(), true));
    }

    #[test]
    fn a_close_ends_only_a_body_that_runs_to_it() {
        let mut close = Body::new(&head("HTTP/1.1 200 OK\r\n\r\n")).unwrap();
        assert_eq!(close.eof(), Ok(()));
        let mut short = Body::new(&head("HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\n")).unwrap();
        short.feed(b"ab", &mut |_| {}).unwrap();
        assert_eq!(short.eof(), Err(H1Error::Incomplete));
        let mut chunked = Body::new(&head(CHUNKED)).unwrap();
        chunked.feed(b"3\r\nab", &mut |_| {}).unwrap();
        assert_eq!(chunked.eof(), Err(H1Error::Incomplete));
    }
}
