//! Never lose a session across a failover to a standby (issue 28): the replicas open a
//! multi-host URL that follows the primary (`host1:P1,host2:P2 …
//! ?target_session_attrs=read-write`: tokio-postgres tries the hosts in turn and keeps
//! the first that takes writes), the primary crashes, the standby is promoted, and every
//! rotation SmartThings made is in the row the promoted standby serves, so long as the
//! standby is synchronous. With an asynchronous one the last rotation can be lost, and
//! the session with it: the documented limit, shown by the last test.

use std::sync::Arc;
use std::time::Duration;

use smartthings_sim::SimConfig;
use thingstray_store::{Skew, Store, StoreKey};
use thingstray_testkit::postgres::{Cluster, Replication};

use crate::world::{until, World};

const MIN: Duration = Duration::from_secs(300);
/// Past the simulator's hour-long access tokens.
const PAST_EXPIRY: Duration = Duration::from_secs(3_601);

/// A primary and a standby streaming from it, and the URL that follows whichever of the
/// two takes writes.
async fn primary_and_standby(replication: Replication) -> (Cluster, Arc<Cluster>, String) {
    let (primary, standby) = tokio::task::spawn_blocking(move || {
        let primary = Cluster::start_primary(replication)?;
        let standby = primary.start_standby()?;
        std::io::Result::Ok((primary, standby))
    })
    .await
    .unwrap()
    .expect("a primary and its standby start");
    let url = format!(
        "postgres://thingstray@127.0.0.1:{},127.0.0.1:{}/thingstray?target_session_attrs=read-write",
        primary.port(),
        standby.port()
    );
    (primary, Arc::new(standby), url)
}

async fn blocking<T: Send + 'static>(pg: &Arc<Cluster>, f: impl FnOnce(&Cluster) -> T + Send + 'static) -> T {
    let pg = pg.clone();
    tokio::task::spawn_blocking(move || f(&pg)).await.unwrap()
}

/// One value from a cluster, by psql.
async fn ask(pg: &Arc<Cluster>, sql: &str) -> String {
    let sql = sql.to_string();
    blocking(pg, move |pg| pg.psql(&sql)).await.expect("psql")
}

async fn rotations_on(pg: &Arc<Cluster>, id: &str) -> i64 {
    let n = ask(pg, &format!("SELECT rotations FROM thingstray_sessions WHERE id = '{id}'")).await;
    n.parse().unwrap_or(-1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failover_to_a_synchronous_standby_loses_no_rotation() {
    let (primary, standby, url) = primary_and_standby(Replication::Synchronous).await;
    let w = World::on(SimConfig { expires_in: 3_600, ..SimConfig::default() }, primary, url).await;
    let a = w.replica().await;
    let described = a.store().describe().to_string();
    for port in [w.pg.port(), standby.port()] {
        assert!(described.contains(&format!("127.0.0.1:{port}")), "both servers in {described}");
    }
    let id = w.sign_in(&a).await.id;
    let mut last = String::new();
    for _ in 0..3 {
        w.advance(PAST_EXPIRY);
        last = a.session(&id).await.unwrap().token_valid_for(MIN).await.expect("a refresh").secret().to_string();
    }
    assert_eq!(w.refreshes(), 3);
    assert_eq!(w.rotations(&id).await, 3);

    // The primary crashes right after the last commit; the standby takes over.
    w.pg(|pg| pg.kill()).await.expect("kill the primary");
    // Until the promotion no server takes writes: the URL finds none (the primary refuses
    // connections, the standby is read-only), and a store cannot open...
    let key = StoreKey::from_base64(&w.key).unwrap();
    let e = Store::open_with_clock(&w.url(), key, Arc::new(w.clock.clone()), Skew::Trust)
        .await
        .expect_err("no read-write server");
    assert_eq!(e.code(), "store_unavailable", "{e:?}");
    // ...while A goes on serving the valid token it holds.
    let held = a.session(&id).await.unwrap().token_valid_for(MIN).await.expect("served from memory");
    assert_eq!(held.secret(), last);
    blocking(&standby, |s| s.promote()).await.expect("promote the standby");
    assert_eq!(rotations_on(&standby, &id).await, 3, "every acknowledged rotation is on the standby");

    // A replica started now opens the same URL and lands on the promoted standby.
    let b = w.replica().await;
    let t = b.session(&id).await.unwrap().token_valid_for(MIN).await.expect("B serves the stored pair");
    assert_eq!(t.secret(), last, "the last rotation's pair, not an older one");
    assert!(w.sim.accepts(t.secret()).await);
    assert_eq!(w.refreshes(), 3, "nothing to refresh yet");

    // A's pool held connections to the dead primary. Past expiry it must refresh, so it
    // has to reach the new primary (the pool drops the broken connections and connects
    // again through the URL).
    w.advance(PAST_EXPIRY);
    until(Duration::from_secs(30), "A refreshing through the promoted standby", || async {
        match a.session(&id).await {
            Ok(s) => s.token_valid_for(MIN).await.is_ok(),
            Err(_) => false,
        }
    })
    .await;
    let t = a.session(&id).await.unwrap().token_valid_for(MIN).await.unwrap();
    assert!(w.sim.accepts(t.secret()).await, "the simulator takes the token A hands out");
    assert_eq!(w.refreshes(), 4, "one refresh after the failover");
    assert_eq!(rotations_on(&standby, &id).await, 4, "SmartThings' rotations and the row's agree");
    let from_b = b.session(&id).await.unwrap().token_valid_for(MIN).await.expect("B serves A's new pair");
    assert_eq!(from_b.secret(), t.secret());
    assert_eq!(w.row(b.store(), &id).await.unwrap().status, "active");
    let ended = ask(&standby, "SELECT count(*) FROM thingstray_sessions WHERE status <> 'active'").await;
    assert_eq!(ended, "0", "no session ended");
}

/// The documented limit, and why the docs say "synchronous replication": an asynchronous
/// standby that has not received the last rotation when the primary dies is promoted
/// with the pair before it. That pair's refresh token was spent at SmartThings, so the
/// first refresh after the failover is refused and the session ends: the user must sign
/// in again. (Here the standby misses it for certain: it is stopped before the rotation
/// and started again only once the primary is gone. In production it is a matter of
/// replication lag.) The replica that made the rotation is gone too, as it would be if it
/// restarted in the failover; one that lived on would still hold the newer pair and put it
/// back in the row (the core's older-pair backstop), but only if it got to the row first.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn limit_an_asynchronous_standby_can_miss_the_last_rotation_and_the_session_then_ends() {
    let (primary, standby, url) = primary_and_standby(Replication::Asynchronous).await;
    let w = World::on(SimConfig { expires_in: 3_600, ..SimConfig::default() }, primary, url).await;
    let a = w.replica().await;
    let id = w.sign_in(&a).await.id;
    let pg = w.pg.clone();
    blocking(&standby, move |s| s.catch_up(&pg)).await.expect("the standby has the sign-in");
    blocking(&standby, |s| s.stop()).await.expect("stop the standby");

    // A rotation the primary commits, and only the primary has.
    w.advance(PAST_EXPIRY);
    let rotated = a.session(&id).await.unwrap().token_valid_for(MIN).await.expect("a refresh on the primary");
    assert_eq!(w.refreshes(), 1);
    assert_eq!(w.rotations(&id).await, 1);
    drop(a);

    w.pg(|pg| pg.kill()).await.expect("kill the primary");
    blocking(&standby, |s| s.start_again().and_then(|_| s.promote())).await.expect("the standby takes over");
    assert_eq!(rotations_on(&standby, &id).await, 0, "the promoted standby holds the sign-in's pair");

    let c = w.replica().await;
    let before = w.sim.stats().token_requests;
    let e = c.session(&id).await.unwrap().token_valid_for(MIN).await.expect_err("the old refresh token is refused");
    assert!(e.needs_sign_in(), "{e:?}");
    assert_eq!(w.sim.stats().token_requests, before + 1, "one refresh with the spent token, refused");
    assert_eq!(w.refreshes(), 1, "SmartThings granted nothing more");
    let row = w.row(c.store(), &id).await.unwrap();
    assert_eq!(row.status, "ended");
    assert!(row.ended.is_some());
    // SmartThings still honours the pair the store lost: only the store forgot it.
    assert!(w.sim.accepts(rotated.secret()).await);
}
