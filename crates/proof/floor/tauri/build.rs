//! tauri-build reads tauri.conf.json for `tauri::generate_context!`; nothing else.

fn main() {
    tauri_build::build();
}
