//! What the session tells the tray, the UI and `thingstray status`.

use std::time::SystemTime;

use serde::Serialize;

use super::{lock, Session};
use crate::clock::unix_ms;
use crate::error::Error;

/// Times are Unix seconds (UTC), the unit scripts expect.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Status {
    /// No tokens for this connection.
    SignedOut,
    Connected {
        expires_at: u64,
        next_refresh_at: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        warning: Option<String>,
    },
    Refreshing {
        expires_at: u64,
    },
    /// The last refresh failed for a passing reason; the still-valid token is served.
    Retrying {
        expires_at: u64,
        next_attempt_at: u64,
        attempt: u32,
        last_error: Error,
        #[serde(skip_serializing_if = "Option::is_none")]
        warning: Option<String>,
    },
    /// Only the user can fix this (usually: sign in again). Nothing is retried.
    NeedsSignIn {
        reason: Error,
    },
}

impl Status {
    /// One line for people (`thingstray status`): the state, until when, what to do.
    /// `owner` names the computer a paired connection gets its tokens from.
    pub fn describe(&self, now_unix: u64, owner: Option<&str>) -> String {
        use crate::clock::{span, utc};
        let until = |t: u64| format!("{} (in {})", utc(t), span(t.saturating_sub(now_unix)));
        match self {
            Status::SignedOut if owner.is_some() => "no token yet; it is fetched from the owner when needed.".into(),
            Status::SignedOut => "signed out. Run `thingstray login`.".into(),
            Status::Connected { expires_at, next_refresh_at, warning } => {
                let mut out = format!(
                    "connected; token valid until {}; next refresh at {}",
                    until(*expires_at),
                    utc(*next_refresh_at)
                );
                if let Some(w) = warning {
                    out.push_str(&format!("\n  warning: {w}"));
                }
                out
            }
            Status::Refreshing { expires_at } => {
                format!("refreshing; current token valid until {}", until(*expires_at))
            }
            Status::Retrying { expires_at, next_attempt_at, attempt, last_error, .. } => format!(
                "retrying (attempt {attempt}, next at {}); current token valid until {}. Last error: {last_error}",
                utc(*next_attempt_at),
                until(*expires_at)
            ),
            Status::NeedsSignIn { reason } if owner.is_some() => format!("no tokens: {reason}"),
            Status::NeedsSignIn { reason } => format!("needs sign-in: {reason}"),
        }
    }

    /// Only the user can fix it (a sign-in; for a paired connection a new invite or the
    /// owner's sign-in): `thingstray status` exits 4. A paired connection without a token
    /// yet fetches one when asked: nothing to do.
    pub fn needs_action(&self, paired: bool) -> bool {
        match self {
            Status::SignedOut => !paired,
            Status::NeedsSignIn { .. } => true,
            _ => false,
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            Status::SignedOut => "signed out",
            Status::Connected { .. } => "connected",
            Status::Refreshing { .. } => "refreshing",
            Status::Retrying { .. } => "retrying",
            Status::NeedsSignIn { .. } => "needs sign-in",
        }
    }
}

/// The status is derived, never set: from the tokens and the retry state, in one place, so
/// the tray, the UI and the CLI can never disagree.
impl Session {
    /// Derives the status from the tokens and the retry state; one place, so the tray, the
    /// UI and the CLI can never disagree.
    pub(super) fn publish(&self) {
        let status = self.compute_status();
        self.inner.status.send_if_modified(|s| {
            if *s != status {
                tracing::debug!(connection = %self.inner.connection, state = status.label(), "status");
                *s = status;
                true
            } else {
                false
            }
        });
    }

    pub(super) fn compute_status(&self) -> Status {
        let retry = lock(&self.inner.retry);
        let Some(t) = self.cached() else {
            // No pair, and a failure only the user can fix (an unreadable stored pair).
            return retry.halted.clone().map_or(Status::SignedOut, |reason| Status::NeedsSignIn { reason });
        };
        if let Some(detail) = &t.ended {
            return Status::NeedsSignIn { reason: self.ended_error(detail) };
        }
        let now = self.now();
        if let Some(e) = &retry.halted {
            return Status::NeedsSignIn { reason: e.clone() };
        }
        let secs = |t: SystemTime| unix_ms(t) / 1000;
        let age = now.duration_since(t.issued_at()).unwrap_or_default();
        let warning = (age >= self.inner.opts.warn_after).then(|| {
            format!(
                "The last successful refresh was {} days ago; SmartThings ends a session whose refresh token reaches 30 days. \
                 Check the network, or sign in again before then.",
                age.as_secs() / 86_400
            )
        });
        match (&retry.last_error, retry.next_at) {
            (Some(e), Some(next)) => Status::Retrying {
                expires_at: secs(t.expires_at()),
                next_attempt_at: secs(next),
                attempt: retry.attempt,
                last_error: e.clone(),
                warning,
            },
            _ => Status::Connected {
                expires_at: secs(t.expires_at()),
                next_refresh_at: secs(self.refresh_point(&t)),
                warning,
            },
        }
    }
}
