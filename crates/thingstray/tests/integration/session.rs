//! The session against the simulator over real HTTP: rotation, single-flight inside and
//! across processes, faults, sleep, and the end of a session.

use std::sync::Arc;
use std::time::Duration;

use crate::common::{recorded_env, refreshes, Env};
use smartthings_sim::{Faults, SimConfig};
use thingstray::clock::{Clock, ManualClock};
use thingstray::config::{Config, Paths, VaultKind};
use thingstray::session::Status;
use thingstray::vault::{FileStore, Vault};
use thingstray::Connection;

const MIN: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_rotations_each_saved_before_anyone_gets_the_token() {
    let (env, rec) = recorded_env(SimConfig { expires_in: 600, ..SimConfig::default() }).await;
    let conn = env.signed_in().await;
    let mut previous = String::new();
    for cycle in 0..100 {
        env.advance(Duration::from_secs(601));
        let grant = conn.session.token_valid_for(MIN).await.unwrap_or_else(|e| panic!("cycle {cycle}: {e}"));
        assert_ne!(grant.secret(), previous, "cycle {cycle}: a new token");
        let last_saved = rec.saved_access.lock().unwrap().last().cloned().unwrap();
        assert_eq!(
            last_saved,
            grant.secret(),
            "cycle {cycle}: the pair was in the vault before the token was handed out"
        );
        previous = grant.secret().to_string();
    }
    assert_eq!(refreshes(&env.sim), 100, "exactly one token-endpoint call per rotation");

    // After a "restart" the vault's refresh token is the live one.
    let config = Config::load(&env.paths).unwrap();
    let reopened =
        Connection::open_with(&env.paths, &config, env.vault.clone(), Some("home"), env.options()).await.unwrap();
    env.advance(Duration::from_secs(601));
    reopened.session.token_valid_for(MIN).await.unwrap();
    assert_eq!(refreshes(&env.sim), 101);
    assert!(!reopened.api.devices().await.unwrap().is_empty(), "the simulator accepts the token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_callers_at_expiry_cause_one_refresh() {
    let env = Env::new(SimConfig::default()).await;
    let conn = env.signed_in().await;
    env.advance(Duration::from_secs(86_401));
    let calls: Vec<_> = (0..100)
        .map(|_| {
            let s = conn.session.clone();
            tokio::spawn(async move { s.token_valid_for(Duration::from_secs(300)).await })
        })
        .collect();
    let mut tokens = std::collections::HashSet::new();
    for c in calls {
        tokens.insert(c.await.unwrap().unwrap().secret().to_string());
    }
    assert_eq!(tokens.len(), 1, "everyone got the same new token");
    assert_eq!(refreshes(&env.sim), 1);
}

/// Run by `two_processes_asking_at_once_cause_one_refresh` in a child process; does
/// nothing in a normal test run.
#[tokio::test]
async fn helper_child_process() {
    let Ok(dir) = std::env::var("THINGSTRAY_TEST_CHILD_DIR") else { return };
    let conn = Connection::open(&Paths::at(dir), Some("home")).await.unwrap();
    // libtest may print "test helper_child_process ... " on the same line first.
    println!("child-ready");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).unwrap();
    let grant = conn.session.token_valid_for(Duration::from_secs(300)).await.unwrap();
    println!("child-token={}", grant.secret());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_asking_at_once_cause_one_refresh() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths::at(dir.path());
    let vault = Vault::new(Arc::new(FileStore::new(paths.file_vault())));
    let mut env = Env::with_vault(SimConfig { expires_in: 120, ..SimConfig::default() }, vault).await;
    env.paths = paths.clone();
    env.signed_in().await;
    let mut config = Config::load(&paths).unwrap();
    config.vault = VaultKind::File;
    config.save(&paths).unwrap();
    env.sim.set_expires_in(86_400);

    // tokio::process, not std: a test worker blocked on a pipe could starve the simulator.
    let mut children: Vec<_> = (0..2)
        .map(|_| {
            tokio::process::Command::new(std::env::current_exe().unwrap())
                .args(["session::helper_child_process", "--exact", "--nocapture", "--test-threads=1"])
                .env("THINGSTRAY_TEST_CHILD_DIR", dir.path())
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .unwrap()
        })
        .collect();
    let mut outputs = Vec::new();
    for child in &mut children {
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.ends_with("child-ready") {
                break;
            }
        }
        outputs.push(lines);
    }
    for child in &mut children {
        child.stdin.as_mut().unwrap().write_all(b"go\n").await.unwrap();
    }
    let mut tokens = Vec::new();
    for mut lines in outputs {
        let mut token = None;
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some((_, t)) = line.split_once("child-token=") {
                token = Some(t.to_string());
            }
        }
        tokens.push(token.expect("the child printed a token"));
    }
    for mut c in children {
        assert!(c.wait().await.unwrap().success());
    }
    assert_eq!(tokens[0], tokens[1], "the second process found the first one's token");
    assert_eq!(refreshes(&env.sim), 1, "one token-endpoint call for two processes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_percent_transient_faults_never_stop_valid_tokens() {
    let env = Env::new(SimConfig { expires_in: 3600, ..SimConfig::default() }).await;
    let conn = env.signed_in().await;
    let refresher = conn.session.spawn_refresher();
    let mut status = conn.session.watch_status();
    env.sim.set_faults(Faults {
        route_prefix: "/oauth/token".into(),
        error_5xx: 0.12,
        drop_connection: 0.08,
        malformed_body: 0.04,
        rate_limit: 0.03,
        rate_limit_reset_ms: 10,
        delay_ms: 50,
        delay_share: 0.03,
        // Unseeded, about one run in 300 met no fault at all and failed the last assert.
        seed: Some(30),
        ..Faults::default()
    });
    let rotations = 20;
    for round in 0..rotations {
        let before = current_expiry(&status.borrow());
        env.advance(Duration::from_secs(2_800)); // past the 75% mark, before expiry
        for _ in 0..3 {
            let g = conn.session.token_valid_for(MIN).await.unwrap_or_else(|e| panic!("round {round}: {e}"));
            assert!(g.remaining(env.clock.now()) >= MIN);
        }
        conn.api.locations().await.unwrap_or_else(|e| panic!("round {round}: the token works: {e}"));
        let st = tokio::time::timeout(
            Duration::from_secs(60),
            status.wait_for(|s| matches!(s, Status::Connected { expires_at, .. } if *expires_at > before)),
        )
        .await
        .unwrap_or_else(|_| panic!("round {round}: no recovery, status {:?}", conn.session.status()))
        .unwrap()
        .clone();
        assert!(matches!(st, Status::Connected { .. }));
    }
    refresher.abort();
    assert_eq!(refreshes(&env.sim), rotations, "one successful refresh per rotation, never a lost session");
    assert!(env.sim.stats().faults_injected > 0, "faults were injected");
}

fn current_expiry(s: &Status) -> u64 {
    match s {
        Status::Connected { expires_at, .. }
        | Status::Retrying { expires_at, .. }
        | Status::Refreshing { expires_at } => *expires_at,
        _ => 0,
    }
}

/// A clock that moves but never says so, like the real one after resume from sleep.
#[derive(Clone)]
struct SilentClock(ManualClock);
impl Clock for SilentClock {
    fn now(&self) -> std::time::SystemTime {
        self.0.now()
    }
    fn jumped(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(std::future::pending())
    }
}

#[tokio::test]
async fn waking_past_expiry_refreshes_at_once() {
    let env = Env::new(SimConfig::default()).await;
    env.signed_in().await;
    // The scheduler's own periodic wall-clock check, with no jump notification at all.
    let mut opts = env.options();
    opts.clock = Arc::new(SilentClock(env.clock.clone()));
    opts.session.wall_clock_check = Duration::from_millis(20);
    let config = Config::load(&env.paths).unwrap();
    let conn = Connection::open_with(&env.paths, &config, env.vault.clone(), Some("home"), opts).await.unwrap();
    let mut status = conn.session.watch_status();
    let before = current_expiry(&status.borrow());
    let refresher = conn.session.spawn_refresher();
    env.advance(Duration::from_secs(86_400 + 3_600)); // asleep for a day and an hour
    tokio::time::timeout(
        Duration::from_secs(10),
        status.wait_for(|s| matches!(s, Status::Connected { expires_at, .. } if *expires_at > before)),
    )
    .await
    .expect("refreshed after wake")
    .unwrap();
    refresher.abort();
    assert_eq!(refreshes(&env.sim), 1);
}

#[tokio::test]
async fn a_clock_jump_wakes_the_scheduler_immediately() {
    let env = Env::new(SimConfig::default()).await;
    env.signed_in().await;
    let mut opts = env.options();
    opts.session.wall_clock_check = Duration::from_secs(3600); // only the jump can wake it
    let config = Config::load(&env.paths).unwrap();
    let conn = Connection::open_with(&env.paths, &config, env.vault.clone(), Some("home"), opts).await.unwrap();
    let mut status = conn.session.watch_status();
    let before = current_expiry(&status.borrow());
    let refresher = conn.session.spawn_refresher();
    env.advance(Duration::from_secs(86_400 + 60));
    tokio::time::timeout(
        Duration::from_secs(10),
        status.wait_for(|s| matches!(s, Status::Connected { expires_at, .. } if *expires_at > before)),
    )
    .await
    .expect("refreshed right after the jump")
    .unwrap();
    refresher.abort();
}

#[tokio::test]
async fn a_revoked_session_needs_sign_in_keeps_settings_and_stops_asking() {
    let env = Env::new(SimConfig::default()).await;
    let conn = env.signed_in().await;
    let settings_before = std::fs::read_to_string(env.paths.config_file()).unwrap();
    env.sim.revoke_refresh_tokens();
    env.advance(Duration::from_secs(86_401));
    let e = conn.session.token_valid_for(MIN).await.unwrap_err();
    assert_eq!(e.code(), "session_ended");
    assert!(e.to_string().contains("Sign in again"));
    assert!(matches!(conn.session.status(), Status::NeedsSignIn { .. }));

    // Another process (or a restart) learns it from the vault without asking SmartThings.
    let asked = env.sim.stats().token_requests;
    let config = Config::load(&env.paths).unwrap();
    let other =
        Connection::open_with(&env.paths, &config, env.vault.clone(), Some("home"), env.options()).await.unwrap();
    assert!(matches!(other.session.status(), Status::NeedsSignIn { .. }));
    assert_eq!(other.session.token_valid_for(MIN).await.unwrap_err().code(), "session_ended");
    assert_eq!(env.sim.stats().token_requests, asked, "no request with a dead token");

    // Settings and the client secret are intact; signing in again restores everything.
    assert_eq!(std::fs::read_to_string(env.paths.config_file()).unwrap(), settings_before);
    assert!(env.vault.client_secret("home").await.unwrap().is_some());
    let sign_in = other.begin_sign_in().unwrap();
    let answer = crate::common::approve(&sign_in, None).await;
    other.finish_sign_in(&env.paths, &sign_in, &answer).await.unwrap();
    assert!(matches!(other.session.status(), Status::Connected { .. }));
    other.session.token_valid_for(MIN).await.unwrap();
}

#[tokio::test]
async fn thirty_days_asleep_ends_in_sign_in_with_settings_kept() {
    let env = Env::new(SimConfig::default()).await;
    let conn = env.signed_in().await;
    let settings_before = std::fs::read_to_string(env.paths.config_file()).unwrap();
    env.advance(Duration::from_secs(31 * 86_400));
    assert_eq!(conn.session.token_valid_for(MIN).await.unwrap_err().code(), "session_ended");
    assert_eq!(std::fs::read_to_string(env.paths.config_file()).unwrap(), settings_before);
}

#[tokio::test]
async fn failing_refreshes_warn_before_the_thirty_day_limit() {
    let env = Env::new(SimConfig::default()).await;
    let conn = env.signed_in().await;
    env.sim.set_faults(Faults { route_prefix: "/oauth/token".into(), error_5xx: 1.0, ..Faults::default() });
    env.advance(Duration::from_secs(26 * 86_400));
    // The access token expired long ago: no token, a clear transient error, and a warning.
    let e = conn.session.token_valid_for(MIN).await.unwrap_err();
    assert_eq!(e.code(), "server_error");
    match &conn.session.status() {
        Status::Retrying { warning: Some(w), last_error, .. } => {
            assert!(w.contains("30 days"), "{w}");
            assert_eq!(last_error.code(), "server_error");
        }
        s => panic!("expected retrying with a warning, got {s:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_lived_tokens_serve_api_calls_without_extra_refreshes() {
    // 20 s tokens: a flat "valid for a minute" rule would refresh before every call and
    // still fail; a quarter of the lifetime leaves the refreshing to the scheduler.
    let env = Env::new(SimConfig { expires_in: 20, ..SimConfig::default() }).await;
    let conn = env.signed_in().await;
    for _ in 0..5 {
        conn.api.locations().await.expect("an API call with a short-lived token");
    }
    assert_eq!(refreshes(&env.sim), 0);
}
