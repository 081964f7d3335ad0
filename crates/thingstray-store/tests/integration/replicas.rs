//! Several replicas, one session: single flight by the row's lock, the scheduler's claims,
//! a refused refresh judged only after a re-read, clocks that disagree.

use std::sync::Arc;
use std::time::Duration;

use smartthings_sim::SimConfig;
use thingstray::clock::ManualClock;
use thingstray_store::{Claimed, SchedulerOptions, Skew};

use crate::world::{until, World};

const MIN: Duration = Duration::from_secs(300);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_racing_for_an_expired_token_spend_the_refresh_token_once() {
    let w = World::new(SimConfig { expires_in: 3_600, ..SimConfig::default() }).await;
    let replicas = [w.replica().await, w.replica().await, w.replica().await];
    let id = w.sign_in(&replicas[0]).await.id;
    for r in &replicas {
        r.session(&id).await.unwrap().token_valid_for(MIN).await.unwrap();
    }
    w.advance(Duration::from_secs(3_601));
    let calls_before = w.sim.stats().token_requests;

    let mut tasks = Vec::new();
    for r in &replicas {
        for _ in 0..4 {
            let (r, id) = (r.clone(), id.clone());
            tasks.push(tokio::spawn(async move { r.session(&id).await?.token_valid_for(MIN).await }));
        }
    }
    let mut tokens = Vec::new();
    for t in tasks {
        tokens.push(t.await.unwrap().expect("every caller gets a token").secret().to_string());
    }
    tokens.dedup();
    assert_eq!(tokens.len(), 1, "one new token for all twelve callers");
    assert_eq!(w.refreshes(), 1, "one rotation");
    // Not merely one that worked: one call. (A replica that spent the same refresh token
    // without the row's lock would be refused, then read the stored pair: one rotation,
    // but a second call, which SmartThings may count as token reuse.)
    assert_eq!(w.sim.stats().token_requests - calls_before, 1, "one token-endpoint call for the one rotation");
    assert!(w.sim.accepts(&tokens[0]).await);
    assert_eq!(w.rotations(&id).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_whose_pair_is_old_reads_the_rotated_one_instead_of_ending_the_session() {
    let w = World::new(SimConfig { expires_in: 3_600, ..SimConfig::default() }).await;
    let (a, b) = (w.replica().await, w.replica().await);
    let id = w.sign_in(&a).await.id;
    let held_by_b = b.session(&id).await.unwrap();
    held_by_b.token_valid_for(MIN).await.unwrap();
    // A refreshes; B's memory still holds the pair whose refresh token is now dead.
    w.advance(Duration::from_secs(3_601));
    let fresh = a.session(&id).await.unwrap().token_valid_for(MIN).await.unwrap();
    // B, through the very Session object it held (no version check in between): its
    // refresh takes the row's lock, reads the stored pair, and uses it.
    let got = held_by_b.token_valid_for(MIN).await.expect("B serves the rotated pair");
    assert_eq!(got.secret(), fresh.secret());
    assert_eq!(w.refreshes(), 1);
    assert_eq!(w.row(a.store(), &id).await.unwrap().status, "active");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_token_smartthings_refused_ends_the_session_for_every_replica() {
    let w = World::new(SimConfig { expires_in: 3_600, ..SimConfig::default() }).await;
    let (a, b) = (w.replica().await, w.replica().await);
    let id = w.sign_in(&a).await.id;
    b.session(&id).await.unwrap();
    w.sim.revoke_refresh_tokens();
    w.advance(Duration::from_secs(3_601));
    let e = a.session(&id).await.unwrap().token_valid_for(MIN).await.unwrap_err();
    assert!(e.needs_sign_in(), "{e:?}");
    let row = w.row(a.store(), &id).await.unwrap();
    assert_eq!(row.status, "ended");
    assert!(row.ended.is_some());
    // B learns it from the row, without a token call of its own.
    let before = w.sim.stats().token_requests;
    let e = b.session(&id).await.unwrap().token_valid_for(MIN).await.unwrap_err();
    assert!(e.needs_sign_in(), "{e:?}");
    assert_eq!(w.sim.stats().token_requests, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn schedulers_on_three_replicas_refresh_each_due_session_once() {
    let w = World::new(SimConfig { expires_in: 3_600, ..SimConfig::default() }).await;
    let replicas = [w.replica().await, w.replica().await, w.replica().await];
    let oauth = w.sign_in(&replicas[0]).await.id;
    let mut ids = vec![oauth.clone()];
    for n in 0..12 {
        let id = format!("installation-{n}");
        replicas[n % 3].keep_grant(&id, &w.sim.schema_grant().to_string()).await.unwrap();
        ids.push(id);
    }
    let schedulers: Vec<_> = replicas
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let opts = SchedulerOptions {
                replica: format!("replica-{i}"),
                idle_check: Duration::from_millis(200),
                ..SchedulerOptions::default()
            };
            tokio::spawn(thingstray_store::scheduler::run(r.clone(), opts))
        })
        .collect();
    // Nothing is due yet: nobody refreshes.
    w.advance(Duration::from_secs(60));
    // 75 % through the hour every session is due.
    w.advance(Duration::from_secs(2_700));
    for id in &ids {
        until(Duration::from_secs(30), &format!("{id} refreshed"), || async { w.rotations(id).await >= 1 }).await;
    }
    for s in &schedulers {
        s.abort();
    }
    assert_eq!(w.refreshes(), 1, "the OAuth-In session once");
    assert_eq!(w.schema_refreshes(), 12, "each installation once");
    for id in &ids {
        assert_eq!(w.rotations(id).await, 1, "{id}");
        let t = replicas[1].session(id).await.unwrap().token_valid_for(MIN).await.unwrap();
        assert!(t.remaining(w.clock_now()) > Duration::from_secs(3_000), "{id}: the new pair is served");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_whose_clock_is_ahead_schedules_on_the_databases_clock() {
    let w = World::new(SimConfig { expires_in: 3_600, ..SimConfig::default() }).await;
    let signer = w.replica().await;
    let id = w.sign_in(&signer).await.id;
    // A replica whose clock runs 58 minutes ahead: by its own clock the hour-long token
    // has two minutes left, and it would refresh (or call it expired) for nothing.
    let ahead = ManualClock::new();
    ahead.advance(Duration::from_secs(58 * 60));
    let skewed = w.service(w.store_on(Arc::new(ahead), Skew::Measure).await).await;
    let t = skewed.session(&id).await.unwrap().token_valid_for(MIN).await.unwrap();
    assert_eq!(w.refreshes(), 0, "no refresh: the token has most of an hour left by the database's clock");
    let left = t.remaining(skewed.store().now());
    assert!(left > Duration::from_secs(3_000), "the remaining time is judged on the database's clock: {left:?}");
    // Its scheduler finds nothing due either.
    let due = skewed
        .store()
        .claim_due(skewed.store().now(), Duration::from_secs(60), 10, "skewed", f64::INFINITY)
        .await
        .unwrap()
        .sessions();
    assert!(due.is_empty(), "{due:?}");
}

impl World {
    pub fn clock_now(&self) -> std::time::SystemTime {
        thingstray::clock::Clock::now(&self.clock)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_one_refresh_budget_and_one_429_pause() {
    let w = World::new(SimConfig { expires_in: 3_600, ..SimConfig::default() }).await;
    let (a, b) = (w.replica().await, w.replica().await);
    for n in 0..6 {
        a.keep_grant(&format!("installation-{n}"), &w.sim.schema_grant().to_string()).await.unwrap();
    }
    w.advance(Duration::from_secs(2_760));
    let lease = Duration::from_secs(60);
    // A service rate of one refresh in 1000 s: a full bucket holds one refresh. Before the
    // budget was shared each replica had its own rate, and three replicas refreshed three
    // times as fast as the service was set to.
    let rate = 0.001;
    let first = a.store().claim_due(w.clock_now(), lease, 10, "a", rate).await.unwrap();
    assert_eq!(first.clone().sessions().len(), 1, "{first:?}");
    let again = b.store().claim_due(w.clock_now(), lease, 10, "b", rate).await.unwrap();
    match again {
        Claimed::OverBudget(wait) => assert!(wait > Duration::from_secs(900), "{wait:?}"),
        other => panic!("the other replica spends the same budget: {other:?}"),
    }
    // Without a budget the rest are there to claim.
    let rest = b.store().claim_due(w.clock_now(), lease, 10, "b", f64::INFINITY).await.unwrap().sessions();
    assert_eq!(rest.len(), 5);
    // One replica's 429 pauses them all, until SmartThings' reset.
    let until = w.clock_now() + Duration::from_secs(30);
    a.store().pause_refreshes(until).await.unwrap();
    w.advance(Duration::from_secs(120)); // every lease ends
    let before_reset = w.clock_now() - Duration::from_secs(100);
    match b.store().claim_due(before_reset, lease, 10, "b", f64::INFINITY).await.unwrap() {
        // PostgreSQL keeps microseconds.
        Claimed::Paused(p) => {
            assert!(p.duration_since(until).unwrap_or_else(|e| e.duration()) < Duration::from_millis(1))
        }
        other => panic!("the other replica pauses too: {other:?}"),
    }
    let all = b.store().claim_due(w.clock_now(), lease, 10, "b", f64::INFINITY).await.unwrap().sessions();
    assert_eq!(all.len(), 6, "the pause is over");
}
