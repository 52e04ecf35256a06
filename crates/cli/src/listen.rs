//! `ssenotify listen`: subscribe to one URL and print what happens.
//!
//! The `--json` output is a contract other tools parse, one object per line:
//! `{"kind":"state","ready_state":"OPEN","reason":"HTTP 200 OK","status":200}` (`status`
//! only when there was a response) and
//! `{"kind":"event","type":"message","data":"...","last_event_id":"..."}`.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;
use ssenotify_engine::{Engine, Event, Policy, ReadyState, Reason, Settings, StateChange, Update};

/// Arguments of `ssenotify listen`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The http(s) URL of the event stream.
    url: String,
    /// An extra request header, `Name: value` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// Resume from this event ID (sent as Last-Event-ID on the first request).
    #[arg(long, value_name = "ID")]
    last_event_id: Option<String>,
    /// Never reconnect: exit 0 when the response ends or the server sends 204, 1 on failure.
    #[arg(long)]
    once: bool,
    /// Exit 0 after this many events.
    #[arg(long, value_name = "N")]
    max_events: Option<u64>,
    /// One JSON object per line instead of readable text.
    #[arg(long)]
    json: bool,
    /// Reconnection time until the server sends `retry:` (e.g. 3s, 500ms).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "3s")]
    reconnect_time: Duration,
    /// Cap of the exponential backoff between failing attempts.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "60s")]
    backoff_cap: Duration,
    /// Declare the connection dead after this long with no bytes at all.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "2m")]
    idle_timeout: Duration,
    /// Largest accepted event in bytes (data plus type, or one line).
    #[arg(long, value_name = "BYTES", default_value_t = ssenotify_engine::parse::DEFAULT_MAX_EVENT_SIZE)]
    max_event_size: usize,
    /// A PEM file of extra CA certificates to trust (self-signed servers).
    #[arg(long, value_name = "PATH")]
    ca_file: Option<PathBuf>,
}

/// Run `listen`; the exit code follows the contract in the module docs.
pub fn main(args: Args) -> ExitCode {
    let settings = match settings(&args) {
        Ok(settings) => settings,
        Err(message) => return crate::usage_error(message),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread tokio runtime builds");
    runtime.block_on(listen(args, settings))
}

/// Turn flags into engine settings; an error is a usage error.
fn settings(args: &Args) -> Result<Settings, String> {
    let mut settings = Settings::new(args.url.clone());
    for header in &args.headers {
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| format!("header {header:?} is not of the form 'Name: value'"))?;
        if name.trim().is_empty() {
            return Err(format!("header {header:?} has an empty name"));
        }
        settings
            .headers
            .push((name.trim().to_owned(), value.trim().to_owned()));
    }
    settings.last_event_id = args.last_event_id.clone().unwrap_or_default();
    settings.policy = Policy {
        reconnect: !args.once,
        initial_reconnect: args.reconnect_time,
        backoff_cap: args.backoff_cap,
        idle_timeout: args.idle_timeout,
        max_event_size: args.max_event_size,
    };
    settings.extra_ca_file = args.ca_file.clone();
    Ok(settings)
}

async fn listen(args: Args, settings: Settings) -> ExitCode {
    let engine = Engine::new();
    let (subscription, mut updates) = match engine.subscribe(settings) {
        Ok(started) => started,
        Err(error) => return crate::usage_error(error),
    };
    let mut out = BufWriter::with_capacity(64 * 1024, std::io::stdout());
    let mut events: u64 = 0;
    let mut interrupt = std::pin::pin!(crate::interrupted());
    let mut closing = false;
    let code = loop {
        let update = tokio::select! {
            update = updates.recv() => update,
            _ = &mut interrupt, if !closing => {
                // Closing reports CLOSED "closed by user" through the same channel.
                closing = true;
                engine.shutdown_token().cancel();
                continue;
            }
        };
        let Some(update) = update else {
            break ExitCode::SUCCESS;
        };
        let finished = match &update {
            Update::Event(_) => {
                events += 1;
                args.max_events.is_some_and(|max| events >= max)
            }
            Update::State(change) => change.ready_state == ReadyState::Closed,
        };
        if print(&mut out, &update, args.json).is_err() {
            // stdout is gone (a closed pipe): nobody is reading, stop quietly.
            return ExitCode::SUCCESS;
        }
        if updates.is_empty() && out.flush().is_err() {
            return ExitCode::SUCCESS;
        }
        if finished {
            break match &update {
                Update::State(change) => closed_exit_code(change),
                Update::Event(_) => ExitCode::SUCCESS,
            };
        }
    };
    let _ = out.flush();
    subscription.close().await;
    code
}

/// CLOSED is final: success when the server ended or stopped us, or the user closed us.
fn closed_exit_code(change: &StateChange) -> ExitCode {
    match change.reason {
        Reason::StreamEnded | Reason::NoContent | Reason::ClosedByUser => ExitCode::SUCCESS,
        _ => {
            eprintln!("ssenotify: {}", change.reason);
            ExitCode::FAILURE
        }
    }
}

/// The `--json` line of a state change; field order is part of the contract.
#[derive(Serialize)]
struct StateLine {
    kind: &'static str,
    ready_state: ReadyState,
    reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
}

/// The `--json` line of an event.
#[derive(Serialize)]
struct EventLine<'a> {
    kind: &'static str,
    #[serde(flatten)]
    event: &'a Event,
}

fn print(out: &mut impl Write, update: &Update, json: bool) -> std::io::Result<()> {
    match (update, json) {
        (Update::State(change), true) => {
            let line = StateLine {
                kind: "state",
                ready_state: change.ready_state,
                reason: change.reason.to_string(),
                status: change.reason.status(),
            };
            serde_json::to_writer(&mut *out, &line)?;
        }
        (Update::Event(event), true) => {
            serde_json::to_writer(
                &mut *out,
                &EventLine {
                    kind: "event",
                    event,
                },
            )?;
        }
        (Update::State(change), false) => {
            write!(out, "[{}] {}", change.ready_state, change.reason)?;
            if let Some(status) = change.reason.status() {
                write!(out, " (status {status})")?;
            }
            if let Some(delay) = change.retry_in {
                write!(
                    out,
                    "; retrying in {}",
                    ssenotify_engine::fmt_duration(delay)
                )?;
            }
        }
        (Update::Event(event), false) => {
            write!(out, "{}", crate::Printable(&event.event_type))?;
            if !event.last_event_id.is_empty() {
                write!(out, " #{}", crate::Printable(&event.last_event_id))?;
            }
            write!(out, ": {}", crate::Printable(&event.data))?;
        }
    }
    out.write_all(b"\n")
}
