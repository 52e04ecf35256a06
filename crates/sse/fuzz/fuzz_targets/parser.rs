//! Fuzz the event-stream parser with arbitrary bodies cut into arbitrary reads.
//!
//! Run from `crates/sse` with `cargo +nightly fuzz run parser -- -dict=fuzz/parser.dict`
//! (add `-max_len=200000` to reach the 64 KiB limit; the default 4 KiB inputs only reach the
//! small one).
//!
//! Input layout: byte 0 holds the number of cut points in its low four bits and picks the
//! limit with bit 4 (64 bytes or 64 KiB); then come two little-endian bytes per cut point,
//! taken modulo the body length; the rest is the body.
//!
//! Checked: no panic; the result (events, retries, comments, error, last event ID, retry)
//! does not depend on the chunking; no event or ID exceeds the limit, so what the parser keeps
//! is bounded; and after any outcome, `reset_stream` leaves a parser that works.

#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use ssenotify_sse::parse::{Output, ParseError, Parser};

/// The limits tried: one the default 4 KiB fuzz inputs hit often, one of realistic size.
const SMALL_LIMIT: usize = 64;
const LARGE_LIMIT: usize = 64 * 1024;

#[derive(Debug, PartialEq, Eq)]
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

/// A lower bound on the raw bytes behind decoded `text`: the limit counts raw bytes, and a
/// 3-byte U+FFFD may stand for a single invalid byte.
fn raw_len_lower_bound(text: &str) -> usize {
    text.len() - 2 * text.matches('\u{FFFD}').count()
}

fn assert_bounded(limit: usize, output: &Output<'_>) {
    if let Output::Event(e) = output {
        // `message` may be the default for an empty type buffer, which holds no bytes.
        let event_type = if e.event_type == "message" {
            0
        } else {
            raw_len_lower_bound(e.event_type)
        };
        let size = raw_len_lower_bound(e.data) + event_type;
        assert!(
            size <= limit,
            "event of at least {size} bytes under a {limit}-byte limit"
        );
        let id = raw_len_lower_bound(e.last_event_id);
        assert!(
            id <= limit,
            "id of at least {id} bytes under a {limit}-byte limit"
        );
    }
}

/// Everything observable about one run.
#[derive(Debug, PartialEq, Eq)]
struct Run {
    out: Vec<Out>,
    result: Result<(), ParseError>,
    last_event_id: String,
    retry: Option<Duration>,
}

fn run(limit: usize, pieces: &[&[u8]]) -> (Parser, Run) {
    let mut parser = Parser::new(limit);
    let mut out = Vec::new();
    let mut result = Ok(());
    for piece in pieces {
        result = parser.feed(piece, |o| {
            assert_bounded(limit, &o);
            out.push(Out::from(o));
        });
        if result.is_err() {
            break;
        }
    }
    let run = Run {
        out,
        result,
        last_event_id: parser.last_event_id().to_owned(),
        retry: parser.retry(),
    };
    (parser, run)
}

fuzz_target!(|input: &[u8]| {
    let Some((&header, rest)) = input.split_first() else {
        return;
    };
    let cut_bytes = 2 * usize::from(header & 0x0F);
    let limit = if header & 0x10 == 0 {
        SMALL_LIMIT
    } else {
        LARGE_LIMIT
    };
    if rest.len() < cut_bytes {
        return;
    }
    let (cuts, body) = rest.split_at(cut_bytes);
    let mut at: Vec<usize> = cuts
        .chunks_exact(2)
        .map(|c| usize::from(u16::from_le_bytes([c[0], c[1]])) % (body.len() + 1))
        .collect();
    at.sort_unstable();
    let mut pieces = Vec::with_capacity(at.len() + 1);
    let mut start = 0;
    for cut in at {
        pieces.push(&body[start..cut]);
        start = cut;
    }
    pieces.push(&body[start..]);

    let (mut parser, chunked) = run(limit, &pieces);
    let (_, whole) = run(limit, &[body]);
    assert_eq!(chunked, whole, "chunked as {pieces:?}");
    assert!(raw_len_lower_bound(parser.last_event_id()) <= limit);

    // Whatever happened, the next response parses normally and keeps the id and retry.
    let id = parser.last_event_id().to_owned();
    let retry = parser.retry();
    parser.reset_stream();
    let mut after = Vec::new();
    parser
        .feed(b"data: ok\n\n", |o| after.push(Out::from(o)))
        .expect("a small event after reset_stream");
    assert_eq!(
        after,
        [Out::Event {
            event_type: "message".to_owned(),
            data: "ok".to_owned(),
            last_event_id: id,
        }]
    );
    assert_eq!(parser.retry(), retry);
});
