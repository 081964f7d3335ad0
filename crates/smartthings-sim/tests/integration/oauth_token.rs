//! `/oauth/token`: Spring Security OAuth2's client authentication, grants and errors.

use std::time::Duration;

use crate::common::*;
use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::json;
use sha2::Digest as _;
use smartthings_sim::SimConfig;

fn exchange_form(code: &str) -> Vec<(&str, &str)> {
    vec![("grant_type", "authorization_code"), ("code", code), ("redirect_uri", REDIRECT)]
}

#[tokio::test]
async fn form_and_basic_exchange_succeeds_with_springs_headers_and_body() {
    let sim = auto_sim().await;
    let http = http();
    let code = code(&sim, &http, &[]).await;
    let mut form = exchange_form(&code);
    let id = sim.client().client_id.clone();
    form.push(("client_id", &id));
    let resp = token(&sim, &http, &form).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let h = resp.headers().clone();
    assert_eq!(h["content-type"], "application/json;charset=UTF-8");
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["pragma"], "no-cache");
    let (_, body) = status_json(resp).await;
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 86400);
    assert_eq!(body["scope"], ALL_SCOPES);
    assert_eq!(body["access_tier"], 0);
    for k in ["access_token", "refresh_token", "installed_app_id"] {
        assert_eq!(body[k].as_str().map(str::len), Some(36), "{k} is UUID-shaped");
    }
    assert_ne!(body["access_token"], body["refresh_token"]);
    let stats = sim.stats();
    assert_eq!(stats.token_grants.get("authorization_code"), Some(&1));
}

#[tokio::test]
async fn json_body_without_basic_gets_401_full_authentication() {
    let sim = auto_sim().await;
    let http = http();
    let code = code(&sim, &http, &[]).await;
    let resp = http
        .post(format!("{}/token", sim.auth_url()))
        .json(&json!({
            "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
            "client_id": sim.client().client_id, "client_secret": sim.client().client_secret
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        resp.headers()["www-authenticate"],
        "Basic realm=\"oauth2/client\", error=\"unauthorized\", error_description=\"Full authentication is required to access this resource\""
    );
    let (_, body) = status_json(resp).await;
    assert_eq!(
        body,
        json!({"error": "unauthorized", "error_description": "Full authentication is required to access this resource"})
    );
    // the code was not touched: a correct request still works
    let (status, _) = status_json(token(&sim, &http, &exchange_form(&code)).await).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn json_body_with_basic_is_missing_grant_type() {
    let sim = auto_sim().await;
    let http = http();
    let code = code(&sim, &http, &[]).await;
    let resp = http
        .post(format!("{}/token", sim.auth_url()))
        .header("authorization", basic(&sim))
        .json(&json!({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}))
        .send()
        .await
        .unwrap();
    let (status, body) = status_json(resp).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({"error": "invalid_request", "error_description": "Missing grant type"}));
}

#[tokio::test]
async fn secret_in_the_body_is_refused_even_with_valid_basic() {
    let sim = auto_sim().await;
    let http = http();
    let code = code(&sim, &http, &[]).await;
    let secret = sim.client().client_secret.clone();
    let id = sim.client().client_id.clone();
    let mut form = exchange_form(&code);
    form.push(("client_id", &id));
    form.push(("client_secret", &secret));
    // without Basic
    let resp = http.post(format!("{}/token", sim.auth_url())).form(&form).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(resp.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic realm=\"oauth2/client\""));
    let (_, body) = status_json(resp).await;
    assert_eq!(body["error_description"], "Full authentication is required to access this resource");
    // with Basic as well
    let (status, body) = status_json(token(&sim, &http, &form).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "unauthorized");
}

#[tokio::test]
async fn wrong_secret_or_unknown_client_is_bad_credentials() {
    let sim = auto_sim().await;
    let http = http();
    let code = code(&sim, &http, &[]).await;
    for auth in [basic_for(&sim.client().client_id, "wrong"), basic_for("someone-else", &sim.client().client_secret)] {
        let resp = http
            .post(format!("{}/token", sim.auth_url()))
            .header("authorization", auth)
            .form(&exchange_form(&code))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            resp.headers()["www-authenticate"],
            "Basic realm=\"oauth2/client\", error=\"unauthorized\", error_description=\"Bad credentials\""
        );
        let (_, body) = status_json(resp).await;
        assert_eq!(body, json!({"error": "unauthorized", "error_description": "Bad credentials"}));
    }
}

#[tokio::test]
async fn client_id_param_must_match_basic() {
    let sim = auto_sim().await;
    let http = http();
    let code = code(&sim, &http, &[]).await;
    let mut form = exchange_form(&code);
    form.push(("client_id", "another-client"));
    let (status, body) = status_json(token(&sim, &http, &form).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({"error": "invalid_client", "error_description": "Given client ID does not match authenticated client"})
    );
}

#[tokio::test]
async fn codes_are_single_use() {
    let sim = auto_sim().await;
    let http = http();
    let code = code(&sim, &http, &[]).await;
    assert_eq!(token(&sim, &http, &exchange_form(&code)).await.status(), StatusCode::OK);
    let (status, body) = status_json(token(&sim, &http, &exchange_form(&code)).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"error": "invalid_grant", "error_description": format!("Invalid authorization code: {code}")})
    );
}

#[tokio::test]
async fn codes_expire_on_the_sim_clock() {
    let sim = auto_sim().await;
    let http = http();
    let code = code(&sim, &http, &[]).await;
    sim.advance_clock(Duration::from_secs(301));
    let (status, body) = status_json(token(&sim, &http, &exchange_form(&code)).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(body["error_description"], format!("Invalid authorization code: {code}"));
}

#[tokio::test]
async fn redirect_uri_must_repeat_the_authorize_one_and_a_failed_use_consumes_the_code() {
    let sim = auto_sim().await;
    let http = http();
    for form_redirect in [None, Some("https://httpbin.org/get")] {
        let code = code(&sim, &http, &[]).await;
        let mut form = vec![("grant_type", "authorization_code"), ("code", code.as_str())];
        if let Some(r) = form_redirect {
            form.push(("redirect_uri", r));
        }
        let (status, body) = status_json(token(&sim, &http, &form).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body, json!({"error": "invalid_grant", "error_description": "Redirect URI mismatch."}));
        let (status, body) = status_json(token(&sim, &http, &exchange_form(&code)).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error_description"], format!("Invalid authorization code: {code}"));
    }
}

#[tokio::test]
async fn pkce_right_wrong_and_missing_verifier() {
    let sim = auto_sim().await;
    let http = http();
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-and-some-more-entropy";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    let pkce = [("code_challenge", challenge.as_str()), ("code_challenge_method", "S256")];

    let c = code(&sim, &http, &pkce).await;
    let mut form = exchange_form(&c);
    form.push(("code_verifier", verifier));
    assert_eq!(token(&sim, &http, &form).await.status(), StatusCode::OK);

    for bad in [Some("not-the-verifier-not-the-verifier-not-the-verifier"), None] {
        let c = code(&sim, &http, &pkce).await;
        let mut form = exchange_form(&c);
        if let Some(v) = bad {
            form.push(("code_verifier", v));
        }
        let (status, body) = status_json(token(&sim, &http, &form).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body, json!({"error": "invalid_grant", "error_description": "Invalid code verifier"}));
    }
}

#[tokio::test]
async fn refresh_rotates_and_the_old_refresh_token_dies_at_once() {
    let sim = auto_sim().await;
    let http = http();
    let first = login(&sim, &http).await;
    let old_refresh = first["refresh_token"].as_str().unwrap().to_string();
    let (status, second) =
        status_json(token(&sim, &http, &[("grant_type", "refresh_token"), ("refresh_token", &old_refresh)]).await)
            .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert_ne!(second["access_token"], first["access_token"]);
    assert_eq!(second["installed_app_id"], first["installed_app_id"]);

    let (status, body) =
        status_json(token(&sim, &http, &[("grant_type", "refresh_token"), ("refresh_token", &old_refresh)]).await)
            .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"error": "invalid_grant", "error_description": format!("Invalid refresh token: {old_refresh}")})
    );

    // the old access token lives until its own expiry
    let (status, _) = api_get(&sim, &http, &access(&first), "/devices").await;
    assert_eq!(status, StatusCode::OK);
    // the new refresh token works, through the /v1/oauth alias too
    let resp = http
        .post(format!("{}/v1/oauth/token", sim.base_url()))
        .header("authorization", basic(&sim))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", second["refresh_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(sim.stats().token_grants.get("refresh_token"), Some(&2));
}

#[tokio::test]
async fn refresh_tokens_die_after_their_lifetime_and_on_revocation() {
    let sim = auto_sim().await;
    let http = http();
    let t = login(&sim, &http).await;
    sim.advance_clock(Duration::from_secs(29 * 86_400));
    let (status, t2) = status_json(
        token(&sim, &http, &[("grant_type", "refresh_token"), ("refresh_token", t["refresh_token"].as_str().unwrap())])
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "29 days old still works");
    sim.advance_clock(Duration::from_secs(30 * 86_400 + 1));
    let rt = t2["refresh_token"].as_str().unwrap();
    let (status, body) =
        status_json(token(&sim, &http, &[("grant_type", "refresh_token"), ("refresh_token", rt)]).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error_description"], format!("Invalid refresh token: {rt}"));

    let t3 = login(&sim, &http).await;
    sim.revoke_refresh_tokens();
    let (status, body) = status_json(
        token(
            &sim,
            &http,
            &[("grant_type", "refresh_token"), ("refresh_token", t3["refresh_token"].as_str().unwrap())],
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn client_credentials_other_and_missing_grant_types() {
    let sim = auto_sim().await;
    let http = http();
    let resp = token(&sim, &http, &[("grant_type", "client_credentials"), ("scope", "r:devices:*")]).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let (_, body) = status_json(resp).await;
    assert_eq!(
        body,
        json!({"error": "invalid_client", "error_description": "Unauthorized grant type: client_credentials"})
    );

    let (status, body) = status_json(token(&sim, &http, &[("grant_type", "password")]).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"error": "unsupported_grant_type", "error_description": "Unsupported grant type: password"})
    );

    let (status, body) = status_json(token(&sim, &http, &[("code", "abc")]).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({"error": "invalid_request", "error_description": "Missing grant type"}));

    let resp = http.get(format!("{}/token", sim.auth_url())).header("authorization", basic(&sim)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn expires_in_follows_configuration() {
    let sim = start(SimConfig { auto_approve: true, expires_in: 299, ..SimConfig::default() }).await;
    let http = http();
    assert_eq!(login(&sim, &http).await["expires_in"], 299);
    sim.set_expires_in(82_806);
    assert_eq!(login(&sim, &http).await["expires_in"], 82_806);
}

#[tokio::test]
async fn two_racing_refreshes_with_one_token_have_exactly_one_winner() {
    let sim = auto_sim().await;
    let http = http();
    let t = login(&sim, &http).await;
    let rt = t["refresh_token"].as_str().unwrap();
    let form = [("grant_type", "refresh_token"), ("refresh_token", rt)];
    let (a, b) = tokio::join!(token(&sim, &http, &form), token(&sim, &http, &form));
    let mut codes = [a.status().as_u16(), b.status().as_u16()];
    codes.sort();
    assert_eq!(codes, [200, 400]);
}

async fn refresh_with(sim: &smartthings_sim::Sim, http: &reqwest::Client, tokens: &serde_json::Value) -> StatusCode {
    let rt = tokens["refresh_token"].as_str().unwrap();
    token(sim, http, &[("grant_type", "refresh_token"), ("refresh_token", rt)]).await.status()
}

/// SmartThings keeps one sign-in per (client, location): the same app signed in again for
/// the same location (a second computer, a second tool) ends the first sign-in's refresh
/// token at the second code exchange, while its access token works until it expires.
#[tokio::test]
async fn a_second_sign_in_for_the_same_location_ends_the_first() {
    let sim = auto_sim().await;
    let http = http();
    let first = login(&sim, &http).await;
    let second = login(&sim, &http).await;
    assert_eq!(first["installed_app_id"], second["installed_app_id"], "one installed app per client and location");
    assert_eq!(
        api_get(&sim, &http, &access(&first), "/locations").await.0,
        StatusCode::OK,
        "the old access token lives on"
    );
    assert_eq!(refresh_with(&sim, &http, &first).await, StatusCode::BAD_REQUEST, "the old refresh token is dead");
    assert_eq!(refresh_with(&sim, &http, &second).await, StatusCode::OK, "the newest sign-in lives");
    let key = format!("{}/{}", sim.client().client_id, HOME);
    assert_eq!(sim.stats().sign_ins.get(&key), Some(&2), "{:?}", sim.stats().sign_ins);
    // Another location is another installed app: both live.
    let cabin = login_at(&sim, &http, Some(TEST_HOME)).await;
    assert_ne!(cabin["installed_app_id"], second["installed_app_id"]);
    let newest = login(&sim, &http).await;
    assert_eq!(refresh_with(&sim, &http, &cabin).await, StatusCode::OK, "a sign-in elsewhere ends nothing here");
    assert_eq!(refresh_with(&sim, &http, &newest).await, StatusCode::OK);
}

/// The rule can be turned off (`--many-sign-ins-per-location`) for a lenient world.
#[tokio::test]
async fn with_the_rule_off_every_sign_in_lives() {
    let sim = start(SimConfig { auto_approve: true, one_sign_in_per_location: false, ..SimConfig::default() }).await;
    let http = http();
    let first = login(&sim, &http).await;
    let second = login(&sim, &http).await;
    assert_ne!(first["installed_app_id"], second["installed_app_id"]);
    assert_eq!(refresh_with(&sim, &http, &first).await, StatusCode::OK);
    assert_eq!(refresh_with(&sim, &http, &second).await, StatusCode::OK);
}
