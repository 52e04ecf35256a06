//! Generates the Tauri context (config, embedded ui/dist, ACL) and the app's command permissions.

fn main() {
    // Listing the commands makes Tauri generate `allow-<command>` permissions and, more
    // importantly, deny every app command a capability does not grant (without a manifest all
    // app commands are open to every window).
    let manifest = tauri_build::AppManifest::new().commands(&[
        "app_info",
        "list_subscriptions",
        "list_changes",
        "add_subscription",
        "update_subscription",
        "remove_subscription",
        "set_paused",
        "set_all_paused",
        "mute_subscription",
        "reconnect_subscription",
        "mark_read",
        "export_to_file",
        "show_anyway",
        "import_subscriptions",
        "export_subscriptions",
        "history_page",
        "history_stats",
        "check_subscription",
        "quiet_state",
        "set_do_not_disturb",
        "test_rules",
        "test_notification",
        "add_demo",
        "get_settings",
        "set_settings",
        "set_autostart",
        "take_open_files",
        "quit",
    ]);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest))
        .expect("failed to generate the Tauri context");
}
