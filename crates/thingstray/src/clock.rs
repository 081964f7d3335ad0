//! Wall-clock time, behind a trait so tests can live through 30 days in a second.
//!
//! The session schedules refreshes on the wall clock, not on monotonic timers: a laptop
//! that sleeps for a night wakes with monotonic timers that never advanced, while its
//! token expired hours ago. Comparing against `SystemTime` on every wake-up catches that.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::Notify;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> SystemTime;

    /// Resolves when the clock jumped (test clocks only); the real clock never resolves,
    /// the session's periodic wall-clock check covers real jumps such as resume from sleep.
    fn jumped(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// Milliseconds since the Unix epoch: the unit tokens are stored and compared in.
pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

pub fn from_unix_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// `1716000000` -> `2024-05-18 02:40:00 UTC`.
pub fn utc(unix: u64) -> String {
    let t = UNIX_EPOCH + Duration::from_secs(unix);
    let rfc3339 = humantime::format_rfc3339_seconds(t).to_string(); // 2024-05-18T02:40:00Z
    format!("{} UTC", rfc3339.trim_end_matches('Z').replacen('T', " ", 1))
}

/// `3h 12m`, `4m 5s`, `12s`.
pub fn span(secs: u64) -> String {
    match secs {
        s if s >= 86_400 => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
        s if s >= 3600 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        s if s >= 60 => format!("{}m {}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn jumped(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(std::future::pending())
    }
}

/// Real time plus an offset that tests move forward, the way the simulator's clock moves.
#[derive(Debug, Default, Clone)]
pub struct ManualClock {
    inner: Arc<ManualInner>,
}

#[derive(Debug, Default)]
struct ManualInner {
    offset_ms: AtomicI64,
    jumped: Notify,
}

impl ManualClock {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn advance(&self, by: Duration) {
        self.inner.offset_ms.fetch_add(by.as_millis() as i64, Ordering::SeqCst);
        self.inner.jumped.notify_waiters();
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        let off = self.inner.offset_ms.load(Ordering::SeqCst);
        let now = SystemTime::now();
        if off >= 0 {
            now + Duration::from_millis(off as u64)
        } else {
            now - Duration::from_millis(off.unsigned_abs())
        }
    }

    fn jumped(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(self.inner.jumped.notified())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_forward() {
        let c = ManualClock::new();
        let before = c.now();
        c.advance(Duration::from_secs(86_400 * 30));
        let gap = c.now().duration_since(before).unwrap();
        assert!(gap >= Duration::from_secs(86_400 * 30));
    }

    #[test]
    fn unix_ms_round_trips() {
        let t = from_unix_ms(1_700_000_000_123);
        assert_eq!(unix_ms(t), 1_700_000_000_123);
    }
}
