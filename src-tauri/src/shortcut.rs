//! The system-wide keyboard shortcut that opens the device window (issue 29): off until
//! the user records one in Settings. Registered from Rust through the global-shortcut
//! plugin, so no window is granted that plugin's JS permissions. Desktop only.
//!
//! The system has the last word on a shortcut (another app may hold it): a new one is
//! registered first and saved only once the system took it; refused, the old one stays.

use tauri::{AppHandle, Runtime};
use thingstray::desktop::prefs::global_shortcut_choice;
use thingstray::desktop::{Desktop, DesktopSettings};
use thingstray::Error;

use crate::notify::notify;
#[cfg(desktop)]
use crate::windows;

const FIELD: &str = "global_shortcut";

/// Adds the plugin to the running app (not to the builder: a system where its setup fails
/// gets a log line and a working app, and the setting then says it is unavailable).
#[cfg(desktop)]
pub fn install<R: Runtime>(app: &AppHandle<R>) {
    let plugin = tauri_plugin_global_shortcut::Builder::new().with_handler(on_shortcut).build();
    if let Err(e) = app.plugin(plugin) {
        tracing::warn!("no global shortcuts on this system: {e}");
    }
}

/// The shortcut was pressed: the device window (or the wizard while nothing is set up),
/// opened or brought to the front as the tray's "Open ThingsTray" does. Its release is
/// ignored.
#[cfg(desktop)]
pub fn on_shortcut<R: Runtime>(
    app: &AppHandle<R>,
    _shortcut: &tauri_plugin_global_shortcut::Shortcut,
    event: tauri_plugin_global_shortcut::ShortcutEvent,
) {
    if event.state == tauri_plugin_global_shortcut::ShortcutState::Pressed {
        windows::open_main(app);
    }
}

fn unavailable() -> Error {
    Error::shell("setting the keyboard shortcut", "this system offers ThingsTray no global shortcuts")
}

/// Makes `shortcut` (already checked by the core) the one registered, or none.
#[cfg(desktop)]
fn register<R: Runtime>(app: &AppHandle<R>, shortcut: Option<&str>) -> Result<(), Error> {
    use tauri::Manager;
    let Some(plugin) = app.try_state::<tauri_plugin_global_shortcut::GlobalShortcut<R>>() else {
        return shortcut.map_or(Ok(()), |_| Err(unavailable()));
    };
    if let Err(e) = plugin.unregister_all() {
        tracing::warn!("could not remove the keyboard shortcut: {e}");
    }
    match shortcut {
        Some(s) => plugin.register(s).map_err(|e| Error::InvalidSetting {
            field: FIELD.into(),
            why: format!("the system did not take {s} ({e}); another app may already use it. Pick another combination"),
        }),
        None => Ok(()),
    }
}

#[cfg(not(desktop))]
fn register<R: Runtime>(_app: &AppHandle<R>, shortcut: Option<&str>) -> Result<(), Error> {
    shortcut.map_or(Ok(()), |_| Err(unavailable()))
}

/// Settings' "Record" and "Turn off" (`None` or blank): checked by the core, taken by the
/// system, then saved. Refused at any step, the saved shortcut stays and stays registered.
pub fn set<R: Runtime>(
    app: &AppHandle<R>,
    desktop: &Desktop,
    shortcut: Option<String>,
) -> Result<DesktopSettings, Error> {
    let wanted = global_shortcut_choice(shortcut.as_deref())?;
    let saved = desktop.settings().global_shortcut;
    let restore = || {
        if let Err(e) = register(app, saved.as_deref()) {
            tracing::warn!(code = e.code(), "could not put the saved keyboard shortcut back: {e}");
        }
    };
    if let Err(e) = register(app, wanted.as_deref()) {
        restore();
        return Err(e);
    }
    desktop.set_global_shortcut(wanted.as_deref()).inspect_err(|_| restore())
}

/// The saved shortcut, registered when a desktop becomes the current one (at start, or
/// when the demo replaces it). Refused: a log line and a notice, never a failed start.
pub fn register_saved<R: Runtime>(app: &AppHandle<R>, settings: &DesktopSettings) {
    let saved = settings.global_shortcut.as_deref();
    if let Err(e) = register(app, saved) {
        tracing::warn!(code = e.code(), "the keyboard shortcut is not active: {e}");
        let body = format!("{}: {e} Record another one in Settings.", saved.unwrap_or_default());
        notify(app, "ThingsTray: the keyboard shortcut is off", &body);
    }
}

#[cfg(test)]
mod tests {
    use tauri::test::{mock_builder, mock_context, noop_assets};
    use tauri::Manager;
    use tauri_plugin_global_shortcut::{Code, Modifiers, Shortcut, ShortcutEvent, ShortcutState};

    use crate::state::Shell;
    use crate::windows;

    /// Pressed opens the main window (the wizard, as nothing is set up here); released does
    /// nothing. Registration itself needs a display server: see `tests/ipc/`.
    #[test]
    fn a_press_opens_the_main_window_and_a_release_nothing() {
        let app = mock_builder().manage(Shell::default()).build(mock_context(noop_assets())).unwrap();
        let shortcut = Shortcut::new(Some(Modifiers::CONTROL | Modifiers::SHIFT), Code::KeyT);
        let event = |state| ShortcutEvent { id: shortcut.id(), state };
        super::on_shortcut(app.handle(), &shortcut, event(ShortcutState::Released));
        assert!(app.webview_windows().is_empty());
        super::on_shortcut(app.handle(), &shortcut, event(ShortcutState::Pressed));
        assert!(app.get_webview_window(windows::WIZARD).is_some(), "{:?}", app.webview_windows().keys());
        // Again: the same window, brought to the front, not a second one.
        super::on_shortcut(app.handle(), &shortcut, event(ShortcutState::Pressed));
        assert_eq!(app.webview_windows().len(), 1);
    }
}
