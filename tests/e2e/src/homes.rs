//! Simulator homes for journeys that need a device the default home lacks.

use std::path::{Path, PathBuf};

/// The default home plus a thermostat with setpoints (the default home's Netatmo reports
/// no setpoint and no mode list): the ecobee payload from pysmartthings' fixtures
/// (crates/thingstray/tests/fixtures/NOTICE.md), in the Hallway of the first location.
pub fn home_with_a_thermostat(dir: &Path) -> PathBuf {
    let home = dir.join("home");
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crates/smartthings-sim/home");
    for sub in ["", "devices", "device_status"] {
        std::fs::create_dir_all(home.join(sub)).unwrap();
        for f in std::fs::read_dir(from.join(sub)).unwrap().flatten().filter(|f| f.path().is_file()) {
            std::fs::copy(f.path(), home.join(sub).join(f.file_name())).unwrap();
        }
    }
    let device = serde_json::json!({
        "deviceId": THERMOSTAT, "label": "Hallway Thermostat", "name": "ecobee thermostat",
        "locationId": "397678e5-9995-4a39-9d9f-ae6ba310236b", "roomId": "56facb71-c419-54b4-a6a4-8b9c7906c137",
        "components": [{"id": "main", "capabilities": [
            {"id": "temperatureMeasurement"}, {"id": "relativeHumidityMeasurement"}, {"id": "thermostatHeatingSetpoint"},
            {"id": "thermostatCoolingSetpoint"}, {"id": "thermostatMode"}, {"id": "thermostatOperatingState"}]}],
    });
    std::fs::write(home.join("devices/hallway_thermostat.json"), device.to_string()).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crates/thingstray/tests/fixtures/device_status/ecobee_thermostat.json"),
        home.join("device_status/hallway_thermostat.json"),
    )
    .unwrap();
    home
}

pub const THERMOSTAT: &str = "e1000000-0000-4000-8000-00000000e0be";

