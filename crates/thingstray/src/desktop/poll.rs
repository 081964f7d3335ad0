//! When to read the devices again, and when to tell the user something.
//!
//! Polling is gentle (live updates need the `sse` scope user-created apps may not get):
//! the device window polls at the configured interval while it is shown; the tray alone
//! does not poll unless the user set an interval (a machine left idle in the tray sends
//! SmartThings nothing), and nothing polls while nothing is signed in; a rate limit
//! stretches the wait.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use crate::error::Error;
use crate::session::Status;

use super::status::has_token;

/// What is on screen right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Showing {
    /// The device window is open and visible.
    DeviceWindow,
    /// Only the tray icon (its menu cannot be observed opening on Linux).
    TrayOnly,
    /// The device window is open but hidden or minimised.
    Nothing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollDecision {
    /// Read now.
    Now,
    /// Read after this long.
    After(Duration),
    /// Do not schedule anything: nothing shown, or nothing to read with.
    Idle,
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
        Showing::Nothing => return PollDecision::Idle,
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

/// Things worth a desktop notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    SignInNeeded { connection: String, message: String },
    RefreshTokenAging { connection: String, message: String },
    CommandFailed { device: String, message: String },
}

impl Notice {
    /// Notices with the same key are debounced together.
    pub fn key(&self) -> String {
        match self {
            Notice::SignInNeeded { connection, .. } => format!("sign-in/{connection}"),
            Notice::RefreshTokenAging { connection, .. } => format!("aging/{connection}"),
            Notice::CommandFailed { device, .. } => format!("command/{device}"),
        }
    }

    pub fn title(&self) -> String {
        match self {
            Notice::SignInNeeded { connection, .. } => format!("ThingsTray: sign in again ({connection})"),
            Notice::RefreshTokenAging { .. } => "ThingsTray: sign-in expires soon".into(),
            Notice::CommandFailed { device, .. } => format!("Could not switch {device}"),
        }
    }

    pub fn body(&self) -> &str {
        match self {
            Notice::SignInNeeded { message, .. } | Notice::RefreshTokenAging { message, .. } | Notice::CommandFailed { message, .. } => {
                message
            }
        }
    }

    fn min_gap(&self) -> Duration {
        match self {
            Notice::SignInNeeded { .. } => Duration::from_secs(6 * 3600),
            Notice::RefreshTokenAging { .. } => Duration::from_secs(24 * 3600),
            Notice::CommandFailed { .. } => Duration::from_secs(60),
        }
    }
}

/// What a status change is worth telling: entering "needs sign-in", or the first time
/// the 30-day warning appears.
pub fn notices_for(connection: &str, before: &Status, after: &Status) -> Vec<Notice> {
    let mut out = Vec::new();
    let needs = |s: &Status| matches!(s, Status::NeedsSignIn { .. });
    if needs(after) && !needs(before) {
        let message = super::status::status_detail(after).unwrap_or_else(|| "Sign in again to reconnect.".into());
        out.push(Notice::SignInNeeded { connection: connection.into(), message });
    }
    let warning = |s: &Status| match s {
        Status::Connected { warning, .. } | Status::Retrying { warning, .. } => warning.clone(),
        _ => None,
    };
    if let (Some(w), None) = (warning(after), warning(before)) {
        out.push(Notice::RefreshTokenAging { connection: connection.into(), message: w });
    }
    out
}

/// Lets a notice through at most once per its gap, per key.
#[derive(Debug, Default)]
pub struct Debounce {
    last: HashMap<String, SystemTime>,
}

impl Debounce {
    pub fn allow(&mut self, notice: &Notice, now: SystemTime) -> bool {
        let key = notice.key();
        if let Some(prev) = self.last.get(&key) {
            if now.duration_since(*prev).unwrap_or(Duration::ZERO) < notice.min_gap() {
                return false;
            }
        }
        self.last.insert(key, now);
        true
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
        assert_eq!(next_poll(Showing::DeviceWindow, &ok(), t(100), Some(t(90)), None, W, T), PollDecision::After(Duration::from_secs(20)));
        assert_eq!(next_poll(Showing::DeviceWindow, &ok(), t(130), Some(t(100)), None, W, T), PollDecision::Now);
        assert_eq!(next_poll(Showing::TrayOnly, &ok(), t(130), Some(t(100)), None, W, T), PollDecision::After(Duration::from_secs(270)));
    }

    #[test]
    fn never_polls_when_nothing_is_shown_or_nobody_is_signed_in() {
        assert_eq!(next_poll(Showing::Nothing, &ok(), t(100), None, None, W, T), PollDecision::Idle);
        assert_eq!(next_poll(Showing::DeviceWindow, &Status::SignedOut, t(100), None, None, W, T), PollDecision::Idle);
    }

    #[test]
    fn the_tray_alone_reads_once_at_start_and_then_only_retries_a_failed_read() {
        let down = Error::ServerError { status: 503 };
        let ended = Error::SessionEnded { detail: "x".into() };
        assert_eq!(next_poll(Showing::TrayOnly, &ok(), t(100), None, None, W, None), PollDecision::Now);
        assert_eq!(next_poll(Showing::TrayOnly, &ok(), t(9_999), Some(t(100)), None, W, None), PollDecision::Idle);
        assert_eq!(next_poll(Showing::TrayOnly, &ok(), t(110), Some(t(100)), Some(&down), W, None), PollDecision::After(Duration::from_secs(20)));
        assert_eq!(next_poll(Showing::TrayOnly, &ok(), t(110), Some(t(100)), Some(&ended), W, None), PollDecision::Idle);
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
        assert_eq!(next_poll(Showing::TrayOnly, &ok(), t(100), Some(t(100)), Some(&down), W, T), PollDecision::After(W));
    }

    #[test]
    fn notices_fire_on_the_change_and_are_debounced() {
        let ended = Status::NeedsSignIn { reason: Error::SessionEnded { detail: "Invalid refresh token".into() } };
        let n = notices_for("home", &ok(), &ended);
        assert_eq!(n.len(), 1);
        assert!(n[0].body().contains("Sign in again"));
        assert!(notices_for("home", &ended, &ended).is_empty());
        let aging = Status::Connected { expires_at: 0, next_refresh_at: 0, warning: Some("26 days".into()) };
        assert!(matches!(&notices_for("home", &ok(), &aging)[..], [Notice::RefreshTokenAging { .. }]));
        assert!(notices_for("home", &aging, &aging).is_empty());

        let mut d = Debounce::default();
        let fail = Notice::CommandFailed { device: "Lamp".into(), message: "offline".into() };
        assert!(d.allow(&fail, t(0)));
        assert!(!d.allow(&fail, t(30)));
        assert!(d.allow(&fail, t(61)));
        assert!(d.allow(&n[0], t(61)));
        assert!(!d.allow(&n[0], t(3600)));
    }
}
