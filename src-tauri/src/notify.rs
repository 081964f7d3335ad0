//! Desktop notifications: how the app tells the user about what happened while no window
//! shows it (a sign-in finished, a scene failed, the token server did not start).

use tauri::{AppHandle, Manager, Runtime};

pub fn notify<R: Runtime>(app: &AppHandle<R>, title: &str, body: &str) {
    // Absent in tests on the mock runtime; then the notice only goes to the log.
    let Some(n) = app.try_state::<tauri_plugin_notification::Notification<R>>() else {
        tracing::info!(title, "notification (no notification plugin)");
        return;
    };
    if let Err(e) = n.builder().title(title).body(body).show() {
        tracing::warn!("could not show a notification: {e}");
    }
}
