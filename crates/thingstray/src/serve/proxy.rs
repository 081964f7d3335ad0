//! `/api/...`: SmartThings' REST API with the current token injected, for programs that
//! would rather not handle tokens at all. `/api/v1/devices` goes to `<api origin>/v1/devices`.
//!
//! Links stay on the proxy (issue 27): SmartThings pages long lists with an absolute
//! `_links.next.href` on its own origin. A client following that as given would send the
//! server secret to SmartThings. So in every JSON answer each `_links.<name>.href` on the
//! API's origin becomes `http://<the Host the caller used>/api<same path and query>`, and
//! a link to any other origin is dropped (never rewritten, never passed on). SmartThings'
//! JavaScript SDK treats only `https://...` as absolute and joins anything else onto its
//! endpoint's path, asking for `/api/devices/http://127.0.0.1:PORT/api/devices?page=1`;
//! a path holding this server's own address like that is served as the link it came
//! from ([`sdk_joined_link`]). Any other address inside a path is refused.
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
    // The guard has checked it names this server; links are made to come back the same way.
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
        .unwrap_or("")
        .to_string();
    let rest = match sdk_joined_link(rest, &shared.allowed_hosts) {
        Joined::No => rest,
        Joined::Link(r) => r,
        Joined::Foreign => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "bad_path",
                "The path names another address; the proxy only forwards SmartThings' API paths after /api.",
            )
        }
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
        let body = match keep_links_here(
            &reply.body,
            reply.headers.get("content-type").and_then(|v| v.to_str().ok()),
            &target,
            &api_origin,
            &host,
        ) {
            Some(rewritten) => rewritten,
            None => reply.body,
        };
        let mut resp = (reply.status, Body::from(body)).into_response();
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

/// `/v1/devices/x`: yes. Empty, `.`/`..` segments (also percent-encoded), encoded
/// slashes, or anything that could change the origin: no.
fn is_plain_path(rest: &str) -> bool {
    let lower = rest.to_ascii_lowercase();
    rest.starts_with('/')
        && rest.len() > 1
        && !rest.contains('\\')
        && !rest.starts_with("//")
        && !lower.contains("%2f")
        && !lower.contains("%5c")
        && rest[1..].split('/').all(|seg| {
            let decoded = seg.replace("%2e", ".").replace("%2E", ".");
            decoded != "." && decoded != ".."
        })
}

/// What [`sdk_joined_link`] found in a path.
#[derive(Debug, PartialEq)]
enum Joined<'a> {
    /// No address in it: an ordinary API path.
    No,
    /// This server's own link, joined onto an endpoint path: the API path it stands for.
    Link(&'a str),
    /// Some other address, or a mangled one: refused.
    Foreign,
}

/// SmartThings' JavaScript SDK (`EndpointClient.url`) takes a link as absolute only when it
/// starts with `https://`; anything else not starting with `/` is appended to
/// `<baseURL>/<endpoint path>/`. Our `http://127.0.0.1:PORT/api/devices?page=1` link thus
/// comes back as `/api/devices/http://127.0.0.1:PORT/api/devices?page=1`. `rest` is the
/// path after `/api`; a segment `http:` or `https:` (also percent-encoded) marks an
/// address, which must be one of `own_hosts` followed by `/api/...`.
fn sdk_joined_link<'a>(rest: &'a str, own_hosts: &[String]) -> Joined<'a> {
    let lower = rest.to_ascii_lowercase();
    let mut at = None;
    let mut offset = 0;
    for seg in lower.split('/') {
        if matches!(seg, "http:" | "https:" | "http%3a" | "https%3a") {
            at = Some(offset + seg.len());
            break;
        }
        offset += seg.len() + 1;
    }
    let Some(after_scheme) = at else { return Joined::No };
    let tail = rest[after_scheme..].trim_start_matches('/');
    let (authority, path) = tail.split_at(tail.find('/').unwrap_or(tail.len()));
    if !own_hosts.iter().any(|h| h.eq_ignore_ascii_case(authority)) {
        return Joined::Foreign;
    }
    match path.strip_prefix("/api") {
        Some(p) if p.starts_with('/') && sdk_joined_link(p, own_hosts) == Joined::No => Joined::Link(p),
        _ => Joined::Foreign,
    }
}

/// The answer with every `_links` entry kept on this proxy (see the module docs), or
/// `None` when nothing needed changing (the body is passed on byte for byte). Any body
/// mentioning `_links` is looked at, whatever its `Content-Type` says.
fn keep_links_here(
    body: &[u8],
    _content_type: Option<&str>,
    target: &str,
    api_origin: &str,
    host: &str,
) -> Option<Vec<u8>> {
    if !body.windows(6).any(|w| w == b"_links") {
        return None;
    }
    let mut v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let base = url::Url::parse(target).ok()?;
    let api = url::Url::parse(api_origin).ok()?;
    let mut changed = false;
    walk(&mut v, &base, &api, host, &mut changed);
    if changed {
        serde_json::to_vec(&v).ok()
    } else {
        None
    }
}

fn walk(v: &mut serde_json::Value, base: &url::Url, api: &url::Url, host: &str, changed: &mut bool) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if k == "_links" {
                    links(child, base, api, host, changed);
                } else {
                    walk(child, base, api, host, changed);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|c| walk(c, base, api, host, changed)),
        _ => {}
    }
}

/// One `_links` object: `{name: {href}}`, `{name: [{href}]}` or `{name: "href"}`.
fn links(v: &mut serde_json::Value, base: &url::Url, api: &url::Url, host: &str, changed: &mut bool) {
    use serde_json::Value;
    // Returns false when the link must go.
    let mut fix = |link: &mut Value| -> bool {
        let href = match link {
            Value::String(s) => s,
            Value::Object(o) => match o.get_mut("href") {
                Some(Value::String(s)) => s,
                Some(Value::Null) | None => return true,
                Some(_) => {
                    *changed = true;
                    return false;
                }
            },
            _ => return true,
        };
        *changed = true;
        match local_link(href, base, api, host) {
            Some(local) => {
                *href = local;
                true
            }
            None => {
                tracing::info!("dropped a link to another origin from a proxied answer");
                false
            }
        }
    };
    match v {
        Value::Object(map) => map.retain(|_, link| match link {
            Value::Array(list) => {
                list.retain_mut(&mut fix);
                true
            }
            other => fix(other),
        }),
        Value::Array(list) => list.retain_mut(&mut fix),
        _ => {}
    }
}

/// `https://api.smartthings.com/devices?page=1` -> `http://<host>/api/devices?page=1` when
/// the link (resolved against the request) is on the API's origin and under its path;
/// `None` (drop it) for any other origin, credentials in the URL or an odd path.
fn local_link(href: &str, base: &url::Url, api: &url::Url, host: &str) -> Option<String> {
    let u = base.join(href).ok()?;
    if u.origin() != api.origin() || !u.username().is_empty() || u.password().is_some() || host.is_empty() {
        return None;
    }
    let path = u.path().strip_prefix(api.path().trim_end_matches('/'))?;
    if !is_plain_path(path) {
        return None;
    }
    let mut out = format!("http://{host}/api{path}");
    if let Some(q) = u.query() {
        out.push('?');
        out.push_str(q);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "127.0.0.1:8765";

    fn rewrite(body: &str, api_origin: &str) -> serde_json::Value {
        let target = format!("{api_origin}/v1/devices");
        let out = keep_links_here(body.as_bytes(), Some("application/json"), &target, api_origin, HOST);
        serde_json::from_slice(&out.unwrap_or_else(|| body.as_bytes().to_vec())).unwrap()
    }

    #[test]
    fn links_on_the_api_origin_come_back_here() {
        let v = rewrite(
            r#"{"items":[],"_links":{"next":{"href":"https://api.smartthings.com/devices?max=200&page=1"},
               "previous":{"href":"/v1/devices?page=0"}}}"#,
            "https://api.smartthings.com",
        );
        assert_eq!(v["_links"]["next"]["href"], "http://127.0.0.1:8765/api/devices?max=200&page=1");
        assert_eq!(v["_links"]["previous"]["href"], "http://127.0.0.1:8765/api/v1/devices?page=0");
        // A prefix in the API's address is kept out of the local path.
        let v = rewrite(r#"{"_links":{"next":{"href":"https://example.com/st/v1/x?a=1"}}}"#, "https://example.com/st");
        assert_eq!(v["_links"]["next"]["href"], "http://127.0.0.1:8765/api/v1/x?a=1");
        // Nested `_links`, lists of links and bare strings too.
        let v = rewrite(
            r#"{"items":[{"_links":{"self":"https://api.smartthings.com/v1/a","alt":[{"href":"https://api.smartthings.com/v1/b"}]}}]}"#,
            "https://api.smartthings.com",
        );
        assert_eq!(v["items"][0]["_links"]["self"], "http://127.0.0.1:8765/api/v1/a");
        assert_eq!(v["items"][0]["_links"]["alt"][0]["href"], "http://127.0.0.1:8765/api/v1/b");
    }

    #[test]
    fn links_elsewhere_are_dropped() {
        for href in [
            "https://evil.example/devices?page=1",
            "http://api.smartthings.com/devices",
            "https://api.smartthings.com:444/devices",
            "https://user:pw@api.smartthings.com/devices",
            "//evil.example/devices",
            "javascript:alert(1)",
            "file:///etc/passwd",
            "https://example.com/other/v1/x",
            "https://api.smartthings.com/%2F%2Fevil.example/x",
        ] {
            let body = format!(r#"{{"_links":{{"next":{{"href":"{href}"}},"keep":null}}}}"#);
            let api = if href.contains("example.com/other") {
                "https://example.com/st"
            } else {
                "https://api.smartthings.com"
            };
            let v = rewrite(&body, api);
            assert!(v["_links"].get("next").is_none(), "{href}: {v}");
            assert!(v["_links"].get("keep").is_some());
        }
    }

    #[test]
    fn answers_without_links_pass_byte_for_byte() {
        let body = br#"{"items":[],"_links":{}}"#;
        assert!(keep_links_here(
            body,
            None,
            "https://api.smartthings.com/v1/devices",
            "https://api.smartthings.com",
            HOST
        )
        .is_none());
        assert!(keep_links_here(
            b"not json",
            None,
            "https://api.smartthings.com/v1/x",
            "https://api.smartthings.com",
            HOST
        )
        .is_none());
    }

    #[test]
    fn the_sdk_join_of_our_link_is_its_path() {
        let own = vec![HOST.to_string(), "localhost:8765".to_string()];
        assert_eq!(sdk_joined_link("/devices", &own), Joined::No);
        assert_eq!(sdk_joined_link("/devices/http://127.0.0.1:8765/api/devices", &own), Joined::Link("/devices"));
        assert_eq!(sdk_joined_link("/devices/HTTP:/LOCALHOST:8765/api/v1/devices", &own), Joined::Link("/v1/devices"));
        for bad in [
            "/devices/https://api.smartthings.com/devices",
            "/devices/http://127.0.0.1:8766/api/devices",
            "/devices/http://127.0.0.1:8765/devices",
            "/devices/http://127.0.0.1:8765/api",
            "/devices/http://127.0.0.1:8765/api/x/https://evil.example/y",
        ] {
            assert_eq!(sdk_joined_link(bad, &own), Joined::Foreign, "{bad}");
        }
    }

    #[test]
    fn only_plain_paths_are_forwarded() {
        assert!(is_plain_path("/v1/devices"));
        assert!(is_plain_path("/v1/devices/abc/status"));
        for bad in [
            "",
            "/",
            "/v1/../oauth/token",
            "/v1/%2e%2e/oauth",
            "//evil.example/x",
            "/v1/./x",
            "/v1\\x",
            "/%2F%2Fevil.example/x",
            "/v1%5c..%5cx",
        ] {
            assert!(!is_plain_path(bad), "{bad}");
        }
    }
}
