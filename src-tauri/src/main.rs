//! The ssenotify desktop app: a thin Tauri shell that shows the main window and wires it to
//! the engine over IPC. The engine and the tray icon run in the daemon (`ssenotify run
//! --tray`, started here when needed); this process lives only while the window is open
//! (engine.rs says why). Every behaviour worth testing lives in the engine's crates.
//!
//! # Layout
//!
//! - `main.rs`: start-up: the engine first, then Tauri (plugins, commands, the window).
//! - `engine`: the link to the daemon: starts it when none runs, reconnects, describes it
//!   to the UI (`AppInfo`).
//! - `commands`: the IPC commands, each a line or two over the engine's crates (the list
//!   whole, or only what changed since the UI's last copy: `list_changes`).
//! - `events`: the daemon's `watch` stream (from a snapshot), batched into
//!   `ssenotify://update` events that carry only what changed.
//! - `window`: the main window (and WebKit's compositing setting).
//! - `args`: the command line of a first or second launch (`--hidden`, files to import).

mod args;
mod commands;
mod engine;
mod events;
mod window;

use std::process::ExitCode;

use tauri::Manager;

use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    // Answered before GTK, logging or the engine: packaging checks run it headless.
    if std::env::args_os()
        .nth(1)
        .is_some_and(|arg| arg == "--version" || arg == "-V")
    {
        println!("ssenotify-app {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    // Same switch as the CLI: logs go to stderr, `SSENOTIFY_LOG=debug` for more.
    let filter =
        EnvFilter::try_from_env("SSENOTIFY_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();

    let launch = args::LaunchArgs::parse(std::env::args_os().skip(1));
    if launch.hidden && launch.files.is_empty() {
        // Autostart: make sure the engine and its tray icon run, and go. No GTK, no
        // WebKit: nothing of this process stays behind.
        return start_engine_only();
    }

    // Before the first thread below: it edits this process's environment.
    window::disable_gpu_compositing();

    // Reach (or start) the engine while GTK and WebKit initialise: the subscriptions are
    // connecting before the window exists. A second launch only finds the running one.
    let connecting = std::thread::spawn(|| block_on(engine::Engine::connect()));

    let app = tauri::Builder::default()
        // Must be the first plugin: a second instance hands its argv over and exits before
        // anything else (another tray icon, another engine) starts.
        .plugin(tauri_plugin_single_instance::init(|app, argv, cwd| {
            args::on_second_instance(app, argv, cwd);
        }))
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            Some(vec![args::HIDDEN_FLAG]),
        ))
        .invoke_handler(tauri::generate_handler![
            commands::app_info,
            commands::list_subscriptions,
            commands::list_changes,
            commands::add_subscription,
            commands::update_subscription,
            commands::remove_subscription,
            commands::set_paused,
            commands::set_all_paused,
            commands::mute_subscription,
            commands::reconnect_subscription,
            commands::mark_read,
            commands::export_to_file,
            commands::show_anyway,
            commands::import_subscriptions,
            commands::export_subscriptions,
            commands::history_page,
            commands::history_stats,
            commands::check_subscription,
            commands::quiet_state,
            commands::set_do_not_disturb,
            commands::test_rules,
            commands::test_notification,
            commands::add_demo,
            commands::get_settings,
            commands::set_settings,
            commands::hub_token,
            commands::set_autostart,
            commands::take_open_files,
            commands::quit,
        ])
        .on_window_event(window::on_window_event)
        .setup(move |app| {
            let handle = app.handle();
            // Connected (or the daemon started) before the window exists, so the UI's first
            // call finds the subscriptions already connecting.
            let started = std::time::Instant::now();
            let engine = connecting.join().expect("the engine connection thread");
            let link = tauri::async_runtime::block_on(engine.link());
            tracing::info!(
                ?link,
                waited_ms = started.elapsed().as_millis() as u64,
                "engine ready"
            );
            app.manage(commands::AppState {
                engine,
                open_files: Default::default(),
                sent: Default::default(),
            });
            events::start_forwarders(handle);
            window::show(handle);
            args::handle_files(handle, &launch, None);
            Ok(())
        })
        .build(tauri::generate_context!())
        .expect("failed to build the Tauri application");

    // Closing the window ends the process (the default once the last window is gone): the
    // daemon keeps the subscriptions and the tray icon, and WebKit's memory goes back.
    app.run(|_, _| {});
    ExitCode::SUCCESS
}

/// `--hidden`: starts the daemon if none runs; exit 1 if none could be reached.
fn start_engine_only() -> ExitCode {
    let engine = block_on(engine::Engine::connect());
    match block_on(engine.link()) {
        engine::Link::Daemon { pid, tray } => {
            tracing::info!(pid, tray, "engine running; no window (--hidden)");
            ExitCode::SUCCESS
        }
        engine::Link::Down(why) => {
            eprintln!("ssenotify-app: the engine is not running: {why}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `future` on a small runtime of its own (before Tauri's exists, or without it).
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime builds")
        .block_on(future)
}
