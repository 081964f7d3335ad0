//! Request counters, so tests can assert how a client behaved (how often it refreshed,
//! whether it paged, whether it retried) rather than only what it displayed.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use crate::state::{lock, AppState};

/// Counters since the simulator started.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Stats {
    /// Requests per `"METHOD /route/pattern"`, e.g. `"POST /oauth/token"`,
    /// `"GET /v1/devices/{id}/status"`. Aliases (`/v1/oauth/..`, `/devices`) count under
    /// the canonical pattern. Control endpoints (`/__sim/..`) are not counted.
    pub routes: BTreeMap<String, u64>,
    /// Successful grants by `grant_type` (`authorization_code`, `refresh_token`).
    pub token_grants: BTreeMap<String, u64>,
    /// Successful sign-ins (code exchanges) per `"CLIENT_ID/LOCATION_ID"`: more than one
    /// for a pair means an older sign-in was ended (see `SimConfig::one_sign_in_per_location`).
    pub sign_ins: BTreeMap<String, u64>,
    /// Every request that reached the token endpoint, whatever its outcome.
    pub token_requests: u64,
    /// Token-endpoint calls (`authorization_code` and `refresh_token` grants) per
    /// installed app id, granted or refused: how often each user's session was refreshed
    /// when many users sign in (users.rs). A refused call counts when its code or refresh
    /// token still named an installed app; one with an unknown, used-up (rotated or
    /// replaced) or malformed token concerns none and shows only in `token_requests`.
    pub token_calls_by_installed_app: BTreeMap<String, u64>,
    /// Requests answered by an injected failure (5xx, dropped connection, 429, garbage).
    pub faults_injected: u64,
    /// The same, per route as in `routes` (`"POST /oauth/token"`): how many of a route's
    /// requests SmartThings never answered itself.
    pub faults_by_route: BTreeMap<String, u64>,
    /// Executions per scene id through `POST /v1/scenes/{id}/execute`.
    pub scene_executions: BTreeMap<String, u64>,
    /// ST Schema: every request to the callback token endpoint, whatever its outcome.
    pub schema_token_requests: u64,
    /// ST Schema: successful token calls by `interactionType` (`accessTokenRequest`,
    /// `refreshAccessTokens`).
    pub schema_token_grants: BTreeMap<String, u64>,
    /// ST Schema: `stateCallback` requests accepted.
    pub schema_state_callbacks: u64,
    /// Apps made by `POST /apps` (the configured app is not counted).
    pub apps_created: u64,
    /// Apps removed by `DELETE /apps/{id}`.
    pub apps_deleted: u64,
    /// OAuth settings replaced by `PUT /apps/{id}/oauth`.
    pub app_oauth_updates: u64,
    /// New client id and secret pairs from `POST /apps/{id}/oauth/generate`.
    pub app_secrets_generated: u64,
    /// Personal access tokens minted (`POST /__sim/pat`, `Sim::mint_pat`).
    pub pats_minted: u64,
}

/// One request as it reached the simulator: what tests check to prove a client never
/// sent something (the token server's secret, say) to SmartThings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedRequest {
    pub method: String,
    /// Path and query as sent.
    pub target: String,
    /// The `Host` header, if any.
    pub host: Option<String>,
    /// Every `Authorization` header value, as sent.
    pub authorization: Vec<String>,
}

/// The request log keeps the first this many requests (a few MB), so a soak run's
/// millions of requests don't grow the simulator without bound; tests look at far fewer.
pub const MAX_LOGGED_REQUESTS: usize = 100_000;

/// Middleware around everything (unknown paths and control endpoints included): logs
/// the request before any route, fault or refusal runs.
pub(crate) async fn log(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let entry = LoggedRequest {
        method: req.method().to_string(),
        target: req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default(),
        host: req.headers().get(axum::http::header::HOST).map(|h| String::from_utf8_lossy(h.as_bytes()).into_owned()),
        authorization: req
            .headers()
            .get_all(axum::http::header::AUTHORIZATION)
            .iter()
            .map(|h| String::from_utf8_lossy(h.as_bytes()).into_owned())
            .collect(),
    };
    {
        let mut log = lock(&state.requests);
        if log.len() < MAX_LOGGED_REQUESTS {
            log.push(entry);
        }
    }
    next.run(req).await
}

/// The canonical form of a path: `/v1/oauth/x` -> `/oauth/x`, `/devices` -> `/v1/devices`.
pub(crate) fn canonical_path(path: &str) -> String {
    if let Some(rest) = path.strip_prefix("/v1/oauth") {
        if rest.is_empty() || rest.starts_with('/') {
            return format!("/oauth{rest}");
        }
    }
    let keep = ["/oauth", "/__sim", "/v1", "/schema"].iter().any(|p| path == *p || path.starts_with(&format!("{p}/")));
    if keep {
        path.to_string()
    } else {
        format!("/v1{path}")
    }
}

/// Middleware: counts the matched route before anything else (faults included) runs.
pub(crate) async fn count(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if let Some(matched) = req.extensions().get::<MatchedPath>() {
        let route = canonical_path(matched.as_str());
        if !route.starts_with("/__sim") {
            let mut stats = lock(&state.stats);
            if route == "/oauth/token" {
                stats.token_requests += 1;
            } else if route == crate::schema::TOKEN_PATH {
                stats.schema_token_requests += 1;
            }
            *stats.routes.entry(format!("{} {route}", req.method())).or_default() += 1;
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::canonical_path;

    #[test]
    fn canonical() {
        assert_eq!(canonical_path("/v1/oauth/token"), "/oauth/token");
        assert_eq!(canonical_path("/oauth/token"), "/oauth/token");
        assert_eq!(canonical_path("/devices"), "/v1/devices");
        assert_eq!(canonical_path("/v1/devices/{id}"), "/v1/devices/{id}");
        assert_eq!(canonical_path("/__sim/stats"), "/__sim/stats");
        assert_eq!(canonical_path("/oauthx"), "/v1/oauthx");
    }
}
