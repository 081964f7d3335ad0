//! The desktop app, measured from outside: binary size, cold start to a tray with
//! devices, memory (PSS of the whole process tree, WebKit helpers included) in the tray
//! alone, with the device window open and after it is closed, and CPU and requests while
//! idle in the tray. Needs Xvfb and dbus-daemon (scripts/setup installs them).
//!
//! The everyday start is measured: a connection already signed in (a world from
//! `world.rs`: the simulator in this process, the file vault), the app started on its
//! config dir. It is ready when the simulator has answered its first `GET /v1/devices`:
//! the tray menu is rebuilt from that answer at once. The device window is opened and
//! closed from outside with a second launch, `--toggle devices`, as a shortcut would.
//! The first start of `--demo` (its simulator, then the sign-in window) is measured too.

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::report::Section;
use crate::world::World;

pub fn skipped(reason: &str) -> Section {
    let mut s = Section::new("Desktop app");
    s.skipped("Size, cold start, memory, idle CPU and requests", reason);
    s
}

/// Every process whose ancestry leads to `root`, `root` included.
pub(crate) fn tree(root: u32) -> Vec<u32> {
    let mut parent = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        // pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|x| x.1) else { continue };
        if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|p| p.parse::<u32>().ok()) {
            parent.push((pid, ppid));
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        out.extend(parent.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    out
}

/// PSS of the tree in MiB, from /proc/PID/smaps_rollup (what smem sums).
pub(crate) fn pss_mib(root: u32) -> f64 {
    rollup_mib(root, "Pss:")
}

/// RSS of the tree in MiB: unlike PSS, the same whatever else on the machine maps the
/// same libraries.
pub(crate) fn rss_mib(root: u32) -> f64 {
    rollup_mib(root, "Rss:")
}

/// One field of /proc/PID/smaps_rollup, summed over the tree, in MiB.
fn rollup_mib(root: u32, field: &str) -> f64 {
    let kb: u64 = tree(root)
        .iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/smaps_rollup")).ok())
        .filter_map(|t| {
            t.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .sum();
    kb as f64 / 1024.0
}

/// CPU time (user + system) of the tree, in clock ticks.
fn cpu_ticks(root: u32) -> u64 {
    tree(root)
        .iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).ok())
        .filter_map(|s| {
            let f: Vec<u64> = s.rsplit_once(')')?.1.split_whitespace().filter_map(|x| x.parse().ok()).collect();
            // after ')': state(skipped: not a number) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
            Some(f.get(10)? + f.get(11)?)
        })
        .sum()
}

fn sim_requests(sim: &str) -> Option<(u64, u64)> {
    let v: Value = reqwest::blocking_get(&format!("{sim}/__sim/stats"))?;
    let routes = v.get("routes")?.as_object()?;
    let total = routes.values().filter_map(Value::as_u64).sum();
    let lists = routes.get("GET /v1/devices").and_then(Value::as_u64).unwrap_or(0);
    Some((total, lists))
}

mod reqwest {
    /// A tiny blocking GET on a helper thread (the measurements run outside any async task).
    pub fn blocking_get(url: &str) -> Option<serde_json::Value> {
        let url = url.to_string();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async { ::reqwest::get(&url).await.ok()?.json().await.ok() })
        })
        .join()
        .ok()?
    }
}

/// The app's log colours its field names even into a pipe.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

pub(crate) struct Kill(pub(crate) Vec<Child>);
impl Drop for Kill {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A display and a session bus of our own, so a second launch of the app reaches the
/// first one (tauri-plugin-single-instance talks over the session bus).
pub(crate) struct Desk {
    display: String,
    pub(crate) bus: String,
    home: tempfile::TempDir,
    _kill: Kill,
}

fn first_line(child: &mut Child) -> Option<String> {
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take()?).read_line(&mut line).ok()?;
    Some(line.trim().to_string())
}

impl Desk {
    pub(crate) fn start() -> Result<Desk, String> {
        let mut kill = Kill(Vec::new());
        let mut x = Command::new("Xvfb")
            .args(["-displayfd", "1", "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("Xvfb: {e}"))?;
        let display = first_line(&mut x).map(|n| format!(":{n}"));
        kill.0.push(x);
        let mut bus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("dbus-daemon: {e}"))?;
        let address = first_line(&mut bus);
        kill.0.push(bus);
        let home = tempfile::tempdir().map_err(|e| e.to_string())?;
        match (display, address) {
            (Some(display), Some(bus)) => Ok(Desk { display, bus, home, _kill: kill }),
            _ => Err("Xvfb or dbus-daemon did not say where it listens".into()),
        }
    }

    pub(crate) fn app(&self, bin: &Path, args: &[&str], config: Option<&Path>) -> Command {
        let mut c = Command::new(bin);
        c.args(args)
            .env("DISPLAY", &self.display)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
            .env("RUST_LOG", "info")
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path().join("config"))
            .env("XDG_DATA_HOME", self.home.path().join("data"))
            .env("XDG_CACHE_HOME", self.home.path().join("cache"))
            .env_remove("THINGSTRAY_CONFIG_DIR")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(dir) = config {
            c.env("THINGSTRAY_CONFIG_DIR", dir);
        }
        c
    }
}

/// The WebKit helpers under `root`, by name.
pub(crate) fn webkit(root: u32) -> Vec<String> {
    let mut names: Vec<String> = tree(root)
        .iter()
        // The program's file name: `comm` is cut at 15 characters.
        .filter_map(|p| std::fs::read(format!("/proc/{p}/cmdline")).ok())
        .filter_map(|c| {
            let first = c.split(|b| *b == 0).next()?;
            Some(String::from_utf8_lossy(first).rsplit('/').next()?.to_string())
        })
        .filter(|c| c.starts_with("WebKit"))
        .collect();
    names.sort();
    names
}

pub(crate) fn describe(names: &[String]) -> String {
    if names.is_empty() {
        return "none".into();
    }
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < names.len() {
        let n = names[i..].iter().take_while(|x| **x == names[i]).count();
        out.push(format!("{n} {}", names[i]));
        i += n;
    }
    out.join(", ")
}

/// Polls `done` every 10 ms (the resolution of the start-up figures), at most `limit`.
pub(crate) async fn until(limit: Duration, mut done: impl FnMut() -> bool) -> Option<Duration> {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if done() {
            return Some(t0.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

pub(crate) fn device_lists(world: &World) -> u64 {
    world.sim.stats().routes.get("GET /v1/devices").copied().unwrap_or(0)
}

fn all_requests(world: &World) -> u64 {
    world.sim.stats().routes.values().sum()
}

/// The tray's memory as `run` read it (PSS of the process tree, MiB), for the floor
/// section (floor.rs) to set beside the bare trays; `None` where that step did not happen.
#[derive(Debug, Clone, Default)]
pub struct Memory {
    pub tray: Option<f64>,
    pub open: Option<f64>,
    pub closed: Option<f64>,
    /// RSS at the two resident readings, which sharing does not move.
    pub tray_rss: Option<f64>,
    pub closed_rss: Option<f64>,
    /// The most processes outside the app's tree mapping GTK 3 or WebKitGTK at a reading:
    /// PSS is lower while they run (floor.rs says so beside the figures).
    pub sharers: usize,
}

pub async fn run(binary: Option<&Path>, idle: Duration) -> (Section, Memory) {
    let mut memory = Memory::default();
    let s = measure(binary, idle, &mut memory).await;
    (s, memory)
}

async fn measure(binary: Option<&Path>, idle: Duration, memory: &mut Memory) -> Section {
    let mut s = Section::new("Desktop app");
    let Some(bin) = binary.filter(|b| b.exists()) else {
        s.skipped(
            "Size, cold start, memory, idle CPU and requests",
            "no desktop-release binary (build: cargo build -p thingstray-desktop --profile desktop-release)",
        );
        return s;
    };
    let size = std::fs::metadata(bin).map(|m| m.len()).unwrap_or(0) as f64 / 1_048_576.0;
    let built = std::fs::metadata(bin).and_then(|m| m.modified()).ok().map(|t| {
        let secs = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
        format!(
            "built {} min before this run",
            (thingstray::clock::unix_ms(std::time::SystemTime::now()) / 1000).saturating_sub(secs) / 60
        )
    });
    s.intro(format!(
        "`{}` ({}), under Xvfb with a session bus of its own, RUST_LOG=info. The everyday start: a connection \
         already signed in (file vault), the simulator on 127.0.0.1, the app started in the tray; the device window \
         opened and closed with a second launch, `thingstray-desktop --toggle devices`. Memory is the PSS of the \
         app's whole process tree (WebKit helpers included), read from /proc/PID/smaps_rollup.",
        bin.display(),
        built.unwrap_or_default()
    ));
    s.measure("Release binary size (desktop-release profile)", format!("{size:.1} MB"), "< 15 MB", size < 15.0);
    let desk = match Desk::start() {
        Ok(d) => d,
        Err(e) => {
            s.skipped("Cold start, memory, CPU", &e);
            return s;
        }
    };
    let world = World::start(smartthings_sim::SimConfig::default()).await;
    // Every bell off, the leak sensor's default one too: the idle figures are the tray's
    // own. With a bell on it reads at the poll interval; the alerts section counts that.
    if let Ok(all) = crate::alerts::devices(&world).await {
        let rung: Vec<&thingstray::api::Device> = all.iter().filter(|d| thingstray::alerts::default_on(d)).collect();
        if let Err(e) = crate::alerts::bells(&world, &[], &rung) {
            s.skipped("Cold start, memory, CPU", &format!("desktop.toml: {e}"));
            return s;
        }
    }
    let before = device_lists(&world);
    let t0 = Instant::now();
    let app = match desk.app(bin, &[], Some(world.dir())).spawn() {
        Ok(a) => a,
        Err(e) => {
            s.skipped("Cold start, memory, CPU", &format!("the app: {e}"));
            return s;
        }
    };
    let root = app.id();
    let _app = Kill(vec![app]);
    match until(Duration::from_secs(30), || device_lists(&world) > before).await {
        Some(_) => {
            let t = t0.elapsed().as_secs_f64();
            s.measure(
                "Cold start to a tray with devices (signed in, the everyday start)",
                format!("{t:.2} s"),
                "< 1.5 s",
                t < 1.5,
            )
        }
        None => {
            s.measure(
                "Cold start to a tray with devices (signed in, the everyday start)",
                "not ready after 30 s",
                "< 1.5 s",
                false,
            );
            return s;
        }
    };
    tokio::time::sleep(Duration::from_secs(5)).await; // settle (pacing, not a test)
    let tray_pss = pss_mib(root);
    memory.tray = Some(tray_pss);
    memory.tray_rss = Some(rss_mib(root));
    memory.sharers = memory.sharers.max(crate::floor::sharers(root));
    s.info(
        "Memory in the tray, no window ever opened",
        format!("{tray_pss:.0} MiB; WebKit processes: {}", describe(&webkit(root))),
    );

    let (req0, cpu0, i0) = (all_requests(&world), cpu_ticks(root), Instant::now());
    tokio::time::sleep(idle).await;
    let pct = 100.0 * cpu_ticks(root).saturating_sub(cpu0) as f64 / 100.0 / i0.elapsed().as_secs_f64(); // USER_HZ = 100
    let reqs = all_requests(&world).saturating_sub(req0);
    let span = if idle.as_secs().is_multiple_of(60) {
        format!("{} min", idle.as_secs() / 60)
    } else {
        format!("{} s", idle.as_secs())
    };
    s.measure(&format!("CPU while idle in the tray ({span}, no window)"), format!("{pct:.3}%"), "< 0.1%", pct < 0.1);
    s.measure(&format!("Requests to SmartThings while idle in the tray ({span})"), reqs.to_string(), "0", reqs == 0);

    let toggle = |what: &str| -> bool {
        let ok = desk.app(bin, &["--toggle", "devices"], Some(world.dir())).status().is_ok_and(|st| st.success());
        if !ok {
            eprintln!("desktop: the second launch to {what} the device window failed");
        }
        ok
    };
    let has_web = || webkit(root).iter().any(|n| n.starts_with("WebKitWebProcess"));
    if !toggle("open") || until(Duration::from_secs(20), has_web).await.is_none() {
        s.skipped(
            "Memory with the device window open, and after it is closed",
            "the device window did not open (no WebKitWebProcess)",
        );
        return s;
    }
    tokio::time::sleep(Duration::from_secs(5)).await; // the page loads its devices (pacing)
    let open_pss = pss_mib(root);
    memory.open = Some(open_pss);
    memory.sharers = memory.sharers.max(crate::floor::sharers(root));
    s.info(
        "Memory with the device window open",
        format!("{open_pss:.0} MiB; WebKit processes: {}", describe(&webkit(root))),
    );
    if !toggle("close") || until(Duration::from_secs(20), || !has_web()).await.is_none() {
        s.skipped(
            "Memory after the device window is closed",
            "the WebKitWebProcess was still running 20 s after the close",
        );
        return s;
    }
    // The app ends WebKit's network process a few seconds after its last window (src-tauri/src/idle.rs).
    let no_webkit = until(Duration::from_secs(20), || webkit(root).is_empty()).await.is_some();
    tokio::time::sleep(Duration::from_secs(3)).await; // settle (pacing)
    let closed_pss = pss_mib(root);
    memory.closed = Some(closed_pss);
    memory.closed_rss = Some(rss_mib(root));
    memory.sharers = memory.sharers.max(crate::floor::sharers(root));
    let left = webkit(root);
    s.info(
        "Memory after the device window is closed",
        format!("{closed_pss:.0} MiB; WebKit processes left: {}", describe(&left)),
    );
    s.measure(
        "Closed window: no WebKit process left, the tray well under the open figure",
        format!("WebKit processes left: {}; {closed_pss:.0} of {open_pss:.0} MiB", describe(&left)),
        "none, and under 3/4 of the open figure",
        no_webkit && left.is_empty() && closed_pss < 0.75 * open_pss,
    );
    // The window opens again with a new network process, reads the devices, and closes clean.
    let lists = device_lists(&world);
    let again = toggle("open again")
        && until(Duration::from_secs(20), || has_web() && device_lists(&world) > lists).await.is_some()
        && toggle("close again")
        && until(Duration::from_secs(20), || webkit(root).is_empty()).await.is_some();
    s.measure(
        "Opened again after that: devices read, then closed with no WebKit process left",
        if again { "yes" } else { "no" },
        "yes",
        again,
    );
    drop(_app);

    // The first start of `--demo`: its simulator, the sign-in window (approved at once),
    // the exchange, then the devices.
    let demo = desk.app(bin, &["--demo"], None).stderr(Stdio::piped()).spawn();
    let Ok(mut demo) = demo else { return s };
    let t0 = Instant::now();
    let stderr = demo.stderr.take();
    let _demo = Kill(vec![demo]);
    let (tx, rx) = std::sync::mpsc::channel();
    if let Some(stderr) = stderr {
        std::thread::spawn(move || {
            for l in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                let l = strip_ansi(&l);
                if let Some(at) = l.find("sim=") {
                    let _ = tx.send(l[at + 4..].chars().take_while(|c| !c.is_whitespace()).collect::<String>());
                }
            }
        });
    }
    let Ok(sim) = rx.recv_timeout(Duration::from_secs(20)) else {
        s.skipped("First start of `--demo`", "the app never logged `demo mode: simulator started sim=...`");
        return s;
    };
    let ready = until(Duration::from_secs(30), || sim_requests(&sim).is_some_and(|(_, lists)| lists > 0))
        .await
        .map(|_| t0.elapsed());
    s.info(
        "First start of `--demo` to a tray with devices (starts its simulator, signs in through the sign-in window)",
        ready.map_or("not ready after 30 s".into(), |t| format!("{:.2} s", t.as_secs_f64())),
    );
    s
}
