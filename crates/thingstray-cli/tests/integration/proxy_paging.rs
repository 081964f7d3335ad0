//! The API proxy's paging (issue 27): `_links` in an answer through the proxy lead back
//! through the proxy, for a client that follows them as given and for one that resolves
//! them as SmartThings' JavaScript SDK does, over http and over TLS as SmartThings answers;
//! and the server secret never goes upstream.

use crate::common::Home;
use crate::serve::{start, Server};

/// Follows `_links.next.href` as given from `first`, checking each link leads back to the
/// proxy: the device ids in order, and how many pages it took.
async fn follow_links(client: &reqwest::Client, s: &Server, first: &str) -> (Vec<String>, usize) {
    let local = format!("http://127.0.0.1:{}/api/", s.port);
    let mut ids = Vec::new();
    let mut url = first.to_string();
    let mut requests = 0;
    loop {
        let r = client.get(&url).bearer_auth(&s.secret).send().await.unwrap();
        assert_eq!(r.status(), 200, "{url}");
        let v: serde_json::Value = r.json().await.unwrap();
        ids.extend(v["items"].as_array().unwrap().iter().map(|d| d["deviceId"].as_str().unwrap().to_string()));
        requests += 1;
        match v["_links"]["next"]["href"].as_str() {
            Some(next) => {
                assert!(next.starts_with(&local), "the link leads back to the proxy: {next}");
                url = next.to_string();
            }
            None => break,
        }
        assert!(requests < 20, "runaway paging");
    }
    (ids, requests)
}

/// Not one request the simulator saw carried the server secret, in a header or the path.
fn assert_secret_never_upstream(h: &Home, secret: &str) {
    let leaked: Vec<_> = h
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.authorization.iter().any(|a| a.contains(secret)) || r.target.contains(secret))
        .collect();
    assert!(leaked.is_empty(), "the server secret reached SmartThings: {leaked:#?}");
}

/// SmartThings' JavaScript SDK's `EndpointClient.url` (smartthings-core-sdk,
/// src/endpoint-client.ts): `/x` is appended to the base URL, only `https://` is taken as
/// absolute, anything else is joined onto `<base>/<endpoint path>/`.
fn js_sdk_url(base_url: &str, base_path: &str, path: Option<&str>) -> String {
    match path {
        Some(p) if p.starts_with('/') => format!("{base_url}{p}"),
        Some(p) if p.starts_with("https://") => p.to_string(),
        Some(p) => format!("{base_url}/{base_path}/{p}"),
        None => format!("{base_url}/{base_path}"),
    }
}

/// Issue 27, item 1: 1000 devices paged through the proxy by a client that follows
/// `_links.next.href` as given and by one that resolves it as the official JavaScript
/// SDK does. Every page comes from the proxy, and SmartThings (the simulator) never sees
/// the server secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_1000_devices_stays_on_the_proxy() {
    let h = Home::with(smartthings_sim::SimConfig {
        auto_approve: true,
        extra_devices: 1000,
        first_location_devices: Some(1000),
        ..smartthings_sim::SimConfig::default()
    })
    .await;
    h.signed_in().await;
    let s = start(&h, None).await;
    let client = reqwest::Client::new();
    let local = format!("http://127.0.0.1:{}/api/", s.port);
    let log_start = h.sim.requests().len();
    let pages = |v: &serde_json::Value| {
        v["items"].as_array().unwrap().iter().map(|d| d["deviceId"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };

    // As given: the link is an absolute URL, used verbatim.
    let (ids, requests) = follow_links(&client, &s, &format!("{local}v1/devices?max=200")).await;
    assert_eq!(requests, 5);
    assert_eq!(ids.len(), 1000);
    assert_eq!(ids.iter().collect::<std::collections::BTreeSet<_>>().len(), 1000, "no page twice");

    // As the JavaScript SDK does, with the proxy as its base URL.
    let base_url = format!("http://127.0.0.1:{}/api", s.port);
    let mut sdk_ids = Vec::new();
    let mut next: Option<String> = None;
    let mut sdk_requests = 0;
    loop {
        let url = js_sdk_url(&base_url, "devices", next.as_deref());
        let r = client.get(&url).bearer_auth(&s.secret).send().await.unwrap();
        assert_eq!(r.status(), 200, "{url}");
        let v: serde_json::Value = r.json().await.unwrap();
        sdk_ids.extend(pages(&v));
        sdk_requests += 1;
        next = v["_links"]["next"]["href"].as_str().map(str::to_string);
        if next.is_none() {
            break;
        }
        assert!(sdk_requests < 20, "runaway paging");
    }
    assert_eq!(sdk_requests, 5);
    assert_eq!(sdk_ids, ids, "the same devices in the same order");

    // The simulator's request log: ten list requests, each with ThingsTray's access token,
    // and not one request carrying the server secret anywhere.
    let seen = h.sim.requests().split_off(log_start);
    let lists: Vec<_> =
        seen.iter().filter(|r| r.target.starts_with("/v1/devices") || r.target.starts_with("/devices")).collect();
    assert_eq!(lists.len(), 10, "{lists:#?}");
    for r in &lists {
        assert_eq!(r.authorization.len(), 1);
        assert!(r.authorization[0].starts_with("Bearer "));
    }
    assert_secret_never_upstream(&h, &s.secret);

    // A join naming another address is refused before anything is sent.
    let before = h.sim.requests().len();
    let sim_host = h.sim.base_url().trim_start_matches("http://").to_string();
    for bad in [
        format!("{base_url}/devices/http://{sim_host}/v1/devices"),
        format!("{base_url}/devices/https://api.smartthings.com/devices"),
        format!("{base_url}/%2F%2F{sim_host}/v1/devices"),
    ] {
        let r = client.get(&bad).bearer_auth(&s.secret).send().await.unwrap();
        assert_eq!(r.status(), 400, "{bad}");
    }
    assert_eq!(h.sim.requests().len(), before, "nothing reached SmartThings");
}

/// Issue 27, item 2: the same over TLS, as SmartThings answers: the simulator's links are
/// `https://127.0.0.1:PORT/…`, `thingstray` trusts its authority through
/// `THINGSTRAY_CA_FILE` (set on the child processes only), and the proxy still keeps every
/// link on itself and never sends the server secret upstream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_over_https_stays_on_the_proxy() {
    let h = Home::with(smartthings_sim::SimConfig {
        auto_approve: true,
        extra_devices: 260,
        first_location_devices: Some(260),
        tls: true,
        ..smartthings_sim::SimConfig::default()
    })
    .await;
    assert!(h.sim.api_url().starts_with("https://127.0.0.1:"));
    h.signed_in().await;
    let s = start(&h, None).await;
    let client = reqwest::Client::new();
    let local = format!("http://127.0.0.1:{}/api/", s.port);
    let log_start = h.sim.requests().len();

    let (ids, requests) = follow_links(&client, &s, &format!("{local}v1/devices?max=100")).await;
    assert_eq!(ids.iter().collect::<std::collections::BTreeSet<_>>().len(), ids.len(), "no device twice");
    assert_eq!(requests, 3);
    assert_eq!(ids.len(), 260);

    let seen = h.sim.requests().split_off(log_start);
    let lists = seen.iter().filter(|r| r.target.starts_with("/v1/devices") || r.target.starts_with("/devices")).count();
    assert_eq!(lists, 3, "{seen:#?}");
    assert_secret_never_upstream(&h, &s.secret);
}
