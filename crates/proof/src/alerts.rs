//! Issue 29's figures, measured from outside the desktop app: how many times an hour it
//! reads the device list with a bell on, with a `thingstray watch` beside it, and with
//! every bell off; and how long after a door opens in the simulator the notification
//! daemon hears of it (and `watch` prints it), at the default poll interval.
//!
//! The desktop section's world and desk (`desktop.rs`: the simulator in this process,
//! a signed-in file-vault connection, Xvfb and a private session bus), plus a
//! notification daemon of our own on that bus that notes when each `Notify` arrives.
//! Six contact sensors have their bell on; two samplers each open one of three doors at
//! a random moment, wait for its notification and close it again. Random moments, so
//! the samples cover the whole phase of the poll; three doors a sampler, so a door opens
//! at most every third read and the alerter's one-minute debounce never hides one.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::{json, Value};
use thingstray::api::Device;
use thingstray::desktop::DesktopSettings;
use thingstray::session::SessionOptions;
use zbus::zvariant::OwnedValue;

use crate::desktop::{device_lists, until, Desk, Kill};
use crate::report::Section;
use crate::world::{World, CONNECTION};

const TITLE: &str = "Alerts and the change feed";
/// Doors with a bell on: two samplers of three (see the module's comment).
const DOORS: usize = 6;
/// How long a change may take to be told, in poll intervals, before it counts as lost:
/// generous, so a slow poller shows as a slow figure rather than as lost samples.
const LOST_AFTER: u32 = 3;
/// How often the simulator's read counter is looked at, to time the app's reads.
const TICK: Duration = Duration::from_millis(20);

pub fn skipped(reason: &str) -> Section {
    let mut s = Section::new(TITLE);
    s.skipped("Requests per hour with alerts and `watch`; change-to-notification delay", reason);
    s
}

/// When each notification reached the daemon, and its summary ("Front Door Sensor opened").
type Heard = Arc<Mutex<Vec<(Instant, String)>>>;

/// A notification daemon that shows nothing: it owns `org.freedesktop.Notifications` on
/// the desk's bus and notes the time each `Notify` arrives (tests/e2e has its twin).
struct Daemon {
    heard: Heard,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Daemon {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        _app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        _body: String,
        _actions: Vec<String>,
        _hints: HashMap<String, OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let mut heard = self.heard.lock().unwrap();
        heard.push((Instant::now(), summary));
        u32::try_from(heard.len()).unwrap_or(u32::MAX)
    }

    fn close_notification(&self, _id: u32) {}

    fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into(), "actions".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        ("thingstray-proof".into(), "thingstray".into(), "1".into(), "1.2".into())
    }
}

async fn daemon(bus: &str, heard: Heard) -> zbus::Result<zbus::Connection> {
    zbus::connection::Builder::address(bus)?
        .name("org.freedesktop.Notifications")?
        .serve_at("/org/freedesktop/Notifications", Daemon { heard })?
        .build()
        .await
}

/// A door with its bell on.
#[derive(Clone)]
pub(crate) struct Door {
    id: String,
    label: String,
}

/// One door opened: how long until the daemon heard of it, and `watch` printed it.
#[derive(Default)]
struct Told {
    notified: Vec<f64>,
    /// From the app's read (as the simulator counted it) to the `Notify`: the processing.
    processing: Vec<f64>,
    watched: Vec<f64>,
    opened: usize,
    lost: usize,
}

/// `watch --json`'s lines as they come: (time read, device id, new value).
type Lines = Arc<Mutex<Vec<(Instant, String, String)>>>;

struct Phase {
    reads: u64,
    window: Duration,
    /// Seconds between consecutive reads in the window.
    gaps: Vec<f64>,
}

impl Phase {
    fn per_hour(&self) -> f64 {
        self.reads as f64 * 3600.0 / self.window.as_secs_f64().max(1.0)
    }

    fn describe(&self) -> String {
        format!("{:.0} /h ({} reads in {})", self.per_hour(), self.reads, minutes(self.window))
    }
}

fn minutes(d: Duration) -> String {
    if d.as_secs().is_multiple_of(60) {
        format!("{} min", d.as_secs() / 60)
    } else {
        format!("{} s", d.as_secs())
    }
}

/// The nearest-rank percentile of sorted values (`p` in 0..=100); `None` when empty.
fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted.get(rank.min(sorted.len()).checked_sub(1)?).copied()
}

/// "p50 14.9 s, p99 30.1 s, max 30.1 s, mean 15.2 s (n = 40)".
fn spread(values: &[f64]) -> String {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match (percentile(&v, 50.0), percentile(&v, 99.0), v.last()) {
        (Some(p50), Some(p99), Some(max)) => format!(
            "p50 {p50:.1} s, p99 {p99:.1} s, max {max:.1} s, mean {:.1} s (n = {})",
            v.iter().sum::<f64>() / v.len() as f64,
            v.len()
        ),
        _ => "no samples".into(),
    }
}

fn set(world: &World, door: &Door, value: &str) {
    if let Err(e) = world.sim.set_device_status(&door.id, "main", "contactSensor", "contact", json!(value), None) {
        eprintln!("alerts: could not set {} {value}: {e:?}", door.label);
    }
}

/// Opens `doors` in turn, each at a random moment of the poll's phase, until dropped.
/// Each waits up to `period` (the time between the app's reads, measured) after the
/// previous notification, which came just after a read: so the phase is uniform.
async fn sampler(
    world: &World,
    heard: &Heard,
    lines: Option<&Lines>,
    reads: &Reads,
    doors: &[Door],
    period: Duration,
    told: &Mutex<Told>,
) {
    let interval = DesktopSettings::default().poll_interval();
    for door in doors.iter().cycle() {
        let wait = rand::rng().random_range(0..period.as_millis().max(1) as u64);
        tokio::time::sleep(Duration::from_millis(wait)).await; // the phase is the sample: waiting is the point
        let summary = format!("{} opened", door.label);
        let t0 = Instant::now();
        set(world, door, "open");
        told.lock().unwrap().opened += 1;
        let when = || heard.lock().unwrap().iter().find(|(at, s)| *at >= t0 && *s == summary).map(|x| x.0);
        let seen = || {
            let lines = lines?.lock().unwrap();
            lines.iter().find(|(at, id, new)| *at >= t0 && *id == door.id && new == "open").map(|x| x.0)
        };
        let done = || when().is_some() && (lines.is_none() || seen().is_some());
        until(interval * LOST_AFTER, done).await;
        {
            let mut t = told.lock().unwrap();
            match when() {
                Some(at) => {
                    t.notified.push((at - t0).as_secs_f64());
                    let read = reads.lock().unwrap().iter().rev().find(|r| **r <= at).copied();
                    t.processing.extend(read.filter(|r| *r >= t0).map(|r| (at - r).as_secs_f64()));
                }
                None => t.lost += 1,
            }
            if let Some(at) = seen() {
                t.watched.push((at - t0).as_secs_f64());
            }
        }
        set(world, door, "closed");
    }
}

/// When each of the app's device reads reached the simulator, to [`TICK`].
type Reads = Mutex<Vec<Instant>>;

/// `n` poll intervals of device reads, with the samplers running when `doors` are given.
/// Two reads first tell when the app reads and how often (the period, which the samplers'
/// random moments span); the window starts half a period after a read, so both its ends
/// fall between reads.
async fn phase(
    world: &World,
    heard: &Heard,
    lines: Option<&Lines>,
    doors: &[Door],
    n: u32,
    told: &Mutex<Told>,
) -> Phase {
    let interval = DesktopSettings::default().poll_interval();
    let mut period = interval;
    if !doors.is_empty() {
        let r0 = device_lists(world);
        until(interval * LOST_AFTER, || device_lists(world) > r0).await;
        let (r1, t1) = (device_lists(world), Instant::now());
        if until(interval * LOST_AFTER, || device_lists(world) > r1).await.is_some() {
            period = t1.elapsed();
        }
        tokio::time::sleep(period / 2).await; // alignment of the window with the reads
    }
    let (r0, window) = (device_lists(world), interval * n);
    let (a, b) = doors.split_at(doors.len() / 2);
    let reads: Reads = Mutex::new(Vec::new());
    let track = async {
        let mut seen = r0;
        loop {
            let now = device_lists(world);
            if now > seen {
                reads.lock().unwrap().push(Instant::now());
                seen = now;
            }
            tokio::time::sleep(TICK).await;
        }
    };
    let samplers = async {
        if doors.is_empty() {
            return std::future::pending().await;
        }
        tokio::join!(
            sampler(world, heard, lines, &reads, a, period, told),
            sampler(world, heard, lines, &reads, b, period, told)
        )
    };
    tokio::select! {
        _ = tokio::time::sleep(window) => {}
        _ = track => {}
        _ = samplers => {}
    }
    let counted = device_lists(world) - r0;
    // A sample cut off by the window's end may have left its door open.
    for d in doors {
        set(world, d, "closed");
    }
    let times = reads.into_inner().unwrap();
    Phase { reads: counted, window, gaps: times.windows(2).map(|w| (w[1] - w[0]).as_secs_f64()).collect() }
}

/// `thingstray watch --json` through the app's agent; its lines go to `lines` as they come.
fn watch(desk: &Desk, bin: &Path, world: &World, lines: &Lines) -> Result<Child, String> {
    let mut child = desk
        .app(bin, &["watch", "--json"], Some(world.dir()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("thingstray watch: {e}"))?;
    let (out, err) = (child.stdout.take(), child.stderr.take());
    let lines = lines.clone();
    std::thread::spawn(move || {
        for l in out.map(BufReader::new).into_iter().flat_map(|r| r.lines().map_while(Result::ok)) {
            let v: Value = serde_json::from_str(&l).unwrap_or_default();
            let field = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
            lines.lock().unwrap().push((Instant::now(), field("device_id"), field("new")));
        }
    });
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in err.map(BufReader::new).into_iter().flat_map(|r| r.lines().map_while(Result::ok)) {
            let _ = tx.send(l);
        }
    });
    // Its first words say whether it listens to the app or polls on its own.
    let deadline = Instant::now() + Duration::from_secs(20);
    while let Ok(l) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        if l.contains("through the running app") {
            return Ok(child);
        }
        if l.contains("watching") {
            let _ = Kill(vec![child]);
            return Err(format!("watch did not find the app's agent: {l}"));
        }
    }
    let _ = Kill(vec![child]);
    Err("watch said nothing in 20 s".into())
}

/// desktop.toml: the default poll interval, and these bells.
pub(crate) fn bells(world: &World, on: &[Door], off: &[&Device]) -> thingstray::Result<()> {
    let mut s = DesktopSettings::default();
    for d in on {
        s.set_alerts(CONNECTION, &d.id, true);
    }
    for d in off {
        s.set_alerts(CONNECTION, &d.id, false);
    }
    s.save(&world.paths)
}

pub(crate) async fn devices(world: &World) -> thingstray::Result<Vec<Device>> {
    let conn = world.shared().connection(SessionOptions::default(), Duration::from_secs(10)).await?;
    conn.api.devices().await
}

/// Starts the app and waits for its first device read (the alerter's baseline).
async fn start_app(desk: &Desk, bin: &Path, world: &World) -> Result<Kill, String> {
    let before = device_lists(world);
    let app = desk.app(bin, &[], Some(world.dir())).spawn().map_err(|e| format!("the app: {e}"))?;
    let app = Kill(vec![app]);
    match until(Duration::from_secs(60), || device_lists(world) > before).await {
        Some(_) => Ok(app),
        None => Err("the app read no devices in 60 s".into()),
    }
}

pub async fn run(desktop: Option<&Path>, thingstray: &str, intervals: u32) -> Section {
    let Some(bin) = desktop.filter(|b| b.exists()) else {
        return skipped("no desktop binary (build: cargo build -p thingstray-desktop --profile desktop-release)");
    };
    let mut s = Section::new(TITLE);
    let interval = DesktopSettings::default().poll_interval();
    // Nothing is expected with every bell off, and any read at all shows: half as long.
    let quiet = intervals.div_ceil(2).max(2);
    let desk = match Desk::start() {
        Ok(d) => d,
        Err(e) => return skipped(&e),
    };
    let heard: Heard = Arc::default();
    let _daemon = match daemon(&desk.bus, heard.clone()).await {
        Ok(c) => c,
        Err(e) => return skipped(&format!("the notification daemon: {e}")),
    };
    let world = World::start(smartthings_sim::SimConfig::default()).await;
    let all = match devices(&world).await {
        Ok(all) => all,
        Err(e) => return skipped(&format!("the device list: {e}")),
    };
    let doors: Vec<Door> = all
        .iter()
        .filter(|d| d.has_capability("contactSensor"))
        .take(DOORS)
        .map(|d| Door { id: d.id.clone(), label: d.label.clone() })
        .collect();
    if doors.len() < DOORS {
        return skipped(&format!("the simulated home has {} contact sensors, not {DOORS}", doors.len()));
    }
    for d in &doors {
        set(&world, d, "closed");
    }
    if let Err(e) = bells(&world, &doors, &[]) {
        return skipped(&format!("desktop.toml: {e}"));
    }
    s.intro(format!(
        "`{}` under Xvfb with a session bus of its own and a notification daemon there that notes when each \
         notification arrives; the simulator in the proof's process; the default poll interval ({} s). {DOORS} contact \
         sensors have their bell on; two samplers each open one of three doors at a random moment of the poll's phase \
         (within the time between reads, measured first), \
         wait for its notification (and `watch`'s line) and close it; a change not told within {LOST_AFTER} intervals \
         counts as lost. Requests are `GET /v1/devices` over {intervals} \
         intervals per phase, the window starting half a period after a read; every bell off is {} intervals after \
         a restart with desktop.toml silencing every device with a default-on bell and the doors. No `GET /v1/events` \
         client: the token server stays off here, and its feed is the same one `watch` listens to.",
        bin.display(),
        interval.as_secs(),
        quiet,
    ));
    let app = match start_app(&desk, bin, &world).await {
        Ok(a) => a,
        Err(e) => return skipped(&e),
    };
    let told = Mutex::new(Told::default());
    eprintln!("alerts: (a) bells on, no listener");
    let a = phase(&world, &heard, None, &doors, intervals, &told).await;
    let plain = std::mem::take(&mut *told.lock().unwrap());

    eprintln!("alerts: (b) bells on, `thingstray watch --json`");
    let lines: Lines = Arc::default();
    let watcher = match watch(&desk, Path::new(thingstray), &world, &lines) {
        Ok(w) => Kill(vec![w]),
        Err(e) => return skipped(&e),
    };
    let b = phase(&world, &heard, Some(&lines), &doors, intervals, &told).await;
    let with_watch = std::mem::take(&mut *told.lock().unwrap());
    drop(watcher);
    drop(app);

    eprintln!("alerts: (c) every bell off, no listener");
    // Every device with a default-on bell (the leak sensor) and the doors, silenced as a user would.
    let off: Vec<&Device> =
        all.iter().filter(|d| thingstray::alerts::default_on(d) || doors.iter().any(|x| x.id == d.id)).collect();
    let c = match bells(&world, &[], &off) {
        Ok(()) => match start_app(&desk, bin, &world).await {
            Ok(app) => {
                let p = phase(&world, &heard, None, &[], quiet, &told).await;
                drop(app);
                Ok(p)
            }
            Err(e) => Err(e),
        },
        Err(e) => Err(format!("desktop.toml: {e}")),
    };

    let expected = 3600.0 / interval.as_secs_f64();
    s.measure(
        "Device reads per hour, bells on (the doors'), no listener (a)",
        a.describe(),
        &format!("{expected:.0} /h: one read per poll interval"),
        (a.per_hour() - expected).abs() <= expected * 0.1,
    );
    s.measure(
        "Device reads per hour, bells on and `thingstray watch --json` listening (b)",
        b.describe(),
        "equal to (a): one poller",
        b.reads <= a.reads + 1,
    );
    let ratio = b.per_hour() / a.per_hour().max(f64::MIN_POSITIVE);
    s.check(
        "Ratio (b)/(a)",
        format!("{ratio:.2}"),
        "equal (one poller): 1.00, one read either way",
        b.reads.abs_diff(a.reads) <= 1,
    );
    match c {
        Ok(c) => s.measure(
            "Device reads per hour, every bell off, no listener (c)",
            c.describe(),
            "0: the tray alone does not poll",
            c.reads == 0,
        ),
        Err(e) => s.skipped("Device reads per hour, every bell off, no listener (c)", &e),
    };
    let gaps: Vec<f64> = a.gaps.iter().chain(&b.gaps).copied().collect();
    let mut sorted = gaps.clone();
    sorted.sort_by(f64::total_cmp);
    let typical = percentile(&sorted, 50.0).unwrap_or(0.0);
    s.measure(
        "Time between the app's device reads, (a) and (b)",
        spread(&gaps),
        &format!("the poll interval, {} s", interval.as_secs()),
        (typical - interval.as_secs_f64()).abs() <= 0.1 * interval.as_secs_f64(),
    );
    let processing: Vec<f64> = plain.processing.iter().chain(&with_watch.processing).copied().collect();
    s.measure(
        "The app's read (reaching the simulator) to the `Notify`: the processing",
        spread(&processing),
        "< 2 s",
        processing.iter().all(|x| *x < 2.0),
    );
    let limit = interval + Duration::from_secs(2);
    for (name, t) in [("no listener", &plain), ("`watch` listening", &with_watch)] {
        let max = t.notified.iter().copied().fold(0.0, f64::max);
        s.measure(
            &format!("Door opened in the simulator to the notification daemon's `Notify` ({name})"),
            spread(&t.notified),
            &format!("≤ one poll interval ({} s) + processing; mean ≈ interval/2", interval.as_secs()),
            !t.notified.is_empty() && max <= limit.as_secs_f64(),
        );
    }
    s.measure(
        "Door opened in the simulator to `watch --json`'s line",
        spread(&with_watch.watched),
        &format!("≤ one poll interval ({} s) + processing", interval.as_secs()),
        !with_watch.watched.is_empty() && with_watch.watched.iter().all(|x| *x <= limit.as_secs_f64()),
    );
    let (opened, lost) = (plain.opened + with_watch.opened, plain.lost + with_watch.lost);
    s.check(
        &format!("Doors opened that were never told (within {LOST_AFTER} poll intervals)"),
        format!("{lost} of {opened} (a sample cut off by a window's end is not counted as lost)"),
        "0",
        lost == 0,
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(50.0));
        assert_eq!(percentile(&v, 99.0), Some(99.0));
        assert_eq!(percentile(&v, 100.0), Some(100.0));
        assert_eq!(percentile(&v, 0.0), Some(1.0), "the smallest, not out of range");
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
        assert_eq!(percentile(&[], 50.0), None);
        // Few samples: p99 is the largest one.
        assert_eq!(percentile(&[1.0, 2.0, 3.0], 99.0), Some(3.0));
    }

    #[test]
    fn a_spread_reads_in_seconds_whatever_the_order() {
        assert_eq!(spread(&[3.0, 1.0, 2.0]), "p50 2.0 s, p99 3.0 s, max 3.0 s, mean 2.0 s (n = 3)");
        assert_eq!(spread(&[]), "no samples");
    }

    #[test]
    fn a_phase_counts_per_hour() {
        let p = Phase { reads: 10, window: Duration::from_secs(300), gaps: vec![] };
        assert_eq!(p.describe(), "120 /h (10 reads in 5 min)");
        assert_eq!(
            Phase { reads: 0, window: Duration::from_secs(45), gaps: vec![] }.describe(),
            "0 /h (0 reads in 45 s)"
        );
    }
}
