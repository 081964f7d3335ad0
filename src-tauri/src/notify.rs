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
    use std::collections::{HashMap, VecDeque};
    use std::sync::{Arc, Mutex};

    use futures_util::StreamExt;
    use tauri::{AppHandle, Runtime};
    use thingstray::desktop::Alert;
    use tokio::sync::OnceCell;

    use crate::windows;

    const DAEMON: &str = "org.freedesktop.Notifications";
    const PATH: &str = "/org/freedesktop/Notifications";
    /// Alerts whose click is remembered; older ones are forgotten (a click on one then
    /// does nothing). Daemons that keep notifications in a history never say they closed,
    /// so this is a count, not a set of open ones.
    const KEPT: usize = 64;

    type Opener = Arc<dyn Fn(&str, &str) + Send + Sync>;

    /// One session-bus connection for every alert: it sends them and hears the daemon's
    /// `ActionInvoked` (which GNOME sends only to the connection that sent the alert).
    struct Clicks {
        conn: zbus::Connection,
        /// Notification id -> (connection, device), newest last.
        targets: Mutex<VecDeque<(u32, String, String)>>,
    }

    /// Connected at the first alert; `None` when there is no session bus.
    static CLICKS: OnceCell<Option<Arc<Clicks>>> = OnceCell::const_new();

    async fn connect(open: Opener) -> Option<Arc<Clicks>> {
        let conn = match zbus::Connection::session().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("no session bus for alerts: {e}");
                return None;
            }
        };
        let clicks = Arc::new(Clicks { conn, targets: Mutex::new(VecDeque::new()) });
        let rule = zbus::MatchRule::builder()
            .msg_type(zbus::message::Type::Signal)
            .interface(DAEMON)
            .member("ActionInvoked")
            .build();
        let stream = match rule {
            Ok(rule) => zbus::MessageStream::for_match_rule(rule, &clicks.conn, None).await,
            Err(e) => Err(e),
        };
        match stream {
            Ok(mut stream) => {
                let heard = clicks.clone();
                tauri::async_runtime::spawn(async move {
                    while let Some(Ok(msg)) = stream.next().await {
                        let Ok((id, action)) = msg.body().deserialize::<(u32, String)>() else { continue };
                        let target = heard.target(id);
                        if let (Some((connection, device)), "default") = (target, action.as_str()) {
                            open(&connection, &device);
                        }
                    }
                });
            }
            Err(e) => tracing::warn!("alerts will not open the window on a click: {e}"),
        }
        Some(clicks)
    }

    impl Clicks {
        fn target(&self, id: u32) -> Option<(String, String)> {
            let targets = self.targets.lock().unwrap_or_else(|p| p.into_inner());
            targets.iter().find(|(i, _, _)| *i == id).map(|(_, c, d)| (c.clone(), d.clone()))
        }

        /// Sends the alert (a "default" action when a click has somewhere to go).
        async fn send(&self, alert: &Alert) -> zbus::Result<()> {
            let n = &alert.notification;
            let actions: Vec<&str> = if n.device_id.is_some() { vec!["default", "Open"] } else { vec![] };
            let hints: HashMap<&str, zbus::Variant<'_>> = HashMap::new();
            let body = ("ThingsTray", 0u32, "", n.title.as_str(), n.body.as_str(), actions, hints, -1i32);
            let reply = self.conn.call_method(Some(DAEMON), PATH, Some(DAEMON), "Notify", &body).await?;
            let id: u32 = reply.body().deserialize()?;
            if let Some(device) = &n.device_id {
                let mut targets = self.targets.lock().unwrap_or_else(|p| p.into_inner());
                targets.push_back((id, alert.connection.clone(), device.clone()));
                let over = targets.len().saturating_sub(KEPT);
                targets.drain(..over);
            }
            Ok(())
        }
    }

    pub fn show<R: Runtime>(app: &AppHandle<R>, alert: Alert) {
        let app = app.clone();
        tauri::async_runtime::spawn(async move {
            let opener: Opener = {
                let app = app.clone();
                Arc::new(move |connection: &str, device: &str| windows::open_at_device(&app, connection, device))
            };
            let sent = match CLICKS.get_or_init(|| connect(opener)).await {
                Some(clicks) => clicks.send(&alert).await.map_err(|e| e.to_string()),
                None => Err("no session bus".to_string()),
            };
            if let Err(e) = sent {
                // No notification daemon answered: the plugin's way, without the click.
                tracing::warn!("could not send an alert over D-Bus ({e}); shown without its click");
                super::notify(&app, &alert.notification.title, &alert.notification.body);
            }
        });
    }
}
