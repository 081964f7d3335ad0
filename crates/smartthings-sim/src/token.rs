//! `POST /oauth/token` as Spring Security OAuth2 answers it.
//!
//! Check order (it decides which error a broken client sees): client authentication by
//! HTTP Basic only (a `client_secret` in the body is refused like a missing header), then
//! the body must be form-encoded (else "Missing grant type"), then `client_id` must match,
//! then the grant.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use serde_json::{json, Value};

use crate::authorize::{first_values, parse_scopes};
use crate::oauth_store::{Issued, TokenError};
use crate::state::{lock, AppState};

/// Java's Basic decoder: standard alphabet, padding optional.
const BASIC_B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

const FULL_AUTH: &str = "Full authentication is required to access this resource";

/// A JSON answer with the headers Spring puts on every token-endpoint response.
fn oauth_json(status: StatusCode, body: Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json;charset=UTF-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

/// 401 from the Basic authentication entry point.
fn unauthorized(description: &str) -> Response {
    let mut resp =
        oauth_json(StatusCode::UNAUTHORIZED, json!({"error": "unauthorized", "error_description": description}));
    let v = format!("Basic realm=\"oauth2/client\", error=\"unauthorized\", error_description=\"{description}\"");
    if let Ok(v) = HeaderValue::from_str(&v) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

/// An OAuth2 exception; 401s carry Spring's `WWW-Authenticate: Bearer error=..` summary.
fn oauth_error(e: &TokenError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut resp = oauth_json(status, json!({"error": e.error, "error_description": e.description}));
    if status == StatusCode::UNAUTHORIZED {
        let v = format!("Bearer error=\"{}\", error_description=\"{}\"", e.error, e.description);
        if let Ok(v) = HeaderValue::from_str(&v) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
    }
    resp
}

fn err(status: u16, error: &'static str, description: impl Into<String>) -> Response {
    oauth_error(&TokenError::new(status, error, description))
}

enum Basic {
    Missing,
    Bad(&'static str),
    Ok(String, String),
}

fn basic_credentials(headers: &HeaderMap) -> Basic {
    let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return Basic::Missing;
    };
    let Some((scheme, rest)) = value.trim().split_once(' ') else { return Basic::Missing };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Basic::Missing;
    }
    let Ok(decoded) = BASIC_B64.decode(rest.trim()) else {
        return Basic::Bad("Failed to decode basic authentication token");
    };
    let Ok(decoded) = String::from_utf8(decoded) else {
        return Basic::Bad("Failed to decode basic authentication token");
    };
    match decoded.split_once(':') {
        Some((id, secret)) => Basic::Ok(id.to_string(), secret.to_string()),
        None => Basic::Bad("Invalid basic authentication token"),
    }
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

fn success(issued: &Issued) -> Response {
    oauth_json(
        StatusCode::OK,
        json!({
            "access_token": issued.access_token,
            "token_type": "bearer",
            "refresh_token": issued.refresh_token,
            "expires_in": issued.expires_in,
            "scope": issued.scopes.join(" "),
            "access_tier": 0,
            "installed_app_id": issued.installed_app_id,
        }),
    )
}

/// `/oauth/token`, any method (non-POST answers 405 after authentication, as Spring does).
pub(crate) async fn token(
    State(st): State<Arc<AppState>>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = is_form(&headers);
    let params = if form { first_values(&body) } else { Vec::new() };
    let param = |k: &str| params.iter().find(|(pk, _)| pk == k).map(|(_, v)| v.as_str());

    if param("client_secret").is_some() {
        return unauthorized(FULL_AUTH);
    }
    // Any registered app's current client id and secret (a regenerated pair replaces the
    // old). The apps stay locked through the grant, so a new secret or a deletion cannot
    // fall between the check and the tokens (lock order: apps, then oauth).
    let apps = lock(&st.apps);
    let (client_id, app_scopes) = match basic_credentials(&headers) {
        Basic::Missing => return unauthorized(FULL_AUTH),
        Basic::Bad(d) => return unauthorized(d),
        Basic::Ok(id, secret) => match apps.authenticate(&id, &secret) {
            Some(app) => (id, app.oauth.scopes.clone()),
            None => return unauthorized("Bad credentials"),
        },
    };
    if method != Method::POST {
        let mut resp = oauth_json(
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"error": "method_not_allowed", "error_description": format!("Request method '{method}' not supported")}),
        );
        resp.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
        return resp;
    }
    if let Some(given) = param("client_id") {
        if given != client_id {
            return err(401, "invalid_client", "Given client ID does not match authenticated client");
        }
    }
    if let Some(scope) = param("scope") {
        if let Some(bad) = parse_scopes(scope).iter().find(|s| !app_scopes.contains(s)) {
            return err(400, "invalid_scope", format!("Invalid scope: {bad}"));
        }
    }
    let grant_type = param("grant_type").unwrap_or("");
    let now = st.clock.now_ms();
    let expires_in = st.expires_in();
    let result = match grant_type {
        "" => return err(400, "invalid_request", "Missing grant type"),
        "implicit" => return err(400, "invalid_grant", "Implicit grant type not supported from token endpoint"),
        "client_credentials" => return err(401, "invalid_client", "Unauthorized grant type: client_credentials"),
        "authorization_code" => lock(&st.oauth).redeem_code(
            &client_id,
            param("code"),
            param("redirect_uri"),
            param("code_verifier"),
            now,
            expires_in,
        ),
        "refresh_token" => lock(&st.oauth).refresh(
            &client_id,
            param("refresh_token"),
            param("scope").map(parse_scopes),
            now,
            expires_in,
            st.refresh_token_lifetime,
        ),
        other => return err(400, "unsupported_grant_type", format!("Unsupported grant type: {other}")),
    };
    drop(apps);
    let concerned = match &result {
        Ok(issued) => Some(issued.installed_app_id.clone()),
        Err(e) => e.installed_app_id.clone(),
    };
    if let Some(id) = concerned {
        *lock(&st.stats).token_calls_by_installed_app.entry(id).or_default() += 1;
    }
    match result {
        Ok(issued) => {
            let mut stats = lock(&st.stats);
            *stats.token_grants.entry(grant_type.to_string()).or_default() += 1;
            if grant_type == "authorization_code" {
                *stats.sign_ins.entry(format!("{client_id}/{}", issued.location_id)).or_default() += 1;
            }
            drop(stats);
            tracing::info!("token: {grant_type} grant succeeded for installed app {}", issued.installed_app_id);
            success(&issued)
        }
        Err(e) => {
            tracing::info!("token: {grant_type} grant refused: {}", e.error);
            oauth_error(&e)
        }
    }
}
