//! SmartThings' app-management API for OAuth-In (`API_ONLY`) apps, under `/v1` and the
//! root: `POST /apps`, `GET /apps`, `GET /apps/{appNameOrId}`, `GET|PUT
//! /apps/{appNameOrId}/oauth`, `POST /apps/{appNameOrId}/oauth/generate`, `DELETE
//! /apps/{appNameOrId}`. Every app is at once a client of `/oauth/authorize` and
//! `/oauth/token` (app_store.rs), with its current redirect URIs, scopes and secret.
//!
//! Each rule modelled, its source, and what is assumed:
//!
//! - Routes, request and answer bodies: core SDK (SmartThingsCommunity/smartthings-core-sdk
//!   src/endpoint/apps.ts: `AppCreateRequest`, `AppCreationResponse`, `AppOAuthRequest`,
//!   `GenerateAppOAuthRequest`/`Response`); shapes as pysmartthings' fixtures
//!   (app_post_response.json, app_get.json, apps.json, app_oauth_*.json). The client
//!   secret is in the answer of create and generate only.
//! - Scopes: reads need `r:apps:*`, create/update/generate/delete `w:apps:*`. The API
//!   spec's scope definitions: "r:apps:*: Read details about a SmartApp. Only applicable
//!   for personal access tokens, and the scope is limited to the SmartApps associated with
//!   the token's account"; "w:apps:*: Create, update, or delete SmartApps" (carried by the
//!   clients generated from the spec, e.g. daltskin/SmartThingsNet; the same spec marks the
//!   schema-app reads `[r:apps:*]` and writes `[w:apps:*]`, src/Api/SchemaAppsApi.cs).
//!   The definitions have no `l:apps`, so the list takes `r:apps:*` only. Missing scope:
//!   403 `ForbiddenError`; no, unknown or expired token: 401 (api_auth.rs, pat.rs).
//! - Unknown app id or name: 403 `ForbiddenError`. The spec lists 200/400/401/403/429 for
//!   these operations, no 404, and its error table says 403 is "does not have appropriate
//!   permissions, or a requested resource is not found" (SmartThingsNet docs/AppsApi.md
//!   and the spec's "Errors" section).
//! - Required fields of a create: `appName`, `displayName`, `description`, `appType`,
//!   `classifications` (`NotNullError`); `displayName` 1..=75 and `description` at most
//!   250 characters (`SizeError`): the spec's CreateAppRequest (SmartThingsNet
//!   src/Model/CreateAppRequest.cs). `appName` "alpha-numeric, may contain dashes,
//!   underscores, periods, and must be less then 250 characters long", "globally unique"
//!   (core SDK apps.ts). Lower case and a letter or digit first: the CLI makes names so
//!   (smartthings-cli src/lib/command/util/apps-user-input-create.ts, "the app name has
//!   to start with a letter or number", `.toLowerCase()`) and REFERENCE.md says lower
//!   case; the API's own pattern is not published (ASSUMPTION). Unknown fields are ignored.
//! - A taken `appName` (any app, names are global): 409 `ConflictError`. Nothing found
//!   documents SmartThings' answer (ASSUMPTION).
//! - At most 100 apps per account, then 422 `LimitError`: "A single developer account is
//!   allowed to contain a maximum of 100 apps. Upon hitting that limit, a 422 error
//!   response is returned with an error code of LimitError" (spec, createApp). The limit is
//!   `SimConfig::max_apps`; the message's wording is an ASSUMPTION.
//! - 422 bodies: `{requestId, error: {code: "ConstraintViolationError", message: "The
//!   request is malformed.", details: [{code, target, message}]}}`, the message as a real
//!   createApp refusal showed it (community.smartthings.com/t/createapp-rest-api/109711),
//!   detail codes from the spec's "SmartThings Error Codes" (NotNullError, NotEmptyError,
//!   NullError, SizeError, PatternError, UnsupportedOperationError; the shape also on
//!   developer.smartthings.com/docs/connected-services/troubleshooting). Every bad field
//!   is one detail, all at once; the `"<field>: <problem>"` wording is an ASSUMPTION. A
//!   body that is not JSON: 400 `BadRequestError`, as the devices API here answers it.
//! - `appType`: `API_ONLY` only. `LAMBDA_SMART_APP` and `WEBHOOK_SMART_APP` are real but not
//!   modelled: 422 with an `UnsupportedOperationError` detail (a SIMULATOR LIMIT); other
//!   values 422 `PatternError`. `lambdaSmartApp`/`webhookSmartApp` on an API_ONLY app: 422
//!   `NullError` ("should only be specified for apps of type ...", core SDK).
//!   `classifications`: non-empty, of AUTOMATION, SERVICE, DEVICE, CONNECTED_SERVICE,
//!   HIDDEN (spec; non-empty is an ASSUMPTION). `principalType` LOCATION | USER_LEVEL.
//!   `iconImage.url` and `apiOnly.targetUrl` https (the CLI's `httpsURLValidate`),
//!   `targetUrl` at most 2048 characters (core SDK `ApiOnlyAppRequest`).
//! - OAuth settings (create's `oauth`, `PUT .../oauth`): scopes must be ones the CLI offers
//!   for OAuth-In apps (app_rules.rs `KNOWN_SCOPES`, from smartthings-cli
//!   apps-input-primitives.ts); the real API takes more (a fixture shows `r:devices:$`),
//!   so this is an ASSUMPTION on the strict side. Redirect URIs: at most 10 (`SizeError`),
//!   each `https`, or `http` to `localhost` / `127.0.0.1` on any port, with `scheme://` and
//!   a port in 1..=65535 (`PatternError`): the CLI's `redirectUrisDef` and
//!   `localhostOrHTTPSValidate` (src/lib/validate-util.ts). Whether the API itself refuses
//!   custom schemes (`myapp://cb`) is documented nowhere found: refused here (ASSUMPTION,
//!   the stricter side). In a create `oauth` and its fields are optional
//!   (`Partial<AppOAuthRequest>`); a missing `clientName` becomes the display name, as the
//!   CLI sets it (ASSUMPTION for the API). `PUT .../oauth` needs all of `clientName`,
//!   `scope`, `redirectUris` (spec UpdateAppOAuthRequest), replaces them, keeps the client
//!   id and secret ("does not change the clientId or clientSecret", core SDK) and answers
//!   the new value; authorize takes the new URIs and scopes from the next request on,
//!   tokens already issued keep theirs.
//! - `POST .../oauth/generate` `{clientName?, scope?}` (spec GenerateAppOAuthRequest, both
//!   optional): a new client id AND secret (CLI apps:oauth:generate "regenerate the OAuth
//!   clientId and clientSecret"; app_oauth_generate_response.json); "any currently
//!   authorized installed app instances [need] to be re-authorized to make calls to
//!   SmartThings" (core SDK `regenerateOauth`): the old pair gets 401 Bad credentials at
//!   the token endpoint, the app's refresh tokens are dead (`invalid_grant`), and so are
//!   its access tokens (our reading of "to make calls").
//! - `DELETE`: 200 `{}` (the spec says 200 "The number of deleted apps" with no schema;
//!   the core SDK ignores the body: `{}` is an ASSUMPTION). The app's sign-ins end: its
//!   installed apps, tokens and codes are gone, its client is unknown.
//! - `GET /apps[?appType=&classification=..]`: `{items: [summary..], _links: {}}` like
//!   apps.json, one page. Apps belong to the one simulated account (owner `USER`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use crate::api_auth::caller_with;
use crate::api_devices::try_resp;
use crate::app_rules::{self, oauth_settings, object};
use crate::app_store::{CreateError, RegisteredApp};
use crate::errors::{bad_request, constraint_violation, forbidden, json_response, st_error};
use crate::state::{lock, AppState};

const READ: &str = "r:apps:*";
const WRITE: &str = "w:apps:*";

fn json_body(body: &[u8]) -> Result<Value, Response> {
    serde_json::from_slice(body).map_err(|_| bad_request("The request body is not valid JSON."))
}

/// The app named by the path (id or name), or SmartThings' 403.
fn find(st: &AppState, name_or_id: &str) -> Result<RegisteredApp, Response> {
    lock(&st.apps).find(name_or_id).cloned().ok_or_else(forbidden)
}

fn ok(body: &Value) -> Response {
    json_response(StatusCode::OK, body)
}

/// `POST /apps`.
pub(crate) async fn create(State(st): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    try_resp!(caller_with(&st, &headers, WRITE));
    let body = try_resp!(json_body(&body));
    let new = match app_rules::create_request(&body) {
        Ok(n) => n,
        Err(details) => return constraint_violation(details),
    };
    let name = new.app_name.clone();
    let created = lock(&st.apps).create(new, st.clock.now_ms());
    match created {
        Ok(app) => {
            lock(&st.stats).apps_created += 1;
            tracing::info!("apps: created {} ({})", app.app_name, app.app_id);
            ok(&json!({"app": app.json(), "oauthClientId": app.client_id, "oauthClientSecret": app.client_secret}))
        }
        Err(CreateError::NameTaken) => {
            st_error(StatusCode::CONFLICT, "ConflictError", &format!("appName '{name}' is already in use"), vec![])
        }
        Err(CreateError::Limit(n)) => st_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "LimitError",
            &format!("A single developer account is allowed to contain a maximum of {n} apps."),
            vec![],
        ),
    }
}

/// `GET /apps`.
pub(crate) async fn list(State(st): State<Arc<AppState>>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    try_resp!(caller_with(&st, &headers, READ));
    let params: Vec<(String, String)> =
        url::form_urlencoded::parse(q.unwrap_or_default().as_bytes()).into_owned().collect();
    let wanted =
        |key: &str| -> Vec<&str> { params.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect() };
    let (types, classes) = (wanted("appType"), wanted("classification"));
    let items: Vec<Value> = lock(&st.apps)
        .all()
        .iter()
        .filter(|_| types.is_empty() || types.contains(&"API_ONLY"))
        .filter(|a| classes.is_empty() || a.classifications.iter().any(|c| classes.contains(&c.as_str())))
        .map(RegisteredApp::summary)
        .collect();
    ok(&json!({"items": items, "_links": {}}))
}

/// `GET /apps/{appNameOrId}`.
pub(crate) async fn get(State(st): State<Arc<AppState>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    try_resp!(caller_with(&st, &headers, READ));
    ok(&try_resp!(find(&st, &id)).json())
}

/// `GET /apps/{appNameOrId}/oauth`.
pub(crate) async fn get_oauth(State(st): State<Arc<AppState>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    try_resp!(caller_with(&st, &headers, READ));
    ok(&try_resp!(find(&st, &id)).oauth_json())
}

/// `PUT /apps/{appNameOrId}/oauth`.
pub(crate) async fn put_oauth(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    try_resp!(caller_with(&st, &headers, WRITE));
    let app = try_resp!(find(&st, &id));
    let body = try_resp!(json_body(&body));
    let obj = match object(&body) {
        Ok(o) => o,
        Err(details) => return constraint_violation(details),
    };
    let mut details = Vec::new();
    let settings = oauth_settings(obj, "", true, &app.oauth.client_name, &mut details);
    if !details.is_empty() {
        return constraint_violation(details);
    }
    let Some(updated) = lock(&st.apps).set_oauth(&app.app_id, settings, st.clock.now_ms()) else {
        return forbidden();
    };
    lock(&st.stats).app_oauth_updates += 1;
    tracing::info!("apps: OAuth settings of {} replaced", updated.app_id);
    ok(&updated.oauth_json())
}

/// `POST /apps/{appNameOrId}/oauth/generate`.
pub(crate) async fn generate(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    try_resp!(caller_with(&st, &headers, WRITE));
    let app = try_resp!(find(&st, &id));
    let body = try_resp!(json_body(&body));
    let req = match app_rules::generate_request(&body) {
        Ok(r) => r,
        Err(details) => return constraint_violation(details),
    };
    let mut apps = lock(&st.apps);
    let Some(updated) = apps.regenerate(&app.app_id, req.client_name, req.scopes, st.clock.now_ms()) else {
        return forbidden();
    };
    // Every installed app of this app must sign in again (apps still locked: no grant
    // with the old client can slip in between).
    lock(&st.oauth).end_app_sessions(&app.app_id, false);
    drop(apps);
    lock(&st.stats).app_secrets_generated += 1;
    tracing::info!("apps: new client id and secret for {}; its sign-ins ended", app.app_id);
    ok(&json!({
        "oauthClientDetails": updated.oauth_json(),
        "oauthClientId": updated.client_id,
        "oauthClientSecret": updated.client_secret,
    }))
}

/// `DELETE /apps/{appNameOrId}`.
pub(crate) async fn delete(State(st): State<Arc<AppState>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    try_resp!(caller_with(&st, &headers, WRITE));
    let mut apps = lock(&st.apps);
    let Some(app) = apps.delete(&id) else {
        return forbidden();
    };
    lock(&st.oauth).end_app_sessions(&app.app_id, true);
    drop(apps);
    lock(&st.stats).apps_deleted += 1;
    tracing::info!("apps: deleted {} ({}); its sign-ins ended", app.app_name, app.app_id);
    ok(&json!({}))
}
