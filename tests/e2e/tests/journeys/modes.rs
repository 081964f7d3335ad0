//! Location modes from the device window and the tray (issue 29). Same harness and rules
//! as the other journeys.

use fantoccini::key::Key;
use serde_json::Value;
use smartthings_sim::SimConfig;
use thingstray_e2e::{wait::until, App, Journey, Tray, WAIT};

/// The usual scopes and `w:locations:*`, which changing the mode needs.
const WITH_WRITE: &str = "r:devices:* x:devices:* r:locations:* w:locations:* r:scenes:* x:scenes:*";

/// The location's mode as SmartThings has it, through `thingstray mode --json`.
fn mode_in_sim(j: &Journey) -> String {
    let out = j.cli(&["mode", "--json"], None);
    assert!(out.status.success(), "thingstray mode: {}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("mode --json");
    v["current"]["name"].as_str().expect("a current mode").to_string()
}

/// The window's mode buttons: (testid, label, pressed).
async fn buttons(app: &App) -> Vec<(String, String, bool)> {
    let v = app
        .js("return [...document.querySelectorAll('[data-testid=\"mode-buttons\"] button')].map(b => [b.dataset.testid, b.textContent, b.getAttribute('aria-pressed') === 'true'])")
        .await;
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|b| (b[0].as_str().unwrap().into(), b[1].as_str().unwrap().into(), b[2].as_bool().unwrap()))
                .collect()
        })
        .unwrap_or_default()
}

async fn pressed_until(app: &App, label: &str) {
    until(WAIT, &format!("{label} pressed in the window"), || async {
        buttons(app).await.iter().any(|(_, l, on)| l == label && *on).then_some(())
    })
    .await;
}

/// Issue 29: the window shows the location's modes with the current one pressed; a click
/// changes it (SmartThings, the window and the tray agree), and so does a click in the
/// tray's "Mode" submenu, and Enter on a mode button.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn location_modes() {
    let j = Journey::start("location_modes", SimConfig::default()).await;
    j.connect_with_cli_in(None, &["--scopes", WITH_WRITE]).await;
    let app = j.launch(&["--open", "devices"]).await;
    app.window("devices.html").await;
    app.shown("modes").await;
    pressed_until(&app, "Home").await;
    let shown = buttons(&app).await;
    let labels: Vec<&str> = shown.iter().map(|(_, l, _)| l.as_str()).collect();
    assert_eq!(labels, ["Home", "Away", "Night"]);
    assert_eq!(mode_in_sim(&j), "Home");
    let testid = |label: &str| shown.iter().find(|(_, l, _)| l == label).unwrap().0.clone();
    app.shot("modes").await;

    // A click in the window: SmartThings, the window and the tray follow.
    app.click(&testid("Away")).await;
    pressed_until(&app, "Away").await;
    assert_eq!(mode_in_sim(&j), "Away");
    let tray = Tray::connect(&j.env.bus, WAIT).await;
    let menu = tray.menu_until("the tray to say Away", |m| m.all().iter().any(|i| i.label == "Mode: Away")).await;
    let night = menu.find("Night").expect("Night in the Mode submenu").clone();
    assert_eq!(menu.find("Away").and_then(|i| i.checked), Some(true));
    assert_eq!(night.checked, Some(false));

    // A click in the tray: the window follows (it is told of the change).
    tray.click(night.id).await;
    pressed_until(&app, "Night").await;
    assert_eq!(mode_in_sim(&j), "Night");
    tray.menu_until("the tray to say Night", |m| m.all().iter().any(|i| i.label == "Mode: Night")).await;

    // By keyboard: Enter on a focused mode button.
    app.js(&format!("document.querySelector('[data-testid=\"{}\"]').focus()", testid("Home"))).await;
    app.keys(&char::from(Key::Enter).to_string()).await;
    pressed_until(&app, "Home").await;
    assert_eq!(mode_in_sim(&j), "Home");
    assert_eq!(app.focused().await.as_deref(), Some(testid("Home").as_str()), "the focus stays on the mode");
    app.shot("after-modes").await;
    app.close().await;
}
