//! `thingstray command DEVICE CAPABILITY COMMAND [ARG...]`: any SmartThings command on a
//! device's main component (`thingstray command "Front Door Lock" lock lock`,
//! `... "Bedroom Curtain" windowShade close`), then the state read back, in the same
//! words the tray uses. SmartThings decides what a device accepts; its refusal is shown.

use std::time::SystemTime;

use serde_json::{json, Value};
use thingstray::api::Command;

use super::switch::find;
use super::{CliError, Ctx};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The device's id, or its label (exact, ignoring case, and unique).
    device: String,
    /// The capability, as SmartThings names it: lock, windowShade, switchLevel...
    capability: String,
    /// The command: lock, unlock, open, close, setLevel...
    command: String,
    /// Arguments: a number, JSON (`{"hue": 50}`), or text.
    args: Vec<String>,
    /// Print {id, label, state, readings} as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn run(ctx: &Ctx, a: Args) -> Result<(), CliError> {
    let conn = ctx.open().await?;
    let devices = conn.api.devices().await?;
    let device = find(&devices, &a.device)?;
    if !device.has_capability(&a.capability) {
        let has: Vec<&str> = device
            .components
            .iter()
            .filter(|c| c.id == "main")
            .flat_map(|c| c.capabilities.iter().map(String::as_str))
            .filter(|c| !matches!(*c, "refresh" | "healthCheck" | "ocf" | "execute"))
            .collect();
        return Err(CliError::Usage(format!(
            "`{}` has no `{}` capability. It has: {}.",
            device.label,
            a.capability,
            if has.is_empty() { "none that take commands".into() } else { has.join(", ") }
        )));
    }
    let arguments: Vec<Value> = a.args.iter().map(|s| argument(s)).collect();
    // The window's rules (ranges, arguments), from the one catalogue, before SmartThings.
    device.check_command(&a.capability, &a.command, &arguments)?;
    let status = conn.api.command(&device.id, &[Command::new(&a.capability, &a.command, arguments)]).await?;
    let state = status.state_line(SystemTime::now());
    if a.json {
        println!("{}", json!({"id": device.id, "label": device.label, "state": state, "readings": status.readings()}));
    } else {
        println!("{}: {}", device.label, state.as_deref().unwrap_or("sent; no state reported"));
    }
    Ok(())
}

/// `50` and `2.5` are numbers, `{...}`/`[...]`/`true` are JSON, anything else is text:
/// what SmartThings' commands take.
fn argument(s: &str) -> Value {
    if let Ok(v @ (Value::Number(_) | Value::Object(_) | Value::Array(_) | Value::Bool(_))) =
        serde_json::from_str::<Value>(s)
    {
        return v;
    }
    Value::String(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_numbers_json_or_text() {
        assert_eq!(argument("50"), json!(50));
        assert_eq!(argument("2.5"), json!(2.5));
        assert_eq!(argument(r#"{"hue": 50}"#), json!({"hue": 50}));
        assert_eq!(argument("heat"), json!("heat"));
        assert_eq!(argument("\"quoted\""), json!("\"quoted\""));
    }
}
