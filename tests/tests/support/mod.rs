//! What the process-level tests share: a [`Home`] (a temp dir holding `XDG_CONFIG_HOME`,
//! `XDG_DATA_HOME`, `XDG_RUNTIME_DIR` and `HOME`) every `ssenotify` child is pointed at, and
//! a [`Daemon`] guard that kills `ssenotify run` when the test ends, however it ends.
//!
//! Each test file that uses it compiles its own copy (`mod support;`), and not every file
//! uses every helper.
#![allow(dead_code)]

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use ssenotify_e2e::{poll, ssenotify_bin};
use tempfile::TempDir;

/// Generous: CI runs these on two loaded cores, several daemons at once.
pub const WAIT: Duration = Duration::from_secs(8);

/// Exit status and both streams, for assertion messages.
pub fn show(output: &Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// What a command printed on stdout.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// What a command printed on stderr.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
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

impl Home {
    /// A fresh home whose runtime dir is private, as a login's is.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("ssenotify-e2e-")
            .tempdir()
            .expect("a temp dir");
        let run = dir.path().join("run");
        fs::create_dir(&run).unwrap();
        fs::set_permissions(&run, fs::Permissions::from_mode(0o700)).unwrap();
        Home { dir }
    }

    /// The temp dir everything lives in.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// ssenotify's config dir.
    pub fn config_dir(&self) -> PathBuf {
        self.path().join("config/ssenotify")
    }

    /// The subscriptions file.
    pub fn subs_file(&self) -> PathBuf {
        self.config_dir().join("subscriptions.toml")
    }

    /// Where stashed secrets go.
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

    /// `ssenotify ARGS` in this home.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(ssenotify_bin());
        cmd.args(args);
        self.isolate(&mut cmd);
        cmd
    }

    /// Run `ssenotify ARGS` to the end.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("ssenotify runs")
    }

    /// Run `ssenotify ARGS` with `input` on its stdin.
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

    /// One request line to the control socket; the reply line, if any.
    pub fn control(&self, request: &str) -> Option<Value> {
        let mut stream = UnixStream::connect(self.socket()).ok()?;
        stream.set_read_timeout(Some(WAIT)).ok()?;
        stream.write_all(request.as_bytes()).ok()?;
        stream.write_all(b"\n").ok()?;
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).ok()?;
        serde_json::from_str(&line).ok()
    }

    /// Start `cmd` (an `ssenotify run` of this home) with its output in `daemon.log`, and
    /// wait until its control socket answers.
    pub fn start_daemon_with(&self, mut cmd: Command) -> Daemon {
        let log = self.path().join("daemon.log");
        let file = fs::File::create(&log).unwrap();
        let child = cmd
            .env("SSENOTIFY_LOG", "info")
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("ssenotify run starts");
        let mut daemon = Daemon { child, log };
        let pid = daemon.child.id();
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

    /// Start `ssenotify run --no-notify` and wait until its control socket answers.
    pub fn start_daemon(&self) -> Daemon {
        self.start_daemon_with(self.command(&["run", "--no-notify"]))
    }
}

/// A child process that is killed (SIGKILL) and reaped when the guard goes, so a failing
/// test never leaves a daemon behind.
pub struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    /// Its pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether it still runs.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
