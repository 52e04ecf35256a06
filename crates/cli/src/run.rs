//! `ssenotify run`: the daemon, headless or with its tray icon (`--tray`).

use std::process::ExitCode;
use std::sync::Arc;

use ssenotify_daemon::{Daemon, DaemonError, NoNotifications, NotifySink, Options};

/// Arguments of `ssenotify run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Record and route events but show no desktop notifications.
    #[arg(long)]
    no_notify: bool,
    /// Show a tray icon (StatusNotifierItem): state at a glance, show the window,
    /// pause/resume all, quit.
    #[arg(long)]
    tray: bool,
}

/// Run until SIGINT/SIGTERM (or Quit from the tray); exit 0 after a clean shutdown, 1 if
/// the daemon cannot start.
pub fn main(args: Args) -> ExitCode {
    let paths = match crate::common::paths() {
        Ok(paths) => paths,
        Err(code) => return code,
    };
    // One socket per subscription: a thousand subscriptions would pass the common soft
    // limit of 1024 open files, so take what the hard limit allows.
    if let Err(error) = rlimit::increase_nofile_limit(u64::MAX) {
        tracing::warn!(%error, "could not raise the open-file limit");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime builds");
    runtime.block_on(async {
        let sink: Arc<dyn NotifySink> = if args.no_notify {
            Arc::new(NoNotifications)
        } else {
            notifier()
        };
        let options = Options { tray: args.tray };
        let daemon = match Daemon::start_with(paths, sink, options).await {
            Ok(daemon) => daemon,
            Err(error @ DaemonError::AlreadyRunning { .. }) => {
                eprintln!("ssenotify: {error}");
                return ExitCode::FAILURE;
            }
            Err(error) => {
                eprintln!("ssenotify: cannot start: {error}");
                return ExitCode::FAILURE;
            }
        };
        if let Some(error) = daemon.config_error() {
            eprintln!("ssenotify: subscriptions file not applied:\n{error}");
        }
        // Quit from the tray, or `ssenotify quit` / the app's Quit over the control socket,
        // ends `run` exactly as a signal does.
        let tray = async {
            if args.tray {
                ssenotify_tray::run(&daemon).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            () = crate::common::interrupted() => {}
            () = daemon.quit_requested() => {}
            () = tray => {}
        }
        tracing::info!("shutting down");
        daemon.shutdown().await;
        ExitCode::SUCCESS
    })
}

/// The desktop notification sink.
fn notifier() -> std::sync::Arc<dyn ssenotify_daemon::NotifySink> {
    ssenotify_daemon::DesktopNotifier::spawn()
}
