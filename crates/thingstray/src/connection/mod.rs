//! A configured connection, ready to use: settings, session and API, assembled the same
//! way for the desktop app, the CLI and the token server.
//!
//! The ways to make one: a sign-in ([`Connection::finish_sign_in`]), an invite redeemed
//! ([`paired::connect`]), a connector's grant kept ([`schema::keep`]).

pub(crate) mod hand_over;
pub mod paired;
pub mod schema;

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;

use crate::api::Api;
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, ConnectionSettings, Paths};
use crate::error::{Error, Result};
use crate::oauth::{OAuthClient, SignIn};
use crate::session::{RefreshLock, Session, SessionOptions};
use crate::share::{Credentials, ShareClient};
use crate::vault::Vault;

#[derive(Clone, Debug)]
pub struct Connection {
    pub name: String,
    pub settings: ConnectionSettings,
    pub session: Session,
    pub api: Api,
}

/// How to build connections: which clock, which session tuning, which HTTP timeout.
/// Production uses the defaults; tests speed time up.
#[derive(Clone)]
pub struct Options {
    pub clock: Arc<dyn Clock>,
    pub session: SessionOptions,
    pub request_timeout: Duration,
    /// Certificate authorities to trust besides the public ones; `None`: what
    /// `THINGSTRAY_CA_FILE` names (see [`crate::http::ExtraRoots`]). Tests set it rather
    /// than the process environment.
    pub extra_roots: Option<crate::http::ExtraRoots>,
}

impl Options {
    /// The HTTP client a connection talks to SmartThings with.
    pub(crate) fn http_client(&self) -> Result<reqwest::Client> {
        match &self.extra_roots {
            Some(roots) => crate::http::client_with(self.request_timeout, roots),
            None => crate::http::client(self.request_timeout),
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            clock: Arc::new(SystemClock),
            session: SessionOptions::default(),
            request_timeout: crate::http::REQUEST_TIMEOUT,
            extra_roots: None,
        }
    }
}

impl Connection {
    /// Opens a configured connection (`name`, else the default one) and loads its tokens.
    pub async fn open(paths: &Paths, name: Option<&str>) -> Result<Connection> {
        let config = Config::load(paths)?;
        let vault = Vault::open(&config, paths)?;
        Connection::open_with(paths, &config, vault, name, Options::default()).await
    }

    pub async fn open_with(
        paths: &Paths,
        config: &Config,
        vault: Vault,
        name: Option<&str>,
        opts: Options,
    ) -> Result<Connection> {
        let (name, _) = config.connection(name)?;
        // A hand-over this computer left half done is finished first (hand_over.rs).
        let settled = match hand_over::settle(paths, &vault, &name, opts.session.lock_timeout).await {
            Ok(changed) => changed,
            Err(e) => {
                tracing::warn!(connection = %name, code = e.code(), "could not finish the hand-over left half done: {e}");
                false
            }
        };
        let reloaded;
        let config = if settled {
            reloaded = Config::load(paths)?;
            &reloaded
        } else {
            config
        };
        let (name, settings) = config.connection(Some(&name))?;
        let conn = Connection::assemble_any(paths, name, settings, vault, opts).await?;
        // Handing the session over and waiting for the new owner's word: never refreshed
        // here again, whatever the settings still say.
        if let Ok(Some(record)) = conn.session.refresh_lock().record() {
            if let Some(e @ Error::HandingOver { .. }) = crate::session::record::forbids_refresh(&record) {
                conn.session.retire(e);
            }
        }
        Ok(conn)
    }

    async fn assemble_any(
        paths: &Paths,
        name: String,
        settings: &ConnectionSettings,
        vault: Vault,
        opts: Options,
    ) -> Result<Connection> {
        if let Some(with) = &settings.paired {
            let creds = crate::share::pairing::credentials(&vault, &name, with).await?;
            return Connection::assemble_paired(paths, name, settings.clone(), creds, vault, opts).await;
        }
        let secret = vault.client_secret(&name).await?.ok_or_else(|| Error::SecretMissing {
            connection: name.clone(),
            item: "client secret",
            fix: "run `thingstray setup` again (or Settings -> App -> New client secret)".into(),
        })?;
        if settings.schema.is_some() {
            return Connection::assemble_schema(paths, name, settings.clone(), &secret, vault, opts).await;
        }
        Connection::assemble(paths, name, settings.clone(), &secret, vault, opts).await
    }

    async fn assemble(
        paths: &Paths,
        name: String,
        settings: ConnectionSettings,
        secret: &SecretString,
        vault: Vault,
        opts: Options,
    ) -> Result<Connection> {
        let http = opts.http_client()?;
        let oauth = OAuthClient::new(&settings, secret, http.clone())?;
        let session = Session::new(name.clone(), oauth, vault, lock(paths, &name), opts.clock, opts.session);
        session.load().await?;
        let api = Api::new(session.clone(), http, &settings.api_url)?;
        Ok(Connection { name, settings, session, api })
    }

    /// An ST Schema connector's callback tokens. Its `api` points at SmartThings' REST API
    /// like the others, but a callback token is not accepted there: only `stateCallback`
    /// and discovery callbacks take it.
    async fn assemble_schema(
        paths: &Paths,
        name: String,
        settings: ConnectionSettings,
        secret: &SecretString,
        vault: Vault,
        opts: Options,
    ) -> Result<Connection> {
        let http = opts.http_client()?;
        let client = crate::schema::SchemaClient::new(&settings, secret, http.clone())?;
        let session = Session::schema(name.clone(), client, vault, lock(paths, &name), opts.clock, opts.session);
        session.load().await?;
        let api = Api::new(session.clone(), http, &settings.api_url)?;
        Ok(Connection { name, settings, session, api })
    }

    async fn assemble_paired(
        paths: &Paths,
        name: String,
        settings: ConnectionSettings,
        creds: Credentials,
        vault: Vault,
        opts: Options,
    ) -> Result<Connection> {
        let client = ShareClient::for_credentials(&creds)?;
        let http = opts.http_client()?;
        let lock = lock(paths, &name);
        let owner = crate::session::Paired { client, creds, location_id: settings.location_id.clone() };
        let session = Session::paired(name.clone(), owner, vault, lock, opts.clock, opts.session);
        session.load().await?;
        let api = Api::new(session.clone(), http, &settings.api_url)?;
        Ok(Connection { name, settings, session, api })
    }

    /// Saves a new or changed connection: settings to the config file, the secret to the
    /// vault. Tokens and other connections are untouched.
    pub async fn save(
        paths: &Paths,
        vault: &Vault,
        name: &str,
        settings: ConnectionSettings,
        secret: Option<SecretString>,
    ) -> Result<()> {
        settings.validate()?;
        if let Some(secret) = secret {
            vault.store_client_secret(name, secret).await?;
        }
        Config::update(paths, |config| {
            if config.connections.is_empty() && config.default_connection.is_none() {
                config.default_connection = Some(name.to_string());
            }
            config.connections.insert(name.to_string(), settings);
            Ok(())
        })
    }

    /// The owner's name when this connection is paired with another computer.
    pub fn owner(&self) -> Option<&str> {
        self.settings.owner()
    }

    /// Starts a sign-in; a paired connection has none of its own (its owner signs in).
    pub fn begin_sign_in(&self) -> Result<SignIn> {
        Ok(self.session.oauth()?.begin_sign_in())
    }

    /// Finishes a sign-in with whatever came back (URL, query, bare code): checks it,
    /// exchanges the code, stores the tokens, and records the location in the settings.
    pub async fn finish_sign_in(&self, paths: &Paths, sign_in: &SignIn, answer: &str) -> Result<()> {
        let code = sign_in.accept(answer)?;
        let tokens = self.session.oauth()?.exchange(sign_in, code, self.session.now()).await?;
        let installed_app_id = tokens.installed_app_id.clone();
        match self.other_holder(paths, installed_app_id.as_deref()) {
            // SmartThings has just ended the holder's refresh token in favour of this pair
            // (one sign-in per app and location). The pair goes to the holder, which lives
            // on; this connection stays as it was.
            Some((holder, false)) => {
                self.session.vault().store_tokens(&holder, &tokens).await?;
                tracing::warn!(connection = %self.name, %holder, "this sign-in is another connection's; handed to it");
                return Err(Error::AlreadyConnected { connection: self.name.clone(), holder });
            }
            // The holder is paired: its owner's session is the one SmartThings just ended,
            // and a paired connection cannot keep a pair (it has no client secret, and its
            // processes ask the owner). The only live pair stays here, where it was made.
            Some((holder, true)) => {
                tracing::warn!(
                    connection = %self.name, %holder,
                    "this sign-in is for the location `{holder}` is paired for: its owner's session has just ended; this connection holds the sign-in now"
                );
            }
            None => {}
        }
        self.session.adopt(tokens).await?;
        self.remember_location(paths, installed_app_id).await;
        Ok(())
    }

    /// Another connection of these settings that holds this sign-in (the same installed
    /// app: SmartThings gives one per app and location), and whether it is paired.
    fn other_holder(&self, paths: &Paths, installed_app_id: Option<&str>) -> Option<(String, bool)> {
        let installed_app_id = installed_app_id?;
        let config = Config::load(paths).ok()?;
        config
            .connections
            .iter()
            .find(|(name, s)| *name != &self.name && s.installed_app_id.as_deref() == Some(installed_app_id))
            .map(|(name, s)| (name.clone(), s.paired.is_some()))
    }

    /// Best effort: the location's id and name make the UI friendlier, nothing depends on it.
    pub(crate) async fn remember_location(&self, paths: &Paths, installed_app_id: Option<String>) {
        let mut location_id = None;
        if let Some(ia) = &installed_app_id {
            location_id = self.api.installed_app_location(ia).await.ok().flatten();
        }
        let locations = self.api.locations().await.unwrap_or_default();
        let location = match &location_id {
            Some(id) => locations.into_iter().find(|l| &l.id == id),
            None => locations.into_iter().next(),
        };
        let recorded = Config::update(paths, |config| {
            if let Some(c) = config.connections.get_mut(&self.name) {
                c.installed_app_id = installed_app_id;
                if let Some(l) = location {
                    c.location_id = Some(l.id);
                    c.location_name = Some(l.name);
                }
            }
            Ok(())
        });
        if let Err(e) = recorded {
            tracing::warn!(code = e.code(), "could not record the location in the settings");
        }
    }
}

/// A connection's refresh lock, fenced by its hand-over record.
fn lock(paths: &Paths, name: &str) -> RefreshLock {
    RefreshLock::new(paths.lock_file(name)).with_record(paths.hand_over_record(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two writers of the settings at once (the desktop and `thingstray setup`, say), each
    /// adding its own connections: none is lost.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_saves_lose_no_connection() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::at(dir.path());
        let vault = Vault::memory();
        let writers: Vec<_> = ["home", "cabin"]
            .into_iter()
            .map(|prefix| {
                let (paths, vault) = (paths.clone(), vault.clone());
                tokio::spawn(async move {
                    for i in 0..40 {
                        let settings = ConnectionSettings::new(
                            "8f3b7a52-1c4e-4d2a-9b7e-3e5f0a9c6d14",
                            crate::config::DEFAULT_REDIRECT_URI,
                        );
                        Connection::save(&paths, &vault, &format!("{prefix}-{i}"), settings, None).await.unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.await.unwrap();
        }
        assert_eq!(Config::load(&paths).unwrap().connections.len(), 80);
    }
}
