//! A notification daemon on the journey's session bus, in place of the desktop's: it owns
//! `org.freedesktop.Notifications` (the freedesktop notification spec), keeps every
//! notification the app sends, and clicks one the way a daemon reports a click on a
//! notification's body (the `ActionInvoked` signal with the "default" action).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use zbus::object_server::SignalEmitter;
use zbus::zvariant::OwnedValue;

use crate::SessionEnv;

const PATH: &str = "/org/freedesktop/Notifications";

/// One notification as the app sent it.
#[derive(Debug, Clone)]
pub struct Shown {
    pub id: u32,
    pub app_name: String,
    pub summary: String,
    pub body: String,
    /// Pairs of action key and label, flattened as the spec sends them.
    pub actions: Vec<String>,
}

struct Daemon {
    shown: Arc<Mutex<Vec<Shown>>>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Daemon {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        _hints: HashMap<String, OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let mut shown = self.shown.lock().unwrap();
        let id = u32::try_from(shown.len()).unwrap() + 1;
        shown.push(Shown { id, app_name, summary, body, actions });
        id
    }

    fn close_notification(&self, _id: u32) {}

    fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into(), "actions".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        ("thingstray-e2e".into(), "thingstray".into(), "1".into(), "1.2".into())
    }

    #[zbus(signal)]
    async fn action_invoked(emitter: &SignalEmitter<'_>, id: u32, action_key: &str) -> zbus::Result<()>;
}

pub struct Notifications {
    conn: zbus::Connection,
    shown: Arc<Mutex<Vec<Shown>>>,
}

impl Notifications {
    /// Starts serving on the session's bus; the app, started afterwards, finds it there.
    pub async fn start(env: &SessionEnv) -> Notifications {
        let shown = Arc::new(Mutex::new(Vec::new()));
        let conn = zbus::connection::Builder::address(env.bus.as_str())
            .expect("bus address")
            .name("org.freedesktop.Notifications")
            .expect("the notification daemon's name")
            .serve_at(PATH, Daemon { shown: shown.clone() })
            .expect("the notification interface")
            .build()
            .await
            .expect("the notification daemon on the test bus");
        Notifications { conn, shown }
    }

    /// Every notification so far, oldest first.
    pub fn shown(&self) -> Vec<Shown> {
        self.shown.lock().unwrap().clone()
    }

    /// A click on the notification's body.
    pub async fn click(&self, id: u32) {
        let iface = self.conn.object_server().interface::<_, Daemon>(PATH).await.expect("the daemon's interface");
        Daemon::action_invoked(iface.signal_emitter(), id, "default").await.expect("ActionInvoked");
    }
}
