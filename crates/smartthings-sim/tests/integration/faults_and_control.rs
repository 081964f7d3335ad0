//! Injected faults (decided before handling, so they never change state), stats, and
//! the `/__sim` control endpoints.

use std::time::{Duration, Instant};

use crate::common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use smartthings_sim::Faults;

fn refresh_form(rt: &str) -> Vec<(&'static str, String)> {
    vec![("grant_type", "refresh_token".to_string()), ("refresh_token", rt.to_string())]
}

async fn refresh(sim: &smartthings_sim::Sim, http: &reqwest::Client, rt: &str) -> reqwest::Result<reqwest::Response> {
    http.post(format!("{}/token", sim.auth_url()))
        .header("authorization", basic(sim))
        .form(&refresh_form(rt))
        .send()
        .await
}

#[tokio::test]
async fn gateway_errors_on_the_token_endpoint_do_not_rotate_anything() {
    let sim = auto_sim().await;
    let http = http();
    let t = login(&sim, &http).await;
    let rt = t["refresh_token"].as_str().unwrap();
    sim.set_faults(Faults { route_prefix: "/oauth/token".into(), error_5xx: 1.0, ..Faults::default() });
    for _ in 0..5 {
        let resp = refresh(&sim, &http, rt).await.unwrap();
        assert!([500, 502, 504].contains(&resp.status().as_u16()), "{}", resp.status());
        let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with("text/html") || ct.starts_with("text/plain"), "{ct}");
    }
    // the API is outside the prefix and unaffected
    assert_eq!(api_get(&sim, &http, &access(&t), "/devices").await.0, StatusCode::OK);
    sim.set_faults(Faults::default());
    let resp = refresh(&sim, &http, rt).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "the refresh token survived the 5xx answers");
    let stats = sim.stats();
    assert_eq!(stats.faults_injected, 5);
    assert_eq!(stats.faults_by_route.get("POST /oauth/token"), Some(&5), "{:?}", stats.faults_by_route);
    assert_eq!(stats.faults_by_route.len(), 1);
    assert_eq!(stats.token_grants.get("refresh_token"), Some(&1));
}

#[tokio::test]
async fn dropped_connections_are_connection_errors_and_change_nothing() {
    let sim = auto_sim().await;
    let http = http();
    let token = access(&login(&sim, &http).await);
    sim.set_faults(Faults { route_prefix: "/v1".into(), drop_connection: 1.0, ..Faults::default() });
    let err = http
        .post(format!("{}/devices/{LIVING_ROOM_LAMP}/commands", sim.api_url()))
        .bearer_auth(&token)
        .json(&json!({"commands": [{"component": "main", "capability": "switch", "command": "on", "arguments": []}]}))
        .send()
        .await
        .expect_err("no HTTP response at all");
    assert!(!err.is_status());
    assert_eq!(sim.device_attribute(LIVING_ROOM_LAMP, "main", "switch", "switch"), Some(json!("off")));
    // the alias without /v1 is the same route for faults
    assert!(http.get(format!("{}/devices", sim.base_url())).bearer_auth(&token).send().await.is_err());
    // control endpoints are never faulted
    let stats = http.get(format!("{}/__sim/stats", sim.base_url())).send().await.unwrap();
    assert_eq!(stats.status(), StatusCode::OK);
    sim.set_faults(Faults::default());
    assert_eq!(api_get(&sim, &http, &token, "/devices").await.0, StatusCode::OK);
}

#[tokio::test]
async fn rate_limits_look_like_smartthings() {
    let sim = auto_sim().await;
    let http = http();
    let token = access(&login(&sim, &http).await);
    sim.set_faults(Faults {
        route_prefix: "".into(),
        rate_limit: 1.0,
        rate_limit_reset_ms: 40585,
        ..Faults::default()
    });
    let resp = http.get(format!("{}/devices", sim.api_url())).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let h = resp.headers().clone();
    assert_eq!(h["x-ratelimit-limit"], "10");
    assert_eq!(h["x-ratelimit-remaining"], "0");
    assert_eq!(h["x-ratelimit-reset"], "40585");
    assert!(h.get("retry-after").is_none());
    let (_, body) = status_json(resp).await;
    assert_st_error(&body, "TooManyRequestError");
    assert_eq!(body["error"]["message"], "Too many requests: attempt 10 limit 10 - retry in 40585 millis");
}

#[tokio::test]
async fn malformed_bodies_and_delays() {
    let sim = auto_sim().await;
    let http = http();
    let token = access(&login(&sim, &http).await);
    sim.set_faults(Faults { route_prefix: "/v1/devices".into(), malformed_body: 1.0, ..Faults::default() });
    let resp = http.get(format!("{}/devices", sim.api_url())).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let text = resp.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");

    sim.set_faults(Faults { route_prefix: "/v1".into(), delay_ms: 300, delay_share: 1.0, ..Faults::default() });
    let t0 = Instant::now();
    assert_eq!(api_get(&sim, &http, &token, "/locations").await.0, StatusCode::OK);
    assert!(t0.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn stats_count_routes_grants_and_faults() {
    let sim = auto_sim().await;
    let http = http();
    let t = login(&sim, &http).await;
    let token = access(&t);
    api_get(&sim, &http, &token, "/devices").await;
    http.get(format!("{}/devices?page=0", sim.base_url())).bearer_auth(&token).send().await.unwrap();
    api_get(&sim, &http, &token, &format!("/devices/{LIVING_ROOM_LAMP}/status")).await;
    token_req_bad(&sim, &http).await;
    let s = sim.stats();
    assert_eq!(s.routes.get("GET /v1/devices"), Some(&2), "{:?}", s.routes);
    assert_eq!(s.routes.get("GET /v1/devices/{id}/status"), Some(&1));
    assert_eq!(s.routes.get("GET /oauth/authorize"), Some(&1));
    assert_eq!(s.routes.get("POST /oauth/token"), Some(&2));
    assert_eq!(s.token_requests, 2);
    assert_eq!(s.token_grants.get("authorization_code"), Some(&1));
    assert!(s.routes.keys().all(|k| !k.contains("__sim")));

    // the same over HTTP
    let (status, body) = status_json(http.get(format!("{}/__sim/stats", sim.base_url())).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["token_requests"], 2);
    assert_eq!(body["routes"]["GET /v1/devices"], 2);
}

async fn token_req_bad(sim: &smartthings_sim::Sim, http: &reqwest::Client) {
    let resp = token(sim, http, &[("grant_type", "refresh_token"), ("refresh_token", "nope")]).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn control_endpoints_drive_the_simulator() {
    let sim = auto_sim().await;
    let http = http();
    let base = sim.base_url();
    let post = |path: &str, body: Value| {
        let req = http.post(format!("{base}{path}")).json(&body);
        async move { status_json(req.send().await.unwrap()).await }
    };

    assert_eq!(post("/__sim/expires_in", json!({"seconds": 120})).await.0, StatusCode::OK);
    let t = login(&sim, &http).await;
    assert_eq!(t["expires_in"], 120);
    let token = access(&t);
    assert_eq!(post("/__sim/clock/advance", json!({"seconds": 121})).await.0, StatusCode::OK);
    assert_eq!(api_get(&sim, &http, &token, "/devices").await.0, StatusCode::UNAUTHORIZED);

    assert_eq!(post("/__sim/revoke", json!({})).await.0, StatusCode::OK);
    let resp = token_call(&sim, &http, t["refresh_token"].as_str().unwrap()).await;
    assert_eq!(resp, StatusCode::BAD_REQUEST);

    assert_eq!(post("/__sim/faults", json!({"route_prefix": "/v1", "error_5xx": 1.0})).await.0, StatusCode::OK);
    let token = access(&login(&sim, &http).await);
    assert!(api_get(&sim, &http, &token, "/devices").await.0.is_server_error());
    assert_eq!(post("/__sim/faults", json!({})).await.0, StatusCode::OK);
    assert_eq!(api_get(&sim, &http, &token, "/devices").await.0, StatusCode::OK);
    assert_eq!(post("/__sim/faults", json!({"error_5xx": "lots"})).await.0, StatusCode::BAD_REQUEST);

    let (status, dev) =
        status_json(http.get(format!("{base}/__sim/devices/{LOUNGE_LAMP_TEST_HOME}")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(dev["label"], "Lounge Lamp");
    assert_eq!(dev["online"], true);
    assert!(dev["status"]["components"]["main"]["switch"].is_object());
    let (status, _) = post(&format!("/__sim/devices/{LOUNGE_LAMP_TEST_HOME}/health"), json!({"online": false})).await;
    assert_eq!(status, StatusCode::OK);
    let (_, dev) =
        status_json(http.get(format!("{base}/__sim/devices/{LOUNGE_LAMP_TEST_HOME}")).send().await.unwrap()).await;
    assert_eq!(dev["online"], false);
    assert_eq!(post("/__sim/devices/nope/health", json!({"online": true})).await.0, StatusCode::NOT_FOUND);
}

async fn token_call(sim: &smartthings_sim::Sim, http: &reqwest::Client, rt: &str) -> StatusCode {
    refresh(sim, http, rt).await.unwrap().status()
}

#[tokio::test]
async fn a_timeout_holds_then_drops_and_never_rotates() {
    let sim = auto_sim().await;
    let http = http();
    let t = login(&sim, &http).await;
    let rt = t["refresh_token"].as_str().unwrap();
    sim.set_faults(Faults { route_prefix: "/oauth/token".into(), timeout: 1.0, timeout_ms: 200, ..Faults::default() });
    let t0 = Instant::now();
    let e = refresh(&sim, &http, rt).await.expect_err("no answer at all");
    assert!(t0.elapsed() >= Duration::from_millis(200), "held first: {e}");
    assert_eq!(sim.stats().faults_injected, 1);
    sim.set_faults(Faults::default());
    // The held request was never handled: the refresh token still works.
    assert_eq!(token_call(&sim, &http, rt).await, StatusCode::OK);
}

#[tokio::test]
async fn token_expiry_is_reported_without_the_token_in_a_url() {
    let sim = auto_sim().await;
    let http = http();
    let t = login(&sim, &http).await;
    let token = access(&t);
    let at = sim.access_token_expiry_ms(&token).expect("known token");
    assert!(at > sim.now_ms() && at <= sim.now_ms() + 86_400_000);
    let url = format!("{}/__sim/token-expiry", sim.base_url());
    let (status, body) = status_json(http.post(&url).json(&json!({"access_token": token})).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["expiresAtMs"], at);
    let (status, _) = status_json(http.post(&url).json(&json!({"access_token": "nope"})).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(sim.access_token_expiry_ms("nope"), None);
}

/// What each of 40 `GET /v1/devices` met: its status, or 0 for a dropped connection.
async fn fates(sim: &smartthings_sim::Sim, http: &reqwest::Client, token: &str) -> Vec<u16> {
    let mut out = Vec::new();
    for _ in 0..40 {
        let r = http.get(format!("{}/devices", sim.api_url())).bearer_auth(token).send().await;
        out.push(r.map(|r| r.status().as_u16()).unwrap_or(0));
    }
    out
}

#[tokio::test]
async fn seeded_faults_meet_the_same_requests_each_time_they_are_set() {
    let sim = auto_sim().await;
    let http = http();
    let token = access(&login(&sim, &http).await);
    let faults =
        Faults { route_prefix: "/v1".into(), error_5xx: 0.2, rate_limit: 0.2, seed: Some(7), ..Faults::default() };
    sim.set_faults(faults.clone());
    let first = fates(&sim, &http, &token).await;
    sim.set_faults(faults.clone());
    let again = fates(&sim, &http, &token).await;
    assert_eq!(first, again, "setting the same seeded faults again starts the same sequence");
    assert!(first.contains(&200) && first.contains(&429), "a mix of answers: {first:?}");
    sim.set_faults(Faults { seed: Some(8), ..faults });
    assert_ne!(fates(&sim, &http, &token).await, first, "another seed, another sequence");
}
