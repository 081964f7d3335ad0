//! The REST API: authentication, pagination, inline status, isolation, commands, scenes.

use std::collections::HashSet;
use std::time::Duration;

use crate::common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use smartthings_sim::{SimClient, SimConfig};

#[tokio::test]
async fn missing_or_expired_access_token_gets_unauthorized_error() {
    let sim = auto_sim().await;
    let http = http();
    let t = login(&sim, &http).await;
    let (status, _) = api_get(&sim, &http, &access(&t), "/devices").await;
    assert_eq!(status, StatusCode::OK);

    let resp = http.get(format!("{}/devices", sim.api_url())).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let (_, body) = status_json(resp).await;
    assert_st_error(&body, "UnauthorizedError");
    assert_eq!(body["error"]["message"], "Unauthorized");

    sim.advance_clock(Duration::from_secs(86_400));
    let (status, body) = api_get(&sim, &http, &access(&t), "/devices").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_st_error(&body, "UnauthorizedError");
}

#[tokio::test]
async fn pagination_follows_absolute_next_links_without_v1_and_sees_every_device_once() {
    let sim = start(SimConfig { auto_approve: true, extra_devices: 7, ..SimConfig::default() }).await;
    let http = http();
    let token = access(&login(&sim, &http).await);
    let (_, all) = api_get(&sim, &http, &token, "/devices").await;
    let expected: HashSet<String> =
        all["items"].as_array().unwrap().iter().map(|d| d["deviceId"].as_str().unwrap().to_string()).collect();
    assert!(expected.len() >= 30, "{}", expected.len());
    assert_eq!(all["_links"], json!({}));

    let (status, mut page) = api_get(&sim, &http, &token, "/devices?max=2&includeStatus=true").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["_links"]["next"]["href"], format!("{}/devices?max=2&page=1&includeStatus=true", sim.base_url()));
    let mut seen = Vec::new();
    let mut pages = 1;
    loop {
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        for d in items {
            seen.push(d["deviceId"].as_str().unwrap().to_string());
            assert!(d["components"][0]["status"].is_object(), "includeStatus is kept across pages");
        }
        let Some(next) = page["_links"]["next"]["href"].as_str() else { break };
        assert!(next.starts_with(&format!("{}/devices?", sim.base_url())), "{next}");
        assert!(!next.contains("/v1/"));
        let (status, p) = api_get(&sim, &http, &token, next).await;
        assert_eq!(status, StatusCode::OK);
        page = p;
        pages += 1;
    }
    assert_eq!(pages, expected.len().div_ceil(2));
    assert_eq!(seen.len(), expected.len(), "no duplicates");
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), expected);
}

#[tokio::test]
async fn next_links_keep_the_host_the_client_used() {
    let sim = auto_sim().await;
    let http = http();
    let token = access(&login(&sim, &http).await);
    let local = sim.base_url().replace("127.0.0.1", "localhost");
    let (status, page) = api_get(&sim, &http, &token, &format!("{local}/v1/devices?max=5&capability=switch")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["_links"]["next"]["href"], format!("{local}/devices?max=5&page=1&capability=switch"));
}

#[tokio::test]
async fn max_is_clamped_to_200_and_nonsense_is_a_422() {
    let sim = start(SimConfig { auto_approve: true, extra_devices: 250, ..SimConfig::default() }).await;
    let http = http();
    let token = access(&login(&sim, &http).await);
    let (_, page) = api_get(&sim, &http, &token, "/devices?max=500").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 200);
    assert!(page["_links"]["next"]["href"].as_str().unwrap().contains("max=200&page=1"));
    let (_, last) = api_get(&sim, &http, &token, "/devices?page=1").await;
    assert!(!last["items"].as_array().unwrap().is_empty());
    assert_eq!(last["_links"], json!({}));
    for bad in ["max=0", "max=-3", "max=abc", "page=-1"] {
        let (status, body) = api_get(&sim, &http, &token, &format!("/devices?{bad}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_st_error(&body, "ConstraintViolationError");
    }
}

#[tokio::test]
async fn include_status_health_and_filters() {
    let sim = auto_sim().await;
    let http = http();
    let token = access(&login(&sim, &http).await);
    let (_, page) = api_get(&sim, &http, &token, "/devices?includeStatus=true&includeHealth=true").await;
    let items = page["items"].as_array().unwrap();
    let lamp = items.iter().find(|d| d["deviceId"] == LIVING_ROOM_LAMP).unwrap();
    let (_, status) = api_get(&sim, &http, &token, &format!("/devices/{LIVING_ROOM_LAMP}/status")).await;
    assert_eq!(lamp["components"][0]["status"], status["components"]["main"], "same shape as /status");
    assert!(lamp["components"][0]["status"]["switchLevel"]["level"]["value"].is_number());
    assert_eq!(lamp["healthState"]["state"], "ONLINE");
    let offline = items.iter().find(|d| d["deviceId"] == BASEMENT_LIGHTS_OFFLINE).unwrap();
    assert_eq!(offline["healthState"]["state"], "OFFLINE");

    let (_, plain) = api_get(&sim, &http, &token, "/devices").await;
    assert!(plain["items"][0]["components"][0].get("status").is_none());
    assert!(plain["items"][0].get("healthState").is_none());

    let (_, locks) = api_get(&sim, &http, &token, "/devices?capability=lock").await;
    let ids: Vec<&str> = locks["items"].as_array().unwrap().iter().map(|d| d["deviceId"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.contains(&FRONT_DOOR_LOCK));

    let (_, dimmers) = api_get(&sim, &http, &token, "/devices?capability=switchLevel").await;
    assert!(dimmers["items"].as_array().unwrap().len() >= 3);
    let (_, ct) = api_get(&sim, &http, &token, "/devices?capability=colorTemperature").await;
    assert!(ct["items"].as_array().unwrap().iter().any(|d| d["deviceId"] == DESK_LAMP_CT));

    let (_, two) =
        api_get(&sim, &http, &token, &format!("/devices?deviceId={FRONT_DOOR_LOCK}&deviceId={COFFEE_MAKER}")).await;
    assert_eq!(two["items"].as_array().unwrap().len(), 2);

    let (status, health) = api_get(&sim, &http, &token, &format!("/devices/{BASEMENT_LIGHTS_OFFLINE}/health")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["deviceId"], BASEMENT_LIGHTS_OFFLINE);
    assert_eq!(health["state"], "OFFLINE");
    assert!(health["lastUpdatedDate"].as_str().unwrap().ends_with('Z'));

    // the alias without /v1, as a real next link had it
    let resp =
        http.get(format!("{}/devices/{LIVING_ROOM_LAMP}", sim.base_url())).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers().contains_key("x-ratelimit-limit"));
    assert!(resp.headers().contains_key("x-ratelimit-remaining"));
}

#[tokio::test]
async fn a_token_sees_only_its_location() {
    let sim = auto_sim().await;
    let http = http();
    let token = access(&login_at(&sim, &http, Some(TEST_HOME)).await);
    let (_, page) = api_get(&sim, &http, &token, "/devices").await;
    let items = page["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(items.iter().all(|d| d["locationId"] == TEST_HOME));
    let (_, page) = api_get(&sim, &http, &token, &format!("/devices?locationId={HOME}")).await;
    assert_eq!(page["items"], json!([]));

    for path in [
        format!("/devices/{LIVING_ROOM_LAMP}"),
        format!("/devices/{LIVING_ROOM_LAMP}/status"),
        format!("/locations/{HOME}"),
        format!("/locations/{HOME}/rooms"),
    ] {
        let (status, body) = api_get(&sim, &http, &token, &path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert_st_error(&body, "ForbiddenError");
    }
    let (status, body) = api_post(
        &sim,
        &http,
        &token,
        &format!("/devices/{LIVING_ROOM_LAMP}/commands"),
        &json!({"commands": [cmd("switch", "on", json!([]))]}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_st_error(&body, "ForbiddenError");
    assert_eq!(sim.device_attribute(LIVING_ROOM_LAMP, "main", "switch", "switch"), Some(json!("off")));
    let (status, body) = api_post(&sim, &http, &token, &format!("/scenes/{GOOD_MORNING}/execute"), &json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_st_error(&body, "ForbiddenError");

    let (status, body) = api_get(&sim, &http, &token, "/devices/00000000-dead-4bee-8f00-000000000000").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_st_error(&body, "NotFoundError");

    let (_, locs) = api_get(&sim, &http, &token, "/locations").await;
    assert_eq!(locs, json!({"items": [{"locationId": TEST_HOME, "name": "Test Home"}], "_links": null}));
    let (_, rooms) = api_get(&sim, &http, &token, &format!("/locations/{TEST_HOME}/rooms")).await;
    let rooms = rooms["items"].as_array().unwrap();
    assert!(!rooms.is_empty() && rooms.iter().all(|r| r["locationId"] == TEST_HOME && r["backgroundImage"].is_null()));
    let (_, scenes) = api_get(&sim, &http, &token, "/scenes").await;
    assert_eq!(scenes["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn commands_change_state_and_read_back() {
    let sim = auto_sim().await;
    let http = http();
    let token = access(&login(&sim, &http).await);
    let post = |id: &'static str, commands: Value| {
        let (sim, http, token) = (&sim, &http, &token);
        async move { api_post(sim, http, token, &format!("/devices/{id}/commands"), &json!({ "commands": commands })).await }
    };
    let (status, body) =
        post(LIVING_ROOM_LAMP, json!([cmd("switch", "on", json!([])), cmd("refresh", "refresh", json!([]))])).await;
    assert_eq!(status, StatusCode::OK);
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert!(results.iter().all(|r| r["status"] == "ACCEPTED" && r["id"].as_str().unwrap().len() == 36));
    let (_, st) = api_get(&sim, &http, &token, &format!("/devices/{LIVING_ROOM_LAMP}/status")).await;
    assert_eq!(st["components"]["main"]["switch"]["switch"]["value"], "on");

    post(LIVING_ROOM_LAMP, json!([cmd("switch", "off", json!([])), cmd("switchLevel", "setLevel", json!([30, 2]))]))
        .await;
    let (_, st) = api_get(&sim, &http, &token, &format!("/devices/{LIVING_ROOM_LAMP}/status")).await;
    assert_eq!(st["components"]["main"]["switchLevel"]["level"]["value"], 30);
    assert_eq!(st["components"]["main"]["switchLevel"]["level"]["unit"], "%");
    assert_eq!(st["components"]["main"]["switch"]["switch"]["value"], "on", "setLevel > 0 turns the switch on");

    post(DESK_LAMP_CT, json!([cmd("colorTemperature", "setColorTemperature", json!([4000]))])).await;
    assert_eq!(sim.device_attribute(DESK_LAMP_CT, "main", "colorTemperature", "colorTemperature"), Some(json!(4000)));
    post(FRONT_DOOR_LOCK, json!([cmd("lock", "unlock", json!([]))])).await;
    assert_eq!(sim.device_attribute(FRONT_DOOR_LOCK, "main", "lock", "lock"), Some(json!("unlocked")));
    post(BEDROOM_CURTAIN, json!([cmd("windowShade", "close", json!([]))])).await;
    assert_eq!(sim.device_attribute(BEDROOM_CURTAIN, "main", "windowShade", "windowShade"), Some(json!("closed")));
    post(STANDING_LIGHT_COLOR, json!([cmd("colorControl", "setColor", json!([{"hue": 25, "saturation": 80}]))])).await;
    assert_eq!(sim.device_attribute(STANDING_LIGHT_COLOR, "main", "colorControl", "saturation"), Some(json!(80)));

    // an offline device accepts commands, but nothing changes
    let before = sim.device_attribute(BASEMENT_LIGHTS_OFFLINE, "main", "switch", "switch");
    let (status, body) = post(BASEMENT_LIGHTS_OFFLINE, json!([cmd("switch", "on", json!([]))])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["results"][0]["status"], "ACCEPTED");
    assert_eq!(sim.device_attribute(BASEMENT_LIGHTS_OFFLINE, "main", "switch", "switch"), before);
    sim.set_device_health(BASEMENT_LIGHTS_OFFLINE, true);
    post(BASEMENT_LIGHTS_OFFLINE, json!([cmd("switch", "on", json!([]))])).await;
    assert_eq!(sim.device_attribute(BASEMENT_LIGHTS_OFFLINE, "main", "switch", "switch"), Some(json!("on")));
}

#[tokio::test]
async fn invalid_commands_are_422_and_nothing_is_applied() {
    let sim = auto_sim().await;
    let http = http();
    let token = access(&login(&sim, &http).await);
    let path = format!("/devices/{LIVING_ROOM_LAMP}/commands");

    let eleven: Vec<Value> = (0..11).map(|_| cmd("switch", "on", json!([]))).collect();
    let (status, body) = api_post(&sim, &http, &token, &path, &json!({ "commands": eleven })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_st_error(&body, "ConstraintViolationError");
    assert_eq!(sim.device_attribute(LIVING_ROOM_LAMP, "main", "switch", "switch"), Some(json!("off")));

    let (status, body) = api_post(
        &sim,
        &http,
        &token,
        &path,
        &json!({"commands": [cmd("switch", "on", json!([])), cmd("switchLevel", "setLevel", json!([150]))]}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["message"], "The request is malformed.");
    assert_eq!(
        body["error"]["details"],
        json!([{
            "code": "UnprocessableEntityError",
            "target": "commands[1].arguments[0]",
            "message": "commands[1].arguments[0]: must have a maximum value of 100",
            "details": []
        }])
    );
    assert_eq!(
        sim.device_attribute(LIVING_ROOM_LAMP, "main", "switch", "switch"),
        Some(json!("off")),
        "all or nothing"
    );

    for (bad, target) in [
        (cmd("lock", "lock", json!([])), "commands[0].capability"),
        (cmd("switch", "toggle", json!([])), "commands[0].command"),
        (cmd("switch", "on", json!([1])), "commands[0].arguments"),
        (cmd("switchLevel", "setLevel", json!(["50"])), "commands[0].arguments[0]"),
        (cmd("switchLevel", "setLevel", json!([])), "commands[0].arguments"),
        (json!({"component": "attic", "capability": "switch", "command": "on"}), "commands[0].component"),
    ] {
        let (status, body) = api_post(&sim, &http, &token, &path, &json!({ "commands": [bad] })).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_eq!(body["error"]["details"][0]["target"], target, "{body}");
    }
    let (status, _) = api_post(&sim, &http, &token, &path, &json!({"commands": []})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let resp =
        http.post(format!("{}{path}", sim.api_url())).bearer_auth(&token).body("{not json").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn scopes_are_enforced() {
    let client = SimClient::default();
    let sim = start(SimConfig { auto_approve: true, client, ..SimConfig::default() }).await;
    let http = http();
    let c = code(&sim, &http, &[("scope", "r:devices:*")]).await;
    let (_, t) = status_json(
        token(&sim, &http, &[("grant_type", "authorization_code"), ("code", &c), ("redirect_uri", REDIRECT)]).await,
    )
    .await;
    assert_eq!(t["scope"], "r:devices:*");
    let token = access(&t);
    assert_eq!(api_get(&sim, &http, &token, "/devices").await.0, StatusCode::OK);
    for path in ["/locations", "/scenes"] {
        let (status, body) = api_get(&sim, &http, &token, path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(body["error"]["message"], "Access is denied");
    }
    let (status, body) = api_post(
        &sim,
        &http,
        &token,
        &format!("/devices/{LIVING_ROOM_LAMP}/commands"),
        &json!({"commands": [cmd("switch", "on", json!([]))]}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_st_error(&body, "ForbiddenError");
}

#[tokio::test]
async fn scenes_list_and_execute() {
    let sim = auto_sim().await;
    let http = http();
    let token = access(&login(&sim, &http).await);
    let (status, scenes) = api_get(&sim, &http, &token, &format!("/scenes?locationId={HOME}")).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> =
        scenes["items"].as_array().unwrap().iter().map(|s| s["sceneName"].as_str().unwrap()).collect();
    assert_eq!(names, ["Good Morning", "Movie Night", "Away"]);
    assert_eq!(scenes["items"][0]["locationId"], HOME);
    assert_eq!(scenes["_links"], json!({"next": null, "previous": null}));

    let (status, body) = api_post(&sim, &http, &token, &format!("/scenes/{GOOD_MORNING}/execute"), &json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "success"}));
    let (_, ctl) =
        status_json(http.get(format!("{}/__sim/scenes/{GOOD_MORNING}", sim.base_url())).send().await.unwrap()).await;
    assert_eq!(ctl["executions"], 1);
    assert_eq!(sim.stats().scene_executions.get(GOOD_MORNING), Some(&1));
    let (status, body) = api_post(&sim, &http, &token, &format!("/scenes/{TEST_HOME_SCENE}/execute"), &json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_st_error(&body, "ForbiddenError");
    let (status, _) = api_post(&sim, &http, &token, "/scenes/nope/execute", &json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn installed_apps_of_other_authorizations_are_forbidden() {
    let sim = auto_sim().await;
    let http = http();
    let a = login(&sim, &http).await;
    // Another location: a second sign-in for the same one would be the same installed app.
    let b = login_at(&sim, &http, Some(TEST_HOME)).await;
    let (status, _) =
        api_get(&sim, &http, &access(&a), &format!("/installedapps/{}", b["installed_app_id"].as_str().unwrap())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = api_get(&sim, &http, &access(&a), "/installedapps/00000000-0000-4000-8000-000000000000").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_st_error(&body, "NotFoundError");
}

#[tokio::test]
async fn an_installed_app_uninstalls_itself_and_its_tokens_die() {
    let sim = auto_sim().await;
    let http = http();
    let a = login(&sim, &http).await;
    let b = login_at(&sim, &http, Some(TEST_HOME)).await;
    let ia = a["installed_app_id"].as_str().unwrap().to_string();
    let ib = b["installed_app_id"].as_str().unwrap().to_string();
    // Not another's.
    let (status, _) =
        api_send(&sim, &http, reqwest::Method::DELETE, &access(&a), &format!("/installedapps/{ib}"), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) =
        api_send(&sim, &http, reqwest::Method::DELETE, &access(&a), &format!("/installedapps/{ia}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"count": 1}));
    assert!(!sim.accepts(&access(&a)).await, "its access token died with it");
    let refresh = a["refresh_token"].as_str().unwrap();
    let resp = token(&sim, &http, &[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "its refresh token too");
    assert!(sim.accepts(&access(&b)).await, "the other location's sign-in is untouched");
    let pat = pat(&sim, &["r:installedapps:*"]);
    let (status, _) = api_send(&sim, &http, reqwest::Method::DELETE, &pat, &format!("/installedapps/{ib}"), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a token without w:installedapps may not");
    let (status, body) = api_send(
        &sim,
        &http,
        reqwest::Method::DELETE,
        &access(&b),
        "/installedapps/00000000-0000-4000-8000-000000000000",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_st_error(&body, "NotFoundError");
}
