//! A token service over the store: the core's [`Session`] for each row, built when first
//! asked for and kept while in use; sign-ins any replica starts or finishes; ST Schema
//! grants; the settings (`setup`) every replica reads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use thingstray::config::ConnectionSettings;
use thingstray::error::{Error, Result};
use thingstray::oauth::{OAuthClient, SignIn, SIGN_IN_LIFETIME};
use thingstray::schema::{CallbackHosts, SchemaClient};
use thingstray::serve::ServerSecret;
use thingstray::session::{RefreshLock, Session, SessionOptions};
use thingstray::vault::Vault;

use crate::db::Store;
use crate::pair::RowPair;
use crate::rows::NewSession;

/// The settings rows `thingstray --store URL setup` writes.
pub const APP: &str = "app";
pub const CONNECTOR: &str = "connector";
pub const SERVICE_SECRET: &str = "service-secret";

/// A cached session unused this long is dropped (memory stays bounded by what is in use).
pub const IDLE: Duration = Duration::from_secs(10 * 60);

/// The ST Schema connector the service keeps callback tokens for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Connector {
    pub client_id: String,
}

#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    http: reqwest::Client,
    opts: SessionOptions,
    hosts: CallbackHosts,
    app: Option<OAuthClient>,
    connector: Option<(Connector, SecretString)>,
    secret: ServerSecret,
    /// Never read: a store session's pair lives in its row. The core's session wants one
    /// for the kinds that keep items beside the pair (paired computers).
    vault: Vault,
    cache: Mutex<HashMap<String, Cached>>,
    /// Sessions with a flush task running (see [`Service::keep_unsaved`]).
    flushing: Mutex<std::collections::HashSet<String>>,
}

struct Cached {
    session: Session,
    /// The row's version when the session last read it.
    version: i64,
    used: Instant,
}

/// What a started sign-in gives the operator's app: where to send the user.
#[derive(Debug, Serialize)]
pub struct StartedSignIn {
    pub authorize_url: String,
    /// Unix seconds.
    pub expires_at: u64,
}

/// A finished sign-in: the session it made and the sessions of the same location it
/// replaced (SmartThings ended them).
#[derive(Debug, Serialize)]
pub struct SignedIn {
    pub id: String,
    pub location_id: Option<String>,
    pub replaced: Vec<String>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Service {
    /// Reads the settings from the store. `hosts`: where ST Schema grants may send the
    /// connector's secret (SmartThings only, unless loopback is allowed for tests).
    pub async fn start(
        store: Store,
        http: reqwest::Client,
        opts: SessionOptions,
        hosts: CallbackHosts,
    ) -> Result<Service> {
        let app = match (store.setting(APP).await?, store.secret(APP).await?) {
            (Some(json), Some(secret)) => {
                let settings: ConnectionSettings = serde_json::from_str(&json)
                    .map_err(|e| Error::InvalidSetting { field: "app".into(), why: e.to_string() })?;
                Some(OAuthClient::new(&settings, &secret, http.clone())?)
            }
            _ => None,
        };
        let connector = match (store.setting(CONNECTOR).await?, store.secret(CONNECTOR).await?) {
            (Some(json), Some(secret)) => {
                let c: Connector = serde_json::from_str(&json)
                    .map_err(|e| Error::InvalidSetting { field: "connector".into(), why: e.to_string() })?;
                Some((c, secret))
            }
            _ => None,
        };
        let secret = ServerSecret::from_secret(
            store
                .secret_or_create(SERVICE_SECRET, || SecretString::from(ServerSecret::generate().expose().to_string()))
                .await?,
        );
        Ok(Service {
            inner: Arc::new(Inner {
                store,
                http,
                opts,
                hosts,
                app,
                connector,
                secret,
                vault: Vault::memory(),
                cache: Mutex::default(),
                flushing: Mutex::default(),
            }),
        })
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn secret(&self) -> &ServerSecret {
        &self.inner.secret
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    fn app(&self) -> Result<&OAuthClient> {
        self.inner.app.as_ref().ok_or_else(|| Error::InvalidSetting {
            field: "app".into(),
            why: "the store has no OAuth-In app yet: run `thingstray --store URL setup` first".into(),
        })
    }

    /// The session of row `id`: cached, or built from the row. Each call asks the row's
    /// version (one primary-key read): a row another replica deleted (an uninstall, a
    /// newer sign-in of the location) is never served again, and a pair another replica
    /// rotated is read before use. A replica cut off from the database serves what it
    /// holds (its session hands out a still-valid token and refuses to refresh).
    pub async fn session(&self, id: &str) -> Result<Session> {
        let now = Instant::now();
        let cached = lock(&self.inner.cache).get_mut(id).map(|c| {
            c.used = now;
            (c.session.clone(), c.version)
        });
        if let Some((session, _)) = &cached {
            if self.inner.store.recently_unreachable() {
                return Ok(session.clone());
            }
        }
        let version = match self.inner.store.session_version(id).await {
            Ok(Some(v)) => v,
            Ok(None) => {
                lock(&self.inner.cache).remove(id);
                return Err(Error::UnknownConnection { name: id.to_string(), known: String::new() });
            }
            Err(e @ Error::StoreUnavailable { .. }) => {
                return match cached {
                    Some((session, _)) => {
                        tracing::debug!(session = %id, "the store does not answer; serving what this replica holds");
                        Ok(session)
                    }
                    None => Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        if let Some((session, seen)) = cached {
            if seen != version {
                // Another replica (or this one) wrote the row: the row is the truth. If
                // it cannot be read right now, what this replica holds still serves (the
                // session re-reads under the row's lock before any refresh).
                if let Err(e) = session.load().await {
                    if matches!(e, Error::StoreUnavailable { .. }) {
                        return Ok(session);
                    }
                    return Err(e);
                }
                if let Some(c) = lock(&self.inner.cache).get_mut(id) {
                    c.version = version;
                }
            }
            return Ok(session);
        }
        let (row, urls) = self
            .inner
            .store
            .session_row(id)
            .await?
            .ok_or_else(|| Error::UnknownConnection { name: id.to_string(), known: String::new() })?;
        let lock_ = RefreshLock::shared(RowPair::new(self.inner.store.clone(), id));
        let clock = self.inner.store.clock();
        let vault = self.inner.vault.clone();
        let opts = self.inner.opts.clone();
        let session = match row.kind.as_str() {
            "schema" => {
                let (connector, secret) = self.inner.connector.as_ref().ok_or_else(|| Error::InvalidSetting {
                    field: "connector".into(),
                    why: "the store has no ST Schema connector: run `thingstray --store URL setup --schema`".into(),
                })?;
                let urls = urls.ok_or_else(|| Error::VaultCorrupt {
                    key: format!("sessions/{id}"),
                    detail: "no callbackUrls".into(),
                })?;
                let settings =
                    ConnectionSettings {
                        schema: Some(serde_json::from_str(&urls).map_err(|e| Error::VaultCorrupt {
                            key: format!("sessions/{id}"),
                            detail: e.to_string(),
                        })?),
                        ..ConnectionSettings::new(connector.client_id.clone(), "")
                    };
                let client = SchemaClient::new(&settings, secret, self.inner.http.clone())?;
                Session::schema(id, client, vault, lock_, clock, opts)
            }
            _ => Session::new(id, self.app()?.clone(), vault, lock_, clock, opts),
        };
        session.load().await?;
        let mut cache = lock(&self.inner.cache);
        let entry = cache.entry(id.to_string()).or_insert(Cached { session, version, used: now });
        Ok(entry.session.clone())
    }

    /// After a session's call failed and the session holds a new pair SmartThings issued
    /// that the row could not take (the database went away while the refresh was in
    /// flight): that pair is the only live one. Keep trying to store it
    /// from now on, not only when someone next asks for this session: the sooner the row
    /// has it, the shorter the time another replica could spend the dead one.
    pub fn keep_unsaved(&self, id: &str, session: &Session) {
        if !lock(&self.inner.flushing).insert(id.to_string()) {
            return;
        }
        let (service, id, session) = (self.clone(), id.to_string(), session.clone());
        tokio::spawn(async move {
            // Never given up: that pair is the session.
            while let Err(e) = session.flush(Duration::from_secs(15 * 60)).await {
                tracing::error!(session = %id, code = e.code(), "a new token pair is still not stored after 15 minutes; trying on");
            }
            tracing::debug!(session = %id, "every pair of this session is stored");
            lock(&service.inner.flushing).remove(&id);
        });
    }

    /// Before this replica exits: stores every pair the store has not taken yet, trying
    /// for at most `within`. The ids of sessions whose new pair dies with the process.
    pub async fn flush_all(&self, within: Duration) -> Vec<String> {
        let unsaved: Vec<(String, Session)> = lock(&self.inner.cache)
            .iter()
            .filter(|(_, c)| c.session.has_unsaved())
            .map(|(id, c)| (id.clone(), c.session.clone()))
            .collect();
        let mut lost = Vec::new();
        for (id, session) in unsaved {
            if let Err(e) = session.flush(within).await {
                tracing::error!(session = %id, code = e.code(), "exiting with a new token pair the store did not take");
                lost.push(id);
            }
        }
        lost
    }

    /// Drops cached sessions nobody used for [`IDLE`].
    pub fn evict_idle(&self) -> usize {
        let now = Instant::now();
        let mut cache = lock(&self.inner.cache);
        let before = cache.len();
        // A session holding a pair the store has not taken stays: it is the only copy.
        cache.retain(|_, c| now.duration_since(c.used) < IDLE || c.session.has_unsaved());
        before - cache.len()
    }

    pub fn cached_sessions(&self) -> usize {
        lock(&self.inner.cache).len()
    }

    /// Forgets a session here and in the store.
    pub async fn forget(&self, id: &str) -> Result<bool> {
        lock(&self.inner.cache).remove(id);
        self.inner.store.delete_session(id).await
    }

    /// An uninstall: for an OAuth-In session, first the installed app at SmartThings
    /// (with the session's own token; an installed app SmartThings no longer has, or a
    /// session already ended, counts as done), then the row. When SmartThings cannot be
    /// reached the row stays, so the uninstall can be asked again.
    pub async fn uninstall(&self, id: &str) -> Result<bool> {
        let Some((row, _)) = self.inner.store.session_row(id).await? else { return Ok(false) };
        if row.kind == "oauth" && row.status == "active" {
            let app = self.app()?;
            let api =
                thingstray::api::Api::new(self.session(id).await?, self.inner.http.clone(), &app.settings().api_url)?;
            match api.uninstall(id).await {
                Ok(()) => tracing::info!(session = %id, "uninstalled at SmartThings"),
                Err(e) if e.needs_sign_in() || matches!(e, Error::Api { status: 404, .. } | Error::Unauthorized) => {
                    tracing::info!(session = %id, code = e.code(), "SmartThings no longer has it")
                }
                Err(e) => return Err(e),
            }
        }
        self.forget(id).await
    }

    /// Starts a sign-in for a user: kept in the store (sealed), so whichever replica the
    /// browser comes back to finishes it.
    pub async fn start_sign_in(&self, name: Option<&str>) -> Result<StartedSignIn> {
        let sign_in = self.app()?.begin_sign_in();
        let state = state_of(sign_in.authorize_url())?;
        let expires = self.inner.store.now() + SIGN_IN_LIFETIME;
        self.inner.store.put_sign_in(&state, &sign_in.export(), name, expires).await?;
        Ok(StartedSignIn {
            authorize_url: sign_in.authorize_url().to_string(),
            expires_at: thingstray::clock::unix_ms(expires) / 1000,
        })
    }

    /// Finishes a sign-in from the redirect SmartThings sent the browser to (the whole
    /// URL, or its query). The state is used once; the pair is stored before anything
    /// else; then the location is learnt and the location's older sign-in removed.
    pub async fn finish_sign_in(&self, callback: &str) -> Result<SignedIn> {
        let app = self.app()?;
        let state = match thingstray::oauth::Callback::parse(callback)? {
            thingstray::oauth::Callback::Code { state, .. } | thingstray::oauth::Callback::Refused { state, .. } => {
                state
            }
        }
        .ok_or(Error::StateMismatch)?;
        // From the exchange to the committed pair, one sign-in at a time (rows.rs).
        let turn = self.inner.store.sign_in_turn().await?;
        let (exported, name) =
            self.inner.store.take_sign_in(&state, self.inner.store.now()).await?.ok_or(Error::NoSignInPending)?;
        let sign_in = SignIn::import(&exported)?;
        let code = sign_in.accept(callback)?;
        let tokens = app.exchange(&sign_in, code, self.inner.store.now()).await?;
        let id = tokens.installed_app_id.clone().ok_or_else(|| Error::BadPayload {
            detail: "the token answer had no installed_app_id, so the session has no id to be kept under".into(),
        })?;
        let mut replaced = self
            .put_new(NewSession {
                id: &id,
                kind: "oauth",
                name: name.as_deref(),
                location_id: None,
                schema_urls: None,
                tokens: &tokens,
            })
            .await?;
        drop(turn);
        lock(&self.inner.cache).remove(&id);
        let location_id = match self.learn_location(&id).await {
            Ok((loc, gone)) => {
                replaced.extend(gone);
                loc
            }
            Err(e) => {
                tracing::warn!(session = %id, code = e.code(), "signed in; the location is not known yet (asked again at its next refresh)");
                None
            }
        };
        self.forget_replaced(&replaced, &id);
        tracing::info!(session = %id, "signed in");
        Ok(SignedIn { id, location_id, replaced })
    }

    /// Asks SmartThings where an OAuth-In session is signed in and records it, ending the
    /// location's other sessions (one sign-in per app and location). Returns the location
    /// and the sessions it replaced.
    async fn learn_location(&self, id: &str) -> Result<(Option<String>, Vec<String>)> {
        let app = self.app()?;
        let api = thingstray::api::Api::new(self.session(id).await?, self.inner.http.clone(), &app.settings().api_url)?;
        let Some(loc) = api.installed_app_location(id).await? else { return Ok((None, Vec::new())) };
        let replaced = self.inner.store.locate_session(id, &loc).await?;
        Ok((Some(loc), replaced))
    }

    /// For the scheduler, after the refresh of a session whose location SmartThings did
    /// not say at sign-in (a failed lookup): asks again, so the one-sign-in-per-location
    /// rule sees it.
    pub async fn locate(&self, id: &str) -> Result<()> {
        let (_, replaced) = self.learn_location(id).await?;
        self.forget_replaced(&replaced, id);
        Ok(())
    }

    /// Sessions a newer sign-in of their location replaced: dropped from the cache.
    fn forget_replaced(&self, replaced: &[String], by: &str) {
        for old in replaced {
            lock(&self.inner.cache).remove(old);
            tracing::info!(session = %old, replaced_by = %by, "a newer sign-in of the same location replaced this session");
        }
    }

    /// Stores a session's first pair. The code it came from is spent: a store that does
    /// not answer (a refresh of the same row holding its lock, a database restarting) is
    /// tried again for two minutes rather than losing the pair at the first refusal.
    async fn put_new(&self, s: NewSession<'_>) -> Result<Vec<String>> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        let mut pause = Duration::from_millis(100);
        loop {
            match self.inner.store.put_session(NewSession { ..s }).await {
                Err(e @ Error::StoreUnavailable { .. }) if tokio::time::Instant::now() + pause < deadline => {
                    tracing::warn!(session = %s.id, code = e.code(), "a new session's pair is not stored yet; trying again");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
                done => return done,
            }
        }
    }

    /// Keeps an ST Schema installation's callback tokens from its `grantCallbackAccess`
    /// (forwarded by the connector) under `id`, the connector's name for the installation.
    pub async fn keep_grant(&self, id: &str, raw: &str) -> Result<()> {
        let (connector, secret) = self.inner.connector.as_ref().ok_or_else(|| Error::InvalidSetting {
            field: "connector".into(),
            why: "the store has no ST Schema connector: run `thingstray --store URL setup --schema`".into(),
        })?;
        let grant = thingstray::schema::parse_grant(raw, &connector.client_id, self.inner.hosts)?;
        let settings = ConnectionSettings {
            schema: Some(grant.urls.clone()),
            ..ConnectionSettings::new(grant.client_id.clone(), "")
        };
        let client = SchemaClient::new(&settings, secret, self.inner.http.clone())?;
        let urls = serde_json::to_string(&grant.urls).map_err(|e| Error::BadPayload { detail: e.to_string() })?;
        let tokens = client.exchange(&grant.code, self.inner.store.now()).await?;
        self.put_new(NewSession {
            id,
            kind: "schema",
            name: None,
            location_id: None,
            schema_urls: Some(&urls),
            tokens: &tokens,
        })
        .await?;
        lock(&self.inner.cache).remove(id);
        tracing::info!(session = %id, "kept an ST Schema installation's callback tokens");
        Ok(())
    }
}

/// The `state` of an authorize URL we just built.
fn state_of(url: &url::Url) -> Result<String> {
    url.query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| Error::BadPayload { detail: "the authorize URL has no state".into() })
}

/// Unix seconds of a time, for answers.
pub fn unix(t: SystemTime) -> u64 {
    thingstray::clock::unix_ms(t) / 1000
}

/// `thingstray --store URL setup`: the OAuth-In app every replica signs users in with.
/// Replicas read it when they start.
pub async fn configure_app(store: &Store, settings: &ConnectionSettings, secret: &SecretString) -> Result<()> {
    settings.validate()?;
    let json = serde_json::to_string(settings).map_err(|e| Error::BadPayload { detail: e.to_string() })?;
    store.put_setting(APP, Some(&json), Some(secret)).await
}

/// `thingstray --store URL setup --schema`: the ST Schema connector whose installations'
/// callback tokens the service keeps.
pub async fn configure_connector(store: &Store, client_id: &str, secret: &SecretString) -> Result<()> {
    if client_id.trim().is_empty() {
        return Err(Error::InvalidSetting { field: "client_id".into(), why: "give the connector's client id".into() });
    }
    let json = serde_json::to_string(&Connector { client_id: client_id.trim().to_string() })
        .map_err(|e| Error::BadPayload { detail: e.to_string() })?;
    store.put_setting(CONNECTOR, Some(&json), Some(secret)).await
}
