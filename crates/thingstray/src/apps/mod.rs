//! The OAuth-In app itself, made and mended through SmartThings' REST API with a personal
//! access token the user pastes once: `POST /apps` (an `API_ONLY` app with `oauth`),
//! `GET`/`PUT /apps/{id}/oauth`, `POST /apps/{id}/oauth/generate`, `DELETE /apps/{id}`,
//! and `GET /installedapps/{id}` to find the app of an existing sign-in. The same calls
//! smartthings-cli's `apps:*` commands make (smartthings-core-sdk, src/endpoint/apps.ts).
//!
//! The token is used for these calls only: held as a [`Pat`] (wiped when dropped), never
//! stored, logged, or sent anywhere but the API address of the connection.

mod lifecycle;
mod pat;
mod plan;
mod refusals;

use reqwest::header::ACCEPT;
use reqwest::Method;
use secrecy::SecretString;
use serde::Serialize;
use serde_json::Value;
use url::Url;

pub use lifecycle::{check, create, delete, repair, AppCheck, Created, Deleted, NewApp, Repaired};
pub use pat::{Pat, PatBox, PAT_BOXES, PAT_PAGE};
pub use plan::{
    app_name, clip_display_name, compare, display_name, repaired, Difference, OAuthSettings, DISPLAY_NAME_MAX,
    MAX_REDIRECT_URIS,
};

use crate::error::{Error, Result};
use crate::http::{describe_body, rate_limit_wait, read, transport};

const READ: &str = "r:apps:*";
const WRITE: &str = "w:apps:*";
const INSTALLED: &str = "r:installedapps:*";

/// What `POST /apps` and `POST /apps/{id}/oauth/generate` hand back once: the client id
/// and its secret (no other call ever shows the secret again).
pub struct ClientKeys {
    pub client_id: String,
    pub client_secret: SecretString,
}

/// What `POST /apps` answers.
pub struct NewlyCreated {
    pub app_id: String,
    pub app_name: String,
    pub keys: ClientKeys,
}

/// An app as `GET /apps/{id}` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppInfo {
    pub app_id: String,
    pub app_name: String,
    pub display_name: String,
    pub app_type: String,
}

/// SmartThings' app calls, with one personal access token.
pub struct AppsClient {
    http: reqwest::Client,
    base: Url,
    pat: Pat,
}

impl AppsClient {
    pub fn new(api_url: &str, pat: Pat, http: reqwest::Client) -> Result<AppsClient> {
        let mut base =
            Url::parse(api_url).map_err(|e| Error::InvalidSetting { field: "api_url".into(), why: e.to_string() })?;
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        Ok(AppsClient { http, base, pat })
    }

    /// One call; a refusal becomes its own code (refusals.rs). `scope`: what the call
    /// needs, named in a 403; `what`: the object, named in a 404.
    async fn call(&self, method: Method, path: &str, body: Option<&Value>, scope: &str, what: &str) -> Result<Value> {
        let url =
            self.base.join(path).map_err(|e| Error::InvalidSetting { field: "api_url".into(), why: e.to_string() })?;
        let mut req =
            self.http.request(method, url.clone()).bearer_auth(self.pat.expose()).header(ACCEPT, "application/json");
        if let Some(b) = body {
            req = req.json(b);
        }
        let reply = read(req.send().await.map_err(transport)?, url.as_str()).await?;
        let status = reply.status.as_u16();
        if status == 429 {
            return Err(Error::RateLimited {
                retry_after: rate_limit_wait(&reply.headers, &reply.body, std::time::SystemTime::now()),
            });
        }
        if reply.status.is_server_error() {
            return Err(Error::ServerError { status });
        }
        if reply.status.is_success() {
            if reply.body.iter().all(u8::is_ascii_whitespace) {
                return Ok(Value::Null);
            }
            return serde_json::from_slice(&reply.body).map_err(|_| Error::UnexpectedResponse {
                status,
                what: describe_body(&reply.body),
                url: url.to_string(),
            });
        }
        if let Some(e) = refusals::classify(status, &reply.body, scope, what) {
            return Err(e);
        }
        Err(match refusals::ApiError::parse(&reply.body) {
            Some(api) => Error::Api { status, code: api.code.clone(), message: api.said() },
            None => Error::UnexpectedResponse { status, what: describe_body(&reply.body), url: url.to_string() },
        })
    }

    /// `POST /apps`: a new `API_ONLY` app; its client secret is in the answer only.
    pub async fn create(&self, body: &Value) -> Result<NewlyCreated> {
        let v = self.call(Method::POST, "apps", Some(body), WRITE, "app").await?;
        let s = |p: &str| v.pointer(p).and_then(Value::as_str).map(String::from);
        match (s("/app/appId"), s("/oauthClientId"), s("/oauthClientSecret")) {
            (Some(app_id), Some(client_id), Some(secret)) => Ok(NewlyCreated {
                app_name: s("/app/appName").unwrap_or_default(),
                app_id,
                keys: ClientKeys { client_id, client_secret: SecretString::from(secret) },
            }),
            // Created, but without what we need: say which app, so it can be removed.
            (Some(app_id), ..) => Err(Error::AppNotSaved {
                app_id,
                detail: "SmartThings' answer held no OAuth client id and secret".into(),
                cleanup: "it was not deleted".into(),
            }),
            _ => Err(Error::BadPayload { detail: "the new app's answer has no appId".into() }),
        }
    }

    /// A call about one app. SmartThings answers 403 both for a missing scope and for an
    /// app that does not exist (or is another account's), so a 403 is told apart by
    /// listing the account's apps: listed or not, the message then says which it was.
    async fn about(
        &self,
        method: Method,
        app_id: &str,
        tail: &str,
        body: Option<&Value>,
        scope: &str,
    ) -> Result<Value> {
        let what = format!("app `{app_id}`");
        match self.call(method, &format!("apps/{}{tail}", enc(app_id)), body, scope, &what).await {
            Err(e) if e.code() == "pat_missing_scope" => match self.app_ids().await {
                Ok(ids) if !ids.iter().any(|id| id == app_id) => Err(refusals::refusal(
                    "app_not_found",
                    format!(
                        "SmartThings knows no {what} for this token's account (it is not among the account's {} apps).",
                        ids.len()
                    ),
                )),
                _ => Err(e),
            },
            other => other,
        }
    }

    /// The ids of the account's apps (`GET /apps`, every page; at most 100 apps exist).
    pub async fn app_ids(&self) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        let mut path = "apps".to_string();
        for _ in 0..20 {
            let v = self.call(Method::GET, &path, None, READ, "app list").await?;
            ids.extend(
                v.get("items")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|a| a.get("appId")?.as_str().map(String::from)),
            );
            // Only the next page's query is used, against our own base: a link never
            // sends the token elsewhere.
            match v
                .pointer("/_links/next/href")
                .and_then(Value::as_str)
                .and_then(|h| Url::parse(h).ok())
                .and_then(|u| u.query().map(String::from))
            {
                Some(q) if format!("apps?{q}") != path => path = format!("apps?{q}"),
                _ => break,
            }
        }
        Ok(ids)
    }

    pub async fn app(&self, app_id: &str) -> Result<AppInfo> {
        let v = self.about(Method::GET, app_id, "", None, READ).await?;
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        if s("appId").is_empty() {
            return Err(Error::BadPayload { detail: "the app has no appId".into() });
        }
        Ok(AppInfo {
            app_id: s("appId"),
            app_name: s("appName"),
            display_name: s("displayName"),
            app_type: s("appType"),
        })
    }

    pub async fn oauth(&self, app_id: &str) -> Result<OAuthSettings> {
        let v = self.about(Method::GET, app_id, "/oauth", None, READ).await?;
        serde_json::from_value(v).map_err(|e| Error::BadPayload { detail: format!("the app's OAuth settings: {e}") })
    }

    pub async fn set_oauth(&self, app_id: &str, oauth: &OAuthSettings) -> Result<OAuthSettings> {
        let body = serde_json::to_value(oauth).map_err(|e| Error::BadPayload { detail: e.to_string() })?;
        let v = self.about(Method::PUT, app_id, "/oauth", Some(&body), WRITE).await?;
        serde_json::from_value(v).map_err(|e| Error::BadPayload { detail: format!("the app's OAuth settings: {e}") })
    }

    /// `POST /apps/{id}/oauth/generate`: a new client id and secret. SmartThings ends the
    /// app's existing sign-ins with it (they must authorize again).
    pub async fn generate(&self, app_id: &str, oauth: &OAuthSettings) -> Result<ClientKeys> {
        let body = serde_json::json!({ "clientName": oauth.client_name, "scope": oauth.scope });
        let v = self.about(Method::POST, app_id, "/oauth/generate", Some(&body), WRITE).await?;
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(String::from);
        match (s("oauthClientId"), s("oauthClientSecret")) {
            (Some(client_id), Some(secret)) => Ok(ClientKeys { client_id, client_secret: SecretString::from(secret) }),
            _ => Err(Error::BadPayload {
                detail: "the new secret's answer has no oauthClientId and oauthClientSecret".into(),
            }),
        }
    }

    pub async fn delete(&self, app_id: &str) -> Result<()> {
        self.about(Method::DELETE, app_id, "", None, WRITE).await.map(|_| ())
    }

    /// The app a sign-in (an installed app) belongs to.
    pub async fn app_of_installed(&self, installed_app_id: &str) -> Result<String> {
        let what = format!("installed app `{installed_app_id}`");
        let v =
            self.call(Method::GET, &format!("installedapps/{}", enc(installed_app_id)), None, INSTALLED, &what).await?;
        v.get("appId")
            .and_then(Value::as_str)
            .map(String::from)
            .ok_or_else(|| Error::BadPayload { detail: "the installed app has no appId".into() })
    }
}

/// Ids come from the user or SmartThings; never let one change the path.
fn enc(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>().replace('+', "%20")
}
