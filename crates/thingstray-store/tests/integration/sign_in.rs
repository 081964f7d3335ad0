//! Sign-ins for many users: started on one replica, finished on another, used once, and
//! one sign-in per app and location (a second one replaces the first's session).

use std::time::Duration;

use smartthings_sim::SimConfig;
use thingstray::error::Error;

use crate::world::World;

const MIN: Duration = Duration::from_secs(300);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_started_on_one_replica_finishes_on_another() {
    let w = World::new(SimConfig::default()).await;
    let (a, b) = (w.replica().await, w.replica().await);
    let signed = w.sign_in_across(&a, &b, Some("alice")).await;
    assert!(signed.location_id.is_some(), "the location is learnt at once: {signed:?}");
    assert!(signed.replaced.is_empty());

    // Both replicas hand out the same token; neither asked SmartThings again.
    let ta = a.session(&signed.id).await.unwrap().token_valid_for(MIN).await.unwrap();
    let tb = b.session(&signed.id).await.unwrap().token_valid_for(MIN).await.unwrap();
    assert_eq!(ta.secret(), tb.secret());
    assert!(w.sim.accepts(ta.secret()).await);
    assert_eq!(w.sim.stats().token_grants.get("authorization_code"), Some(&1));
    assert_eq!(w.refreshes(), 0);

    let rows = a.store().sessions().await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].kind.as_str(), rows[0].name.as_deref(), rows[0].status.as_str()),
        ("oauth", Some("alice"), "active")
    );
    assert_eq!(rows[0].location_id, signed.location_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_is_used_once_and_expires() {
    let w = World::new(SimConfig::default()).await;
    let svc = w.replica().await;
    let started = svc.start_sign_in(None).await.unwrap();
    let redirect = smartthings_sim::browser::decide(&started.authorize_url, "authorize").await;
    let query = format!("?{}", redirect.split_once('?').unwrap().1);
    svc.finish_sign_in(&query).await.unwrap();
    // The same redirect again (a reload, a replay): no second session.
    let again = svc.finish_sign_in(&query).await.unwrap_err();
    assert!(matches!(again, Error::NoSignInPending), "{again:?}");
    assert_eq!(svc.store().sessions().await.unwrap().len(), 1);

    // A sign-in left half-way expires with its state.
    let late = svc.start_sign_in(None).await.unwrap();
    let redirect = smartthings_sim::browser::decide(&late.authorize_url, "authorize").await;
    w.clock.advance(thingstray::oauth::SIGN_IN_LIFETIME + Duration::from_secs(1));
    let e = svc.finish_sign_in(&format!("?{}", redirect.split_once('?').unwrap().1)).await.unwrap_err();
    assert!(matches!(e, Error::NoSignInPending), "{e:?}");

    // A forged state never reaches SmartThings.
    let before = w.sim.stats().token_requests;
    let e = svc.finish_sign_in("?code=abc&state=forged").await.unwrap_err();
    assert!(matches!(e, Error::NoSignInPending), "{e:?}");
    assert_eq!(w.sim.stats().token_requests, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sign_in_of_a_location_replaces_the_first() {
    let w = World::new(SimConfig::default()).await;
    let (a, b) = (w.replica().await, w.replica().await);
    let first = w.sign_in(&a).await;
    // B has it cached, as a replica serving it would.
    let old = b.session(&first.id).await.unwrap().token_valid_for(MIN).await.unwrap();
    let second = w.sign_in_across(&b, &a, None).await;
    // SmartThings keeps one installed app per app and location: the same id, a new pair,
    // the old refresh token dead. (Were it a new id, the older row would be in
    // `replaced` and removed: rows.rs, `put_session`/`locate_session`.)
    assert_eq!(second.id, first.id);
    assert_eq!(second.location_id, first.location_id);
    assert!(second.replaced.is_empty(), "{second:?}");
    let rows = a.store().sessions().await.unwrap();
    assert_eq!(rows.len(), 1);
    // The replica that held the first sign-in's pair serves the second's at once: the
    // row's version changed, so it reads the row before handing anything out.
    let now = b.session(&first.id).await.unwrap().token_valid_for(MIN).await.unwrap();
    assert_ne!(now.secret(), old.secret());
    assert!(w.sim.accepts(now.secret()).await);
    assert_eq!(w.refreshes(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uninstalled_session_is_never_served_again_by_any_replica() {
    let w = World::new(SimConfig::default()).await;
    let (a, b) = (w.replica().await, w.replica().await);
    let id = w.sign_in(&a).await.id;
    b.session(&id).await.unwrap().token_valid_for(MIN).await.unwrap();
    assert!(a.forget(&id).await.unwrap());
    let e = b.session(&id).await.unwrap_err();
    assert_eq!(e.code(), "unknown_connection");
    assert!(!a.forget(&id).await.unwrap(), "already gone");
}

/// The same location signed in twice at once, finished on two replicas: SmartThings keeps
/// the pair of whichever code exchange came last, so the store must keep that one too.
/// Before sign-ins took turns, the two commits could land in the other order and the
/// store kept the older pair, whose refresh token SmartThings had already killed: the
/// session ended at its next refresh (3 of 8 rounds here, in one run).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_sign_ins_of_one_location_finishing_at_once_keep_the_living_pair() {
    let w = World::new(SimConfig { expires_in: 3_600, ..SimConfig::default() }).await;
    let (a, b) = (w.replica().await, w.replica().await);
    for round in 0..8 {
        let mut queries = Vec::new();
        for svc in [&a, &b] {
            let started = svc.start_sign_in(None).await.unwrap();
            let redirect = smartthings_sim::browser::decide(&started.authorize_url, "authorize").await;
            queries.push(format!("?{}", redirect.split_once('?').unwrap().1));
        }
        let (ra, rb) = tokio::join!(a.finish_sign_in(&queries[0]), b.finish_sign_in(&queries[1]));
        let id = ra.unwrap().id;
        assert_eq!(rb.unwrap().id, id, "one installed app per location");
        // Past the access token's life: the stored refresh token must be the living one.
        w.advance(Duration::from_secs(3_600));
        let t = a.session(&id).await.unwrap().token_valid_for(MIN).await;
        assert!(t.is_ok(), "round {round}: the store kept a dead refresh token: {t:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_location_smartthings_did_not_say_at_sign_in_is_learnt_at_the_next_refresh() {
    let w = World::new(SimConfig { expires_in: 3_600, ..SimConfig::default() }).await;
    let a = w.replica().await;
    w.sim.set_faults(smartthings_sim::Faults {
        route_prefix: "/v1/installedapps".into(),
        error_5xx: 1.0,
        ..Default::default()
    });
    let signed = w.sign_in(&a).await;
    assert_eq!(signed.location_id, None, "the lookup failed: the sign-in still stands");
    w.sim.set_faults(smartthings_sim::Faults::default());
    let opts = thingstray_store::SchedulerOptions {
        replica: "a".into(),
        idle_check: Duration::from_millis(200),
        ..Default::default()
    };
    let scheduler = tokio::spawn(thingstray_store::scheduler::run(a.clone(), opts));
    w.advance(Duration::from_secs(2_701));
    // Without the second look, the row kept no location for good, and a later sign-in of
    // the same location never replaced it.
    crate::world::until(Duration::from_secs(20), "the location in the row", || async {
        w.row(a.store(), &signed.id).await.and_then(|r| r.location_id).is_some()
    })
    .await;
    scheduler.abort();
    assert_eq!(w.refreshes(), 1);
}
