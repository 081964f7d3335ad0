//! The desktop app's own settings, in `desktop.toml` beside `config.toml`: favorites,
//! hidden devices, poll interval, start at login, the panel theme, the token server's
//! on/off and port, the share listener's. No secrets (the token server's secret is in the vault).
//!
//! A file of its own rather than fields in `config.toml`: the CLI rewrites `config.toml`
//! with the fields it knows, and favorites must survive that (and a sign-in again).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::indicator::PanelTheme;
use crate::alerts::default_on;
use crate::api::Device;
use crate::config::Paths;
use crate::error::{Error, Result};

pub const MIN_POLL_S: u64 = 10;
pub const MAX_POLL_S: u64 = 3600;
/// The tray's own re-read, when the user turns it on: gentle (SmartThings rate-limits
/// every installed app), at most once a minute, at least once a day.
pub const MIN_TRAY_REFRESH_S: u64 = 60;
pub const MAX_TRAY_REFRESH_S: u64 = 24 * 3600;
/// Below 1024 a port needs privileges on Unix; a user setting should never ask for them.
pub const MIN_SERVER_PORT: u64 = 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DesktopSettings {
    /// How often the open device window re-reads the devices.
    pub poll_interval_s: u64,
    /// How often the tray menu's device states are re-read while no window is open;
    /// 0 (the default): never, so an idle machine sends SmartThings nothing. Linux trays
    /// report no "menu opened" event to refresh on: the menu's "Refresh devices", any
    /// window, and every switch's read-back bring the states up to date instead.
    pub tray_refresh_s: u64,
    pub start_at_login: bool,
    pub panel_theme: PanelTheme,
    /// Devices in the tray menu before rooms become submenus.
    pub flat_menu_limit: usize,
    /// The system-wide key combination that opens the device window, as an accelerator
    /// ("CommandOrControl+Shift+T"); `None` (the default): no shortcut. See [`check_global_shortcut`].
    pub global_shortcut: Option<String>,
    /// Kept here so the server comes back on the next launch.
    pub token_server: TokenServerPrefs,
    /// The share listener (Settings -> Other computers), kept so it comes back at launch.
    pub share: SharePrefs,
    pub connections: BTreeMap<String, ConnectionPrefs>,
    /// Alerts during these are not shown ("22:00" to "07:00" wraps midnight), except leak,
    /// smoke and CO. `None` (the default): no quiet hours.
    pub quiet_hours: Option<QuietHours>,
}

/// Quiet hours in the computer's local time, "HH:MM" each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuietHours {
    pub start: String,
    pub end: String,
}

impl QuietHours {
    /// Minutes after local midnight, as the alerter takes them; an unreadable time (a
    /// hand-edited file) is no quiet hours rather than a settings file that won't load.
    pub fn minutes(&self) -> Option<(u16, u16)> {
        Some((hhmm(&self.start).ok()?, hhmm(&self.end).ok()?))
    }
}

/// "HH:MM" (24-hour clock) as minutes after midnight.
pub fn hhmm(text: &str) -> Result<u16> {
    let bad = || Error::InvalidSetting {
        field: "quiet_hours".into(),
        why: format!("`{text}` is not a time: write it as HH:MM on a 24-hour clock, such as 22:30"),
    };
    let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 23 || m > 59 || text.trim().len() > 5 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TokenServerPrefs {
    pub enabled: bool,
    pub port: u16,
}

impl Default for TokenServerPrefs {
    fn default() -> Self {
        TokenServerPrefs { enabled: false, port: crate::serve::DEFAULT_PORT }
    }
}

/// The desktop's share listener: on/off, where it listens. Every interface by default:
/// the point of sharing is that the other computers on this network reach it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SharePrefs {
    pub enabled: bool,
    pub address: std::net::IpAddr,
    pub port: u16,
}

impl Default for SharePrefs {
    fn default() -> Self {
        SharePrefs { enabled: false, address: std::net::Ipv4Addr::UNSPECIFIED.into(), port: crate::owner::DEFAULT_PORT }
    }
}

/// A port the user may pick for the token server: 1024–65535.
pub fn check_server_port(port: u64) -> Result<u16> {
    match u16::try_from(port) {
        Ok(p) if port >= MIN_SERVER_PORT => Ok(p),
        _ => Err(Error::InvalidSetting {
            field: "port".into(),
            why: format!("pick a port from {MIN_SERVER_PORT} to 65535 (the default is {})", crate::serve::DEFAULT_PORT),
        }),
    }
}

/// The longest accelerator kept: room for every modifier and the longest key name.
pub const MAX_SHORTCUT_LEN: usize = 64;
/// The modifiers, spelled the one way the settings keep them, in the order they are kept.
const MODIFIERS: [&str; 5] = ["CommandOrControl", "Control", "Super", "Alt", "Shift"];

/// A modifier's kept spelling, for any spelling the shortcut plugin reads.
fn modifier(token: &str) -> Option<&'static str> {
    Some(match token.to_ascii_lowercase().as_str() {
        "commandorcontrol" | "commandorctrl" | "cmdorctrl" | "cmdorcontrol" => "CommandOrControl",
        "control" | "ctrl" => "Control",
        "super" | "command" | "cmd" => "Super",
        "alt" | "option" => "Alt",
        "shift" => "Shift",
        _ => return None,
    })
}

/// Keys no app types with, which may make a shortcut alone (or with Shift only): F1–F24,
/// Pause, Print Screen, Scroll Lock, the media and volume keys.
fn stands_alone(key: &str) -> bool {
    let k = key.to_ascii_uppercase();
    let f_key = k.strip_prefix('F').and_then(|n| n.parse::<u8>().ok()).is_some_and(|n| (1..=24).contains(&n));
    f_key
        || matches!(k.as_str(), "PAUSE" | "PAUSEBREAK" | "PRINTSCREEN" | "SCROLLLOCK")
        || ["MEDIA", "AUDIOVOLUME", "VOLUME"].iter().any(|p| k.starts_with(p))
}

/// A global shortcut as the settings keep it: modifiers, then one key, joined by `+`
/// ("CommandOrControl+Shift+T"; a letter upper-cased, each modifier spelled one way, in one
/// order). Checked without the system: whether it knows the key and whether another app
/// holds the combination, only registering tells (the desktop shell does, before saving).
pub fn check_global_shortcut(text: &str) -> Result<String> {
    let bad = |why: String| Error::InvalidSetting { field: "global_shortcut".into(), why };
    let text = text.trim();
    if text.is_empty() {
        return Err(bad("record a key combination, e.g. CommandOrControl+Shift+T, or turn the shortcut off".into()));
    }
    if text.len() > MAX_SHORTCUT_LEN {
        return Err(bad(format!("a shortcut is at most {MAX_SHORTCUT_LEN} characters: modifiers and one key")));
    }
    let tokens: Vec<&str> = text.split('+').map(str::trim).collect();
    let (key, mods) = tokens.split_last().expect("split gives at least one part");
    if tokens.iter().any(|t| t.is_empty()) {
        return Err(bad(format!(
            "`{text}` has an empty part: write modifiers and one key joined by +, e.g. Control+Shift+T"
        )));
    }
    let mut kept: Vec<&'static str> = Vec::new();
    for m in mods {
        match modifier(m) {
            Some(m) => kept.push(m),
            None => {
                return Err(bad(format!(
                    "`{m}` is not a modifier: use CommandOrControl, Control, Alt, Shift or Super, then one key (only the last part is a key)"
                )))
            }
        }
    }
    if modifier(key).is_some() {
        return Err(bad(format!("`{text}` has only modifiers: add one key, e.g. {text}+T")));
    }
    if !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err(bad(format!("`{key}` is not a key name")));
    }
    if !stands_alone(key) && !kept.iter().any(|m| *m != "Shift") {
        return Err(bad(format!(
            "`{text}` would take {key} away from every other app: add Control, Alt or Super (CommandOrControl is ⌘ on macOS, Ctrl elsewhere)"
        )));
    }
    let key = if key.len() == 1 { key.to_ascii_uppercase() } else { key.to_string() };
    let mut parts: Vec<String> = MODIFIERS.iter().filter(|m| kept.contains(m)).map(|m| m.to_string()).collect();
    parts.push(key);
    Ok(parts.join("+"))
}

/// The shortcut the user chose: `None` or blank turns it off, anything else is checked.
pub fn global_shortcut_choice(shortcut: Option<&str>) -> Result<Option<String>> {
    shortcut.map(str::trim).filter(|s| !s.is_empty()).map(check_global_shortcut).transpose()
}

impl Default for DesktopSettings {
    fn default() -> Self {
        DesktopSettings {
            poll_interval_s: 30,
            tray_refresh_s: 0,
            start_at_login: false,
            panel_theme: PanelTheme::Dark,
            flat_menu_limit: 12,
            global_shortcut: None,
            token_server: TokenServerPrefs::default(),
            share: SharePrefs::default(),
            connections: BTreeMap::new(),
            quiet_hours: None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConnectionPrefs {
    pub favorites: BTreeSet<String>,
    pub hidden: BTreeSet<String>,
    /// A device's bell, where the user rang or silenced it (device id -> on); absent:
    /// its kind's default (leak, smoke and CO on, the rest off).
    pub alerts: BTreeMap<String, bool>,
}

impl ConnectionPrefs {
    /// Whether a device's bell is on: the user's choice, else its kind's default (leak,
    /// smoke and CO sensors ring).
    pub fn bell(&self, device: &Device) -> bool {
        self.alerts.get(&device.id).copied().unwrap_or_else(|| default_on(device))
    }
}

impl DesktopSettings {
    pub fn file(paths: &Paths) -> std::path::PathBuf {
        paths.dir.join("desktop.toml")
    }

    /// A missing file gives the defaults; a broken one is an error (never overwrite what
    /// could not be read).
    pub fn load(paths: &Paths) -> Result<DesktopSettings> {
        let path = Self::file(paths);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let mut s: DesktopSettings = toml::from_str(&text).map_err(|e| Error::ConfigUnreadable {
                    path: path.display().to_string(),
                    detail: e.message().to_string(),
                })?;
                s.poll_interval_s = s.poll_interval_s.clamp(MIN_POLL_S, MAX_POLL_S);
                if s.tray_refresh_s != 0 {
                    s.tray_refresh_s = s.tray_refresh_s.clamp(MIN_TRAY_REFRESH_S, MAX_TRAY_REFRESH_S);
                }
                if check_server_port(s.token_server.port.into()).is_err() {
                    s.token_server.port = crate::serve::DEFAULT_PORT;
                }
                if check_server_port(s.share.port.into()).is_err() {
                    s.share.port = crate::owner::DEFAULT_PORT;
                }
                s.global_shortcut = s.global_shortcut.as_deref().and_then(|k| check_global_shortcut(k).ok());
                Ok(s)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(DesktopSettings::default()),
            Err(e) => Err(Error::ConfigUnreadable { path: path.display().to_string(), detail: e.to_string() }),
        }
    }

    pub fn save(&self, paths: &Paths) -> Result<()> {
        let text = toml::to_string_pretty(self).map_err(|e| Error::io("writing desktop settings", e))?;
        crate::fsutil::write_atomic(&Self::file(paths), text.as_bytes(), false)
    }

    pub fn prefs(&self, connection: &str) -> ConnectionPrefs {
        self.connections.get(connection).cloned().unwrap_or_default()
    }

    pub fn set_favorite(&mut self, connection: &str, device: &str, on: bool) {
        let p = self.connections.entry(connection.to_string()).or_default();
        if on {
            p.favorites.insert(device.to_string());
        } else {
            p.favorites.remove(device);
        }
    }

    pub fn set_hidden(&mut self, connection: &str, device: &str, on: bool) {
        let p = self.connections.entry(connection.to_string()).or_default();
        if on {
            p.hidden.insert(device.to_string());
        } else {
            p.hidden.remove(device);
        }
    }

    pub fn set_alerts(&mut self, connection: &str, device: &str, on: bool) {
        self.connections.entry(connection.to_string()).or_default().alerts.insert(device.to_string(), on);
    }

    /// `None` or two equal times: no quiet hours.
    pub fn set_quiet_hours(&mut self, hours: Option<(&str, &str)>) -> Result<()> {
        self.quiet_hours = match hours {
            Some((start, end)) if hhmm(start)? != hhmm(end)? => {
                Some(QuietHours { start: start.trim().to_string(), end: end.trim().to_string() })
            }
            _ => None,
        };
        Ok(())
    }

    /// Favorites and hidden devices follow a renamed connection.
    pub fn rename_connection(&mut self, old: &str, new: &str) {
        if let Some(p) = self.connections.remove(old) {
            self.connections.insert(new.to_string(), p);
        }
    }

    pub fn set_poll_interval(&mut self, secs: u64) -> Result<()> {
        if !(MIN_POLL_S..=MAX_POLL_S).contains(&secs) {
            return Err(Error::InvalidSetting {
                field: "poll_interval_s".into(),
                why: format!("pick between {MIN_POLL_S} and {MAX_POLL_S} seconds; SmartThings limits request rates"),
            });
        }
        self.poll_interval_s = secs;
        Ok(())
    }

    /// 0 turns the tray's own re-read off (the default).
    pub fn set_tray_refresh(&mut self, secs: u64) -> Result<()> {
        if secs != 0 && !(MIN_TRAY_REFRESH_S..=MAX_TRAY_REFRESH_S).contains(&secs) {
            return Err(Error::InvalidSetting {
                field: "tray_refresh_s".into(),
                why: format!(
                    "pick 0 (off: the menu's Refresh devices and the device window read them) or from {} minute to {} hours",
                    MIN_TRAY_REFRESH_S / 60,
                    MAX_TRAY_REFRESH_S / 3600
                ),
            });
        }
        self.tray_refresh_s = secs;
        Ok(())
    }

    /// `None` or blank: no shortcut (the default).
    pub fn set_global_shortcut(&mut self, shortcut: Option<&str>) -> Result<()> {
        self.global_shortcut = global_shortcut_choice(shortcut)?;
        Ok(())
    }

    pub fn poll_interval(&self) -> Duration {
        Duration::from_secs(self.poll_interval_s)
    }

    /// `None`: the tray does not poll.
    pub fn tray_refresh(&self) -> Option<Duration> {
        (self.tray_refresh_s != 0).then(|| Duration::from_secs(self.tray_refresh_s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_defaults_when_missing() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::at(dir.path());
        assert_eq!(DesktopSettings::load(&paths).unwrap(), DesktopSettings::default());
        let mut s = DesktopSettings::default();
        s.set_favorite("home", "lamp", true);
        s.set_hidden("home", "hub", true);
        s.set_poll_interval(60).unwrap();
        s.save(&paths).unwrap();
        let back = DesktopSettings::load(&paths).unwrap();
        assert_eq!(back, s);
        assert!(back.prefs("home").favorites.contains("lamp"));
        assert!(back.prefs("other").favorites.is_empty());
    }

    #[test]
    fn token_server_port_is_checked_and_kept() {
        for ok in [1024, 8765, 65535] {
            assert_eq!(check_server_port(ok).unwrap(), ok as u16);
        }
        for bad in [0, 80, 1023, 65536, 1 << 40] {
            assert_eq!(check_server_port(bad).unwrap_err().code(), "invalid_setting", "{bad}");
        }
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::at(dir.path());
        let mut s = DesktopSettings::default();
        assert_eq!(s.token_server, TokenServerPrefs { enabled: false, port: crate::serve::DEFAULT_PORT });
        s.token_server = TokenServerPrefs { enabled: true, port: 9000 };
        s.save(&paths).unwrap();
        assert_eq!(DesktopSettings::load(&paths).unwrap().token_server, s.token_server);
        std::fs::write(DesktopSettings::file(&paths), "[token_server]\nenabled = true\nport = 80").unwrap();
        assert_eq!(DesktopSettings::load(&paths).unwrap().token_server.port, crate::serve::DEFAULT_PORT);
    }

    #[test]
    fn quiet_hours_and_bells_are_checked_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::at(dir.path());
        let mut s = DesktopSettings::default();
        s.set_quiet_hours(Some(("22:00", "7:05"))).unwrap();
        s.set_alerts("home", "door", true);
        s.set_alerts("home", "leak", false);
        s.save(&paths).unwrap();
        let back = DesktopSettings::load(&paths).unwrap();
        assert_eq!(back.quiet_hours.as_ref().and_then(QuietHours::minutes), Some((22 * 60, 7 * 60 + 5)));
        assert_eq!(back.prefs("home").alerts.get("leak"), Some(&false));
        for bad in ["24:00", "7", "07:60", "-1:00", "ab:cd", "007:00", ""] {
            let e = s.set_quiet_hours(Some((bad, "07:00"))).unwrap_err();
            assert_eq!(e.code(), "invalid_setting", "{bad}");
            assert!(e.to_string().contains("HH:MM"), "{e}");
        }
        assert!(s.quiet_hours.is_some(), "a refused change keeps what was there");
        s.set_quiet_hours(Some(("07:00", "07:00"))).unwrap();
        assert_eq!(s.quiet_hours, None, "equal ends are none");
        // A file from before quiet hours, and one edited by hand, still load.
        std::fs::write(DesktopSettings::file(&paths), "poll_interval_s = 60\n").unwrap();
        assert_eq!(DesktopSettings::load(&paths).unwrap().quiet_hours, None);
        std::fs::write(DesktopSettings::file(&paths), "[quiet_hours]\nstart = \"late\"\nend = \"07:00\"\n").unwrap();
        assert_eq!(DesktopSettings::load(&paths).unwrap().quiet_hours.and_then(|q| q.minutes()), None);
    }

    #[test]
    fn rename_moves_favorites_and_hidden() {
        let mut s = DesktopSettings::default();
        s.set_favorite("home", "lamp", true);
        s.set_hidden("home", "hub", true);
        s.rename_connection("home", "cabin");
        assert!(s.prefs("home").favorites.is_empty());
        assert!(s.prefs("cabin").favorites.contains("lamp") && s.prefs("cabin").hidden.contains("hub"));
        s.rename_connection("nowhere", "x");
        assert!(!s.connections.contains_key("x"));
    }

    #[test]
    fn poll_interval_is_bounded() {
        let mut s = DesktopSettings::default();
        assert_eq!(s.set_poll_interval(1).unwrap_err().code(), "invalid_setting");
        assert_eq!(s.poll_interval_s, 30);
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::at(dir.path());
        std::fs::write(DesktopSettings::file(&paths), "poll_interval_s = 1").unwrap();
        assert_eq!(DesktopSettings::load(&paths).unwrap().poll_interval_s, MIN_POLL_S);
        std::fs::write(DesktopSettings::file(&paths), "poll_interval_s = \"x\"").unwrap();
        assert_eq!(DesktopSettings::load(&paths).unwrap_err().code(), "config_unreadable");
    }

    #[test]
    fn tray_refresh_is_off_or_gentle() {
        let mut s = DesktopSettings::default();
        assert_eq!(s.tray_refresh(), None);
        for bad in [1, 59, 24 * 3600 + 1] {
            assert_eq!(s.set_tray_refresh(bad).unwrap_err().code(), "invalid_setting", "{bad}");
        }
        s.set_tray_refresh(300).unwrap();
        assert_eq!(s.tray_refresh(), Some(Duration::from_secs(300)));
        s.set_tray_refresh(0).unwrap();
        assert_eq!(s.tray_refresh(), None);
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::at(dir.path());
        std::fs::write(DesktopSettings::file(&paths), "tray_refresh_s = 5").unwrap();
        assert_eq!(DesktopSettings::load(&paths).unwrap().tray_refresh_s, MIN_TRAY_REFRESH_S);
    }

    #[test]
    fn global_shortcut_is_off_by_default_and_checked() {
        let mut s = DesktopSettings::default();
        assert_eq!(s.global_shortcut, None);
        for (given, kept) in [
            ("CommandOrControl+Shift+T", "CommandOrControl+Shift+T"),
            (" shift + ctrl + t ", "Control+Shift+T"),
            ("Option+CmdOrCtrl+Space", "CommandOrControl+Alt+Space"),
            ("Cmd+Super+1", "Super+1"),
            ("Alt+ArrowUp", "Alt+ArrowUp"),
            ("F9", "F9"),
            ("Shift+F12", "Shift+F12"),
            ("MediaPlayPause", "MediaPlayPause"),
        ] {
            assert_eq!(check_global_shortcut(given).unwrap(), kept, "{given}");
        }
        for (bad, says) in [
            ("", "record a key combination"),
            ("   ", "record a key combination"),
            ("Control+Shift", "only modifiers"),
            ("Shift", "only modifiers"),
            ("Control++T", "empty part"),
            ("Control+Shift+", "empty part"),
            ("Meta+T", "`Meta` is not a modifier"),
            ("Control+T+Shift", "`T` is not a modifier"),
            ("T", "away from every other app"),
            ("Shift+T", "away from every other app"),
            ("Control+Ä", "not a key name"),
            (&format!("Control+{}", "K".repeat(MAX_SHORTCUT_LEN)), "at most 64"),
        ] {
            let e = check_global_shortcut(bad).unwrap_err();
            assert_eq!(e.code(), "invalid_setting", "{bad}");
            assert!(e.to_string().contains(says) && e.to_string().contains("global_shortcut"), "{bad}: {e}");
        }
        s.set_global_shortcut(Some("ctrl+alt+d")).unwrap();
        assert_eq!(s.global_shortcut.as_deref(), Some("Control+Alt+D"));
        assert_eq!(s.set_global_shortcut(Some("Shift")).unwrap_err().code(), "invalid_setting");
        assert_eq!(s.global_shortcut.as_deref(), Some("Control+Alt+D"), "a refused one changes nothing");
        s.set_global_shortcut(Some("  ")).unwrap();
        assert_eq!(s.global_shortcut, None, "blank turns it off");
        s.set_global_shortcut(Some("Alt+D")).unwrap();
        s.set_global_shortcut(None).unwrap();
        assert_eq!(s.global_shortcut, None);
    }

    #[test]
    fn global_shortcut_is_saved_and_old_files_load_without_one() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::at(dir.path());
        // A file from before the setting: every other field is kept, the shortcut is off.
        std::fs::write(
            DesktopSettings::file(&paths),
            "poll_interval_s = 60\n[connections.home]\nfavorites = [\"lamp\"]\n",
        )
        .unwrap();
        let old = DesktopSettings::load(&paths).unwrap();
        assert_eq!((old.global_shortcut.as_deref(), old.poll_interval_s), (None, 60));
        assert!(old.prefs("home").favorites.contains("lamp"));
        let mut s = DesktopSettings::default();
        s.set_favorite("home", "lamp", true);
        s.set_global_shortcut(Some("CommandOrControl+Shift+T")).unwrap();
        s.save(&paths).unwrap();
        assert_eq!(DesktopSettings::load(&paths).unwrap(), s);
        s.set_global_shortcut(None).unwrap();
        s.save(&paths).unwrap();
        assert_eq!(DesktopSettings::load(&paths).unwrap().global_shortcut, None);
        // One edited by hand into something unusable loads as off rather than failing.
        std::fs::write(DesktopSettings::file(&paths), "global_shortcut = \"Shift\"").unwrap();
        assert_eq!(DesktopSettings::load(&paths).unwrap().global_shortcut, None);
        std::fs::write(DesktopSettings::file(&paths), "global_shortcut = \"ctrl+shift+k\"").unwrap();
        assert_eq!(DesktopSettings::load(&paths).unwrap().global_shortcut.as_deref(), Some("Control+Shift+K"));
    }
}
