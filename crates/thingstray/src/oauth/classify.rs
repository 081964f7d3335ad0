//! Turns a token endpoint's non-success answer into the error that explains it. This is
//! where each trap users fall into gets its own message (see REFERENCE.md, "What broke
//! other integrations").

use std::time::SystemTime;

use reqwest::header::WWW_AUTHENTICATE;
use serde::Deserialize;

use crate::error::Error;
use crate::http::{describe_body, rate_limit_wait, Reply};

/// Which request got the answer: the same `invalid_grant` means "sign in again, the code
/// expired" for one and "the session ended" for the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
}

#[derive(Deserialize)]
struct OAuthErrorBody {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// `sent` is the code or refresh token the request carried: SmartThings echoes it in
/// `error_description` ("Invalid refresh token: <token>"), and it must not reach a log.
pub fn classify(grant: Grant, reply: &Reply, url: &str, redirect_uri: &str, sent: &str, now: SystemTime) -> Error {
    let status = reply.status.as_u16();
    if status == 429 {
        return Error::RateLimited { retry_after: rate_limit_wait(&reply.headers, &reply.body, now) };
    }
    if reply.status.is_server_error() {
        return Error::ServerError { status };
    }
    let basic_challenge = reply
        .headers
        .get(WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("basic"));
    let body: Option<OAuthErrorBody> = serde_json::from_slice(&reply.body).ok();
    let Some(body) = body else {
        if status == 401 && basic_challenge {
            return Error::ClientRejected { detail: "HTTP 401".into() };
        }
        return Error::UnexpectedResponse { status, what: describe_body(&reply.body), url: url.to_string() };
    };
    let description = body.error_description.map(|d| redact(&d, sent));
    let detail = description.clone().unwrap_or_else(|| body.error.clone());
    let mentions = |needle: &str| description.as_deref().is_some_and(|d| d.to_ascii_lowercase().contains(needle));
    match body.error.as_str() {
        "invalid_grant" if mentions("redirect") => {
            Error::RedirectUriMismatch { redirect_uri: redirect_uri.to_string() }
        }
        "invalid_grant" => match grant {
            Grant::RefreshToken => Error::SessionEnded { detail },
            _ => Error::CodeRejected { detail },
        },
        "unsupported_grant_type" | "unauthorized_client" => Error::GrantNotAllowed { grant: grant_name(grant).into() },
        "invalid_client" if mentions("grant type") => Error::GrantNotAllowed { grant: grant_name(grant).into() },
        "invalid_client" | "unauthorized" => Error::ClientRejected { detail },
        _ if status == 401 && basic_challenge => Error::ClientRejected { detail },
        _ => Error::OAuthRefused { error: body.error.chars().take(100).collect(), description },
    }
}

pub fn grant_name(grant: Grant) -> &'static str {
    match grant {
        Grant::AuthorizationCode => "authorization_code",
        Grant::RefreshToken => "refresh_token",
        Grant::ClientCredentials => "client_credentials",
    }
}

fn redact(description: &str, sent: &str) -> String {
    let d: String = description.chars().filter(|c| !c.is_control()).take(300).collect();
    if sent.len() >= 4 {
        d.replace(sent, "[redacted]")
    } else {
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderMap;
    use reqwest::StatusCode;

    fn reply(status: u16, headers: &[(&'static str, &str)], body: &str) -> Reply {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(*k, v.parse().unwrap());
        }
        Reply { status: StatusCode::from_u16(status).unwrap(), headers: h, body: body.as_bytes().to_vec() }
    }

    fn run(grant: Grant, r: &Reply) -> Error {
        classify(
            grant,
            r,
            "http://127.0.0.1/oauth/token",
            "https://thingstray.invalid/callback",
            "tok-1234",
            SystemTime::now(),
        )
    }

    #[test]
    fn dead_refresh_token_ends_the_session_and_is_redacted() {
        let body =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/token_invalid_response.json"))
                .unwrap();
        let e = run(Grant::RefreshToken, &reply(400, &[], &body));
        assert_eq!(e.code(), "session_ended");
        // The same body documented with 401 means the same thing.
        assert_eq!(run(Grant::RefreshToken, &reply(401, &[], &body)).code(), "session_ended");
        let e = run(
            Grant::RefreshToken,
            &reply(400, &[], r#"{"error":"invalid_grant","error_description":"Invalid refresh token: tok-1234"}"#),
        );
        assert!(!e.to_string().contains("tok-1234"), "{e}");
    }

    #[test]
    fn each_trap_has_its_own_error() {
        let basic = [("www-authenticate", r#"Basic realm="oauth2/client", error="unauthorized""#)];
        let full =
            r#"{"error":"unauthorized","error_description":"Full authentication is required to access this resource"}"#;
        assert_eq!(run(Grant::RefreshToken, &reply(401, &basic, full)).code(), "client_rejected");
        assert_eq!(run(Grant::RefreshToken, &reply(401, &basic, "")).code(), "client_rejected");
        let cc = r#"{"error":"invalid_client","error_description":"Unauthorized grant type: client_credentials"}"#;
        assert_eq!(run(Grant::ClientCredentials, &reply(401, &[], cc)).code(), "grant_not_allowed");
        let mismatch = r#"{"error":"invalid_grant","error_description":"Redirect URI mismatch."}"#;
        let e = run(Grant::AuthorizationCode, &reply(400, &[], mismatch));
        assert_eq!(e.code(), "redirect_uri_mismatch");
        assert!(e.to_string().contains("https://thingstray.invalid/callback"));
        let used = r#"{"error":"invalid_grant","error_description":"Invalid authorization code: tok-1234"}"#;
        assert_eq!(run(Grant::AuthorizationCode, &reply(400, &[], used)).code(), "code_rejected");
        assert_eq!(run(Grant::RefreshToken, &reply(502, &[], "<html>Bad Gateway</html>")).code(), "server_error");
        assert_eq!(run(Grant::RefreshToken, &reply(429, &[("x-ratelimit-reset", "2000")], "")).code(), "rate_limited");
        let html = run(Grant::RefreshToken, &reply(403, &[], "<!doctype html><p>captive portal</p>"));
        assert_eq!(html.code(), "unexpected_response");
        assert!(html.to_string().contains("HTML page"));
    }
}
