//! The tray menu as data: what the desktop shell turns into native menu items, and what
//! a click on an item means. Building it here keeps the rules (favorites first, rooms as
//! submenus when there are many devices, offline devices disabled, "Sign in again" only
//! when needed) testable without a display.

use std::collections::HashSet;
use std::time::SystemTime;

use serde::Serialize;

use super::device_rows::{group_by_room, DeviceRow, SceneRow};
use super::indicator::{connection_line, has_token, TrayState};
use super::modes::{mode_menu, ModeView};
use crate::session::Status;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MenuEntry {
    Item { id: String, text: String, enabled: bool },
    Check { id: String, text: String, checked: bool, enabled: bool },
    Submenu { id: String, text: String, entries: Vec<MenuEntry> },
    Separator,
}

/// What a click on a menu item asks for. Ids are `kind` + unit separator + fields, so
/// no connection name or device id can be mistaken for another field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MenuAction {
    SwitchDevice {
        connection: String,
        device: String,
    },
    /// A device without a switch (a sensor, a lock): the tray shows what it is doing;
    /// a click opens the device window.
    ShowDevice {
        connection: String,
        device: String,
    },
    /// An unlocked lock: a click locks it. Unlocking is only offered in the window, where
    /// it asks first.
    LockDevice {
        connection: String,
        device: String,
    },
    RunScene {
        connection: String,
        scene: String,
    },
    /// Makes `mode` (its id) the location's current mode.
    SetMode {
        connection: String,
        mode: String,
    },
    CopyToken {
        connection: String,
    },
    /// Re-read the devices now: on Linux the tray cannot see its menu open, and it does
    /// not poll while nothing is shown, so this is how its states are brought up to date.
    RefreshDevices {
        connection: String,
    },
    SignIn {
        connection: String,
    },
    /// The token server's line: opens Settings, where it is turned off.
    TokenServer,
    Setup,
    Open,
    Settings,
    Quit,
}

pub(super) const SEP: char = '\u{1f}';

impl MenuAction {
    pub fn id(&self) -> String {
        let join = |parts: &[&str]| parts.join(&SEP.to_string());
        match self {
            MenuAction::SwitchDevice { connection, device } => join(&["device", connection, device]),
            MenuAction::ShowDevice { connection, device } => join(&["show-device", connection, device]),
            MenuAction::LockDevice { connection, device } => join(&["lock", connection, device]),
            MenuAction::RunScene { connection, scene } => join(&["scene", connection, scene]),
            MenuAction::SetMode { connection, mode } => join(&["mode", connection, mode]),
            MenuAction::CopyToken { connection } => join(&["copy-token", connection]),
            MenuAction::RefreshDevices { connection } => join(&["refresh", connection]),
            MenuAction::SignIn { connection } => join(&["sign-in", connection]),
            MenuAction::TokenServer => "token-server".into(),
            MenuAction::Setup => "setup".into(),
            MenuAction::Open => "open".into(),
            MenuAction::Settings => "settings".into(),
            MenuAction::Quit => "quit".into(),
        }
    }

    pub fn parse(id: &str) -> Option<MenuAction> {
        let parts: Vec<&str> = id.split(SEP).collect();
        let s = |i: usize| parts.get(i).map(|p| p.to_string());
        Some(match (parts.first().copied()?, parts.len()) {
            ("device", 3) => MenuAction::SwitchDevice { connection: s(1)?, device: s(2)? },
            ("show-device", 3) => MenuAction::ShowDevice { connection: s(1)?, device: s(2)? },
            ("lock", 3) => MenuAction::LockDevice { connection: s(1)?, device: s(2)? },
            ("scene", 3) => MenuAction::RunScene { connection: s(1)?, scene: s(2)? },
            ("mode", 3) => MenuAction::SetMode { connection: s(1)?, mode: s(2)? },
            ("copy-token", 2) => MenuAction::CopyToken { connection: s(1)? },
            ("refresh", 2) => MenuAction::RefreshDevices { connection: s(1)? },
            ("sign-in", 2) => MenuAction::SignIn { connection: s(1)? },
            ("token-server", 1) => MenuAction::TokenServer,
            ("setup", 1) => MenuAction::Setup,
            ("open", 1) => MenuAction::Open,
            ("settings", 1) => MenuAction::Settings,
            ("quit", 1) => MenuAction::Quit,
            _ => return None,
        })
    }
}

/// One connection as the tray knows it right now.
#[derive(Debug, Clone)]
pub struct ConnectionView {
    pub name: String,
    pub location_name: Option<String>,
    pub status: Status,
    /// `None`: not fetched yet.
    pub devices: Option<Vec<DeviceRow>>,
    pub scenes: Vec<SceneRow>,
    /// Why the last device fetch failed, for a disabled line in the menu.
    pub devices_error: Option<String>,
    /// Devices with a command in flight: shown with an ellipsis, not clickable twice.
    pub busy: HashSet<String>,
    /// The computer it gets its tokens from, for a connection of kind "paired".
    pub owner: Option<String>,
    /// The location's modes; `None` while none is known.
    pub modes: Option<ModeView>,
}

impl ConnectionView {
    pub fn title(&self) -> &str {
        self.location_name.as_deref().unwrap_or(&self.name)
    }

    fn line(&self, now: SystemTime) -> String {
        connection_line(&self.status, self.owner.as_deref(), now)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrayModel {
    pub state: TrayState,
    pub tooltip: String,
    pub entries: Vec<MenuEntry>,
}

fn item(action: MenuAction, text: impl Into<String>, enabled: bool) -> MenuEntry {
    MenuEntry::Item { id: action.id(), text: text.into(), enabled }
}

fn info(id: String, text: impl Into<String>) -> MenuEntry {
    MenuEntry::Item { id, text: text.into(), enabled: false }
}

fn device_entry(c: &ConnectionView, d: &DeviceRow) -> MenuEntry {
    if !d.can_switch {
        // "Front Door · Open": what it is doing, at a glance; a click opens the window.
        let text = match (&d.state, d.online) {
            (_, Some(false)) => format!("{} (offline)", d.label),
            (Some(state), _) => format!("{} · {state}", d.label),
            (None, _) => d.label.clone(),
        };
        let (connection, device) = (c.name.clone(), d.id.clone());
        if d.can_lock && d.locked == Some(false) && d.usable() {
            let busy = c.busy.contains(&d.id);
            let text = if busy { format!("{text} …") } else { format!("{text} — click to lock") };
            return item(MenuAction::LockDevice { connection, device }, text, !busy && has_token(&c.status));
        }
        return item(MenuAction::ShowDevice { connection, device }, text, true);
    }
    let busy = c.busy.contains(&d.id);
    let mut text = d.label.clone();
    if d.online == Some(false) {
        text.push_str(" (offline)");
    } else if busy {
        text.push_str(" …");
    }
    MenuEntry::Check {
        id: MenuAction::SwitchDevice { connection: c.name.clone(), device: d.id.clone() }.id(),
        text,
        checked: d.switch.unwrap_or(false),
        enabled: d.usable() && !busy && has_token(&c.status),
    }
}

/// The whole tray menu. `flat_limit`: with more switchable, non-favorite devices than
/// this, they go into one submenu per room; favorites always stay at the top level.
pub fn build(connections: &[ConnectionView], now: SystemTime, flat_limit: usize) -> TrayModel {
    let mut entries = Vec::new();
    let many = connections.len() > 1;
    for (i, c) in connections.iter().enumerate() {
        if i > 0 {
            entries.push(MenuEntry::Separator);
        }
        let line = c.line(now);
        let line = if many { format!("{}: {line}", c.title()) } else { line };
        entries.push(info(format!("status{SEP}{}", c.name), line));
        if !has_token(&c.status) {
            // A paired connection's fix is on its owner or a new invite (the window says
            // which): a sign-in here would only be refused.
            if c.owner.is_none() {
                entries.push(item(MenuAction::SignIn { connection: c.name.clone() }, "Sign in again…", true));
            }
            continue;
        }
        entries.extend(device_section(c, flat_limit));
        let refresh = if many { format!("Refresh devices ({})", c.title()) } else { "Refresh devices".into() };
        entries.push(item(MenuAction::RefreshDevices { connection: c.name.clone() }, refresh, true));
        let title = many.then(|| c.title());
        entries.extend(c.modes.as_ref().and_then(|m| mode_menu(&c.name, title, m, true)));
        if !c.scenes.is_empty() {
            let scenes = c
                .scenes
                .iter()
                .map(|s| item(MenuAction::RunScene { connection: c.name.clone(), scene: s.id.clone() }, &s.name, true))
                .collect();
            entries.push(MenuEntry::Submenu {
                id: format!("scenes{SEP}{}", c.name),
                text: "Scenes".into(),
                entries: scenes,
            });
        }
        let copy = if many { format!("Copy access token ({})", c.title()) } else { "Copy access token".into() };
        entries.push(item(MenuAction::CopyToken { connection: c.name.clone() }, copy, true));
    }
    if connections.is_empty() {
        entries.push(info("status".into(), "Not set up yet"));
        entries.push(item(MenuAction::Setup, "Set up ThingsTray…", true));
    }
    entries.push(MenuEntry::Separator);
    entries.push(item(MenuAction::Open, "Open ThingsTray", true));
    entries.push(item(MenuAction::Settings, "Settings…", true));
    entries.push(MenuEntry::Separator);
    entries.push(item(MenuAction::Quit, "Quit ThingsTray", true));

    let state = TrayState::worst(connections.iter().map(|c| &c.status));
    let tooltip = match connections {
        [] => "ThingsTray: not set up".to_string(),
        [c] => format!("ThingsTray: {}", c.line(now)),
        cs => format!(
            "ThingsTray: {}",
            cs.iter().map(|c| format!("{}: {}", c.title(), c.line(now))).collect::<Vec<_>>().join("; ")
        ),
    };
    TrayModel { state, tooltip, entries }
}

/// Adds the token server's line (see [`TokenServerStatus::line`]) above "Open
/// ThingsTray", and to the tooltip.
///
/// [`TokenServerStatus::line`]: super::indicator::TokenServerStatus::line
pub fn add_token_server(model: &mut TrayModel, line: Option<String>) {
    let Some(line) = line else { return };
    let open = MenuAction::Open.id();
    let at = model
        .entries
        .iter()
        .position(|e| matches!(e, MenuEntry::Item { id, .. } if *id == open))
        .unwrap_or(model.entries.len());
    model.entries.insert(at, item(MenuAction::TokenServer, &line, true));
    model.tooltip = format!("{} · {line}", model.tooltip);
}

fn device_section(c: &ConnectionView, flat_limit: usize) -> Vec<MenuEntry> {
    let mut out = Vec::new();
    let Some(devices) = &c.devices else {
        let text = match &c.devices_error {
            Some(e) => format!("Devices unavailable: {e}"),
            None => "Loading devices…".into(),
        };
        out.push(info(format!("devices{SEP}{}", c.name), text));
        return out;
    };
    // Switches, and every other device that says what it is doing.
    let shown: Vec<&DeviceRow> = devices.iter().filter(|d| (d.can_switch || d.state.is_some()) && !d.hidden).collect();
    if shown.is_empty() {
        out.push(info(format!("devices{SEP}{}", c.name), "No devices to show"));
        return out;
    }
    out.push(MenuEntry::Separator);
    let (favorites, others): (Vec<&DeviceRow>, Vec<&DeviceRow>) = shown.into_iter().partition(|d| d.favorite);
    out.extend(favorites.iter().map(|d| device_entry(c, d)));
    if others.len() <= flat_limit {
        let mut others = others;
        others.sort_by(|a, b| super::device_rows::compare(a, b));
        out.extend(others.iter().map(|d| device_entry(c, d)));
    } else {
        let rows: Vec<DeviceRow> = others.into_iter().cloned().collect();
        for g in group_by_room(&rows) {
            let entries = g.devices.iter().map(|d| device_entry(c, d)).collect();
            let key = g.id.clone().unwrap_or_default();
            out.push(MenuEntry::Submenu {
                id: format!("room{SEP}{}{SEP}{key}", c.name),
                text: g.name.clone(),
                entries,
            });
        }
    }
    if let Some(e) = &c.devices_error {
        out.push(info(format!("devices{SEP}{}", c.name), format!("Not refreshed: {e}")));
    }
    out.push(MenuEntry::Separator);
    out
}

/// Every check item in a menu, for setting checks after a command: `(id, checked)`.
pub fn checks(entries: &[MenuEntry]) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for e in entries {
        match e {
            MenuEntry::Check { id, checked, .. } => out.push((id.clone(), *checked)),
            MenuEntry::Submenu { entries, .. } => out.extend(checks(entries)),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::desktop::device_rows::rows;
    use crate::desktop::device_rows::tests::{device, rooms};
    use crate::desktop::prefs::ConnectionPrefs;
    use crate::error::Error;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_000_000)
    }

    fn connected() -> Status {
        Status::Connected { expires_at: 1_000_000 + 18 * 3600, next_refresh_at: 0, warning: None }
    }

    fn view(n: usize, favorites: &[&str]) -> ConnectionView {
        let mut devices: Vec<_> = (0..n)
            .map(|i| {
                device(
                    &format!("d{i}"),
                    &format!("Light {i:02}"),
                    Some(if i % 2 == 0 { "k" } else { "b" }),
                    &["switch"],
                    Some(i % 3 == 0),
                    Some(i != 1),
                )
            })
            .collect();
        devices.push(device("sensor", "Door", None, &["contactSensor"], None, None));
        let prefs =
            ConnectionPrefs { favorites: favorites.iter().map(|s| s.to_string()).collect(), ..Default::default() };
        ConnectionView {
            name: "home".into(),
            location_name: Some("Home".into()),
            status: connected(),
            devices: Some(rows(&devices, &rooms(), &prefs)),
            scenes: vec![SceneRow { id: "s1".into(), name: "Movie".into() }],
            devices_error: None,
            busy: HashSet::new(),
            owner: None,
            modes: None,
        }
    }

    fn texts(entries: &[MenuEntry]) -> Vec<String> {
        entries
            .iter()
            .map(|e| match e {
                MenuEntry::Item { text, .. } | MenuEntry::Check { text, .. } | MenuEntry::Submenu { text, .. } => {
                    text.clone()
                }
                MenuEntry::Separator => "-".into(),
            })
            .collect()
    }

    #[test]
    fn few_devices_make_a_flat_menu() {
        let m = build(&[view(3, &[])], now(), 12);
        assert_eq!(m.state, TrayState::Connected);
        assert_eq!(m.tooltip, "ThingsTray: Connected · token valid 18 h");
        assert_eq!(
            texts(&m.entries),
            [
                "Connected · token valid 18 h",
                "-",
                "Light 01 (offline)",
                "Light 00",
                "Light 02",
                "-",
                "Refresh devices",
                "Scenes",
                "Copy access token",
                "-",
                "Open ThingsTray",
                "Settings…",
                "-",
                "Quit ThingsTray"
            ]
        );
        // The sensor has no switch: not in the menu. The offline light is disabled.
        let c = checks(&m.entries);
        assert_eq!(c.len(), 3);
        let offline =
            m.entries.iter().find(|e| matches!(e, MenuEntry::Check { text, .. } if text.contains("offline"))).unwrap();
        assert!(matches!(offline, MenuEntry::Check { enabled: false, .. }));
        assert!(matches!(&m.entries[3], MenuEntry::Check { checked: true, enabled: true, .. }));
    }

    /// Issue 12: a device without a switch shows what it is doing; a click opens the window.
    #[test]
    fn sensors_say_what_they_are_doing() {
        let mut v = view(3, &[]);
        let mut door =
            device("door", "Front Door", Some("k"), &["contactSensor", "temperatureMeasurement"], None, Some(true));
        door.status = crate::api::DeviceStatus::from_status_body(&serde_json::json!({"components": {"main": {
            "contactSensor": {"contact": {"value": "open"}},
            "temperatureMeasurement": {"temperature": {"value": 21.5, "unit": "C"}},
        }}}));
        let mut all = vec![door];
        all.extend((0..3).map(|i| {
            device(&format!("d{i}"), &format!("Light {i:02}"), Some("k"), &["switch"], Some(true), Some(true))
        }));
        v.devices = Some(rows(&all, &rooms(), &ConnectionPrefs::default()));
        let m = build(&[v], now(), 12);
        let door = m
            .entries
            .iter()
            .find_map(|e| match e {
                MenuEntry::Item { id, text, enabled } if text.starts_with("Front Door") => {
                    Some((id.clone(), text.clone(), *enabled))
                }
                _ => None,
            })
            .expect("the door is in the menu");
        assert_eq!(door.1, "Front Door · Open · 21.5 °C");
        assert!(door.2);
        assert_eq!(
            MenuAction::parse(&door.0),
            Some(MenuAction::ShowDevice { connection: "home".into(), device: "door".into() })
        );
        assert_eq!(checks(&m.entries).len(), 3, "switches stay check items");
    }

    #[test]
    fn many_devices_go_into_rooms_with_favorites_on_top() {
        let m = build(&[view(20, &["d7"])], now(), 12);
        let t = texts(&m.entries);
        assert_eq!(&t[..5], ["Connected · token valid 18 h", "-", "Light 07", "Bedroom", "Kitchen"]);
        let MenuEntry::Submenu { entries, .. } = &m.entries[3] else { panic!() };
        assert_eq!(entries.len(), 9); // 10 odd lights minus the favorite
        assert_eq!(checks(&m.entries).len(), 20);
    }

    #[test]
    fn sign_in_needed_offers_sign_in_and_no_devices() {
        let mut v = view(3, &[]);
        v.status = Status::NeedsSignIn { reason: Error::SessionEnded { detail: "x".into() } };
        let m = build(&[v], now(), 12);
        assert_eq!(m.state, TrayState::SignIn);
        assert_eq!(texts(&m.entries)[..2], ["Sign-in needed", "Sign in again…"]);
        assert!(checks(&m.entries).is_empty());
        assert!(!texts(&m.entries).contains(&"Copy access token".to_string()));
    }

    #[test]
    fn busy_devices_wait_and_errors_are_shown() {
        let mut v = view(3, &[]);
        v.busy.insert("d0".into());
        v.devices_error = Some("HTTP 429".into());
        let m = build(&[v.clone()], now(), 12);
        assert!(texts(&m.entries).contains(&"Light 00 …".to_string()));
        assert!(texts(&m.entries).contains(&"Not refreshed: HTTP 429".to_string()));
        v.devices = None;
        let m = build(&[v], now(), 12);
        assert!(texts(&m.entries).contains(&"Devices unavailable: HTTP 429".to_string()));
    }

    /// Issue 29: the location's mode, between "Refresh devices" and the scenes; a mode's
    /// item is found and dispatched like any other action.
    #[test]
    fn the_mode_submenu_follows_refresh_when_modes_are_known() {
        let mut v = view(3, &[]);
        v.modes = Some(crate::desktop::modes::tests::home_away_night(2));
        let m = build(&[v.clone()], now(), 12);
        let t = texts(&m.entries);
        let at = t.iter().position(|x| x == "Mode: Night").expect("the mode submenu");
        assert_eq!((t[at - 1].as_str(), t[at + 1].as_str()), ("Refresh devices", "Scenes"));
        let night = MenuAction::SetMode { connection: "home".into(), mode: "m-night".into() }.id();
        assert!(checks(&m.entries).contains(&(night, true)));
        assert_eq!(checks(&m.entries).len(), 3 + 3);
        // Several connections: each says whose mode it is. Without a token: none.
        let mut cabin = v.clone();
        cabin.name = "cabin".into();
        cabin.location_name = Some("Cabin".into());
        let t = texts(&build(&[v.clone(), cabin], now(), 12).entries);
        assert!(t.contains(&"Mode: Night (Cabin)".to_string()) && t.contains(&"Mode: Night (Home)".to_string()));
        v.status = Status::NeedsSignIn { reason: Error::SessionEnded { detail: "x".into() } };
        assert!(!texts(&build(&[v], now(), 12).entries).iter().any(|x| x.starts_with("Mode")));
    }

    #[test]
    fn nothing_set_up_offers_setup() {
        let m = build(&[], now(), 12);
        assert_eq!(m.state, TrayState::SignIn);
        assert!(m.entries.contains(&MenuEntry::Item {
            id: "setup".into(),
            text: "Set up ThingsTray…".into(),
            enabled: true
        }));
    }

    #[test]
    fn two_connections_are_labelled() {
        let mut b = view(1, &[]);
        b.name = "cabin".into();
        b.location_name = Some("Cabin".into());
        let m = build(&[view(1, &[]), b], now(), 12);
        let t = texts(&m.entries);
        assert!(t.contains(&"Home: Connected · token valid 18 h".to_string()));
        assert!(t.contains(&"Copy access token (Cabin)".to_string()));
    }

    #[test]
    fn a_running_token_server_shows_in_menu_and_tooltip() {
        let mut m = build(&[view(1, &[])], now(), 12);
        let plain = m.clone();
        add_token_server(&mut m, None);
        assert_eq!(m, plain);
        add_token_server(&mut m, Some("Token server on 127.0.0.1:8765".into()));
        let t = texts(&m.entries);
        let at = t.iter().position(|x| x == "Token server on 127.0.0.1:8765").unwrap();
        assert_eq!(t[at + 1], "Open ThingsTray");
        assert_eq!(m.tooltip, "ThingsTray: Connected · token valid 18 h · Token server on 127.0.0.1:8765");
        assert!(m.entries.contains(&MenuEntry::Item {
            id: "token-server".into(),
            text: "Token server on 127.0.0.1:8765".into(),
            enabled: true
        }));
    }

    #[test]
    fn actions_round_trip_through_ids() {
        for a in [
            MenuAction::SwitchDevice { connection: "home|x".into(), device: "abc".into() },
            MenuAction::ShowDevice { connection: "home".into(), device: "door".into() },
            MenuAction::LockDevice { connection: "home".into(), device: "door".into() },
            MenuAction::RunScene { connection: "home".into(), scene: "s".into() },
            MenuAction::SetMode { connection: "home".into(), mode: "m-away".into() },
            MenuAction::CopyToken { connection: "home".into() },
            MenuAction::RefreshDevices { connection: "home".into() },
            MenuAction::SignIn { connection: "home".into() },
            MenuAction::TokenServer,
            MenuAction::Setup,
            MenuAction::Open,
            MenuAction::Settings,
            MenuAction::Quit,
        ] {
            assert_eq!(MenuAction::parse(&a.id()), Some(a));
        }
        assert_eq!(MenuAction::parse("status\u{1f}home"), None);
        assert_eq!(MenuAction::parse("device\u{1f}home"), None);
    }
}
