//! "Set up in one paste" (issue 24): the wizard creates the OAuth-In app itself with a
//! personal access token (PAT) the user pastes once, signs in with it, and never keeps the
//! token; later Settings finds the app changed behind its back and repairs it. And an app
//! made with the CLI that lacks a scope: the refused sign-in leads to the wizard's "Check
//! the app's settings", which repairs it. The PATs are minted by the simulator as
//! SmartThings' token page would (`POST /__sim/pat`).

use serde_json::{json, Value};
use smartthings_sim::SimConfig;
use thingstray_e2e::{wait::until, App, Journey, WAIT};

use super::{fill_keys, open_details, save_keys};

/// The boxes the wizard lists (pat_help), as their scopes.
const PAT_SCOPES: [&str; 3] = ["r:apps:*", "w:apps:*", "r:installedapps:*"];
const REDIRECT: &str = "https://thingstray.invalid/callback";
const ELSEWHERE: &str = "https://example.com/other";

/// A PAT from the simulator's "token page".
async fn mint_pat(j: &Journey, scopes: &[&str]) -> String {
    let r = reqwest::Client::new()
        .post(format!("{}/__sim/pat", j.sim.base_url()))
        .json(&json!({ "scopes": scopes }))
        .send()
        .await
        .expect("the simulator answers");
    assert!(r.status().is_success(), "POST /__sim/pat: {}", r.status());
    let v: Value = r.json().await.unwrap();
    v["token"].as_str().expect("a token").to_string()
}

/// `GET|PUT {api}/apps/{id}/oauth` with the PAT, as SmartThings' CLI would.
async fn oauth(j: &Journey, pat: &str, app_id: &str, put: Option<Value>) -> Value {
    let url = format!("{}/apps/{app_id}/oauth", j.sim.api_url());
    let http = reqwest::Client::new();
    let req = match &put {
        Some(body) => http.put(&url).json(body),
        None => http.get(&url),
    };
    let r = req.bearer_auth(pat).send().await.expect("the simulator answers");
    assert!(r.status().is_success(), "{} {url}: {}", if put.is_some() { "PUT" } else { "GET" }, r.status());
    r.json().await.unwrap()
}

/// The `app_id` the app recorded for the connection in config.toml (read as text: the
/// journeys do not parse the app's settings).
fn recorded_app_id(j: &Journey) -> String {
    let config = std::fs::read_to_string(j.env.config_dir().join("config.toml")).unwrap();
    let line = config
        .lines()
        .find(|l| l.trim_start().starts_with("app_id"))
        .unwrap_or_else(|| panic!("no app_id in config.toml:\n{config}"));
    line.split('"').nth(1).expect("app_id = \"…\"").to_string()
}

async fn pat_field_value(app: &App, id: &str) -> String {
    app.js(&format!("return document.querySelector('[data-testid=\"{id}\"]').value"))
        .await
        .as_str()
        .unwrap_or("?")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_app() {
    let j = Journey::start("create_app", SimConfig::default()).await;
    let apps_before = j.sim.apps().len();
    let app = j.launch(&[]).await;
    app.shown("step-create").await;

    // Page 1's first choice: the token page, its three boxes, one token field.
    let boxes = app.text_until("pat-boxes", "the boxes to tick", |t| t.contains("Installed Applications")).await;
    for (label, scope) in [
        ("Applications: See all apps", "r:apps:*"),
        ("Applications: Manage all apps", "w:apps:*"),
        ("Installed Applications: See all installed apps", "r:installedapps:*"),
    ] {
        assert!(boxes.contains(label) && boxes.contains(scope), "{label} ({scope}) in {boxes}");
    }
    let page = app.text("step-create").await;
    assert!(!page.contains("thingstray://"), "page 1 offers a thingstray:// address: {page}");
    assert!(page.contains("I'd rather create it with the SmartThings CLI"), "{page}");
    let placeholder = app.attr("app-name", "placeholder").await.unwrap_or_default();
    assert!(placeholder.starts_with("ThingsTray"), "the default app name: {placeholder:?}");
    app.click("token-page-open").await;
    let opened = until(WAIT, "the browser to be asked to open the token page", || async {
        std::fs::read_to_string(j.env.path("browser.log")).ok().and_then(|s| s.lines().next().map(str::to_string))
    })
    .await;
    assert_eq!(opened, "https://account.smartthings.com/tokens");

    open_details(&app, "create-advanced").await;
    app.type_into("create-api-url", &j.sim.api_url()).await;
    app.type_into("create-auth-url", &j.sim.auth_url()).await;

    // A token without "Manage all apps": refused, said by the button, the token field
    // marked and emptied (the core had it), nothing created.
    let weak = mint_pat(&j, &["r:apps:*", "r:installedapps:*"]).await;
    app.type_into("pat-input", &weak).await;
    app.click("create-app").await;
    let said = app.text_until("create-error", "the missing box to be named", |t| t.contains("w:apps:*")).await;
    assert!(said.contains("Manage all apps"), "{said}");
    assert_eq!(app.attr("pat-input", "aria-invalid").await.as_deref(), Some("true"));
    assert!(app.text("pat-problem").await.contains("every box"));
    assert_eq!(pat_field_value(&app, "pat-input").await, "", "the token field is emptied after the attempt");
    assert_eq!(j.sim.apps().len(), apps_before, "nothing was created");
    app.shot("missing-box").await;

    // The right token: the app, the connection, the embedded sign-in, done.
    let pat = mint_pat(&j, &PAT_SCOPES).await;
    app.type_into("pat-input", &pat).await;
    app.text_until("create-error", "a new token to clear the old refusal", str::is_empty).await;
    assert_eq!(app.attr("pat-input", "aria-invalid").await.as_deref(), Some("false"));
    // The addresses stay filled in with the box closed, as after a person's visit to it.
    app.js("document.querySelector('[data-testid=\"create-advanced\"]').open = false; window.scrollTo(0, 0)").await;
    app.shot("wizard-create-app").await;
    app.click("create-app").await;
    let done = app.text_until("done-summary", "the wizard to end connected", |t| t.contains("devices")).await;
    app.shot("done").await;
    assert!(done.starts_with("Home"), "{done}\n{}", j.log());
    assert_eq!(j.grants().0, 1, "one code exchange");
    assert_eq!(j.sim.apps().len(), apps_before + 1, "one app created");

    // The app as SmartThings holds it: ThingsTray's redirect URI and the client id saved.
    let app_id = recorded_app_id(&j);
    let made = j.sim.app(&app_id).expect("the recorded app exists");
    assert_eq!(made.redirect_uris, [REDIRECT]);
    assert!(made.display_name.starts_with("ThingsTray"), "{}", made.display_name);
    assert_eq!(made.display_name, placeholder, "the name the field offered");
    let config = std::fs::read_to_string(j.env.config_dir().join("config.toml")).unwrap();
    assert!(config.contains(&format!("\"{}\"", made.client_id)), "config.toml holds the new client id:\n{config}");
    // The keychain, read with secret-tool, holds the new client secret (the sign-in used
    // it: the simulator's token endpoint takes the client's secret only) and the tokens.
    let secret = j.keychain("home/client-secret").expect("the new client secret in the keychain");
    assert!(secret.trim().len() >= 16 && secret.trim() != j.sim.client().client_secret, "a secret of the new app");
    assert!(j.sim.accepts(j.stored_tokens()["access_token"].as_str().unwrap()).await);

    // Devices are shown.
    app.js("setTimeout(() => document.querySelector('[data-testid=\"open-devices\"]').click(), 0)").await;
    app.window("devices.html").await;
    until(WAIT, "devices in the window", || async {
        let n = app.js("return document.querySelectorAll('[data-testid^=\"device-\"]').length").await.as_u64()?;
        (n > 0).then_some(())
    })
    .await;

    // Behind ThingsTray's back, the app loses its redirect URI.
    let before = oauth(&j, &pat, &app_id, None).await;
    let changed = json!({ "clientName": before["clientName"], "scope": before["scope"], "redirectUris": [ELSEWHERE] });
    let now = oauth(&j, &pat, &app_id, Some(changed)).await;
    assert_eq!(now["redirectUris"], json!([ELSEWHERE]));

    // Settings -> App: Check shows the difference, Repair fixes it.
    app.click("open-settings").await;
    app.window("settings.html").await;
    app.shown("app-home").await;
    app.type_into("app-pat-home", &pat).await;
    app.click("app-check-home").await;
    let differences =
        app.text_until("app-differences-home", "the difference to be listed", |t| t.contains(REDIRECT)).await;
    assert!(differences.contains("does not have") && differences.contains(ELSEWHERE), "{differences}");
    assert_eq!(differences.lines().count(), 1, "one difference, one line: {differences}");
    let row = app.text("app-row-redirect-home").await;
    assert!(row.contains(REDIRECT) && row.contains(ELSEWHERE), "side by side: {row}");
    assert_eq!(pat_field_value(&app, "app-pat-home").await, pat, "a Check keeps the token for Repair");
    // From the boxes to tick down to Repair: the token, the two sides, the difference.
    app.js("document.querySelector('[data-testid=\"app-boxes-home\"]').scrollIntoView({ block: 'start' }); window.scrollBy(0, -10)").await;
    app.shot("settings-app").await;
    app.click("app-repair-home").await;
    let lines = app.text_until("app-done-home", "the repair to be reported", |t| t.contains("Fixed")).await;
    assert!(lines.contains(REDIRECT), "{lines}");
    app.text_until("app-summary-home", "the app to match", |t| t.contains("SmartThings accepts the sign-in")).await;
    assert_eq!(pat_field_value(&app, "app-pat-home").await, "", "the token field is emptied after the repair");
    app.shown("app-sign-in-home").await;
    app.js("document.querySelector('[data-testid=\"app-home\"]').scrollIntoView({ block: 'start' })").await;
    app.shot("settings-app-repaired").await;
    let fixed = oauth(&j, &pat, &app_id, None).await;
    let uris: Vec<&str> = fixed["redirectUris"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(uris.contains(&REDIRECT), "the app lists ThingsTray's redirect URI again: {uris:?}");
    assert!(uris.contains(&ELSEWHERE), "and keeps the other one: {uris:?}");

    // The tokens were never kept: in no file of the settings folder, no keychain item,
    // not in the app's log.
    for token in [&weak, &pat] {
        for f in j.env.config_files() {
            let body = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
            assert!(!body.contains(token.as_str()), "{} holds a personal access token", f.display());
        }
    }
    let all = j
        .command("secret-tool")
        .args(["search", "--all", "--unlock", "service", "thingstray"])
        .output()
        .expect("secret-tool");
    let items = format!("{}{}", String::from_utf8_lossy(&all.stdout), String::from_utf8_lossy(&all.stderr));
    assert!(items.contains(secret.trim()), "secret-tool search shows the secrets (else this check proves nothing)");
    for token in [&weak, &pat] {
        assert!(!items.contains(token.as_str()), "a keychain item holds a personal access token");
    }
    let log = std::fs::read_to_string(j.env.path("app.log")).unwrap_or_default();
    assert!(log.contains("created the OAuth-In app"), "the log is the app's: {}", j.log());
    for token in [&weak, &pat] {
        assert!(!log.contains(token.as_str()), "the app's log holds a personal access token");
    }
    app.close().await;
}

/// The CLI way, with an app that lost a scope: SmartThings' sign-in page answers
/// invalid_scope, the wizard offers "Check the app's settings", asks for the app's id (the
/// connection never signed in, so it cannot know it), shows the missing scope, repairs the
/// app, and the sign-in goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_settings_from_wizard() {
    let j = Journey::start("app_settings_from_wizard", SimConfig::default()).await;
    let pat = mint_pat(&j, &PAT_SCOPES).await;
    let app_id = j.sim.client_app_id();
    let before = oauth(&j, &pat, &app_id, None).await;
    let scopes: Vec<Value> =
        before["scope"].as_array().unwrap().iter().filter(|s| *s != "x:scenes:*").cloned().collect();
    assert!(scopes.len() < before["scope"].as_array().unwrap().len(), "the app had x:scenes:*: {before}");
    // Only the https redirect URI: the simulator's own app also lists a thingstray:// one,
    // which `PUT .../oauth` refuses as `apps:create` would.
    oauth(
        &j,
        &pat,
        &app_id,
        Some(json!({ "clientName": before["clientName"], "scope": scopes, "redirectUris": [REDIRECT] })),
    )
    .await;

    let app = j.launch(&[]).await;
    fill_keys(&j, &app, REDIRECT).await;
    save_keys(&app).await;
    app.shown("check-app-settings").await;
    app.click("open-sign-in").await;
    let refused = app.text_until("sign-in-error", "the refused sign-in", |t| t.contains("invalid_scope")).await;
    let offer = app.text("app-check-offer-text").await;
    assert!(offer.contains("does not accept this sign-in"), "{offer}\n{refused}");
    assert_eq!(j.grants().0, 0, "nothing exchanged");
    app.shot("sign-in-refused").await;

    app.click("check-app-settings").await;
    app.shown("step-app-settings").await;
    assert!(app.text("app-settings-reason").await.contains("invalid_scope"));
    app.type_into("app-pat-home", &pat).await;
    app.click("app-check-home").await;
    let unknown = app.text_until("app-message-home", "the app's id to be asked for", |t| t.contains("app")).await;
    app.shown("app-id-home").await;
    assert_eq!(pat_field_value(&app, "app-pat-home").await, pat, "the token stays for the next try: {unknown}");
    app.type_into("app-id-home", &app_id).await;
    app.click("app-check-home").await;
    let differences = app.text_until("app-differences-home", "the missing scope", |t| t.contains("x:scenes:*")).await;
    assert_eq!(differences.lines().count(), 1, "{differences}");
    app.shot("app-settings-checked").await;
    app.click("app-repair-home").await;
    app.text_until("app-done-home", "the repair to be reported", |t| t.contains("Fixed")).await;
    assert!(j.sim.app(&app_id).unwrap().scopes.iter().any(|s| s == "x:scenes:*"), "the scope is back");
    app.shot("app-settings-repaired").await;

    app.click("app-sign-in-home").await;
    // The refused sign-in's window is still open: the new one must open all the same.
    let done = app.text_until("done-summary", "the wizard to end connected", |t| t.contains("devices")).await;
    assert!(done.starts_with("Home"), "{done}\n{}", j.log());
    assert_eq!(j.grants().0, 1, "one code exchange");
    let config = std::fs::read_to_string(j.env.config_dir().join("config.toml")).unwrap();
    assert!(config.contains(&app_id), "the app's id is recorded for next time:\n{config}");
    for f in j.env.config_files() {
        assert!(
            !String::from_utf8_lossy(&std::fs::read(&f).unwrap()).contains(&pat),
            "{} holds the token",
            f.display()
        );
    }
    app.close().await;
}
