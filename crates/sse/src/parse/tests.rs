//! What the shared vectors cannot show: exact chunk boundaries (BOM, CR, UTF-8), the
//! `reset_stream` and `with_last_event_id` contracts, the size limit; and a property test
//! against a deliberately naive reference model of the spec.

use std::time::Duration;

use proptest::prelude::*;

use super::{BOM, DEFAULT_MAX_EVENT_SIZE, Output, ParseError, Parser};

/// An owned [`Output`], so results of different runs can be compared.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Out {
    Event {
        event_type: String,
        data: String,
        last_event_id: String,
    },
    Retry(Duration),
    Comment,
}

impl From<Output<'_>> for Out {
    fn from(output: Output<'_>) -> Self {
        match output {
            Output::Event(e) => Out::Event {
                event_type: e.event_type.to_owned(),
                data: e.data.to_owned(),
                last_event_id: e.last_event_id.to_owned(),
            },
            Output::Retry(retry) => Out::Retry(retry),
            Output::Comment => Out::Comment,
        }
    }
}

fn ev(event_type: &str, data: &str, last_event_id: &str) -> Out {
    Out::Event {
        event_type: event_type.to_owned(),
        data: data.to_owned(),
        last_event_id: last_event_id.to_owned(),
    }
}

fn ms(ms: u64) -> Out {
    Out::Retry(Duration::from_millis(ms))
}

/// Feed `pieces` in order, stopping at the first error.
fn feed_pieces<'a>(
    parser: &mut Parser,
    pieces: impl IntoIterator<Item = &'a [u8]>,
) -> (Vec<Out>, Result<(), ParseError>) {
    let mut out = Vec::new();
    for piece in pieces {
        if let Err(e) = parser.feed(piece, |o| out.push(Out::from(o))) {
            return (out, Err(e));
        }
    }
    (out, Ok(()))
}

/// Feed one read that must not fail, and return what that very call reported.
fn feed(parser: &mut Parser, bytes: &[u8]) -> Vec<Out> {
    let (out, result) = feed_pieces(parser, [bytes]);
    result.expect("feed failed");
    out
}

/// The chunkings the spec says must not matter: whole, bytewise, and cut in two anywhere.
fn chunkings(body: &[u8]) -> Vec<(String, Vec<&[u8]>)> {
    let mut all = vec![
        ("whole".to_owned(), vec![body]),
        ("one byte at a time".to_owned(), body.chunks(1).collect()),
    ];
    for cut in 0..=body.len() {
        all.push((format!("cut at {cut}"), vec![&body[..cut], &body[cut..]]));
    }
    all
}

/// `body` gives exactly `expected`, and no error, however it is cut.
fn assert_outputs(body: &[u8], expected: &[Out]) {
    for (how, pieces) in chunkings(body) {
        let (out, result) = feed_pieces(&mut Parser::default(), pieces);
        assert_eq!(result, Ok(()), "{body:?} [{how}]");
        assert_eq!(out, expected, "{body:?} [{how}]");
    }
}

/// `body` fails with `EventTooLarge` under `limit`, however it is cut.
fn assert_too_large(limit: usize, body: &[u8]) {
    let mut cases = vec![
        ("whole".to_owned(), vec![body]),
        ("one byte at a time".to_owned(), body.chunks(1).collect()),
    ];
    for size in [7, 100, 4096] {
        cases.push((format!("reads of {size}"), body.chunks(size).collect()));
    }
    for (how, pieces) in cases {
        let (_, result) = feed_pieces(&mut Parser::new(limit), pieces);
        assert_eq!(
            result,
            Err(ParseError::EventTooLarge { limit }),
            "{} bytes [{how}]",
            body.len()
        );
    }
}

#[test]
fn bom_split_across_chunks_is_stripped() {
    // `assert_outputs` cuts inside the BOM at every position; spell out the worst ones too.
    let body = b"\xEF\xBB\xBFdata: a\n\n";
    assert_outputs(body, &[ev("message", "a", "")]);
    for pieces in [
        vec![&body[..1], &body[1..]],
        vec![&body[..2], &body[2..]],
        vec![&body[..1], &body[1..2], &body[2..3], &body[3..]],
    ] {
        let (out, result) = feed_pieces(&mut Parser::default(), pieces.clone());
        assert_eq!(result, Ok(()));
        assert_eq!(out, [ev("message", "a", "")], "{pieces:?}");
    }
    // A BOM before a comment leaves a comment, in whichever reads it comes.
    assert_outputs(
        b"\xEF\xBB\xBF:keep-alive\ndata: b\n\n",
        &[Out::Comment, ev("message", "b", "")],
    );
}

#[test]
fn second_bom_is_ordinary_text() {
    // After the first BOM is dropped, the second one is part of the field name `\u{FEFF}data`,
    // which is unknown, so nothing is dispatched.
    assert_outputs(b"\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\n", &[]);
    // Only the very start of the response may lose a BOM, not the start of a later line.
    assert_outputs(
        b"\xEF\xBB\xBFdata: a\n\n\xEF\xBB\xBFdata: b\n\n",
        &[ev("message", "a", "")],
    );
    assert_outputs(b"\n\xEF\xBB\xBFdata: a\n\n", &[]);
    assert_outputs(
        b"data: \xEF\xBB\xBFx\n\n",
        &[ev("message", "\u{FEFF}x", "")],
    );
}

#[test]
fn bom_is_stripped_at_the_start_of_every_response() {
    let mut parser = Parser::default();
    assert_eq!(
        feed(&mut parser, b"\xEF\xBB\xBFdata: a\n\n"),
        [ev("message", "a", "")]
    );
    parser.reset_stream();
    assert_eq!(
        feed(&mut parser, b"\xEF\xBB\xBFdata: b\n\n"),
        [ev("message", "b", "")]
    );
    parser.reset_stream();
    assert_eq!(feed(&mut parser, b"\xEF"), []);
    assert_eq!(
        feed(&mut parser, b"\xBB\xBFdata: c\n\n"),
        [ev("message", "c", "")]
    );
    // Without a reset, the same bytes are just an unknown field.
    assert_eq!(feed(&mut parser, b"\xEF\xBB\xBFdata: d\n\n"), []);
}

#[test]
fn cr_at_the_end_of_a_read_dispatches_in_that_read() {
    let mut parser = Parser::default();
    assert_eq!(feed(&mut parser, b"data: a\r"), []);
    // The blank line is complete at its CR: the event must not wait for the next byte.
    assert_eq!(feed(&mut parser, b"\r"), [ev("message", "a", "")]);
    // This LF completes that CRLF; it is not one more blank line.
    assert_eq!(feed(&mut parser, b"\n"), []);
    assert_eq!(
        feed(&mut parser, b"data: b\r\n\r"),
        [ev("message", "b", "")]
    );
    assert_eq!(feed(&mut parser, b""), []);
    assert_eq!(
        feed(&mut parser, b"\ndata: c\n\r"),
        [ev("message", "c", "")]
    );
    assert_eq!(feed(&mut parser, b"data: d\r\r"), [ev("message", "d", "")]);
}

#[test]
fn lf_after_a_cr_in_the_previous_read_is_not_a_blank_line() {
    // Were the LF a blank line, `a` would be dispatched on its own.
    let mut parser = Parser::default();
    assert_eq!(feed(&mut parser, b"data: a\r"), []);
    assert_eq!(feed(&mut parser, b""), []);
    assert_eq!(
        feed(&mut parser, b"\ndata: b\n\n"),
        [ev("message", "a\nb", "")]
    );
}

#[test]
fn reset_stream_discards_the_partial_event_but_keeps_id_and_retry() {
    let mut parser = Parser::default();
    assert_eq!(
        feed(&mut parser, b"retry: 1234\nid: 1\ndata: a\n\n"),
        [ms(1234), ev("message", "a", "1")]
    );
    // An incomplete block: its retry applies at once, its id and data wait for a blank line.
    assert_eq!(
        feed(
            &mut parser,
            b"id: 2\nevent: x\ndata: partial\nretry: 5678\ndata: unterminated"
        ),
        [ms(5678)]
    );
    assert_eq!(parser.last_event_id(), "1");
    parser.reset_stream();
    assert_eq!(parser.last_event_id(), "1");
    assert_eq!(parser.retry(), Some(Duration::from_millis(5678)));
    // A blank line first: it must commit the kept id, not the discarded `2`.
    assert_eq!(feed(&mut parser, b"\n"), []);
    assert_eq!(parser.last_event_id(), "1");
    assert_eq!(feed(&mut parser, b"data: b\n\n"), [ev("message", "b", "1")]);
}

#[test]
fn reset_stream_forgets_a_pending_cr() {
    let mut parser = Parser::default();
    assert_eq!(feed(&mut parser, b"data: a\r"), []);
    parser.reset_stream();
    // The LF is the new response's first line (blank), so the BOM after it is not at the start
    // of the response: `\u{FEFF}data` is an unknown field. A CR remembered across the reset would
    // swallow the LF and let the BOM be stripped.
    assert_eq!(feed(&mut parser, b"\n\xEF\xBB\xBFdata: b\n\n"), []);
    assert_eq!(feed(&mut parser, b"data: c\n\n"), [ev("message", "c", "")]);
}

#[test]
fn reset_stream_forgets_a_partial_comment() {
    let mut parser = Parser::default();
    assert_eq!(feed(&mut parser, b":keep"), []);
    parser.reset_stream();
    assert_eq!(feed(&mut parser, b"data: a\n\n"), [ev("message", "a", "")]);
}

#[test]
fn with_last_event_id_resumes_from_that_id() {
    let mut parser = Parser::with_last_event_id(DEFAULT_MAX_EVENT_SIZE, "42");
    assert_eq!(parser.last_event_id(), "42");
    // A blank line commits the id buffer, which must start as the resumed id.
    assert_eq!(feed(&mut parser, b"\n"), []);
    assert_eq!(parser.last_event_id(), "42");
    assert_eq!(
        feed(&mut parser, b"data: a\n\n"),
        [ev("message", "a", "42")]
    );
    assert_eq!(feed(&mut parser, b"id: 7\n"), []);
    parser.reset_stream();
    assert_eq!(parser.last_event_id(), "42");
    assert_eq!(feed(&mut parser, b"id\n\n"), []);
    assert_eq!(parser.last_event_id(), "");
}

#[test]
fn retry_with_huge_digit_strings_saturates() {
    let max = Duration::from_millis(u64::MAX);
    let just_over = "18446744073709551616";
    let huge = "9".repeat(1000);
    for digits in ["18446744073709551615", just_over, &huge] {
        let body = format!("retry: {digits}\n");
        assert_outputs(body.as_bytes(), &[Out::Retry(max)]);
        let mut parser = Parser::default();
        feed(&mut parser, body.as_bytes());
        assert_eq!(parser.retry(), Some(max), "{digits}");
    }
    // Leading zeros are an ordinary base-ten integer, not a huge one.
    let zeros = format!("retry: {}42\n", "0".repeat(100));
    assert_outputs(zeros.as_bytes(), &[ms(42)]);
    assert_outputs(b"retry: 0\n", &[ms(0)]);
}

#[test]
fn data_growing_past_the_limit_is_an_error() {
    let line = format!("data: {}\n", "x".repeat(100));
    // Ten lines of data fit well under 4 KiB, and a blank line frees them...
    let mut body = line.repeat(10);
    body.push('\n');
    let ten = std::iter::repeat_n("x".repeat(100), 10).collect::<Vec<_>>();
    assert_eq!(
        feed_pieces(&mut Parser::new(4096), [body.as_bytes()]).0,
        [ev("message", &ten.join("\n"), "")]
    );
    // ...so a hundred such events in a row are fine: the limit is per event.
    let many = body.repeat(100);
    let (out, result) = feed_pieces(&mut Parser::new(4096), many.as_bytes().chunks(333));
    assert_eq!(result, Ok(()));
    assert_eq!(out.len(), 100);
    // But one event of a hundred such lines is 10 KiB of data.
    assert_too_large(4096, line.repeat(100).as_bytes());
}

#[test]
fn unterminated_line_past_the_limit_is_an_error() {
    for field in ["data: ", "foo: ", "id: ", ""] {
        let body = format!("{field}{}", "x".repeat(2048));
        assert_too_large(1024, body.as_bytes());
    }
}

#[test]
fn complete_line_past_the_limit_is_an_error_however_it_arrives() {
    // Whether a line came in one read or many must not decide whether it is too large: a
    // huge `id:` or unknown field is memory all the same (the id is even kept for good).
    for field in ["id: ", "foo: ", "retry: ", "event: ", "data: "] {
        let body = format!("{field}{}\n\ndata: a\n\n", "1".repeat(2048));
        assert_too_large(1024, body.as_bytes());
    }
}

#[test]
fn long_comment_is_neither_an_error_nor_buffered() {
    const LIMIT: usize = 1024;
    let comment = [b":".as_slice(), &vec![b'x'; 10 * 1024 * 1024]].concat();
    let mut parser = Parser::new(LIMIT);
    for piece in comment.chunks(64 * 1024) {
        assert_eq!(feed(&mut parser, piece), []);
        assert!(
            parser.line.capacity() <= LIMIT,
            "comment bytes were buffered"
        );
    }
    assert_eq!(feed(&mut parser, b"\n"), [Out::Comment]);
    assert_eq!(feed(&mut parser, b"data: a\n\n"), [ev("message", "a", "")]);

    let whole = [comment.as_slice(), b"\r\ndata: b\n\n"].concat();
    let mut parser = Parser::new(LIMIT);
    assert_eq!(
        feed(&mut parser, &whole),
        [Out::Comment, ev("message", "b", "")]
    );
    assert!(
        parser.line.capacity() <= LIMIT,
        "comment bytes were buffered"
    );
}

/// Every byte the parser holds on to between reads.
fn retained(parser: &Parser) -> usize {
    parser.line.capacity()
        + parser.data.capacity()
        + parser.event_type.capacity()
        + parser.id_buffer.capacity()
        + parser.last_event_id.capacity()
}

#[test]
fn a_50_mb_comment_line_is_accepted_and_kept_nowhere() {
    // README, Limits: the size limit is on what the parser keeps; a comment is skipped as it
    // arrives, so it has no limit, after a response's BOM too, however the BOM is cut.
    const LIMIT: usize = 1024;
    let body = [
        b":".as_slice(),
        &vec![b'x'; 50 * 1024 * 1024],
        b"
",
    ]
    .concat();
    for (prefix, first_piece) in [("", 16 * 1024), ("BOM", 2), ("BOM", 3), ("BOM", 16 * 1024)] {
        let bom: &[u8] = if prefix.is_empty() { b"" } else { BOM };
        let stream = [bom, &body, b"data: after\n\n"].concat();
        let (first, rest) = stream.split_at(first_piece);
        let mut parser = Parser::new(LIMIT);
        let mut out = feed(&mut parser, first);
        for piece in rest.chunks(16 * 1024) {
            out.extend(feed(&mut parser, piece));
            assert!(
                retained(&parser) <= 64,
                "{prefix}: {} bytes kept",
                retained(&parser)
            );
        }
        assert_eq!(out, [Out::Comment, ev("message", "after", "")], "{prefix}");
    }
}

#[test]
fn a_50_mb_field_line_is_refused_at_the_limit_with_memory_bounded_by_it() {
    // A field line must be kept until it ends to be understood, so it counts: refused at
    // the limit, having held at most about the limit.
    for field in ["data: ", "id: ", "foo: "] {
        let mut parser = Parser::default();
        let line = [field.as_bytes(), &vec![b'x'; 50 * 1024 * 1024]].concat();
        let mut result = Ok(());
        for piece in line.chunks(16 * 1024) {
            result = parser.feed(piece, |_| {});
            assert!(retained(&parser) <= 2 * DEFAULT_MAX_EVENT_SIZE, "{field}");
            if result.is_err() {
                break;
            }
        }
        assert_eq!(
            result,
            Err(ParseError::EventTooLarge {
                limit: DEFAULT_MAX_EVENT_SIZE
            }),
            "{field}"
        );
    }
}

#[test]
fn too_large_error_names_the_limit() {
    let body = format!("data: {}", "x".repeat(100));
    let (_, result) = feed_pieces(&mut Parser::new(10), [body.as_bytes()]);
    let error = result.expect_err("100 bytes of data passed a 10-byte limit");
    assert!(error.to_string().contains("10 bytes"), "{error}");
}

#[test]
fn invalid_utf8_split_across_chunks() {
    // Valid sequences cut anywhere decode whole (`assert_outputs` tries every cut).
    assert_outputs(b"data: \xE2\x82\xAC\n\n", &[ev("message", "\u{20AC}", "")]);
    assert_outputs(
        b"data: \xF0\x9F\x98\x80\n\n",
        &[ev("message", "\u{1F600}", "")],
    );
    let mut parser = Parser::default();
    for piece in [&b"data: \xF0"[..], b"\x9F", b"\x98", b"\x80\n"] {
        assert_eq!(feed(&mut parser, piece), []);
    }
    assert_eq!(feed(&mut parser, b"\n"), [ev("message", "\u{1F600}", "")]);
    // A truncated sequence is one U+FFFD (its maximal subpart), then decoding goes on.
    assert_outputs(b"data: \xE2\x82x\n\n", &[ev("message", "\u{FFFD}x", "")]);
    assert_outputs(b"data: \xE2\x82\n\n", &[ev("message", "\u{FFFD}", "")]);
    assert_outputs(
        b"data: \xE2\x82\ndata: ok\n\n",
        &[ev("message", "\u{FFFD}\nok", "")],
    );
    // C0 can never start a sequence: it and the orphaned continuation are one U+FFFD each.
    assert_outputs(
        b"data: \xC0\x80\n\n",
        &[ev("message", "\u{FFFD}\u{FFFD}", "")],
    );
    assert_outputs(
        b"id: \xF0\x9F\x98\x80\xFF\ndata: a\n\n",
        &[ev("message", "a", "\u{1F600}\u{FFFD}")],
    );
    assert_outputs(
        b"event: \xE2\x82\xAC\xE2\ndata: a\n\n",
        &[ev("\u{20AC}\u{FFFD}", "a", "")],
    );
}

#[test]
fn id_containing_nul_is_ignored() {
    assert_outputs(
        b"id: 1\n\nid: a\0b\ndata: x\n\n",
        &[ev("message", "x", "1")],
    );
    assert_outputs(
        b"id: 1\ndata: x\n\nid:\0\ndata: y\n\n",
        &[ev("message", "x", "1"), ev("message", "y", "1")],
    );
    // `id\0` is another field name altogether, and unknown.
    assert_outputs(b"id: 1\n\nid\0: 5\ndata: x\n\n", &[ev("message", "x", "1")]);
    // NUL is ordinary in data.
    assert_outputs(b"data: a\0b\n\n", &[ev("message", "a\0b", "")]);
    let mut parser = Parser::default();
    feed(&mut parser, b"id: 1\n\nid: 2\0\n\n");
    assert_eq!(parser.last_event_id(), "1");
}

#[test]
fn comments_are_reported() {
    assert_outputs(
        b":a\n: b\r\n:\rdata: x\n:\n\n",
        &[
            Out::Comment,
            Out::Comment,
            Out::Comment,
            Out::Comment,
            ev("message", "x", ""),
        ],
    );
    // A comment split over reads is reported once, when its line ends.
    let mut parser = Parser::default();
    assert_eq!(feed(&mut parser, b":abc"), []);
    assert_eq!(feed(&mut parser, b"def"), []);
    assert_eq!(feed(&mut parser, b"\r"), [Out::Comment]);
    assert_eq!(feed(&mut parser, b"\n"), []);
    // An unterminated comment at the end of the body is never reported.
    assert_outputs(b":abc", &[]);
}

// --- Property test: the parser against a naive reference model --------------------------

/// The spec, written as plainly as possible: decode the whole body, split it into lines,
/// interpret them one by one. Returns the outputs, the final last event ID and retry.
fn reference(initial_id: &str, body: &[u8]) -> (Vec<Out>, String, Option<Duration>) {
    let body = body.strip_prefix(BOM).unwrap_or(body);
    let text = String::from_utf8_lossy(body);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' | '\n' => {
                if c == '\r' && chars.peek() == Some(&'\n') {
                    chars.next();
                }
                lines.push(std::mem::take(&mut line));
            }
            _ => line.push(c),
        }
    }
    // What is left in `line` never got its end, and the spec discards it at end of stream.

    let mut out = Vec::new();
    let mut data = String::new();
    let mut event_type = String::new();
    let mut id_buffer = initial_id.to_owned();
    let mut last_event_id = initial_id.to_owned();
    let mut retry = None;
    for line in &lines {
        if line.is_empty() {
            last_event_id.clone_from(&id_buffer);
            if data.is_empty() {
                event_type.clear();
                continue;
            }
            if data.ends_with('\n') {
                data.pop();
            }
            let event_type = std::mem::take(&mut event_type);
            out.push(ev(
                if event_type.is_empty() {
                    "message"
                } else {
                    &event_type
                },
                &std::mem::take(&mut data),
                &last_event_id,
            ));
            continue;
        }
        if line.starts_with(':') {
            out.push(Out::Comment);
            continue;
        }
        let (name, value) = match line.split_once(':') {
            Some((name, value)) => (name, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_str(), ""),
        };
        match name {
            "event" => event_type = value.to_owned(),
            "data" => {
                data.push_str(value);
                data.push('\n');
            }
            "id" if !value.contains('\0') => id_buffer = value.to_owned(),
            // An empty value is read as "not only digits" (there is no integer to set).
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                // Only digits, so the only way to fail is overflow: saturate like the parser.
                let millis = value.parse::<u64>().unwrap_or(u64::MAX);
                retry = Some(Duration::from_millis(millis));
                out.push(ms(millis));
            }
            _ => {}
        }
    }
    // Any incomplete event (data, type, id buffer) is dropped with `lines`' leftover.
    (out, last_event_id, retry)
}

/// Everything observable about one run of the real parser.
#[derive(Debug, PartialEq, Eq)]
struct Run {
    out: Vec<Out>,
    result: Result<(), ParseError>,
    last_event_id: String,
    retry: Option<Duration>,
}

fn run_parser<'a>(
    limit: usize,
    initial_id: &str,
    pieces: impl IntoIterator<Item = &'a [u8]>,
) -> Run {
    let mut parser = Parser::with_last_event_id(limit, initial_id);
    let (out, result) = feed_pieces(&mut parser, pieces);
    Run {
        out,
        result,
        last_event_id: parser.last_event_id().to_owned(),
        retry: parser.retry(),
    }
}

fn bytes(s: &'static str) -> BoxedStrategy<Vec<u8>> {
    Just(s.as_bytes().to_vec()).boxed()
}

fn raw(b: &'static [u8]) -> BoxedStrategy<Vec<u8>> {
    Just(b.to_vec()).boxed()
}

fn field_name() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => bytes("data"),
        2 => bytes("event"),
        2 => bytes("id"),
        2 => bytes("retry"),
        1 => bytes("unknown"),
        1 => bytes("Data"),
        1 => bytes(" data"),
        1 => bytes("id\0"),
        1 => bytes(""),
        1 => raw(b"\xEF\xBB\xBFdata"),
    ]
}

fn separator() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => bytes(""),
        3 => bytes(":"),
        3 => bytes(": "),
        1 => bytes(":  "),
        1 => bytes("::"),
    ]
}

/// Bits of a value, favouring what the grammar and the decoder trip on.
fn value_piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => "[a-z]{0,4}".prop_map(String::into_bytes),
        3 => "[0-9]{1,24}".prop_map(String::into_bytes),
        1 => bytes("-1"),
        1 => bytes("1.5"),
        1 => bytes(" "),
        1 => bytes(":"),
        1 => bytes("\0"),
        1 => raw(BOM),
        1 => raw(b"\xFF"),
        1 => raw(b"\xC0"),
        1 => raw(b"\xE2\x82"),
        1 => raw(b"\xF0\x9F\x98"),
        1 => raw(b"\x80"),
        1 => bytes("\u{E9}\u{20AC}\u{1F600}"),
    ]
}

fn terminator() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![3 => bytes("\n"), 2 => bytes("\r"), 2 => bytes("\r\n")]
}

fn field_line() -> impl Strategy<Value = Vec<u8>> {
    (
        field_name(),
        separator(),
        prop::collection::vec(value_piece(), 0..4),
        terminator(),
    )
        .prop_map(|(name, sep, value, end)| [name, sep, value.concat(), end].concat())
}

fn stream_piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => field_line(),
        3 => terminator(),
        1 => (
            prop_oneof![bytes(":"), bytes(": keep-alive"), raw(b":\0\xFF")],
            terminator()
        )
            .prop_map(|(comment, end)| [comment, end].concat()),
        1 => value_piece(),
    ]
}

fn stream() -> impl Strategy<Value = Vec<u8>> {
    (any::<bool>(), prop::collection::vec(stream_piece(), 0..40)).prop_map(|(bom, pieces)| {
        let mut body = if bom { BOM.to_vec() } else { Vec::new() };
        body.extend(pieces.concat());
        body
    })
}

fn initial_id() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just(""), Just("7"), Just("\u{E9}")]
}

fn cuts() -> impl Strategy<Value = Vec<prop::sample::Index>> {
    prop::collection::vec(any::<prop::sample::Index>(), 0..12)
}

/// Cut `body` at the positions `cuts` pick (repeats give empty reads, which must be harmless).
fn split<'a>(body: &'a [u8], cuts: &[prop::sample::Index]) -> Vec<&'a [u8]> {
    let mut at: Vec<usize> = cuts.iter().map(|i| i.index(body.len() + 1)).collect();
    at.sort_unstable();
    let mut pieces = Vec::with_capacity(at.len() + 1);
    let mut start = 0;
    for cut in at {
        pieces.push(&body[start..cut]);
        start = cut;
    }
    pieces.push(&body[start..]);
    pieces
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn parser_matches_reference(body in stream(), id in initial_id(), cuts in cuts()) {
        let (out, last_event_id, retry) = reference(id, &body);
        let expected = Run { out, result: Ok(()), last_event_id, retry };
        let limit = DEFAULT_MAX_EVENT_SIZE;
        prop_assert_eq!(&run_parser(limit, id, [body.as_slice()]), &expected, "whole");
        let pieces = split(&body, &cuts);
        prop_assert_eq!(&run_parser(limit, id, pieces.clone()), &expected, "{:?}", pieces);
        prop_assert_eq!(&run_parser(limit, id, body.chunks(1)), &expected, "bytewise");
    }

    #[test]
    fn limit_does_not_depend_on_chunking(
        body in stream(),
        limit in 0usize..48,
        cuts in cuts(),
    ) {
        let whole = run_parser(limit, "", [body.as_slice()]);
        let pieces = split(&body, &cuts);
        prop_assert_eq!(&run_parser(limit, "", pieces.clone()), &whole, "{:?}", pieces);
        prop_assert_eq!(&run_parser(limit, "", body.chunks(1)), &whole, "bytewise");
        if whole.result.is_ok() {
            let (out, last_event_id, retry) = reference("", &body);
            prop_assert_eq!(whole, Run { out, result: Ok(()), last_event_id, retry });
        }
    }
}
