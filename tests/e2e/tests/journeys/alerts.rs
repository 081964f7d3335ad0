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

/// The simulator's front door contact sensor (a pysmartthings payload).
const FRONT_DOOR: &str = "7d246592-93db-4d72-a10d-5a51793ece8c";

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
    let _ = watch.kill();
    let _ = watch.wait();
    app.close().await;
}
