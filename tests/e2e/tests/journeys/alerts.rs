//! A device's alert (issue 29): the bell rung in the window, a door opened in the
//! simulator, and the one read of the app tells the notification daemon and a `thingstray
//! watch` beside it; a click on the notification shows the door in the window. Same
//! harness and rules as the other journeys.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;

use smartthings_sim::SimConfig;
use thingstray_e2e::driver::cli_bin;
use thingstray_e2e::notifications::Notifications;
use thingstray_e2e::{wait::until, Journey, WAIT};

/// The simulator's front and back door contact sensors (pysmartthings payloads).
const FRONT_DOOR: &str = "7d246592-93db-4d72-a10d-5a51793ece8c";
const BACK_DOOR: &str = "587e6641-3774-514e-9101-940722455d27";

/// Lines of a child's stream, as they come.
fn lines(stream: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// Issue 29: a contact sensor opened in the simulator raises a desktop notification (read
/// from the notification daemon on the journey's bus) and appears in `watch`; a click on
/// the notification brings the window to the door's row, filter cleared.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts() {
    let j = Journey::start("alerts", SimConfig::default()).await;
    let daemon = Notifications::start(&j.env).await;
    j.connect_with_cli().await;
    // The shortest poll the settings allow: the journey waits one 10 s read, not 30 s.
    std::fs::write(j.env.config_dir().join("desktop.toml"), "poll_interval_s = 10\n").unwrap();
    let app = j.launch(&["--open", "devices"]).await;
    app.window("devices.html").await;
    let bell = format!("bell-{FRONT_DOOR}");
    app.shown(&bell).await;
    assert_eq!(app.attr(&bell, "aria-pressed").await.as_deref(), Some("false"), "a door's bell starts off");
    app.click(&bell).await;
    until(WAIT, "the bell on", || async {
        (app.attr(&bell, "aria-pressed").await.as_deref() == Some("true")).then_some(())
    })
    .await;

    let mut watch = j
        .command(cli_bin())
        .args(["watch", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("thingstray watch");
    let (out, err) = (lines(watch.stdout.take().unwrap()), lines(watch.stderr.take().unwrap()));
    let hello = until(WAIT, "watch to start", || async { err.try_recv().ok() }).await;
    assert!(hello.contains("through the running app"), "watch listens to the app's reads: {hello}");

    // Something else on screen: the click must bring the door back.
    app.type_into("filter", "zzz").await;
    let reads = || j.sim.stats().routes.get("GET /v1/devices").copied().unwrap_or(0);
    let before = reads();
    j.sim.set_device_status(FRONT_DOOR, "main", "contactSensor", "contact", serde_json::json!("open"), None).unwrap();
    let shown = until(WAIT, "the door's notification", || async {
        daemon.shown().into_iter().find(|n| n.summary == "Front Door Sensor opened")
    })
    .await;
    assert!(shown.body.contains("open"), "{shown:?}");
    assert!(shown.actions.iter().any(|a| a == "default"), "a click opens the window: {:?}", shown.actions);
    let line = until(WAIT, "the change in watch", || async { out.try_recv().ok() }).await;
    let change: serde_json::Value = serde_json::from_str(&line).expect("watch --json prints JSON");
    assert_eq!((change["device_id"].as_str(), change["new"].as_str()), (Some(FRONT_DOOR), Some("open")), "{change}");
    let alerts = daemon.shown().into_iter().filter(|n| n.summary.contains("Front Door")).count();
    assert_eq!(alerts, 1, "one notification for one change");
    // One poller: the notification and the watch line came from the app's reads (the
    // window's and the tray's, at one interval), never a read of watch's own.
    let made = reads() - before;
    assert!(made <= 3, "{made} device reads in one change's time");

    daemon.click(shown.id).await;
    until(WAIT, "the door's row in focus", || async {
        (app.focused().await.as_deref() == Some(format!("device-{FRONT_DOOR}").as_str())).then_some(())
    })
    .await;
    assert_eq!(app.js("return document.querySelector('[data-testid=\"filter\"]').value").await, "", "filter cleared");
    app.shot("alert-clicked").await;

    // With the device window closed, a click opens a new one at the device (the place
    // to go is set before its page runs). Settings stays open: WebDriver needs a window.
    let back_bell = format!("bell-{BACK_DOOR}");
    app.click(&back_bell).await;
    until(WAIT, "the back door's bell on", || async {
        (app.attr(&back_bell, "aria-pressed").await.as_deref() == Some("true")).then_some(())
    })
    .await;
    app.js("window.__TAURI_INTERNALS__.invoke('open_window', {which: 'settings'}); return 0").await;
    app.window("settings.html").await;
    app.js("window.__TAURI_INTERNALS__.invoke('open_window', {which: 'devices'}); return 0").await;
    app.window("devices.html").await;
    // The answer would come from a window that is gone: ask, and do not wait for it.
    app.js("setTimeout(() => window.__TAURI_INTERNALS__.invoke('close_window'), 0); return 0").await;
    until(WAIT, "the device window closed", || async {
        (!app.pages().await.iter().any(|p| p.ends_with("devices.html"))).then_some(())
    })
    .await;
    j.sim.set_device_status(BACK_DOOR, "main", "contactSensor", "contact", serde_json::json!("open"), None).unwrap();
    let back = until(WAIT, "the back door's notification", || async {
        daemon.shown().into_iter().find(|n| n.summary == "Back Door Sensor opened")
    })
    .await;
    daemon.click(back.id).await;
    app.window("devices.html").await;
    until(WAIT, "the back door's row in focus in the new window", || async {
        (app.focused().await.as_deref() == Some(format!("device-{BACK_DOOR}").as_str())).then_some(())
    })
    .await;
    app.shot("alert-opened-the-window").await;
    let _ = watch.kill();
    let _ = watch.wait();
    app.close().await;
}
