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

/// `thingstray-desktop --demo` as a new user runs it from the menu or a terminal: started
/// directly (not through WebDriver: the demo opens its first window only once its
/// simulator runs, and WebDriver needs a window at launch), checked through the tray it
/// puts on the session bus, which lists the demo home's devices once it is signed in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the installed package: scripts/test-package"]
async fn installed_app_shows_devices_in_demo_mode() {
    installed();
    let j = Journey::start("installed_demo", SimConfig::default()).await;
    let log = std::fs::File::create(j.env.path("installed-demo.log")).unwrap();
    let _app = Stopped(
        j.command(INSTALLED_APP)
            .arg("--demo")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("the installed app starts"),
    );
    let tray = Tray::connect(&j.env.bus, WAIT).await;
    let menu = tray
        .menu_until("the installed demo's tray to list devices", |m| {
            m.top().first().is_some_and(|s| s.starts_with("Connected")) && m.all().iter().any(|i| i.checked.is_some())
        })
        .await;
    let switches = menu.all().iter().filter(|i| i.checked.is_some()).count();
    assert!(switches >= 3, "the demo home's switches in the tray: {:?}", menu.top());
    assert!(
        !running(INSTALLED_APP, &j).is_empty(),
        "no {INSTALLED_APP} process in this session: the tray is not the installed app's"
    );
    let said = std::fs::read_to_string(j.env.path("installed-demo.log")).unwrap_or_default();
    assert!(said.contains("demo mode: simulator started"), "the installed app's log:\n{said}");
    eprintln!("installed demo: tray {:?}, {switches} switches", menu.top().first());
}

/// The app started outside WebDriver, stopped however the test ends.
struct Stopped(std::process::Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
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
