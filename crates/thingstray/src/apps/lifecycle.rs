//! Create, check, repair and delete a connection's app: the flows the wizard, Settings
//! and `thingstray app` share. Nothing is left half-made: an app created but not saved is
//! deleted again, or its id is in the error so it can be.

use serde::Serialize;

use super::plan::{compare, create_body, repaired, Difference, OAuthSettings};
use super::refusals::refusal;
use super::{app_name, clip_display_name, display_name, AppsClient, Pat};
use crate::config::{
    validate_base_url, validate_connection_name, Config, ConnectionSettings, Paths, DEFAULT_REDIRECT_URI,
};
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::vault::Vault;

/// A name is tried this many times: a random UUID makes a clash all but impossible, but
/// SmartThings' answer to one is cheap to survive.
const NAME_TRIES: usize = 3;

/// What to create. Empty fields take ThingsTray's defaults (SmartThings' addresses, the
/// first free connection name, "ThingsTray (this computer)").
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct NewApp {
    #[serde(default)]
    pub connection: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub api_url: Option<String>,
    #[serde(default)]
    pub auth_url: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Created {
    pub connection: String,
    pub app_id: String,
    pub app_name: String,
    pub display_name: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
}

/// Creates the app for a new connection and saves the connection (settings to the file,
/// the client secret to the vault), ready for its sign-in.
pub async fn create(paths: &Paths, vault: &Vault, pat: Pat, new: NewApp, http: reqwest::Client) -> Result<Created> {
    let config = Config::load(paths)?;
    let name = match new.connection.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => n.to_string(),
        None => config.free_name(),
    };
    validate_connection_name(&name)?;
    if config.connections.contains_key(&name) {
        return Err(Error::InvalidSetting {
            field: "connection".into(),
            why: format!(
                "a connection named `{name}` exists already, with its own app: check or repair that app with `thingstray --connection {name} app check`, or name the new connection otherwise"
            ),
        });
    }
    let mut settings = ConnectionSettings::new("", DEFAULT_REDIRECT_URI);
    for (field, value, target) in
        [("api_url", &new.api_url, &mut settings.api_url), ("auth_url", &new.auth_url, &mut settings.auth_url)]
    {
        if let Some(v) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            validate_base_url(field, v)?;
            *target = v.trim_end_matches('/').to_string();
        }
    }
    let display = match new.display_name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => clip_display_name(n),
        None => display_name(&gethostname::gethostname().to_string_lossy()),
    };
    let client = AppsClient::new(&settings.api_url, pat, http)?;

    let mut tries = 0;
    let made = loop {
        tries += 1;
        let body = create_body(&settings, &display, &app_name(&display, &crate::http::uuid_v4()));
        match client.create(&body).await {
            Err(e) if e.code() == "app_name_taken" && tries < NAME_TRIES => continue,
            other => break other?,
        }
    };
    settings.client_id = made.keys.client_id.clone();
    settings.app_id = Some(made.app_id.clone());
    let created = Created {
        connection: name.clone(),
        app_id: made.app_id.clone(),
        app_name: made.app_name.clone(),
        display_name: display,
        client_id: made.keys.client_id.clone(),
        redirect_uri: settings.redirect_uri.clone(),
        scopes: settings.scopes.clone(),
    };
    if let Err(saving) = Connection::save(paths, vault, &name, settings, Some(made.keys.client_secret)).await {
        // Without its secret the app is useless, and an app that lives on unseen is a
        // sign-in waiting to be confused with ours: take it back.
        return Err(match client.delete(&made.app_id).await {
            Ok(()) => {
                tracing::warn!(code = saving.code(), "the new app could not be saved, so it was deleted again");
                saving
            }
            Err(e) => Error::AppNotSaved {
                app_id: made.app_id,
                detail: saving.to_string(),
                cleanup: format!("deleting it failed too ({})", e.code()),
            },
        });
    }
    tracing::info!(connection = %name, app_id = %created.app_id, "created the OAuth-In app");
    Ok(created)
}

/// The app beside the settings, and what differs.
#[derive(Debug, Clone, Serialize)]
pub struct AppCheck {
    pub connection: String,
    pub app_id: String,
    pub app_name: String,
    pub display_name: String,
    /// ThingsTray's side: what the sign-in sends.
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    /// SmartThings' side: what the app registers.
    pub registered_redirect_uris: Vec<String>,
    pub registered_scopes: Vec<String>,
    pub differences: Vec<Difference>,
    pub matches: bool,
}

/// A connection, its app and the client to reach it.
struct Found {
    name: String,
    settings: ConnectionSettings,
    app_id: String,
    client: AppsClient,
}

/// The app of a connection: the id given, else the one recorded, else the one its sign-in
/// belongs to (`GET /installedapps/{id}`, then recorded).
async fn find(
    paths: &Paths,
    connection: Option<&str>,
    app_id: Option<&str>,
    pat: Pat,
    http: reqwest::Client,
) -> Result<Found> {
    let config = Config::load(paths)?;
    let (name, settings) = config.connection(connection)?;
    let settings = settings.clone();
    if let Some(owner) = settings.owner() {
        return Err(Error::PairedConnection { connection: name, owner: owner.to_string() });
    }
    if settings.schema.is_some() {
        return Err(Error::ConnectionKind {
            connection: name,
            why: "it is an ST Schema connector's; its app is the connector in the Developer Workspace, not an OAuth-In app".into(),
        });
    }
    let client = AppsClient::new(&settings.api_url, pat, http)?;
    let app_id = match (app_id, &settings.app_id, &settings.installed_app_id) {
        (Some(id), ..) => id.trim().to_string(),
        (None, Some(id), _) => id.clone(),
        (None, None, Some(installed)) => client.app_of_installed(installed).await?,
        (None, None, None) => {
            return Err(refusal("app_unknown", format!("`{name}` was set up with an app made elsewhere and has not signed in yet, so ThingsTray does not know that app's id.")))
        }
    };
    if settings.app_id.as_deref() != Some(app_id.as_str()) {
        let recorded = Config::update(paths, |c| {
            if let Some(s) = c.connections.get_mut(&name) {
                s.app_id = Some(app_id.clone());
            }
            Ok(())
        });
        if let Err(e) = recorded {
            tracing::warn!(code = e.code(), "could not record the app's id in the settings");
        }
    }
    Ok(Found { name, settings, app_id, client })
}

async fn look(found: &Found) -> Result<(AppCheck, OAuthSettings)> {
    let app = found.client.app(&found.app_id).await?;
    let oauth = found.client.oauth(&found.app_id).await?;
    let differences = compare(&found.settings, &oauth);
    let check = AppCheck {
        connection: found.name.clone(),
        app_id: found.app_id.clone(),
        app_name: app.app_name,
        display_name: app.display_name,
        redirect_uri: found.settings.redirect_uri.clone(),
        scopes: found.settings.scopes.clone(),
        registered_redirect_uris: oauth.redirect_uris.clone(),
        registered_scopes: oauth.scope.clone(),
        matches: differences.is_empty(),
        differences,
    };
    Ok((check, oauth))
}

/// Reads the app's OAuth settings and compares them with the connection's.
pub async fn check(
    paths: &Paths,
    connection: Option<&str>,
    app_id: Option<&str>,
    pat: Pat,
    http: reqwest::Client,
) -> Result<AppCheck> {
    let found = find(paths, connection, app_id, pat, http).await?;
    Ok(look(&found).await?.0)
}

#[derive(Debug, Clone, Serialize)]
pub struct Repaired {
    /// What was done, one line each (empty: nothing needed doing).
    pub changed: Vec<String>,
    /// A new client id and secret were issued and saved: sign in again.
    pub new_secret: bool,
    /// The app as it is now.
    pub check: AppCheck,
}

/// Fixes what [`check`] finds (adds the redirect URI and the missing scopes) and, with
/// `new_secret`, issues a new client id and secret and saves them (the old sign-in ends:
/// SmartThings makes existing sign-ins of the app authorize again).
pub async fn repair(
    paths: &Paths,
    vault: &Vault,
    connection: Option<&str>,
    app_id: Option<&str>,
    pat: Pat,
    new_secret: bool,
    http: reqwest::Client,
) -> Result<Repaired> {
    let found = find(paths, connection, app_id, pat, http).await?;
    let (before, oauth) = look(&found).await?;
    let mut changed = Vec::new();
    let mut now = oauth.clone();
    if !before.matches {
        now = found.client.set_oauth(&found.app_id, &repaired(&found.settings, &oauth)?).await?;
        changed.extend(before.differences.iter().map(|d| format!("fixed: {}", d.message)));
    }
    if new_secret {
        let keys = found.client.generate(&found.app_id, &now).await?;
        // The old secret is dead from here on: keep the new one before anything else.
        vault.store_client_secret(&found.name, keys.client_secret).await.map_err(|e| {
            refusal(
                "secret_not_kept",
                format!("SmartThings issued a new client secret, but it could not be kept ({e})."),
            )
        })?;
        Config::update(paths, |c| {
            if let Some(s) = c.connections.get_mut(&found.name) {
                s.client_id = keys.client_id.clone();
            }
            Ok(())
        })?;
        changed.push(format!("issued a new client id ({}) and secret, saved; sign in again", keys.client_id));
    }
    let settings = Config::load(paths)?.connections.get(&found.name).cloned().unwrap_or(found.settings.clone());
    let found = Found { settings, ..found };
    let (check, _) = look(&found).await?;
    Ok(Repaired { changed, new_secret, check })
}

#[derive(Debug, Clone, Serialize)]
pub struct Deleted {
    pub app_id: String,
    pub connection: Option<String>,
}

/// Deletes the connection's app (or the app `app_id`, with no connection: `api_url`, or
/// SmartThings). Every sign-in of that app ends; the connection stays until removed.
pub async fn delete(
    paths: &Paths,
    connection: Option<&str>,
    app_id: Option<&str>,
    api_url: Option<&str>,
    pat: Pat,
    http: reqwest::Client,
) -> Result<Deleted> {
    if let (None, Some(id)) = (connection, app_id) {
        let id = id.trim().to_string();
        AppsClient::new(api_url.unwrap_or(crate::config::DEFAULT_API_URL), pat, http)?.delete(&id).await?;
        forget_app(paths, &id);
        return Ok(Deleted { app_id: id, connection: None });
    }
    let found = find(paths, connection, app_id, pat, http).await?;
    found.client.delete(&found.app_id).await?;
    forget_app(paths, &found.app_id);
    Ok(Deleted { app_id: found.app_id, connection: Some(found.name) })
}

/// No connection keeps pointing at a deleted app (best effort: the settings are a cache).
fn forget_app(paths: &Paths, app_id: &str) {
    let done = Config::update(paths, |c| {
        for s in c.connections.values_mut().filter(|s| s.app_id.as_deref() == Some(app_id)) {
            s.app_id = None;
        }
        Ok(())
    });
    if let Err(e) = done {
        tracing::warn!(code = e.code(), "could not forget the deleted app in the settings");
    }
}
