//! Location modes (issue 29) as the tray and the device window show them: the view both
//! get, and the tray's "Mode: Home" submenu with one check item per mode. Reading and
//! setting them is `app/modes.rs`'s.

use serde::Serialize;

use super::menu::{MenuAction, MenuEntry, SEP};
use crate::api::Mode;

/// A location's modes and the current one, as last read from SmartThings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ModeView {
    /// The current mode; `None` when it could not be read.
    pub current: Option<Mode>,
    /// Every mode of the location (Home, Away, Night and the user's own), in
    /// SmartThings' order.
    pub modes: Vec<Mode>,
    /// A change is on its way (from the tray or a window): its items wait until it is done.
    pub setting: bool,
}

impl ModeView {
    /// What the location is in now, as the user calls it.
    pub fn current_label(&self) -> Option<&str> {
        self.current.as_ref().map(|m| m.label.as_str())
    }
}

/// The connection's "Mode: Home" submenu: each mode a check item, the current one checked,
/// a click sets it. `title`: the location's name when several connections share the menu.
/// `None` while no mode is known (not read yet, or the sign-in may not read them).
pub fn mode_menu(connection: &str, title: Option<&str>, view: &ModeView, enabled: bool) -> Option<MenuEntry> {
    if view.modes.is_empty() {
        return None;
    }
    let mut text = match view.current_label() {
        Some(label) => format!("Mode: {label}"),
        None => "Mode".to_string(),
    };
    if let Some(title) = title {
        text.push_str(&format!(" ({title})"));
    }
    if view.setting {
        text.push_str(" …");
    }
    let current = view.current.as_ref().map(|m| m.id.as_str());
    let entries = view
        .modes
        .iter()
        .map(|m| MenuEntry::Check {
            id: MenuAction::SetMode { connection: connection.to_string(), mode: m.id.clone() }.id(),
            text: m.label.clone(),
            checked: current == Some(m.id.as_str()),
            enabled: enabled && !view.setting,
        })
        .collect();
    Some(MenuEntry::Submenu { id: format!("modes{SEP}{connection}"), text, entries })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::desktop::menu::checks;

    pub(crate) fn mode(id: &str, label: &str) -> Mode {
        Mode { id: id.into(), name: label.into(), label: label.into() }
    }

    pub(crate) fn home_away_night(current: usize) -> ModeView {
        let modes = vec![mode("m-home", "Home"), mode("m-away", "Away"), mode("m-night", "Night")];
        ModeView { current: Some(modes[current].clone()), modes, setting: false }
    }

    #[test]
    fn the_current_mode_is_checked_and_named_in_the_submenu() {
        let Some(MenuEntry::Submenu { id, text, entries }) = mode_menu("home", None, &home_away_night(1), true) else {
            panic!("a submenu")
        };
        assert_eq!(text, "Mode: Away");
        assert_eq!(id, "modes\u{1f}home");
        let c = checks(&entries);
        assert_eq!(c.iter().filter(|(_, on)| *on).count(), 1);
        let (on, _) = c.iter().find(|(_, on)| *on).unwrap();
        assert_eq!(
            MenuAction::parse(on),
            Some(MenuAction::SetMode { connection: "home".into(), mode: "m-away".into() })
        );
        assert!(entries.iter().all(|e| matches!(e, MenuEntry::Check { enabled: true, .. })));
        let labels: Vec<_> = entries
            .iter()
            .map(|e| match e {
                MenuEntry::Check { text, .. } => text.as_str(),
                _ => "?",
            })
            .collect();
        assert_eq!(labels, ["Home", "Away", "Night"]);
    }

    #[test]
    fn no_modes_no_submenu_and_a_change_on_its_way_waits() {
        assert_eq!(mode_menu("home", None, &ModeView::default(), true), None);
        let mut v = home_away_night(0);
        v.setting = true;
        let Some(MenuEntry::Submenu { text, entries, .. }) = mode_menu("home", Some("Cabin"), &v, true) else {
            panic!()
        };
        assert_eq!(text, "Mode: Home (Cabin) …");
        assert!(entries.iter().all(|e| matches!(e, MenuEntry::Check { enabled: false, .. })));
        v.setting = false;
        v.current = None;
        let Some(MenuEntry::Submenu { text, entries, .. }) = mode_menu("home", None, &v, false) else { panic!() };
        assert_eq!(text, "Mode");
        assert!(checks(&entries).iter().all(|(_, on)| !on));
        assert!(entries.iter().all(|e| matches!(e, MenuEntry::Check { enabled: false, .. })));
    }
}
