//! The session against the simulator over real HTTP: rotation, single-flight inside and
//! across processes, faults, sleep, and the end of a session.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{refreshes, Env};
use secrecy::{ExposeSecret, SecretString};
use smartthings_sim::{Faults, SimConfig};
use thingstray::clock::{Clock, ManualClock};
use thingstray::config::{Config, Paths, VaultKind};
use thingstray::session::Status;
use thingstray::vault::{FileStore, MemoryStore, SecretStore, Vault};
use thingstray::Connection;

const MIN: Duration = Duration::from_secs(60);

/// A vault that remembers every token pair written to it, and can be made to refuse writes.
#[derive(Default)]
struct Recorder {
    inner: MemoryStore,
    saved_access: Mutex<Vec<String>>,
    refuse: AtomicBool,
    refuse_reads: AtomicBool,
    /// Handed out once by the next read of a token pair: what a process read just before
    /// another one replaced it.
    stale_once: Mutex<Option<SecretString>>,
}

impl SecretStore for Recorder {
    fn get(&self, key: &str) -> thingstray::Result<Option<SecretString>> {
        if self.refuse_reads.load(Ordering::SeqCst) {
            return Err(thingstray::Error::KeychainUnavailable { detail: "locked, says the test".into() });
        }
        if key.ends_with("/tokens") {
            if let Some(stale) = self.stale_once.lock().unwrap().take() {
                return Ok(Some(stale));
            }
        }
        self.inner.get(key)
    }
    fn set(&self, key: &str, value: &SecretString) -> thingstray::Result<()> {
        if self.refuse.load(Ordering::SeqCst) {
            return Err(thingstray::Error::KeychainUnavailable { detail: "refused by the test".into() });
        }
        if key.ends_with("/tokens") {
            let v: serde_json::Value = serde_json::from_str(value.expose_secret()).unwrap();
            self.saved_access.lock().unwrap().push(v["access_token"].as_str().unwrap().to_string());
        }
        self.inner.set(key, value)
    }
    fn delete(&self, key: &str) -> thingstray::Result<()> {
        self.inner.delete(key)
    }
    fn describe(&self) -> String {
        "recorder".into()
    }
}

async fn recorded_env(config: SimConfig) -> (Env, Arc<Recorder>) {
    let rec = Arc::new(Recorder::default());
    let env = Env::with_vault(config, Vault::new(rec.clone())).await;
    (env, rec)
}

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
        assert_eq!(last_saved, grant.secret(), "cycle {cycle}: the pair was in the vault before the token was handed out");
        previous = grant.secret().to_string();
    }
    assert_eq!(refreshes(&env.sim), 100, "exactly one token-endpoint call per rotation");

    // After a "restart" the vault's refresh token is the live one.
    let config = Config::load(&env.paths).unwrap();
    let reopened = Connection::open_with(&env.paths, &config, env.vault.clone(), Some("home"), env.options()).await.unwrap();
    env.advance(Duration::from_secs(601));
    reopened.session.token_valid_for(MIN).await.unwrap();
    assert_eq!(refreshes(&env.sim), 101);
    assert!(!reopened.api.devices().await.unwrap().is_empty(), "the simulator accepts the token");
}

#[tokio::test]
async fn a_pair_the_vault_refuses_is_never_handed_out_and_never_lost() {
    let (env, rec) = recorded_env(SimConfig { expires_in: 600, ..SimConfig::default() }).await;
    let conn = env.signed_in().await;
    env.advance(Duration::from_secs(601));
    rec.refuse.store(true, Ordering::SeqCst);
    let e = conn.session.token_valid_for(MIN).await.unwrap_err();
    assert_eq!(e.code(), "vault_write_failed");
    assert_eq!(refreshes(&env.sim), 1, "the server rotated");
    // The keychain comes back: the kept pair is saved and served, with no new refresh.
    rec.refuse.store(false, Ordering::SeqCst);
    let grant = conn.session.token_valid_for(MIN).await.unwrap();
    assert_eq!(refreshes(&env.sim), 1);
    assert_eq!(rec.saved_access.lock().unwrap().last().unwrap(), grant.secret());
    assert!(!conn.api.devices().await.unwrap().is_empty());
}

/// Issue 10, item 2c: a 401 on the old token while the new pair is only in memory. The
/// vault still holds the spent pair; rotating it would end the session.
#[tokio::test]
async fn a_401_while_the_new_pair_is_unsaved_saves_it_instead_of_spending_the_old_one() {
    let (env, rec) = recorded_env(SimConfig { expires_in: 600, ..SimConfig::default() }).await;
    let conn = env.signed_in().await;
    let old = conn.session.token_valid_for(MIN).await.unwrap();
    env.advance(Duration::from_secs(601));
    rec.refuse.store(true, Ordering::SeqCst);
    assert_eq!(conn.session.token_valid_for(MIN).await.unwrap_err().code(), "vault_write_failed");
    rec.refuse.store(false, Ordering::SeqCst);
    // A caller that still held the old token was refused by SmartThings.
    let grant = conn.session.replace_rejected(&old).await.expect("the kept pair is saved and handed out");
    assert_ne!(grant.secret(), old.secret());
    assert_eq!(rec.saved_access.lock().unwrap().last().unwrap(), grant.secret(), "saved before handed out");
    assert_eq!(refreshes(&env.sim), 1, "no second refresh, and no spent refresh token sent");
    assert!(matches!(conn.session.status(), Status::Connected { .. }), "{:?}", conn.session.status());
}

/// Issue 10, item 6: an `expires_in` of a few seconds (or 0) must not make the refresher
/// spin on the token endpoint: the next refresh is never sooner than 5 s after the pair.
#[tokio::test]
async fn a_tiny_expires_in_schedules_the_refresh_no_sooner_than_five_seconds_on() {
    let env = Env::new(SimConfig { expires_in: 2, ..SimConfig::default() }).await;
    let conn = env.signed_in().await;
    let now = env.clock.now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    match conn.session.status() {
        Status::Connected { next_refresh_at, .. } => assert!(
            next_refresh_at >= now + thingstray::session::MIN_REFRESH_GAP.as_secs(),
            "next refresh {}s after the pair",
            next_refresh_at as i64 - now as i64
        ),
        other => panic!("connected, not {other:?}"),
    }
}

/// Issue 10, item 3: a process whose lock did not hold (its file deleted while held) read
/// the pair just before another process rotated it, and spends the dead refresh token.
/// SmartThings says invalid_grant; marking "ended" then would overwrite the good new pair.
#[tokio::test]
async fn a_refused_refresh_token_that_was_already_replaced_never_ends_the_session() {
    let (env, rec) = recorded_env(SimConfig { expires_in: 600, ..SimConfig::default() }).await;
    let first = env.signed_in().await;
    let old_pair = rec.inner.get("home/tokens").unwrap();
    let config = Config::load(&env.paths).unwrap();
    let second = Connection::open_with(&env.paths, &config, env.vault.clone(), Some("home"), env.options()).await.unwrap();
    env.advance(Duration::from_secs(601));
    let new = second.session.token_valid_for(MIN).await.unwrap();
    *rec.stale_once.lock().unwrap() = old_pair;
    let got = first.session.token_valid_for(MIN).await.expect("the other process's pair is used");
    assert_eq!(got.secret(), new.secret());
    let stored: serde_json::Value = serde_json::from_str(rec.inner.get("home/tokens").unwrap().unwrap().expose_secret()).unwrap();
    assert_eq!(stored["access_token"], new.secret(), "the good pair is still stored");
    assert!(stored.get("ended").is_none_or(|e| e.is_null()), "not marked ended: {stored}");
    assert!(matches!(first.session.status(), Status::Connected { .. }), "{:?}", first.session.status());
}

/// Issue 10, item 2b: while the new pair is only in this process's memory, the vault still
/// holds the spent one. Another process must not read it and spend it: the unsaved pair
/// keeps the refresh lock until it is saved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_a_pair_is_unsaved_no_other_process_spends_the_old_one() {
    let (env, rec) = recorded_env(SimConfig { expires_in: 600, ..SimConfig::default() }).await;
    let first = env.signed_in().await;
    let config = Config::load(&env.paths).unwrap();
    let mut opts = env.options();
    opts.session.lock_timeout = Duration::from_millis(200);
    let second = Connection::open_with(&env.paths, &config, env.vault.clone(), Some("home"), opts).await.unwrap();
    env.advance(Duration::from_secs(601));
    rec.refuse.store(true, Ordering::SeqCst);
    assert_eq!(first.session.token_valid_for(MIN).await.unwrap_err().code(), "vault_write_failed");
    let e = second.session.token_valid_for(MIN).await.unwrap_err();
    assert_ne!(e.code(), "session_ended", "{e}");
    let stats = env.sim.stats();
    assert_eq!(stats.token_requests, stats.token_grants.values().sum::<u64>(), "the spent refresh token was never sent");
    // The vault comes back: the first process saves its pair, the second one reads it.
    rec.refuse.store(false, Ordering::SeqCst);
    let a = first.session.token_valid_for(MIN).await.unwrap();
    let b = second.session.token_valid_for(MIN).await.unwrap();
    assert_eq!(a.secret(), b.secret());
    assert_eq!(refreshes(&env.sim), 1);
}

/// Issue 10, item 2a: a one-shot process (`thingstray token`) spends a refresh token only
/// after the vault has taken a write: if it refused the new pair, the pair would die with
/// the process, and the session with it.
#[tokio::test]
async fn a_one_shot_process_spends_nothing_while_the_vault_refuses_writes() {
    let (env, rec) = recorded_env(SimConfig { expires_in: 600, ..SimConfig::default() }).await;
    env.signed_in().await;
    let config = Config::load(&env.paths).unwrap();
    let mut opts = env.options();
    opts.session.probe_vault = true;
    let one_shot = Connection::open_with(&env.paths, &config, env.vault.clone(), Some("home"), opts).await.unwrap();
    env.advance(Duration::from_secs(601));
    rec.refuse.store(true, Ordering::SeqCst);
    assert_eq!(one_shot.session.token_valid_for(MIN).await.unwrap_err().code(), "vault_write_failed");
    assert_eq!(env.sim.stats().token_requests, 1, "only the sign-in: no refresh token was spent");
    drop(one_shot); // the process exits: nothing was only in its memory
    rec.refuse.store(false, Ordering::SeqCst);
    let next = Connection::open_with(&env.paths, &config, env.vault.clone(), Some("home"), env.options()).await.unwrap();
    next.session.token_valid_for(MIN).await.expect("the stored pair still refreshes");
    assert_eq!(refreshes(&env.sim), 1);
}

/// Issue 10, item 2a: at exit (`serve` on SIGTERM, Quit in the desktop) a pair the vault
/// refused is stored once the vault takes writes again, without another refresh.
#[tokio::test]
async fn flush_stores_the_unsaved_pair_before_exit() {
    let (env, rec) = recorded_env(SimConfig { expires_in: 600, ..SimConfig::default() }).await;
    let conn = env.signed_in().await;
    env.advance(Duration::from_secs(601));
    rec.refuse.store(true, Ordering::SeqCst);
    assert_eq!(conn.session.token_valid_for(MIN).await.unwrap_err().code(), "vault_write_failed");
    assert_eq!(conn.session.flush(Duration::ZERO).await.unwrap_err().code(), "vault_write_failed", "still refused: said so");
    rec.refuse.store(false, Ordering::SeqCst);
    conn.session.flush(Duration::from_secs(5)).await.expect("saved");
    let saved = rec.saved_access.lock().unwrap().last().unwrap().clone();
    assert_eq!(conn.session.token_valid_for(MIN).await.unwrap().secret(), saved);
    assert_eq!(refreshes(&env.sim), 1);
    conn.session.flush(Duration::ZERO).await.expect("nothing left to save");
}

/// Issue 10, item 1 (the backstop): an older pair written back over ours (a lost update, a
/// restored backup) is never rotated: its refresh token is spent. Ours goes back instead.
#[tokio::test]
async fn an_older_pair_written_over_ours_is_never_rotated() {
    let (env, rec) = recorded_env(SimConfig { expires_in: 600, ..SimConfig::default() }).await;
    let conn = env.signed_in().await;
    let first_pair = rec.inner.get("home/tokens").unwrap().unwrap();
    env.advance(Duration::from_secs(601));
    let second = conn.session.token_valid_for(MIN).await.unwrap();
    rec.inner.set("home/tokens", &first_pair).unwrap(); // someone writes the old copy back
    env.advance(Duration::from_secs(601));
    let third = conn.session.token_valid_for(MIN).await.expect("still connected");
    assert_ne!(third.secret(), second.secret());
    assert_eq!(refreshes(&env.sim), 2, "two rotations, none of them refused");
    let stats = env.sim.stats();
    assert_eq!(stats.token_requests, stats.token_grants.values().sum::<u64>(), "the spent refresh token was never sent");
    assert_eq!(rec.saved_access.lock().unwrap().last().unwrap(), third.secret());
}

/// Issue 10, item 4: asking for longer than SmartThings' tokens live (`thingstray token
/// --min-valid 25h` in a script's loop) fails without a refresh once a refresh has shown
/// the lifetime, instead of spending a refresh token on every call.
#[tokio::test]
async fn asking_for_more_than_a_token_lives_refreshes_once_then_fails_fast() {
    let env = Env::new(SimConfig { expires_in: 600, ..SimConfig::default() }).await;
    let conn = env.signed_in().await;
    env.advance(Duration::from_secs(601));
    let too_long = Duration::from_secs(3600);
    for call in 0..5 {
        let e = conn.session.token_valid_for(too_long).await.unwrap_err();
        assert_eq!(e.code(), "no_valid_token", "call {call}: {e}");
        assert!(e.to_string().contains("600 s"), "says the lifetime: {e}");
    }
    assert_eq!(refreshes(&env.sim), 1, "one refresh learnt the lifetime; none after it");
    conn.session.token_valid_for(MIN).await.expect("a fitting ask still works");
    assert_eq!(refreshes(&env.sim), 1);
}

/// The same for tokens that live 0 s (a broken server): a loop of one-shot asks refreshes
/// at most once per 5 s, not once per call.
#[tokio::test]
async fn zero_second_tokens_are_refreshed_at_most_once_per_five_seconds_by_asks() {
    let env = Env::new(SimConfig { expires_in: 0, ..SimConfig::default() }).await;
    let conn = env.signed_in().await;
    for _ in 0..5 {
        assert_eq!(conn.session.token_valid_for(MIN).await.unwrap_err().code(), "no_valid_token");
    }
    assert_eq!(refreshes(&env.sim), 1);
    env.advance(thingstray::session::MIN_REFRESH_GAP);
    let _ = conn.session.token_valid_for(MIN).await;
    assert_eq!(refreshes(&env.sim), 2, "5 s later, one more try");
}

/// Issue 10, item 5: a 401 that a new token does not fix (here an API address that answers
/// 401 to everything) replaces the token once, then says what is wrong instead of
/// rotating on every request; after 5 minutes it may try once more.
#[tokio::test]
async fn a_401_a_new_token_does_not_fix_rotates_once_per_five_minutes() {
    let env = Env::new(SimConfig { expires_in: 86_400, ..SimConfig::default() }).await;
    let refuses = crate::common::raw_server(
        b"HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}".to_vec(),
    )
    .await;
    let c = env.sim.client();
    let settings = thingstray::config::ConnectionSettings::at(&c.client_id, &c.redirect_uris[0], format!("{refuses}/v1"), env.sim.auth_url());
    let conn = env.connection_with(settings, &c.client_secret.clone()).await;
    let sign_in = conn.begin_sign_in();
    let back = crate::common::approve(&sign_in, None).await;
    conn.finish_sign_in(&env.paths, &sign_in, &back).await.unwrap();
    let mut codes = Vec::new();
    for _ in 0..6 {
        codes.push(conn.api.devices().await.unwrap_err().code());
    }
    assert_eq!(refreshes(&env.sim), 1, "one replacement for six refused requests: {codes:?}");
    assert!(codes[1..].iter().all(|c| *c == "token_refused"), "each later one says why: {codes:?}");
    env.advance(thingstray::session::REJECTED_REFRESH_GAP);
    conn.api.devices().await.unwrap_err();
    assert_eq!(refreshes(&env.sim), 2, "after 5 minutes, one more try");
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
        Status::Connected { expires_at, .. } | Status::Retrying { expires_at, .. } | Status::Refreshing { expires_at } => *expires_at,
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
    let other = Connection::open_with(&env.paths, &config, env.vault.clone(), Some("home"), env.options()).await.unwrap();
    assert!(matches!(other.session.status(), Status::NeedsSignIn { .. }));
    assert_eq!(other.session.token_valid_for(MIN).await.unwrap_err().code(), "session_ended");
    assert_eq!(env.sim.stats().token_requests, asked, "no request with a dead token");

    // Settings and the client secret are intact; signing in again restores everything.
    assert_eq!(std::fs::read_to_string(env.paths.config_file()).unwrap(), settings_before);
    assert!(env.vault.client_secret("home").await.unwrap().is_some());
    let sign_in = other.begin_sign_in();
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

#[tokio::test]
async fn a_locked_keychain_at_refresh_time_is_retried_later_not_spun_on() {
    let (env, rec) = recorded_env(SimConfig::default()).await;
    let mut opts = env.options();
    opts.session.retry_min = Duration::from_secs(3600);
    opts.session.retry_max = Duration::from_secs(7200);
    env.signed_in().await;
    let config = Config::load(&env.paths).unwrap();
    let conn = Connection::open_with(&env.paths, &config, env.vault.clone(), Some("home"), opts).await.unwrap();
    let mut status = conn.session.watch_status();
    rec.refuse_reads.store(true, Ordering::SeqCst);
    let refresher = conn.session.spawn_refresher();
    env.advance(Duration::from_secs(20 * 3600)); // past the refresh point, token still valid
    let st = tokio::time::timeout(Duration::from_secs(10), status.wait_for(|s| matches!(s, Status::Retrying { .. })))
        .await
        .expect("the failure is recorded with a next attempt")
        .unwrap()
        .clone();
    match st {
        Status::Retrying { attempt, last_error, next_attempt_at, .. } => {
            assert_eq!(attempt, 1);
            assert_eq!(last_error.code(), "keychain_unavailable");
            let now = thingstray::clock::unix_ms(env.clock.now()) / 1000;
            assert!(next_attempt_at >= now + 1800, "backs off, does not spin");
        }
        _ => unreachable!(),
    }
    // Meanwhile callers still get the valid token from memory.
    conn.session.token_valid_for(MIN).await.unwrap();
    refresher.abort();
    assert_eq!(refreshes(&env.sim), 0);
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
