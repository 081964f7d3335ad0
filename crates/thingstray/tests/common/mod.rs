//! Shared set-up for the integration tests: a simulator on 127.0.0.1, an isolated config
//! directory, a clock the test moves in step with the simulator's.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use smartthings_sim::{Sim, SimConfig};
use thingstray::clock::ManualClock;
use thingstray::config::{Config, ConnectionSettings, Paths};
use thingstray::connection::Options;
use thingstray::oauth::SignIn;
use thingstray::session::SessionOptions;
use thingstray::vault::Vault;
use thingstray::Connection;

pub struct Env {
    pub sim: Sim,
    pub dir: tempfile::TempDir,
    pub paths: Paths,
    pub clock: ManualClock,
    pub vault: Vault,
}

pub fn settings_for(sim: &Sim) -> ConnectionSettings {
    let mut s = ConnectionSettings::new(sim.client().client_id.clone(), sim.client().redirect_uris[0].clone());
    s.api_url = sim.api_url();
    s.auth_url = sim.auth_url();
    s
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
        Env { sim, dir, paths, clock: ManualClock::new(), vault }
    }

    /// Both clocks jump together, the way a sleeping laptop sees the world move on.
    pub fn advance(&self, by: Duration) {
        self.sim.advance_clock(by);
        self.clock.advance(by);
    }

    pub fn options(&self) -> Options {
        Options { clock: Arc::new(self.clock.clone()), session: fast_session(), request_timeout: Duration::from_secs(5) }
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
        let sign_in = conn.begin_sign_in();
        let answer = approve(&sign_in, None).await;
        conn.finish_sign_in(&self.paths, &sign_in, &answer).await.expect("sign-in completes");
        conn
    }
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// Walks the simulator's sign-in page like a person: open it, pick a location, press a
/// button; returns where the browser was sent (the redirect URI with code and state).
pub async fn approve(sign_in: &SignIn, decision: Option<&str>) -> String {
    let http = no_redirects();
    let url = sign_in.authorize_url().clone();
    let page = http.get(url.clone()).send().await.unwrap();
    assert_eq!(page.status(), 200, "the sign-in page is shown");
    let html = page.text().await.unwrap();
    let request_id = attr_after(&html, "name=\"request_id\"", "value=\"").expect("the form has a request id");
    let location = attr_after(&html, "<option", "value=\"").expect("the page offers a location");
    let decision_url = url.join("/oauth/authorize/decision").unwrap();
    let form = [("request_id", request_id.as_str()), ("location_id", location.as_str()), ("decision", decision.unwrap_or("authorize"))];
    let resp = http.post(decision_url).form(&form).send().await.unwrap();
    assert_eq!(resp.status(), 302, "the decision redirects");
    resp.headers()["location"].to_str().unwrap().to_string()
}

fn attr_after(html: &str, anchor: &str, attr: &str) -> Option<String> {
    let at = html.find(anchor)?;
    let rest = &html[at..];
    let v = rest.find(attr)? + attr.len();
    let end = rest[v..].find('"')?;
    Some(rest[v..v + end].replace("&amp;", "&"))
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
