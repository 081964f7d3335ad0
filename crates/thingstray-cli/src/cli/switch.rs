//! `thingstray switch DEVICE on|off|toggle`: one command, then the state read back from
//! SmartThings (ACCEPTED only means queued).

use clap::ValueEnum;
use thingstray::api::{Command, Device};
use thingstray::Error;

use super::{CliError, Ctx};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The device's id, or its label (exact, ignoring case, and unique).
    device: String,
    action: Action,
    /// Print {id, label, switch, state} as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum Action {
    On,
    Off,
    Toggle,
}

pub async fn run(ctx: &Ctx, a: Args) -> Result<(), CliError> {
    let conn = ctx.open().await?;
    let devices = conn.api.devices().await?;
    let device = find(&devices, &a.device)?;
    if !device.has_capability("switch") {
        return Err(CliError::Failed(format!("`{}` has no on/off switch.", device.label)));
    }
    let on = match a.action {
        Action::On => true,
        Action::Off => false,
        Action::Toggle => {
            let now = match device.status.as_ref().and_then(|s| s.switch()) {
                Some(state) => state,
                None => conn.api.device_status(&device.id).await?.switch().unwrap_or(false),
            };
            !now
        }
    };
    let status = conn.api.command(&device.id, &[Command::switch(on)]).await?;
    let state = match status.switch() {
        Some(true) => "on",
        Some(false) => "off",
        None => "unknown",
    };
    if a.json {
        let line = status.state_line(std::time::SystemTime::now());
        println!("{}", serde_json::json!({"id": device.id, "label": device.label, "switch": state, "state": line}));
    } else {
        println!("{}: {state}", device.label);
    }
    if status.switch() != Some(on) {
        let offline = device.online == Some(false);
        return Err(CliError::Failed(format!(
            "`{}` did not switch {} (it reports {state}){}.",
            device.label,
            if on { "on" } else { "off" },
            if offline { "; it is offline" } else { "; it may still be on its way, check again shortly" }
        )));
    }
    Ok(())
}

/// By id first, then by label ignoring case; several with that label is an error that
/// lists their ids.
pub fn find<'a>(devices: &'a [Device], query: &str) -> Result<&'a Device, CliError> {
    if let Some(d) = devices.iter().find(|d| d.id == query) {
        return Ok(d);
    }
    let q = query.trim().to_lowercase();
    let matches: Vec<&Device> = devices.iter().filter(|d| d.label.to_lowercase() == q).collect();
    match matches.as_slice() {
        [one] => Ok(one),
        [] => Err(Error::DeviceNotFound {
            query: query.to_string(),
            hint: Some("`thingstray devices` lists the labels and ids".into()),
        }
        .into()),
        many => Err(CliError::Failed(format!(
            "Several devices are labelled `{query}`; use an id: {}",
            many.iter().map(|d| d.id.as_str()).collect::<Vec<_>>().join(", ")
        ))),
    }
}
