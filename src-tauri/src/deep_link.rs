//! `thingstray://oauth/callback?code=…&state=…`: the answer of a sign-in finished in the
//! system browser. A running app receives it from a second launch through the
//! single-instance plugin; a cold start finds it in `get_current`. Both feed the same
//! handler as the sign-in window.

use tauri::{AppHandle, Runtime};
use tauri_plugin_deep_link::DeepLinkExt;

use crate::sign_in;

pub fn install<R: Runtime>(app: &AppHandle<R>, register: bool) {
    // Linux: writes a .desktop handler and calls xdg-mime / update-desktop-database,
    // which may be missing (Debian: xdg-utils, desktop-file-utils). The embedded sign-in
    // window and the paste box work without it, so this is not fatal.
    #[cfg(any(target_os = "linux", windows))]
    if register {
        if let Err(e) = app.deep_link().register_all() {
            tracing::warn!(
                "could not register the thingstray:// scheme ({e}); sign-in in the system browser needs the paste box"
            );
        }
    }
    #[cfg(not(any(target_os = "linux", windows)))]
    let _ = register;

    let handle = app.clone();
    app.deep_link().on_open_url(move |event| {
        for url in event.urls() {
            forward(&handle, url);
        }
    });
    match app.deep_link().get_current() {
        Ok(Some(urls)) => urls.into_iter().for_each(|u| forward(app, u)),
        Ok(None) => {}
        Err(e) => tracing::warn!("could not read the launch URL: {e}"),
    }
}

fn forward<R: Runtime>(app: &AppHandle<R>, url: url::Url) {
    if url.scheme() != "thingstray" {
        return;
    }
    // The query holds a single-use code and the state: never log it.
    tracing::info!(host = url.host_str().unwrap_or(""), path = url.path(), "a thingstray:// link arrived");
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let _ = sign_in::finish(&app, url.to_string()).await;
    });
}
