//! What devices show (issue 12): the real status fixtures read through the catalogue, and
//! the time to build the tray menu and the device window's rows for 1000 devices.
//!
//! "Shown right" is checked against the raw payload, not against the catalogue: the
//! readings the issue lists are walked in the JSON by hand, and each must come out of
//! `Device::readings` with the value and unit SmartThings sent (no unit assumed).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Value};
use thingstray::api::{Device, DeviceStatus, Room};
use thingstray::desktop::device_rows::{group_by_room, rows};
use thingstray::desktop::menu::build;
use thingstray::desktop::{ConnectionPrefs, ConnectionView, DesktopSettings};
use thingstray::session::Status;

use crate::report::Section;

/// The readings the issue names, as `(capability, attribute)` on the main component.
const ISSUE_READINGS: &[(&str, &str)] = &[
    ("temperatureMeasurement", "temperature"),
    ("relativeHumidityMeasurement", "humidity"),
    ("battery", "battery"),
    ("contactSensor", "contact"),
    ("motionSensor", "motion"),
    ("presenceSensor", "presence"),
    ("waterSensor", "water"),
    ("smokeDetector", "smoke"),
    ("carbonDioxideMeasurement", "carbonDioxide"),
    ("illuminanceMeasurement", "illuminance"),
    ("airQualitySensor", "airQuality"),
    ("powerMeter", "power"),
    ("energyMeter", "energy"),
    ("lock", "lock"),
    ("doorControl", "door"),
    ("garageDoorControl", "door"),
    ("windowShade", "windowShade"),
    ("thermostatMode", "thermostatMode"),
    ("thermostatHeatingSetpoint", "heatingSetpoint"),
    ("thermostatCoolingSetpoint", "coolingSetpoint"),
    ("thermostatOperatingState", "thermostatOperatingState"),
    ("airConditionerMode", "airConditionerMode"),
    ("fanSpeed", "fanSpeed"),
    ("washerOperatingState", "machineState"),
    ("dryerOperatingState", "machineState"),
    ("ovenOperatingState", "machineState"),
    ("mediaPlayback", "playbackStatus"),
    ("audioVolume", "volume"),
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn json_files(dir: &Path) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .map(|e| {
            let stem = e.path().file_stem().unwrap().to_string_lossy().into_owned();
            (stem, serde_json::from_str(&std::fs::read_to_string(e.path()).unwrap()).unwrap())
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn median_p99(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    (at(0.5), at(0.99))
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// 1000 devices cycled from the simulator's default home (real objects and statuses),
/// each with its own id and label, spread over its rooms.
fn thousand() -> (Vec<Device>, Vec<Room>) {
    let home = root().join("smartthings-sim/home");
    let statuses: std::collections::HashMap<String, Value> =
        json_files(&home.join("device_status")).into_iter().collect();
    let objects = json_files(&home.join("devices"));
    let mut devices = Vec::with_capacity(1000);
    for i in 0..1000 {
        let (stem, obj) = &objects[i % objects.len()];
        let mut obj = obj.clone();
        obj["deviceId"] = json!(format!("bench-{i:04}"));
        obj["label"] = json!(format!("{} {i}", obj["label"].as_str().unwrap_or("Device")));
        let mut d = Device::from_json(&obj).expect("a device object");
        d.status = statuses.get(stem).and_then(DeviceStatus::from_status_body);
        d.online = Some(i % 50 != 7);
        devices.push(d);
    }
    let rooms = json_files(&home).into_iter().find(|(stem, _)| stem == "rooms").map(|(_, v)| v).unwrap_or_default();
    let rooms = rooms["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| {
            Some(Room {
                id: r["roomId"].as_str()?.into(),
                location_id: r["locationId"].as_str().map(String::from),
                name: r["name"].as_str()?.into(),
            })
        })
        .collect();
    (devices, rooms)
}

pub fn run(rounds: usize) -> Section {
    let mut s = Section::new("What devices show");
    s.intro(
        "The real status payloads from pysmartthings (crates/thingstray/tests/fixtures/device_status) read through the \
         one catalogue (crates/thingstray/src/api/readings.rs). A reading is shown right when `Device::readings` gives \
         the value and the unit exactly as the payload has them; the readings checked are the ones the issue names, \
         found in the JSON by hand. Then the time to build what the tray and the window show for 1000 devices (the \
         simulator's 47 default-home devices cycled): the window's rows grouped by room and serialized as the IPC \
         answer, and the tray menu (rooms as submenus past the flat limit, favourites first).",
    );
    let now = SystemTime::now();
    let (mut with_line, mut total, mut right, mut expected) = (0, 0, 0, 0);
    let mut wrong = Vec::new();
    for (stem, body) in json_files(&root().join("thingstray/tests/fixtures/device_status")) {
        total += 1;
        let mut d = Device::from_json(&json!({"deviceId": stem})).unwrap();
        d.status = DeviceStatus::from_status_body(&body);
        if d.state_line(now).is_some() {
            with_line += 1;
        }
        let shown = d.readings();
        for (capability, attribute) in ISSUE_READINGS {
            let Some(attr) = body.pointer(&format!("/components/main/{capability}/{attribute}")) else { continue };
            let value = &attr["value"];
            if !(value.is_string() || value.is_number()) {
                continue;
            }
            expected += 1;
            let unit = attr.get("unit").and_then(Value::as_str);
            let ok = shown.iter().any(|r| {
                r.capability == *capability
                    && r.attribute == *attribute
                    && &r.value == value
                    && r.unit.as_deref() == unit
            });
            if ok {
                right += 1;
            } else {
                wrong.push(format!("{stem}: {capability}.{attribute}"));
            }
        }
    }
    s.check(
        "Fixture devices that show a state line",
        format!("{with_line} of {total}"),
        "at least 80 %",
        with_line * 10 >= total * 8,
    );
    s.check(
        "Readings the issue names, shown with the payload's value and unit",
        format!(
            "{right} of {expected}{}",
            if wrong.is_empty() { String::new() } else { format!(" (wrong: {})", wrong.join(", ")) }
        ),
        "all",
        right == expected && expected > 0,
    );

    let (devices, rooms) = thousand();
    let prefs = ConnectionPrefs {
        favorites: (0..1000).step_by(97).map(|i| format!("bench-{i:04}")).collect(),
        ..Default::default()
    };
    let flat_limit = DesktopSettings::default().flat_menu_limit;
    let status = Status::Connected { expires_at: u64::MAX / 2, next_refresh_at: u64::MAX / 2, warning: None };
    let (mut window, mut tray, mut bytes, mut entries) = (Vec::new(), Vec::new(), 0, 0);
    for _ in 0..rounds {
        let t = Instant::now();
        let r = rows(&devices, &rooms, &prefs);
        let groups = group_by_room(&r);
        let json = serde_json::to_vec(&groups).unwrap();
        window.push(t.elapsed());
        bytes = json.len();
        let view = ConnectionView {
            name: "home".into(),
            location_name: Some("Home".into()),
            status: status.clone(),
            devices: Some(r),
            scenes: Vec::new(),
            devices_error: None,
            busy: Default::default(),
            owner: None,
            modes: None,
        };
        let t = Instant::now();
        let model = build(std::slice::from_ref(&view), now, flat_limit);
        tray.push(t.elapsed());
        entries = model.entries.len();
    }
    let (wm, wp) = median_p99(window);
    let (tm, tp) = median_p99(tray);
    s.measure(
        "The window's rows for 1000 devices (rows, rooms, JSON)",
        format!("median {}, p99 {} ({} KiB of JSON)", ms(wm), ms(wp), bytes / 1024),
        "p99 < 50 ms",
        wp < Duration::from_millis(50),
    );
    s.measure(
        "The tray menu for 1000 devices",
        format!("median {}, p99 {} ({entries} top-level entries)", ms(tm), ms(tp)),
        "p99 < 50 ms",
        tp < Duration::from_millis(50),
    );
    s.note(format!("{rounds} rounds each, release build (scripts/report builds the proof with --release)."));
    s
}
