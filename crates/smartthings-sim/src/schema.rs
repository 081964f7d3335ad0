//! The ST Schema (cloud-to-cloud) side of SmartThings, for one partner connector: the
//! callback tokens a connector gets after `grantCallbackAccess`, and the `stateCallback`
//! endpoint it sends device states to (../shared/REFERENCE.md, "ST Schema callback
//! tokens"; st-schema-nodejs lib/callbacks).
//!
//! Strict as SmartThings: only a JSON body in the st-schema shape is read (a form body,
//! the OAuth-In way, is a BAD-REQUEST), every refusal is a `globalError` with an
//! `errorEnum`, codes are single use, each refresh kills the refresh token it spent, and
//! every expiry is judged by the simulator's clock. Which HTTP status goes with which
//! `errorEnum` is not documented; 400 for a malformed request, 401 for credentials and
//! tokens, chosen here. Clients must read the `errorEnum`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use crate::errors::json_response;
use crate::ids;
use crate::state::{lock, AppState};

pub const TOKEN_PATH: &str = "/schema/oauth/token";
pub const STATE_CALLBACK_PATH: &str = "/schema/device/events";

/// The partner connector's credentials, as the Developer Workspace shows them.
#[derive(Clone)]
pub struct SchemaPartner {
    pub client_id: String,
    pub client_secret: String,
}

impl std::fmt::Debug for SchemaPartner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaPartner")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

impl Default for SchemaPartner {
    fn default() -> Self {
        SchemaPartner {
            client_id: "c2c-7d1e5b90-4f3a-4c62-9e8b-2a6f0d4c8e11".into(),
            client_secret: "c2c-secret-3b9f2e7a-6d14-4a8c-b5e0-9f1c7d2a4e63".into(),
        }
    }
}

#[derive(Default)]
pub(crate) struct SchemaStore {
    /// code -> expiry (ms); removed when used.
    codes: HashMap<String, u64>,
    /// refresh token -> (issued ms, still live). A spent one stays, not live.
    refresh: HashMap<String, (u64, bool)>,
    /// access token -> expiry (ms).
    access: HashMap<String, u64>,
    /// `/__sim/schema/delete`: the user removed the integration; every call is refused.
    deleted: bool,
    pub(crate) events: Vec<Value>,
}

impl SchemaStore {
    pub(crate) fn access_valid(&self, token: &str, now: u64) -> bool {
        self.access.get(token).is_some_and(|exp| now < *exp)
    }

    pub(crate) fn access_expiry_ms(&self, token: &str) -> Option<u64> {
        self.access.get(token).copied()
    }
}

fn headers(interaction: &str, request_id: &str) -> Value {
    json!({"schema": "st-schema", "version": "1.0", "interactionType": interaction, "requestId": request_id})
}

/// A refusal: `globalError` in an `interactionResult`.
fn refuse(status: StatusCode, request_id: &str, error_enum: &str, detail: &str) -> Response {
    json_response(
        status,
        &json!({"headers": headers("interactionResult", request_id), "globalError": {"errorEnum": error_enum, "detail": detail}}),
    )
}

/// `POST /__sim/schema/grant`: the `grantCallbackAccess` SmartThings sends the connector
/// when a user links it, with a fresh code.
pub(crate) fn grant(st: &AppState) -> Value {
    let code = ids::auth_code();
    let expires = st.clock.now_ms() + st.code_lifetime * 1000;
    lock(&st.schema).codes.insert(code.clone(), expires);
    json!({
        "headers": headers("grantCallbackAccess", &ids::uuid()),
        "authentication": {"tokenType": "Bearer", "token": ids::opaque()},
        "callbackAuthentication": {"grantType": "authorization_code", "scope": "callback_access", "code": code, "clientId": st.schema_partner.client_id},
        "callbackUrls": {"oauthToken": format!("{}{TOKEN_PATH}", st.base_url), "stateCallback": format!("{}{STATE_CALLBACK_PATH}", st.base_url)}
    })
}

pub(crate) async fn grant_route(State(st): State<Arc<AppState>>) -> Response {
    json_response(StatusCode::OK, &grant(&st))
}

pub(crate) async fn delete_route(State(st): State<Arc<AppState>>) -> Response {
    lock(&st.schema).deleted = true;
    json_response(StatusCode::OK, &json!({"deleted": true}))
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

/// The st-schema request, or the refusal for a body that is not one.
fn read(headers_in: &HeaderMap, body: &[u8]) -> Result<(Value, String), Response> {
    let json_type = headers_in
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("application/json"));
    let parsed = serde_json::from_slice::<Value>(body).ok().filter(|v| v.is_object());
    let Some(v) = parsed.filter(|_| json_type) else {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            &ids::uuid(),
            "BAD-REQUEST",
            "Request body must be st-schema JSON (Content-Type: application/json)",
        ));
    };
    let request_id = str_at(&v, &["headers", "requestId"]).unwrap_or_default().to_string();
    if str_at(&v, &["headers", "schema"]) != Some("st-schema") || request_id.is_empty() {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            &ids::uuid(),
            "BAD-REQUEST",
            "Missing st-schema headers (schema, version, interactionType, requestId)",
        ));
    }
    Ok((v, request_id))
}

/// `POST /schema/oauth/token`: `accessTokenRequest` and `refreshAccessTokens`.
pub(crate) async fn token(State(st): State<Arc<AppState>>, headers_in: HeaderMap, body: Bytes) -> Response {
    // Counted in stats::count, before any fault, as the OAuth-In endpoint's requests are.
    let (v, rid) = match read(&headers_in, &body) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let interaction = str_at(&v, &["headers", "interactionType"]).unwrap_or_default();
    let expected_grant = match interaction {
        "accessTokenRequest" => "authorization_code",
        "refreshAccessTokens" => "refresh_token",
        other => {
            return refuse(
                StatusCode::BAD_REQUEST,
                &rid,
                "INVALID-INTERACTION-TYPE",
                &format!("Unsupported interactionType {other:?} for the token endpoint"),
            );
        }
    };
    let auth = |k: &str| str_at(&v, &["callbackAuthentication", k]).unwrap_or_default();
    if auth("clientId") != st.schema_partner.client_id {
        return refuse(StatusCode::UNAUTHORIZED, &rid, "INVALID-CLIENT", "Unknown clientId");
    }
    if auth("clientSecret") != st.schema_partner.client_secret {
        return refuse(StatusCode::UNAUTHORIZED, &rid, "INVALID-CLIENT-SECRET", "Client secret does not match");
    }
    if auth("grantType") != expected_grant {
        return refuse(
            StatusCode::BAD_REQUEST,
            &rid,
            "UNSUPPORTED-GRANT-TYPE",
            &format!("{interaction} needs grantType {expected_grant}"),
        );
    }
    let now = st.clock.now_ms();
    let mut store = lock(&st.schema);
    if store.deleted {
        return refuse(
            StatusCode::UNAUTHORIZED,
            &rid,
            "INTEGRATION-DELETED",
            "The integration was deleted by the user",
        );
    }
    if expected_grant == "authorization_code" {
        match store.codes.remove(auth("code")) {
            Some(exp) if now < exp => {}
            Some(_) => return refuse(StatusCode::BAD_REQUEST, &rid, "INVALID-CODE", "Authorization code expired"),
            None => {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    &rid,
                    "INVALID-CODE",
                    "Invalid or already used authorization code",
                )
            }
        }
    } else {
        let lifetime = st.refresh_token_lifetime * 1000;
        match store.refresh.get_mut(auth("refreshToken")) {
            Some((issued, live)) if *live && now < *issued + lifetime => *live = false,
            Some((_, true)) => return refuse(StatusCode::UNAUTHORIZED, &rid, "TOKEN-EXPIRED", "Refresh token expired"),
            _ => {
                return refuse(StatusCode::UNAUTHORIZED, &rid, "INVALID-TOKEN", "Invalid or already used refresh token")
            }
        }
    }
    let (access, refresh) = (ids::opaque(), ids::opaque());
    let expires_in = st.expires_in();
    store.access.insert(access.clone(), now + expires_in * 1000);
    store.refresh.insert(refresh.clone(), (now, true));
    drop(store);
    *lock(&st.stats).schema_token_grants.entry(interaction.to_string()).or_default() += 1;
    json_response(
        StatusCode::OK,
        &json!({
            "headers": headers("accessTokenResponse", &rid),
            "callbackAuthentication": {"tokenType": "Bearer", "accessToken": access, "refreshToken": refresh, "expiresIn": expires_in}
        }),
    )
}

/// `POST /schema/device/events`: a `stateCallback` with the bearer callback token in
/// `authentication.token`.
pub(crate) async fn state_callback(State(st): State<Arc<AppState>>, headers_in: HeaderMap, body: Bytes) -> Response {
    let (v, rid) = match read(&headers_in, &body) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    if str_at(&v, &["headers", "interactionType"]) != Some("stateCallback") {
        return refuse(
            StatusCode::BAD_REQUEST,
            &rid,
            "INVALID-INTERACTION-TYPE",
            "Expected interactionType stateCallback",
        );
    }
    let token = str_at(&v, &["authentication", "token"]).unwrap_or_default();
    let now = st.clock.now_ms();
    let mut store = lock(&st.schema);
    if store.deleted {
        return refuse(
            StatusCode::UNAUTHORIZED,
            &rid,
            "INTEGRATION-DELETED",
            "The integration was deleted by the user",
        );
    }
    match store.access.get(token) {
        Some(exp) if now < *exp => {}
        Some(_) => return refuse(StatusCode::UNAUTHORIZED, &rid, "TOKEN-EXPIRED", "Callback access token expired"),
        None => return refuse(StatusCode::UNAUTHORIZED, &rid, "INVALID-TOKEN", "Invalid callback access token"),
    }
    let Some(states) = v.get("deviceState").and_then(Value::as_array).filter(|s| !s.is_empty()) else {
        return refuse(StatusCode::BAD_REQUEST, &rid, "BAD-REQUEST", "deviceState must be a non-empty list");
    };
    store.events.extend(states.iter().cloned());
    drop(store);
    lock(&st.stats).schema_state_callbacks += 1;
    json_response(StatusCode::OK, &json!({}))
}
