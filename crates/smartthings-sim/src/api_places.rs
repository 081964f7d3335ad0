//! Locations, rooms and scenes, each limited to what the caller sees: an OAuth-In
//! token its authorization's location, a personal access token the whole account.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use crate::api_auth::caller_with;
use crate::api_devices::try_resp;
use crate::errors::{forbidden, json_response, not_found};
use crate::oauth_store::Caller;
use crate::state::{lock, AppState};

/// 404 if the location does not exist, 403 if it is not the caller's.
pub(crate) fn own_location(st: &AppState, caller: &Caller, id: &str) -> Result<Value, Response> {
    let home = lock(&st.home);
    let location = home.location(id).ok_or_else(|| not_found("Location not found"))?;
    if !caller.sees(&location.id) {
        return Err(forbidden());
    }
    Ok(location.full())
}

/// `GET /locations`: the authorization's location (every one for a personal access token).
pub(crate) async fn locations(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let caller = try_resp!(caller_with(&st, &headers, "r:locations:*"));
    let items: Vec<Value> =
        lock(&st.home).locations.iter().filter(|l| caller.sees(&l.id)).map(|l| l.summary()).collect();
    json_response(StatusCode::OK, &json!({"items": items, "_links": null}))
}

/// `GET /locations/{id}`.
pub(crate) async fn location(State(st): State<Arc<AppState>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let caller = try_resp!(caller_with(&st, &headers, "r:locations:*"));
    let body = try_resp!(own_location(&st, &caller, &id));
    json_response(StatusCode::OK, &body)
}

/// `GET /locations/{id}/rooms`.
pub(crate) async fn rooms(State(st): State<Arc<AppState>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let caller = try_resp!(caller_with(&st, &headers, "r:locations:*"));
    try_resp!(own_location(&st, &caller, &id));
    let items: Vec<Value> =
        lock(&st.home).rooms.iter().filter(|r| r.location_id == id).map(|r| Value::Object(r.json.clone())).collect();
    json_response(StatusCode::OK, &json!({"items": items, "_links": null}))
}

/// `GET /locations/{id}/rooms/{roomId}`.
pub(crate) async fn room(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((id, room_id)): Path<(String, String)>,
) -> Response {
    let caller = try_resp!(caller_with(&st, &headers, "r:locations:*"));
    try_resp!(own_location(&st, &caller, &id));
    let home = lock(&st.home);
    match home.rooms.iter().find(|r| r.id == room_id && r.location_id == id) {
        Some(r) => json_response(StatusCode::OK, &Value::Object(r.json.clone())),
        None => not_found("Room not found"),
    }
}

/// `GET /scenes[?locationId=]`: the caller's location's scenes (another location: none).
pub(crate) async fn scenes(State(st): State<Arc<AppState>>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let caller = try_resp!(caller_with(&st, &headers, "r:scenes:*"));
    let wanted: Vec<String> = url::form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .filter(|(k, _)| k == "locationId")
        .map(|(_, v)| v.into_owned())
        .collect();
    let items: Vec<Value> = lock(&st.home)
        .scenes
        .iter()
        .filter(|s| caller.sees(&s.location_id))
        .filter(|s| wanted.is_empty() || wanted.contains(&s.location_id))
        .map(|s| Value::Object(s.json.clone()))
        .collect();
    json_response(StatusCode::OK, &json!({"items": items, "_links": {"next": null, "previous": null}}))
}

/// `POST /scenes/{id}/execute`.
pub(crate) async fn execute_scene(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let caller = try_resp!(caller_with(&st, &headers, "x:scenes:*"));
    let now = st.clock.now_ms();
    {
        let mut home = lock(&st.home);
        let Some(scene) = home.scene_mut(&id) else {
            return not_found("Scene not found");
        };
        if !caller.sees(&scene.location_id) {
            return forbidden();
        }
        scene.executions += 1;
        scene.json.insert("lastExecutedDate".into(), json!(now));
    }
    *lock(&st.stats).scene_executions.entry(id).or_default() += 1;
    json_response(StatusCode::OK, &json!({"status": "success"}))
}
