//! Devices as the tray and the device window show them: one row per device with the
//! state read from SmartThings, grouped by room, favorites first.

use std::cmp::Ordering;

use serde::Serialize;

use super::prefs::ConnectionPrefs;
pub use crate::api::COLOR_TEMPERATURE_RANGE;
use crate::api::{Command, Control, Device, DeviceStatus, Room, Scene};

pub const NO_ROOM: &str = "No room";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceRow {
    pub id: String,
    pub label: String,
    pub room_id: Option<String>,
    pub room: String,
    /// `None`: SmartThings did not say.
    pub online: Option<bool>,
    pub switch: Option<bool>,
    pub level: Option<u8>,
    pub color_temperature: Option<u32>,
    /// What the device is doing, in a few words ("Open · 21 °C"): the core's readings
    /// catalogue, the same line the tray and `thingstray devices` show.
    pub state: Option<String>,
    /// `Some(true)` only when SmartThings says "locked"; unknown, jammed or stale is `None`,
    /// never locked.
    pub locked: Option<bool>,
    /// What the window can do with it (the core's controls catalogue): kind, commands,
    /// current value, limits or choices, and which commands ask for a confirmation.
    pub controls: Vec<Control>,
    /// Unix seconds of the newest reading SmartThings reported, for "changed 2 min ago".
    pub changed_at: Option<u64>,
    pub can_switch: bool,
    pub can_lock: bool,
    pub can_dim: bool,
    pub can_color_temperature: bool,
    pub favorite: bool,
    pub hidden: bool,
    /// Its bell: changes worth telling become desktop notifications (the user's choice,
    /// else its kind's default: on for leak, smoke and CO sensors).
    pub alerts: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoomGroup {
    pub id: Option<String>,
    pub name: String,
    pub devices: Vec<DeviceRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SceneRow {
    pub id: String,
    pub name: String,
}

impl DeviceRow {
    pub fn new(d: &Device, rooms: &[Room], prefs: &ConnectionPrefs) -> DeviceRow {
        let room = d
            .room_id
            .as_ref()
            .and_then(|id| rooms.iter().find(|r| &r.id == id))
            .map(|r| r.name.clone())
            .unwrap_or_else(|| NO_ROOM.to_string());
        let mut row = DeviceRow {
            id: d.id.clone(),
            label: d.label.clone(),
            room_id: d.room_id.clone(),
            room,
            online: d.online,
            switch: None,
            level: None,
            color_temperature: None,
            state: None,
            locked: None,
            controls: d.controls(),
            changed_at: None,
            can_switch: d.has_capability("switch"),
            can_lock: d.has_capability("lock"),
            can_dim: d.has_capability("switchLevel"),
            can_color_temperature: d.has_capability("colorTemperature"),
            favorite: prefs.favorites.contains(&d.id),
            hidden: prefs.hidden.contains(&d.id),
            alerts: prefs.bell(d),
        };
        if let Some(st) = &d.status {
            row.apply(st);
        }
        if !row.usable() {
            // Offline: the last report may be hours old; a lock is not claimed locked.
            row.locked = None;
        }
        row
    }

    /// Takes the state SmartThings reported (a device list or a read-back after a command).
    pub fn apply(&mut self, status: &DeviceStatus) {
        self.switch = status.switch();
        self.level = status.level();
        self.color_temperature = status.color_temperature();
        self.state = status.state_line(std::time::SystemTime::now());
        self.locked = status.locked();
        self.changed_at =
            status.changed_at().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map(|d| d.as_secs());
    }

    /// Offline devices cannot be switched; unknown health is given the benefit of the doubt.
    pub fn usable(&self) -> bool {
        self.online != Some(false)
    }

    /// The command a tray click sends: the opposite of the state last read. `None` for a
    /// device without a switch.
    pub fn toggle(&self) -> Option<Command> {
        self.can_switch.then(|| Command::switch(!self.switch.unwrap_or(false)))
    }
}

fn fold(s: &str) -> String {
    s.to_lowercase()
}

/// Favorites first, then by room, then by name (case-insensitive); "No room" last.
pub fn compare(a: &DeviceRow, b: &DeviceRow) -> Ordering {
    b.favorite
        .cmp(&a.favorite)
        .then_with(|| compare_rooms(&a.room, &b.room))
        .then_with(|| fold(&a.label).cmp(&fold(&b.label)))
        .then_with(|| a.id.cmp(&b.id))
}

fn compare_rooms(a: &str, b: &str) -> Ordering {
    (a == NO_ROOM).cmp(&(b == NO_ROOM)).then_with(|| fold(a).cmp(&fold(b)))
}

pub fn rows(devices: &[Device], rooms: &[Room], prefs: &ConnectionPrefs) -> Vec<DeviceRow> {
    let mut rows: Vec<DeviceRow> = devices.iter().map(|d| DeviceRow::new(d, rooms, prefs)).collect();
    rows.sort_by(compare);
    rows
}

/// Rooms in name order ("No room" last); in each, favorites first, then by name.
pub fn group_by_room(rows: &[DeviceRow]) -> Vec<RoomGroup> {
    let mut groups: Vec<RoomGroup> = Vec::new();
    for r in rows {
        match groups.iter_mut().find(|g| g.name == r.room) {
            Some(g) => g.devices.push(r.clone()),
            None => groups.push(RoomGroup { id: r.room_id.clone(), name: r.room.clone(), devices: vec![r.clone()] }),
        }
    }
    groups.sort_by(|a, b| compare_rooms(&a.name, &b.name));
    for g in &mut groups {
        g.devices.sort_by(|a, b| b.favorite.cmp(&a.favorite).then_with(|| fold(&a.label).cmp(&fold(&b.label))));
    }
    groups
}

pub fn scene_rows(scenes: &[Scene]) -> Vec<SceneRow> {
    let mut rows: Vec<SceneRow> = scenes.iter().map(|s| SceneRow { id: s.id.clone(), name: s.name.clone() }).collect();
    rows.sort_by_key(|r| fold(&r.name));
    rows
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::api::Component;
    use serde_json::json;

    pub(crate) fn device(
        id: &str,
        label: &str,
        room: Option<&str>,
        caps: &[&str],
        on: Option<bool>,
        online: Option<bool>,
    ) -> Device {
        let status = on.map(|on| {
            let mut m = serde_json::Map::new();
            m.insert(
                "main".into(),
                json!({"switch": {"switch": {"value": if on {"on"} else {"off"}}}, "switchLevel": {"level": {"value": 40}}}),
            );
            DeviceStatus(m)
        });
        Device {
            id: id.into(),
            label: label.into(),
            name: None,
            location_id: Some("loc".into()),
            room_id: room.map(String::from),
            components: vec![Component {
                id: "main".into(),
                capabilities: caps.iter().map(|c| c.to_string()).collect(),
            }],
            status,
            online,
        }
    }

    pub(crate) fn rooms() -> Vec<Room> {
        vec![
            Room { id: "k".into(), location_id: None, name: "Kitchen".into() },
            Room { id: "b".into(), location_id: None, name: "Bedroom".into() },
        ]
    }

    #[test]
    fn rows_read_state_and_capabilities() {
        let d = device("1", "Lamp", Some("k"), &["switch", "switchLevel"], Some(true), Some(true));
        let r = DeviceRow::new(&d, &rooms(), &ConnectionPrefs::default());
        assert_eq!(r.room, "Kitchen");
        assert_eq!(
            (r.switch, r.level, r.can_switch, r.can_dim, r.can_color_temperature),
            (Some(true), Some(40), true, true, false)
        );
        assert_eq!(r.toggle(), Some(Command::switch(false)));
        let sensor = DeviceRow::new(
            &device("2", "Door", None, &["contactSensor"], None, Some(false)),
            &rooms(),
            &ConnectionPrefs::default(),
        );
        assert_eq!(sensor.room, NO_ROOM);
        assert!(sensor.toggle().is_none());
        assert!(!sensor.usable());
    }

    /// Issue 12: a row carries its controls and when a reading last changed; an offline
    /// lock is not claimed locked (its last report may be hours old).
    #[test]
    fn rows_carry_controls_and_an_offline_lock_is_not_locked() {
        let mut d = device("l", "Front Door", None, &["lock", "battery"], None, Some(true));
        d.status = DeviceStatus::from_status_body(&json!({"components": {"main": {
            "lock": {"lock": {"value": "locked", "timestamp": "2025-02-09T17:29:56Z"}}}}}));
        let r = DeviceRow::new(&d, &rooms(), &ConnectionPrefs::default());
        assert_eq!((r.locked, r.changed_at), (Some(true), Some(1_739_122_196)));
        let keys: Vec<_> = r.controls.iter().map(|c| c.key).collect();
        assert_eq!(keys, ["lock"]);
        d.online = Some(false);
        let r = DeviceRow::new(&d, &rooms(), &ConnectionPrefs::default());
        assert_eq!((r.locked, r.controls[0].value.as_ref()), (None, None));
    }

    #[test]
    fn favorites_first_then_room_then_name() {
        let devices = vec![
            device("1", "zebra lamp", Some("k"), &["switch"], Some(false), None),
            device("2", "Apple light", Some("k"), &["switch"], Some(false), None),
            device("3", "Bed lamp", Some("b"), &["switch"], Some(false), None),
            device("4", "Attic", None, &["switch"], Some(false), None),
            device("5", "Z fav", None, &["switch"], Some(false), None),
        ];
        let mut prefs = ConnectionPrefs::default();
        prefs.favorites.insert("5".into());
        let ids: Vec<_> = rows(&devices, &rooms(), &prefs).into_iter().map(|r| r.id).collect();
        assert_eq!(ids, ["5", "3", "2", "1", "4"]);
        let groups = group_by_room(&rows(&devices, &rooms(), &prefs));
        let names: Vec<_> = groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["Bedroom", "Kitchen", NO_ROOM]);
        let no_room: Vec<_> = groups[2].devices.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(no_room, ["5", "4"]);
    }

    #[test]
    fn scenes_are_sorted_by_name() {
        let scenes = vec![
            Scene { id: "2".into(), name: "movie night".into(), location_id: None },
            Scene { id: "1".into(), name: "Good Morning".into(), location_id: None },
        ];
        let names: Vec<_> = scene_rows(&scenes).into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["Good Morning", "movie night"]);
    }
}
