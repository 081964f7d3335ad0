//! The vault in trouble: it refuses writes (disk full, a locked keychain), it hands back
//! an old pair, another process reads it mid-rotation. The session must never spend a
//! dead refresh token nor lose the live one (issue 10).

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::common::{recorded_env, refreshes};
use secrecy::ExposeSecret;
use smartthings_sim::SimConfig;
use thingstray::clock::Clock;
use thingstray::config::Config;
use thingstray::session::Status;
use thingstray::vault::SecretStore;
use thingstray::Connection;

const MIN: Duration = Duration::from_secs(60);

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

/// Issue 10, item 3: a process whose lock did not hold (its file deleted while held) read
/// the pair just before another process rotated it, and spends the dead refresh token.
/// SmartThings says invalid_grant; marking "ended" then would overwrite the good new pair.
#[tokio::test]
async fn a_refused_refresh_token_that_was_already_replaced_never_ends_the_session() {
    let (env, rec) = recorded_env(SimConfig { expires_in: 600, ..SimConfig::default() }).await;
    let first = env.signed_in().await;
    let old_pair = rec.inner.get("home/tokens").unwrap();
    let config = Config::load(&env.paths).unwrap();
    let second =
        Connection::open_with(&env.paths, &config, env.vault.clone(), Some("home"), env.options()).await.unwrap();
    env.advance(Duration::from_secs(601));
    let new = second.session.token_valid_for(MIN).await.unwrap();
    *rec.stale_once.lock().unwrap() = old_pair;
    let got = first.session.token_valid_for(MIN).await.expect("the other process's pair is used");
    assert_eq!(got.secret(), new.secret());
    let stored: serde_json::Value =
        serde_json::from_str(rec.inner.get("home/tokens").unwrap().unwrap().expose_secret()).unwrap();
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
    assert_eq!(
        stats.token_requests,
        stats.token_grants.values().sum::<u64>(),
        "the spent refresh token was never sent"
    );
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
    let e = one_shot.session.token_valid_for(MIN).await.unwrap_err();
    assert_eq!(e.code(), "vault_write_failed");
    assert!(e.to_string().contains("was not refreshed"), "says nothing was spent: {e}");
    assert_eq!(env.sim.stats().token_requests, 1, "only the sign-in: no refresh token was spent");
    drop(one_shot); // the process exits: nothing was only in its memory
    rec.refuse.store(false, Ordering::SeqCst);
    let next =
        Connection::open_with(&env.paths, &config, env.vault.clone(), Some("home"), env.options()).await.unwrap();
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
    assert_eq!(
        conn.session.flush(Duration::ZERO).await.unwrap_err().code(),
        "vault_write_failed",
        "still refused: said so"
    );
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
    assert_eq!(
        stats.token_requests,
        stats.token_grants.values().sum::<u64>(),
        "the spent refresh token was never sent"
    );
    assert_eq!(rec.saved_access.lock().unwrap().last().unwrap(), third.secret());
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
