//! `--demo` and the wizard's "Try the demo": the SmartThings simulator runs in this
//! process, the settings live in a throwaway directory, and the tokens in a file there
//! (fine for the simulator's tokens; the real app uses the OS keychain).

use tauri::{AppHandle, Runtime};
use thingstray::desktop::SignInStart;
use thingstray::Error;

use crate::lifecycle::set_desktop;
use crate::notify::notify;
use crate::sign_in;

/// Starts the simulator and a demo connection (the resident's demo, `thingstray_tray::demo`),
/// and begins its sign-in. `auto_approve`: the simulator's sign-in page approves at once
/// (`--demo`); otherwise it shows its location picker and Authorize button (the wizard's demo).
pub async fn begin<R: Runtime>(app: &AppHandle<R>, auto_approve: bool) -> Result<SignInStart, Error> {
    let (desktop, start, run) = thingstray_tray::demo::open(auto_approve).await?;
    set_desktop(app, desktop, Some(Box::new(run)));
    Ok(start)
}

/// `--demo`: simulator, sign-in window (approved at once), then the device window.
pub fn start<R: Runtime>(app: &AppHandle<R>, auto_approve: bool) -> tauri::Result<()> {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let started = begin(&app, auto_approve).await.and_then(|_| sign_in::open_window(&app));
        if let Err(e) = started {
            tracing::error!(code = e.code(), "the demo could not start: {e}");
            notify(&app, "ThingsTray demo could not start", &e.to_string());
        }
    });
    Ok(())
}
