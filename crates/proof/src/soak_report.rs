//! The soak's section of the report: every figure per connection where the invariant is
//! per connection (sessions lost, token calls per rotation), and added up otherwise.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::report::{thousands, Section};
use crate::soak::Params;
use crate::tally::Tally;
use crate::world::{World, CONNECTION};

const DAY_MS: f64 = 86_400_000.0;

/// One connection's token endpoint, as its simulator counted it.
struct Calls {
    rotations: u64,
    answered: u64,
    faulted: u64,
    requests: u64,
}

fn calls(sim: &smartthings_sim::Sim) -> Calls {
    let stats = sim.stats();
    let rotations = stats.token_grants.get("refresh_token").copied().unwrap_or(0);
    let codes = stats.token_grants.get("authorization_code").copied().unwrap_or(0);
    let faulted = stats.faults_injected;
    // Every request that reached the token endpoint and was not answered by a fault, minus
    // the sign-in: each must be a rotation. A second call for one rotation (two processes
    // refreshing the same pair, or a spent refresh token sent again) is answered too, with
    // a refusal, and shows here as answered > rotations.
    Calls { rotations, answered: stats.token_requests - faulted - codes, faulted, requests: stats.token_requests }
}

pub fn summarize(
    w: &World,
    p: &Params,
    wall: Duration,
    clients: &BTreeMap<String, Tally>,
    server: &Tally,
    survived: &BTreeMap<String, bool>,
) -> Section {
    let days = w.clock.offset_ms() as f64 / DAY_MS;
    let per: Vec<(&str, Calls)> = w.sims().into_iter().map(|(n, s)| (n, calls(s))).collect();
    // What each connection's askers saw: the loop clients, plus the token server for `home`.
    let seen = |name: &str| {
        let mut t = clients.get(name).cloned().unwrap_or(Tally { lost: 1, ..Tally::default() });
        if name == CONNECTION {
            t.merge(server);
        }
        t
    };
    let lost_of = |name: &str| seen(name).lost + u64::from(!survived.get(name).copied().unwrap_or(false));
    let mut all = server.clone();
    for t in clients.values() {
        all.merge(t);
    }
    let lost: u64 = per.iter().map(|(n, _)| lost_of(n)).sum();
    let faulted: u64 = per.iter().map(|(_, c)| c.faulted).sum();
    let requests: u64 = per.iter().map(|(_, c)| c.requests).sum();
    let names: Vec<String> = per.iter().map(|(n, _)| format!("`{n}`")).collect();

    let mut s = Section::new(&format!("Soak: {} simulated days, 30% faults, three processes, two connections", p.days));
    s.intro(format!(
        "Two connections, {}, each signed in on a simulator of its own (so each one's token calls are counted apart), \
         shared by three OS processes over real HTTP on 127.0.0.1: two loops that each ask for a token \
         the way `thingstray token` does (a fresh connection per ask: config, file vault and session opened anew), \
         alternating between the connections, and one token server (the core's `TokenServer` with its background \
         refresher, as `thingstray serve` runs it) that this driver polls for `home`, with a background refresher for \
         `cabin` beside it (as the tray app keeps every connection fresh). One config dir, one file vault (`vault = \
         \"file\"`) holding both pairs in one file, one refresh lock per connection: every process rewrites the file \
         that holds the other connection's pair, so a lost update there (one process writing back the other \
         connection's old pair) would end that session at its next rotation. The simulators' clocks \
         run {}x real time (1 real second = {:.1} simulated hours), moved every {} ms; each process reads the same \
         clock from a shared file (the CLI binary only knows the system clock). Access tokens live {} simulated hours \
         ({:.1} real seconds); refresh tokens die after 30 simulated days, enforced by the simulator. Every ask demands \
         5 minutes of validity (`--min-valid 5m`). Once per simulated day the clock jumps 7 hours at once (a \
         laptop asleep overnight), so all three processes find both tokens expired together and race to refresh them; \
         that jump waits until no ask and no refresh is in progress (gate.rs), so it never falls between the \
         session's validity check and the caller noting the time of handout. Each token handed out is checked against the simulator's own expiry \
         for it at the moment of handout. (Why 6-hour tokens and not a few seconds: the token server promises 5 \
         minutes of validity on every answer, so shorter tokens would make it answer nothing but errors; the \
         acceleration gives the same pace, a rotation every 3 real seconds per connection.)",
        names.join(" and "),
        p.accel,
        p.accel as f64 / 3600.0,
        crate::soak::TICK.as_millis(),
        p.expires_in / 3600,
        p.expires_in as f64 / p.accel as f64
    ));
    s.intro(format!(
        "Faults on `/oauth/token` of both simulators: 12% 500/502/504 with gateway bodies, 6% dropped connections, 5% \
         timeouts (held 1.5 s, past the clients' 1 s timeout, then dropped unhandled), 10% 429 with `x-ratelimit-*` \
         headers, and 10% of answers delayed 200 ms. Measured: {} of {} token requests faulted ({:.1}%).",
        thousands(faulted),
        thousands(requests),
        100.0 * faulted as f64 / requests.max(1) as f64
    ));
    s.info("Simulated time", format!("{days:.1} days in {:.1} min wall", wall.as_secs_f64() / 60.0));
    let by_conn: Vec<String> = per.iter().map(|(n, _)| format!("{n} {}", lost_of(n))).collect();
    s.check("Sessions lost", format!("{lost} ({})", by_conn.join(", ")), "0", lost == 0);
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
    for (name, c) in &per {
        s.check(
            &format!("Token-endpoint calls per rotation, `{name}` (answered, not faulted)"),
            format!(
                "{} / {} = {:.3}",
                thousands(c.answered),
                thousands(c.rotations),
                c.answered as f64 / c.rotations.max(1) as f64
            ),
            "exactly 1",
            c.answered == c.rotations && c.rotations > 0,
        );
    }
    s.info("Faulted token-endpoint attempts (retried)", thousands(faulted));
    let rotations: Vec<String> = per.iter().map(|(n, c)| format!("{n} {}", thousands(c.rotations))).collect();
    let all_survived = per.iter().all(|(n, _)| survived.get(*n).copied().unwrap_or(false));
    s.check(
        "Rotations vs simulated days",
        format!("{} rotations in {days:.1} days", rotations.join(", ")),
        "both sessions outlive the 30-day refresh-token lifetime",
        all_survived && days >= p.days as f64 - 0.01,
    );
    let handouts: Vec<String> = per.iter().map(|(n, _)| format!("{n} {}", thousands(seen(n).handouts))).collect();
    s.info(
        "Handouts: loop clients / token server; per connection",
        format!(
            "{} / {}; {}",
            thousands(clients.values().map(|t| t.handouts).sum()),
            thousands(server.handouts),
            handouts.join(", ")
        ),
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
