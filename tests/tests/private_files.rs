//! What another user of the machine can reach: the daemon's directories, control socket and
//! history are private from the moment they exist (even under `umask 000`), the socket
//! refuses a process of another uid even when its modes were loosened by hand (the
//! `SO_PEERCRED` check, not only the mode), and credentials written in a URL are stashed,
//! sent to the server and never shown. The real binary, real files, a real second uid
//! (`setpriv`; these tests run as root).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use serde_json::Value;
use ssenotify_e2e::home::{Home, WAIT, ask_as, mode, show, stdout};
use ssenotify_e2e::{Response, Step, TestServer, poll, sse_event, ssenotify_bin};

/// A server that answers every request with one event and holds the stream.
fn holding_server() -> TestServer {
    TestServer::start(|_, n| {
        Response::sse_steps(vec![
            Step::Send(sse_event(None, Some(&format!("e{n}")), "hello")),
            Step::Hold,
        ])
    })
}

#[test]
fn directories_socket_and_history_are_private_even_under_umask_000() {
    let server = holding_server();
    let home = Home::new();
    home.ok(&["add", &server.url("/sse"), "--id", "a"]);
    // The umask the daemon inherits is the user's; 000 shows what is chosen, not inherited.
    let mut cmd = Command::new("sh");
    cmd.args(["-c", r#"umask 000 && exec "$0" "$@""#])
        .arg(ssenotify_bin())
        .args(["run", "--no-notify"]);
    home.isolate(&mut cmd);
    let daemon = home.start_daemon_with(cmd);
    let db = home.data_dir().join("history.sqlite3");
    let wal = home.data_dir().join("history.sqlite3-wal");
    let shm = home.data_dir().join("history.sqlite3-shm");
    let stored = poll(WAIT, || {
        let rows: Value = serde_json::from_str(&home.ok(&["history", "--json", "a"])).ok()?;
        (!rows.as_array()?.is_empty() && wal.exists() && shm.exists()).then_some(())
    });
    assert!(stored.is_some(), "no event stored:\n{}", daemon.log());
    for (path, expected) in [
        (home.runtime_dir(), 0o700),
        (home.socket(), 0o600),
        (home.runtime_dir().join("ssenotify.pid"), 0o600),
        (home.data_dir(), 0o700),
        (db, 0o600),
        (wal, 0o600),
        (shm, 0o600),
    ] {
        assert_eq!(
            format!("{:o}", mode(&path)),
            format!("{expected:o}"),
            "{}",
            path.display()
        );
    }
    // Nothing is left under a temporary name: the socket was renamed into place.
    let names: Vec<String> = fs::read_dir(home.runtime_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn another_user_gets_no_reply_even_when_the_socket_modes_are_loosened() {
    let home = Home::new();
    let mut daemon = home.start_daemon();
    // Loosen every mode on the way to the socket, as a careless user might.
    for (path, loose) in [
        (home.path().to_path_buf(), 0o755),
        (home.path().join("run"), 0o755),
        (home.runtime_dir(), 0o777),
        (home.socket(), 0o777),
    ] {
        fs::set_permissions(&path, fs::Permissions::from_mode(loose)).unwrap();
    }
    // The client works: as the daemon's own user it gets its pong.
    let own = ask_as(None, &home.socket(), r#"{"cmd":"ping"}"#);
    assert!(
        stdout(&own).contains(&format!("\"pid\":{}", daemon.pid())),
        "{}",
        show(&own)
    );

    let nobody = ask_as(Some(65534), &home.socket(), r#"{"cmd":"quit"}"#);
    let out = stdout(&nobody);
    assert!(
        out.contains("connected\n"),
        "the loosened modes let the other user connect: {}",
        show(&nobody)
    );
    assert!(
        out.ends_with("reply:\n") && !out.contains("timed out"),
        "closed without a reply: {}",
        show(&nobody)
    );
    assert!(daemon.is_running(), "another user's quit was obeyed");
    assert_eq!(
        home.control(r#"{"cmd":"ping"}"#).expect("still answers")["pid"],
        daemon.pid()
    );
    let logged = poll(WAIT, || {
        daemon
            .log()
            .contains("refused a connection from another user")
            .then_some(())
    });
    assert!(logged.is_some(), "the refusal is logged:\n{}", daemon.log());
    assert!(
        daemon.log().contains("65534"),
        "names the uid:\n{}",
        daemon.log()
    );
}

#[test]
fn credentials_in_a_url_reach_the_server_and_never_the_file_list_export_or_log() {
    let server = holding_server();
    let home = Home::new();
    let url = format!(
        "http://alice:s3cr3t-pw@127.0.0.1:{}/sse?topic=x&token=t0k3n-value",
        server.port()
    );
    assert_eq!(home.ok(&["add", &url, "--id", "creds"]), "added creds\n");
    let file = fs::read_to_string(home.subs_file()).unwrap();
    assert!(
        file.contains(&format!(
            "url = \"http://127.0.0.1:{}/sse?topic=x\"",
            server.port()
        )),
        "{file}"
    );
    for secret in [
        home.secrets_dir().join("creds.auth-password"),
        home.secrets_dir().join("creds.query-token"),
    ] {
        assert_eq!(mode(&secret), 0o600, "{}", secret.display());
    }

    let daemon = home.start_daemon();
    let request = poll(WAIT, || server.requests().into_iter().next());
    let request = request.unwrap_or_else(|| panic!("no request:\n{}", daemon.log()));
    assert_eq!(
        request.header("authorization"),
        Some("Basic YWxpY2U6czNjcjN0LXB3"),
        "alice:s3cr3t-pw as Basic auth"
    );
    assert_eq!(request.query(), Some("topic=x&token=t0k3n-value"));
    let open = poll(WAIT, || home.ok(&["list"]).contains("OPEN").then_some(()));
    assert!(open.is_some(), "{}", daemon.log());

    let shown = [
        ("file", file),
        ("list", home.ok(&["list"])),
        ("list --json", home.ok(&["list", "--json"])),
        ("export", home.ok(&["export"])),
        (
            "export --format json",
            home.ok(&["export", "--format", "json"]),
        ),
        ("daemon log", daemon.log()),
    ];
    for (what, text) in shown {
        for secret in ["s3cr3t-pw", "t0k3n-value"] {
            assert!(!text.contains(secret), "{what} shows {secret}:\n{text}");
        }
    }
}
