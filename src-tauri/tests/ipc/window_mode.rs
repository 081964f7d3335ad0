//! Window mode (issue 30): a window process (`--window`) holds no desktop; the core's
//! commands go to the resident, whose agent `set_desktop` started here as the tray does.

use serde_json::json;
use tauri::test::{mock_builder, MockRuntime};
use tauri::App;
use thingstray_desktop::Shell;

use super::{denied, env, invoke, redirect_of, signed_in, window};

/// Waits for the agent `set_desktop` started (as the resident tray starts it) to answer.
fn until_serving(paths: &thingstray::config::Paths) {
    thingstray_testkit::wait::poll_blocking(std::time::Duration::from_secs(10), "the resident's agent", || {
        let asked = thingstray::agent::client::status(paths, std::time::Duration::from_secs(1));
        tauri::async_runtime::block_on(asked).is_ok()
    });
}

/// A window process (`--window`, issue 30) over `shell`: no desktop of its own.
fn window_process(resident: &std::path::Path) -> App<MockRuntime> {
    let shell = Shell::default();
    shell.set_resident(thingstray::config::Paths::at(resident));
    thingstray_desktop::builder(mock_builder(), shell).build(tauri::generate_context!()).unwrap()
}

#[test]
fn a_window_process_asks_the_resident_for_the_cores_commands_and_keeps_the_capabilities() {
    // The resident: a signed-in desktop whose agent `set_desktop` started, as the tray does.
    let (resident, _wizard) = signed_in();
    let paths = resident.desktop.paths().clone();
    until_serving(&paths);

    let app = window_process(&paths.dir);
    let w = window(&app, "devices");
    let list = invoke(&w, "cached_devices", json!({"connection": "demo"})).unwrap();
    assert_eq!(list["connection"], "demo", "{list}");
    // A refusal arrives as the resident gave it.
    let refused = invoke(&w, "cached_devices", json!({"connection": "cabin"})).unwrap_err();
    assert_eq!(refused["code"], "unknown_connection", "{refused}");
    // A switch is carried out by the resident, and its read-back comes back here.
    let row = list["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["devices"].as_array().unwrap().iter())
        .find(|d| d["can_switch"] == true && d["online"] != false)
        .expect("a switch")
        .clone();
    let id = row["id"].as_str().unwrap();
    let on = row["switch"] != true;
    let back = invoke(&w, "switch_device", json!({"connection": "demo", "device": id, "on": on})).unwrap();
    assert_eq!(back["switch"], on, "{back}");
    let read = resident.sim.device_attribute(id, "main", "switch", "switch").unwrap();
    assert_eq!(read == "on", on, "the simulator has it");
    // The capabilities still decide first: the device window may not reveal the secret.
    assert!(denied(invoke(&w, "reveal_server_secret", json!({}))));
    // What the windows show of the app is the resident's: its tray hears clicks.
    let info = invoke(&w, "app_info", json!({})).unwrap();
    assert_eq!((info["connections"].as_u64(), info["tray_clicks"].as_bool()), (Some(1), Some(true)), "{info}");
    assert!(info["vault"].as_str().is_some(), "{info}");
}

#[test]
fn a_window_process_without_its_resident_says_so() {
    let nobody = tempfile::tempdir().unwrap();
    let app = window_process(nobody.path());
    let w = window(&app, "devices");
    let gone = invoke(&w, "connections", json!({})).unwrap_err();
    assert_eq!(gone["code"], "shell", "{gone}");
    assert!(gone["message"].as_str().unwrap().contains("Start ThingsTray again"), "{gone}");
}

#[test]
fn a_window_process_signs_in_through_the_resident_and_passes_its_refusal_on() {
    use tauri::Manager;
    // The resident: its desktop set, a sign-in not done yet.
    let resident = env();
    let paths = resident.desktop.paths().clone();
    until_serving(&paths);
    let app = window_process(&paths.dir);
    let wizard = window(&app, "wizard");
    // Begun at the resident; this process keeps what its sign-in window needs.
    let start = invoke(&wizard, "sign_in_again", json!({"connection": "demo"})).unwrap();
    let url = start["authorize_url"].as_str().unwrap().to_string();
    let kept = app.state::<Shell>().resident_sign_in().expect("the sign-in kept");
    assert_eq!((kept.0.as_str(), kept.1.as_str()), (url.as_str(), start["redirect_uri"].as_str().unwrap()));
    assert!(thingstray::oauth::is_redirect_to(&kept.1, &redirect_of(&url)), "the window would catch it");

    // A forged answer: the resident's refusal, its code as it gave it; still pending.
    let answer = redirect_of(&url);
    let forged = answer.replace("state=", "state=x");
    let refused = invoke(&wizard, "finish_sign_in", json!({ "answer": forged })).unwrap_err();
    assert_eq!(refused["code"], "state_mismatch", "{refused}");
    assert_eq!(resident.desktop.sign_in_pending().as_deref(), Some("demo"));

    let done = invoke(&wizard, "finish_sign_in", json!({ "answer": answer })).unwrap();
    assert_eq!(done["connection"], "demo", "{done}");
    assert!(done["device_count"].as_u64().unwrap() >= 10, "{done}");
    assert!(app.state::<Shell>().resident_sign_in().is_none(), "forgotten once done");
    assert_eq!(resident.desktop.tray().state, thingstray::desktop::TrayState::Connected);
    // The demo is a resident of its own: a window process does not start one.
    assert_eq!(invoke(&wizard, "start_demo", json!({})).unwrap_err()["code"], "shell");
}
