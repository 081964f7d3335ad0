//! `thingstray schema` (issue 13) as a connector's developer runs it: the grant on stdin,
//! the secret in the environment, then `token`, `status`, `serve` and `state-callback`
//! working for the connector's callback tokens, against the simulator's ST Schema side.

use crate::common::Home;
use crate::serve::{start, token_via};

fn connector(h: &mut Home) -> (String, String) {
    let p = h.sim.schema_partner().clone();
    h.env.push(("THINGSTRAY_CLIENT_SECRET".into(), p.client_secret.clone()));
    (p.client_id, p.client_secret)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_on_stdin_gives_a_connection_every_command_serves() {
    let mut h = Home::new().await;
    let (client_id, secret) = connector(&mut h);
    let grant = h.sim.schema_grant().to_string();
    let out = h
        .run_with_stdin(
            &["-v", "schema", "grant", "--loopback-callbacks", "--client-id", &client_id, "--vault", "file"],
            Some(&grant),
        )
        .await;
    out.ok();
    assert!(out.stdout.contains("Kept `connector`"), "{}", out.stdout);
    assert!(!out.stderr.contains(&secret), "the secret stays out of the logs");

    let token = h.run(&["--connection", "connector", "token"]).await;
    let token = token.ok().stdout.trim().to_string();
    assert!(h.sim.schema_accepts(&token), "the callback token works at SmartThings");
    let json = h.run(&["--connection", "connector", "token", "--format", "json"]).await;
    let v: serde_json::Value = serde_json::from_str(json.ok().stdout.trim()).unwrap();
    assert_eq!(v["access_token"], token.as_str());
    assert!(v["expires_in"].as_u64().is_some_and(|s| s > 3600), "{v}");
    assert!(v.get("refresh_token").is_none());
    let status = h.run(&["status", "--json"]).await;
    assert!(status.ok().stdout.contains("\"connection\":\"connector\""), "{}", status.stdout);

    // The connector's own process fetches its token from the loopback token server.
    let server = start(&h, None).await;
    let served = token_via(&server, &format!("127.0.0.1:{}", server.port)).await;
    assert!(h.sim.schema_accepts(served["access_token"].as_str().unwrap()));

    let sent = h
        .run(&[
            "--connection",
            "connector",
            "schema",
            "state-callback",
            "--device",
            "lamp-1",
            "--capability",
            "st.switch",
            "--attribute",
            "switch",
            "--value",
            "on",
        ])
        .await;
    sent.ok();
    let events = h.sim.schema_events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["externalDeviceId"], "lamp-1");
    assert_eq!(events[0]["states"][0]["value"], "on");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_grant_or_secret_is_refused_with_what_to_do() {
    let mut h = Home::new().await;
    let (client_id, _) = connector(&mut h);
    let grant = h.sim.schema_grant().to_string();
    let other = h
        .run_with_stdin(
            &["schema", "grant", "--loopback-callbacks", "--client-id", "someone-else", "--vault", "file"],
            Some(&grant),
        )
        .await;
    assert_eq!(other.code, 1);
    assert!(other.stderr.contains(&client_id) && other.stderr.contains("Client ID"), "{}", other.stderr);
    h.env.retain(|(k, _)| k != "THINGSTRAY_CLIENT_SECRET");
    let none = h
        .run_with_stdin(
            &["schema", "grant", "--loopback-callbacks", "--client-id", &client_id, "--vault", "file"],
            Some(&grant),
        )
        .await;
    assert_eq!(none.code, 1);
    assert!(none.stderr.contains("THINGSTRAY_CLIENT_SECRET"), "{}", none.stderr);
    h.env.push(("THINGSTRAY_CLIENT_SECRET".into(), "not-the-secret".into()));
    let wrong = h
        .run_with_stdin(
            &["schema", "grant", "--loopback-callbacks", "--client-id", &client_id, "--vault", "file"],
            Some(&grant),
        )
        .await;
    assert_eq!(wrong.code, 1);
    assert!(wrong.stderr.contains("INVALID-CLIENT-SECRET"), "{}", wrong.stderr);
    let garbage = h
        .run_with_stdin(
            &["schema", "grant", "--loopback-callbacks", "--client-id", &client_id, "--vault", "file"],
            Some("not json"),
        )
        .await;
    assert_eq!(garbage.code, 1);
    assert!(garbage.stderr.contains("grantCallbackAccess"), "{}", garbage.stderr);
}

/// Issue 25, item 6: a forged grant naming another host never gets the connector's secret,
/// and a stored connection's URLs change only when asked for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_grant_never_gets_the_secret_and_new_urls_need_a_yes() {
    let mut h = Home::new().await;
    let (client_id, _) = connector(&mut h);
    // A thief's token endpoint on this machine: it must never be called.
    let thief = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let thief_url = format!("http://{}/oauth/token", thief.local_addr().unwrap());
    let grant = h.sim.schema_grant();
    let mut forged = grant.clone();
    forged["callbackUrls"]["oauthToken"] = serde_json::Value::String("https://attacker.example/oauth/token".into());
    let r = h
        .run_with_stdin(&["schema", "grant", "--client-id", &client_id, "--vault", "file"], Some(&forged.to_string()))
        .await;
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("attacker.example") && r.stderr.contains("not SmartThings"), "{}", r.stderr);
    // Loopback without the flag: refused too (the simulator's own grant).
    let r = h
        .run_with_stdin(&["schema", "grant", "--client-id", &client_id, "--vault", "file"], Some(&grant.to_string()))
        .await;
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("--loopback-callbacks"), "{}", r.stderr);

    // Kept once; then a grant with another token URL is refused unless accepted.
    h.run_with_stdin(
        &["schema", "grant", "--loopback-callbacks", "--client-id", &client_id, "--vault", "file"],
        Some(&grant.to_string()),
    )
    .await
    .ok();
    h.env.retain(|(k, _)| k != "THINGSTRAY_CLIENT_SECRET");
    let mut moved = h.sim.schema_grant();
    moved["callbackUrls"]["oauthToken"] = serde_json::Value::String(thief_url.clone());
    let r = h
        .run_with_stdin(
            &["schema", "grant", "--loopback-callbacks", "--client-id", &client_id],
            Some(&moved.to_string()),
        )
        .await;
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("--accept-new-urls") && r.stderr.contains(&thief_url), "{}", r.stderr);
    // Nothing ever connected to the thief.
    let accepted = tokio::time::timeout(std::time::Duration::from_millis(1), thief.accept()).await;
    assert!(accepted.is_err(), "the stored secret was sent to a new address");
}
