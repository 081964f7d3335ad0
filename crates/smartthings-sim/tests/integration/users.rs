//! Many accounts (`SimConfig::users`, `sim_user=K`): each user signs in to their own
//! location through one app, sees only their own home, and SmartThings' one sign-in per
//! (app, location) holds per user.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::Value;
use smartthings_sim::{user_device_id, user_location_id, user_room_id, Sim, SimConfig};

use crate::common::*;

async fn users_sim(users: usize) -> Sim {
    start(SimConfig { auto_approve: true, users, ..SimConfig::default() }).await
}

/// The code in the redirect of `sim.user_authorize_url(k, ..)`.
async fn user_code(sim: &Sim, k: usize) -> String {
    let resp = http().get(sim.user_authorize_url(k, "st-123")).send().await.expect("authorize request");
    assert_eq!(resp.status(), StatusCode::FOUND, "authorize should redirect");
    let (_, p) = location_params(&resp);
    assert_eq!(p.get("state").map(String::as_str), Some("st-123"));
    p.get("code").cloned().expect("a code in the redirect")
}

/// Signs user K in through the configured app: the token body.
async fn sign_in(sim: &Sim, k: usize) -> Value {
    let code = user_code(sim, k).await;
    let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", REDIRECT)];
    let (status, body) = status_json(token(sim, &http(), &form).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn refresh(sim: &Sim, tokens: &Value) -> (StatusCode, Value) {
    let rt = tokens["refresh_token"].as_str().expect("refresh_token");
    status_json(token(sim, &http(), &[("grant_type", "refresh_token"), ("refresh_token", rt)]).await).await
}

fn ids(body: &Value, key: &str) -> BTreeSet<String> {
    body["items"].as_array().expect("items").iter().map(|i| i[key].as_str().expect("an id").to_string()).collect()
}

#[tokio::test]
async fn each_user_sees_only_their_own_home() {
    let sim = users_sim(4).await;
    let http = http();
    assert_eq!(sim.users(), 4);
    assert_eq!(sim.user_location_id(0).as_deref(), Some(HOME));
    assert_eq!(sim.user_location_id(4), None);
    let mut installed = BTreeSet::new();
    for k in 1..=3 {
        let tokens = sign_in(&sim, k).await;
        let at = access(&tokens);
        let loc = user_location_id(k);
        assert_eq!(sim.user_location_id(k).as_deref(), Some(loc.as_str()));
        installed.insert(tokens["installed_app_id"].as_str().expect("installed_app_id").to_string());

        let (s, body) = api_get(&sim, &http, &at, "/locations").await;
        assert_eq!(s, StatusCode::OK, "{body}");
        assert_eq!(ids(&body, "locationId"), BTreeSet::from([loc.clone()]));

        let (s, body) = api_get(&sim, &http, &at, "/devices").await;
        assert_eq!(s, StatusCode::OK, "{body}");
        let want: BTreeSet<String> = sim.user_device_ids(k).expect("K < N").into_iter().collect();
        assert_eq!(want.len(), 4);
        assert_eq!(ids(&body, "deviceId"), want);
        assert!(body["items"].as_array().unwrap().iter().all(|d| d["locationId"] == loc.as_str()), "{body}");

        let (s, body) = api_get(&sim, &http, &at, &format!("/locations/{loc}/rooms")).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        assert_eq!(ids(&body, "roomId"), BTreeSet::from([user_room_id(k, 0), user_room_id(k, 1)]));

        let install = tokens["installed_app_id"].as_str().unwrap();
        let (s, body) = api_get(&sim, &http, &at, &format!("/installedapps/{install}")).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        assert_eq!(body["locationId"], loc.as_str());
        assert_eq!(body["appId"], sim.client_app_id().as_str());

        // Another user's location, rooms and devices, and the configured home: refused.
        let other = if k == 1 { 2 } else { 1 };
        let (s, body) = api_get(&sim, &http, &at, &format!("/locations/{}", user_location_id(other))).await;
        assert!(s == StatusCode::FORBIDDEN || s == StatusCode::NOT_FOUND, "{s} {body}");
        let (s, body) = api_get(&sim, &http, &at, &format!("/locations/{HOME}/rooms")).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
        assert_st_error(&body, "ForbiddenError");
        let (s, _) = api_get(&sim, &http, &at, &format!("/devices/{LIVING_ROOM_LAMP}")).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, body) = api_get(&sim, &http, &at, &format!("/devices?locationId={HOME}")).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        assert!(body["items"].as_array().unwrap().is_empty(), "{body}");
        let (s, body) = api_get(&sim, &http, &at, "/scenes").await;
        assert_eq!(s, StatusCode::OK, "{body}");
        assert!(body["items"].as_array().unwrap().is_empty(), "{body}");
    }
    assert_eq!(installed.len(), 3, "one installed app per user");

    // User 1 controls their own lamp; user 2's copy of it is untouched.
    let u1 = sign_in(&sim, 1).await;
    let lamp1 = user_device_id(1, 0);
    let (s, body) = api_post(
        &sim,
        &http,
        &access(&u1),
        &format!("/devices/{lamp1}/commands"),
        &serde_json::json!({"commands": [cmd("switch", "on", serde_json::json!([]))]}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(sim.device_attribute(&lamp1, "main", "switch", "switch"), Some("on".into()));
    assert_ne!(sim.device_attribute(&user_device_id(2, 0), "main", "switch", "switch"), Some("on".into()));
    let (s, _) = api_get(&sim, &http, &access(&u1), &format!("/devices/{}/status", user_device_id(2, 0))).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // A personal access token is user 0's: the configured home, no other user's.
    let pat = pat(&sim, &["r:locations:*", "r:devices:*", "r:installedapps:*"]);
    let (_, body) = api_get(&sim, &http, &pat, "/locations").await;
    assert_eq!(ids(&body, "locationId"), BTreeSet::from([HOME.to_string(), TEST_HOME.to_string()]));
    let (_, body) = api_get(&sim, &http, &pat, "/devices").await;
    assert!(ids(&body, "deviceId").iter().all(|d| !d.starts_with("de71ce")), "{body}");
    let (s, _) = api_get(&sim, &http, &pat, &format!("/devices/{lamp1}")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (_, body) = api_get(&sim, &http, &pat, "/installedapps").await;
    assert!(body["items"].as_array().unwrap().is_empty(), "{body}");
}

#[tokio::test]
async fn a_second_sign_in_ends_only_that_users_first() {
    let sim = users_sim(4).await;
    let first: Vec<Value> = {
        let mut v = Vec::new();
        for k in 1..=3 {
            v.push(sign_in(&sim, k).await);
        }
        v
    };
    let again = sign_in(&sim, 2).await;
    assert_eq!(again["installed_app_id"], first[1]["installed_app_id"], "one installed app per app and location");

    // User 2's first refresh token is dead; its access token lives until it expires.
    let (s, body) = refresh(&sim, &first[1]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    assert!(sim.accepts(&access(&first[1])).await);
    // Users 1 and 3 are untouched, and the second sign-in refreshes.
    for tokens in [&first[0], &first[2], &again] {
        let (s, body) = refresh(&sim, tokens).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        assert_eq!(body["installed_app_id"], tokens["installed_app_id"]);
    }
}

#[tokio::test]
async fn stats_count_token_calls_per_installed_app() {
    let sim = users_sim(3).await;
    let u1 = sign_in(&sim, 1).await;
    let u2 = sign_in(&sim, 2).await;
    let (s, r1) = refresh(&sim, &u1).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = refresh(&sim, &r1).await;
    assert_eq!(s, StatusCode::OK);
    // A refused refresh of a token the simulator still knows (past its 30 days) concerns
    // user 2 all the same.
    sim.advance_clock(std::time::Duration::from_secs(31 * 86_400));
    let (s, body) = refresh(&sim, &u2).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    // An unknown refresh token concerns no installed app.
    let (s, _) =
        status_json(token(&sim, &http(), &[("grant_type", "refresh_token"), ("refresh_token", "nope")]).await).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    let stats = sim.stats();
    let id = |t: &Value| t["installed_app_id"].as_str().unwrap().to_string();
    assert_eq!(stats.token_calls_by_installed_app.get(&id(&u1)), Some(&3), "{stats:?}");
    assert_eq!(stats.token_calls_by_installed_app.get(&id(&u2)), Some(&2), "{stats:?}");
    assert_eq!(stats.token_calls_by_installed_app.len(), 2);
    assert_eq!(stats.token_requests, 6);

    // The control endpoint serializes it too.
    let body: Value = reqwest::get(format!("{}/__sim/stats", sim.base_url())).await.unwrap().json().await.unwrap();
    assert_eq!(body["token_calls_by_installed_app"][id(&u1)], 3, "{body}");
}

#[tokio::test]
async fn a_hundred_thousand_users_start_and_the_last_signs_in() {
    let sim = users_sim(100_000).await;
    let tokens = sign_in(&sim, 99_999).await;
    let (s, body) = api_get(&sim, &http(), &access(&tokens), "/locations").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(ids(&body, "locationId"), BTreeSet::from(["10ca7100-0000-4000-8000-00000001869f".to_string()]));
}

#[tokio::test]
async fn unknown_users_are_refused_before_any_code() {
    let sim = users_sim(3).await;
    let http = http();
    for bad in ["3", "-1", "x", "", "18446744073709551616"] {
        let resp = authorize(&sim, &http, &[("sim_user", bad)]).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "sim_user={bad}");
        assert!(resp.headers().get("location").is_none());
        assert!(resp.text().await.unwrap().starts_with("Unknown sim_user"), "sim_user={bad}");
    }
    // The usual checks come first: a bad redirect URI is still the plain-text 400.
    let resp = authorize(&sim, &http, &[("sim_user", "9"), ("redirect_uri", "https://evil.invalid/")]).await;
    assert_eq!(resp.text().await.unwrap(), "'redirect_uri' could not be validated");
    // A user cannot pick another user's location, nor user 0's.
    let resp = authorize(&sim, &http, &[("sim_user", "1"), ("location_id", HOME)]).await;
    let (_, p) = location_params(&resp);
    assert_eq!(p.get("error").map(String::as_str), Some("invalid_request"));
    let other = user_location_id(2);
    let resp = authorize(&sim, &http, &[("sim_user", "1"), ("location_id", &other)]).await;
    let (_, p) = location_params(&resp);
    assert_eq!(p.get("error").map(String::as_str), Some("invalid_request"));
    // One user: sim_user=0 is the configured account, sim_user=1 does not exist.
    let one = users_sim(1).await;
    assert_eq!(authorize(&one, &http, &[("sim_user", "0")]).await.status(), StatusCode::FOUND);
    assert_eq!(authorize(&one, &http, &[("sim_user", "1")]).await.status(), StatusCode::BAD_REQUEST);
    assert!(Sim::start(SimConfig { users: 0, ..SimConfig::default() }).await.is_err());
}

#[tokio::test]
async fn the_sign_in_page_offers_only_the_users_locations() {
    let sim = start(SimConfig { users: 3, ..SimConfig::default() }).await;
    // User 2 through the page (no auto-approve): the page offers user 2's location only.
    let page = http().get(sim.user_authorize_url(2, "s")).send().await.unwrap().text().await.unwrap();
    assert_eq!(page.matches("<option").count(), 1, "{page}");
    assert!(page.contains(&user_location_id(2)));
    let redirect = smartthings_sim::browser::approve(&sim.user_authorize_url(2, "s")).await;
    let code = url::Url::parse(&redirect).unwrap().query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
    let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", REDIRECT)];
    let (s, tokens) = status_json(token(&sim, &http(), &form).await).await;
    assert_eq!(s, StatusCode::OK, "{tokens}");
    let (_, body) = api_get(&sim, &http(), &access(&tokens), "/locations").await;
    assert_eq!(ids(&body, "locationId"), BTreeSet::from([user_location_id(2)]));
    // User 0's page lists the configured home's locations and none of the built users'.
    let page = http().get(sim.user_authorize_url(0, "s")).send().await.unwrap().text().await.unwrap();
    assert_eq!(page.matches("<option").count(), 2, "{page}");
    assert!(!page.contains("10ca7100-"), "{page}");
}
