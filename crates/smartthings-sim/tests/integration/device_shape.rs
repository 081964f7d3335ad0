//! Every device the simulator serves has the shape SmartThings' device schema gives a
//! `Device` (issue 27, item 3): a client that requires a field SmartThings always sends
//! must not fail on the simulator's home. Checked on each file in `home/devices` and on
//! what `GET /devices` answers (the extra generated devices included).

use std::path::Path;

use serde_json::Value;
use smartthings_sim::SimConfig;

use crate::common::*;

/// The problems with one device, empty when it has SmartThings' shape: `deviceId`,
/// `name`, `locationId` and `type` strings; optional `label`, `roomId`, `presentationId`,
/// `manufacturerName` strings; `components` non-empty, each with a string `id`, an
/// optional string `label`, `capabilities` (non-empty, each `{id: string, version:
/// integer}`) and `categories` (an array, each `{name: string, categoryType: manufacturer
/// | user}`).
fn shape_problems(d: &Value) -> Vec<String> {
    let mut bad = Vec::new();
    let is_str = |v: &Value, k: &str| v.get(k).is_some_and(Value::is_string);
    for k in ["deviceId", "name", "locationId", "type"] {
        if !is_str(d, k) {
            bad.push(format!("{k} is not a string"));
        }
    }
    for k in ["label", "roomId", "presentationId", "manufacturerName", "ownerId"] {
        if d.get(k).is_some_and(|v| !v.is_string()) {
            bad.push(format!("{k} is not a string"));
        }
    }
    let known_types = [
        "BLE",
        "BLE_D2D",
        "DTH",
        "ENDPOINT_APP",
        "HUB",
        "IR",
        "IR_OCF",
        "LAN",
        "MATTER",
        "MOBILE",
        "MQTT",
        "OCF",
        "PENGYOU",
        "VIDEO",
        "VIPER",
        "VIRTUAL",
        "WATCH",
        "ZIGBEE",
        "ZWAVE",
    ];
    if let Some(t) = d.get("type").and_then(Value::as_str) {
        if !known_types.contains(&t) {
            bad.push(format!("type {t} is not one of SmartThings' device types"));
        }
    }
    let comps = d.get("components").and_then(Value::as_array);
    if comps.is_none_or(|c| c.is_empty()) {
        bad.push("components is not a non-empty array".into());
    }
    for c in comps.into_iter().flatten() {
        let id = c.get("id").and_then(Value::as_str).unwrap_or("?").to_string();
        if !is_str(c, "id") {
            bad.push("a component without an id".into());
        }
        if c.get("label").is_some_and(|v| !v.is_string()) {
            bad.push(format!("component {id}: label is not a string"));
        }
        match c.get("capabilities").and_then(Value::as_array) {
            Some(caps) if !caps.is_empty() => {
                for cap in caps {
                    if !is_str(cap, "id") || !cap.get("version").is_some_and(Value::is_u64) {
                        bad.push(format!("component {id}: capability {cap} is not {{id, version}}"));
                    }
                }
            }
            _ => bad.push(format!("component {id}: capabilities is not a non-empty array")),
        }
        match c.get("categories").and_then(Value::as_array) {
            Some(cats) => {
                for cat in cats {
                    let ty = cat.get("categoryType").and_then(Value::as_str);
                    if !is_str(cat, "name") || !matches!(ty, Some("manufacturer" | "user")) {
                        bad.push(format!("component {id}: category {cat} is not {{name, categoryType}}"));
                    }
                }
            }
            None => bad.push(format!("component {id}: no categories")),
        }
    }
    bad
}

#[test]
fn every_device_file_has_smartthings_device_shape() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("home/devices");
    let mut checked = 0;
    let mut problems = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "json") {
            let v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            for problem in shape_problems(&v) {
                problems.push(format!("{}: {problem}", p.file_name().unwrap().to_string_lossy()));
            }
            checked += 1;
        }
    }
    assert!(checked >= 40, "only {checked} device files");
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_shape_check_catches_a_missing_category() {
    let mut v: Value = serde_json::from_str(include_str!("../../home/devices/family_xmas_tree.json")).unwrap();
    assert!(shape_problems(&v).is_empty());
    v["components"][0].as_object_mut().unwrap().remove("categories");
    assert_eq!(shape_problems(&v), vec!["component main: no categories".to_string()]);
}

#[tokio::test]
async fn every_served_device_has_smartthings_device_shape() {
    let sim = start(SimConfig { auto_approve: true, extra_devices: 3, ..SimConfig::default() }).await;
    let token = sim.mint_pat(&["r:devices:*", "r:locations:*"], std::time::Duration::from_secs(3600));
    let v: Value = http()
        .get(format!("{}/devices?max=200", sim.api_url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = v["items"].as_array().unwrap();
    assert!(items.len() > 40);
    for d in items {
        assert!(shape_problems(d).is_empty(), "{}: {:?}", d["deviceId"], shape_problems(d));
    }
}
