//! What the tray shows: the menu model, notices, and the tray's own reads while no window
//! polls.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::Desktop;
use crate::desktop::device_rows::{rows, scene_rows};
use crate::desktop::indicator::PanelTheme;
use crate::desktop::menu::{self, ConnectionView, TrayModel};
use crate::desktop::notices::{notices_for, Notice};
use crate::desktop::poll::{next_poll, PollDecision, Showing};
use crate::error::Error;
use crate::session::Status;

/// How much later than the poll interval the tray reads for a bell or a listener.
const WATCH_SLACK: Duration = Duration::from_secs(2);

impl Desktop {
    pub fn views(&self) -> Vec<ConnectionView> {
        let prefs = self.locked_settings().clone();
        self.state()
            .live
            .values()
            .map(|l| ConnectionView {
                name: l.conn.name.clone(),
                location_name: l.location_name.clone(),
                status: l.status(),
                devices: l.devices.as_deref().map(|d| rows(d, &l.rooms, &prefs.prefs(&l.conn.name))),
                scenes: scene_rows(&l.scenes),
                devices_error: l.last_error.as_ref().map(short_error),
                busy: l.busy.clone(),
                owner: l.conn.owner().map(str::to_string),
                modes: l.modes.view(),
            })
            .collect()
    }

    pub fn tray(&self) -> TrayModel {
        let limit = self.locked_settings().flat_menu_limit;
        let mut model = menu::build(&self.views(), self.opts.clock.now(), limit);
        menu::add_token_server(&mut model, self.token_server().line());
        model
    }

    pub fn panel_theme(&self) -> PanelTheme {
        self.locked_settings().panel_theme
    }

    /// Status changes worth a notification since the last call, and failed commands,
    /// debounced.
    pub fn take_notices(&self) -> Vec<Notice> {
        let now = self.opts.clock.now();
        let statuses: Vec<(String, Status)> =
            self.state().live.values().map(|l| (l.conn.name.clone(), l.status())).collect();
        let mut st = self.state();
        let mut fresh = Vec::new();
        for (name, status) in statuses {
            let before = st.seen.insert(name.clone(), status.clone()).unwrap_or(Status::SignedOut);
            fresh.extend(notices_for(&name, &before, &status));
        }
        fresh.extend(st.notices.drain(..));
        fresh.into_iter().filter(|n| st.debounce.allow(n, now)).collect()
    }

    /// Reads the tray's devices while no window is polling: once at start (and again
    /// after a read that failed in passing), then every `tray_refresh_s` if the user set
    /// one (off by default), never without a token. A connection with a device's bell on,
    /// or someone listening to its changes, is read at the poll interval instead (the
    /// window's reads count: no read is added while it polls). Runs until aborted.
    pub async fn keep_tray_fresh(self: Arc<Self>) {
        loop {
            let (due, wait) = self.tray_plan();
            if due.is_empty() {
                self.nap(wait.max(Duration::from_secs(1))).await;
                continue;
            }
            // Then plan again: the wait is from these reads, not from before them (it
            // was, and a connection read at 30 s was read every 60 s).
            for name in due {
                if let Err(e) = self.refresh_devices(&name).await {
                    tracing::debug!(connection = %name, code = e.code(), "tray refresh failed");
                }
            }
        }
    }

    /// The connections the tray should read now, and how long until the next one is due
    /// (at most a minute: a setting changed meanwhile is seen by then).
    fn tray_plan(&self) -> (Vec<String>, Duration) {
        let now = self.opts.clock.now();
        let settings = self.settings();
        let (window, tray) = (settings.poll_interval(), settings.tray_refresh());
        let mut due = Vec::new();
        let mut wait = Duration::from_secs(60);
        for (name, status, last, err, watched) in self.state().live.values().map(|l| {
            let watched = l.watched(&settings.prefs(&l.conn.name));
            (l.conn.name.clone(), l.status(), l.last_read, l.last_error.clone(), watched)
        }) {
            // A little after the window's turn: while the window is open its read (at
            // the interval, a moment late through IPC) counts, and the tray's would be a
            // second one.
            let watch = window + WATCH_SLACK;
            let tray = if watched { Some(tray.map_or(watch, |t| t.min(watch))) } else { tray };
            match next_poll(Showing::TrayOnly, &status, now, last, err.as_ref(), window, tray) {
                PollDecision::Now => due.push(name),
                PollDecision::After(d) => wait = wait.min(d),
                PollDecision::Idle => {}
            }
        }
        (due, wait)
    }
}

/// One line for a menu: the code's wording is enough there; the window shows the message.
fn short_error(e: &Error) -> String {
    match e {
        Error::RateLimited { retry_after } => format!("rate limited, next try in {} s", retry_after.as_secs().max(1)),
        Error::Unreachable { .. } => "SmartThings unreachable".into(),
        Error::ServerError { status } => format!("SmartThings answered HTTP {status}"),
        other => other.code().replace('_', " "),
    }
}

/// What the windows show of the app itself (the `app_info` command).
#[derive(Debug, Clone, Serialize)]
pub struct AppInfo {
    pub version: &'static str,
    pub demo: bool,
    pub platform: &'static str,
    /// Whether the tray hears clicks on its icon: the Tauri tray on Linux does not (the
    /// menu is its whole UI there); the resident's StatusNotifierItem does.
    pub tray_clicks: bool,
    pub connections: usize,
    pub vault: Option<String>,
    pub startup_error: Option<Error>,
}

impl Desktop {
    pub fn app_info(&self, tray_clicks: bool) -> AppInfo {
        AppInfo {
            version: env!("CARGO_PKG_VERSION"),
            demo: self.is_demo(),
            platform: std::env::consts::OS,
            tray_clicks,
            connections: self.connection_names().len(),
            vault: Some(self.vault_description()),
            startup_error: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::tests::signed_in;
    use super::WATCH_SLACK;

    #[tokio::test]
    async fn after_a_read_the_tray_waits_one_interval_for_a_bell_and_nothing_without() {
        let e = signed_in().await;
        // Just read (the sign-in did): the demo's leak sensor rings by default.
        let (due, wait) = e.desktop.tray_plan();
        let interval = e.desktop.settings().poll_interval();
        assert!(due.is_empty(), "{due:?}");
        assert!(wait <= interval + WATCH_SLACK && wait > interval, "{wait:?}");
        // Every bell off, nobody listening: the tray does not read again.
        let rung: Vec<String> = {
            let list = e.desktop.cached_device_list("demo").unwrap();
            list.rooms.iter().flat_map(|r| &r.devices).filter(|d| d.alerts).map(|d| d.id.clone()).collect()
        };
        for id in &rung {
            e.desktop.set_alerts("demo", id, false).unwrap();
        }
        let (due, wait) = e.desktop.tray_plan();
        assert!(due.is_empty() && wait == Duration::from_secs(60), "only the minute's look: {wait:?}");
        // Last read over an interval ago, a bell on: due now.
        e.desktop.set_alerts("demo", &rung[0], true).unwrap();
        let long_ago = std::time::SystemTime::now() - interval - WATCH_SLACK;
        e.desktop.state().live.get_mut("demo").unwrap().last_read = Some(long_ago);
        assert_eq!(e.desktop.tray_plan().0, ["demo"]);
    }
}
