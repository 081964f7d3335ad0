//! Validation and effect of `POST /devices/{id}/commands`.
//!
//! All commands are validated before any is applied (all-or-nothing), with the 422
//! `ConstraintViolationError` details SmartThings gives, so a client that sends a level
//! of 150 or a command the device lacks finds out here rather than in production.

use serde_json::{json, Value};

use crate::errors::detail;
use crate::home::Device;

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

/// Commands the simulator knows, per capability. Capabilities not listed here accept
/// any command without effect (as long as the device declares them).
fn known_commands(capability: &str) -> Option<&'static [&'static str]> {
    Some(match capability {
        "switch" => &["on", "off"],
        "switchLevel" => &["setLevel"],
        "colorTemperature" => &["setColorTemperature"],
        "lock" => &["lock", "unlock"],
        "windowShade" => &["open", "close", "pause"],
        "colorControl" => &["setHue", "setSaturation", "setColor"],
        "refresh" => &["refresh"],
        _ => return None,
    })
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
        plans.push(validate_one(&mut ctx, cmd, &components).unwrap_or_default());
    }
    if errors.is_empty() {
        Ok(plans)
    } else {
        Err(errors)
    }
}

fn validate_one(ctx: &mut Ctx<'_>, cmd: &Value, components: &[(String, Vec<String>)]) -> Option<Vec<Update>> {
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
        ctx.fail(
            ".capability",
            &format!("capability '{capability}' is not supported by component '{component}'"),
        );
        return None;
    }
    let Some(known) = known_commands(capability) else {
        return Some(Vec::new());
    };
    if !known.contains(&command) {
        ctx.fail(".command", &format!("'{command}' is not a valid command for capability '{capability}'"));
        return None;
    }
    let has = |cap: &str| caps.iter().any(|c| c == cap);
    let up = |capability: &'static str, attribute: &'static str, value: Value, unit: Option<&'static str>| Update {
        component: component.to_string(),
        capability,
        attribute,
        value,
        unit,
    };
    let a0 = ".arguments[0]";
    let a1 = ".arguments[1]";
    match (capability, command) {
        ("switch", c) => ctx.arity(args, 0, 0).then(|| vec![up("switch", "switch", json!(c), None)]),
        ("lock", c) => ctx
            .arity(args, 0, 0)
            .then(|| vec![up("lock", "lock", json!(if c == "lock" { "locked" } else { "unlocked" }), None)]),
        ("windowShade", c) => ctx.arity(args, 0, 0).then(|| match c {
            "open" => vec![up("windowShade", "windowShade", json!("open"), None)],
            "close" => vec![up("windowShade", "windowShade", json!("closed"), None)],
            _ => Vec::new(),
        }),
        ("refresh", _) => ctx.arity(args, 0, 0).then(Vec::new),
        ("switchLevel", _) => {
            if !ctx.arity(args, 1, 2) {
                return None;
            }
            let level = ctx.number(a0, &args[0], true, 0.0, 100.0);
            let rate_ok = args.get(1).is_none_or(|r| ctx.number(a1, r, true, 0.0, f64::MAX).is_some());
            let level = level.filter(|_| rate_ok)?;
            let mut updates = vec![up("switchLevel", "level", num_value(level), Some("%"))];
            if level > 0.0 && has("switch") {
                updates.push(up("switch", "switch", json!("on"), None));
            }
            Some(updates)
        }
        ("colorTemperature", _) => {
            if !ctx.arity(args, 1, 1) {
                return None;
            }
            let k = ctx.number(a0, &args[0], true, 1.0, 30000.0)?;
            Some(vec![up("colorTemperature", "colorTemperature", num_value(k), Some("K"))])
        }
        ("colorControl", "setHue" | "setSaturation") => {
            if !ctx.arity(args, 1, 1) {
                return None;
            }
            let n = ctx.number(a0, &args[0], false, 0.0, 100.0)?;
            let attr = if command == "setHue" { "hue" } else { "saturation" };
            Some(vec![up("colorControl", attr, num_value(n), None)])
        }
        ("colorControl", _) => {
            if !ctx.arity(args, 1, 1) {
                return None;
            }
            let Some(map) = args[0].as_object() else {
                ctx.fail(a0, "must be of type object");
                return None;
            };
            let mut updates = Vec::new();
            let mut ok = true;
            for (key, attr) in [("hue", "hue"), ("saturation", "saturation")] {
                if let Some(v) = map.get(key) {
                    match ctx.number(&format!("{a0}.{key}"), v, false, 0.0, 100.0) {
                        Some(n) => updates.push(up("colorControl", attr, num_value(n), None)),
                        None => ok = false,
                    }
                }
            }
            if let Some(v) = map.get("hex") {
                let valid = v.as_str().is_some_and(|s| {
                    s.len() == 7 && s.starts_with('#') && s[1..].bytes().all(|b| b.is_ascii_hexdigit())
                });
                if valid {
                    updates.push(up("colorControl", "color", v.clone(), None));
                } else {
                    ctx.fail(&format!("{a0}.hex"), "must match \"^#[0-9a-fA-F]{6}$\"");
                    ok = false;
                }
            }
            ok.then_some(updates)
        }
        _ => Some(Vec::new()),
    }
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
