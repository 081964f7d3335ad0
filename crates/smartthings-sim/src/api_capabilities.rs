//! `GET /capabilities` and `GET /capabilities/{id}/{version}`: the capability definitions a
//! client reads to learn a device's attributes and commands (issue 27, item 3).
//!
//! Generated, not copied: one definition per capability id and version any device in the
//! home declares, in SmartThings' shape (`id`, `version`, `status`, `name`, `ephemeral`,
//! `attributes` with a JSON schema for `value`, `commands` with their `arguments`). The
//! attributes come from the home's device statuses, the commands from the simulator's
//! command table (commands.rs); a capability the table does not know lists none.
//! Unknown ids and versions answer SmartThings' 404 `NotFoundError`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Map, Value};

use crate::api_auth::authenticate;
use crate::api_devices::try_resp;
use crate::commands::table::{Args, ROWS};
use crate::errors::{json_response, not_found};
use crate::home::Home;
use crate::state::{lock, AppState};

/// Every `(id, version)` the home's devices declare.
fn declared(home: &Home) -> BTreeSet<(String, u64)> {
    let mut out = BTreeSet::new();
    for d in &home.devices {
        for c in d.json.get("components").and_then(Value::as_array).into_iter().flatten() {
            for cap in c.get("capabilities").and_then(Value::as_array).into_iter().flatten() {
                if let Some(id) = cap.get("id").and_then(Value::as_str) {
                    out.insert((id.to_string(), cap.get("version").and_then(Value::as_u64).unwrap_or(1)));
                }
            }
        }
    }
    out
}

/// `GET /capabilities`: `{items: [{id, version, status}], _links: {}}`.
pub(crate) async fn list(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    try_resp!(authenticate(&st, &headers));
    let items: Vec<Value> = declared(&lock(&st.home))
        .into_iter()
        .map(|(id, version)| json!({"id": id, "version": version, "status": "live"}))
        .collect();
    json_response(StatusCode::OK, &json!({"items": items, "_links": {}}))
}

/// `GET /capabilities/{id}/{version}`.
pub(crate) async fn get(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((id, version)): Path<(String, String)>,
) -> Response {
    try_resp!(authenticate(&st, &headers));
    let home = lock(&st.home);
    let known = declared(&home);
    if !known.iter().any(|(k, _)| *k == id) {
        return not_found(&format!("Capability {id} not found"));
    }
    let Some(version) = version.parse::<u64>().ok().filter(|v| known.contains(&(id.clone(), *v))) else {
        return not_found(&format!("Capability {id} version {version} not found"));
    };
    json_response(StatusCode::OK, &definition(&home, &id, version))
}

/// `switchLevel` -> `Switch Level`.
fn display_name(id: &str) -> String {
    let base = id.rsplit('.').next().unwrap_or(id);
    let mut out = String::new();
    for (i, ch) in base.chars().enumerate() {
        if i == 0 {
            out.extend(ch.to_uppercase());
        } else {
            if ch.is_uppercase() {
                out.push(' ');
            }
            out.push(ch);
        }
    }
    out
}

fn schema_of(value: &Value) -> Value {
    match value {
        Value::Number(n) if n.is_i64() || n.is_u64() => json!({"type": "integer"}),
        Value::Number(_) => json!({"type": "number"}),
        Value::Bool(_) => json!({"type": "boolean"}),
        Value::Array(_) => json!({"type": "array"}),
        Value::Object(_) => json!({"type": "object"}),
        _ => json!({"type": "string"}),
    }
}

fn definition(home: &Home, id: &str, version: u64) -> Value {
    // Attribute -> (value schema, has a unit), from whatever any device reports.
    let mut attrs: BTreeMap<String, (Value, bool)> = BTreeMap::new();
    for d in &home.devices {
        for comp in d.status.values() {
            let Some(cap) = comp.get(id).and_then(Value::as_object) else { continue };
            for (name, state) in cap {
                let entry = attrs.entry(name.clone()).or_insert((json!({"type": "string"}), false));
                if let Some(v) = state.get("value").filter(|v| !v.is_null()) {
                    entry.0 = schema_of(v);
                }
                entry.1 |= state.get("unit").is_some_and(|u| !u.is_null());
            }
        }
    }
    let attributes: Map<String, Value> = attrs
        .into_iter()
        .map(|(name, (value, unit))| {
            let mut properties = json!({"value": value});
            if unit {
                properties["unit"] = json!({"type": "string"});
            }
            (name, json!({"schema": {"type": "object", "properties": properties, "additionalProperties": false, "required": ["value"]}}))
        })
        .collect();
    let commands: Map<String, Value> = ROWS
        .iter()
        .filter(|r| r.capability == id)
        .map(|r| (r.command.to_string(), json!({"name": r.command, "arguments": arguments(r.args)})))
        .collect();
    json!({
        "id": id,
        "version": version,
        "status": "live",
        "name": display_name(id),
        "ephemeral": false,
        "attributes": attributes,
        "commands": commands,
    })
}

fn arguments(args: Args) -> Value {
    let number = |name: &str, ty: &str, min: f64, max: f64, optional: bool| json!({"name": name, "optional": optional, "schema": {"type": ty, "minimum": min, "maximum": max}});
    match args {
        Args::None => json!([]),
        Args::Int { min, max, rate } => {
            let mut a = vec![number("value", "integer", min, max, false)];
            if rate {
                a.push(json!({"name": "rate", "optional": true, "schema": {"type": "integer", "minimum": 0}}));
            }
            Value::Array(a)
        }
        Args::Num { min, max } => json!([number("value", "number", min, max, false)]),
        Args::Choice { .. } => json!([{"name": "value", "optional": false, "schema": {"type": "string"}}]),
        Args::Enum(values) => {
            json!([{"name": "value", "optional": false, "schema": {"type": "string", "enum": values}}])
        }
        Args::Setpoint { .. } => json!([{"name": "setpoint", "optional": false, "schema": {"type": "number"}}]),
        Args::ColorMap => json!([{"name": "color", "optional": false, "schema": {"type": "object", "properties": {
            "hue": {"type": "number", "minimum": 0, "maximum": 100},
            "saturation": {"type": "number", "minimum": 0, "maximum": 100},
            "hex": {"type": "string"}
        }}}]),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn display_names() {
        assert_eq!(super::display_name("switchLevel"), "Switch Level");
        assert_eq!(super::display_name("synthetic.lightingEffectFade"), "Lighting Effect Fade");
    }
}
