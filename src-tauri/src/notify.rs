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
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tauri::{AppHandle, Runtime};
    use thingstray::desktop::Alert;

    use crate::windows;

    /// Alerts whose click is still awaited, each on a thread blocked until the daemon
    /// says it closed. Past this many (a daemon that never closes them), new ones are
    /// shown without a click action rather than holding more threads.
    const WAITING_MAX: usize = 16;
    static WAITING: AtomicUsize = AtomicUsize::new(0);

    pub fn show<R: Runtime>(app: &AppHandle<R>, alert: Alert) {
        let n = alert.notification;
        let mut note = notify_rust::Notification::new();
        note.appname("ThingsTray").summary(&n.title).body(&n.body);
        let target = n.device_id.clone().map(|device| (alert.connection.clone(), device));
        let slot = target.is_some()
            && WAITING.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |w| (w < WAITING_MAX).then_some(w + 1)).is_ok();
        if !slot {
            if let Err(e) = note.show() {
                tracing::warn!("could not show an alert: {e}");
            }
            return;
        }
        note.action("default", "Open");
        let app = app.clone();
        let spawned = std::thread::Builder::new().name("alert-click".into()).spawn(move || {
            // notify-rust unwraps its bus calls while waiting: a bus gone mid-wait must
            // cost this alert's click, not the slot.
            let waited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match note.show() {
                Ok(handle) => handle.wait_for_action(|action| {
                    if action == "default" {
                        if let Some((connection, device)) = &target {
                            windows::open_at_device(&app, connection, device);
                        }
                    }
                }),
                Err(e) => tracing::warn!("could not show an alert: {e}"),
            }));
            if waited.is_err() {
                tracing::warn!("lost the notification daemon while waiting for a click");
            }
            WAITING.fetch_sub(1, Ordering::SeqCst);
        });
        if let Err(e) = spawned {
            WAITING.fetch_sub(1, Ordering::SeqCst);
            tracing::warn!("could not show an alert: {e}");
        }
    }
}
