//! The sans-IO `text/event-stream` parser (WHATWG HTML, "Parsing an event stream").
//!
//! Bytes go in, in chunks of any size; fields are interpreted and events come out through
//! a callback, borrowed from the parser's own buffers so that a dispatch allocates nothing.
//! The parser knows nothing of sockets, HTTP or time, which is what lets the tests drive it
//! through every chunking of every vector.
//!
//! Why bytes rather than decoded text: every character that matters to the grammar (CR, LF,
//! `:`, space) is ASCII, and the WHATWG UTF-8 decoder never swallows an ASCII byte into an
//! invalid sequence. So splitting lines on bytes and decoding each value with the standard
//! "maximal subpart" replacement (what [`String::from_utf8_lossy`] does) gives exactly the
//! characters a browser sees, and valid input pays only for one validation pass.

use std::borrow::Cow;
use std::time::Duration;

/// The UTF-8 byte order mark; one at the very start of a response is not part of the stream.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Default cap on one event's buffered size (data + type + the line being read).
///
/// A server can send a line with no end; without a cap that is unbounded memory.
pub const DEFAULT_MAX_EVENT_SIZE: usize = 4 * 1024 * 1024;

/// One dispatched event, borrowed from the parser's buffers until the callback returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRef<'a> {
    /// The event type: the `event:` field, or `message` when it was absent or empty.
    pub event_type: &'a str,
    /// The data buffer with its one trailing LF removed.
    pub data: &'a str,
    /// The last event ID in force when this event was dispatched (may be empty).
    pub last_event_id: &'a str,
}

/// What the parser reports, in stream order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output<'a> {
    /// A blank line dispatched an event.
    Event(EventRef<'a>),
    /// A valid `retry:` field set the reconnection time (applied at once, dispatch or not).
    Retry(Duration),
    /// A comment line (`:`), the server's keep-alive; carried so callers can log it if they wish.
    Comment,
}

/// Why the parser refused to go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The event being assembled (or one line of it) passed the configured maximum.
    #[error("event too large: more than {limit} bytes")]
    EventTooLarge {
        /// The configured maximum, in bytes.
        limit: usize,
    },
}

/// An incremental event-stream parser for one EventSource.
///
/// One parser lives as long as the subscription: the last event ID and the reconnection
/// time carry over from one response to the next; call [`Parser::reset_stream`] when a new
/// response starts.
#[derive(Debug)]
pub struct Parser {
    /// Bytes of a line whose end has not arrived yet. Comment lines are never buffered.
    line: Vec<u8>,
    /// The current partial line is a comment: skip its bytes until the line ends.
    in_comment: bool,
    /// The previous chunk ended with CR: an LF at the start of the next one belongs to it.
    pending_cr: bool,
    /// No line has been completed in this response yet, so a BOM may still be stripped.
    at_stream_start: bool,
    /// The data buffer, as raw bytes (decoded at dispatch; see the module docs).
    data: Vec<u8>,
    /// The event type buffer, as raw bytes.
    event_type: Vec<u8>,
    /// The last event ID buffer: set by `id:`, committed at the next blank line.
    id_buffer: String,
    /// The last event ID string of the event source: what `Last-Event-ID` carries.
    last_event_id: String,
    /// The reconnection time set by the server, if it ever sent a valid `retry:`.
    retry: Option<Duration>,
    /// The cap on data + type + a pending line, in bytes.
    max_event_size: usize,
    /// Scratch space for lossy decoding, so replacement does not allocate per event.
    scratch: String,
}

impl Default for Parser {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_EVENT_SIZE)
    }
}

impl Parser {
    /// A parser that refuses events (or lines) larger than `max_event_size` bytes.
    pub fn new(max_event_size: usize) -> Self {
        Self {
            line: Vec::new(),
            in_comment: false,
            pending_cr: false,
            at_stream_start: true,
            data: Vec::new(),
            event_type: Vec::new(),
            id_buffer: String::new(),
            last_event_id: String::new(),
            retry: None,
            max_event_size,
            scratch: String::new(),
        }
    }

    /// A parser that resumes from a known last event ID (a restart, or `--last-event-id`).
    pub fn with_last_event_id(max_event_size: usize, last_event_id: &str) -> Self {
        let mut parser = Self::new(max_event_size);
        parser.last_event_id.push_str(last_event_id);
        parser.id_buffer.push_str(last_event_id);
        parser
    }

    /// The last event ID string: what the next request sends as `Last-Event-ID`.
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// The reconnection time the server asked for with `retry:`, if it did.
    pub fn retry(&self) -> Option<Duration> {
        self.retry
    }

    /// Forget everything of the current response except the last event ID and retry time.
    ///
    /// This is the spec's end of stream: an incomplete event is discarded, neither its data
    /// nor its `id:` take effect, and the next response may start with a BOM again.
    pub fn reset_stream(&mut self) {
        self.line.clear();
        self.in_comment = false;
        self.pending_cr = false;
        self.at_stream_start = true;
        self.data.clear();
        self.event_type.clear();
        self.id_buffer.clear();
        self.id_buffer.push_str(&self.last_event_id);
        self.shrink_buffers();
    }

    /// Feed the next bytes of the body; every complete line is interpreted at once.
    ///
    /// On error the stream must not be continued: the caller drops the connection and calls
    /// [`Parser::reset_stream`] before the next response.
    pub fn feed<F>(&mut self, mut input: &[u8], mut sink: F) -> Result<(), ParseError>
    where
        F: FnMut(Output<'_>),
    {
        if self.pending_cr && !input.is_empty() {
            self.pending_cr = false;
            if input[0] == b'\n' {
                input = &input[1..];
            }
        }
        while !input.is_empty() {
            let Some(end) = memchr::memchr2(b'\n', b'\r', input) else {
                self.buffer_partial_line(input)?;
                return Ok(());
            };
            if self.in_comment {
                self.in_comment = false;
                sink(Output::Comment);
            } else if self.line.is_empty() {
                self.process_line(&input[..end], &mut sink)?;
            } else {
                self.append_line(&input[..end])?;
                let line = std::mem::take(&mut self.line);
                let result = self.process_line(&line, &mut sink);
                self.line = line;
                self.line.clear();
                result?;
            }
            let after = end + 1;
            if input[end] == b'\r' {
                match input.get(after) {
                    Some(b'\n') => input = &input[after + 1..],
                    Some(_) => input = &input[after..],
                    None => {
                        // The LF that may complete this CRLF is in the next read; the line
                        // itself is already handled, so a blank line dispatches right now.
                        self.pending_cr = true;
                        input = &[];
                    }
                }
            } else {
                input = &input[after..];
            }
        }
        Ok(())
    }

    /// Keep the start of a line whose end is in a later read.
    fn buffer_partial_line(&mut self, bytes: &[u8]) -> Result<(), ParseError> {
        if self.in_comment {
            return Ok(());
        }
        // A line that starts with `:` is a comment (a BOM would start with 0xEF), so its
        // bytes are skipped rather than buffered: keep-alive padding costs no memory.
        if self.line.is_empty() && bytes[0] == b':' {
            self.in_comment = true;
            self.at_stream_start = false;
            return Ok(());
        }
        self.append_line(bytes)
    }

    fn append_line(&mut self, bytes: &[u8]) -> Result<(), ParseError> {
        if self.line.len() + bytes.len() + self.data.len() + self.event_type.len()
            > self.max_event_size
        {
            return Err(self.too_large());
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    fn too_large(&self) -> ParseError {
        ParseError::EventTooLarge {
            limit: self.max_event_size,
        }
    }

    /// Interpret one complete line (without its terminator).
    fn process_line<F>(&mut self, mut line: &[u8], sink: &mut F) -> Result<(), ParseError>
    where
        F: FnMut(Output<'_>),
    {
        if self.at_stream_start {
            self.at_stream_start = false;
            line = line.strip_prefix(BOM).unwrap_or(line);
        }
        if line.is_empty() {
            self.dispatch(sink);
            return Ok(());
        }
        if line[0] == b':' {
            sink(Output::Comment);
            return Ok(());
        }
        let (name, value) = match memchr::memchr(b':', line) {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match name {
            b"data" => {
                if self.data.len() + value.len() + 1 + self.event_type.len() > self.max_event_size
                {
                    return Err(self.too_large());
                }
                self.data.extend_from_slice(value);
                self.data.push(b'\n');
            }
            b"event" => {
                if self.data.len() + value.len() > self.max_event_size {
                    return Err(self.too_large());
                }
                self.event_type.clear();
                self.event_type.extend_from_slice(value);
            }
            b"id" => {
                if !value.contains(&0) {
                    self.id_buffer.clear();
                    self.id_buffer.push_str(&String::from_utf8_lossy(value));
                }
            }
            b"retry" => {
                if !value.is_empty() && value.iter().all(u8::is_ascii_digit) {
                    // Digits beyond u64 milliseconds (584 million years) saturate.
                    let ms = value.iter().fold(0u64, |ms, d| {
                        ms.saturating_mul(10).saturating_add(u64::from(d - b'0'))
                    });
                    let retry = Duration::from_millis(ms);
                    self.retry = Some(retry);
                    sink(Output::Retry(retry));
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The blank-line step: commit the ID, and dispatch if there is data.
    fn dispatch<F>(&mut self, sink: &mut F)
    where
        F: FnMut(Output<'_>),
    {
        if self.last_event_id != self.id_buffer {
            self.last_event_id.clone_from(&self.id_buffer);
        }
        if self.data.is_empty() {
            self.event_type.clear();
            return;
        }
        let data_bytes = &self.data[..self.data.len() - 1];
        // Decode type and data; on the (rare) invalid input, replace into owned buffers.
        let (event_type, data) = match (
            std::str::from_utf8(&self.event_type),
            std::str::from_utf8(data_bytes),
        ) {
            (Ok(t), Ok(d)) => (Cow::Borrowed(t), Cow::Borrowed(d)),
            _ => {
                self.scratch.clear();
                self.scratch.push_str(&String::from_utf8_lossy(data_bytes));
                (
                    String::from_utf8_lossy(&self.event_type),
                    Cow::Borrowed(self.scratch.as_str()),
                )
            }
        };
        let event_type: &str = if event_type.is_empty() {
            "message"
        } else {
            &event_type
        };
        sink(Output::Event(EventRef {
            event_type,
            data: &data,
            last_event_id: &self.last_event_id,
        }));
        self.data.clear();
        self.event_type.clear();
        self.shrink_buffers();
    }

    /// Give back memory after a huge event, so one 4 MiB burst does not pin 4 MiB forever.
    fn shrink_buffers(&mut self) {
        const KEEP: usize = 64 * 1024;
        for buf in [&mut self.data, &mut self.line] {
            if buf.capacity() > KEEP && buf.is_empty() {
                buf.shrink_to(KEEP);
            }
        }
        if self.scratch.capacity() > KEEP {
            self.scratch = String::new();
        }
    }
}

#[cfg(test)]
mod tests;
