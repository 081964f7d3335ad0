//! The vault on the real Secret Service (GNOME Keyring under `dbus-run-session`, started by
//! `scripts/test`). Checked from outside the app with `secret-tool`, the way a user would.
//!
//! These tests run when `THINGSTRAY_TEST_SECRET_SERVICE=1` says a Secret Service is up
//! (scripts/test and CI set it); a plain `cargo test` without one says it skipped them.

use std::sync::Arc;
use std::time::Duration;

use crate::common::Env;
use secrecy::{ExposeSecret, SecretString};
use smartthings_sim::SimConfig;
use thingstray::vault::{KeychainStore, SecretStore, Vault};

fn secret_service() -> bool {
    let on = std::env::var("THINGSTRAY_TEST_SECRET_SERVICE").as_deref() == Ok("1");
    if !on {
        // CI runs scripts/test, which always provides one: a skip there would be a green
        // run that tested no keychain.
        assert!(std::env::var_os("CI").is_none(), "CI must run the keychain tests: run them through scripts/test");
        eprintln!("SKIPPED: no Secret Service; run scripts/test to include the keychain tests");
    }
    on
}

fn unique_service() -> String {
    format!("thingstray-test-{}-{}", std::process::id(), rand_suffix())
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 % 1_000_000_007
}

/// What the Secret Service holds, read with libsecret's own tool, not through keyring.
fn secret_tool_lookup(service: &str, key: &str) -> Option<String> {
    let out = std::process::Command::new("secret-tool")
        .args(["lookup", "service", service, "username", key])
        .output()
        .expect("secret-tool is installed (libsecret-tools)");
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).to_string())
}

#[test]
fn secrets_round_trip_through_the_secret_service() {
    if !secret_service() {
        return;
    }
    let service = unique_service();
    let store = KeychainStore::new(&service).expect("a persistent keychain backend is compiled in");
    assert!(store.get("home/client-secret").unwrap().is_none());
    store.set("home/client-secret", &SecretString::from("s3cret-value".to_string())).unwrap();
    assert_eq!(store.get("home/client-secret").unwrap().unwrap().expose_secret(), "s3cret-value");
    assert_eq!(secret_tool_lookup(&service, "home/client-secret").as_deref(), Some("s3cret-value"));
    store.set("home/client-secret", &SecretString::from("replaced".to_string())).unwrap();
    assert_eq!(secret_tool_lookup(&service, "home/client-secret").as_deref(), Some("replaced"));
    store.delete("home/client-secret").unwrap();
    store.delete("home/client-secret").unwrap();
    assert!(store.get("home/client-secret").unwrap().is_none());
    assert!(secret_tool_lookup(&service, "home/client-secret").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_keeps_its_tokens_in_the_keychain_and_nowhere_else() {
    if !secret_service() {
        return;
    }
    let service = unique_service();
    let vault = Vault::new(Arc::new(KeychainStore::new(&service).unwrap()));
    let env = Env::with_vault(SimConfig { expires_in: 600, ..SimConfig::default() }, vault).await;
    let conn = env.signed_in().await;

    let raw = secret_tool_lookup(&service, "home/tokens").expect("the token pair is in the Secret Service");
    let first: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let secret = secret_tool_lookup(&service, "home/client-secret").expect("so is the client secret");
    assert_eq!(secret, env.sim.client().client_secret);
    assert!(conn.api.devices().await.unwrap().len() >= 10, "the keychain's token lists the devices");

    // A rotation through the keychain: the Secret Service holds the new pair.
    env.advance(Duration::from_secs(601));
    let grant = conn.session.token_valid_for(Duration::from_secs(60)).await.unwrap();
    let raw = secret_tool_lookup(&service, "home/tokens").unwrap();
    let second: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(second["access_token"], grant.secret());
    assert_ne!(second["refresh_token"], first["refresh_token"]);

    // No file in the config directory holds a token or the secret.
    for entry in std::fs::read_dir(env.paths.dir.clone()).unwrap().flatten() {
        if entry.path().is_file() {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            for needle in
                [second["access_token"].as_str().unwrap(), second["refresh_token"].as_str().unwrap(), secret.as_str()]
            {
                assert!(!text.contains(needle), "{} holds a secret", entry.path().display());
            }
        }
    }
    conn.session.sign_out().await.unwrap();
    assert!(secret_tool_lookup(&service, "home/tokens").is_none(), "sign-out removes the tokens");
    assert!(secret_tool_lookup(&service, "home/client-secret").is_some(), "and keeps the client secret");
    env.vault.delete_client_secret("home").await.unwrap();
}
