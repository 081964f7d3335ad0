//! SmartThings REST, with the session's token. One `GET /devices?includeStatus=true` per
//! 200 devices instead of one status request per device; pagination links followed only
//! on SmartThings' own origin; a 401 triggers one refresh and one retry.

mod controls;
mod model;
mod readings;

use reqwest::Method;
use serde_json::Value;
use url::Url;

pub(crate) use controls::find as find_control;
pub use controls::{Action, Control, Kind, COLOR_TEMPERATURE_RANGE};
pub use model::{health_online, Command, Component, Device, DeviceStatus, Location, Mode, Room, Scene};
pub use readings::Reading;

use crate::error::{Error, Result};
use crate::http::{describe_body, rate_limit_wait, read, transport};
use crate::session::Session;
use crate::token::REQUEST_MIN_VALIDITY;

/// SmartThings' largest page.
pub const PAGE_SIZE: usize = 200;
/// 100 pages of 200: far more devices than any home; stops a server that links in circles.
const MAX_PAGES: usize = 100;
/// SmartThings accepts at most 10 commands per request.
pub const MAX_COMMANDS: usize = 10;

#[derive(Clone, Debug)]
pub struct Api {
    session: Session,
    http: reqwest::Client,
    base: Url,
}

impl Api {
    pub fn new(session: Session, http: reqwest::Client, api_url: &str) -> Result<Api> {
        let mut base =
            Url::parse(api_url).map_err(|e| Error::InvalidSetting { field: "api_url".into(), why: e.to_string() })?;
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        Ok(Api { session, http, base })
    }

    fn url(&self, path: &str) -> Result<Url> {
        self.base
            .join(path.trim_start_matches('/'))
            .map_err(|e| Error::InvalidSetting { field: "api_url".into(), why: e.to_string() })
    }

    /// Sends one request with a valid token; on 401 refreshes once and retries once.
    async fn call(&self, method: Method, url: Url, body: Option<&Value>) -> Result<Value> {
        let mut grant = self.session.token_for_request(REQUEST_MIN_VALIDITY).await?;
        for attempt in 0..2 {
            let mut req = self.http.request(method.clone(), url.clone()).bearer_auth(grant.secret());
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = req.send().await.map_err(transport)?;
            let reply = read(resp, url.as_str()).await?;
            let status = reply.status.as_u16();
            if status == 401 && attempt == 0 {
                tracing::info!("SmartThings refused the access token; refreshing once");
                grant = self.session.replace_rejected(&grant).await?;
                continue;
            }
            if status == 401 {
                return Err(Error::Unauthorized);
            }
            if status == 429 {
                return Err(Error::RateLimited {
                    retry_after: rate_limit_wait(&reply.headers, &reply.body, std::time::SystemTime::now()),
                });
            }
            if reply.status.is_server_error() {
                return Err(Error::ServerError { status });
            }
            let json: Option<Value> = serde_json::from_slice(&reply.body).ok();
            if !reply.status.is_success() {
                let err = json.as_ref().and_then(|j| j.get("error"));
                let field = |k: &str| err.and_then(|e| e.get(k)).and_then(Value::as_str).map(String::from);
                return match (field("code"), field("message")) {
                    (Some(code), message) => Err(Error::Api { status, code, message: message.unwrap_or_default() }),
                    _ => Err(Error::UnexpectedResponse {
                        status,
                        what: describe_body(&reply.body),
                        url: url.to_string(),
                    }),
                };
            }
            return json.ok_or_else(|| Error::UnexpectedResponse {
                status,
                what: describe_body(&reply.body),
                url: url.to_string(),
            });
        }
        Err(Error::Unauthorized)
    }

    async fn get(&self, url: Url) -> Result<Value> {
        self.call(Method::GET, url, None).await
    }

    /// Every device of the location, with status and health, a page of 200 at a time.
    pub async fn devices(&self) -> Result<Vec<Device>> {
        let mut url = self.url("devices")?;
        url.query_pairs_mut()
            .append_pair("includeStatus", "true")
            .append_pair("includeHealth", "true")
            .append_pair("max", &PAGE_SIZE.to_string());
        let mut devices = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..MAX_PAGES {
            let page = self.get(url.clone()).await?;
            let items = page
                .get("items")
                .and_then(Value::as_array)
                .ok_or_else(|| Error::BadPayload { detail: "the device list has no `items`".into() })?;
            for item in items {
                match Device::from_json(item) {
                    Some(d) if seen.insert(d.id.clone()) => devices.push(d),
                    Some(_) => {}
                    None => tracing::warn!("skipped a device without a deviceId"),
                }
            }
            match self.next_page(&page)? {
                Some(next) if next != url => url = next,
                _ => return Ok(devices),
            }
        }
        tracing::warn!(pages = MAX_PAGES, "stopped following device pages");
        Ok(devices)
    }

    /// `_links.next.href`, which may be missing, `{}`, `null`, or (seen for real) lack the
    /// `/v1` prefix. Only its query is used, against our own base URL, and only when it
    /// points at the same origin: a page must never send our token elsewhere.
    fn next_page(&self, page: &Value) -> Result<Option<Url>> {
        let Some(href) = page.pointer("/_links/next/href").and_then(Value::as_str) else { return Ok(None) };
        let next =
            self.base.join(href).map_err(|_| Error::BadPayload { detail: "the next-page link is not a URL".into() })?;
        if next.origin() != self.base.origin() {
            return Err(Error::BadPayload {
                detail: format!("the next-page link points to another site ({})", next.origin().ascii_serialization()),
            });
        }
        let mut url = self.url("devices")?;
        url.set_query(next.query());
        Ok(Some(url))
    }

    pub async fn device(&self, id: &str) -> Result<Device> {
        let v = self.get(self.url(&format!("devices/{}", enc(id)))?).await?;
        Device::from_json(&v).ok_or_else(|| Error::BadPayload { detail: "the device has no deviceId".into() })
    }

    pub async fn device_status(&self, id: &str) -> Result<DeviceStatus> {
        let v = self.get(self.url(&format!("devices/{}/status", enc(id)))?).await?;
        DeviceStatus::from_status_body(&v)
            .ok_or_else(|| Error::BadPayload { detail: "the status has no `components`".into() })
    }

    pub async fn device_online(&self, id: &str) -> Result<Option<bool>> {
        let v = self.get(self.url(&format!("devices/{}/health", enc(id)))?).await?;
        Ok(v.get("state").and_then(Value::as_str).and_then(health_online))
    }

    /// Sends commands (SmartThings queues them: ACCEPTED is not done) and reads the state
    /// back, so what the user sees is what the device reports.
    pub async fn command(&self, id: &str, commands: &[Command]) -> Result<DeviceStatus> {
        if commands.is_empty() || commands.len() > MAX_COMMANDS {
            return Err(Error::InvalidArgument {
                device: id.to_string(),
                control: "commands".into(),
                why: format!(
                    "SmartThings takes between 1 and {MAX_COMMANDS} commands at a time, not {}",
                    commands.len()
                ),
            });
        }
        let body = serde_json::json!({ "commands": commands });
        self.call(Method::POST, self.url(&format!("devices/{}/commands", enc(id)))?, Some(&body)).await?;
        self.device_status(id).await
    }

    pub async fn locations(&self) -> Result<Vec<Location>> {
        let v = self.get(self.url("locations")?).await?;
        Ok(items(&v).filter_map(Location::from_json).collect())
    }

    pub async fn rooms(&self, location_id: &str) -> Result<Vec<Room>> {
        let v = self.get(self.url(&format!("locations/{}/rooms", enc(location_id)))?).await?;
        Ok(items(&v).filter_map(Room::from_json).collect())
    }

    /// A location's modes (`r:locations:*`).
    pub async fn modes(&self, location_id: &str) -> Result<Vec<Mode>> {
        let v = self.get(self.url(&format!("locations/{}/modes", enc(location_id)))?).await?;
        if !v.get("items").is_some_and(Value::is_array) {
            return Err(Error::BadPayload { detail: "the mode list has no `items`".into() });
        }
        Ok(items(&v).filter_map(Mode::from_json).collect())
    }

    /// A location's current mode (`r:locations:*`).
    pub async fn current_mode(&self, location_id: &str) -> Result<Mode> {
        let v = self.get(self.url(&format!("locations/{}/modes/current", enc(location_id)))?).await?;
        Mode::from_json(&v).ok_or_else(|| Error::BadPayload { detail: "the current mode has no `id`".into() })
    }

    /// Makes `mode_id` the location's current mode (`w:locations:*`) and returns the
    /// current mode read back afterwards, so what is shown is what SmartThings now says.
    pub async fn set_mode(&self, location_id: &str, mode_id: &str) -> Result<Mode> {
        let body = serde_json::json!({ "modeId": mode_id });
        self.call(Method::PUT, self.url(&format!("locations/{}/modes/current", enc(location_id)))?, Some(&body))
            .await?;
        self.current_mode(location_id).await
    }

    pub async fn scenes(&self, location_id: Option<&str>) -> Result<Vec<Scene>> {
        let mut url = self.url("scenes")?;
        if let Some(l) = location_id {
            url.query_pairs_mut().append_pair("locationId", l);
        }
        let v = self.get(url).await?;
        Ok(items(&v).filter_map(Scene::from_json).collect())
    }

    pub async fn execute_scene(&self, scene_id: &str) -> Result<()> {
        self.call(Method::POST, self.url(&format!("scenes/{}/execute", enc(scene_id)))?, Some(&serde_json::json!({})))
            .await
            .map(|_| ())
    }

    /// Uninstalls an installed app at SmartThings (`DELETE /installedapps/{id}`, which
    /// answers `{"count": 1}`): its tokens die with it.
    pub async fn uninstall(&self, installed_app_id: &str) -> Result<()> {
        self.call(Method::DELETE, self.url(&format!("installedapps/{}", enc(installed_app_id)))?, None)
            .await
            .map(|_| ())
    }

    /// The location a token belongs to (one authorization = one location).
    pub async fn installed_app_location(&self, installed_app_id: &str) -> Result<Option<String>> {
        let v = self.get(self.url(&format!("installedapps/{}", enc(installed_app_id)))?).await?;
        Ok(v.get("locationId").and_then(Value::as_str).map(String::from))
    }
}

fn items(v: &Value) -> impl Iterator<Item = &Value> {
    v.get("items").and_then(Value::as_array).into_iter().flatten()
}

/// Ids come from SmartThings or the user; never let one change the path.
fn enc(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>().replace('+', "%20")
}
