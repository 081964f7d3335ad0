//! What a device lets you do, from one table beside the readings catalogue: per
//! capability, which control the tray and the window offer (buttons, a slider, a choice,
//! a colour), which commands it sends, and its limits, read from the device's own status
//! where SmartThings reports them (`heatingSetpointRange`, `supportedThermostatModes`,
//! `supportedWindowShadeCommands`…), else a sensible default (issue 12).
//!
//! The same table validates a command before SmartThings is asked
//! ([`Control::check`]): a setpoint outside the device's range, a mode it does not list,
//! an unlock or a door opening that was not confirmed are refused here, with a clear
//! error, so a mistaken click never reaches a lock or a garage door.
//!
//! Safety: a lock or a door whose state is unknown (or whose device is offline, so the
//! last value is stale) has no current value: it is shown as unknown, never as
//! locked/closed. An unknown capability is ignored; a malformed limit falls back to the
//! default; nothing here panics on odd payloads.

use serde::Serialize;
use serde_json::{Map, Value};

use super::model::{Device, DeviceStatus};
use crate::error::{Error, Result};

/// How the window draws a control: one renderer per kind, no per-capability code there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// On/off (a switch): the window's check toggle.
    Toggle,
    /// One button per command (lock/unlock, open/close/pause, play/pause/stop).
    Buttons,
    /// A number within `min..=max` by `step` (level, setpoint, volume, fan speed).
    Slider,
    /// One of `choices` (thermostat or air conditioner mode).
    Select,
    /// Hue and saturation, each 0-100 (`colorControl.setColor`).
    Colour,
}

/// One command a control can send.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Action {
    pub command: &'static str,
    pub label: &'static str,
    /// Unlocking, opening a door: the window asks "Unlock Front Door?" first and the
    /// core refuses the command without `confirmed`.
    pub confirm: bool,
}

/// A control as the window receives it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Control {
    pub kind: Kind,
    /// Stable per control ("lock", "heat", "level"): test ids and keys in the window.
    pub key: &'static str,
    pub capability: &'static str,
    pub label: &'static str,
    pub commands: Vec<Action>,
    /// The current value as SmartThings reported it (a lock or door: only a known state);
    /// `null`: unknown.
    pub value: Option<Value>,
    pub unit: Option<String>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub step: Option<f64>,
    pub choices: Vec<String>,
}

/// Where a control's limits come from.
#[derive(Debug, Clone, Copy)]
enum Limits {
    None,
    /// Fixed bounds: SmartThings defines them (level 0-100) or reports none.
    Fixed {
        min: f64,
        max: f64,
        step: f64,
    },
    /// A setpoint: the first of these `(capability, attribute)` ranges the device
    /// reports, else a default range for the setpoint's unit (C or F).
    Temperature(&'static [(&'static str, &'static str)]),
    /// The choices the device lists in this attribute of the same capability; without
    /// a list there is no control (sending a guessed mode is worse than none).
    Choices(&'static str),
}

/// One catalogue row: a capability on the device's `main` component.
struct Spec {
    capability: &'static str,
    key: &'static str,
    label: &'static str,
    kind: Kind,
    /// The attribute holding the current value.
    attribute: &'static str,
    actions: &'static [Action],
    /// An attribute listing the commands the device supports (e.g.
    /// `supportedWindowShadeCommands`); when reported, buttons not listed are left out.
    supported: Option<&'static str>,
    /// Values that are a known state; anything else (unknown, jammed, stale) is shown as
    /// unknown. `None`: any value is shown.
    known: Option<&'static [&'static str]>,
    limits: Limits,
}

const fn act(command: &'static str, label: &'static str) -> Action {
    Action { command, label, confirm: false }
}
const fn ask(command: &'static str, label: &'static str) -> Action {
    Action { command, label, confirm: true }
}

const DOOR_STATES: &[&str] = &["open", "closed", "opening", "closing"];
const DOOR: &[Action] = &[ask("open", "Open"), act("close", "Close")];
const PERCENT: Limits = Limits::Fixed { min: 0.0, max: 100.0, step: 1.0 };
const HEAT_RANGES: &[(&str, &str)] =
    &[("thermostatHeatingSetpoint", "heatingSetpointRange"), ("thermostatSetpoint", "thermostatSetpointRange")];
const COOL_RANGES: &[(&str, &str)] =
    &[("thermostatCoolingSetpoint", "coolingSetpointRange"), ("thermostatSetpoint", "thermostatSetpointRange")];

/// SmartThings' usual tunable-white range, when the device reports none.
pub const COLOR_TEMPERATURE_RANGE: (u32, u32) = (2000, 6500);
/// Setpoint defaults when the device reports no range: a home's usual span, per unit.
const CELSIUS: (f64, f64, f64) = (5.0, 35.0, 0.5);
const FAHRENHEIT: (f64, f64, f64) = (40.0, 95.0, 1.0);

const fn spec(
    capability: &'static str,
    key: &'static str,
    label: &'static str,
    kind: Kind,
    attribute: &'static str,
) -> Spec {
    Spec { capability, key, label, kind, attribute, actions: &[], supported: None, known: None, limits: Limits::None }
}

/// The catalogue, in the order the window shows controls.
const CATALOGUE: &[Spec] = &[
    Spec {
        actions: &[act("on", "On"), act("off", "Off")],
        ..spec("switch", "switch", "Power", Kind::Toggle, "switch")
    },
    Spec {
        actions: &[act("lock", "Lock"), ask("unlock", "Unlock")],
        known: Some(&["locked", "unlocked", "unlocked with timeout"]),
        ..spec("lock", "lock", "Lock", Kind::Buttons, "lock")
    },
    Spec { actions: DOOR, known: Some(DOOR_STATES), ..spec("doorControl", "door", "Door", Kind::Buttons, "door") },
    Spec {
        actions: DOOR,
        known: Some(DOOR_STATES),
        ..spec("garageDoorControl", "garage", "Garage door", Kind::Buttons, "door")
    },
    Spec {
        actions: &[act("open", "Open"), act("close", "Close"), act("pause", "Pause")],
        supported: Some("supportedWindowShadeCommands"),
        ..spec("windowShade", "shade", "Shade", Kind::Buttons, "windowShade")
    },
    Spec {
        actions: &[act("setShadeLevel", "Set")],
        limits: PERCENT,
        ..spec("windowShadeLevel", "shade-level", "Position", Kind::Slider, "shadeLevel")
    },
    Spec {
        actions: &[act("setLevel", "Set")],
        limits: PERCENT,
        ..spec("switchLevel", "level", "Level", Kind::Slider, "level")
    },
    Spec {
        actions: &[act("setColorTemperature", "Set")],
        limits: Limits::Fixed {
            min: COLOR_TEMPERATURE_RANGE.0 as f64,
            max: COLOR_TEMPERATURE_RANGE.1 as f64,
            step: 100.0,
        },
        ..spec("colorTemperature", "ct", "White", Kind::Slider, "colorTemperature")
    },
    Spec {
        actions: &[act("setColor", "Set")],
        limits: PERCENT,
        ..spec("colorControl", "colour", "Colour", Kind::Colour, "hue")
    },
    Spec {
        actions: &[act("setThermostatMode", "Set")],
        limits: Limits::Choices("supportedThermostatModes"),
        ..spec("thermostatMode", "mode", "Mode", Kind::Select, "thermostatMode")
    },
    Spec {
        actions: &[act("setAirConditionerMode", "Set")],
        limits: Limits::Choices("supportedAcModes"),
        ..spec("airConditionerMode", "ac-mode", "Mode", Kind::Select, "airConditionerMode")
    },
    Spec {
        actions: &[act("setHeatingSetpoint", "Set")],
        limits: Limits::Temperature(HEAT_RANGES),
        ..spec("thermostatHeatingSetpoint", "heat", "Heat to", Kind::Slider, "heatingSetpoint")
    },
    Spec {
        actions: &[act("setCoolingSetpoint", "Set")],
        limits: Limits::Temperature(COOL_RANGES),
        ..spec("thermostatCoolingSetpoint", "cool", "Cool to", Kind::Slider, "coolingSetpoint")
    },
    // SmartThings' fanSpeed is a small integer (0 off … 4 max); devices report no range.
    Spec {
        actions: &[act("setFanSpeed", "Set")],
        limits: Limits::Fixed { min: 0.0, max: 4.0, step: 1.0 },
        ..spec("fanSpeed", "fan", "Fan", Kind::Slider, "fanSpeed")
    },
    Spec {
        actions: &[act("play", "Play"), act("pause", "Pause"), act("stop", "Stop")],
        supported: Some("supportedPlaybackCommands"),
        ..spec("mediaPlayback", "media", "Playback", Kind::Buttons, "playbackStatus")
    },
    Spec {
        actions: &[act("setVolume", "Set")],
        limits: PERCENT,
        ..spec("audioVolume", "volume", "Volume", Kind::Slider, "volume")
    },
    Spec {
        actions: &[act("mute", "Mute"), act("unmute", "Unmute")],
        ..spec("audioMute", "mute", "Sound", Kind::Buttons, "mute")
    },
];

impl Device {
    /// A command someone typed (`thingstray command`), checked by the same catalogue the
    /// window uses where it knows the control: its arguments and limits (typing it is the
    /// confirmation). A command the catalogue does not know goes to SmartThings, which
    /// decides what else a device takes.
    pub fn check_command(&self, capability: &str, command: &str, args: &[Value]) -> Result<()> {
        match self.controls().iter().find(|c| c.capability == capability) {
            Some(c) if c.commands.iter().any(|a| a.command == command) => c.check(&self.label, command, args, true),
            _ => Ok(()),
        }
    }

    /// The controls this device offers, catalogue order: capabilities declared on its
    /// main component, and any the status reports there.
    pub fn controls(&self) -> Vec<Control> {
        let empty = DeviceStatus::default();
        let status = self.status.as_ref().unwrap_or(&empty);
        controls(status, |cap| self.has_capability(cap), self.online)
    }
}

impl DeviceStatus {
    /// The controls the status alone shows (no declared capabilities, health unknown).
    pub fn controls(&self) -> Vec<Control> {
        controls(self, |_| false, None)
    }
}

fn controls(status: &DeviceStatus, declared: impl Fn(&str) -> bool, online: Option<bool>) -> Vec<Control> {
    let main = status.0.get("main").and_then(Value::as_object);
    CATALOGUE
        .iter()
        .filter(|s| declared(s.capability) || main.is_some_and(|m| m.contains_key(s.capability)))
        .filter_map(|s| s.build(main.and_then(|m| m.get(s.capability)).and_then(Value::as_object), main, online))
        .collect()
}

/// An attribute's `value`, when not null.
fn attr<'a>(cap: Option<&'a Map<String, Value>>, attribute: &str) -> Option<&'a Value> {
    cap?.get(attribute)?.get("value").filter(|v| !v.is_null())
}

fn unit(cap: Option<&Map<String, Value>>, attribute: &str) -> Option<String> {
    cap?.get(attribute)?.get("unit")?.as_str().map(String::from)
}

/// A list of texts (`["off","cool","auto"]`); anything else is no list.
fn strings(v: Option<&Value>) -> Option<Vec<String>> {
    let list: Vec<String> = v?.as_array()?.iter().filter_map(Value::as_str).map(String::from).collect();
    (!list.is_empty()).then_some(list)
}

impl Spec {
    fn build(
        &self,
        cap: Option<&Map<String, Value>>,
        main: Option<&Map<String, Value>>,
        online: Option<bool>,
    ) -> Option<Control> {
        let mut current = match self.kind {
            Kind::Colour => {
                let hue = attr(cap, "hue").filter(|v| v.is_number());
                let sat = attr(cap, "saturation").filter(|v| v.is_number());
                hue.zip(sat).map(|(h, s)| serde_json::json!({"hue": h, "saturation": s}))
            }
            Kind::Slider => attr(cap, self.attribute).filter(|v| v.as_f64().is_some_and(f64::is_finite)).cloned(),
            _ => attr(cap, self.attribute).filter(|v| v.is_string()).cloned(),
        };
        if let Some(known) = self.known {
            // Unknown, jammed, or offline (the value may be long out of date): no claim.
            let is_known = current.as_ref().and_then(Value::as_str).is_some_and(|v| known.contains(&v));
            if !is_known || online == Some(false) {
                current = None;
            }
        }
        let supported = self.supported.and_then(|a| strings(attr(cap, a)));
        let commands: Vec<Action> = self
            .actions
            .iter()
            .filter(|a| supported.as_ref().is_none_or(|s| s.iter().any(|c| c == a.command)))
            .cloned()
            .collect();
        if commands.is_empty() {
            return None;
        }
        let mut c = Control {
            kind: self.kind,
            key: self.key,
            capability: self.capability,
            label: self.label,
            commands,
            value: current,
            unit: unit(cap, self.attribute),
            min: None,
            max: None,
            step: None,
            choices: Vec::new(),
        };
        match self.limits {
            Limits::None => {}
            Limits::Fixed { min, max, step } => (c.min, c.max, c.step) = (Some(min), Some(max), Some(step)),
            Limits::Choices(attribute) => c.choices = strings(attr(cap, attribute))?,
            Limits::Temperature(ranges) => {
                let (min, max, step) = ranges
                    .iter()
                    .find_map(|(capability, attribute)| {
                        let cap = main?.get(*capability)?.as_object();
                        range(attr(cap, attribute)?, unit(cap, attribute).as_deref(), c.unit.as_deref())
                    })
                    .or_else(|| setpoint_control(main, c.unit.as_deref()))
                    .unwrap_or_else(|| default_range(c.unit.as_deref(), c.value.as_ref().and_then(Value::as_f64)));
                (c.min, c.max, c.step) = (Some(min), Some(max), Some(step));
            }
        }
        Some(c)
    }
}

/// `{minimum, maximum, step?}` as SmartThings reports a range; `None` when it makes no
/// sense (min above max, not finite, a step wider than the range) or is in another unit
/// than the setpoint, so the default is used instead of a range nobody could set.
fn range(v: &Value, range_unit: Option<&str>, unit: Option<&str>) -> Option<(f64, f64, f64)> {
    if range_unit.is_some() && unit.is_some() && range_unit != unit {
        return None;
    }
    let num = |k: &str| v.get(k)?.as_f64().filter(|n| n.is_finite());
    let (min, max) = (num("minimum")?, num("maximum")?);
    let step = num("step").filter(|s| *s > 0.0).unwrap_or(if unit == Some("F") { 1.0 } else { 0.5 });
    (min < max && step <= max - min).then_some((min, max, step))
}

/// Samsung's air conditioners report their range apart, as `minimumSetpoint` and
/// `maximumSetpoint` of `custom.thermostatSetpointControl` (each with its unit), and leave
/// `coolingSetpointRange` null: without this the slider offered 5-35 °C on a 16-30 °C unit.
fn setpoint_control(main: Option<&Map<String, Value>>, unit_of_setpoint: Option<&str>) -> Option<(f64, f64, f64)> {
    let cap = main?.get("custom.thermostatSetpointControl")?.as_object();
    let (min, max) = (attr(cap, "minimumSetpoint")?, attr(cap, "maximumSetpoint")?);
    let (min_unit, max_unit) = (unit(cap, "minimumSetpoint"), unit(cap, "maximumSetpoint"));
    if min_unit != max_unit {
        return None;
    }
    range(&serde_json::json!({"minimum": min, "maximum": max}), min_unit.as_deref(), unit_of_setpoint)
}

/// A home's usual setpoint span in the setpoint's unit. Without a unit, a value above
/// 40 can only be Fahrenheit; otherwise Celsius (the unit is never invented for display).
fn default_range(unit: Option<&str>, value: Option<f64>) -> (f64, f64, f64) {
    match unit {
        Some("F") => FAHRENHEIT,
        Some("C") => CELSIUS,
        _ if value.is_some_and(|v| v > 40.0) => FAHRENHEIT,
        _ => CELSIUS,
    }
}

impl Control {
    /// Checks one command against this control before it is sent: the command is one of
    /// its own, the arguments fit the kind and the limits, and a command that needs a
    /// confirmation has one. `device` names the device in the error.
    pub fn check(&self, device: &str, command: &str, args: &[Value], confirmed: bool) -> Result<()> {
        let action = self.commands.iter().find(|a| a.command == command).ok_or_else(|| Error::UnsupportedControl {
            device: device.into(),
            capability: self.capability.into(),
            command: command.into(),
        })?;
        if action.confirm && !confirmed {
            return Err(Error::NeedsConfirmation { device: device.into(), action: action.label.to_lowercase() });
        }
        let bad = |why: String| Error::InvalidArgument { device: device.into(), control: self.label.into(), why };
        match self.kind {
            Kind::Toggle | Kind::Buttons if !args.is_empty() => Err(bad(format!("{command} takes no arguments"))),
            Kind::Toggle | Kind::Buttons => Ok(()),
            Kind::Slider => {
                let [v] = args else { return Err(bad("one number expected".into())) };
                let n = v.as_f64().filter(|n| n.is_finite()).ok_or_else(|| bad(format!("{v} is not a number")))?;
                self.within(device, self.label, n)
            }
            Kind::Select => match args {
                [Value::String(s)] if self.choices.contains(s) => Ok(()),
                _ => Err(bad(format!("choose one of {}", self.choices.join(", ")))),
            },
            Kind::Colour => {
                let [Value::Object(m)] = args else { return Err(bad("{hue, saturation} expected".into())) };
                for part in ["hue", "saturation"] {
                    let n = m.get(part).and_then(Value::as_f64).ok_or_else(|| bad(format!("{part} missing")))?;
                    self.within(device, part, n)?;
                }
                Ok(())
            }
        }
    }

    fn within(&self, device: &str, what: &str, n: f64) -> Result<()> {
        let (min, max) = (self.min.unwrap_or(f64::MIN), self.max.unwrap_or(f64::MAX));
        if (min..=max).contains(&n) {
            return Ok(());
        }
        let unit = self
            .unit
            .as_deref()
            .map(|u| if u == "C" || u == "F" { format!(" °{u}") } else { format!(" {u}") })
            .unwrap_or_default();
        Err(Error::OutOfRange {
            device: device.into(),
            control: what.into(),
            value: format!("{n}{unit}"),
            range: format!("{min} and {max}{unit}"),
        })
    }
}

/// The control of `capability` among `controls`, or why there is none.
pub(crate) fn find<'a>(controls: &'a [Control], device: &str, capability: &str, command: &str) -> Result<&'a Control> {
    controls.iter().find(|c| c.capability == capability).ok_or_else(|| Error::UnsupportedControl {
        device: device.into(),
        capability: capability.into(),
        command: command.into(),
    })
}

#[cfg(test)]
mod tests;
