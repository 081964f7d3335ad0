//! ST Schema (cloud-to-cloud) callback tokens (issue 13). A connector that SmartThings
//! sent `grantCallbackAccess` exchanges the grant's code for callback tokens, then keeps
//! them fresh, with st-schema JSON posted to the grant's `callbackUrls.oauthToken`: not
//! the OAuth-In form with HTTP Basic (../shared/REFERENCE.md, "ST Schema callback tokens").
//!
//! Only the wire protocol lives here. A connection of kind "schema" is a session like the
//! others (session/source.rs: `Source::Schema`): the vault, refresh ahead of expiry on the
//! wall clock, one refresh at a time across processes, persist before use. A grant is kept
//! as such a connection by `connection::schema::keep`.

mod errors;
mod wire;

use std::time::{Duration, SystemTime};

use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

pub use errors::{ended_note, from_ended_note};
use wire::{GrantCallbackAccess, Headers, TokenAnswer, TokenRequest, TokenRequestAuth};

use crate::clock::unix_ms;
use crate::config::{validate_base_url, ConnectionSettings, SchemaCallback};
use crate::error::{Error, Result};
use crate::token::{AccessToken, RefreshToken, TokenSet};

/// The most a `grantCallbackAccess` (read from stdin) or a token answer may be.
pub const MAX_GRANT: usize = 64 * 1024;
/// When an answer has no `expiresIn`: SmartThings' callback tokens live a day.
const ASSUMED_LIFETIME: Duration = Duration::from_secs(86_400);

/// A `grantCallbackAccess`, checked: its code (secret) and where to refresh.
pub struct Grant {
    pub client_id: String,
    pub code: SecretString,
    pub urls: SchemaCallback,
}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grant").field("client_id", &self.client_id).field("urls", &self.urls).finish_non_exhaustive()
    }
}

fn bad(why: impl Into<String>) -> Error {
    Error::InvalidSetting { field: "grantCallbackAccess".into(), why: why.into() }
}

/// Reads the `grantCallbackAccess` a connector received and checks it is for `client_id`
/// (the connector's own): a grant for another connector is refused before anything is sent.
/// Where a grant's `callbackUrls` may point. The connector's client secret goes to
/// `oauthToken` with every refresh, so a forged grant naming another host would take it:
/// only SmartThings' own hosts (https, `smartthings.com` and its subdomains, such as
/// `c2c-us.smartthings.com`) are accepted, and loopback only when asked for explicitly
/// (the simulator, tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackHosts {
    SmartThings,
    /// Also `http(s)://127.0.0.1`, `localhost` and `[::1]` on any port.
    AlsoLoopback,
}

/// SmartThings' callback hosts: `smartthings.com` itself or any of its subdomains.
const SMARTTHINGS_DOMAIN: &str = "smartthings.com";

impl CallbackHosts {
    fn check(self, field: &str, url: &str) -> Result<()> {
        let parsed = url::Url::parse(url).map_err(|e| bad(format!("its {field} is not a URL ({e})")))?;
        let host = parsed.host_str().unwrap_or_default().to_ascii_lowercase();
        let loopback = matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]");
        let smartthings = parsed.scheme() == "https"
            && (host == SMARTTHINGS_DOMAIN || host.ends_with(&format!(".{SMARTTHINGS_DOMAIN}")))
            && parsed.username().is_empty()
            && parsed.password().is_none();
        if smartthings || (loopback && self == CallbackHosts::AlsoLoopback) {
            return Ok(());
        }
        Err(Error::SchemaForeignCallback {
            field: field.to_string(),
            host: if host.is_empty() { url.chars().take(80).collect() } else { host },
        })
    }
}

pub fn parse_grant(raw: &str, client_id: &str, hosts: CallbackHosts) -> Result<Grant> {
    if raw.len() > MAX_GRANT {
        return Err(bad(format!("it is over {MAX_GRANT} bytes; pass the JSON SmartThings sent, as it is")));
    }
    let g: GrantCallbackAccess = serde_json::from_str(raw.trim()).map_err(|e| {
        bad(format!(
            "it is not the JSON SmartThings sends ({e}); pass the whole body of the grantCallbackAccess request"
        ))
    })?;
    let interaction = g.headers.as_ref().map(|h| h.interaction_type.as_str());
    if interaction != Some("grantCallbackAccess") {
        return Err(bad(format!(
            "its headers.interactionType is {:?}, not \"grantCallbackAccess\"",
            interaction.unwrap_or("missing")
        )));
    }
    let auth = g.callback_authentication.ok_or_else(|| bad("it has no callbackAuthentication"))?;
    let code = auth.code.filter(|c| !c.is_empty()).ok_or_else(|| bad("its callbackAuthentication has no code"))?;
    let theirs = auth.client_id.unwrap_or_default();
    if theirs.trim() != client_id.trim() {
        return Err(Error::InvalidSetting {
            field: "client_id".into(),
            why: format!(
                "the grant is for client id `{theirs}`, not this connector's `{client_id}`: give the Client ID of the ST Schema connector that received it"
            ),
        });
    }
    if auth.grant_type.as_deref().is_some_and(|t| t != "authorization_code") {
        return Err(bad("its callbackAuthentication.grantType is not authorization_code"));
    }
    let urls = g.callback_urls.ok_or_else(|| bad("it has no callbackUrls"))?;
    let urls = SchemaCallback {
        oauth_token: urls.oauth_token.ok_or_else(|| bad("its callbackUrls has no oauthToken"))?,
        state_callback: urls.state_callback.ok_or_else(|| bad("its callbackUrls has no stateCallback"))?,
    };
    validate_base_url("callbackUrls.oauthToken", &urls.oauth_token)?;
    validate_base_url("callbackUrls.stateCallback", &urls.state_callback)?;
    // Before anything is sent anywhere: the secret goes only to SmartThings.
    hosts.check("callbackUrls.oauthToken", &urls.oauth_token)?;
    hosts.check("callbackUrls.stateCallback", &urls.state_callback)?;
    Ok(Grant { client_id: client_id.trim().to_string(), code: SecretString::from(code), urls })
}

/// The connector's side of the callback token endpoint.
pub struct SchemaClient {
    http: reqwest::Client,
    client_id: String,
    client_secret: SecretString,
    token_url: String,
}

impl std::fmt::Debug for SchemaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaClient")
            .field("client_id", &self.client_id)
            .field("token_url", &self.token_url)
            .finish_non_exhaustive()
    }
}

impl SchemaClient {
    pub fn new(
        settings: &ConnectionSettings,
        client_secret: &SecretString,
        http: reqwest::Client,
    ) -> Result<SchemaClient> {
        let urls = settings.schema.as_ref().ok_or_else(|| Error::InvalidSetting {
            field: "schema".into(),
            why: "this connection has no ST Schema callback URLs; run `thingstray schema grant`".into(),
        })?;
        Ok(SchemaClient {
            http,
            client_id: settings.client_id.trim().to_string(),
            client_secret: client_secret.clone(),
            token_url: urls.oauth_token.clone(),
        })
    }

    /// `accessTokenRequest`: the grant's code for a first pair.
    pub async fn exchange(&self, code: &SecretString, now: SystemTime) -> Result<TokenSet> {
        let auth = TokenRequestAuth {
            grant_type: "authorization_code",
            code: Some(code.expose_secret()),
            refresh_token: None,
            client_id: &self.client_id,
            client_secret: self.client_secret.expose_secret(),
        };
        let t = self.call("accessTokenRequest", auth, now).await?;
        Ok(TokenSet { from_refresh: false, ..t })
    }

    /// `refreshAccessTokens`: spends `refresh_token` (SmartThings rotates it).
    pub async fn refresh(&self, refresh_token: &RefreshToken, now: SystemTime) -> Result<TokenSet> {
        let auth = TokenRequestAuth {
            grant_type: "refresh_token",
            code: None,
            refresh_token: Some(refresh_token.secret()),
            client_id: &self.client_id,
            client_secret: self.client_secret.expose_secret(),
        };
        self.call("refreshAccessTokens", auth, now).await
    }

    async fn call(&self, interaction: &str, auth: TokenRequestAuth<'_>, now: SystemTime) -> Result<TokenSet> {
        if looks_like_oauth_in(&self.token_url) {
            return Err(Error::SchemaWrongEndpoint {
                url: self.token_url.clone(),
                detail: "that is the OAuth-In token endpoint".into(),
            });
        }
        let body = TokenRequest { headers: Headers::new(interaction), callback_authentication: auth };
        let resp = self.http.post(&self.token_url).json(&body).send().await.map_err(crate::http::transport)?;
        let reply = crate::http::read_capped(resp, &self.token_url, MAX_GRANT).await?;
        token_answer(&reply.body, reply.status.as_u16(), &self.token_url, now)
    }
}

/// SmartThings' OAuth-In token endpoint, where a callback token does not belong.
fn looks_like_oauth_in(url: &str) -> bool {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        .is_some_and(|h| h.starts_with("auth-global.") || h == "api.smartthings.com")
}

/// An answer of the callback token endpoint, whatever it holds: a pair, a `globalError`,
/// an OAuth-In style error (the wrong endpoint), a gateway's page. Never panics; never
/// quotes the body (it could hold a token).
pub fn token_answer(body: &[u8], status: u16, url: &str, now: SystemTime) -> Result<TokenSet> {
    if status >= 500 {
        return Err(Error::ServerError { status });
    }
    if status == 429 {
        return Err(Error::RateLimited { retry_after: Duration::from_secs(60) });
    }
    let value: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    if let Some(v) = &value {
        if v.get("error").and_then(|e| e.as_str()).is_some() && v.get("globalError").is_none() {
            let error = v["error"].as_str().unwrap_or_default().chars().take(64).collect::<String>();
            return Err(Error::SchemaWrongEndpoint {
                url: url.to_string(),
                detail: format!("it answered the OAuth-In error `{error}`"),
            });
        }
    }
    let answer: Option<TokenAnswer> = value.and_then(|v| serde_json::from_value(v).ok());
    let Some(answer) = answer else {
        return Err(Error::UnexpectedResponse { status, what: crate::http::describe_body(body), url: url.to_string() });
    };
    if let Some(g) = answer.global_error {
        return Err(errors::from_global_error(
            g.error_enum.as_deref().unwrap_or("UNKNOWN"),
            g.detail.as_deref().unwrap_or(""),
        ));
    }
    let Some(a) = answer.callback_authentication.filter(|_| (200..300).contains(&status)) else {
        return Err(Error::UnexpectedResponse {
            status,
            what: "no callbackAuthentication in the answer".into(),
            url: url.to_string(),
        });
    };
    if a.token_type.as_deref().is_some_and(|t| !t.eq_ignore_ascii_case("bearer")) {
        return Err(Error::BadPayload { detail: "the callback token answer's tokenType is not Bearer".into() });
    }
    let access = a
        .access_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::BadPayload { detail: "the callback token answer has no accessToken".into() })?;
    let refresh = a.refresh_token.filter(|t| !t.is_empty()).ok_or_else(|| Error::BadPayload {
        detail: "the callback token answer has no refreshToken, so the access could not be kept".into(),
    })?;
    let life = a.expires_in.map(Duration::from_secs).unwrap_or(ASSUMED_LIFETIME).min(Duration::from_secs(400 * 86_400));
    let issued = unix_ms(now);
    Ok(TokenSet {
        access_token: AccessToken::new(access),
        refresh_token: RefreshToken::new(refresh),
        expires_at_ms: issued + life.as_millis() as u64,
        issued_at_ms: issued,
        scope: "callback_access".into(),
        installed_app_id: None,
        ended: None,
        from_refresh: true,
    })
}

/// One device state for `stateCallback`.
pub struct DeviceState<'a> {
    pub external_device_id: &'a str,
    pub capability: &'a str,
    pub attribute: &'a str,
    pub value: serde_json::Value,
}

/// Sends one `stateCallback` with the callback access token `token`. Ok when SmartThings
/// accepted it; a `globalError` comes back as its error (an expired or unknown token
/// included, which the caller answers with one refresh and one retry).
pub async fn state_callback(http: &reqwest::Client, url: &str, token: &str, state: &DeviceState<'_>) -> Result<()> {
    let body = json!({
        "headers": Headers::new("stateCallback"),
        "authentication": {"tokenType": "Bearer", "token": token},
        "deviceState": [{
            "externalDeviceId": state.external_device_id,
            "states": [{"component": "main", "capability": state.capability, "attribute": state.attribute, "value": state.value}]
        }]
    });
    let resp = http.post(url).json(&body).send().await.map_err(crate::http::transport)?;
    let reply = crate::http::read_capped(resp, url, MAX_GRANT).await?;
    let status = reply.status.as_u16();
    if (200..300).contains(&status) {
        return Ok(());
    }
    if status >= 500 {
        return Err(Error::ServerError { status });
    }
    let g = serde_json::from_slice::<TokenAnswer>(&reply.body).ok().and_then(|a| a.global_error);
    match g {
        Some(g) => Err(errors::from_global_error(
            g.error_enum.as_deref().unwrap_or("UNKNOWN"),
            g.detail.as_deref().unwrap_or(""),
        )),
        None => Err(Error::UnexpectedResponse {
            status,
            what: crate::http::describe_body(&reply.body),
            url: url.to_string(),
        }),
    }
}

/// The callback token's refresh for a 401 on `stateCallback`: these two mean "the token,
/// not the request".
pub fn token_refused(e: &Error) -> bool {
    matches!(e, Error::SchemaAccessEnded { error_enum, .. } | Error::SchemaRefused { error_enum, .. } if error_enum == "TOKEN-EXPIRED" || error_enum == "INVALID-TOKEN")
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRANT: &str = r#"{"headers":{"schema":"st-schema","version":"1.0","interactionType":"grantCallbackAccess","requestId":"abc"},
        "authentication":{"tokenType":"Bearer","token":"t"},
        "callbackAuthentication":{"grantType":"authorization_code","scope":"callback_access","code":"the-code","clientId":"my-connector"},
        "callbackUrls":{"oauthToken":"https://c2c-us.smartthings.com/oauth/token","stateCallback":"https://c2c-us.smartthings.com/device/events"}}"#;

    #[test]
    fn a_grant_is_read_and_checked_against_our_client_id() {
        let g = parse_grant(GRANT, "my-connector", CallbackHosts::SmartThings).unwrap();
        assert_eq!(g.code.expose_secret(), "the-code");
        assert_eq!(g.urls.oauth_token, "https://c2c-us.smartthings.com/oauth/token");
        assert!(!format!("{g:?}").contains("the-code"), "the code stays out of Debug");
        let e = parse_grant(GRANT, "another-connector", CallbackHosts::SmartThings).unwrap_err();
        assert!(e.to_string().contains("my-connector"), "{e}");
        for broken in [
            "",
            "{",
            "[]",
            r#"{"headers":{"schema":"st-schema","version":"1.0","interactionType":"discoveryRequest","requestId":"x"}}"#,
        ] {
            assert_eq!(
                parse_grant(broken, "my-connector", CallbackHosts::SmartThings).unwrap_err().code(),
                "invalid_setting",
                "{broken}"
            );
        }
        let http = GRANT.replace("https://c2c-us.smartthings.com/oauth/token", "http://example.com/oauth/token");
        assert!(
            parse_grant(&http, "my-connector", CallbackHosts::AlsoLoopback).is_err(),
            "plain http off loopback is refused"
        );
    }

    /// Issue 25, item 6: a forged grant naming another host would have had the connector's
    /// secret sent there with the first exchange.
    #[test]
    fn a_grant_naming_a_foreign_host_is_refused_before_anything_is_sent() {
        for (from, to) in [
            ("https://c2c-us.smartthings.com/oauth/token", "https://attacker.example/oauth/token"),
            ("https://c2c-us.smartthings.com/oauth/token", "https://smartthings.com.attacker.example/oauth/token"),
            ("https://c2c-us.smartthings.com/oauth/token", "https://evilsmartthings.com/oauth/token"),
            ("https://c2c-us.smartthings.com/device/events", "https://attacker.example/events"),
            ("https://c2c-us.smartthings.com/oauth/token", "http://127.0.0.1:9/oauth/token"),
            ("https://c2c-us.smartthings.com/oauth/token", "https://user:pw@c2c-us.smartthings.com/oauth/token"),
        ] {
            let forged = GRANT.replace(from, to);
            let e = parse_grant(&forged, "my-connector", CallbackHosts::SmartThings).unwrap_err();
            assert_eq!(e.code(), "schema_foreign_callback", "{to}: {e}");
        }
        let local = GRANT.replace("https://c2c-us.smartthings.com/oauth/token", "http://127.0.0.1:9/oauth/token");
        assert!(
            parse_grant(&local, "my-connector", CallbackHosts::AlsoLoopback).is_ok(),
            "the simulator, when asked for"
        );
        for ok in ["https://c2c-eu.smartthings.com/oauth/token", "https://c2c-ap.smartthings.com/oauth/token"] {
            let g = GRANT.replace("https://c2c-us.smartthings.com/oauth/token", ok);
            assert!(parse_grant(&g, "my-connector", CallbackHosts::SmartThings).is_ok(), "{ok}");
        }
    }

    #[test]
    fn answers_become_a_pair_or_an_explained_error_never_a_panic() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let ok = br#"{"headers":{"interactionType":"accessTokenResponse"},"callbackAuthentication":{"tokenType":"Bearer","accessToken":"a","refreshToken":"r","expiresIn":86400}}"#;
        let t = token_answer(ok, 200, "u", now).unwrap();
        assert_eq!((t.access_token.secret().as_str(), t.refresh_token.secret().as_str()), ("a", "r"));
        assert_eq!(t.expires_at_ms, 1_000_000 + 86_400_000);
        let ge = br#"{"headers":{"interactionType":"interactionResult"},"globalError":{"errorEnum":"INTEGRATION-DELETED","detail":"gone"}}"#;
        let e = token_answer(ge, 401, "u", now).unwrap_err();
        assert!(e.needs_sign_in() && e.to_string().contains("gone"), "{e}");
        let oauth_in = br#"{"error":"invalid_grant","error_description":"Invalid refresh token: r"}"#;
        let e = token_answer(oauth_in, 400, "u", now).unwrap_err();
        assert_eq!(e.code(), "schema_wrong_endpoint");
        assert!(!e.to_string().contains("Invalid refresh token: r"), "the body is not quoted: {e}");
        assert_eq!(token_answer(b"<html>", 502, "u", now).unwrap_err().code(), "server_error");
        for odd in [
            &b""[..],
            b"null",
            b"{}",
            b"{\"callbackAuthentication\":7}",
            br#"{"callbackAuthentication":{"accessToken":"a"}}"#,
        ] {
            assert!(token_answer(odd, 200, "u", now).is_err(), "{}", String::from_utf8_lossy(odd));
        }
    }

    #[test]
    fn the_oauth_in_endpoint_is_named_as_the_trap() {
        assert!(looks_like_oauth_in("https://auth-global.api.smartthings.com/oauth/token"));
        assert!(looks_like_oauth_in("https://api.smartthings.com/oauth/token"));
        assert!(!looks_like_oauth_in("https://c2c-us.smartthings.com/oauth/token"));
    }
}
