//! Location modes (`/locations/{id}/modes`, `/modes/current`) and a device's reading
//! changed from outside (`POST /__sim/devices/{id}/status`, `Sim::set_device_status`).

use std::collections::HashSet;

use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};
use smartthings_sim::{user_location_id, Sim, SimConfig, StatusError};

use crate::common::*;

const WITH_WRITE: &str = "r:devices:* x:devices:* r:locations:* w:locations:* r:scenes:* x:scenes:*";
const FRONT_DOOR_SENSOR: &str = "7d246592-93db-4d72-a10d-5a51793ece8c";

/// An OAuth-In access token for `location` (None: the first) with these scopes.
async fn token_with(sim: &Sim, http: &Client, scopes: &str, location: Option<&str>) -> String {
    let mut extra = vec![("scope", scopes)];
    if let Some(l) = location {
        extra.push(("location_id", l));
    }
    let code = code(sim, http, &extra).await;
    let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", REDIRECT)];
    let (status, body) = status_json(token(sim, http, &form).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    access(&body)
}

async fn put_mode(sim: &Sim, http: &Client, token: &str, location: &str, body: &Value) -> (StatusCode, Value) {
    api_send(sim, http, Method::PUT, token, &format!("/locations/{location}/modes/current"), Some(body)).await
}

fn mode_named<'a>(list: &'a Value, name: &str) -> &'a Value {
    list["items"].as_array().expect("items").iter().find(|m| m["name"] == name).expect("the mode")
}

#[tokio::test]
async fn modes_are_listed_read_and_set_as_smartthings_shows_them() {
    let sim = auto_sim().await;
    let http = http();
    let t = token_with(&sim, &http, WITH_WRITE, None).await;
    let (s, list) = api_get(&sim, &http, &t, &format!("/locations/{HOME}/modes")).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let items = list["items"].as_array().expect("items");
    let names: Vec<&str> = items.iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Home", "Away", "Night"]);
    let mut ids = HashSet::new();
    for m in items {
        let keys: Vec<&String> = m.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 3, "{m}");
        assert_eq!(m["label"], m["name"]);
        let id = m["id"].as_str().unwrap();
        assert_eq!(id.len(), 36, "{id}");
        assert!(ids.insert(id.to_string()));
    }

    let (s, current) = api_get(&sim, &http, &t, &format!("/locations/{HOME}/modes/current")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(&current, mode_named(&list, "Home"));

    let away = mode_named(&list, "Away").clone();
    let (s, set) = put_mode(&sim, &http, &t, HOME, &json!({"modeId": away["id"]})).await;
    assert_eq!(s, StatusCode::OK, "{set}");
    assert_eq!(set, away);
    let (_, current) = api_get(&sim, &http, &t, &format!("/locations/{HOME}/modes/current")).await;
    assert_eq!(current, away);
    assert_eq!(sim.current_mode(HOME).unwrap().name, "Away");

    let (s, one) = api_get(&sim, &http, &t, &format!("/locations/{HOME}/modes/{}", away["id"].as_str().unwrap())).await;
    assert_eq!((s, &one), (StatusCode::OK, &away));
    let (s, body) = api_get(&sim, &http, &t, &format!("/locations/{HOME}/modes/no-such-mode")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_st_error(&body, "NotFoundError");

    // The test's own hand: the SmartThings app changing the mode.
    assert!(sim.set_current_mode(HOME, "night"));
    let (_, current) = api_get(&sim, &http, &t, &format!("/locations/{HOME}/modes/current")).await;
    assert_eq!(current["name"], "Night");
    assert!(!sim.set_current_mode(HOME, "Vacation"));
    assert!(!sim.set_current_mode("no-such-location", "Home"));
}

#[tokio::test]
async fn mode_ids_are_stable_per_location_and_differ_between_locations() {
    let a = auto_sim().await;
    let b = auto_sim().await;
    assert_eq!(a.modes(HOME), b.modes(HOME));
    let home: HashSet<String> = a.modes(HOME).unwrap().into_iter().map(|m| m.id).collect();
    let test: HashSet<String> = a.modes(TEST_HOME).unwrap().into_iter().map(|m| m.id).collect();
    assert!(home.is_disjoint(&test));
    assert_eq!(a.modes("no-such-location"), None);
    assert_eq!(a.current_mode("no-such-location"), None);
}

#[tokio::test]
async fn other_unknown_and_bad_requests_get_smartthings_errors_and_change_nothing() {
    let sim = auto_sim().await;
    let http = http();
    let t = token_with(&sim, &http, WITH_WRITE, Some(HOME)).await;
    let other = sim.modes(TEST_HOME).unwrap();

    // Another location (this sign-in is HOME's): 403, reading and setting.
    for path in [format!("/locations/{TEST_HOME}/modes"), format!("/locations/{TEST_HOME}/modes/current")] {
        let (s, body) = api_get(&sim, &http, &t, &path).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}");
        assert_st_error(&body, "ForbiddenError");
    }
    let (s, body) = put_mode(&sim, &http, &t, TEST_HOME, &json!({"modeId": other[1].id})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_st_error(&body, "ForbiddenError");
    assert_eq!(sim.current_mode(TEST_HOME).unwrap().name, "Home");

    // An unknown location: 404.
    let (s, body) = api_get(&sim, &http, &t, "/locations/no-such-location/modes").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_st_error(&body, "NotFoundError");
    let (s, _) = put_mode(&sim, &http, &t, "no-such-location", &json!({"modeId": "x"})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // An unknown mode id (or another location's): 422 on `modeId`.
    for bad in [json!({"modeId": "no-such-mode"}), json!({"modeId": other[1].id}), json!({}), json!({"modeId": 7})] {
        let (s, body) = put_mode(&sim, &http, &t, HOME, &bad).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert_st_error(&body, "ConstraintViolationError");
        assert_eq!(targets(&body), ["modeId"], "{body}");
    }
    let resp = http
        .put(format!("{}/locations/{HOME}/modes/current", sim.api_url()))
        .bearer_auth(&t)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(sim.current_mode(HOME).unwrap().name, "Home");

    // No token: 401.
    let resp = http.get(format!("{}/locations/{HOME}/modes", sim.api_url())).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn reading_needs_r_locations_and_setting_needs_w_locations() {
    let sim = auto_sim().await;
    let http = http();
    let away = sim.modes(HOME).unwrap()[1].clone();

    // The usual sign-in without w:locations:*: reads, cannot set.
    let read_only = token_with(&sim, &http, ALL_SCOPES, None).await;
    let (s, _) = api_get(&sim, &http, &read_only, &format!("/locations/{HOME}/modes")).await;
    assert_eq!(s, StatusCode::OK);
    let (s, body) = put_mode(&sim, &http, &read_only, HOME, &json!({"modeId": away.id})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_st_error(&body, "ForbiddenError");
    assert_eq!(sim.current_mode(HOME).unwrap().name, "Home");

    // A personal token with only w:locations:*: sets, cannot read.
    let write_only = pat(&sim, &["w:locations:*"]);
    let (s, body) = api_get(&sim, &http, &write_only, &format!("/locations/{HOME}/modes/current")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_st_error(&body, "ForbiddenError");
    let (s, body) = put_mode(&sim, &http, &write_only, HOME, &json!({"modeId": away.id})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(sim.current_mode(HOME).unwrap(), away);

    // The configured app offers w:locations:* (the default sign-in may ask for it).
    assert!(sim.client().scopes.iter().any(|s| s == "w:locations:*"));
}

#[tokio::test]
async fn each_user_has_their_own_modes() {
    let sim = start(SimConfig { auto_approve: true, users: 3, ..SimConfig::default() }).await;
    let http = http();
    let mut tokens = Vec::new();
    for k in 1..=2 {
        let resp = http.get(sim.user_authorize_url(k, "st-123")).send().await.unwrap();
        let (_, p) = location_params(&resp);
        let form = [("grant_type", "authorization_code"), ("code", p["code"].as_str()), ("redirect_uri", REDIRECT)];
        let (s, body) = status_json(token(&sim, &http, &form).await).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        tokens.push(access(&body));
    }
    let (one, two) = (user_location_id(1), user_location_id(2));
    let (s, list) = api_get(&sim, &http, &tokens[0], &format!("/locations/{one}/modes")).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let night = mode_named(&list, "Night").clone();
    let (s, _) = put_mode(&sim, &http, &tokens[0], &one, &json!({"modeId": night["id"]})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(sim.current_mode(&one).unwrap().name, "Night");
    assert_eq!(sim.current_mode(&two).unwrap().name, "Home");
    let (s, _) = api_get(&sim, &http, &tokens[0], &format!("/locations/{two}/modes/current")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, current) = api_get(&sim, &http, &tokens[1], &format!("/locations/{two}/modes/current")).await;
    assert_eq!((s, current["name"].as_str()), (StatusCode::OK, Some("Home")));
}

async fn post_status(sim: &Sim, device: &str, body: &Value) -> (StatusCode, Value) {
    let url = format!("{}/__sim/devices/{device}/status", sim.base_url());
    status_json(http().post(url).json(body).send().await.unwrap()).await
}

#[tokio::test]
async fn a_reading_changed_from_outside_is_what_the_api_reports() {
    let sim = auto_sim().await;
    let http = http();
    let t = access(&login(&sim, &http).await);
    let body = json!({"component": "main", "capability": "temperatureMeasurement", "attribute": "temperature",
                      "value": 21.5, "unit": "C"});
    let (s, answer) = post_status(&sim, FRONT_DOOR_SENSOR, &body).await;
    assert_eq!(s, StatusCode::OK, "{answer}");
    assert_eq!(answer["state"]["value"], 21.5);
    let (_, status) = api_get(&sim, &http, &t, &format!("/devices/{FRONT_DOOR_SENSOR}/status")).await;
    let temp = &status["components"]["main"]["temperatureMeasurement"]["temperature"];
    assert_eq!((&temp["value"], &temp["unit"]), (&json!(21.5), &json!("C")));
    let stamp = temp["timestamp"].as_str().unwrap();
    assert_ne!(stamp, "2025-02-09T17:56:19.744Z", "a fresh timestamp");

    // component defaults to main; no unit keeps none added.
    let (s, _) = post_status(
        &sim,
        FRONT_DOOR_SENSOR,
        &json!({"capability": "contactSensor", "attribute": "contact", "value": "open"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(sim.device_attribute(FRONT_DOOR_SENSOR, "main", "contactSensor", "contact"), Some(json!("open")));

    // The same through the Sim method.
    sim.set_device_status(FRONT_DOOR_SENSOR, "main", "contactSensor", "contact", json!("closed"), None).unwrap();
    assert_eq!(sim.device_attribute(FRONT_DOOR_SENSOR, "main", "contactSensor", "contact"), Some(json!("closed")));
}

#[tokio::test]
async fn readings_the_device_cannot_report_are_refused() {
    let sim = auto_sim().await;
    let cases = [
        (json!({"capability": "switch", "attribute": "switch", "value": "on"}), "capability 'switch'"),
        (json!({"capability": "contactSensor", "attribute": "colour", "value": "red"}), "attribute 'colour'"),
        (
            json!({"component": "side", "capability": "contactSensor", "attribute": "contact", "value": "open"}),
            "component 'side'",
        ),
        (json!({"capability": "contactSensor", "value": "open"}), "attribute"),
        (json!({"capability": "contactSensor", "attribute": "contact", "value": "open", "extra": 1}), "extra"),
    ];
    for (body, says) in cases {
        let (s, answer) = post_status(&sim, FRONT_DOOR_SENSOR, &body).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {answer}");
        let why = answer["error"].as_str().unwrap_or_default();
        assert!(why.contains(says), "{body}: {why}");
    }
    assert_eq!(sim.device_attribute(FRONT_DOOR_SENSOR, "main", "contactSensor", "contact"), Some(json!("closed")));
    let url = format!("{}/__sim/devices/{FRONT_DOOR_SENSOR}/status", sim.base_url());
    let resp = http().post(url).body("not json").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    let body = json!({"capability": "contactSensor", "attribute": "contact", "value": "open"});
    let (s, _) = post_status(&sim, "no-such-device", &body).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let r = sim.set_device_status("no-such-device", "main", "contactSensor", "contact", json!("open"), None);
    assert_eq!(r, Err(StatusError::UnknownDevice));
    let r = sim.set_device_status(FRONT_DOOR_SENSOR, "main", "lock", "lock", json!("locked"), None);
    assert!(matches!(r, Err(StatusError::Refused(_))), "{r:?}");
}
