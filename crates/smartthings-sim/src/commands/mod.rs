//! Validation and effect of `POST /devices/{id}/commands`; what each command does is
//! the table in `table.rs`.
//!
//! All commands are validated before any is applied (all-or-nothing), with the 422
//! `ConstraintViolationError` details SmartThings gives, so a client that sends a level
//! of 150 or a command the device lacks finds out here rather than in production.

use serde_json::{json, Value};

use crate::errors::detail;
use crate::home::Device;

pub(crate) mod table;

use table::{Args, Effect};

/// The most commands one request may carry.
pub(crate) const MAX_COMMANDS: usize = 10;

/// One attribute change a validated command will make.
#[derive(Debug, Clone)]
pub(crate) struct Update {
    component: String,
    capability: &'static str,
    attribute: &'static str,
    value: Value,
    unit: Option<&'static str>,
}

struct Ctx<'a> {
    prefix: String,
    errors: &'a mut Vec<Value>,
}

impl Ctx<'_> {
    fn fail(&mut self, target_suffix: &str, problem: &str) {
        let target = format!("{}{target_suffix}", self.prefix);
        self.errors.push(detail(&target, problem));
    }

    /// Checks the argument count; false (with an error) when out of range.
    fn arity(&mut self, args: &[Value], min: usize, max: usize) -> bool {
        if args.len() < min {
            self.fail(".arguments", &format!("must have at least {min} item(s)"));
            false
        } else if args.len() > max {
            self.fail(".arguments", &format!("must have at most {max} item(s)"));
            false
        } else {
            true
        }
    }

    fn number(&mut self, target: &str, v: &Value, integer: bool, min: f64, max: f64) -> Option<f64> {
        let n = match v.as_f64() {
            Some(n) if !integer || n.fract() == 0.0 => n,
            _ => {
                let ty = if integer { "integer" } else { "number" };
                self.fail(target, &format!("must be of type {ty}"));
                return None;
            }
        };
        if n < min {
            self.fail(target, &format!("must have a minimum value of {min}"));
            None
        } else if n > max {
            self.fail(target, &format!("must have a maximum value of {max}"));
            None
        } else {
            Some(n)
        }
    }
}

fn num_value(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        json!(n as i64)
    } else {
        json!(n)
    }
}

/// Validates the whole request body against the device; the updates to apply, or the
/// 422 details.
pub(crate) fn validate(device: &Device, body: &Value) -> Result<Vec<Vec<Update>>, Vec<Value>> {
    let mut errors = Vec::new();
    let Some(commands) = body.get("commands") else {
        return Err(vec![detail("commands", "must not be null")]);
    };
    let Some(commands) = commands.as_array() else {
        return Err(vec![detail("commands", "must be of type array")]);
    };
    if commands.is_empty() || commands.len() > MAX_COMMANDS {
        return Err(vec![detail("commands", &format!("size must be between 1 and {MAX_COMMANDS}"))]);
    }
    let components = device.components();
    let mut plans = Vec::with_capacity(commands.len());
    for (i, cmd) in commands.iter().enumerate() {
        let mut ctx = Ctx { prefix: format!("commands[{i}]"), errors: &mut errors };
        plans.push(validate_one(&mut ctx, cmd, device, &components).unwrap_or_default());
    }
    if errors.is_empty() {
        Ok(plans)
    } else {
        Err(errors)
    }
}

fn validate_one(
    ctx: &mut Ctx<'_>,
    cmd: &Value,
    device: &Device,
    components: &[(String, Vec<String>)],
) -> Option<Vec<Update>> {
    let Some(obj) = cmd.as_object() else {
        ctx.fail("", "must be of type object");
        return None;
    };
    let component = match obj.get("component") {
        None | Some(Value::Null) => "main",
        Some(Value::String(s)) => s.as_str(),
        Some(_) => {
            ctx.fail(".component", "must be of type string");
            return None;
        }
    };
    let capability = match obj.get("capability") {
        Some(Value::String(s)) => s.as_str(),
        None | Some(Value::Null) => {
            ctx.fail(".capability", "must not be null");
            return None;
        }
        Some(_) => {
            ctx.fail(".capability", "must be of type string");
            return None;
        }
    };
    let command = match obj.get("command") {
        Some(Value::String(s)) => s.as_str(),
        None | Some(Value::Null) => {
            ctx.fail(".command", "must not be null");
            return None;
        }
        Some(_) => {
            ctx.fail(".command", "must be of type string");
            return None;
        }
    };
    let empty = Vec::new();
    let args = match obj.get("arguments") {
        None | Some(Value::Null) => &empty,
        Some(Value::Array(a)) => a,
        Some(_) => {
            ctx.fail(".arguments", "must be of type array");
            return None;
        }
    };
    let Some((_, caps)) = components.iter().find(|(id, _)| id == component) else {
        ctx.fail(".component", &format!("component '{component}' does not exist on this device"));
        return None;
    };
    if !caps.iter().any(|c| c == capability) {
        ctx.fail(".capability", &format!("capability '{capability}' is not supported by component '{component}'"));
        return None;
    }
    if !table::knows(capability) {
        return Some(Vec::new());
    }
    let Some(row) = table::find(capability, command) else {
        ctx.fail(".command", &format!("'{command}' is not a valid command for capability '{capability}'"));
        return None;
    };
    let here = |attribute: &str| device.attribute(component, capability, attribute);
    let args = check_args(ctx, row.args, args, &|cap, attr| device.attribute(component, cap, attr), &here)?;
    let has = |cap: &str| caps.iter().any(|c| c == cap);
    let mut updates = Vec::new();
    let mut up = |capability: &'static str, attribute: &'static str, value: Value, unit: Option<&'static str>| {
        updates.push(Update { component: component.to_string(), capability, attribute, value, unit })
    };
    let first = args.first().cloned().unwrap_or(Value::Null);
    let above_zero = first.as_f64().is_some_and(|n| n > 0.0);
    for effect in row.effects {
        match *effect {
            Effect::Text(attribute, text) => up(row.capability, attribute, json!(text), None),
            Effect::Arg(attribute, unit) => up(row.capability, attribute, first.clone(), unit),
            Effect::Step(attribute, delta) => {
                let now = here(attribute).and_then(|v| v.as_i64()).unwrap_or(0);
                up(row.capability, attribute, json!((now + delta).clamp(0, 100)), None)
            }
            Effect::OnWhenAboveZero if above_zero && has("switch") => up("switch", "switch", json!("on"), None),
            Effect::OnWhenAboveZero => {}
            Effect::ShadeFollows if has("windowShade") => {
                let state = match first.as_f64() {
                    Some(n) if n <= 0.0 => "closed",
                    Some(n) if n >= 100.0 => "open",
                    _ => "partially open",
                };
                up("windowShade", "windowShade", json!(state), None)
            }
            Effect::ShadeFollows => {}
            Effect::ColorMap => {
                let map = first.as_object().cloned().unwrap_or_default();
                for attribute in ["hue", "saturation"] {
                    if let Some(v) = map.get(attribute) {
                        up("colorControl", attribute, v.clone(), None);
                    }
                }
                if let Some(hex) = map.get("hex") {
                    up("colorControl", "color", hex.clone(), None);
                }
            }
        }
    }
    Some(updates)
}

/// A `{minimum, maximum}` range object's bounds.
fn range_of(value: &Value) -> Option<(f64, f64)> {
    Some((value.get("minimum")?.as_f64()?, value.get("maximum")?.as_f64()?))
}

/// SmartThings' own bounds for a temperature argument (any unit).
const TEMPERATURE: (f64, f64) = (-460.0, 10000.0);

/// Checks the arguments against `spec`; the arguments to apply (numbers normalised), or
/// `None` with the 422 details added. `read(capability, attribute)` reads the device's
/// status on the command's component; `here(attribute)` on the command's capability.
fn check_args(
    ctx: &mut Ctx<'_>,
    spec: Args,
    args: &[Value],
    read: &dyn Fn(&str, &str) -> Option<Value>,
    here: &dyn Fn(&str) -> Option<Value>,
) -> Option<Vec<Value>> {
    let a0 = ".arguments[0]";
    match spec {
        Args::None => ctx.arity(args, 0, 0).then(Vec::new),
        Args::Int { min, max, rate } => {
            if !ctx.arity(args, 1, if rate { 2 } else { 1 }) {
                return None;
            }
            let n = ctx.number(a0, &args[0], true, min, max);
            let rate_ok = args.get(1).is_none_or(|r| ctx.number(".arguments[1]", r, true, 0.0, f64::MAX).is_some());
            Some(vec![num_value(n.filter(|_| rate_ok)?)])
        }
        Args::Num { min, max } => {
            if !ctx.arity(args, 1, 1) {
                return None;
            }
            Some(vec![num_value(ctx.number(a0, &args[0], false, min, max)?)])
        }
        Args::Setpoint { ranges } => {
            if !ctx.arity(args, 1, 1) {
                return None;
            }
            let (min, max) = ranges
                .iter()
                .find_map(|(cap, attr)| range_of(&read(cap, attr)?))
                .or_else(|| {
                    // Samsung's air conditioners keep their range here instead.
                    let bound = |attr| read("custom.thermostatSetpointControl", attr)?.as_f64();
                    Some((bound("minimumSetpoint")?, bound("maximumSetpoint")?))
                })
                .unwrap_or(TEMPERATURE);
            Some(vec![num_value(ctx.number(a0, &args[0], false, min, max)?)])
        }
        Args::Choice { supported } => {
            let listed: Vec<String> = here(supported)
                .and_then(|v| v.as_array().cloned())
                .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
                .unwrap_or_default();
            choice(ctx, args, &listed)
        }
        Args::Enum(values) => choice(ctx, args, &values.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
        Args::ColorMap => {
            if !ctx.arity(args, 1, 1) {
                return None;
            }
            let Some(map) = args[0].as_object() else {
                ctx.fail(a0, "must be of type object");
                return None;
            };
            let mut out = serde_json::Map::new();
            let mut ok = true;
            for key in ["hue", "saturation"] {
                if let Some(v) = map.get(key) {
                    match ctx.number(&format!("{a0}.{key}"), v, false, 0.0, 100.0) {
                        Some(n) => drop(out.insert(key.into(), num_value(n))),
                        None => ok = false,
                    }
                }
            }
            if let Some(v) = map.get("hex") {
                let valid = v.as_str().is_some_and(|s| {
                    s.len() == 7 && s.starts_with('#') && s[1..].bytes().all(|b| b.is_ascii_hexdigit())
                });
                if valid {
                    out.insert("hex".into(), v.clone());
                } else {
                    ctx.fail(&format!("{a0}.hex"), "must match \"^#[0-9a-fA-F]{6}$\"");
                    ok = false;
                }
            }
            ok.then(|| vec![Value::Object(out)])
        }
    }
}

/// One string argument, one of `allowed` when that list is not empty.
fn choice(ctx: &mut Ctx<'_>, args: &[Value], allowed: &[String]) -> Option<Vec<Value>> {
    if !ctx.arity(args, 1, 1) {
        return None;
    }
    let Some(text) = args[0].as_str() else {
        ctx.fail(".arguments[0]", "must be of type string");
        return None;
    };
    if !allowed.is_empty() && !allowed.iter().any(|a| a == text) {
        ctx.fail(".arguments[0]", &format!("must be one of [{}]", allowed.join(", ")));
        return None;
    }
    Some(vec![json!(text)])
}

/// Applies validated updates; an offline device accepts commands but nothing changes.
pub(crate) fn apply(device: &mut Device, plans: &[Vec<Update>], now_ms: u64) {
    if !device.online {
        return;
    }
    for u in plans.iter().flatten() {
        device.set_attribute(&u.component, u.capability, u.attribute, u.value.clone(), u.unit, now_ms);
    }
}
