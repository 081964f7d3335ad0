//! The device window by keyboard alone (issue 29). Same harness and rules as the other
//! journeys.

use fantoccini::key::Key;
use smartthings_sim::SimConfig;
use thingstray_e2e::{device_id, wait::until, Journey, WAIT};

use super::{connected, switch_in_sim};

/// Issue 29: the device window by keyboard alone. It opens with the focus in the filter;
/// typing finds a light, ArrowDown enters the list, Enter switches it; 1 runs the first
/// shortcut (a scene: no favourites yet); Escape clears the filter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyboard() {
    let j = Journey::start("keyboard", SimConfig::default()).await;
    let app = connected(&j).await;
    until(WAIT, "the focus in the filter", || async {
        (app.focused().await.as_deref() == Some("filter")).then_some(())
    })
    .await;
    let (id, label) = {
        let v = app
            .js("const d=[...document.querySelectorAll('.device')].find(d => d.querySelector('input.switch:not([disabled])')); return [d.dataset.testid, d.dataset.label]")
            .await;
        (device_id(v[0].as_str().expect("a switchable device")).to_string(), v[1].as_str().unwrap().to_string())
    };
    let before = switch_in_sim(&j, &id).expect("it has a switch");
    app.keys(&label).await;
    until(WAIT, "the filter to narrow the list", || async {
        let labels = app.js("return [...document.querySelectorAll('.device')].map(d => d.dataset.label)").await;
        let labels: Vec<&str> = labels.as_array()?.iter().filter_map(|l| l.as_str()).collect();
        (labels.contains(&label.as_str()) && labels.len() < 10).then_some(())
    })
    .await;
    let down = char::from(Key::Down).to_string();
    let mut on = app.keys(&down).await;
    assert!(on.as_deref().is_some_and(|t| t.starts_with("device-")), "ArrowDown enters the list: {on:?}");
    for _ in 0..10 {
        if on.as_deref() == Some(format!("device-{id}").as_str()) {
            break;
        }
        on = app.keys(&down).await;
    }
    assert_eq!(on.as_deref(), Some(format!("device-{id}").as_str()), "arrows reach the device");
    let aria = app.attr(&format!("device-{id}"), "aria-label").await.unwrap_or_default();
    assert!(aria.starts_with(&label) && aria.len() > label.len(), "a screen reader hears the name and state: {aria:?}");
    app.keys(&char::from(Key::Enter).to_string()).await;
    until(WAIT, "Enter to switch the device", || async { (switch_in_sim(&j, &id) == Some(!before)).then_some(()) })
        .await;
    app.shot("switched-by-keyboard").await;

    app.keys(&char::from(Key::Escape).to_string()).await;
    assert_eq!(
        app.js("return document.querySelector('[data-testid=\"filter\"]').value").await,
        "",
        "Escape clears the filter"
    );
    let first_scene = app
        .js("const b=document.querySelector('[data-testid^=\"scene-\"][aria-keyshortcuts=\"1\"]'); return b && b.dataset.testid.slice(6)")
        .await;
    let first_scene = first_scene.as_str().expect("the first scene is shortcut 1").to_string();
    // From a row (not the filter, where 1 is typed).
    app.js(&format!("document.querySelector('[data-testid=\"device-{id}\"]').focus()")).await;
    app.keys("1").await;
    until(WAIT, "1 to run the scene", || async {
        (j.sim.stats().scene_executions.get(&first_scene) == Some(&1)).then_some(())
    })
    .await;
    app.close().await;
}

/// Issue 29: Settings records a system-wide shortcut to the device window, registered with
/// the real X server (Xvfb here) before it is saved, and turns it off again. The key presses
/// are the page's keydown events (WebDriver's own carry no reliable `code`); a press of the
/// shortcut from another app needs an X client that sends keys, which the journeys have not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_shortcut() {
    let j = Journey::start("global_shortcut", SimConfig::default()).await;
    let app = connected(&j).await;
    app.click("open-settings").await;
    app.window("settings.html").await;
    app.shown("shortcut").await;
    assert_eq!(app.text("shortcut-current").await, "Off", "off until set");
    let press = |code: &str, key: &str, mods: &str| {
        format!(
            "document.dispatchEvent(new KeyboardEvent('keydown', {{ code: '{code}', key: '{key}', {mods} bubbles: true, cancelable: true }})); return null"
        )
    };
    app.click("shortcut-record").await;
    app.text_until("shortcut-current", "recording", |t| t.contains("Esc cancels")).await;
    // A modifier alone keeps listening; a letter with Shift only is refused, still listening.
    app.js(&press("ShiftLeft", "Shift", "shiftKey: true,")).await;
    app.js(&press("KeyK", "K", "shiftKey: true,")).await;
    app.text_until("shortcut-problem", "Shift+K refused", |t| t.contains("every other app")).await;
    app.js(&press("KeyK", "k", "ctrlKey: true, shiftKey: true,")).await;
    app.text_until("shortcut-current", "the shortcut shown", |t| t == "Ctrl+Shift+K").await;
    assert_eq!(app.text("shortcut-problem").await, "");
    let prefs = j.env.config_dir().join("desktop.toml");
    let saved = || std::fs::read_to_string(&prefs).unwrap_or_default();
    thingstray_e2e::wait::poll_blocking(WAIT, "the shortcut to be saved", || {
        saved().contains("global_shortcut = \"CommandOrControl+Shift+K\"")
    });
    app.shot("shortcut-recorded").await;

    // Escape while recording keeps the saved one.
    app.click("shortcut-record").await;
    app.js(&press("Escape", "Escape", "")).await;
    app.text_until("shortcut-current", "the recording cancelled", |t| t == "Ctrl+Shift+K").await;

    app.click("shortcut-off").await;
    app.text_until("shortcut-current", "the shortcut off", |t| t == "Off").await;
    thingstray_e2e::wait::poll_blocking(WAIT, "the shortcut to be removed", || !saved().contains("global_shortcut"));
    assert!(!j.log().contains("keyboard shortcut is not active"), "{}", j.log());
}
