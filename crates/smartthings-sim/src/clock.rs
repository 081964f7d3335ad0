//! The simulator's clock: real time plus an offset that tests can only move forward.
//!
//! Every expiry in the simulator (codes, access tokens, refresh tokens) is judged by this
//! clock, so a test can live through 30 days of token lifetimes in milliseconds without
//! sleeping, while timestamps written into device status still look like real ones.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Wall clock + a monotonically growing offset, in milliseconds since the Unix epoch.
#[derive(Debug, Default)]
pub(crate) struct SimClock {
    offset_ms: AtomicU64,
}

impl SimClock {
    /// Milliseconds since the Unix epoch on the simulated clock.
    pub(crate) fn now_ms(&self) -> u64 {
        let real = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
        real.saturating_add(self.offset_ms.load(Ordering::SeqCst))
    }

    /// Moves the clock forward; the offset saturates instead of overflowing.
    pub(crate) fn advance(&self, by: Duration) {
        let add = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        let _ = self.offset_ms.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |o| Some(o.saturating_add(add)));
    }

    /// The current offset, for the control endpoint's answer.
    pub(crate) fn offset_ms(&self) -> u64 {
        self.offset_ms.load(Ordering::SeqCst)
    }
}

/// Formats epoch milliseconds as SmartThings does: `2025-04-28T11:43:31.600Z`.
pub(crate) fn iso8601(ms: u64) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(ms);
    humantime::format_rfc3339_millis(t).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_smartthings() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_745_840_611_600), "2025-04-28T11:43:31.600Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn advance_moves_forward() {
        let c = SimClock::default();
        let before = c.now_ms();
        c.advance(Duration::from_secs(30 * 86_400));
        assert!(c.now_ms() >= before + 30 * 86_400_000);
        c.advance(Duration::MAX);
        assert_eq!(c.offset_ms(), u64::MAX);
    }
}
