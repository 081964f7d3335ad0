//! Bearer-token authentication and scope checks for the REST API.
//!
//! A token is bound to one authorization, hence one location and its granted scopes;
//! everything the API returns is filtered through that.

use axum::http::{header, HeaderMap};
use axum::response::Response;

use crate::errors::{forbidden, unauthorized};
use crate::oauth_store::Caller;
use crate::state::{lock, AppState};

/// The caller behind `Authorization: Bearer <token>`, or SmartThings' 401.
pub(crate) fn authenticate(st: &AppState, headers: &HeaderMap) -> Result<Caller, Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string())
        })
        .ok_or_else(unauthorized)?;
    let now = st.clock.now_ms();
    lock(&st.oauth).caller(&token, now).ok_or_else(unauthorized)
}

impl Caller {
    /// 403 `ForbiddenError` unless the token was granted `scope`.
    pub(crate) fn require(&self, scope: &str) -> Result<(), Response> {
        if self.scopes.iter().any(|s| s == scope) {
            Ok(())
        } else {
            Err(forbidden())
        }
    }
}

/// Authenticates and checks one scope; the handler's first line.
pub(crate) fn caller_with(st: &AppState, headers: &HeaderMap, scope: &str) -> Result<Caller, Response> {
    let caller = authenticate(st, headers)?;
    caller.require(scope)?;
    Ok(caller)
}
