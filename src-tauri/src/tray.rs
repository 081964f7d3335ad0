//! The tray icon and its menu, rebuilt from the core's [`TrayModel`] whenever it changes.

use std::collections::HashMap;
use std::sync::Mutex;

use tauri::image::Image;
use tauri::menu::{CheckMenuItem, IsMenuItem, Menu, MenuEvent, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::{MouseButton, MouseButtonState, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager, Runtime};
use thingstray::desktop::indicator::human_duration;
use thingstray::desktop::{menu, Desktop, MenuAction, MenuEntry, PanelTheme, TrayModel, TrayState};

use crate::notify::notify;
use crate::sign_in;
use crate::state::{lock, Shell};
use crate::windows;

pub const TRAY_ID: &str = "thingstray";

/// The check items of the current menu (to set a check back to the confirmed state) and
/// the model it was built from (to skip rebuilding an unchanged menu).
struct TrayItems<R: Runtime> {
    checks: Mutex<HashMap<String, CheckMenuItem<R>>>,
    last: Mutex<Option<(TrayModel, PanelTheme)>>,
}

/// The icon for a state on a panel (the core holds the files).
pub fn icon(state: TrayState, theme: PanelTheme) -> Image<'static> {
    Image::from_bytes(state.icon_png(theme)).expect("the tray icons are valid PNGs")
}

pub fn install<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    app.manage(TrayItems::<R> { checks: Mutex::new(HashMap::new()), last: Mutex::new(None) });
    let starting = MenuItem::with_id(app, "starting", "Starting…", false, None::<&str>)?;
    let quit = MenuItem::with_id(app, MenuAction::Quit.id(), "Quit ThingsTray", true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&starting, &PredefinedMenuItem::separator(app)?, &quit])?;
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(icon(TrayState::SignIn, PanelTheme::default()))
        .tooltip("ThingsTray")
        .menu(&menu)
        // Windows/macOS: a left click opens the device window, a right click the menu.
        // Linux: no click events at all; the menu is the tray's whole UI.
        .show_menu_on_left_click(false)
        .on_menu_event(on_menu)
        .on_tray_icon_event(|tray, event| {
            if let TrayIconEvent::Click { button: MouseButton::Left, button_state: MouseButtonState::Up, .. } = event {
                windows::open_main(tray.app_handle());
            }
        })
        .build(app)?;
    Ok(())
}

/// Escapes `&`, which menus read as a mnemonic marker.
fn label(text: &str) -> String {
    text.replace('&', "&&")
}

fn items<R: Runtime>(
    app: &AppHandle<R>,
    entries: &[MenuEntry],
    checks: &mut HashMap<String, CheckMenuItem<R>>,
) -> tauri::Result<Vec<Box<dyn IsMenuItem<R>>>> {
    let mut out: Vec<Box<dyn IsMenuItem<R>>> = Vec::new();
    for e in entries {
        match e {
            MenuEntry::Item { id, text, enabled } => {
                out.push(Box::new(MenuItem::with_id(app, id.as_str(), label(text), *enabled, None::<&str>)?))
            }
            MenuEntry::Check { id, text, checked, enabled } => {
                let item = CheckMenuItem::with_id(app, id.as_str(), label(text), *enabled, *checked, None::<&str>)?;
                checks.insert(id.clone(), item.clone());
                out.push(Box::new(item));
            }
            MenuEntry::Submenu { id, text, entries } => {
                let kids = items(app, entries, checks)?;
                let refs: Vec<&dyn IsMenuItem<R>> = kids.iter().map(|k| k.as_ref()).collect();
                out.push(Box::new(Submenu::with_id_and_items(app, id.as_str(), label(text), true, &refs)?));
            }
            MenuEntry::Separator => out.push(Box::new(PredefinedMenuItem::separator(app)?)),
        }
    }
    Ok(out)
}

/// Brings icon, tooltip and menu in line with the desktop's current model.
pub fn refresh<R: Runtime>(app: &AppHandle<R>, desktop: &Desktop) {
    let model = desktop.tray();
    let theme = desktop.panel_theme();
    let Some(state) = app.try_state::<TrayItems<R>>() else { return };
    if lock(&state.last).as_ref().is_some_and(|(m, t)| *m == model && *t == theme) {
        return;
    }
    let Some(tray) = app.tray_by_id(TRAY_ID) else { return };
    let mut checks = HashMap::new();
    let built = items(app, &model.entries, &mut checks).and_then(|kids| {
        let refs: Vec<&dyn IsMenuItem<R>> = kids.iter().map(|k| k.as_ref()).collect();
        Menu::with_items(app, &refs)
    });
    match built {
        Ok(m) => {
            if let Err(e) = tray.set_menu(Some(m)) {
                tracing::warn!("could not update the tray menu: {e}");
            }
        }
        Err(e) => tracing::warn!("could not build the tray menu: {e}"),
    }
    let _ = tray.set_icon(Some(icon(model.state, theme)));
    let _ = tray.set_tooltip(Some(&model.tooltip));
    *lock(&state.checks) = checks;
    *lock(&state.last) = Some((model, theme));
}

/// The settings could not be read: say so in the tray.
pub fn show_error<R: Runtime>(app: &AppHandle<R>) {
    if let Some(tray) = app.tray_by_id(TRAY_ID) {
        let _ = tray.set_icon(Some(icon(TrayState::SignIn, PanelTheme::default())));
        let _ = tray.set_tooltip(Some("ThingsTray: could not read the settings"));
    }
}

/// A check item flips itself when clicked. Put it back to the state last confirmed by
/// SmartThings; the menu is rebuilt with the read-back state once the command is done.
fn restore_check<R: Runtime>(app: &AppHandle<R>, id: &str) {
    let Some(state) = app.try_state::<TrayItems<R>>() else { return };
    let confirmed = lock(&state.last)
        .as_ref()
        .and_then(|(m, _)| menu::checks(&m.entries).into_iter().find(|(i, _)| i == id).map(|(_, c)| c));
    let item = lock(&state.checks).get(id).cloned();
    if let (Some(item), Some(checked)) = (item, confirmed) {
        let _ = item.set_checked(checked);
    }
}

fn on_menu<R: Runtime>(app: &AppHandle<R>, event: MenuEvent) {
    let id = event.id().as_ref().to_string();
    let Some(action) = MenuAction::parse(&id) else { return };
    let Ok(desktop) = app.state::<Shell>().desktop() else {
        if action == MenuAction::Quit {
            app.exit(0);
        }
        return;
    };
    let app = app.clone();
    match action {
        MenuAction::SwitchDevice { connection, device } => {
            restore_check(&app, &id);
            tauri::async_runtime::spawn(async move {
                // A failure queues a notice (shown by `lifecycle`) and leaves the confirmed
                // state; success changes the model. Either way the menu is rebuilt.
                if let Err(e) = desktop.toggle(&connection, &device).await {
                    tracing::info!(code = e.code(), "a switch from the tray failed");
                    restore_check(&app, &id);
                }
            });
        }
        MenuAction::LockDevice { connection, device } => {
            tauri::async_runtime::spawn(async move {
                // The model changes either way (read back, or a notice saying why).
                if let Err(e) = desktop.lock(&connection, &device).await {
                    tracing::info!(code = e.code(), "locking from the tray failed");
                }
            });
        }
        MenuAction::RunScene { connection, scene } => {
            tauri::async_runtime::spawn(async move {
                if let Err(e) = desktop.run_scene(&connection, &scene).await {
                    notify(&app, "ThingsTray: the scene did not run", &e.to_string());
                }
            });
        }
        MenuAction::SetMode { connection, mode } => {
            // Like a switch: the check shows the confirmed mode until the one read back.
            restore_check(&app, &id);
            tauri::async_runtime::spawn(async move {
                if let Err(e) = desktop.set_mode(&connection, &mode).await {
                    restore_check(&app, &id);
                    notify(&app, "ThingsTray: the mode did not change", &e.to_string());
                }
            });
        }
        MenuAction::CopyToken { connection } => {
            tauri::async_runtime::spawn(async move {
                use tauri_plugin_clipboard_manager::ClipboardExt;
                match desktop.token_for_copy(&connection).await {
                    Ok((grant, _)) => {
                        let left = grant.expires_at.duration_since(std::time::SystemTime::now()).unwrap_or_default();
                        match app.clipboard().write_text(grant.secret()) {
                            Ok(()) => {
                                notify(&app, "Access token copied", &format!("Valid for {}.", human_duration(left)))
                            }
                            Err(e) => notify(&app, "ThingsTray: could not copy", &e.to_string()),
                        }
                    }
                    Err(e) => notify(&app, "ThingsTray: no token to copy", &e.to_string()),
                }
            });
        }
        MenuAction::RefreshDevices { connection } => {
            tauri::async_runtime::spawn(async move {
                if let Err(e) = desktop.refresh_devices(&connection).await {
                    notify(&app, "ThingsTray: could not read the devices", &e.to_string());
                }
            });
        }
        MenuAction::SignIn { connection } => {
            match desktop.begin_sign_in(&connection).and_then(|_| sign_in::open_window(&app)) {
                Ok(()) => {}
                Err(e) => notify(&app, "ThingsTray: sign-in did not start", &e.to_string()),
            }
        }
        MenuAction::TokenServer => windows::open(&app, windows::SETTINGS),
        MenuAction::Setup => windows::open(&app, windows::WIZARD),
        MenuAction::Open | MenuAction::ShowDevice { .. } => windows::open_main(&app),
        MenuAction::Settings => windows::open(&app, windows::SETTINGS),
        MenuAction::Quit => app.exit(0),
    }
}

#[cfg(test)]
mod tests {
    use thingstray::desktop::{PanelTheme, TrayState};

    /// Every icon the core holds decodes as an image.
    #[test]
    fn every_icon_is_an_image() {
        for state in [TrayState::Connected, TrayState::Refreshing, TrayState::Retrying, TrayState::SignIn] {
            for theme in [PanelTheme::Light, PanelTheme::Dark] {
                super::icon(state, theme);
            }
        }
    }
}
