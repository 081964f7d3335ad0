//! ST Schema installations' callback tokens in the store: kept from a forwarded grant,
//! refreshed like any session, and a forged grant never gets the connector's secret.

use std::time::Duration;

use smartthings_sim::SimConfig;

use crate::world::World;

const MIN: Duration = Duration::from_secs(300);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_becomes_a_session_every_replica_keeps_fresh() {
    let w = World::new(SimConfig { expires_in: 3_600, ..SimConfig::default() }).await;
    let (a, b) = (w.replica().await, w.replica().await);
    a.keep_grant("user-17", &w.sim.schema_grant().to_string()).await.unwrap();
    let row = w.row(a.store(), "user-17").await.unwrap();
    assert_eq!((row.kind.as_str(), row.status.as_str()), ("schema", "active"));
    for hour in 1..=5u64 {
        w.advance(Duration::from_secs(3_601));
        let r = if hour % 2 == 0 { &a } else { &b };
        let t = r.session("user-17").await.unwrap().token_valid_for(MIN).await.unwrap();
        assert!(w.sim.schema_accepts(t.secret()), "hour {hour}");
        assert_eq!(w.schema_refreshes(), hour, "one refresh an hour, whichever replica asks");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_naming_another_host_never_gets_the_connectors_secret() {
    let w = World::new(SimConfig::default()).await;
    let a = w.replica().await;
    let mut forged = w.sim.schema_grant();
    forged["callbackUrls"]["oauthToken"] = "https://attacker.example/token".into();
    let e = a.keep_grant("user-1", &forged.to_string()).await.unwrap_err();
    assert_eq!(e.code(), "schema_foreign_callback", "{e:?}");
    assert_eq!(w.sim.stats().schema_token_requests, 0);
    assert!(w.row(a.store(), "user-1").await.is_none(), "nothing kept");
    // Garbage is a clear error, and nothing is kept either.
    let e = a.keep_grant("user-1", "{not json").await.unwrap_err();
    assert!(!e.code().is_empty());
    assert!(a.store().sessions().await.unwrap().is_empty());
}
