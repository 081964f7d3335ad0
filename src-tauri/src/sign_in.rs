//! Sign-in: the sign-in window, and the one path every answer goes through (the window's
//! caught redirect, a `thingstray://` link, an address pasted in the wizard).

use tauri::{AppHandle, Emitter, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};
use thingstray::desktop::SignedIn;
use thingstray::Error;

use crate::idle;
use crate::notify::notify;
use crate::state::Shell;
use crate::windows::{self, DEVICES, SIGN_IN, WIZARD};

/// The sign-in webview: a fresh, non-persistent data store (a stale Samsung session or
/// the wrong account never sticks), and a navigation hook that catches the redirect to
/// the redirect URI, whatever it is, before the request leaves the machine.
pub fn open_window<R: Runtime>(app: &AppHandle<R>) -> Result<(), Error> {
    let desktop = app.state::<Shell>().desktop()?;
    let url = desktop.pending_authorize_url().ok_or(Error::NoSignInPending)?;
    let url = url::Url::parse(&url).map_err(|e| Error::shell("opening the sign-in page", e))?;
    windows::close(app, SIGN_IN);
    idle::window_opening();
    let handle = app.clone();
    let shown = url.to_string();
    let on_close = desktop.clone();
    let window = WebviewWindowBuilder::new(app, SIGN_IN, WebviewUrl::External(url))
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
            if !desktop.is_sign_in_redirect(url.as_str()) {
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
    window.on_window_event(move |event| {
        if let tauri::WindowEvent::Destroyed = event {
            on_close.sign_in_window_closed(&shown);
        }
    });
    Ok(())
}

/// "Use my browser instead": the pending sign-in in the system browser.
pub fn open_in_browser<R: Runtime>(app: &AppHandle<R>) -> Result<(), Error> {
    use tauri_plugin_opener::OpenerExt;
    let url = app.state::<Shell>().desktop()?.pending_authorize_url().ok_or(Error::NoSignInPending)?;
    // The opener's error repeats the URL, whose `state` is a CSRF secret: keep it out.
    app.opener().open_url(url.clone(), None::<&str>).map_err(|e| {
        let why = e.to_string().replace(&url, "<the sign-in address>");
        Error::shell("opening the browser", format!("{why}. Use the sign-in window, or set a default browser"))
    })
}

/// Closes the sign-in window and forgets the pending sign-in.
pub fn cancel<R: Runtime>(app: &AppHandle<R>) -> Result<(), Error> {
    windows::close(app, SIGN_IN);
    app.state::<Shell>().desktop()?.cancel_sign_in();
    Ok(())
}

/// The one path for a sign-in answer: the sign-in window's caught redirect, a deep link,
/// or an address pasted in the wizard.
pub async fn finish<R: Runtime>(app: &AppHandle<R>, answer: String) -> Result<SignedIn, Error> {
    let desktop = app.state::<Shell>().desktop()?;
    let result = desktop.finish_sign_in(&answer).await;
    let wizard_open = app.get_webview_window(WIZARD).is_some();
    match &result {
        Ok(done) => {
            windows::close(app, SIGN_IN);
            if wizard_open {
                let _ = app.emit_to(WIZARD, "signed-in", done);
            } else {
                let place = done.location_name.clone().unwrap_or_else(|| done.connection.clone());
                notify(app, "ThingsTray is connected", &format!("{place}: {} devices", done.device_count));
                windows::open(app, DEVICES);
            }
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
