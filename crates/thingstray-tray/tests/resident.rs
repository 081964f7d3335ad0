//! The resident, as a user's desktop meets it: the real program on the session bus
//! (`scripts/test` runs every test under `scripts/with-keyring`, which gives one), its tray
//! read and clicked over D-Bus as a panel does, the simulator in its `--demo`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use thingstray::config::Paths;
use thingstray_testkit::tray::{Item, Tray};
use thingstray_testkit::wait::{poll_blocking, until};

const WAIT: Duration = Duration::from_secs(30);

fn bus() -> String {
    std::env::var("DBUS_SESSION_BUS_ADDRESS")
        .ok()
        .filter(|b| !b.is_empty())
        .expect("no session bus: run the tests under scripts/with-keyring (scripts/test does)")
}

/// The resident under test; killed if the test fails before it quits.
struct Resident {
    child: Child,
    /// Where the stand-in window program writes its arguments and settings folder.
    windows: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Resident {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `thingstray-tray --demo` with a stand-in for the window program, which records
/// how it was started (one line per window asked for).
fn start() -> Resident {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let windows = dir.path().join("windows.log");
    let fake = dir.path().join("thingstray-desktop");
    std::fs::write(&fake, format!("#!/bin/sh\necho \"$THINGSTRAY_CONFIG_DIR $*\" >> '{}'\n", windows.display()))
        .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_thingstray-tray"))
        .arg("--demo")
        .env("THINGSTRAY_DESKTOP", &fake)
        .env_remove("THINGSTRAY_CONFIG_DIR")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .spawn()
        .expect("thingstray-tray starts");
    Resident { child, windows, _dir: dir }
}

fn checks(menu: &Item) -> Vec<&Item> {
    menu.all().into_iter().filter(|i| i.checked.is_some() && i.enabled).collect()
}

fn windows_asked(r: &Resident) -> Vec<String> {
    std::fs::read_to_string(&r.windows).unwrap_or_default().lines().map(str::to_string).collect()
}

/// The libraries the process has mapped, by file name.
fn mapped(pid: u32) -> Vec<String> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let mut libs: Vec<String> = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter_map(|p| Path::new(p).file_name().map(|f| f.to_string_lossy().into_owned()))
        .collect();
    libs.sort();
    libs.dedup();
    libs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_resident_tray_shows_the_devices_switches_one_opens_windows_and_quits_without_gtk_or_webkit() {
    let mut r = start();
    let pid = r.child.id();
    let tray = Tray::connect_pid(&bus(), r.child.id(), WAIT).await;

    // The demo signs in by itself; then the devices are in the menu, as check items.
    let menu = tray.menu_until("the demo's devices in the tray", |m| checks(m).len() > 5).await;
    assert!(menu.find("Quit ThingsTray").is_some(), "{:?}", menu.top());

    // A click on a switch is carried out and the menu shows the state read back.
    let light = *checks(&menu).iter().find(|i| i.checked == Some(false)).expect("a device that is off");
    let (id, name) = (light.id, light.label.clone());
    tray.click(id).await;
    tray.menu_until(&format!("{name} on in the menu"), |m| {
        m.all().iter().any(|i| i.label == name && i.checked == Some(true))
    })
    .await;

    // A left click on the icon opens the device window: the window program is started,
    // told this resident's settings folder (the demo's), whose agent answers it.
    tray.activate().await;
    let asked = until(WAIT, "a window started", || async { windows_asked(&r).first().cloned() }).await;
    let (dir, args) = asked.split_once(' ').expect("folder and arguments");
    assert_eq!(args, "--window --open devices");
    let answer = thingstray::agent::window::call(&Paths::at(dir), "connections", serde_json::json!({}), WAIT)
        .await
        .expect("the resident's agent")
        .expect("an answer");
    assert!(answer.to_string().contains("demo"), "{answer}");

    // "Settings…" opens the settings window the same way.
    let settings = tray.menu().await.all().into_iter().find(|i| i.label.starts_with("Settings")).map(|i| i.id);
    tray.click(settings.expect("a Settings item")).await;
    until(WAIT, "the settings window started", || async {
        windows_asked(&r).iter().any(|l| l.ends_with("--window --open settings")).then_some(())
    })
    .await;

    // No browser engine and no GTK in this process: that is the point of it (issue 30).
    let libs = mapped(pid);
    assert!(libs.iter().any(|l| l.starts_with("libc.so")), "the maps are read: {libs:?}");
    let heavy: Vec<String> = libs
        .into_iter()
        .filter(|l| ["libgtk", "libgdk", "libwebkit", "libjavascriptcore", "libsoup"].iter().any(|h| l.starts_with(h)))
        .collect();
    assert!(heavy.is_empty(), "the resident maps {heavy:?}");

    // Quit from the menu: the process ends by itself, successfully, and leaves the bus.
    let quit = tray.menu().await.find("Quit ThingsTray").map(|i| i.id).unwrap();
    tray.click_to_quit(quit).await;
    tray.gone("the resident leaving the bus").await;
    poll_blocking(WAIT, "the resident to exit", || r.child.try_wait().unwrap().is_some());
    let status = r.child.wait().unwrap();
    assert!(status.success(), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_resident_for_the_same_settings_says_so_and_leaves_the_first_serving() {
    let r = start();
    let tray = Tray::connect_pid(&bus(), r.child.id(), WAIT).await;
    tray.menu_until("the demo's devices in the tray", |m| checks(m).len() > 5).await;
    tray.activate().await;
    let asked = until(WAIT, "a window started", || async { windows_asked(&r).first().cloned() }).await;
    let dir = asked.split_once(' ').unwrap().0.to_string();
    // The demo's settings folder, as a second launch would find the user's.
    let second = Command::new(env!("CARGO_BIN_EXE_thingstray-tray"))
        .env("THINGSTRAY_CONFIG_DIR", &dir)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(second.status.success(), "{:?}", second);
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(said.contains("already running"), "{said}");
    let answer = thingstray::agent::window::call(&Paths::at(&dir), "connections", serde_json::json!({}), WAIT)
        .await
        .expect("the first resident still serves")
        .expect("an answer");
    assert!(answer.to_string().contains("demo"), "{answer}");
}
