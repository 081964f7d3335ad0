//! Location modes (issue 29) on the desktop: read with the rooms and scenes
//! (`device_calls.rs`), kept per connection, shown in the tray and the device window, and
//! set from either. A sign-in that may not read them (no `r:locations:*`) simply shows no
//! modes: that is not an error of the device list.

use super::Desktop;
use crate::api::{Api, Mode};
use crate::desktop::modes::ModeView;
use crate::error::{Error, Result};

/// The scope SmartThings asks for to change a location's mode.
const WRITE_SCOPE: &str = "w:locations:*";

/// What is known of a connection's location modes.
#[derive(Default)]
pub(super) struct ModeCache {
    /// The location the modes are of: the one a change goes to.
    location: Option<String>,
    modes: Vec<Mode>,
    current: Option<Mode>,
    /// Changes on their way (the tray and a window may both ask).
    setting: usize,
}

impl ModeCache {
    /// The current mode's name (SmartThings' `Away`, whatever the user's label).
    pub(super) fn current_name(&self) -> Option<&str> {
        self.current.as_ref().map(|m| m.name.as_str())
    }

    /// The location the modes are of.
    #[cfg(test)]
    pub(super) fn location(&self) -> Option<&str> {
        self.location.as_deref()
    }

    /// The view, `None` while no mode is known.
    pub(super) fn view(&self) -> Option<ModeView> {
        (!self.modes.is_empty()).then(|| ModeView {
            current: self.current.clone(),
            modes: self.modes.clone(),
            setting: self.setting > 0,
        })
    }

    /// Keeps one read of the modes of `location`. A read that failed in passing keeps what
    /// was known; any other failure (a 403 for a sign-in without `r:locations:*`, a
    /// location gone) forgets it, so nothing stale is offered.
    pub(super) fn store(&mut self, location: Option<String>, read: Result<(Vec<Mode>, Mode)>) {
        let moved = location != self.location;
        self.location = location;
        match read {
            Ok((modes, current)) => {
                self.modes = modes;
                self.current = Some(current);
            }
            Err(e) if e.is_transient() && !moved => {}
            Err(_) => {
                self.modes.clear();
                self.current = None;
            }
        }
    }
}

impl ModeCache {
    /// Keeps a read of the current mode alone (while a motion bell needs it fresh). A
    /// failed read keeps what was known: the list of modes says what there is.
    pub(super) fn store_current(&mut self, read: Result<Mode>) {
        match read {
            Ok(mode) if !self.modes.is_empty() => self.current = Some(mode),
            Ok(_) => {}
            Err(e) => tracing::debug!(code = e.code(), "the current mode could not be read"),
        }
    }
}

/// A location's modes and its current one, read together. No location, no modes.
pub(super) async fn read(api: &Api, location: Option<&str>) -> Result<(Vec<Mode>, Mode)> {
    let Some(location) = location else {
        return Err(Error::BadPayload { detail: "no location is known for this connection".into() });
    };
    let (modes, current) = tokio::join!(api.modes(location), api.current_mode(location));
    match (modes, current) {
        (Ok(modes), Ok(current)) => Ok((modes, current)),
        (Err(e), _) | (_, Err(e)) => {
            tracing::debug!(code = e.code(), "the location's modes could not be read; none are shown");
            Err(e)
        }
    }
}

impl Desktop {
    /// The location's modes and the current one, as last read (with the rooms and scenes,
    /// and after each change). Empty while none is known.
    pub fn modes(&self, connection: &str) -> Result<ModeView> {
        Ok(self.state().live(connection)?.modes.view().unwrap_or_default())
    }

    /// The location's current mode by SmartThings' name (`Away`: it stays the same when
    /// the user relabels the mode), as last read; `None` while it is not known.
    pub fn location_mode(&self, connection: &str) -> Option<String> {
        self.state().live.get(connection)?.modes.current_name().map(str::to_string)
    }

    /// Makes `mode` (one of the location's mode ids) the current mode and returns the modes
    /// with the current one as SmartThings reports it afterwards. The tray and the window
    /// show "changing" meanwhile. A sign-in without `w:locations:*` gets `scope_missing`,
    /// which says how to add it.
    pub async fn set_mode(&self, connection: &str, mode: &str) -> Result<ModeView> {
        let (conn, location) = {
            let st = self.state();
            let l = st.live(connection)?;
            let cache = &l.modes;
            if !cache.modes.is_empty() && !cache.modes.iter().any(|m| m.id == mode) {
                let known: Vec<&str> = cache.modes.iter().map(|m| m.label.as_str()).collect();
                return Err(Error::BadRequest {
                    why: format!("`{mode}` is not a mode of this location (its modes: {})", known.join(", ")),
                });
            }
            let location = cache.location.clone().or_else(|| l.conn.settings.location_id.clone());
            let location = location.ok_or_else(|| Error::BadRequest {
                why: "the location's modes are not read yet: refresh the devices first".into(),
            })?;
            (l.conn.clone(), location)
        };
        if let Some(l) = self.state().live.get_mut(connection) {
            l.modes.setting += 1;
        }
        self.bump();
        let result = conn.api.set_mode(&location, mode).await;
        {
            let mut st = self.state();
            if let Some(l) = st.live.get_mut(connection) {
                l.modes.setting = l.modes.setting.saturating_sub(1);
                if let Ok(now) = &result {
                    l.modes.current = Some(now.clone());
                }
            }
        }
        self.bump();
        match result {
            Ok(_) => self.modes(connection),
            Err(Error::Api { status: 403, .. }) if !conn.settings.scopes.iter().any(|s| s == WRITE_SCOPE) => {
                Err(Error::ScopeMissing {
                    action: "change the location mode".into(),
                    scope: WRITE_SCOPE.into(),
                    scopes: conn.settings.scopes.join(" "),
                })
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;
    use smartthings_sim::{Sim, SimConfig};

    use super::super::tests::{redirect_of, signed_in, Env};
    use super::*;
    use crate::config::ConnectionSettings;
    use crate::desktop::menu::{checks, MenuAction, MenuEntry};

    const WITH_WRITE: &[&str] =
        &["r:devices:*", "x:devices:*", "r:locations:*", "w:locations:*", "r:scenes:*", "x:scenes:*"];
    const NO_LOCATIONS: &[&str] = &["r:devices:*", "x:devices:*", "r:scenes:*", "x:scenes:*"];

    /// `signed_in()` with the sign-in asking for `scopes`.
    async fn signed_in_with(scopes: &[&str]) -> Env {
        let sim = Sim::start(SimConfig { auto_approve: true, ..SimConfig::default() }).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let client = sim.client().clone();
        let mut settings =
            ConnectionSettings::at(&client.client_id, &client.redirect_uris[0], sim.api_url(), sim.auth_url());
        settings.scopes = scopes.iter().map(|s| s.to_string()).collect();
        let (desktop, start) =
            Desktop::open_demo(dir.path(), settings, SecretString::from(client.client_secret)).await.unwrap();
        let redirect = redirect_of(&start.authorize_url).await;
        desktop.finish_sign_in(&redirect).await.unwrap();
        Env { sim, _dir: dir, desktop, start }
    }

    fn location(e: &Env) -> String {
        e.desktop.state().live["demo"].modes.location.clone().expect("the modes' location")
    }

    /// The tray's "Mode: …" submenu text, if any.
    fn tray_mode(e: &Env) -> Option<String> {
        e.desktop.tray().entries.into_iter().find_map(|x| match x {
            MenuEntry::Submenu { text, .. } if text.starts_with("Mode") => Some(text),
            _ => None,
        })
    }

    #[tokio::test]
    async fn modes_come_with_the_device_list_and_a_change_is_the_mode_read_back() {
        let e = signed_in_with(WITH_WRITE).await;
        let list = e.desktop.device_list("demo").await.unwrap();
        let modes = list.modes.expect("the modes come with the devices");
        let names: Vec<&str> = modes.modes.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["Home", "Away", "Night"]);
        assert_eq!(modes.current_label(), Some("Home"));
        assert!(!modes.setting);
        assert_eq!(e.desktop.location_mode("demo").as_deref(), Some("Home"));
        assert_eq!(tray_mode(&e).as_deref(), Some("Mode: Home"));
        let json = serde_json::to_value(e.desktop.cached_device_list("demo").unwrap()).unwrap();
        assert_eq!(json["modes"]["current"]["name"], "Home", "the window gets them under `modes`");

        let away = modes.modes[1].clone();
        let changed = e.desktop.subscribe();
        let after = e.desktop.set_mode("demo", &away.id).await.unwrap();
        assert_eq!(after.current, Some(away.clone()));
        assert!(changed.has_changed().unwrap(), "the tray and the window are told");
        assert_eq!(e.sim.current_mode(&location(&e)).unwrap().name, "Away");
        assert_eq!(e.desktop.location_mode("demo").as_deref(), Some("Away"));
        assert_eq!(e.desktop.modes("demo").unwrap(), after);
        assert_eq!(e.desktop.cached_device_list("demo").unwrap().modes, Some(after));
        assert_eq!(tray_mode(&e).as_deref(), Some("Mode: Away"));
        let id = MenuAction::SetMode { connection: "demo".into(), mode: away.id.clone() }.id();
        assert!(checks(&e.desktop.tray().entries).contains(&(id, true)));

        // Not one of the location's modes: refused before SmartThings is asked.
        let err = e.desktop.set_mode("demo", "no-such-mode").await.unwrap_err();
        assert_eq!(err.code(), "bad_request");
        assert!(err.to_string().contains("Home, Away, Night"), "{err}");
        assert_eq!(e.sim.current_mode(&location(&e)).unwrap().name, "Away");
        assert_eq!(e.desktop.set_mode("nope", &away.id).await.unwrap_err().code(), "unknown_connection");
    }

    /// The usual sign-in reads the modes but may not change them: the error says which
    /// scope is missing and how to add it; nothing changes.
    #[tokio::test]
    async fn a_sign_in_without_w_locations_reads_modes_and_is_told_how_to_change_them() {
        let e = signed_in().await;
        let list = e.desktop.device_list("demo").await.unwrap();
        let away = list.modes.expect("r:locations:* reads them").modes[1].id.clone();
        let err = e.desktop.set_mode("demo", &away).await.unwrap_err();
        assert_eq!(err.code(), "scope_missing");
        let m = err.to_string();
        assert!(m.contains("w:locations:*") && m.contains("r:locations:*") && m.contains("sign in again"), "{m}");
        assert_eq!(e.sim.current_mode(&location(&e)).unwrap().name, "Home");
        let now = e.desktop.modes("demo").unwrap();
        assert_eq!((now.current_label(), now.setting), (Some("Home"), false));
    }

    /// A sign-in that may not read the location (403 on the modes) still lists its devices,
    /// with no error and no modes anywhere.
    #[tokio::test]
    async fn a_sign_in_that_cannot_read_modes_still_lists_its_devices() {
        let e = signed_in_with(NO_LOCATIONS).await;
        let list = e.desktop.device_list("demo").await.unwrap();
        assert!(list.error.is_none(), "{:?}", list.error);
        assert!(list.read_at.is_some());
        assert!(list.rooms.iter().map(|r| r.devices.len()).sum::<usize>() >= 10);
        assert_eq!(list.modes, None);
        location(&e); // known: the modes were asked for, and refused
        assert_eq!(e.desktop.modes("demo").unwrap(), ModeView::default());
        assert_eq!(e.desktop.location_mode("demo"), None);
        assert_eq!(tray_mode(&e), None);
        assert!(!e
            .desktop
            .tray()
            .entries
            .iter()
            .any(|x| matches!(x, MenuEntry::Item { text, .. } if text.contains("403"))));
    }

    #[test]
    fn a_read_that_failed_in_passing_keeps_the_modes_and_any_other_forgets_them() {
        let modes = crate::desktop::modes::tests::home_away_night(1);
        let read = || Ok((modes.modes.clone(), modes.current.clone().unwrap()));
        let mut c = ModeCache::default();
        c.store(Some("loc".into()), read());
        assert_eq!(c.view(), Some(modes.clone()));
        c.store(Some("loc".into()), Err(Error::ServerError { status: 503 }));
        assert_eq!(c.view(), Some(modes.clone()), "kept");
        c.store(Some("other".into()), Err(Error::ServerError { status: 503 }));
        assert_eq!(c.view(), None, "another location's modes are not this one's");
        c.store(Some("loc".into()), read());
        c.store(Some("loc".into()), Err(Error::Api { status: 403, code: "Forbidden".into(), message: "x".into() }));
        assert_eq!(c.view(), None);
    }
}
