//! Shared set-up for the integration tests: a simulator on 127.0.0.1, an isolated config
//! directory, a clock the test moves in step with the simulator's.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use smartthings_sim::{Sim, SimConfig};
use thingstray::clock::ManualClock;
use thingstray::config::{Config, ConnectionSettings, Paths};
use thingstray::connection::Options;
use thingstray::oauth::SignIn;
use thingstray::session::SessionOptions;
use thingstray::vault::{MemoryStore, SecretStore, Vault};
use thingstray::Connection;

pub struct Env {
    pub sim: Sim,
    /// The settings folder `paths` points into; removed when the test ends.
    _dir: tempfile::TempDir,
    pub paths: Paths,
    pub clock: ManualClock,
    pub vault: Vault,
}

pub fn settings_for(sim: &Sim) -> ConnectionSettings {
    let c = sim.client();
    ConnectionSettings::at(&c.client_id, &c.redirect_uris[0], sim.api_url(), sim.auth_url())
}

/// Session tuning for tests: retries in milliseconds rather than seconds.
pub fn fast_session() -> SessionOptions {
    SessionOptions {
        retry_min: Duration::from_millis(5),
        retry_max: Duration::from_millis(50),
        wall_clock_check: Duration::from_millis(200),
        ..SessionOptions::default()
    }
}

impl Env {
    pub async fn new(config: SimConfig) -> Env {
        Env::with_vault(config, Vault::memory()).await
    }

    pub async fn with_vault(config: SimConfig, vault: Vault) -> Env {
        let sim = Sim::start(config).await.expect("simulator starts");
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::at(dir.path());
        Env { sim, _dir: dir, paths, clock: ManualClock::new(), vault }
    }

    /// Both clocks jump together, the way a sleeping laptop sees the world move on.
    pub fn advance(&self, by: Duration) {
        self.sim.advance_clock(by);
        self.clock.advance(by);
    }

    pub fn options(&self) -> Options {
        Options {
            clock: Arc::new(self.clock.clone()),
            session: fast_session(),
            request_timeout: Duration::from_secs(5),
            // A TLS simulator's authority, passed in: the environment is left alone.
            extra_roots: Some(match self.sim.ca_file() {
                Some(f) => thingstray::http::ExtraRoots::from_pem_file(f).expect("the simulator's authority loads"),
                None => thingstray::http::ExtraRoots::none(),
            }),
        }
    }

    /// Saves the simulator's demo app as connection `home` and opens it.
    pub async fn connection(&self) -> Connection {
        self.connection_with(settings_for(&self.sim), &self.sim.client().client_secret.clone()).await
    }

    pub async fn connection_with(&self, settings: ConnectionSettings, secret: &str) -> Connection {
        Connection::save(&self.paths, &self.vault, "home", settings, Some(SecretString::from(secret.to_string())))
            .await
            .expect("settings saved");
        let config = Config::load(&self.paths).unwrap();
        Connection::open_with(&self.paths, &config, self.vault.clone(), Some("home"), self.options())
            .await
            .expect("connection opens")
    }

    /// A connection that has gone through sign-in.
    pub async fn signed_in(&self) -> Connection {
        let conn = self.connection().await;
        let sign_in = conn.begin_sign_in().unwrap();
        let answer = approve(&sign_in, None).await;
        conn.finish_sign_in(&self.paths, &sign_in, &answer).await.expect("sign-in completes");
        conn
    }
}

/// Walks the simulator's sign-in page like a person: open it, pick a location, press a
/// button; returns where the browser was sent (the redirect URI with code and state).
pub async fn approve(sign_in: &SignIn, decision: Option<&str>) -> String {
    smartthings_sim::browser::decide(sign_in.authorize_url().as_str(), decision.unwrap_or("authorize")).await
}

/// The number of successful refresh grants the simulator has handed out.
pub fn refreshes(sim: &Sim) -> u64 {
    sim.stats().token_grants.get("refresh_token").copied().unwrap_or(0)
}

/// Serves one canned HTTP answer per connection on 127.0.0.1, for the answers the
/// simulator would never give (an HTML 200, a body too large to read).
pub async fn raw_server(response: Vec<u8>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let response = Arc::new(response);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let response = response.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let _ = sock.read(&mut buf).await;
                let _ = sock.write_all(&response).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    format!("http://{addr}")
}

/// An owner sharing `conn` on 127.0.0.1 (a free port), with the certificate in `env`'s
/// vault and the registry in its settings folder, on the test's clock.
pub async fn share(env: &Env, conn: thingstray::Connection) -> thingstray::owner::ShareServer {
    use thingstray::owner::{Identity, Registry, ShareOptions, ShareServer, ShareSource};
    let identity = Identity::load_or_create(&env.vault).await.expect("the owner's certificate");
    let registry = Arc::new(Registry::open(&env.paths));
    let opts = ShareOptions {
        addr: "127.0.0.1:0".parse().unwrap(),
        owner_name: "owner-pc".into(),
        limits: thingstray::serve::Limits::default(),
    };
    ShareServer::start(ShareSource::One(conn), &identity, registry, Arc::new(env.clock.clone()), opts)
        .await
        .expect("the share listener starts")
}

/// A vault that remembers every token pair written to it, and can be made to refuse writes.
#[derive(Default)]
pub struct Recorder {
    pub inner: MemoryStore,
    pub saved_access: Mutex<Vec<String>>,
    pub refuse: AtomicBool,
    pub refuse_reads: AtomicBool,
    /// Handed out once by the next read of a token pair: what a process read just before
    /// another one replaced it.
    pub stale_once: Mutex<Option<SecretString>>,
}

impl SecretStore for Recorder {
    fn get(&self, key: &str) -> thingstray::Result<Option<SecretString>> {
        if self.refuse_reads.load(Ordering::SeqCst) {
            return Err(thingstray::Error::KeychainUnavailable { detail: "locked, says the test".into() });
        }
        if key.ends_with("/tokens") {
            if let Some(stale) = self.stale_once.lock().unwrap().take() {
                return Ok(Some(stale));
            }
        }
        self.inner.get(key)
    }
    fn set(&self, key: &str, value: &SecretString) -> thingstray::Result<()> {
        if self.refuse.load(Ordering::SeqCst) {
            return Err(thingstray::Error::KeychainUnavailable { detail: "refused by the test".into() });
        }
        if key.ends_with("/tokens") {
            let v: serde_json::Value = serde_json::from_str(value.expose_secret()).unwrap();
            self.saved_access.lock().unwrap().push(v["access_token"].as_str().unwrap().to_string());
        }
        self.inner.set(key, value)
    }
    fn delete(&self, key: &str) -> thingstray::Result<()> {
        self.inner.delete(key)
    }
    fn describe(&self) -> String {
        "recorder".into()
    }
}

pub async fn recorded_env(config: SimConfig) -> (Env, Arc<Recorder>) {
    let rec = Arc::new(Recorder::default());
    let env = Env::with_vault(config, Vault::new(rec.clone())).await;
    (env, rec)
}

/// An owner sharing the connection the desktop serves, which the test can switch to
/// another location (`switched`), as Settings would: the connection as opened from the
/// settings, its location known, and its share listener on 127.0.0.1.
pub async fn switchable_owner(env: &Env) -> (Connection, Arc<AtomicBool>, thingstray::owner::ShareServer) {
    use thingstray::owner::{Identity, Registry, ShareOptions, ShareServer, ShareSource};
    let conn =
        Connection::open_with(&env.paths, &Config::load(&env.paths).unwrap(), env.vault.clone(), None, env.options())
            .await
            .unwrap();
    let switched = Arc::new(AtomicBool::new(false));
    let source = {
        let (conn, switched) = (conn.clone(), switched.clone());
        ShareSource::Current(Arc::new(move || {
            let mut c = conn.clone();
            if switched.load(Ordering::SeqCst) {
                c.settings.location_id = Some("another-location".into());
            }
            Ok(c)
        }))
    };
    let identity = Identity::load_or_create(&env.vault).await.unwrap();
    let opts = ShareOptions {
        addr: "127.0.0.1:0".parse().unwrap(),
        owner_name: "owner-pc".into(),
        limits: thingstray::serve::Limits::default(),
    };
    let server =
        ShareServer::start(source, &identity, Arc::new(Registry::open(&env.paths)), Arc::new(env.clock.clone()), opts)
            .await
            .unwrap();
    (conn, switched, server)
}
