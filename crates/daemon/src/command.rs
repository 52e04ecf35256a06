//! Runs rules' `command` actions: argv without a shell, the event in environment
//! variables, a timeout, output logged; at most [`MAX_RUNNING`] at once, a bounded queue
//! behind them, and every child waited for (none is left a zombie, shutdown waits for them
//! within its grace time and then kills the rest).
//!
//! Opt-in and deliberately narrow: the router has already refused to template arguments,
//! so event data reaches the program only through `SSE_*` variables it chooses to read.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::{JoinHandle, JoinSet};

/// Most output bytes kept (and logged) per stream of one command run.
const MAX_OUTPUT: usize = 16 * 1024;

/// Most commands running at once; more wait in the queue.
pub(crate) const MAX_RUNNING: usize = 8;

/// Most commands waiting to run; one more is refused (its event's history row says
/// `error`), so a flood of events cannot queue unbounded work.
pub(crate) const MAX_QUEUED: usize = 64;

/// One command to run.
struct Job {
    subscription: String,
    argv: Vec<String>,
    env: BTreeMap<String, String>,
    timeout: Duration,
}

/// The command runner: a queue in front of a task that starts at most [`MAX_RUNNING`]
/// commands at once and waits for every one of them.
pub(crate) struct Commands {
    queue: mpsc::Sender<Job>,
    runner: JoinHandle<()>,
}

/// The queue was full: the command was not run.
#[derive(Debug)]
pub(crate) struct QueueFull;

impl Commands {
    /// Starts the runner on the current tokio runtime.
    pub(crate) fn start() -> Self {
        let (queue, jobs) = mpsc::channel(MAX_QUEUED);
        Self {
            queue,
            runner: tokio::spawn(run_all(jobs)),
        }
    }

    /// Queues `argv` for `subscription`; it is killed if it outlives `timeout`.
    pub(crate) fn spawn(
        &self,
        subscription: &str,
        argv: Vec<String>,
        env: BTreeMap<String, String>,
        timeout: Duration,
    ) -> Result<(), QueueFull> {
        let job = Job {
            subscription: subscription.to_owned(),
            argv,
            env,
            timeout,
        };
        self.queue.try_send(job).map_err(|_| QueueFull)
    }

    /// Stops taking commands, lets the queued and running ones finish for up to `grace`,
    /// then kills what is left.
    pub(crate) async fn shutdown(self, grace: Duration) {
        drop(self.queue);
        let mut runner = self.runner;
        if tokio::time::timeout(grace, &mut runner).await.is_err() {
            // Aborting drops the running children, whose kill_on_drop kills them.
            runner.abort();
            let _ = runner.await;
        }
    }
}

/// Starts jobs as permits allow and reaps every one; returns once the queue is closed and
/// every started job has ended.
async fn run_all(mut jobs: mpsc::Receiver<Job>) {
    let permits = Arc::new(Semaphore::new(MAX_RUNNING));
    let mut running = JoinSet::new();
    loop {
        tokio::select! {
            // Reap as they end, so the set does not grow with every command.
            Some(_) = running.join_next(), if !running.is_empty() => {}
            job = jobs.recv() => {
                let Some(job) = job else { break };
                let permit = permits.clone().acquire_owned().await.expect("never closed");
                running.spawn(async move {
                    let _permit = permit;
                    if let Err(error) = run(&job.subscription, &job.argv, &job.env, job.timeout).await {
                        tracing::warn!(subscription = %job.subscription, program = ?job.argv.first(), %error, "command failed");
                    }
                });
            }
        }
    }
    while running.join_next().await.is_some() {}
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
