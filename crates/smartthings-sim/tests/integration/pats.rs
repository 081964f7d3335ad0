//! Personal access tokens (account-wide, 24 hours, on the simulator's clock) and the
//! installed-apps list they and OAuth-In tokens read.

use std::time::Duration;

use crate::common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use smartthings_sim::SimConfig;

const CB: &str = "https://app.invalid/callback";

#[tokio::test]
async fn sim_pat_mints_over_http_with_a_24_hour_default() {
    let sim = start(SimConfig::default()).await;
    let http = http();
    let url = format!("{}/__sim/pat", sim.base_url());
    let (status, body) =
        status_json(http.post(&url).json(&json!({"scopes": ["r:apps:*"]})).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["scopes"], json!(["r:apps:*"]));
    assert_eq!(body["expires_in"], 86_400);
    let token = body["token"].as_str().unwrap().to_string();
    assert_eq!(token.len(), 36);
    assert_eq!(api_get(&sim, &http, &token, "/apps").await.0, StatusCode::OK);
    let (status, body) =
        status_json(http.post(&url).json(&json!({"scopes": ["r:apps:*"], "expires_in": 5})).send().await.unwrap())
            .await;
    assert_eq!((status, body["expires_in"].as_u64()), (StatusCode::OK, Some(5)));
    let short = body["token"].as_str().unwrap().to_string();
    sim.advance_clock(Duration::from_secs(5));
    let (status, body) = api_get(&sim, &http, &short, "/apps").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_st_error(&body, "UnauthorizedError");
    assert_eq!(api_get(&sim, &http, &token, "/apps").await.0, StatusCode::OK);
    for bad in
        [json!({}), json!({"scopes": "r:apps:*"}), json!({"scopes": [""]}), json!({"scopes": [], "expires_in": -1})]
    {
        let resp = http.post(&url).json(&bad).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    let resp = http.post(&url).body("not json").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(sim.stats().pats_minted, 2);
}

#[tokio::test]
async fn a_pat_reads_every_location_of_the_account() {
    let sim = auto_sim().await;
    let http = http();
    let pat = pat(&sim, &["r:locations:*", "r:devices:*", "r:scenes:*", "x:devices:*"]);
    let (status, locations) = api_get(&sim, &http, &pat, "/locations").await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> =
        locations["items"].as_array().unwrap().iter().map(|l| l["locationId"].as_str().unwrap()).collect();
    assert!(ids.contains(&HOME) && ids.contains(&TEST_HOME), "{locations}");
    let oauth = access(&login(&sim, &http).await);
    assert_eq!(api_get(&sim, &http, &oauth, "/locations").await.1["items"].as_array().unwrap().len(), 1);
    assert_eq!(api_get(&sim, &http, &pat, &format!("/locations/{TEST_HOME}/rooms")).await.0, StatusCode::OK);
    // Devices and scenes of both homes.
    let (status, devices) = api_get(&sim, &http, &pat, "/devices").await;
    assert_eq!(status, StatusCode::OK);
    let homes: Vec<&str> =
        devices["items"].as_array().unwrap().iter().map(|d| d["locationId"].as_str().unwrap()).collect();
    assert!(homes.contains(&HOME) && homes.contains(&TEST_HOME));
    assert_eq!(api_get(&sim, &http, &pat, &format!("/devices/{LOUNGE_LAMP_TEST_HOME}/status")).await.0, StatusCode::OK);
    let (status, only) = api_get(&sim, &http, &pat, &format!("/devices?locationId={TEST_HOME}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(only["items"].as_array().unwrap().iter().all(|d| d["locationId"] == TEST_HOME));
    let (status, _) = api_post(
        &sim,
        &http,
        &pat,
        &format!("/devices/{LOUNGE_LAMP_TEST_HOME}/commands"),
        &json!({"commands": [cmd("switch", "on", json!([]))]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, scenes) = api_get(&sim, &http, &pat, "/scenes").await;
    assert!(scenes["items"].as_array().unwrap().len() >= 2, "{scenes}");
    // Without the scope: 403; the OAuth-In token still sees only its location.
    let narrow = pat_with(&sim, &["r:apps:*"]);
    let (status, body) = api_get(&sim, &http, &narrow, "/locations").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_st_error(&body, "ForbiddenError");
    assert_eq!(
        api_get(&sim, &http, &oauth, &format!("/devices/{LOUNGE_LAMP_TEST_HOME}")).await.0,
        StatusCode::FORBIDDEN
    );
}

fn pat_with(sim: &smartthings_sim::Sim, scopes: &[&str]) -> String {
    pat(sim, scopes)
}

const INSTALLED_KEYS: &[&str] = &[
    "appId",
    "classifications",
    "createdDate",
    "displayName",
    "iconImage",
    "installedAppId",
    "installedAppStatus",
    "installedAppType",
    "lastUpdatedDate",
    "locationId",
    "notices",
    "owner",
    "referenceId",
    "ui",
];

fn ids(list: &Value) -> Vec<String> {
    list["items"].as_array().unwrap().iter().map(|i| i["installedAppId"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn installed_apps_list_the_accounts_sign_ins_for_a_pat_and_one_location_for_an_app() {
    let sim = auto_sim().await;
    let http = http();
    let pat = pat(&sim, &["r:apps:*", "w:apps:*", "r:installedapps"]);
    let home = login(&sim, &http).await;
    let test_home = login_at(&sim, &http, Some(TEST_HOME)).await;
    let app = create_app(&sim, &http, &pat, "lister", &[CB], &["r:installedapps", "r:devices:*"]).await;
    let mine = sign_in_app(&sim, &http, &app, CB, "r:installedapps", None).await;
    let ia = |t: &Value| t["installed_app_id"].as_str().unwrap().to_string();

    let (status, list) = api_get(&sim, &http, &pat, "/installedapps").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["_links"], json!({"next": null, "previous": null}));
    let all = ids(&list);
    assert_eq!(all.len(), 3);
    for t in [&home, &test_home, &mine] {
        assert!(all.contains(&ia(t)), "{list}");
    }
    let item = &list["items"][0];
    for k in INSTALLED_KEYS {
        assert!(item.get(*k).is_some(), "{k} missing: {item}");
    }
    assert_eq!(item["installedAppType"], "API_ONLY");
    assert_eq!(item["owner"]["ownerType"], "USER");

    // Filters: locationId (repeatable), appId, installedAppType.
    assert_eq!(
        ids(&api_get(&sim, &http, &pat, &format!("/installedapps?locationId={TEST_HOME}")).await.1),
        [ia(&test_home)]
    );
    let both = format!("/installedapps?locationId={TEST_HOME}&locationId={HOME}");
    assert_eq!(ids(&api_get(&sim, &http, &pat, &both).await.1).len(), 3);
    assert_eq!(ids(&api_get(&sim, &http, &pat, &format!("/installedapps?appId={}", app.app_id)).await.1), [ia(&mine)]);
    let demo = format!("/installedapps?appId={}", sim.client_app_id());
    assert_eq!(ids(&api_get(&sim, &http, &pat, &demo).await.1).len(), 2);
    assert!(ids(&api_get(&sim, &http, &pat, "/installedapps?installedAppType=WEBHOOK_SMART_APP").await.1).is_empty());

    // An OAuth-In token with the scope: its own location's only.
    let (status, own) = api_get(&sim, &http, &access(&mine), "/installedapps").await;
    assert_eq!(status, StatusCode::OK);
    let own = ids(&own);
    assert!(own.contains(&ia(&home)) && own.contains(&ia(&mine)) && !own.contains(&ia(&test_home)), "{own:?}");
    assert!(ids(&api_get(&sim, &http, &access(&mine), &format!("/installedapps?locationId={TEST_HOME}")).await.1)
        .is_empty());
    // Without an installed-apps scope: 403 (the configured app has none).
    let (status, body) = api_get(&sim, &http, &access(&home), "/installedapps").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_st_error(&body, "ForbiddenError");
    assert_eq!(api_get(&sim, &http, &pat_with(&sim, &["r:apps:*"]), "/installedapps").await.0, StatusCode::FORBIDDEN);
    for scope in ["l:installedapps", "r:installedapps:*"] {
        assert_eq!(
            api_get(&sim, &http, &pat_with(&sim, &[scope]), "/installedapps").await.0,
            StatusCode::OK,
            "{scope}"
        );
    }
}

#[tokio::test]
async fn one_installed_app_reads_for_a_pat_with_the_scope_and_for_its_own_token() {
    let sim = auto_sim().await;
    let http = http();
    let a = login(&sim, &http).await;
    let b = login_at(&sim, &http, Some(TEST_HOME)).await;
    let path = format!("/installedapps/{}", b["installed_app_id"].as_str().unwrap());
    let pat = pat_with(&sim, &["r:installedapps:*"]);
    let (status, body) = api_get(&sim, &http, &pat, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["locationId"], TEST_HOME);
    assert_eq!(body["appId"], sim.client_app_id().as_str());
    assert_eq!(body["displayName"], "ThingsTray demo");
    assert_eq!(api_get(&sim, &http, &access(&b), &path).await.0, StatusCode::OK, "its own, no scope needed");
    assert_eq!(api_get(&sim, &http, &access(&a), &path).await.0, StatusCode::FORBIDDEN);
    assert_eq!(api_get(&sim, &http, &pat_with(&sim, &["r:apps:*"]), &path).await.0, StatusCode::FORBIDDEN);
    let (status, body) = api_get(&sim, &http, &pat, "/installedapps/00000000-0000-4000-8000-000000000000").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_st_error(&body, "NotFoundError");
    let expired = sim.mint_pat(&["r:installedapps:*"], Duration::from_secs(1));
    sim.advance_clock(Duration::from_secs(2));
    assert_eq!(api_get(&sim, &http, &expired, &path).await.0, StatusCode::UNAUTHORIZED);
}
