//! The simulated home: locations, rooms, scenes and devices with their live status.
//!
//! Devices keep the exact JSON objects SmartThings returned (from the fixtures), so the
//! client parses real payloads; only `status` and health change while the simulator runs.

use serde_json::{json, Map, Value};

use crate::clock::iso8601;

/// A location: its full JSON object (`locationId`, `name`, and whatever else was given).
#[derive(Debug, Clone)]
pub(crate) struct Location {
    pub id: String,
    pub name: String,
    pub json: Map<String, Value>,
}

impl Location {
    /// The `GET /locations/{id}` body: SmartThings' full shape, missing fields defaulted.
    pub(crate) fn full(&self) -> Value {
        let mut out = json!({
            "locationId": self.id,
            "name": self.name,
            "countryCode": "USA",
            "latitude": 45.00708112,
            "longitude": -93.11223629,
            "regionRadius": 150,
            "temperatureScale": "F",
            "timeZoneId": null,
            "locale": "en",
            "backgroundImage": null,
        });
        if let Some(o) = out.as_object_mut() {
            for (k, v) in &self.json {
                o.insert(k.clone(), v.clone());
            }
        }
        out
    }

    /// The `GET /locations` item: only `locationId` and `name`, as the real list shows.
    pub(crate) fn summary(&self) -> Value {
        json!({ "locationId": self.id, "name": self.name })
    }
}

/// A room, kept as its JSON object (`roomId`, `locationId`, `name`, `backgroundImage`).
#[derive(Debug, Clone)]
pub(crate) struct Room {
    pub id: String,
    pub location_id: String,
    pub json: Map<String, Value>,
}

/// A scene and how often it was executed through the API.
#[derive(Debug, Clone)]
pub(crate) struct Scene {
    pub id: String,
    pub location_id: String,
    pub json: Map<String, Value>,
    pub executions: u64,
}

/// A device: its object as `GET /devices` returns it, plus live status and health.
#[derive(Debug, Clone)]
pub(crate) struct Device {
    pub id: String,
    pub location_id: String,
    pub json: Map<String, Value>,
    /// `components` of the status body: `{component: {capability: {attribute: {value,..}}}}`.
    pub status: Map<String, Value>,
    pub online: bool,
    pub health_updated_ms: u64,
}

impl Device {
    /// `(component id, capability ids)` as the device object declares them.
    pub(crate) fn components(&self) -> Vec<(String, Vec<String>)> {
        let Some(comps) = self.json.get("components").and_then(Value::as_array) else {
            return Vec::new();
        };
        comps
            .iter()
            .filter_map(|c| {
                let id = c.get("id")?.as_str()?.to_string();
                let caps = c
                    .get("capabilities")
                    .and_then(Value::as_array)
                    .map(|caps| caps.iter().filter_map(|cap| Some(cap.get("id")?.as_str()?.to_string())).collect())
                    .unwrap_or_default();
                Some((id, caps))
            })
            .collect()
    }

    /// Whether any component declares `capability` (how SmartThings' `capability` filter works).
    pub(crate) fn has_capability(&self, capability: &str) -> bool {
        self.components().iter().any(|(_, caps)| caps.iter().any(|c| c == capability))
    }

    /// The health object: `{"state","lastUpdatedDate"}`.
    pub(crate) fn health_state(&self) -> Value {
        json!({
            "state": if self.online { "ONLINE" } else { "OFFLINE" },
            "lastUpdatedDate": iso8601(self.health_updated_ms),
        })
    }

    /// The status body: `{"components": {...}}`.
    pub(crate) fn status_body(&self) -> Value {
        json!({ "components": self.status })
    }

    /// The device object, optionally with each component's status inline and health.
    pub(crate) fn listing(&self, include_status: bool, include_health: bool) -> Value {
        let mut obj = self.json.clone();
        if include_status {
            if let Some(Value::Array(comps)) = obj.get_mut("components") {
                for comp in comps.iter_mut() {
                    let Some(c) = comp.as_object_mut() else { continue };
                    let id = c.get("id").and_then(Value::as_str).unwrap_or("").to_string();
                    let st = self.status.get(&id).cloned().unwrap_or_else(|| json!({}));
                    c.insert("status".into(), st);
                }
            }
        }
        if include_health {
            obj.insert("healthState".into(), self.health_state());
        }
        Value::Object(obj)
    }

    /// The current value of one attribute, `None` when the attribute is unknown.
    pub(crate) fn attribute(&self, component: &str, capability: &str, attribute: &str) -> Option<Value> {
        self.status.get(component)?.get(capability)?.get(attribute)?.get("value").cloned()
    }

    /// Sets an attribute's value and timestamp, keeping its other fields (`data`, ...).
    pub(crate) fn set_attribute(
        &mut self,
        component: &str,
        capability: &str,
        attribute: &str,
        value: Value,
        unit: Option<&str>,
        now_ms: u64,
    ) {
        let comp = object_entry(&mut self.status, component);
        let cap = object_entry(comp, capability);
        let attr = object_entry(cap, attribute);
        attr.insert("value".into(), value);
        if let Some(u) = unit {
            attr.insert("unit".into(), Value::String(u.into()));
        }
        attr.insert("timestamp".into(), Value::String(iso8601(now_ms)));
    }
}

/// `map[key]` as an object, replacing anything that is not one.
fn object_entry<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let slot = map.entry(key.to_string()).or_insert_with(|| json!({}));
    if !slot.is_object() {
        *slot = json!({});
    }
    match slot {
        Value::Object(o) => o,
        _ => unreachable!("slot was just made an object"),
    }
}

/// Everything the simulated SmartThings account owns.
#[derive(Debug, Default, Clone)]
pub(crate) struct Home {
    pub locations: Vec<Location>,
    pub rooms: Vec<Room>,
    pub scenes: Vec<Scene>,
    pub devices: Vec<Device>,
    /// Each location's current mode, as an index into `api_modes::MODES`; a location not
    /// here is in the first one (Home).
    pub current_modes: std::collections::HashMap<String, usize>,
}

impl Home {
    pub(crate) fn location(&self, id: &str) -> Option<&Location> {
        self.locations.iter().find(|l| l.id == id)
    }

    pub(crate) fn device(&self, id: &str) -> Option<&Device> {
        self.devices.iter().find(|d| d.id == id)
    }

    pub(crate) fn device_mut(&mut self, id: &str) -> Option<&mut Device> {
        self.devices.iter_mut().find(|d| d.id == id)
    }

    pub(crate) fn scene_mut(&mut self, id: &str) -> Option<&mut Scene> {
        self.scenes.iter_mut().find(|s| s.id == id)
    }
}
