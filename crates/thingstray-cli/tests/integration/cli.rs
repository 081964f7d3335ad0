//! The real `thingstray` binary against the simulator: setup, every way to sign in and the
//! traps on the way, tokens in every format (and exit 4 once the session is over),
//! devices, switches, scenes, logout and doctor.

use std::process::Stdio;

use crate::common::{approve, authorize_url, decide, query_param, set_flag, Home};
use smartthings_sim::SimConfig;
use tokio::io::AsyncWriteExt;

const KITCHEN_LIGHTS: &str = "c1107a0c-fa71-43c5-8ff9-a128ea6c4f20";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_checks_each_field_and_keeps_the_secret_out_of_the_config() {
    let h = Home::new().await;
    let id = h.sim.client().client_id.clone();
    let base = |client_id: &str, redirect: &str| {
        let mut args = h.setup_args();
        set_flag(&mut args, "--client-id", client_id);
        set_flag(&mut args, "--redirect-uri", redirect);
        args
    };
    let run = |args: Vec<String>, stdin: Option<String>| {
        let h = &h;
        async move {
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            h.run_with_stdin(&a, stdin.as_deref()).await
        }
    };
    let secret = Some(format!("{}\n", h.secret()));

    let r = run(base("not-a-uuid", "https://thingstray.invalid/callback"), secret.clone()).await;
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("client_id") && r.stderr.contains("looks like"), "{}", r.stderr);

    let r = run(base(&id, "http://example.com/callback"), secret.clone()).await;
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("redirect_uri") && r.stderr.contains("127.0.0.1 or localhost"), "{}", r.stderr);

    let mut args = base(&id, "https://thingstray.invalid/callback");
    args.extend(["--scopes".into(), "r:devices:* devices".into()]);
    let r = run(args, secret.clone()).await;
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("`devices` is not a SmartThings scope"), "{}", r.stderr);

    // `sse` is a real scope, granted only to select apps: said so, with what to do instead.
    let mut args = base(&id, "https://thingstray.invalid/callback");
    args.extend(["--scopes".into(), "r:devices:* sse".into()]);
    let r = run(args, secret.clone()).await;
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("`sse` is a SmartThings scope") && r.stderr.contains("poll"), "{}", r.stderr);
    assert!(!r.stderr.contains("not a SmartThings scope"), "{}", r.stderr);

    let r = run(base(&id, "https://thingstray.invalid/callback"), None).await;
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("client_secret") && r.stderr.contains("THINGSTRAY_CLIENT_SECRET"), "{}", r.stderr);

    // Online checks: a wrong secret and an unregistered redirect URI are caught before saving.
    let r = run(base(&id, "https://thingstray.invalid/callback"), Some("wrong-secret\n".into())).await;
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("rejected the client id or secret"), "{}", r.stderr);
    let r = run(base(&id, "https://not-registered.invalid/cb"), secret.clone()).await;
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("did not accept the redirect URI"), "{}", r.stderr);
    assert!(!h.dir.path().join("config.toml").exists(), "nothing is saved after a failed check");

    // The secret from the environment works too; it lands in the vault only.
    let mut c = h.cmd(&base(&id, "https://thingstray.invalid/callback").iter().map(String::as_str).collect::<Vec<_>>());
    c.env("THINGSTRAY_CLIENT_SECRET", h.secret());
    let r = crate::common::finish(c.spawn().unwrap()).await;
    r.ok();
    assert!(
        r.stderr.contains("plain file") || r.stderr.contains("vault = \"file\""),
        "the file store warns: {}",
        r.stderr
    );
    let config = std::fs::read_to_string(h.dir.path().join("config.toml")).unwrap();
    assert!(config.contains("vault = \"file\"") && config.contains(&id));
    assert!(!config.contains(&h.secret()));
    assert_eq!(h.secrets_file()["home/client-secret"], h.secret());

    // A redirect URI apps:create could not have registered is saved with a warning saying
    // what to use instead, and doctor repeats it.
    let r = run(base(&id, "thingstray://oauth/callback"), secret.clone()).await;
    r.ok();
    assert!(r.stderr.contains("Warning: `smartthings apps:create` could not have registered"), "{}", r.stderr);
    assert!(r.stderr.contains("https://thingstray.invalid/callback instead"), "{}", r.stderr);
    let r = h.run(&["doctor"]).await;
    assert!(r.stdout.contains("warn  redirect") && r.stdout.contains("apps:oauth:update"), "{}", r.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_set_up_means_exit_4_with_what_to_do() {
    let h = Home::new().await;
    let r = h.run(&["token"]).await;
    assert_eq!(r.code, 4);
    assert!(r.stderr.contains("thingstray setup"), "{}", r.stderr);
    assert!(r.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_by_paste_then_token_in_every_format() {
    let h = Home::new().await;
    h.setup().await;
    let r = h.login().await;
    r.ok();
    assert!(r.stdout.contains("Signed in to `Home`"), "{}", r.stdout);
    let config = std::fs::read_to_string(h.dir.path().join("config.toml")).unwrap();
    assert!(config.contains("location_name = \"Home\""));

    let bare = h.run(&["token"]).await;
    bare.ok();
    let token = bare.stdout.trim().to_string();
    assert!(!token.is_empty() && !token.contains(' '));
    assert!(h.sim.accepts(&token).await, "the simulator accepts the token");

    let header = h.run(&["token", "--format", "header"]).await;
    assert_eq!(header.ok().stdout.trim(), format!("Authorization: Bearer {token}"));

    let json = h.run(&["token", "--format", "json", "--min-valid", "1h"]).await;
    let v: serde_json::Value = serde_json::from_str(json.ok().stdout.trim()).unwrap();
    assert_eq!(v["access_token"], token.as_str());
    assert_eq!(v["token_type"], "Bearer");
    assert!(v["installed_app_id"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(v["scope"].as_str().unwrap().contains("r:devices:*"));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let (at, left) = (v["expires_at"].as_u64().unwrap(), v["expires_in"].as_u64().unwrap());
    assert!(at > now + 86_000 && at <= now + 86_400 + 5, "UTC epoch seconds: {at}");
    assert!(left > 86_000 && left <= 86_400);
    assert!(v.get("refresh_token").is_none());
    // The refresh token is in no output at all.
    let stored: serde_json::Value = serde_json::from_str(h.secrets_file()["home/tokens"].as_str().unwrap()).unwrap();
    let refresh = stored["refresh_token"].as_str().unwrap();
    for out in [&bare, &header, &json] {
        assert!(!out.stdout.contains(refresh) && !out.stderr.contains(refresh));
    }
    assert_eq!(h.refreshes(), 0, "a valid token is served without refreshing");

    let status = h.run(&["status", "--json"]).await;
    let s: serde_json::Value = serde_json::from_str(status.ok().stdout.trim()).unwrap();
    assert_eq!(s[0]["connection"], "home");
    assert_eq!(s[0]["status"]["state"], "connected");
    assert_eq!(s[0]["location"], "Home");
    let text = h.run(&["status"]).await;
    assert!(text.ok().stdout.contains("home (default), location `Home`: connected"), "{}", text.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pasted_answer_that_is_not_ours_is_refused_and_the_wait_goes_on() {
    let h = Home::new().await;
    h.setup().await;
    let mut child = h.cmd(&["login", "--no-browser"]).stdin(Stdio::piped()).spawn().unwrap();
    let (url, _rest) = authorize_url(&mut child).await;
    let back = approve(&url).await;
    let forged = back.replace(&query_param(&back, "state").unwrap(), "forged-state");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(format!("{forged}\nhello world\n{back}\n").as_bytes()).await.unwrap();
    drop(stdin);
    let r = crate::common::finish(child).await;
    r.ok();
    assert!(r.stderr.contains("does not belong to the sign-in in progress"), "{}", r.stderr);
    assert!(r.stderr.contains("not a SmartThings sign-in answer"), "{}", r.stderr);
    assert_eq!(h.sim.stats().token_grants.get("authorization_code"), Some(&1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_traps_end_in_their_explained_errors() {
    // The user presses Deny on the sign-in page.
    let h = Home::with(SimConfig::default()).await;
    h.setup().await;
    let mut child = h.cmd(&["login", "--no-browser"]).stdin(Stdio::piped()).spawn().unwrap();
    let (url, _rest) = authorize_url(&mut child).await;
    let back = decide(&url, "deny").await;
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(format!("{back}\n").as_bytes()).await.unwrap();
    drop(stdin);
    let r = crate::common::finish(child).await;
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("cancelled or denied") && r.stderr.contains("press Authorize"), "{}", r.stderr);

    // A code used twice (a second paste of the same address, in a second login).
    let mut child = h.cmd(&["login", "--no-browser", "--no-wait"]).spawn().unwrap();
    let (url, _rest) = authorize_url(&mut child).await;
    crate::common::finish(child).await.ok();
    let back = decide(&url, "authorize").await;
    h.run(&["login", "--paste", &back]).await.ok();
    let mut child = h.cmd(&["login", "--no-browser", "--no-wait"]).spawn().unwrap();
    let (_url2, _rest) = authorize_url(&mut child).await;
    crate::common::finish(child).await.ok();
    // Same code, state from the first sign-in: refused without spending anything.
    let r = h.run(&["login", "--paste", &back]).await;
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("does not belong"), "{}", r.stderr);
    // The bare code passes the state check; SmartThings refuses it (used, and bound to
    // another PKCE verifier).
    let code = query_param(&back, "code").unwrap();
    let r = h.run(&["login", "--paste", &code]).await;
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("refused the sign-in code") && r.stderr.contains("start the sign-in again"),
        "{}",
        r.stderr
    );
    // And the pending sign-in is spent with it.
    let r = h.run(&["login", "--paste", &code]).await;
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("No sign-in is in progress"), "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_in_two_steps_for_machines_without_a_terminal() {
    let h = Home::new().await;
    h.setup().await;
    let r = h.run(&["login", "--no-wait"]).await;
    r.ok();
    let url = r.stdout.lines().find(|l| l.starts_with("http")).unwrap().to_string();
    assert!(r.stderr.contains("login --paste"));
    let back = approve(&url).await;
    let r = h.run(&["login", "--paste", &back]).await;
    r.ok();
    assert!(r.stdout.contains("Signed in"));
    assert!(h.secrets_file().get("home/pending-sign-in").is_none(), "the pending sign-in is gone");
    let token = h.run(&["token"]).await;
    assert!(h.sim.accepts(token.ok().stdout.trim()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_on_a_loopback_redirect_uri_catches_the_browser() {
    let h = Home::new().await;
    // Registered without a port: any free port is used (RFC 8252).
    h.setup_with("http://127.0.0.1/callback", &[]).await.ok();
    let mut child = h.cmd(&["login", "--no-browser"]).spawn().unwrap();
    let (url, _rest) = authorize_url(&mut child).await;
    let redirect = query_param(&url, "redirect_uri").unwrap();
    assert!(redirect.starts_with("http://127.0.0.1:") && redirect.ends_with("/callback"), "{redirect}");
    let back = approve(&url).await;
    assert!(back.starts_with(&redirect));
    // A forged answer to the listener is refused, and the listener keeps waiting.
    let forged = back.replace(&query_param(&back, "state").unwrap(), "forged");
    let page = reqwest::get(&forged).await.unwrap();
    assert_eq!(page.status(), 400);
    assert!(page.text().await.unwrap().contains("does not belong"));
    // The real browser redirect finishes the sign-in.
    let page = reqwest::get(&back).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Signed in"));
    let r = crate::common::finish(child).await;
    r.ok();
    let token = h.run(&["token"]).await;
    assert!(h.sim.accepts(token.ok().stdout.trim()).await);
    let config = std::fs::read_to_string(h.dir.path().join("config.toml")).unwrap();
    assert!(config.contains("redirect_uri = \"http://127.0.0.1/callback\""), "the setting keeps the URI as registered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_refreshes_when_too_close_to_expiry() {
    let h = Home::new().await;
    h.setup().await;
    h.sim.set_expires_in(120);
    h.login().await.ok();
    h.sim.set_expires_in(86_400);
    let first = h.run(&["token", "--min-valid", "1m"]).await;
    assert_eq!(h.refreshes(), 0, "two minutes left is enough for one minute");
    let second = h.run(&["token"]).await; // default: at least 5 minutes
    assert_eq!(h.refreshes(), 1, "the token was refreshed first");
    let (a, b) = (first.ok().stdout.trim().to_string(), second.ok().stdout.trim().to_string());
    assert_ne!(a, b);
    assert!(h.sim.accepts(&b).await);
    // Asking for more than SmartThings gives is an error, not a short-lived token.
    let r = h.run(&["token", "--min-valid", "2d"]).await;
    assert_eq!(r.code, 1);
    assert!(r.stdout.is_empty());
    assert!(r.stderr.contains("No token valid for"), "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_exits_4_once_smartthings_ends_the_session() {
    let h = Home::new().await;
    h.setup().await;
    // A token that is still valid but too short for `token`'s five minutes: the command
    // has to refresh, and the refresh token is dead.
    h.sim.set_expires_in(120);
    h.login().await.ok();
    h.sim.revoke_refresh_tokens();
    let before = h.sim.stats().token_requests;
    let r = h.run(&["token"]).await;
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stdout.is_empty(), "no token, not even the still-valid short one");
    assert!(r.stderr.contains("ended this session") && r.stderr.contains("Sign in again"), "{}", r.stderr);
    // Issue 11: the likely causes, in plain words.
    assert!(r.stderr.contains("same location somewhere else") && r.stderr.contains("Linked Services"), "{}", r.stderr);
    assert_eq!(h.sim.stats().token_requests, before + 1, "it really tried to refresh");
    // Every later run knows without asking SmartThings again.
    let r = h.run(&["token", "--format", "json"]).await;
    assert_eq!(r.code, 4);
    assert_eq!(h.sim.stats().token_requests, before + 1);
    let s = h.run(&["status", "--json"]).await;
    assert_eq!(s.code, 4);
    let v: serde_json::Value = serde_json::from_str(s.stdout.trim()).unwrap();
    assert_eq!(v[0]["status"]["state"], "needs_sign_in");
    assert_eq!(v[0]["status"]["reason"]["code"], "session_ended");
    // Signing in again mends it and keeps the settings.
    h.sim.set_expires_in(86_400);
    h.login().await.ok();
    h.run(&["token"]).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_switch_and_scenes() {
    let h = Home::new().await;
    h.signed_in().await;

    let r = h.run(&["devices"]).await;
    let kitchen = r.ok().stdout.lines().find(|l| l.starts_with("Kitchen Lights")).expect("listed").to_string();
    assert!(kitchen.contains("Kitchen") && kitchen.contains(KITCHEN_LIGHTS) && kitchen.contains("yes"), "{kitchen}");
    assert!(r.stdout.starts_with("LABEL"));
    let r = h.run(&["devices", "--json"]).await;
    let v: serde_json::Value = serde_json::from_str(r.ok().stdout.trim()).unwrap();
    let d = v.as_array().unwrap().iter().find(|d| d["id"] == KITCHEN_LIGHTS).unwrap();
    assert_eq!(d["label"], "Kitchen Lights");
    assert_eq!(d["room"], "Kitchen");
    assert_eq!(d["online"], true);
    assert!(d["switch"] == "on" || d["switch"] == "off");
    // Issue 12: what each device is doing, the tray's short line and the readings.
    assert!(
        d["state"] == "On" || d["state"] == "Off" || d["state"].as_str().is_some_and(|s| s.starts_with("O")),
        "{d}"
    );
    let lock = v.as_array().unwrap().iter().find(|d| d["label"] == "Front Door Lock").expect("the lock is listed");
    let state = lock["state"].as_str().expect("a lock says what it is doing");
    assert!(state.starts_with("Locked") || state.starts_with("Unlocked"), "{lock}");
    let reading =
        lock["readings"].as_array().unwrap().iter().find(|r| r["capability"] == "lock").expect("the lock reading");
    assert_eq!(reading["attribute"], "lock");
    assert!(reading["value"].is_string() && reading.get("unit").is_some(), "{reading}");
    let table = h.run(&["devices"]).await;
    assert!(table.stdout.lines().next().unwrap().contains("STATE"), "{}", table.stdout);
    assert!(
        v.as_array().unwrap().iter().all(|d| d["id"] != "1a987293-0962-4447-99d4-aa82655ffb55"),
        "one location only"
    );

    // Issue 12: any command, the state read back in the tray's words; --json on it and on switch.
    let lock =
        |v: &str| h.sim.device_attribute("a9f587c5-5d8b-4273-8907-e7f609af5158", "main", "lock", "lock").unwrap() == v;
    let r = h.run(&["command", "Front Door Lock", "lock", "unlock"]).await;
    assert!(r.ok().stdout.trim().starts_with("Front Door Lock: Unlocked"), "{}", r.stdout);
    assert!(lock("unlocked"));
    let r = h.run(&["command", "front door lock", "lock", "lock", "--json"]).await;
    let v: serde_json::Value = serde_json::from_str(r.ok().stdout.trim()).unwrap();
    assert!(v["state"].as_str().unwrap().starts_with("Locked"), "{v}");
    assert!(lock("locked"));
    let r = h.run(&["command", "Front Door Lock", "windowShade", "open"]).await;
    assert_eq!(r.code, 2, "a capability the device lacks is a usage error: {}", r.stderr);
    assert!(r.stderr.contains("has no `windowShade` capability") && r.stderr.contains("lock"), "{}", r.stderr);
    let r = h.run(&["command", "Front Door Lock", "lock", "explode"]).await;
    assert_eq!(r.code, 1, "SmartThings refuses an unknown command: {}", r.stderr);
    // The window's catalogue checks what it knows before SmartThings is asked (issue 26).
    let sent = || h.sim.stats().routes.iter().filter(|(r, _)| r.contains("/commands")).map(|(_, n)| *n).sum::<u64>();
    let commands_before = sent();
    let r = h.run(&["command", "Desk Lamp", "switchLevel", "setLevel", "150"]).await;
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("between 0 and 100") && r.stderr.contains("was not sent"), "{}", r.stderr);
    assert_eq!(sent(), commands_before, "nothing was sent");
    let r = h.run(&["switch", "Kitchen Lights", "on", "--json"]).await;
    let v: serde_json::Value = serde_json::from_str(r.ok().stdout.trim()).unwrap();
    assert!(v["switch"] == "on" && v["state"].as_str().is_some_and(|s| s.starts_with("On")), "{v}");

    let read = || h.sim.device_attribute(KITCHEN_LIGHTS, "main", "switch", "switch").unwrap();
    let r = h.run(&["switch", "kitchen lights", "on"]).await;
    assert_eq!(r.ok().stdout.trim(), "Kitchen Lights: on");
    assert_eq!(read(), "on");
    let r = h.run(&["switch", KITCHEN_LIGHTS, "toggle"]).await;
    assert_eq!(r.ok().stdout.trim(), "Kitchen Lights: off");
    assert_eq!(read(), "off");
    let r = h.run(&["switch", "Kitchen Lights", "toggle"]).await;
    assert_eq!(r.ok().stdout.trim(), "Kitchen Lights: on");
    let r = h.run(&["switch", "No Such Lamp", "on"]).await;
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("No device matches `No Such Lamp`"), "{}", r.stderr);
    let r = h.run(&["switch", "Kitchen Lights", "dim"]).await;
    assert_eq!(r.code, 2, "clap's usage error");

    let r = h.run(&["scenes"]).await;
    let line = r.ok().stdout.lines().find(|l| l.starts_with("Good Morning")).expect("listed").to_string();
    let id = line.split_whitespace().last().unwrap().to_string();
    let r = h.run(&["scene", "run", "good morning"]).await;
    assert_eq!(r.ok().stdout.trim(), "Ran scene `Good Morning`.");
    h.run(&["scene", "run", &id]).await.ok();
    assert_eq!(h.sim.stats().scene_executions.get(&id), Some(&2));
    let r = h.run(&["scene", "run", "Bedtime Party"]).await;
    assert_eq!(r.code, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_removes_the_tokens_and_says_where_the_rest_is() {
    let h = Home::new().await;
    h.signed_in().await;
    assert!(h.secrets_file().get("home/tokens").is_some());
    let r = h.run(&["logout"]).await;
    r.ok();
    assert!(r.stderr.contains("Linked services"), "{}", r.stderr);
    assert!(h.secrets_file().get("home/tokens").is_none());
    assert!(h.secrets_file().get("home/client-secret").is_some(), "the secret stays for the next sign-in");
    let r = h.run(&["token"]).await;
    assert_eq!(r.code, 4);
    assert!(r.stderr.contains("not signed in") && r.stderr.contains("thingstray login"), "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_checks_everything_and_says_how_to_fix_it() {
    let h = Home::new().await;
    h.signed_in().await;
    let r = h.run(&["doctor"]).await;
    r.ok();
    for check in ["settings", "vault", "api", "clock", "oauth", "session"] {
        assert!(r.stdout.lines().any(|l| l.starts_with("ok") && l.contains(check)), "{check}: {}", r.stdout);
    }
    assert!(!r.stdout.contains("warn"), "the recommended redirect URI is not warned about: {}", r.stdout);

    h.run(&["logout"]).await.ok();
    let r = h.run(&["doctor"]).await;
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("FAIL  session") && r.stdout.contains("fix: run `thingstray login`"), "{}", r.stdout);

    // A wrong secret in the vault: the token endpoint says so, and the fix is setup.
    let mut secrets = h.secrets_file();
    secrets["home/client-secret"] = "wrong".into();
    std::fs::write(h.dir.path().join("secrets.json"), secrets.to_string()).unwrap();
    let r = h.run(&["doctor"]).await;
    assert!(r.stdout.contains("FAIL  oauth") && r.stdout.contains("thingstray setup"), "{}", r.stdout);

    std::fs::write(h.dir.path().join("config.toml"), "connections = 3").unwrap();
    let r = h.run(&["doctor"]).await;
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("FAIL  settings"), "{}", r.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_connections_one_per_location() {
    let h = Home::new().await;
    h.setup().await;
    h.login().await.ok();
    let secret = format!("{}\n", h.secret());
    let mut args = vec!["--connection".to_string(), "cabin".into(), "setup".into()];
    args.extend(h.sim.setup_args());
    h.run_with_stdin(&args.iter().map(String::as_str).collect::<Vec<_>>(), Some(&secret)).await.ok();
    let r = h.run(&["--connection", "cabin", "token"]).await;
    assert_eq!(r.code, 4, "the second connection is not signed in yet: {}", r.stderr);
    h.run(&["token"]).await.ok(); // the default one is
    let mut c = h.cmd(&["token"]);
    c.env("THINGSTRAY_CONNECTION", "nowhere");
    let r = crate::common::finish(c.spawn().unwrap()).await;
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("no connection named `nowhere`") && r.stderr.contains("cabin, home"), "{}", r.stderr);
}
