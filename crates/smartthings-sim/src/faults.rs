//! Failures on demand: gateway errors, dropped connections, rate limits, garbage bodies
//! and delays, decided BEFORE the request is handled so a failed request never changes
//! state (a 500 on `/oauth/token` must not rotate the refresh token).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::conn::ConnInfo;
use crate::ids::request_id;
use crate::state::{lock, AppState};
use crate::stats::canonical_path;

/// Which failures to inject, and how often. `{}` (all defaults) injects nothing.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Applies to requests whose canonical path starts with this (`/oauth/token`, `/v1`,
    /// or `""` for all). Aliases are canonicalized first: `/v1/oauth/token` counts as
    /// `/oauth/token` and `/devices` as `/v1/devices`. `/__sim` is never faulted.
    pub route_prefix: String,
    /// Share answered 500, 502 or 504 with a gateway's HTML or plain-text body.
    pub error_5xx: f64,
    /// Share whose connection is closed without any response.
    pub drop_connection: f64,
    /// Share held for `timeout_ms` and then closed without any response and without being
    /// handled: a gateway timing out before the backend saw the request. (A `delay_ms`
    /// longer than the client's timeout is the other kind: the backend acts, the client
    /// never hears of it.)
    pub timeout: f64,
    /// How long a `timeout` fault holds the request; 0 means 30 000.
    pub timeout_ms: u64,
    /// Share answered 200 with a truncated JSON body.
    pub malformed_body: f64,
    /// Delay added to `delay_share` of requests (before any other fault or handling).
    pub delay_ms: u64,
    pub delay_share: f64,
    /// Share answered 429 `TooManyRequestError` with `x-ratelimit-*` headers.
    pub rate_limit: f64,
    /// `x-ratelimit-reset` in milliseconds; 0 means 1000.
    pub rate_limit_reset_ms: u64,
    /// Roll from a generator seeded with this, not the thread's: the same requests in the
    /// same order meet the same faults, so a test that needs at least one fault (or a
    /// given mix) gets it every run instead of failing once in a few hundred.
    pub seed: Option<u64>,
}

/// The faults in force and, when they are seeded, the generator their rolls come from
/// (kept here, not in `Faults`, so setting the same faults again starts the sequence over).
#[derive(Default)]
pub(crate) struct ActiveFaults {
    faults: Faults,
    seeded: Option<StdRng>,
}

impl ActiveFaults {
    pub(crate) fn set(&mut self, faults: Faults) {
        self.seeded = faults.seed.map(StdRng::seed_from_u64);
        self.faults = faults;
    }

    /// Decides one request's fate: whether it is delayed, and which fault (if any) it meets.
    fn decide(&mut self) -> (Faults, bool, Option<Injected>) {
        let faults = self.faults.clone();
        let (delay, injected) = match self.seeded.as_mut() {
            Some(rng) => decide(rng, &faults),
            None => decide(&mut rand::rng(), &faults),
        };
        (faults, delay, injected)
    }

    pub(crate) fn route_prefix(&self) -> &str {
        &self.faults.route_prefix
    }
}

enum Injected {
    Drop,
    Timeout,
    Status(u16),
    RateLimit,
    Malformed,
}

fn roll(rng: &mut impl Rng, p: f64) -> bool {
    p > 0.0 && rng.random::<f64>() < p
}

fn decide(rng: &mut impl Rng, faults: &Faults) -> (bool, Option<Injected>) {
    let delay = faults.delay_ms > 0 && roll(rng, faults.delay_share);
    let injected = if roll(rng, faults.drop_connection) {
        Some(Injected::Drop)
    } else if roll(rng, faults.timeout) {
        Some(Injected::Timeout)
    } else if roll(rng, faults.error_5xx) {
        Some(Injected::Status([500, 502, 504][rng.random_range(0..3)]))
    } else if roll(rng, faults.rate_limit) {
        Some(Injected::RateLimit)
    } else if roll(rng, faults.malformed_body) {
        Some(Injected::Malformed)
    } else {
        None
    };
    (delay, injected)
}

/// Middleware: injects the configured faults, or passes the request on untouched.
pub(crate) async fn inject(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let path = canonical_path(req.uri().path());
    if path.starts_with("/__sim") {
        return next.run(req).await;
    }
    let decided = {
        let mut active = lock(&state.faults);
        path.starts_with(active.route_prefix()).then(|| active.decide())
    };
    let Some((faults, delay, injected)) = decided else {
        return next.run(req).await;
    };
    if delay {
        tokio::time::sleep(Duration::from_millis(faults.delay_ms)).await;
    }
    let Some(injected) = injected else {
        return next.run(req).await;
    };
    {
        let route = req.extensions().get::<MatchedPath>().map(|m| canonical_path(m.as_str()));
        let mut stats = lock(&state.stats);
        stats.faults_injected += 1;
        if let Some(route) = route {
            *stats.faults_by_route.entry(format!("{} {route}", req.method())).or_default() += 1;
        }
    }
    match injected {
        Injected::Drop => drop_connection(&req),
        Injected::Timeout => {
            let ms = if faults.timeout_ms == 0 { 30_000 } else { faults.timeout_ms };
            tokio::time::sleep(Duration::from_millis(ms)).await;
            drop_connection(&req)
        }
        Injected::Status(code) => gateway_error(code),
        Injected::RateLimit => rate_limited(faults.rate_limit_reset_ms),
        Injected::Malformed => malformed(&path),
    }
}

fn drop_connection(req: &Request) -> Response {
    if let Some(ConnectInfo(conn)) = req.extensions().get::<ConnectInfo<ConnInfo>>() {
        conn.kill();
    }
    // Never written: the killed connection fails before the first byte.
    StatusCode::BAD_GATEWAY.into_response()
}

fn with_type(mut resp: Response, content_type: &'static str) -> Response {
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// What a load balancer or a crashed backend answers.
fn gateway_error(code: u16) -> Response {
    match code {
        502 => with_type(
            (StatusCode::BAD_GATEWAY, "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n").into_response(),
            "text/html",
        ),
        504 => with_type(
            (StatusCode::GATEWAY_TIMEOUT, "<html>\r\n<head><title>504 Gateway Time-out</title></head>\r\n<body>\r\n<center><h1>504 Gateway Time-out</h1></center>\r\n</body>\r\n</html>\r\n").into_response(),
            "text/html",
        ),
        _ => with_type((StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response(), "text/plain"),
    }
}

/// SmartThings' 429: `x-ratelimit-*` headers (reset in milliseconds), no `Retry-After`.
fn rate_limited(reset_ms: u64) -> Response {
    let reset = if reset_ms == 0 { 1000 } else { reset_ms };
    let body = json!({
        "requestId": request_id(),
        "error": {
            "code": "TooManyRequestError",
            "message": format!("Too many requests: attempt 10 limit 10 - retry in {reset} millis"),
            "details": []
        }
    });
    let mut resp = with_type((StatusCode::TOO_MANY_REQUESTS, body.to_string()).into_response(), "application/json");
    let h = resp.headers_mut();
    h.insert("x-ratelimit-limit", HeaderValue::from_static("10"));
    h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
    if let Ok(v) = HeaderValue::from_str(&reset.to_string()) {
        h.insert("x-ratelimit-reset", v);
    }
    resp
}

/// A 200 whose JSON body was cut short, shaped like the route's real answer.
fn malformed(path: &str) -> Response {
    let body = if path.starts_with("/oauth") {
        r#"{"access_token":"5c2f0b1e-7d3a-4c"#
    } else {
        r#"{"items":[{"deviceId":"0b5577db-5074-4b70-a2c5-"#
    };
    with_type((StatusCode::OK, body).into_response(), "application/json;charset=UTF-8")
}

/// Adds SmartThings' rate-limit headers to every response that lacks them.
pub(crate) async fn ratelimit_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    if !h.contains_key("x-ratelimit-limit") {
        h.insert("x-ratelimit-limit", HeaderValue::from_static("250"));
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("249"));
    }
    resp
}
