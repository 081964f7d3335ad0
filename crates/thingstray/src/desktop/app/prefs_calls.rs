//! The desktop settings (`desktop.toml`): favorites, hidden devices, poll intervals, start
//! at login, the panel theme. Every change is saved before it is shown.

use super::Desktop;
use crate::desktop::indicator::PanelTheme;
use crate::desktop::prefs::DesktopSettings;
use crate::error::Result;
impl Desktop {
    pub fn settings(&self) -> DesktopSettings {
        self.locked_settings().clone()
    }

    pub(super) fn change_settings(
        &self,
        f: impl FnOnce(&mut DesktopSettings) -> Result<()>,
    ) -> Result<DesktopSettings> {
        let snapshot = {
            let mut p = self.locked_settings();
            let mut next = p.clone();
            f(&mut next)?;
            next.save(&self.paths)?;
            *p = next.clone();
            next
        };
        self.bump();
        Ok(snapshot)
    }

    pub fn set_favorite(&self, connection: &str, device: &str, on: bool) -> Result<DesktopSettings> {
        self.change_settings(|s| {
            s.set_favorite(connection, device, on);
            Ok(())
        })
    }

    pub fn set_hidden(&self, connection: &str, device: &str, on: bool) -> Result<DesktopSettings> {
        self.change_settings(|s| {
            s.set_hidden(connection, device, on);
            Ok(())
        })
    }

    pub fn set_poll_interval(&self, secs: u64) -> Result<DesktopSettings> {
        self.change_settings(|s| s.set_poll_interval(secs))
    }

    /// Picked up by [`Desktop::keep_tray_fresh`] within a minute (it wakes at least that often).
    pub fn set_tray_refresh(&self, secs: u64) -> Result<DesktopSettings> {
        self.change_settings(|s| s.set_tray_refresh(secs))
    }

    /// Records the choice; the shell registers or removes the login item.
    pub fn set_start_at_login(&self, on: bool) -> Result<DesktopSettings> {
        self.change_settings(|s| {
            s.start_at_login = on;
            Ok(())
        })
    }

    pub fn set_panel_theme(&self, theme: PanelTheme) -> Result<DesktopSettings> {
        self.change_settings(|s| {
            s.panel_theme = theme;
            Ok(())
        })
    }

    /// Records the system-wide shortcut (`None` or blank: off). The shell registers it with
    /// the system first and calls this only once the system took it.
    pub fn set_global_shortcut(&self, shortcut: Option<&str>) -> Result<DesktopSettings> {
        self.change_settings(|s| s.set_global_shortcut(shortcut))
    }
}
