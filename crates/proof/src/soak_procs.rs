//! The soak's other processes: a loop that asks for a token the way a script runs
//! `thingstray token` (a fresh connection per ask: config, vault and session opened
//! anew), and the token server as `thingstray serve` runs it. Both use the shared
//! simulated clock (see clockfile.rs) and the shared config dir and file vault.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use thingstray::serve::{ServeOptions, ServerSecret, TokenServer};
use thingstray::session::SessionOptions;

use crate::gate::Gate;
use crate::tally::{Expiries, Tally};
use crate::world::Shared;

/// Session tuning for a clock running `accel` times faster than real time. Every time
/// in the session is simulated time except two, which tokio counts in real time: how
/// often the scheduler looks at the clock, and the HTTP timeout.
pub fn soak_session() -> SessionOptions {
    SessionOptions { wall_clock_check: Duration::from_millis(20), ..SessionOptions::default() }
}

pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(1);

/// The validity every ask demands: `thingstray token`'s default `--min-valid 5m`.
pub const MIN_VALID: Duration = Duration::from_secs(300);

/// Asks the simulator when a token expires (control endpoint, token in the body).
pub async fn expiry(http: &reqwest::Client, sim: &str, token: &str) -> Option<u64> {
    let resp = http.post(format!("{sim}/__sim/token-expiry")).json(&json!({"access_token": token})).send().await.ok()?;
    if !resp.status().is_success() {
        return None;
    }
    resp.json::<Value>().await.ok()?.get("expiresAtMs")?.as_u64()
}

pub async fn client(dir: PathBuf, sim: String, out: PathBuf, pace: Duration) {
    let shared = Shared::open(&dir).expect("the world opens");
    let http = reqwest::Client::new();
    let mut tally = Tally::default();
    let mut seen = Expiries::default();
    let stop = dir.join("stop");
    let gate = Gate::new(&dir);
    'asks: while !stop.exists() {
        let started = Instant::now();
        let (grant, at) = loop {
            let held = gate.enter_async().await;
            let result = match shared.connection(soak_session(), REQUEST_TIMEOUT).await {
                Ok(conn) => conn.session.token_valid_for(MIN_VALID).await,
                Err(e) => Err(e),
            };
            // The moment of handout, on the shared clock (never behind the simulator's).
            let at = shared.clock.now_ms();
            drop(held);
            match result {
                Ok(g) => break (g, at),
                Err(e) if e.needs_sign_in() => {
                    tally.lost += 1;
                    break 'asks;
                }
                Err(e) => {
                    tally.error(e.code());
                    if stop.exists() {
                        break 'asks;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        };
        let wait = started.elapsed().as_millis() as u64;
        let exp = match seen.known(grant.secret()) {
            Some(e) => e,
            None => {
                let e = expiry(&http, &sim, grant.secret()).await;
                seen.insert(grant.secret(), e);
                e
            }
        };
        tally.handout(exp, at, wait);
        tokio::time::sleep(pace).await;
    }
    tally.distinct_tokens = seen.len();
    std::fs::write(&out, serde_json::to_vec(&tally).unwrap()).expect("results written");
}

/// `thingstray serve` with the shared clock: background refresher plus token server on
/// 127.0.0.1, until SIGTERM.
pub async fn server(dir: &Path) {
    let shared = Shared::open(dir).expect("the world opens");
    let conn = shared.connection(soak_session(), REQUEST_TIMEOUT).await.expect("the connection opens");
    let secret = ServerSecret::load_or_create(conn.session.vault()).await.expect("the server secret");
    let refresher = conn.session.spawn_refresher();
    let opts = ServeOptions {
        addrs: vec![std::net::Ipv4Addr::LOCALHOST.into()],
        port: 0,
        api_url: conn.settings.api_url.clone(),
    };
    let server = TokenServer::start(conn.session.clone(), secret, opts).await.expect("the server starts");
    println!("listening on http://{}", server.addrs()[0]);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    term.recv().await;
    server.shutdown(Duration::from_secs(5)).await;
    refresher.abort();
}
