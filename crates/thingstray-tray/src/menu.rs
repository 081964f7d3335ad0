//! The StatusNotifierItem: the core's [`TrayModel`] shown as an icon, a tooltip and a
//! dbusmenu. It holds no logic of its own: a click sends the item's id (a
//! [`thingstray::desktop::MenuAction`] id) to the resident, which carries it out and
//! changes the model, which comes back here.

use ksni::menu::{CheckmarkItem, StandardItem, SubMenu};
use ksni::{Icon, MenuItem, ToolTip};
use thingstray::desktop::{MenuEntry, PanelTheme, TrayModel, TrayState};
use tokio::sync::mpsc::UnboundedSender;

use crate::icon;

/// What the tray asks of the resident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Click {
    /// A menu item, by its id.
    Item(String),
    /// A left click on the icon itself (`Activate`): the panel asks for the main window.
    Icon,
}

pub struct TrayView {
    pub model: TrayModel,
    pub theme: PanelTheme,
    clicks: UnboundedSender<Click>,
}

impl TrayView {
    /// "Starting…" until the first model arrives.
    pub fn new(clicks: UnboundedSender<Click>) -> TrayView {
        let model = TrayModel {
            state: TrayState::SignIn,
            tooltip: "ThingsTray: starting".into(),
            entries: vec![
                MenuEntry::Item { id: "starting".into(), text: "Starting…".into(), enabled: false },
                MenuEntry::Separator,
                MenuEntry::Item {
                    id: thingstray::desktop::MenuAction::Quit.id(),
                    text: "Quit ThingsTray".into(),
                    enabled: true,
                },
            ],
        };
        TrayView { model, theme: PanelTheme::default(), clicks }
    }
}

/// dbusmenu reads `_` as the access-key marker and `__` as an underscore.
fn label(text: &str) -> String {
    text.replace('_', "__")
}

/// The entries as dbusmenu items; each click sends its id.
pub fn items(entries: &[MenuEntry]) -> Vec<MenuItem<TrayView>> {
    let click = |id: &String| -> Box<dyn Fn(&mut TrayView) + Send> {
        let id = id.clone();
        Box::new(move |t: &mut TrayView| {
            let _ = t.clicks.send(Click::Item(id.clone()));
        })
    };
    entries
        .iter()
        .map(|e| match e {
            MenuEntry::Item { id, text, enabled } => {
                StandardItem { label: label(text), enabled: *enabled, activate: click(id), ..Default::default() }.into()
            }
            MenuEntry::Check { id, text, checked, enabled } => CheckmarkItem {
                label: label(text),
                enabled: *enabled,
                checked: *checked,
                activate: click(id),
                ..Default::default()
            }
            .into(),
            MenuEntry::Submenu { text, entries, .. } => {
                SubMenu { label: label(text), submenu: items(entries), ..Default::default() }.into()
            }
            MenuEntry::Separator => MenuItem::Separator,
        })
        .collect()
}

impl ksni::Tray for TrayView {
    fn id(&self) -> String {
        "thingstray".into()
    }

    fn title(&self) -> String {
        "ThingsTray".into()
    }

    fn icon_pixmap(&self) -> Vec<Icon> {
        vec![icon::for_state(self.model.state, self.theme)]
    }

    fn tool_tip(&self) -> ToolTip {
        ToolTip { title: "ThingsTray".into(), description: self.model.tooltip.clone(), ..Default::default() }
    }

    /// A left click: with its own StatusNotifierItem the app hears it (the Tauri tray on
    /// Linux does not), so the icon opens the window as it does on Windows and macOS.
    fn activate(&mut self, _x: i32, _y: i32) {
        let _ = self.clicks.send(Click::Icon);
    }

    fn menu(&self) -> Vec<MenuItem<Self>> {
        items(&self.model.entries)
    }

    /// No StatusNotifierWatcher (a panel without SNI, or one not started yet): keep the
    /// item exported, so a panel that starts later shows it, and the resident keeps
    /// serving the CLI and the token server meanwhile.
    fn watcher_offline(&self, reason: ksni::OfflineReason) -> bool {
        tracing::info!("no tray host yet ({reason:?}); the tray stays exported");
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_menu_mirrors_the_model_and_each_click_sends_its_id() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut view = TrayView::new(tx);
        let entries = vec![
            MenuEntry::Check {
                id: "sw\u{1f}home\u{1f}lamp".into(),
                text: "Desk_lamp".into(),
                checked: true,
                enabled: true,
            },
            MenuEntry::Separator,
            MenuEntry::Submenu {
                id: "room".into(),
                text: "Kitchen".into(),
                entries: vec![MenuEntry::Item {
                    id: "scene\u{1f}home\u{1f}s1".into(),
                    text: "Dinner".into(),
                    enabled: false,
                }],
            },
        ];
        let items = items(&entries);
        assert_eq!(items.len(), 3);
        let MenuItem::Checkmark(c) = &items[0] else { panic!("a check item") };
        assert!(c.checked && c.enabled);
        assert_eq!(c.label, "Desk__lamp", "an underscore is not an access key");
        (c.activate)(&mut view);
        assert_eq!(rx.try_recv().unwrap(), Click::Item("sw\u{1f}home\u{1f}lamp".into()));
        assert!(matches!(items[1], MenuItem::Separator));
        let MenuItem::SubMenu(s) = &items[2] else { panic!("a submenu") };
        let MenuItem::Standard(scene) = &s.submenu[0] else { panic!("an item") };
        assert!(!scene.enabled && scene.label == "Dinner");
        ksni::Tray::activate(&mut view, 0, 0);
        assert_eq!(rx.try_recv().unwrap(), Click::Icon);
    }
}
