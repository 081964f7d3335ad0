//! The fault-injection soak: months of simulated time through one session shared by
//! three OS processes, over real HTTP to the simulator, with 30% of token requests
//! failing in every way the simulator knows.
//!
//! Time: the driver moves the simulator's clock (and the shared clock file) forward every
//! few milliseconds, `accel` simulated seconds per real second. Tokens live 6 simulated
//! hours (the token server promises 5 minutes of validity, so a lifetime of a few
//! seconds would make every answer an error); at 5,400x that is 4 real seconds, so the
//! session rotates every 3 real seconds, and 90 days take 24 minutes.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use smartthings_sim::{Faults, SimConfig};
use thingstray::serve::ServerSecret;
use thingstray::session::RefreshLock;
use thingstray::Connection;

use crate::gate::Gate;
use crate::report::{thousands, Section};
use crate::soak_procs::{soak_session, MIN_VALID, REQUEST_TIMEOUT};
use crate::tally::{Expiries, Tally};
use crate::world::{World, CONNECTION};

pub struct Params {
    pub days: u64,
    /// Simulated seconds per real second.
    pub accel: u64,
    pub expires_in: u64,
}

const TICK: Duration = Duration::from_millis(10);
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
    let w = World::start(SimConfig { expires_in: p.expires_in, ..SimConfig::default() }).await;
    let vault = w.shared().vault;
    let secret = ServerSecret::load_or_create(&vault).await.expect("server secret");
    w.sim.set_faults(faults());
    let sim_url = w.sim.base_url();

    let mut procs = Procs(Vec::new());
    for i in 0..2 {
        let out = w.dir().join(format!("client-{i}.json"));
        procs.0.push(spawn(w.dir(), &["soak-client", "--sim", &sim_url, "--out", out.to_str().unwrap()]));
    }
    let mut server = spawn(w.dir(), &["soak-server"]);
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(server.stdout.take().unwrap()), &mut line).unwrap();
    procs.0.push(server);
    let addr = line.trim().strip_prefix("listening on http://").expect("the server's address").to_string();

    let total_ms = p.days * DAY_MS;
    let started = Instant::now();
    let gate = Gate::new(w.dir());
    let poller = tokio::spawn(poll(addr, secret.expose().to_string(), sim_url.clone(), w.dir().join("stop"), w.clock.clone(), gate.clone()));
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
    let mut clients = Tally::default();
    for (i, c) in procs.0.iter_mut().take(2).enumerate() {
        let _ = c.wait();
        let raw = std::fs::read(w.dir().join(format!("client-{i}.json"))).unwrap_or_default();
        let t: Tally = serde_json::from_slice(&raw).unwrap_or_else(|_| Tally { lost: 1, ..Tally::default() });
        clients.merge(&t);
    }
    drop(procs);
    w.sim.set_faults(Faults::default());
    let survived = final_check(&w).await;
    summarize(&w, &p, wall, &clients, &server_tally, survived)
}

/// The overnight jump, with no ask and no refresh in progress (see gate.rs).
async fn night(w: &World, gate: &Gate) {
    let g = gate.clone();
    let closed = tokio::task::spawn_blocking(move || g.close()).await.expect("the gate");
    let refresh_lock = RefreshLock::new(w.paths.lock_file(CONNECTION));
    let held = refresh_lock.acquire(Duration::from_secs(60)).await.expect("the refresh lock");
    w.jump(Duration::from_millis(NIGHT_MS));
    drop(held);
    drop(closed);
}

/// Polls the token server the way a local program would, and checks each token.
async fn poll(addr: String, secret: String, sim: String, stop: std::path::PathBuf, clock: crate::clockfile::FileClock, gate: Gate) -> Tally {
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
                    let code = v.pointer("/error/code").or_else(|| v.get("code")).and_then(Value::as_str).unwrap_or("http_error");
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
async fn final_check(w: &World) -> bool {
    let shared = w.shared();
    let Ok(conn): thingstray::Result<Connection> = shared.connection(soak_session(), REQUEST_TIMEOUT).await else {
        return false;
    };
    match conn.session.token_valid_for(MIN_VALID).await {
        Ok(g) => w.valid_at(g.secret(), w.sim.now_ms()),
        Err(_) => false,
    }
}

fn summarize(w: &World, p: &Params, wall: Duration, clients: &Tally, server: &Tally, survived: bool) -> Section {
    let stats = w.sim.stats();
    let rotations = stats.token_grants.get("refresh_token").copied().unwrap_or(0);
    let codes = stats.token_grants.get("authorization_code").copied().unwrap_or(0);
    let faulted = stats.faults_injected;
    let answered = stats.token_requests - faulted - codes;
    let mut all = clients.clone();
    all.merge(server);
    let days = w.clock.offset_ms() as f64 / DAY_MS as f64;
    let lost = all.lost + u64::from(!survived);

    let mut s = Section::new(&format!("Soak: {} simulated days, 30% faults, three processes", p.days));
    s.intro(format!(
        "One session shared by three OS processes over real HTTP on 127.0.0.1: two loops that each ask for a token \
         the way `thingstray token` does (a fresh connection per ask: config, file vault and session opened anew) and \
         one token server (the core's `TokenServer` with its background refresher, as `thingstray serve` runs it) that \
         this driver polls. One config dir, one file vault (`vault = \"file\"`), one refresh lock. The simulator's clock \
         runs {}x real time (1 real second = {:.1} simulated hours), moved every {} ms; each process reads the same \
         clock from a shared file (the CLI binary only knows the system clock). Access tokens live {} simulated hours \
         ({:.1} real seconds); refresh tokens die after 30 simulated days, enforced by the simulator. Every ask demands \
         5 minutes of validity (`--min-valid 5m`). Once per simulated day the clock jumps 7 hours at once (a \
         laptop asleep overnight), so all three processes find the token expired together and race to refresh it; \
         that jump waits until no ask and no refresh is in progress (gate.rs), so it never falls between the \
         session's validity check and the caller noting the time of handout. Each token handed out is checked against the simulator's own expiry \
         for it at the moment of handout. (Why 6-hour tokens and not a few seconds: the token server promises 5 \
         minutes of validity on every answer, so shorter tokens would make it answer nothing but errors; the \
         acceleration gives the same pace, a rotation every 3 real seconds.)",
        p.accel,
        p.accel as f64 / 3600.0,
        TICK.as_millis(),
        p.expires_in / 3600,
        p.expires_in as f64 / p.accel as f64
    ));
    s.intro(format!(
        "Faults on `/oauth/token`: 12% 500/502/504 with gateway bodies, 6% dropped connections, 5% timeouts (held \
         1.5 s, past the clients' 1 s timeout, then dropped unhandled), 10% 429 with `x-ratelimit-*` headers, and 10% \
         of answers delayed 200 ms. Measured: {} of {} token requests faulted ({:.1}%).",
        thousands(faulted),
        thousands(stats.token_requests),
        100.0 * faulted as f64 / stats.token_requests.max(1) as f64
    ));
    s.info("Simulated time", format!("{days:.1} days in {:.1} min wall", wall.as_secs_f64() / 60.0));
    s.check("Sessions lost", lost.to_string(), "0", lost == 0);
    s.check(
        "Expired tokens handed out",
        format!("{} of {} handouts", all.expired, thousands(all.handouts)),
        "0",
        all.expired == 0 && all.handouts > 0,
    );
    s.check("Tokens handed out that the simulator never issued", all.unknown.to_string(), "0", all.unknown == 0);
    s.info(
        "Least validity left at a handout (simulated)",
        all.min_left_ms.map_or("none".into(), |ms| format!("{:.1} min", ms as f64 / 60_000.0)),
    );
    s.check(
        "Token-endpoint calls per rotation (answered, not faulted)",
        format!("{} / {} = {:.3}", thousands(answered), thousands(rotations), answered as f64 / rotations.max(1) as f64),
        "exactly 1",
        answered == rotations && rotations > 0,
    );
    s.info("Faulted token-endpoint attempts (retried)", thousands(faulted));
    s.check(
        "Rotations vs simulated days",
        format!("{} rotations in {days:.1} days", thousands(rotations)),
        "the session outlives the 30-day refresh-token lifetime",
        survived && days >= p.days as f64 - 0.01,
    );
    s.info(
        "Handouts: loop clients / token server",
        format!("{} / {}", thousands(clients.handouts), thousands(server.handouts)),
    );
    s.info(
        "Longest a caller waited (real time)",
        format!(
            "{} ms (= {:.1} simulated min); p99 {} ms, p50 {} ms",
            all.wait_quantile(1.0),
            all.wait_quantile(1.0) as f64 * p.accel as f64 / 60_000.0,
            all.wait_quantile(0.99),
            all.wait_quantile(0.5)
        ),
    );
    let errs: Vec<String> = all.errors.iter().map(|(k, v)| format!("{k} {v}")).collect();
    s.info(
        "Asks answered with a passing error, then asked again",
        if errs.is_empty() { "none".into() } else { errs.join(", ") },
    );
    s
}
