//! The soak's other processes: a loop that asks for a token the way a script runs
//! `thingstray token` (a fresh connection per ask: config, vault and session opened
//! anew), and the token server as `thingstray serve` runs it. Both use the shared
//! simulated clock (see clockfile.rs) and the shared config dir and file vault, and both
//! work on both connections, `home` and `cabin`: the file vault holds both pairs in one
//! file, so every process rewrites the other connection's pair too (the lost update that
//! `secrets.json.lock` prevents).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use thingstray::serve::{ServeOptions, ServerSecret, TokenServer};
use thingstray::session::SessionOptions;

use crate::gate::Gate;
use crate::tally::{Expiries, Tally};
use crate::world::{Shared, CABIN, CONNECTION};

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
    let resp =
        http.post(format!("{sim}/__sim/token-expiry")).json(&json!({"access_token": token})).send().await.ok()?;
    if !resp.status().is_success() {
        return None;
    }
    resp.json::<Value>().await.ok()?.get("expiresAtMs")?.as_u64()
}

/// The loop client: asks alternate between the connections (`sims`: each connection's
/// simulator, for the expiry check), one tally per connection, written to `out` as JSON.
pub async fn client(dir: PathBuf, sims: Vec<(String, String)>, out: PathBuf, pace: Duration) {
    let shared = Shared::open(&dir).expect("the world opens");
    let http = reqwest::Client::new();
    let mut tallies: BTreeMap<String, Tally> = sims.iter().map(|(n, _)| (n.clone(), Tally::default())).collect();
    let mut seen: BTreeMap<String, Expiries> = sims.iter().map(|(n, _)| (n.clone(), Expiries::default())).collect();
    let stop = dir.join("stop");
    let gate = Gate::new(&dir);
    'asks: for ask in 0.. {
        if stop.exists() {
            break;
        }
        let (name, sim) = &sims[ask % sims.len()];
        let tally = tallies.get_mut(name).expect("a tally per connection");
        let started = Instant::now();
        let (grant, at) = loop {
            let held = gate.enter_async().await;
            let result = match shared.connection_to(name, soak_session(), REQUEST_TIMEOUT).await {
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
        let seen = seen.get_mut(name).expect("expiries per connection");
        let exp = match seen.known(grant.secret()) {
            Some(e) => e,
            None => {
                let e = expiry(&http, sim, grant.secret()).await;
                seen.insert(grant.secret(), e);
                e
            }
        };
        tally.handout(exp, at, wait);
        tally.distinct_tokens = seen.len();
        tokio::time::sleep(pace).await;
    }
    std::fs::write(&out, serde_json::to_vec(&tallies).unwrap()).expect("results written");
}

/// `thingstray serve` with the shared clock: background refresher plus token server on
/// 127.0.0.1 for `home`, until SIGTERM; and, as the tray app keeps every connection
/// fresh, a background refresher for `cabin` when the world has it.
pub async fn server(dir: &Path) {
    let shared = Shared::open(dir).expect("the world opens");
    let conn = shared.connection(soak_session(), REQUEST_TIMEOUT).await.expect("the connection opens");
    let secret = ServerSecret::load_or_create(conn.session.vault()).await.expect("the server secret");
    let refresher = conn.session.spawn_refresher();
    let cabin = match shared.config.connections.contains_key(CABIN) {
        true => Some(
            shared
                .connection_to(CABIN, soak_session(), REQUEST_TIMEOUT)
                .await
                .expect("cabin opens")
                .session
                .spawn_refresher(),
        ),
        false => None,
    };
    let opts = ServeOptions {
        addrs: vec![std::net::Ipv4Addr::LOCALHOST.into()],
        port: 0,
        api_url: conn.settings.api_url.clone(),
        events: None,
    };
    let server = TokenServer::start(conn.session.clone(), secret, opts).await.expect("the server starts");
    println!("listening on http://{}", server.addrs()[0]);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    term.recv().await;
    server.shutdown(Duration::from_secs(5)).await;
    refresher.abort();
    if let Some(r) = cabin {
        r.abort();
    }
}

/// `home=URL,cabin=URL` (the client's `--sims`), or a bare URL for `home` alone.
pub fn parse_sims(arg: &str) -> Vec<(String, String)> {
    arg.split(',')
        .map(|e| match e.split_once('=') {
            Some((name, url)) => (name.to_string(), url.to_string()),
            None => (CONNECTION.to_string(), e.to_string()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::parse_sims;

    #[test]
    fn sims_are_named_or_home_alone() {
        assert_eq!(parse_sims("http://a"), vec![("home".to_string(), "http://a".to_string())]);
        assert_eq!(
            parse_sims("home=http://a,cabin=http://b"),
            vec![("home".to_string(), "http://a".to_string()), ("cabin".to_string(), "http://b".to_string())]
        );
    }
}
