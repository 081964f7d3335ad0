//! Sign-in: the sign-in window, and the one path every answer goes through (the window's
//! caught redirect, a `thingstray://` link, an address pasted in the wizard).

use std::sync::Arc;

use tauri::{AppHandle, Emitter, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};
use thingstray::desktop::{Desktop, SignedIn};
use thingstray::Error;

use crate::forward::{self, Refusal};
use crate::idle;
use crate::notify::notify;
use crate::state::Shell;
use crate::windows::{self, DEVICES, SIGN_IN, WIZARD};

/// The sign-in webview: a fresh, non-persistent data store (a stale Samsung session or
/// the wrong account never sticks), and a navigation hook that catches the redirect to
/// the redirect URI, whatever it is, before the request leaves the machine.
pub fn open_window<R: Runtime>(app: &AppHandle<R>) -> Result<(), Error> {
    let shell = app.state::<Shell>();
    // What to show, and which navigation is the answer: the sign-in this process's desktop
    // began, or (window mode) the one the resident began, as its answer said.
    type Catch = Box<dyn Fn(&str) -> bool + Send + Sync>;
    let (url, catch, on_close): (String, Catch, Option<Arc<Desktop>>) = match shell.resident() {
        Some(_) => {
            let (url, redirect) = shell.resident_sign_in().ok_or(Error::NoSignInPending)?;
            (url, Box::new(move |u: &str| thingstray::oauth::is_redirect_to(&redirect, u)), None)
        }
        None => {
            let desktop = shell.desktop()?;
            let url = desktop.pending_authorize_url().ok_or(Error::NoSignInPending)?;
            let d = desktop.clone();
            (url, Box::new(move |u: &str| d.is_sign_in_redirect(u)), Some(desktop))
        }
    };
    let url = url::Url::parse(&url).map_err(|e| Error::shell("opening the sign-in page", e))?;
    close_all(app);
    let label = fresh_label(app);
    idle::window_opening();
    let handle = app.clone();
    let shown = url.to_string();
    let window = WebviewWindowBuilder::new(app, &label, WebviewUrl::External(url))
        .title("Sign in to SmartThings")
        .inner_size(520.0, 760.0)
        .center()
        .incognito(true)
        // A context of its own. WebKitGTK's incognito webview runs on an ephemeral context,
        // but Tauri records the app's `tauri:`/`ipc:` schemes as registered on the shared
        // one; had the sign-in window come first (`--demo`), every app window opened later
        // would show "The URL can't be shown". With its own key the shared context stays clean.
        .data_directory(std::env::temp_dir().join("thingstray-sign-in"))
        .on_navigation(move |url| {
            if !catch(url.as_str()) {
                return true;
            }
            let answer = url.to_string();
            let app = handle.clone();
            tauri::async_runtime::spawn(async move {
                let _ = finish(&app, answer).await;
            });
            false
        })
        .build()
        .map_err(|e| Error::shell("opening the sign-in window", e))?;
    // Closed, by the user or after the answer: this sign-in is over (issue 10, item 12).
    // (In window mode the resident's pending sign-in simply expires.)
    if let Some(on_close) = on_close {
        window.on_window_event(move |event| {
            if let tauri::WindowEvent::Destroyed = event {
                on_close.sign_in_window_closed(&shown);
            }
        });
    }
    Ok(())
}

/// Whether a window is a sign-in window (`signin`, or `signin-N` while an older one goes).
fn is_sign_in(label: &str) -> bool {
    label == SIGN_IN
        || label.strip_prefix(SIGN_IN).and_then(|n| n.strip_prefix('-')).is_some_and(|n| n.parse::<u32>().is_ok())
}

fn close_all<R: Runtime>(app: &AppHandle<R>) {
    for label in app.webview_windows().into_keys().filter(|l| is_sign_in(l)) {
        windows::close(app, &label);
    }
}

/// A destroyed window keeps its label until the event loop has ended it, so a sign-in
/// started again at once (after a refused one, whose window stays open) gets a fresh
/// label. Like `signin`, none of them is granted any command.
fn fresh_label<R: Runtime>(app: &AppHandle<R>) -> String {
    std::iter::once(SIGN_IN.to_string())
        .chain((2..).map(|n| format!("{SIGN_IN}-{n}")))
        .find(|l| app.get_webview_window(l).is_none())
        .expect("a free label")
}

/// "Use my browser instead": the pending sign-in in the system browser.
pub fn open_in_browser<R: Runtime>(app: &AppHandle<R>) -> Result<(), Error> {
    use tauri_plugin_opener::OpenerExt;
    let shell = app.state::<Shell>();
    let url = match shell.resident() {
        Some(_) => shell.resident_sign_in().map(|(url, _)| url),
        None => shell.desktop()?.pending_authorize_url(),
    }
    .ok_or(Error::NoSignInPending)?;
    // The opener's error repeats the URL, whose `state` is a CSRF secret: keep it out.
    app.opener().open_url(url.clone(), None::<&str>).map_err(|e| {
        let why = e.to_string().replace(&url, "<the sign-in address>");
        Error::shell("opening the browser", format!("{why}. Use the sign-in window, or set a default browser"))
    })
}

/// Closes the sign-in window and forgets the pending sign-in.
pub async fn cancel<R: Runtime>(app: &AppHandle<R>) -> Result<(), Refusal> {
    close_all(app);
    let shell = app.state::<Shell>();
    match shell.resident().cloned() {
        Some(paths) => {
            shell.set_resident_sign_in(None);
            forward::ask(&paths, "cancel_sign_in", serde_json::json!({})).await.map(|_| ())
        }
        None => {
            shell.desktop()?.cancel_sign_in();
            Ok(())
        }
    }
}

/// The one path for a sign-in answer: the sign-in window's caught redirect, a deep link,
/// or an address pasted in the wizard. In window mode the resident checks and exchanges
/// it; its refusal comes back as it gave it.
pub async fn finish<R: Runtime>(app: &AppHandle<R>, answer: String) -> Result<SignedIn, Refusal> {
    let shell = app.state::<Shell>();
    let result = match shell.resident().cloned() {
        Some(paths) => {
            forward::ask(&paths, "finish_sign_in", serde_json::json!({ "answer": answer })).await.and_then(|v| {
                serde_json::from_value::<SignedIn>(v)
                    .map_err(|e| Error::shell("reading the tray process's answer", e).into())
            })
        }
        None => match shell.desktop() {
            Ok(desktop) => desktop.finish_sign_in(&answer).await.map_err(Refusal::from),
            Err(e) => Err(e.into()),
        },
    };
    let wizard_open = app.get_webview_window(WIZARD).is_some();
    match &result {
        Ok(done) => {
            if shell.resident().is_some() {
                shell.set_resident_sign_in(None);
            }
            // The device window first, then the sign-in window goes: a window process
            // whose only window was the sign-in window would otherwise end in between.
            if wizard_open {
                let _ = app.emit_to(WIZARD, "signed-in", done);
            } else {
                let place = done.location_name.clone().unwrap_or_else(|| done.connection.clone());
                notify(app, "ThingsTray is connected", &format!("{place}: {} devices", done.device_count));
                windows::open(app, DEVICES);
            }
            close_all(app);
        }
        Err(e) => {
            tracing::warn!(code = e.code(), "a sign-in answer was refused");
            if wizard_open {
                let _ = app.emit_to(WIZARD, "sign-in-failed", e);
            } else {
                notify(app, "ThingsTray: sign-in did not finish", &e.to_string());
            }
        }
    }
    result
}

#[cfg(test)]
mod tests {
    #[test]
    fn sign_in_windows_are_told_by_their_label() {
        for label in ["signin", "signin-2", "signin-17"] {
            assert!(super::is_sign_in(label), "{label}");
        }
        for label in ["wizard", "signin-", "signin-x", "signinx", "devices"] {
            assert!(!super::is_sign_in(label), "{label}");
        }
    }
}
