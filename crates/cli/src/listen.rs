//! `ssenotify listen`: subscribe to one URL and print what happens.
//!
//! The `--json` output is a contract other tools parse, one object per line:
//! `{"kind":"state","ready_state":"OPEN","reason":"HTTP 200 OK","status":200}` (`status`
//! only when there was a response) and
//! `{"kind":"event","type":"message","data":"...","last_event_id":"..."}`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;
use ssenotify_sse::{Engine, Policy, ReadyState, Reason, Settings, StateChange, Update};

/// Arguments of `ssenotify listen`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The http(s) URL of the event stream.
    #[arg(required_unless_present = "hub")]
    url: Option<String>,
    /// Listen to the daemon's local event hub instead of a URL (every subscription, or
    /// the one named): its URL and token come from the subscriptions file's `[hub]`.
    #[arg(long, value_name = "ID", num_args = 0..=1, default_missing_value = "", conflicts_with = "url")]
    hub: Option<String>,
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
    /// Largest accepted event in bytes (data plus type, or one field line; comments are skipped).
    #[arg(long, value_name = "BYTES", default_value_t = ssenotify_sse::parse::DEFAULT_MAX_EVENT_SIZE)]
    max_event_size: usize,
    /// A PEM file of extra CA certificates to trust (self-signed servers).
    #[arg(long, value_name = "PATH")]
    ca_file: Option<PathBuf>,
}

/// Run `listen`; the exit code follows the contract in the module docs.
pub fn main(mut args: Args) -> ExitCode {
    if let Some(id) = args.hub.take() {
        match hub(&id) {
            Ok((url, authorization)) => {
                args.url = Some(url);
                args.headers.push(authorization);
            }
            Err(message) => return crate::common::fail(message),
        }
    }
    let settings = match settings(&args) {
        Ok(settings) => settings,
        Err(message) => return crate::common::usage_error(message),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread tokio runtime builds");
    runtime.block_on(listen(args, settings))
}

/// The hub's URL (of subscription `id`, or of all when empty) and the header with its
/// token; the error says why not (the hub is off, or on a Unix socket).
fn hub(id: &str) -> Result<(String, String), String> {
    let paths = ssenotify_config::Paths::from_env()
        .ok_or("cannot determine the home directory (is HOME set?)")?;
    let address = crate::hub::address(&paths)?;
    if let ssenotify_config::HubAddress::Unix(path) = &address {
        return Err(format!(
            "the event hub listens on a Unix socket ({}), which listen cannot open: use curl --unix-socket",
            path.display()
        ));
    }
    let mut url = address.events_url();
    if !id.is_empty() {
        url = format!("{url}/{id}");
    }
    let token = ssenotify_config::hub_token(&paths).map_err(|error| {
        format!(
            "cannot read the hub token {}: {error}",
            paths.hub_token().display()
        )
    })?;
    Ok((url, format!("Authorization: Bearer {token}")))
}

/// Turn flags into engine settings; an error is a usage error.
fn settings(args: &Args) -> Result<Settings, String> {
    let mut settings = Settings::new(args.url.clone().unwrap_or_default());
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
    let (subscription, mut updates) = match engine.subscribe(settings).await {
        Ok(started) => started,
        Err(error) => return crate::common::usage_error(error),
    };
    // Same as the daemon: after a suspend, reconnect at once rather than at the idle timeout.
    engine.watch_for_sleep();
    // Output is built in one buffer and written when it is large or nothing more is
    // queued: lines go straight into it, with no second copy through a BufWriter.
    let mut out: Vec<u8> = Vec::with_capacity(OUT_BUFFER + 4096);
    let mut stdout = std::io::stdout();
    let mut events: u64 = 0;
    let mut interrupt = std::pin::pin!(crate::common::interrupted());
    let mut closing = false;
    let code = loop {
        // What is already queued is taken without a select: polling the signal futures once
        // per event cost a tenth of the time on a fast stream.
        let update = match updates.try_recv() {
            Some(update) => Some(update),
            None => tokio::select! {
                update = updates.recv() => update,
                _ = &mut interrupt, if !closing => {
                    // Closing reports CLOSED "closed by user" through the same channel.
                    closing = true;
                    engine.shutdown_token().cancel();
                    continue;
                }
            },
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
        print(&mut out, &update, args.json);
        if (out.len() >= OUT_BUFFER || updates.is_empty()) && flush(&mut stdout, &mut out).is_err()
        {
            // stdout is gone (a closed pipe): nobody is reading, stop quietly.
            return ExitCode::SUCCESS;
        }
        if finished {
            break match &update {
                Update::State(change) => closed_exit_code(change),
                Update::Event(_) => ExitCode::SUCCESS,
            };
        }
    };
    let _ = flush(&mut stdout, &mut out);
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

/// Append `text` to `out` as a JSON string, exactly as serde_json writes it.
///
/// `listen --json` writes one small object per event, and serde_json's general path
/// (escaping every key, map bookkeeping) was a fifth of its time. The output must stay
/// byte-identical to serde_json's (a property test checks it): `"` and `\\` escaped,
/// `\b \f \n \r \t` short, other controls below 0x20 as `\u00xx`, everything else as is.
fn push_json_str(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    // Which bytes need escaping, as one table lookup per byte in the common clean run.
    const ESCAPE: [bool; 256] = {
        let mut table = [false; 256];
        let mut b = 0;
        while b < 0x20 {
            table[b] = true;
            b += 1;
        }
        table[b'"' as usize] = true;
        table[b'\\' as usize] = true;
        table
    };
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !ESCAPE[usize::from(b)] {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// The `--json` line of an event, without its newline.
fn event_line(out: &mut Vec<u8>, event: &ssenotify_sse::Event) {
    out.extend_from_slice(br#"{"kind":"event","type":"#);
    push_json_str(out, &event.event_type);
    out.extend_from_slice(br#","data":"#);
    push_json_str(out, &event.data);
    out.extend_from_slice(br#","last_event_id":"#);
    push_json_str(out, &event.last_event_id);
    out.push(b'}');
}

/// How much output is gathered before it is written to stdout.
const OUT_BUFFER: usize = 256 * 1024;

/// Write what `out` holds to stdout and empty it.
fn flush(stdout: &mut std::io::Stdout, out: &mut Vec<u8>) -> std::io::Result<()> {
    let result = stdout.write_all(out).and_then(|()| stdout.flush());
    out.clear();
    result
}

/// Append one update's line to `out`.
fn print(out: &mut Vec<u8>, update: &Update, json: bool) {
    // Writing to a Vec cannot fail.
    let _ = print_to(out, update, json);
}

fn print_to(out: &mut Vec<u8>, update: &Update, json: bool) -> std::io::Result<()> {
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
            event_line(out, event);
        }
        (Update::State(change), false) => {
            write!(out, "[{}] {}", change.ready_state, change.reason)?;
            if let Some(status) = change.reason.status() {
                write!(out, " (status {status})")?;
            }
            if let Some(delay) = change.retry_in {
                write!(out, "; retrying in {}", ssenotify_sse::fmt_duration(delay))?;
            }
        }
        (Update::Event(event), false) => {
            write!(out, "{}", crate::common::Printable(&event.event_type))?;
            if !event.last_event_id.is_empty() {
                write!(out, " #{}", crate::common::Printable(&event.last_event_id))?;
            }
            write!(out, ": {}", crate::common::Printable(&event.data))?;
        }
    }
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn serde_line(event: &ssenotify_sse::Event) -> String {
        serde_json::json!({
            "kind": "event",
            "type": &*event.event_type,
            "data": &event.data,
            "last_event_id": &*event.last_event_id,
        })
        .to_string()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn event_lines_match_serde_json_byte_for_byte(
            event_type in "\\PC{0,8}|[a-z]{1,8}",
            data in any::<String>(),
            id in "[\\x00-\\x7f]{0,12}",
        ) {
            let event = ssenotify_sse::Event {
                event_type: event_type.as_str().into(),
                data,
                last_event_id: id.as_str().into(),
                id: None,
                cursor: None,
            };
            let mut ours = Vec::new();
            event_line(&mut ours, &event);
            // serde_json (without preserve_order) sorts keys; compare as values and
            // check our key order separately.
            let ours = String::from_utf8(ours).unwrap();
            let parsed: serde_json::Value = serde_json::from_str(&ours).unwrap();
            let expected: serde_json::Value = serde_json::from_str(&serde_line(&event)).unwrap();
            prop_assert_eq!(&parsed, &expected);
            let mut strings = Vec::new();
            for value in [&*event.event_type, &event.data, &*event.last_event_id] {
                let mut s = Vec::new();
                push_json_str(&mut s, value);
                strings.push(String::from_utf8(s).unwrap());
            }
            for (ours, value) in strings.iter().zip([&*event.event_type, &event.data, &*event.last_event_id]) {
                prop_assert_eq!(ours, &serde_json::to_string(value).unwrap());
            }
            let prefix = r#"{"kind":"event","type":"#;
            prop_assert!(ours.starts_with(prefix), "{}", ours);
        }
    }

    #[test]
    fn every_control_character_escapes_like_serde_json() {
        let all: String = (0u8..=0x7f).map(char::from).collect();
        let mut ours = Vec::new();
        push_json_str(&mut ours, &all);
        assert_eq!(
            String::from_utf8(ours).unwrap(),
            serde_json::to_string(&all).unwrap()
        );
    }
}
