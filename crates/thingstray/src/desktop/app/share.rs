//! Other computers (issue 11), both roles of the desktop app:
//!
//! - **Owner.** The share listener (`owner::ShareServer`, TLS only, pairing and access
//!   tokens) handing out the token of the connection the token server would serve (the
//!   default one), looked up per request. On/off, address and port are kept in
//!   desktop.toml like the token server's and come back at launch. While it runs,
//!   `share-listener.json` says where, so `thingstray share invite` works beside the app
//!   exactly as beside `thingstray serve --share`.
//! - **Paired computer.** [`Desktop::connect_invite`]: an invite redeemed into a new
//!   connection of kind "paired", then treated like a freshly signed-in one.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

use super::{Desktop, SignedIn};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::connection::paired::connect;
use crate::connection::Connection;
use crate::desktop::prefs::{check_server_port, SharePrefs};
use crate::error::{Error, Result};
use crate::owner::listening::Listening;
use crate::owner::server::make_invite;
use crate::owner::{Identity, Registry, ShareOptions, ShareServer, ShareSource};
use crate::serve::Limits;
use crate::share::invite::clean_name;
use crate::share::pairing::this_computer;
use crate::share::{Fingerprint, Invite};

/// How long open requests may take to finish when the listener stops.
const GRACE: Duration = Duration::from_secs(2);

pub(super) struct ShareSlot {
    /// Held across a whole start or stop, so two quick clicks can't race two listeners.
    running: tokio::sync::Mutex<Option<ShareServer>>,
    /// What the settings window reads without waiting on the above.
    seen: Mutex<Seen>,
    pub(super) registry: Arc<Registry>,
}

impl ShareSlot {
    pub(super) fn new(paths: &crate::config::Paths) -> ShareSlot {
        ShareSlot { running: Default::default(), seen: Default::default(), registry: Arc::new(Registry::open(paths)) }
    }
}

#[derive(Default, Clone)]
struct Seen {
    /// While running: the address bound and what invites name.
    listening: Option<Listening>,
    fingerprint: Option<Fingerprint>,
    /// Why it is not running although it should be.
    error: Option<Error>,
}

/// The share listener as the settings window shows it. No secret.
#[derive(Debug, Clone, Serialize)]
pub struct ShareStatus {
    /// The user's choice, kept in desktop.toml.
    pub enabled: bool,
    pub running: bool,
    /// The address listened on (`0.0.0.0`: every interface).
    pub address: String,
    pub port: u16,
    /// What invites name, `HOST:PORT`, while running.
    pub at: Option<String>,
    /// The name paired computers know this one by.
    pub owner_name: String,
    /// The first bytes of the certificate's fingerprint, to compare by eye.
    pub fingerprint: Option<String>,
    /// The connection whose tokens are handed out.
    pub sharing: Option<String>,
    /// The computer that connection gets its tokens from, when it is paired: then this one
    /// cannot share it, but can take its sign-in over.
    pub paired_with: Option<String>,
    /// Why it is not running although it is on (a busy port at launch).
    pub error: Option<Error>,
}

/// A paired computer as the settings window lists it. Times are Unix seconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairedView {
    pub name: String,
    pub paired_at: u64,
    pub last_seen_at: Option<u64>,
    pub revoked_at: Option<u64>,
}

/// The share listener's port: the token server's rule (1024–65535), its own default.
fn check_share_port(port: u64) -> Result<u16> {
    check_server_port(port).map_err(|_| Error::InvalidSetting {
        field: "port".into(),
        why: format!("pick a port from 1024 to 65535 (the default is {})", crate::owner::DEFAULT_PORT),
    })
}

fn parse_address(address: &str) -> Result<IpAddr> {
    address.trim().trim_start_matches('[').trim_end_matches(']').parse().map_err(|_| Error::InvalidSetting {
        field: "share address".into(),
        why: format!(
            "`{address}` is not an IP address; use 0.0.0.0 for every network, or 127.0.0.1 for this computer only"
        ),
    })
}

impl Desktop {
    pub fn share_status(&self) -> ShareStatus {
        let prefs = self.locked_settings().share.clone();
        let seen = self.share.seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let bound = seen.listening.as_ref().map(|l| l.bound);
        ShareStatus {
            enabled: prefs.enabled,
            running: bound.is_some(),
            address: bound.map_or(prefs.address, |b| b.ip()).to_string(),
            port: bound.map_or(prefs.port, |b| b.port()),
            at: seen.listening.map(|l| l.at),
            owner_name: this_computer(),
            fingerprint: seen.fingerprint.map(|f| f.short()),
            sharing: self.shared().ok().map(|c| c.name),
            paired_with: self.served().ok().and_then(|c| c.owner().map(str::to_string)),
            error: seen.error,
        }
    }

    fn see_share(&self, seen: Seen) {
        *self.share.seen.lock().unwrap_or_else(|p| p.into_inner()) = seen;
        self.bump();
    }

    /// Turns sharing on (at `address`:`port`) or off, and keeps the choice. A move starts
    /// the new listener before stopping the old one: if the new port is busy, the old one
    /// keeps running and nothing is saved.
    pub async fn set_sharing(self: &Arc<Self>, on: bool, address: &str, port: u64) -> Result<ShareStatus> {
        let prefs = SharePrefs { enabled: on, address: parse_address(address)?, port: check_share_port(port)? };
        let addr = SocketAddr::new(prefs.address, prefs.port);
        // A hand-over decided here and not confirmed yet: the new owner must be able to ask
        // again (owner/hand_over.rs), so the listener stays until it has.
        if let (false, Some(g)) = (on, self.handing_over()) {
            return Err(Error::HandingOver { to: g.to.owner });
        }
        let mut running = self.share.running.lock().await;
        if on && running.as_ref().is_none_or(|s| s.addr() != addr) {
            // Checked before binding: a paired connection has no session to share.
            self.shared()?;
            match self.start_sharing(addr).await {
                Ok((fresh, seen)) => {
                    if let Some(old) = running.replace(fresh) {
                        old.shutdown(GRACE).await;
                    }
                    self.see_share(seen);
                }
                Err(e) => {
                    if running.is_none() {
                        self.see_share(Seen { error: Some(e.clone()), ..Seen::default() });
                    }
                    return Err(e);
                }
            }
        } else if !on {
            if let Some(old) = running.take() {
                Listening::remove(&self.paths);
                old.shutdown(GRACE).await;
            }
            self.see_share(Seen::default());
        }
        drop(running);
        self.change_settings(|s| {
            s.share = prefs;
            Ok(())
        })?;
        Ok(self.share_status())
    }

    /// At launch: starts sharing if the user left it on. A failure is kept for the
    /// settings window, and the choice stays on for next time.
    pub async fn resume_sharing(self: &Arc<Self>) -> Result<()> {
        let prefs = self.locked_settings().share.clone();
        let mut running = self.share.running.lock().await;
        // Off, but a hand-over decided here is not confirmed: its new owner must reach us.
        if (!prefs.enabled && self.handing_over().is_none()) || running.is_some() {
            return Ok(());
        }
        match self.start_sharing(SocketAddr::new(prefs.address, prefs.port)).await {
            Ok((server, seen)) => {
                *running = Some(server);
                self.see_share(seen);
                Ok(())
            }
            Err(e) => {
                tracing::warn!(code = e.code(), port = prefs.port, "sharing could not start");
                self.see_share(Seen { error: Some(e.clone()), ..Seen::default() });
                Err(e)
            }
        }
    }

    /// Stops accepting (at quit); the choice stays as it is.
    pub async fn stop_sharing(&self) {
        let old = self.share.running.lock().await.take();
        if let Some(old) = old {
            Listening::remove(&self.paths);
            old.shutdown(GRACE).await;
            self.see_share(Seen::default());
        }
    }

    async fn start_sharing(self: &Arc<Self>, addr: SocketAddr) -> Result<(ShareServer, Seen)> {
        let identity = Identity::load_or_create(&self.vault).await?;
        // Weak: the listener lives inside the Desktop and must not keep it alive.
        let desktop = Arc::downgrade(self);
        let source = ShareSource::Current(Arc::new(move || match desktop.upgrade() {
            Some(d) => d.shared(),
            None => Err(Error::io("sharing a token", "ThingsTray is quitting")),
        }));
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let opts = ShareOptions { addr, owner_name: this_computer(), limits: Limits::default() };
        let server = ShareServer::start(source, &identity, self.share.registry.clone(), clock, opts).await?;
        let listening = Listening::new(server.addr(), None);
        listening.write(&self.paths)?;
        let seen = Seen { listening: Some(listening), fingerprint: Some(identity.fingerprint().clone()), error: None };
        Ok((server, seen))
    }

    /// The connection shared: the one the token server serves, unless it is itself
    /// paired (its owner is the one to share from, and a relay would hide revocations).
    /// The hand-over of the shared connection this computer decided and its new owner has
    /// not confirmed yet, if any.
    fn handing_over(&self) -> Option<crate::session::record::Giving> {
        let conn = self.served().ok()?;
        crate::owner::hand_over::unfinished(&self.paths, &conn.name)
    }

    fn shared(&self) -> Result<Connection> {
        let conn = self.served()?;
        match conn.owner() {
            None => Ok(conn),
            Some(owner) => Err(Error::ConnectionKind {
                connection: conn.name.clone(),
                why: format!("it gets its tokens from {owner}: invite the other computer from {owner} instead"),
            }),
        }
    }

    /// A one-time invite (10 minutes) naming this computer's listener; `name`: how the
    /// invited computer is listed (default: the name it gives itself). The line holds a
    /// one-time code: it is shown in the settings window that asked, and never logged.
    pub fn share_invite(&self, name: Option<String>) -> Result<String> {
        // The listener's own address and certificate, as it started: an invite must name
        // exactly the listener that will redeem it.
        let (at, fingerprint) = {
            let seen = self.share.seen.lock().unwrap_or_else(|p| p.into_inner());
            match (&seen.listening, &seen.fingerprint) {
                (Some(l), Some(f)) => (l.at.clone(), f.clone()),
                _ => return Err(Error::NotSharing),
            }
        };
        let name = name.as_deref().map(str::trim).filter(|n| !n.is_empty());
        let invite =
            make_invite(&self.share.registry, &fingerprint, &at, &this_computer(), name, self.opts.clock.now())?;
        Ok(invite.to_line())
    }

    /// Every computer paired with this one, revoked ones included (they are told so).
    pub fn paired_computers(&self) -> Result<Vec<PairedView>> {
        Ok(self
            .share
            .registry
            .list()?
            .into_iter()
            .map(|c| PairedView {
                name: c.name,
                paired_at: c.created_ms / 1000,
                last_seen_at: c.last_seen_ms.map(|ms| ms / 1000),
                revoked_at: c.revoked_ms.map(|ms| ms / 1000),
            })
            .collect())
    }

    /// Stops handing tokens to `name`; its next request is told it was revoked.
    pub fn revoke_computer(&self, name: &str) -> Result<Vec<PairedView>> {
        self.share.registry.revoke(name, self.opts.clock.now())?;
        tracing::info!(computer = %name, "revoked a paired computer");
        self.bump();
        self.paired_computers()
    }

    /// The wizard's other way in: this home is already connected on another computer.
    /// Redeems its invite into a new connection of kind "paired" (named like a new
    /// sign-in: `home`, `home-2`, …), then shows its devices like a fresh sign-in's.
    /// `computer_name`: how the owner lists this computer (default: the host name).
    pub async fn connect_invite(&self, invite: &str, computer_name: Option<String>) -> Result<SignedIn> {
        let invite = Invite::parse(invite.trim())?;
        let computer = computer_name.map(|n| clean_name(&n)).filter(|n| !n.is_empty()).unwrap_or_else(this_computer);
        let name = self.free_name();
        let conn = connect(&self.paths, &self.vault, &invite, &name, &computer, self.opts.clone()).await?;
        self.state().default = Config::load(&self.paths)?.default_connection;
        let location_name = conn.settings.location_name.clone();
        self.adopt(conn);
        self.bump();
        let device_count = match self.refresh_devices(&name).await {
            Ok(()) => self.state().live.get(&name).and_then(|l| l.devices.as_ref().map(Vec::len)).unwrap_or(0),
            Err(_) => 0,
        };
        tracing::info!(connection = %name, owner = %invite.owner, device_count, "connected through another computer");
        Ok(SignedIn { connection: name, location_name, device_count })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{signed_in, Env};
    use super::*;
    use crate::config::{Paths, VaultKind};
    use crate::connection::Options;
    use crate::desktop::prefs::DesktopSettings;
    use crate::desktop::MenuEntry;

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    }

    /// Another computer: its own settings folder and file vault, nothing set up yet.
    async fn other_computer() -> (tempfile::TempDir, Arc<Desktop>) {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::at(dir.path());
        Config { vault: VaultKind::File, ..Config::default() }.save(&paths).unwrap();
        let d = Desktop::open(paths, Options::default()).await.unwrap();
        assert!(d.is_first_run());
        (dir, d)
    }

    async fn sharing(e: &Env) -> u16 {
        let port = free_port();
        let st = e.desktop.set_sharing(true, "127.0.0.1", port.into()).await.unwrap();
        assert!(st.running && st.enabled, "{st:?}");
        assert_eq!(st.at.as_deref(), Some(format!("127.0.0.1:{port}").as_str()));
        assert_eq!(st.sharing.as_deref(), Some("demo"));
        assert!(st.fingerprint.as_deref().is_some_and(|f| !f.is_empty()));
        port
    }

    fn texts(entries: &[MenuEntry]) -> Vec<String> {
        entries
            .iter()
            .filter_map(|e| match e {
                MenuEntry::Item { text, .. } | MenuEntry::Check { text, .. } => Some(text.clone()),
                _ => None,
            })
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_paired_desktop_gets_devices_through_the_owner_until_it_is_revoked() {
        let e = signed_in().await;
        assert_eq!(e.desktop.share_invite(None).unwrap_err().code(), "not_sharing");
        sharing(&e).await;
        // `thingstray share invite` beside the app finds the same listener.
        let listening = Listening::find(&e.desktop.paths).unwrap();
        assert_eq!(Some(listening.at), e.desktop.share_status().at);
        let line = e.desktop.share_invite(None).unwrap();
        assert!(line.starts_with("thingstray://pair?"), "{line}");

        let (_dir, laptop) = other_computer().await;
        let done = laptop.connect_invite(&format!("  {line}\n"), Some("laptop".into())).await.unwrap();
        assert_eq!(done.connection, "home");
        assert!(done.device_count >= 10, "{done:?}");
        assert!(!laptop.is_first_run());
        let owner = this_computer();
        let summary = &laptop.connections()[0];
        assert_eq!(summary.owner.as_deref(), Some(owner.as_str()));
        assert!(summary.status_line.ends_with(&format!("· via {owner}")), "{}", summary.status_line);
        assert_eq!(laptop.begin_sign_in("home").unwrap_err().code(), "paired_connection");

        // Devices go straight to SmartThings with the owner's token.
        let list = laptop.device_list("home").await.unwrap();
        let lamp = list.rooms.iter().flat_map(|r| &r.devices).find(|d| d.label == "Living Room Lamp").unwrap().clone();
        let after = laptop.toggle("home", &lamp.id).await.unwrap();
        assert_eq!(after.switch, Some(!lamp.switch.unwrap()));
        assert_eq!(
            e.sim.device_attribute(&lamp.id, "main", "switch", "switch").unwrap(),
            if after.switch == Some(true) { "on" } else { "off" }
        );

        let listed = e.desktop.paired_computers().unwrap();
        assert!(
            matches!(&listed[..], [PairedView { name, revoked_at: None, last_seen_at: Some(_), .. }] if name == "laptop"),
            "{listed:?}"
        );
        // An invite works once.
        let (_dir2, desk) = other_computer().await;
        assert_eq!(desk.connect_invite(&line, None).await.unwrap_err().code(), "invite_expired");

        let listed = e.desktop.revoke_computer("laptop").unwrap();
        assert!(listed[0].revoked_at.is_some(), "{listed:?}");
        assert_eq!(e.desktop.revoke_computer("laptop").unwrap_err().code(), "unknown_paired_computer");
        // Its next request to the owner (a token it does not hold yet) is refused.
        let conn = laptop.connection("home").unwrap();
        let err = conn.session.token_valid_for(Duration::from_secs(24 * 3600)).await.unwrap_err();
        assert_eq!(err.code(), "share_revoked", "{err}");
        let summary = &laptop.connections()[0];
        assert_eq!(summary.status_line, format!("Access revoked on {owner}"));
        assert!(
            summary.status_detail.as_deref().is_some_and(|d| d.contains("revoked on") && d.contains("new invite")),
            "{summary:?}"
        );
        assert!(
            !texts(&laptop.tray().entries).iter().any(|t| t.starts_with("Sign in again")),
            "no sign-in offered for a paired connection"
        );

        // Off: the port is free and `share invite` elsewhere says so.
        let port = e.desktop.share_status().port;
        let off = e.desktop.set_sharing(false, "127.0.0.1", port.into()).await.unwrap();
        assert!(!off.running && !off.enabled);
        assert!(tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err());
        assert_eq!(Listening::find(&e.desktop.paths).unwrap_err().code(), "not_sharing");
    }

    #[tokio::test]
    async fn sharing_comes_back_at_launch_and_stops_at_quit() {
        let e = signed_in().await;
        let port = sharing(&e).await;
        let prefs = DesktopSettings::load(&e.desktop.paths).unwrap().share;
        assert_eq!(prefs, SharePrefs { enabled: true, address: "127.0.0.1".parse().unwrap(), port });
        e.desktop.shutdown().await;
        assert!(tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err());
        assert!(!e.desktop.share_status().running && e.desktop.share_status().enabled);

        let next = Desktop::open(Paths::at(e._dir.path()), Options::default()).await.unwrap();
        next.resume_sharing().await.unwrap();
        let st = next.share_status();
        assert!(st.running && st.port == port, "{st:?}");
        assert!(next.share_invite(Some("desk".into())).is_ok());
        next.stop_sharing().await;
    }

    #[tokio::test]
    async fn bad_choices_are_refused_with_what_to_do() {
        let e = signed_in().await;
        let d = &e.desktop;
        assert_eq!(d.set_sharing(true, "my laptop", 8766).await.unwrap_err().code(), "invalid_setting");
        let err = d.set_sharing(true, "127.0.0.1", 80).await.unwrap_err();
        assert!(err.to_string().contains("the default is 8766"), "{err}");
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let busy = taken.local_addr().unwrap().port();
        let err = d.set_sharing(true, "127.0.0.1", busy.into()).await.unwrap_err();
        assert!(err.to_string().contains("already in use"), "{err}");
        assert!(!d.share_status().enabled && !d.share_status().running, "nothing saved");

        let (_dir, laptop) = other_computer().await;
        for bad in ["", "https://example.com", "thingstray://pair?at=x"] {
            assert_eq!(laptop.connect_invite(bad, None).await.unwrap_err().code(), "invite_invalid", "{bad:?}");
        }
        assert!(laptop.is_first_run(), "nothing was set up");
        // A paired desktop has no session of its own to share.
        sharing(&e).await;
        laptop.connect_invite(&d.share_invite(None).unwrap(), None).await.unwrap();
        let err = laptop.set_sharing(true, "127.0.0.1", free_port().into()).await.unwrap_err();
        assert!(err.to_string().contains("invite the other computer from"), "{err}");
        d.stop_sharing().await;
    }
}
