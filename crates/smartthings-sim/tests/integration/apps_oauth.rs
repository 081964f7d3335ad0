//! Apps as OAuth-In clients: a created app signs in at once; its redirect URIs and scopes
//! count as they are now; a new secret or a deletion ends its sign-ins.

use crate::common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const CB: &str = "https://app.invalid/callback";
const SCOPE: &str = "r:devices:* r:locations:*";

async fn refresh_as(
    sim: &smartthings_sim::Sim,
    http: &reqwest::Client,
    id: &str,
    secret: &str,
    rt: &Value,
) -> (StatusCode, Value) {
    token_as(sim, http, id, secret, &[("grant_type", "refresh_token"), ("refresh_token", rt.as_str().unwrap())]).await
}

#[tokio::test]
async fn a_created_app_signs_in_at_once_with_its_own_scopes() {
    let sim = auto_sim().await;
    let http = http();
    let pat = pat(&sim, APP_SCOPES);
    let app =
        create_app(&sim, &http, &pat, "signer", &[CB, "http://127.0.0.1/cb"], &["r:devices:*", "r:locations:*"]).await;
    let tokens = sign_in_app(&sim, &http, &app, CB, SCOPE, None).await;
    assert_eq!(tokens["scope"], SCOPE);
    let (status, devices) = api_get(&sim, &http, &access(&tokens), "/devices").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!devices["items"].as_array().unwrap().is_empty());
    // Its installed app names this app.
    let ia = tokens["installed_app_id"].as_str().unwrap();
    let (status, installed) = api_get(&sim, &http, &access(&tokens), &format!("/installedapps/{ia}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(installed["appId"], app.app_id.as_str());
    assert_eq!(installed["displayName"], "Display signer");
    assert_eq!(installed["locationId"], HOME);
    // A loopback redirect on any port; a refresh with this app's credentials.
    let loopback = sign_in_app(&sim, &http, &app, "http://127.0.0.1:53682/cb", "r:devices:*", Some(TEST_HOME)).await;
    let (status, refreshed) =
        refresh_as(&sim, &http, &app.client_id, &app.client_secret, &loopback["refresh_token"]).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    // Not a scope of this app, even one the configured app has.
    let resp = authorize_client(&sim, &http, &app.client_id, CB, "r:devices:* x:scenes:*", &[]).await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    let (_, p) = location_params(&resp);
    assert_eq!(p.get("error").map(String::as_str), Some("invalid_scope"));
    assert_eq!(p.get("error_description").map(String::as_str), Some("Invalid scope: x:scenes:*"));
    // Another app's secret, or another app's redirect URI: refused.
    let (status, _) =
        token_as(&sim, &http, &app.client_id, &sim.client().client_secret, &[("grant_type", "refresh_token")]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let resp = authorize_client(&sim, &http, &app.client_id, REDIRECT, "r:devices:*", &[]).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(resp.text().await.unwrap(), "'redirect_uri' could not be validated");
    assert_eq!(sim.stats().sign_ins.get(&format!("{}/{HOME}", app.client_id)), Some(&1));
}

#[tokio::test]
async fn a_redirect_uri_removed_by_put_is_refused_at_authorize_from_then_on() {
    let sim = auto_sim().await;
    let http = http();
    let pat = pat(&sim, APP_SCOPES);
    let app = create_app(&sim, &http, &pat, "mover", &[CB], &["r:devices:*"]).await;
    assert_eq!(authorize_client(&sim, &http, &app.client_id, CB, "r:devices:*", &[]).await.status(), StatusCode::FOUND);
    let new_cb = "https://moved.invalid/cb";
    let body = json!({"clientName": "mover", "scope": ["r:devices:*", "r:locations:*"], "redirectUris": [new_cb]});
    let (status, _) =
        api_send(&sim, &http, Method::PUT, &pat, &format!("/apps/{}/oauth", app.app_id), Some(&body)).await;
    assert_eq!(status, StatusCode::OK);
    let resp = authorize_client(&sim, &http, &app.client_id, CB, "r:devices:*", &[]).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(resp.text().await.unwrap(), "'redirect_uri' could not be validated");
    // The new URI and the newly allowed scope work, with the same client.
    let tokens = sign_in_app(&sim, &http, &app, new_cb, SCOPE, None).await;
    assert_eq!(tokens["scope"], SCOPE);
    // The configured app's redirect URIs change the same way.
    let demo = format!("/apps/{}/oauth", sim.client_app_id());
    let (_, mut oauth) = api_get(&sim, &http, &pat, &demo).await;
    oauth["redirectUris"] = json!(["https://elsewhere.invalid/cb"]);
    assert_eq!(api_send(&sim, &http, Method::PUT, &pat, &demo, Some(&oauth)).await.0, StatusCode::OK);
    assert_eq!(authorize(&sim, &http, &[]).await.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn generate_gives_a_new_client_and_ends_every_sign_in_of_the_old_one() {
    let sim = auto_sim().await;
    let http = http();
    let pat = pat(&sim, APP_SCOPES);
    let app = create_app(&sim, &http, &pat, "rotor", &[CB], &["r:devices:*", "r:locations:*"]).await;
    let tokens = sign_in_app(&sim, &http, &app, CB, SCOPE, None).await;
    // Another app's sign-in is not touched.
    let other = create_app(&sim, &http, &pat, "bystander", &[CB], &["r:devices:*"]).await;
    let bystander = sign_in_app(&sim, &http, &other, CB, "r:devices:*", None).await;

    let path = format!("/apps/{}/oauth/generate", app.app_id);
    let (status, generated) = api_send(
        &sim,
        &http,
        Method::POST,
        &pat,
        &path,
        Some(&json!({"clientName": "rotor 2", "scope": ["r:devices:*"]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{generated}");
    assert_eq!(
        generated["oauthClientDetails"],
        json!({"clientName": "rotor 2", "scope": ["r:devices:*"], "redirectUris": [CB]})
    );
    let new_id = generated["oauthClientId"].as_str().unwrap().to_string();
    let new_secret = generated["oauthClientSecret"].as_str().unwrap().to_string();
    assert_ne!(new_id, app.client_id);
    assert_ne!(new_secret, app.client_secret);
    assert_eq!(sim.app(&app.app_id).unwrap().client_id, new_id);
    assert_eq!(sim.stats().app_secrets_generated, 1);

    // The old client: unknown at the token endpoint and at authorize.
    let (status, body) = refresh_as(&sim, &http, &app.client_id, &app.client_secret, &tokens["refresh_token"]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error_description"], "Bad credentials");
    let resp = authorize_client(&sim, &http, &app.client_id, CB, "r:devices:*", &[]).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // The old refresh token is dead for the new client too, and the access token with it.
    let rt = tokens["refresh_token"].as_str().unwrap();
    let (status, body) = refresh_as(&sim, &http, &new_id, &new_secret, &tokens["refresh_token"]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({"error": "invalid_grant", "error_description": format!("Invalid refresh token: {rt}")}));
    assert!(!sim.accepts(&access(&tokens)).await);
    assert_eq!(api_get(&sim, &http, &access(&bystander), "/devices").await.0, StatusCode::OK, "r:devices:* only");
    let (status, _) =
        refresh_as(&sim, &http, &other.client_id, &other.client_secret, &bystander["refresh_token"]).await;
    assert_eq!(status, StatusCode::OK);

    // Signing in again with the new client works, with the narrowed scopes.
    let again = CreatedApp { app_id: app.app_id.clone(), client_id: new_id, client_secret: new_secret };
    let fresh = sign_in_app(&sim, &http, &again, CB, "r:devices:*", None).await;
    assert_eq!(fresh["installed_app_id"], tokens["installed_app_id"], "the same installed app, re-authorized");
    let resp = authorize_client(&sim, &http, &again.client_id, CB, SCOPE, &[]).await;
    let (_, p) = location_params(&resp);
    assert_eq!(p.get("error").map(String::as_str), Some("invalid_scope"));
}

#[tokio::test]
async fn delete_answers_empty_and_ends_the_apps_sign_ins() {
    let sim = auto_sim().await;
    let http = http();
    let pat = pat(&sim, &["r:apps:*", "w:apps:*", "r:installedapps"]);
    let app = create_app(&sim, &http, &pat, "doomed", &[CB], &["r:devices:*", "r:locations:*"]).await;
    let tokens = sign_in_app(&sim, &http, &app, CB, SCOPE, None).await;
    let ia = tokens["installed_app_id"].as_str().unwrap().to_string();
    assert_eq!(api_get(&sim, &http, &pat, &format!("/installedapps/{ia}")).await.0, StatusCode::OK);

    let (status, body) = api_send(&sim, &http, Method::DELETE, &pat, "/apps/doomed", None).await;
    assert_eq!((status, body), (StatusCode::OK, json!({})));
    assert_eq!(sim.stats().apps_deleted, 1);
    assert!(sim.app(&app.app_id).is_none());
    assert!(!sim.accepts(&access(&tokens)).await);
    let (status, _) = refresh_as(&sim, &http, &app.client_id, &app.client_secret, &tokens["refresh_token"]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        authorize_client(&sim, &http, &app.client_id, CB, "r:devices:*", &[]).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(api_get(&sim, &http, &pat, &format!("/apps/{}", app.app_id)).await.0, StatusCode::FORBIDDEN);
    let (status, _) = api_get(&sim, &http, &pat, &format!("/installedapps/{ia}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "uninstalled with its app");
    let (_, list) = api_get(&sim, &http, &pat, "/installedapps").await;
    assert!(list["items"].as_array().unwrap().is_empty(), "{list}");
    assert_eq!(api_send(&sim, &http, Method::DELETE, &pat, "/apps/doomed", None).await.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn one_sign_in_per_app_and_location_holds_for_each_app() {
    let sim = auto_sim().await;
    let http = http();
    let pat = pat(&sim, APP_SCOPES);
    let a = create_app(&sim, &http, &pat, "app-a", &[CB], &["r:devices:*"]).await;
    let b = create_app(&sim, &http, &pat, "app-b", &[CB], &["r:devices:*"]).await;
    let a1 = sign_in_app(&sim, &http, &a, CB, "r:devices:*", None).await;
    let b1 = sign_in_app(&sim, &http, &b, CB, "r:devices:*", None).await;
    assert_ne!(a1["installed_app_id"], b1["installed_app_id"], "two apps, two installed apps in one location");
    let a2 = sign_in_app(&sim, &http, &a, CB, "r:devices:*", None).await;
    assert_eq!(a2["installed_app_id"], a1["installed_app_id"]);
    let (status, body) = refresh_as(&sim, &http, &a.client_id, &a.client_secret, &a1["refresh_token"]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "the newer sign-in of app A won"
    );
    let (status, _) = refresh_as(&sim, &http, &b.client_id, &b.client_secret, &b1["refresh_token"]).await;
    assert_eq!(status, StatusCode::OK, "app B's sign-in is its own");
    // The configured app is unaffected by either.
    login(&sim, &http).await;
}

#[tokio::test]
async fn a_sign_in_page_of_a_deleted_app_cannot_be_approved() {
    let sim = start(smartthings_sim::SimConfig::default()).await;
    let http = http();
    let pat = pat(&sim, APP_SCOPES);
    let app = create_app(&sim, &http, &pat, "gone-soon", &[CB], &["r:devices:*"]).await;
    let page = authorize_client(&sim, &http, &app.client_id, CB, "r:devices:*", &[]).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    let rid = html.split("name=\"request_id\" value=\"").nth(1).and_then(|s| s.split('"').next()).unwrap().to_string();
    assert_eq!(
        api_send(&sim, &http, Method::DELETE, &pat, &format!("/apps/{}", app.app_id), None).await.0,
        StatusCode::OK
    );
    let resp = http
        .post(format!("{}/oauth/authorize/decision", sim.base_url()))
        .form(&[("request_id", rid.as_str()), ("location_id", HOME), ("decision", "authorize")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let (_, list) = api_get(&sim, &http, &pat_all(&sim), "/installedapps").await;
    assert!(list["items"].as_array().unwrap().is_empty(), "no installed app for a deleted app: {list}");
}

fn pat_all(sim: &smartthings_sim::Sim) -> String {
    pat(sim, &["r:installedapps:*"])
}
