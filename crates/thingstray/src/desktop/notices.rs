//! What is worth a desktop notification, and how often: entering "needs sign-in", the
//! 30-day warning, a failed command; each kind debounced on its own gap.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use crate::session::Status;

use super::indicator::status_detail;

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
            Notice::SignInNeeded { message, .. }
            | Notice::RefreshTokenAging { message, .. }
            | Notice::CommandFailed { message, .. } => message,
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
        let message = status_detail(after).unwrap_or_else(|| "Sign in again to reconnect.".into());
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
    use crate::error::Error;

    fn t(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(s)
    }
    fn ok() -> Status {
        Status::Connected { expires_at: 99_999, next_refresh_at: 0, warning: None }
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
