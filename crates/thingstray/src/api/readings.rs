//! What a device is doing, from one table: which capabilities' attributes are readings
//! worth showing, in what order, and how each reads in a short state line ("Open",
//! "22.2 °C", "Running, 35 min left"). The tray, the device window and the CLI all use
//! this one catalogue, so a capability is taught once (issue 12).
//!
//! Values come as SmartThings sent them; units come from the payload (`unit`: C or F, W,
//! kWh, %, lux, ppm), never assumed. An unknown capability is ignored; a value of the
//! wrong type is skipped without hiding the device's other readings.

use std::time::SystemTime;

use serde::Serialize;
use serde_json::Value;

use super::model::{Device, DeviceStatus};

/// One reading, as `thingstray devices --json` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reading {
    pub capability: &'static str,
    pub attribute: &'static str,
    /// As SmartThings sent it: a number or a text.
    pub value: Value,
    /// `null` when SmartThings gave none.
    pub unit: Option<String>,
}

/// How a reading reads in the state line.
#[derive(Debug, Clone, Copy)]
enum Show {
    /// A word per value (`closed` -> "Closed"); a value not listed is shown as sent.
    Words(&'static [(&'static str, &'static str)]),
    /// A number with its unit from the payload ("22.2 °C", "12 W").
    Number,
    /// A number with a prefix, for readings that need naming ("Battery 80 %").
    Named(&'static str),
    /// Listed in the readings, not in the short line (it repeats another part).
    Hidden,
}

/// One catalogue row: a capability's attribute on the device's `main` component.
struct Entry {
    capability: &'static str,
    attribute: &'static str,
    show: Show,
}

const OPEN_CLOSED: &[(&str, &str)] = &[
    ("open", "Open"),
    ("closed", "Closed"),
    ("opening", "Opening"),
    ("closing", "Closing"),
    ("unknown", "State unknown"),
];
const MACHINE: &[(&str, &str)] =
    &[("run", "Running"), ("stop", "Stopped"), ("pause", "Paused"), ("ready", "Ready"), ("finished", "Finished")];

/// The catalogue, most telling first: the state line takes its first parts from the top.
const CATALOGUE: &[Entry] = &[
    // What the device is for.
    Entry { capability: "contactSensor", attribute: "contact", show: Show::Words(OPEN_CLOSED) },
    // A lock whose state is unknown says so: never "Locked" by default.
    Entry {
        capability: "lock",
        attribute: "lock",
        show: Show::Words(&[
            ("locked", "Locked"),
            ("unlocked", "Unlocked"),
            ("unlocked with timeout", "Unlocked (timer)"),
            ("unknown", "Lock state unknown"),
        ]),
    },
    Entry { capability: "doorControl", attribute: "door", show: Show::Words(OPEN_CLOSED) },
    Entry { capability: "garageDoorControl", attribute: "door", show: Show::Words(OPEN_CLOSED) },
    Entry {
        capability: "windowShade",
        attribute: "windowShade",
        show: Show::Words(&[
            ("open", "Open"),
            ("closed", "Closed"),
            ("opening", "Opening"),
            ("closing", "Closing"),
            ("partially open", "Partly open"),
            ("unknown", "State unknown"),
        ]),
    },
    Entry {
        capability: "waterSensor",
        attribute: "water",
        show: Show::Words(&[("wet", "Water leak!"), ("dry", "Dry")]),
    },
    Entry {
        capability: "smokeDetector",
        attribute: "smoke",
        show: Show::Words(&[("detected", "Smoke!"), ("clear", "No smoke"), ("tested", "Smoke test")]),
    },
    Entry {
        capability: "carbonMonoxideDetector",
        attribute: "carbonMonoxide",
        show: Show::Words(&[("detected", "CO detected!"), ("clear", "No CO"), ("tested", "CO test")]),
    },
    Entry {
        capability: "motionSensor",
        attribute: "motion",
        show: Show::Words(&[("active", "Motion"), ("inactive", "No motion")]),
    },
    Entry {
        capability: "presenceSensor",
        attribute: "presence",
        show: Show::Words(&[("present", "Present"), ("not present", "Away")]),
    },
    Entry { capability: "washerOperatingState", attribute: "machineState", show: Show::Words(MACHINE) },
    Entry { capability: "dryerOperatingState", attribute: "machineState", show: Show::Words(MACHINE) },
    Entry { capability: "ovenOperatingState", attribute: "machineState", show: Show::Words(MACHINE) },
    Entry { capability: "dishwasherOperatingState", attribute: "machineState", show: Show::Words(MACHINE) },
    Entry {
        capability: "mediaPlayback",
        attribute: "playbackStatus",
        show: Show::Words(&[("playing", "Playing"), ("paused", "Paused"), ("stopped", "Stopped")]),
    },
    Entry { capability: "switch", attribute: "switch", show: Show::Words(&[("on", "On"), ("off", "Off")]) },
    Entry { capability: "switchLevel", attribute: "level", show: Show::Number },
    Entry { capability: "thermostatMode", attribute: "thermostatMode", show: Show::Named("Mode") },
    Entry { capability: "airConditionerMode", attribute: "airConditionerMode", show: Show::Named("Mode") },
    Entry { capability: "thermostatOperatingState", attribute: "thermostatOperatingState", show: Show::Hidden },
    // Measurements.
    Entry { capability: "temperatureMeasurement", attribute: "temperature", show: Show::Number },
    Entry { capability: "relativeHumidityMeasurement", attribute: "humidity", show: Show::Number },
    Entry { capability: "thermostatHeatingSetpoint", attribute: "heatingSetpoint", show: Show::Named("Heat to") },
    Entry { capability: "thermostatCoolingSetpoint", attribute: "coolingSetpoint", show: Show::Named("Cool to") },
    Entry { capability: "fanSpeed", attribute: "fanSpeed", show: Show::Named("Fan") },
    Entry { capability: "carbonDioxideMeasurement", attribute: "carbonDioxide", show: Show::Number },
    Entry { capability: "illuminanceMeasurement", attribute: "illuminance", show: Show::Number },
    Entry { capability: "airQualitySensor", attribute: "airQuality", show: Show::Named("Air quality") },
    Entry { capability: "powerMeter", attribute: "power", show: Show::Number },
    Entry { capability: "energyMeter", attribute: "energy", show: Show::Number },
    Entry { capability: "audioVolume", attribute: "volume", show: Show::Named("Volume") },
    Entry { capability: "battery", attribute: "battery", show: Show::Named("Battery") },
];

/// The state line shows at most this many parts: a tray menu item stays one glance long.
const MAX_PARTS: usize = 3;

impl Device {
    /// Every catalogued reading the device reports on its main component, catalogue order.
    pub fn readings(&self) -> Vec<Reading> {
        self.status.as_ref().map(DeviceStatus::readings).unwrap_or_default()
    }

    /// What the device is doing, in a few plain words (see [`DeviceStatus::state_line`]).
    pub fn state_line(&self, now: SystemTime) -> Option<String> {
        self.status.as_ref()?.state_line(now)
    }
}

impl DeviceStatus {
    /// Every catalogued reading on the main component, catalogue order.
    pub fn readings(&self) -> Vec<Reading> {
        self.catalogued().map(|(_, r)| r).collect()
    }

    /// Each reading with the catalogue row that found it, catalogue order.
    fn catalogued(&self) -> impl Iterator<Item = (&'static Entry, Reading)> + '_ {
        CATALOGUE.iter().filter_map(|e| {
            let attr = self.0.get("main")?.get(e.capability)?.get(e.attribute)?;
            let value = attr.get("value").filter(|v| v.is_string() || v.is_number())?.clone();
            let unit = attr.get("unit").and_then(Value::as_str).map(String::from);
            Some((e, Reading { capability: e.capability, attribute: e.attribute, value, unit }))
        })
    }

    /// What the device is doing, in a few plain words: "Open · 59 °F · Battery 100 %",
    /// "Running, 35 min left". `None` when it reports nothing the catalogue knows.
    pub fn state_line(&self, now: SystemTime) -> Option<String> {
        let mut parts: Vec<String> = Vec::new();
        for (entry, r) in self.catalogued() {
            let part = match entry.show {
                Show::Hidden => None,
                Show::Words(words) => r.value.as_str().map(|v| {
                    let word =
                        words.iter().find(|(k, _)| *k == v).map_or_else(|| v.to_string(), |(_, w)| w.to_string());
                    match (r.attribute, v) {
                        ("machineState", "run") => {
                            self.time_left(r.capability, now).map_or(word.clone(), |left| format!("{word}, {left}"))
                        }
                        _ => word,
                    }
                }),
                Show::Number => number(&r.value, r.unit.as_deref()),
                Show::Named(name) => match &r.value {
                    Value::String(s) => Some(format!("{name} {s}")),
                    v => number(v, r.unit.as_deref()).map(|n| format!("{name} {n}")),
                },
            };
            if let Some(p) = part.filter(|p| !p.is_empty()) {
                parts.push(p);
            }
            if parts.len() == MAX_PARTS {
                break;
            }
        }
        (!parts.is_empty()).then(|| parts.join(" · "))
    }

    /// When SmartThings last reported a catalogued reading (the newest `timestamp`), so
    /// the window can point at a sensor that just changed ("changed 2 min ago").
    pub fn changed_at(&self) -> Option<SystemTime> {
        let main = self.0.get("main")?;
        CATALOGUE
            .iter()
            .filter_map(|e| rfc3339(main.get(e.capability)?.get(e.attribute)?.get("timestamp")?.as_str()?))
            .max()
    }

    /// "35 min left" from a machine's `completionTime`, while it is in the future.
    fn time_left(&self, capability: &str, now: SystemTime) -> Option<String> {
        let at = self.value("main", capability, "completionTime")?.as_str()?;
        let at = rfc3339(at)?;
        let left = at.duration_since(now).ok()?.as_secs();
        Some(match left {
            0..=59 => "under a minute left".to_string(),
            60..=5_399 => format!("{} min left", left.div_ceil(60)),
            _ => format!("{} h {} min left", left / 3600, (left % 3600) / 60),
        })
    }
}

/// "22.2 °C", "60 %", "12 W", "3 kWh": the unit as SmartThings gave it (C and F as
/// degrees). A whole number shows without decimals, any other with one.
fn number(v: &Value, unit: Option<&str>) -> Option<String> {
    let n = v.as_f64().filter(|n| n.is_finite())?;
    let text = if n.fract() == 0.0 && n.abs() < 1e15 { format!("{}", n as i64) } else { format!("{n:.1}") };
    Some(match unit {
        Some("C") | Some("F") => format!("{text} °{}", unit.unwrap_or_default()),
        Some(u) if !u.is_empty() => format!("{text} {u}"),
        _ => text,
    })
}

/// SmartThings' timestamps: `2025-02-07T03:54:45Z` or with milliseconds. UTC only, as
/// SmartThings sends them; anything else is not a time we show.
fn rfc3339(s: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(s.trim_end_matches('Z')).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn device(status: Value) -> Device {
        let mut d = Device::from_json(&serde_json::json!({"deviceId": "d1", "label": "Thing"})).unwrap();
        d.status = super::super::model::DeviceStatus::from_status_body(&status);
        d
    }

    fn at(s: &str) -> SystemTime {
        rfc3339(s).unwrap()
    }

    #[test]
    fn a_contact_sensor_says_open_or_closed_with_its_temperature_in_its_own_unit() {
        let d = device(serde_json::json!({"components": {"main": {
            "contactSensor": {"contact": {"value": "open"}},
            "temperatureMeasurement": {"temperature": {"value": 59.0, "unit": "F"}},
            "battery": {"battery": {"value": 100, "unit": "%"}},
        }}}));
        assert_eq!(d.state_line(SystemTime::now()).as_deref(), Some("Open · 59 °F · Battery 100 %"));
        let r = d.readings();
        assert_eq!(
            r[1],
            Reading {
                capability: "temperatureMeasurement",
                attribute: "temperature",
                value: 59.0.into(),
                unit: Some("F".into())
            }
        );
    }

    #[test]
    fn a_lock_in_an_unknown_state_never_reads_as_locked() {
        for (value, shown) in [("unknown", "Lock state unknown"), ("locked", "Locked"), ("jammed", "jammed")] {
            let d = device(serde_json::json!({"components": {"main": {"lock": {"lock": {"value": value}}}}}));
            assert_eq!(d.state_line(SystemTime::now()).as_deref(), Some(shown));
        }
        let no_value = device(serde_json::json!({"components": {"main": {"lock": {"lock": {"value": null}}}}}));
        assert_eq!(no_value.state_line(SystemTime::now()), None, "no reading, no claim");
    }

    #[test]
    fn a_running_washer_says_how_long_is_left() {
        let d = device(serde_json::json!({"components": {"main": {"washerOperatingState": {
            "machineState": {"value": "run"}, "completionTime": {"value": "2025-02-07T03:54:45Z"}}}}}));
        let now = at("2025-02-07T03:20:00");
        assert_eq!(d.state_line(now).as_deref(), Some("Running, 35 min left"));
        assert_eq!(d.state_line(now + Duration::from_secs(3600)).as_deref(), Some("Running"), "past the end: no time");
    }

    #[test]
    fn wrong_types_and_unknown_capabilities_are_skipped_not_fatal() {
        let d = device(serde_json::json!({"components": {"main": {
            "contactSensor": {"contact": {"value": {"odd": true}}},
            "somethingNew": {"x": {"value": 1}},
            "relativeHumidityMeasurement": {"humidity": {"value": 60, "unit": "%"}},
            "temperatureMeasurement": {"temperature": {"value": "warm"}},
        }}}));
        assert_eq!(
            d.state_line(SystemTime::now()).as_deref(),
            Some("60 %"),
            "a text where a number belongs is left out"
        );
        assert_eq!(d.readings().len(), 2, "humidity, and the temperature as sent");
    }

    #[test]
    fn the_newest_reading_timestamp_is_when_the_device_last_changed() {
        let d = device(serde_json::json!({"components": {"main": {
            "contactSensor": {"contact": {"value": "open", "timestamp": "2025-02-09T17:29:56.641Z"}},
            "battery": {"battery": {"value": 80, "timestamp": "2025-02-09T17:18:14Z"}},
            "firmwareUpdate": {"state": {"value": "x", "timestamp": "2026-01-01T00:00:00Z"}},
            "lock": {"lock": {"value": "locked", "timestamp": "not a time"}},
        }}}));
        let at = d.status.as_ref().unwrap().changed_at().unwrap();
        assert_eq!(at, rfc3339("2025-02-09T17:29:56.641Z").unwrap(), "catalogued readings only; odd times skipped");
    }

    #[test]
    fn numbers_keep_one_decimal_and_whole_ones_none() {
        assert_eq!(number(&22.25.into(), Some("C")).as_deref(), Some("22.2 °C"));
        assert_eq!(number(&12.into(), Some("W")).as_deref(), Some("12 W"));
        assert_eq!(number(&3.0.into(), None).as_deref(), Some("3"));
        assert_eq!(number(&"x".into(), None), None);
    }
}
