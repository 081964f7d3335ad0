//! A throwaway world for one experiment: the simulator in this process, a config dir
//! with the file vault (`vault = "file"`, so no keychain is needed), the shared clock
//! file, and a signed-in connection `home`; optionally a second connection `cabin` on a
//! simulator of its own (so each connection's token calls are counted apart).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use smartthings_sim::{Sim, SimConfig};
use thingstray::config::{Config, ConnectionSettings, Paths, VaultKind};
use thingstray::connection::Options;
use thingstray::session::SessionOptions;
use thingstray::vault::Vault;
use thingstray::Connection;

use crate::clockfile::FileClock;

pub const CONNECTION: &str = "home";
/// The second connection of [`World::start_two`].
pub const CABIN: &str = "cabin";
/// An ST Schema connector's callback connection, on `sim` ([`World::add_connector`]).
pub const CONNECTOR: &str = "connector";

pub struct World {
    pub sim: Sim,
    /// `cabin`'s simulator, when there is one: its clock moves with `sim`'s.
    pub cabin: Option<Sim>,
    pub dir: tempfile::TempDir,
    pub paths: Paths,
    pub clock: FileClock,
}

/// Where a child process finds the world: the config dir and the clock file in it.
pub fn clock_path(dir: &Path) -> PathBuf {
    dir.join("sim-clock")
}

/// The world as a child process opens it: same files, its own clock reader.
pub struct Shared {
    pub paths: Paths,
    pub config: Config,
    pub vault: Vault,
    pub clock: FileClock,
}

impl Shared {
    pub fn open(dir: &Path) -> thingstray::Result<Shared> {
        let paths = Paths::at(dir);
        let config = Config::load(&paths)?;
        let vault = Vault::open(&config, &paths)?;
        Ok(Shared { paths, config, vault, clock: FileClock::open(&clock_path(dir)) })
    }

    /// What every `thingstray` command does first, with the shared clock.
    pub async fn connection(&self, session: SessionOptions, timeout: Duration) -> thingstray::Result<Connection> {
        self.connection_to(CONNECTION, session, timeout).await
    }

    /// As [`Shared::connection`], for the connection `name` (`thingstray -c NAME`).
    pub async fn connection_to(
        &self,
        name: &str,
        session: SessionOptions,
        timeout: Duration,
    ) -> thingstray::Result<Connection> {
        let opts =
            Options { clock: Arc::new(self.clock.clone()), session, request_timeout: timeout, extra_roots: None };
        Connection::open_with(&self.paths, &self.config, self.vault.clone(), Some(name), opts).await
    }
}

impl World {
    pub async fn start(config: SimConfig) -> World {
        let sim = Sim::start(SimConfig { auto_approve: true, ..config }).await.expect("the simulator starts");
        let dir = tempfile::Builder::new().prefix("thingstray-proof-").tempdir().expect("a temp dir");
        let paths = Paths::at(dir.path());
        let clock = FileClock::create(&clock_path(dir.path())).expect("the clock file");
        Config { vault: VaultKind::File, ..Config::default() }.save(&paths).expect("config saved");
        save_connection(&paths, &sim, CONNECTION).await;
        let w = World { sim, cabin: None, dir, paths, clock };
        w.sign_in().await;
        w
    }

    /// Two connections in one config dir and one file vault: `home` on `sim` and `cabin`
    /// on a second simulator with the same settings, both signed in.
    pub async fn start_two(config: SimConfig) -> World {
        let cabin =
            Sim::start(SimConfig { auto_approve: true, ..config.clone() }).await.expect("the second simulator starts");
        let mut w = World::start(config).await;
        save_connection(&w.paths, &cabin, CABIN).await;
        w.cabin = Some(cabin);
        w.sign_in_to(CABIN).await;
        w
    }

    /// The simulator behind connection `name`.
    pub fn sim_of(&self, name: &str) -> &Sim {
        match (name, &self.cabin) {
            (CABIN, Some(cabin)) => cabin,
            _ => &self.sim,
        }
    }

    /// Every simulator of this world, with its connection's name.
    pub fn sims(&self) -> Vec<(&'static str, &Sim)> {
        let mut all = vec![(CONNECTION, &self.sim)];
        all.extend(self.cabin.as_ref().map(|c| (CABIN, c)));
        all
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn shared(&self) -> Shared {
        Shared::open(self.dir()).expect("the world opens")
    }

    /// The browser part of sign-in, as a user whose simulator approves at once.
    pub async fn sign_in(&self) {
        self.sign_in_to(CONNECTION).await;
    }

    pub async fn sign_in_to(&self, name: &str) {
        let conn =
            self.shared().connection_to(name, SessionOptions::default(), Duration::from_secs(10)).await.expect("opens");
        let sign_in = conn.begin_sign_in().unwrap();
        let back = smartthings_sim::browser::approve(sign_in.authorize_url().as_str()).await;
        conn.finish_sign_in(&self.paths, &sign_in, &back).await.expect("sign-in completes");
    }

    /// Keeps (again) the callback access of the simulator's ST Schema partner connector
    /// as the connection `connector`, as `thingstray schema grant` does.
    pub async fn add_connector(&self) {
        let partner = self.sim.schema_partner().clone();
        let grant = thingstray::schema::parse_grant(
            &self.sim.schema_grant().to_string(),
            &partner.client_id,
            thingstray::schema::CallbackHosts::AlsoLoopback,
        )
        .expect("the grant reads");
        let shared = self.shared();
        let opts = Options {
            clock: Arc::new(shared.clock.clone()),
            session: SessionOptions::default(),
            request_timeout: Duration::from_secs(10),
            extra_roots: None,
        };
        thingstray::connection::schema::keep(
            &self.paths,
            &shared.vault,
            CONNECTOR,
            grant,
            SecretString::from(partner.client_secret),
            opts,
        )
        .await
        .expect("the grant is kept");
    }

    /// Moves both clocks. The file first: a process never sees a clock behind the
    /// simulator's, so its idea of "still valid" is never more generous than the truth.
    pub fn jump(&self, by: Duration) {
        let ms = by.as_millis() as u64;
        self.clock.set_offset_ms(self.clock.offset_ms() + ms).expect("clock file written");
        self.sim.advance_clock(by);
        if let Some(cabin) = &self.cabin {
            cabin.advance_clock(by);
        }
    }

    pub fn refreshes(&self) -> u64 {
        self.sim.stats().token_grants.get("refresh_token").copied().unwrap_or(0)
    }

    /// A token this world's simulator issued, valid at `at_ms` (sim clock)?
    pub fn valid_at(&self, token: &str, at_ms: u64) -> bool {
        self.sim.access_token_expiry_ms(token).is_some_and(|exp| at_ms < exp)
    }
}

/// A connection's settings (pointing at `sim`) and client secret, as `thingstray setup` saves them.
async fn save_connection(paths: &Paths, sim: &Sim, name: &str) {
    let vault = Vault::open(&Config::load(paths).unwrap(), paths).expect("the file vault");
    let c = sim.client();
    let settings = ConnectionSettings::at(&c.client_id, &c.redirect_uris[0], sim.api_url(), sim.auth_url());
    let secret = SecretString::from(c.client_secret.clone());
    Connection::save(paths, &vault, name, settings, Some(secret)).await.expect("settings saved");
}
