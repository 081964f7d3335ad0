//! Location modes (issue 29): `GET /locations/{id}/modes`, `GET /locations/{id}/modes/{modeId}`,
//! `GET /locations/{id}/modes/current` and `PUT /locations/{id}/modes/current`
//! `{"modeId": ..}`.
//!
//! Every location (each user's too, users.rs) has SmartThings' three default modes, Home,
//! Away and Night, with `id`, `label` and `name` as the official core SDK's recorded
//! answers show them (`{"id": <uuid>, "label": "Night", "name": "Night"}`), and starts in
//! Home. Mode ids are UUID-shaped and derived from the location id and the mode's index,
//! so they are stable for a location across runs and differ between locations.
//!
//! Scopes: `r:locations:*` to read, `w:locations:*` to set. A location the caller cannot
//! see is 403 and an unknown one 404, as for the other location endpoints (api_places.rs).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use crate::api_auth::caller_with;
use crate::api_devices::try_resp;
use crate::api_places::own_location;
use crate::errors::{bad_request, constraint_violation, detail, json_response, not_found};
use crate::state::{lock, AppState};
use crate::Sim;

/// The modes every location has, in this order; the first is the one a location starts in.
pub(crate) const MODES: [&str; 3] = ["Home", "Away", "Night"];

/// One mode of a location, as a test sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimMode {
    pub id: String,
    pub name: String,
    pub label: String,
}

impl SimMode {
    fn json(&self) -> Value {
        json!({"id": self.id, "label": self.label, "name": self.name})
    }
}

/// FNV-1a over `seed`'s bytes, then `parts`.
fn fnv(seed: u64, parts: &[&[u8]]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for b in parts.iter().flat_map(|p| p.iter()) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The id of mode `index` of `location_id`: a version-4-shaped UUID, the same every run.
pub(crate) fn mode_id(location_id: &str, index: usize) -> String {
    let idx = (index as u64).to_be_bytes();
    let parts: [&[u8]; 3] = [b"mode:", location_id.as_bytes(), &idx];
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&fnv(1, &parts).to_be_bytes());
    b[8..].copy_from_slice(&fnv(2, &parts).to_be_bytes());
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// Every mode of a location.
pub(crate) fn modes_of(location_id: &str) -> Vec<SimMode> {
    MODES
        .iter()
        .enumerate()
        .map(|(i, name)| SimMode { id: mode_id(location_id, i), name: name.to_string(), label: name.to_string() })
        .collect()
}

/// The index of a location's current mode.
fn current_index(st: &AppState, location_id: &str) -> usize {
    lock(&st.home).current_modes.get(location_id).copied().unwrap_or(0).min(MODES.len() - 1)
}

fn current_of(st: &AppState, location_id: &str) -> SimMode {
    let i = current_index(st, location_id);
    modes_of(location_id).swap_remove(i)
}

/// Makes `mode_id` the location's current mode; false when it is not one of its modes.
fn set_current(st: &AppState, location_id: &str, mode_id: &str) -> bool {
    match modes_of(location_id).iter().position(|m| m.id == mode_id) {
        Some(i) => {
            lock(&st.home).current_modes.insert(location_id.to_string(), i);
            true
        }
        None => false,
    }
}

/// `GET /locations/{id}/modes`: `{"items": [{id, label, name}, ..]}`.
pub(crate) async fn list(State(st): State<Arc<AppState>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let caller = try_resp!(caller_with(&st, &headers, "r:locations:*"));
    try_resp!(own_location(&st, &caller, &id));
    let items: Vec<Value> = modes_of(&id).iter().map(SimMode::json).collect();
    json_response(StatusCode::OK, &json!({ "items": items }))
}

/// `GET /locations/{id}/modes/current`.
pub(crate) async fn current(State(st): State<Arc<AppState>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let caller = try_resp!(caller_with(&st, &headers, "r:locations:*"));
    try_resp!(own_location(&st, &caller, &id));
    json_response(StatusCode::OK, &current_of(&st, &id).json())
}

/// `GET /locations/{id}/modes/{modeId}`: one mode, 404 `NotFoundError` for an unknown id.
pub(crate) async fn get(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((id, mode_id)): Path<(String, String)>,
) -> Response {
    let caller = try_resp!(caller_with(&st, &headers, "r:locations:*"));
    try_resp!(own_location(&st, &caller, &id));
    match modes_of(&id).into_iter().find(|m| m.id == mode_id) {
        Some(m) => json_response(StatusCode::OK, &m.json()),
        None => not_found("Mode not found"),
    }
}

/// `PUT /locations/{id}/modes/current` `{"modeId": ..}`: the new current mode.
///
/// An unknown `modeId` is a 422 `ConstraintViolationError` on `modeId`, not a 404: the
/// resource the path names (the location's current mode) exists; what is wrong is a value
/// in the body, and SmartThings reports a bad body value as 422 elsewhere too (a command
/// for a capability the device lacks, api_devices.rs). No recorded answer of the real API
/// to this case was found; a client should treat 404 and 422 alike ("no such mode").
pub(crate) async fn set_current_route(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let caller = try_resp!(caller_with(&st, &headers, "w:locations:*"));
    try_resp!(own_location(&st, &caller, &id));
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return bad_request("The request body is not valid JSON.");
    };
    let mode_id = match body.get("modeId") {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => return constraint_violation(vec![detail("modeId", "must not be null")]),
        Some(_) => return constraint_violation(vec![detail("modeId", "must be of type string")]),
    };
    if !set_current(&st, &id, &mode_id) {
        return constraint_violation(vec![detail("modeId", &format!("'{mode_id}' is not a mode of this location"))]);
    }
    json_response(StatusCode::OK, &current_of(&st, &id).json())
}

impl Sim {
    /// A location's modes (Home, Away, Night), `None` for an unknown location.
    pub fn modes(&self, location_id: &str) -> Option<Vec<SimMode>> {
        lock(&self.state.home).location(location_id)?;
        Some(modes_of(location_id))
    }

    /// A location's current mode, `None` for an unknown location.
    pub fn current_mode(&self, location_id: &str) -> Option<SimMode> {
        lock(&self.state.home).location(location_id)?;
        Some(current_of(&self.state, location_id))
    }

    /// Changes a location's mode as someone in the SmartThings app would: `mode` is an
    /// id, a name or a label (ignoring case). False for an unknown location or mode.
    pub fn set_current_mode(&self, location_id: &str, mode: &str) -> bool {
        if lock(&self.state.home).location(location_id).is_none() {
            return false;
        }
        let found = modes_of(location_id)
            .into_iter()
            .find(|m| m.id == mode || m.name.eq_ignore_ascii_case(mode) || m.label.eq_ignore_ascii_case(mode));
        found.is_some_and(|m| set_current(&self.state, location_id, &m.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_uuid_shaped_and_per_location() {
        let a = mode_id("397678e5-9995-4a39-9d9f-ae6ba310236b", 0);
        assert_eq!(a, mode_id("397678e5-9995-4a39-9d9f-ae6ba310236b", 0));
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert_ne!(a, mode_id("397678e5-9995-4a39-9d9f-ae6ba310236b", 1));
        assert_ne!(a, mode_id("10ca7100-0000-4000-8000-000000000001", 0));
        let names: Vec<String> = modes_of("x").into_iter().map(|m| m.name).collect();
        assert_eq!(names, ["Home", "Away", "Night"]);
    }
}
