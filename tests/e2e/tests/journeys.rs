//! The eight journeys of a new user, on the real app. See the crate docs for the harness.

use smartthings_sim::SimConfig;
use thingstray_e2e::{App, Journey};

/// Wizard steps 2 and 3 with the simulator's app: keys, the "Advanced" addresses, save.
async fn enter_keys(j: &Journey, app: &App, redirect_uri: &str) {
    app.click("next-create").await;
    app.type_into("client-id", &j.sim.client().client_id).await;
    app.type_into("client-secret", &j.sim.client().client_secret)
        .await;
    app.type_into("redirect-uri", redirect_uri).await;
    app.click("advanced").await;
    app.type_into("api-url", &j.sim.api_url()).await;
    app.type_into("auth-url", &j.sim.auth_url()).await;
    app.shot("credentials").await;
    app.click("save-credentials").await;
    app.shown("open-sign-in").await;
}

#[tokio::test]
async fn first_run() {
    let j = Journey::start("first_run", SimConfig::default()).await;
    let app = j.launch(&[]).await;
    app.shown("step-create").await;
    app.shot("wizard").await;
    enter_keys(&j, &app, "https://thingstray.invalid/callback").await;
    app.shot("sign-in").await;
    app.click("open-sign-in").await;
    // The sign-in window's navigation handler must catch the redirect to the .invalid
    // address: nothing else can finish this sign-in (the address never resolves).
    let done = app
        .text_until("done-summary", "the wizard to end connected", |t| {
            t.contains("devices")
        })
        .await;
    app.shot("done").await;
    assert!(done.starts_with("Home"), "{done}\n{}", j.log());
    assert_eq!(j.grants().0, 1, "one code exchange");

    // The keychain, read with the Secret Service itself, holds the pair and the secret.
    let tokens = j.stored_tokens();
    let access = tokens["access_token"]
        .as_str()
        .expect("an access token")
        .to_string();
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_string();
    assert!(j.accepts(&access).await, "the stored token works");
    let secret = j
        .keychain("home/client-secret")
        .expect("the client secret in the keychain");
    assert_eq!(secret.trim(), j.sim.client().client_secret);
    // ...and no file under the settings folder does.
    let files = j.env.config_files();
    assert!(
        files.iter().any(|f| f.ends_with("config.toml")),
        "{files:?}"
    );
    for f in files {
        let body = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
        for (what, s) in [
            ("access token", &access),
            ("refresh token", &refresh),
            ("client secret", &j.sim.client().client_secret),
        ] {
            assert!(
                !body.contains(s.as_str()),
                "{} holds the {what}",
                f.display()
            );
        }
    }
    app.close().await;
}
