//! The two computers of a hand-over as the tests drive them (handover.rs, step by step in
//! handover_faults.rs): the old owner with a keychain that can be held at one item, the
//! laptop, and what the two hold once both are back.

use crate::common::{fast_session, Env};
use crate::paired::Laptop;
use secrecy::SecretString;
use smartthings_sim::SimConfig;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use thingstray::config::Config;
use thingstray::connection::Options;
use thingstray::owner::take_over::take_over;
use thingstray::owner::{Identity, Registry, ShareOptions, ShareServer, ShareSource};
use thingstray::session::SessionOptions;

use thingstray::vault::{MemoryStore, SecretStore, Vault};
use thingstray::Connection;

/// A write held at the item whose key ends so: "entered" is sent, then it waits for "release".
const MIN: Duration = Duration::from_secs(60);

pub(crate) struct Stall {
    pub(crate) key: String,
    pub(crate) entered: mpsc::Sender<()>,
    pub(crate) release: mpsc::Receiver<()>,
}

/// What the keychain does, from inside a write, at the item whose key ends so (once).
type Hook = Box<dyn FnOnce() + Send>;

/// The old owner's keychain: it can stall at one item until the test lets it go (a slow
/// keychain), refuse to write token pairs, or run a hook at one item's write.
#[derive(Default)]
pub(crate) struct Keychain {
    inner: MemoryStore,
    pub(crate) stall: Mutex<Option<Stall>>,
    pub(crate) refuse_tokens: AtomicBool,
    pub(crate) hook: Mutex<Option<(String, Hook)>>,
}

impl SecretStore for Keychain {
    fn get(&self, key: &str) -> thingstray::Result<Option<SecretString>> {
        self.inner.get(key)
    }
    fn set(&self, key: &str, value: &SecretString) -> thingstray::Result<()> {
        let stalled = {
            let mut s = self.stall.lock().unwrap();
            if s.as_ref().is_some_and(|st| key.ends_with(st.key.as_str())) {
                s.take()
            } else {
                None
            }
        };
        if let Some(st) = stalled {
            st.entered.send(()).unwrap();
            st.release.recv().ok();
        }
        let hook = {
            let mut h = self.hook.lock().unwrap();
            if h.as_ref().is_some_and(|(k, _)| key.ends_with(k.as_str())) {
                h.take()
            } else {
                None
            }
        };
        if let Some((_, hook)) = hook {
            hook();
        }
        if self.refuse_tokens.load(Ordering::SeqCst) && key.ends_with("/tokens") {
            return Err(thingstray::Error::KeychainUnavailable { detail: "refused by the test".into() });
        }
        self.inner.set(key, value)
    }
    fn delete(&self, key: &str) -> thingstray::Result<()> {
        self.inner.delete(key)
    }
    fn describe(&self) -> String {
        "test keychain".into()
    }
}

/// The two computers of a hand-over: the old owner A (signed in, its share listener on a
/// port of its own that it keeps across restarts, its keychain the test's) and the laptop
/// B, paired with it and offered the session.
pub(crate) struct World {
    pub env: Env,
    pub keychain: Arc<Keychain>,
    pub laptop: Laptop,
    /// A's share listener, `None` while A is down.
    pub server: Option<ShareServer>,
    pub port: u16,
    /// Where B says A will reach it once B owns the session.
    pub advertise: String,
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl World {
    pub(crate) async fn new() -> World {
        let keychain = Arc::new(Keychain::default());
        let env =
            Env::with_vault(SimConfig { expires_in: 600, ..SimConfig::default() }, Vault::new(keychain.clone())).await;
        env.signed_in().await;
        let mut w = World {
            env,
            keychain,
            laptop: Laptop::new(),
            server: None,
            port: free_port(),
            advertise: format!("127.0.0.1:{}", free_port()),
        };
        w.start_a().await;
        let invite = w.server.as_ref().unwrap().invite().unwrap();
        thingstray::connection::paired::connect(
            &w.laptop.paths,
            &w.laptop.vault,
            &invite,
            "home",
            "laptop",
            w.b_options(),
        )
        .await
        .expect("pairing works");
        Registry::open(&w.env.paths).offer_hand_over("laptop", thingstray::clock::Clock::now(&w.env.clock)).unwrap();
        w
    }

    /// A's options: the test's clock, and a refresh lock that a dead process's leftovers
    /// cannot hold for long.
    pub(crate) fn a_options(&self) -> Options {
        Options {
            session: SessionOptions { lock_timeout: Duration::from_secs(5), ..fast_session() },
            ..self.env.options()
        }
    }

    /// B's options: answers within a second on this machine, so a stalled A is given up on
    /// in seconds rather than minutes.
    pub(crate) fn b_options(&self) -> Options {
        Options { request_timeout: Duration::from_millis(500), ..self.laptop.options(&self.env) }
    }

    /// A's listener, from what A's disk holds (as after a restart), on A's port.
    pub(crate) async fn start_a(&mut self) {
        self.server = None;
        let config = Config::load(&self.env.paths).unwrap();
        let conn = match Connection::open_with(&self.env.paths, &config, self.env.vault.clone(), None, self.a_options())
            .await
        {
            Ok(conn) => conn,
            Err(e) => {
                eprintln!("A does not open: {e}");
                return;
            }
        };
        let identity = Identity::load_or_create(&self.env.vault).await.unwrap();
        for _ in 0..100 {
            let opts = ShareOptions {
                addr: format!("127.0.0.1:{}", self.port).parse().unwrap(),
                owner_name: "owner-pc".into(),
                limits: thingstray::serve::Limits::default(),
            };
            let registry = Arc::new(Registry::open(&self.env.paths));
            match ShareServer::start(
                ShareSource::One(conn.clone()),
                &identity,
                registry,
                Arc::new(self.env.clock.clone()),
                opts,
            )
            .await
            {
                Ok(server) => {
                    self.server = Some(server);
                    return;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        panic!("A's port stays taken");
    }

    pub(crate) async fn take_over(&self) -> thingstray::Result<Connection> {
        take_over(&self.laptop.paths, &self.laptop.vault, None, Some(&self.advertise), self.b_options()).await
    }

    /// After both computers came back: each opens the connection from its disk, the clock
    /// passes the token's expiry, and each that holds its own sign-in is asked for a token.
    pub(crate) async fn outcome(&self) -> Outcome {
        self.env.advance(Duration::from_secs(601));
        let mut out = Outcome::default();
        for (who, paths, vault, opts) in [
            ("A", &self.env.paths, &self.env.vault, self.a_options()),
            ("B", &self.laptop.paths, &self.laptop.vault, self.b_options()),
        ] {
            let config = Config::load(paths).unwrap();
            let conn = match Connection::open_with(paths, &config, vault.clone(), None, opts).await {
                Ok(conn) => conn,
                Err(e) => {
                    out.notes.push(format!("{who} does not open: {}", e.code()));
                    continue;
                }
            };
            if conn.owner().is_some() {
                let refresh =
                    vault.tokens("home").await.ok().flatten().is_some_and(|t| !t.refresh_token.secret().is_empty());
                out.paired.push((who, refresh));
                continue;
            }
            let before = self.env.sim.stats().token_requests;
            let got = conn.session.token_valid_for(MIN).await;
            if self.env.sim.stats().token_requests > before {
                out.refreshers += 1;
                if got.is_ok() {
                    out.owners.push(who);
                }
            }
            if let Err(e) = got {
                out.notes.push(format!("{who}: {}", e.code()));
            }
        }
        out
    }
}

/// Who refreshed once both computers were back: the owners whose refresh worked, and how
/// many tried (a second one means two computers held the refresh token).
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub owners: Vec<&'static str>,
    pub refreshers: usize,
    /// The computers paired once both are back, and whether a refresh token is left in
    /// their vault.
    pub paired: Vec<(&'static str, bool)>,
    pub notes: Vec<String>,
}

impl Outcome {
    pub(crate) fn zero_owners(&self) -> bool {
        self.owners.is_empty()
    }
    pub(crate) fn two_refreshers(&self) -> bool {
        self.refreshers >= 2
    }
    /// One owner, the other paired with no refresh token left: the hand-over is over.
    pub(crate) fn settled(&self) -> bool {
        self.owners.len() == 1 && self.paired.len() == 1 && !self.paired[0].1
    }
}

/// B's take-over, again until it is done or refused for good, as a user would run
/// `thingstray share take-over` again (it resumes).
pub(crate) async fn finish(w: &World) -> thingstray::Result<()> {
    let mut last = Ok(());
    for _ in 0..3 {
        last = w.take_over().await.map(|_| ());
        if last.is_ok() {
            break;
        }
    }
    last
}
