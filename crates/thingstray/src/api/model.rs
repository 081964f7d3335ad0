//! SmartThings objects as ThingsTray uses them, read leniently from real payloads: a
//! device without a label, a null value, an unknown capability or a missing attribute is
//! normal; one odd device never hides the others.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Device {
    pub id: String,
    /// What the user named it, else the device's own name, else its id.
    pub label: String,
    pub name: Option<String>,
    pub location_id: Option<String>,
    pub room_id: Option<String>,
    pub components: Vec<Component>,
    /// Present when the list was fetched with `includeStatus=true` or after a read-back.
    pub status: Option<DeviceStatus>,
    pub online: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Component {
    pub id: String,
    pub capabilities: Vec<String>,
}

/// `{component: {capability: {attribute: {value, unit?, timestamp?}}}}`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeviceStatus(pub Map<String, Value>);

impl DeviceStatus {
    /// From a `GET /devices/{id}/status` body.
    pub fn from_status_body(v: &Value) -> Option<DeviceStatus> {
        Some(DeviceStatus(v.get("components")?.as_object()?.clone()))
    }

    pub fn value(&self, component: &str, capability: &str, attribute: &str) -> Option<&Value> {
        self.0.get(component)?.get(capability)?.get(attribute)?.get("value").filter(|v| !v.is_null())
    }

    pub fn switch(&self) -> Option<bool> {
        match self.value("main", "switch", "switch")?.as_str()? {
            "on" => Some(true),
            "off" => Some(false),
            _ => None,
        }
    }

    /// `Some(true)` only when SmartThings says "locked"; unknown or jammed is `None`.
    pub fn locked(&self) -> Option<bool> {
        match self.value("main", "lock", "lock")?.as_str()? {
            "locked" => Some(true),
            "unlocked" | "unlocked with timeout" => Some(false),
            _ => None,
        }
    }

    pub fn level(&self) -> Option<u8> {
        let v = self.value("main", "switchLevel", "level")?.as_f64()?;
        Some(v.clamp(0.0, 100.0).round() as u8)
    }

    pub fn color_temperature(&self) -> Option<u32> {
        let v = self.value("main", "colorTemperature", "colorTemperature")?.as_f64()?;
        (v.is_finite() && v >= 0.0).then(|| v.min(100_000.0) as u32)
    }
}

impl Device {
    /// Reads one item of a device list. `None` only when it has no id: everything else
    /// has a sensible default.
    pub fn from_json(v: &Value) -> Option<Device> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(String::from);
        let id = s("deviceId")?;
        let name = s("name");
        let label = s("label").or_else(|| name.clone()).unwrap_or_else(|| id.clone());
        let mut status = Map::new();
        let components = v
            .get("components")
            .and_then(Value::as_array)
            .map(|cs| {
                cs.iter()
                    .filter_map(|c| {
                        let cid = c.get("id")?.as_str()?.to_string();
                        // includeStatus: a component-level `status`, or per capability.
                        if let Some(st) = c.get("status").and_then(Value::as_object) {
                            status.insert(cid.clone(), Value::Object(st.clone()));
                        }
                        let capabilities = c
                            .get("capabilities")
                            .and_then(Value::as_array)
                            .map(|caps| {
                                caps.iter()
                                    .filter_map(|cap| {
                                        let capid = cap.get("id")?.as_str()?.to_string();
                                        if let Some(st) = cap.get("status").and_then(Value::as_object) {
                                            let comp =
                                                status.entry(cid.clone()).or_insert_with(|| Value::Object(Map::new()));
                                            if let Some(m) = comp.as_object_mut() {
                                                m.insert(capid.clone(), Value::Object(st.clone()));
                                            }
                                        }
                                        Some(capid)
                                    })
                                    .collect()
                            })
                            .unwrap_or_default();
                        Some(Component { id: cid, capabilities })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let online = v.get("healthState").and_then(|h| h.get("state")).and_then(Value::as_str).and_then(health_online);
        Some(Device {
            id,
            label,
            name,
            location_id: s("locationId"),
            room_id: s("roomId"),
            components,
            status: (!status.is_empty()).then_some(DeviceStatus(status)),
            online,
        })
    }

    pub fn has_capability(&self, capability: &str) -> bool {
        self.components.iter().any(|c| c.id == "main" && c.capabilities.iter().any(|x| x == capability))
    }
}

pub fn health_online(state: &str) -> Option<bool> {
    match state {
        "ONLINE" => Some(true),
        "OFFLINE" => Some(false),
        _ => None,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Location {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Room {
    pub id: String,
    pub location_id: Option<String>,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scene {
    pub id: String,
    pub name: String,
    pub location_id: Option<String>,
}

/// A location mode (`GET /locations/{id}/modes`): Home, Away, Night, or the user's own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mode {
    pub id: String,
    /// SmartThings' name for it (`Night`); the label, else the id, when missing.
    pub name: String,
    /// What the user calls it (may differ from the name); the name when missing.
    pub label: String,
}

impl Mode {
    /// Reads a mode object; `None` only without an `id`. Blank fields count as missing.
    pub fn from_json(v: &Value) -> Option<Mode> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(String::from);
        let id = s("id")?;
        let name = s("name").or_else(|| s("label")).unwrap_or_else(|| id.clone());
        let label = s("label").unwrap_or_else(|| name.clone());
        Some(Mode { id, name, label })
    }
}

fn str_field(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(String::from)
}

impl Location {
    pub fn from_json(v: &Value) -> Option<Location> {
        let id = str_field(v, "locationId")?;
        Some(Location { name: str_field(v, "name").unwrap_or_else(|| id.clone()), id })
    }
}

impl Room {
    pub fn from_json(v: &Value) -> Option<Room> {
        let id = str_field(v, "roomId")?;
        Some(Room {
            name: str_field(v, "name").unwrap_or_else(|| "Room".into()),
            location_id: str_field(v, "locationId"),
            id,
        })
    }
}

impl Scene {
    pub fn from_json(v: &Value) -> Option<Scene> {
        let id = str_field(v, "sceneId")?;
        Some(Scene {
            name: str_field(v, "sceneName").unwrap_or_else(|| id.clone()),
            location_id: str_field(v, "locationId"),
            id,
        })
    }
}

/// One command of `POST /devices/{id}/commands`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Command {
    pub component: String,
    pub capability: String,
    pub command: String,
    #[serde(default)]
    pub arguments: Vec<Value>,
}

impl Command {
    pub fn new(capability: &str, command: &str, arguments: Vec<Value>) -> Command {
        Command { component: "main".into(), capability: capability.into(), command: command.into(), arguments }
    }

    pub fn switch(on: bool) -> Command {
        Command::new("switch", if on { "on" } else { "off" }, vec![])
    }

    pub fn set_level(level: u8) -> Command {
        Command::new("switchLevel", "setLevel", vec![Value::from(level.min(100))])
    }

    pub fn set_color_temperature(kelvin: u32) -> Command {
        Command::new("colorTemperature", "setColorTemperature", vec![Value::from(kelvin)])
    }
}

#[cfg(test)]
mod mode_tests {
    use super::Mode;
    use serde_json::json;

    #[test]
    fn modes_are_read_leniently() {
        let m = Mode::from_json(&json!({"id": "a", "label": "Night", "name": "Night"})).unwrap();
        assert_eq!((m.id.as_str(), m.name.as_str(), m.label.as_str()), ("a", "Night", "Night"));
        let m = Mode::from_json(&json!({"id": "a", "name": "Mode 4"})).unwrap();
        assert_eq!(m.label, "Mode 4");
        let m = Mode::from_json(&json!({"id": "a", "label": "Mode Four", "name": ""})).unwrap();
        assert_eq!((m.name.as_str(), m.label.as_str()), ("Mode Four", "Mode Four"));
        let m = Mode::from_json(&json!({"id": "a", "label": null})).unwrap();
        assert_eq!((m.name.as_str(), m.label.as_str()), ("a", "a"));
        assert_eq!(Mode::from_json(&json!({"label": "Home"})), None);
        assert_eq!(Mode::from_json(&json!("Home")), None);
    }
}
