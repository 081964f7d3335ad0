//! `thingstray devices`: the location's devices with their room, switch and what each is
//! doing (the core's readings catalogue: the same short line the tray shows), from one
//! `GET /devices?includeStatus=true` per 200 devices plus the rooms.

use std::collections::{BTreeSet, HashMap};

use serde_json::json;
use thingstray::api::Device;
use thingstray::Connection;

use super::{table, CliError, Ctx};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A JSON array: id, label, room, online, switch ("on"/"off"/null), state (the short
    /// line the tray shows, or null) and readings ([{capability, attribute, value, unit}]).
    #[arg(long)]
    json: bool,
}

pub async fn run(ctx: &Ctx, a: Args) -> Result<(), CliError> {
    let conn = ctx.open().await?;
    let devices = conn.api.devices().await?;
    let rooms = room_names(&conn, &devices).await;
    let room = |d: &Device| d.room_id.as_ref().and_then(|r| rooms.get(r)).cloned();
    let now = std::time::SystemTime::now();
    if a.json {
        let v: Vec<_> = devices
            .iter()
            .map(|d| {
                json!({
                    "id": d.id,
                    "label": d.label,
                    "room": room(d),
                    "online": d.online,
                    "switch": switch_state(d),
                    "state": d.state_line(now),
                    "readings": d.readings(),
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(v));
        return Ok(());
    }
    let mut rows =
        vec![vec!["LABEL".into(), "ROOM".into(), "ONLINE".into(), "SWITCH".into(), "STATE".into(), "ID".into()]];
    for d in &devices {
        rows.push(vec![
            d.label.clone(),
            room(d).unwrap_or_else(|| "-".into()),
            match d.online {
                Some(true) => "yes".into(),
                Some(false) => "no".into(),
                None => "?".into(),
            },
            switch_state(d).unwrap_or("-").into(),
            d.state_line(now).unwrap_or_else(|| "-".into()),
            d.id.clone(),
        ]);
    }
    print!("{}", table(&rows));
    Ok(())
}

pub fn switch_state(d: &Device) -> Option<&'static str> {
    if !d.has_capability("switch") {
        return None;
    }
    d.status.as_ref()?.switch().map(|on| if on { "on" } else { "off" })
}

/// Room id -> name for every location the devices are in. Best effort: a device list
/// without room names is still a device list.
async fn room_names(conn: &Connection, devices: &[Device]) -> HashMap<String, String> {
    let locations: BTreeSet<&str> = devices.iter().filter_map(|d| d.location_id.as_deref()).collect();
    let mut names = HashMap::new();
    for loc in locations {
        match conn.api.rooms(loc).await {
            Ok(rooms) => names.extend(rooms.into_iter().map(|r| (r.id, r.name))),
            Err(e) => tracing::warn!(code = e.code(), "could not read the rooms"),
        }
    }
    names
}
