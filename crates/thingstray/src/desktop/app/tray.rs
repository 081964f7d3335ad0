//! What the tray shows: the menu model, notices, and the tray's own reads while no window
//! polls.

use std::sync::Arc;
use std::time::Duration;

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
            let now = self.opts.clock.now();
            let settings = self.settings();
            let (window, tray) = (settings.poll_interval(), settings.tray_refresh());
            let mut due = Vec::new();
            let mut wait = Duration::from_secs(60);
            for (name, status, last, err, watched) in self.state().live.values().map(|l| {
                let watched = l.watched(&settings.prefs(&l.conn.name));
                (l.conn.name.clone(), l.status(), l.last_read, l.last_error.clone(), watched)
            }) {
                // A little after the window's turn: while the window is open its read
                // (at the interval, a moment late through IPC) counts, and the tray's
                // would be a second one.
                let watch = window + WATCH_SLACK;
                let tray = if watched { Some(tray.map_or(watch, |t| t.min(watch))) } else { tray };
                match next_poll(Showing::TrayOnly, &status, now, last, err.as_ref(), window, tray) {
                    PollDecision::Now => due.push(name),
                    PollDecision::After(d) => wait = wait.min(d),
                    PollDecision::Idle => {}
                }
            }
            for name in due {
                if let Err(e) = self.refresh_devices(&name).await {
                    tracing::debug!(connection = %name, code = e.code(), "tray refresh failed");
                }
            }
            self.nap(wait.max(Duration::from_secs(1))).await;
        }
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
