//! Every real payload in the pysmartthings fixtures loads as a home, and every status
//! fixture is served back byte-for-byte equal (as JSON) by `/devices/{id}/status`.
//!
//! The fixtures are the repository's copy in `crates/thingstray/tests/fixtures` (Apache-2.0,
//! see its NOTICE.md); `$SMARTTHINGS_FIXTURES` points elsewhere.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use crate::common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use smartthings_sim::SimConfig;

const STATUS_LOCATION: &str = "f1f1f1f1-0000-4000-8000-5747a7a7a7a7";

fn fixtures_dir() -> PathBuf {
    let candidates = [
        std::env::var_os("SMARTTHINGS_FIXTURES").map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../thingstray/tests/fixtures")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.join("device_status").is_dir())
        .expect("pysmartthings fixtures not found: set SMARTTHINGS_FIXTURES")
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[tokio::test]
async fn all_fixture_devices_and_statuses_load() {
    let src = fixtures_dir();
    let home = std::env::temp_dir().join(format!("st-sim-fixtures-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(home.join("devices")).unwrap();
    std::fs::create_dir_all(home.join("device_status")).unwrap();

    // device pages, as they are
    let mut expected: BTreeMap<String, String> = BTreeMap::new(); // deviceId -> locationId
    let mut pages: Vec<PathBuf> = std::fs::read_dir(&src)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_str().unwrap();
            n.starts_with("devices") && n.ends_with(".json")
        })
        .collect();
    pages.sort();
    assert!(pages.len() >= 20, "{pages:?}");
    for p in &pages {
        std::fs::copy(p, home.join("devices").join(p.file_name().unwrap())).unwrap();
        for d in read_json(p)["items"].as_array().unwrap() {
            expected
                .entry(d["deviceId"].as_str().unwrap().to_string())
                .or_insert_with(|| d["locationId"].as_str().unwrap().to_string());
        }
    }

    // each status fixture with a device made from its own components
    let mut statuses: HashMap<String, Value> = HashMap::new();
    let mut status_files: Vec<PathBuf> =
        std::fs::read_dir(src.join("device_status")).unwrap().flatten().map(|e| e.path()).collect();
    status_files.sort();
    assert!(status_files.len() >= 70);
    for (i, p) in status_files.iter().enumerate() {
        let status = read_json(p);
        let components: Vec<Value> = status["components"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(id, caps)| {
                let caps: Vec<Value> =
                    caps.as_object().unwrap().keys().map(|c| json!({"id": c, "version": 1})).collect();
                json!({"id": id, "label": id, "capabilities": caps, "categories": []})
            })
            .collect();
        let id = format!("5747a7a7-0000-4000-8000-{i:012}");
        let stem = format!("zz_status_{}", p.file_stem().unwrap().to_str().unwrap());
        let device = json!({"deviceId": id, "name": stem, "label": stem, "locationId": STATUS_LOCATION, "components": components});
        std::fs::write(home.join("devices").join(format!("{stem}.json")), device.to_string()).unwrap();
        std::fs::copy(p, home.join("device_status").join(format!("{stem}.json"))).unwrap();
        expected.insert(id.clone(), STATUS_LOCATION.to_string());
        statuses.insert(id, status);
    }

    let sim = start(SimConfig { auto_approve: true, home_dir: Some(home.clone()), ..SimConfig::default() }).await;
    let http = http();
    let locations: BTreeSet<&String> = expected.values().collect();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for loc in locations {
        let token = access(&login_at(&sim, &http, Some(loc)).await);
        let mut next = Some(format!("{}/devices?max=50&includeStatus=true&includeHealth=true", sim.api_url()));
        while let Some(url) = next {
            let (status, page) = api_get(&sim, &http, &token, &url).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            for d in page["items"].as_array().unwrap() {
                assert_eq!(d["locationId"].as_str(), Some(loc.as_str()));
                assert_eq!(d["healthState"]["state"], "ONLINE");
                *seen.entry(d["deviceId"].as_str().unwrap().to_string()).or_default() += 1;
            }
            next = page["_links"]["next"]["href"].as_str().map(str::to_string);
        }
        if loc == STATUS_LOCATION {
            for (id, status) in &statuses {
                let (code, body) = api_get(&sim, &http, &token, &format!("/devices/{id}/status")).await;
                assert_eq!(code, StatusCode::OK);
                assert_eq!(&body, status, "status of {id} differs from its fixture");
            }
        }
    }
    assert_eq!(seen.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>());
    assert!(seen.values().all(|&n| n == 1), "each device exactly once");
    sim.shutdown().await;
    let _ = std::fs::remove_dir_all(&home);
}

#[tokio::test]
async fn a_missing_home_directory_is_an_error() {
    let r = smartthings_sim::Sim::start(SimConfig {
        home_dir: Some(PathBuf::from("/nonexistent/smartthings-sim-home")),
        ..SimConfig::default()
    })
    .await;
    assert!(r.is_err());
}
