//! `/__sim/*`: unauthenticated JSON controls for tests running in other processes, and
//! the shared operations behind the `Sim` methods of the same names.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::clock::iso8601;
use crate::errors::json_response;
use crate::faults::Faults;
use crate::state::{lock, AppState};

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Response> {
    serde_json::from_slice(body)
        .map_err(|e| json_response(StatusCode::BAD_REQUEST, &json!({"error": format!("invalid body: {e}")})))
}

fn ok(body: Value) -> Response {
    json_response(StatusCode::OK, &body)
}

fn missing(what: &str) -> Response {
    json_response(StatusCode::NOT_FOUND, &json!({"error": format!("no such {what}")}))
}

/// `{deviceId, label, online, status: {components: ..}}` for a device of any location.
pub(crate) fn device_snapshot(st: &AppState, id: &str) -> Option<Value> {
    let home = lock(&st.home);
    let d = home.device(id)?;
    Some(json!({
        "deviceId": d.id,
        "label": d.json.get("label").cloned().unwrap_or(Value::Null),
        "locationId": d.location_id,
        "online": d.online,
        "status": d.status_body(),
    }))
}

/// Marks a device ONLINE/OFFLINE; false if unknown.
pub(crate) fn set_device_health(st: &AppState, id: &str, online: bool) -> bool {
    let now = st.clock.now_ms();
    let mut home = lock(&st.home);
    match home.device_mut(id) {
        Some(d) => {
            d.online = online;
            d.health_updated_ms = now;
            true
        }
        None => false,
    }
}

pub(crate) async fn stats(State(st): State<Arc<AppState>>) -> Response {
    let stats = lock(&st.stats).clone();
    ok(serde_json::to_value(stats).unwrap_or(Value::Null))
}

#[derive(Deserialize)]
struct Seconds {
    seconds: u64,
}

pub(crate) async fn advance_clock(State(st): State<Arc<AppState>>, body: Bytes) -> Response {
    let s: Seconds = match parse(&body) {
        Ok(s) => s,
        Err(r) => return r,
    };
    st.clock.advance(Duration::from_secs(s.seconds));
    ok(json!({"offsetSeconds": st.clock.offset_ms() / 1000, "now": iso8601(st.clock.now_ms())}))
}

pub(crate) async fn set_faults(State(st): State<Arc<AppState>>, body: Bytes) -> Response {
    let f: Faults = match parse(&body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    lock(&st.faults).set(f.clone());
    ok(serde_json::to_value(f).unwrap_or(Value::Null))
}

pub(crate) async fn revoke(State(st): State<Arc<AppState>>) -> Response {
    lock(&st.oauth).revoke_refresh_tokens();
    ok(json!({"revoked": true}))
}

pub(crate) async fn expires_in(State(st): State<Arc<AppState>>, body: Bytes) -> Response {
    let s: Seconds = match parse(&body) {
        Ok(s) => s,
        Err(r) => return r,
    };
    st.expires_in.store(s.seconds, Ordering::SeqCst);
    ok(json!({"expiresIn": s.seconds}))
}

pub(crate) async fn device(State(st): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    match device_snapshot(&st, &id) {
        Some(v) => ok(v),
        None => missing("device"),
    }
}

#[derive(Deserialize)]
struct Health {
    online: bool,
}

pub(crate) async fn device_health(State(st): State<Arc<AppState>>, Path(id): Path<String>, body: Bytes) -> Response {
    let h: Health = match parse(&body) {
        Ok(h) => h,
        Err(r) => return r,
    };
    if set_device_health(&st, &id, h.online) {
        ok(json!({"deviceId": id, "online": h.online}))
    } else {
        missing("device")
    }
}

pub(crate) async fn scene(State(st): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    let home = lock(&st.home);
    match home.scenes.iter().find(|s| s.id == id) {
        Some(s) => ok(json!({"sceneId": s.id, "executions": s.executions})),
        None => missing("scene"),
    }
}

#[derive(Deserialize)]
struct TokenQuery {
    access_token: String,
}

/// `POST /__sim/token-expiry {"access_token": ..}`: when the simulator says that token
/// expires (`expiresAtMs`, sim clock) and its clock now (`nowMs`), so a soak in another
/// process can check that every token it was handed was valid at that moment. A POST
/// body, so the token never lands in a URL or a log line.
pub(crate) async fn token_expiry(State(st): State<Arc<AppState>>, body: Bytes) -> Response {
    let q: TokenQuery = match parse(&body) {
        Ok(q) => q,
        Err(r) => return r,
    };
    let now = st.clock.now_ms();
    let expiry = lock(&st.oauth).access_expiry_ms(&q.access_token);
    // An ST Schema callback token too (schema.rs): the proof checks both kinds alike.
    match expiry.or_else(|| lock(&st.schema).access_expiry_ms(&q.access_token)) {
        Some(at) => ok(json!({"expiresAtMs": at, "nowMs": now})),
        None => missing("access token"),
    }
}
