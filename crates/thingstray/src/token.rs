//! The token pair as ThingsTray keeps it, and the part of it that callers may see.

use std::time::{Duration, SystemTime};

pub use oauth2::{AccessToken, RefreshToken};
use serde::{Deserialize, Serialize};

use crate::clock::{from_unix_ms, unix_ms};

/// How long a token handed out stays valid at least: the token server's answers, a copied
/// token, `thingstray token` unless told otherwise, a paired computer's token unless it asks
/// for another margin, the pair a hand-over gives away. A script that got a token can use it
/// for five minutes without checking anything, as `az account get-access-token` promises.
pub const MIN_VALIDITY: Duration = Duration::from_secs(5 * 60);

/// How long a token for one API request stays valid at least (the core's API client and
/// the token server's proxy): no token expires in flight.
pub const REQUEST_MIN_VALIDITY: Duration = Duration::from_secs(60);

/// What the vault holds for one connection, as one keychain item, so the access token and
/// the refresh token that came with it are always written together.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TokenSet {
    pub access_token: AccessToken,
    /// Empty (and not written) for a paired connection's token: its owner keeps the
    /// refresh token, which never leaves that computer.
    #[serde(default = "no_refresh_token", skip_serializing_if = "is_empty")]
    pub refresh_token: RefreshToken,
    /// When the access token expires (Unix ms).
    pub expires_at_ms: u64,
    /// When this pair was issued (Unix ms): the time of the last successful refresh, which is
    /// also the age of the refresh token (it rotates on every refresh).
    pub issued_at_ms: u64,
    #[serde(default)]
    pub scope: String,
    #[serde(default)]
    pub installed_app_id: Option<String>,
    /// Set when SmartThings answered `invalid_grant` to this refresh token: every process
    /// then knows, without asking SmartThings again, that only a new sign-in helps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<String>,
    /// Whether this pair came from a refresh (not a sign-in): its lifetime is then what
    /// SmartThings gives a refresh, and refreshing again for a longer one would only
    /// spend a refresh token for the same answer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub from_refresh: bool,
}

fn no_refresh_token() -> RefreshToken {
    RefreshToken::new(String::new())
}

fn is_empty(t: &RefreshToken) -> bool {
    t.secret().is_empty()
}

impl TokenSet {
    pub fn expires_at(&self) -> SystemTime {
        from_unix_ms(self.expires_at_ms)
    }

    pub fn issued_at(&self) -> SystemTime {
        from_unix_ms(self.issued_at_ms)
    }

    /// How long the access token is still good for at `now` (zero once expired).
    pub fn remaining(&self, now: SystemTime) -> Duration {
        self.expires_at().duration_since(now).unwrap_or(Duration::ZERO)
    }

    /// Whether this pair can hand out its access token as it is: not ended, and valid for
    /// at least `min` more at `now`. The one rule the session and the CLI's fast path share.
    pub fn serves(&self, min: Duration, now: SystemTime) -> bool {
        self.ended.is_none() && self.remaining(now) >= min
    }

    /// How long the access token was issued for.
    pub fn lifetime(&self) -> Duration {
        Duration::from_millis(self.expires_at_ms.saturating_sub(self.issued_at_ms))
    }

    /// The moment to refresh: `fraction` of the way through the token's lifetime.
    pub fn refresh_due(&self, fraction: f64) -> SystemTime {
        let life = self.expires_at_ms.saturating_sub(self.issued_at_ms);
        from_unix_ms(self.issued_at_ms + (life as f64 * fraction) as u64)
    }

    pub fn grant(&self) -> AccessGrant {
        AccessGrant {
            access_token: self.access_token.clone(),
            token_type: "Bearer".into(),
            expires_at: self.expires_at(),
            scope: self.scope.clone(),
            installed_app_id: self.installed_app_id.clone(),
        }
    }

    /// Both tokens: a paired computer's tokens have no refresh token to tell them apart.
    pub(crate) fn is_same_pair(&self, other: &TokenSet) -> bool {
        self.refresh_token.secret() == other.refresh_token.secret()
            && self.access_token.secret() == other.access_token.secret()
    }
}

/// A valid access token as handed to callers (tray, UI, CLI, token server). It has no
/// refresh token: only the session ever sees that.
#[derive(Clone, Debug)]
pub struct AccessGrant {
    pub access_token: AccessToken,
    pub token_type: String,
    pub expires_at: SystemTime,
    pub scope: String,
    pub installed_app_id: Option<String>,
}

impl AccessGrant {
    pub fn secret(&self) -> &str {
        self.access_token.secret()
    }

    pub fn expires_at_unix(&self) -> u64 {
        unix_ms(self.expires_at) / 1000
    }

    pub fn remaining(&self, now: SystemTime) -> Duration {
        self.expires_at.duration_since(now).unwrap_or(Duration::ZERO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_both_tokens() {
        let t = TokenSet {
            access_token: AccessToken::new("acc-123-secret".into()),
            refresh_token: RefreshToken::new("ref-456-secret".into()),
            expires_at_ms: 2_000,
            issued_at_ms: 1_000,
            scope: "r:devices:*".into(),
            installed_app_id: None,
            ended: None,
            from_refresh: false,
        };
        let dbg = format!("{t:?} {:?}", t.grant());
        assert!(!dbg.contains("acc-123") && !dbg.contains("ref-456"), "{dbg}");
    }

    #[test]
    fn refresh_is_due_three_quarters_through() {
        let t = TokenSet {
            access_token: AccessToken::new("a".into()),
            refresh_token: RefreshToken::new("r".into()),
            expires_at_ms: 1_000 + 86_400_000,
            issued_at_ms: 1_000,
            scope: String::new(),
            installed_app_id: None,
            ended: None,
            from_refresh: false,
        };
        assert_eq!(unix_ms(t.refresh_due(0.75)), 1_000 + 64_800_000);
    }
}
