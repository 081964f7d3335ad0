//! Personal access tokens (PATs): account-wide bearer tokens with the scopes ticked when
//! they were made. Since 30 Dec 2024 SmartThings' PATs live 24 hours (REFERENCE.md, "Why
//! the product exists"), so that is the default lifetime; expiry is judged by the
//! simulator's clock. An expired or unknown PAT is SmartThings' 401, a missing scope its
//! 403 (api_auth.rs). `POST /__sim/pat` mints one, as the tokens page would.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use crate::errors::json_response;
use crate::ids::uuid;
use crate::state::{lock, AppState};

/// SmartThings' PAT lifetime since 30 Dec 2024: 24 hours.
pub(crate) const DEFAULT_LIFETIME_S: u64 = 86_400;

#[derive(Debug, Clone)]
struct Pat {
    scopes: Vec<String>,
    expires_ms: u64,
}

#[derive(Debug, Default)]
pub(crate) struct PatStore {
    tokens: HashMap<String, Pat>,
}

impl PatStore {
    /// A new token with these scopes, valid for `lifetime_ms` from `now_ms`.
    pub(crate) fn mint(&mut self, scopes: Vec<String>, lifetime_ms: u64, now_ms: u64) -> String {
        let token = uuid();
        self.tokens.insert(token.clone(), Pat { scopes, expires_ms: now_ms.saturating_add(lifetime_ms) });
        token
    }

    /// The scopes of a live PAT; `None` if unknown or expired.
    pub(crate) fn scopes(&self, token: &str, now_ms: u64) -> Option<Vec<String>> {
        self.tokens.get(token).filter(|p| now_ms < p.expires_ms).map(|p| p.scopes.clone())
    }
}

/// Mints a PAT on the simulator's clock; counts it.
pub(crate) fn mint(st: &AppState, scopes: Vec<String>, lifetime_ms: u64) -> String {
    let token = lock(&st.pats).mint(scopes, lifetime_ms, st.clock.now_ms());
    lock(&st.stats).pats_minted += 1;
    token
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MintRequest {
    scopes: Vec<String>,
    expires_in: Option<u64>,
}

/// `POST /__sim/pat {"scopes":[..],"expires_in":N}` → `{"token","scopes","expires_in"}`.
pub(crate) async fn mint_route(State(st): State<Arc<AppState>>, body: Bytes) -> Response {
    let req: MintRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return json_response(StatusCode::BAD_REQUEST, &json!({"error": format!("invalid body: {e}")})),
    };
    if req.scopes.iter().any(|s| s.trim().is_empty() || s.chars().any(char::is_whitespace)) {
        return json_response(
            StatusCode::BAD_REQUEST,
            &json!({"error": "invalid body: a scope is empty or has spaces"}),
        );
    }
    let expires_in = req.expires_in.unwrap_or(DEFAULT_LIFETIME_S);
    let token = mint(&st, req.scopes.clone(), expires_in.saturating_mul(1000));
    json_response(StatusCode::OK, &json!({"token": token, "scopes": req.scopes, "expires_in": expires_in}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_on_the_clock() {
        let mut s = PatStore::default();
        let t = s.mint(vec!["r:apps:*".into()], 1000, 5);
        assert_eq!(s.scopes(&t, 1004).as_deref(), Some(&["r:apps:*".to_string()][..]));
        assert!(s.scopes(&t, 1005).is_none());
        assert!(s.scopes("nope", 0).is_none());
    }
}
