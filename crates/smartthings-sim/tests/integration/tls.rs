//! `SimConfig::tls` / `--tls`: the simulator answers over HTTPS as SmartThings does, every
//! URL it gives out (paging links included) starts with `https://`, and only a client that
//! trusts its authority gets through.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::common::*;
use reqwest::{redirect::Policy, Client, StatusCode};
use smartthings_sim::{Sim, SimConfig};

const DEVICES: usize = 260;

async fn tls_sim(extra: usize) -> Sim {
    start(SimConfig {
        auto_approve: true,
        extra_devices: extra,
        first_location_devices: Some(extra),
        tls: true,
        ..SimConfig::default()
    })
    .await
}

/// A client that trusts this simulator's authority and nothing else.
fn trusting(sim: &Sim) -> Client {
    let pem = sim.ca_pem().expect("a TLS simulator has an authority");
    Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// The error and every cause, for asserting on why a request failed.
fn chain(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}

#[tokio::test]
async fn paging_over_https_keeps_every_link_https_and_brings_every_device() {
    let sim = tls_sim(DEVICES).await;
    let port = sim.base_url().rsplit(':').next().unwrap().parse::<u16>().unwrap();
    let origin = format!("https://127.0.0.1:{port}");
    assert_eq!(sim.base_url(), origin);
    assert_eq!(sim.api_url(), format!("{origin}/v1"));
    assert_eq!(sim.auth_url(), format!("{origin}/oauth"));
    let file = std::fs::read_to_string(sim.ca_file().unwrap()).unwrap();
    assert_eq!(file, sim.ca_pem().unwrap());

    // Sign-in (authorize, then the token endpoint) over TLS too.
    let http = trusting(&sim);
    let token = access(&login(&sim, &http).await);
    assert!(sim.accepts(&token).await);

    let mut url = format!("{}/devices?max=50", sim.api_url());
    let mut ids = Vec::new();
    let mut pages = 0;
    loop {
        let (status, page) = api_get(&sim, &http, &token, &url).await;
        assert_eq!(status, StatusCode::OK, "{url}: {page}");
        ids.extend(page["items"].as_array().unwrap().iter().map(|d| d["deviceId"].as_str().unwrap().to_string()));
        pages += 1;
        let Some(next) = page["_links"]["next"]["href"].as_str() else { break };
        assert!(next.starts_with(&format!("{origin}/devices?")), "every link is https on this port: {next}");
        url = next.to_string();
        assert!(pages < 20, "runaway paging");
    }
    assert_eq!(pages, DEVICES.div_ceil(50));
    assert_eq!(ids.len(), DEVICES);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), DEVICES, "no device twice");

    // Asked by name, the links name it back, still https (the certificate covers it).
    let local = format!("https://localhost:{port}");
    let (status, page) = api_get(&sim, &http, &token, &format!("{local}/v1/devices?max=5")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["_links"]["next"]["href"], format!("{local}/devices?max=5&page=1"));
}

#[tokio::test]
async fn plain_http_to_the_tls_port_gets_no_answer() {
    let sim = tls_sim(0).await;
    let plain = sim.base_url().replacen("https://", "http://", 1);
    let r = Client::new().get(format!("{plain}/__sim/stats")).send().await;
    let e = r.expect_err("plain HTTP to the TLS port must fail");
    assert!(e.is_connect() || e.is_request(), "{}", chain(&e));
    assert!(sim.requests().is_empty(), "nothing reached the routes: {:#?}", sim.requests());
    // The port still serves a client that speaks TLS.
    let ok = trusting(&sim).get(format!("{}/__sim/stats", sim.base_url())).send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_client_without_its_authority_is_refused() {
    let sim = tls_sim(0).await;
    let url = format!("{}/__sim/stats", sim.base_url());
    // The public roots only (reqwest's default).
    let e = Client::new().get(&url).send().await.expect_err("an unknown authority");
    assert!(chain(&e).to_lowercase().contains("certificate"), "{}", chain(&e));
    // Another simulator's authority: each run makes its own.
    let other = tls_sim(0).await;
    let e = trusting(&other).get(&url).send().await.expect_err("another simulator's authority");
    assert!(chain(&e).to_lowercase().contains("certificate"), "{}", chain(&e));
    assert!(sim.requests().is_empty());
    // And with it, the same request goes through.
    assert_eq!(trusting(&sim).get(&url).send().await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn a_plain_simulator_has_no_authority() {
    let sim = auto_sim().await;
    assert!(sim.base_url().starts_with("http://127.0.0.1:"));
    assert!(sim.ca_pem().is_none() && sim.ca_file().is_none());
}

#[test]
fn the_binary_serves_https_and_writes_its_authority() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sim-ca.pem");
    let mut child = Command::new(env!("CARGO_BIN_EXE_smartthings-sim"))
        .args(["--port", "0", "--tls", "--tls-cert-out"])
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let lines: Vec<String> = BufReader::new(stdout).lines().take(10).map(|l| l.expect("line")).collect();
    let get = |k: &str| {
        lines
            .iter()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("no {k} in {lines:?}"))
    };
    let base = get("base_url");
    let pem = std::fs::read(&out).expect("--tls-cert-out is written before the URLs are printed");
    let printed = std::fs::read(get("ca_file")).expect("ca_file names a file");

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let status = rt.block_on(async {
        let http = Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&pem)?)
            .build()?;
        http.get(format!("{base}/__sim/stats")).send().await.map(|r| r.status().as_u16())
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(base.starts_with("https://127.0.0.1:"), "{base}");
    assert_eq!(get("api_url"), format!("{base}/v1"));
    assert_eq!(get("pat_url"), format!("{base}/__sim/pat"));
    assert_eq!(pem, printed);
    assert_eq!(status.ok(), Some(200));
}

#[test]
fn tls_cert_out_needs_tls() {
    let out = Command::new(env!("CARGO_BIN_EXE_smartthings-sim"))
        .args(["--port", "0", "--tls-cert-out", "/nonexistent/ca.pem"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tls"));
}
