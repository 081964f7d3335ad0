//! The world of the store's proof: a private PostgreSQL, the simulator with many users,
//! one moved clock, and replicas that live and die like processes: each runs on its own
//! tokio runtime (its pool, its scheduler, its HTTP API on a loopback port), and killing
//! one shuts that runtime down at once, dropping every task and connection mid-flight, as
//! a SIGKILL would (PostgreSQL sees the connections close and ends their transactions).

use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::SecretString;
use serde_json::Value;
use smartthings_sim::{Sim, SimConfig};
use thingstray::clock::ManualClock;
use thingstray::config::ConnectionSettings;
use thingstray::schema::CallbackHosts;
use thingstray::session::SessionOptions;
use thingstray_store::service::{configure_app, configure_connector};
use thingstray_store::{SchedulerOptions, Service, Skew, Store, StoreKey};
use thingstray_testkit::postgres::Cluster;

pub struct StoreWorld {
    pub pg: Arc<Cluster>,
    pub sim: Sim,
    pub key: SecretString,
    pub clock: ManualClock,
    pub http: reqwest::Client,
    /// The service secret every replica serves.
    pub secret: String,
}

pub struct Replica {
    pub name: String,
    pub url: String,
    rt: Option<tokio::runtime::Runtime>,
}

impl Replica {
    /// SIGKILL, in-process: every task of the replica is dropped where it stands.
    pub fn kill(mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl StoreWorld {
    pub async fn start(users: usize, expires_in: u64) -> StoreWorld {
        let pg = tokio::task::spawn_blocking(Cluster::start)
            .await
            .unwrap()
            .expect("PostgreSQL starts (scripts/setup installs it)");
        let sim = Sim::start(SimConfig { users: users.max(1), auto_approve: true, expires_in, ..SimConfig::default() })
            .await
            .expect("the simulator starts");
        let key = StoreKey::generate();
        let clock = ManualClock::new();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(64)
            .build()
            .unwrap();
        let url = SecretString::from(pg.url());
        let store =
            Store::open_with_clock(&url, StoreKey::from_base64(&key).unwrap(), Arc::new(clock.clone()), Skew::Trust)
                .await
                .expect("the store opens");
        let c = sim.client();
        let settings = ConnectionSettings::at(&c.client_id, &c.redirect_uris[0], sim.api_url(), sim.auth_url());
        configure_app(&store, &settings, &SecretString::from(c.client_secret.clone())).await.unwrap();
        let p = sim.schema_partner();
        configure_connector(&store, &p.client_id, &SecretString::from(p.client_secret.clone())).await.unwrap();
        let svc = Service::start(
            store,
            thingstray::http::client(Duration::from_secs(5)).unwrap(),
            SessionOptions::default(),
            CallbackHosts::AlsoLoopback,
        )
        .await
        .unwrap();
        let secret = svc.secret().expose().to_string();
        StoreWorld { pg: Arc::new(pg), sim, key, clock, http, secret }
    }

    /// A replica on its own runtime: store, service, scheduler, API.
    pub async fn replica(&self, name: &str) -> Replica {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let (url, key, clock, name_) =
            (SecretString::from(self.pg.url()), self.key.clone(), self.clock.clone(), name.to_string());
        rt.spawn(async move {
            let store =
                Store::open_with_clock(&url, StoreKey::from_base64(&key).unwrap(), Arc::new(clock), Skew::Trust)
                    .await
                    .expect("the store opens");
            let http = thingstray::http::client(Duration::from_secs(10)).unwrap();
            let session = SessionOptions {
                retry_min: Duration::from_millis(50),
                retry_max: Duration::from_secs(1),
                ..SessionOptions::default()
            };
            let svc =
                Service::start(store, http, session, CallbackHosts::AlsoLoopback).await.expect("the service starts");
            let opts = SchedulerOptions {
                concurrency: 16,
                rate: 2_000.0,
                idle_check: Duration::from_millis(100),
                replica: name_,
                ..SchedulerOptions::default()
            };
            tokio::spawn(thingstray_store::scheduler::run(svc.clone(), opts));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let _ = tx.send(format!("http://{}", listener.local_addr().unwrap()));
            let _ = axum::serve(listener, thingstray_store::api::router(svc)).await;
        });
        let url = rx.await.expect("the replica starts");
        Replica { name: name.to_string(), url, rt: Some(rt) }
    }

    pub fn advance(&self, by: Duration) {
        self.sim.advance_clock(by);
        self.clock.advance(by);
    }

    /// A store handle for the proof's own queries.
    pub async fn store(&self) -> Store {
        Store::open_with_clock(
            &SecretString::from(self.pg.url()),
            StoreKey::from_base64(&self.key).unwrap(),
            Arc::new(self.clock.clone()),
            Skew::Trust,
        )
        .await
        .expect("the store opens")
    }

    pub async fn sql(&self, query: &str) -> String {
        let (pg, q) = (self.pg.clone(), query.to_string());
        tokio::task::spawn_blocking(move || pg.psql(&q)).await.unwrap().unwrap_or_default().trim().to_string()
    }

    /// User `k` signs in: started at one replica, finished at another.
    pub async fn sign_in(&self, k: usize, start: &str, finish: &str) -> Result<String, String> {
        let started: Value = self
            .http
            .get(format!("{start}/v1/sign-in"))
            .bearer_auth(&self.secret)
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        let url = format!("{}&sim_user={k}", started["authorize_url"].as_str().ok_or("no authorize_url")?);
        let redirect = self.http.get(&url).send().await.map_err(|e| e.to_string())?;
        let location =
            redirect.headers().get("location").and_then(|v| v.to_str().ok()).ok_or("no redirect")?.to_string();
        let query = location.split_once('?').ok_or("no query")?.1.to_string();
        let page =
            self.http.get(format!("{finish}/v1/oauth/callback?{query}")).send().await.map_err(|e| e.to_string())?;
        if !page.status().is_success() {
            return Err(format!("callback {}", page.status()));
        }
        Ok(query)
    }

    pub async fn grant(&self, id: &str, at: &str) -> Result<(), String> {
        let r = self
            .http
            .post(format!("{at}/v1/schema/grant?connection={id}"))
            .bearer_auth(&self.secret)
            .body(self.sim.schema_grant().to_string())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if r.status().is_success() {
            Ok(())
        } else {
            Err(format!("grant {}", r.status()))
        }
    }

    /// One hand-out: the token and how long it took, or why not.
    pub async fn token(&self, at: &str, id: &str) -> Result<(String, Duration), String> {
        let t0 = Instant::now();
        let r = self
            .http
            .get(format!("{at}/v1/connections/{id}/token?min_valid=300"))
            .bearer_auth(&self.secret)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = r.status();
        let body: Value = r.json().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(body["error"]["code"].as_str().unwrap_or("?").to_string());
        }
        Ok((body["access_token"].as_str().unwrap_or_default().to_string(), t0.elapsed()))
    }

    /// Does SmartThings (the simulator) take this token right now?
    pub fn live(&self, id: &str, token: &str) -> bool {
        if id.starts_with("schema-") {
            self.sim.schema_accepts(token)
        } else {
            self.sim.access_token_expiry_ms(token).is_some_and(|exp| exp > self.sim.now_ms())
        }
    }

    /// SmartThings' rotations so far: refresh grants of both token endpoints.
    pub fn rotations_at_smartthings(&self) -> u64 {
        let s = self.sim.stats();
        s.token_grants.get("refresh_token").copied().unwrap_or(0)
            + s.schema_token_grants.get("refreshAccessTokens").copied().unwrap_or(0)
    }

    /// Token-endpoint requests the simulator answered with an injected fault (both
    /// endpoints; faults on other routes are not token calls).
    pub fn token_faults(&self) -> u64 {
        let s = self.sim.stats();
        ["POST /oauth/token", "POST /schema/oauth/token"]
            .iter()
            .map(|r| s.faults_by_route.get(*r).copied().unwrap_or(0))
            .sum()
    }

    /// Token-endpoint requests, their injected faults and SmartThings' rotations, from one
    /// snapshot of the simulator's counters taken when two snapshots 100 ms apart agree
    /// (no token call in flight), or after `within` whatever they say.
    pub async fn quiet_token_counts(&self, within: Duration) -> (u64, u64, u64) {
        let deadline = Instant::now() + within;
        let mut last = None;
        loop {
            let now = (self.token_requests(), self.token_faults(), self.rotations_at_smartthings());
            if last == Some(now) || Instant::now() > deadline {
                return now;
            }
            last = Some(now);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn token_requests(&self) -> u64 {
        let s = self.sim.stats();
        s.token_requests + s.schema_token_requests
    }

    /// Waits until no active session is due at the store's time, for at most `within`
    /// (false when that did not happen). A session backing off after a failed refresh
    /// (claimed until later, failures counted) is not waited for; one claimed and not
    /// failed is being refreshed right now, so it counts as due.
    ///
    /// Simulated time passes while it waits, a second per 20 ms poll and at most `passes`
    /// in all, as it would on a real server: a replica's pause after a 429 or a session's
    /// 10 s backoff ends within the hour. With the clock frozen until the next hour, every
    /// 429 (1.5 % of token requests) stopped that replica's refreshes for the rest of the
    /// hour, and from 2,000 sessions up every hour of the run waited out its 30 s.
    /// Returns whether it drained and how much simulated time passed.
    pub async fn drained(&self, store: &Store, within: Duration, passes: Duration) -> (bool, Duration) {
        let deadline = Instant::now() + within;
        let mut passed = Duration::ZERO;
        loop {
            // The database may be restarting: an error is "not yet".
            if let Ok(0) = store.backlog(store.now()).await {
                return (true, passed);
            }
            if Instant::now() > deadline {
                return (false, passed);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            if passed < passes {
                self.advance(Duration::from_secs(1));
                passed += Duration::from_secs(1);
            }
        }
    }
}

pub fn quantiles(mut v: Vec<Duration>) -> (f64, f64) {
    if v.is_empty() {
        return (0.0, 0.0);
    }
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (ms(v[v.len() / 2]), ms(v[(v.len() * 99 / 100).min(v.len() - 1)]))
}

/// This process's resident memory, MiB.
pub fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}
