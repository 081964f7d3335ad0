//! `POST /__sim/devices/{id}/status`: a device's reading changed from outside (someone
//! opened the door, the room warmed up), set as the real device would report it: the
//! attribute's `value`, `unit` when given, and a fresh `timestamp`, like a command's
//! effect (commands/).
//!
//! Body: `{"component": "main", "capability": .., "attribute": .., "value": .., "unit": ..}`
//! (`component` defaults to `main`, `unit` is optional). 404 for an unknown device; 400
//! with a body naming the problem for a component or capability the device does not
//! declare, or an attribute the capability does not have (the attributes
//! `GET /capabilities/{id}/{version}` lists: any the home's devices report, plus those
//! the command table sets).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::commands::table::{Effect, ROWS};
use crate::errors::json_response;
use crate::home::Home;
use crate::state::{lock, AppState};
use crate::Sim;

/// One reading as a device reports it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Reading {
    #[serde(default = "main")]
    pub component: String,
    pub capability: String,
    pub attribute: String,
    pub value: Value,
    #[serde(default)]
    pub unit: Option<String>,
}

fn main() -> String {
    "main".into()
}

/// Why a reading was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusError {
    /// No device has that id.
    UnknownDevice,
    /// The device lacks the component, the capability or the attribute: the reason.
    Refused(String),
}

impl std::fmt::Display for StatusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatusError::UnknownDevice => f.write_str("no such device"),
            StatusError::Refused(why) => f.write_str(why),
        }
    }
}

/// Whether `capability` has `attribute`: some device of the home reports it, or a command
/// of the table sets it.
fn capability_has(home: &Home, capability: &str, attribute: &str) -> bool {
    let reported = home
        .devices
        .iter()
        .any(|d| d.status.values().any(|comp| comp.get(capability).and_then(|c| c.get(attribute)).is_some()));
    reported
        || ROWS.iter().filter(|r| r.capability == capability).flat_map(|r| r.effects.iter()).any(|e| match *e {
            Effect::Text(a, _) | Effect::Arg(a, _) | Effect::Step(a, _) => a == attribute,
            _ => false,
        })
}

/// Sets one reading of a device (any location, online or not: the change happened at
/// the device), after the checks above.
pub(crate) fn set_status(st: &AppState, device_id: &str, r: &Reading) -> Result<(), StatusError> {
    let now = st.clock.now_ms();
    let mut home = lock(&st.home);
    let device = home.device(device_id).ok_or(StatusError::UnknownDevice)?;
    let components = device.components();
    let Some((_, caps)) = components.iter().find(|(id, _)| *id == r.component) else {
        return Err(StatusError::Refused(format!("the device has no component '{}'", r.component)));
    };
    if !caps.contains(&r.capability) {
        return Err(StatusError::Refused(format!(
            "component '{}' of the device has no capability '{}'",
            r.component, r.capability
        )));
    }
    if !capability_has(&home, &r.capability, &r.attribute) {
        return Err(StatusError::Refused(format!("capability '{}' has no attribute '{}'", r.capability, r.attribute)));
    }
    if let Some(device) = home.device_mut(device_id) {
        device.set_attribute(&r.component, &r.capability, &r.attribute, r.value.clone(), r.unit.as_deref(), now);
    }
    Ok(())
}

/// `POST /__sim/devices/{id}/status`: 200 with the attribute's new state.
pub(crate) async fn route(State(st): State<Arc<AppState>>, Path(id): Path<String>, body: Bytes) -> Response {
    let r: Reading = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return json_response(StatusCode::BAD_REQUEST, &json!({"error": format!("invalid body: {e}")})),
    };
    match set_status(&st, &id, &r) {
        Ok(()) => {
            let home = lock(&st.home);
            let state = home
                .device(&id)
                .and_then(|d| d.status.get(&r.component)?.get(&r.capability)?.get(&r.attribute).cloned());
            json_response(
                StatusCode::OK,
                &json!({"deviceId": id, "component": r.component, "capability": r.capability,
                        "attribute": r.attribute, "state": state}),
            )
        }
        Err(StatusError::UnknownDevice) => json_response(StatusCode::NOT_FOUND, &json!({"error": "no such device"})),
        Err(StatusError::Refused(why)) => json_response(StatusCode::BAD_REQUEST, &json!({"error": why})),
    }
}

impl Sim {
    /// A device's reading changed from outside, as `POST /__sim/devices/{id}/status` does
    /// it: `component` `main` unless given, `unit` optional.
    pub fn set_device_status(
        &self,
        device_id: &str,
        component: &str,
        capability: &str,
        attribute: &str,
        value: Value,
        unit: Option<&str>,
    ) -> Result<(), StatusError> {
        let r = Reading {
            component: component.to_string(),
            capability: capability.to_string(),
            attribute: attribute.to_string(),
            value,
            unit: unit.map(String::from),
        };
        set_status(&self.state, device_id, &r)
    }
}
