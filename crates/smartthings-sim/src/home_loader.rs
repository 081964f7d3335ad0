//! Reads a home from a directory or from the copy embedded at compile time.
//!
//! Layout: `devices/*.json` (a device object or a page `{"items":[..]}`),
//! `device_status/<same stem>.json`, and optional `locations.json`, `rooms.json`,
//! `scenes.json`, `health.json`. Whatever is missing is synthesized so any pile of
//! real payloads becomes a working home; malformed files are skipped with a warning
//! naming them, never a panic.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde_json::{json, Map, Value};

use crate::clock::iso8601;
use crate::home::{Device, Home, Location, Room, Scene};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/default_home.rs"));
}

/// Relative path (`devices/x.json`) -> file content.
pub(crate) type HomeFiles = BTreeMap<String, String>;

/// The default home, built from `crates/smartthings-sim/home` when the crate was compiled.
pub(crate) fn embedded_files() -> HomeFiles {
    embedded::DEFAULT_HOME_FILES.iter().map(|(p, c)| ((*p).to_string(), (*c).to_string())).collect()
}

/// Reads the JSON files of a home directory. A missing directory is an error; unreadable
/// files become warnings.
pub(crate) fn read_dir(dir: &Path, warnings: &mut Vec<String>) -> std::io::Result<HomeFiles> {
    if !dir.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("home directory {} does not exist", dir.display()),
        ));
    }
    let mut files = HomeFiles::new();
    let mut read_one = |rel: String, path: &Path| match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(s) => {
                files.insert(rel, s);
            }
            Err(_) => warnings.push(format!("{}: not UTF-8, skipped", path.display())),
        },
        Err(e) => warnings.push(format!("{}: unreadable ({e}), skipped", path.display())),
    };
    for top in ["locations.json", "rooms.json", "scenes.json", "health.json"] {
        let p = dir.join(top);
        if p.is_file() {
            read_one(top.to_string(), &p);
        }
    }
    for sub in ["devices", "device_status"] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else { continue };
            if name.ends_with(".json") && path.is_file() {
                read_one(format!("{sub}/{name}"), &path);
            }
        }
    }
    Ok(files)
}

/// Builds a home from its files; problems are appended to `warnings`.
pub(crate) fn build(files: &HomeFiles, now_ms: u64, warnings: &mut Vec<String>) -> Home {
    let mut home = Home::default();
    let mut parse = |name: &str| -> Option<Value> {
        let text = files.get(name)?;
        match serde_json::from_str::<Value>(text) {
            Ok(v) => Some(v),
            Err(e) => {
                warnings.push(format!("{name}: invalid JSON ({e}), skipped"));
                None
            }
        }
    };

    let locations = parse("locations.json");
    let rooms = parse("rooms.json");
    let scenes = parse("scenes.json");
    let health = parse("health.json");
    let mut device_files = Vec::new();
    let mut status_files = BTreeMap::new();
    for name in files.keys() {
        if let Some(stem) = name.strip_prefix("devices/").and_then(|n| n.strip_suffix(".json")) {
            if let Some(v) = parse(name) {
                device_files.push((name.clone(), stem.to_string(), v));
            }
        } else if let Some(stem) = name.strip_prefix("device_status/").and_then(|n| n.strip_suffix(".json")) {
            if let Some(v) = parse(name) {
                status_files.insert(stem.to_string(), (name.clone(), v));
            }
        }
    }

    for (i, item) in items_of(locations, "locations.json", warnings).into_iter().enumerate() {
        match (str_field(&item, "locationId"), str_field(&item, "name")) {
            (Some(id), Some(name)) if home.location(&id).is_none() => {
                home.locations.push(Location { id, name, json: item })
            }
            _ => warnings.push(format!("locations.json: item {i} lacks locationId/name or repeats one, skipped")),
        }
    }
    for (i, item) in items_of(rooms, "rooms.json", warnings).into_iter().enumerate() {
        match (str_field(&item, "roomId"), str_field(&item, "locationId")) {
            (Some(id), Some(location_id)) => home.rooms.push(Room { id, location_id, json: item }),
            _ => warnings.push(format!("rooms.json: item {i} lacks roomId/locationId, skipped")),
        }
    }
    for (i, item) in items_of(scenes, "scenes.json", warnings).into_iter().enumerate() {
        match (str_field(&item, "sceneId"), str_field(&item, "locationId")) {
            (Some(id), Some(location_id)) => home.scenes.push(Scene { id, location_id, json: item, executions: 0 }),
            _ => warnings.push(format!("scenes.json: item {i} lacks sceneId/locationId, skipped")),
        }
    }

    let mut seen = HashSet::new();
    for (file, stem, value) in device_files {
        let status_value =
            status_files.get(&stem).and_then(|(sname, v)| match v.get("components").and_then(Value::as_object) {
                Some(c) => Some(c.clone()),
                None => {
                    warnings.push(format!("{sname}: no \"components\" object, status synthesized"));
                    None
                }
            });
        let items: Vec<Value> = match &value {
            Value::Object(o) if o.get("items").is_some() => match o.get("items") {
                Some(Value::Array(a)) => a.clone(),
                _ => {
                    warnings.push(format!("{file}: \"items\" is not an array, skipped"));
                    continue;
                }
            },
            Value::Object(_) => vec![value.clone()],
            _ => {
                warnings.push(format!("{file}: neither a device nor a page of devices, skipped"));
                continue;
            }
        };
        for (i, item) in items.into_iter().enumerate() {
            let Value::Object(obj) = item else {
                warnings.push(format!("{file}: item {i} is not an object, skipped"));
                continue;
            };
            let (Some(id), Some(location_id)) = (str_field(&obj, "deviceId"), str_field(&obj, "locationId")) else {
                warnings.push(format!("{file}: item {i} lacks deviceId/locationId, skipped"));
                continue;
            };
            if !seen.insert(id.clone()) {
                warnings.push(format!("{file}: device {id} already loaded, duplicate skipped"));
                continue;
            }
            let mut device = Device {
                id,
                location_id,
                json: obj,
                status: status_value.clone().unwrap_or_default(),
                online: true,
                health_updated_ms: now_ms,
            };
            fill_status(&mut device, now_ms);
            home.devices.push(device);
        }
    }

    if let Some(h) = health {
        match h {
            Value::Object(map) => {
                for (id, state) in map {
                    let online = match state.as_str() {
                        Some("ONLINE") => true,
                        Some("OFFLINE") => false,
                        _ => {
                            warnings.push(format!("health.json: {id}: state must be \"ONLINE\" or \"OFFLINE\""));
                            continue;
                        }
                    };
                    match home.device_mut(&id) {
                        Some(d) => d.online = online,
                        None => warnings.push(format!("health.json: unknown device {id}")),
                    }
                }
            }
            _ => warnings.push("health.json: not an object, ignored".into()),
        }
    }

    synthesize_places(&mut home);
    home
}

/// The `items` of a `{"items":[..]}` page (or a bare array) as objects.
fn items_of(value: Option<Value>, name: &str, warnings: &mut Vec<String>) -> Vec<Map<String, Value>> {
    let items = match value {
        None => return Vec::new(),
        Some(Value::Array(a)) => a,
        Some(Value::Object(mut o)) => match o.remove("items") {
            Some(Value::Array(a)) => a,
            _ => {
                warnings.push(format!("{name}: no \"items\" array, ignored"));
                return Vec::new();
            }
        },
        Some(_) => {
            warnings.push(format!("{name}: not a page of items, ignored"));
            return Vec::new();
        }
    };
    items
        .into_iter()
        .enumerate()
        .filter_map(|(i, v)| match v {
            Value::Object(o) => Some(o),
            _ => {
                warnings.push(format!("{name}: item {i} is not an object, skipped"));
                None
            }
        })
        .collect()
}

fn str_field(obj: &Map<String, Value>, key: &str) -> Option<String> {
    obj.get(key).and_then(Value::as_str).map(str::to_string)
}

/// Locations and rooms that devices point at but no file names get made up, so every
/// device is reachable by some authorization.
fn synthesize_places(home: &mut Home) {
    let mut n_loc = 0;
    let mut n_room = 0;
    let refs: Vec<(String, Option<String>)> =
        home.devices.iter().map(|d| (d.location_id.clone(), str_field(&d.json, "roomId"))).collect();
    for (loc, room) in refs {
        if home.location(&loc).is_none() {
            n_loc += 1;
            let name = if n_loc == 1 { "Home".to_string() } else { format!("Home {n_loc}") };
            let json = json!({"locationId": loc, "name": name});
            home.locations.push(Location { id: loc.clone(), name, json: as_map(json) });
        }
        if let Some(room) = room {
            if !home.rooms.iter().any(|r| r.id == room) {
                n_room += 1;
                let json = json!({"roomId": room, "locationId": loc, "name": format!("Room {n_room}"), "backgroundImage": null});
                home.rooms.push(Room { id: room, location_id: loc, json: as_map(json) });
            }
        }
    }
    if home.locations.is_empty() {
        let json = json!({"locationId": "397678e5-9995-4a39-9d9f-ae6ba310236b", "name": "Home"});
        home.locations.push(Location {
            id: "397678e5-9995-4a39-9d9f-ae6ba310236b".into(),
            name: "Home".into(),
            json: as_map(json),
        });
    }
}

fn as_map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(o) => o,
        _ => Map::new(),
    }
}

/// Adds a plausible status for every declared component/capability the status lacks.
fn fill_status(device: &mut Device, now_ms: u64) {
    let ts = Value::String(iso8601(now_ms));
    for (comp, caps) in device.components() {
        let entry = device.status.entry(comp).or_insert_with(|| json!({}));
        let Some(entry) = entry.as_object_mut() else { continue };
        for cap in caps {
            if entry.contains_key(&cap) {
                continue;
            }
            entry.insert(cap.clone(), default_capability_status(&cap, &ts));
        }
    }
}

/// A fresh device's attributes for the capabilities the simulator understands.
fn default_capability_status(cap: &str, ts: &Value) -> Value {
    let a = |v: Value| json!({"value": v, "timestamp": ts});
    let u = |v: Value, unit: &str| json!({"value": v, "unit": unit, "timestamp": ts});
    match cap {
        "switch" => json!({"switch": a(json!("off"))}),
        "switchLevel" => json!({"level": u(json!(50), "%"), "levelRange": {"value": null}}),
        "colorTemperature" => {
            json!({"colorTemperature": u(json!(2700), "K"), "colorTemperatureRange": {"value": null}})
        }
        "colorControl" => json!({"hue": a(json!(0)), "saturation": a(json!(0)), "color": {"value": null}}),
        "lock" => json!({"lock": a(json!("locked"))}),
        "windowShade" => json!({"windowShade": a(json!("closed")), "supportedWindowShadeCommands": {"value": null}}),
        "windowShadeLevel" => json!({"shadeLevel": u(json!(0), "%")}),
        "contactSensor" => json!({"contact": a(json!("closed"))}),
        "motionSensor" => json!({"motion": a(json!("inactive"))}),
        "presenceSensor" => json!({"presence": a(json!("present"))}),
        "waterSensor" => json!({"water": a(json!("dry"))}),
        "temperatureMeasurement" => json!({"temperature": u(json!(20), "C"), "temperatureRange": {"value": null}}),
        "relativeHumidityMeasurement" => json!({"humidity": u(json!(45), "%")}),
        "illuminanceMeasurement" => json!({"illuminance": u(json!(300), "lux")}),
        "battery" => json!({"battery": u(json!(100), "%"), "type": {"value": null}, "quantity": {"value": null}}),
        "powerMeter" => json!({"power": u(json!(0), "W")}),
        "energyMeter" => json!({"energy": u(json!(0), "kWh")}),
        "thermostatMode" => json!({"thermostatMode": a(json!("off")), "supportedThermostatModes": {"value": null}}),
        "thermostatHeatingSetpoint" => {
            json!({"heatingSetpoint": u(json!(20), "C"), "heatingSetpointRange": {"value": null}})
        }
        "thermostatCoolingSetpoint" => {
            json!({"coolingSetpoint": u(json!(24), "C"), "coolingSetpointRange": {"value": null}})
        }
        "healthCheck" => json!({"DeviceWatch-DeviceStatus": a(json!("online")), "healthStatus": {"value": null}}),
        _ => json!({}),
    }
}

/// Drops the first location's devices after its first `n` (the other locations keep theirs).
pub(crate) fn keep_first_devices(home: &mut Home, n: usize) {
    let Some(loc) = home.locations.first().map(|l| l.id.clone()) else { return };
    let mut kept = 0;
    home.devices.retain(|d| {
        if d.location_id != loc {
            return true;
        }
        kept += 1;
        kept <= n
    });
}

/// Adds `n` simple switches and dimmers to the first location, with stable ids so
/// benchmarks and pagination tests can name them across runs.
pub(crate) fn add_extra_devices(home: &mut Home, n: usize, now_ms: u64) {
    let Some(loc) = home.locations.first().map(|l| l.id.clone()) else { return };
    let created = iso8601(now_ms);
    for i in 1..=n {
        let dimmer = i % 2 == 0;
        let kind = if dimmer { "Dimmer" } else { "Switch" };
        let mut caps = vec![json!({"id": "switch", "version": 1})];
        if dimmer {
            caps.push(json!({"id": "switchLevel", "version": 1}));
        }
        caps.push(json!({"id": "refresh", "version": 1}));
        let obj = json!({
            "deviceId": format!("e0000000-0000-4000-8000-{i:012x}"),
            "name": format!("Extra {kind}"),
            "label": format!("Extra {kind} {i}"),
            "manufacturerName": "SmartThingsCommunity",
            "presentationId": if dimmer { "SmartThings-smartthings-Dimmer" } else { "SmartThings-smartthings-Switch" },
            "locationId": loc,
            "ownerId": "3c19270b-fca6-5cde-82bc-86a37e52cfa8",
            "components": [{
                "id": "main",
                "label": "main",
                "capabilities": caps,
                "categories": [{"name": if dimmer { "Light" } else { "Switch" }, "categoryType": "manufacturer"}]
            }],
            "createTime": created,
            "profile": {"id": "b1c6b7f2-1a47-4a43-a2c6-2e3c8b9d2f01"},
            "type": "VIRTUAL",
            "restrictionTier": 0,
            "allowed": [],
            "executionContext": "CLOUD"
        });
        let mut device = Device {
            id: format!("e0000000-0000-4000-8000-{i:012x}"),
            location_id: loc.clone(),
            json: as_map(obj),
            status: Map::new(),
            online: true,
            health_updated_ms: now_ms,
        };
        fill_status(&mut device, now_ms);
        home.devices.push(device);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_home_loads_without_warnings() {
        let mut w = Vec::new();
        let home = build(&embedded_files(), 0, &mut w);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(home.locations.len(), 2);
        assert!(home.devices.len() >= 25);
        assert_eq!(home.devices.iter().filter(|d| !d.online).count(), 1);
        assert_eq!(home.scenes.len(), 4);
        // every device's room exists and belongs to the device's location
        for d in &home.devices {
            if let Some(r) = d.json.get("roomId").and_then(Value::as_str) {
                let room = home.rooms.iter().find(|x| x.id == r).expect("room");
                assert_eq!(room.location_id, d.location_id, "{}", d.id);
                assert!(!room.json["name"].as_str().unwrap_or("").starts_with("Room "));
            }
        }
    }

    #[test]
    fn malformed_files_are_skipped_with_warnings() {
        let mut files = HomeFiles::new();
        files.insert("devices/bad.json".into(), "{not json".into());
        files.insert("devices/num.json".into(), "42".into());
        files.insert("devices/noid.json".into(), r#"{"label":"x"}"#.into());
        files.insert(
            "devices/ok.json".into(),
            r#"{"deviceId":"d1","locationId":"l1","roomId":"r1","components":[{"id":"main","capabilities":[{"id":"switch"},{"id":"switchLevel"}]}]}"#.into(),
        );
        files.insert("device_status/ok.json".into(), r#"{"nope":1}"#.into());
        files.insert("health.json".into(), r#"{"d1":"SLEEPY","zz":"OFFLINE"}"#.into());
        files.insert("rooms.json".into(), r#"[1,{"roomId":"x"}]"#.into());
        let mut w = Vec::new();
        let home = build(&files, 0, &mut w);
        assert_eq!(home.devices.len(), 1);
        for name in ["bad.json", "num.json", "noid.json", "device_status/ok.json", "health.json", "rooms.json"] {
            assert!(w.iter().any(|x| x.contains(name)), "no warning for {name}: {w:?}");
        }
        let d = &home.devices[0];
        assert_eq!(d.attribute("main", "switch", "switch"), Some(json!("off")));
        assert_eq!(d.attribute("main", "switchLevel", "level"), Some(json!(50)));
        assert_eq!(home.locations[0].name, "Home");
        assert_eq!(home.rooms[0].json["name"], "Room 1");
    }

    #[test]
    fn a_home_of_an_exact_size() {
        let mut w = Vec::new();
        let mut home = build(&embedded_files(), 0, &mut w);
        let loc = home.locations[0].id.clone();
        let others = home.devices.iter().filter(|d| d.location_id != loc).count();
        keep_first_devices(&mut home, 10);
        assert_eq!(home.devices.iter().filter(|d| d.location_id == loc).count(), 10);
        assert_eq!(home.devices.iter().filter(|d| d.location_id != loc).count(), others);
    }

    #[test]
    fn extra_devices_have_stable_ids() {
        let mut w = Vec::new();
        let mut home = build(&embedded_files(), 0, &mut w);
        let before = home.devices.len();
        add_extra_devices(&mut home, 3, 0);
        assert_eq!(home.devices.len(), before + 3);
        assert_eq!(home.devices[before + 1].id, "e0000000-0000-4000-8000-000000000002");
        assert!(home.devices[before + 1].has_capability("switchLevel"));
    }
}
