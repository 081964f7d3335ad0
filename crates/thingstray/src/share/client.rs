//! The paired computer's side: redeem an invite, then fetch access tokens from the owner.
//!
//! The TLS client accepts exactly one certificate, the one whose SHA-256 the invite named
//! ([`Pinned`]): no certificate authority, no host name check (the owner has no name a CA
//! could vouch for, and its address may change), yet the handshake signature is still
//! verified, so only the holder of the owner's private key gets through. A wrong
//! certificate is refused before a byte of HTTP is sent, and reported as possible
//! impersonation rather than as a network failure.
//!
//! Answers are read with a small cap and parsed strictly: a hostile or broken owner gets a
//! clear error, never a panic and never an unbounded read.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::fingerprint::Fingerprint;
use super::invite::{clean_name, Invite};
use super::wire::{
    HandOverBundle, HandOverRequest, HandOverWord, PairAnswer, PairRequest, TokenAnswer, HAND_OVER_CONFIRM_PATH,
    HAND_OVER_DECLINE_PATH, HAND_OVER_PATH, PAIR_PATH, TOKEN_PATH,
};
use crate::clock::from_unix_ms;
use crate::error::{Error, Result};
use crate::token::{AccessGrant, AccessToken};

/// Answers are a few hundred bytes; anything near this is not the owner speaking.
pub const MAX_ANSWER: usize = 64 * 1024;
pub const TIMEOUT: Duration = Duration::from_secs(15);

/// What a paired computer keeps (in its vault, next to nothing else): where the owner is,
/// who it is, and this computer's own credentials. No SmartThings secret of any kind.
#[derive(Clone)]
pub struct Credentials {
    pub owner: String,
    pub at: String,
    pub fingerprint: Fingerprint,
    pub id: String,
    pub secret: SecretString,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("owner", &self.owner)
            .field("at", &self.at)
            .field("fingerprint", &self.fingerprint.short())
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// An access token from the owner, and the API it is for.
#[derive(Clone, Debug)]
pub struct SharedToken {
    pub grant: AccessGrant,
    pub location_id: Option<String>,
    pub api_url: String,
}

/// A TLS client pinned to one owner. Cheap to clone; holds a connection pool, so keep one
/// per owner rather than one per request.
#[derive(Clone)]
pub struct ShareClient {
    http: reqwest::Client,
    owner: String,
    at: String,
    /// Bumped by [`Pinned`] on each refused certificate, so a failed request can tell an
    /// impostor from an unreachable owner.
    mismatches: Arc<AtomicU64>,
}

impl std::fmt::Debug for ShareClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShareClient").field("owner", &self.owner).field("at", &self.at).finish_non_exhaustive()
    }
}

impl ShareClient {
    /// A client for the owner called `owner`, at `at` (`HOST:PORT`), accepting only the
    /// certificate with `fingerprint`.
    pub fn new(at: &str, fingerprint: &Fingerprint, owner: &str, timeout: Duration) -> Result<ShareClient> {
        let mismatches = Arc::new(AtomicU64::new(0));
        let provider = super::crypto();
        let pinned = Pinned { want: fingerprint.clone(), provider: provider.clone(), mismatches: mismatches.clone() };
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| Error::io("setting up TLS for sharing", e))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(pinned))
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .https_only(true)
            // The owner is on this network; a proxy from the environment has no business
            // seeing (or failing) these requests.
            .no_proxy()
            .connect_timeout(crate::http::CONNECT_TIMEOUT.min(timeout))
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("ThingsTray/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::io("setting up the share client", e))?;
        Ok(ShareClient { http, owner: owner.to_string(), at: at.to_string(), mismatches })
    }

    pub fn for_invite(invite: &Invite) -> Result<ShareClient> {
        ShareClient::new(&invite.at, &invite.fingerprint, &invite.owner, TIMEOUT)
    }

    pub fn for_credentials(creds: &Credentials) -> Result<ShareClient> {
        ShareClient::new(&creds.at, &creds.fingerprint, &creds.owner, TIMEOUT)
    }

    /// The pinned HTTP client itself, for requests this module does not make (tests of the
    /// listener's refusals).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.at)
    }

    /// Redeems `invite`'s code; this computer is then known to the owner as `name`.
    pub async fn pair(&self, invite: &Invite, name: &str) -> Result<Credentials> {
        let name = clean_name(name);
        if name.is_empty() {
            return Err(Error::InvalidSetting {
                field: "name".into(),
                why: "this computer needs a name the owner can list".into(),
            });
        }
        let url = self.url(PAIR_PATH);
        let req = self.http.post(&url).json(&PairRequest { code: invite.code.clone(), name });
        let body = self.send(req, &url).await?;
        let answer: PairAnswer = self.parse(&body)?;
        let ok = |s: &str| !s.is_empty() && s.len() <= 256 && s.bytes().all(|b| b.is_ascii_alphanumeric());
        if !ok(&answer.id) || !ok(&answer.secret) {
            return Err(self.protocol("the pairing answer holds no usable id and secret"));
        }
        Ok(Credentials {
            owner: invite.owner.clone(),
            at: invite.at.clone(),
            fingerprint: invite.fingerprint.clone(),
            id: answer.id,
            secret: SecretString::from(answer.secret),
        })
    }

    /// An access token valid at least `min_valid` (the owner refreshes if needed).
    pub async fn token(&self, creds: &Credentials, min_valid: Duration) -> Result<SharedToken> {
        let url = self.url(TOKEN_PATH);
        let req =
            self.http.get(&url).query(&[("min_valid", min_valid.as_secs().to_string())]).bearer_auth(bearer(creds));
        let body = self.send(req, &url).await?;
        let a: TokenAnswer = self.parse(&body)?;
        if a.access_token.is_empty() || !a.token_type.eq_ignore_ascii_case("bearer") || a.expires_at == 0 {
            return Err(self.protocol("the token answer holds no usable bearer token"));
        }
        if crate::config::validate_base_url("api_url", &a.api_url).is_err() {
            return Err(self.protocol("the token answer names no usable API address"));
        }
        Ok(SharedToken {
            grant: AccessGrant {
                access_token: AccessToken::new(a.access_token),
                token_type: "Bearer".into(),
                expires_at: from_unix_ms(a.expires_at.saturating_mul(1000)),
                scope: a.scope,
                installed_app_id: a.installed_app_id,
            },
            location_id: a.location_id,
            api_url: a.api_url,
        })
    }

    /// A hand-over (owner/hand_over.rs): the session, if the owner offered it; the same
    /// session again for a repeat of the same request.
    pub(crate) async fn hand_over(&self, creds: &Credentials, request: &HandOverRequest) -> Result<HandOverBundle> {
        let url = self.url(HAND_OVER_PATH);
        let req = self.http.post(&url).bearer_auth(bearer(creds)).json(request);
        let body = self.send(req, &url).await?;
        self.parse(&body)
    }

    /// The session of hand-over `nonce` is kept here: the owner lets go of its copy.
    pub(crate) async fn confirm_hand_over(&self, creds: &Credentials, nonce: &str) -> Result<()> {
        let url = self.url(HAND_OVER_CONFIRM_PATH);
        let req = self.http.post(&url).bearer_auth(bearer(creds)).json(&HandOverWord { nonce: nonce.to_string() });
        self.send(req, &url).await.map(|_| ())
    }

    /// The session of hand-over `nonce` is not used here, ever: the owner keeps it.
    pub(crate) async fn decline_hand_over(&self, creds: &Credentials, nonce: &str) -> Result<()> {
        let url = self.url(HAND_OVER_DECLINE_PATH);
        let req = self.http.post(&url).bearer_auth(bearer(creds)).json(&HandOverWord { nonce: nonce.to_string() });
        self.send(req, &url).await.map(|_| ())
    }

    /// Sends, reads at most [`MAX_ANSWER`], and turns refusals into the core's errors.
    async fn send(&self, req: reqwest::RequestBuilder, url: &str) -> Result<Vec<u8>> {
        let before = self.mismatches.load(Ordering::SeqCst);
        let transport = |e: reqwest::Error| {
            if self.mismatches.load(Ordering::SeqCst) != before {
                tracing::warn!(owner = %self.owner, at = %self.at, "the owner's address showed another certificate");
                return Error::ShareFingerprintMismatch { owner: self.owner.clone(), at: self.at.clone() };
            }
            self.unreachable(crate::http::transport(e))
        };
        let resp = req.send().await.map_err(transport)?;
        let reply = match crate::http::read_capped(resp, url, MAX_ANSWER).await {
            Ok(reply) => reply,
            Err(Error::ResponseTooLarge { .. }) => {
                return Err(self.protocol(&format!("an answer over {} KiB", MAX_ANSWER / 1024)));
            }
            Err(e) => return Err(self.unreachable(e)),
        };
        if reply.status.is_success() {
            return Ok(reply.body);
        }
        Err(self.refusal(reply.status.as_u16(), &reply.headers, &reply.body))
    }

    fn parse<T: for<'de> Deserialize<'de>>(&self, body: &[u8]) -> Result<T> {
        // The kind of error and its position only: serde's message can quote a value,
        // and this one may hold a token.
        serde_json::from_slice(body).map_err(|e| {
            self.protocol(&format!(
                "{}: {:?} error at line {} column {}",
                crate::http::describe_body(body),
                e.classify(),
                e.line(),
                e.column()
            ))
        })
    }

    /// An error answer, as the error the owner meant.
    fn refusal(&self, status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> Error {
        #[derive(Deserialize)]
        struct Body {
            error: Inner,
        }
        #[derive(Deserialize)]
        struct Inner {
            code: String,
            #[serde(default)]
            message: String,
        }
        let Ok(Body { error }) = serde_json::from_slice::<Body>(body) else {
            return self.protocol(&format!("HTTP {status} with {}", crate::http::describe_body(body)));
        };
        let owner = self.owner.clone();
        match error.code.as_str() {
            "share_revoked" => Error::ShareRevoked { owner },
            "share_unauthorized" => Error::ShareUnauthorized { owner },
            "invite_expired" => Error::InviteExpired { owner },
            "invite_invalid" => Error::InviteInvalid {
                why: format!("{owner} issued no such code (mistyped, or from another computer)"),
            },
            "share_rate_limited" => {
                let secs = headers
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
                    .unwrap_or(60)
                    .clamp(1, 3600);
                Error::ShareRateLimited { owner, retry_after: Duration::from_secs(secs) }
            }
            "owner_session_ended" => Error::OwnerSessionEnded { owner },
            "hand_over_not_offered" => Error::HandOverNotOffered { owner },
            code => Error::ShareOwnerError { owner, code: short(code, 64), message: short(&error.message, 500) },
        }
    }

    fn unreachable(&self, e: Error) -> Error {
        let detail = match e {
            Error::Unreachable { detail } => detail,
            other => other.to_string(),
        };
        Error::ShareUnreachable { owner: self.owner.clone(), detail }
    }

    fn protocol(&self, detail: &str) -> Error {
        Error::ShareProtocol { owner: self.owner.clone(), detail: detail.to_string() }
    }
}

fn bearer(creds: &Credentials) -> String {
    format!("{}.{}", creds.id, creds.secret.expose_secret())
}

/// What an owner says is printed to the user: bounded, and without control characters.
fn short(s: &str, max: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(max).collect()
}

/// Redeems `invite` as `name`: the paired computer's first and only use of the code.
pub async fn pair(invite: &Invite, name: &str) -> Result<Credentials> {
    ShareClient::for_invite(invite)?.pair(invite, name).await
}

/// One token with a client made for the purpose; keep a [`ShareClient`] for repeated use.
pub async fn token(creds: &Credentials, min_valid: Duration) -> Result<SharedToken> {
    ShareClient::for_credentials(creds)?.token(creds, min_valid).await
}

/// Accepts the one certificate whose SHA-256 is `want`, and checks the handshake was
/// signed with its key.
#[derive(Debug)]
struct Pinned {
    want: Fingerprint,
    provider: Arc<CryptoProvider>,
    mismatches: Arc<AtomicU64>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        if Fingerprint::of(end_entity) == self.want {
            Ok(ServerCertVerified::assertion())
        } else {
            self.mismatches.fetch_add(1, Ordering::SeqCst);
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::ApplicationVerificationFailure))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A self-signed certificate and the TLS 1.3 set-up that presents it, as the owner's
    /// (owner/identity.rs) would be: enough for a stand-in owner.
    fn stand_in_certificate() -> (Fingerprint, Arc<rustls::ServerConfig>) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["thingstray-share.invalid".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let der = cert.der().clone();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
        let mut tls = rustls::ServerConfig::builder_with_provider(crate::share::crypto())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![der.clone()], key)
            .unwrap();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        (Fingerprint::of(&der), Arc::new(tls))
    }

    /// A pinned owner that answers every request with `answer`: what a broken or hostile
    /// owner could send once the handshake succeeded.
    async fn owner_answering(answer: Vec<u8>) -> (ShareClient, Credentials) {
        let (fingerprint, tls) = stand_in_certificate();
        let acceptor = tokio_rustls::TlsAcceptor::from(tls);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let at = listener.local_addr().unwrap().to_string();
        let answer = Arc::new(answer);
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, answer) = (acceptor.clone(), answer.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                    let mut buf = vec![0u8; 16 * 1024];
                    let _ = tls.read(&mut buf).await;
                    let _ = tls.write_all(&answer).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        let creds = Credentials {
            owner: "owner-pc".into(),
            at: at.clone(),
            fingerprint,
            id: "abc".into(),
            secret: SecretString::from("def".to_string()),
        };
        (ShareClient::for_credentials(&creds).unwrap(), creds)
    }

    fn http(status: &str, body: &str) -> Vec<u8> {
        format!("HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len())
            .into_bytes()
    }

    async fn token_error(answer: Vec<u8>) -> Error {
        let (client, creds) = owner_answering(answer).await;
        client.token(&creds, Duration::from_secs(60)).await.unwrap_err()
    }

    #[tokio::test]
    async fn huge_malformed_and_odd_answers_are_clear_errors() {
        let valid = r#"{"access_token":"t","token_type":"Bearer","expires_at":4000000000,"scope":"s","api_url":"https://api.smartthings.com/v1"}"#;
        let (client, creds) = owner_answering(http("200 OK", valid)).await;
        let t = client.token(&creds, Duration::from_secs(60)).await.unwrap();
        assert_eq!(t.grant.secret(), "t");

        let huge = "x".repeat(MAX_ANSWER + 1);
        let chunked =
            format!("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{huge}\r\n0\r\n\r\n", huge.len());
        let cases: Vec<(Vec<u8>, &str, &str)> = vec![
            (http("200 OK", &huge), "share_protocol", "over 64 KiB"),
            (chunked.into_bytes(), "share_protocol", "over 64 KiB"),
            (http("200 OK", "{\"access_token\": \"secret-tok"), "share_protocol", "malformed JSON"),
            (http("200 OK", r#"{"access_token":"secret-tok"}"#), "share_protocol", "malformed JSON"),
            (http("200 OK", &valid.replace("Bearer", "MAC")), "share_protocol", "no usable bearer"),
            (
                http("200 OK", &valid.replace("https://api.smartthings.com", "http://evil.example")),
                "share_protocol",
                "API address",
            ),
            (http("500 Internal Server Error", "<html>oops</html>"), "share_protocol", "HTTP 500 with an HTML page"),
            (
                http(
                    "503 Service Unavailable",
                    r#"{"error":{"code":"no_valid_token","message":"No token valid for 90000 s"}}"#,
                ),
                "share_owner_error",
                "No token valid",
            ),
            (b"\x00\x01garbage\r\n\r\n".to_vec(), "share_unreachable", "owner-pc"),
        ];
        for (answer, code, needle) in cases {
            let e = token_error(answer).await;
            assert_eq!(e.code(), code, "{e}");
            assert!(e.to_string().contains(needle), "{needle}: {e}");
            assert!(!e.to_string().contains("secret-tok"), "a token in an error: {e}");
        }
    }

    #[test]
    fn credentials_never_show_their_secret() {
        let c = Credentials {
            owner: "o".into(),
            at: "h:1".into(),
            fingerprint: Fingerprint::of(b"x"),
            id: "abc".into(),
            secret: SecretString::from("supersecret".to_string()),
        };
        assert!(!format!("{c:?}").contains("supersecret"));
    }
}
