//! Window mode (issue 30): `thingstray-desktop --window` is a window process beside the
//! resident tray (`thingstray-tray`), which holds the sessions. It opens no desktop of
//! its own: every IPC command the core's table has (`desktop::calls::CALLS`) is
//! forwarded to the resident over the agent socket as the window sent it, and the
//! answer, or the `{code, message}` refusal, comes back to the page unchanged. The
//! resident's "changed" ticks become this process's `changed` event.

use std::time::Duration;

use serde_json::Value;
use tauri::ipc::{Invoke, InvokeBody, InvokeError};
use tauri::{AppHandle, Emitter, Manager, Runtime};
use thingstray::config::Paths;
use thingstray::desktop::calls::CALLS;
use thingstray::Error;

use crate::state::Shell;

/// Commands of the core's table that this process wraps itself, asking the resident
/// inside (`sign_in`): the sign-in window closes here, and the wizard hears of it here.
const WRAPPED: &[&str] = &["finish_sign_in", "cancel_sign_in"];

/// A command the resident carries out (a scene, a sign-in's token exchange) may take a
/// while; a resident that does not answer in this time is reported, not waited on.
const ANSWER: Duration = Duration::from_secs(60);

/// The resident's settings folder, when this process is a window process and `invoke`
/// is one of the resident's commands.
pub fn resident_for<R: Runtime>(invoke: &Invoke<R>) -> Option<Paths> {
    let command = invoke.message.command();
    if WRAPPED.contains(&command) || !CALLS.iter().any(|c| c.name == command) {
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
    let webview = invoke.message.webview();
    invoke.resolver.respond_async(async move {
        let answer = ask(&paths, &command, args).await.map_err(|r| InvokeError(r.0))?;
        if let Some(shell) = webview.try_state::<Shell>() {
            keep_sign_in(&shell, &answer);
        }
        Ok(answer)
    });
}

/// A sign-in begun at the resident (setup, sign in again, a created app): the sign-in
/// window of this process shows it and catches its redirect. Other answers are left be.
pub fn keep_sign_in(shell: &Shell, answer: &Value) {
    let start = (answer.get("authorize_url"), answer.get("redirect_uri"));
    if let (Some(Value::String(url)), Some(Value::String(redirect))) = start {
        shell.set_resident_sign_in(Some((url.clone(), redirect.clone())));
    }
}

/// Asks the resident: its answer, or its refusal (or why it did not answer) as the
/// `{code, message}` the page shows.
pub async fn ask(paths: &Paths, command: &str, args: Value) -> Result<Value, Refusal> {
    match thingstray::agent::window::call(paths, command, args, ANSWER).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(refusal)) => Err(Refusal(refusal)),
        Err(why) => Err(Refusal(gone(&why))),
    }
}

/// A refusal as the page sees it, `{code, message}`: the resident's as it gave it, or
/// one of this process's errors in the same form.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(transparent)]
pub struct Refusal(pub Value);

impl Refusal {
    pub fn code(&self) -> &str {
        self.0.get("code").and_then(Value::as_str).unwrap_or("unknown")
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.get("message").and_then(Value::as_str).unwrap_or("ThingsTray refused it"))
    }
}

impl From<Error> for Refusal {
    fn from(e: Error) -> Refusal {
        Refusal(serde_json::to_value(&e).unwrap_or_default())
    }
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
