//! The fault-injection soak: months of simulated time through two connections (`home`
//! and `cabin`, one simulator each) shared by three OS processes on one file vault, over
//! real HTTP to the simulators, with 30% of token requests failing in every way the
//! simulator knows.
//!
//! Time: the driver moves the simulator's clock (and the shared clock file) forward every
//! few milliseconds, `accel` simulated seconds per real second. Tokens live 6 simulated
//! hours (the token server promises 5 minutes of validity, so a lifetime of a few
//! seconds would make every answer an error); at 5,400x that is 4 real seconds, so the
//! session rotates every 3 real seconds, and 90 days take 24 minutes.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use smartthings_sim::{Faults, SimConfig};
use thingstray::serve::ServerSecret;
use thingstray::session::RefreshLock;
use thingstray::Connection;

use crate::gate::Gate;
use crate::report::Section;
use crate::soak_procs::{soak_session, MIN_VALID, REQUEST_TIMEOUT};
use crate::tally::{Expiries, Tally};
use crate::world::{World, CABIN, CONNECTION};

pub struct Params {
    pub days: u64,
    /// Simulated seconds per real second.
    pub accel: u64,
    pub expires_in: u64,
}

pub(crate) const TICK: Duration = Duration::from_millis(10);
const DAY_MS: u64 = 86_400_000;
/// Once a simulated day the clock jumps this far at once: a laptop asleep overnight.
/// Longer than a token's life, so every process finds the token expired together.
const NIGHT_MS: u64 = 7 * 3_600_000;

/// 30% of token-endpoint requests fail: gateway errors, dropped connections, timeouts
/// (held past the client's 1 s timeout, then dropped unhandled) and 429s; another 10%
/// are answered slowly but within the timeout.
pub fn faults() -> Faults {
    Faults {
        route_prefix: "/oauth/token".into(),
        error_5xx: 0.12,
        drop_connection: 0.06,
        timeout: 0.05,
        timeout_ms: 1_500,
        rate_limit: 0.10,
        rate_limit_reset_ms: 1_000,
        delay_ms: 200,
        delay_share: 0.10,
        ..Faults::default()
    }
}

/// Kills what it holds however the soak ends; SIGTERM first so a server finishes cleanly.
struct Procs(Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = Command::new("kill").args(["-TERM", &c.id().to_string()]).stderr(Stdio::null()).status();
            let _ = c.wait();
        }
    }
}

fn spawn(dir: &Path, args: &[&str]) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(args)
        .arg("--dir")
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .env("THINGSTRAY_LOG", "off")
        .spawn()
        .expect("a soak process starts")
}

pub async fn run(p: Params) -> Section {
    let w = World::start_two(SimConfig { expires_in: p.expires_in, ..SimConfig::default() }).await;
    let vault = w.shared().vault;
    let secret = ServerSecret::load_or_create(&vault).await.expect("server secret");
    for (_, sim) in w.sims() {
        sim.set_faults(faults());
    }
    let sim_url = w.sim.base_url();
    let sims: Vec<String> = w.sims().iter().map(|(n, s)| format!("{n}={}", s.base_url())).collect();

    let mut procs = Procs(Vec::new());
    for i in 0..2 {
        let out = w.dir().join(format!("client-{i}.json"));
        procs.0.push(spawn(w.dir(), &["soak-client", "--sim", &sims.join(","), "--out", out.to_str().unwrap()]));
    }
    let mut server = spawn(w.dir(), &["soak-server"]);
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(server.stdout.take().unwrap()), &mut line).unwrap();
    procs.0.push(server);
    let addr = line.trim().strip_prefix("listening on http://").expect("the server's address").to_string();

    let total_ms = p.days * DAY_MS;
    let started = Instant::now();
    let gate = Gate::new(w.dir());
    let poller = tokio::spawn(poll(
        addr,
        secret.expose().to_string(),
        sim_url.clone(),
        w.dir().join("stop"),
        w.clock.clone(),
        gate.clone(),
    ));
    let mut last_day = 0;
    let mut nights = 0;
    // The clock: moved to where `accel` says it should be, every tick, plus a night's
    // sleep at once each simulated day.
    loop {
        let target = ((started.elapsed().as_secs_f64() * p.accel as f64) * 1000.0) as u64 + nights * NIGHT_MS;
        let target = target.min(total_ms);
        let now = w.clock.offset_ms();
        if target > now {
            w.jump(Duration::from_millis(target - now));
        }
        if target / DAY_MS > last_day && target < total_ms {
            nights += 1;
            night(&w, &gate).await;
            last_day = target / DAY_MS;
            eprintln!("soak: day {last_day}/{} after {:.0} s", p.days, started.elapsed().as_secs_f64());
        }
        if target >= total_ms || procs.0.iter_mut().any(|c| matches!(c.try_wait(), Ok(Some(_)))) {
            break;
        }
        tokio::time::sleep(TICK).await;
    }
    let wall = started.elapsed();
    std::fs::write(w.dir().join("stop"), b"").unwrap();
    let server_tally = poller.await.unwrap();
    // Per connection: what the loop clients saw.
    let mut clients: BTreeMap<String, Tally> = BTreeMap::new();
    for (i, c) in procs.0.iter_mut().take(2).enumerate() {
        let _ = c.wait();
        let raw = std::fs::read(w.dir().join(format!("client-{i}.json"))).unwrap_or_default();
        let lost = || [CONNECTION, CABIN].map(|n| (n.to_string(), Tally { lost: 1, ..Tally::default() })).into();
        let t: BTreeMap<String, Tally> = serde_json::from_slice(&raw).unwrap_or_else(|_| lost());
        for (name, t) in t {
            clients.entry(name).or_default().merge(&t);
        }
    }
    drop(procs);
    let mut survived = BTreeMap::new();
    for (name, sim) in w.sims() {
        sim.set_faults(Faults::default());
        survived.insert(name.to_string(), final_check(&w, name).await);
    }
    crate::soak_report::summarize(&w, &p, wall, &clients, &server_tally, &survived)
}

/// The overnight jump, with no ask and no refresh in progress (see gate.rs).
async fn night(w: &World, gate: &Gate) {
    let g = gate.clone();
    let closed = tokio::task::spawn_blocking(move || g.close()).await.expect("the gate");
    let mut held = Vec::new();
    for (name, _) in w.sims() {
        let refresh_lock = RefreshLock::new(w.paths.lock_file(name));
        held.push(refresh_lock.acquire(Duration::from_secs(60)).await.expect("the refresh lock"));
    }
    w.jump(Duration::from_millis(NIGHT_MS));
    drop(held);
    drop(closed);
}

/// Polls the token server the way a local program would, and checks each token.
async fn poll(
    addr: String,
    secret: String,
    sim: String,
    stop: std::path::PathBuf,
    clock: crate::clockfile::FileClock,
    gate: Gate,
) -> Tally {
    let http = reqwest::Client::new();
    let mut tally = Tally::default();
    let mut seen = Expiries::default();
    while !stop.exists() {
        let started = Instant::now();
        let (token, at) = loop {
            let held = gate.enter_async().await;
            let resp = http.get(format!("http://{addr}/v1/token")).bearer_auth(&secret).send().await;
            let at = clock.now_ms();
            drop(held);
            match resp {
                Ok(r) if r.status().is_success() => {
                    let v: Value = r.json().await.unwrap_or_default();
                    break (v["access_token"].as_str().map(str::to_string), at);
                }
                Ok(r) => {
                    let v: Value = r.json().await.unwrap_or_default();
                    let code = v
                        .pointer("/error/code")
                        .or_else(|| v.get("code"))
                        .and_then(Value::as_str)
                        .unwrap_or("http_error");
                    if code == "session_ended" || code == "not_signed_in" {
                        tally.lost += 1;
                        tally.distinct_tokens = seen.len();
                        return tally;
                    }
                    tally.error(code);
                }
                Err(_) => tally.error("server_unreachable"),
            }
            if stop.exists() {
                break (None, 0);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let Some(token) = token else { break };
        let wait = started.elapsed().as_millis() as u64;
        let exp = match seen.known(&token) {
            Some(e) => e,
            None => {
                let e = crate::soak_procs::expiry(&http, &sim, &token).await;
                seen.insert(&token, e);
                e
            }
        };
        tally.handout(exp, at, wait);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tally.distinct_tokens = seen.len();
    tally
}

/// After the soak: a fresh process-like connection still gets a token the simulator
/// accepts, with no faults in the way.
async fn final_check(w: &World, name: &str) -> bool {
    let shared = w.shared();
    let Ok(conn): thingstray::Result<Connection> = shared.connection_to(name, soak_session(), REQUEST_TIMEOUT).await
    else {
        return false;
    };
    let sim = w.sim_of(name);
    match conn.session.token_valid_for(MIN_VALID).await {
        Ok(g) => sim.access_token_expiry_ms(g.secret()).is_some_and(|exp| sim.now_ms() < exp),
        Err(_) => false,
    }
}
