//! ST Schema callback tokens (issue 13) against the simulator's ST Schema side, over real
//! HTTP on 127.0.0.1: a grant kept as a connection, refreshed over simulated days with
//! st-schema JSON, every globalError explained, two sessions racing, the trap of the form
//! POST to the OAuth-In endpoint. The clock is the manual one, moved with the simulator's.

use std::time::Duration;

use crate::common::Env;
use secrecy::SecretString;
use serde_json::Value;
use smartthings_sim::SimConfig;
use thingstray::config::Config;
use thingstray::connection::schema::keep;
use thingstray::schema::{parse_grant, state_callback, CallbackHosts, DeviceState};
use thingstray::Connection;

const MIN: Duration = Duration::from_secs(60);

fn secret(env: &Env) -> SecretString {
    SecretString::from(env.sim.schema_partner().client_secret.clone())
}

async fn kept(env: &Env) -> Connection {
    let grant = parse_grant(
        &env.sim.schema_grant().to_string(),
        &env.sim.schema_partner().client_id,
        CallbackHosts::AlsoLoopback,
    )
    .unwrap();
    keep(&env.paths, &env.vault, "connector", grant, secret(env), env.options()).await.expect("the grant is kept")
}

fn grants(env: &Env, interaction: &str) -> u64 {
    env.sim.stats().schema_token_grants.get(interaction).copied().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_becomes_a_connection_that_stays_fresh_for_days() {
    let env = Env::new(SimConfig { expires_in: 86_400, ..SimConfig::default() }).await;
    let conn = kept(&env).await;
    let settings = &Config::load(&env.paths).unwrap().connections["connector"];
    assert!(settings.schema.as_ref().is_some_and(|s| s.oauth_token.ends_with("/schema/oauth/token")), "{settings:?}");
    assert_eq!(
        env.vault
            .client_secret("connector")
            .await
            .unwrap()
            .map(|s| secrecy::ExposeSecret::expose_secret(&s).to_string()),
        Some(env.sim.schema_partner().client_secret.clone())
    );
    let first = conn.session.token_valid_for(MIN).await.unwrap();
    assert!(env.sim.schema_accepts(first.secret()));
    assert_eq!(grants(&env, "accessTokenRequest"), 1);

    for day in 1..=7u64 {
        env.advance(Duration::from_secs(86_400));
        let t = conn.session.token_valid_for(MIN).await.unwrap();
        assert!(env.sim.schema_accepts(t.secret()), "day {day}");
        assert_eq!(grants(&env, "refreshAccessTokens"), day, "one refresh a day");
        // Persisted before use: the vault holds the pair in use.
        assert_eq!(env.vault.tokens("connector").await.unwrap().unwrap().access_token.secret(), t.secret());
    }
    // Reopened (another process): the stored pair, no refresh.
    let again = Connection::open_with(
        &env.paths,
        &Config::load(&env.paths).unwrap(),
        env.vault.clone(),
        Some("connector"),
        env.options(),
    )
    .await
    .unwrap();
    again.session.token_valid_for(MIN).await.unwrap();
    assert_eq!(grants(&env, "refreshAccessTokens"), 7);
    assert!(conn.begin_sign_in().is_err(), "a connector's connection has no sign-in of its own");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sessions_racing_spend_the_refresh_token_once() {
    let env = Env::new(SimConfig { expires_in: 600, ..SimConfig::default() }).await;
    let a = kept(&env).await;
    let b = Connection::open_with(
        &env.paths,
        &Config::load(&env.paths).unwrap(),
        env.vault.clone(),
        Some("connector"),
        env.options(),
    )
    .await
    .unwrap();
    env.advance(Duration::from_secs(601));
    let (ta, tb) = tokio::join!(a.session.token_valid_for(MIN), b.session.token_valid_for(MIN));
    let (ta, tb) = (ta.unwrap(), tb.unwrap());
    assert_eq!(ta.secret(), tb.secret(), "both hold the one new pair");
    assert_eq!(grants(&env, "refreshAccessTokens"), 1);
    assert_eq!(env.sim.stats().schema_token_requests, 2, "the exchange and one refresh, nothing refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_is_explained_and_nothing_is_lost() {
    let env = Env::new(SimConfig::default()).await;
    let partner = env.sim.schema_partner().clone();
    let grant_json = env.sim.schema_grant().to_string();

    // A grant for another connector is refused before anything is sent.
    let e = parse_grant(&grant_json, "someone-elses-connector", CallbackHosts::AlsoLoopback).unwrap_err();
    assert!(e.to_string().contains(&partner.client_id), "{e}");
    // A wrong secret: SmartThings' INVALID-CLIENT-SECRET, explained; the code is not spent.
    let grant = parse_grant(&grant_json, &partner.client_id, CallbackHosts::AlsoLoopback).unwrap();
    let e = keep(
        &env.paths,
        &env.vault,
        "connector",
        grant,
        SecretString::from("not-the-secret".to_string()),
        env.options(),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), "schema_invalid_client_secret", "{e}");
    assert!(e.to_string().contains("Client Secret of the ST Schema connector"), "{e}");
    assert!(Config::load(&env.paths).unwrap().connections.is_empty(), "nothing kept");
    // The right one works; the same code again is INVALID-CODE.
    keep(
        &env.paths,
        &env.vault,
        "connector",
        parse_grant(&grant_json, &partner.client_id, CallbackHosts::AlsoLoopback).unwrap(),
        secret(&env),
        env.options(),
    )
    .await
    .unwrap();
    let e = keep(
        &env.paths,
        &env.vault,
        "again",
        parse_grant(&grant_json, &partner.client_id, CallbackHosts::AlsoLoopback).unwrap(),
        secret(&env),
        env.options(),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), "schema_invalid_code", "{e}");
    assert!(e.to_string().contains("works once"), "{e}");
    // The first connection is untouched by that.
    let conn = Connection::open_with(
        &env.paths,
        &Config::load(&env.paths).unwrap(),
        env.vault.clone(),
        Some("connector"),
        env.options(),
    )
    .await
    .unwrap();
    conn.session.token_valid_for(MIN).await.unwrap();

    // The user removes the integration: the next refresh ends the access, with the
    // reason, in this process and in the next one.
    reqwest::Client::new().post(format!("{}/__sim/schema/delete", env.sim.base_url())).send().await.unwrap();
    env.advance(Duration::from_secs(86_401));
    let e = conn.session.token_valid_for(MIN).await.unwrap_err();
    assert_eq!(e.code(), "schema_integration_deleted", "{e}");
    assert!(e.needs_sign_in() && e.to_string().contains("schema grant"), "{e}");
    let reopened = Connection::open_with(
        &env.paths,
        &Config::load(&env.paths).unwrap(),
        env.vault.clone(),
        Some("connector"),
        env.options(),
    )
    .await
    .unwrap();
    let e = reopened.session.token_valid_for(MIN).await.unwrap_err();
    assert_eq!(e.code(), "schema_integration_deleted", "{e}");
    assert_eq!(grants(&env, "refreshAccessTokens"), 0, "the ended pair is not tried again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_oauth_in_way_is_named_as_the_trap() {
    // A connection whose token address is the OAuth-In endpoint (what the seed's user
    // did): the answer is an OAuth error, and the message says where callback tokens go.
    let env = Env::new(SimConfig::default()).await;
    let conn = kept(&env).await;
    drop(conn);
    Config::update(&env.paths, |c| {
        let s = c.connections.get_mut("connector").unwrap();
        s.schema.as_mut().unwrap().oauth_token = format!("{}/oauth/token", env.sim.base_url());
        Ok(())
    })
    .unwrap();
    let conn = Connection::open_with(
        &env.paths,
        &Config::load(&env.paths).unwrap(),
        env.vault.clone(),
        Some("connector"),
        env.options(),
    )
    .await
    .unwrap();
    env.advance(Duration::from_secs(86_401));
    let e = conn.session.token_valid_for(MIN).await.unwrap_err();
    assert_eq!(e.code(), "schema_wrong_endpoint", "{e}");
    assert!(e.to_string().contains("callbackUrls.oauthToken") && e.to_string().contains("JSON st-schema body"), "{e}");
    // Not final: the pair is kept for when the address is right again.
    assert!(env.vault.tokens("connector").await.unwrap().unwrap().ended.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_callback_goes_through_with_the_current_token() {
    let env = Env::new(SimConfig { expires_in: 600, ..SimConfig::default() }).await;
    let conn = kept(&env).await;
    let url = conn.settings.schema.clone().unwrap().state_callback;
    let http = reqwest::Client::new();
    let state = DeviceState {
        external_device_id: "lamp-1",
        capability: "st.switch",
        attribute: "switch",
        value: Value::from("on"),
    };
    let t = conn.session.token_valid_for(MIN).await.unwrap();
    state_callback(&http, &url, t.secret(), &state).await.unwrap();
    env.advance(Duration::from_secs(601));
    let e = state_callback(&http, &url, t.secret(), &state).await.unwrap_err();
    assert!(thingstray::schema::token_refused(&e), "an expired token is a token problem: {e}");
    let events = env.sim.schema_events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["states"][0]["value"], "on");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_token_endpoint_is_retried_and_the_pair_kept() {
    use smartthings_sim::Faults;
    let env = Env::new(SimConfig { expires_in: 3600, ..SimConfig::default() }).await;
    let conn = kept(&env).await;
    let before = env.vault.tokens("connector").await.unwrap().unwrap();
    env.sim.set_faults(Faults { route_prefix: "/schema/oauth/token".into(), error_5xx: 1.0, ..Faults::default() });
    // 10 minutes left: the token still serves a caller who needs 5, while refreshes fail.
    env.advance(Duration::from_secs(3000));
    let e = conn.session.token_valid_for(Duration::from_secs(900)).await.unwrap_err();
    assert!(e.is_transient(), "a gateway error is transient: {e}");
    assert_eq!(
        conn.session.token_valid_for(Duration::from_secs(300)).await.unwrap().secret(),
        before.access_token.secret()
    );
    let stored = env.vault.tokens("connector").await.unwrap().unwrap();
    assert_eq!(stored.refresh_token.secret(), before.refresh_token.secret(), "nothing spent, nothing lost");
    env.sim.set_faults(Faults::default());
    let t = conn.session.token_valid_for(Duration::from_secs(900)).await.unwrap();
    assert!(env.sim.schema_accepts(t.secret()));
    assert_eq!(grants(&env, "refreshAccessTokens"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rest_api_is_not_asked_with_a_callback_token() {
    // SmartThings' REST API does not take a callback token: asked anyway, each 401 would
    // spend a refresh (the desktop polls devices every 30 s). Refused here, nothing sent.
    let env = Env::new(SimConfig::default()).await;
    let conn = kept(&env).await;
    let before = env.sim.stats();
    for _ in 0..3 {
        let e = conn.api.devices().await.unwrap_err();
        assert_eq!(e.code(), "schema_callback_token", "{e}");
        assert!(e.to_string().contains("stateCallback"), "{e}");
    }
    let after = env.sim.stats();
    assert_eq!(after.routes.get("GET /v1/devices"), before.routes.get("GET /v1/devices"), "no API request");
    assert_eq!(after.schema_token_requests, before.schema_token_requests, "no refresh");
}

/// Issue 25, item 7: while another process holds the connection's refresh lock (a `serve`
/// refreshing the old grant's pair), `schema grant` neither spends the new code nor writes
/// a pair; once the lock is free it does, and its pair is the one kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_waits_for_a_refresh_in_progress_and_spends_nothing_meanwhile() {
    let env = Env::new(SimConfig::default()).await;
    let partner = env.sim.schema_partner().clone();
    let grant_json = env.sim.schema_grant().to_string();
    let held = thingstray::session::RefreshLock::new(env.paths.lock_file("connector"))
        .acquire(Duration::from_secs(5))
        .await
        .unwrap();
    let mut opts = env.options();
    opts.session.lock_timeout = Duration::from_millis(300);
    let grant = parse_grant(&grant_json, &partner.client_id, CallbackHosts::AlsoLoopback).unwrap();
    let e = keep(&env.paths, &env.vault, "connector", grant, secret(&env), opts).await.unwrap_err();
    assert_eq!(e.code(), "io", "{e}");
    assert!(e.to_string().contains("another ThingsTray process"), "{e}");
    assert_eq!(env.sim.stats().schema_token_grants.values().sum::<u64>(), 0, "the code was not spent");
    assert!(env.vault.tokens("connector").await.unwrap().is_none(), "nothing written under the lock");
    drop(held);
    let grant = parse_grant(&grant_json, &partner.client_id, CallbackHosts::AlsoLoopback).unwrap();
    let conn = keep(&env.paths, &env.vault, "connector", grant, secret(&env), env.options()).await.unwrap();
    conn.session.token_valid_for(MIN).await.unwrap();
}
