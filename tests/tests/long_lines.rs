//! 50 MB lines through `ssenotify listen`, the real binary (README, "Limits"): the size
//! limit is on what the parser keeps. A comment line is skipped as it arrives, so one of
//! 50 MB is accepted and the process's peak memory stays far below its size; a field line
//! must be kept until it ends, so one over the limit ends the connection, and one under a
//! raised limit shows in the peak memory (the measurement can tell).

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};

use ssenotify_e2e::{Response, Step, TestServer, ssenotify_bin};

const MIB: usize = 1024 * 1024;

/// A stream whose first line is `start` followed by `mib` MiB of `x`, sent a MiB at a time,
/// then one event; the server then holds the connection open.
fn server_with_a_long_line(start: &'static [u8], mib: usize) -> TestServer {
    let mut steps = vec![Step::send(start)];
    steps.extend((0..mib).map(|_| Step::Send(vec![b'x'; MIB])));
    steps.push(Step::send(b"\nid: 1\ndata: after the long line\n\n"));
    steps.push(Step::Hold);
    let response = Response::sse_steps(steps);
    TestServer::start(move |_, _| response.clone())
}

/// `listen --once`: a connection that fails ends the process, so a missing event fails the
/// test instead of hanging it.
fn listen(server: &TestServer, extra: &[&str]) -> Child {
    Command::new(ssenotify_bin())
        .args(["listen", "--json", "--once"])
        .args(extra)
        .arg(server.url("/"))
        .env("NO_PROXY", "127.0.0.1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ssenotify runs")
}

/// Read `child`'s JSON lines until the event arrives; then its peak resident memory (VmHWM),
/// in MiB, while it still runs.
fn peak_mib_once_the_event_arrived(mut child: Child) -> usize {
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let event = stdout
        .lines()
        .map(Result::unwrap)
        .find(|line| line.contains(r#""kind":"event""#))
        .expect("the event after the long line");
    assert!(event.contains("after the long line"), "{event}");
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let kib: usize = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status");
    child.kill().unwrap();
    child.wait().unwrap();
    kib / 1024
}

#[test]
fn a_50_mb_comment_line_is_accepted_and_costs_no_memory() {
    let short = server_with_a_long_line(b": ", 0);
    let baseline = peak_mib_once_the_event_arrived(listen(&short, &[]));
    let long = server_with_a_long_line(b": ", 50);
    let peak = peak_mib_once_the_event_arrived(listen(&long, &[]));
    assert!(
        peak < baseline + 8,
        "peak memory {peak} MiB after a 50 MiB comment, {baseline} MiB without"
    );
}

#[test]
fn a_50_mb_field_line_ends_the_connection_at_the_limit() {
    let server = server_with_a_long_line(b"foo: ", 50);
    let mut child = listen(&server, &[]);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("event too large: more than 4194304 bytes"),
        "{stderr}"
    );
}

#[test]
fn a_50_mb_field_line_under_a_raised_limit_shows_in_the_peak() {
    // The control for the comment test: the same stream but for the line's first byte.
    let server = server_with_a_long_line(b"foo: ", 50);
    let limit = (64 * MIB).to_string();
    let peak = peak_mib_once_the_event_arrived(listen(&server, &["--max-event-size", &limit]));
    assert!(
        peak >= 50,
        "peak memory {peak} MiB after a kept 50 MiB line"
    );
}
