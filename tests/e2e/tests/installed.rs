//! The installed package, run as a user would: `/usr/bin/thingstray-desktop` and
//! `/usr/bin/thingstray` from the .deb, in the same harness as the journeys (Xvfb, a real
//! Secret Service, WebDriver). `scripts/test-package` installs the .deb, runs these with
//! THINGSTRAY_DESKTOP_BIN and THINGSTRAY_CLI_BIN pointing into /usr/bin, then removes it;
//! without the package they are ignored.

use std::path::{Path, PathBuf};

use smartthings_sim::SimConfig;
use thingstray_e2e::driver::{cli_bin, desktop_bin};
use thingstray_e2e::{wait::until, Journey, Tray, WAIT};

const INSTALLED_APP: &str = "/usr/bin/thingstray-desktop";
const INSTALLED_CLI: &str = "/usr/bin/thingstray";

/// The harness must be pointed at the installed binaries, not at the workspace's.
fn installed() {
    assert_eq!(desktop_bin(), Path::new(INSTALLED_APP), "run through scripts/test-package (THINGSTRAY_DESKTOP_BIN)");
    assert_eq!(cli_bin(), Path::new(INSTALLED_CLI), "run through scripts/test-package (THINGSTRAY_CLI_BIN)");
}

/// The processes running `exe` in this journey's session (its settings folder in their
/// environment): proof that the window WebDriver sees is the installed program's.
fn running(exe: &str, j: &Journey) -> Vec<u32> {
    let mark = format!("THINGSTRAY_CONFIG_DIR={}", j.env.config_dir().display());
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        if std::fs::read_link(e.path().join("exe")).ok().as_deref() != Some(Path::new(exe)) {
            continue;
        }
        let env = std::fs::read(e.path().join("environ")).unwrap_or_default();
        if env.split(|b| *b == 0).any(|v| v == mark.as_bytes()) {
            out.push(pid);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the installed package: scripts/test-package"]
async fn installed_app_shows_devices_in_demo_mode() {
    installed();
    let j = Journey::start("installed_demo", SimConfig::default()).await;
    let app = j.launch(&["--demo"]).await;
    app.window("devices.html").await;
    app.shown("rooms").await;
    let n = until(WAIT, "devices in the installed app's window", || async {
        let n = app.js("return document.querySelectorAll('[data-testid^=\"device-\"]').length").await.as_u64()?;
        (n > 0).then_some(n)
    })
    .await;
    let rooms = app.js("return [...document.querySelectorAll('[data-testid^=\"room-\"]')].map(e => e.getAttribute('aria-label'))").await;
    assert!(rooms.as_array().map_or(0, Vec::len) >= 2, "rooms: {rooms}");
    assert!(!running(INSTALLED_APP, &j).is_empty(), "no {INSTALLED_APP} process in this session: the window is not the installed app's");
    app.shot("installed-devices").await;
    // The tray, through the tray library the package depends on.
    let tray = Tray::connect(&j.env).await;
    let menu = tray.menu_until("the installed app's tray to list devices", |m| m.all().iter().any(|i| i.checked.is_some())).await;
    assert!(menu.top().first().is_some_and(|s| s.starts_with("Connected")), "tray status: {:?}", menu.top());
    eprintln!("installed app: {n} devices in {} rooms, tray {:?}", rooms.as_array().unwrap().len(), menu.top().first());
    app.close().await;
}

/// Start at login, switched on in Settings of the installed app (a real account: the
/// demo refuses it), writes a login item that starts the installed binary; switched off,
/// the item goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the installed package: scripts/test-package"]
async fn installed_app_start_at_login_points_at_usr_bin() {
    installed();
    let j = Journey::start_with_home("installed_autostart", SimConfig::default()).await;
    j.connect_with_cli().await;
    let entry: PathBuf = j.env.path("home/.config/autostart/ThingsTray.desktop");
    assert!(!entry.exists(), "a login item before the switch: {}", entry.display());
    let app = j.launch(&["--open", "settings"]).await;
    app.window("settings.html").await;
    until(WAIT, "the start-at-login switch to be enabled and off", || async {
        let v = app.js("const e=document.querySelector('[data-testid=\"start-at-login\"]'); return e && !e.disabled && !e.checked").await;
        (v == serde_json::Value::Bool(true)).then_some(())
    })
    .await;
    app.click("start-at-login").await;
    let text = until(WAIT, "the login item to be written", || async { std::fs::read_to_string(&entry).ok() }).await;
    let exec = text
        .lines()
        .find_map(|l| l.strip_prefix("Exec="))
        .unwrap_or_else(|| panic!("no Exec= line in {}:\n{text}", entry.display()));
    assert_eq!(exec.split_whitespace().next(), Some(INSTALLED_APP), "the login item starts {exec:?}:\n{text}");
    assert!(text.contains("Name=ThingsTray"), "the login item's name:\n{text}");
    app.shot("installed-start-at-login").await;
    app.click("start-at-login").await;
    until(WAIT, "the login item to be removed", || async { (!entry.exists()).then_some(()) }).await;
    app.close().await;
}
