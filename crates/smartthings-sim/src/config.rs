//! What a simulator is started with: its configuration, the configured OAuth-In app, and
//! how that app appears among the account's apps.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use crate::schema::SchemaPartner;
use crate::{app_rules, app_store};

/// How to run a simulator.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Where to listen; default `127.0.0.1:0` (a free port).
    pub addr: SocketAddr,
    /// A home directory (see the crate README/`home/`); `None` = the embedded default home.
    pub home_dir: Option<PathBuf>,
    /// `/oauth/authorize` redirects at once (first location, or `location_id=`) instead
    /// of showing the sign-in page.
    pub auto_approve: bool,
    /// Access-token lifetime in seconds (default 86400).
    pub expires_in: u64,
    /// Refresh-token lifetime in seconds, counted from each token's issue (default 30 days).
    pub refresh_token_lifetime: u64,
    /// Authorization-code lifetime in seconds (default 300).
    pub code_lifetime: u64,
    /// The configured OAuth-In app: the account's first app (`appName` `thingstray-demo`),
    /// registered as given (the rules of `POST /apps` do not apply to it).
    pub client: SimClient,
    /// Extra simple switches/dimmers added to the first location (ids
    /// `e0000000-0000-4000-8000-<12 hex digits of n>`, n from 1).
    pub extra_devices: usize,
    /// Keep only the first N devices of the first location (after the extra ones are
    /// added): a home of an exact size, for request counts at N = 10.
    pub first_location_devices: Option<usize>,
    /// SmartThings keeps one sign-in per (OAuth client, location): a new one ends the
    /// older one's refresh token at its code exchange. On by default; off only for a test
    /// that needs the lenient world on purpose.
    pub one_sign_in_per_location: bool,
    /// The ST Schema partner connector whose callback tokens the simulator issues.
    pub schema_partner: SchemaPartner,
    /// How many apps the account may hold (the configured one included) before `POST
    /// /apps` answers 422 `LimitError`; SmartThings documents 100.
    pub max_apps: usize,
    /// How many SmartThings accounts sign in here (users.rs): user 0 is the configured
    /// home, users 1..N one location each, built on first sign-in (`sim_user=K` on the
    /// authorize URL, see [`Sim::user_authorize_url`]). Default 1; 1..=[`MAX_USERS`](crate::MAX_USERS).
    pub users: usize,
    /// Answer over HTTPS with a certificate made at start (tls.rs), so every URL the
    /// simulator gives out starts with `https://`, as SmartThings' do. Trust
    /// [`Sim::ca_pem`] / [`Sim::ca_file`] (or [`Sim::client_builder`]). Off by default.
    pub tls: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            home_dir: None,
            auto_approve: false,
            expires_in: 86_400,
            refresh_token_lifetime: 30 * 86_400,
            code_lifetime: 300,
            client: SimClient::default(),
            extra_devices: 0,
            first_location_devices: None,
            one_sign_in_per_location: true,
            schema_partner: SchemaPartner::default(),
            max_apps: 100,
            users: 1,
            tls: false,
        }
    }
}

/// The registered OAuth-In app (SmartThings CLI `apps:create` output).
#[derive(Clone)]
pub struct SimClient {
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
}

impl std::fmt::Debug for SimClient {
    /// The secret is never printed, so configs can be logged.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimClient")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("redirect_uris", &self.redirect_uris)
            .field("scopes", &self.scopes)
            .finish()
    }
}

impl Default for SimClient {
    fn default() -> Self {
        SimClient {
            client_id: "8f3b7a52-1c4e-4d2a-9b7e-3e5f0a9c6d14".into(),
            client_secret: "demo-secret-5a1f0c3e-7b2d-4e6a-8c9f-1d2e3f4a5b6c".into(),
            redirect_uris: [
                "https://thingstray.invalid/callback",
                "thingstray://oauth/callback",
                "https://httpbin.org/get",
                "http://127.0.0.1/callback",
                "http://localhost/callback",
            ]
            .map(String::from)
            .to_vec(),
            scopes: ["r:devices:*", "x:devices:*", "r:locations:*", "w:locations:*", "r:scenes:*", "x:scenes:*"]
                .map(String::from)
                .to_vec(),
        }
    }
}

/// One app of the simulated account, as a test sees it (never its client secret).
#[derive(Clone, Debug, PartialEq)]
pub struct SimApp {
    pub app_id: String,
    pub app_name: String,
    pub display_name: String,
    /// The current client id (a new one after `POST /apps/{id}/oauth/generate`).
    pub client_id: String,
    pub redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
}

impl From<&app_store::RegisteredApp> for SimApp {
    fn from(a: &app_store::RegisteredApp) -> SimApp {
        SimApp {
            app_id: a.app_id.clone(),
            app_name: a.app_name.clone(),
            display_name: a.display_name.clone(),
            client_id: a.client_id.clone(),
            redirect_uris: a.oauth.redirect_uris.clone(),
            scopes: a.oauth.scopes.clone(),
        }
    }
}

/// The configured client as the account's first app.
pub(crate) fn configured_app(client: &SimClient, app_id: String, now_ms: u64) -> app_store::RegisteredApp {
    app_store::RegisteredApp {
        app_id,
        app_name: "thingstray-demo".into(),
        display_name: "ThingsTray demo".into(),
        description: "The simulator's configured OAuth-In app (SimConfig::client)".into(),
        single_instance: true,
        classifications: vec!["CONNECTED_SERVICE".into()],
        principal_type: "LOCATION".into(),
        icon_url: None,
        target_url: None,
        oauth: app_rules::OAuthSettings {
            client_name: "ThingsTray demo".into(),
            scopes: client.scopes.clone(),
            redirect_uris: client.redirect_uris.clone(),
        },
        client_id: client.client_id.clone(),
        client_secret: client.client_secret.clone(),
        created_ms: now_ms,
        updated_ms: now_ms,
    }
}
