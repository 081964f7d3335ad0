//! No token, code or secret ever reaches a log line. Everything is logged at TRACE (ours
//! and every dependency's: hyper, reqwest, axum, the simulator) through a sign-in,
//! refreshes, faults and the end of a session; then the captured text is searched for
//! every secret that existed during the run.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{approve, Env};
use secrecy::{ExposeSecret, SecretString};
use smartthings_sim::{Faults, SimConfig};
use thingstray::vault::{MemoryStore, SecretStore, Vault};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Keeps every value ever written to the vault: the secrets to look for.
#[derive(Default)]
struct Witness {
    inner: MemoryStore,
    seen: Mutex<Vec<String>>,
}

impl SecretStore for Witness {
    fn get(&self, key: &str) -> thingstray::Result<Option<SecretString>> {
        self.inner.get(key)
    }
    fn set(&self, key: &str, value: &SecretString) -> thingstray::Result<()> {
        let raw = value.expose_secret().to_string();
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&raw) {
            for k in ["access_token", "refresh_token"] {
                if let Some(s) = v[k].as_str() {
                    self.seen.lock().unwrap().push(s.to_string());
                }
            }
        } else {
            self.seen.lock().unwrap().push(raw);
        }
        self.inner.set(key, value)
    }
    fn delete(&self, key: &str) -> thingstray::Result<()> {
        self.inner.delete(key)
    }
    fn describe(&self) -> String {
        "witness".into()
    }
}

/// Set in the child process this test runs its work in.
const CHILD: &str = "THINGSTRAY_TEST_LOGS_CHILD";

/// The work runs in a process of its own (this binary again, with only this test): its
/// TRACE subscriber is global there from the first line, so it sees every event. Set in
/// the middle of a run of other tests, tracing's callsite-interest cache can miss events
/// whose callsites another thread registered first (seen: 1 run in ~10 missed a line).
#[test]
fn no_secret_appears_in_any_log_line() {
    if std::env::var_os(CHILD).is_none() {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["logs::no_secret_appears_in_any_log_line", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD, "1")
            .output()
            .expect("the test binary runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("1 passed"), "the child ran the test: {stdout}");
        return;
    }
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(run_and_search(capture));
}

async fn run_and_search(capture: Capture) {
    let witness = Arc::new(Witness::default());
    let env = Env::with_vault(SimConfig { expires_in: 600, ..SimConfig::default() }, Vault::new(witness.clone())).await;
    let conn = env.connection().await;
    let sign_in = conn.begin_sign_in().unwrap();
    let answer = approve(&sign_in, None).await;
    let code = url::Url::parse(&answer).unwrap().query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
    conn.finish_sign_in(&env.paths, &sign_in, &answer).await.unwrap();
    let refresher = conn.session.spawn_refresher();

    for _ in 0..5 {
        env.advance(Duration::from_secs(601));
        conn.session.token_valid_for(Duration::from_secs(60)).await.unwrap();
        conn.api.devices().await.unwrap();
    }
    env.sim.set_faults(Faults {
        route_prefix: "/oauth/token".into(),
        error_5xx: 0.5,
        malformed_body: 0.5,
        ..Faults::default()
    });
    env.advance(Duration::from_secs(601));
    let _ = conn.session.token_valid_for(Duration::from_secs(60)).await;
    env.sim.set_faults(Faults::default());
    env.sim.revoke_refresh_tokens();
    env.advance(Duration::from_secs(601));
    let e = conn.session.token_valid_for(Duration::from_secs(60)).await.unwrap_err();
    assert_eq!(e.code(), "session_ended");
    refresher.abort();

    // An ST Schema connector's callback tokens too (issue 13): the grant's code, the
    // connector's secret, every callback pair, a state callback, the access ended.
    let partner = env.sim.schema_partner().clone();
    let grant = thingstray::schema::parse_grant(
        &env.sim.schema_grant().to_string(),
        &partner.client_id,
        thingstray::schema::CallbackHosts::AlsoLoopback,
    )
    .unwrap();
    let schema_code = grant.code.expose_secret().to_string();
    let connector = thingstray::connection::schema::keep(
        &env.paths,
        &env.vault,
        "connector",
        grant,
        SecretString::from(partner.client_secret.clone()),
        env.options(),
    )
    .await
    .unwrap();
    for _ in 0..3 {
        env.advance(Duration::from_secs(601));
        let t = connector.session.token_valid_for(Duration::from_secs(60)).await.unwrap();
        let state = thingstray::schema::DeviceState {
            external_device_id: "lamp-1",
            capability: "st.switch",
            attribute: "switch",
            value: "on".into(),
        };
        let url = connector.settings.schema.clone().unwrap().state_callback;
        thingstray::schema::state_callback(&reqwest::Client::new(), &url, t.secret(), &state).await.unwrap();
    }
    reqwest::Client::new().post(format!("{}/__sim/schema/delete", env.sim.base_url())).send().await.unwrap();
    env.advance(Duration::from_secs(601));
    assert!(connector.session.token_valid_for(Duration::from_secs(60)).await.is_err());

    // The app made with a personal access token (issue 24): created, checked, a new
    // secret, deleted. The token and both client secrets must not be logged.
    let pat = env.sim.mint_pat(&["r:apps:*", "w:apps:*", "r:installedapps:*"], Duration::from_secs(86_400));
    let p = || thingstray::apps::Pat::new(&SecretString::from(pat.clone())).unwrap();
    let http = || thingstray::http::client(Duration::from_secs(5)).unwrap();
    let new = thingstray::apps::NewApp {
        connection: Some("made".into()),
        api_url: Some(env.sim.api_url()),
        auth_url: Some(env.sim.auth_url()),
        ..Default::default()
    };
    thingstray::apps::create(&env.paths, &env.vault, p(), new, http()).await.unwrap();
    thingstray::apps::check(&env.paths, Some("made"), None, p(), http()).await.unwrap();
    thingstray::apps::repair(&env.paths, &env.vault, Some("made"), None, p(), true, http()).await.unwrap();
    thingstray::apps::delete(&env.paths, Some("made"), None, None, p(), http()).await.unwrap();

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("refreshing the access token"), "the run was logged");
    assert!(logs.contains("the session ended"), "the end was logged");
    let mut secrets = witness.seen.lock().unwrap().clone();
    secrets.push(env.sim.client().client_secret.clone());
    secrets.push(code);
    secrets.push(partner.client_secret.clone());
    secrets.push(schema_code);
    secrets.push(pat.clone());
    assert!(logs.contains("created the OAuth-In app"), "the app's creation was logged");
    assert!(secrets.len() >= 21, "{} secrets collected", secrets.len());
    for s in &secrets {
        assert!(!logs.contains(s.as_str()), "a secret leaked into the logs ({} chars of logs)", logs.len());
    }
}
