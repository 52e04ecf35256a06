//! Small byte formatters for building response bodies.

/// Formats one SSE event (`event:`, `id:`, one `data:` line per data line, blank line).
///
/// `data` is split on `\n` (a `\r` before it is dropped), so `"a\nb"` becomes two
/// `data:` lines that a conforming parser joins back into `"a\nb"`.
pub fn sse_event(event: Option<&str>, id: Option<&str>, data: &str) -> Vec<u8> {
    let mut out = String::new();
    if let Some(event) = event {
        out.push_str("event: ");
        out.push_str(event);
        out.push('\n');
    }
    if let Some(id) = id {
        out.push_str("id: ");
        out.push_str(id);
        out.push('\n');
    }
    for line in data.split('\n') {
        out.push_str("data: ");
        out.push_str(line.strip_suffix('\r').unwrap_or(line));
        out.push('\n');
    }
    out.push('\n');
    out.into_bytes()
}

/// Frames `data` as one `Transfer-Encoding: chunked` chunk; empty `data` yields the final `0` chunk.
///
/// Responses are otherwise sent raw, so a test that wants a chunked SSE stream
/// adds the `Transfer-Encoding` header and sends each piece through this.
pub fn http_chunk(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_with_all_fields_and_multiline_data() {
        assert_eq!(
            sse_event(Some("msg"), Some("7"), "a\r\nb"),
            b"event: msg\nid: 7\ndata: a\ndata: b\n\n"
        );
        assert_eq!(sse_event(None, None, "x"), b"data: x\n\n");
    }

    #[test]
    fn chunk_framing() {
        assert_eq!(
            http_chunk(b"hello, world!!!!"),
            b"10\r\nhello, world!!!!\r\n"
        );
        assert_eq!(http_chunk(b""), b"0\r\n\r\n");
    }
}
