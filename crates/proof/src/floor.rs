//! The floor (issue 30): what a tray costs at the least, beside what ThingsTray's costs.
//! Two bare apps from crates/proof/floor (a Tauri 2 tray and a `ksni` StatusNotifierItem
//! tray, each an icon and a one-item menu, built in the desktop-release profile) are started
//! one at a time, each under a fresh Xvfb and a private session bus (desktop.rs's `Desk`),
//! as the desktop section starts the real app. Each is measured once its tray item is on
//! the bus, after a settle: PSS of its whole process tree, from /proc/PID/smaps_rollup.
//!
//! The targets are the issue's, for the resident tray once windows move to a second
//! process: at most 0.5x the bare Tauri tray and within 2x the bare ksni tray. They are
//! reported, never fatal; today's single-process app is not expected to meet them.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::desktop::{self, Desk, Kill, Memory};
use crate::report::Section;

const TITLE: &str = "The floor (issue 30): a bare Tauri tray, a bare ksni tray, ThingsTray";
/// The interface a panel looks for; libayatana-appindicator (Tauri on Linux) and ksni both
/// export it, with no StatusNotifierWatcher needed.
const SNI: &str = "org.kde.StatusNotifierItem";
/// The targets for the resident tray.
const VS_TAURI: f64 = 0.5;
const VS_KSNI: f64 = 2.0;

pub fn skipped(reason: &str) -> Section {
    let mut s = Section::new(TITLE);
    s.skipped("The bare trays' memory beside ThingsTray's", reason);
    s
}

/// Where ThingsTray's own figures come from: this run's desktop section, or figures given
/// on the command line (the last report's), named in the section's text.
pub struct Resident {
    pub memory: Memory,
    pub source: String,
}

/// One bare tray, measured.
struct Bare {
    pss: f64,
    rss: f64,
    /// Processes outside the tree that mapped GTK 3 or WebKitGTK at the time.
    sharers: usize,
    processes: usize,
    /// How long from the start until the item was on the bus, and where.
    registered: Duration,
    path: String,
    libraries: Vec<&'static str>,
}

/// `dbus-send` on the private bus: the proof has no D-Bus library of its own, and the
/// floor needs only three read-only calls.
pub(crate) fn dbus(bus: &str, dest: &str, path: &str, method: &str, arg: Option<&str>) -> Option<String> {
    dbus_args(bus, dest, path, method, arg.as_slice())
}

/// [`dbus`] with several arguments (`int32:0`, `string:x`).
pub(crate) fn dbus_args(bus: &str, dest: &str, path: &str, method: &str, args: &[&str]) -> Option<String> {
    let mut c = Command::new("dbus-send");
    c.env("DBUS_SESSION_BUS_ADDRESS", bus)
        .args(["--session", "--print-reply", "--reply-timeout=1000", "--type=method_call"])
        .arg(format!("--dest={dest}"))
        .args([path, method]);
    c.args(args);
    let out = c.output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The `string "..."` values of a dbus-send reply (names, or one XML document).
fn strings(reply: &str) -> Vec<String> {
    reply.split("string \"").skip(1).filter_map(|r| r.rsplit_once('"').map(|x| x.0.to_string())).collect()
}

/// The object path under which `dest` exports a StatusNotifierItem: a walk of its object
/// tree from `/` (ksni serves `/StatusNotifierItem`, libayatana-appindicator
/// `/org/ayatana/NotificationItem/<id>`; the walk needs to know neither).
fn item_path(bus: &str, dest: &str) -> Option<String> {
    let mut todo = vec![("/".to_string(), 0)];
    while let Some((path, depth)) = todo.pop() {
        let Some(xml) = dbus(bus, dest, &path, "org.freedesktop.DBus.Introspectable.Introspect", None) else {
            continue;
        };
        let xml = strings(&xml).concat();
        // The node's own interfaces come before its children, which zbus writes out in
        // full: only that part says whether this path is the item.
        let own = xml.split("<node name=\"").next().unwrap_or_default();
        if own.contains(&format!("<interface name=\"{SNI}\"")) {
            return Some(path);
        }
        if depth < 5 {
            for node in xml.split("<node name=\"").skip(1).filter_map(|r| r.split('"').next()) {
                let child = if path == "/" { format!("/{node}") } else { format!("{path}/{node}") };
                todo.push((child, depth + 1));
            }
        }
    }
    None
}

/// The tray item of any process in `root`'s tree, once it is on the bus: its bus name
/// and object path.
pub(crate) fn registered(bus: &str, root: u32) -> Option<(String, String)> {
    let names = dbus(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus.ListNames", None)?;
    let ours = desktop::tree(root);
    strings(&names).into_iter().filter(|n| n.starts_with(':')).find_map(|name| {
        let pid = dbus(
            bus,
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.GetConnectionUnixProcessID",
            Some(&format!("string:{name}")),
        )?;
        let pid: u32 = pid.split("uint32 ").nth(1)?.trim().parse().ok()?;
        if !ours.contains(&pid) {
            return None;
        }
        item_path(bus, &name).map(|path| (name, path))
    })
}

/// Processes outside `root`'s tree mapping GTK 3 or WebKitGTK (another session's app, a
/// test run): PSS splits those libraries' pages with them, so the Tauri figure drops
/// while they run (a bare Tauri tray read 57 and 86 MiB a few minutes apart).
pub(crate) fn sharers(root: u32) -> usize {
    let ours = desktop::tree(root);
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|p| !ours.contains(p))
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/maps"))
                .is_ok_and(|m| m.contains("libgtk-3") || m.contains("libwebkit2gtk"))
        })
        .count()
}

/// Which of the toolkits issue 30 wants out of the resident process the tree has mapped.
pub(crate) fn libraries(root: u32) -> Vec<&'static str> {
    let maps: String =
        desktop::tree(root).iter().filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/maps")).ok()).collect();
    [("libgtk-3", "GTK 3"), ("libwebkit2gtk", "WebKitGTK"), ("libayatana-appindicator", "appindicator")]
        .into_iter()
        .filter(|(lib, _)| maps.contains(lib))
        .map(|(_, name)| name)
        .collect()
}

async fn measure(bin: &Path, settle: Duration) -> Result<Bare, String> {
    // Without it every look at the bus fails, which would read as a tray that never showed.
    Command::new("dbus-send").arg("--help").output().map_err(|e| format!("dbus-send (package dbus-bin): {e}"))?;
    let desk = Desk::start()?;
    let t0 = Instant::now();
    let app = desk.app(bin, &[], None).spawn().map_err(|e| format!("{}: {e}", bin.display()))?;
    let root = app.id();
    let _app = Kill(vec![app]);
    // dbus-send is a process per call: every 100 ms is plenty for a start of ~1 s.
    let (path, registered) = loop {
        if let Some((_, p)) = registered(&desk.bus, root) {
            break (p, t0.elapsed());
        }
        if t0.elapsed() > Duration::from_secs(30) {
            return Err(format!("no {SNI} on the bus 30 s after the start"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(settle).await; // settle (pacing, not a test)
    Ok(Bare {
        pss: desktop::pss_mib(root),
        rss: desktop::rss_mib(root),
        // Only a tree that maps them shares their pages.
        sharers: if libraries(root).is_empty() { 0 } else { sharers(root) },
        processes: desktop::tree(root).len(),
        registered,
        path,
        libraries: libraries(root),
    })
}

fn bare_row(s: &mut Section, figure: &str, bare: &Result<Bare, String>) {
    match bare {
        Ok(b) => s.info(
            figure,
            format!(
                "{:.1} MiB (RSS {:.1} MiB); {} process{}; item at {} {:.2} s after the start; mapped: {}{}",
                b.pss,
                b.rss,
                b.processes,
                if b.processes == 1 { "" } else { "es" },
                b.path,
                b.registered.as_secs_f64(),
                if b.libraries.is_empty() {
                    "none of GTK 3, WebKitGTK, appindicator".into()
                } else {
                    b.libraries.join(", ")
                },
                shared(b.sharers)
            ),
        ),
        Err(e) => s.skipped(figure, e),
    };
}

/// The caveat on a PSS figure taken while others mapped the same toolkit.
fn shared(sharers: usize) -> String {
    match sharers {
        0 => String::new(),
        n => format!("; {n} other process(es) mapped GTK 3 or WebKitGTK meanwhile, sharing their pages"),
    }
}

/// `value / floor` in PSS (the target's measure), and in RSS when both were read.
fn ratio(value: f64, floor: f64, rss: Option<(f64, f64)>) -> String {
    let pss = format!("{value:.0} / {floor:.1} MiB = {:.2}x", value / floor);
    match rss {
        Some((v, f)) => format!("{pss} (RSS: {v:.0} / {f:.1} MiB = {:.2}x)", v / f),
        None => pss,
    }
}

/// The resident tray of the split and the window program it starts (issue 30).
pub struct SplitBins<'a> {
    pub tray: &'a Path,
    pub window: &'a Path,
}

pub async fn run(
    ksni: Option<&Path>,
    tauri: Option<&Path>,
    split: Option<SplitBins<'_>>,
    resident: &Resident,
    settle: Duration,
) -> Section {
    let mut s = Section::new(TITLE);
    s.intro(format!(
        "The least a tray costs, beside ThingsTray's tray. Two bare apps from crates/proof/floor, built in the \
         desktop-release profile the real app ships with: `floor-tauri`, a Tauri 2 tray (the real app's tauri \
         version and features, ThingsTray's tray icon, a one-item menu, no window), and `floor-ksni`, a \
         StatusNotifierItem over D-Bus with the `ksni` crate (zbus 5; the same icon as an ARGB32 pixmap, a \
         one-item menu; no GTK, no WebKit). Each is started alone under a fresh Xvfb and a private session bus, \
         as the desktop section starts the real app; once its item is on the bus (an object with the \
         `{SNI}` interface, owned by a process of its tree) it settles {} s, then the PSS of its whole \
         process tree is read from /proc/PID/smaps_rollup (RSS beside it: PSS splits a library's pages with every \
         other process mapping it, so another GTK or WebKitGTK app running meanwhile lowers the Tauri figures, \
         and the rows say when one did). ThingsTray's figures: {}.",
        settle.as_secs(),
        resident.source
    ));
    let found = |p: Option<&Path>, what: &str| match p {
        Some(p) if p.exists() => Ok(p.to_path_buf()),
        Some(p) => Err(format!("{} is not built", p.display())),
        None => Err(format!("no {what} binary given")),
    };
    let ksni = match found(ksni, "floor-ksni") {
        Ok(p) => measure(&p, settle).await,
        Err(e) => Err(e),
    };
    let tauri = match found(tauri, "floor-tauri") {
        Ok(p) => measure(&p, settle).await,
        Err(e) => Err(e),
    };
    bare_row(&mut s, "Bare ksni tray (StatusNotifierItem over D-Bus)", &ksni);
    bare_row(&mut s, "Bare Tauri 2 tray (no window ever opened)", &tauri);
    let m = &resident.memory;
    let steps = [
        ("tray never opened", m.tray),
        ("device window open", m.open),
        ("device window opened, then closed", m.closed),
    ];
    for (step, mib) in steps {
        let figure = format!("ThingsTray, {step}");
        match mib {
            Some(v) => s.info(&figure, format!("{v:.0} MiB{}", shared(m.sharers))),
            None => s.skipped(&figure, "not measured in this run"),
        };
    }
    // The one-process app against the floor (before the split, and still the package's app).
    let resident_steps =
        [("no window ever opened", m.tray, m.tray_rss), ("after the window is closed", m.closed, m.closed_rss)];
    for (step, mib, rss) in resident_steps {
        let Some(v) = mib else { continue };
        for (bare, name) in [(&tauri, "Tauri"), (&ksni, "ksni")] {
            let Ok(b) = bare else { continue };
            s.info(
                &format!("One-process app ({step}) against the bare {name} tray"),
                ratio(v, b.pss, rss.map(|r| (r, b.rss))),
            );
        }
    }
    let split = match split {
        Some(bins) => crate::split::measure(bins.tray, bins.window, settle).await,
        None => Err("no thingstray-tray binary given".into()),
    };
    split_rows(&mut s, &split, &tauri, &ksni);
    s
}

/// The split's rows: the resident at each step, the window's start, and the targets.
fn split_rows(
    s: &mut Section,
    split: &Result<crate::split::Split, String>,
    tauri: &Result<Bare, String>,
    ksni: &Result<Bare, String>,
) {
    let sp = match split {
        Ok(sp) => sp,
        Err(e) => {
            s.skipped("The split: the resident tray and a window process", e);
            return;
        }
    };
    let mapped =
        if sp.libraries.is_empty() { "none of GTK 3, WebKitGTK, appindicator".into() } else { sp.libraries.join(", ") };
    s.info(
        "Resident tray (`thingstray-tray`, signed in), no window ever opened",
        format!("{:.1} MiB (RSS {:.1} MiB); mapped: {mapped}", sp.tray.0, sp.tray.1),
    );
    s.info(
        "Resident and window process, the device window open",
        format!(
            "{:.0} MiB; from the click to the window's web process: {:.2} s",
            sp.open,
            sp.click_to_web.as_secs_f64()
        ),
    );
    s.info("Resident tray, the window process ended", format!("{:.1} MiB (RSS {:.1} MiB)", sp.closed.0, sp.closed.1));
    for (step, (pss, rss)) in [("no window ever opened", sp.tray), ("after the window closed", sp.closed)] {
        for (bare, name, most) in [(tauri, "Tauri", VS_TAURI), (ksni, "ksni", VS_KSNI)] {
            let Ok(b) = bare else { continue };
            s.measure(
                &format!("Resident tray ({step}) against the bare {name} tray"),
                ratio(pss, b.pss, Some((rss, b.rss))),
                &format!("<= {most}x"),
                pss <= most * b.pss,
            );
        }
    }
    let back = sp.closed.0 / sp.tray.0;
    s.measure(
        "Resident tray after the window closed, against before any window",
        format!("{:.1} / {:.1} MiB = {back:.2}x", sp.closed.0, sp.tray.0),
        "<= 1.10x",
        back <= 1.10,
    );
    s.note(
        "The resident runs signed in as the desktop section's app does (its own settings folder, a file vault, the \
         simulator in the proof's process). The window process is started by the resident and ends with its last \
         window; the report ends it with SIGTERM, as closing the window would.",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_reads_dbus_send_replies() {
        let names =
            "method return time=1.0 sender=org.freedesktop.DBus -> destination=:1.3 serial=3 reply_serial=2\n   \
                     array [\n      string \"org.freedesktop.DBus\"\n      string \":1.1\"\n   ]\n";
        assert_eq!(strings(names), vec!["org.freedesktop.DBus", ":1.1"]);
        let xml = "method return ...\n   string \"<node><node name=\"StatusNotifierItem\"/></node>\"\n";
        assert_eq!(strings(xml), vec!["<node><node name=\"StatusNotifierItem\"/></node>"]);
    }

    #[test]
    fn ratio_reads_as_a_division() {
        assert_eq!(ratio(88.0, 44.0, None), "88 / 44.0 MiB = 2.00x");
        assert_eq!(ratio(88.0, 44.0, Some((30.0, 60.0))), "88 / 44.0 MiB = 2.00x (RSS: 30 / 60.0 MiB = 0.50x)");
    }
}
