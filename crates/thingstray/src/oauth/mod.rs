//! OAuth2 the way SmartThings wants it: authorization code with `state` and PKCE (S256),
//! then refresh forever. Requests are form-encoded with HTTP Basic client authentication
//! and `Accept: application/json`; the `oauth2` crate builds them and parses the answers,
//! and our own transport ([`send`]) caps body sizes and turns each failure into an error
//! that says what to do.
//!
//! Only [`crate::session`] calls [`OAuthClient::refresh`]; sign-in calls `exchange`.

mod callback;
mod classify;
pub mod redirect;

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet, ExtraTokenFields,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, Scope, StandardRevocableToken,
    StandardTokenResponse, TokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

pub use callback::Callback;
pub use classify::{classify, Grant};

use crate::clock::unix_ms;
use crate::config::ConnectionSettings;
use crate::error::{Error, Result};
use crate::token::TokenSet;

/// SmartThings' extra token fields. Unknown fields are ignored.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct SmartThingsFields {
    #[serde(default)]
    pub installed_app_id: Option<String>,
}
impl ExtraTokenFields for SmartThingsFields {}

type TokenAnswer = StandardTokenResponse<SmartThingsFields, BasicTokenType>;
type Client = oauth2::Client<
    BasicErrorResponse,
    TokenAnswer,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// When a token answer omits `expires_in` (SmartThings always sends it), assume an hour:
/// refreshing too early is harmless, too late is not.
const ASSUMED_LIFETIME: Duration = Duration::from_secs(3600);

#[derive(Clone)]
pub struct OAuthClient {
    client: Client,
    http: reqwest::Client,
    settings: ConnectionSettings,
}

impl std::fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthClient").field("client_id", &self.settings.client_id).finish_non_exhaustive()
    }
}

/// A sign-in in progress: the authorize URL to open and what the answer must match.
/// It stays pending when an answer is refused, so a stray or forged callback changes nothing.
/// How long a started sign-in can be finished (the desktop's sign-in window, `thingstray
/// login --no-wait`): SmartThings' codes last minutes, its sign-in page a little longer. An
/// older state and PKCE verifier are dropped, so a forgotten sign-in cannot be finished later.
pub const SIGN_IN_LIFETIME: std::time::Duration = std::time::Duration::from_secs(30 * 60);

pub struct SignIn {
    url: Url,
    state: CsrfToken,
    verifier: Option<PkceCodeVerifier>,
    redirect_uri: String,
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn").field("redirect_uri", &self.redirect_uri).finish_non_exhaustive()
    }
}

impl SignIn {
    pub fn authorize_url(&self) -> &Url {
        &self.url
    }

    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Is `url` a navigation to the redirect URI (same scheme, host, port and path)? The
    /// sign-in webview asks this for every navigation and cancels the ones that match, so
    /// the code never leaves the machine.
    pub fn is_redirect(&self, url: &str) -> bool {
        is_redirect_to(&self.redirect_uri, url)
    }

    /// Checks an answer (URL, query or bare code) against this sign-in, without any
    /// network call. A bare code carries no state; the PKCE verifier still binds it to us.
    pub fn accept(&self, input: &str) -> Result<AuthorizationCode> {
        match Callback::parse(input)? {
            Callback::Code { code, state } => {
                if let Some(state) = state {
                    self.check_state(&state)?;
                } else if Url::parse(input.trim()).is_ok() || input.contains('=') {
                    return Err(Error::StateMismatch);
                }
                Ok(AuthorizationCode::new(code))
            }
            Callback::Refused { error, description, state } => {
                // We always send a state, and SmartThings returns it with a refusal too
                // (RFC 6749 4.1.2.1): one without it was not sent by SmartThings for us.
                self.check_state(state.as_deref().ok_or(Error::StateMismatch)?)?;
                Err(if error == "access_denied" {
                    Error::SignInDenied { description }
                } else {
                    Error::SignInFailed { error, description }
                })
            }
        }
    }

    fn check_state(&self, got: &str) -> Result<()> {
        let want = self.state.secret().as_bytes();
        let got = got.as_bytes();
        // Constant time: the state is a CSRF secret.
        let same = want.len() == got.len() && want.iter().zip(got).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
        if same {
            Ok(())
        } else {
            Err(Error::StateMismatch)
        }
    }
}

/// A sign-in kept between two processes: `thingstray login --no-wait` prints the URL and
/// stores this in the vault; `thingstray login --paste URL` picks it up. It holds the state
/// and the PKCE verifier, so it is a secret and travels as one.
#[derive(Serialize, Deserialize)]
struct SavedSignIn {
    url: String,
    state: String,
    verifier: Option<String>,
    redirect_uri: String,
}

impl SignIn {
    /// Everything needed to finish this sign-in later, for the vault only.
    pub fn export(&self) -> SecretString {
        let saved = SavedSignIn {
            url: self.url.to_string(),
            state: self.state.secret().clone(),
            verifier: self.verifier.as_ref().map(|v| v.secret().clone()),
            redirect_uri: self.redirect_uri.clone(),
        };
        SecretString::from(serde_json::to_string(&saved).unwrap_or_default())
    }

    /// The sign-in [`SignIn::export`] saved.
    pub fn import(saved: &SecretString) -> Result<SignIn> {
        let s: SavedSignIn = serde_json::from_str(saved.expose_secret())
            .map_err(|e| Error::VaultCorrupt { key: "pending sign-in".into(), detail: e.to_string() })?;
        let url = Url::parse(&s.url)
            .map_err(|e| Error::VaultCorrupt { key: "pending sign-in".into(), detail: e.to_string() })?;
        Ok(SignIn {
            url,
            state: CsrfToken::new(s.state),
            verifier: s.verifier.map(PkceCodeVerifier::new),
            redirect_uri: s.redirect_uri,
        })
    }
}

impl OAuthClient {
    pub fn new(
        settings: &ConnectionSettings,
        client_secret: &SecretString,
        http: reqwest::Client,
    ) -> Result<OAuthClient> {
        let bad = |field: &str, e: url::ParseError| Error::InvalidSetting { field: field.into(), why: e.to_string() };
        let client = oauth2::Client::new(ClientId::new(settings.client_id.trim().to_string()))
            .set_client_secret(ClientSecret::new(client_secret.expose_secret().to_string()))
            .set_auth_uri(AuthUrl::new(settings.authorize_url()).map_err(|e| bad("auth_url", e))?)
            .set_token_uri(TokenUrl::new(settings.token_url()).map_err(|e| bad("token_url", e))?)
            .set_redirect_uri(RedirectUrl::new(settings.redirect_uri.clone()).map_err(|e| bad("redirect_uri", e))?);
        Ok(OAuthClient { client, http, settings: settings.clone() })
    }

    pub fn settings(&self) -> &ConnectionSettings {
        &self.settings
    }

    /// A fresh sign-in: a new random `state` and, unless turned off, a PKCE S256 challenge.
    pub fn begin_sign_in(&self) -> SignIn {
        let mut req = self
            .client
            .authorize_url(CsrfToken::new_random)
            .add_scopes(self.settings.scopes.iter().map(|s| Scope::new(s.clone())));
        let verifier = if self.settings.pkce {
            let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
            req = req.set_pkce_challenge(challenge);
            Some(verifier)
        } else {
            None
        };
        let (url, state) = req.url();
        SignIn { url, state, verifier, redirect_uri: self.settings.redirect_uri.clone() }
    }

    /// Trades the code for tokens.
    pub async fn exchange(&self, sign_in: &SignIn, code: AuthorizationCode, now: SystemTime) -> Result<TokenSet> {
        let sent = code.secret().clone();
        let mut req =
            self.client.exchange_code(code).add_extra_param("client_id", self.settings.client_id.trim().to_string());
        if let Some(v) = &sign_in.verifier {
            req = req.set_pkce_verifier(PkceCodeVerifier::new(v.secret().clone()));
        }
        let send = Transport { oauth: self, grant: Grant::AuthorizationCode, sent: &sent };
        let answer = req.request_async(&send).await.map_err(|e| self.unwrap(e))?;
        let refresh = answer.refresh_token().cloned().ok_or_else(|| Error::BadPayload {
            detail: "the token answer had no refresh_token, so the session could not be kept".into(),
        })?;
        token_set(&answer, refresh, now)
    }

    /// Trades the refresh token for a new pair. The old refresh token is dead from the
    /// moment SmartThings answers: the caller must save the new pair before anything else.
    pub async fn refresh(&self, refresh_token: &RefreshToken, now: SystemTime) -> Result<TokenSet> {
        let sent = refresh_token.secret().clone();
        let req = self
            .client
            .exchange_refresh_token(refresh_token)
            .add_extra_param("client_id", self.settings.client_id.trim().to_string());
        let send = Transport { oauth: self, grant: Grant::RefreshToken, sent: &sent };
        let answer = req.request_async(&send).await.map_err(|e| self.unwrap(e))?;
        // RFC 6749 lets a server keep the old refresh token; SmartThings always rotates.
        let refresh = answer.refresh_token().cloned().unwrap_or_else(|| refresh_token.clone());
        Ok(TokenSet { from_refresh: true, ..token_set(&answer, refresh, now)? })
    }

    /// Checks the client id and secret without a user: SmartThings authenticates the
    /// client first and only then refuses `client_credentials`. "Grant not allowed" thus
    /// means the pair is right; "client rejected" means it is wrong.
    pub async fn check_client(&self) -> Result<()> {
        let req = self.client.exchange_client_credentials();
        let send = Transport { oauth: self, grant: Grant::ClientCredentials, sent: "" };
        match req.request_async(&send).await.map_err(|e| self.unwrap(e)) {
            Err(Error::GrantNotAllowed { .. }) | Ok(_) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Asks the authorize endpoint whether it accepts our client id and redirect URI,
    /// before a user is sent there. SmartThings answers a bad redirect URI with a plain
    /// text page, which a user in a webview would otherwise have to interpret.
    pub async fn preflight(&self, sign_in: &SignIn) -> Result<()> {
        let url = sign_in.authorize_url().as_str();
        let resp = self.http.get(url).send().await.map_err(crate::http::transport)?;
        let reply = crate::http::read(resp, url).await?;
        let body = String::from_utf8_lossy(&reply.body);
        if reply.status.is_server_error() {
            return Err(Error::ServerError { status: reply.status.as_u16() });
        }
        if body.contains("could not be validated") {
            return Err(Error::RedirectUriMismatch { redirect_uri: self.settings.redirect_uri.clone() });
        }
        if reply.status.is_client_error() {
            return Err(Error::UnexpectedResponse {
                status: reply.status.as_u16(),
                what: crate::http::describe_body(&reply.body),
                url: self.settings.authorize_url(),
            });
        }
        Ok(())
    }

    /// The transport handed to `oauth2`: it sends, reads at most 1 MiB, and turns every
    /// non-success into our error right here, where we still know which grant it was.
    async fn send(&self, grant: Grant, sent: &str, req: oauth2::HttpRequest) -> Result<oauth2::HttpResponse> {
        let (parts, body) = req.into_parts();
        let url = parts.uri.to_string();
        let resp = self
            .http
            .request(parts.method, &url)
            .headers(parts.headers)
            .body(body)
            .send()
            .await
            .map_err(crate::http::transport)?;
        let reply = crate::http::read(resp, &url).await?;
        if !reply.status.is_success() {
            return Err(classify::classify(grant, &reply, &url, &self.settings.redirect_uri, sent, SystemTime::now()));
        }
        let mut out = http::Response::builder().status(reply.status);
        for (k, v) in &reply.headers {
            out = out.header(k, v);
        }
        out.body(reply.body).map_err(|e| Error::io("reading the token answer", e))
    }

    fn unwrap(&self, e: RequestTokenError<Error, BasicErrorResponse>) -> Error {
        let url = self.settings.token_url();
        match e {
            RequestTokenError::Request(e) => e,
            RequestTokenError::Parse(_, body) => {
                Error::UnexpectedResponse { status: 200, what: crate::http::describe_body(&body), url }
            }
            RequestTokenError::Other(why) if why.contains("Content-Type") => {
                Error::UnexpectedResponse { status: 200, what: "a non-JSON answer".into(), url }
            }
            RequestTokenError::Other(why) => Error::UnexpectedResponse { status: 200, what: why, url },
            RequestTokenError::ServerResponse(r) => {
                Error::OAuthRefused { error: r.error().to_string(), description: r.error_description().cloned() }
            }
        }
    }
}

/// The transport handed to `oauth2`, as a type with a boxed `Send` future: a closure's
/// future would not be provably `Send` for every lifetime, and the session runs on a
/// multi-threaded runtime.
struct Transport<'a> {
    oauth: &'a OAuthClient,
    grant: Grant,
    sent: &'a str,
}

impl<'c> oauth2::AsyncHttpClient<'c> for Transport<'_> {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse>> + Send + 'c>>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(self.oauth.send(self.grant, self.sent, request))
    }
}

fn token_set(answer: &TokenAnswer, refresh_token: RefreshToken, now: SystemTime) -> Result<TokenSet> {
    if !matches!(answer.token_type(), BasicTokenType::Bearer) {
        return Err(Error::BadPayload { detail: "the token answer's token_type is not bearer".into() });
    }
    if answer.access_token().secret().is_empty() {
        return Err(Error::BadPayload { detail: "the token answer's access_token is empty".into() });
    }
    let life = answer.expires_in().unwrap_or(ASSUMED_LIFETIME).min(Duration::from_secs(400 * 86_400));
    let issued = unix_ms(now);
    Ok(TokenSet {
        access_token: answer.access_token().clone(),
        refresh_token,
        expires_at_ms: issued + life.as_millis() as u64,
        issued_at_ms: issued,
        scope: answer.scopes().map(|s| s.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")).unwrap_or_default(),
        installed_app_id: answer.extra_fields().installed_app_id.clone(),
        ended: None,
        from_refresh: false,
    })
}

/// Parses a token endpoint success body the way [`OAuthClient`] does. Exposed for the
/// property tests: no body, however odd, may panic.
pub fn parse_token_answer(body: &[u8], now: SystemTime) -> Result<TokenSet> {
    let answer: TokenAnswer = serde_json::from_slice(body).map_err(|_| Error::UnexpectedResponse {
        status: 200,
        what: crate::http::describe_body(body),
        url: String::new(),
    })?;
    let refresh = answer
        .refresh_token()
        .cloned()
        .ok_or_else(|| Error::BadPayload { detail: "the token answer had no refresh_token".into() })?;
    token_set(&answer, refresh, now)
}

/// Is `url` a navigation to `redirect_uri` (same scheme, host, port and path)? Also for a
/// window process (issue 30), which knows the redirect URI of the resident's sign-in but
/// not the sign-in itself.
pub fn is_redirect_to(redirect_uri: &str, url: &str) -> bool {
    let (Ok(want), Ok(got)) = (Url::parse(redirect_uri), Url::parse(url)) else {
        return false;
    };
    want.scheme() == got.scheme()
        && want.host_str() == got.host_str()
        && want.port_or_known_default() == got.port_or_known_default()
        && want.path().trim_end_matches('/') == got.path().trim_end_matches('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> OAuthClient {
        let s = ConnectionSettings::new("8f3b7a52-1c4e-4d2a-9b7e-3e5f0a9c6d14", "https://thingstray.invalid/callback");
        OAuthClient::new(&s, &SecretString::from("s3cret".to_string()), reqwest::Client::new()).unwrap()
    }

    #[test]
    fn authorize_url_has_everything_smartthings_wants() {
        let c = client();
        let a = c.begin_sign_in();
        let b = c.begin_sign_in();
        let q: std::collections::HashMap<_, _> = a.authorize_url().query_pairs().into_owned().collect();
        assert_eq!(a.authorize_url().path(), "/oauth/authorize");
        assert_eq!(q["client_id"], "8f3b7a52-1c4e-4d2a-9b7e-3e5f0a9c6d14");
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["redirect_uri"], "https://thingstray.invalid/callback");
        assert_eq!(q["scope"], "r:devices:* x:devices:* r:locations:* r:scenes:* x:scenes:*");
        assert_eq!(q["code_challenge_method"], "S256");
        assert!(q["state"].len() >= 16);
        let qb: std::collections::HashMap<_, _> = b.authorize_url().query_pairs().into_owned().collect();
        assert_ne!(q["state"], qb["state"], "state must be fresh per sign-in");
        assert!(!a.authorize_url().as_str().contains("s3cret"));
    }

    #[test]
    fn state_is_verified() {
        let c = client();
        let s = c.begin_sign_in();
        let state = s.state.secret().clone();
        assert!(s.accept(&format!("https://thingstray.invalid/callback?code=abc&state={state}")).is_ok());
        let e = s.accept("https://thingstray.invalid/callback?code=abc&state=forged").unwrap_err();
        assert_eq!(e.code(), "state_mismatch");
        let e = s.accept("https://thingstray.invalid/callback?code=abc").unwrap_err();
        assert_eq!(e.code(), "state_mismatch");
        assert!(s.accept("abc").is_ok(), "a bare pasted code is accepted");
        let e =
            s.accept(&format!("https://thingstray.invalid/callback?error=access_denied&state={state}")).unwrap_err();
        assert_eq!(e.code(), "sign_in_denied");
        let e =
            s.accept(&format!("https://thingstray.invalid/callback?error=invalid_scope&state={state}")).unwrap_err();
        assert_eq!(e.code(), "sign_in_failed");
    }

    /// Any page can load `http://127.0.0.1:PORT/callback?error=x` or open a
    /// `thingstray://…?error=…&error_description=<text>` link: a refusal that does not carry
    /// this sign-in's state is not ours, changes nothing, and puts no foreign text on screen.
    #[test]
    fn a_refusal_without_our_state_is_ignored() {
        let s = client().begin_sign_in();
        for forged in [
            "http://127.0.0.1:8765/callback?error=access_denied",
            "thingstray://oauth/callback?error=server_error&error_description=Call+1-800-SCAM",
            "https://thingstray.invalid/callback?error=access_denied&state=forged",
        ] {
            let e = s.accept(forged).unwrap_err();
            assert_eq!(e.code(), "state_mismatch", "{forged}");
            assert!(!e.to_string().contains("SCAM"), "{e}");
        }
    }

    #[test]
    fn redirect_matching_ignores_the_query_only() {
        let s = client().begin_sign_in();
        assert!(s.is_redirect("https://thingstray.invalid/callback?code=1&state=2"));
        assert!(!s.is_redirect("https://thingstray.invalid/other?code=1"));
        assert!(!s.is_redirect("https://evil.example/callback?code=1"));
        assert!(!s.is_redirect("http://thingstray.invalid/callback?code=1"));
    }

    #[test]
    fn token_answers_are_read_leniently() {
        let now = SystemTime::now();
        let t = parse_token_answer(include_bytes!("../../tests/fixtures/token_response.json"), now).unwrap();
        assert_eq!(t.expires_at_ms - t.issued_at_ms, 299_000);
        assert_eq!(t.scope, "r:devices:*");
        let body = br#"{"access_token":"a","token_type":"Bearer","refresh_token":"r","expires_in":86400,
            "scope":"r:devices:* x:devices:*","access_tier":0,"installed_app_id":"ia-1","owner_account_id":"x"}"#;
        let t = parse_token_answer(body, now).unwrap();
        assert_eq!(t.installed_app_id.as_deref(), Some("ia-1"));
        assert!(parse_token_answer(br#"{"access_token":"a","token_type":"mac","refresh_token":"r"}"#, now).is_err());
        assert!(parse_token_answer(b"<html>", now).is_err());
    }
}
