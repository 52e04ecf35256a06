//! The commands that read and edit the subscriptions: `add`, `remove`, `pause`, `resume`,
//! `mute`, `unmute`, `list`, `history`, `import`, `export`.
//!
//! Every edit goes through the subscriptions file under its lock (so a running daemon or
//! app picks it up, and two scripts never lose each other's change); afterwards the daemon
//! is asked to apply it at once rather than at its next check.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;
use ssenotify_config::edit::{self as ops, EditError};
use ssenotify_config::{DiffSummary, Format, Paths, Store, SubscriptionSpec, TrustItem};
use ssenotify_history::HistoryReader;
use ssenotify_protocol::{
    self as protocol, ClientError, ReadyState, Reply, Request, StatusReport, SubscriptionStatus,
};

use crate::status::{by_id, print_daemon, print_row, print_status, reason_of};

/// Arguments of `ssenotify add`.
#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// The http(s) URL of the event stream.
    url: String,
    /// The subscription's id (default: derived from the URL).
    #[arg(long)]
    id: Option<String>,
    /// The name shown in notifications and the UI (default: the id).
    #[arg(long)]
    name: Option<String>,
    /// A request header, `Name: value` (repeatable). Secret-looking values are stored in a
    /// 0600 file under the config dir, never in the subscriptions file.
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// Add it paused.
    #[arg(long)]
    paused: bool,
}

/// Arguments of the commands that take one subscription id.
#[derive(Debug, clap::Args)]
pub struct IdArgs {
    /// The subscription's id.
    id: String,
}

/// Arguments of `ssenotify mute`.
#[derive(Debug, clap::Args)]
pub struct MuteArgs {
    /// The subscription's id.
    id: String,
    /// How long: events are still received and recorded, but show no popup.
    #[arg(long = "for", value_name = "DURATION", value_parser = humantime::parse_duration)]
    duration: Duration,
}

/// Arguments of `ssenotify dnd`.
#[derive(Debug, clap::Args)]
pub struct DndArgs {
    /// Hold notifications from now (`on`), or show them again with a digest (`off`).
    state: OnOff,
}

/// Arguments of `ssenotify mark-read`.
#[derive(Debug, clap::Args)]
pub struct MarkReadArgs {
    /// The subscriptions' ids; none: every subscription.
    ids: Vec<String>,
}

/// A switch's two positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnOff {
    /// Switched on.
    On,
    /// Switched off.
    Off,
}

/// Arguments of `ssenotify list`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Print one JSON array.
    #[arg(long)]
    json: bool,
}

/// Arguments of `ssenotify history`.
#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// Only this subscription's events.
    id: Option<String>,
    /// How many events, newest first.
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// Print one JSON array.
    #[arg(long)]
    json: bool,
}

/// The formats `import` and `export` speak.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum FormatArg {
    /// The subscriptions file's own format.
    Toml,
    /// The same schema as JSON.
    Json,
}

impl From<FormatArg> for Format {
    fn from(format: FormatArg) -> Self {
        match format {
            FormatArg::Toml => Format::Toml,
            FormatArg::Json => Format::Json,
        }
    }
}

/// Other programs' files `import --from` understands.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Source {
    /// ntfy's `client.yml` (its `subscribe:` list).
    Ntfy,
}

/// Arguments of `ssenotify import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The file to read, or `-` for standard input.
    file: PathBuf,
    /// Show what would change (added / changed / removed / unchanged) and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Also remove the subscriptions that are not in the input.
    #[arg(long)]
    replace: bool,
    /// The input's format (default: from the file extension, else TOML).
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// Read another program's file instead.
    #[arg(long, value_enum)]
    from: Option<Source>,
    /// Allow what the input would newly run or read: rules with `action = "command"`, and
    /// `env:`/`file:` references outside ssenotify's secrets directory. Without it such an
    /// import is refused, listing each; `--dry-run` lists them too.
    #[arg(long)]
    trust: bool,
    /// Print the diff as JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `ssenotify export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The output format.
    #[arg(long, value_enum, default_value = "toml")]
    format: FormatArg,
}

use crate::common::fail;

/// Ask a running daemon to apply the file now; silent when none runs.
fn apply_now(paths: &Paths) {
    let reply =
        crate::common::block_on(protocol::request(&paths.control_socket(), &Request::Reload));
    match reply {
        Ok(Reply::Error { message }) => {
            eprintln!("ssenotify: the daemon did not apply it: {message}")
        }
        Ok(_) | Err(ClientError::NotRunning { .. }) => {}
        Err(error) => tracing::warn!(%error, "could not reach the daemon"),
    }
}

/// Report an edit: `done` on success (then the daemon applies it), the reason on failure.
fn finish<T>(
    paths: &Paths,
    result: Result<T, EditError>,
    done: impl FnOnce(T) -> String,
) -> ExitCode {
    match result {
        Ok(value) => {
            apply_now(paths);
            println!("{}", done(value));
            ExitCode::SUCCESS
        }
        Err(EditError::Usage(message)) => crate::common::usage_error(message),
        Err(error) => fail(error),
    }
}

/// `ssenotify add`.
pub fn add(args: AddArgs, paths: &Paths) -> ExitCode {
    let headers = match args.headers.iter().map(|h| ops::parse_header(h)).collect() {
        Ok(headers) => headers,
        Err(error) => return crate::common::usage_error(error),
    };
    let new = ops::NewSubscription {
        url: args.url,
        id: args.id,
        name: args.name,
        headers,
        paused: args.paused,
    };
    finish(paths, ops::add(paths, new), |id| format!("added {id}"))
}

/// `ssenotify remove`.
pub fn remove(args: IdArgs, paths: &Paths) -> ExitCode {
    let result = ops::remove(paths, &args.id);
    let removed = result.is_ok();
    let code = finish(paths, result, |()| format!("removed {}", args.id));
    if removed {
        forget(paths, vec![args.id]);
    }
    code
}

/// After an explicit removal (applied by the daemon): its history and resume point go too.
/// Nothing else ever deletes history at once (README, "What ssenotify promises").
fn forget(paths: &Paths, ids: Vec<String>) {
    if let Err(error) = crate::common::block_on(ssenotify_daemon::ops::forget(paths, ids)) {
        eprintln!("ssenotify: warning: history not deleted: {error}");
    }
}

/// `ssenotify pause` and `ssenotify resume`.
pub fn set_paused(args: IdArgs, paths: &Paths, paused: bool) -> ExitCode {
    // Resuming a subscription that is not paused but CLOSED for good (a 404, an expired
    // token) is a request to try again.
    let closed_for_good = !paused && {
        let this = Request::Status {
            since: None,
            ids: Some(vec![args.id.clone()]),
        };
        crate::status::ask(paths, &this).is_ok_and(|report| {
            report
                .subscriptions
                .iter()
                .any(|s| s.ready_state == ReadyState::Closed && !s.paused)
        })
    };
    let result = ops::set_paused(paths, &args.id, paused);
    let done = if paused { "paused" } else { "resumed" };
    let code = finish(paths, result, |()| format!("{done} {}", args.id));
    if closed_for_good && code == ExitCode::SUCCESS {
        let request = Request::Reconnect { id: args.id };
        if let Ok(Reply::Error { message }) =
            crate::common::block_on(protocol::request(&paths.control_socket(), &request))
        {
            eprintln!("ssenotify: warning: not reconnected: {message}");
        }
    }
    code
}

/// `ssenotify reconnect ID`: exit 0 when the daemon reconnects it, 1 when it cannot (no
/// daemon, no such subscription, paused or disabled).
pub fn reconnect(args: IdArgs, paths: &Paths) -> ExitCode {
    let request = Request::Reconnect {
        id: args.id.clone(),
    };
    match crate::common::block_on(protocol::request(&paths.control_socket(), &request)) {
        Ok(Reply::Done { .. }) => {
            println!("reconnecting {}", args.id);
            ExitCode::SUCCESS
        }
        Ok(Reply::Error { message }) => fail(message),
        Ok(other) => fail(format!("unexpected reply: {other:?}")),
        Err(error) => fail(error),
    }
}

/// `ssenotify show-anyway`: exit 0 whether or not quiet hours held anything.
pub fn show_anyway(paths: &Paths) -> ExitCode {
    let result = ops::show_anyway(paths, chrono::Local::now().naive_local());
    finish(paths, result, |until| match until {
        Some(until) => format!(
            "quiet hours lifted until {}: notifications show (held ones as one digest)",
            until.format("%H:%M")
        ),
        None => "no quiet hours hold notifications now".to_owned(),
    })
}

/// `ssenotify mark-read [ID]...`: exit 0 when the daemon marked them read, 1 when it
/// cannot (no daemon, no such subscription).
pub fn mark_read(args: MarkReadArgs, paths: &Paths) -> ExitCode {
    let request = Request::MarkRead {
        ids: (!args.ids.is_empty()).then_some(args.ids),
    };
    match crate::common::block_on(protocol::request(&paths.control_socket(), &request)) {
        Ok(Reply::Done {
            detail: protocol::Done::MarkedRead { marked_read },
        }) => {
            println!("marked read: {}", marked_read.join(", "));
            ExitCode::SUCCESS
        }
        Ok(Reply::Error { message }) => fail(message),
        Ok(other) => fail(format!("unexpected reply: {other:?}")),
        Err(error) => fail(error),
    }
}

/// `ssenotify mute ID --for D`.
pub fn mute(args: MuteArgs, paths: &Paths) -> ExitCode {
    let until = chrono::Utc::now()
        + chrono::Duration::from_std(args.duration).unwrap_or(chrono::Duration::MAX);
    let result = ops::mute(paths, &args.id, Some(until.fixed_offset()));
    finish(paths, result, |()| format!("muted {}", args.id))
}

/// `ssenotify unmute ID`.
pub fn unmute(args: IdArgs, paths: &Paths) -> ExitCode {
    let result = ops::mute(paths, &args.id, None);
    finish(paths, result, |()| format!("unmuted {}", args.id))
}

/// `ssenotify dnd on|off`.
pub fn dnd(args: DndArgs, paths: &Paths) -> ExitCode {
    let on = args.state == OnOff::On;
    let result = ops::set_do_not_disturb(paths, on);
    finish(paths, result, |()| {
        if on {
            "do not disturb: on (notifications held until `ssenotify dnd off`; critical ones show)"
        } else {
            "do not disturb: off"
        }
        .to_owned()
    })
}

/// `ssenotify quit`: asks the daemon to stop and waits until it has (history flushed,
/// sockets closed); exit 0 when it stopped or none ran, 1 when it did not stop in time.
pub fn quit(paths: &Paths) -> ExitCode {
    let socket = paths.control_socket();
    match crate::common::block_on(protocol::request(&socket, &Request::Quit)) {
        Ok(Reply::Done { .. }) => {}
        Err(ClientError::NotRunning { .. }) => {
            println!("daemon: not running");
            return ExitCode::SUCCESS;
        }
        Ok(other) => return fail(format!("the daemon refused: {other:?}")),
        Err(error) => return fail(error),
    }
    // Stopped once the single-instance lock is free (the socket goes a moment earlier).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while ssenotify_daemon::running_pid(paths).is_some() {
        if std::time::Instant::now() > deadline {
            return fail("the daemon did not stop within 10 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    println!("daemon: stopped");
    ExitCode::SUCCESS
}

/// The daemon's live status of every subscription and its own, when one runs.
fn live_status(paths: &Paths) -> Option<StatusReport> {
    let every = Request::Status {
        since: None,
        ids: None,
    };
    crate::status::ask(paths, &every).ok()
}

/// One element of `list --json` while the file does not validate: what the daemon runs.
#[derive(Serialize)]
struct RunningItem<'a> {
    id: &'a str,
    name: &'a str,
    url: &'a str,
    live: &'a SubscriptionStatus,
}

/// One element of `list --json`: the subscription as in the file, and its live state.
#[derive(Serialize)]
struct ListItem<'a> {
    #[serde(flatten)]
    spec: &'a SubscriptionSpec,
    live: Option<&'a SubscriptionStatus>,
}

/// `ssenotify list`: the file's subscriptions joined with the daemon's statuses by id
/// (linear: 10,000 subscriptions print as fast as the file reads).
pub fn list(args: ListArgs, paths: &Paths) -> ExitCode {
    // The daemon builds its answer while this process reads the file.
    let (loaded, live) = std::thread::scope(|scope| {
        let live = scope.spawn(|| live_status(paths));
        let loaded = Store::new(paths.clone()).load();
        (loaded, live.join().ok().flatten())
    });
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let set = match loaded {
        Ok(set) => set,
        Err(error) => {
            // A running daemon keeps its last valid set: show that as well as the error
            // (exit 1 still says the file is broken).
            if let Some(report) = &live {
                let _ = list_running(&mut out, report, args.json).and_then(|()| out.flush());
            }
            return fail(error);
        }
    };
    let statuses = live.as_ref().map(by_id).unwrap_or_default();
    let written = if args.json {
        let items: Vec<ListItem<'_>> = set
            .subscriptions
            .iter()
            .map(|spec| ListItem {
                spec,
                live: statuses.get(spec.id.as_str()).copied(),
            })
            .collect();
        write_json(&mut out, &items)
    } else {
        list_text(
            &mut out,
            &set.subscriptions,
            live.as_ref().map(|r| &r.daemon),
            &statuses,
        )
    };
    if let Err(error) = written.and_then(|()| out.flush()) {
        return fail(format!("cannot write the list: {error}"));
    }
    ExitCode::SUCCESS
}

/// `list` in text: the daemon's line (or that none runs), then a row per subscription.
fn list_text(
    out: &mut impl Write,
    specs: &[SubscriptionSpec],
    daemon: Option<&protocol::DaemonInfo>,
    statuses: &std::collections::HashMap<&str, &SubscriptionStatus>,
) -> std::io::Result<()> {
    match daemon {
        Some(daemon) => {
            print_daemon(out, daemon)?;
            if let Some(error) = &daemon.config_error {
                writeln!(out, "subscriptions file NOT applied:\n{error}")?;
            }
        }
        None => writeln!(out, "daemon: not running")?,
    }
    for spec in specs {
        let (state, reason) = match statuses.get(spec.id.as_str()) {
            Some(s) => (s.ready_state.as_str(), reason_of(s)),
            None if !spec.enabled => ("-", "disabled".into()),
            None if spec.paused => ("-", "paused".into()),
            None => ("-", String::new()),
        };
        print_row(out, &spec.id, state, &spec.url, &reason)?;
    }
    Ok(())
}

/// `list` while the file does not validate: what the daemon runs, its last valid set.
fn list_running(out: &mut impl Write, report: &StatusReport, json: bool) -> std::io::Result<()> {
    if json {
        let items: Vec<RunningItem<'_>> = report
            .subscriptions
            .iter()
            .map(|live| RunningItem {
                id: &live.id,
                name: &live.name,
                url: &live.url,
                live,
            })
            .collect();
        return write_json(out, &items);
    }
    print_daemon(out, &report.daemon)?;
    writeln!(
        out,
        "subscriptions file NOT applied; the daemon runs its last valid set:"
    )?;
    for s in &report.subscriptions {
        print_status(out, s)?;
    }
    Ok(())
}

/// `value` as one line of JSON.
fn write_json(out: &mut impl Write, value: &impl Serialize) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, value).map_err(std::io::Error::other)?;
    writeln!(out)
}

/// `ssenotify history`.
pub fn history(args: HistoryArgs, paths: &Paths) -> ExitCode {
    let path = paths.history_db();
    if !path.exists() {
        if args.json {
            println!("[]");
        }
        return ExitCode::SUCCESS;
    }
    let history = match HistoryReader::open(&path) {
        Ok(history) => history,
        Err(error) => return fail(error),
    };
    let events = match history.page(args.id.as_deref(), None, args.limit) {
        Ok(events) => events,
        Err(error) => return fail(error),
    };
    if args.json {
        println!("{}", serde_json::to_string(&events).unwrap_or_default());
        return ExitCode::SUCCESS;
    }
    let mut out = std::io::stdout().lock();
    let reached_the_end = events.len() < args.limit;
    for event in events {
        let when = chrono::DateTime::from_timestamp_millis(event.received_at)
            .map(|t| t.with_timezone(&chrono::Local).format("%F %T").to_string())
            .unwrap_or_default();
        // A gap row reads "possible gap 14:02–14:09 (why); outage began with: …".
        let text = event.text();
        let _ = writeln!(
            out,
            "{when}  {:<16} {:<12} {:<10} {}",
            event.sub_id,
            event.event_type,
            event.action,
            crate::common::Printable(&text)
        );
        if let Some(button) = &event.button {
            let _ = writeln!(out, "    button: {}", crate::common::Printable(button));
        }
    }
    // Said where the rows end, as the app's list says it: older rows did exist.
    if reached_the_end {
        match history.stats(args.id.as_deref()) {
            Ok(stats) if stats.retired > 0 => {
                let s = if stats.retired == 1 { "" } else { "s" };
                let _ = writeln!(
                    out,
                    "({} older event{s} removed by retention)",
                    stats.retired
                );
            }
            Ok(_) => {}
            Err(error) => return fail(error),
        }
    }
    ExitCode::SUCCESS
}

/// `ssenotify import`.
pub fn import(args: ImportArgs, paths: &Paths) -> ExitCode {
    let (text, name) = match read_input(&args.file) {
        Ok(read) => read,
        Err(message) => return fail(message),
    };
    let source = match args.from {
        Some(Source::Ntfy) => ops::ImportSource::Ntfy,
        None => ops::ImportSource::Native(
            args.format
                .map(Format::from)
                .or_else(|| Format::from_path(&args.file)),
        ),
    };
    let options = ops::ImportOptions {
        replace: args.replace,
        dry_run: args.dry_run,
        trust: args.trust,
    };
    let outcome = match ops::import(paths, &text, &name, source, options) {
        Ok(outcome) => outcome,
        Err(error @ EditError::Untrusted(_)) => {
            return fail(format!(
                "nothing was imported: {error}\n\
                 Import it with --trust only if you trust where it came from."
            ));
        }
        Err(error) => return fail(format!("nothing was imported:\n{error}")),
    };
    for warning in &outcome.warnings {
        eprintln!("ssenotify: warning: {warning}");
    }
    if !outcome.trust.is_empty() {
        let why = if args.trust {
            "trusted: this import lets these run or be read"
        } else {
            "without --trust this import is refused: it would let these run or be read"
        };
        eprintln!("ssenotify: warning: {why}:");
        for item in &outcome.trust {
            eprintln!("  {item}");
        }
    }
    if !args.dry_run {
        apply_now(paths);
        forget(
            paths,
            outcome.diff.removed.iter().map(|s| s.id.clone()).collect(),
        );
    }
    if args.json {
        let json = ImportJson {
            diff: outcome.diff.summary(),
            trust: &outcome.trust,
        };
        println!("{}", serde_json::to_string(&json).unwrap_or_default());
    } else {
        print!("{}", outcome.diff.render_text());
    }
    if args.dry_run {
        eprintln!("dry run: nothing was changed");
    }
    ExitCode::SUCCESS
}

/// What `import --json` prints: the diff, and what the import lets run or read.
#[derive(Serialize)]
struct ImportJson<'a> {
    #[serde(flatten)]
    diff: DiffSummary,
    trust: &'a [TrustItem],
}

fn read_input(file: &Path) -> Result<(String, PathBuf), String> {
    if file == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        Ok((text, PathBuf::from("<stdin>")))
    } else {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        Ok((text, file.to_path_buf()))
    }
}

/// `ssenotify export`.
pub fn export(args: ExportArgs, paths: &Paths) -> ExitCode {
    match ops::export(paths, args.format.into()) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(error) => fail(error),
    }
}
