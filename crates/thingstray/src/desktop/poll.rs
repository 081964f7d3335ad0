//! When to read the devices again: the one polling policy, for the tray and the device
//! window alike (the window does not keep its own timer policy: each `devices` answer
//! carries `next_read_ms`, decided here).
//!
//! Polling is gentle (live updates need the `sse` scope user-created apps may not get):
//! the device window reads at the configured interval while it is shown; the tray alone
//! does not poll unless the user set an interval (a machine left idle in the tray sends
//! SmartThings nothing), and nothing polls while nothing is signed in. A rate limit is
//! honoured by both: nobody reads before its reset, the cached list is served meanwhile.

use std::time::{Duration, SystemTime};

use crate::error::Error;
use crate::session::Status;

use super::indicator::has_token;

/// Who is reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Showing {
    /// The device window is open (it stops asking while the page is hidden).
    DeviceWindow,
    /// Only the tray icon (its menu cannot be observed opening on Linux).
    TrayOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollDecision {
    /// Read now.
    Now,
    /// Read after this long.
    After(Duration),
    /// Do not schedule anything: nothing to read with, or nothing asked for.
    Idle,
}

impl PollDecision {
    /// For the device window: milliseconds until the next read, `None` for none.
    pub fn millis(self) -> Option<u64> {
        match self {
            PollDecision::Now => Some(0),
            PollDecision::After(d) => Some(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            PollDecision::Idle => None,
        }
    }
}

/// How long a rate limit SmartThings answered still holds, if one does.
pub fn rate_limit_left(now: SystemTime, last_read: Option<SystemTime>, last_error: Option<&Error>) -> Option<Duration> {
    let (Some(Error::RateLimited { retry_after }), Some(last)) = (last_error, last_read) else { return None };
    let elapsed = now.duration_since(last).unwrap_or(Duration::ZERO);
    retry_after.checked_sub(elapsed).filter(|left| !left.is_zero())
}

/// Decides the next device read.
/// `last_read`: the last attempt (success or not); `last_error`: its error, if any.
pub fn next_poll(
    showing: Showing,
    status: &Status,
    now: SystemTime,
    last_read: Option<SystemTime>,
    last_error: Option<&Error>,
    window_interval: Duration,
    tray_interval: Option<Duration>,
) -> PollDecision {
    if !has_token(status) {
        return PollDecision::Idle;
    }
    let mut interval = match showing {
        Showing::DeviceWindow => window_interval,
        Showing::TrayOnly => match tray_interval {
            Some(i) => i,
            // No tray polling: the first read after start, and retries of a read that
            // failed in passing, then nothing.
            None if last_read.is_none() => return PollDecision::Now,
            None if last_error.is_some_and(Error::is_transient) => window_interval.max(Duration::from_secs(30)),
            None => return PollDecision::Idle,
        },
    };
    if let Some(Error::RateLimited { retry_after }) = last_error {
        interval = interval.max(*retry_after);
    } else if last_error.is_some_and(Error::is_transient) {
        // Something passing went wrong: try again sooner than a full tray interval, but
        // not more often than the window would.
        interval = interval.min(window_interval.max(Duration::from_secs(30)));
    }
    let Some(last) = last_read else { return PollDecision::Now };
    let elapsed = now.duration_since(last).unwrap_or(Duration::ZERO);
    if elapsed >= interval {
        PollDecision::Now
    } else {
        PollDecision::After(interval - elapsed)
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    fn t(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(s)
    }
    fn ok() -> Status {
        Status::Connected { expires_at: 99_999, next_refresh_at: 0, warning: None }
    }
    const W: Duration = Duration::from_secs(30);
    const T: Option<Duration> = Some(Duration::from_secs(300));

    #[test]
    fn window_polls_at_its_interval_and_tray_rarely() {
        assert_eq!(next_poll(Showing::DeviceWindow, &ok(), t(100), None, None, W, T), PollDecision::Now);
        assert_eq!(
            next_poll(Showing::DeviceWindow, &ok(), t(100), Some(t(90)), None, W, T),
            PollDecision::After(Duration::from_secs(20))
        );
        assert_eq!(next_poll(Showing::DeviceWindow, &ok(), t(130), Some(t(100)), None, W, T), PollDecision::Now);
        assert_eq!(
            next_poll(Showing::TrayOnly, &ok(), t(130), Some(t(100)), None, W, T),
            PollDecision::After(Duration::from_secs(270))
        );
    }

    #[test]
    fn never_polls_when_nobody_is_signed_in() {
        assert_eq!(next_poll(Showing::DeviceWindow, &Status::SignedOut, t(100), None, None, W, T), PollDecision::Idle);
    }

    #[test]
    fn the_tray_alone_reads_once_at_start_and_then_only_retries_a_failed_read() {
        let down = Error::ServerError { status: 503 };
        let ended = Error::SessionEnded { detail: "x".into() };
        assert_eq!(next_poll(Showing::TrayOnly, &ok(), t(100), None, None, W, None), PollDecision::Now);
        assert_eq!(next_poll(Showing::TrayOnly, &ok(), t(9_999), Some(t(100)), None, W, None), PollDecision::Idle);
        assert_eq!(
            next_poll(Showing::TrayOnly, &ok(), t(110), Some(t(100)), Some(&down), W, None),
            PollDecision::After(Duration::from_secs(20))
        );
        assert_eq!(
            next_poll(Showing::TrayOnly, &ok(), t(110), Some(t(100)), Some(&ended), W, None),
            PollDecision::Idle
        );
        assert_eq!(crate::desktop::prefs::DesktopSettings::default().tray_refresh(), None);
    }

    #[test]
    fn rate_limits_stretch_and_transient_errors_shorten_the_tray_wait() {
        let limited = Error::RateLimited { retry_after: Duration::from_secs(120) };
        assert_eq!(
            next_poll(Showing::DeviceWindow, &ok(), t(100), Some(t(100)), Some(&limited), W, T),
            PollDecision::After(Duration::from_secs(120))
        );
        let down = Error::ServerError { status: 503 };
        assert_eq!(
            next_poll(Showing::TrayOnly, &ok(), t(100), Some(t(100)), Some(&down), W, T),
            PollDecision::After(W)
        );
    }

    #[test]
    fn a_rate_limit_holds_until_its_reset_and_the_window_is_told_when_to_read() {
        let limited = Error::RateLimited { retry_after: Duration::from_secs(40) };
        assert_eq!(rate_limit_left(t(110), Some(t(100)), Some(&limited)), Some(Duration::from_secs(30)));
        assert_eq!(rate_limit_left(t(140), Some(t(100)), Some(&limited)), None);
        assert_eq!(rate_limit_left(t(110), Some(t(100)), Some(&Error::ServerError { status: 503 })), None);
        assert_eq!(rate_limit_left(t(110), None, Some(&limited)), None);
        let next = next_poll(Showing::DeviceWindow, &ok(), t(110), Some(t(100)), Some(&limited), W, None);
        assert_eq!(next.millis(), Some(30_000));
        assert_eq!(PollDecision::Idle.millis(), None);
        assert_eq!(PollDecision::Now.millis(), Some(0));
    }
}
