//! The split (issue 30), measured: the resident tray (`thingstray-tray`, no GTK, no WebKit),
//! signed in as the desktop section's app is (a file vault in a settings folder of its own,
//! the simulator in this process, every bell off), under a fresh Xvfb and a private session
//! bus, as the floor's bare trays are;
//! then a panel's left click (`Activate` over D-Bus), which starts the window process
//! (`thingstray-desktop --window`); then that process ends, as it does when its last
//! window closes. PSS of the resident's process tree (the window process is its child)
//! at each step.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::desktop::{self, Desk, Kill};
use crate::floor::{dbus_args, libraries, registered};

pub(crate) struct Split {
    /// PSS and RSS, MiB, before any window.
    pub tray: (f64, f64),
    /// PSS with the device window open: the resident and the window process.
    pub open: f64,
    /// PSS and RSS after the window process ended.
    pub closed: (f64, f64),
    /// From the click to the window's web process running.
    pub click_to_web: Duration,
    /// GTK, WebKitGTK or appindicator in the resident alone (none is the point).
    pub libraries: Vec<&'static str>,
}

/// The processes of `root`'s tree whose command line holds `needle`.
fn with_arg(root: u32, needle: &str) -> Vec<u32> {
    desktop::tree(root)
        .into_iter()
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .is_ok_and(|c| c.split(|b| *b == 0).any(|a| a == needle.as_bytes()))
        })
        .collect()
}

fn named(root: u32, comm: &str) -> bool {
    desktop::tree(root)
        .iter()
        .any(|p| std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == comm))
}

/// Polls `check` every 50 ms for up to 30 s (pacing for a measurement, not a test).
async fn within(what: &str, mut check: impl FnMut() -> bool) -> Result<(), String> {
    let t0 = Instant::now();
    while !check() {
        if t0.elapsed() > Duration::from_secs(30) {
            return Err(format!("{what}: not within 30 s"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

pub(crate) async fn measure(tray: &Path, window: &Path, settle: Duration) -> Result<Split, String> {
    for (bin, what) in [(tray, "thingstray-tray"), (window, "thingstray-desktop")] {
        if !bin.exists() {
            return Err(format!("{what} is not built ({})", bin.display()));
        }
    }
    let desk = Desk::start()?;
    let world = crate::world::World::start(smartthings_sim::SimConfig::default()).await;
    // Every bell off, the leak sensor's default one too: the resting figure is the tray's own.
    let all = crate::alerts::devices(&world).await.map_err(|e| format!("the devices: {e}"))?;
    let rung: Vec<&thingstray::api::Device> = all.iter().filter(|d| thingstray::alerts::default_on(d)).collect();
    crate::alerts::bells(&world, &[], &rung).map_err(|e| format!("desktop.toml: {e}"))?;
    let mut cmd = desk.app(tray, &[], Some(world.dir()));
    cmd.env("THINGSTRAY_DESKTOP", window);
    let app = cmd.spawn().map_err(|e| format!("{}: {e}", tray.display()))?;
    let root = app.id();
    let _app = Kill(vec![app]);
    let mut item = None;
    within("the resident's tray item on the bus", || {
        item = registered(&desk.bus, root);
        item.is_some()
    })
    .await?;
    let (name, path) = item.expect("found above");
    tokio::time::sleep(settle).await; // settle (pacing, not a test)
    let tray_mem = (desktop::pss_mib(root), desktop::rss_mib(root));
    let libs = libraries(root);

    let t0 = Instant::now();
    dbus_args(&desk.bus, &name, &path, "org.kde.StatusNotifierItem.Activate", &["int32:0", "int32:0"])
        .ok_or("the tray did not take the click (Activate)")?;
    within("the window's web process", || named(root, "WebKitWebProces") || named(root, "WebKitWebProcess")).await?;
    let click_to_web = t0.elapsed();
    tokio::time::sleep(settle).await;
    let open = desktop::pss_mib(root);

    // The window process ends as when its last window closes.
    for pid in with_arg(root, "--window") {
        let _ = Command::new("kill").arg(pid.to_string()).status();
    }
    within("the window process to end", || desktop::tree(root).len() == 1).await?;
    tokio::time::sleep(settle).await;
    let closed = (desktop::pss_mib(root), desktop::rss_mib(root));
    Ok(Split { tray: tray_mem, open, closed, click_to_web, libraries: libs })
}
