//! Installed apps: one per sign-in (oauth_store's `InstalledApp`), `appId` the app it was
//! signed in with, in the shape of pysmartthings' installedapp_get_response.json.
//!
//! - `GET /installedapps/{id}`: an OAuth-In token reads its own installed app without any
//!   scope (that is how a client learns its token's location; another one is 403); a
//!   personal access token reads any of the account's with `r:installedapps:*`.
//! - `GET /installedapps[?locationId=..&locationId=..&installedAppType=&installedAppStatus=&appId=]`
//!   ("List all installed applications within the specified locations. If no locations
//!   are provided, then list all installed apps accessible by the principle", SmartThings
//!   API spec `listInstallations`, via daltskin/SmartThingsNet src/Api/InstalledAppsApi.cs;
//!   repeatable options: core SDK wiki "Installed Apps"): needs `l:installedapps` or
//!   `r:installedapps:*`; a personal access token sees the whole account's, an OAuth-In
//!   token only its own location's ("For SmartApp tokens, the scope is restricted to the
//!   location the SmartApp is installed into", the spec's scope definitions). The CLI
//!   offers OAuth-In apps the scope as `r:installedapps`, without `:*`: both spellings
//!   count (an assumption: which one SmartThings grants is not documented).
//!   One page, `_links: {next: null, previous: null}`.
//! - `DELETE /installedapps/{id}` → `{"count": 1}` (the core SDK's test data,
//!   SmartThingsCommunity/smartthings-core-sdk `delete_installedapps_….ts`): the installed
//!   app's own OAuth-In token may uninstall it (how an API Access project ends a user's
//!   session); a personal access token needs `w:installedapps` (an assumption: the scope
//!   SmartThings names for writing installed apps). Its tokens die at once.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use crate::api_auth::authenticate;
use crate::api_devices::try_resp;
use crate::app_store::AppStore;
use crate::clock::iso8601;
use crate::errors::{forbidden, json_response, not_found};
use crate::oauth_store::InstalledApp;
use crate::state::{lock, AppState};

const READ_ONE: &[&str] = &["r:installedapps:*", "r:installedapps"];
const LIST: &[&str] = &["l:installedapps", "r:installedapps:*", "r:installedapps"];

/// The installed app's body; display name and classifications come from its app.
fn body(app: &InstalledApp, apps: &AppStore) -> Value {
    let registered = apps.by_app_id(&app.app_id);
    let created = iso8601(app.created_ms);
    json!({
        "installedAppId": app.id,
        "installedAppType": "API_ONLY",
        "installedAppStatus": "AUTHORIZED",
        "displayName": registered.map_or("ThingsTray", |a| a.display_name.as_str()),
        "appId": app.app_id,
        "referenceId": null,
        "locationId": app.location_id,
        "owner": {"ownerType": "USER", "ownerId": crate::users::account_id(crate::users::owner(&app.location_id))},
        "notices": [],
        "createdDate": created,
        "lastUpdatedDate": created,
        "ui": {"pluginId": null, "dashboardCardsEnabled": false, "preInstallDashboardCardsEnabled": false},
        "iconImage": {"url": registered.and_then(|a| a.icon_url.clone())},
        "classifications": registered.map_or_else(|| vec!["CONNECTED_SERVICE".to_string()], |a| a.classifications.clone()),
        "principalType": "LOCATION",
        "singleInstance": registered.is_some_and(|a| a.single_instance),
    })
}

const WRITE: &[&str] = &["w:installedapps", "w:installedapps:*"];

/// `DELETE /installedapps/{id}`.
pub(crate) async fn delete(State(st): State<Arc<AppState>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let caller = try_resp!(authenticate(&st, &headers));
    if caller.is_pat() {
        try_resp!(caller.require_any(WRITE));
    }
    let mut oauth = lock(&st.oauth);
    if oauth.installed_app(&id).is_none() {
        return not_found("InstalledApp not found");
    }
    if !caller.is_pat() && caller.installed_app_id.as_deref() != Some(id.as_str()) {
        return forbidden();
    }
    oauth.uninstall(&id);
    json_response(StatusCode::OK, &json!({"count": 1}))
}

/// `GET /installedapps/{id}`.
pub(crate) async fn get(State(st): State<Arc<AppState>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let caller = try_resp!(authenticate(&st, &headers));
    if caller.is_pat() {
        try_resp!(caller.require_any(READ_ONE));
    }
    let app = {
        let oauth = lock(&st.oauth);
        let Some(app) = oauth.installed_app(&id) else {
            return not_found("InstalledApp not found");
        };
        if !caller.is_pat() && caller.installed_app_id.as_deref() != Some(id.as_str()) {
            return forbidden();
        }
        app.clone()
    };
    let body = body(&app, &lock(&st.apps));
    json_response(StatusCode::OK, &body)
}

/// `GET /installedapps`.
pub(crate) async fn list(State(st): State<Arc<AppState>>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let caller = try_resp!(authenticate(&st, &headers));
    try_resp!(caller.require_any(LIST));
    let params: Vec<(String, String)> =
        url::form_urlencoded::parse(q.unwrap_or_default().as_bytes()).into_owned().collect();
    let wanted =
        |key: &str| -> Vec<&str> { params.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect() };
    let (locations, types, statuses, app_ids) =
        (wanted("locationId"), wanted("installedAppType"), wanted("installedAppStatus"), wanted("appId"));
    let installs: Vec<InstalledApp> = lock(&st.oauth)
        .installed_apps()
        .into_iter()
        .filter(|a| caller.sees(&a.location_id))
        .filter(|a| locations.is_empty() || locations.contains(&a.location_id.as_str()))
        .filter(|a| app_ids.is_empty() || app_ids.contains(&a.app_id.as_str()))
        .filter(|_| types.is_empty() || types.contains(&"API_ONLY"))
        .filter(|_| statuses.is_empty() || statuses.contains(&"AUTHORIZED"))
        .cloned()
        .collect();
    let apps = lock(&st.apps);
    let items: Vec<Value> = installs.iter().map(|a| body(a, &apps)).collect();
    drop(apps);
    json_response(StatusCode::OK, &json!({"items": items, "_links": {"next": null, "previous": null}}))
}
