//! Where a session's next token comes from: SmartThings itself (this computer holds the
//! sign-in and spends the refresh token), or the computer that holds it (a connection of
//! kind "paired", issue 11: it asks the owner over the pinned TLS share protocol).
//!
//! Everything else about a session is the same for both: the token cached in the vault,
//! the single flight across processes, the scheduler, the status. A paired computer's
//! vault item holds an access token and no refresh token: losing it costs one request to
//! the owner, so a vault that refuses writes is a warning here, not the end of a session.

use std::time::Duration;

use super::{lock, Need, Retry, Session, Status};
use crate::clock::unix_ms;
use crate::error::{Error, Result};
use crate::oauth::OAuthClient;
use crate::schema::SchemaClient;
use crate::share::{Credentials, ShareClient};
use crate::token::{RefreshToken, TokenSet, MIN_VALIDITY};

// One per session, never moved once built: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
pub(super) enum Source {
    SignIn(OAuthClient),
    Paired(Paired),
    /// An ST Schema connector's callback tokens (schema/): refreshed with st-schema JSON
    /// at the grant's `callbackUrls.oauthToken`, the same session guarantees otherwise.
    Schema(SchemaClient),
}

/// Where a paired session asks: its owner, and the location it was paired for.
pub struct Paired {
    pub client: ShareClient,
    pub creds: Credentials,
    /// Tokens for another location are refused (the owner may start sharing another
    /// connection); None: the pairing did not say, nothing to check.
    pub location_id: Option<String>,
}

/// What a paired computer asks for when its scheduler runs: a token at least as good as
/// the one it has at that point (a quarter of its lifetime left), never more than a
/// token-server client would ask. The owner answers with its current token, which it
/// keeps fresh itself; asking for more would make it refresh early for us.
fn scheduled_ask(current: Option<&TokenSet>) -> Duration {
    let most = MIN_VALIDITY;
    current.map_or(most, |t| (t.lifetime() / 4).min(most))
}

/// A pair with a refresh token: this computer holds the sign-in itself.
fn holds_a_sign_in(t: &TokenSet) -> bool {
    !t.refresh_token.secret().is_empty()
}

impl Session {
    /// This paired session's vault item holds a full pair now: it stops asking the owner
    /// and never writes over that pair.
    fn taken_over_here(&self) -> Error {
        let e = Error::TakenOverHere { connection: self.inner.connection.clone() };
        tracing::warn!(connection = %self.inner.connection, code = e.code(), "the connection was taken over by another process here");
        self.publish();
        e
    }

    /// This computer handed the session over (its record says so): a full pair still in
    /// the vault is what it sent, left behind, not a sign-in of its own.
    fn gave_it_away(&self) -> bool {
        matches!(self.inner.lock.record(), Ok(Some(super::record::Record::Giving(_))))
    }

    /// An ST Schema connector's callback tokens (not for the REST API).
    pub fn is_schema(&self) -> bool {
        matches!(self.inner.source, Source::Schema(_))
    }

    /// The owner's name when this connection is paired.
    pub fn owner(&self) -> Option<&str> {
        match &self.inner.source {
            Source::SignIn(_) | Source::Schema(_) => None,
            Source::Paired(p) => Some(&p.creds.owner),
        }
    }

    /// The OAuth client of a connection that holds its own sign-in. A paired connection
    /// has none: its owner signs in.
    pub fn oauth(&self) -> Result<&OAuthClient> {
        match &self.inner.source {
            Source::SignIn(oauth) => Ok(oauth),
            Source::Paired(p) => {
                Err(Error::PairedConnection { connection: self.inner.connection.clone(), owner: p.creds.owner.clone() })
            }
            Source::Schema(_) => Err(Error::ConnectionKind {
                connection: self.inner.connection.clone(),
                why: "it holds an ST Schema connector's callback tokens and has no sign-in of its own; a new grantCallbackAccess goes to `thingstray schema grant`".into(),
            }),
        }
    }

    /// Why this session's stored pair ended, from the note kept with it.
    pub(super) fn ended_error(&self, note: &str) -> Error {
        match &self.inner.source {
            Source::Schema(_) => crate::schema::from_ended_note(note),
            _ => Error::SessionEnded { detail: note.to_string() },
        }
    }

    /// A paired connection's refresh: the cached token if another process fetched one
    /// meanwhile, else a token from the owner. The caller holds the flight mutex and the
    /// cross-process lock.
    pub(super) async fn fetch_from_owner(&self, p: &Paired, need: Need) -> Result<TokenSet> {
        let conn = &self.inner.connection;
        let stored = match self.inner.vault.tokens(conn).await {
            Ok(stored) => stored,
            Err(e) => {
                tracing::warn!(connection = %conn, code = e.code(), "the cached token is unreadable; asking the owner");
                None
            }
        };
        if stored.as_ref().is_some_and(holds_a_sign_in) && !self.gave_it_away() {
            return Err(self.taken_over_here());
        }
        if let Some(stored) = stored.filter(|s| self.good_enough(s, need)) {
            self.set_tokens(Some(stored.clone()));
            *lock(&self.inner.retry) = Retry::default();
            self.publish();
            return Ok(stored);
        }
        let ask = match need {
            Need::Valid(min) => min,
            Need::Scheduled => scheduled_ask(self.cached().as_ref()),
        };
        self.ask_owner(p, ask).await
    }

    /// A token from the owner, valid at least `ask`, cached in the vault.
    pub(super) async fn ask_owner(&self, p: &Paired, ask: Duration) -> Result<TokenSet> {
        let conn = &self.inner.connection;
        let current = self.cached();
        if let Some(c) = &current {
            self.inner.status.send_replace(Status::Refreshing { expires_at: unix_ms(c.expires_at()) / 1000 });
        }
        tracing::info!(connection = %conn, owner = %p.creds.owner, "asking the owner for a token");
        let shared = match p.client.token(&p.creds, ask).await {
            Ok(shared) => shared,
            Err(Error::ShareUnreachable { owner, detail }) => {
                // Say until when the token this computer holds keeps working.
                let detail = match current.as_ref().map(|c| c.remaining(self.now())).filter(|left| !left.is_zero()) {
                    Some(left) => {
                        format!("{detail}; the token this computer holds is valid for {} more min", left.as_secs() / 60)
                    }
                    None => format!("{detail}; this computer holds no valid token"),
                };
                let e = Error::ShareUnreachable { owner, detail };
                tracing::warn!(connection = %conn, code = e.code(), "the owner could not be reached");
                self.publish();
                return Err(e);
            }
            Err(e) => {
                tracing::warn!(connection = %conn, code = e.code(), "the owner gave no token: {e}");
                self.publish();
                return Err(e);
            }
        };
        if let (Some(expected), Some(got)) = (&p.location_id, &shared.location_id) {
            if expected != got {
                let e = Error::ShareWrongLocation {
                    owner: p.creds.owner.clone(),
                    expected: expected.clone(),
                    got: got.clone(),
                };
                tracing::warn!(connection = %conn, code = e.code(), "the owner's token is for another location");
                self.publish();
                return Err(e);
            }
        }
        let t = TokenSet {
            access_token: shared.grant.access_token,
            refresh_token: RefreshToken::new(String::new()),
            expires_at_ms: unix_ms(shared.grant.expires_at),
            // When this computer got it: the scheduler's 75% point is then a fraction of
            // what was left, so it asks again before the owner's token runs out.
            issued_at_ms: unix_ms(self.now()),
            scope: shared.grant.scope,
            installed_app_id: shared.grant.installed_app_id,
            ended: None,
            from_refresh: false,
        };
        // Read again right before the write: what is stored now may be a full pair that
        // `thingstray share take-over` put there while the owner answered. An access
        // token alone written over it would lose the refresh token on both computers.
        match self.inner.vault.tokens(conn).await {
            Ok(Some(now)) if holds_a_sign_in(&now) && !self.gave_it_away() => return Err(self.taken_over_here()),
            _ => {}
        }
        if let Err(e) = self.inner.vault.store_tokens(conn, &t).await {
            tracing::warn!(connection = %conn, code = e.code(), "could not cache the owner's token; using it anyway");
        }
        *lock(&self.inner.retry) = Retry::default();
        self.set_tokens(Some(t.clone()));
        self.publish();
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::AccessToken;

    fn living(secs: u64) -> TokenSet {
        TokenSet {
            access_token: AccessToken::new("a".into()),
            refresh_token: RefreshToken::new(String::new()),
            expires_at_ms: 1_000 + secs * 1000,
            issued_at_ms: 1_000,
            scope: String::new(),
            installed_app_id: None,
            ended: None,
            from_refresh: false,
        }
    }

    #[test]
    fn the_scheduler_asks_for_no_more_than_it_has_nor_than_a_client_would() {
        assert_eq!(scheduled_ask(None), MIN_VALIDITY);
        assert_eq!(scheduled_ask(Some(&living(86_400))), MIN_VALIDITY);
        assert_eq!(scheduled_ask(Some(&living(8))), Duration::from_secs(2));
    }
}
