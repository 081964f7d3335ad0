//! Window mode (issue 30): `thingstray-desktop --window` is a window process beside the
//! resident tray (`thingstray-tray`), which holds the sessions. It opens no desktop of
//! its own: every IPC command the core's table has (`desktop::calls::CALLS`) is
//! forwarded to the resident over the agent socket as the window sent it, and the
//! answer, or the `{code, message}` refusal, comes back to the page unchanged. The
//! resident's "changed" ticks become this process's `changed` event.

use std::time::Duration;

use tauri::ipc::{Invoke, InvokeBody, InvokeError};
use tauri::{AppHandle, Emitter, Manager, Runtime};
use thingstray::config::Paths;
use thingstray::desktop::calls::CALLS;
use thingstray::Error;

use crate::state::Shell;

/// A command the resident carries out (a scene, a sign-in's token exchange) may take a
/// while; a resident that does not answer in this time is reported, not waited on.
const ANSWER: Duration = Duration::from_secs(60);

/// The resident's settings folder, when this process is a window process and `invoke`
/// is one of the resident's commands.
pub fn resident_for<R: Runtime>(invoke: &Invoke<R>) -> Option<Paths> {
    let command = invoke.message.command();
    if !CALLS.iter().any(|c| c.name == command) {
        return None;
    }
    invoke.message.webview().try_state::<Shell>()?.resident().cloned()
}

/// Sends `invoke` to the resident and answers the page with what it said.
pub fn forward<R: Runtime>(invoke: Invoke<R>, paths: Paths) {
    let command = invoke.message.command().to_string();
    let args = match invoke.message.payload() {
        InvokeBody::Json(v) => v.clone(),
        // No command of the table takes raw bytes; the resident refuses what it cannot read.
        InvokeBody::Raw(_) => serde_json::Value::Null,
    };
    invoke.resolver.respond_async(async move {
        match thingstray::agent::window::call(&paths, &command, args, ANSWER).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(refusal)) => Err(InvokeError(refusal)),
            Err(why) => Err(InvokeError(gone(&why))),
        }
    });
}

/// The resident did not answer: what the page shows, as any refusal.
fn gone(why: &str) -> serde_json::Value {
    let e = Error::shell("asking ThingsTray's tray process", format!("{why}. Start ThingsTray again"));
    serde_json::to_value(&e).unwrap_or_default()
}

/// Follows the resident for as long as this process lives: each change (and its coming
/// back after a restart) tells the windows to read again; its going away is said too.
pub async fn follow<R: Runtime>(app: AppHandle<R>, paths: Paths) {
    use thingstray::agent::window::{Followed, Follower};
    let mut follower = Follower::new(paths);
    loop {
        match follower.next().await {
            Followed::Back | Followed::Changed => {
                let _ = app.emit("changed", ());
            }
            Followed::Lost(why) => {
                tracing::warn!("the tray process went away: {why}");
                let _ = app.emit("resident-lost", why);
            }
        }
    }
}
