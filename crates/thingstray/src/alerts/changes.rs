//! What changed between two reads of the device list: one [`Change`] per attribute whose
//! value differs, plus a device going offline or coming back. `thingstray watch` prints
//! these as they are; the alerter picks the ones worth telling.
//!
//! Only values count. SmartThings re-stamps an attribute whenever a device reports it,
//! even with the same value (a sensor's hourly check-in), so a new `timestamp` alone is
//! not news. A device that appears or disappears between reads is not a change either: a
//! device added, removed or missing from one page says nothing about its state.

use std::collections::{BTreeMap, HashMap};
use std::time::SystemTime;

use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use crate::api::Device;
use crate::clock::unix_ms;

/// The capability a device's online state is reported under, in statuses and in changes.
pub const HEALTH_CAPABILITY: &str = "healthCheck";
/// Its attribute; SmartThings' values are "online" and "offline".
pub const HEALTH_ATTRIBUTE: &str = "DeviceWatch-DeviceStatus";

/// One attribute of one device that changed between two reads.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub device_id: String,
    pub device_label: String,
    pub component: String,
    pub capability: String,
    pub attribute: String,
    /// `None` when the earlier read had no value (`null`).
    pub old: Option<Value>,
    /// `None` when the later read has no value (`null`).
    pub new: Option<Value>,
    /// As the later read gave it (else the earlier one); `None` when neither did.
    pub unit: Option<String>,
    /// When the later read was made (unix seconds in JSON, as the crate's other times).
    #[serde(serialize_with = "unix_secs")]
    pub at: SystemTime,
}

fn unix_secs<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(unix_ms(*t) / 1000)
}

/// Where a change is, for sorting: component, capability, attribute.
type Place = (String, String, String);
/// What a change says there: old value, new value, unit.
type Values = (Option<Value>, Option<Value>, Option<String>);

/// Every value that differs between two reads of the device list, for devices in both
/// (matched by id). Order: the devices as `after` lists them, then component, capability
/// and attribute, sorted, so `watch` prints the same lines for the same reads.
pub fn changes(before: &[Device], after: &[Device], at: SystemTime) -> Vec<Change> {
    let earlier: HashMap<&str, &Device> = before.iter().map(|d| (d.id.as_str(), d)).collect();
    after
        .iter()
        .filter_map(|now| Some((*earlier.get(now.id.as_str())?, now)))
        .flat_map(|(was, now)| device_changes(was, now, at))
        .collect()
}

/// One device's changes, sorted by place.
fn device_changes(was: &Device, now: &Device, at: SystemTime) -> Vec<Change> {
    let mut found: BTreeMap<Place, Values> = BTreeMap::new();
    // A read without a status (the list fetched without it, or a status that failed)
    // knows nothing of the values: comparing it would "change" every attribute.
    if let (Some(was_status), Some(now_status)) = (&was.status, &now.status) {
        for (place, old, new) in attribute_pairs(&was_status.0, &now_status.0) {
            let (old_value, new_value) = (value(old), value(new));
            if !same(old_value, new_value) {
                let unit = unit(new).or_else(|| unit(old));
                found.insert(place, (old_value.cloned(), new_value.cloned(), unit));
            }
        }
    }
    // The list's health state. A status that carries healthCheck already said it (same
    // words); unknown health on either side is not a change.
    if let (Some(old), Some(new)) = (was.online, now.online) {
        if old != new {
            let place = ("main".to_string(), HEALTH_CAPABILITY.to_string(), HEALTH_ATTRIBUTE.to_string());
            found.entry(place).or_insert_with(|| (Some(health_word(old)), Some(health_word(new)), None));
        }
    }
    found
        .into_iter()
        .map(|((component, capability, attribute), (old, new, unit))| Change {
            device_id: now.id.clone(),
            device_label: now.label.clone(),
            component,
            capability,
            attribute,
            old,
            new,
            unit,
            at,
        })
        .collect()
}

/// Each attribute present in both statuses (`{component: {capability: {attribute:
/// {value, unit?, timestamp?}}}}`), with its two entries. One present in a single read
/// came or went with its capability (a firmware update, a partial status): like a
/// device appearing, that is not a change of state.
fn attribute_pairs<'a>(was: &'a Map<String, Value>, now: &'a Map<String, Value>) -> Vec<(Place, &'a Value, &'a Value)> {
    let mut pairs = Vec::new();
    for (component, capabilities) in now {
        let (Some(capabilities), Some(was_caps)) = (capabilities.as_object(), was.get(component)) else { continue };
        for (capability, attributes) in capabilities {
            let (Some(attributes), Some(was_attrs)) = (attributes.as_object(), was_caps.get(capability)) else {
                continue;
            };
            for (attribute, new) in attributes {
                if let Some(old) = was_attrs.get(attribute) {
                    pairs.push(((component.clone(), capability.clone(), attribute.clone()), old, new));
                }
            }
        }
    }
    pairs
}

/// An attribute's value; `null` (or no `value` key) is none.
fn value(attribute: &Value) -> Option<&Value> {
    attribute.get("value").filter(|v| !v.is_null())
}

fn unit(attribute: &Value) -> Option<String> {
    attribute.get("unit").and_then(Value::as_str).map(String::from)
}

/// Equal values, where 59 and 59.0 are one number: JSON does not tell them apart and a
/// device that reports both ways has not changed.
fn same(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => x == y || x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn health_word(online: bool) -> Value {
    Value::from(if online { "online" } else { "offline" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::fixtures::{self, at};
    use serde_json::json;
    use std::slice::from_ref;

    /// One device's changes from one read to the next, a minute in.
    fn between(before: &Device, after: &Device) -> Vec<Change> {
        changes(from_ref(before), from_ref(after), at(60))
    }

    #[test]
    fn a_contact_opening_is_one_change_with_both_values() {
        let closed = fixtures::front_door();
        let open = fixtures::with_value(&closed, "contactSensor", "contact", "open");
        let found = between(&closed, &open);
        assert_eq!(
            found,
            vec![Change {
                device_id: closed.id.clone(),
                device_label: "Front Door Sensor".into(),
                component: "main".into(),
                capability: "contactSensor".into(),
                attribute: "contact".into(),
                old: Some(json!("closed")),
                new: Some(json!("open")),
                unit: None,
                at: at(60),
            }]
        );
    }

    #[test]
    fn the_same_read_twice_has_no_changes() {
        let washer = fixtures::with_health(&fixtures::washer_running(), "ONLINE");
        assert_eq!(washer.online, Some(true));
        assert_eq!(between(&washer, &washer), vec![]);
    }

    #[test]
    fn a_new_timestamp_alone_is_not_a_change() {
        let closed = fixtures::front_door();
        let restamped = fixtures::with_timestamp(&closed, "contactSensor", "contact", "2025-02-09T18:00:00.000Z");
        assert_ne!(closed, restamped, "the second read does differ, in its timestamp");
        assert_eq!(between(&closed, &restamped), vec![]);
    }

    #[test]
    fn a_device_missing_from_either_read_is_not_a_change() {
        let door = fixtures::front_door();
        let leak = fixtures::basement_leak_sensor();
        let wet = fixtures::with_value(&leak, "waterSensor", "water", "wet");
        assert_eq!(changes(&[door.clone(), leak], from_ref(&door), at(60)), vec![], "gone from the second read");
        assert_eq!(changes(from_ref(&door), &[door.clone(), wet], at(60)), vec![], "new in the second read");
    }

    #[test]
    fn a_read_without_status_changes_nothing() {
        let door = fixtures::front_door();
        let mut unread = door.clone();
        unread.status = None;
        assert_eq!(between(&door, &unread), vec![]);
        assert_eq!(between(&unread, &door), vec![]);
    }

    #[test]
    fn going_offline_and_back_is_a_health_check_change() {
        let up = fixtures::with_health(&fixtures::front_door(), "ONLINE");
        let down = fixtures::with_health(&up, "OFFLINE");
        let gone = between(&up, &down);
        assert_eq!(gone.len(), 1, "{gone:?}");
        let c = &gone[0];
        assert_eq!((c.capability.as_str(), c.attribute.as_str()), (HEALTH_CAPABILITY, HEALTH_ATTRIBUTE));
        assert_eq!((c.old.clone(), c.new.clone()), (Some(json!("online")), Some(json!("offline"))));
        let back = between(&down, &up);
        assert_eq!((back[0].old.clone(), back[0].new.clone()), (Some(json!("offline")), Some(json!("online"))));
        let unknown = fixtures::with_health(&up, "UNKNOWN");
        assert_eq!(unknown.online, None);
        assert_eq!(between(&up, &unknown), vec![], "unknown health is not offline");
    }

    #[test]
    fn health_in_both_the_status_and_the_list_is_one_change() {
        let up = fixtures::with_health(&fixtures::arlo_camera(), "ONLINE");
        let down = fixtures::with_value(
            &fixtures::with_health(&up, "OFFLINE"),
            HEALTH_CAPABILITY,
            HEALTH_ATTRIBUTE,
            "offline",
        );
        let found = between(&up, &down);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].new, Some(json!("offline")));
    }

    #[test]
    fn the_real_washer_finishing_lists_its_changes_in_order() {
        let running = fixtures::washer_running();
        let stopped = fixtures::washer_stopped();
        let found = between(&running, &stopped);
        let machine = found.iter().find(|c| c.capability == "washerOperatingState" && c.attribute == "machineState");
        let machine = machine.expect("machineState changed");
        assert_eq!((machine.old.clone(), machine.new.clone()), (Some(json!("run")), Some(json!("stop"))));
        let places: Vec<_> = found.iter().map(|c| (&c.component, &c.capability, &c.attribute)).collect();
        let mut sorted = places.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(places, sorted, "sorted by component, capability, attribute, each once");
        assert!(found.iter().all(|c| !same(c.old.as_ref(), c.new.as_ref())), "only values that differ");
    }

    #[test]
    fn devices_come_in_the_second_reads_order() {
        let (door, leak) = (fixtures::front_door(), fixtures::basement_leak_sensor());
        let open = fixtures::with_value(&door, "contactSensor", "contact", "open");
        let wet = fixtures::with_value(&leak, "waterSensor", "water", "wet");
        let found = changes(&[door, leak], &[wet, open], at(60));
        let order: Vec<&str> = found.iter().map(|c| c.attribute.as_str()).collect();
        assert_eq!(order, ["water", "contact"]);
    }

    #[test]
    fn whole_and_fractional_forms_of_a_number_are_the_same_value() {
        let door = fixtures::front_door();
        let whole = fixtures::with_json_value(&door, "temperatureMeasurement", "temperature", json!(59));
        assert_eq!(between(&door, &whole), vec![], "59.0 F then 59 F");
        let warmer = fixtures::with_json_value(&door, "temperatureMeasurement", "temperature", json!(61.5));
        let found = between(&door, &warmer);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].unit.as_deref(), Some("F"), "the unit as the payload gave it");
    }

    #[test]
    fn a_change_serialises_with_snake_case_names_and_unix_seconds() {
        let closed = fixtures::front_door();
        let open = fixtures::with_value(&closed, "contactSensor", "contact", "open");
        let found = changes(&[closed], &[open], at(60));
        let v = serde_json::to_value(&found[0]).unwrap();
        assert_eq!(v["at"], json!(fixtures::EPOCH + 60));
        assert_eq!(v["device_label"], json!("Front Door Sensor"));
        assert_eq!(
            (v["old"].clone(), v["new"].clone(), v["unit"].clone()),
            (json!("closed"), json!("open"), json!(null))
        );
    }
}
