//! `thingstray app` (issue 24): the OAuth-In app made with a personal access token read
//! from stdin or SMARTTHINGS_PAT, then `login` and `token` with it; check and repair; the
//! refusals; the token kept nowhere.

use std::time::Duration;

use crate::common::Home;

const BOXES: &[&str] = &["r:apps:*", "w:apps:*", "r:installedapps:*"];

fn addresses(h: &Home) -> Vec<String> {
    ["--api-url".to_string(), h.sim.api_url(), "--auth-url".into(), h.sim.auth_url()].to_vec()
}

async fn create(h: &Home, pat: &str, extra: &[&str]) -> crate::common::Out {
    let mut args: Vec<String> = ["app", "create", "--vault", "file"].map(String::from).to_vec();
    args.extend(addresses(h));
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    h.run_with_stdin(&args, Some(&format!("{pat}\n"))).await
}

async fn with_pat(h: &Home, pat: &str, args: &[&str]) -> crate::common::Out {
    let mut c = h.cmd(args);
    c.env("SMARTTHINGS_PAT", pat);
    crate::common::finish(c.spawn().unwrap()).await
}

#[tokio::test]
async fn app_create_then_login_and_token_work() {
    let h = Home::new().await;
    let pat = h.sim.mint_pat(BOXES, Duration::from_secs(86_400));
    let r = create(&h, &pat, &["--name", "Test box"]).await;
    r.ok();
    let client_id = r.stdout.lines().last().unwrap().trim().to_string();
    let app = h
        .sim
        .apps()
        .into_iter()
        .find(|a| a.client_id == client_id)
        .expect("the client id on the last line is the new app's");
    assert_eq!(app.display_name, "Test box");
    assert!(r.stderr.contains("thingstray login"), "{}", r.stderr);
    let config = std::fs::read_to_string(h.dir.path().join("config.toml")).unwrap();
    assert!(config.contains(&format!("app_id = \"{}\"", app.app_id)), "{config}");

    h.login().await.ok();
    let t = h.run(&["token"]).await;
    t.ok();
    assert!(h.sim.accepts(t.stdout.trim()).await, "the token works");

    // The personal access token is in no file of the settings folder (the file vault
    // included), and in no output.
    for entry in std::fs::read_dir(h.dir.path()).unwrap().flatten() {
        let text = std::fs::read(entry.path()).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
        assert!(!text.contains(&pat), "the token is in {}", entry.path().display());
    }
    assert!(!r.stdout.contains(&pat) && !r.stderr.contains(&pat));
}

#[tokio::test]
async fn app_check_exits_1_on_a_difference_and_repair_fixes_it() {
    let h = Home::new().await;
    let pat = h.sim.mint_pat(BOXES, Duration::from_secs(86_400));
    create(&h, &pat, &[]).await.ok();
    let r = with_pat(&h, &pat, &["app", "check"]).await;
    r.ok();
    assert!(r.stdout.contains("matches"), "{}", r.stdout);

    let app = h.sim.apps().into_iter().last().unwrap();
    let body = serde_json::json!({"clientName": "x", "scope": app.scopes, "redirectUris": ["https://example.com/cb"]});
    let put = reqwest::Client::new()
        .put(format!("{}/apps/{}/oauth", h.sim.api_url(), app.app_id))
        .bearer_auth(&pat)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);

    let r = with_pat(&h, &pat, &["app", "check"]).await;
    assert_eq!(r.code, 1, "{r:?}");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one difference, one line: {}", r.stdout);
    assert!(
        lines[0].contains("https://thingstray.invalid/callback") && lines[0].contains("https://example.com/cb"),
        "{}",
        lines[0]
    );
    let j = with_pat(&h, &pat, &["app", "check", "--json"]).await;
    let v: serde_json::Value = serde_json::from_str(&j.stdout).unwrap();
    assert_eq!(v["matches"], false);
    assert_eq!(v["differences"][0]["code"], "redirect_uri_not_registered");
    assert_eq!(v["registered_redirect_uris"], serde_json::json!(["https://example.com/cb"]));

    with_pat(&h, &pat, &["app", "repair"]).await.ok();
    with_pat(&h, &pat, &["app", "check"]).await.ok();
    assert_eq!(
        h.sim.app(&app.app_id).unwrap().redirect_uris,
        ["https://example.com/cb", "https://thingstray.invalid/callback"]
    );
}

#[tokio::test]
async fn refusals_say_what_to_do_and_delete_asks_first() {
    let h = Home::new().await;
    let expired = h.sim.mint_pat(BOXES, Duration::from_secs(60));
    h.sim.advance_clock(Duration::from_secs(61));
    let r = create(&h, &expired, &[]).await;
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("24 hours") && r.stderr.contains("account.smartthings.com/tokens"), "{}", r.stderr);
    let read_only = h.sim.mint_pat(&["r:apps:*"], Duration::from_secs(86_400));
    let r = create(&h, &read_only, &[]).await;
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("Manage all apps"), "{}", r.stderr);
    let r = create(&h, "", &[]).await;
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("No personal access token"), "{}", r.stderr);
    assert!(
        !h.dir.path().join("config.toml").exists()
            || !std::fs::read_to_string(h.dir.path().join("config.toml")).unwrap().contains("[connections."),
        "a refused app leaves no connection"
    );

    let pat = h.sim.mint_pat(BOXES, Duration::from_secs(86_400));
    create(&h, &pat, &[]).await.ok();
    let before = h.sim.apps().len();
    let r = with_pat(&h, &pat, &["app", "delete"]).await;
    assert_eq!(r.code, 2, "no terminal to ask at: {r:?}");
    assert_eq!(h.sim.apps().len(), before, "nothing deleted without an answer");
    with_pat(&h, &pat, &["app", "delete", "--yes"]).await.ok();
    assert_eq!(h.sim.apps().len(), before - 1);
}
