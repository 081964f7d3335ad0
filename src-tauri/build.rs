//! Generates an `allow-<command>` permission for each IPC command, so the capabilities in
//! `capabilities/` can grant each window exactly the commands it uses.

const COMMANDS: &[&str] = &[
    "app_info",
    "setup_answers",
    "check_setup",
    "start_setup",
    "start_demo",
    "sign_in_again",
    "open_sign_in_window",
    "open_sign_in_in_browser",
    "finish_sign_in",
    "cancel_sign_in",
    "connections",
    "devices",
    "cached_devices",
    "switch_device",
    "set_level",
    "set_color_temperature",
    "run_scene",
    "copy_token",
    "sign_out",
    "settings",
    "set_favorite",
    "set_hidden",
    "set_poll_interval",
    "set_tray_refresh",
    "set_start_at_login",
    "set_panel_theme",
    "open_window",
    "close_window",
];

fn main() {
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)))
        .expect("tauri-build failed");
}
