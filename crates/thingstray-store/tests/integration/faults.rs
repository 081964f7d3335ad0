//! Never lose a session: a replica killed while it holds a refresh, PostgreSQL restarted
//! mid-run, a replica cut off from the database, the wrong key.

use std::time::Duration;

use secrecy::SecretString;
use smartthings_sim::{Faults, SimConfig};
use thingstray_store::{Skew, Store, StoreKey};

use crate::world::{until, World};

const MIN: Duration = Duration::from_secs(300);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_that_dies_holding_a_refresh_lets_another_finish_it() {
    let w = World::new(SimConfig { expires_in: 3_600, ..SimConfig::default() }).await;
    let (a, b) = (w.replica().await, w.replica().await);
    let id = w.sign_in(&a).await.id;
    w.advance(Duration::from_secs(3_601));
    // SmartThings' gateway holds A's token request without handing it on.
    w.sim.set_faults(Faults {
        route_prefix: "/oauth/token".into(),
        timeout: 1.0,
        timeout_ms: 60_000,
        ..Faults::default()
    });
    let before = w.sim.stats().token_requests;
    let doomed = {
        let (a, id) = (a.clone(), id.clone());
        tokio::spawn(async move { a.session(&id).await?.token_valid_for(MIN).await })
    };
    until(Duration::from_secs(10), "A's request at the gateway", || async { w.sim.stats().token_requests > before })
        .await;
    // B cannot take the row while A holds it.
    let waiting =
        b.store().claim_due(w.clock_now(), Duration::from_secs(60), 10, "b", f64::INFINITY).await.unwrap().sessions();
    assert!(waiting.is_empty(), "the row A is refreshing is skipped, not claimed: {waiting:?}");
    // A dies: its task, its transaction and its connections go (PostgreSQL ends the
    // transaction and lets go of the row).
    doomed.abort();
    drop(a);
    w.sim.set_faults(Faults::default());
    let t = b.session(&id).await.unwrap().token_valid_for(MIN).await.expect("B refreshes with the stored pair");
    assert!(w.sim.accepts(t.secret()).await);
    assert_eq!(w.refreshes(), 1);
    assert_eq!(w.row(b.store(), &id).await.unwrap().status, "active");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_cut_off_from_the_database_serves_what_it_holds_and_never_refreshes() {
    let w = World::new(SimConfig { expires_in: 3_600, ..SimConfig::default() }).await;
    let a = w.replica().await;
    let id = w.sign_in(&a).await.id;
    let held = a.session(&id).await.unwrap().token_valid_for(MIN).await.unwrap();

    w.pg(|pg| pg.kill()).await.unwrap();
    // Still valid: served from memory, again and again, without waiting on the database.
    for _ in 0..3 {
        let t = a.session(&id).await.expect("served while the store is away").token_valid_for(MIN).await.unwrap();
        assert_eq!(t.secret(), held.secret());
    }
    // Expired: a refresh needs the row's lock, which it cannot take. It says so and
    // never spends the refresh token.
    w.advance(Duration::from_secs(3_601));
    let e = a.session(&id).await.unwrap().token_valid_for(MIN).await.unwrap_err();
    assert_eq!(e.code(), "store_unavailable", "{e:?}");
    assert!(e.is_transient());
    assert_eq!(w.sim.stats().token_requests, 1, "only the sign-in's exchange reached SmartThings");

    // PostgreSQL back: the same replica refreshes, once.
    w.pg(|pg| pg.start_again()).await.unwrap();
    until(Duration::from_secs(30), "a token after the restart", || async {
        match a.session(&id).await {
            Ok(s) => s.token_valid_for(MIN).await.is_ok(),
            Err(_) => false,
        }
    })
    .await;
    assert_eq!(w.refreshes(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_restarted_while_a_refresh_is_in_flight_loses_nothing() {
    let w = World::new(SimConfig { expires_in: 3_600, ..SimConfig::default() }).await;
    let (a, b) = (w.replica().await, w.replica().await);
    let id = w.sign_in(&a).await.id;
    let session = a.session(&id).await.unwrap();
    w.advance(Duration::from_secs(3_601));
    // SmartThings answers after 1.5 s; PostgreSQL restarts in between, so A's
    // transaction (and its row lock) is gone when the new pair arrives.
    w.sim.set_faults(Faults {
        route_prefix: "/oauth/token".into(),
        delay_ms: 1_500,
        delay_share: 1.0,
        ..Faults::default()
    });
    let before = w.sim.stats().token_requests;
    let refresh = {
        let session = session.clone();
        tokio::spawn(async move { session.token_valid_for(MIN).await })
    };
    until(Duration::from_secs(10), "A's request at SmartThings", || async { w.sim.stats().token_requests > before })
        .await;
    w.pg(|pg| pg.kill().and_then(|_| pg.start_again())).await.unwrap();
    let first = refresh.await.unwrap();
    w.sim.set_faults(Faults::default());
    assert_eq!(w.refreshes(), 1, "SmartThings rotated the pair once");
    // Whatever A's call answered, the new pair is in the row before anyone uses it, and
    // every replica serves it.
    let got = until_token(&session, &first).await;
    let t = b.session(&id).await.unwrap().token_valid_for(MIN).await.expect("B serves the new pair");
    assert_eq!(t.secret(), got);
    assert!(w.sim.accepts(&got).await);
    assert_eq!(w.refreshes(), 1, "nobody spent the dead refresh token");
    assert_eq!(w.row(b.store(), &id).await.unwrap().status, "active");
}

/// A's token once its pair is durable: the answer it gave, or the one it gives when asked
/// again (an unsaved pair is written before it is handed out).
async fn until_token(
    session: &thingstray::session::Session,
    first: &thingstray::error::Result<thingstray::token::AccessGrant>,
) -> String {
    if let Ok(t) = first {
        return t.secret().to_string();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match session.token_valid_for(MIN).await {
            Ok(t) => return t.secret().to_string(),
            Err(e) => assert!(tokio::time::Instant::now() < deadline, "A never saved its new pair: {e:?}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_with_another_key_is_refused_and_changes_nothing() {
    let w = World::new(SimConfig::default()).await;
    let a = w.replica().await;
    let id = w.sign_in(&a).await.id;
    let other = StoreKey::from_base64(&StoreKey::generate()).unwrap();
    let e =
        Store::open_with_clock(&w.url(), other, std::sync::Arc::new(w.clock.clone()), Skew::Trust).await.unwrap_err();
    assert_eq!(e.code(), "store_key", "{e:?}");
    assert!(!e.to_string().contains(secrecy::ExposeSecret::expose_secret(&w.key)));
    // A malformed key says what a key is.
    let e = StoreKey::from_base64(&SecretString::from("not-a-key")).unwrap_err();
    assert!(e.to_string().contains("32"), "{e}");
    // The right key still opens everything.
    assert!(a.session(&id).await.unwrap().token_valid_for(MIN).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pair_the_row_could_not_take_is_stored_as_soon_as_the_database_is_back() {
    let w = World::new(SimConfig { expires_in: 3_600, ..SimConfig::default() }).await;
    let (a, b) = (w.replica().await, w.replica().await);
    let id = w.sign_in(&a).await.id;
    // A's scheduler refreshes the due session; SmartThings answers after 1.5 s, and
    // PostgreSQL restarts in between.
    w.sim.set_faults(Faults {
        route_prefix: "/oauth/token".into(),
        delay_ms: 1_500,
        delay_share: 1.0,
        ..Faults::default()
    });
    let opts = thingstray_store::SchedulerOptions {
        replica: "a".into(),
        idle_check: Duration::from_millis(200),
        ..Default::default()
    };
    let scheduler = tokio::spawn(thingstray_store::scheduler::run(a.clone(), opts));
    let before = w.sim.stats().token_requests;
    w.advance(Duration::from_secs(2_701));
    until(Duration::from_secs(10), "A's scheduled refresh at SmartThings", || async {
        w.sim.stats().token_requests > before
    })
    .await;
    w.pg(|pg| pg.kill().and_then(|_| pg.start_again())).await.unwrap();
    until(Duration::from_secs(10), "SmartThings' answer", || async { w.refreshes() == 1 }).await;
    // Nobody asks A for this session again (its scheduler is gone too): A stores the pair
    // on its own.
    scheduler.abort();
    until(Duration::from_secs(30), "the new pair in the row", || async { w.rotations(&id).await == 1 }).await;
    w.sim.set_faults(Faults::default());
    let t = b.session(&id).await.unwrap().token_valid_for(MIN).await.unwrap();
    assert!(w.sim.accepts(t.secret()).await);
    assert_eq!(w.refreshes(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_wait_cut_short_never_leaves_an_open_transaction_in_the_pool() {
    use thingstray::session::keep::SharedPair;
    let w = World::new(SimConfig::default()).await;
    let a = w.replica().await;
    let id = w.sign_in(&a).await.id;
    // Managed PostgreSQL often sets a statement timeout per role: the lock wait must not
    // end with that error and leave its connection mid-transaction in the pool.
    w.pg(|pg| pg.psql("ALTER ROLE thingstray SET statement_timeout = 300")).await.unwrap();
    let store = w.store().await;
    let held =
        thingstray_store::pair::RowPair::new(store.clone(), id.clone()).lock(Duration::from_secs(5)).await.unwrap();
    let e = match thingstray_store::pair::RowPair::new(store.clone(), id.clone()).lock(Duration::from_secs(1)).await {
        Ok(_) => panic!("the row is held"),
        Err(e) => e,
    };
    assert_eq!(e.code(), "store_unavailable");
    assert!(e.to_string().contains("held session"), "the lock wait ended by its own timeout: {e}");
    drop(held);
    for _ in 0..20 {
        store.sessions().await.expect("every pooled connection is usable");
    }
}
