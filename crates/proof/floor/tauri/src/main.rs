//! The floor for a Tauri tray (issue 30): what Tauri 2 costs with nothing of ThingsTray in
//! it. A tray icon (ThingsTray's own PNG), a one-item menu (Quit), no window ever; the
//! proof (`thingstray-proof floor`) reads this process tree's PSS beside the real app's.

use tauri::image::Image;
use tauri::menu::{Menu, MenuItem};
use tauri::tray::TrayIconBuilder;

/// The real tray's "connected" icon, so the floor holds the same pixels.
const ICON: &[u8] = include_bytes!("../../../../../icons/tray/connected-dark.png");

fn main() {
    tauri::Builder::default()
        .setup(|app| {
            let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
            let menu = Menu::with_items(app, &[&quit])?;
            // The app's tray registry keeps the icon alive; the handle is not needed.
            TrayIconBuilder::with_id("floor")
                .icon(Image::from_bytes(ICON)?)
                .tooltip("floor-tauri")
                .menu(&menu)
                .on_menu_event(|app, event| {
                    if event.id() == "quit" {
                        app.exit(0);
                    }
                })
                .build(app)?;
            Ok(())
        })
        .run(tauri::generate_context!())
        .expect("the Tauri event loop");
}
