//! Bearer-token authentication and scope checks for the REST API.
//!
//! A token is an OAuth-In sign-in (one installed app, hence one location, and its granted
//! scopes) or a personal access token (the whole account, its ticked scopes); everything
//! the API returns is filtered through [`Caller::sees`].

use axum::http::{header, HeaderMap};
use axum::response::Response;

use crate::errors::{forbidden, unauthorized};
use crate::oauth_store::Caller;
use crate::state::{lock, AppState};

/// The caller behind `Authorization: Bearer <token>`, or SmartThings' 401 (missing,
/// unknown or expired token, OAuth-In or personal).
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
    let oauth = lock(&st.oauth).caller(&token, now);
    if let Some(caller) = oauth {
        return Ok(caller);
    }
    let scopes = lock(&st.pats).scopes(&token, now).ok_or_else(unauthorized)?;
    Ok(Caller { installed_app_id: None, location_id: None, scopes })
}

impl Caller {
    /// 403 `ForbiddenError` unless the token was granted `scope`.
    pub(crate) fn require(&self, scope: &str) -> Result<(), Response> {
        self.require_any(&[scope])
    }

    /// 403 `ForbiddenError` unless the token was granted one of `scopes` (sources name
    /// some scopes two ways, e.g. `r:installedapps` and `r:installedapps:*`).
    pub(crate) fn require_any(&self, scopes: &[&str]) -> Result<(), Response> {
        if self.scopes.iter().any(|s| scopes.contains(&s.as_str())) {
            Ok(())
        } else {
            Err(forbidden())
        }
    }

    /// A personal access token (not an OAuth-In sign-in).
    pub(crate) fn is_pat(&self) -> bool {
        self.installed_app_id.is_none()
    }
}

/// Authenticates and checks one scope; the handler's first line.
pub(crate) fn caller_with(st: &AppState, headers: &HeaderMap, scope: &str) -> Result<Caller, Response> {
    let caller = authenticate(st, headers)?;
    caller.require(scope)?;
    Ok(caller)
}
