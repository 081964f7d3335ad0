//! [`Desktop`]: everything the desktop app does, without the window. The Tauri shell
//! turns each IPC call and tray click into one call here, and each change here into a
//! menu and window update. It owns the open connections, the sign-in in progress (the one
//! callback handler for the sign-in window, deep links and pasted addresses), the cached
//! devices the tray shows, the desktop settings, the token server (`app/server.rs`) and
//! the other computers it shares with or gets its tokens from (`app/share.rs`).
//! Renaming a connection is in `app/rename.rs`; the location's modes in `app/modes.rs`.

#[cfg(unix)]
mod agent;
mod alerts;
pub mod calls;
mod device_calls;
mod hand_over;
mod modes;
mod oauth_app;
mod prefs_calls;
mod rename;
mod server;
mod share;
mod sign_in;
mod tray;

pub use alerts::Alert;
pub use device_calls::{CopiedToken, DeviceList};
pub use oauth_app::{CreateAppForm, PatHelp};
pub use share::{PairedView, ShareStatus};
pub use sign_in::{SignInStart, SignedIn};
pub use tray::AppInfo;

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, SystemTime};

use secrecy::SecretString;
use serde::Serialize;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use super::indicator::{connection_line, has_token, status_detail};
use super::notices::{Debounce, Notice};
use super::prefs::DesktopSettings;
use crate::alerts::Alerter;
use crate::api::{Device, Room, Scene};
use crate::clock::unix_ms;
use crate::config::{Config, ConnectionSettings, Paths, VaultKind};
use crate::connection::{Connection, Options};
use crate::error::{Error, Result};
use crate::events::Feed;
use crate::oauth::{SignIn, SIGN_IN_LIFETIME};
use crate::session::backoff;
use crate::session::Status;
use crate::vault::Vault;

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
    /// Wakes the tray's reader: a listener arrived on a feed, or a bell was rung.
    wake: Arc<Notify>,
    server: server::ServerSlot,
    share: share::ShareSlot,
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
    /// Device alerts for the shell to show (`take_alerts`).
    alerts: VecDeque<Alert>,
}

impl State {
    /// The sign-in in progress, unless it is older than [`SIGN_IN_LIFETIME`] (then it is
    /// dropped: its state and verifier must not be usable later).
    fn pending(&mut self, now: SystemTime) -> Option<&Pending> {
        if self.pending.as_ref().is_some_and(|p| now.duration_since(p.started).unwrap_or_default() >= SIGN_IN_LIFETIME)
        {
            tracing::info!("a sign-in older than 30 minutes was dropped");
            self.pending = None;
        }
        self.pending.as_ref()
    }

    /// The one lookup by name: an unknown name says which ones exist.
    fn live(&self, name: &str) -> Result<&Live> {
        self.live.get(name).ok_or_else(|| self.unknown(name))
    }

    fn unknown(&self, name: &str) -> Error {
        let known = if self.live.is_empty() {
            "none yet".into()
        } else {
            self.live.keys().cloned().collect::<Vec<_>>().join(", ")
        };
        Error::UnknownConnection { name: name.to_string(), known }
    }
}

struct Pending {
    connection: String,
    sign_in: SignIn,
    started: SystemTime,
}

struct Live {
    conn: Connection,
    location_name: Option<String>,
    devices: Option<Vec<Device>>,
    rooms: Vec<Room>,
    scenes: Vec<Scene>,
    /// The location's modes: read with the rooms and scenes, and after a change.
    modes: modes::ModeCache,
    places_read: Option<SystemTime>,
    last_read: Option<SystemTime>,
    /// Reads asked so far, and the number of the one the cache holds (a later-asked read
    /// that landed first is not overwritten by an earlier one).
    reads_asked: u64,
    read_seq: u64,
    /// The devices as the last read gave them: what the next read's changes are found
    /// against. `devices` also takes the state a command read back; this does not, so a
    /// change the app made is still a change to `watch`, and a read asked before the
    /// command cannot look like the device changing back.
    baseline: Option<Vec<Device>>,
    last_error: Option<Error>,
    busy: HashSet<String>,
    /// What the reads' changes are worth telling (alerts.rs).
    alerter: Alerter,
    /// The reads' changes, for `watch` and `/v1/events` beside the app.
    feed: Feed,
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
        self.conn.session.status()
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
    /// The computer this connection gets its tokens from (kind "paired"), else `None`.
    pub owner: Option<String>,
    /// "oauth" (an OAuth-In app of its own: the App card applies), "paired" or "schema"
    /// (an ST Schema connector's callback tokens).
    pub kind: &'static str,
}

/// Failures that may pass by themselves: worth opening the connection again later.
fn reopenable(e: &Error) -> bool {
    e.is_transient()
        || matches!(e, Error::KeychainUnavailable { .. } | Error::KeychainTimeout { .. } | Error::Io { .. })
}

/// Opens the connections that failed in passing, with the session's backoff, until none
/// is left or the desktop is gone.
async fn reopen(desktop: Weak<Desktop>) {
    for attempt in 1.. {
        let Some(wait) =
            desktop.upgrade().map(|d| backoff::delay(attempt, d.opts.session.retry_min, d.opts.session.retry_max))
        else {
            return;
        };
        tokio::time::sleep(wait).await;
        let Some(d) = desktop.upgrade() else { return };
        let names: Vec<String> =
            d.state().problems.iter().filter(|(_, e)| reopenable(e)).map(|(n, _)| n.clone()).collect();
        if names.is_empty() {
            return;
        }
        let Ok(config) = Config::load(&d.paths) else { continue };
        for name in names {
            match Connection::open_with(&d.paths, &config, d.vault.clone(), Some(&name), d.opts.clone()).await {
                Ok(conn) => {
                    tracing::info!(connection = %name, attempt, "the connection opened on a later try");
                    d.adopt(conn);
                    d.bump();
                }
                Err(e) => {
                    if let Some(p) = d.state().problems.iter_mut().find(|(n, _)| *n == name) {
                        p.1 = e;
                    }
                }
            }
        }
    }
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
        Desktop::open_with(paths, &config, vault, opts).await
    }

    /// [`Desktop::open`] with the vault given. Connections that failed for a reason that
    /// passes (a keychain still locked or slow at login) are opened again in the
    /// background, with backoff, until they open: no restart needed.
    pub async fn open_with(paths: Paths, config: &Config, vault: Vault, opts: Options) -> Result<Arc<Desktop>> {
        let d = Desktop::with_vault(paths, vault, opts, false)?;
        d.open_configured(config).await;
        if d.state().problems.iter().any(|(_, e)| reopenable(e)) {
            tokio::spawn(reopen(Arc::downgrade(&d)));
        }
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
        let share = share::ShareSlot::new(&paths);
        Ok(Arc::new(Desktop {
            paths,
            vault,
            opts,
            demo,
            state: Mutex::new(State::default()),
            settings: Mutex::new(settings),
            changed: Arc::new(changed),
            wake: Arc::new(Notify::new()),
            server: server::ServerSlot::default(),
            share,
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

    /// Nothing is set up yet: decided from the settings, not from what opened (a locked
    /// keychain at login must not look like a first run and lead to a duplicate `home-2`).
    pub fn is_first_run(&self) -> bool {
        let st = self.state();
        st.live.is_empty() && st.problems.is_empty()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The desktop settings under their lock (`settings()` hands out a copy).
    fn locked_settings(&self) -> MutexGuard<'_, DesktopSettings> {
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
        let mut rx = conn.session.watch_status();
        let changed = self.changed.clone();
        let follower = tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                changed.send_modify(|n| *n = n.wrapping_add(1));
            }
        });
        // Listeners of a connection signed in again keep listening. (Two statements: the
        // state's lock is let go before `new_feed` takes the settings'.)
        let kept = self.state().live.get(&conn.name).map(|l| l.feed.clone());
        let feed = kept.unwrap_or_else(|| self.new_feed());
        let live = Live {
            location_name: conn.settings.location_name.clone(),
            conn,
            devices: None,
            rooms: Vec::new(),
            scenes: Vec::new(),
            modes: Default::default(),
            places_read: None,
            last_read: None,
            reads_asked: 0,
            read_seq: 0,
            baseline: None,
            last_error: None,
            busy: HashSet::new(),
            alerter: Alerter::new(),
            feed,
            tasks: vec![refresher, follower],
        };
        let mut st = self.state();
        st.problems.retain(|(n, _)| n != &live.conn.name);
        st.live.insert(live.conn.name.clone(), live);
    }

    fn connection(&self, name: &str) -> Result<Connection> {
        Ok(self.state().live(name)?.conn.clone())
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
                    status_line: connection_line(&status, l.conn.owner(), now),
                    status_detail: status_detail(&status),
                    has_token: has_token(&status),
                    owner: l.conn.owner().map(str::to_string),
                    kind: match (&l.conn.settings.paired, &l.conn.settings.schema) {
                        (Some(_), _) => "paired",
                        (_, Some(_)) => "schema",
                        _ => "oauth",
                    },
                    status,
                }
            })
            .collect()
    }
}

#[cfg(test)]
pub(crate) mod tests;
