//! `GET /oauth/authorize` and the sign-in decision, with SmartThings' validation order:
//! client and redirect URI first (plain-text 400, never a redirect to an unvalidated
//! URI), then errors redirected to the client (RFC 6749 §4.1.2.1), then the page.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::home::Location;
use crate::oauth_store::PendingAuth;
use crate::signin_page;
use crate::state::{lock, AppState};
use crate::users::owner;

/// First value of each parameter, as Spring's `@RequestParam Map` keeps it.
pub(crate) fn first_values(raw: &[u8]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (k, v) in url::form_urlencoded::parse(raw) {
        if !out.iter().any(|(ek, _)| *ek == k) {
            out.push((k.into_owned(), v.into_owned()));
        }
    }
    out
}

fn get<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn plain(status: StatusCode, text: impl Into<String>) -> Response {
    let text: String = text.into();
    let mut resp = (status, text).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain;charset=UTF-8"));
    resp
}

fn redirect_not_validated() -> Response {
    plain(StatusCode::BAD_REQUEST, "'redirect_uri' could not be validated")
}

/// Exact match, or RFC 8252 §7.3: a loopback `http` URI matches on any port.
pub(crate) fn redirect_registered(registered: &[String], uri: &str) -> bool {
    registered.iter().any(|r| r == uri || loopback_match(r, uri))
}

fn loopback_match(registered: &str, requested: &str) -> bool {
    let (Ok(a), Ok(b)) = (url::Url::parse(registered), url::Url::parse(requested)) else {
        return false;
    };
    let loopback = |u: &url::Url| matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    b.as_str() == requested
        && a.scheme() == "http"
        && b.scheme() == "http"
        && loopback(&a)
        && a.host_str() == b.host_str()
        && a.path() == b.path()
        && a.query() == b.query()
        && b.fragment().is_none()
        && b.username().is_empty()
        && b.password().is_none()
}

/// `302` to the client's redirect URI with `params` appended to its query.
pub(crate) fn redirect_with(redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    let (base, fragment) = match redirect_uri.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (redirect_uri, None),
    };
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        ser.append_pair(k, v);
    }
    let sep = if base.contains('?') { '&' } else { '?' };
    let mut location = format!("{base}{sep}{}", ser.finish());
    if let Some(f) = fragment {
        location.push('#');
        location.push_str(f);
    }
    match HeaderValue::from_str(&location) {
        Ok(v) => {
            let mut resp = StatusCode::FOUND.into_response();
            resp.headers_mut().insert(header::LOCATION, v);
            resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(_) => redirect_not_validated(),
    }
}

fn error_redirect(redirect_uri: &str, error: &str, description: &str, state: Option<&str>) -> Response {
    let mut params = vec![("error", error), ("error_description", description)];
    if let Some(s) = state {
        params.push(("state", s));
    }
    redirect_with(redirect_uri, &params)
}

fn code_redirect(redirect_uri: &str, code: &str, state: Option<&str>) -> Response {
    let mut params = vec![("code", code)];
    if let Some(s) = state {
        params.push(("state", s));
    }
    redirect_with(redirect_uri, &params)
}

/// Space- (or `+`-) separated scopes, without empties or repeats.
pub(crate) fn parse_scopes(raw: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in raw.split(|c: char| c.is_whitespace() || c == '+') {
        if !s.is_empty() && !out.iter().any(|x| x == s) {
            out.push(s.to_string());
        }
    }
    out
}

fn valid_challenge(c: &str) -> bool {
    c.len() == 43 && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A code for this sign-in, if its client is still its app's (not deleted, no new client
/// id since the page was shown); apps stay locked meanwhile (lock order: apps, oauth).
fn issue_code(st: &AppState, pending: &PendingAuth, location: &str, now: u64) -> Option<String> {
    let apps = lock(&st.apps);
    apps.by_client_id(&pending.client_id).filter(|a| a.app_id == pending.app_id)?;
    Some(lock(&st.oauth).issue_code(pending, location, now, st.code_lifetime))
}

/// The locations user K may pick (for user 0 the configured home's, never another
/// user's, however many of those were built).
fn locations_of(st: &AppState, user: usize) -> Vec<Location> {
    lock(&st.home).locations.iter().filter(|l| owner(&l.id) == user).cloned().collect()
}

/// `id` if it is one of user K's locations.
fn location_of(st: &AppState, user: usize, id: &str) -> Option<String> {
    lock(&st.home).location(id).filter(|l| owner(&l.id) == user).map(|l| l.id.clone())
}

/// `GET /oauth/authorize`.
pub(crate) async fn authorize(State(st): State<Arc<AppState>>, RawQuery(query): RawQuery) -> Response {
    let params = first_values(query.unwrap_or_default().as_bytes());
    // Any registered app's client, with that app's redirect URIs and scopes as they are now.
    let app = get(&params, "client_id").and_then(|id| lock(&st.apps).by_client_id(id).cloned());
    let Some(app) = app else {
        return redirect_not_validated();
    };
    let Some(redirect_uri) = get(&params, "redirect_uri").filter(|u| redirect_registered(&app.oauth.redirect_uris, u))
    else {
        return redirect_not_validated();
    };
    let state = get(&params, "state");
    let response_type = get(&params, "response_type").unwrap_or("");
    if response_type != "code" {
        let d = format!("Unsupported response types: [{response_type}]");
        return error_redirect(redirect_uri, "unsupported_response_type", &d, state);
    }
    let scopes = parse_scopes(get(&params, "scope").unwrap_or(""));
    if scopes.is_empty() {
        let d = "Empty scope (either the client or the user is not allowed the requested scopes)";
        return error_redirect(redirect_uri, "invalid_scope", d, state);
    }
    if let Some(bad) = scopes.iter().find(|s| !app.oauth.scopes.contains(s)) {
        return error_redirect(redirect_uri, "invalid_scope", &format!("Invalid scope: {bad}"), state);
    }
    let challenge = get(&params, "code_challenge");
    match (challenge, get(&params, "code_challenge_method")) {
        (None, None) => {}
        (Some(c), Some("S256")) if valid_challenge(c) => {}
        (Some(_), Some("S256")) => {
            return error_redirect(redirect_uri, "invalid_request", "Invalid code challenge", state)
        }
        (None, Some("S256")) => {
            return error_redirect(redirect_uri, "invalid_request", "Missing code challenge", state)
        }
        (_, method) => {
            let d = format!("Unsupported code challenge method: {}", method.unwrap_or("plain"));
            return error_redirect(redirect_uri, "invalid_request", &d, state);
        }
    }
    // The person signing in (users.rs): a sim-only parameter, checked once the request
    // itself is valid, and refused like an unknown location on the page (no redirect: the
    // sign-in never happened).
    let user = match st.users.parse(get(&params, "sim_user")) {
        Ok(k) => k,
        Err(e) => return plain(StatusCode::BAD_REQUEST, e),
    };
    crate::users::ensure(&st, user);
    let now = st.clock.now_ms();
    let pending = PendingAuth {
        app_id: app.app_id.clone(),
        client_id: app.client_id.clone(),
        redirect_uri: redirect_uri.to_string(),
        scopes,
        state: state.map(str::to_string),
        challenge: challenge.map(str::to_string),
        user,
        expires_ms: 0,
    };
    if st.auto_approve {
        let location = match get(&params, "location_id") {
            Some(id) => location_of(&st, user, id),
            None => locations_of(&st, user).into_iter().next().map(|l| l.id),
        };
        let Some(location) = location else {
            return error_redirect(redirect_uri, "invalid_request", "Unknown location", state);
        };
        let Some(code) = issue_code(&st, &pending, &location, now) else {
            return redirect_not_validated();
        };
        tracing::info!("authorize: auto-approved for location {location}");
        return code_redirect(redirect_uri, &code, state);
    }
    let (request_id, client_id, scopes) = {
        let scopes = pending.scopes.clone();
        let id = lock(&st.oauth).add_pending(pending, now);
        (id, app.client_id.clone(), scopes)
    };
    let locations = locations_of(&st, user);
    signin_page::render(&request_id, &client_id, &scopes, &locations)
}

/// `POST /oauth/authorize/decision` from the sign-in page's form.
pub(crate) async fn decision(State(st): State<Arc<AppState>>, body: Bytes) -> Response {
    let params = first_values(&body);
    let now = st.clock.now_ms();
    let Some(pending) = get(&params, "request_id").and_then(|id| lock(&st.oauth).take_pending(id, now)) else {
        return plain(
            StatusCode::BAD_REQUEST,
            "This sign-in request has expired or was already used. Start again from the app.",
        );
    };
    let state = pending.state.as_deref();
    match get(&params, "decision") {
        Some("deny") => {
            tracing::info!("authorize: user denied");
            error_redirect(&pending.redirect_uri, "access_denied", "The user denied the request", state)
        }
        Some("authorize") => {
            let location = get(&params, "location_id").and_then(|id| location_of(&st, pending.user, id));
            let Some(location) = location else {
                return plain(StatusCode::BAD_REQUEST, "Unknown location");
            };
            let Some(code) = issue_code(&st, &pending, &location, now) else {
                return plain(
                    StatusCode::BAD_REQUEST,
                    "This app was deleted or has a new client id. Start again from the app.",
                );
            };
            tracing::info!("authorize: user approved location {location}");
            code_redirect(&pending.redirect_uri, &code, state)
        }
        _ => plain(StatusCode::BAD_REQUEST, "Missing decision"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_any_port() {
        let c = crate::SimClient::default().redirect_uris;
        assert!(redirect_registered(&c, "http://127.0.0.1:53682/callback"));
        assert!(redirect_registered(&c, "http://localhost:8080/callback"));
        assert!(redirect_registered(&c, "http://127.0.0.1/callback"));
        assert!(!redirect_registered(&c, "http://127.0.0.1:1/other"));
        assert!(!redirect_registered(&c, "http://localhost.evil:1/callback"));
        assert!(!redirect_registered(&c, "http://127.0.0.1:99/callback?x=1"));
        assert!(!redirect_registered(&c, "https://thingstray.invalid/callback/"));
        assert!(redirect_registered(&c, "thingstray://oauth/callback"));
    }

    #[test]
    fn scopes_split_on_space_and_plus() {
        assert_eq!(parse_scopes("a b+c  a"), vec!["a", "b", "c"]);
        assert!(parse_scopes("  ").is_empty());
    }
}
