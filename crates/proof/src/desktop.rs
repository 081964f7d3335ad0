//! The desktop app, measured from outside: binary size, cold start of `--demo` to a tray
//! with devices, memory (PSS of the whole process tree, WebKit helpers included), CPU and
//! requests while idle. Needs Xvfb and dbus-run-session (scripts/setup installs them).
//!
//! Readiness: `--demo` logs `demo mode: simulator started sim=URL` (RUST_LOG=info); the
//! app is ready when its simulator has answered the first `GET /v1/devices`, read from
//! the simulator's `/__sim/stats`. The tray menu is rebuilt from that answer right away.

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::report::Section;

pub fn skipped(reason: &str) -> Section {
    let mut s = Section::new("Desktop app");
    s.skipped("Size, cold start, memory, idle CPU and requests", reason);
    s
}

/// Every process whose ancestry leads to `root`, `root` included.
fn tree(root: u32) -> Vec<u32> {
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
fn pss_mib(root: u32) -> f64 {
    let kb: u64 = tree(root)
        .iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/smaps_rollup")).ok())
        .filter_map(|t| t.lines().find(|l| l.starts_with("Pss:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok()))
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

struct Kill(Vec<Child>);
impl Drop for Kill {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub async fn run(binary: Option<&Path>, idle: Duration) -> Section {
    let mut s = Section::new("Desktop app");
    let Some(bin) = binary.filter(|b| b.exists()) else {
        s.skipped("Size, cold start, memory, idle CPU and requests", "no desktop-release binary (build: cargo build -p thingstray-desktop --profile desktop-release)");
        return s;
    };
    let size = std::fs::metadata(bin).map(|m| m.len()).unwrap_or(0) as f64 / 1_048_576.0;
    let built = std::fs::metadata(bin).and_then(|m| m.modified()).ok().map(|t| {
        let secs = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
        format!("built {} min before this run", (thingstray::clock::unix_ms(std::time::SystemTime::now()) / 1000).saturating_sub(secs) / 60)
    });
    s.intro(format!(
        "`{}` ({}), `--demo` (the simulator inside the app, sign-in approved at once), under Xvfb and \
         dbus-run-session, RUST_LOG=info.",
        bin.display(),
        built.unwrap_or_default()
    ));
    s.measure("Release binary size (desktop-release profile)", format!("{size:.1} MB"), "< 15 MB", size < 15.0);

    let display = ":97";
    let mut kill = Kill(Vec::new());
    match Command::new("Xvfb").args([display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"]).stderr(Stdio::null()).spawn() {
        Ok(x) => kill.0.push(x),
        Err(e) => {
            s.skipped("Cold start, memory, CPU", &format!("Xvfb: {e}"));
            return s;
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await; // Xvfb has no readiness signal; this is pacing, not a test
    let home = tempfile::tempdir().unwrap();
    let t0 = Instant::now();
    let mut app = Command::new("dbus-run-session")
        .arg("--")
        .arg(bin)
        .arg("--demo")
        .env("DISPLAY", display)
        .env("RUST_LOG", "info")
        .env("XDG_CONFIG_HOME", home.path())
        .env("XDG_DATA_HOME", home.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the app starts");
    let stderr = app.stderr.take().unwrap();
    let session = app.id();
    kill.0.push(app);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            let l = strip_ansi(&l);
            if let Some(at) = l.find("sim=") {
                let url: String = l[at + 4..].chars().take_while(|c| !c.is_whitespace()).collect();
                let _ = tx.send(url);
            }
        }
    });
    let Ok(sim) = rx.recv_timeout(Duration::from_secs(20)) else {
        s.skipped("Cold start, memory, CPU", "the app never logged `demo mode: simulator started sim=...`");
        return s;
    };
    // The app and its WebKit helpers; not dbus-run-session's bus and portal services.
    let root = tree(session)
        .into_iter()
        .find(|p| std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.starts_with("thingstray-desk")))
        .unwrap_or(session);
    let mut ready = None;
    while t0.elapsed() < Duration::from_secs(30) {
        if sim_requests(&sim).is_some_and(|(_, lists)| lists > 0) {
            ready = Some(t0.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    match ready {
        Some(t) => s.measure("Cold start to a tray with devices (`--demo`)", format!("{:.2} s", t.as_secs_f64()), "< 1.5 s", t.as_secs_f64() < 1.5),
        None => s.measure("Cold start to a tray with devices (`--demo`)", "not ready after 30 s", "< 1.5 s", false),
    };
    tokio::time::sleep(Duration::from_secs(5)).await; // settle: the window finishes loading
    s.info("Memory (PSS of the process tree), device window open", format!("{:.0} MiB", pss_mib(root)));
    let closed = Command::new("xdotool")
        .args(["search", "--name", "ThingsTray", "windowclose"])
        .env("DISPLAY", display)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|st| st.success());
    tokio::time::sleep(Duration::from_secs(5)).await;
    // Closed means no visible ThingsTray window is left (the app stays in the tray).
    let visible = Command::new("xdotool")
        .args(["search", "--onlyvisible", "--name", "ThingsTray"])
        .env("DISPLAY", display)
        .stderr(Stdio::null())
        .output()
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(true);
    let closed = closed && !visible;
    if closed {
        s.info("Memory (PSS of the process tree), idle in the tray, no window", format!("{:.0} MiB", pss_mib(root)));
    } else {
        s.skipped("Memory, no window", "could not close the window with xdotool");
    }
    let (req0, _) = sim_requests(&sim).unwrap_or_default();
    let cpu0 = cpu_ticks(root);
    let i0 = Instant::now();
    tokio::time::sleep(idle).await;
    let ticks = cpu_ticks(root).saturating_sub(cpu0) as f64;
    let hz = 100.0; // USER_HZ on Linux
    let pct = 100.0 * ticks / hz / i0.elapsed().as_secs_f64();
    let (req1, _) = sim_requests(&sim).unwrap_or_default();
    let idle_label = format!("{} min, {}", idle.as_secs() / 60, if closed { "no window" } else { "device window open" });
    s.measure(&format!("CPU while idle ({idle_label})"), format!("{pct:.3}%"), "< 0.1%", pct < 0.1);
    s.measure(&format!("Requests while idle ({idle_label})"), format!("{}", req1.saturating_sub(req0)), "0", req1 == req0);
    s
}
