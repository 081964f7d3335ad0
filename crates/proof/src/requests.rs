//! How many requests SmartThings sees: a full device refresh of N devices (the app's
//! way: `includeStatus`, pages of 200) next to the per-device way (list, then one status
//! request per device), and one toggle (the command, then one read-back).

use std::time::Duration;

use serde_json::Value;
use smartthings_sim::{SimConfig, Stats};
use thingstray::api::Command;
use thingstray::session::SessionOptions;

use crate::report::Section;
use crate::world::World;

fn api_requests(before: &Stats, after: &Stats) -> (u64, u64, u64) {
    let get = |s: &Stats, k: &str| s.routes.get(k).copied().unwrap_or(0);
    let lists = get(after, "GET /v1/devices") - get(before, "GET /v1/devices");
    let total: u64 = after.routes.iter().filter(|(k, _)| k.contains(" /v1/")).map(|(_, v)| v).sum::<u64>()
        - before.routes.iter().filter(|(k, _)| k.contains(" /v1/")).map(|(_, v)| v).sum::<u64>();
    let posts = get(after, "POST /v1/devices/{id}/commands") - get(before, "POST /v1/devices/{id}/commands");
    (lists, total, posts)
}

/// The per-device approach, for comparison: list without statuses, then one status each.
async fn per_device(w: &World, token: &str) -> usize {
    let http = reqwest::Client::new();
    let mut url = format!("{}/devices?max=200", w.sim.api_url());
    let mut ids = Vec::new();
    loop {
        let page: Value = http.get(&url).bearer_auth(token).send().await.unwrap().json().await.unwrap();
        ids.extend(page["items"].as_array().unwrap().iter().filter_map(|d| d["deviceId"].as_str().map(str::to_string)));
        match page.pointer("/_links/next/href").and_then(Value::as_str) {
            Some(next) => url = next.to_string(),
            None => break,
        }
    }
    for id in &ids {
        http.get(format!("{}/devices/{id}/status", w.sim.api_url())).bearer_auth(token).send().await.unwrap();
    }
    ids.len()
}

pub async fn run() -> Section {
    let mut s = Section::new("Requests SmartThings sees");
    s.intro(
        "Counted by the simulator. A full refresh is what the tray and `thingstray devices` do: `GET /v1/devices?\
         includeStatus=true&includeHealth=true&max=200`, following `_links.next`. The per-device approach is the one \
         most integrations use: list the devices, then `GET /v1/devices/{id}/status` for each.",
    );
    for n in [10usize, 200, 1000] {
        // The default home's first location, cut or grown to exactly N devices.
        let w =
            World::start(SimConfig { extra_devices: n, first_location_devices: Some(n), ..SimConfig::default() }).await;
        let conn = w.shared().connection(SessionOptions::default(), Duration::from_secs(10)).await.unwrap();
        let before = w.sim.stats();
        let devices = conn.api.devices().await.unwrap();
        let after = w.sim.stats();
        let (lists, total, _) = api_requests(&before, &after);
        let want = devices.len().div_ceil(200) as u64;
        let token = conn.session.token_valid_for(Duration::from_secs(60)).await.unwrap();
        let before = w.sim.stats();
        let listed = per_device(&w, token.secret()).await;
        let (_, per, _) = api_requests(&before, &w.sim.stats());
        s.check(
            &format!("Full refresh, N = {n} devices"),
            format!(
                "{total} {} ({lists} device-list {}, {} devices read); per-device approach: {per} requests (listed {listed})",
                if total == 1 { "request" } else { "requests" },
                if lists == 1 { "page" } else { "pages" },
                devices.len()
            ),
            &format!("ceil(N/200) = {want}"),
            devices.len() == n && total == want && lists == want,
        );
        if n == 10 {
            let d = devices.iter().find(|d| d.has_capability("switch") && d.status.is_some()).expect("a switch");
            let on = d.status.as_ref().and_then(|s| s.switch()).unwrap_or(false);
            let before = w.sim.stats();
            let status = conn.api.command(&d.id, &[Command::switch(!on)]).await.unwrap();
            let (_, total, posts) = api_requests(&before, &w.sim.stats());
            s.check(
                "One toggle",
                format!(
                    "{posts} POST + {} read-back; switch now {}",
                    total - posts,
                    if status.switch() == Some(!on) { "flipped" } else { "NOT flipped" }
                ),
                "1 POST + at most 1 read-back",
                posts == 1 && total - posts <= 1 && status.switch() == Some(!on),
            );
        }
    }
    s
}
