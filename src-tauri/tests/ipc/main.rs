//! The IPC surface on Tauri's mock runtime, with the app's real config and capabilities:
//! each window reaches exactly the commands its capability grants, errors arrive as
//! `{code, message}`, and a switch returns the state read back from the simulator.

use std::sync::Arc;

use secrecy::SecretString;
use serde_json::{json, Value};
use smartthings_sim::{Sim, SimConfig};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, MockRuntime, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{App, WebviewWindow, WebviewWindowBuilder};
use thingstray::config::ConnectionSettings;
use thingstray::desktop::{Desktop, SignInStart};
use thingstray_desktop::Shell;

struct Env {
    app: App<MockRuntime>,
    sim: Sim,
    _dir: tempfile::TempDir,
    desktop: Arc<Desktop>,
    start: SignInStart,
}

fn env() -> Env {
    let app = thingstray_desktop::builder(mock_builder(), Shell::default())
        .build(tauri::generate_context!())
        .expect("the app builds on the mock runtime");
    let sim =
        tauri::async_runtime::block_on(Sim::start(SimConfig { auto_approve: true, ..SimConfig::default() })).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let client = sim.client().clone();
    let settings = ConnectionSettings::at(&client.client_id, &client.redirect_uris[0], sim.api_url(), sim.auth_url());
    let (desktop, start) = tauri::async_runtime::block_on(Desktop::open_demo(
        dir.path(),
        settings,
        SecretString::from(client.client_secret),
    ))
    .unwrap();
    thingstray_desktop::set_desktop(app.handle(), desktop.clone(), None);
    Env { app, sim, _dir: dir, desktop, start }
}

fn window(app: &App<MockRuntime>, label: &str) -> WebviewWindow<MockRuntime> {
    WebviewWindowBuilder::new(app, label, Default::default()).build().unwrap()
}

fn invoke(w: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Result<Value, Value> {
    get_ipc_response(
        w,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().unwrap(),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|b| b.deserialize::<Value>().unwrap())
}

/// What the sign-in window's navigation hook would catch.
fn redirect_of(url: &str) -> String {
    tauri::async_runtime::block_on(async {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let resp = http.get(url).send().await.unwrap();
        resp.headers()["location"].to_str().unwrap().to_string()
    })
}

/// Refused by the capabilities (not by the command itself).
fn denied(r: Result<Value, Value>) -> bool {
    matches!(&r, Err(Value::String(m)) if m.contains("not allowed"))
}

fn signed_in() -> (Env, WebviewWindow<MockRuntime>) {
    let e = env();
    let wizard = window(&e.app, "wizard");
    let answer = redirect_of(&e.start.authorize_url);
    let done = invoke(&wizard, "finish_sign_in", json!({ "answer": answer })).unwrap();
    assert_eq!(done["connection"], "demo");
    assert!(done["device_count"].as_u64().unwrap() >= 10, "{done}");
    (e, wizard)
}

#[test]
fn the_wizard_checks_fields_with_the_core() {
    let e = env();
    let wizard = window(&e.app, "wizard");
    let problems = invoke(
        &wizard,
        "check_setup",
        json!({ "form": { "client_id": "nope", "client_secret": "", "redirect_uri": "http://example.com/cb" } }),
    )
    .unwrap();
    let fields: Vec<&str> = problems.as_array().unwrap().iter().map(|p| p["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["client_id", "client_secret", "redirect_uri"]);
    let answers = invoke(&wizard, "setup_answers", json!({})).unwrap();
    assert_eq!(answers["answers"][0]["answer"], "OAuth-In App");
}

#[test]
fn a_switch_returns_the_state_read_back_and_errors_are_code_and_message() {
    let (e, _wizard) = signed_in();
    let devices = window(&e.app, "devices");
    let list = invoke(&devices, "devices", json!({ "connection": "demo" })).unwrap();
    let rows: Vec<&Value> =
        list["rooms"].as_array().unwrap().iter().flat_map(|r| r["devices"].as_array().unwrap()).collect();
    let lamp = rows.iter().find(|r| r["label"] == "Living Room Lamp").unwrap();
    let want = lamp["switch"] != json!(true);
    let row =
        invoke(&devices, "switch_device", json!({ "connection": "demo", "device": lamp["id"], "on": want })).unwrap();
    assert_eq!(row["switch"], json!(want));
    let level =
        invoke(&devices, "set_level", json!({ "connection": "demo", "device": lamp["id"], "level": 30 })).unwrap();
    assert_eq!(level["level"], 30);

    // The generic control call: an unconfirmed unlock is refused as `{code, message}`;
    // confirmed, the state read back comes with the row's controls.
    let lock = rows.iter().find(|r| r["label"] == "Front Door Lock").unwrap();
    let unlock = json!({ "connection": "demo", "device": lock["id"], "capability": "lock", "command": "unlock", "args": [], "confirmed": false });
    let err = invoke(&devices, "device_command", unlock.clone()).unwrap_err();
    assert_eq!(err["code"], "needs_confirmation", "{err}");
    let mut confirmed = unlock;
    confirmed["confirmed"] = json!(true);
    let row = invoke(&devices, "device_command", confirmed).unwrap();
    assert_eq!(row["locked"], false);
    let control = row["controls"].as_array().unwrap().iter().find(|c| c["key"] == "lock").unwrap().clone();
    assert_eq!((control["kind"].as_str(), control["value"].as_str()), (Some("buttons"), Some("unlocked")));
    assert_eq!(control["commands"][1], json!({ "command": "unlock", "label": "Unlock", "confirm": true }));

    let err =
        invoke(&devices, "switch_device", json!({ "connection": "demo", "device": "no-such-device", "on": true }))
            .unwrap_err();
    assert!(err["code"].is_string() && err["message"].is_string(), "{err}");
    let err = invoke(&devices, "devices", json!({ "connection": "cabin" })).unwrap_err();
    assert_eq!(err["code"], "unknown_connection");

    let summaries = invoke(&devices, "connections", json!({})).unwrap();
    assert_eq!(summaries[0]["status"]["state"], "connected");
    assert!(summaries[0]["status_line"].as_str().unwrap().starts_with("Connected · token valid"));
    // Nothing returned over IPC carries a token.
    let (grant, _) = tauri::async_runtime::block_on(e.desktop.token_for_copy("demo")).unwrap();
    for v in [&list, &summaries] {
        assert!(!v.to_string().contains(grant.secret()));
    }
}

#[test]
fn each_window_reaches_only_the_commands_it_uses() {
    let (e, wizard) = signed_in();
    let devices = window(&e.app, "devices");
    let settings = window(&e.app, "settings");
    // The sign-in webview (SmartThings' pages) gets no command at all, under either of
    // its labels (`signin-2`: one opened while the last is still going away).
    for label in ["signin", "signin-2"] {
        let sign_in = window(&e.app, label);
        for cmd in ["connections", "devices", "app_info", "copy_token", "finish_sign_in", "pat_help", "check_app"] {
            let r = invoke(&sign_in, cmd, json!({ "connection": "demo", "answer": "x", "pat": "x" }));
            assert!(denied(r.clone()), "{label} reached {cmd}: {r:?}");
        }
    }
    // The device window cannot set up connections or sign out; the wizard cannot switch.
    assert!(denied(invoke(&devices, "start_setup", json!({ "form": {} }))));
    assert!(denied(invoke(&devices, "sign_out", json!({ "connection": "demo" }))));
    assert!(denied(invoke(&wizard, "switch_device", json!({ "connection": "demo", "device": "x", "on": true }))));
    assert!(denied(invoke(&settings, "copy_token", json!({ "connection": "demo" }))));
    assert!(denied(invoke(&devices, "plugin:clipboard-manager|write_text", json!({ "text": "x" }))));
    // And each reaches its own.
    assert!(invoke(&devices, "cached_devices", json!({ "connection": "demo" })).is_ok());
    assert!(invoke(&settings, "settings", json!({})).is_ok());
    assert!(invoke(&wizard, "app_info", json!({})).is_ok());
}

/// Issue 29: the modes come with the device list; `set_mode` is the device window's only,
/// and a sign-in without `w:locations:*` gets `{code, message}` saying how to add it.
#[test]
fn the_device_window_reads_and_sets_the_location_mode() {
    let (e, wizard) = signed_in();
    let devices = window(&e.app, "devices");
    let list = invoke(&devices, "devices", json!({ "connection": "demo" })).unwrap();
    assert_eq!(list["modes"]["current"]["name"], "Home", "{}", list["modes"]);
    let away = list["modes"]["modes"][1]["id"].clone();
    let args = json!({ "connection": "demo", "mode": away });
    assert!(denied(invoke(&wizard, "set_mode", args.clone())));
    let err = invoke(&devices, "set_mode", args).unwrap_err();
    assert_eq!(err["code"], "scope_missing", "{err}");
    assert!(err["message"].as_str().unwrap().contains("w:locations:*"), "{err}");
    let err = invoke(&devices, "set_mode", json!({ "connection": "demo", "mode": "no-such-mode" })).unwrap_err();
    assert_eq!(err["code"], "bad_request", "{err}");
}

#[test]
fn favorites_and_poll_interval_are_saved() {
    let (e, _wizard) = signed_in();
    let devices = window(&e.app, "devices");
    let settings = window(&e.app, "settings");
    let s = invoke(&devices, "set_favorite", json!({ "connection": "demo", "device": "abc", "on": true })).unwrap();
    assert_eq!(s["connections"]["demo"]["favorites"], json!(["abc"]));
    let err = invoke(&settings, "set_poll_interval", json!({ "seconds": 1 })).unwrap_err();
    assert_eq!(err["code"], "invalid_setting");
    let s = invoke(&settings, "set_poll_interval", json!({ "seconds": 60 })).unwrap();
    assert_eq!(s["poll_interval_s"], 60);
    let err = invoke(&settings, "set_tray_refresh", json!({ "seconds": 5 })).unwrap_err();
    assert_eq!(err["code"], "invalid_setting");
    assert!(
        denied(invoke(&devices, "set_tray_refresh", json!({ "seconds": 300 }))),
        "the device window has no say in it"
    );
    let s = invoke(&settings, "set_tray_refresh", json!({ "seconds": 300 })).unwrap();
    assert_eq!((s["tray_refresh_s"].as_u64(), s["poll_interval_s"].as_u64()), (Some(300), Some(60)));
    assert_eq!(invoke(&settings, "set_tray_refresh", json!({ "seconds": 0 })).unwrap()["tray_refresh_s"], 0);
}

#[test]
fn the_settings_window_renames_and_runs_the_token_server() {
    let (e, _wizard) = signed_in();
    let devices = window(&e.app, "devices");
    let settings = window(&e.app, "settings");
    // Only the settings window reaches these; the secret above all.
    for cmd in [
        "rename_connection",
        "token_server",
        "set_token_server",
        "reveal_server_secret",
        "copy_server_secret",
        "rotate_server_secret",
    ] {
        let r = invoke(&devices, cmd, json!({ "connection": "demo", "name": "x", "on": true, "port": 8765 }));
        assert!(denied(r.clone()), "devices reached {cmd}: {r:?}");
    }

    let err = invoke(&settings, "rename_connection", json!({ "connection": "demo", "name": "a b" })).unwrap_err();
    assert_eq!(err["code"], "invalid_setting");
    let renamed = invoke(&settings, "rename_connection", json!({ "connection": "demo", "name": "cabin" })).unwrap();
    assert_eq!(renamed["name"], "cabin");
    assert_eq!(e.desktop.connection_names(), ["cabin"]);

    let off = invoke(&settings, "token_server", json!({})).unwrap();
    assert_eq!(off["running"], false);
    let err = invoke(&settings, "set_token_server", json!({ "on": true, "port": 80 })).unwrap_err();
    assert_eq!(err["code"], "invalid_setting");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let on = invoke(&settings, "set_token_server", json!({ "on": true, "port": port })).unwrap();
    assert_eq!(on["running"], true, "{on}");
    assert_eq!(on["serving"], "cabin");
    let secret = invoke(&settings, "reveal_server_secret", json!({})).unwrap();
    assert_eq!(secret.as_str().unwrap().len(), 64);
    assert!(!on.to_string().contains(secret.as_str().unwrap()));
    let off = invoke(&settings, "set_token_server", json!({ "on": false, "port": port })).unwrap();
    assert_eq!(off["running"], false);
}

#[test]
fn other_computers_are_reached_from_the_settings_and_the_wizard_only() {
    let (e, wizard) = signed_in();
    let devices = window(&e.app, "devices");
    let settings = window(&e.app, "settings");
    let args = json!({ "on": true, "address": "127.0.0.1", "port": 8766, "name": "x", "invite": "x" });
    for cmd in ["share_status", "set_sharing", "share_invite", "paired_computers", "revoke_computer", "connect_invite"]
    {
        assert!(denied(invoke(&devices, cmd, args.clone())), "devices reached {cmd}");
    }
    // Sharing is the owner's business (settings); pairing this computer is the wizard's.
    for cmd in ["set_sharing", "share_invite", "revoke_computer"] {
        assert!(denied(invoke(&wizard, cmd, args.clone())), "the wizard reached {cmd}");
    }
    assert!(denied(invoke(&settings, "connect_invite", args.clone())));

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let err =
        invoke(&settings, "set_sharing", json!({ "on": true, "address": "my laptop", "port": port })).unwrap_err();
    assert_eq!(err["code"], "invalid_setting");
    let on = invoke(&settings, "set_sharing", json!({ "on": true, "address": "127.0.0.1", "port": port })).unwrap();
    assert_eq!(on["running"], true, "{on}");
    assert_eq!(on["at"], format!("127.0.0.1:{port}"));
    let line = invoke(&settings, "share_invite", json!({ "name": null })).unwrap();
    assert!(line.as_str().unwrap().starts_with("thingstray://pair?"), "{line}");
    assert_eq!(invoke(&settings, "paired_computers", json!({})).unwrap(), json!([]));
    let err = invoke(&settings, "revoke_computer", json!({ "name": "nope" })).unwrap_err();
    assert_eq!(err["code"], "unknown_paired_computer");
    let err = invoke(&wizard, "connect_invite", json!({ "invite": "https://example.com", "computerName": null }))
        .unwrap_err();
    assert_eq!(err["code"], "invite_invalid");
    assert!(err["message"].as_str().unwrap().contains("thingstray://pair?"), "{err}");
    let off = invoke(&settings, "set_sharing", json!({ "on": false, "address": "127.0.0.1", "port": port })).unwrap();
    assert_eq!(off["running"], false);
}

/// Issue 24: the wizard creates the app with a pasted personal access token and signs in
/// with it; the wizard and Settings check and repair it; the device window reaches none of
/// it; the token never comes back over IPC.
#[test]
fn the_app_is_created_checked_and_repaired_with_a_pasted_token() {
    let (e, wizard) = signed_in();
    let devices = window(&e.app, "devices");
    let settings = window(&e.app, "settings");
    let pat = e.sim.mint_pat(&["r:apps:*", "w:apps:*", "r:installedapps:*"], std::time::Duration::from_secs(3600));
    for cmd in ["pat_help", "open_pat_page", "create_app", "check_app", "repair_app"] {
        let r = invoke(&devices, cmd, json!({ "form": {}, "connection": "demo", "pat": pat, "newSecret": false }));
        assert!(denied(r.clone()), "devices reached {cmd}: {r:?}");
    }
    assert!(
        denied(invoke(&settings, "create_app", json!({ "form": { "pat": pat } }))),
        "Settings creates no connection"
    );

    for w in [&wizard, &settings] {
        let help = invoke(w, "pat_help", json!({})).unwrap();
        assert_eq!(help["page"], "https://account.smartthings.com/tokens");
        let scopes: Vec<&str> =
            help["boxes"].as_array().unwrap().iter().map(|b| b["scope"].as_str().unwrap()).collect();
        assert_eq!(scopes, ["r:apps:*", "w:apps:*", "r:installedapps:*"]);
        assert!(help["display_name"].as_str().unwrap().starts_with("ThingsTray"), "{help}");
    }

    // Refusals are {code, message}, before and at SmartThings, and never repeat the token.
    let form = |pat: &str| json!({ "form": { "pat": pat, "display_name": "", "api_url": e.sim.api_url(), "auth_url": e.sim.auth_url() } });
    let err = invoke(&wizard, "create_app", form("short")).unwrap_err();
    assert_eq!(err["code"], "pat_malformed", "{err}");
    let dead = "5f3c8e1a-9b2d-4c7e-8a6f-0d1e2f3a4b5c";
    let err = invoke(&wizard, "create_app", form(dead)).unwrap_err();
    assert_eq!(err["code"], "pat_rejected", "{err}");
    assert!(!err.to_string().contains(dead));

    // Created: the sign-in starts like start_setup's and finishes on the one path.
    let start = invoke(&wizard, "create_app", form(&pat)).unwrap();
    let connection = start["connection"].as_str().unwrap().to_string();
    assert_eq!(start["redirect_uri"], "https://thingstray.invalid/callback");
    let done =
        invoke(&wizard, "finish_sign_in", json!({ "answer": redirect_of(start["authorize_url"].as_str().unwrap()) }))
            .unwrap();
    assert_eq!(done["connection"], connection.as_str());

    let check = invoke(&settings, "check_app", json!({ "connection": connection, "pat": pat })).unwrap();
    assert_eq!(check["matches"], true, "{check}");
    assert_eq!(check["registered_redirect_uris"], json!(["https://thingstray.invalid/callback"]));
    let err = invoke(&settings, "check_app", json!({ "connection": connection, "pat": dead })).unwrap_err();
    assert_eq!(err["code"], "pat_rejected", "{err}");
    // The argument names ui/ipc.js sends (`newSecret`), from both windows.
    let fixed =
        invoke(&wizard, "repair_app", json!({ "connection": connection, "pat": pat, "newSecret": false })).unwrap();
    assert_eq!(
        (fixed["changed"].as_array().map(Vec::len), fixed["new_secret"].as_bool()),
        (Some(0), Some(false)),
        "{fixed}"
    );
    let renewed =
        invoke(&settings, "repair_app", json!({ "connection": connection, "pat": pat, "newSecret": true })).unwrap();
    assert_eq!(renewed["new_secret"], true, "{renewed}");
    for v in [&start, &done, &check, &fixed, &renewed] {
        assert!(!v.to_string().contains(&pat), "a reply holds the token: {v}");
    }
    // The new secret ended the sign-in: "Sign in again" starts a new one.
    let again = invoke(&wizard, "sign_in_again", json!({ "connection": connection })).unwrap();
    assert!(again["authorize_url"].as_str().unwrap().contains("client_id="), "{again}");
}

/// Issue 29: the shortcut to the device window is set from Settings only, checked by the
/// core, registered with the system before it is saved, and a refused one changes nothing.
#[test]
fn the_keyboard_shortcut_is_registered_before_it_is_saved() {
    use tauri::Manager;
    use tauri_plugin_global_shortcut::GlobalShortcut;
    let e = env();
    let settings = window(&e.app, "settings");
    let devices = window(&e.app, "devices");
    // Not one this test's machine is likely to need while it runs.
    let combo = "CommandOrControl+Alt+Shift+K";
    let set = |shortcut: Value| invoke(&settings, "set_global_shortcut", json!({ "shortcut": shortcut }));
    let saved = || invoke(&settings, "settings", json!({})).unwrap()["global_shortcut"].clone();
    assert!(denied(invoke(&devices, "set_global_shortcut", json!({ "shortcut": combo }))));
    assert_eq!(saved(), Value::Null, "off until set");

    // A system without global shortcuts (no plugin): said so, nothing saved; off still works.
    let err = set(json!(combo)).unwrap_err();
    assert_eq!(err["code"], "shell", "{err}");
    assert!(err["message"].as_str().unwrap().contains("no global shortcuts"), "{err}");
    assert_eq!(saved(), Value::Null);
    assert_eq!(set(Value::Null).unwrap()["global_shortcut"], Value::Null);

    thingstray_desktop::install_global_shortcut(e.app.handle());
    let registered = |s: &str| e.app.state::<GlobalShortcut<MockRuntime>>().is_registered(s);
    let err = set(json!("Control+Shift")).unwrap_err();
    assert_eq!(err["code"], "invalid_setting", "the core's check: {err}");
    let s = set(json!(" ctrl+alt+shift+k ")).unwrap();
    assert_eq!(s["global_shortcut"], "Control+Alt+Shift+K", "kept in the core's spelling");
    assert!(registered("Control+Alt+Shift+K"));
    let s = set(json!(combo)).unwrap();
    assert_eq!(s["global_shortcut"], combo);
    assert_eq!(e.desktop.settings().global_shortcut.as_deref(), Some(combo));

    // The core lets `Hyper` through as a key; the plugin knows no such key: refused as
    // {code, message}, and the saved shortcut stays saved and registered.
    let err = set(json!("Control+Alt+Hyper")).unwrap_err();
    assert_eq!(err["code"], "invalid_setting", "{err}");
    assert!(err["message"].as_str().unwrap().contains("did not take Control+Alt+Hyper"), "{err}");
    assert_eq!(saved(), combo);
    assert!(registered(combo));

    // Turned off (blank or null): removed from the system and the settings.
    assert_eq!(set(json!("  ")).unwrap()["global_shortcut"], Value::Null);
    assert!(!registered(combo));
    assert_eq!(e.desktop.settings().global_shortcut, None);
}

/// Window mode (issue 30): a window process asking the resident.
mod window_mode;
