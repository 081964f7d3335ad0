//! The OAuth-In app made and mended with a personal access token (issue 24), against the
//! simulator's app API over real HTTP: create, sign in at once, check, repair, a new
//! secret, delete, and every refusal with its own code. The token is never kept.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use smartthings_sim::SimConfig;
use thingstray::apps::{self, NewApp, Pat};
use thingstray::config::{Config, DEFAULT_REDIRECT_URI, DEFAULT_SCOPES};
use thingstray::vault::Vault;
use thingstray::Connection;

use crate::common::{approve, recorded_env, Env};

const BOXES: &[&str] = &["r:apps:*", "w:apps:*", "r:installedapps:*"];

fn pat(raw: &str) -> Pat {
    Pat::new(&SecretString::from(raw.to_string())).unwrap()
}

fn http() -> reqwest::Client {
    thingstray::http::client(Duration::from_secs(5)).unwrap()
}

fn new_app(env: &Env) -> NewApp {
    NewApp { api_url: Some(env.sim.api_url()), auth_url: Some(env.sim.auth_url()), ..NewApp::default() }
}

async fn create(env: &Env, raw: &str) -> thingstray::Result<apps::Created> {
    apps::create(&env.paths, &env.vault, pat(raw), new_app(env), http()).await
}

async fn open(env: &Env, name: &str) -> Connection {
    let config = Config::load(&env.paths).unwrap();
    Connection::open_with(&env.paths, &config, env.vault.clone(), Some(name), env.options()).await.unwrap()
}

async fn sign_in(env: &Env, name: &str) -> Connection {
    let conn = open(env, name).await;
    let s = conn.begin_sign_in().unwrap();
    let answer = approve(&s, None).await;
    conn.finish_sign_in(&env.paths, &s, &answer).await.expect("the new app signs in");
    conn
}

/// Someone changes the app's redirect URIs behind ThingsTray's back, with the API.
async fn put_redirects(env: &Env, raw: &str, app_id: &str, uris: &[&str]) {
    let body = serde_json::json!({"clientName": "ThingsTray", "scope": DEFAULT_SCOPES, "redirectUris": uris});
    let r = reqwest::Client::new()
        .put(format!("{}/apps/{app_id}/oauth", env.sim.api_url()))
        .bearer_auth(raw)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

#[tokio::test]
async fn a_created_app_is_saved_and_signs_in_at_once() {
    let env = Env::new(SimConfig::default()).await;
    let raw = env.sim.mint_pat(BOXES, Duration::from_secs(86_400));
    let created = create(&env, &raw).await.unwrap();

    let config = Config::load(&env.paths).unwrap();
    let saved = &config.connections[&created.connection];
    assert_eq!(created.connection, "home");
    assert_eq!(saved.client_id, created.client_id);
    assert_eq!(saved.app_id.as_deref(), Some(created.app_id.as_str()));
    assert_eq!(
        (saved.redirect_uri.as_str(), saved.api_url.as_str()),
        (DEFAULT_REDIRECT_URI, env.sim.api_url().as_str())
    );
    assert_eq!(config.default_connection.as_deref(), Some("home"), "the first connection is the default");
    let app = env.sim.app(&created.app_id).expect("the simulator has the app");
    assert_eq!(app.client_id, created.client_id);
    assert_eq!(app.redirect_uris, [DEFAULT_REDIRECT_URI]);
    assert_eq!(app.scopes, DEFAULT_SCOPES);
    assert!(app.display_name.starts_with("ThingsTray"), "{}", app.display_name);
    assert!(app.app_name.starts_with("thingstray") && app.app_name == app.app_name.to_lowercase(), "{}", app.app_name);
    assert!(env.vault.client_secret("home").await.unwrap().is_some(), "the secret is in the vault");

    let conn = sign_in(&env, "home").await;
    assert!(!conn.api.devices().await.unwrap().is_empty(), "devices are read with the new app's token");

    // A second one is a second connection, with its own app.
    let second = create(&env, &raw).await.unwrap();
    assert_eq!(second.connection, "home-2");
    assert_ne!(second.app_id, created.app_id);
    assert_ne!(env.sim.app(&second.app_id).unwrap().app_name, app.app_name, "app names are unique");

    // Nothing keeps the personal access token: not the settings folder, not the vault.
    assert_pat_kept_nowhere(&env, &raw, &["home", "home-2"]).await;
}

async fn assert_pat_kept_nowhere(env: &Env, raw: &str, connections: &[&str]) {
    for entry in walk(env.paths.config_file().parent().unwrap()) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        assert!(!String::from_utf8_lossy(&bytes).contains(raw), "the token is in {}", entry.display());
    }
    for c in connections {
        let items = [
            env.vault.client_secret(c).await.unwrap(),
            env.vault.tokens(c).await.unwrap().map(|t| SecretString::from(format!("{t:?}"))),
        ];
        for v in items.into_iter().flatten() {
            assert!(!v.expose_secret().contains(raw), "the token is in the vault of `{c}`");
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test]
async fn check_finds_a_redirect_changed_behind_its_back_and_repair_fixes_it() {
    let env = Env::new(SimConfig::default()).await;
    let raw = env.sim.mint_pat(BOXES, Duration::from_secs(86_400));
    let created = create(&env, &raw).await.unwrap();
    let ok = apps::check(&env.paths, None, None, pat(&raw), http()).await.unwrap();
    assert!(ok.matches && ok.differences.is_empty(), "{ok:?}");

    put_redirects(&env, &raw, &created.app_id, &["https://thingstray.invalid/callback/", "https://example.com/other"])
        .await;
    let bad = apps::check(&env.paths, None, None, pat(&raw), http()).await.unwrap();
    assert!(!bad.matches);
    assert_eq!(bad.differences.len(), 1, "{:?}", bad.differences);
    assert_eq!(bad.differences[0].code, "redirect_uri_not_registered");
    assert!(bad.differences[0].message.contains("trailing slash"), "{}", bad.differences[0].message);
    assert_eq!(bad.registered_redirect_uris, ["https://thingstray.invalid/callback/", "https://example.com/other"]);

    // The sign-in fails as check said it would.
    let conn = open(&env, "home").await;
    let s = conn.begin_sign_in().unwrap();
    let page = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(s.authorize_url().as_str())
        .send()
        .await
        .unwrap();
    assert_ne!(page.status(), 302, "the sign-in page refuses the unregistered redirect URI");

    let done = apps::repair(&env.paths, &env.vault, None, None, pat(&raw), false, http()).await.unwrap();
    assert!(done.check.matches, "{:?}", done.check);
    assert_eq!(done.changed.len(), 1);
    assert!(!done.new_secret);
    let app = env.sim.app(&created.app_id).unwrap();
    assert_eq!(
        app.redirect_uris,
        ["https://thingstray.invalid/callback/", "https://example.com/other", DEFAULT_REDIRECT_URI],
        "the others are kept"
    );
    sign_in(&env, "home").await;
    let again = apps::repair(&env.paths, &env.vault, None, None, pat(&raw), false, http()).await.unwrap();
    assert!(again.changed.is_empty() && again.check.matches, "nothing left to repair");
}

/// An app made with the SmartThings CLI: ThingsTray finds it through the sign-in's
/// installed app, records its id, and a missing scope is named.
#[tokio::test]
async fn the_app_of_a_sign_in_made_elsewhere_is_found_and_checked() {
    let env = Env::new(SimConfig::default()).await;
    let conn = env.signed_in().await;
    let raw = env.sim.mint_pat(BOXES, Duration::from_secs(86_400));
    let check = apps::check(&env.paths, None, None, pat(&raw), http()).await.unwrap();
    let demo =
        env.sim.apps().into_iter().find(|a| a.client_id == env.sim.client().client_id).expect("the demo app is listed");
    assert_eq!(check.app_id, demo.app_id);
    assert!(check.matches, "{check:?}");
    assert_eq!(
        Config::load(&env.paths).unwrap().connections["home"].app_id.as_deref(),
        Some(demo.app_id.as_str()),
        "recorded"
    );
    drop(conn);

    // Without a sign-in and without a recorded id, ThingsTray says how to name the app.
    Config::update(&env.paths, |c| {
        let s = c.connections.get_mut("home").unwrap();
        s.app_id = None;
        s.installed_app_id = None;
        Ok(())
    })
    .unwrap();
    let e = apps::check(&env.paths, None, None, pat(&raw), http()).await.unwrap_err();
    assert_eq!(e.code(), "app_unknown");
    assert!(e.to_string().contains("--app-id"), "{e}");
    let c = apps::check(&env.paths, None, Some(&demo.app_id), pat(&raw), http()).await.unwrap();
    assert!(c.matches);
}

#[tokio::test]
async fn a_new_secret_replaces_the_keys_and_a_new_sign_in_works() {
    let env = Env::new(SimConfig::default()).await;
    let raw = env.sim.mint_pat(BOXES, Duration::from_secs(86_400));
    let created = create(&env, &raw).await.unwrap();
    let old = sign_in(&env, "home").await;
    let old_secret = env.vault.client_secret("home").await.unwrap().unwrap().expose_secret().to_string();

    let done = apps::repair(&env.paths, &env.vault, None, None, pat(&raw), true, http()).await.unwrap();
    assert!(done.new_secret && done.check.matches);
    let saved = Config::load(&env.paths).unwrap().connections["home"].clone();
    assert_ne!(saved.client_id, created.client_id, "SmartThings issues a new client id with the secret");
    assert_eq!(env.sim.app(&created.app_id).unwrap().client_id, saved.client_id);
    let new_secret = env.vault.client_secret("home").await.unwrap().unwrap().expose_secret().to_string();
    assert_ne!(new_secret, old_secret);

    // The old sign-in ended with the old keys; the new keys sign in.
    env.advance(Duration::from_secs(86_400));
    assert!(old.session.token_valid_for(Duration::from_secs(60)).await.is_err(), "the old sign-in is over");
    let conn = sign_in(&env, "home").await;
    conn.api.devices().await.unwrap();
}

#[tokio::test]
async fn delete_removes_the_app_and_its_id() {
    let env = Env::new(SimConfig::default()).await;
    let raw = env.sim.mint_pat(BOXES, Duration::from_secs(86_400));
    let created = create(&env, &raw).await.unwrap();
    let done = apps::delete(&env.paths, None, None, None, pat(&raw), http()).await.unwrap();
    assert_eq!(done.app_id, created.app_id);
    assert!(env.sim.app(&created.app_id).is_none());
    assert_eq!(Config::load(&env.paths).unwrap().connections["home"].app_id, None);
    let e = apps::check(&env.paths, None, Some(&created.app_id), pat(&raw), http()).await.unwrap_err();
    assert_eq!(e.code(), "app_not_found");
}

#[tokio::test]
async fn every_refusal_has_its_own_code_and_leaves_nothing_behind() {
    let env = Env::new(SimConfig { max_apps: 2, ..SimConfig::default() }).await;
    let read_only = env.sim.mint_pat(&["r:apps:*"], Duration::from_secs(86_400));
    let e = create(&env, &read_only).await.unwrap_err();
    assert_eq!(e.code(), "pat_missing_scope");
    assert!(e.to_string().contains("`w:apps:*`") && e.to_string().contains("Manage all apps"), "{e}");

    let short = env.sim.mint_pat(BOXES, Duration::from_secs(3_600));
    env.sim.advance_clock(Duration::from_secs(3_601));
    let e = create(&env, &short).await.unwrap_err();
    assert_eq!(e.code(), "pat_rejected");
    assert!(e.to_string().contains("24 hours"), "{e}");

    let raw = env.sim.mint_pat(BOXES, Duration::from_secs(86_400));
    let bad_name = NewApp { display_name: Some("<>".repeat(10)), ..new_app(&env) };
    // A display name of no letters still makes a valid app name (the stem falls back).
    apps::create(&env.paths, &env.vault, pat(&raw), bad_name, http()).await.unwrap();
    let e = create(&env, &raw).await.unwrap_err();
    assert_eq!(e.code(), "app_limit_reached", "{e}");
    assert_eq!(Config::load(&env.paths).unwrap().connections.len(), 1, "a refused app leaves no connection");

    let e = create(&env, "not-a-token-at-all-0000").await.unwrap_err();
    assert_eq!(e.code(), "pat_rejected");

    // Offline: unreachable, nothing saved.
    let off = NewApp { api_url: Some("http://127.0.0.1:9/v1".into()), ..NewApp::default() };
    let e = apps::create(&env.paths, &env.vault, pat(&raw), off, http()).await.unwrap_err();
    assert!(e.is_transient(), "{e:?}");
}

/// The vault refuses the secret: the app just made is deleted again, and the error is the
/// vault's (what the user must fix).
#[tokio::test]
async fn an_app_that_cannot_be_saved_is_deleted_again() {
    let (env, rec) = recorded_env(SimConfig::default()).await;
    let raw = env.sim.mint_pat(BOXES, Duration::from_secs(86_400));
    let before = env.sim.apps().len();
    rec.refuse.store(true, std::sync::atomic::Ordering::SeqCst);
    let e = create(&env, &raw).await.unwrap_err();
    assert_eq!(e.code(), "keychain_unavailable", "{e}");
    assert_eq!(env.sim.apps().len(), before, "the app was deleted again");
    assert!(Config::load(&env.paths).unwrap().connections.is_empty());
    let _ = Vault::memory();
}
