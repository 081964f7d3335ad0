//! Which changes are worth a notification: one table, a row per kind of alert. Adding a
//! kind is adding a row; nothing else matches on capability names.
//!
//! Names and values are SmartThings' own, as the readings catalogue (api/readings.rs)
//! reads them and as real payloads carry them (tests/fixtures): a washer that finishes
//! goes `machineState` run -> stop (its `washerJobState` to "none", not "finish", in the
//! real pair of fixtures, so the machine state is the one to watch).

use serde_json::Value;

use crate::api::Device;

use super::changes::{Change, HEALTH_ATTRIBUTE, HEALTH_CAPABILITY};

/// One kind of alert: a value a capability's attribute takes that is worth telling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub capability: &'static str,
    pub attribute: &'static str,
    /// The new values that alert.
    pub values: &'static [&'static str],
    /// Only when the old value was one of these (a washer stopping after running, not
    /// one that was never on); empty: whatever it was.
    pub after: &'static [&'static str],
    /// The notification's title; `{device}` is the device's label.
    pub title: &'static str,
    /// Alerts for a device the user has not chosen either way.
    pub default_on: bool,
    /// Only while the location's mode is Away: motion at home is the family.
    pub away_only: bool,
    /// Shown even in quiet hours.
    pub safety: bool,
}

impl Rule {
    const fn new(
        capability: &'static str,
        attribute: &'static str,
        values: &'static [&'static str],
        title: &'static str,
    ) -> Rule {
        Rule { capability, attribute, values, after: &[], title, default_on: false, away_only: false, safety: false }
    }

    const fn after(self, after: &'static [&'static str]) -> Rule {
        Rule { after, ..self }
    }

    /// Leak, smoke and CO: on for every device that has them until the user says
    /// otherwise, and never silenced by quiet hours (a leak at 3 am is the point).
    const fn safety(self) -> Rule {
        Rule { default_on: true, safety: true, ..self }
    }

    const fn away_only(self) -> Rule {
        Rule { away_only: true, ..self }
    }

    /// The title for a device: "Front Door Sensor opened".
    pub fn title(&self, device_label: &str) -> String {
        self.title.replace("{device}", device_label)
    }

    fn matches(&self, change: &Change) -> bool {
        let Some(new) = word(&change.new) else { return false };
        change.capability == self.capability
            && change.attribute == self.attribute
            && self.values.contains(&new)
            && (self.after.is_empty() || word(&change.old).is_some_and(|old| self.after.contains(&old)))
    }
}

/// A value as a word; the values that alert are all words.
fn word(value: &Option<Value>) -> Option<&str> {
    value.as_ref()?.as_str()
}

const FINISHED: &[&str] = &["stop"];
const RUNNING: &[&str] = &["run"];

/// Every kind of alert, safety first. Everything but leak, smoke and CO is off until the
/// user turns a device's bell on: doors, motion and locks change all day in a lived-in
/// home, and a bell nobody asked for is soon a bell nobody reads.
pub const RULES: &[Rule] = &[
    Rule::new("waterSensor", "water", &["wet"], "Leak detected at {device}").safety(),
    Rule::new("smokeDetector", "smoke", &["detected"], "Smoke detected at {device}").safety(),
    Rule::new("carbonMonoxideDetector", "carbonMonoxide", &["detected"], "Carbon monoxide detected at {device}")
        .safety(),
    Rule::new("contactSensor", "contact", &["open"], "{device} opened"),
    Rule::new("motionSensor", "motion", &["active"], "Motion at {device}").away_only(),
    Rule::new("lock", "lock", &["unlocked", "unlocked with timeout"], "{device} unlocked"),
    // A lock that cannot say its bolt is thrown reports "unknown" (a jam, a half turn);
    // some drivers say "jammed". Either way the door is not locked.
    Rule::new("lock", "lock", &["unknown", "jammed"], "{device} failed to lock"),
    Rule::new("washerOperatingState", "machineState", FINISHED, "{device} finished").after(RUNNING),
    Rule::new("dryerOperatingState", "machineState", FINISHED, "{device} finished").after(RUNNING),
    Rule::new("dishwasherOperatingState", "machineState", FINISHED, "{device} finished").after(RUNNING),
    Rule::new(HEALTH_CAPABILITY, HEALTH_ATTRIBUTE, &["offline"], "{device} went offline"),
    // Back online only after offline: a first health report is not a return.
    Rule::new(HEALTH_CAPABILITY, HEALTH_ATTRIBUTE, &["online"], "{device} is back online").after(&["offline"]),
];

/// The kind of alert a change is, if any. The main component only, as the readings
/// catalogue reads devices: a fridge reports its door on main and again per compartment
/// (cooler, freezer), and one door opening is one bell.
pub fn rule_for(change: &Change) -> Option<&'static Rule> {
    if change.component != "main" {
        return None;
    }
    RULES.iter().find(|r| r.matches(change))
}

/// Whether a device's bell is on when the user has not chosen: it has a capability whose
/// alerts are on by default (a leak, smoke or CO sensor).
pub fn default_on(device: &Device) -> bool {
    RULES.iter().any(|r| r.default_on && device.has_capability(r.capability))
}

/// Whether a device has a kind of alert told only in Away (motion): its alerts need the
/// location's mode.
pub fn needs_mode(device: &Device) -> bool {
    RULES.iter().any(|r| r.away_only && device.has_capability(r.capability))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::changes::changes;
    use crate::alerts::fixtures::{self, at};
    use crate::api::DeviceStatus;
    use serde_json::json;

    /// The one rule the change from `before` to `after` (one device each) matches.
    fn rule(before: &Device, after: &Device) -> Option<&'static Rule> {
        let found = changes(std::slice::from_ref(before), std::slice::from_ref(after), at(60));
        let rules: Vec<_> = found.iter().filter_map(rule_for).collect();
        assert!(rules.len() <= 1, "at most one alert per change here: {rules:?}");
        rules.first().copied()
    }

    #[test]
    fn a_leak_sensor_is_on_by_default_and_a_motion_sensor_off() {
        assert!(default_on(&fixtures::basement_leak_sensor()));
        assert!(!default_on(&fixtures::garage_motion()));
        assert!(!default_on(&fixtures::front_door()), "a door changes all day");
        assert!(!default_on(&fixtures::front_lock()));
        assert!(!default_on(&fixtures::washer_running()));
    }

    #[test]
    fn smoke_and_co_are_safety_alerts_on_by_default() {
        // No fixture has either detector; the rows themselves are checked.
        for capability in ["smokeDetector", "carbonMonoxideDetector", "waterSensor"] {
            let r = RULES.iter().find(|r| r.capability == capability).unwrap();
            assert!(r.default_on && r.safety && !r.away_only, "{capability}");
        }
        let safety_rows: Vec<_> = RULES.iter().filter(|r| r.safety).map(|r| r.capability).collect();
        assert_eq!(safety_rows, ["waterSensor", "smokeDetector", "carbonMonoxideDetector"], "nothing else is");
    }

    #[test]
    fn every_rule_but_health_reads_a_catalogued_attribute() {
        for r in RULES.iter().filter(|r| r.capability != HEALTH_CAPABILITY) {
            let body = json!({"components": {"main": {r.capability: {r.attribute: {"value": r.values[0]}}}}});
            let readings = DeviceStatus::from_status_body(&body).unwrap().readings();
            assert!(
                readings.iter().any(|x| x.capability == r.capability && x.attribute == r.attribute),
                "{}.{} is not in the readings catalogue",
                r.capability,
                r.attribute
            );
        }
    }

    #[test]
    fn a_door_opening_alerts_and_closing_does_not() {
        let closed = fixtures::front_door();
        let open = fixtures::with_value(&closed, "contactSensor", "contact", "open");
        let r = rule(&closed, &open).expect("opening alerts");
        assert_eq!(r.title("Front Door Sensor"), "Front Door Sensor opened");
        assert_eq!(rule(&open, &closed), None, "closing is not news");
    }

    #[test]
    fn a_lock_that_unlocks_or_fails_to_lock_alerts() {
        let locked = fixtures::front_lock();
        for (value, title) in [
            ("unlocked", "Front Door Lock unlocked"),
            ("unlocked with timeout", "Front Door Lock unlocked"),
            ("unknown", "Front Door Lock failed to lock"),
            ("jammed", "Front Door Lock failed to lock"),
        ] {
            let next = fixtures::with_value(&locked, "lock", "lock", value);
            assert_eq!(rule(&locked, &next).map(|r| r.title("Front Door Lock")).as_deref(), Some(title), "{value}");
        }
        let unlocked = fixtures::with_value(&locked, "lock", "lock", "unlocked");
        assert_eq!(rule(&unlocked, &locked), None, "locking is not news");
    }

    #[test]
    fn the_real_washer_finishes_when_it_stops_after_running() {
        let (running, stopped) = (fixtures::washer_running(), fixtures::washer_stopped());
        assert_eq!(rule(&running, &stopped).map(|r| r.title("Washer")).as_deref(), Some("Washer finished"));
        let paused = fixtures::with_value(&running, "washerOperatingState", "machineState", "pause");
        let stopped_after_pause = fixtures::with_value(&paused, "washerOperatingState", "machineState", "stop");
        assert_eq!(rule(&paused, &stopped_after_pause), None, "stopping a paused cycle is the user's doing");
        assert_eq!(rule(&stopped, &running), None, "starting is not news");
    }

    #[test]
    fn offline_alerts_and_online_only_after_offline() {
        let camera = fixtures::arlo_camera();
        let offline = fixtures::with_value(&camera, HEALTH_CAPABILITY, HEALTH_ATTRIBUTE, "offline");
        assert_eq!(rule(&camera, &offline).map(|r| r.values), Some(&["offline"][..]));
        assert_eq!(rule(&offline, &camera).map(|r| r.title("Cam")).as_deref(), Some("Cam is back online"));
        let unknown = fixtures::with_json_value(&camera, HEALTH_CAPABILITY, HEALTH_ATTRIBUTE, json!(null));
        assert_eq!(rule(&unknown, &camera), None, "a first report of online is not a return");
    }

    #[test]
    fn only_the_main_component_alerts() {
        let closed = fixtures::front_door();
        let open = fixtures::with_value(&closed, "contactSensor", "contact", "open");
        let mut change = changes(&[closed], &[open], at(60)).remove(0);
        assert!(rule_for(&change).is_some());
        change.component = "freezer".into();
        assert_eq!(rule_for(&change), None);
    }
}
