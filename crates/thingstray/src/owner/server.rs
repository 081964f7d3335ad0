//! The share listener: where paired computers redeem invites and fetch access tokens.
//!
//! Unlike the loopback token server it may bind a LAN address, so it trusts the network
//! with nothing:
//! - TLS 1.3 only, with the owner's pinned certificate; a plain-HTTP request or any other
//!   handshake garbage is dropped before HTTP is spoken;
//! - the accept loop of the token server (serve/listen.rs): a connection cap, a deadline
//!   for the handshake and the request headers (and as long again for the body: 408),
//!   headers capped at 16 KiB, bodies at 4 KiB;
//! - two routes and nothing else: pairing (a single-use code, wrong codes rate-limited)
//!   and an access token for a paired computer's `ID.SECRET`;
//! - never a refresh token or the client secret: answers are built from an
//!   [`crate::token::AccessGrant`], which has neither.
//!
//! Refusals are logged with their reason and the computer's name, never with a presented
//! code or secret.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use secrecy::ExposeSecret;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::attempts::Attempts;
use super::identity::Identity;
use super::registry::{Refusal, Registry};
use crate::clock::Clock;
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::serve::listen::{self, Handshake, Limits, Peer};
use crate::serve::{error_response, json_no_store as json};
use crate::share::invite::{clean_name, Invite};
use crate::share::wire::{
    PairAnswer, PairRequest, TokenAnswer, HAND_OVER_CONFIRM_PATH, HAND_OVER_DECLINE_PATH, HAND_OVER_PATH, PAIR_PATH,
    TOKEN_PATH,
};
use crate::share::Fingerprint;
use crate::token::MIN_VALIDITY;

/// The largest request body accepted: a pairing request is under 200 bytes.
pub const MAX_REQUEST_BODY: usize = 4096;
/// The most a paired computer may ask for. Well under SmartThings' 24-hour tokens: a
/// request for nearly a day could never be met by the current token, so every one would
/// spend a refresh; with an hour, the owner refreshes at most once per token.
const MAX_MIN_VALID: Duration = Duration::from_secs(3600);

/// Which connection is shared.
// Made once per listener and cloned per request only as the small variant's `Arc`: the
// size difference costs nothing worth a `Box` in every caller.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
pub enum ShareSource {
    /// `thingstray serve --share`: one connection for the life of the listener.
    One(Connection),
    /// The desktop app: its shared connection, looked up per request (so a sign-in again
    /// or a re-opened session needs no restart).
    Current(Arc<dyn Fn() -> Result<Connection> + Send + Sync>),
}

impl ShareSource {
    pub(super) fn connection(&self) -> Result<Connection> {
        match self {
            ShareSource::One(c) => Ok(c.clone()),
            ShareSource::Current(lookup) => lookup(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ShareOptions {
    /// Any address, LAN ones included (the point of sharing); port 0 picks a free one.
    pub addr: SocketAddr,
    /// How paired computers name this one in their messages ("revoked on NAME").
    pub owner_name: String,
    pub limits: Limits,
}

/// Makes an invite for the owner at `at` (what the other computer dials): a fresh code in
/// the registry, with the owner's fingerprint. For `thingstray share invite` as well as
/// the running listener: the listener reads codes from the registry file.
pub fn make_invite(
    registry: &Registry,
    fingerprint: &Fingerprint,
    at: &str,
    owner: &str,
    for_name: Option<&str>,
    now: SystemTime,
) -> Result<Invite> {
    let code = registry.issue_code_for(now, for_name)?;
    let line =
        Invite { at: at.to_string(), fingerprint: fingerprint.clone(), code, owner: clean_name(owner) }.to_line();
    // Through the parser, so an invite the other side cannot read is refused here.
    Invite::parse(&line)
}

pub(super) struct Owner {
    pub(super) source: ShareSource,
    pub(super) registry: Arc<Registry>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) name: String,
    attempts: Mutex<Attempts>,
    /// How long a request body may take once the headers are in (the listener's header
    /// deadline covers only what comes before).
    pub(super) body_timeout: Duration,
    /// A hand-over between its two requests (hand_over.rs).
    pub(super) hand_over: super::hand_over::Slot,
}

/// A running share listener. Dropping it stops it at once; [`ShareServer::shutdown`] lets
/// open requests finish first.
pub struct ShareServer {
    addr: SocketAddr,
    fingerprint: Fingerprint,
    owner: Arc<Owner>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Drop for ShareServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone)]
struct Tls(TlsAcceptor);

impl Handshake for Tls {
    type Io = TlsStream<TcpStream>;
    async fn handshake(&self, tcp: TcpStream) -> std::io::Result<Self::Io> {
        self.0.accept(tcp).await
    }
}

impl ShareServer {
    /// Binds `opts.addr` and starts serving. The caller keeps the shared session fresh
    /// (`Session::spawn_refresher`); the listener only asks it for tokens.
    pub async fn start(
        source: ShareSource,
        identity: &Identity,
        registry: Arc<Registry>,
        clock: Arc<dyn Clock>,
        opts: ShareOptions,
    ) -> Result<ShareServer> {
        let listener =
            tokio::net::TcpListener::bind(opts.addr).await.map_err(|e| crate::serve::bind_error(opts.addr, e))?;
        let addr = listener.local_addr().map_err(|e| Error::io("reading the bound port", e))?;
        let name = clean_name(&opts.owner_name);
        let owner = Arc::new(Owner {
            source,
            registry,
            clock,
            name: if name.is_empty() { "the sharing computer".into() } else { name },
            attempts: Mutex::new(Attempts::default()),
            body_timeout: opts.limits.header_read_timeout,
            hand_over: Default::default(),
        });
        let app = Router::new()
            .route(PAIR_PATH, post(pair))
            .route(TOKEN_PATH, get(token))
            .route(HAND_OVER_PATH, post(super::hand_over::offer))
            .route(HAND_OVER_CONFIRM_PATH, post(super::hand_over::confirm))
            .route(HAND_OVER_DECLINE_PATH, post(super::hand_over::decline))
            .fallback(|| async { error_response(StatusCode::NOT_FOUND, "not_found", "no such path") })
            .with_state(owner.clone());
        let (stop, stopped) = watch::channel(false);
        let tls = Tls(TlsAcceptor::from(identity.server_config()));
        // Anyone on the network can connect here: one address holds a few connections.
        let limits = Limits {
            max_per_address: opts.limits.max_per_address.or(Some(crate::serve::SHARE_PER_ADDRESS)),
            ..opts.limits
        };
        let task = tokio::spawn(listen::serve_with(listener, app, limits, stopped, tls));
        tracing::info!(address = %addr, fingerprint = %identity.fingerprint().short(), "sharing the connection");
        Ok(ShareServer { addr, fingerprint: identity.fingerprint().clone(), owner, stop, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }

    pub fn owner_name(&self) -> &str {
        &self.owner.name
    }

    pub fn registry(&self) -> &Arc<Registry> {
        &self.owner.registry
    }

    /// An invite naming the address listened on. A wildcard address (0.0.0.0) is no
    /// address to dial: then say which one with [`ShareServer::invite_at`].
    pub fn invite(&self) -> Result<Invite> {
        if self.addr.ip().is_unspecified() {
            return Err(Error::InvalidSetting {
                field: "share address".into(),
                why: format!(
                    "the share listener listens on every address ({}), so the invite needs the one the other \
                     computer can reach: name it (HOST or HOST:PORT)",
                    self.addr
                ),
            });
        }
        self.invite_at(&self.addr.to_string())
    }

    /// An invite telling the other computer to dial `at` (`HOST:PORT`).
    pub fn invite_at(&self, at: &str) -> Result<Invite> {
        make_invite(&self.owner.registry, &self.fingerprint, at, &self.owner.name, None, self.owner.clock.now())
    }

    /// Stops accepting, lets requests in progress finish (at most `grace`), then returns.
    pub async fn shutdown(mut self, grace: Duration) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(grace, &mut self.task).await.is_err() {
            tracing::warn!("share requests still open after {} s; closing them", grace.as_secs());
        }
        tracing::info!("share listener stopped");
    }
}

/// The core's error as a refusal: its code and message, for the client to rebuild.
pub(super) fn refuse(status: StatusCode, e: &Error) -> Response {
    let mut resp = error_response(status, e.code(), &e.to_string());
    match e {
        Error::ShareRateLimited { retry_after, .. } => {
            // Rounded up: waiting the whole number of seconds said must be enough.
            let secs = retry_after.as_millis().div_ceil(1000).max(1).to_string();
            if let Ok(v) = HeaderValue::from_str(&secs) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        Error::ShareUnauthorized { .. } | Error::ShareRevoked { .. } => {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(r#"Bearer realm="thingstray-share""#));
        }
        _ => {}
    }
    resp
}

async fn pair(State(owner): State<Arc<Owner>>, req: Request) -> Response {
    let now = owner.clock.now();
    // Counted before the body is read: parallel connections get no extra guesses.
    let from = req.extensions().get::<Peer>().map(|p| p.0.ip()).unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
    let attempt = match owner.attempts.lock().unwrap_or_else(|p| p.into_inner()).begin(from, now) {
        Ok(a) => a,
        Err(retry_after) => {
            tracing::info!(peer = %from, "pairing refused: too many wrong codes from there");
            return refuse(
                StatusCode::TOO_MANY_REQUESTS,
                &Error::ShareRateLimited { owner: owner.name.clone(), retry_after },
            );
        }
    };
    let body = match read_body(req, owner.body_timeout).await {
        Ok(body) => body,
        Err(resp) => return resp,
    };
    let Ok(PairRequest { code, name }) = serde_json::from_slice::<PairRequest>(&body) else {
        return error_response(StatusCode::BAD_REQUEST, "bad_request", "expected {\"code\": \"…\", \"name\": \"…\"}");
    };
    let name = clean_name(&name);
    if name.is_empty() {
        return error_response(StatusCode::BAD_REQUEST, "bad_request", "the computer needs a name");
    }
    let registry = owner.registry.clone();
    let who = name.clone();
    let outcome = tokio::task::spawn_blocking(move || registry.redeem(&code, &who, now)).await;
    let refusal = match outcome {
        Ok(Ok(Ok(issued))) => {
            owner.attempts.lock().unwrap_or_else(|p| p.into_inner()).succeeded(attempt);
            tracing::info!(computer = %name, "paired a computer");
            let answer = PairAnswer {
                id: issued.id,
                secret: issued.secret.expose_secret().to_string(),
                owner: owner.name.clone(),
            };
            return json(&answer);
        }
        Ok(Ok(Err(refusal))) => refusal,
        Ok(Err(e)) => return internal(&e),
        Err(e) => return internal(&Error::io("pairing", e)),
    };
    tracing::info!(computer = %name, reason = ?refusal, "pairing refused");
    match refusal {
        Refusal::ExpiredCode => refuse(StatusCode::GONE, &Error::InviteExpired { owner: owner.name.clone() }),
        _ => refuse(
            StatusCode::FORBIDDEN,
            &Error::InviteInvalid {
                why: format!("{} issued no such code (mistyped, or from another computer)", owner.name),
            },
        ),
    }
}

async fn token(State(owner): State<Arc<Owner>>, req: Request) -> Response {
    // Who asks first: a revoked or unknown computer hears that, whatever it asked for.
    let (_, computer) = match caller(&owner, req.headers()).await {
        Ok(who) => who,
        Err(refusal) => return refusal,
    };
    let min_valid = match min_valid(req.uri().query()) {
        Ok(d) => d,
        Err(why) => return error_response(StatusCode::BAD_REQUEST, "bad_request", &why),
    };
    let grant = match owner.source.connection() {
        // Handed over: the token this session still holds belongs to the new owner's
        // session now, and a paired computer that cached it would write it over a pair.
        Ok(conn) if conn.session.retired().is_some() => {
            let why = conn.session.retired().unwrap_or(Error::NotSharing);
            tracing::info!(%computer, "no token: this session was handed over");
            return refuse(StatusCode::CONFLICT, &why);
        }
        Ok(conn) => conn.session.token_valid_for(min_valid).await.map(|g| (g, conn.settings)),
        Err(e) => Err(e),
    };
    match grant {
        Ok((grant, settings)) => {
            tracing::debug!(%computer, "handed out a token");
            json(&TokenAnswer {
                access_token: grant.secret().to_string(),
                token_type: grant.token_type.clone(),
                expires_at: grant.expires_at_unix(),
                scope: grant.scope.clone(),
                installed_app_id: grant.installed_app_id.clone(),
                location_id: settings.location_id.clone(),
                api_url: settings.api_url.clone(),
            })
        }
        Err(e) if e.needs_sign_in() => {
            tracing::warn!(%computer, "no token to share: the session needs a sign-in");
            refuse(StatusCode::SERVICE_UNAVAILABLE, &Error::OwnerSessionEnded { owner: owner.name.clone() })
        }
        Err(e) => {
            tracing::warn!(%computer, code = e.code(), "no token to share");
            crate::serve::core_error_response(&e)
        }
    }
}

/// The paired computer making this request (its id and name), or the refusal to send.
pub(super) async fn caller(owner: &Owner, headers: &HeaderMap) -> std::result::Result<(String, String), Response> {
    let now = owner.clock.now();
    let Some((id, secret)) = bearer(headers) else {
        return Err(refuse(StatusCode::UNAUTHORIZED, &Error::ShareUnauthorized { owner: owner.name.clone() }));
    };
    let registry = owner.registry.clone();
    let who = id.clone();
    match tokio::task::spawn_blocking(move || registry.authenticate(&who, &secret, now)).await {
        Ok(Ok(Ok(name))) => Ok((id, name)),
        Ok(Ok(Err(Refusal::Revoked))) => {
            tracing::info!("refused: the computer was revoked");
            Err(refuse(StatusCode::UNAUTHORIZED, &Error::ShareRevoked { owner: owner.name.clone() }))
        }
        Ok(Ok(Err(_))) => {
            tracing::info!("refused: unknown computer or wrong secret");
            Err(refuse(StatusCode::UNAUTHORIZED, &Error::ShareUnauthorized { owner: owner.name.clone() }))
        }
        Ok(Err(e)) => Err(internal(&e)),
        Err(e) => Err(internal(&Error::io("checking the computer", e))),
    }
}

/// `Authorization: Bearer ID.SECRET`, exactly one header, in that header only.
fn bearer(headers: &HeaderMap) -> Option<(String, String)> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else { return None };
    let value = value.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let (id, secret) = rest.trim().split_once('.')?;
    (!id.is_empty() && !secret.is_empty()).then(|| (id.to_string(), secret.to_string()))
}

/// `min_valid=SECS`, default [`MIN_VALIDITY`], at most an hour.
fn min_valid(query: Option<&str>) -> std::result::Result<Duration, String> {
    let mut found = None;
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if k == "min_valid" {
            let secs: u64 = v.parse().map_err(|_| "min_valid must be a number of seconds".to_string())?;
            found = Some(Duration::from_secs(secs));
        }
    }
    let d = found.unwrap_or(MIN_VALIDITY);
    if d > MAX_MIN_VALID {
        return Err(format!("min_valid may be at most {} s", MAX_MIN_VALID.as_secs()));
    }
    Ok(d)
}

/// The body, refused (413) past [`MAX_REQUEST_BODY`] without reading the rest, and 408
/// when it has not all come within `within`.
pub(super) async fn read_body(req: Request, within: Duration) -> std::result::Result<Bytes, Response> {
    let too_large = || {
        error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            &format!("requests to the share listener are at most {MAX_REQUEST_BODY} bytes"),
        )
    };
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_REQUEST_BODY as u64) {
        return Err(too_large());
    }
    match tokio::time::timeout(within, axum::body::to_bytes(req.into_body(), MAX_REQUEST_BODY)).await {
        Ok(read) => read.map_err(|_| too_large()),
        Err(_) => {
            tracing::info!("share request refused: its body did not come in time");
            Err(error_response(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                &format!("the request body did not arrive within {} ms", within.as_millis()),
            ))
        }
    }
}

pub(super) fn internal(e: &Error) -> Response {
    tracing::warn!(code = e.code(), "share request failed: {e}");
    error_response(StatusCode::INTERNAL_SERVER_ERROR, e.code(), &e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_needs_id_dot_secret_in_one_header() {
        let mut h = HeaderMap::new();
        assert!(bearer(&h).is_none());
        h.insert(header::AUTHORIZATION, "Bearer abc.def".parse().unwrap());
        assert_eq!(bearer(&h), Some(("abc".into(), "def".into())));
        for bad in ["Bearer abc", "Bearer .def", "Bearer abc.", "Basic abc.def", "Bearer"] {
            h.insert(header::AUTHORIZATION, bad.parse().unwrap());
            assert!(bearer(&h).is_none(), "{bad}");
        }
        h.insert(header::AUTHORIZATION, "Bearer a.b".parse().unwrap());
        h.append(header::AUTHORIZATION, "Bearer c.d".parse().unwrap());
        assert!(bearer(&h).is_none());
    }

    #[test]
    fn min_valid_defaults_and_is_bounded() {
        assert_eq!(min_valid(None).unwrap(), MIN_VALIDITY);
        assert_eq!(min_valid(Some("min_valid=60")).unwrap(), Duration::from_secs(60));
        assert!(min_valid(Some("min_valid=x")).is_err());
        assert!(min_valid(Some("min_valid=3601")).is_err());
        assert_eq!(min_valid(Some("min_valid=3600")).unwrap(), Duration::from_secs(3600));
    }
}
