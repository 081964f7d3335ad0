//! Helpers shared by the integration tests: a redirect-less HTTP client, sign-in via
//! auto-approve, token requests with HTTP Basic, and API calls with a bearer token.

use std::collections::HashMap;

use base64::Engine as _;
use reqwest::{redirect::Policy, Client, StatusCode};
use serde_json::Value;
use smartthings_sim::{Sim, SimConfig};

pub const HOME: &str = "397678e5-9995-4a39-9d9f-ae6ba310236b";
pub const TEST_HOME: &str = "5c03e518-118a-44cb-85ad-7877d0b302e4";
pub const REDIRECT: &str = "https://thingstray.invalid/callback";
pub const ALL_SCOPES: &str = "r:devices:* x:devices:* r:locations:* r:scenes:* x:scenes:*";

/// Default-home device ids used across tests.
pub const LIVING_ROOM_LAMP: &str = "0b5577db-5074-4b70-a2c5-efec286d264d";
pub const DESK_LAMP_CT: &str = "6b5535c7-c039-42ee-9970-8af86c6b0775";
pub const STANDING_LIGHT_COLOR: &str = "cb958955-b015-498c-9e62-fc0c51abd054";
pub const FRONT_DOOR_LOCK: &str = "a9f587c5-5d8b-4273-8907-e7f609af5158";
pub const BEDROOM_CURTAIN: &str = "571af102-15db-4030-b76b-245a691f74a5";
pub const BASEMENT_LIGHTS_OFFLINE: &str = "f3c18803-cbec-48e3-8f15-3c31f302d68b";
pub const COFFEE_MAKER: &str = "aae6a270-7545-470d-940f-568f955129a7";
pub const LOUNGE_LAMP_TEST_HOME: &str = "4fddedf0-2662-476e-b1fd-aceaec17ad3a";
pub const GOOD_MORNING: &str = "6a1d5c0e-2b3f-4e8a-9c7d-1f0e2d3c4b5a";
pub const TEST_HOME_SCENE: &str = "8c3f7e2a-4d5b-4a0c-9e7f-3b2a4f5e6d7c";

/// An HTTP client that never follows redirects (OAuth tests read `Location`).
pub fn http() -> Client {
    Client::builder().redirect(Policy::none()).build().expect("client")
}

pub async fn start(config: SimConfig) -> Sim {
    Sim::start(config).await.expect("sim starts")
}

/// A simulator whose authorize endpoint redirects at once.
pub async fn auto_sim() -> Sim {
    start(SimConfig { auto_approve: true, ..SimConfig::default() }).await
}

pub fn basic_for(id: &str, secret: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}")))
}

pub fn basic(sim: &Sim) -> String {
    basic_for(&sim.client().client_id, &sim.client().client_secret)
}

/// The query parameters of a redirect's `Location`.
pub fn location_params(resp: &reqwest::Response) -> (String, HashMap<String, String>) {
    let loc = resp.headers().get("location").expect("a Location header").to_str().expect("ascii").to_string();
    let url = url::Url::parse(&loc).expect("absolute Location");
    let params = url.query_pairs().into_owned().collect();
    (loc, params)
}

/// GET /oauth/authorize with the usual parameters plus `extra` (which override).
pub async fn authorize(sim: &Sim, http: &Client, extra: &[(&str, &str)]) -> reqwest::Response {
    let mut params: Vec<(&str, &str)> = vec![
        ("client_id", sim.client().client_id.as_str()),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", ALL_SCOPES),
        ("state", "st-123"),
    ];
    for (k, v) in extra {
        params.retain(|(pk, _)| pk != k);
        params.push((k, v));
    }
    http.get(format!("{}/authorize", sim.auth_url())).query(&params).send().await.expect("authorize request")
}

/// An authorization code from an auto-approving simulator.
pub async fn code(sim: &Sim, http: &Client, extra: &[(&str, &str)]) -> String {
    let resp = authorize(sim, http, extra).await;
    assert_eq!(resp.status(), StatusCode::FOUND, "authorize should redirect");
    let (_, p) = location_params(&resp);
    assert_eq!(p.get("state").map(String::as_str), Some("st-123"));
    p.get("code").cloned().expect("a code in the redirect")
}

/// POST /oauth/token, form-encoded, with HTTP Basic.
pub async fn token(sim: &Sim, http: &Client, form: &[(&str, &str)]) -> reqwest::Response {
    http.post(format!("{}/token", sim.auth_url()))
        .header("authorization", basic(sim))
        .form(form)
        .send()
        .await
        .expect("token request")
}

pub async fn status_json(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    let text = resp.text().await.expect("body");
    let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, v)
}

/// Signs in to `location` (None = first) and exchanges the code; returns the token body.
pub async fn login_at(sim: &Sim, http: &Client, location: Option<&str>) -> Value {
    let mut extra = vec![];
    if let Some(l) = location {
        extra.push(("location_id", l));
    }
    let code = code(sim, http, &extra).await;
    let (status, body) = status_json(
        token(sim, http, &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT)]).await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

pub async fn login(sim: &Sim, http: &Client) -> Value {
    login_at(sim, http, None).await
}

pub fn access(tokens: &Value) -> String {
    tokens["access_token"].as_str().expect("access_token").to_string()
}

/// GET an absolute URL or an `/v1`-relative path with a bearer token.
pub async fn api_get(sim: &Sim, http: &Client, token: &str, path: &str) -> (StatusCode, Value) {
    let url = if path.starts_with("http") { path.to_string() } else { format!("{}{path}", sim.api_url()) };
    status_json(http.get(url).bearer_auth(token).send().await.expect("api request")).await
}

pub async fn api_post(sim: &Sim, http: &Client, token: &str, path: &str, body: &Value) -> (StatusCode, Value) {
    status_json(
        http.post(format!("{}{path}", sim.api_url())).bearer_auth(token).json(body).send().await.expect("api request"),
    )
    .await
}

/// Asserts a SmartThings error body with this code.
pub fn assert_st_error(body: &Value, code: &str) {
    assert_eq!(body["error"]["code"], code, "{body}");
    let rid = body["requestId"].as_str().expect("requestId");
    assert!(!rid.is_empty() && rid.chars().all(|c| c.is_ascii_digit()), "{rid}");
    assert!(body["error"]["details"].is_array(), "{body}");
}

/// Default-home devices of the kinds the tray reads and controls (issue 12).
pub const HALLWAY_THERMOSTAT: &str = "e1000000-0000-4000-8000-00000000e0be";
pub const BEDROOM_AC: &str = "68dd166d-7876-528a-a2d1-f8a72d764a5c";
pub const KITCHEN_SPEAKER: &str = "d7b83642-d983-5f17-b02c-e01d17d5c523";
pub const GARAGE_DOOR: &str = "bc6e7ad2-6ca2-5588-9a8a-01f0b01461b2";
pub const LIVING_ROOM_BLINDS: &str = "472e091f-0409-59e3-a0ae-49fd1a4a54da";
pub const CEILING_FAN: &str = "0f657fb7-66de-558a-8b68-ff3bdda787e9";
pub const WASHER: &str = "19a14c12-06f0-5071-8e7c-bf1a78fed814";

/// One command on the main component, as a `commands` array item.
pub fn cmd(capability: &str, command: &str, arguments: Value) -> Value {
    serde_json::json!({"component": "main", "capability": capability, "command": command, "arguments": arguments})
}

/// The scopes a personal access token needs for the app calls.
pub const APP_SCOPES: &[&str] = &["r:apps:*", "w:apps:*"];

/// A personal access token living 24 hours.
pub fn pat(sim: &Sim, scopes: &[&str]) -> String {
    sim.mint_pat(scopes, std::time::Duration::from_secs(86_400))
}

/// Any method on a `/v1`-relative path with a bearer token and an optional JSON body.
pub async fn api_send(
    sim: &Sim,
    http: &Client,
    method: reqwest::Method,
    token: &str,
    path: &str,
    body: Option<&Value>,
) -> (StatusCode, Value) {
    let mut req = http.request(method, format!("{}{path}", sim.api_url())).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(b);
    }
    status_json(req.send().await.expect("api request")).await
}

/// A create body as REFERENCE.md gives it (and `smartthings apps:create` sends it).
pub fn app_body(name: &str, redirect_uris: &[&str], scopes: &[&str]) -> Value {
    serde_json::json!({
        "appName": name,
        "displayName": format!("Display {name}"),
        "description": "made by a test",
        "appType": "API_ONLY",
        "classifications": ["CONNECTED_SERVICE"],
        "singleInstance": true,
        "oauth": {"clientName": format!("client {name}"), "scope": scopes, "redirectUris": redirect_uris},
    })
}

/// An app of the account: its ids and its one-time secret.
pub struct CreatedApp {
    pub app_id: String,
    pub client_id: String,
    pub client_secret: String,
}

/// `POST /apps` that must succeed.
pub async fn create_app(
    sim: &Sim,
    http: &Client,
    token: &str,
    name: &str,
    redirect_uris: &[&str],
    scopes: &[&str],
) -> CreatedApp {
    let (status, body) =
        api_send(sim, http, reqwest::Method::POST, token, "/apps", Some(&app_body(name, redirect_uris, scopes))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let s = |v: &Value| v.as_str().expect("a string").to_string();
    CreatedApp {
        app_id: s(&body["app"]["appId"]),
        client_id: s(&body["oauthClientId"]),
        client_secret: s(&body["oauthClientSecret"]),
    }
}

/// GET /oauth/authorize for any client (an auto-approving simulator redirects at once).
pub async fn authorize_client(
    sim: &Sim,
    http: &Client,
    client_id: &str,
    redirect_uri: &str,
    scope: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut params = vec![
        ("client_id", client_id),
        ("response_type", "code"),
        ("redirect_uri", redirect_uri),
        ("scope", scope),
        ("state", "st-123"),
    ];
    params.extend_from_slice(extra);
    http.get(format!("{}/authorize", sim.auth_url())).query(&params).send().await.expect("authorize request")
}

/// POST /oauth/token with these client credentials.
pub async fn token_as(sim: &Sim, http: &Client, id: &str, secret: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    status_json(
        http.post(format!("{}/token", sim.auth_url()))
            .header("authorization", basic_for(id, secret))
            .form(form)
            .send()
            .await
            .expect("token request"),
    )
    .await
}

/// A full sign-in of a created app (auto-approving simulator): the token body.
pub async fn sign_in_app(
    sim: &Sim,
    http: &Client,
    app: &CreatedApp,
    redirect_uri: &str,
    scope: &str,
    location: Option<&str>,
) -> Value {
    let extra: Vec<(&str, &str)> = location.map(|l| vec![("location_id", l)]).unwrap_or_default();
    let resp = authorize_client(sim, http, &app.client_id, redirect_uri, scope, &extra).await;
    assert_eq!(resp.status(), StatusCode::FOUND, "authorize should redirect");
    let (_, p) = location_params(&resp);
    let code = p.get("code").cloned().expect("a code in the redirect");
    let (status, body) = token_as(
        sim,
        http,
        &app.client_id,
        &app.client_secret,
        &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", redirect_uri)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The `target`s of a 422's details, in order.
pub fn targets(body: &Value) -> Vec<String> {
    body["error"]["details"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["target"].as_str().map(str::to_string))
        .collect()
}
