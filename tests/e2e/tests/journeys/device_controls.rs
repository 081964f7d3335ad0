//! Every device shows what it is doing (issue 12): reading a sensor, a lock unlocked with
//! its confirmation and locked again, a thermostat's setpoint, the tray line following.
//! Same harness and rules as the other journeys.

use smartthings_sim::SimConfig;
use thingstray_e2e::{device_id, wait::until, App, Journey, Tray, WAIT};

use super::connected;

/// The window's row id of a device, by its label.
async fn id_of(app: &App, label: &str) -> String {
    let tid = app.js(&format!("const d=[...document.querySelectorAll('.device')].find(d => d.dataset.label === {label:?}); return d && d.dataset.testid")).await;
    device_id(tid.as_str().unwrap_or_else(|| panic!("{label} is in the window"))).to_string()
}

fn commands_sent(j: &Journey) -> u64 {
    j.sim.stats().routes.get("POST /v1/devices/{id}/commands").copied().unwrap_or(0)
}

/// Issue 12: a sensor's state line, a lock unlocked only after the window's confirmation
/// and locked again (the state read back in the window, the simulator and the tray), and
/// a thermostat setpoint within the device's range (one outside it refused by the core
/// before SmartThings is asked).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_controls() {
    let j = Journey::start("device_controls", SimConfig::default()).await;
    let app = connected(&j).await;
    let (lock, sensor, curtain) = (
        id_of(&app, "Front Door Lock").await,
        id_of(&app, "Front Door Sensor").await,
        id_of(&app, "Bedroom Curtain").await,
    );
    let thermostat = id_of(&app, "Hallway Thermostat").await;
    app.shot("loaded").await;

    // A sensor says what it reads, as the simulator has it.
    let contact = j.sim.device_attribute(&sensor, "main", "contactSensor", "contact").unwrap();
    let word = if contact == "open" { "Open" } else { "Closed" };
    app.text_until(&format!("device-{sensor}"), "the sensor's state line", |t| t.contains(word) && t.contains("°F"))
        .await;

    // The three kinds side by side for the screenshot: favorites come first.
    for id in [&lock, &thermostat, &curtain] {
        app.click(&format!("favorite-{id}")).await;
        until(WAIT, "the favorite to show", || async {
            (app.attr(&format!("favorite-{id}"), "aria-pressed").await.as_deref() == Some("true")).then_some(())
        })
        .await;
    }
    assert_eq!(app.text(&format!("lock-{lock}-value")).await, "Locked");
    assert_eq!(app.text(&format!("heat-{thermostat}-value")).await, "71 °F");
    assert_eq!(app.text(&format!("shade-{curtain}-value")).await, "Open");
    app.shot("controls").await;

    // Unlock asks first, in the window; nothing is sent until the answer.
    let sent = commands_sent(&j);
    app.click(&format!("lock-{lock}-unlock")).await;
    app.text_until(&format!("confirm-text-{lock}"), "the confirmation", |t| t == "Unlock Front Door Lock?").await;
    app.shot("unlock-asked").await;
    assert_eq!(commands_sent(&j), sent, "nothing sent before the confirmation");
    assert_eq!(j.sim.device_attribute(&lock, "main", "lock", "lock").unwrap(), "locked");
    app.click(&format!("confirm-{lock}")).await;
    until(WAIT, "the simulator to unlock", || async {
        (j.sim.device_attribute(&lock, "main", "lock", "lock")? == "unlocked").then_some(())
    })
    .await;
    app.text_until(&format!("lock-{lock}-value"), "the window to show the state read back", |t| t == "Unlocked").await;
    let tray = Tray::connect(&j.env.bus, WAIT).await;
    tray.menu_until("the tray line to say unlocked", |m| {
        m.all().iter().any(|i| i.label.starts_with("Front Door Lock · Unlocked"))
    })
    .await;

    // Locking needs no confirmation.
    app.click(&format!("lock-{lock}-lock")).await;
    until(WAIT, "the simulator to lock", || async {
        (j.sim.device_attribute(&lock, "main", "lock", "lock")? == "locked").then_some(())
    })
    .await;
    app.text_until(&format!("lock-{lock}-value"), "the window to show locked", |t| t == "Locked").await;
    tray.menu_until("the tray line to say locked", |m| {
        m.all().iter().any(|i| i.label.starts_with("Front Door Lock · Locked"))
    })
    .await;

    // A setpoint outside the device's range (40-95 °F: the ecobee reports none, so the
    // default for F) is refused by the core with its code; nothing reaches SmartThings.
    let sent = commands_sent(&j);
    let refused = app
        .js(&format!(
            "return window.__TAURI_INTERNALS__.invoke('device_command', {{connection: 'home', device: '{thermostat}', capability: 'thermostatHeatingSetpoint', command: 'setHeatingSetpoint', args: [120], confirmed: false}}).then(() => null, e => e)"
        ))
        .await;
    assert_eq!(refused["code"], "out_of_range", "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("between 40 and 95 °F"), "{refused}");
    assert_eq!(commands_sent(&j), sent);

    // Within the range: sent, and the window shows what SmartThings reads back.
    app.js(&format!("const e=document.querySelector('[data-testid=\"heat-{thermostat}\"]'); e.value=68; e.dispatchEvent(new Event('input')); e.dispatchEvent(new Event('change'));")).await;
    until(WAIT, "the setpoint command to reach the simulator", || async {
        (commands_sent(&j) == sent + 1).then_some(())
    })
    .await;
    let read_back =
        j.sim.device_attribute(&thermostat, "main", "thermostatHeatingSetpoint", "heatingSetpoint").unwrap();
    assert_eq!(read_back, 68, "the simulator applies the setpoint");
    app.text_until(&format!("heat-{thermostat}-value"), "the window to show the setpoint read back", |t| t == "68 °F")
        .await;
    app.shot("after-controls").await;
    app.close().await;
}
