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
