//! The device kinds beyond lights: what the default home holds, the commands' real
//! semantics (ranges and choices the device reports), and the narrower status reads.

use crate::common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use smartthings_sim::Sim;

async fn send(sim: &Sim, token: &str, id: &str, commands: Value) -> (StatusCode, Value) {
    api_post(sim, &http(), token, &format!("/devices/{id}/commands"), &json!({ "commands": commands })).await
}

#[tokio::test]
async fn the_default_home_has_every_kind_the_tray_reads() {
    let sim = auto_sim().await;
    let http = http();
    let token = access(&login(&sim, &http).await);
    let (_, body) = api_get(&sim, &http, &token, "/devices").await;
    let devices = body["items"].as_array().unwrap();
    let with = |cap: &str| {
        devices
            .iter()
            .filter(|d| {
                d["components"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|c| c["capabilities"].as_array().unwrap().iter().any(|k| k["id"] == cap))
            })
            .count()
    };
    for cap in [
        "lock",
        "contactSensor",
        "motionSensor",
        "relativeHumidityMeasurement",
        "temperatureMeasurement",
        "thermostatHeatingSetpoint",
        "airConditionerMode",
        "windowShade",
        "windowShadeLevel",
        "garageDoorControl",
        "colorControl",
        "samsungce.washerOperatingState",
        "dryerOperatingState",
        "mediaPlayback",
        "audioVolume",
        "fanSpeed",
        "waterSensor",
        "powerMeter",
        "energyMeter",
        "battery",
    ] {
        assert!(with(cap) > 0, "no device in the default home has {cap}");
    }
}

#[tokio::test]
async fn commands_of_every_kind_change_what_is_read_back() {
    let sim = auto_sim().await;
    let token = access(&login(&sim, &http()).await);
    let read = |id: &str, cap: &str, attr: &str| sim.device_attribute(id, "main", cap, attr);
    let steps: &[(&str, Value, (&str, &str), Value)] = &[
        (
            HALLWAY_THERMOSTAT,
            cmd("thermostatHeatingSetpoint", "setHeatingSetpoint", json!([68])),
            ("thermostatHeatingSetpoint", "heatingSetpoint"),
            json!(68),
        ),
        (
            HALLWAY_THERMOSTAT,
            cmd("thermostatMode", "setThermostatMode", json!(["cool"])),
            ("thermostatMode", "thermostatMode"),
            json!("cool"),
        ),
        (
            BEDROOM_AC,
            cmd("thermostatCoolingSetpoint", "setCoolingSetpoint", json!([22])),
            ("thermostatCoolingSetpoint", "coolingSetpoint"),
            json!(22),
        ),
        (
            BEDROOM_AC,
            cmd("airConditionerMode", "setAirConditionerMode", json!(["dry"])),
            ("airConditionerMode", "airConditionerMode"),
            json!("dry"),
        ),
        (
            BEDROOM_AC,
            cmd("airConditionerFanMode", "setFanMode", json!(["high"])),
            ("airConditionerFanMode", "fanMode"),
            json!("high"),
        ),
        (GARAGE_DOOR, cmd("garageDoorControl", "open", json!([])), ("garageDoorControl", "door"), json!("open")),
        (GARAGE_DOOR, cmd("garageDoorControl", "close", json!([])), ("garageDoorControl", "door"), json!("closed")),
        (
            LIVING_ROOM_BLINDS,
            cmd("windowShadeLevel", "setShadeLevel", json!([100])),
            ("windowShade", "windowShade"),
            json!("open"),
        ),
        (
            LIVING_ROOM_BLINDS,
            cmd("windowShadeLevel", "setShadeLevel", json!([30])),
            ("windowShade", "windowShade"),
            json!("partially open"),
        ),
        (CEILING_FAN, cmd("fanSpeed", "setFanSpeed", json!([3])), ("fanSpeed", "fanSpeed"), json!(3)),
        (
            KITCHEN_SPEAKER,
            cmd("mediaPlayback", "pause", json!([])),
            ("mediaPlayback", "playbackStatus"),
            json!("paused"),
        ),
        (KITCHEN_SPEAKER, cmd("audioVolume", "setVolume", json!([40])), ("audioVolume", "volume"), json!(40)),
        (KITCHEN_SPEAKER, cmd("audioVolume", "volumeUp", json!([])), ("audioVolume", "volume"), json!(41)),
        (KITCHEN_SPEAKER, cmd("audioMute", "mute", json!([])), ("audioMute", "mute"), json!("muted")),
    ];
    for (id, command, (cap, attr), want) in steps {
        let (status, body) = send(&sim, &token, id, json!([command])).await;
        assert_eq!(status, StatusCode::OK, "{command}: {body}");
        assert_eq!(read(id, cap, attr).as_ref(), Some(want), "{command}");
    }
    // A setpoint keeps the unit the device reports (the ecobee is in Fahrenheit).
    let (_, st) = api_get(&sim, &http(), &token, &format!("/devices/{HALLWAY_THERMOSTAT}/status")).await;
    assert_eq!(st["components"]["main"]["thermostatHeatingSetpoint"]["heatingSetpoint"]["unit"], "F");
}

#[tokio::test]
async fn what_the_device_does_not_support_is_refused_and_nothing_changes() {
    let sim = auto_sim().await;
    let token = access(&login(&sim, &http()).await);
    let cases = [
        // The Samsung AC reports 16-30 °C in custom.thermostatSetpointControl.
        (
            BEDROOM_AC,
            cmd("thermostatCoolingSetpoint", "setCoolingSetpoint", json!([31])),
            "commands[0].arguments[0]: must have a maximum value of 30",
        ),
        (
            BEDROOM_AC,
            cmd("thermostatCoolingSetpoint", "setCoolingSetpoint", json!([15.5])),
            "commands[0].arguments[0]: must have a minimum value of 16",
        ),
        (
            BEDROOM_AC,
            cmd("airConditionerMode", "setAirConditionerMode", json!(["turbo"])),
            "commands[0].arguments[0]: must be one of [cool, dry, wind, auto, heat]",
        ),
        (
            HALLWAY_THERMOSTAT,
            cmd("thermostatMode", "setThermostatMode", json!(["heat"])),
            "commands[0].arguments[0]: must be one of [off, cool, auxheatonly, auto]",
        ),
        (
            HALLWAY_THERMOSTAT,
            cmd("thermostatHeatingSetpoint", "setHeatingSetpoint", json!(["warm"])),
            "commands[0].arguments[0]: must be of type number",
        ),
        (
            GARAGE_DOOR,
            cmd("garageDoorControl", "toggle", json!([])),
            "commands[0].command: 'toggle' is not a valid command for capability 'garageDoorControl'",
        ),
        (
            KITCHEN_SPEAKER,
            cmd("audioVolume", "setVolume", json!([101])),
            "commands[0].arguments[0]: must have a maximum value of 100",
        ),
        (
            CEILING_FAN,
            cmd("fanSpeed", "setFanSpeed", json!([-1])),
            "commands[0].arguments[0]: must have a minimum value of 0",
        ),
    ];
    for (id, command, message) in cases {
        let status_of = || async { api_get(&sim, &http(), &token, &format!("/devices/{id}/status")).await.1 };
        let before = status_of().await;
        let (status, body) = send(&sim, &token, id, json!([command])).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{command}");
        assert_eq!(body["error"]["code"], "ConstraintViolationError");
        assert_eq!(body["error"]["details"][0]["message"], message);
        assert_eq!(status_of().await, before, "a refused command changed {id}");
    }
}

#[tokio::test]
async fn one_components_and_one_capabilitys_status() {
    let sim = auto_sim().await;
    let http = http();
    let token = access(&login(&sim, &http).await);
    let (_, whole) = api_get(&sim, &http, &token, &format!("/devices/{WASHER}/status")).await;
    // Under /v1 and at the root, as the other routes (a real `_links.next` lacked /v1).
    for root in [sim.api_url(), sim.base_url()] {
        let base = format!("{root}/devices/{WASHER}/components");
        let (status, main) = api_get(&sim, &http, &token, &format!("{base}/main/status")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(main, whole["components"]["main"]);
        let (status, cap) =
            api_get(&sim, &http, &token, &format!("{base}/main/capabilities/samsungce.washerOperatingState/status"))
                .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(cap, whole["components"]["main"]["samsungce.washerOperatingState"]);
        let (status, hca) = api_get(&sim, &http, &token, &format!("{base}/hca.main/status")).await;
        assert_eq!((status, &hca), (StatusCode::OK, &whole["components"]["hca.main"]));
        for (path, message) in
            [("attic/status", "Component not found"), ("main/capabilities/lock/status", "Capability not found")]
        {
            let (status, body) = api_get(&sim, &http, &token, &format!("{base}/{path}")).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
            assert_eq!(body["error"]["message"], message);
        }
    }
    // Another location's device stays forbidden on the narrower reads too.
    let (status, _) =
        api_get(&sim, &http, &token, &format!("/devices/{LOUNGE_LAMP_TEST_HOME}/components/main/status")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
