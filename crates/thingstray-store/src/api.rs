//! The service's HTTP API, behind the service secret (except the sign-in's redirect,
//! which is the user's browser coming back):
//!
//! - `GET /v1/connections`: every session (id, kind, name, location, status, expiry);
//! - `GET /v1/connections/{id}/token?min_valid=SECONDS`: the same JSON as the token
//!   server's `/v1/token`;
//! - `DELETE /v1/connections/{id}[?uninstall=true]`: forget a session; with `uninstall`,
//!   an OAuth-In session's installed app is deleted at SmartThings first;
//! - `GET /v1/sign-in[?connection=NAME]`: where to send a user to sign in;
//! - `GET /v1/oauth/callback`: the redirect URI the service's app registers;
//! - `POST /v1/schema/grant?connection=ID`: a connector forwards a `grantCallbackAccess`.
//!
//! Errors are the token server's: `{"error": {"code", "message"}}`.

use std::collections::HashMap;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;
use thingstray::error::Error;
use thingstray::serve::{core_error_response, error_response, json_no_store, TokenInfo};
use thingstray::token::MIN_VALIDITY;

use crate::service::Service;

/// The most a caller may ask a token to stay valid: SmartThings' tokens live a day.
const MAX_MIN_VALID: u64 = 12 * 3600;
/// A `grantCallbackAccess` is a few hundred bytes.
const MAX_GRANT: usize = thingstray::schema::MAX_GRANT;

pub fn router(service: Service) -> Router {
    Router::new()
        .route("/v1/connections", get(list))
        .route("/v1/connections/{id}", axum::routing::delete(forget))
        .route("/v1/connections/{id}/token", get(token))
        .route("/v1/sign-in", get(sign_in))
        .route("/v1/oauth/callback", get(callback))
        .route("/v1/schema/grant", post(grant))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_GRANT))
        .with_state(service)
}

/// The service secret, as `Authorization: Bearer`, compared in constant time. Browsers
/// never get in (a page elsewhere could otherwise make a signed-in operator's browser call us).
// The refusal is the response itself, built once per refused request: boxing it buys nothing.
#[allow(clippy::result_large_err)]
fn authorized(service: &Service, headers: &HeaderMap) -> Result<(), Response> {
    if headers.contains_key(header::ORIGIN) {
        return Err(error_response(StatusCode::FORBIDDEN, "forbidden", "browsers may not call the token service"));
    }
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or("");
    if !presented.is_empty() && service.secret().matches(presented.as_bytes()) {
        Ok(())
    } else {
        Err(error_response(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send the service secret as `Authorization: Bearer SECRET` (`thingstray --store URL serve --print-secret`)",
        ))
    }
}

fn status_of(e: &Error) -> Response {
    match e {
        Error::UnknownConnection { .. } => error_response(StatusCode::NOT_FOUND, e.code(), &e.to_string()),
        Error::InvalidSetting { .. } | Error::BadRequest { .. } | Error::SchemaForeignCallback { .. } => {
            error_response(StatusCode::BAD_REQUEST, e.code(), &e.to_string())
        }
        _ => core_error_response(e),
    }
}

#[derive(Serialize)]
struct Listing {
    connections: Vec<crate::rows::SessionRow>,
}

async fn list(State(service): State<Service>, headers: HeaderMap) -> Response {
    if let Err(r) = authorized(&service, &headers) {
        return r;
    }
    match service.store().sessions().await {
        Ok(connections) => json_no_store(&Listing { connections }),
        Err(e) => status_of(&e),
    }
}

async fn token(
    State(service): State<Service>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorized(&service, &headers) {
        return r;
    }
    let min = match q.get("min_valid").map(|v| v.parse::<u64>()) {
        None => MIN_VALIDITY,
        Some(Ok(s)) if s <= MAX_MIN_VALID => Duration::from_secs(s),
        Some(_) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "bad_request",
                &format!("min_valid is a number of seconds, at most {MAX_MIN_VALID}"),
            )
        }
    };
    let session = match service.session(&id).await {
        Ok(s) => s,
        Err(e) => return status_of(&e),
    };
    match session.token_valid_for(min).await {
        Ok(grant) => json_no_store(&TokenInfo::of(&grant, session.now())),
        Err(e) => {
            tracing::warn!(session = %id, code = e.code(), "no token to hand out");
            if session.has_unsaved() {
                service.keep_unsaved(&id, &session);
            }
            status_of(&e)
        }
    }
}

#[derive(Serialize)]
struct Forgotten {
    id: String,
    deleted: bool,
    uninstalled: bool,
}

async fn forget(
    State(service): State<Service>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorized(&service, &headers) {
        return r;
    }
    let uninstall = match q.get("uninstall").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return error_response(StatusCode::BAD_REQUEST, "bad_request", "uninstall is true or false"),
    };
    let done = if uninstall { service.uninstall(&id).await } else { service.forget(&id).await };
    match done {
        Ok(true) => json_no_store(&Forgotten { id, deleted: true, uninstalled: uninstall }),
        Ok(false) => status_of(&Error::UnknownConnection { name: id, known: String::new() }),
        Err(e) => status_of(&e),
    }
}

async fn sign_in(
    State(service): State<Service>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorized(&service, &headers) {
        return r;
    }
    match service.start_sign_in(q.get("connection").map(String::as_str)).await {
        Ok(started) => json_no_store(&started),
        Err(e) => status_of(&e),
    }
}

/// The user's browser, back from SmartThings: a page for a person, never a token.
async fn callback(State(service): State<Service>, RawQuery(query): RawQuery) -> Response {
    let query = query.unwrap_or_default();
    match service.finish_sign_in(&format!("?{query}")).await {
        Ok(_) => page(
            StatusCode::OK,
            "Signed in",
            "ThingsTray keeps this SmartThings location connected now. You can close this window.",
        ),
        Err(e) => {
            tracing::warn!(code = e.code(), "a sign-in did not finish");
            let status = if e.is_transient() { StatusCode::BAD_GATEWAY } else { StatusCode::BAD_REQUEST };
            page(status, "Sign-in did not finish", &e.to_string())
        }
    }
}

fn page(status: StatusCode, title: &str, text: &str) -> Response {
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let body = format!(
        "<!doctype html><meta charset=utf-8><title>{t}</title><h1>{t}</h1><p>{x}</p>",
        t = esc(title),
        x = esc(text)
    );
    let mut resp = (status, Html(body)).into_response();
    resp.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    resp
}

async fn grant(
    State(service): State<Service>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = authorized(&service, &headers) {
        return r;
    }
    let Some(id) = q.get("connection").filter(|c| valid_id(c)) else {
        return error_response(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "name the installation: POST /v1/schema/grant?connection=ID (your connector's id for this user; letters, digits, `-`, `_`, `.`, up to 128)",
        );
    };
    let Ok(raw) = std::str::from_utf8(&body) else {
        return error_response(StatusCode::BAD_REQUEST, "bad_request", "the body is not UTF-8 JSON");
    };
    match service.keep_grant(id, raw).await {
        Ok(()) => json_no_store(&serde_json::json!({ "id": id, "kept": true })),
        Err(e) => status_of(&e),
    }
}

/// Ids name rows and appear in paths: a plain, bounded alphabet.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}
