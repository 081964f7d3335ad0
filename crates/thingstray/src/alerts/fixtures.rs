//! Devices for the alerts' tests, read from real SmartThings payloads (tests/fixtures,
//! from pysmartthings, Apache-2.0: see tests/fixtures/NOTICE.md) with the crate's own
//! parsers, and the one-attribute edits that turn a read into the next one.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use crate::api::{health_online, Device, DeviceStatus};

const DEVICES_4: &str = include_str!("../../tests/fixtures/devices_4.json");
const DEVICES_10: &str = include_str!("../../tests/fixtures/devices_10.json");
const DEVICES_13: &str = include_str!("../../tests/fixtures/devices_13.json");
const CONTACT_SENSOR: &str = include_str!("../../tests/fixtures/device_status/contact_sensor.json");
const MOTION_SENSOR: &str = include_str!("../../tests/fixtures/device_status/c2c_motion_2.json");
const LOCK: &str = include_str!("../../tests/fixtures/device_status/base_lock.json");
const WATER_SENSOR: &str = include_str!("../../tests/fixtures/device_status/virtual_water_sensor.json");
const ARLO_CAMERA: &str = include_str!("../../tests/fixtures/device_status/c2c_arlo_pro_3_switch.json");
/// The same Samsung washer model mid-wash (`run`, `wash`) and idle (`stop`, `none`).
const WASHER_RUNNING: &str = include_str!("../../tests/fixtures/device_status/da_wm_wm_000001_2.json");
const WASHER_STOPPED: &str = include_str!("../../tests/fixtures/device_status/da_wm_wm_000001.json");

/// Unix seconds of the tests' first read (2025-02-09, near the fixtures' own times).
pub const EPOCH: u64 = 1_739_120_000;

/// `secs` after the tests' first read.
pub fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(EPOCH + secs)
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).expect("a fixture is JSON")
}

/// A device as a real list page lists it, with a real status body.
fn listed(page: &str, id: &str, status: &str) -> Device {
    let page = json(page);
    let item = page["items"].as_array().unwrap().iter().find(|d| d["deviceId"] == id).expect("the device is listed");
    let mut device = Device::from_json(item).expect("a listed device parses");
    device.status = Some(DeviceStatus::from_status_body(&json(status)).expect("a status parses"));
    device
}

/// A device no list fixture has (a water sensor): its list item is made from the status
/// body itself, every component with the capabilities it reports.
fn unlisted(id: &str, label: &str, status: &str) -> Device {
    let status = json(status);
    let components: Vec<Value> = status["components"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(component, caps)| {
            let caps: Vec<Value> = caps.as_object().unwrap().keys().map(|c| json!({"id": c, "version": 1})).collect();
            json!({"id": component, "capabilities": caps})
        })
        .collect();
    let item = json!({"deviceId": id, "label": label, "components": components});
    let mut device = Device::from_json(&item).expect("the made item parses");
    device.status = DeviceStatus::from_status_body(&status);
    device
}

/// "Front Door Sensor", a multipurpose sensor, closed at 59 °F.
pub fn front_door() -> Device {
    listed(DEVICES_10, "c93373db-ffec-49ad-80b8-6880ecad5eb8", CONTACT_SENSOR)
}

/// "Garage Motion Sensor", inactive.
pub fn garage_motion() -> Device {
    listed(DEVICES_10, "59513635-baa2-463f-bb6a-443f662f3f2a", MOTION_SENSOR)
}

/// "Front Door Lock", locked.
pub fn front_lock() -> Device {
    listed(DEVICES_13, "42410e99-63cb-49d0-8f2f-d036f1b3ce66", LOCK)
}

/// "Basement", a water sensor reading dry.
pub fn basement_leak_sensor() -> Device {
    unlisted("0d94b1a6-4b7c-4c5e-9a43-5c0c0d1f5b27", "Basement", WATER_SENSOR)
}

/// An Arlo camera, whose status carries healthCheck as well as the list's health.
pub fn arlo_camera() -> Device {
    unlisted("8b2e3f0c-6f7d-4a3e-bf37-2f9d7a6c1e44", "Driveway Camera", ARLO_CAMERA)
}

/// "Washer" mid-wash.
pub fn washer_running() -> Device {
    listed(DEVICES_4, "f984b91d-f250-9d42-3436-33f09a422a47", WASHER_RUNNING)
}

/// The same washer, stopped.
pub fn washer_stopped() -> Device {
    listed(DEVICES_4, "f984b91d-f250-9d42-3436-33f09a422a47", WASHER_STOPPED)
}

/// The main component's entry for an attribute the fixture must have.
fn attribute<'a>(device: &'a mut Device, capability: &str, attribute: &str) -> &'a mut Map<String, Value> {
    let status = device.status.as_mut().expect("the device has a status");
    status
        .0
        .get_mut("main")
        .and_then(|c| c.get_mut(capability))
        .and_then(|c| c.get_mut(attribute))
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("the fixture has main/{capability}/{attribute}"))
}

/// The next read, where the device reported a new value for one attribute (with a new
/// timestamp, as SmartThings stamps every report).
pub fn with_value(device: &Device, capability: &str, attr: &str, value: &str) -> Device {
    with_json_value(device, capability, attr, Value::from(value))
}

pub fn with_json_value(device: &Device, capability: &str, attr: &str, value: Value) -> Device {
    let mut next = device.clone();
    let entry = attribute(&mut next, capability, attr);
    entry.insert("value".into(), value);
    entry.insert("timestamp".into(), json!("2025-02-10T08:00:00.000Z"));
    next
}

/// The next read, where the device re-reported the same value: only the timestamp moved.
pub fn with_timestamp(device: &Device, capability: &str, attr: &str, timestamp: &str) -> Device {
    let mut next = device.clone();
    attribute(&mut next, capability, attr).insert("timestamp".into(), json!(timestamp));
    next
}

/// The device as a list with `healthState.state` = `state` gives it.
pub fn with_health(device: &Device, state: &str) -> Device {
    Device { online: health_online(state), ..device.clone() }
}
