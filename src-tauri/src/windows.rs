//! The app's windows. Each is created when asked for and destroyed when closed (never
//! hidden), so no web process lingers while only the tray is shown. This module only
//! opens and closes them; the sign-in window, whose navigation hook answers the sign-in,
//! is `sign_in`'s.

use tauri::{AppHandle, Emitter, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};
use thingstray::Error;

use crate::idle;
use crate::state::Shell;

pub const DEVICES: &str = "devices";
pub const WIZARD: &str = "wizard";
pub const SETTINGS: &str = "settings";
/// The sign-in webview (`sign_in`): SmartThings' pages, no IPC capability at all.
pub const SIGN_IN: &str = "signin";

struct Spec {
    page: &'static str,
    title: &'static str,
    size: (f64, f64),
    min: (f64, f64),
}

fn spec(label: &str) -> Option<Spec> {
    Some(match label {
        DEVICES => Spec { page: "devices.html", title: "ThingsTray", size: (440.0, 680.0), min: (340.0, 400.0) },
        WIZARD => Spec { page: "wizard.html", title: "Set up ThingsTray", size: (640.0, 720.0), min: (480.0, 520.0) },
        SETTINGS => {
            Spec { page: "settings.html", title: "ThingsTray settings", size: (600.0, 680.0), min: (460.0, 480.0) }
        }
        _ => return None,
    })
}

/// Shows the window, creating it when needed.
pub fn try_open<R: Runtime>(app: &AppHandle<R>, label: &str) -> Result<(), Error> {
    try_open_with(app, label, None)
}

/// [`try_open`]; a window created here runs `script` before its page's own.
fn try_open_with<R: Runtime>(app: &AppHandle<R>, label: &str, script: Option<String>) -> Result<(), Error> {
    if let Some(w) = app.get_webview_window(label) {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
        return Ok(());
    }
    let s = spec(label).ok_or_else(|| Error::shell("opening a window", format!("there is no `{label}` window")))?;
    idle::window_opening();
    let mut builder = WebviewWindowBuilder::new(app, label, WebviewUrl::App(s.page.into()));
    if let Some(script) = script {
        builder = builder.initialization_script(script);
    }
    builder
        .title(s.title)
        .inner_size(s.size.0, s.size.1)
        .min_inner_size(s.min.0, s.min.1)
        .center()
        .build()
        .map(|_| ())
        .map_err(|e| Error::shell("opening a window", e))
}

pub fn open<R: Runtime>(app: &AppHandle<R>, label: &str) {
    if let Err(e) = try_open(app, label) {
        tracing::error!("could not open the {label} window: {e}");
    }
}

/// The device window, showing `device` (a click on its alert). An open window is told
/// with a `show_device` event; a new one finds it in `window.__THINGSTRAY_SHOW__`, set
/// before its page runs (an event sent now would arrive before the page listens).
pub fn open_at_device<R: Runtime>(app: &AppHandle<R>, connection: &str, device: &str) {
    let target = serde_json::json!({ "connection": connection, "device": device });
    if app.get_webview_window(DEVICES).is_some() {
        open(app, DEVICES);
        if let Err(e) = app.emit_to(DEVICES, "show_device", &target) {
            tracing::warn!("could not show the device: {e}");
        }
        return;
    }
    // JSON is a JavaScript expression; the ids are SmartThings' and the config's names.
    let script = format!("window.__THINGSTRAY_SHOW__ = {target};");
    if let Err(e) = try_open_with(app, DEVICES, Some(script)) {
        tracing::error!("could not open the device window: {e}");
    }
}

/// Closes the window when it is open, else opens it.
pub fn toggle<R: Runtime>(app: &AppHandle<R>, label: &str) {
    if app.get_webview_window(label).is_some() {
        close(app, label);
    } else {
        open(app, label);
    }
}

/// The window a tray click or a second launch opens: the devices when something is set
/// up, else the wizard.
pub fn open_main<R: Runtime>(app: &AppHandle<R>) {
    // A window process: the resident, which knows, chose the window it asked for.
    if app.state::<Shell>().resident().is_some() {
        return open(app, DEVICES);
    }
    let set_up = app.state::<Shell>().desktop().map(|d| !d.connection_names().is_empty()).unwrap_or(false);
    open(app, if set_up { DEVICES } else { WIZARD });
}

pub fn close<R: Runtime>(app: &AppHandle<R>, label: &str) {
    if let Some(w) = app.get_webview_window(label) {
        if let Err(e) = w.destroy() {
            tracing::warn!("could not close the {label} window: {e}");
        }
    }
}
