//! Desktop notifications: how the app tells the user about what happened while no window
//! shows it (a sign-in finished, a scene failed, the token server did not start), and the
//! device alerts (issue 29), whose click opens the device window at the device.

use tauri::{AppHandle, Manager, Runtime};
use thingstray::desktop::Alert;

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

/// A device alert. On Linux a click on it ("default" action, which notification daemons
/// send for a click on the body) opens the device window at the device. Elsewhere the
/// plugin shows it without a click action (untested: no Windows or macOS machine).
pub fn alert<R: Runtime>(app: &AppHandle<R>, alert: Alert) {
    #[cfg(target_os = "linux")]
    clickable::show(app, alert);
    #[cfg(not(target_os = "linux"))]
    notify(app, &alert.notification.title, &alert.notification.body);
}

#[cfg(target_os = "linux")]
mod clickable {
    use std::sync::{Arc, OnceLock};

    use tauri::{AppHandle, Runtime};
    use thingstray::desktop::Alert;
    use thingstray_tray::notify::Notifier;

    use crate::windows;

    /// One for the app's life (the resident tray's, with a click that opens a window
    /// here): its one bus connection hears the clicks on every alert it sent.
    static NOTIFIER: OnceLock<Notifier> = OnceLock::new();

    pub fn show<R: Runtime>(app: &AppHandle<R>, alert: Alert) {
        let app = app.clone();
        tauri::async_runtime::spawn(async move {
            let notifier = NOTIFIER.get_or_init(|| {
                let app = app.clone();
                Notifier::new(Arc::new(move |connection: &str, device: &str| {
                    windows::open_at_device(&app, connection, device)
                }))
            });
            if let Err(e) = notifier.alert(&alert).await {
                // No notification daemon answered: the plugin's way, without the click.
                tracing::warn!("could not send an alert over D-Bus ({e}); shown without its click");
                super::notify(&app, &alert.notification.title, &alert.notification.body);
            }
        });
    }
}
