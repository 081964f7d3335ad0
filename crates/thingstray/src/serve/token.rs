//! `GET /token_info.json` and `GET /v1/token`: the current access token, from memory.
//!
//! The field names are the ones the seed's server used, so existing scripts keep working.
//! There is no refresh token here, ever: a leaked access token dies within a day, a leaked
//! refresh token is the account.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use serde::Serialize;

use super::Shared;
use crate::token::{AccessGrant, MIN_VALIDITY};

/// The answer of `/v1/token`, and of every other place that hands out a token the same
/// way (the session store's `/v1/connections/{id}/token`): one type, so they stay alike.
#[derive(Serialize)]
pub struct TokenInfo<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: u64,
    /// UTC, Unix seconds.
    expires_at: u64,
    scope: &'a str,
}

impl<'a> TokenInfo<'a> {
    /// A token handed out, as it stands at `now`.
    pub fn of(grant: &'a AccessGrant, now: std::time::SystemTime) -> TokenInfo<'a> {
        TokenInfo {
            access_token: grant.secret(),
            token_type: "Bearer",
            expires_in: grant.remaining(now).as_secs(),
            expires_at: grant.expires_at_unix(),
            scope: &grant.scope,
        }
    }
}

pub async fn token(State(shared): State<Arc<Shared>>) -> Response {
    let session = match shared.session() {
        Ok(session) => session,
        Err(e) => return super::core_error_response(&e),
    };
    // The hot path: the answer is written from the pair in memory, copying nothing.
    let fast = session.with_fresh(MIN_VALIDITY, |t, now| {
        encode(TokenInfo {
            access_token: t.access_token.secret(),
            token_type: "Bearer",
            expires_in: t.remaining(now).as_secs(),
            expires_at: t.expires_at_ms / 1000,
            scope: &t.scope,
        })
    });
    if let Some(resp) = fast {
        return resp;
    }
    // Otherwise wait for the refresh (ours, or one already running in this or another
    // process) rather than serve a token that is about to die.
    match session.token_valid_for(MIN_VALIDITY).await {
        Ok(grant) => encode(TokenInfo::of(&grant, session.now())),
        Err(e) => {
            tracing::warn!(code = e.code(), "no token to serve");
            super::core_error_response(&e)
        }
    }
}

fn encode(info: TokenInfo<'_>) -> Response {
    super::json_no_store(&info)
}
