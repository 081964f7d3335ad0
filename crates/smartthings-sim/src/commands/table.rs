//! What each command the simulator knows does: one row per `(capability, command)`, its
//! arguments and the attributes it sets. Data, not a `match` per capability, so a new
//! device kind is a few rows here.
//!
//! Ranges and choices come from the device where it reports them (a setpoint outside
//! `coolingSetpointRange`, a mode missing from `supportedAcModes`: refused with a 422,
//! as the SmartThings behaviour asks), otherwise from the capability's own bounds.

/// The arguments a command takes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Args {
    /// No argument.
    None,
    /// One integer in `min..=max`; a second, optional integer (a rate) when `rate`.
    Int { min: f64, max: f64, rate: bool },
    /// One number in `min..=max`.
    Num { min: f64, max: f64 },
    /// One string; when the device reports the list in `supported` (an attribute of the
    /// same capability), one of those.
    Choice { supported: &'static str },
    /// One of these texts (the capability's own enum).
    Enum(&'static [&'static str]),
    /// One temperature within the first range the device reports among `ranges`
    /// (`(capability, attribute)` with `{minimum, maximum}`), else the capability's bounds.
    Setpoint { ranges: &'static [(&'static str, &'static str)] },
    /// `colorControl.setColor`: an object with `hue`, `saturation` (0-100), `hex`.
    ColorMap,
}

/// What a command does to the device's status.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Effect {
    /// Sets `attribute` to a fixed text.
    Text(&'static str, &'static str),
    /// Sets `attribute` to the first argument, with `unit` (None keeps the reported unit).
    Arg(&'static str, Option<&'static str>),
    /// Adds `delta` to the integer `attribute`, kept within 0-100.
    Step(&'static str, i64),
    /// `switch` turns on when the first argument is above 0 and the device has `switch`.
    OnWhenAboveZero,
    /// `windowShade` follows a position: 0 closed, 100 open, else partially open.
    ShadeFollows,
    /// `colorControl` attributes from the `setColor` map.
    ColorMap,
}

/// One row of the table.
#[derive(Debug)]
pub(crate) struct Row {
    pub capability: &'static str,
    pub command: &'static str,
    pub args: Args,
    pub effects: &'static [Effect],
}

const fn row(capability: &'static str, command: &'static str, args: Args, effects: &'static [Effect]) -> Row {
    Row { capability, command, args, effects }
}

const PERCENT: Args = Args::Int { min: 0.0, max: 100.0, rate: false };
const HEAT: &[(&str, &str)] =
    &[("thermostatHeatingSetpoint", "heatingSetpointRange"), ("thermostatSetpoint", "thermostatSetpointRange")];
const COOL: &[(&str, &str)] =
    &[("thermostatCoolingSetpoint", "coolingSetpointRange"), ("thermostatSetpoint", "thermostatSetpointRange")];
use Effect::{Arg, Step, Text};

/// Every command the simulator gives an effect. A capability not named here accepts any
/// command without effect (as long as the device declares it); a capability named here
/// refuses the commands it does not list, with SmartThings' 422.
pub(crate) const ROWS: &[Row] = &[
    row("switch", "on", Args::None, &[Text("switch", "on")]),
    row("switch", "off", Args::None, &[Text("switch", "off")]),
    row(
        "switchLevel",
        "setLevel",
        Args::Int { min: 0.0, max: 100.0, rate: true },
        &[Arg("level", Some("%")), Effect::OnWhenAboveZero],
    ),
    row(
        "colorTemperature",
        "setColorTemperature",
        Args::Int { min: 1.0, max: 30000.0, rate: false },
        &[Arg("colorTemperature", Some("K"))],
    ),
    row("colorControl", "setHue", Args::Num { min: 0.0, max: 100.0 }, &[Arg("hue", None)]),
    row("colorControl", "setSaturation", Args::Num { min: 0.0, max: 100.0 }, &[Arg("saturation", None)]),
    row("colorControl", "setColor", Args::ColorMap, &[Effect::ColorMap]),
    row("lock", "lock", Args::None, &[Text("lock", "locked")]),
    row("lock", "unlock", Args::None, &[Text("lock", "unlocked")]),
    row("doorControl", "open", Args::None, &[Text("door", "open")]),
    row("doorControl", "close", Args::None, &[Text("door", "closed")]),
    row("garageDoorControl", "open", Args::None, &[Text("door", "open")]),
    row("garageDoorControl", "close", Args::None, &[Text("door", "closed")]),
    row("windowShade", "open", Args::None, &[Text("windowShade", "open")]),
    row("windowShade", "close", Args::None, &[Text("windowShade", "closed")]),
    row("windowShade", "pause", Args::None, &[]),
    row("windowShadeLevel", "setShadeLevel", PERCENT, &[Arg("shadeLevel", Some("%")), Effect::ShadeFollows]),
    row(
        "thermostatMode",
        "setThermostatMode",
        Args::Choice { supported: "supportedThermostatModes" },
        &[Arg("thermostatMode", None)],
    ),
    row("thermostatMode", "heat", Args::None, &[Text("thermostatMode", "heat")]),
    row("thermostatMode", "cool", Args::None, &[Text("thermostatMode", "cool")]),
    row("thermostatMode", "auto", Args::None, &[Text("thermostatMode", "auto")]),
    row("thermostatMode", "off", Args::None, &[Text("thermostatMode", "off")]),
    row("thermostatMode", "emergencyHeat", Args::None, &[Text("thermostatMode", "emergency heat")]),
    row(
        "thermostatHeatingSetpoint",
        "setHeatingSetpoint",
        Args::Setpoint { ranges: HEAT },
        &[Arg("heatingSetpoint", None)],
    ),
    row(
        "thermostatCoolingSetpoint",
        "setCoolingSetpoint",
        Args::Setpoint { ranges: COOL },
        &[Arg("coolingSetpoint", None)],
    ),
    row(
        "thermostatFanMode",
        "setThermostatFanMode",
        Args::Choice { supported: "supportedThermostatFanModes" },
        &[Arg("thermostatFanMode", None)],
    ),
    row("thermostatFanMode", "fanAuto", Args::None, &[Text("thermostatFanMode", "auto")]),
    row("thermostatFanMode", "fanOn", Args::None, &[Text("thermostatFanMode", "on")]),
    row("thermostatFanMode", "fanCirculate", Args::None, &[Text("thermostatFanMode", "circulate")]),
    row(
        "airConditionerMode",
        "setAirConditionerMode",
        Args::Choice { supported: "supportedAcModes" },
        &[Arg("airConditionerMode", None)],
    ),
    row(
        "airConditionerFanMode",
        "setFanMode",
        Args::Choice { supported: "supportedAcFanModes" },
        &[Arg("fanMode", None)],
    ),
    // SmartThings' fanSpeed is an integer with a minimum of 0 and no maximum.
    row("fanSpeed", "setFanSpeed", Args::Int { min: 0.0, max: i32::MAX as f64, rate: false }, &[Arg("fanSpeed", None)]),
    row("mediaPlayback", "play", Args::None, &[Text("playbackStatus", "playing")]),
    row("mediaPlayback", "pause", Args::None, &[Text("playbackStatus", "paused")]),
    row("mediaPlayback", "stop", Args::None, &[Text("playbackStatus", "stopped")]),
    row("audioVolume", "setVolume", PERCENT, &[Arg("volume", Some("%"))]),
    row("audioVolume", "volumeUp", Args::None, &[Step("volume", 1)]),
    row("audioVolume", "volumeDown", Args::None, &[Step("volume", -1)]),
    row("audioMute", "mute", Args::None, &[Text("mute", "muted")]),
    row("audioMute", "unmute", Args::None, &[Text("mute", "unmuted")]),
    row("audioMute", "setMute", Args::Enum(&["muted", "unmuted"]), &[Arg("mute", None)]),
    row("refresh", "refresh", Args::None, &[]),
];

/// Whether the table names `capability` at all.
pub(crate) fn knows(capability: &str) -> bool {
    ROWS.iter().any(|r| r.capability == capability)
}

/// The row for `capability.command`.
pub(crate) fn find(capability: &str, command: &str) -> Option<&'static Row> {
    ROWS.iter().find(|r| r.capability == capability && r.command == command)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_command_is_listed_twice() {
        for (i, a) in ROWS.iter().enumerate() {
            assert!(
                ROWS[i + 1..].iter().all(|b| (a.capability, a.command) != (b.capability, b.command)),
                "{}.{} twice",
                a.capability,
                a.command
            );
        }
    }

    /// The client's catalogue (crates/thingstray/src/api/controls.rs) sends these; each
    /// must do something here, or the e2e journeys would read back nothing.
    #[test]
    fn every_command_the_app_sends_has_a_row() {
        for (cap, cmd) in [
            ("switch", "on"),
            ("lock", "unlock"),
            ("doorControl", "open"),
            ("garageDoorControl", "close"),
            ("windowShade", "pause"),
            ("windowShadeLevel", "setShadeLevel"),
            ("switchLevel", "setLevel"),
            ("colorTemperature", "setColorTemperature"),
            ("colorControl", "setColor"),
            ("thermostatMode", "setThermostatMode"),
            ("airConditionerMode", "setAirConditionerMode"),
            ("thermostatHeatingSetpoint", "setHeatingSetpoint"),
            ("thermostatCoolingSetpoint", "setCoolingSetpoint"),
            ("fanSpeed", "setFanSpeed"),
            ("mediaPlayback", "stop"),
            ("audioVolume", "setVolume"),
            ("audioMute", "unmute"),
        ] {
            assert!(find(cap, cmd).is_some(), "{cap}.{cmd}");
        }
    }
}
