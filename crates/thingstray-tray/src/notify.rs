//! Notifications over D-Bus (`org.freedesktop.Notifications`): the resident's notices (a
//! sign-in finished, a scene failed) and the device alerts (issue 29), whose click opens
//! the device window at the device. One session-bus connection sends them all and hears
//! the daemon's `ActionInvoked`, which GNOME sends only to the connection that sent the
//! notification.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use thingstray::desktop::Alert;
use tokio::sync::OnceCell;

const DAEMON: &str = "org.freedesktop.Notifications";
const PATH: &str = "/org/freedesktop/Notifications";
/// Alerts whose click is remembered; older ones are forgotten (a click on one then does
/// nothing). Daemons that keep a history never say a notification closed, so this is a
/// count, not a set of open ones.
const KEPT: usize = 64;

/// What a click on an alert does: `(connection, device)`.
pub type Opener = Arc<dyn Fn(&str, &str) + Send + Sync>;

pub struct Notifier {
    open: Opener,
    /// Connected at the first notification; `None` when there is no session bus.
    bus: OnceCell<Option<Arc<Bus>>>,
}

struct Bus {
    conn: zbus::Connection,
    /// Notification id -> (connection, device), newest last.
    targets: Mutex<VecDeque<(u32, String, String)>>,
}

impl Bus {
    fn target(&self, id: u32) -> Option<(String, String)> {
        let targets = self.targets.lock().unwrap_or_else(|p| p.into_inner());
        targets.iter().find(|(i, _, _)| *i == id).map(|(_, c, d)| (c.clone(), d.clone()))
    }
}

impl Notifier {
    pub fn new(open: Opener) -> Notifier {
        Notifier { open, bus: OnceCell::new() }
    }

    async fn bus(&self) -> Option<Arc<Bus>> {
        self.bus.get_or_init(|| connect(self.open.clone())).await.clone()
    }

    /// A notice: title and body, no click.
    pub async fn notify(&self, title: &str, body: &str) {
        if let Err(e) = self.send(title, body, None).await {
            tracing::warn!(title, "could not show a notification: {e}");
        }
    }

    /// A device alert; a click on it opens the device window at the device. The error
    /// says why no daemon took it (the app then shows it its own way, without the click).
    pub async fn alert(&self, alert: &Alert) -> Result<(), String> {
        let n = &alert.notification;
        let target = n.device_id.as_deref().map(|d| (alert.connection.as_str(), d));
        self.send(&n.title, &n.body, target).await
    }

    async fn send(&self, title: &str, body: &str, target: Option<(&str, &str)>) -> Result<(), String> {
        let bus = self.bus().await.ok_or("no session bus")?;
        let actions: Vec<&str> = if target.is_some() { vec!["default", "Open"] } else { vec![] };
        let hints: HashMap<&str, zbus::zvariant::Value<'_>> = HashMap::new();
        let args = ("ThingsTray", 0u32, "", title, body, actions, hints, -1i32);
        let reply =
            bus.conn.call_method(Some(DAEMON), PATH, Some(DAEMON), "Notify", &args).await.map_err(|e| e.to_string())?;
        let id: u32 = reply.body().deserialize().map_err(|e| e.to_string())?;
        if let Some((connection, device)) = target {
            let mut targets = bus.targets.lock().unwrap_or_else(|p| p.into_inner());
            targets.push_back((id, connection.to_string(), device.to_string()));
            let over = targets.len().saturating_sub(KEPT);
            targets.drain(..over);
        }
        Ok(())
    }
}

async fn connect(open: Opener) -> Option<Arc<Bus>> {
    let conn = match zbus::Connection::session().await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("no session bus for notifications: {e}");
            return None;
        }
    };
    let bus = Arc::new(Bus { conn, targets: Mutex::new(VecDeque::new()) });
    let rule = zbus::MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .interface(DAEMON)
        .and_then(|r| r.member("ActionInvoked"))
        .map(|r| r.build());
    let stream = match rule {
        Ok(rule) => zbus::MessageStream::for_match_rule(rule, &bus.conn, None).await,
        Err(e) => Err(e),
    };
    match stream {
        Ok(mut stream) => {
            let heard = Arc::downgrade(&bus);
            tokio::spawn(async move {
                while let Some(Ok(msg)) = stream.next().await {
                    let Ok((id, action)) = msg.body().deserialize::<(u32, String)>() else { continue };
                    let Some(bus) = heard.upgrade() else { return };
                    if let (Some((connection, device)), "default") = (bus.target(id), action.as_str()) {
                        open(&connection, &device);
                    }
                }
            });
        }
        Err(e) => tracing::warn!("alerts will not open the window on a click: {e}"),
    }
    Some(bus)
}
