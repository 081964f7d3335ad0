//! `--store`: the real binary as a token service on a private PostgreSQL, two replica
//! processes, a user signed in through them, and a replica SIGKILLed while it holds a
//! refresh (its connection dies with it, PostgreSQL lets go of the row, the other
//! replica refreshes with the stored pair).

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use smartthings_sim::{Faults, SimConfig};
use thingstray_testkit::postgres::Cluster;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;

use crate::common::{Home, Out, PATIENCE};

struct Service {
    home: Home,
    pg: Arc<Cluster>,
    key: String,
}

impl Service {
    async fn new(config: SimConfig) -> Service {
        let pg = tokio::task::spawn_blocking(Cluster::start)
            .await
            .unwrap()
            .expect("PostgreSQL starts (scripts/setup installs it)");
        let mut home = Home::with(config).await;
        home.env.push(("THINGSTRAY_STORE".into(), pg.url()));
        let key = thingstray_store_key();
        home.env.push(("THINGSTRAY_STORE_KEY".into(), key.clone()));
        Service { home, pg: Arc::new(pg), key }
    }

    async fn run(&self, args: &[&str], stdin: Option<&str>) -> Out {
        self.home.run_with_stdin(args, stdin).await
    }

    /// A replica: `serve --store` on a free loopback port; returns it and its base URL.
    async fn replica(&self) -> (Child, String) {
        let mut child = self
            .home
            .cmd(&["serve", "--listen", "127.0.0.1:0", "--loopback-callbacks"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("serve starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line =
            tokio::time::timeout(PATIENCE, lines.next_line()).await.expect("serve answers").unwrap().expect("a line");
        let url = line.strip_prefix("listening on ").expect("listening on http://ADDR").to_string();
        (child, url)
    }
}

fn thingstray_store_key() -> String {
    secrecy::ExposeSecret::expose_secret(&thingstray_store::StoreKey::generate()).to_string()
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).timeout(PATIENCE).build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replica_processes_serve_a_user_and_survive_one_killed_mid_refresh() {
    let svc = Service::new(SimConfig { expires_in: 1_800, ..SimConfig::default() }).await;
    let sim = &svc.home.sim;
    // setup: the app, its secret on stdin; and the connector.
    let mut args = vec!["setup".to_string(), "--offline".into()];
    args.extend(sim.setup_args());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = svc.run(&args, Some(&format!("{}\n", sim.client().client_secret))).await;
    out.ok();
    assert!(!out.stdout.contains(&sim.client().client_secret) && !out.stderr.contains(&sim.client().client_secret));
    svc.run(
        &["setup", "--schema", "--client-id", &sim.schema_partner().client_id],
        Some(&format!("{}\n", sim.schema_partner().client_secret)),
    )
    .await
    .ok();

    let secret = svc.run(&["serve", "--print-secret"], None).await.ok().stdout.trim().to_string();
    assert!(secret.len() >= 32);
    let (mut one, base1) = svc.replica().await;
    let (mut two, base2) = svc.replica().await;
    let http = http();

    // A user signs in: started at replica one, finished at replica two.
    let started: Value =
        http.get(format!("{base1}/v1/sign-in")).bearer_auth(&secret).send().await.unwrap().json().await.unwrap();
    let redirect = smartthings_sim::browser::decide(started["authorize_url"].as_str().unwrap(), "authorize").await;
    let page =
        http.get(format!("{base2}/v1/oauth/callback?{}", redirect.split_once('?').unwrap().1)).send().await.unwrap();
    assert_eq!(page.status(), 200, "{}", page.text().await.unwrap());
    let status = svc.run(&["status", "--json"], None).await;
    let rows: Value = serde_json::from_str(&status.ok().stdout).unwrap();
    let id = rows[0]["id"].as_str().expect("one session").to_string();
    assert_eq!(rows[0]["status"], "active");
    assert!(!status.stdout.contains("token\""), "no token in status");

    // The CLI's own token for that session.
    let t = svc.run(&["token", "--connection", &id], None).await;
    assert!(sim.accepts(t.ok().stdout.trim()).await);

    // Replica one takes the refresh (the token has half an hour left; the caller wants an
    // hour, and new tokens live two) and is SIGKILLed while SmartThings' gateway holds
    // its request.
    sim.set_expires_in(7_200);
    sim.set_faults(Faults {
        route_prefix: "/oauth/token".into(),
        timeout: 1.0,
        timeout_ms: 60_000,
        ..Faults::default()
    });
    let before = sim.stats().token_requests;
    let pending = {
        let (http, url, secret) =
            (http.clone(), format!("{base1}/v1/connections/{id}/token?min_valid=3600"), secret.clone());
        tokio::spawn(async move { http.get(url).bearer_auth(secret).send().await })
    };
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while sim.stats().token_requests == before {
        assert!(tokio::time::Instant::now() < deadline, "replica one never asked SmartThings");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    one.kill().await.unwrap();
    assert!(pending.await.unwrap().is_err(), "the caller of the dead replica got no answer");
    sim.set_faults(Faults::default());

    // Replica two refreshes with the stored pair: nothing was lost.
    let got = http
        .get(format!("{base2}/v1/connections/{id}/token?min_valid=3600"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    let code = got.status();
    let body = got.text().await.unwrap();
    assert_eq!(code, 200, "{body}");
    let got: Value = serde_json::from_str(&body).unwrap();
    assert!(sim.accepts(got["access_token"].as_str().unwrap()).await);
    assert_eq!(sim.stats().token_grants.get("refresh_token"), Some(&1));

    // Commands the store does not serve say so.
    let nope = svc.run(&["devices"], None).await;
    assert_eq!(nope.code, 2, "{}", nope.stderr);
    // The wrong key is refused with what to do.
    let mut c = svc.home.cmd(&["status"]);
    c.env("THINGSTRAY_STORE_KEY", thingstray_store_key());
    let wrong = c.output().await.unwrap();
    assert_eq!(wrong.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("key"), "{}", String::from_utf8_lossy(&wrong.stderr));
    // The key from a file: one other users can read is named in a warning; 0600 is quiet.
    let key_file = svc.home.dir.path().join("store.key");
    std::fs::write(&key_file, &svc.key).unwrap();
    for (mode, warned) in [(0o644, true), (0o600, false)] {
        std::fs::set_permissions(&key_file, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
        let mut c = svc.home.cmd(&["--store-key-file", key_file.to_str().unwrap(), "status"]);
        c.env_remove("THINGSTRAY_STORE_KEY");
        let out = c.output().await.unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{err}");
        assert_eq!(err.contains("can be read by other users"), warned, "mode {mode:o}: {err}");
    }
    let _ = two.kill().await;
    let _ = (&svc.pg, &svc.key);
}
