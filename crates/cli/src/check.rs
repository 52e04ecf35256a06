//! `ssenotify check [FILE]`: validate a subscriptions file without the daemon.
//!
//! The same parse and validation the daemon and every edit use
//! ([`SubscriptionSet::parse`]), so `check` accepts exactly what the daemon runs: every
//! independent problem at once, each with its line and column.

use std::path::PathBuf;
use std::process::ExitCode;

use serde::Serialize;
use ssenotify_config::{Format, LiteralSecrets, PathSegment, Paths, Problem, SubscriptionSet};

/// Arguments of `ssenotify check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The file to check (default: your subscriptions file). `.json` is read as JSON.
    file: Option<PathBuf>,
    /// Print one JSON object: `{"file", "valid", "subscriptions", "problems": [...]}`.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Report<'a> {
    file: String,
    valid: bool,
    subscriptions: usize,
    problems: Vec<ProblemJson<'a>>,
}

#[derive(Serialize)]
struct ProblemJson<'a> {
    line: Option<usize>,
    column: Option<usize>,
    /// Keys and indexes from the top of the file: `["subscription", 0, "url"]`.
    path: Vec<serde_json::Value>,
    message: &'a str,
}

/// Exit 0 when the file validates, 1 with every problem when it does not (or cannot be read).
pub fn main(args: Args, paths: &Paths) -> ExitCode {
    let explicit = args.file.is_some();
    let file = args.file.unwrap_or_else(|| paths.subscriptions_file());
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        // The daemon reads a missing file of its own as no subscriptions: so does `check`.
        Err(error) if !explicit && error.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(error) => {
            return crate::common::fail(format!("cannot read {}: {error}", file.display()));
        }
    };
    let format = Format::from_path(&file).unwrap_or(Format::Toml);
    let (count, problems) =
        match SubscriptionSet::parse(&text, format, &file, LiteralSecrets::Reject) {
            Ok(set) => (set.subscriptions.len(), Vec::new()),
            Err(error) => (0, error.problems),
        };
    if args.json {
        print_json(&file, count, &problems);
    } else if problems.is_empty() {
        let plural = if count == 1 { "" } else { "s" };
        println!("{}: OK ({count} subscription{plural})", file.display());
    } else {
        for problem in &problems {
            eprintln!("{}", located(&file, problem));
        }
        let plural = if problems.len() == 1 { "" } else { "s" };
        eprintln!("{}: {} problem{plural}", file.display(), problems.len());
    }
    if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `file:line:col: message`, as compilers print it (editors jump to it).
fn located(file: &std::path::Path, problem: &Problem) -> String {
    match (problem.line, problem.column) {
        (Some(line), Some(column)) => {
            format!("{}:{line}:{column}: {}", file.display(), problem.message)
        }
        _ => format!("{}: {}", file.display(), problem.message),
    }
}

fn print_json(file: &std::path::Path, count: usize, problems: &[Problem]) {
    let report = Report {
        file: file.display().to_string(),
        valid: problems.is_empty(),
        subscriptions: count,
        problems: problems
            .iter()
            .map(|p| ProblemJson {
                line: p.line,
                column: p.column,
                path: p
                    .path
                    .iter()
                    .map(|segment| match segment {
                        PathSegment::Key(key) => key.as_str().into(),
                        PathSegment::Index(index) => (*index).into(),
                    })
                    .collect(),
                message: &p.message,
            })
            .collect(),
    };
    println!(
        "{}",
        serde_json::to_string(&report).expect("a report serializes")
    );
}
