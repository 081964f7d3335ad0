//! Renaming a connection. Everything keyed by its name moves, in an order where a
//! failure at any step leaves the old name whole:
//!
//! 1. Under the connection's refresh lock (so no refresh, here or in another process,
//!    rotates the pair halfway), copy its vault items (`<old>/tokens`,
//!    `<old>/client-secret`, a paired connection's `<old>/pairing-secret`: the list is
//!    `vault::CONNECTION_ITEMS`) to the new name.
//! 2. Rename it in config.toml; the default pointer follows.
//! 3. Rename it in desktop.toml: favorites and hidden devices.
//! 4. Re-open its session under the new name (from the copied items), then delete the
//!    old items.
//!
//! A failure in 1–3 undoes the steps before it. After 3 the rename has happened: a
//! failure to delete an old item leaves an unused item behind, never a missing one.

use super::{ConnectionSummary, Desktop, Live};
use crate::config::Config;
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::session::RefreshLock;
use crate::vault::{connection_item_key, CONNECTION_ITEMS};

impl Desktop {
    pub async fn rename_connection(&self, old: &str, new: &str) -> Result<ConnectionSummary> {
        let new = new.trim();
        if new == old {
            return self.summary(old);
        }
        // Checks the name and that it is free, before anything moves.
        Config::load(&self.paths)?.rename_connection(old, new)?;

        // A hand-over under way is found by the connection's name, on both computers.
        let record = self.paths.hand_over_record(old);
        let unfinished = match crate::session::record::load(&record)? {
            Some(crate::session::record::Record::Giving(g)) => !g.acked,
            Some(crate::session::record::Record::Taking(t)) => t.stage != crate::session::record::Stage::Acked,
            None => false,
        };
        if unfinished {
            return Err(Error::InvalidSetting {
                field: "name".into(),
                why: format!("`{old}` is being handed over between two computers: rename it once that is finished"),
            });
        }
        let _lock = RefreshLock::new(self.paths.lock_file(old)).acquire(self.opts.session.lock_timeout).await?;
        if let Err(e) = self.copy_secrets(old, new).await {
            self.delete_secrets(new).await;
            return Err(e);
        }
        // Read-modify-write under the settings' lock, and the undo likewise: a copy read at
        // the start and written back would drop a connection another process added since.
        if let Err(e) = Config::update(&self.paths, |c| c.rename_connection(old, new)) {
            self.delete_secrets(new).await;
            return Err(e);
        }
        let moved = self.change_settings(|s| {
            s.rename_connection(old, new);
            Ok(())
        });
        if let Err(e) = moved {
            if let Err(undo) = Config::update(&self.paths, |c| c.rename_connection(new, old)) {
                tracing::error!(code = undo.code(), "could not restore config.toml after a failed rename");
            }
            self.delete_secrets(new).await;
            return Err(e);
        }

        if let Err(e) = std::fs::rename(&record, self.paths.hand_over_record(new)) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!("could not move the finished hand-over's record: {e}");
            }
        }
        let after = Config::load(&self.paths)?;
        let reopened =
            Connection::open_with(&self.paths, &after, self.vault.clone(), Some(new), self.opts.clone()).await;
        let was = self.swap_live(old, new, reopened.as_ref().err().cloned());
        match &reopened {
            Ok(conn) => {
                self.adopt(conn.clone());
                self.keep_cache(was, new);
            }
            Err(_) => drop(was),
        }
        // Only now: the old session is gone, so nothing can refresh under the old name.
        self.delete_secrets(old).await;
        drop(_lock);
        self.bump();
        reopened?;
        self.summary(new)
    }

    async fn copy_secrets(&self, old: &str, new: &str) -> Result<()> {
        for item in CONNECTION_ITEMS {
            if let Some(secret) = self.vault.get(&connection_item_key(old, item)).await? {
                self.vault.set(&connection_item_key(new, item), secret).await?;
            }
        }
        Ok(())
    }

    /// Best effort: what is left is unused (no connection has that name).
    async fn delete_secrets(&self, name: &str) {
        for item in CONNECTION_ITEMS {
            if let Err(e) = self.vault.delete(&connection_item_key(name, item)).await {
                tracing::warn!(connection = name, code = e.code(), "could not delete an unused vault item");
            }
        }
    }

    /// Re-points everything in memory keyed by the old name. The old session stops here
    /// (its refresher is aborted with its `Live`); its cached devices are kept aside.
    fn swap_live(&self, old: &str, new: &str, open_error: Option<Error>) -> Option<Live> {
        let mut st = self.state();
        let was = st.live.remove(old);
        if let Some(seen) = st.seen.remove(old) {
            st.seen.insert(new.to_string(), seen);
        }
        if st.default.as_deref() == Some(old) {
            st.default = Some(new.to_string());
        }
        if let Some(p) = st.pending.as_mut().filter(|p| p.connection == old) {
            p.connection = new.to_string();
        }
        st.problems.retain(|(n, _)| n != old);
        if let Some(e) = open_error {
            tracing::warn!(connection = new, code = e.code(), "the renamed connection could not be opened");
            st.problems.push((new.to_string(), e));
        }
        was
    }

    /// The renamed connection shows its devices at once instead of "Loading devices…".
    fn keep_cache(&self, was: Option<Live>, new: &str) {
        let Some(mut was) = was else { return };
        if let Some(l) = self.state().live.get_mut(new) {
            l.devices = was.devices.take();
            l.rooms = std::mem::take(&mut was.rooms);
            l.scenes = std::mem::take(&mut was.scenes);
            l.places_read = was.places_read;
            l.last_read = was.last_read;
            l.baseline = was.baseline.take();
            l.location_name = was.location_name.clone().or(l.location_name.take());
            // Listeners (watch, the token server's /v1/events) and the alerts' memory
            // follow the connection under its new name.
            l.feed = was.feed.clone();
            l.alerter = std::mem::take(&mut was.alerter);
        }
    }

    fn summary(&self, name: &str) -> Result<ConnectionSummary> {
        self.connections().into_iter().find(|c| c.name == name).ok_or_else(|| self.state().unknown(name))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use secrecy::{ExposeSecret, SecretString};
    use smartthings_sim::{Sim, SimConfig};

    use super::super::tests::{redirect_of, signed_in};
    use super::*;
    use crate::config::ConnectionSettings;
    use crate::connection::Options;
    use crate::desktop::indicator::TrayState;
    use crate::desktop::prefs::DesktopSettings;
    use crate::vault::{MemoryStore, SecretStore, Vault};

    const LAMP: &str = "0b5577db-4ac9-4bdf-8c9d-5a1b2c3d4e5f";

    /// Every vault item, exposed (test only): what a rename must move and nothing else.
    async fn items(v: &Vault, names: &[&str]) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for n in names {
            for k in ["tokens", "client-secret", "pairing-secret"] {
                let key = format!("{n}/{k}");
                if let Some(s) = v.get(&key).await.unwrap() {
                    out.push((key, s.expose_secret().to_string()));
                }
            }
        }
        out
    }

    #[tokio::test]
    async fn rename_moves_settings_secrets_favorites_and_the_session() {
        let e = signed_in().await;
        let d = &e.desktop;
        d.set_favorite("demo", LAMP, true).unwrap();
        d.set_hidden("demo", "hub", true).unwrap();
        let vault = d.vault.clone();
        // A paired connection's secret for its owner moves too (it was left behind once,
        // and the renamed connection could no longer reach its owner).
        vault.store_pairing_secret("demo", SecretString::from("pairing-secret-for-the-owner")).await.unwrap();
        let before = items(&vault, &["demo"]).await;
        assert_eq!(before.len(), 3);

        for (bad, code) in [("a/b", "invalid_setting"), ("", "invalid_setting"), ("token-server", "invalid_setting")] {
            assert_eq!(d.rename_connection("demo", bad).await.unwrap_err().code(), code, "{bad}");
        }
        assert_eq!(d.rename_connection("nope", "x").await.unwrap_err().code(), "unknown_connection");

        let renamed = d.rename_connection("demo", " lake-house ").await.unwrap();
        assert_eq!(renamed.name, "lake-house");
        assert!(renamed.has_token, "{renamed:?}");

        // Vault: the same secrets under the new name, none left under the old.
        let after = items(&vault, &["demo", "lake-house"]).await;
        let moved: Vec<(String, String)> =
            before.iter().map(|(k, v)| (k.replace("demo/", "lake-house/"), v.clone())).collect();
        assert_eq!(after, moved);
        // Config: the key and the default pointer.
        let config = Config::load(&d.paths).unwrap();
        assert_eq!(config.connections.keys().collect::<Vec<_>>(), ["lake-house"]);
        assert_eq!(config.default_connection.as_deref(), Some("lake-house"));
        // Desktop prefs, in memory and on disk.
        for prefs in [d.settings(), DesktopSettings::load(&d.paths).unwrap()] {
            assert!(
                prefs.prefs("lake-house").favorites.contains(LAMP) && prefs.prefs("lake-house").hidden.contains("hub")
            );
            assert!(!prefs.connections.contains_key("demo"));
        }
        // The session runs under the new name, with the devices already known.
        assert_eq!(d.connection_names(), ["lake-house"]);
        assert_eq!(d.tray().state, TrayState::Connected);
        assert!(d.cached_device_list("lake-house").unwrap().rooms.iter().any(|r| !r.devices.is_empty()));
        d.token_for_copy("lake-house").await.unwrap();
        assert_eq!(d.token_for_copy("demo").await.unwrap_err().code(), "unknown_connection");
        let list = d.device_list("lake-house").await.unwrap();
        let lamp = list.rooms.iter().flat_map(|r| &r.devices).find(|r| r.can_switch && r.usable()).unwrap();
        assert_eq!(d.switch("lake-house", &lamp.id, true).await.unwrap().switch, Some(true));

        // Signing in again under the new name replaces only the tokens.
        let again = d.begin_sign_in("lake-house").unwrap();
        d.finish_sign_in(&redirect_of(&again.authorize_url).await).await.unwrap();
        assert!(d.settings().prefs("lake-house").favorites.contains(LAMP));
        // Same name again: nothing to do.
        assert_eq!(d.rename_connection("lake-house", "lake-house").await.unwrap().name, "lake-house");
    }

    /// A keychain that refuses writes under one name, as a locked or full one would.
    struct Refusing {
        inner: MemoryStore,
        refuse: Mutex<Option<String>>,
        /// Runs once, at the next write: another process acting meanwhile.
        during_set: Mutex<Option<Box<dyn FnOnce() + Send>>>,
    }

    impl SecretStore for Refusing {
        fn get(&self, key: &str) -> Result<Option<SecretString>> {
            self.inner.get(key)
        }
        fn set(&self, key: &str, value: &SecretString) -> Result<()> {
            if let Some(f) = self.during_set.lock().unwrap().take() {
                f();
            }
            match &*self.refuse.lock().unwrap() {
                Some(p) if key.starts_with(p.as_str()) => Err(Error::io("the keychain", "refused")),
                _ => self.inner.set(key, value),
            }
        }
        fn delete(&self, key: &str) -> Result<()> {
            self.inner.delete(key)
        }
        fn describe(&self) -> String {
            "refusing".into()
        }
    }

    async fn with_refusing_vault() -> (Sim, tempfile::TempDir, Arc<Desktop>, Arc<Refusing>) {
        let sim = Sim::start(SimConfig { auto_approve: true, ..SimConfig::default() }).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Refusing {
            inner: MemoryStore::default(),
            refuse: Mutex::new(None),
            during_set: Mutex::new(None),
        });
        let d = Desktop::with_vault(
            crate::config::Paths::at(dir.path()),
            Vault::new(store.clone()),
            Options::default(),
            true,
        )
        .unwrap();
        let client = sim.client().clone();
        let settings =
            ConnectionSettings::at(&client.client_id, &client.redirect_uris[0], sim.api_url(), sim.auth_url());
        let start = d.setup_with(Some("demo"), settings, SecretString::from(client.client_secret)).await.unwrap();
        d.finish_sign_in(&redirect_of(&start.authorize_url).await).await.unwrap();
        d.set_favorite("demo", LAMP, true).unwrap();
        (sim, dir, d, store)
    }

    async fn old_state_is_whole(d: &Desktop, config_before: &Config, items_before: &[(String, String)]) {
        assert_eq!(&Config::load(&d.paths).unwrap(), config_before);
        assert_eq!(items(&d.vault, &["demo", "cabin"]).await, items_before);
        assert!(DesktopSettings::load(&d.paths).unwrap().prefs("demo").favorites.contains(LAMP));
        assert_eq!(d.connection_names(), ["demo"]);
        d.token_for_copy("demo").await.unwrap();
    }

    #[tokio::test]
    async fn a_refused_vault_write_leaves_the_old_name_whole() {
        let (_sim, _dir, d, store) = with_refusing_vault().await;
        let config = Config::load(&d.paths).unwrap();
        let before = items(&d.vault, &["demo"]).await;
        // The first item copies, the second is refused: the copy is undone.
        *store.refuse.lock().unwrap() = Some("cabin/client-secret".into());
        assert_eq!(d.rename_connection("demo", "cabin").await.unwrap_err().code(), "io");
        old_state_is_whole(&d, &config, &before).await;
    }

    /// Issue 25, item 8: the undo wrote back the settings as read at the start, so a
    /// connection another process added meanwhile was lost.
    #[tokio::test]
    async fn a_failed_rename_keeps_a_connection_added_meanwhile() {
        let (sim, _dir, d, store) = with_refusing_vault().await;
        let paths = d.paths.clone();
        let client = sim.client().clone();
        // Another process adds `attic` while the rename copies the secrets.
        *store.during_set.lock().unwrap() = Some(Box::new(move || {
            let s = ConnectionSettings::at(
                &client.client_id,
                &client.redirect_uris[0],
                "http://127.0.0.1:9/v1",
                "http://127.0.0.1:9/oauth",
            );
            Config::update(&paths, |c| {
                c.connections.insert("attic".into(), s);
                Ok(())
            })
            .unwrap();
        }));
        let file = DesktopSettings::file(&d.paths);
        let saved = std::fs::read_to_string(&file).unwrap();
        std::fs::remove_file(&file).unwrap();
        std::fs::create_dir_all(file.join("blocker")).unwrap();
        assert!(d.rename_connection("demo", "cabin").await.is_err());
        std::fs::remove_dir_all(&file).unwrap();
        std::fs::write(&file, saved).unwrap();
        let config = Config::load(&d.paths).unwrap();
        assert!(config.connections.contains_key("attic"), "the connection added meanwhile is kept");
        assert!(
            config.connections.contains_key("demo") && !config.connections.contains_key("cabin"),
            "the rename is undone"
        );
    }

    #[tokio::test]
    async fn a_failed_prefs_write_undoes_the_config_and_the_copies() {
        let (_sim, _dir, d, _store) = with_refusing_vault().await;
        let config = Config::load(&d.paths).unwrap();
        let before = items(&d.vault, &["demo"]).await;
        // desktop.toml can't be replaced while a directory sits in its place.
        let file = DesktopSettings::file(&d.paths);
        let saved = std::fs::read_to_string(&file).unwrap();
        std::fs::remove_file(&file).unwrap();
        std::fs::create_dir_all(file.join("blocker")).unwrap();
        assert!(d.rename_connection("demo", "cabin").await.is_err());
        std::fs::remove_dir_all(&file).unwrap();
        std::fs::write(&file, saved).unwrap();
        old_state_is_whole(&d, &config, &before).await;
        // And with the obstacle gone it works.
        d.rename_connection("demo", "cabin").await.unwrap();
        assert!(d.settings().prefs("cabin").favorites.contains(LAMP));
    }
}
