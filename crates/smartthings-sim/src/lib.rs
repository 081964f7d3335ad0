//! A strict simulator of the SmartThings cloud: OAuth2 (Spring Security OAuth2's rules,
//! refresh-token rotation) and the REST API the ThingsTray client uses, with faults on
//! demand and a clock tests can move. The account's apps (`/apps`, api_apps.rs) are real
//! OAuth-In clients from the moment they are made; personal access tokens
//! ([`Sim::mint_pat`], `POST /__sim/pat`) reach the app API and every location.
//!
//! It is deliberately as strict as SmartThings: it rejects what SmartThings rejects,
//! with the same status codes and bodies, because a lenient simulator hides exactly the
//! client bugs (JSON token bodies, secrets in the body, lost rotated tokens) the client
//! exists to avoid.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let sim = smartthings_sim::Sim::start(smartthings_sim::SimConfig::default()).await?;
//! println!("authorize at {}/authorize", sim.auth_url());
//! sim.shutdown().await;
//! # Ok(()) }
//! ```

#![allow(
    clippy::result_large_err,
    reason = "handlers return early with a ready axum Response as the error; it is built once per request, boxing buys nothing"
)]

mod api_apps;
mod api_auth;
mod api_capabilities;
mod api_devices;
mod api_installed;
mod api_modes;
mod api_places;
mod app_rules;
mod app_store;
mod authorize;
pub mod browser;
mod clock;
mod commands;
mod config;
mod conn;
mod control;
mod control_status;
mod errors;
mod faults;
mod home;
mod home_loader;
mod ids;
mod oauth_store;
mod pat;
mod router;
mod schema;
mod signin_page;
mod state;
mod stats;
mod tls;
mod token;
mod users;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use api_modes::SimMode;
pub use config::{SimApp, SimClient, SimConfig};
pub use control_status::StatusError;
pub use faults::Faults;
pub use schema::SchemaPartner;
pub use stats::{LoggedRequest, Stats, MAX_LOGGED_REQUESTS};
pub use users::{user_device_id, user_location_id, user_room_id, MAX_USERS};

use crate::config::configured_app;
use crate::conn::{ConnInfo, KillableListener};
use crate::state::{lock, AppState};

/// A running simulator. Dropping it (or [`Sim::shutdown`]) stops the server.
pub struct Sim {
    state: Arc<AppState>,
    shutdown_tx: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    /// With `SimConfig::tls`: the authority a client must trust, and where it is on disk.
    tls: Option<TlsFiles>,
}

struct TlsFiles {
    ca_pem: String,
    ca_file: PathBuf,
    /// Owns `ca_file`; removed when the simulator is dropped.
    _dir: tempfile::TempDir,
}

/// Serves until the shutdown signal; a server error is logged, not raised.
async fn run(server: impl std::future::IntoFuture<Output = std::io::Result<()>>) {
    if let Err(e) = server.await {
        tracing::error!("server stopped: {e}");
    }
}

impl Sim {
    /// Loads the home, binds `config.addr` and starts serving in the background.
    pub async fn start(config: SimConfig) -> std::io::Result<Sim> {
        if config.users == 0 || config.users > MAX_USERS {
            let msg = format!("users must be 1 to {MAX_USERS}, got {}", config.users);
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, msg));
        }
        let clock = clock::SimClock::default();
        let now = clock.now_ms();
        let mut warnings = Vec::new();
        let files = match &config.home_dir {
            Some(dir) => home_loader::read_dir(dir, &mut warnings)?,
            None => home_loader::embedded_files(),
        };
        let mut home = home_loader::build(&files, now, &mut warnings);
        home_loader::add_extra_devices(&mut home, config.extra_devices, now);
        if let Some(n) = config.first_location_devices {
            home_loader::keep_first_devices(&mut home, n);
        }
        for w in &warnings {
            tracing::warn!("home: {w}");
        }

        let listener = tokio::net::TcpListener::bind(config.addr).await?;
        let local = listener.local_addr()?;
        let ip = match local.ip() {
            IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        let host = match ip {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => format!("[{v6}]"),
        };
        let port = local.port();
        let identity = if config.tls { Some(tls::make(ip)?) } else { None };
        let tls_files = match &identity {
            Some(id) => {
                let dir = tempfile::Builder::new().prefix("smartthings-sim-tls-").tempdir()?;
                let ca_file = dir.path().join("ca.pem");
                std::fs::write(&ca_file, &id.ca_pem)?;
                Some(TlsFiles { ca_pem: id.ca_pem.clone(), ca_file, _dir: dir })
            }
            None => None,
        };
        let scheme = if config.tls { "https" } else { "http" };
        let app_id = ids::uuid();
        let mut apps = app_store::AppStore::new(config.max_apps);
        apps.seed(configured_app(&config.client, app_id.clone(), now));
        let state = Arc::new(AppState {
            clock,
            client: config.client.clone(),
            scheme,
            base_url: format!("{scheme}://{host}:{port}"),
            own_hosts: vec![format!("{host}:{port}"), format!("localhost:{port}")],
            auto_approve: config.auto_approve,
            expires_in: AtomicU64::new(config.expires_in),
            refresh_token_lifetime: config.refresh_token_lifetime,
            code_lifetime: config.code_lifetime,
            app_id,
            apps: Mutex::new(apps),
            pats: Mutex::new(pat::PatStore::default()),
            home: Mutex::new(home),
            oauth: Mutex::new(oauth_store::OAuthStore::new(config.one_sign_in_per_location)),
            faults: Mutex::default(),
            stats: Mutex::new(Stats::default()),
            requests: Mutex::new(Vec::new()),
            schema_partner: config.schema_partner.clone(),
            schema: Mutex::new(schema::SchemaStore::default()),
            users: users::Users::new(config.users, now),
        });

        let app = router::build(state.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let stop = async move {
            let _ = rx.await;
        };
        let service = app.into_make_service_with_connect_info::<ConnInfo>();
        let task = match identity {
            None => tokio::spawn(run(axum::serve(KillableListener(listener), service).with_graceful_shutdown(stop))),
            Some(id) => {
                let listener = tls::TlsListener::new(listener, id.server)?;
                tokio::spawn(run(axum::serve(listener, service).with_graceful_shutdown(stop)))
            }
        };
        tracing::info!("smartthings-sim listening on {}", state.base_url);
        Ok(Sim { state, shutdown_tx: Some(tx), task: Some(task), tls: tls_files })
    }

    /// `http://127.0.0.1:PORT`, or `https://…` with `SimConfig::tls` (no trailing slash).
    pub fn base_url(&self) -> String {
        self.state.base_url.clone()
    }

    /// `base_url + "/v1"`.
    pub fn api_url(&self) -> String {
        format!("{}/v1", self.state.base_url)
    }

    /// `base_url + "/oauth"`: authorize is `auth_url()/authorize`, token `auth_url()/token`.
    pub fn auth_url(&self) -> String {
        format!("{}/oauth", self.state.base_url)
    }

    /// The flags `thingstray setup` takes to point a connection at this simulator (the
    /// client secret goes on stdin or in `THINGSTRAY_CLIENT_SECRET`, never in argv).
    pub fn setup_args(&self) -> Vec<String> {
        let c = &self.state.client;
        [
            "--client-id",
            &c.client_id,
            "--redirect-uri",
            &c.redirect_uris[0],
            "--api-url",
            &self.api_url(),
            "--auth-url",
            &self.auth_url(),
        ]
        .map(String::from)
        .to_vec()
    }

    /// With `SimConfig::tls`: the PEM certificate of the authority that signed the
    /// simulator's certificate, the one root a client needs to trust. `None` over plain HTTP.
    pub fn ca_pem(&self) -> Option<&str> {
        self.tls.as_ref().map(|t| t.ca_pem.as_str())
    }

    /// With `SimConfig::tls`: [`Sim::ca_pem`] in a file (in a temporary directory the
    /// simulator owns and removes when dropped), for `THINGSTRAY_CA_FILE` and the like.
    pub fn ca_file(&self) -> Option<&Path> {
        self.tls.as_ref().map(|t| t.ca_file.as_path())
    }

    /// A reqwest client builder that reaches this simulator: with TLS it trusts the
    /// simulator's authority and nothing else; over plain HTTP it is reqwest's default.
    pub fn client_builder(&self) -> reqwest::ClientBuilder {
        let b = reqwest::Client::builder();
        match self.ca_pem() {
            Some(pem) => {
                let ca =
                    reqwest::Certificate::from_pem(pem.as_bytes()).expect("the simulator's own certificate parses");
                b.tls_built_in_root_certs(false).add_root_certificate(ca)
            }
            None => b,
        }
    }

    /// Whether SmartThings (the simulator) takes `token` for an API call, asked over HTTP
    /// as any client would.
    pub async fn accepts(&self, token: &str) -> bool {
        let r = self
            .client_builder()
            .build()
            .expect("an HTTP client")
            .get(format!("{}/locations", self.api_url()))
            .bearer_auth(token)
            .send()
            .await
            .expect("the simulator answers");
        r.status() == 200
    }

    /// The configured client as it was at start (see [`Sim::app`] for its current state).
    pub fn client(&self) -> &SimClient {
        &self.state.client
    }

    /// The `appId` of the configured client's app.
    pub fn client_app_id(&self) -> String {
        self.state.app_id.clone()
    }

    /// A personal access token with these scopes, living `lifetime` on the simulator's
    /// clock (SmartThings' PATs live 24 hours). Account-wide: every location.
    pub fn mint_pat(&self, scopes: &[&str], lifetime: Duration) -> String {
        let ms = u64::try_from(lifetime.as_millis()).unwrap_or(u64::MAX);
        pat::mint(&self.state, scopes.iter().map(|s| s.to_string()).collect(), ms)
    }

    /// Every app of the account, the configured one first.
    pub fn apps(&self) -> Vec<SimApp> {
        lock(&self.state.apps).all().iter().map(SimApp::from).collect()
    }

    /// One app by `appId` or `appName`.
    pub fn app(&self, id: &str) -> Option<SimApp> {
        lock(&self.state.apps).find(id).map(SimApp::from)
    }

    /// The ST Schema partner connector (schema.rs).
    pub fn schema_partner(&self) -> &SchemaPartner {
        &self.state.schema_partner
    }

    /// The `grantCallbackAccess` SmartThings would send the connector now (a fresh code).
    pub fn schema_grant(&self) -> serde_json::Value {
        schema::grant(&self.state)
    }

    /// Whether `token` is a live ST Schema callback access token.
    pub fn schema_accepts(&self, token: &str) -> bool {
        lock(&self.state.schema).access_valid(token, self.state.clock.now_ms())
    }

    /// Every device state received through `stateCallback`, in order.
    pub fn schema_events(&self) -> Vec<serde_json::Value> {
        lock(&self.state.schema).events.clone()
    }

    /// Moves the simulator's clock forward (expiry of codes and tokens follows it).
    pub fn advance_clock(&self, by: Duration) {
        self.state.clock.advance(by);
    }

    /// Lifetime of access tokens issued from now on.
    pub fn set_expires_in(&self, secs: u64) {
        self.state.expires_in.store(secs, Ordering::SeqCst);
    }

    /// Replaces the fault configuration (`Faults::default()` clears it).
    pub fn set_faults(&self, faults: Faults) {
        lock(&self.state.faults).set(faults);
    }

    pub fn stats(&self) -> Stats {
        lock(&self.state.stats).clone()
    }

    /// Every request that reached the simulator so far (the first
    /// [`MAX_LOGGED_REQUESTS`] of them), in order, with its
    /// `Authorization` headers: `assert!(sim.requests().iter().all(|r| !r.authorization.iter().any(|a| a.contains(secret))))`.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.state.requests).clone()
    }

    /// When an access token the simulator issued expires, in Unix ms on the simulator's
    /// clock (`None`: never issued here).
    /// When an access token this simulator issued expires: an OAuth-In one or an ST
    /// Schema callback token.
    pub fn access_token_expiry_ms(&self, token: &str) -> Option<u64> {
        let oauth = lock(&self.state.oauth).access_expiry_ms(token);
        oauth.or_else(|| lock(&self.state.schema).access_expiry_ms(token))
    }

    /// The simulator's clock, Unix ms.
    pub fn now_ms(&self) -> u64 {
        self.state.clock.now_ms()
    }

    /// Every live refresh token dies (next use: 400 `invalid_grant`).
    pub fn revoke_refresh_tokens(&self) {
        lock(&self.state.oauth).revoke_refresh_tokens();
    }

    /// The `value` of one attribute of a device's status (any location), if present.
    pub fn device_attribute(
        &self,
        device_id: &str,
        component: &str,
        capability: &str,
        attribute: &str,
    ) -> Option<serde_json::Value> {
        lock(&self.state.home).device(device_id)?.attribute(component, capability, attribute)
    }

    /// Marks a device ONLINE or OFFLINE (offline devices accept commands without effect).
    pub fn set_device_health(&self, device_id: &str, online: bool) {
        control::set_device_health(&self.state, device_id, online);
    }

    /// Stops accepting connections, lets open ones finish (at most 5 s), and returns.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown_tx.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task).await.is_err() {
                abort.abort();
            }
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown_tx.take() {
            let _ = tx.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    /// Client tests share one `Sim` across tasks.
    #[test]
    fn sim_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<super::Sim>();
        check::<super::SimConfig>();
    }
}
