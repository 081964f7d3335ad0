//! The ST Schema side: callback tokens for the partner connector, as strict as
//! SmartThings (a JSON st-schema body only, single-use codes, rotation, expiry on the
//! simulator's clock) and the `stateCallback` endpoint that checks the callback token.

use std::time::Duration;

use serde_json::{json, Value};
use smartthings_sim::{Sim, SimConfig};

use crate::common::{http, start, status_json};

fn body(sim: &Sim, interaction: &str, auth: Value) -> Value {
    let p = sim.schema_partner();
    let mut auth = auth;
    auth["clientId"] = json!(p.client_id);
    auth["clientSecret"] = json!(p.client_secret);
    json!({
        "headers": {"schema": "st-schema", "version": "1.0", "interactionType": interaction, "requestId": "4b9d5c1e-0000-4000-8000-000000000001"},
        "callbackAuthentication": auth
    })
}

async fn post(url: &str, v: &Value) -> (reqwest::StatusCode, Value) {
    status_json(http().post(url).json(v).send().await.unwrap()).await
}

fn error_enum(v: &Value) -> &str {
    v["globalError"]["errorEnum"].as_str().unwrap_or("")
}

async fn exchange(sim: &Sim) -> (String, Value) {
    let grant = sim.schema_grant();
    let url = grant["callbackUrls"]["oauthToken"].as_str().unwrap().to_string();
    let code = grant["callbackAuthentication"]["code"].as_str().unwrap();
    let (status, v) =
        post(&url, &body(sim, "accessTokenRequest", json!({"grantType": "authorization_code", "code": code}))).await;
    assert_eq!(status, 200, "{v}");
    (url, v)
}

#[tokio::test]
async fn a_code_gives_callback_tokens_and_each_refresh_rotates_them() {
    let sim = start(SimConfig { expires_in: 3600, ..SimConfig::default() }).await;
    let grant = sim.schema_grant();
    assert_eq!(grant["headers"]["interactionType"], "grantCallbackAccess");
    assert_eq!(grant["callbackAuthentication"]["clientId"], sim.schema_partner().client_id.as_str());
    assert!(grant["callbackUrls"]["stateCallback"].as_str().unwrap().starts_with(&sim.base_url()));
    let (url, v) = exchange(&sim).await;
    assert_eq!(v["headers"]["interactionType"], "accessTokenResponse");
    assert_eq!(v["headers"]["requestId"], "4b9d5c1e-0000-4000-8000-000000000001", "the request id is echoed");
    let cb = &v["callbackAuthentication"];
    assert_eq!(cb["tokenType"], "Bearer");
    assert_eq!(cb["expiresIn"], 3600);
    let (access, mut refresh) =
        (cb["accessToken"].as_str().unwrap().to_string(), cb["refreshToken"].as_str().unwrap().to_string());
    assert!(sim.schema_accepts(&access));

    for _day in 0..5 {
        sim.advance_clock(Duration::from_secs(86_400));
        assert!(!sim.schema_accepts(&access), "an access token expires");
        let (status, v) = post(
            &url,
            &body(&sim, "refreshAccessTokens", json!({"grantType": "refresh_token", "refreshToken": refresh})),
        )
        .await;
        assert_eq!(status, 200, "{v}");
        let next = v["callbackAuthentication"]["refreshToken"].as_str().unwrap().to_string();
        assert_ne!(next, refresh);
        assert!(sim.schema_accepts(v["callbackAuthentication"]["accessToken"].as_str().unwrap()));
        // The spent one is dead.
        let (status, again) = post(
            &url,
            &body(&sim, "refreshAccessTokens", json!({"grantType": "refresh_token", "refreshToken": refresh})),
        )
        .await;
        assert_eq!((status.as_u16(), error_enum(&again)), (401, "INVALID-TOKEN"), "{again}");
        refresh = next;
    }
    let stats = sim.stats();
    assert_eq!(stats.schema_token_grants.get("accessTokenRequest"), Some(&1));
    assert_eq!(stats.schema_token_grants.get("refreshAccessTokens"), Some(&5));
}

#[tokio::test]
async fn what_smartthings_refuses_is_refused_with_its_error_enum() {
    let sim = start(SimConfig::default()).await;
    let grant = sim.schema_grant();
    let url = grant["callbackUrls"]["oauthToken"].as_str().unwrap().to_string();
    let code = grant["callbackAuthentication"]["code"].as_str().unwrap().to_string();
    let good = body(&sim, "accessTokenRequest", json!({"grantType": "authorization_code", "code": code}));

    // The OAuth-In way: a form body.
    let form = http().post(&url).form(&[("grant_type", "refresh_token"), ("refresh_token", "x")]).send().await.unwrap();
    let (status, v) = status_json(form).await;
    assert_eq!((status.as_u16(), error_enum(&v)), (400, "BAD-REQUEST"), "{v}");
    let mut no_headers = good.clone();
    no_headers.as_object_mut().unwrap().remove("headers");
    let mut wrong_interaction = good.clone();
    wrong_interaction["headers"]["interactionType"] = json!("discoveryRequest");
    let mut wrong_client = good.clone();
    wrong_client["callbackAuthentication"]["clientId"] = json!("someone-else");
    let mut wrong_secret = good.clone();
    wrong_secret["callbackAuthentication"]["clientSecret"] = json!("not-it");
    let mut wrong_grant = good.clone();
    wrong_grant["callbackAuthentication"]["grantType"] = json!("client_credentials");
    let mut unknown_code = good.clone();
    unknown_code["callbackAuthentication"]["code"] = json!("never-issued");
    for (what, v, status, expected) in [
        ("no st-schema headers", no_headers, 400, "BAD-REQUEST"),
        ("another interaction", wrong_interaction, 400, "INVALID-INTERACTION-TYPE"),
        ("another client", wrong_client, 401, "INVALID-CLIENT"),
        ("a wrong secret", wrong_secret, 401, "INVALID-CLIENT-SECRET"),
        ("client_credentials", wrong_grant, 400, "UNSUPPORTED-GRANT-TYPE"),
        ("an unknown code", unknown_code, 400, "INVALID-CODE"),
    ] {
        let (s, answer) = post(&url, &v).await;
        assert_eq!((s.as_u16(), error_enum(&answer)), (status, expected), "{what}: {answer}");
        assert_eq!(answer["headers"]["interactionType"], "interactionResult", "{what}");
        assert!(answer["globalError"]["detail"].as_str().is_some_and(|d| !d.is_empty()), "{what}");
    }
    // None of that spent the code; using it does, once.
    assert_eq!(post(&url, &good).await.0, 200);
    let (s, v) = post(&url, &good).await;
    assert_eq!((s.as_u16(), error_enum(&v)), (400, "INVALID-CODE"));
    // An expired code.
    let late = sim.schema_grant();
    sim.advance_clock(Duration::from_secs(301));
    let (s, v) = post(
        &url,
        &body(
            &sim,
            "accessTokenRequest",
            json!({"grantType": "authorization_code", "code": late["callbackAuthentication"]["code"]}),
        ),
    )
    .await;
    assert_eq!((s.as_u16(), error_enum(&v)), (400, "INVALID-CODE"), "{v}");
    assert_eq!(sim.stats().schema_token_grants.get("accessTokenRequest"), Some(&1));
}

#[tokio::test]
async fn refresh_tokens_expire_and_a_deleted_integration_refuses_everything() {
    let sim = start(SimConfig { refresh_token_lifetime: 86_400, ..SimConfig::default() }).await;
    let (url, v) = exchange(&sim).await;
    let refresh = v["callbackAuthentication"]["refreshToken"].as_str().unwrap().to_string();
    sim.advance_clock(Duration::from_secs(86_401));
    let (s, v) =
        post(&url, &body(&sim, "refreshAccessTokens", json!({"grantType": "refresh_token", "refreshToken": refresh})))
            .await;
    assert_eq!((s.as_u16(), error_enum(&v)), (401, "TOKEN-EXPIRED"), "{v}");

    let (_, v) = exchange(&sim).await;
    let refresh = v["callbackAuthentication"]["refreshToken"].as_str().unwrap().to_string();
    http().post(format!("{}/__sim/schema/delete", sim.base_url())).send().await.unwrap();
    let (s, v) =
        post(&url, &body(&sim, "refreshAccessTokens", json!({"grantType": "refresh_token", "refreshToken": refresh})))
            .await;
    assert_eq!((s.as_u16(), error_enum(&v)), (401, "INTEGRATION-DELETED"), "{v}");
}

#[tokio::test]
async fn a_state_callback_needs_a_live_callback_token() {
    let sim = start(SimConfig { expires_in: 600, ..SimConfig::default() }).await;
    let grant = sim.schema_grant();
    let events = grant["callbackUrls"]["stateCallback"].as_str().unwrap().to_string();
    let (_, v) = exchange(&sim).await;
    let access = v["callbackAuthentication"]["accessToken"].as_str().unwrap().to_string();
    let call = |token: &str| {
        json!({
            "headers": {"schema": "st-schema", "version": "1.0", "interactionType": "stateCallback", "requestId": "r-1"},
            "authentication": {"tokenType": "Bearer", "token": token},
            "deviceState": [{"externalDeviceId": "lamp-1", "states": [{"component": "main", "capability": "st.switch", "attribute": "switch", "value": "on"}]}]
        })
    };
    let (s, v) = post(&events, &call("made-up")).await;
    assert_eq!((s.as_u16(), error_enum(&v)), (401, "INVALID-TOKEN"), "{v}");
    let (s, v) = post(&events, &call(&access)).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(sim.schema_events()[0]["externalDeviceId"], "lamp-1");
    sim.advance_clock(Duration::from_secs(601));
    let (s, v) = post(&events, &call(&access)).await;
    assert_eq!((s.as_u16(), error_enum(&v)), (401, "TOKEN-EXPIRED"), "{v}");
    assert_eq!(sim.stats().schema_state_callbacks, 1);
}
