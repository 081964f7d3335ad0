//! `--demo` and the wizard's "Try the demo": the SmartThings simulator runs in this
//! process, the settings live in a throwaway directory, and the tokens in a file there
//! (fine for the simulator's tokens; the real app uses the OS keychain).

use secrecy::SecretString;
use smartthings_sim::{Sim, SimConfig};
use tauri::{AppHandle, Runtime};
use thingstray::config::ConnectionSettings;
use thingstray::desktop::{Desktop, SignInStart};
use thingstray::Error;

use crate::lifecycle::set_desktop;
use crate::notify::notify;
use crate::sign_in;

struct DemoRun {
    _sim: Sim,
    _dir: tempfile::TempDir,
}

/// Starts the simulator and a demo connection, and begins its sign-in. `auto_approve`:
/// the simulator's sign-in page approves at once (`--demo`); otherwise it shows its
/// location picker and Authorize button (the wizard's demo).
pub async fn begin<R: Runtime>(app: &AppHandle<R>, auto_approve: bool) -> Result<SignInStart, Error> {
    let sim = Sim::start(SimConfig { auto_approve, ..SimConfig::default() })
        .await
        .map_err(|e| Error::shell("starting the SmartThings simulator", e))?;
    let dir = tempfile::Builder::new()
        .prefix("thingstray-demo-")
        .tempdir()
        .map_err(|e| Error::shell("creating the demo settings", e))?;
    let client = sim.client().clone();
    let mut settings =
        ConnectionSettings::at(&client.client_id, &client.redirect_uris[0], sim.api_url(), sim.auth_url());
    // The demo shows location modes being changed too (issue 29), which needs this scope.
    settings.scopes.push("w:locations:*".into());
    let (desktop, start) = Desktop::open_demo(dir.path(), settings, SecretString::from(client.client_secret)).await?;
    tracing::info!(sim = %sim.base_url(), settings = %dir.path().display(), "demo mode: simulator started");
    set_desktop(app, desktop, Some(Box::new(DemoRun { _sim: sim, _dir: dir })));
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
