//! `cargo run -p ssenotify-sse --example listen -- URL` prints a loopback stream's events:
//! the crate's README example, run as the binary cargo builds for `cargo test`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `target/<profile>/examples/listen`, beside this test's `deps/` directory.
fn example() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("tests run from target/<profile>/deps");
    let path = profile_dir.join("examples").join("listen");
    assert!(
        path.is_file(),
        "{} is missing: `cargo test -p ssenotify-sse` builds the examples",
        path.display()
    );
    path
}

#[test]
fn the_listen_example_prints_a_loopback_streams_events() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/events", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        stream
            .write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n\
                  event: greet\nid: 7\ndata: hello\ndata: world\n\n",
            )
            .unwrap();
        // Held open until the test is done with the example.
        std::thread::sleep(Duration::from_secs(30));
    });
    let mut child = Command::new(example())
        .arg(&url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the example runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        let done = line.starts_with("greet");
        seen.push(line);
        if done {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    drop(server);
    assert_eq!(
        seen,
        [
            "[CONNECTING] connecting",
            "[OPEN] HTTP 200 OK",
            r#"greet (id "7"): hello\nworld"#
        ]
        .map(String::from),
        "{seen:?}"
    );
}
