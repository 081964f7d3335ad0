//! The session store under pressure (issue 28): sessions of many users, OAuth-In and
//! ST Schema half and half, on three replicas sharing one PostgreSQL, for simulated days
//! with token-endpoint faults, replicas killed mid-work and the database restarted; then
//! how memory, database size and refresh work grow with the number of sessions.
//!
//! Faults are the simulator's that leave SmartThings' state unchanged (5xx, dropped
//! connections, garbage bodies, 429), decided before the request is handled. A fault after
//! SmartThings rotated (the answer lost) cannot be recovered by anyone, and the desktop's
//! crash section measures that window.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use smartthings_sim::Faults;

use crate::report::Section;
use crate::store_world::{quantiles, rss_mib, Replica, StoreWorld};

const HOUR: Duration = Duration::from_secs(3_600);
const EXPIRES_IN: u64 = 86_400;

pub struct Params {
    pub sessions: usize,
    pub days: u64,
    pub kills: usize,
    pub fault_share: f64,
}

#[derive(Default)]
struct Handouts {
    ok: AtomicU64,
    refused: AtomicU64,
    expired: AtomicU64,
    latencies: Mutex<Vec<Duration>>,
}

pub async fn run(p: Params) -> Section {
    let mut s =
        Section::new(&format!("Session store: {} sessions on 3 replicas for {} simulated days", p.sessions, p.days));
    s.intro(format!(
        "Half OAuth-In users (each signed in through the service, one location each), half ST Schema \
         installations (grants forwarded to the service), on three replicas that share one PostgreSQL \
         15, each with its own pool, scheduler and HTTP API. {:.0} % of token-endpoint requests fail \
         (5xx, dropped connections, garbage, 429) for the whole run; {} replica kills (its runtime shut \
         down mid-flight, as SIGKILL) and one PostgreSQL restart (immediate shutdown) happen at random \
         hours. Two clients ask random replicas for random sessions' tokens all along. Tokens live 24 h; \
         the simulated clock moves an hour at a time.",
        p.fault_share * 100.0,
        p.kills
    ));
    let t0 = Instant::now();
    let oauth = p.sessions / 2;
    let w = Arc::new(StoreWorld::start(oauth + 1, EXPIRES_IN).await);
    let mut replicas: Vec<Replica> = vec![w.replica("r0").await, w.replica("r1").await, w.replica("r2").await];
    let store = w.store().await;

    // Sessions, 16 at a time, started and finished on different replicas.
    let urls: Vec<String> = replicas.iter().map(|r| r.url.clone()).collect();
    let mut ids = Vec::new();
    let mut failed_setup = 0usize;
    for chunk in (0..p.sessions).collect::<Vec<_>>().chunks(16) {
        let mut set = tokio::task::JoinSet::new();
        for &n in chunk {
            let (w, urls) = (w.clone(), urls.clone());
            set.spawn(async move {
                if n < oauth {
                    w.sign_in(n + 1, &urls[n % 3], &urls[(n + 1) % 3]).await.map(|_| None)
                } else {
                    let id = format!("schema-{n}");
                    w.grant(&id, &urls[n % 3]).await.map(|_| Some(id))
                }
            });
        }
        while let Some(r) = set.join_next().await {
            match r.unwrap() {
                Ok(Some(id)) => ids.push(id),
                Ok(None) => {}
                Err(_) => failed_setup += 1,
            }
        }
    }
    let rows = store.sessions().await.unwrap_or_default();
    ids.extend(rows.iter().filter(|r| r.kind == "oauth").map(|r| r.id.clone()));
    let setup_time = t0.elapsed();
    s.info(
        "Sessions set up",
        format!("{} in {:.1} s ({failed_setup} sign-ins failed)", rows.len(), setup_time.as_secs_f64()),
    );

    // The clients: random session, random replica, all run long.
    let handouts = Arc::new(Handouts::default());
    let stop = Arc::new(AtomicBool::new(false));
    let live_urls = Arc::new(Mutex::new(urls.clone()));
    let ids = Arc::new(ids);
    let mut clients = Vec::new();
    for _ in 0..2 {
        let (w, h, stop, urls, ids) = (w.clone(), handouts.clone(), stop.clone(), live_urls.clone(), ids.clone());
        clients.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let (id, at) = {
                    let mut rng = rand::rng();
                    let urls = urls.lock().unwrap();
                    (ids[rng.random_range(0..ids.len())].clone(), urls[rng.random_range(0..urls.len())].clone())
                };
                match w.token(&at, &id).await {
                    Ok((tok, took)) => {
                        h.ok.fetch_add(1, Ordering::Relaxed);
                        h.latencies.lock().unwrap().push(took);
                        if !w.live(&id, &tok) {
                            h.expired.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(_) => {
                        h.refused.fetch_add(1, Ordering::Relaxed);
                    }
                }
                // A client's pace, not a spin: two cores are shared with the replicas,
                // PostgreSQL and the simulator.
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }));
    }

    // The calls of the run, apart from the sign-ins' exchanges.
    let (calls0, faulted0, rotations0) = (w.token_requests(), w.token_faults(), w.rotations_at_smartthings());
    w.sim.set_faults(faults(p.fault_share));
    let hours = p.days * 24;
    let (kill_hours, restart_hour) = {
        let mut rng = rand::rng();
        let kills: Vec<u64> = (0..p.kills).map(|_| rng.random_range(1..hours.max(2))).collect();
        (kills, rng.random_range(hours / 3..(2 * hours / 3).max(hours / 3 + 1)))
    };
    let mut late_hours = 0u64;
    let mut killed = 0usize;
    let mut cut_by_kills = std::collections::HashSet::new();
    let run_t0 = Instant::now();
    // Simulated time a drain let pass, taken off the next hour: the run lasts its days.
    let mut passed = Duration::ZERO;
    for hour in 0..hours {
        w.advance(HOUR.saturating_sub(passed));
        for _ in kill_hours.iter().filter(|&&h| h == hour) {
            let i = rand::rng().random_range(0..replicas.len());
            let name = replicas[i].name.clone();
            let old = std::mem::replace(&mut replicas[i], w.replica(&format!("{name}'")).await);
            old.kill();
            killed += 1;
            // What the dead replica had claimed and not stored (a stored pair clears its
            // claim). Read at once, before any lease can end: these are the refreshes the
            // kill cut, some perhaps after SmartThings rotated and before the commit.
            let claimed = w
                .sql(&format!(
                    "SELECT id FROM thingstray_sessions WHERE claimed_by = '{}' AND claimed_until IS NOT NULL",
                    name.replace('\'', "''")
                ))
                .await;
            cut_by_kills.extend(claimed.lines().map(str::to_string));
            *live_urls.lock().unwrap() = replicas.iter().map(|r| r.url.clone()).collect();
        }
        if hour == restart_hour {
            let pg = w.pg.clone();
            tokio::task::spawn_blocking(move || pg.kill().and_then(|_| pg.start_again()))
                .await
                .unwrap()
                .expect("PostgreSQL restarts");
        }
        // Up to a quarter hour of it, as in real time: 429 pauses and backoffs end within
        // the hour, and so can a claim's 120 s lease. (Capped at a minute, every 429 after
        // that minute stopped its replica for the rest of the hour again.)
        let (done, p) = w.drained(&store, Duration::from_secs(30), HOUR / 4).await;
        passed = p;
        if !done {
            late_hours += 1;
        }
    }
    let run_time = run_t0.elapsed();
    w.sim.set_faults(Faults::default());
    // Only the replicas called SmartThings during the run (the clients call replicas), and
    // only its token endpoints: every call the simulator did not fault (both endpoints'
    // requests are counted before faults) should be a rotation.
    // Counted once the token endpoints are quiet: a refresh in flight is counted as a
    // request at once and as a rotation only when answered, and three separate reads of
    // the counters let a few land between them (8 of 393,009 in one 10,000-session run).
    let (calls, faulted, rotations) = w.quiet_token_counts(Duration::from_secs(10)).await;
    let answered = (calls - calls0).saturating_sub(faulted - faulted0);
    let run_rotations = rotations - rotations0;
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        let _ = c.await;
    }

    // Every session, asked once more without faults: is it alive?
    let mut lost = Vec::new();
    for id in ids.iter() {
        let mut alive = false;
        let urls = live_urls.lock().unwrap().clone();
        for at in urls {
            if let Ok((tok, _)) = w.token(&at, id).await {
                alive = w.live(id, &tok);
                break;
            }
        }
        if !alive {
            lost.push(id.clone());
        }
    }
    let ended = w.sql("SELECT count(*) FROM thingstray_sessions WHERE status = 'ended'").await;
    let stored_rotations: u64 =
        w.sql("SELECT coalesce(sum(rotations), 0) FROM thingstray_sessions").await.parse().unwrap_or(0);
    let st_rotations = w.rotations_at_smartthings();
    let per_rotation = if stored_rotations > 0 { st_rotations as f64 / stored_rotations as f64 } else { 0.0 };

    // A kill that lands after SmartThings rotated and before the commit loses that
    // session whatever the code does: SmartThings killed the old refresh token and the new
    // one died with the process (the desktop's crash section measures the same window).
    // Those are told apart (they were in flight at a kill) and reported; any other loss
    // is a bug, and so is a rotation missing from the store that is not one of theirs.
    let (cut, other): (Vec<&String>, Vec<&String>) = lost.iter().partition(|id| cut_by_kills.contains(*id));
    s.check(
        "Sessions lost, apart from refreshes a kill cut after SmartThings answered",
        format!("{} of {} ({ended} rows ended)", other.len(), ids.len()),
        "0",
        other.is_empty(),
    );
    s.info(
        "Sessions lost to a kill between SmartThings' answer and the commit (no one can recover these)",
        format!("{} ({} refreshes were in flight at the {killed} kills)", cut.len(), cut_by_kills.len()),
    );
    s.check(
        "Token-endpoint rotations per stored rotation",
        format!(
            "{per_rotation:.3} ({st_rotations} at SmartThings, {stored_rotations} stored{})",
            if cut.is_empty() { String::new() } else { format!(", {} lost with their replica", cut.len()) }
        ),
        "1.000",
        st_rotations == stored_rotations + cut.len() as u64 && st_rotations > 0,
    );
    // Reported, not an invariant: a refresh in flight when PostgreSQL restarts leaves its
    // new pair unsaved for a moment, and another replica may spend the stored (now dead)
    // refresh token, be refused, and re-read the pair (docs/services.md, "not tested").
    s.measure(
        "Token-endpoint calls SmartThings answered, per rotation",
        format!("{:.3} ({answered} calls, {run_rotations} rotations)", answered as f64 / run_rotations.max(1) as f64),
        "1.000",
        answered == run_rotations && run_rotations > 0,
    );
    s.info(
        "Token-endpoint requests per rotation, faulted ones included",
        format!("{:.2} ({} requests)", w.token_requests() as f64 / st_rotations.max(1) as f64, w.token_requests()),
    );
    let expired = handouts.expired.load(Ordering::Relaxed);
    let ok = handouts.ok.load(Ordering::Relaxed);
    s.check("Hand-outs of a token SmartThings would refuse", format!("{expired} of {ok}"), "0", expired == 0 && ok > 0);
    s.info(
        "Hand-outs refused (a replica being killed, the database restarting)",
        handouts.refused.load(Ordering::Relaxed).to_string(),
    );
    let (p50, p99) = quantiles(std::mem::take(&mut *handouts.latencies.lock().unwrap()));
    s.info("Hand-out latency over HTTP on loopback, p50 / p99", format!("{p50:.2} ms / {p99:.2} ms"));
    s.info("Replica kills / PostgreSQL restarts", format!("{killed} / 1"));
    s.info(
        "Simulated hours whose due refreshes were not all done within 30 s",
        format!("{late_hours} of {hours} (retried in later hours: tokens have 6 h to spare)"),
    );
    s.info("Wall time of the simulated days", format!("{:.1} s", run_time.as_secs_f64()));

    // Refreshes per second: every session due at once, no faults.
    w.advance(Duration::from_secs(EXPIRES_IN * 3 / 4 + 60));
    let before = w.rotations_at_smartthings();
    let burst = Instant::now();
    let (done, _) = w.drained(&store, Duration::from_secs(600), Duration::ZERO).await;
    let took = burst.elapsed();
    let n = w.rotations_at_smartthings() - before;
    s.info(
        "Refreshes per second, 3 replicas, every session due at once",
        format!(
            "{:.0} ({n} in {:.1} s{})",
            n as f64 / took.as_secs_f64(),
            took.as_secs_f64(),
            if done { "" } else { ", not finished" }
        ),
    );
    if !lost.is_empty() {
        s.note(format!("Lost: {}", lost.iter().take(10).cloned().collect::<Vec<_>>().join(", ")));
    }
    for r in replicas {
        r.kill();
    }
    s
}

fn faults(share: f64) -> Faults {
    // Split over the kinds that leave SmartThings' state as it was, as absolute shares of
    // all requests; the simulator rolls them in turn (drop, 5xx, 429, garbage), so each
    // roll's chance is its share of what the earlier rolls left. Every path is faulted.
    // 429s are few: each pauses a replica's refreshes for the second SmartThings names
    // (the core reads an `x-ratelimit-reset` under 1000 as seconds, so 1000 ms it is).
    let (drop, err, limit, garbage) = (share * 0.3, share * 0.45, share * 0.05, share * 0.2);
    Faults {
        drop_connection: drop,
        error_5xx: err / (1.0 - drop),
        rate_limit: limit / (1.0 - drop - err),
        malformed_body: garbage / (1.0 - drop - err - limit),
        rate_limit_reset_ms: 1_000,
        ..Faults::default()
    }
}

/// How memory, database size and refresh work grow with the number of sessions (ST
/// Schema installations: one request each to set up).
pub async fn growth(sizes: &[usize]) -> Section {
    let mut s = Section::new("Session store: growth with the number of sessions");
    s.intro(
        "For each size, a fresh PostgreSQL and simulator, three replicas, that many ST Schema \
         installations kept through the API; then every session due at once. Memory is this \
         process's resident set, which holds the simulator and the three replicas (each replica \
         caches the sessions it served until they idle 10 minutes).",
    );
    for &n in sizes {
        let rss0 = rss_mib();
        let w = StoreWorld::start(1, EXPIRES_IN).await;
        let replicas = [w.replica("g0").await, w.replica("g1").await, w.replica("g2").await];
        let store = w.store().await;
        let t0 = Instant::now();
        for chunk in (0..n).collect::<Vec<_>>().chunks(32) {
            let mut set = tokio::task::JoinSet::new();
            for &k in chunk {
                let (http, url, secret, grant) =
                    (w.http.clone(), replicas[k % 3].url.clone(), w.secret.clone(), w.sim.schema_grant().to_string());
                set.spawn(async move {
                    http.post(format!("{url}/v1/schema/grant?connection=schema-{k}"))
                        .bearer_auth(secret)
                        .body(grant)
                        .send()
                        .await
                });
            }
            while set.join_next().await.is_some() {}
        }
        let setup = t0.elapsed();
        let db = w.sql("SELECT pg_database_size(current_database())").await.parse::<f64>().unwrap_or(0.0) / 1_048_576.0;
        let table = w.sql("SELECT pg_total_relation_size('thingstray_sessions')").await.parse::<f64>().unwrap_or(0.0)
            / 1_048_576.0;
        w.advance(Duration::from_secs(EXPIRES_IN * 3 / 4 + 60));
        let t1 = Instant::now();
        let (done, _) = w.drained(&store, Duration::from_secs(1_800), Duration::ZERO).await;
        let took = t1.elapsed();
        let rotations = w.rotations_at_smartthings();
        let mut lat = Vec::new();
        for k in 0..200.min(n) {
            if let Ok((_, d)) = w.token(&replicas[k % 3].url, &format!("schema-{}", k * n / 200.min(n).max(1))).await {
                lat.push(d);
            }
        }
        let (p50, p99) = quantiles(lat);
        s.info(
            &format!("{n} sessions"),
            format!(
                "set up {:.1} s; database {db:.1} MiB (sessions table {table:.1} MiB); memory +{:.0} MiB; \
                 all due refreshed in {:.1} s ({:.0}/s{}); hand-out p50 {p50:.2} ms, p99 {p99:.2} ms",
                setup.as_secs_f64(),
                rss_mib() - rss0,
                took.as_secs_f64(),
                rotations as f64 / took.as_secs_f64(),
                if done { "" } else { ", not finished" }
            ),
        );
        for r in replicas {
            r.kill();
        }
    }
    s
}
