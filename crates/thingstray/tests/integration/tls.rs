//! SmartThings over TLS (the simulator's `SimConfig::tls`): a connection whose client
//! trusts the simulator's authority (passed in `Options::extra_roots`, never through the
//! process environment) signs in and pages 260 devices over `https://` links; one that
//! trusts only the public roots is refused.

use std::collections::BTreeSet;

use crate::common::*;
use smartthings_sim::SimConfig;
use thingstray::connection::Options;
use thingstray::http::ExtraRoots;

const DEVICES: usize = 260;

fn tls_config() -> SimConfig {
    SimConfig {
        auto_approve: true,
        extra_devices: DEVICES,
        first_location_devices: Some(DEVICES),
        tls: true,
        ..SimConfig::default()
    }
}

/// The sign-in page, walked by a browser that trusts the simulator.
async fn approve_tls(env: &Env, sign_in: &thingstray::oauth::SignIn) -> String {
    let http = env.sim.client_builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    smartthings_sim::browser::approve_with(&http, sign_in.authorize_url().as_str()).await
}

#[tokio::test]
async fn a_connection_pages_every_device_over_https() {
    let env = Env::new(tls_config()).await;
    assert!(env.sim.api_url().starts_with("https://127.0.0.1:"));
    let conn = env.connection().await;
    let sign_in = conn.begin_sign_in().unwrap();
    let answer = approve_tls(&env, &sign_in).await;
    conn.finish_sign_in(&env.paths, &sign_in, &answer).await.expect("sign-in over https");

    let devices = conn.api.devices().await.expect("every page over https");
    assert_eq!(devices.len(), DEVICES);
    let ids: BTreeSet<_> = devices.iter().map(|d| d.id.clone()).collect();
    assert_eq!(ids.len(), DEVICES, "no device twice");
    let lists = env.sim.requests().into_iter().filter(|r| r.target.contains("devices?")).count();
    assert!(lists >= 2, "the list was paged ({lists} requests)");
}

#[tokio::test]
async fn without_the_authority_sign_in_is_unreachable_with_a_reason() {
    let env = Env::new(tls_config()).await;
    let settings = settings_for(&env.sim);
    thingstray::Connection::save(
        &env.paths,
        &env.vault,
        "home",
        settings,
        Some(secrecy::SecretString::from(env.sim.client().client_secret.clone())),
    )
    .await
    .unwrap();
    let config = thingstray::config::Config::load(&env.paths).unwrap();
    let opts = Options { extra_roots: Some(ExtraRoots::none()), ..env.options() };
    let conn =
        thingstray::Connection::open_with(&env.paths, &config, env.vault.clone(), Some("home"), opts).await.unwrap();
    let sign_in = conn.begin_sign_in().unwrap();
    let answer = approve_tls(&env, &sign_in).await;
    let e = conn.finish_sign_in(&env.paths, &sign_in, &answer).await.unwrap_err();
    assert_eq!(e.code(), "unreachable", "{e}");
    assert!(e.to_string().to_lowercase().contains("certificate"), "{e}");
    assert!(env.sim.requests().iter().all(|r| !r.target.contains("token")), "no request got through");
}

#[tokio::test]
async fn another_simulators_authority_is_not_enough() {
    let env = Env::new(tls_config()).await;
    let other = smartthings_sim::Sim::start(SimConfig { tls: true, ..SimConfig::default() }).await.unwrap();
    let roots = ExtraRoots::from_pem_file(other.ca_file().unwrap()).unwrap();
    let http = thingstray::http::client_with(std::time::Duration::from_secs(5), &roots).unwrap();
    let e = http.get(format!("{}/locations", env.sim.api_url())).send().await.unwrap_err();
    assert!(e.is_connect(), "{e}");
    let ok = thingstray::http::client_with(
        std::time::Duration::from_secs(5),
        &ExtraRoots::from_pem_file(env.sim.ca_file().unwrap()).unwrap(),
    )
    .unwrap();
    let r = ok.get(format!("{}/locations", env.sim.api_url())).send().await.unwrap();
    assert_eq!(r.status(), 401, "reached, and refused only for want of a token");
}
