//! Device routes: list (filters, paging, inline status/health), one device, status (whole,
//! one component's, one capability's), health and commands. An OAuth-In token sees only its
//! authorization's location, a personal access token every location of the account.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use crate::api_auth::caller_with;
use crate::commands;
use crate::errors::{bad_request, constraint_violation, detail, forbidden, json_response, not_found};
use crate::home::Device;
use crate::ids::uuid;
use crate::oauth_store::Caller;
use crate::state::{lock, AppState};

/// The largest page `GET /devices` returns (bigger `max` values are clamped).
const MAX_PAGE: u64 = 200;

macro_rules! try_resp {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(resp) => return resp,
        }
    };
}
pub(crate) use try_resp;

fn values<'a>(params: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    params.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect()
}

fn flag(params: &[(String, String)], key: &str) -> bool {
    values(params, key).first().is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// `max` and `page`, or the 422 SmartThings gives for nonsense.
fn paging(params: &[(String, String)]) -> Result<(u64, u64), Response> {
    let mut details = Vec::new();
    let max = match values(params, "max").first().map(|v| v.trim().parse::<i64>()) {
        None => MAX_PAGE,
        Some(Ok(n)) if n >= 1 => (n as u64).min(MAX_PAGE),
        Some(Ok(_)) => {
            details.push(detail("max", "must be greater than or equal to 1"));
            0
        }
        Some(Err(_)) => {
            details.push(detail("max", "must be of type integer"));
            0
        }
    };
    let page = match values(params, "page").first().map(|v| v.trim().parse::<i64>()) {
        None => 0,
        Some(Ok(n)) if n >= 0 => n as u64,
        Some(Ok(_)) => {
            details.push(detail("page", "must be greater than or equal to 0"));
            0
        }
        Some(Err(_)) => {
            details.push(detail("page", "must be of type integer"));
            0
        }
    };
    if details.is_empty() {
        Ok((max, page))
    } else {
        Err(constraint_violation(details))
    }
}

/// The origin for absolute `_links`: the `Host` the client used if it names this server.
fn origin(st: &AppState, headers: &HeaderMap) -> String {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| st.own_hosts.iter().any(|o| o == h))
        .map(|h| format!("{}://{h}", st.scheme))
        .unwrap_or_else(|| st.base_url.clone())
}

/// `GET /devices`.
pub(crate) async fn list(State(st): State<Arc<AppState>>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let caller = try_resp!(caller_with(&st, &headers, "r:devices:*"));
    let params: Vec<(String, String)> =
        url::form_urlencoded::parse(q.unwrap_or_default().as_bytes()).into_owned().collect();
    let (max, page) = try_resp!(paging(&params));
    let locations = values(&params, "locationId");
    let capabilities = values(&params, "capability");
    let any_capability = values(&params, "capabilitiesMode").first().is_some_and(|m| m.eq_ignore_ascii_case("or"));
    let ids = values(&params, "deviceId");
    let (include_status, include_health) = (flag(&params, "includeStatus"), flag(&params, "includeHealth"));

    let home = lock(&st.home);
    let matching: Vec<&Device> = home
        .devices
        .iter()
        .filter(|d| caller.sees(&d.location_id))
        .filter(|d| locations.is_empty() || locations.contains(&d.location_id.as_str()))
        .filter(|d| ids.is_empty() || ids.contains(&d.id.as_str()))
        .filter(|d| {
            capabilities.is_empty()
                || if any_capability {
                    capabilities.iter().any(|c| d.has_capability(c))
                } else {
                    capabilities.iter().all(|c| d.has_capability(c))
                }
        })
        .collect();
    let start = page.saturating_mul(max);
    let items: Vec<Value> = matching
        .iter()
        .skip(usize::try_from(start).unwrap_or(usize::MAX))
        .take(max as usize)
        .map(|d| d.listing(include_status, include_health))
        .collect();
    let total = matching.len() as u64;
    drop(home);
    let mut links = json!({});
    if start.saturating_add(max) < total {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        ser.append_pair("max", &max.to_string());
        ser.append_pair("page", &(page + 1).to_string());
        for (k, v) in params.iter().filter(|(k, _)| k != "max" && k != "page") {
            ser.append_pair(k, v);
        }
        links = json!({"next": {"href": format!("{}/devices?{}", origin(&st, &headers), ser.finish())}});
    }
    json_response(StatusCode::OK, &json!({"items": items, "_links": links}))
}

/// Finds a device the caller may see: 404 if unknown, 403 if in another location.
fn visible<'a>(devices: &'a [Device], caller: &Caller, id: &str) -> Result<&'a Device, Response> {
    let device = devices.iter().find(|d| d.id == id).ok_or_else(|| not_found("Device not found"))?;
    if !caller.sees(&device.location_id) {
        return Err(forbidden());
    }
    Ok(device)
}

/// `GET /devices/{id}`.
pub(crate) async fn get(State(st): State<Arc<AppState>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let caller = try_resp!(caller_with(&st, &headers, "r:devices:*"));
    let home = lock(&st.home);
    let device = try_resp!(visible(&home.devices, &caller, &id));
    json_response(StatusCode::OK, &Value::Object(device.json.clone()))
}

/// `GET /devices/{id}/status`.
pub(crate) async fn status(State(st): State<Arc<AppState>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let caller = try_resp!(caller_with(&st, &headers, "r:devices:*"));
    let home = lock(&st.home);
    let device = try_resp!(visible(&home.devices, &caller, &id));
    json_response(StatusCode::OK, &device.status_body())
}

/// `GET /devices/{id}/components/{component}/status`: that component's capabilities, as
/// SmartThings answers it (the map itself, no `components` wrapper).
pub(crate) async fn component_status(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((id, component)): Path<(String, String)>,
) -> Response {
    let caller = try_resp!(caller_with(&st, &headers, "r:devices:*"));
    let home = lock(&st.home);
    let device = try_resp!(visible(&home.devices, &caller, &id));
    match declared(device, &component, None).then(|| device.status.get(&component)).flatten() {
        Some(status) => json_response(StatusCode::OK, status),
        None => not_found("Component not found"),
    }
}

/// `GET /devices/{id}/components/{component}/capabilities/{capability}/status`: that
/// capability's attributes.
pub(crate) async fn capability_status(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((id, component, capability)): Path<(String, String, String)>,
) -> Response {
    let caller = try_resp!(caller_with(&st, &headers, "r:devices:*"));
    let home = lock(&st.home);
    let device = try_resp!(visible(&home.devices, &caller, &id));
    if !declared(device, &component, None) {
        return not_found("Component not found");
    }
    if !declared(device, &component, Some(&capability)) {
        return not_found("Capability not found");
    }
    let status = device.status.get(&component).and_then(|c| c.get(&capability)).cloned().unwrap_or_else(|| json!({}));
    json_response(StatusCode::OK, &status)
}

/// Whether the device declares `component` (and `capability` on it, when given).
fn declared(device: &Device, component: &str, capability: Option<&str>) -> bool {
    device
        .components()
        .iter()
        .any(|(id, caps)| id == component && capability.is_none_or(|cap| caps.iter().any(|c| c == cap)))
}

/// `GET /devices/{id}/health`.
pub(crate) async fn health(State(st): State<Arc<AppState>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let caller = try_resp!(caller_with(&st, &headers, "r:devices:*"));
    let home = lock(&st.home);
    let device = try_resp!(visible(&home.devices, &caller, &id));
    let mut body = device.health_state();
    if let Some(o) = body.as_object_mut() {
        o.insert("deviceId".into(), json!(device.id));
    }
    json_response(StatusCode::OK, &body)
}

/// `POST /devices/{id}/commands`: validate all, then apply all (unless offline).
pub(crate) async fn commands(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let caller = try_resp!(caller_with(&st, &headers, "x:devices:*"));
    let now = st.clock.now_ms();
    let mut home = lock(&st.home);
    try_resp!(visible(&home.devices, &caller, &id));
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return bad_request("The request body is not valid JSON.");
    };
    let Some(device) = home.device_mut(&id) else {
        return not_found("Device not found");
    };
    let plans = match commands::validate(device, &body) {
        Ok(p) => p,
        Err(details) => return constraint_violation(details),
    };
    commands::apply(device, &plans, now);
    let results: Vec<Value> = plans.iter().map(|_| json!({"id": uuid(), "status": "ACCEPTED"})).collect();
    json_response(StatusCode::OK, &json!({ "results": results }))
}
