//! Sign-in over real HTTP against the simulator, and every trap of the token endpoint
//! ending in its own error.

use std::time::Duration;

use crate::common::{approve, raw_server, settings_for, Env};
use secrecy::SecretString;
use smartthings_sim::{Faults, SimConfig};
use thingstray::config::Config;
use thingstray::http::Reply;
use thingstray::oauth::{classify, Grant, OAuthClient};

#[tokio::test]
async fn full_sign_in_ends_with_tokens_in_the_vault_and_a_device_list() {
    let env = Env::new(SimConfig::default()).await;
    let conn = env.connection().await;
    let sign_in = conn.begin_sign_in().unwrap();
    let answer = approve(&sign_in, None).await;
    assert!(answer.starts_with(&env.sim.client().redirect_uris[0]), "{answer}");
    conn.finish_sign_in(&env.paths, &sign_in, &answer).await.unwrap();

    let stored = env.vault.tokens("home").await.unwrap().expect("tokens are in the vault");
    assert!(stored.ended.is_none());
    assert!(stored.installed_app_id.is_some());

    let devices = conn.api.devices().await.unwrap();
    assert!(devices.len() >= 10, "the demo home lists its devices, got {}", devices.len());
    assert!(devices.iter().any(|d| d.status.as_ref().and_then(|s| s.switch()).is_some()), "statuses came inline");
    assert_eq!(env.sim.stats().routes.get("GET /v1/devices").copied().unwrap_or(0), 1, "one request per 200 devices");

    let config = Config::load(&env.paths).unwrap();
    let home = &config.connections["home"];
    assert!(home.location_name.is_some(), "the location is remembered for display");
    let text = std::fs::read_to_string(env.paths.config_file()).unwrap();
    assert!(!text.contains(stored.access_token.secret()) && !text.contains(stored.refresh_token.secret()));
    assert!(!text.contains(&env.sim.client().client_secret));
}

#[tokio::test]
async fn the_answer_is_accepted_as_a_url_a_query_or_a_bare_code() {
    let env = Env::new(SimConfig::default()).await;
    let conn = env.connection().await;
    for shape in ["url", "query", "code"] {
        let sign_in = conn.begin_sign_in().unwrap();
        let answer = approve(&sign_in, None).await;
        let url = url::Url::parse(&answer).unwrap();
        let input = match shape {
            "url" => answer.clone(),
            "query" => format!("?{}", url.query().unwrap()),
            _ => url.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned(),
        };
        conn.finish_sign_in(&env.paths, &sign_in, &input).await.unwrap_or_else(|e| panic!("{shape}: {e}"));
    }
}

#[tokio::test]
async fn a_forged_or_denied_answer_changes_nothing() {
    let env = Env::new(SimConfig::default()).await;
    let conn = env.signed_in().await;
    let before = env.vault.tokens("home").await.unwrap().unwrap();

    let sign_in = conn.begin_sign_in().unwrap();
    let answer = approve(&sign_in, None).await;
    let forged = answer.replace("state=", "state=x");
    let e = conn.finish_sign_in(&env.paths, &sign_in, &forged).await.unwrap_err();
    assert_eq!(e.code(), "state_mismatch");

    let other = conn.begin_sign_in().unwrap();
    let denied = approve(&other, Some("deny")).await;
    let e = conn.finish_sign_in(&env.paths, &other, &denied).await.unwrap_err();
    assert_eq!(e.code(), "sign_in_denied");
    assert!(e.to_string().contains("press Authorize"));

    let e = conn.finish_sign_in(&env.paths, &sign_in, "https://thingstray.invalid/callback").await.unwrap_err();
    assert_eq!(e.code(), "callback_malformed");

    let after = env.vault.tokens("home").await.unwrap().unwrap();
    assert_eq!(before.refresh_token.secret(), after.refresh_token.secret(), "the stored session is untouched");
    // The pending sign-in survived the forged answer and still completes.
    conn.finish_sign_in(&env.paths, &sign_in, &answer).await.unwrap();
}

#[tokio::test]
async fn a_used_or_expired_code_is_explained() {
    let env = Env::new(SimConfig::default()).await;
    let conn = env.connection().await;
    let sign_in = conn.begin_sign_in().unwrap();
    let answer = approve(&sign_in, None).await;
    conn.finish_sign_in(&env.paths, &sign_in, &answer).await.unwrap();
    let e = conn.finish_sign_in(&env.paths, &sign_in, &answer).await.unwrap_err();
    assert_eq!(e.code(), "code_rejected");
    assert!(e.to_string().contains("works once"), "{e}");

    let late = conn.begin_sign_in().unwrap();
    let answer = approve(&late, None).await;
    env.advance(Duration::from_secs(30 * 60));
    let e = conn.finish_sign_in(&env.paths, &late, &answer).await.unwrap_err();
    assert_eq!(e.code(), "code_rejected");
    let code = url::Url::parse(&answer).unwrap().query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
    assert!(!e.to_string().contains(&code), "the code is not echoed: {e}");
}

#[tokio::test]
async fn a_wrong_secret_is_client_rejected_and_client_credentials_is_explained() {
    let env = Env::new(SimConfig::default()).await;
    let settings = settings_for(&env.sim);
    let http = thingstray::http::client(Duration::from_secs(5)).unwrap();
    let wrong = OAuthClient::new(&settings, &SecretString::from("not-the-secret".to_string()), http.clone()).unwrap();
    let sign_in = wrong.begin_sign_in();
    let answer = approve(&sign_in, None).await;
    let code = sign_in.accept(&answer).unwrap();
    let e = wrong.exchange(&sign_in, code, std::time::SystemTime::now()).await.unwrap_err();
    assert_eq!(e.code(), "client_rejected");
    assert!(e.to_string().contains("client id or secret"), "{e}");
    assert_eq!(wrong.check_client().await.unwrap_err().code(), "client_rejected");

    // The right pair: SmartThings authenticates it, then refuses client_credentials.
    let right = OAuthClient::new(&settings, &SecretString::from(env.sim.client().client_secret.clone()), http).unwrap();
    right.check_client().await.unwrap();
}

/// The mistakes of hand-written clients, sent raw to the simulator, each explained by the
/// same classifier the session uses.
#[tokio::test]
async fn json_bodies_secrets_in_the_body_and_client_credentials_are_explained() {
    let env = Env::new(SimConfig::default()).await;
    let token_url = format!("{}/token", env.sim.auth_url());
    let c = env.sim.client().clone();
    let http = reqwest::Client::new();
    let explain = |grant, status: reqwest::StatusCode, headers, body: Vec<u8>| {
        classify(
            grant,
            &Reply { status, headers, body },
            &token_url,
            "https://thingstray.invalid/callback",
            "",
            std::time::SystemTime::now(),
        )
    };

    let json = http
        .post(&token_url)
        .json(&serde_json::json!({"grant_type":"refresh_token","refresh_token":"x","client_id":c.client_id,"client_secret":c.client_secret}))
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), 401);
    assert!(json.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic realm=\"oauth2/client\""));
    let (s, h) = (json.status(), json.headers().clone());
    let e = explain(Grant::RefreshToken, s, h, json.bytes().await.unwrap().to_vec());
    assert_eq!(e.code(), "client_rejected");

    let in_body = http
        .post(&token_url)
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", &c.client_id),
            ("client_secret", &c.client_secret),
        ])
        .send()
        .await
        .unwrap();
    let (s, h) = (in_body.status(), in_body.headers().clone());
    assert_eq!(s, 401);
    assert_eq!(explain(Grant::RefreshToken, s, h, in_body.bytes().await.unwrap().to_vec()).code(), "client_rejected");

    let cc = http
        .post(&token_url)
        .basic_auth(&c.client_id, Some(&c.client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let (s, h) = (cc.status(), cc.headers().clone());
    let e = explain(Grant::ClientCredentials, s, h, cc.bytes().await.unwrap().to_vec());
    assert_eq!(e.code(), "grant_not_allowed");
    assert!(e.to_string().contains("no client_credentials flow"), "{e}");
}

#[tokio::test]
async fn a_redirect_uri_mismatch_is_explained_at_authorize_and_at_exchange() {
    let env = Env::new(SimConfig::default()).await;
    let secret = SecretString::from(env.sim.client().client_secret.clone());
    let http = thingstray::http::client(Duration::from_secs(5)).unwrap();

    let mut unregistered = settings_for(&env.sim);
    unregistered.redirect_uri = "https://not-registered.invalid/cb".into();
    let client = OAuthClient::new(&unregistered, &secret, http.clone()).unwrap();
    let e = client.preflight(&client.begin_sign_in()).await.unwrap_err();
    assert_eq!(e.code(), "redirect_uri_mismatch");
    assert!(e.to_string().contains("https://not-registered.invalid/cb"));

    // Authorized with one registered URI, exchanged with another.
    let first = OAuthClient::new(&settings_for(&env.sim), &secret, http.clone()).unwrap();
    first.preflight(&first.begin_sign_in()).await.unwrap();
    let sign_in = first.begin_sign_in();
    let answer = approve(&sign_in, None).await;
    let mut other = settings_for(&env.sim);
    other.redirect_uri = env.sim.client().redirect_uris[1].clone();
    let second = OAuthClient::new(&other, &secret, http).unwrap();
    let e =
        second.exchange(&sign_in, sign_in.accept(&answer).unwrap(), std::time::SystemTime::now()).await.unwrap_err();
    assert_eq!(e.code(), "redirect_uri_mismatch");
}

#[tokio::test]
async fn server_trouble_is_transient_and_explained() {
    let env = Env::new(SimConfig::default()).await;
    let conn = env.signed_in().await;
    let oauth = conn.session.oauth().unwrap();
    let stored = env.vault.tokens("home").await.unwrap().unwrap();
    let now = std::time::SystemTime::now();
    let token_faults = |f: Faults| Faults { route_prefix: "/oauth/token".into(), ..f };

    env.sim.set_faults(token_faults(Faults { error_5xx: 1.0, ..Faults::default() }));
    let e = oauth.refresh(&stored.refresh_token, now).await.unwrap_err();
    assert_eq!(e.code(), "server_error");
    assert!(e.is_transient());

    env.sim.set_faults(token_faults(Faults { drop_connection: 1.0, ..Faults::default() }));
    let e = oauth.refresh(&stored.refresh_token, now).await.unwrap_err();
    assert_eq!(e.code(), "unreachable");

    env.sim.set_faults(token_faults(Faults { rate_limit: 1.0, rate_limit_reset_ms: 40_585, ..Faults::default() }));
    match oauth.refresh(&stored.refresh_token, now).await.unwrap_err() {
        thingstray::Error::RateLimited { retry_after } => assert_eq!(retry_after, Duration::from_millis(40_585)),
        e => panic!("expected rate_limited, got {e:?}"),
    }

    env.sim.set_faults(token_faults(Faults { malformed_body: 1.0, ..Faults::default() }));
    let e = oauth.refresh(&stored.refresh_token, now).await.unwrap_err();
    assert_eq!(e.code(), "unexpected_response");

    env.sim.set_faults(token_faults(Faults { delay_ms: 3_000, delay_share: 1.0, ..Faults::default() }));
    let impatient = OAuthClient::new(
        &settings_for(&env.sim),
        &SecretString::from(env.sim.client().client_secret.clone()),
        thingstray::http::client(Duration::from_millis(300)).unwrap(),
    )
    .unwrap();
    let e = impatient.refresh(&stored.refresh_token, now).await.unwrap_err();
    assert_eq!(e.code(), "unreachable");
    assert!(e.to_string().contains("timed out"), "{e}");

    // None of that spent the refresh token.
    env.sim.set_faults(Faults::default());
    oauth.refresh(&stored.refresh_token, now).await.unwrap();
}

#[tokio::test]
async fn html_pages_and_huge_bodies_are_refused() {
    let secret = SecretString::from("s".to_string());
    let http = thingstray::http::client(Duration::from_secs(5)).unwrap();
    let refresh = thingstray::token::RefreshToken::new("r".into());
    let client_for = |base: &str| {
        let mut s = thingstray::config::ConnectionSettings::new(
            "8f3b7a52-1c4e-4d2a-9b7e-3e5f0a9c6d14",
            "https://thingstray.invalid/callback",
        );
        s.auth_url = base.to_string();
        OAuthClient::new(&s, &secret, http.clone()).unwrap()
    };

    let html = b"<!doctype html><html><body>Welcome to the hotel wifi</body></html>";
    let resp = [
        format!("HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\n\r\n", html.len()).as_bytes(),
        html,
    ]
    .concat();
    let e = client_for(&raw_server(resp).await).refresh(&refresh, std::time::SystemTime::now()).await.unwrap_err();
    assert_eq!(e.code(), "unexpected_response");

    let big = vec![b' '; 2 << 20];
    let declared = [
        format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n", big.len())
            .as_bytes(),
        &big,
    ]
    .concat();
    let e = client_for(&raw_server(declared).await).refresh(&refresh, std::time::SystemTime::now()).await.unwrap_err();
    assert_eq!(e.code(), "response_too_large");

    // No length announced: the cap still holds while reading.
    let undeclared =
        [b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n".as_slice(), &big].concat();
    let e =
        client_for(&raw_server(undeclared).await).refresh(&refresh, std::time::SystemTime::now()).await.unwrap_err();
    assert_eq!(e.code(), "response_too_large");
}

/// Issue 11: SmartThings keeps one sign-in per app and location. A second connection on
/// this computer signed in to the location `home` holds would end `home`'s session a day
/// later; instead it is refused, names `home`, and `home` lives on with the new sign-in.
#[tokio::test]
async fn a_second_connection_for_the_same_location_is_refused_and_the_first_lives_on() {
    let env = Env::new(SimConfig::default()).await;
    let home = env.signed_in().await;
    let c = env.sim.client().clone();
    thingstray::Connection::save(
        &env.paths,
        &env.vault,
        "cabin",
        settings_for(&env.sim),
        Some(SecretString::from(c.client_secret)),
    )
    .await
    .unwrap();
    let config = Config::load(&env.paths).unwrap();
    let cabin = thingstray::Connection::open_with(&env.paths, &config, env.vault.clone(), Some("cabin"), env.options())
        .await
        .unwrap();
    let sign_in = cabin.begin_sign_in().unwrap();
    let answer = approve(&sign_in, None).await; // the same (first) location
    let e = cabin.finish_sign_in(&env.paths, &sign_in, &answer).await.unwrap_err();
    assert_eq!(e.code(), "already_connected", "{e}");
    assert!(e.to_string().contains("`home`"), "names the holder: {e}");
    assert!(env.vault.tokens("cabin").await.unwrap().is_none(), "cabin was not signed in");
    assert!(Config::load(&env.paths).unwrap().connections.contains_key("cabin"), "cabin's settings are kept");
    // A day later home's old refresh token would be dead: it lives on the new sign-in.
    env.advance(Duration::from_secs(86_401));
    home.session.token_valid_for(Duration::from_secs(60)).await.expect("home is still connected");
    home.api.devices().await.expect("and works");
}
