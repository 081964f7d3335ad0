//! THE list of IPC commands, and everything made from it:
//!
//! - `$OUT_DIR/handler.rs`: `tauri::generate_handler![…]` over `commands::<name>` for
//!   each, include!d by `lib.rs` (a listed name without its command fails to compile);
//! - an `allow-<command>` (and `deny-<command>`) permission for each, through tauri-build's
//!   app manifest, which the capabilities in `capabilities/` grant per window;
//! - `$OUT_DIR/commands.rs`: `pub const COMMANDS`, exported by the crate, so the tests can
//!   check the capabilities, `commands.rs` and `ui/ipc.js` against this list.
//!
//! A new command: write it in `src/commands.rs`, add its name here, grant
//! `allow-<name>` to the windows that use it, and call it from `ui/ipc.js`.

use std::path::Path;

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
    "device_command",
    "run_scene",
    "set_mode",
    "copy_token",
    "sign_out",
    "settings",
    "set_favorite",
    "set_hidden",
    "set_alerts",
    "set_quiet_hours",
    "set_poll_interval",
    "set_tray_refresh",
    "set_start_at_login",
    "set_panel_theme",
    "set_global_shortcut",
    "open_window",
    "close_window",
    "rename_connection",
    "token_server",
    "set_token_server",
    "reveal_server_secret",
    "copy_server_secret",
    "rotate_server_secret",
    "share_status",
    "set_sharing",
    "share_invite",
    "paired_computers",
    "revoke_computer",
    "connect_invite",
    "offer_hand_over",
    "take_sign_in_over",
    "pat_help",
    "open_pat_page",
    "create_app",
    "check_app",
    "repair_app",
];

/// Writes only a changed file, so an unchanged list does not rebuild the crate.
fn write(dir: &Path, file: &str, text: &str) {
    let path = dir.join(file);
    if std::fs::read_to_string(&path).ok().as_deref() != Some(text) {
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }
}

fn main() {
    let out = std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR");
    let out = Path::new(&out);
    let paths: Vec<String> = COMMANDS.iter().map(|c| format!("crate::commands::{c}")).collect();
    write(out, "handler.rs", &format!("::tauri::generate_handler![\n    {},\n]\n", paths.join(",\n    ")));
    let names: Vec<String> = COMMANDS.iter().map(|c| format!("{c:?}")).collect();
    write(
        out,
        "commands.rs",
        &format!(
            "/// Every IPC command, as build.rs lists them (the one list).\npub const COMMANDS: &[&str] = &[\n    {},\n];\n",
            names.join(",\n    ")
        ),
    );
    tauri_build::try_build(
        tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri-build failed");
}
