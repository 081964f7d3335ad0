//! What the session tells the tray, the UI and `thingstray status`.

use serde::Serialize;

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
