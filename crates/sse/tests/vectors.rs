//! Conformance: every byte-exact vector, under every chunking the spec says must not matter.
//!
//! Sources, all run by every test here:
//! - `tests/data/vectors.json`, the copy kept in the repository so it is self-contained;
//! - the file named by `$SSE_VECTORS`, if set (held-back vectors arrive that way; a relative
//!   path is taken from the crate directory, where cargo runs tests);
//! - `../shared/sse/vectors.json` beside the workspace root, when CI has it checked out
//!   (skipped when byte-identical to the bundled copy, which would only repeat the same work).
//!
//! A vector's result must not depend on how its body is cut into reads: whole, with its own
//! `chunks_base64`, one byte at a time, cut in two at every position, and cut in three at every
//! pair of positions for small vectors. Large vectors are cut at a sample of positions plus the
//! positions around line terminators, where the chunking bugs live, so debug builds stay fast.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use ssenotify_sse::parse::{DEFAULT_MAX_EVENT_SIZE, Output, Parser};

/// Vectors at least this long are cut at sampled positions instead of at every one.
const LARGE: usize = 4 * 1024;
/// Vectors shorter than this are also cut at every pair of positions.
const PAIRWISE_BELOW: usize = 200;
/// Evenly spaced cut positions tried in a large vector, on top of the line boundaries.
const SAMPLES: usize = 256;
/// At most this many line terminators of a large vector get the every-nearby-position treatment.
const BOUNDARY_LINES: usize = 400;
/// Stop collecting failure messages after this many; the count is still reported.
const MAX_REPORTED: usize = 20;
/// Report at most this many chunkings per vector, so one broken vector does not hide others.
const MAX_REPORTED_PER_VECTOR: usize = 3;

#[derive(Deserialize)]
struct VectorFile {
    vectors: Vec<RawVector>,
}

#[derive(Deserialize)]
struct RawVector {
    name: String,
    input_base64: String,
    #[serde(default)]
    chunks_base64: Option<Vec<String>>,
    expected: Vec<Event>,
    #[serde(default)]
    expected_retry: Option<u64>,
}

/// One dispatched event, owned, in the vectors' own field names.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct Event {
    #[serde(rename = "type")]
    event_type: String,
    data: String,
    last_event_id: String,
}

struct Vector {
    /// `file: name`, so a failure says which source the vector came from.
    label: String,
    input: Vec<u8>,
    chunks: Option<Vec<Vec<u8>>>,
    expected: Vec<Event>,
    expected_retry: Option<Duration>,
}

/// What one run of the parser over a body produced.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    events: Vec<Event>,
    retry: Option<Duration>,
}

fn decode(label: &str, field: &str, text: &str) -> Vec<u8> {
    BASE64
        .decode(text)
        .unwrap_or_else(|e| panic!("{label}: bad base64 in {field}: {e}"))
}

fn load(path: &Path) -> Vec<Vector> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read vectors file {}: {e}", path.display()));
    let file: VectorFile = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("malformed vectors file {}: {e}", path.display()));
    let source = path.display();
    file.vectors
        .into_iter()
        .map(|raw| {
            let label = format!("{source}: {}", raw.name);
            let input = decode(&label, "input_base64", &raw.input_base64);
            let chunks = raw.chunks_base64.map(|chunks| {
                chunks
                    .iter()
                    .map(|c| decode(&label, "chunks_base64", c))
                    .collect()
            });
            Vector {
                label,
                input,
                chunks,
                expected: raw.expected,
                expected_retry: raw.expected_retry.map(Duration::from_millis),
            }
        })
        .collect()
}

/// Every vector of every available source, loaded once for all tests of this binary.
fn vectors() -> &'static [Vector] {
    static ALL: OnceLock<Vec<Vector>> = OnceLock::new();
    ALL.get_or_init(|| {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let bundled = manifest.join("tests/data/vectors.json");
        let mut all = load(&bundled);
        if let Some(path) = std::env::var_os("SSE_VECTORS") {
            // A set but unreadable SSE_VECTORS panics in `load`: silently running nothing
            // would pass a check nobody ran.
            all.extend(load(&PathBuf::from(path)));
        }
        let shared = manifest.join("../../../shared/sse/vectors.json");
        if shared.is_file() {
            let same = std::fs::read(&shared).ok() == std::fs::read(&bundled).ok();
            if same {
                eprintln!("{} is identical to the bundled copy", shared.display());
            } else {
                all.extend(load(&shared));
            }
        }
        assert!(!all.is_empty(), "no vectors loaded");
        all
    })
}

/// Feed `input` cut at `cuts` (sorted positions inside it) to a fresh parser.
fn run(input: &[u8], cuts: &[usize]) -> Result<Outcome, String> {
    let mut pieces = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for &cut in cuts {
        pieces.push(&input[start..cut]);
        start = cut;
    }
    pieces.push(&input[start..]);
    run_pieces(pieces)
}

fn run_pieces<'a>(pieces: impl IntoIterator<Item = &'a [u8]>) -> Result<Outcome, String> {
    let mut parser = Parser::new(DEFAULT_MAX_EVENT_SIZE);
    let mut events = Vec::new();
    let mut last_retry = None;
    for piece in pieces {
        parser
            .feed(piece, |output| match output {
                Output::Event(event) => events.push(Event {
                    event_type: event.event_type.to_owned(),
                    data: event.data.to_owned(),
                    last_event_id: event.last_event_id.to_owned(),
                }),
                Output::Retry(retry) => last_retry = Some(retry),
                Output::Comment => {}
            })
            .map_err(|e| format!("parser error: {e}"))?;
    }
    if last_retry != parser.retry() {
        return Err(format!(
            "last Output::Retry was {last_retry:?} but Parser::retry() is {:?}",
            parser.retry()
        ));
    }
    Ok(Outcome {
        events,
        retry: parser.retry(),
    })
}

/// Keep failure output readable when a vector carries a megabyte of data.
fn short(text: &str) -> String {
    const KEEP: usize = 120;
    if text.len() <= KEEP {
        return format!("{text:?}");
    }
    let mut end = KEEP;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:?}... ({} bytes)", &text[..end], text.len())
}

fn describe(events: &[Event]) -> String {
    let mut out = String::from("[");
    for (i, e) in events.iter().enumerate().take(5) {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(
            out,
            "{{type {}, data {}, id {}}}",
            short(&e.event_type),
            short(&e.data),
            short(&e.last_event_id)
        );
    }
    if events.len() > 5 {
        let _ = write!(out, ", ... {} events in all", events.len());
    }
    out.push(']');
    out
}

/// Why `outcome` does not match `vector`, or `None` when it does.
fn mismatch(vector: &Vector, outcome: Result<Outcome, String>) -> Option<String> {
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(e) => return Some(e),
    };
    let mut why = String::new();
    if outcome.events != vector.expected {
        let first_diff = outcome
            .events
            .iter()
            .zip(&vector.expected)
            .position(|(got, want)| got != want)
            .unwrap_or(outcome.events.len().min(vector.expected.len()));
        let _ = write!(
            why,
            "events differ from index {first_diff}: got {}, expected {}",
            describe(&outcome.events[first_diff..]),
            describe(&vector.expected[first_diff..])
        );
    }
    if outcome.retry != vector.expected_retry {
        let _ = write!(
            why,
            "{}retry is {:?}, expected {:?}",
            if why.is_empty() { "" } else { "; " },
            outcome.retry,
            vector.expected_retry
        );
    }
    (!why.is_empty()).then_some(why)
}

/// Collects failures across all vectors so one run shows every broken case, not just the first.
#[derive(Default)]
struct Failures {
    count: usize,
    reported: usize,
    per_vector: std::collections::HashMap<String, usize>,
    report: String,
}

impl Failures {
    fn check(
        &mut self,
        vector: &Vector,
        chunking: impl FnOnce() -> String,
        outcome: Result<Outcome, String>,
    ) {
        if let Some(why) = mismatch(vector, outcome) {
            self.count += 1;
            let seen = self.per_vector.entry(vector.label.clone()).or_default();
            *seen += 1;
            if self.reported < MAX_REPORTED && *seen <= MAX_REPORTED_PER_VECTOR {
                self.reported += 1;
                let _ = writeln!(self.report, "{} [{}]: {why}", vector.label, chunking());
            }
        }
    }

    fn assert_none(self, what: &str) {
        assert!(
            self.count == 0,
            "{} failure(s) {what}:\n{}{}",
            self.count,
            self.report,
            if self.count > self.reported {
                "...\n"
            } else {
                ""
            }
        );
    }
}

/// Where to cut a vector in two: everywhere if small, else a sample plus line boundaries.
fn cut_positions(input: &[u8]) -> Vec<usize> {
    let len = input.len();
    if len < LARGE {
        return (0..=len).collect();
    }
    let mut positions: BTreeSet<usize> = (0..=SAMPLES).map(|i| i * len / SAMPLES).collect();
    let terminators: Vec<usize> = input
        .iter()
        .enumerate()
        .filter(|(_, b)| matches!(b, b'\r' | b'\n'))
        .map(|(i, _)| i)
        .collect();
    // Every terminator near the start and the end, and an even spread of the rest.
    let step = terminators.len().div_ceil(BOUNDARY_LINES).max(1);
    let edge = BOUNDARY_LINES / 8;
    for (n, &at) in terminators.iter().enumerate() {
        if n < edge || n + edge >= terminators.len() || n % step == 0 {
            positions.extend(at.saturating_sub(2)..=(at + 3).min(len));
        }
    }
    positions.into_iter().collect()
}

#[test]
fn vector_files_are_well_formed() {
    let mut names = BTreeSet::new();
    for vector in vectors() {
        assert!(
            names.insert(&vector.label),
            "duplicate vector {}",
            vector.label
        );
        if let Some(chunks) = &vector.chunks {
            assert_eq!(
                chunks.concat(),
                vector.input,
                "{}: chunks_base64 do not add up to input_base64",
                vector.label
            );
        }
    }
}

#[test]
fn vectors_whole() {
    let mut failures = Failures::default();
    for vector in vectors() {
        failures.check(vector, || "whole".into(), run(&vector.input, &[]));
    }
    failures.assert_none("feeding each vector whole");
}

#[test]
fn vectors_in_their_own_chunks() {
    let mut failures = Failures::default();
    for vector in vectors() {
        if let Some(chunks) = &vector.chunks {
            let outcome = run_pieces(chunks.iter().map(Vec::as_slice));
            failures.check(
                vector,
                || format!("chunks_base64, {} reads", chunks.len()),
                outcome,
            );
        }
    }
    failures.assert_none("feeding vectors in their chunks_base64");
}

#[test]
fn vectors_one_byte_at_a_time() {
    let mut failures = Failures::default();
    for vector in vectors() {
        let outcome = run_pieces(vector.input.chunks(1));
        failures.check(vector, || "one byte at a time".into(), outcome);
    }
    failures.assert_none("feeding vectors one byte at a time");
}

#[test]
fn vectors_cut_in_two() {
    let mut failures = Failures::default();
    for vector in vectors() {
        for cut in cut_positions(&vector.input) {
            failures.check(
                vector,
                || format!("cut at {cut}"),
                run(&vector.input, &[cut]),
            );
        }
    }
    failures.assert_none("cutting vectors in two");
}

#[test]
fn vectors_cut_in_three() {
    let mut failures = Failures::default();
    for vector in vectors().iter().filter(|v| v.input.len() < PAIRWISE_BELOW) {
        let len = vector.input.len();
        for first in 0..=len {
            for second in first..=len {
                failures.check(
                    vector,
                    || format!("cut at {first} and {second}"),
                    run(&vector.input, &[first, second]),
                );
            }
        }
    }
    failures.assert_none("cutting small vectors in three");
}
