//! `/api/...`: SmartThings' REST API with the current token injected, for programs that
//! would rather not handle tokens at all. `/api/v1/devices` goes to `<api origin>/v1/devices`.
//!
//! Only the request's method, path, query, body, `Content-Type` and `Accept` are passed on;
//! never the caller's `Authorization` (that is our secret), cookies or `Host`. A 401 from
//! SmartThings makes the session replace the token once (unless another caller already
//! did) and the request is sent once more.

use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use reqwest::Method;

use super::{error_response, Shared};
use crate::token::REQUEST_MIN_VALIDITY;

/// Commands and scene runs are tiny; anything near this is a mistake.
const MAX_REQUEST_BODY: usize = 1 << 20;

const PASSED_REQUEST_HEADERS: [HeaderName; 2] = [header::CONTENT_TYPE, header::ACCEPT];
const PASSED_RESPONSE_HEADERS: [&str; 4] =
    ["content-type", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"];

pub async fn forward(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let Some(rest) = req.uri().path().strip_prefix("/api") else {
        return error_response(StatusCode::NOT_FOUND, "not_found", "no such path");
    };
    if !is_plain_path(rest) {
        return error_response(
            StatusCode::BAD_REQUEST,
            "bad_path",
            "The path must be SmartThings' API path after /api, like /api/v1/devices, without `.` or `..` segments.",
        );
    }
    let (session, api_origin) = match shared.current() {
        Ok(c) => c,
        Err(e) => return super::core_error_response(&e),
    };
    let mut target = format!("{api_origin}{rest}");
    if let Some(q) = req.uri().query() {
        target.push('?');
        target.push_str(q);
    }
    let method = req.method().clone();
    let mut passed = reqwest::header::HeaderMap::new();
    for name in PASSED_REQUEST_HEADERS {
        if let Some(v) = req.headers().get(&name) {
            passed.insert(name, v.clone());
        }
    }
    let body = match to_bytes(req.into_body(), MAX_REQUEST_BODY).await {
        Ok(b) => b,
        Err(_) => return error_response(StatusCode::PAYLOAD_TOO_LARGE, "too_large", "the request body is over 1 MiB"),
    };

    let mut grant = match session.token_for_request(REQUEST_MIN_VALIDITY).await {
        Ok(g) => g,
        Err(e) => return super::core_error_response(&e),
    };
    for attempt in 0..2 {
        let mut out = shared.http.request(method.clone(), &target).headers(passed.clone()).bearer_auth(grant.secret());
        if !body.is_empty() || !matches!(method, Method::GET | Method::HEAD) {
            out = out.body(body.clone());
        }
        let reply = match out.send().await {
            Ok(r) => match crate::http::read(r, &target).await {
                Ok(reply) => reply,
                Err(e) => return super::core_error_response(&e),
            },
            Err(e) => return super::core_error_response(&crate::http::transport(e)),
        };
        if reply.status == StatusCode::UNAUTHORIZED && attempt == 0 {
            tracing::info!("SmartThings refused the access token; replacing it once and retrying");
            grant = match session.replace_rejected(&grant).await {
                Ok(g) => g,
                Err(e) => return super::core_error_response(&e),
            };
            continue;
        }
        let mut resp = (reply.status, Body::from(reply.body)).into_response();
        let h = resp.headers_mut();
        for name in PASSED_RESPONSE_HEADERS {
            if let Some(v) = reply.headers.get(name) {
                if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_bytes(v.as_bytes()))
                {
                    h.insert(n, v);
                }
            }
        }
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return resp;
    }
    // The second pass always returns; this only satisfies the type checker.
    super::core_error_response(&crate::Error::Unauthorized)
}

/// `/v1/devices/x`: yes. Empty, `.`/`..` segments (also percent-encoded), or anything
/// that could change the origin: no.
fn is_plain_path(rest: &str) -> bool {
    rest.starts_with('/')
        && rest.len() > 1
        && !rest.contains('\\')
        && !rest.starts_with("//")
        && rest[1..].split('/').all(|seg| {
            let decoded = seg.replace("%2e", ".").replace("%2E", ".");
            decoded != "." && decoded != ".."
        })
}

#[cfg(test)]
mod tests {
    use super::is_plain_path;

    #[test]
    fn only_plain_paths_are_forwarded() {
        assert!(is_plain_path("/v1/devices"));
        assert!(is_plain_path("/v1/devices/abc/status"));
        for bad in ["", "/", "/v1/../oauth/token", "/v1/%2e%2e/oauth", "//evil.example/x", "/v1/./x", "/v1\\x"] {
            assert!(!is_plain_path(bad), "{bad}");
        }
    }
}
