//! Crash-test hooks, compiled only with the `failpoints` feature (the `thingstray-proof`
//! crash test turns it on; normal builds contain none of this, and `hit` is an empty
//! inline function).
//!
//! `THINGSTRAY_FAILPOINTS` holds `name` or `name=pause:MS` entries, comma-separated, or
//! `trace`. While it is set, every point prints `thingstray-failpoint NAME MONO_US` to
//! stderr as it is passed (MONO_US: microseconds on the monotonic clock, so a test can
//! measure the time between two points), and a `pause` entry stops the thread there for
//! MS milliseconds, so a test can kill -9 the process at exactly that point.
//!
//! Written by hand rather than with the `fail` crate: the crash test needs the process to
//! announce each point as it passes it (to time its kill and to know where it landed),
//! which `fail`'s actions cannot do, and this is 40 lines.
//!
//! The points, in the order a refresh passes them:
//! - `refresh.before_request`: both refresh locks held, nothing sent yet.
//! - `refresh.response`: SmartThings answered with a new pair; the old refresh token is
//!   dead and the new pair is in memory only (the window no code can close).
//! - `write_atomic.before_rename` / `write_atomic.after_rename`: inside the vault file
//!   write (file vault), before and after the new file replaces the old one.
//! - `refresh.saved`: the new pair is durable; nobody has been handed it yet.
//!
//! The hand-over's points (owner/hand_over.rs, owner/take_over.rs) are async [`step`]s,
//! named `give.*` on the old owner and `take.*` on the new one. Besides the variable, a
//! test in this process can arm one of them ([`drill`]): *kill* ends the task at that
//! point as a process's death would (a panic: nothing after it runs, its locks are let
//! go), *stall* holds it there until the test lets go. Drills are per settings folder, so
//! tests running side by side never meet each other's.

#[cfg(feature = "failpoints")]
mod imp {
    use std::io::Write as _;
    use std::sync::OnceLock;
    use std::time::{Duration, Instant};

    /// Parsed once: the points with their pause, or `None` when the variable is unset.
    fn config() -> &'static Option<Vec<(String, u64)>> {
        static CONFIG: OnceLock<Option<Vec<(String, u64)>>> = OnceLock::new();
        CONFIG.get_or_init(|| {
            let raw = std::env::var("THINGSTRAY_FAILPOINTS").ok()?;
            Some(
                raw.split(',')
                    .filter(|e| !e.trim().is_empty())
                    .map(|e| match e.split_once("=pause:") {
                        Some((name, ms)) => (name.trim().to_string(), ms.trim().parse().unwrap_or(0)),
                        None => (e.trim().to_string(), 0),
                    })
                    .collect(),
            )
        })
    }

    fn epoch() -> Instant {
        static START: OnceLock<Instant> = OnceLock::new();
        *START.get_or_init(Instant::now)
    }

    pub fn hit(name: &str) {
        let Some(points) = config() else { return };
        let us = epoch().elapsed().as_micros();
        let _ = writeln!(std::io::stderr().lock(), "thingstray-failpoint {name} {us}");
        if let Some((_, ms)) = points.iter().find(|(n, _)| n == name) {
            // A blocking sleep on purpose: the point must stop this thread right here.
            std::thread::sleep(Duration::from_millis(*ms));
        }
    }
}

#[cfg(feature = "failpoints")]
pub(crate) use imp::hit;

#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub(crate) fn hit(_name: &str) {}

/// A step of a protocol run under the settings folder `dir`: [`hit`], then whatever a
/// [`drill`] armed there.
#[cfg(feature = "failpoints")]
pub(crate) async fn step(name: &str, dir: &std::path::Path) {
    hit(name);
    drill::step(name, dir).await;
}

#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub(crate) async fn step(_name: &str, _dir: &std::path::Path) {}

#[cfg(feature = "failpoints")]
pub mod drill {
    //! In-process drills for tests: which steps a run passed, and a kill or a stall at one.

    use std::collections::HashMap;
    use std::path::{Path, PathBuf};
    use std::sync::{Mutex, OnceLock};

    use tokio::sync::watch;

    /// What an armed step does.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Act {
        /// Ends the task there, as the process's death would, once [`Armed::release`]
        /// lets it (so the test can take the rest of the "process" down first).
        Kill,
        /// Waits there, each time it is passed, until [`Armed::release`] (or the handle is
        /// dropped): a keychain or a disk stuck for a while.
        Stall,
    }

    /// The panic message of a kill: [`quiet_kills`] keeps these out of the test output.
    pub const KILLED: &str = "thingstray-failpoint kill";

    struct Trap {
        name: String,
        act: Act,
        reached: watch::Sender<bool>,
        released: watch::Receiver<bool>,
    }

    #[derive(Default)]
    struct Scope {
        seen: Vec<String>,
        traps: Vec<Trap>,
    }

    fn scopes() -> std::sync::MutexGuard<'static, HashMap<PathBuf, Scope>> {
        static SCOPES: OnceLock<Mutex<HashMap<PathBuf, Scope>>> = OnceLock::new();
        SCOPES.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts recording the steps passed under `dir`, forgetting earlier ones and traps.
    pub fn watch(dir: &Path) {
        scopes().insert(dir.to_path_buf(), Scope::default());
    }

    /// The steps passed under `dir` since [`watch`], in order.
    pub fn seen(dir: &Path) -> Vec<String> {
        scopes().get(dir).map(|s| s.seen.clone()).unwrap_or_default()
    }

    /// Stops watching `dir`.
    pub fn forget(dir: &Path) {
        scopes().remove(dir);
    }

    /// The next pass of step `name` under `dir` does `act`.
    pub fn arm(dir: &Path, name: &str, act: Act) -> Armed {
        let (reached_tx, reached) = watch::channel(false);
        let (release, released) = watch::channel(false);
        let mut all = scopes();
        let scope = all.entry(dir.to_path_buf()).or_default();
        scope.traps.push(Trap { name: name.to_string(), act, reached: reached_tx, released });
        Armed { reached, release }
    }

    /// An armed step, as the test holds it.
    pub struct Armed {
        reached: watch::Receiver<bool>,
        release: watch::Sender<bool>,
    }

    impl Armed {
        /// Whether the step was reached.
        pub fn is_reached(&self) -> bool {
            *self.reached.borrow()
        }

        /// Resolves once the step is reached.
        pub async fn reached(&mut self) {
            let _ = self.reached.wait_for(|r| *r).await;
        }

        /// Lets a stalled step go on.
        pub fn release(&self) {
            let _ = self.release.send(true);
        }
    }

    /// Kills print no panic message (any other panic still does).
    pub fn quiet_kills() {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            let before = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                let msg = info.payload().downcast_ref::<String>().map(String::as_str).unwrap_or("");
                if !msg.starts_with(KILLED) {
                    before(info);
                }
            }));
        });
    }

    pub(super) async fn step(name: &str, dir: &Path) {
        let (act, mut released) = {
            let mut all = scopes();
            let Some(scope) = all.get_mut(dir) else { return };
            scope.seen.push(name.to_string());
            let Some(at) = scope.traps.iter().position(|t| t.name == name) else { return };
            let trap = &scope.traps[at];
            let _ = trap.reached.send(true);
            let armed = (trap.act, trap.released.clone());
            // A kill happens once; a stall holds every pass until it is let go.
            if trap.act == Act::Kill || *trap.released.borrow() {
                scope.traps.remove(at);
            }
            armed
        };
        let _ = released.wait_for(|r| *r).await;
        if act == Act::Kill {
            panic!("{KILLED} {name}");
        }
    }
}
