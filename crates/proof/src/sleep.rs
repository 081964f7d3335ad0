//! The laptop that sleeps: the clock jumps while nothing runs. Past the token's expiry
//! the next ask refreshes at once (and the background refresher notices within its
//! wall-clock check); past the refresh token's 30 days only a new sign-in helps, and
//! `thingstray token` says so with exit 4, settings untouched.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use smartthings_sim::SimConfig;
use thingstray::session::SessionOptions;

use crate::report::Section;
use crate::world::World;

pub async fn run(thingstray: &str) -> Section {
    let mut s = Section::new("Sleep: clock jumps");
    s.intro(
        "A night's sleep (8 simulated hours) past the token's expiry, then a month (31 days) past the refresh token's \
         lifetime. The core session runs on the shared clock; the last step is the real `thingstray` binary.",
    );
    let w = World::start(SimConfig { expires_in: 3_600, ..SimConfig::default() }).await;
    let shared = w.shared();
    let opts = SessionOptions::default();

    // A caller right after wake-up.
    w.jump(Duration::from_secs(8 * 3_600));
    let before = w.refreshes();
    let t0 = Instant::now();
    let conn = shared.connection(opts.clone(), Duration::from_secs(10)).await.expect("opens");
    let got = conn.session.token_valid_for(Duration::from_secs(300)).await;
    let took = t0.elapsed();
    let valid = got.as_ref().is_ok_and(|g| w.valid_at(g.secret(), w.clock.now_ms()));
    s.check(
        "Ask right after an 8 h jump: token valid, refreshes",
        format!("valid: {valid}, {} refresh, {:.1} ms", w.refreshes() - before, took.as_secs_f64() * 1000.0),
        "valid, exactly 1 refresh, at once",
        valid && w.refreshes() - before == 1,
    );

    // The background refresher of a long-running process (tray app, token server): it
    // has no jump signal (the system clock gives none) and must notice by itself.
    let conn = shared.connection(opts.clone(), Duration::from_secs(10)).await.expect("opens");
    conn.session.token_valid_for(Duration::from_secs(300)).await.expect("a token");
    let refresher = conn.session.spawn_refresher();
    tokio::time::sleep(Duration::from_millis(100)).await; // let it reach its wait
    w.jump(Duration::from_secs(8 * 3_600));
    let before = w.refreshes();
    let t0 = Instant::now();
    while w.refreshes() == before && t0.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let noticed = t0.elapsed();
    // The simulator counts a refresh when it answers; the refresher then still saves the
    // pair. An ask waits for that (one flight at a time), so the month's jump below never
    // lands between the answer and the save (seen once in CI: the pair was then saved
    // with the clock a month on).
    let _ = conn.session.token_valid_for(Duration::from_secs(300)).await;
    refresher.abort();
    s.check(
        "Background refresher after an 8 h jump",
        format!("refreshed after {:.1} s", noticed.as_secs_f64()),
        &format!("within the wall-clock check ({} s)", opts.wall_clock_check.as_secs()),
        w.refreshes() > before && noticed <= opts.wall_clock_check + Duration::from_secs(1),
    );

    // A month away.
    w.jump(Duration::from_secs(31 * 86_400));
    let conn = shared.connection(opts, Duration::from_secs(10)).await.expect("opens");
    let ended = conn.session.token_valid_for(Duration::from_secs(300)).await.err().map(|e| e.code());
    s.check(
        "Ask after a 31-day jump (core session)",
        format!("error code {}", ended.unwrap_or("none: got a token")),
        "session_ended",
        ended == Some("session_ended"),
    );
    let config_before = std::fs::read(w.paths.config_file()).unwrap();
    let requests_before = w.sim.stats().token_requests;
    let out = Command::new(thingstray)
        .arg("token")
        .env("THINGSTRAY_CONFIG_DIR", w.dir())
        .env_remove("THINGSTRAY_CONNECTION")
        .env_remove("THINGSTRAY_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("thingstray runs");
    let stderr = String::from_utf8_lossy(&out.stderr).to_lowercase();
    let code = out.status.code().unwrap_or(-1);
    let kept = std::fs::read(w.paths.config_file()).unwrap() == config_before;
    let asked_again = w.sim.stats().token_requests - requests_before;
    s.check(
        "`thingstray token` after it",
        format!(
            "exit {code}, says sign in: {}, settings kept: {kept}, token requests: {asked_again}",
            stderr.contains("sign in")
        ),
        "exit 4, \"sign in\", config.toml unchanged, 0 requests (the vault already says ended)",
        code == 4 && stderr.contains("sign in") && kept && asked_again == 0,
    );
    s
}
