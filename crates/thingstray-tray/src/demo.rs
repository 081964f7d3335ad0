//! `--demo`: the SmartThings simulator in this process, throwaway settings whose tokens
//! live in a file there (fine for the simulator's tokens; real ones go to the keychain),
//! and one connection to it.

use std::sync::Arc;

use secrecy::SecretString;
use smartthings_sim::{Sim, SimConfig};
use thingstray::config::ConnectionSettings;
use thingstray::desktop::{Desktop, SignInStart};
use thingstray::Error;

/// What the demo keeps alive while it runs: the simulator and the settings folder.
pub struct DemoRun {
    pub sim: Sim,
    pub dir: tempfile::TempDir,
}

/// Starts the simulator and a demo desktop, its sign-in begun. `auto_approve`: the
/// simulator's sign-in page approves at once; otherwise it shows its location picker.
pub async fn open(auto_approve: bool) -> Result<(Arc<Desktop>, SignInStart, DemoRun), Error> {
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
    Ok((desktop, start, DemoRun { sim, dir }))
}

/// Signs the demo in as the browser would: the simulator approves at once and redirects
/// to the app's redirect URI, which is handed to the desktop's one sign-in path. A
/// resident has no window to show the sign-in page in; the real sign-in is the window's.
pub async fn sign_in(desktop: &Desktop, start: &SignInStart) -> Result<(), Error> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| Error::shell("the demo's browser", e))?;
    // The address holds the sign-in's state: keep it out of the error.
    let resp = http
        .get(&start.authorize_url)
        .send()
        .await
        .map_err(|e| Error::shell("the demo's sign-in page", e.without_url()))?;
    let redirect = resp
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .ok_or_else(|| Error::shell("the demo's sign-in page", format!("no redirect ({})", resp.status())))?
        .to_string();
    desktop.finish_sign_in(&redirect).await.map(|_| ())
}
