//! The simulated account's apps (SmartThings' "apps"), each an OAuth-In client: its
//! client id and secret, the scopes it may ask for and the redirect URIs it may use.
//! The authorize and token endpoints look clients up here, so an app made with
//! `POST /apps` signs in at once, and a changed redirect URI or a new secret counts from
//! the next request on. The rules of the HTTP calls are in `api_apps.rs`.

use serde_json::{json, Value};

use crate::app_rules::{NewApp, OAuthSettings};
use crate::clock::iso8601;
use crate::ids::uuid;

/// The simulated Samsung account's id, the `ownerId` of every app and installed app.
pub(crate) const OWNER_ID: &str = "3c19270b-fca6-5cde-82bc-86a37e52cfa8";

/// One app of the account.
#[derive(Debug, Clone)]
pub(crate) struct RegisteredApp {
    pub app_id: String,
    pub app_name: String,
    pub display_name: String,
    pub description: String,
    pub single_instance: bool,
    pub classifications: Vec<String>,
    pub principal_type: String,
    pub icon_url: Option<String>,
    pub target_url: Option<String>,
    pub oauth: OAuthSettings,
    pub client_id: String,
    pub client_secret: String,
    pub created_ms: u64,
    pub updated_ms: u64,
}

/// Why a create was refused after its body passed the rules.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CreateError {
    /// `appName` is already used (by any app: names are global).
    NameTaken,
    /// The account already holds `max_apps` apps.
    Limit(usize),
}

#[derive(Debug)]
pub(crate) struct AppStore {
    apps: Vec<RegisteredApp>,
    max_apps: usize,
}

impl AppStore {
    pub(crate) fn new(max_apps: usize) -> AppStore {
        AppStore { apps: Vec::new(), max_apps }
    }

    /// Adds an app as it is, without the HTTP rules (the configured `SimConfig::client`).
    pub(crate) fn seed(&mut self, app: RegisteredApp) {
        self.apps.push(app);
    }

    /// `POST /apps` after its body passed the rules: a new app with a fresh client.
    pub(crate) fn create(&mut self, new: NewApp, now_ms: u64) -> Result<RegisteredApp, CreateError> {
        if self.apps.len() >= self.max_apps {
            return Err(CreateError::Limit(self.max_apps));
        }
        if self.apps.iter().any(|a| a.app_name == new.app_name) {
            return Err(CreateError::NameTaken);
        }
        let app = RegisteredApp {
            app_id: uuid(),
            app_name: new.app_name,
            display_name: new.display_name,
            description: new.description,
            single_instance: new.single_instance,
            classifications: new.classifications,
            principal_type: new.principal_type,
            icon_url: new.icon_url,
            target_url: new.target_url,
            oauth: new.oauth,
            client_id: uuid(),
            client_secret: uuid(),
            created_ms: now_ms,
            updated_ms: now_ms,
        };
        self.apps.push(app.clone());
        Ok(app)
    }

    pub(crate) fn all(&self) -> &[RegisteredApp] {
        &self.apps
    }

    /// By `appId` or `appName`, as every `/apps/{appNameOrId}` route takes either.
    pub(crate) fn find(&self, name_or_id: &str) -> Option<&RegisteredApp> {
        self.apps.iter().find(|a| a.app_id == name_or_id || a.app_name == name_or_id)
    }

    fn find_mut(&mut self, name_or_id: &str) -> Option<&mut RegisteredApp> {
        self.apps.iter_mut().find(|a| a.app_id == name_or_id || a.app_name == name_or_id)
    }

    pub(crate) fn by_app_id(&self, app_id: &str) -> Option<&RegisteredApp> {
        self.apps.iter().find(|a| a.app_id == app_id)
    }

    /// The app whose OAuth client this is (`/oauth/authorize`).
    pub(crate) fn by_client_id(&self, client_id: &str) -> Option<&RegisteredApp> {
        self.apps.iter().find(|a| a.client_id == client_id)
    }

    /// The app these client credentials (HTTP Basic at `/oauth/token`) belong to.
    pub(crate) fn authenticate(&self, client_id: &str, secret: &str) -> Option<&RegisteredApp> {
        self.by_client_id(client_id).filter(|a| a.client_secret == secret)
    }

    /// `PUT /apps/{id}/oauth`: replaces the settings; the client id and secret stay.
    pub(crate) fn set_oauth(&mut self, name_or_id: &str, oauth: OAuthSettings, now_ms: u64) -> Option<RegisteredApp> {
        let app = self.find_mut(name_or_id)?;
        app.oauth = oauth;
        app.updated_ms = now_ms;
        Some(app.clone())
    }

    /// `POST /apps/{id}/oauth/generate`: a new client id AND secret (the old pair stops
    /// working), with the client name and scopes changed when given.
    pub(crate) fn regenerate(
        &mut self,
        name_or_id: &str,
        client_name: Option<String>,
        scopes: Option<Vec<String>>,
        now_ms: u64,
    ) -> Option<RegisteredApp> {
        let app = self.find_mut(name_or_id)?;
        if let Some(n) = client_name {
            app.oauth.client_name = n;
        }
        if let Some(s) = scopes {
            app.oauth.scopes = s;
        }
        app.client_id = uuid();
        app.client_secret = uuid();
        app.updated_ms = now_ms;
        Some(app.clone())
    }

    pub(crate) fn delete(&mut self, name_or_id: &str) -> Option<RegisteredApp> {
        let i = self.apps.iter().position(|a| a.app_id == name_or_id || a.app_name == name_or_id)?;
        Some(self.apps.remove(i))
    }
}

impl RegisteredApp {
    /// `GET /apps/{id}` (`AppResponse`, app_get.json's shape for an API_ONLY app).
    pub(crate) fn json(&self) -> Value {
        let mut v = json!({
            "appName": self.app_name,
            "appId": self.app_id,
            "appType": "API_ONLY",
            "principalType": self.principal_type,
            "classifications": self.classifications,
            "displayName": self.display_name,
            "description": self.description,
            "singleInstance": self.single_instance,
            "iconImage": {"url": self.icon_url},
            "installMetadata": {},
            "owner": {"ownerType": "USER", "ownerId": OWNER_ID},
            "createdDate": iso8601(self.created_ms),
            "lastUpdatedDate": iso8601(self.updated_ms),
            "ui": {"dashboardCardsEnabled": false, "preInstallDashboardCardsEnabled": false},
        });
        if let (Some(url), Some(o)) = (&self.target_url, v.as_object_mut()) {
            o.insert("apiOnly".into(), json!({"subscription": {"targetUrl": url, "targetStatus": "PENDING"}}));
        }
        v
    }

    /// One item of `GET /apps` (`PagedApp`, apps.json's shape).
    pub(crate) fn summary(&self) -> Value {
        let icon = match &self.icon_url {
            Some(url) => json!({"url": url}),
            None => json!({}),
        };
        json!({
            "appName": self.app_name,
            "appId": self.app_id,
            "appType": "API_ONLY",
            "classifications": self.classifications,
            "displayName": self.display_name,
            "description": self.description,
            "iconImage": icon,
            "createdDate": iso8601(self.created_ms),
            "lastUpdatedDate": iso8601(self.updated_ms),
        })
    }

    /// `GET /apps/{id}/oauth` (`AppOAuth`).
    pub(crate) fn oauth_json(&self) -> Value {
        json!({
            "clientName": self.oauth.client_name,
            "scope": self.oauth.scopes,
            "redirectUris": self.oauth.redirect_uris,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_app(name: &str) -> NewApp {
        NewApp {
            app_name: name.into(),
            display_name: "D".into(),
            description: String::new(),
            single_instance: true,
            classifications: vec!["CONNECTED_SERVICE".into()],
            principal_type: "LOCATION".into(),
            icon_url: None,
            target_url: None,
            oauth: OAuthSettings { client_name: "D".into(), scopes: vec![], redirect_uris: vec![] },
        }
    }

    #[test]
    fn names_are_unique_and_the_limit_holds() {
        let mut s = AppStore::new(2);
        let a = s.create(new_app("a"), 0).unwrap();
        assert_eq!(s.create(new_app("a"), 0).unwrap_err(), CreateError::NameTaken);
        s.create(new_app("b"), 0).unwrap();
        assert_eq!(s.create(new_app("c"), 0).unwrap_err(), CreateError::Limit(2));
        assert_eq!(s.find("a").map(|x| x.app_id.clone()), Some(a.app_id.clone()));
        assert!(s.authenticate(&a.client_id, &a.client_secret).is_some());
        let r = s.regenerate(&a.app_id, None, None, 1).unwrap();
        assert_ne!(r.client_id, a.client_id);
        assert_ne!(r.client_secret, a.client_secret);
        assert!(s.by_client_id(&a.client_id).is_none());
        assert!(s.delete("a").is_some());
        assert!(s.find(&a.app_id).is_none());
    }
}
