//! One user's world for end-to-end tests of the `ssenotify` binary: [`Home`], a fresh set of
//! XDG directories every child process is pointed at, with helpers to run commands and talk
//! to the control socket, and [`Daemon`], an `ssenotify run` that is killed when the test
//! ends, however it ends.

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, SystemTime};

use serde_json::Value;
use tempfile::TempDir;

use crate::{Response, Step, TestServer, poll, sse_event, ssenotify_bin};

/// Generous: CI runs these on two loaded cores, several daemons at once.
pub const WAIT: Duration = Duration::from_secs(8);
/// The product's promise for a change to the subscriptions file: applied within a second.
pub const LIVE: Duration = Duration::from_secs(1);
/// How long "nothing happens" is watched: four of the daemon's file checks.
pub const QUIET: Duration = Duration::from_millis(1000);

/// Runs `future` on a current-thread runtime of its own.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime")
        .block_on(future)
}

/// A process output as text, for assertion messages.
pub fn show(output: &Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The stdout of `output`, which must be UTF-8.
pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

/// The stderr of `output`, lossily.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Everything that tells whether a file was rewritten: bytes, mtime, inode.
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The content.
    pub bytes: Vec<u8>,
    /// The modification time.
    pub modified: SystemTime,
    /// The inode (a rename gives a new one).
    pub inode: u64,
}

/// The current bytes, mtime and inode of `path`.
pub fn snapshot(path: &Path) -> Snapshot {
    let meta = fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Snapshot {
        bytes: fs::read(path).unwrap(),
        modified: meta.modified().unwrap(),
        inode: meta.ino(),
    }
}

/// The permission bits of `path`.
pub fn mode(path: &Path) -> u32 {
    fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// One user's world: the XDG directories every child process is pointed at.
pub struct Home {
    dir: TempDir,
}

impl Default for Home {
    fn default() -> Self {
        Self::new()
    }
}

impl Home {
    /// A fresh home with a private runtime directory.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("ssenotify-e2e-")
            .tempdir()
            .expect("a temp dir");
        // A login's runtime dir is private; so is this one.
        let run = dir.path().join("run");
        fs::create_dir(&run).unwrap();
        fs::set_permissions(&run, fs::Permissions::from_mode(0o700)).unwrap();
        Home { dir }
    }

    /// The home directory itself.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// ssenotify's config directory.
    pub fn config_dir(&self) -> PathBuf {
        self.path().join("config/ssenotify")
    }

    /// The subscriptions file.
    pub fn subs_file(&self) -> PathBuf {
        self.config_dir().join("subscriptions.toml")
    }

    /// The stashed-secrets directory.
    pub fn secrets_dir(&self) -> PathBuf {
        self.config_dir().join("secrets")
    }

    /// ssenotify's data dir (history).
    pub fn data_dir(&self) -> PathBuf {
        self.path().join("data/ssenotify")
    }

    /// ssenotify's runtime dir (socket, instance lock).
    pub fn runtime_dir(&self) -> PathBuf {
        self.path().join("run/ssenotify")
    }

    /// The control socket.
    pub fn socket(&self) -> PathBuf {
        self.runtime_dir().join("ssenotify.sock")
    }

    /// Write a scratch file (an import input, say) and return its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path().join(name);
        fs::write(&path, text).unwrap();
        path
    }

    /// Point `cmd` at this home (and keep proxies off loopback).
    pub fn isolate<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        cmd.env("HOME", self.path())
            .env("XDG_CONFIG_HOME", self.path().join("config"))
            .env("XDG_DATA_HOME", self.path().join("data"))
            .env("XDG_RUNTIME_DIR", self.path().join("run"))
            .env("NO_PROXY", "127.0.0.1")
            .env_remove("RUST_LOG")
            .env_remove("SSENOTIFY_LOG")
            .stdin(Stdio::null());
        for proxy in [
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
            "http_proxy",
            "https_proxy",
            "all_proxy",
        ] {
            cmd.env_remove(proxy);
        }
        cmd
    }

    /// `ssenotify ARGS` pointed at this home, not started.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(ssenotify_bin());
        cmd.args(args);
        self.isolate(&mut cmd);
        cmd
    }

    /// Runs `ssenotify ARGS` to completion.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("ssenotify runs")
    }

    /// Runs `ssenotify ARGS` with `input` on stdin.
    pub fn run_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ssenotify runs");
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    }

    /// Run a command that must succeed; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "ssenotify {args:?}: {}",
            show(&output)
        );
        stdout(&output)
    }

    /// `export --format json`, parsed.
    pub fn export_json(&self) -> Value {
        serde_json::from_str(&self.ok(&["export", "--format", "json"])).expect("export is JSON")
    }

    /// The ids in the file, in order.
    pub fn ids(&self) -> Vec<String> {
        self.export_json()["subscriptions"]
            .as_array()
            .expect("subscriptions array")
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect()
    }

    /// `history --json ARGS`, parsed.
    pub fn history(&self, args: &[&str]) -> Vec<Value> {
        let mut all = vec!["history", "--json"];
        all.extend_from_slice(args);
        let text = self.ok(&all);
        serde_json::from_str::<Value>(&text)
            .unwrap_or_else(|e| panic!("history --json: {e}: {text}"))
            .as_array()
            .expect("history --json prints an array")
            .clone()
    }

    /// The numeric ids (`id` field) history holds for `sub`, oldest first.
    pub fn history_ids(&self, sub: &str) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .history(&[sub, "--limit", "10000"])
            .iter()
            .map(|e| e["id"].as_str().unwrap().parse().unwrap())
            .collect();
        ids.reverse();
        ids
    }

    /// One request to the control socket, as `ssenotify list` sends it.
    pub fn control(&self, request: &str) -> Option<Value> {
        let mut stream = UnixStream::connect(self.socket()).ok()?;
        stream.set_read_timeout(Some(WAIT)).ok()?;
        stream.write_all(request.as_bytes()).ok()?;
        stream.write_all(b"\n").ok()?;
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).ok()?;
        serde_json::from_str(&line).ok()
    }

    /// The daemon's status reply (`subscriptions`, `daemon`).
    pub fn status(&self) -> Value {
        self.control(r#"{"cmd":"status"}"#)
            .expect("the daemon answers a status request")
    }

    /// The daemon's live status of one subscription.
    pub fn live(&self, id: &str) -> Option<Value> {
        self.status()["subscriptions"]
            .as_array()?
            .iter()
            .find(|s| s["id"] == id)
            .cloned()
    }

    /// Starts `ssenotify run --no-notify` logging to `log` in this home; returns at once.
    pub fn spawn_daemon(&self, log: &str) -> Daemon {
        self.spawn_daemon_with(self.command(&["run", "--no-notify"]), log)
    }

    /// Starts `cmd` (an `ssenotify run` of this home) logging to `log`; returns at once.
    fn spawn_daemon_with(&self, mut cmd: Command, log: &str) -> Daemon {
        let log = self.path().join(log);
        let file = fs::File::create(&log).unwrap();
        let child = cmd
            .env("SSENOTIFY_LOG", "info")
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("ssenotify run starts");
        Daemon { child, log }
    }

    /// Start `ssenotify run --no-notify` and wait until its control socket answers.
    pub fn start_daemon(&self) -> Daemon {
        self.start_daemon_with(self.command(&["run", "--no-notify"]))
    }

    /// Start `cmd` (an `ssenotify run` of this home, `umask` and all) and wait until its
    /// control socket answers.
    pub fn start_daemon_with(&self, cmd: Command) -> Daemon {
        let mut daemon = self.spawn_daemon_with(cmd, "daemon.log");
        let pid = daemon.pid();
        let ready = poll(WAIT, || {
            if let Some(status) = daemon.child.try_wait().unwrap() {
                panic!("the daemon exited ({status}) at start:\n{}", daemon.log());
            }
            let pong = self.control(r#"{"cmd":"ping"}"#)?;
            (pong["pid"] == pid).then_some(())
        });
        assert!(ready.is_some(), "daemon not ready:\n{}", daemon.log());
        daemon
    }
}

/// A child process that is killed (SIGKILL) and reaped when the guard goes, so a failing
/// test never leaves a daemon behind.
pub struct Daemon {
    /// The `ssenotify run` process.
    pub child: Child,
    log: PathBuf,
}

impl Daemon {
    /// The daemon's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it still runs.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// What the daemon logged so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends `signal` (a name such as `TERM`) to the daemon.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal} {}", self.pid());
    }

    /// Waits up to `timeout` for the daemon to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        poll(timeout, || self.child.try_wait().unwrap())
    }

    /// kill -9 and reap: a crash.
    pub fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A server that answers every request with one event (id `<tag>-<n>`) and holds the stream.
pub fn holding_server(tag: &'static str) -> TestServer {
    TestServer::start(move |_, n| {
        Response::sse_steps(vec![
            Step::Send(sse_event(
                None,
                Some(&format!("{tag}-{n}")),
                &format!("hello from {tag}"),
            )),
            Step::Hold,
        ])
    })
}

/// The request targets of the connections a server still has open.
pub fn open_paths(server: &TestServer) -> BTreeSet<String> {
    // Requests first: every connection they name is then in the connection snapshot.
    let requests = server.requests();
    let conns = server.connections();
    requests
        .into_iter()
        .filter(|r| conns[r.conn].is_open())
        .map(|r| r.path)
        .collect()
}

/// Asserts that `server` kept its one connection: no close, no new request.
pub fn assert_untouched(server: &TestServer, what: &str) {
    assert_eq!(server.requests().len(), 1, "{what}: no new request");
    assert_eq!(server.open_connections(), 1, "{what}: socket kept open");
}

/// A port nothing listens on.
pub fn refused_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The lines of a diff `import` printed.
pub fn diff_lines(output: &Output) -> Vec<String> {
    stdout(output).lines().map(str::to_owned).collect()
}

/// As `uid` (through `setpriv` when given), connect to `socket`, send `request` and print
/// what comes back before the daemon closes the connection (or 5 s pass).
pub fn ask_as(uid: Option<u32>, socket: &Path, request: &str) -> Output {
    const CLIENT: &str = r#"
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
print("connected", flush=True)
reply = b""
try:
    s.sendall(sys.argv[2].encode() + b"\n")
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        reply += chunk
        if reply.endswith(b"\n"):
            break
except socket.timeout:
    print("timed out", flush=True)
except (BrokenPipeError, ConnectionResetError):
    pass  # closed by the daemon before the request was even written
print("reply:" + reply.decode(), flush=True)
"#;
    let mut cmd = match uid {
        Some(uid) => {
            let mut cmd = Command::new("setpriv");
            cmd.args([
                format!("--reuid={uid}"),
                format!("--regid={uid}"),
                "--clear-groups".to_owned(),
                "/usr/bin/python3".to_owned(),
            ]);
            cmd
        }
        None => Command::new("/usr/bin/python3"),
    };
    cmd.args(["-c", CLIENT])
        .arg(socket)
        .arg(request)
        .output()
        .expect("python3 runs")
}
