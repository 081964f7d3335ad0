//! [`Desktop`]: everything the desktop app does, without the window. The Tauri shell
//! turns each IPC call and tray click into one call here, and each change here into a
//! menu and window update. It owns the open connections, the sign-in in progress (the one
//! callback handler for the sign-in window, deep links and pasted addresses), the cached
//! devices the tray shows, the desktop settings, and the token server (`app/server.rs`).
//! Renaming a connection is in `app/rename.rs`.

mod rename;
mod server;

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use secrecy::SecretString;
use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::devices::{group_by_room, rows, scene_rows, DeviceRow, RoomGroup, SceneRow};
use super::menu::{self, ConnectionView, TrayModel};
use super::poll::{next_poll, notices_for, Debounce, Notice, PollDecision, Showing};
use super::prefs::DesktopSettings;
use super::setup::{check, FieldProblem, SetupForm};
use super::status::{has_token, status_detail, status_line, PanelTheme};
use crate::api::{Command, Device, Room, Scene};
use crate::clock::unix_ms;
use crate::config::{Config, ConnectionSettings, Paths, VaultKind};
use crate::connection::{Connection, Options};
use crate::error::{Error, Result};
use crate::oauth::SignIn;
use crate::session::Status;
use crate::token::AccessGrant;
use crate::vault::Vault;

/// A copied token must stay good at least this long (`az account get-access-token`'s promise).
pub const COPY_MIN_VALIDITY: Duration = Duration::from_secs(5 * 60);
/// Rooms and scenes change rarely: re-read them at most this often.
const PLACES_MAX_AGE: Duration = Duration::from_secs(10 * 60);

pub struct Desktop {
    paths: Paths,
    vault: Vault,
    opts: Options,
    demo: bool,
    state: Mutex<State>,
    settings: Mutex<DesktopSettings>,
    changed: Arc<watch::Sender<u64>>,
    server: server::ServerSlot,
}

#[derive(Default)]
struct State {
    live: BTreeMap<String, Live>,
    pending: Option<Pending>,
    /// Connections in the config that could not be opened, and why.
    problems: Vec<(String, Error)>,
    /// The config's default connection: the one the token server hands out.
    default: Option<String>,
    seen: BTreeMap<String, Status>,
    notices: VecDeque<Notice>,
    debounce: Debounce,
}

struct Pending {
    connection: String,
    sign_in: SignIn,
}

struct Live {
    conn: Connection,
    location_name: Option<String>,
    devices: Option<Vec<Device>>,
    rooms: Vec<Room>,
    scenes: Vec<Scene>,
    places_read: Option<SystemTime>,
    last_read: Option<SystemTime>,
    last_error: Option<Error>,
    busy: HashSet<String>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Live {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Live {
    fn status(&self) -> Status {
        self.conn.session.status().borrow().clone()
    }
}

/// A connection as the settings and the device window's header show it.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionSummary {
    pub name: String,
    pub title: String,
    pub location_name: Option<String>,
    pub client_id: String,
    pub redirect_uri: String,
    pub status: Status,
    pub status_line: String,
    pub status_detail: Option<String>,
    pub has_token: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct SignInStart {
    pub connection: String,
    pub authorize_url: String,
    pub redirect_uri: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SignedIn {
    pub connection: String,
    pub location_name: Option<String>,
    pub device_count: usize,
}

/// What the device window shows for one connection.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceList {
    pub connection: String,
    pub title: String,
    pub status_line: String,
    pub rooms: Vec<RoomGroup>,
    pub scenes: Vec<SceneRow>,
    /// Unix seconds of the last successful read.
    pub read_at: Option<u64>,
    pub error: Option<Error>,
}

/// Said when a token was copied; never contains the token.
#[derive(Debug, Clone, Serialize)]
pub struct CopiedToken {
    pub connection: String,
    /// Unix seconds.
    pub expires_at: u64,
}

fn secs(t: SystemTime) -> u64 {
    unix_ms(t) / 1000
}

impl Desktop {
    /// The real app: the settings in `paths`, the vault they ask for (the OS keychain
    /// unless the user chose the file), every configured connection opened and kept fresh.
    /// A connection that cannot be opened is listed in [`Desktop::problems`], not fatal.
    pub async fn open(paths: Paths, opts: Options) -> Result<Arc<Desktop>> {
        let config = Config::load(&paths)?;
        let vault = Vault::open(&config, &paths)?;
        let d = Desktop::with_vault(paths, vault, opts, false)?;
        d.open_configured(&config).await;
        Ok(d)
    }

    /// The demo: a throwaway settings directory whose vault is a file in that directory
    /// (fine for the simulator's tokens, never for real ones), and one connection to the
    /// simulator, its sign-in started.
    pub async fn open_demo(
        dir: &std::path::Path,
        settings: ConnectionSettings,
        secret: SecretString,
    ) -> Result<(Arc<Desktop>, SignInStart)> {
        let paths = Paths::at(dir);
        let config = Config { vault: VaultKind::File, ..Config::default() };
        config.save(&paths)?;
        let vault = Vault::open(&config, &paths)?;
        let d = Desktop::with_vault(paths, vault, Options::default(), true)?;
        let start = d.setup_with(Some("demo"), settings, secret).await?;
        Ok((d, start))
    }

    pub fn with_vault(paths: Paths, vault: Vault, opts: Options, demo: bool) -> Result<Arc<Desktop>> {
        let settings = DesktopSettings::load(&paths)?;
        let (changed, _) = watch::channel(0u64);
        Ok(Arc::new(Desktop {
            paths,
            vault,
            opts,
            demo,
            state: Mutex::new(State::default()),
            settings: Mutex::new(settings),
            changed: Arc::new(changed),
            server: server::ServerSlot::default(),
        }))
    }

    async fn open_configured(&self, config: &Config) {
        self.state().default = config.default_connection.clone();
        for name in config.connections.keys() {
            match Connection::open_with(&self.paths, config, self.vault.clone(), Some(name), self.opts.clone()).await {
                Ok(conn) => self.adopt(conn),
                Err(e) => {
                    tracing::warn!(connection = %name, code = e.code(), "could not open the connection");
                    self.state().problems.push((name.clone(), e));
                }
            }
        }
        self.bump();
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn prefs(&self) -> MutexGuard<'_, DesktopSettings> {
        self.settings.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn bump(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Changes whenever anything the tray or a window shows may have changed.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    pub fn is_demo(&self) -> bool {
        self.demo
    }

    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// Where secrets are kept, in words (for the settings window).
    pub fn vault_description(&self) -> String {
        self.vault.describe()
    }

    pub fn problems(&self) -> Vec<(String, Error)> {
        self.state().problems.clone()
    }

    /// Starts keeping `conn` fresh and following its status; replaces one of the same name.
    fn adopt(&self, conn: Connection) {
        let refresher = conn.session.spawn_refresher();
        let mut rx = conn.session.status();
        let changed = self.changed.clone();
        let follower = tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                changed.send_modify(|n| *n = n.wrapping_add(1));
            }
        });
        let live = Live {
            location_name: conn.settings.location_name.clone(),
            conn,
            devices: None,
            rooms: Vec::new(),
            scenes: Vec::new(),
            places_read: None,
            last_read: None,
            last_error: None,
            busy: HashSet::new(),
            tasks: vec![refresher, follower],
        };
        let mut st = self.state();
        st.problems.retain(|(n, _)| n != &live.conn.name);
        st.live.insert(live.conn.name.clone(), live);
    }

    fn connection(&self, name: &str) -> Result<Connection> {
        let st = self.state();
        match st.live.get(name) {
            Some(l) => Ok(l.conn.clone()),
            None => Err(Error::UnknownConnection {
                name: name.to_string(),
                known: if st.live.is_empty() { "none yet".into() } else { st.live.keys().cloned().collect::<Vec<_>>().join(", ") },
            }),
        }
    }

    pub fn connection_names(&self) -> Vec<String> {
        self.state().live.keys().cloned().collect()
    }

    pub fn connections(&self) -> Vec<ConnectionSummary> {
        let now = self.opts.clock.now();
        self.state()
            .live
            .values()
            .map(|l| {
                let status = l.status();
                ConnectionSummary {
                    name: l.conn.name.clone(),
                    title: l.location_name.clone().unwrap_or_else(|| l.conn.name.clone()),
                    location_name: l.location_name.clone(),
                    client_id: l.conn.settings.client_id.clone(),
                    redirect_uri: l.conn.settings.redirect_uri.clone(),
                    status_line: status_line(&status, now),
                    status_detail: status_detail(&status),
                    has_token: has_token(&status),
                    status,
                }
            })
            .collect()
    }

    // --- setup and sign-in: the one callback handler ------------------------------------

    pub fn check_setup(form: &SetupForm) -> Vec<FieldProblem> {
        check(form)
    }

    /// Saves a new connection (settings to the file, secret to the vault) and starts its
    /// sign-in. `name`: `None` picks `home`, `home-2`, … (one connection per location).
    pub async fn setup(&self, name: Option<&str>, form: SetupForm) -> Result<SignInStart> {
        if let Some(p) = check(&form).into_iter().next() {
            return Err(Error::InvalidSetting { field: p.field.into(), why: p.message });
        }
        let secret = SecretString::from(form.client_secret.trim().to_string());
        self.setup_with(name, form.settings(), secret).await
    }

    pub async fn setup_with(&self, name: Option<&str>, settings: ConnectionSettings, secret: SecretString) -> Result<SignInStart> {
        let name = match name {
            Some(n) => n.to_string(),
            None => self.free_name(),
        };
        Connection::save(&self.paths, &self.vault, &name, settings, Some(secret)).await?;
        let config = Config::load(&self.paths)?;
        self.state().default = config.default_connection.clone();
        let conn = Connection::open_with(&self.paths, &config, self.vault.clone(), Some(&name), self.opts.clone()).await?;
        self.adopt(conn);
        self.bump();
        self.begin_sign_in(&name)
    }

    fn free_name(&self) -> String {
        let taken: HashSet<String> = Config::load(&self.paths).map(|c| c.connections.into_keys().collect()).unwrap_or_default();
        std::iter::once("home".to_string())
            .chain((2..).map(|i| format!("home-{i}")))
            .find(|n| !taken.contains(n))
            .unwrap_or_else(|| "home".into())
    }

    /// Starts (or restarts) a sign-in. Signing in again replaces only the tokens.
    pub fn begin_sign_in(&self, connection: &str) -> Result<SignInStart> {
        let conn = self.connection(connection)?;
        let sign_in = conn.begin_sign_in();
        let start = SignInStart {
            connection: conn.name.clone(),
            authorize_url: sign_in.authorize_url().to_string(),
            redirect_uri: sign_in.redirect_uri().to_string(),
        };
        self.state().pending = Some(Pending { connection: conn.name.clone(), sign_in });
        Ok(start)
    }

    /// For the sign-in window's navigation hook: is this the redirect of the sign-in in
    /// progress? (Then the window cancels the navigation and hands the URL to
    /// [`Desktop::finish_sign_in`]; the code never leaves the machine.)
    pub fn is_sign_in_redirect(&self, url: &str) -> bool {
        self.state().pending.as_ref().is_some_and(|p| p.sign_in.is_redirect(url))
    }

    pub fn sign_in_pending(&self) -> Option<String> {
        self.state().pending.as_ref().map(|p| p.connection.clone())
    }

    /// Where the sign-in in progress starts (for the sign-in window or the browser).
    pub fn pending_authorize_url(&self) -> Option<String> {
        self.state().pending.as_ref().map(|p| p.sign_in.authorize_url().to_string())
    }

    pub fn cancel_sign_in(&self) {
        self.state().pending = None;
    }

    /// The one callback handler: a redirect caught in the sign-in window, a
    /// `thingstray://` deep link, a pasted address or a bare code. A refused answer leaves
    /// the sign-in pending, so a stray or forged callback changes nothing.
    pub async fn finish_sign_in(&self, answer: &str) -> Result<SignedIn> {
        let pending = self.state().pending.take().ok_or(Error::NoSignInPending)?;
        let conn = match self.connection(&pending.connection) {
            Ok(c) => c,
            Err(e) => return Err(e),
        };
        if let Err(e) = conn.finish_sign_in(&self.paths, &pending.sign_in, answer).await {
            let mut st = self.state();
            if st.pending.is_none() {
                st.pending = Some(pending);
            }
            return Err(e);
        }
        let location_name =
            Config::load(&self.paths).ok().and_then(|c| c.connections.get(&conn.name).and_then(|s| s.location_name.clone()));
        if let Some(l) = self.state().live.get_mut(&conn.name) {
            l.location_name = location_name.clone();
            l.devices = None;
            l.places_read = None;
        }
        self.bump();
        let device_count = match self.refresh_devices(&conn.name).await {
            Ok(()) => self.state().live.get(&conn.name).and_then(|l| l.devices.as_ref().map(Vec::len)).unwrap_or(0),
            Err(_) => 0,
        };
        Ok(SignedIn { connection: conn.name, location_name, device_count })
    }

    /// Forgets this connection's tokens; its settings, secret and favorites stay.
    pub async fn sign_out(&self, connection: &str) -> Result<()> {
        let conn = self.connection(connection)?;
        conn.session.sign_out().await?;
        if let Some(l) = self.state().live.get_mut(connection) {
            l.devices = None;
            l.last_read = None;
        }
        self.bump();
        Ok(())
    }

    // --- devices ------------------------------------------------------------------------

    /// Reads the devices (and, when stale, rooms and scenes) into the cache.
    pub async fn refresh_devices(&self, connection: &str) -> Result<()> {
        let (conn, location, places_fresh) = {
            let st = self.state();
            let l = st.live.get(connection).ok_or_else(|| Error::UnknownConnection { name: connection.into(), known: String::new() })?;
            let now = self.opts.clock.now();
            let fresh = l.places_read.is_some_and(|t| now.duration_since(t).unwrap_or_default() < PLACES_MAX_AGE);
            (l.conn.clone(), l.conn.settings.location_id.clone(), fresh)
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
        if !places_fresh {
            let location = location.or_else(|| devices.iter().find_map(|d| d.location_id.clone()));
            let rooms = match &location {
                Some(loc) => conn.api.rooms(loc).await.unwrap_or_default(),
                None => Vec::new(),
            };
            let scenes = conn.api.scenes(location.as_deref()).await.unwrap_or_default();
            places = Some((rooms, scenes));
        }
        if let Some(l) = self.state().live.get_mut(connection) {
            l.devices = Some(devices);
            l.last_read = Some(now);
            l.last_error = None;
            if let Some((rooms, scenes)) = places {
                l.rooms = rooms;
                l.scenes = scenes;
                l.places_read = Some(now);
            }
        }
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
        let prefs = self.prefs().prefs(connection);
        let now = self.opts.clock.now();
        let st = self.state();
        let l = st.live.get(connection).ok_or_else(|| Error::UnknownConnection { name: connection.into(), known: String::new() })?;
        let list = l.devices.as_deref().map(|d| rows(d, &l.rooms, &prefs)).unwrap_or_default();
        Ok(DeviceList {
            connection: connection.to_string(),
            title: l.location_name.clone().unwrap_or_else(|| l.conn.name.clone()),
            status_line: status_line(&l.status(), now),
            rooms: group_by_room(&list),
            scenes: scene_rows(&l.scenes),
            read_at: if l.devices.is_some() && l.last_error.is_none() { l.last_read.map(secs) } else { None },
            error: l.last_error.clone(),
        })
    }

    fn row(&self, connection: &str, device: &str) -> Result<DeviceRow> {
        let prefs = self.prefs().prefs(connection);
        let st = self.state();
        let l = st.live.get(connection).ok_or_else(|| Error::UnknownConnection { name: connection.into(), known: String::new() })?;
        let d = l
            .devices
            .as_ref()
            .and_then(|ds| ds.iter().find(|d| d.id == device))
            .ok_or_else(|| Error::DeviceNotFound { query: device.into(), hint: Some("the device list may be out of date".into()) })?;
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
        let grant = conn.session.token_valid_for(COPY_MIN_VALIDITY).await?;
        let copied = CopiedToken { connection: connection.to_string(), expires_at: secs(grant.expires_at) };
        Ok((grant, copied))
    }

    // --- the tray -----------------------------------------------------------------------

    pub fn views(&self) -> Vec<ConnectionView> {
        let prefs = self.prefs().clone();
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
            })
            .collect()
    }

    pub fn tray(&self) -> TrayModel {
        let limit = self.prefs().flat_menu_limit;
        let mut model = menu::build(&self.views(), self.opts.clock.now(), limit);
        menu::add_token_server(&mut model, self.token_server().line());
        model
    }

    pub fn panel_theme(&self) -> PanelTheme {
        self.prefs().panel_theme
    }

    /// Status changes worth a notification since the last call, and failed commands,
    /// debounced.
    pub fn take_notices(&self) -> Vec<Notice> {
        let now = self.opts.clock.now();
        let statuses: Vec<(String, Status)> = self.state().live.values().map(|l| (l.conn.name.clone(), l.status())).collect();
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
    /// one (off by default), never without a token. Runs until the task is aborted.
    pub async fn keep_tray_fresh(self: Arc<Self>) {
        loop {
            let now = self.opts.clock.now();
            let (window, tray) = {
                let p = self.prefs();
                (p.poll_interval(), p.tray_refresh())
            };
            let mut due = Vec::new();
            let mut wait = Duration::from_secs(60);
            for (name, status, last, err) in
                self.state().live.values().map(|l| (l.conn.name.clone(), l.status(), l.last_read, l.last_error.clone()))
            {
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
            tokio::time::sleep(wait.max(Duration::from_secs(1))).await;
        }
    }

    // --- desktop settings ---------------------------------------------------------------

    pub fn settings(&self) -> DesktopSettings {
        self.prefs().clone()
    }

    fn change_settings(&self, f: impl FnOnce(&mut DesktopSettings) -> Result<()>) -> Result<DesktopSettings> {
        let snapshot = {
            let mut p = self.prefs();
            let mut next = p.clone();
            f(&mut next)?;
            next.save(&self.paths)?;
            *p = next.clone();
            next
        };
        self.bump();
        Ok(snapshot)
    }

    pub fn set_favorite(&self, connection: &str, device: &str, on: bool) -> Result<DesktopSettings> {
        self.change_settings(|s| {
            s.set_favorite(connection, device, on);
            Ok(())
        })
    }

    pub fn set_hidden(&self, connection: &str, device: &str, on: bool) -> Result<DesktopSettings> {
        self.change_settings(|s| {
            s.set_hidden(connection, device, on);
            Ok(())
        })
    }

    pub fn set_poll_interval(&self, secs: u64) -> Result<DesktopSettings> {
        self.change_settings(|s| s.set_poll_interval(secs))
    }

    /// Picked up by [`Desktop::keep_tray_fresh`] within a minute (it wakes at least that often).
    pub fn set_tray_refresh(&self, secs: u64) -> Result<DesktopSettings> {
        self.change_settings(|s| s.set_tray_refresh(secs))
    }

    /// Records the choice; the shell registers or removes the login item.
    pub fn set_start_at_login(&self, on: bool) -> Result<DesktopSettings> {
        self.change_settings(|s| {
            s.start_at_login = on;
            Ok(())
        })
    }

    pub fn set_panel_theme(&self, theme: PanelTheme) -> Result<DesktopSettings> {
        self.change_settings(|s| {
            s.panel_theme = theme;
            Ok(())
        })
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

#[cfg(test)]
mod tests {
    use smartthings_sim::{Sim, SimConfig};

    use super::*;
    use crate::desktop::menu::{checks, MenuAction};
    use crate::desktop::status::TrayState;

    pub(super) struct Env {
        pub(super) sim: Sim,
        pub(super) _dir: tempfile::TempDir,
        pub(super) desktop: Arc<Desktop>,
        pub(super) start: SignInStart,
    }

    pub(super) async fn env() -> Env {
        let sim = Sim::start(SimConfig { auto_approve: true, ..SimConfig::default() }).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let client = sim.client().clone();
        let mut settings = ConnectionSettings::new(&client.client_id, &client.redirect_uris[0]);
        settings.api_url = sim.api_url();
        settings.auth_url = sim.auth_url();
        let (desktop, start) = Desktop::open_demo(dir.path(), settings, SecretString::from(client.client_secret)).await.unwrap();
        Env { sim, _dir: dir, desktop, start }
    }

    /// What the sign-in window sees: the authorize URL answers with a redirect.
    pub(super) async fn redirect_of(authorize_url: &str) -> String {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let resp = http.get(authorize_url).send().await.unwrap();
        assert_eq!(resp.status(), 302);
        resp.headers()["location"].to_str().unwrap().to_string()
    }

    pub(super) async fn signed_in() -> Env {
        let e = env().await;
        let redirect = redirect_of(&e.start.authorize_url).await;
        assert!(e.desktop.is_sign_in_redirect(&redirect));
        let done = e.desktop.finish_sign_in(&redirect).await.unwrap();
        assert!(done.device_count >= 10, "{done:?}");
        e
    }

    #[tokio::test]
    async fn sign_in_through_the_one_handler_then_devices_in_the_tray() {
        let e = env().await;
        assert_eq!(e.desktop.tray().state, TrayState::SignIn);
        assert!(!e.desktop.is_sign_in_redirect("https://example.com/callback?code=x"));
        let redirect = redirect_of(&e.start.authorize_url).await;

        // A forged answer is refused and the sign-in stays pending.
        let forged = redirect.replace("state=", "state=x");
        assert_eq!(e.desktop.finish_sign_in(&forged).await.unwrap_err().code(), "state_mismatch");
        assert_eq!(e.desktop.sign_in_pending().as_deref(), Some("demo"));

        let done = e.desktop.finish_sign_in(&redirect).await.unwrap();
        assert_eq!(done.connection, "demo");
        assert!(done.location_name.is_some());
        assert!(e.desktop.sign_in_pending().is_none());
        assert_eq!(e.desktop.finish_sign_in(&redirect).await.unwrap_err().code(), "no_sign_in_pending");

        let tray = e.desktop.tray();
        assert_eq!(tray.state, TrayState::Connected);
        assert!(tray.tooltip.contains("Connected · token valid"), "{}", tray.tooltip);
        assert!(checks(&tray.entries).len() > 12);
        // The demo vault is a file in the throwaway directory.
        assert!(e.desktop.vault_description().contains(&e._dir.path().display().to_string()), "{}", e.desktop.vault_description());
    }

    #[tokio::test]
    async fn a_click_shows_only_the_state_read_back() {
        let e = signed_in().await;
        let lamp = "0b5577db";
        let list = e.desktop.device_list("demo").await.unwrap();
        let row = list.rooms.iter().flat_map(|r| &r.devices).find(|d| d.id.starts_with(lamp)).unwrap().clone();
        let before = row.switch.unwrap();
        let after = e.desktop.toggle("demo", &row.id).await.unwrap();
        assert_eq!(after.switch, Some(!before));
        let sim_value = e.sim.device_attribute(&row.id, "main", "switch", "switch").unwrap();
        assert_eq!(sim_value, if before { "off" } else { "on" });
        // The tray's check shows the confirmed state.
        let id = MenuAction::SwitchDevice { connection: "demo".into(), device: row.id.clone() }.id();
        let checked = checks(&e.desktop.tray().entries).into_iter().find(|(i, _)| *i == id).unwrap().1;
        assert_eq!(checked, !before);

        let dimmed = e.desktop.set_level("demo", &row.id, 25).await.unwrap();
        assert_eq!(dimmed.level, Some(25));
    }

    #[tokio::test]
    async fn a_failed_command_keeps_the_old_state_and_says_why() {
        let e = signed_in().await;
        e.desktop.take_notices();
        let err = e.desktop.switch("demo", "00000000-0000-4000-8000-000000000000", true).await.unwrap_err();
        assert!(!err.code().is_empty());
        let notices = e.desktop.take_notices();
        assert!(matches!(&notices[..], [Notice::CommandFailed { .. }]), "{notices:?}");
        // Offline devices are refused before anything is sent.
        let offline = "f3c18803-cbec-48e3-8f15-3c31f302d68b";
        assert!(e.desktop.toggle("demo", offline).await.unwrap_err().to_string().contains("offline"));
    }

    #[tokio::test]
    async fn copy_token_gives_a_token_valid_five_minutes_and_favorites_survive_sign_out() {
        let e = signed_in().await;
        let (grant, copied) = e.desktop.token_for_copy("demo").await.unwrap();
        assert!(!grant.secret().is_empty());
        assert!(copied.expires_at > secs(SystemTime::now()) + 300);
        assert!(!serde_json::to_string(&copied).unwrap().contains(grant.secret()));

        let lamp = "0b5577db-4ac9-4bdf-8c9d-5a1b2c3d4e5f";
        e.desktop.set_favorite("demo", lamp, true).unwrap();
        e.desktop.sign_out("demo").await.unwrap();
        assert_eq!(e.desktop.tray().state, TrayState::SignIn);
        assert_eq!(e.desktop.token_for_copy("demo").await.unwrap_err().code(), "not_signed_in");
        let again = e.desktop.begin_sign_in("demo").unwrap();
        let redirect = redirect_of(&again.authorize_url).await;
        e.desktop.finish_sign_in(&redirect).await.unwrap();
        assert!(e.desktop.settings().prefs("demo").favorites.contains(lamp));
    }

    #[tokio::test]
    async fn session_end_is_noticed_once() {
        let e = signed_in().await;
        e.desktop.take_notices();
        e.sim.revoke_refresh_tokens();
        e.sim.advance_clock(Duration::from_secs(2 * 86_400));
        // A caller wanting a longer-lived token than the current one forces a refresh,
        // which SmartThings answers with `invalid_grant`.
        let conn = e.desktop.connection("demo").unwrap();
        let err = conn.session.token_valid_for(Duration::from_secs(3 * 86_400)).await.unwrap_err();
        assert!(err.needs_sign_in(), "{err}");
        let notices = e.desktop.take_notices();
        assert!(matches!(&notices[..], [Notice::SignInNeeded { .. }]), "{notices:?}");
        assert!(e.desktop.take_notices().is_empty());
        assert_eq!(e.desktop.tray().state, TrayState::SignIn);
    }
}
