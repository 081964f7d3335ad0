//! Every real SmartThings payload in tests/fixtures (from pysmartthings, Apache-2.0, see
//! tests/fixtures/NOTICE.md) parses, and no input, however odd, makes a parser panic.

use std::path::Path;
use std::time::SystemTime;

use proptest::prelude::*;
use serde_json::Value;
use thingstray::api::{Device, DeviceStatus, Kind};
use thingstray::oauth::{parse_token_answer, Callback};

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_device_page_parses_every_device() {
    let mut pages = 0;
    let mut devices = 0;
    for entry in std::fs::read_dir(fixtures()).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if !(name.starts_with("devices") && name.ends_with(".json")) {
            continue;
        }
        let page = json(&entry.path());
        let items = page["items"].as_array().unwrap_or_else(|| panic!("{name} has items"));
        for item in items {
            let d = Device::from_json(item).unwrap_or_else(|| panic!("{name}: a device parses"));
            assert!(!d.label.is_empty() && !d.id.is_empty(), "{name}");
            devices += 1;
        }
        pages += 1;
    }
    assert!(pages >= 20 && devices >= 180, "{pages} pages, {devices} devices");
}

#[test]
fn every_status_parses_and_reads_switch_and_level_where_present() {
    let mut n = 0;
    for entry in std::fs::read_dir(fixtures().join("device_status")).unwrap().flatten() {
        let v = json(&entry.path());
        let status = DeviceStatus::from_status_body(&v).unwrap_or_else(|| panic!("{:?}", entry.path()));
        if v.pointer("/components/main/switch/switch/value").and_then(Value::as_str).is_some() {
            assert!(status.switch().is_some(), "{:?}", entry.path());
        }
        let _ = (status.level(), status.color_temperature());
        n += 1;
    }
    assert!(n >= 79, "{n} statuses");
    let level = json(&fixtures().join("device_status/switch_level.json"));
    assert_eq!(DeviceStatus::from_status_body(&level).unwrap().level(), Some(100));
}

/// Issue 12: the real devices say what they are doing. Every status fixture gives its
/// readings without a panic, and the devices people look at read right.
#[test]
fn real_devices_say_what_they_are_doing() {
    let mut lines = std::collections::BTreeMap::new();
    let mut total = 0;
    let mut names = Vec::new();
    for entry in std::fs::read_dir(fixtures().join("device_status")).unwrap().flatten() {
        let v = json(&entry.path());
        let mut d = Device::from_json(&serde_json::json!({"deviceId": "d"})).unwrap();
        d.status = DeviceStatus::from_status_body(&v);
        let _ = d.readings();
        let name = entry.path().file_stem().unwrap().to_string_lossy().into_owned();
        if let Some(line) = d.state_line(SystemTime::now()) {
            lines.insert(name.clone(), line);
        }
        names.push(name);
        total += 1;
    }
    for (file, want) in [
        ("contact_sensor", "Closed · 59 °F · Battery 100 %"),
        ("base_lock", "Locked · Battery 68 %"),
        ("car_garage_door", "Closed · 46.4 °F · Battery 100 %"),
        ("da_wm_wm_000001_2", "Running · On"),
        ("da_ks_range_0101x", "Ready · 175 °F"),
        ("ecobee_thermostat", "Mode heat · 71 °F · 32 %"),
        ("c2c_humidity", "26 °C · 26 % · Battery 100 %"),
        ("aeotec_home_energy_meter_gen5", "2859.7 W · 19978.5 kWh"),
        ("sonos_player", "Playing · Volume 15 %"),
        ("virtual_water_sensor", "Dry · Battery 100 %"),
    ] {
        assert_eq!(lines.get(file).map(String::as_str), Some(want), "{file}; all: {lines:#?}");
    }
    // The figure for the report and the closing note (`--nocapture` shows it).
    println!("{} of {total} fixture devices show a state line", lines.len());
    println!("without: {:?}", names.iter().filter(|n| !lines.contains_key(*n)).collect::<Vec<_>>());
    assert!(lines.len() * 10 >= total * 8, "{} of {total} fixture devices show a state line: {lines:#?}", lines.len());
}

#[test]
fn the_other_payloads_parse() {
    let t = parse_token_answer(
        std::fs::read_to_string(fixtures().join("token_response.json")).unwrap().as_bytes(),
        SystemTime::now(),
    )
    .unwrap();
    assert_eq!(t.scope, "r:devices:*");
    for (file, id_field) in [("locations.json", "locationId"), ("rooms.json", "roomId"), ("scenes.json", "sceneId")] {
        let v = json(&fixtures().join(file));
        for item in v["items"].as_array().unwrap() {
            let ok = match file {
                "locations.json" => thingstray::api::Location::from_json(item).is_some(),
                "rooms.json" => thingstray::api::Room::from_json(item).is_some(),
                _ => thingstray::api::Scene::from_json(item).is_some(),
            };
            assert!(ok, "{file}: {}", item[id_field]);
        }
    }
    // Command bodies as SmartThings documents them deserialize as our Command.
    for entry in std::fs::read_dir(fixtures()).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with("device_command_post_") {
            let v = json(&entry.path());
            let cmds: Vec<thingstray::api::Command> =
                serde_json::from_value(v["commands"].clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!cmds.is_empty() && cmds.len() <= thingstray::api::MAX_COMMANDS, "{name}");
        }
    }
}

/// Any JSON value, a few levels deep.
fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)),
        any::<i64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        prop_oneof![Just("deviceId"), Just("main"), Just("switch"), Just("on"), Just("value")].prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("deviceId".to_string()),
                    Just("label".to_string()),
                    Just("name".to_string()),
                    Just("components".to_string()),
                    Just("capabilities".to_string()),
                    Just("status".to_string()),
                    Just("id".to_string()),
                    Just("main".to_string()),
                    Just("switch".to_string()),
                    Just("switchLevel".to_string()),
                    Just("level".to_string()),
                    Just("value".to_string()),
                    Just("healthState".to_string()),
                    Just("state".to_string()),
                    ".{0,8}".prop_map(String::from),
                ],
                inner,
                0..6,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Real device JSON with one value replaced somewhere.
fn mutated_fixture_device() -> impl Strategy<Value = Value> {
    let page = json(&fixtures().join("devices_8.json"));
    let items: Vec<Value> = page["items"].as_array().unwrap().clone();
    (0..items.len(), arb_json(), any::<prop::sample::Index>()).prop_map(move |(i, replacement, at)| {
        let mut d = items[i].clone();
        let mut paths = Vec::new();
        collect_paths(&d, String::new(), &mut paths);
        if !paths.is_empty() {
            if let Some(slot) = d.pointer_mut(&paths[at.index(paths.len())]) {
                *slot = replacement;
            }
        }
        d
    })
}

/// A real status payload (device_status/) with one value replaced by random JSON.
fn mutated_fixture_status() -> impl Strategy<Value = Value> {
    let mut files: Vec<_> =
        std::fs::read_dir(fixtures().join("device_status")).unwrap().flatten().map(|e| e.path()).collect();
    files.sort();
    let statuses: Vec<Value> = files.iter().map(|p| json(p)).collect();
    (0..statuses.len(), arb_json(), any::<prop::sample::Index>()).prop_map(move |(i, replacement, at)| {
        let mut s = statuses[i].clone();
        let mut paths = Vec::new();
        collect_paths(&s, String::new(), &mut paths);
        if let Some(slot) = s.pointer_mut(&paths[at.index(paths.len())]) {
            *slot = replacement;
        }
        s
    })
}

fn collect_paths(v: &Value, here: String, out: &mut Vec<String>) {
    out.push(here.clone());
    match v {
        Value::Object(m) => m
            .iter()
            .for_each(|(k, v)| collect_paths(v, format!("{here}/{}", k.replace('~', "~0").replace('/', "~1")), out)),
        Value::Array(a) => a.iter().enumerate().for_each(|(i, v)| collect_paths(v, format!("{here}/{i}"), out)),
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn callback_parsing_never_panics(s in ".{0,300}") {
        let _ = Callback::parse(&s);
    }

    #[test]
    fn callback_urls_round_trip(code in "[A-Za-z0-9_-]{1,64}", state in "[A-Za-z0-9_-]{1,64}", scheme in prop_oneof![Just("https://thingstray.invalid/callback"), Just("thingstray://oauth/callback"), Just("http://127.0.0.1:8080/cb")]) {
        let url = format!("{scheme}?code={code}&state={state}");
        prop_assert_eq!(Callback::parse(&url).unwrap(), Callback::Code { code, state: Some(state) });
    }

    #[test]
    fn token_bodies_never_panic(v in arb_json(), raw in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_token_answer(v.to_string().as_bytes(), SystemTime::now());
        let _ = parse_token_answer(&raw, SystemTime::now());
    }

    #[test]
    fn token_bodies_with_odd_fields_still_parse(extra in prop::collection::btree_map("[a-z_]{1,12}", arb_json(), 0..4), expires in 0u64..10_000_000, bearer in prop_oneof![Just("bearer"), Just("Bearer"), Just("BEARER")]) {
        let mut body = serde_json::json!({"access_token": "a", "refresh_token": "r", "token_type": bearer, "expires_in": expires});
        for (k, v) in extra {
            if !["access_token", "refresh_token", "token_type", "expires_in", "scope", "installed_app_id"].contains(&k.as_str()) {
                body[k] = v;
            }
        }
        prop_assert!(parse_token_answer(body.to_string().as_bytes(), SystemTime::now()).is_ok());
    }

    /// Issue 12: a malformed value never panics and never hides the rest of the device.
    #[test]
    fn state_lines_of_mutated_real_statuses_never_panic(v in mutated_fixture_status()) {
        let mut d = Device::from_json(&serde_json::json!({"deviceId": "d"})).unwrap();
        d.status = DeviceStatus::from_status_body(&v);
        let readings = d.readings();
        let line = d.state_line(SystemTime::now());
        prop_assert!(line.is_none() || !readings.is_empty());
    }

    /// Issue 12: the controls of a mutated real status never panic, keep sane limits (a
    /// slider's min below its max, a choice list non-empty), and a lock whose value the
    /// mutation made odd carries no value rather than a wrong one.
    #[test]
    fn controls_of_mutated_real_statuses_never_panic_and_stay_sane(v in mutated_fixture_status()) {
        if let Some(status) = DeviceStatus::from_status_body(&v) {
            for c in status.controls() {
                prop_assert!(!c.commands.is_empty());
                if let (Some(min), Some(max)) = (c.min, c.max) {
                    prop_assert!(min < max && min.is_finite() && max.is_finite(), "{c:?}");
                    let below = serde_json::json!(min - 1.0);
                    let _ = c.check("d", c.commands[0].command, &[below], true);
                }
                if c.kind == Kind::Select {
                    prop_assert!(!c.choices.is_empty());
                }
                if c.capability == "lock" {
                    prop_assert!(c.value.is_none() || ["locked", "unlocked", "unlocked with timeout"].contains(&c.value.as_ref().unwrap().as_str().unwrap_or("?")));
                }
                for a in &c.commands {
                    let _ = c.check("d", a.command, std::slice::from_ref(&v), false);
                }
            }
        }
    }

    #[test]
    fn device_json_never_panics(v in arb_json()) {
        if let Some(d) = Device::from_json(&v) {
            let _ = d.status.as_ref().map(|s| (s.switch(), s.level(), s.color_temperature()));
        }
        let _ = DeviceStatus::from_status_body(&v).map(|s| (s.switch(), s.level(), s.color_temperature()));
    }

    #[test]
    fn real_devices_with_a_value_replaced_never_panic(d in mutated_fixture_device()) {
        if let Some(d) = Device::from_json(&d) {
            prop_assert!(!d.label.is_empty());
            let _ = d.controls();
            // What it is doing, from whatever the mutation left: never a panic.
            let _ = (d.readings(), d.state_line(SystemTime::now()));
        }
    }
}
