//! Runs a rule's `command` action: argv without a shell, the event in environment
//! variables, a timeout, output logged.
//!
//! Opt-in and deliberately narrow: the router has already refused to template arguments,
//! so event data reaches the program only through `SSE_*` variables it chooses to read.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;

/// Most output bytes kept (and logged) per stream of one command run.
const MAX_OUTPUT: usize = 16 * 1024;

/// Start `argv` in the background; it is killed if it outlives `timeout`.
pub fn spawn(
    subscription: &str,
    argv: Vec<String>,
    env: BTreeMap<String, String>,
    timeout: Duration,
) {
    let subscription = subscription.to_owned();
    tokio::spawn(async move {
        if let Err(error) = run(&subscription, &argv, &env, timeout).await {
            tracing::warn!(%subscription, program = ?argv.first(), %error, "command failed");
        }
    });
}

async fn run(
    subscription: &str,
    argv: &[String],
    env: &BTreeMap<String, String>,
    timeout: Duration,
) -> std::io::Result<()> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| std::io::Error::other("empty argv"))?;
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let collect = async {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut out_reader = (&mut stdout).take(MAX_OUTPUT as u64);
        let mut err_reader = (&mut stderr).take(MAX_OUTPUT as u64);
        let _ = tokio::join!(
            out_reader.read_to_end(&mut out),
            err_reader.read_to_end(&mut err),
        );
        let status = child.wait().await;
        (status, out, err)
    };
    match tokio::time::timeout(timeout, collect).await {
        Ok((status, out, err)) => {
            let status = status?;
            tracing::info!(
                %subscription,
                program = %program,
                %status,
                stdout = %String::from_utf8_lossy(&out).trim_end(),
                stderr = %String::from_utf8_lossy(&err).trim_end(),
                "command finished"
            );
            Ok(())
        }
        // Dropping the future drops the child, and kill_on_drop kills it.
        Err(_) => Err(std::io::Error::other(format!(
            "timed out after {}",
            ssenotify_sse::fmt_duration(timeout)
        ))),
    }
}
