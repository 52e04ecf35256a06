//! `ssenotify route` and `ssenotify notify-test`: tools for writing rules.

use std::io::{Read, Write};
use std::process::ExitCode;

use ssenotify_config::{Paths, Store};
use ssenotify_daemon::{DesktopNotifier, NotifySink, ops};
use ssenotify_router::{self as router, Urgency};

/// Arguments of `ssenotify route`.
#[derive(Debug, clap::Args)]
pub struct RouteArgs {
    /// The subscription whose rules to apply.
    #[arg(long = "subscription", value_name = "ID")]
    id: String,
    /// Only print the decisions; show no notification.
    #[arg(long)]
    dry_run: bool,
}

/// Arguments of `ssenotify notify-test`.
#[derive(Debug, clap::Args)]
pub struct NotifyTestArgs {
    /// The sample's urgency.
    #[arg(long, value_enum, default_value = "normal")]
    urgency: UrgencyArg,
}

/// Urgency as a flag value.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum UrgencyArg {
    /// Low.
    Low,
    /// Normal.
    Normal,
    /// Critical.
    Critical,
}

/// `ssenotify route --subscription ID [--dry-run] < transcript`: one JSON line per event,
/// then one per summary the storm control would show.
pub fn route(args: RouteArgs, paths: &Paths) -> ExitCode {
    let set = match Store::new(paths.clone()).load() {
        Ok(set) => set,
        Err(error) => return crate::common::fail(error),
    };
    let Some(spec) = set.get(&args.id) else {
        return crate::common::fail(format!("no subscription with id {:?}", args.id));
    };
    let mut transcript = Vec::new();
    if let Err(error) = std::io::stdin().read_to_end(&mut transcript) {
        return crate::common::fail(format!("cannot read standard input: {error}"));
    }
    let report = match ops::route_transcript(&set, spec, &transcript) {
        Ok(report) => report,
        Err(error) => return crate::common::fail(error),
    };
    if let Some(reason) = &report.stopped {
        eprintln!("ssenotify: transcript stopped early: {reason}");
    }
    if report.unterminated {
        eprintln!(
            "ssenotify: warning: the transcript ends inside an event (no blank line after it); it was not routed"
        );
    }
    let mut out = std::io::stdout().lock();
    for routed in &report.events {
        let _ = writeln!(out, "{}", serde_json::json!(routed));
    }
    for summary in &report.summaries {
        let _ = writeln!(out, "{}", serde_json::json!({ "summary": summary }));
    }
    if !args.dry_run {
        crate::common::block_on(async {
            let notifier = DesktopNotifier::spawn();
            let shown =
                report
                    .events
                    .into_iter()
                    .filter_map(|routed| match routed.decision.action {
                        router::Action::Notify(notification) => Some(notification),
                        _ => None,
                    });
            for notification in shown.chain(report.summaries) {
                notifier.deliver(&args.id, notification);
            }
            notifier.flush().await;
        });
    }
    ExitCode::SUCCESS
}

/// `ssenotify notify-test`: show a sample and report the server.
pub fn notify_test(args: NotifyTestArgs) -> ExitCode {
    let urgency = match args.urgency {
        UrgencyArg::Low => Urgency::Low,
        UrgencyArg::Normal => Urgency::Normal,
        UrgencyArg::Critical => Urgency::Critical,
    };
    match crate::common::block_on(ssenotify_daemon::notify_test(urgency)) {
        Ok(info) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&info).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Err(error) => crate::common::fail(error),
    }
}
