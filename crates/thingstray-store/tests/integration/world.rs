//! A database, a simulator, a key and one clock, and replicas made from them.

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use smartthings_sim::{Sim, SimConfig};
use thingstray::clock::{Clock, ManualClock};
use thingstray::config::ConnectionSettings;
use thingstray::schema::CallbackHosts;
use thingstray::session::SessionOptions;
use thingstray_store::service::{configure_app, configure_connector, SignedIn};
use thingstray_store::{Service, Skew, Store, StoreKey};
use thingstray_testkit::postgres::Cluster;

pub struct World {
    pub pg: Arc<Cluster>,
    /// What the replicas open: `pg`'s URL, or one naming more servers (see `World::on`).
    store_url: String,
    pub sim: Sim,
    pub key: SecretString,
    /// The replicas' and the simulator's common time (moved together by `advance`).
    pub clock: ManualClock,
}

pub fn fast_session() -> SessionOptions {
    SessionOptions {
        retry_min: Duration::from_millis(5),
        retry_max: Duration::from_millis(50),
        wall_clock_check: Duration::from_millis(200),
        ..SessionOptions::default()
    }
}

pub fn settings_for(sim: &Sim) -> ConnectionSettings {
    let c = sim.client();
    ConnectionSettings::at(&c.client_id, &c.redirect_uris[0], sim.api_url(), sim.auth_url())
}

impl World {
    /// A cluster and a simulator; the app and the connector configured in the store.
    pub async fn new(config: SimConfig) -> World {
        let pg = tokio::task::spawn_blocking(Cluster::start)
            .await
            .unwrap()
            .expect("PostgreSQL starts (scripts/setup installs it)");
        let url = pg.url();
        World::on(config, pg, url).await
    }

    /// [`World::new`] on a cluster the test started, the replicas opening `url` (a
    /// multi-host URL naming `pg` and its standby, for a failover). `pg` is what
    /// `rotations` and `pg()` ask.
    pub async fn on(config: SimConfig, pg: Cluster, url: String) -> World {
        let sim = Sim::start(config).await.expect("simulator starts");
        let w = World { pg: Arc::new(pg), store_url: url, sim, key: StoreKey::generate(), clock: ManualClock::new() };
        let store = w.store().await;
        configure_app(&store, &settings_for(&w.sim), &SecretString::from(w.sim.client().client_secret.clone()))
            .await
            .unwrap();
        configure_connector(
            &store,
            &w.sim.schema_partner().client_id,
            &SecretString::from(w.sim.schema_partner().client_secret.clone()),
        )
        .await
        .unwrap();
        w
    }

    pub fn url(&self) -> SecretString {
        SecretString::from(self.store_url.clone())
    }

    pub async fn store(&self) -> Store {
        self.store_on(Arc::new(self.clock.clone()), Skew::Trust).await
    }

    pub async fn store_on(&self, clock: Arc<dyn Clock>, skew: Skew) -> Store {
        Store::open_with_clock(&self.url(), StoreKey::from_base64(&self.key).unwrap(), clock, skew)
            .await
            .expect("the store opens")
    }

    /// A replica: its own pool and session cache, the world's clock.
    pub async fn replica(&self) -> Service {
        self.service(self.store().await).await
    }

    pub async fn service(&self, store: Store) -> Service {
        let http = thingstray::http::client(Duration::from_secs(5)).unwrap();
        Service::start(store, http, fast_session(), CallbackHosts::AlsoLoopback).await.expect("the service starts")
    }

    /// Both clocks jump together.
    pub fn advance(&self, by: Duration) {
        self.sim.advance_clock(by);
        self.clock.advance(by);
    }

    /// A user signs in: `start` begins it, the browser approves at SmartThings (the
    /// location picked on the sign-in page), `finish` gets the redirect.
    pub async fn sign_in_across(&self, start: &Service, finish: &Service, name: Option<&str>) -> SignedIn {
        let started = start.start_sign_in(name).await.expect("a sign-in starts");
        let redirect = smartthings_sim::browser::decide(&started.authorize_url, "authorize").await;
        let query = redirect.split_once('?').map(|(_, q)| q).expect("the redirect has a query");
        finish.finish_sign_in(&format!("?{query}")).await.expect("the sign-in finishes")
    }

    pub async fn sign_in(&self, svc: &Service) -> SignedIn {
        self.sign_in_across(svc, svc, None).await
    }

    pub fn refreshes(&self) -> u64 {
        self.sim.stats().token_grants.get("refresh_token").copied().unwrap_or(0)
    }

    pub fn schema_refreshes(&self) -> u64 {
        self.sim.stats().schema_token_grants.get("refreshAccessTokens").copied().unwrap_or(0)
    }

    /// A row's plain columns, straight from the database.
    pub async fn row(&self, store: &Store, id: &str) -> Option<thingstray_store::rows::SessionRow> {
        store.session_row(id).await.unwrap().map(|(r, _)| r)
    }

    pub async fn rotations(&self, id: &str) -> i64 {
        let out = {
            let pg = self.pg.clone();
            let id = id.to_string();
            tokio::task::spawn_blocking(move || {
                pg.psql(&format!("SELECT rotations FROM thingstray_sessions WHERE id = '{id}'"))
            })
            .await
            .unwrap()
            .unwrap()
        };
        out.trim().parse().unwrap_or(-1)
    }

    pub async fn pg<T: Send + 'static>(&self, f: impl FnOnce(&Cluster) -> T + Send + 'static) -> T {
        let pg = self.pg.clone();
        tokio::task::spawn_blocking(move || f(&pg)).await.unwrap()
    }
}

/// Waits for `cond`, checking every 20 ms, for at most `within` (a deadline for a
/// background task's work, not a sleep standing in for synchronization).
pub async fn until<F, Fut>(within: Duration, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if cond().await {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
