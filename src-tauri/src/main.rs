//! The ssenotify tray app: a thin Tauri shell that will host the engine and wire it to the
//! tray, the main window and IPC. Every behaviour worth testing lives in the engine; this
//! crate only translates between it and the desktop.

mod args;
mod commands;
mod engine;
mod events;
mod tray;
mod window;

use tauri::{Manager, RunEvent};
use tracing_subscriber::EnvFilter;

fn main() {
    // Same switch as the CLI: logs go to stderr, `SSENOTIFY_LOG=debug` for more.
    let filter =
        EnvFilter::try_from_env("SSENOTIFY_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();

    let launch = args::LaunchArgs::parse(std::env::args_os().skip(1));

    let app = tauri::Builder::default()
        // Must be the first plugin: a second instance hands its argv over and exits before
        // anything else (another tray icon, another engine) starts.
        .plugin(tauri_plugin_single_instance::init(|app, argv, cwd| {
            args::on_second_instance(app, argv, cwd);
        }))
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            Some(vec![args::HIDDEN_FLAG]),
        ))
        .invoke_handler(tauri::generate_handler![
            commands::app_info,
            commands::list_subscriptions,
            commands::add_subscription,
            commands::update_subscription,
            commands::remove_subscription,
            commands::set_paused,
            commands::set_all_paused,
            commands::mute_subscription,
            commands::import_subscriptions,
            commands::export_subscriptions,
            commands::history_page,
            commands::test_rules,
            commands::test_notification,
            commands::add_demo,
            commands::get_settings,
            commands::set_settings,
            commands::set_autostart,
            commands::take_open_files,
        ])
        .on_window_event(window::on_window_event)
        .setup(move |app| {
            let handle = app.handle();
            // The engine starts before any window exists, so the UI's first call finds it
            // (and the subscriptions already connecting).
            let started = std::time::Instant::now();
            let engine = tauri::async_runtime::block_on(engine::Engine::start());
            tracing::info!(mode = ?engine.mode, ms = started.elapsed().as_millis() as u64, "engine ready");
            app.manage(commands::AppState {
                engine,
                open_files: Default::default(),
            });
            tray::create(handle)?;
            events::start_forwarders(handle);
            if !launch.hidden {
                window::show(handle);
            }
            args::handle_files(handle, &launch, None);
            Ok(())
        })
        .build(tauri::generate_context!())
        .expect("failed to build the Tauri application");

    app.run(|app, event| match event {
        RunEvent::ExitRequested {
            code: None, api, ..
        } => {
            // The last window closing is not a reason to stop: the app lives in the tray
            // until Quit (which exits with a code and so passes through).
            api.prevent_exit();
        }
        RunEvent::Exit => {
            // Quit already stopped the engine; any other way out stops it here.
            if let Some(state) = app.try_state::<commands::AppState>() {
                tauri::async_runtime::block_on(state.engine.shutdown());
            }
        }
        _ => {}
    });
}
