//! `/oauth/authorize`: validation order, the sign-in page, decisions and auto-approve.

use crate::common::*;
use reqwest::StatusCode;
use smartthings_sim::{SimClient, SimConfig};

#[tokio::test]
async fn sign_in_page_renders_and_authorize_redirects_with_code_and_state() {
    let sim = start(SimConfig::default()).await;
    let http = http();
    let resp = authorize(&sim, &http, &[]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let csp = resp.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = resp.text().await.unwrap();
    for needle in [
        "data-testid=\"location\"",
        "data-testid=\"authorize\"",
        "data-testid=\"deny\"",
        "name=\"location_id\"",
        "action=\"/oauth/authorize/decision\"",
        HOME,
        TEST_HOME,
        "Test Home",
    ] {
        assert!(html.contains(needle), "page lacks {needle}");
    }
    assert!(!html.contains("http://") && !html.contains("https://"), "no external assets");
    let rid = html
        .split("name=\"request_id\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("hidden request id")
        .to_string();

    let decide = |rid: String, decision: &'static str| {
        let http = http.clone();
        let url = format!("{}/authorize/decision", sim.auth_url());
        async move {
            http.post(url)
                .form(&[("request_id", rid.as_str()), ("location_id", TEST_HOME), ("decision", decision)])
                .send()
                .await
                .unwrap()
        }
    };
    let resp = decide(rid.clone(), "authorize").await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    let (loc, p) = location_params(&resp);
    assert!(loc.starts_with(&format!("{REDIRECT}?code=")), "{loc}");
    assert_eq!(p["state"], "st-123");

    // the pending request is single use
    let again = decide(rid, "authorize").await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);

    // the code belongs to the chosen location
    let (status, tokens) = status_json(
        token(&sim, &http, &[("grant_type", "authorization_code"), ("code", &p["code"]), ("redirect_uri", REDIRECT)])
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let app = tokens["installed_app_id"].as_str().unwrap();
    let (status, body) = api_get(&sim, &http, &access(&tokens), &format!("/installedapps/{app}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["locationId"], TEST_HOME);
}

#[tokio::test]
async fn deny_redirects_with_access_denied_and_state() {
    let sim = start(SimConfig::default()).await;
    let http = http();
    let html = authorize(&sim, &http, &[]).await.text().await.unwrap();
    let rid = html.split("name=\"request_id\" value=\"").nth(1).and_then(|s| s.split('"').next()).unwrap();
    let resp = http
        .post(format!("{}/v1/oauth/authorize/decision", sim.base_url()))
        .form(&[("request_id", rid), ("location_id", HOME), ("decision", "deny")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert_eq!(
        resp.headers()["location"],
        "https://thingstray.invalid/callback?error=access_denied&error_description=The+user+denied+the+request&state=st-123"
    );
}

#[tokio::test]
async fn auto_approve_redirects_at_once_and_location_id_picks_another_location() {
    let sim = auto_sim().await;
    let http = http();
    let t = login(&sim, &http).await;
    let (_, app) =
        api_get(&sim, &http, &access(&t), &format!("/installedapps/{}", t["installed_app_id"].as_str().unwrap())).await;
    assert_eq!(app["locationId"], HOME);
    assert_eq!(app["installedAppType"], "API_ONLY");
    assert_eq!(app["installedAppStatus"], "AUTHORIZED");
    let t2 = login_at(&sim, &http, Some(TEST_HOME)).await;
    assert_ne!(t2["installed_app_id"], t["installed_app_id"], "one installed app per sign-in");
    let (_, app) =
        api_get(&sim, &http, &access(&t2), &format!("/installedapps/{}", t2["installed_app_id"].as_str().unwrap()))
            .await;
    assert_eq!(app["locationId"], TEST_HOME);
}

#[tokio::test]
async fn unregistered_redirect_or_unknown_client_is_a_plain_text_400() {
    let sim = auto_sim().await;
    let http = http();
    for extra in [
        vec![("redirect_uri", "https://evil.example/callback")],
        vec![("redirect_uri", "https://thingstray.invalid/callback/")],
        vec![("redirect_uri", "http://127.0.0.1:8080/other")],
        vec![("client_id", "00000000-0000-0000-0000-000000000000")],
    ] {
        let resp = authorize(&sim, &http, &extra).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{extra:?}");
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
        assert!(resp.headers().get("location").is_none());
        assert_eq!(resp.text().await.unwrap(), "'redirect_uri' could not be validated");
    }
    // redirect_uri missing entirely
    let resp = http
        .get(format!("{}/authorize", sim.auth_url()))
        .query(&[("client_id", sim.client().client_id.as_str()), ("response_type", "code"), ("scope", "r:devices:*")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn request_errors_redirect_to_the_client_with_state() {
    let sim = auto_sim().await;
    let http = http();
    let cases: [(&[(&str, &str)], &str); 6] = [
        (&[("response_type", "token")], "unsupported_response_type"),
        (&[("scope", "r:devices:* w:everything")], "invalid_scope"),
        (&[("scope", "")], "invalid_scope"),
        (
            &[("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"), ("code_challenge_method", "plain")],
            "invalid_request",
        ),
        (&[("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")], "invalid_request"),
        (&[("code_challenge_method", "S256")], "invalid_request"),
    ];
    for (extra, error) in cases {
        let resp = authorize(&sim, &http, extra).await;
        assert_eq!(resp.status(), StatusCode::FOUND, "{extra:?}");
        let (loc, p) = location_params(&resp);
        assert!(loc.starts_with(REDIRECT), "{loc}");
        assert_eq!(p.get("error").map(String::as_str), Some(error), "{extra:?}");
        assert_eq!(p["state"], "st-123");
        assert!(!p.contains_key("code"));
    }
}

#[tokio::test]
async fn loopback_redirects_match_on_any_port_and_queries_are_extended_with_ampersand() {
    let client = SimClient {
        redirect_uris: vec!["http://127.0.0.1/callback".into(), "https://app.example/cb?x=1".into()],
        ..SimClient::default()
    };
    let sim = start(SimConfig { auto_approve: true, client, ..SimConfig::default() }).await;
    let http = http();
    let resp = authorize(&sim, &http, &[("redirect_uri", "http://127.0.0.1:53682/callback")]).await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    let (loc, p) = location_params(&resp);
    assert!(loc.starts_with("http://127.0.0.1:53682/callback?code="), "{loc}");
    // the token request must repeat the URI used at authorize, byte for byte
    let (status, body) = status_json(
        token(
            &sim,
            &http,
            &[
                ("grant_type", "authorization_code"),
                ("code", &p["code"]),
                ("redirect_uri", "http://127.0.0.1:53682/callback"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let resp = authorize(&sim, &http, &[("redirect_uri", "https://app.example/cb?x=1")]).await;
    let (loc, _) = location_params(&resp);
    assert!(loc.starts_with("https://app.example/cb?x=1&code="), "{loc}");
}
