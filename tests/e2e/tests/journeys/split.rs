//! The tray without WebKit (issue 30): the resident tray (`thingstray-tray`) holds the
//! session; a window process (`thingstray-desktop --window`, started here by WebDriver as
//! the resident would start it) asks it for everything. Same harness and rules as the
//! other journeys.

use std::process::Stdio;

use smartthings_sim::SimConfig;
use thingstray_e2e::driver::tray_bin;
use thingstray_e2e::{wait::until, Journey, Tray, WAIT};

use super::switch_shown;

/// Kills the resident if the journey fails before it quits.
struct Resident(std::process::Child);

impl Drop for Resident {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Whether the process maps GTK or WebKit (its maps read, or the journey fails).
fn maps_gui(pid: u32) -> bool {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).expect("the resident's maps");
    assert!(maps.contains("libc.so"), "the maps are read");
    ["libgtk", "libgdk", "libwebkit", "libjavascriptcore"].iter().any(|l| maps.contains(l))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split() {
    let j = Journey::start("split", SimConfig::default()).await;
    j.connect_with_cli().await;
    // The resident, as the login item starts it. The windows of this journey are
    // WebDriver's, so the ones it would start itself go nowhere.
    let log = std::fs::File::create(j.env.path("tray.log")).unwrap();
    let mut c = j.command(tray_bin());
    c.env("THINGSTRAY_DESKTOP", "/bin/true").stdin(Stdio::null()).stdout(Stdio::null()).stderr(log);
    let mut resident = Resident(c.spawn().expect("thingstray-tray starts"));
    let pid = resident.0.id();
    let tray = Tray::connect_pid(&j.env.bus, pid, WAIT).await;
    tray.menu_until("the devices in the resident's tray", |m| {
        m.all().iter().filter(|i| i.checked.is_some()).count() > 5
    })
    .await;

    // A window process: it holds no session, so everything it shows is the resident's.
    let app = j.launch(&["--window", "--open", "devices"]).await;
    app.window("devices.html").await;
    app.shown("rooms").await;
    let id = until(WAIT, "a switch in the window", || async {
        app.js("return [...document.querySelectorAll('input[data-testid^=\"switch-\"]:not([disabled])')].map(e => e.dataset.testid.slice(7))[0]")
            .await
            .as_str()
            .map(str::to_string)
    })
    .await;
    let label = app
        .js(&format!("return document.querySelector('[data-testid=\"device-{id}\"]').dataset.label"))
        .await
        .as_str()
        .expect("the row's label")
        .to_string();
    app.shot("window-of-the-resident").await;

    // From the window: the resident carries it out; its own tray shows it.
    let before = switch_shown(&app, &id).await.0;
    app.click(&format!("switch-{id}")).await;
    until(WAIT, "the simulator to have the window's switch", || async {
        ((j.sim.device_attribute(&id, "main", "switch", "switch")? == "on") != before).then_some(())
    })
    .await;
    let menu = tray
        .menu_until("the resident's tray to show the window's switch", |m| {
            m.all().iter().any(|i| i.label == label && i.checked == Some(!before))
        })
        .await;

    // From the tray: the window follows the resident (its changed ticks).
    let item = menu.all().into_iter().find(|i| i.label == label).map(|i| i.id).unwrap();
    tray.click(item).await;
    until(WAIT, "the window to follow the tray's switch", || async {
        (switch_shown(&app, &id).await == (before, false)).then_some(())
    })
    .await;
    assert_eq!(j.sim.device_attribute(&id, "main", "switch", "switch").unwrap() == "on", before);
    app.shot("followed-the-tray").await;

    // GTK and WebKit are in the window process only.
    assert!(!maps_gui(pid), "the resident maps GTK or WebKitGTK");
    // One sign-in in all (the CLI's), and no second session: the window asked the resident.
    assert_eq!(j.grants().0, 1, "code exchanges");

    app.close().await;
    // Quit from the resident's tray ends it cleanly.
    let quit = tray.menu().await.find("Quit ThingsTray").map(|i| i.id).unwrap();
    tray.click_to_quit(quit).await;
    tray.gone("the resident leaving the bus").await;
    thingstray_e2e::wait::poll_blocking(WAIT, "the resident to exit", || resident.0.try_wait().unwrap().is_some());
    assert!(resident.0.wait().unwrap().success());
}
