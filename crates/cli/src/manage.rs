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

use ssenotify_engine::config::{
    self, Format, LiteralSecrets, Paths, Secret, Store, StoreError, SubscriptionSet,
    SubscriptionSpec,
};
use ssenotify_engine::control::{self, Reply, Request};
use ssenotify_engine::history::History;

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

use crate::fail;

/// Ask a running daemon to apply the file now; silent when none runs.
fn apply_now(paths: &Paths) {
    let reply = crate::block_on(control::request(&paths.control_socket(), &Request::Reload));
    match reply {
        Ok(Reply::Error { message }) => {
            eprintln!("ssenotify: the daemon did not apply it: {message}")
        }
        Ok(_) | Err(control::ClientError::NotRunning { .. }) => {}
        Err(error) => tracing::warn!(%error, "could not reach the daemon"),
    }
}

/// Edit the file under its lock, then have the daemon apply it.
fn edit<T>(
    paths: &Paths,
    change: impl FnOnce(&Store, &mut SubscriptionSet) -> Result<T, String>,
) -> Result<T, String> {
    let store = Store::new(paths.clone());
    let value = store
        .update(|set| change(&store, set).map_err(EditError::Refused))
        .map_err(|e| match e {
            EditError::Refused(message) => message,
            EditError::Store(error) => error.to_string(),
        })?;
    apply_now(paths);
    Ok(value)
}

enum EditError {
    Refused(String),
    Store(StoreError),
}

impl From<StoreError> for EditError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

/// An id for `url` that is not taken yet: host and path, sanitised.
fn derive_id(url: &str, set: &SubscriptionSet) -> String {
    let parsed = reqwest_url(url);
    let mut base: String = parsed
        .iter()
        .flat_map(|(host, path)| std::iter::once(host.clone()).chain(path.iter().cloned()))
        .filter(|part| !matches!(part.as_str(), "" | "sse" | "events" | "stream" | "json"))
        .collect::<Vec<_>>()
        .join("-")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    base = base
        .trim_matches(|c| c == '-' || c == '.')
        .chars()
        .take(56)
        .collect();
    if base.is_empty() {
        base = "subscription".into();
    }
    let mut id = base.clone();
    let mut n = 2;
    while set.get(&id).is_some() {
        id = format!("{base}-{n}");
        n += 1;
    }
    id
}

/// Host and path segments of a URL, without depending on a URL crate here.
fn reqwest_url(url: &str) -> Option<(String, Vec<String>)> {
    let rest = url.split_once("://")?.1;
    let rest = rest.split(['?', '#']).next()?;
    let mut parts = rest.split('/');
    let host = parts
        .next()?
        .rsplit('@')
        .next()?
        .split(':')
        .next()?
        .to_owned();
    Some((host, parts.map(str::to_owned).collect()))
}

/// `ssenotify add`.
pub fn add(args: AddArgs, paths: &Paths) -> ExitCode {
    let mut headers = Vec::new();
    for header in &args.headers {
        match header.split_once(':') {
            Some((name, value)) if !name.trim().is_empty() => {
                headers.push((name.trim().to_owned(), value.trim().to_owned()));
            }
            _ => {
                return crate::usage_error(format!(
                    "header {header:?} is not of the form 'Name: value'"
                ));
            }
        }
    }
    let result = edit(paths, |store, set| {
        let id = match &args.id {
            Some(id) => id.clone(),
            None => derive_id(&args.url, set),
        };
        if set.get(&id).is_some() {
            return Err(format!(
                "a subscription with id {id:?} already exists (remove it first, or use import to change it)"
            ));
        }
        let mut spec = SubscriptionSpec::new(id.clone(), args.url.clone());
        spec.name = args.name.clone();
        spec.paused = args.paused;
        spec.headers = headers
            .iter()
            .map(|(name, value)| (name.clone(), Secret::parse(value)))
            .collect();
        // Validate the new subscription on its own first, so the error names it, not the file.
        let mut probe = SubscriptionSet::default();
        probe.subscriptions.push(spec.clone());
        probe
            .validate(Path::new("<add>"), LiteralSecrets::Allow)
            .map_err(|e| e.to_string())?;
        store.stash_secrets(&mut spec).map_err(|e| e.to_string())?;
        set.upsert(spec);
        Ok(id)
    });
    match result {
        Ok(id) => {
            println!("added {id}");
            ExitCode::SUCCESS
        }
        Err(message) => fail(message),
    }
}

/// `ssenotify remove`.
pub fn remove(args: IdArgs, paths: &Paths) -> ExitCode {
    let result = edit(paths, |_, set| {
        set.remove(&args.id)
            .map(drop)
            .ok_or_else(|| format!("no subscription with id {:?}", args.id))
    });
    match result {
        Ok(()) => {
            println!("removed {}", args.id);
            ExitCode::SUCCESS
        }
        Err(message) => fail(message),
    }
}

/// `ssenotify pause` and `ssenotify resume`.
pub fn set_paused(args: IdArgs, paths: &Paths, paused: bool) -> ExitCode {
    modify(
        paths,
        &args.id,
        |spec| spec.paused = paused,
        if paused { "paused" } else { "resumed" },
    )
}

/// `ssenotify mute ID --for D`.
pub fn mute(args: MuteArgs, paths: &Paths) -> ExitCode {
    let until = chrono::Utc::now()
        + chrono::Duration::from_std(args.duration).unwrap_or(chrono::Duration::MAX);
    let until = until.fixed_offset();
    modify(
        paths,
        &args.id,
        |spec| spec.mute_until = Some(until),
        "muted",
    )
}

/// `ssenotify unmute ID`.
pub fn unmute(args: IdArgs, paths: &Paths) -> ExitCode {
    modify(paths, &args.id, |spec| spec.mute_until = None, "unmuted")
}

fn modify(
    paths: &Paths,
    id: &str,
    change: impl FnOnce(&mut SubscriptionSpec),
    done: &str,
) -> ExitCode {
    let result = edit(paths, |_, set| {
        let spec = set
            .get_mut(id)
            .ok_or_else(|| format!("no subscription with id {id:?}"))?;
        change(spec);
        Ok(())
    });
    match result {
        Ok(()) => {
            println!("{done} {id}");
            ExitCode::SUCCESS
        }
        Err(message) => fail(message),
    }
}

/// The daemon's live status, when one runs: per id, and the daemon's own state.
fn live_status(paths: &Paths) -> Option<(Vec<serde_json::Value>, serde_json::Value)> {
    match crate::block_on(control::request(&paths.control_socket(), &Request::Status)) {
        Ok(Reply::Status {
            subscriptions,
            daemon,
        }) => Some((subscriptions, daemon)),
        _ => None,
    }
}

/// `ssenotify list`.
pub fn list(args: ListArgs, paths: &Paths) -> ExitCode {
    let set = match Store::new(paths.clone()).load() {
        Ok(set) => set,
        Err(error) => {
            // A running daemon keeps its last valid set: show that as well as the error.
            if !args.json
                && let Some((subs, daemon)) = live_status(paths)
            {
                print_daemon(&daemon);
                println!("subscriptions file NOT applied; the daemon runs its last valid set:");
                for s in &subs {
                    let text = |key: &str| s[key].as_str().unwrap_or("").to_owned();
                    println!(
                        "{:<24} {:<10} {:<40} {}",
                        text("id"),
                        text("ready_state"),
                        text("url"),
                        text("reason")
                    );
                }
            }
            return fail(error);
        }
    };
    let live = live_status(paths);
    let live_of = |id: &str| -> Option<serde_json::Value> {
        let (subs, _) = live.as_ref()?;
        subs.iter().find(|s| s["id"] == id).cloned()
    };
    if args.json {
        let items: Vec<serde_json::Value> = set
            .subscriptions
            .iter()
            .map(|spec| {
                let mut item = serde_json::to_value(spec).unwrap_or_default();
                item["live"] = live_of(&spec.id).unwrap_or(serde_json::Value::Null);
                item
            })
            .collect();
        println!("{}", serde_json::Value::Array(items));
        return ExitCode::SUCCESS;
    }
    if let Some((_, daemon)) = &live {
        print_daemon(daemon);
        if let Some(error) = daemon["config_error"].as_str() {
            println!("subscriptions file NOT applied:\n{error}");
        }
    } else {
        println!("daemon: not running");
    }
    for spec in &set.subscriptions {
        let (state, reason) = match live_of(&spec.id) {
            Some(s) => (
                s["ready_state"].as_str().unwrap_or("?").to_owned(),
                s["reason"].as_str().unwrap_or("").to_owned(),
            ),
            None if !spec.enabled => ("-".into(), "disabled".into()),
            None if spec.paused => ("-".into(), "paused".into()),
            None => ("-".into(), String::new()),
        };
        println!("{:<24} {:<10} {:<40} {}", spec.id, state, spec.url, reason);
    }
    ExitCode::SUCCESS
}

fn print_daemon(daemon: &serde_json::Value) {
    println!(
        "daemon: running (pid {}), notifications: {}",
        daemon["pid"],
        daemon["notifier"]["state"].as_str().unwrap_or("unknown")
    );
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
    let history = match History::open_read_only(&path) {
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
    for event in events {
        let when = chrono::DateTime::from_timestamp_millis(event.received_at)
            .map(|t| t.with_timezone(&chrono::Local).format("%F %T").to_string())
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{when}  {:<16} {:<12} {:<10} {}",
            event.sub_id,
            event.event_type,
            event.action,
            crate::Printable(&event.data)
        );
    }
    ExitCode::SUCCESS
}

/// `ssenotify import`.
pub fn import(args: ImportArgs, paths: &Paths) -> ExitCode {
    let (text, name) = match read_input(&args.file) {
        Ok(read) => read,
        Err(message) => return fail(message),
    };
    let incoming = match args.from {
        Some(Source::Ntfy) => config::from_ntfy_client_yml(&text, &name).map(|import| {
            for warning in import.warnings {
                eprintln!("ssenotify: warning: {warning}");
            }
            import.set
        }),
        None => {
            let format = args
                .format
                .map(Format::from)
                .or_else(|| Format::from_path(&args.file))
                .unwrap_or(if text.trim_start().starts_with('{') {
                    Format::Json
                } else {
                    Format::Toml
                });
            SubscriptionSet::parse(&text, format, &name, LiteralSecrets::Allow)
        }
    };
    let mut incoming = match incoming {
        Ok(set) => set,
        Err(error) => return fail(format!("nothing was imported:\n{error}")),
    };
    let dry_run = args.dry_run;
    let result = edit(paths, |store, current| {
        let mut stashed = Vec::new();
        for spec in &mut incoming.subscriptions {
            let secrets = if dry_run {
                store.plan_secrets(spec)
            } else {
                store.stash_secrets(spec)
            };
            stashed.push((spec.id.clone(), secrets.map_err(|e| e.to_string())?));
        }
        let mut diff = config::diff(current, &incoming, args.replace);
        for (id, secrets) in &stashed {
            diff.note_stashed_secrets(current, id, secrets);
        }
        if !dry_run {
            diff.apply(current);
        }
        Ok(diff)
    });
    let diff = match result {
        Ok(diff) => diff,
        Err(message) => return fail(format!("nothing was imported:\n{message}")),
    };
    if args.json {
        println!("{}", diff.to_json());
    } else {
        print!("{}", diff.render_text());
    }
    if dry_run {
        eprintln!("dry run: nothing was changed");
    }
    ExitCode::SUCCESS
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
    match Store::new(paths.clone()).load() {
        Ok(set) => {
            print!("{}", set.render(args.format.into()));
            ExitCode::SUCCESS
        }
        Err(error) => fail(error),
    }
}
