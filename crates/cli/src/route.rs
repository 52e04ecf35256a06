//! `ssenotify route` and `ssenotify notify-test`: tools for writing rules.

use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::Instant;

use ssenotify_engine::config::{Paths, Store};
use ssenotify_engine::notifier::{self, DesktopNotifier};
use ssenotify_engine::parse::{Output, Parser};
use ssenotify_engine::router::{self, Flags, Millis, Now, Router, Urgency};
use ssenotify_engine::{Event, daemon::NotifySink};

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

/// `ssenotify route --subscription ID [--dry-run] < transcript`: one JSON line per event.
pub fn route(args: RouteArgs, paths: &Paths) -> ExitCode {
    let set = match Store::new(paths.clone()).load() {
        Ok(set) => set,
        Err(error) => return crate::fail(error),
    };
    let Some(spec) = set.get(&args.id) else {
        return crate::fail(format!("no subscription with id {:?}", args.id));
    };
    let mut router = match Router::new(
        spec.display_name(),
        &spec.rules,
        spec.rate_limit.as_ref(),
        &set.notifications,
    ) {
        Ok(router) => router,
        Err(error) => return crate::fail(error),
    };
    let mut transcript = Vec::new();
    if let Err(error) = std::io::stdin().read_to_end(&mut transcript) {
        return crate::fail(format!("cannot read standard input: {error}"));
    }
    let mut parser = Parser::new(spec.max_event_size);
    let mut events = Vec::new();
    let parsed = parser.feed(&transcript, |output| {
        if let Output::Event(event) = output {
            events.push(Event {
                event_type: event.event_type.into(),
                data: event.data.to_owned(),
                last_event_id: event.last_event_id.into(),
                id: event.has_id.then(|| event.last_event_id.into()),
                cursor: None,
            });
        }
    });
    if let Err(error) = parsed {
        eprintln!("ssenotify: transcript stopped early: {error}");
    }
    crate::block_on(async {
        let notifier = (!args.dry_run).then(DesktopNotifier::spawn);
        let start = Instant::now();
        let now = || Now {
            mono: Millis::from(start.elapsed()),
            local: chrono::Local::now().naive_local(),
        };
        let mut out = std::io::stdout().lock();
        for event in &events {
            let decision = router.route(event, Flags::default(), now());
            let line = serde_json::json!({
                "event": event,
                "decision": decision,
            });
            let _ = writeln!(out, "{line}");
            if let (Some(notifier), router::Action::Notify(notification)) =
                (&notifier, decision.action)
            {
                notifier.deliver(&args.id, notification);
            }
        }
        // What the storm control would still show: rate-limit summaries, digests.
        let end = Now {
            mono: Millis(u64::MAX / 2),
            local: now().local,
        };
        for summary in router.tick(end) {
            let _ = writeln!(out, "{}", serde_json::json!({ "summary": summary }));
            if let Some(notifier) = &notifier {
                notifier.deliver(&args.id, summary);
            }
        }
        if let Some(notifier) = notifier {
            notifier.flush().await;
        }
    });
    ExitCode::SUCCESS
}

/// `ssenotify notify-test`: show a sample and report the server.
pub fn notify_test(args: NotifyTestArgs) -> ExitCode {
    let urgency = match args.urgency {
        UrgencyArg::Low => Urgency::Low,
        UrgencyArg::Normal => Urgency::Normal,
        UrgencyArg::Critical => Urgency::Critical,
    };
    match crate::block_on(notifier::test(urgency)) {
        Ok(info) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&info).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Err(error) => crate::fail(error),
    }
}
