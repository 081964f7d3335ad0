//! The devices a connection shows: reading them into the cache, the device window's list,
//! and commands whose result is the state read back.

use serde::Serialize;

use super::{modes, secs, Desktop, PLACES_MAX_AGE};
use serde_json::Value;

use crate::api::{find_control, Command};
use crate::desktop::device_rows::{group_by_room, rows, scene_rows, DeviceRow, RoomGroup, SceneRow};
use crate::desktop::indicator::status_line;
use crate::desktop::modes::ModeView;
use crate::desktop::notices::Notice;
use crate::desktop::poll::{next_poll, rate_limit_left, Showing};
use crate::error::{Error, Result};
use crate::token::{AccessGrant, MIN_VALIDITY};

/// What the device window shows for one connection.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceList {
    pub connection: String,
    pub title: String,
    pub status_line: String,
    pub rooms: Vec<RoomGroup>,
    pub scenes: Vec<SceneRow>,
    /// The location's modes and the current one; `None` while none is known (not read
    /// yet, or a sign-in without `r:locations:*`, which is not an error of the list).
    pub modes: Option<ModeView>,
    /// Unix seconds of the last successful read.
    pub read_at: Option<u64>,
    pub error: Option<Error>,
    /// When the window should read again, in milliseconds (the core's one polling policy:
    /// the configured interval, stretched to a rate limit's reset); `None`: not until
    /// something changes (nobody signed in).
    pub next_read_ms: Option<u64>,
}

/// Said when a token was copied; never contains the token.
#[derive(Debug, Clone, Serialize)]
pub struct CopiedToken {
    pub connection: String,
    /// Unix seconds.
    pub expires_at: u64,
}

impl Desktop {
    /// Reads the devices (and, when stale, rooms, scenes and the location's modes) into the
    /// cache. While a rate limit SmartThings answered still holds, nothing is sent: the
    /// cache stays as it is.
    pub async fn refresh_devices(&self, connection: &str) -> Result<()> {
        let settings = self.settings();
        let (conn, location, places_fresh, seq, mode_due) = {
            let mut st = self.state();
            let unknown = st.unknown(connection);
            let l = st.live.get_mut(connection).ok_or(unknown)?;
            let now = self.opts.clock.now();
            if let Some(left) = rate_limit_left(now, l.last_read, l.last_error.as_ref()) {
                return Err(Error::RateLimited { retry_after: left });
            }
            let fresh = l.places_read.is_some_and(|t| now.duration_since(t).unwrap_or_default() < PLACES_MAX_AGE);
            // Reads are ordered by when they were asked, counted, not timed: a clock set
            // back must not make every later read look older than the last.
            l.reads_asked += 1;
            // A motion bell needs the mode as it is now (Away or back home), not as read
            // with the places up to 10 minutes ago: one more request per read, only then.
            let mode_due = fresh && l.wants_mode(&settings.prefs(connection));
            (l.conn.clone(), l.conn.settings.location_id.clone(), fresh, l.reads_asked, mode_due)
        };
        let result = conn.api.devices().await;
        let now = self.opts.clock.now();
        let devices = match result {
            Ok(d) => d,
            Err(e) => {
                if let Some(l) = self.state().live.get_mut(connection) {
                    l.last_read = Some(now);
                    l.last_error = Some(e.clone());
                }
                self.bump();
                return Err(e);
            }
        };
        let mut places = None;
        let location = location.or_else(|| devices.iter().find_map(|d| d.location_id.clone()));
        if !places_fresh {
            let rooms = match &location {
                Some(loc) => conn.api.rooms(loc).await.unwrap_or_default(),
                None => Vec::new(),
            };
            let scenes = conn.api.scenes(location.as_deref()).await.unwrap_or_default();
            let modes = modes::read(&conn.api, location.as_deref()).await;
            places = Some((rooms, scenes, location.clone(), modes));
        }
        let current = match (&location, mode_due) {
            (Some(loc), true) => Some(conn.api.current_mode(loc).await),
            _ => None,
        };
        let mut st = self.state();
        let mut alerts = Vec::new();
        if let Some(l) = st.live.get_mut(connection) {
            // Two reads at once (the window's and the tray's): the one asked later wins,
            // so an older answer landing last is neither the cache nor a change backwards.
            if seq > l.read_seq {
                l.read_seq = seq;
                if let Some((rooms, scenes, location, modes)) = places {
                    l.rooms = rooms;
                    l.scenes = scenes;
                    l.modes.store(location, modes);
                    l.places_read = Some(now);
                }
                if let Some(current) = current {
                    l.modes.store_current(current);
                }
                // Motion alerts only in Away: the mode as last read.
                let mode = l.modes.current_name().map(str::to_string);
                alerts = l.take_read(devices, now, &settings, mode.as_deref());
            }
            l.last_read = Some(now);
            l.last_error = None;
        }
        drop(st);
        self.queue_alerts(alerts);
        self.bump();
        Ok(())
    }

    /// Reads the devices now and returns them as the device window shows them. A failed
    /// read still returns the last known list, with the error.
    pub async fn device_list(&self, connection: &str) -> Result<DeviceList> {
        if let Err(e) = self.refresh_devices(connection).await {
            if matches!(e, Error::UnknownConnection { .. }) || e.needs_sign_in() {
                return Err(e);
            }
        }
        self.cached_device_list(connection)
    }

    pub fn cached_device_list(&self, connection: &str) -> Result<DeviceList> {
        let (prefs, interval) = {
            let s = self.locked_settings();
            (s.prefs(connection), s.poll_interval())
        };
        let now = self.opts.clock.now();
        let st = self.state();
        let l = st.live(connection)?;
        let status = l.status();
        let list = l.devices.as_deref().map(|d| rows(d, &l.rooms, &prefs)).unwrap_or_default();
        Ok(DeviceList {
            connection: connection.to_string(),
            title: l.location_name.clone().unwrap_or_else(|| l.conn.name.clone()),
            status_line: status_line(&status, now),
            rooms: group_by_room(&list),
            scenes: scene_rows(&l.scenes),
            modes: l.modes.view(),
            read_at: if l.devices.is_some() && l.last_error.is_none() { l.last_read.map(secs) } else { None },
            error: l.last_error.clone(),
            next_read_ms: next_poll(
                Showing::DeviceWindow,
                &status,
                now,
                l.last_read,
                l.last_error.as_ref(),
                interval,
                None,
            )
            .millis(),
        })
    }

    fn row(&self, connection: &str, device: &str) -> Result<DeviceRow> {
        let prefs = self.locked_settings().prefs(connection);
        let st = self.state();
        let l = st.live(connection)?;
        let d = l.devices.as_ref().and_then(|ds| ds.iter().find(|d| d.id == device)).ok_or_else(|| {
            Error::DeviceNotFound { query: device.into(), hint: Some("the device list may be out of date".into()) }
        })?;
        Ok(DeviceRow::new(d, &l.rooms, &prefs))
    }

    /// Sends commands, reads the state back, and returns the device as SmartThings now
    /// reports it: the only state the tray and the window ever show. A failure leaves the
    /// last known state in place and queues a notice saying why.
    pub async fn command(&self, connection: &str, device: &str, commands: Vec<Command>) -> Result<DeviceRow> {
        let conn = self.connection(connection)?;
        let label = self.row(connection, device).map(|r| r.label).unwrap_or_else(|_| device.to_string());
        {
            let mut st = self.state();
            if let Some(l) = st.live.get_mut(connection) {
                l.busy.insert(device.to_string());
            }
        }
        self.bump();
        let result = conn.api.command(device, &commands).await;
        {
            let mut st = self.state();
            if let Some(l) = st.live.get_mut(connection) {
                l.busy.remove(device);
                if let (Ok(status), Some(ds)) = (&result, l.devices.as_mut()) {
                    if let Some(d) = ds.iter_mut().find(|d| d.id == device) {
                        d.status = Some(status.clone());
                        d.online = Some(true);
                    }
                }
            }
            if let Err(e) = &result {
                st.notices.push_back(Notice::CommandFailed { device: label, message: e.to_string() });
            }
        }
        self.bump();
        result?;
        self.row(connection, device)
    }

    /// A tray click: switch to the opposite of the last state read.
    pub async fn toggle(&self, connection: &str, device: &str) -> Result<DeviceRow> {
        let row = self.row(connection, device)?;
        if !row.usable() {
            return Err(Error::DeviceOffline { device: row.label.clone() });
        }
        let cmd = row.toggle().ok_or_else(|| Error::NotSwitchable { device: row.label.clone() })?;
        self.command(connection, device, vec![cmd]).await
    }

    /// A tray click on an unlocked lock. Only locking: unlocking asks first, in the window.
    /// The result is the state read back; a lock that does not say "locked" is an error.
    pub async fn lock(&self, connection: &str, device: &str) -> Result<DeviceRow> {
        let row = self.row(connection, device)?;
        if !row.usable() {
            return Err(Error::DeviceOffline { device: row.label.clone() });
        }
        if !row.can_lock {
            return Err(Error::UnsupportedControl {
                device: row.label.clone(),
                capability: "lock".into(),
                command: "lock".into(),
            });
        }
        let after = self.command(connection, device, vec![Command::new("lock", "lock", vec![])]).await?;
        match after.locked {
            Some(true) => Ok(after),
            _ => Err(Error::NotConfirmed {
                device: after.label.clone(),
                wanted: "locked".into(),
                reported: after.state.clone().unwrap_or_else(|| "nothing".into()),
            }),
        }
    }

    /// Any control the device offers (the core's controls catalogue, the same list the
    /// window draws): checked against the device's own limits, choices and confirmation
    /// rule BEFORE SmartThings is asked (a setpoint out of range, an unconfirmed unlock or
    /// door opening is refused with its own code), then sent; the result is the state
    /// read back, as for [`Desktop::command`].
    pub async fn device_command(
        &self,
        connection: &str,
        device: &str,
        capability: &str,
        command: &str,
        args: Vec<Value>,
        confirmed: bool,
    ) -> Result<DeviceRow> {
        let row = self.row(connection, device)?;
        if !row.usable() {
            return Err(Error::DeviceOffline { device: row.label.clone() });
        }
        find_control(&row.controls, &row.label, capability, command)?.check(&row.label, command, &args, confirmed)?;
        self.command(connection, device, vec![Command::new(capability, command, args)]).await
    }

    pub async fn switch(&self, connection: &str, device: &str, on: bool) -> Result<DeviceRow> {
        self.command(connection, device, vec![Command::switch(on)]).await
    }

    pub async fn set_level(&self, connection: &str, device: &str, level: u8) -> Result<DeviceRow> {
        self.command(connection, device, vec![Command::set_level(level)]).await
    }

    pub async fn set_color_temperature(&self, connection: &str, device: &str, kelvin: u32) -> Result<DeviceRow> {
        self.command(connection, device, vec![Command::set_color_temperature(kelvin)]).await
    }

    pub async fn run_scene(&self, connection: &str, scene: &str) -> Result<()> {
        let conn = self.connection(connection)?;
        conn.api.execute_scene(scene).await
    }

    /// A token valid for at least five minutes, for the clipboard. The caller puts it
    /// there and tells the user until when it is valid; nobody logs it.
    pub async fn token_for_copy(&self, connection: &str) -> Result<(AccessGrant, CopiedToken)> {
        let conn = self.connection(connection)?;
        let grant = conn.session.token_valid_for(MIN_VALIDITY).await?;
        let copied = CopiedToken { connection: connection.to_string(), expires_at: secs(grant.expires_at) };
        Ok((grant, copied))
    }
}
