//! The local token server and API proxy, for scripts, cron jobs and backends on this
//! machine. A library module so the CLI (`thingstray serve`) and the desktop app run the
//! same server.
//!
//! Hardened the way aws-vault's credential server is, because a token server that binds
//! 0.0.0.0 with no auth and hands out the refresh token is how accounts leak:
//! - listens on loopback only (127.0.0.1 and [::1]); any other address is refused;
//! - every request needs the server secret ([`ServerSecret`]) as a bearer token;
//! - `Host` is checked (DNS rebinding), any `Origin` is refused, no CORS headers;
//! - answers hold the access token only, valid at least 5 minutes, served from the
//!   session's memory (the vault is read at start and after refreshes, not per request).
//!
//! The CLI serves one session ([`TokenServer::start`]); the desktop app serves whichever
//! connection is its default at the moment of each request ([`TokenSource::Current`]), so
//! a rename, a sign-in again or a re-opened session needs no restart.

mod conns;
mod events;
mod guard;
pub(crate) mod listen;
mod proxy;
mod secret;
mod token;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use listen::{Limits, SHARE_PER_ADDRESS};
pub use secret::{constant_time_eq, ServerSecret};
pub use token::TokenInfo;

use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::session::Session;

/// The addresses `serve` listens on unless told otherwise.
pub const DEFAULT_ADDRS: [IpAddr; 2] = [IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::LOCALHOST)];
/// The desktop app's port unless the user picks another: a setting needs a port scripts
/// can rely on (`thingstray serve` defaults to a free one). The one docs/cli.md uses.
pub const DEFAULT_PORT: u16 = 8765;

/// Where the server's tokens come from.
#[derive(Clone)]
pub enum TokenSource {
    /// `thingstray serve`: one session, for the life of the server.
    One(Session),
    /// The desktop app: the connection to serve, looked up per request (a map lookup and
    /// an `Arc` clone; the token itself still comes from the session's memory).
    Current(Arc<dyn Fn() -> Result<Connection> + Send + Sync>),
}

/// Where and for whom to serve.
#[derive(Clone)]
pub struct ServeOptions {
    /// Loopback addresses only; the first one must bind, later ones (usually [::1]) are
    /// skipped with a warning when the system has no such address (IPv6-less containers).
    pub addrs: Vec<IpAddr>,
    /// 0 = a free port, chosen on the first address and reused for the others.
    pub port: u16,
    /// SmartThings' API base (`https://api.smartthings.com/v1`); the proxy forwards
    /// `/api/<path>` to its origin (its path without the trailing `/v1`) + `<path>`.
    pub api_url: String,
    /// The change feed `GET /v1/events` streams (the poller the agent's `watch` shares);
    /// `None`: that path answers 404.
    pub events: Option<crate::events::FeedOf>,
}

impl std::fmt::Debug for ServeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeOptions")
            .field("addrs", &self.addrs)
            .field("port", &self.port)
            .field("api_url", &self.api_url)
            .field("events", &self.events.is_some())
            .finish()
    }
}

/// Refuses anything but a loopback address, with the reason.
pub fn check_loopback(ip: IpAddr) -> Result<()> {
    // Exactly these two: they are what the `Host` check accepts.
    if DEFAULT_ADDRS.contains(&ip) {
        Ok(())
    } else {
        Err(Error::InvalidSetting {
            field: "bind".into(),
            why: format!(
                "the token server hands out your SmartThings token, so it listens on 127.0.0.1 and [::1] only, \
                 never on {ip}. Run it on the machine (or in the container) where the programs that need the \
                 token run."
            ),
        })
    }
}

/// What the handlers share.
pub(crate) struct Shared {
    source: TokenSource,
    secret: ServerSecret,
    allowed_hosts: Vec<String>,
    http: reqwest::Client,
    /// Scheme, host, port and any path prefix of the API, without the trailing `/v1`, for
    /// [`TokenSource::One`] (a looked-up connection brings its own).
    api_origin: String,
    events: Option<crate::events::FeedOf>,
}

impl Shared {
    /// The session to serve now.
    pub(crate) fn session(&self) -> Result<Session> {
        match &self.source {
            TokenSource::One(session) => Ok(session.clone()),
            TokenSource::Current(lookup) => Ok(lookup()?.session),
        }
    }

    /// The session to serve now, and its API origin, for the proxy.
    pub(crate) fn current(&self) -> Result<(Session, std::borrow::Cow<'_, str>)> {
        match &self.source {
            TokenSource::One(session) => Ok((session.clone(), self.api_origin.as_str().into())),
            TokenSource::Current(lookup) => {
                let conn = lookup()?;
                Ok((conn.session, api_origin(&conn.settings.api_url)?.into()))
            }
        }
    }
}

/// A running server. Dropping it stops it at once (open requests are cut off); call
/// [`TokenServer::shutdown`] for a clean stop (open requests finish first).
pub struct TokenServer {
    addrs: Vec<SocketAddr>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl TokenServer {
    /// Binds and starts serving `session`'s tokens. The caller keeps the session fresh
    /// (`Session::spawn_refresher`); the server only asks it for tokens.
    pub async fn start(session: Session, secret: ServerSecret, opts: ServeOptions) -> Result<TokenServer> {
        TokenServer::start_with(TokenSource::One(session), secret, opts).await
    }

    /// [`TokenServer::start`] for any [`TokenSource`]. With [`TokenSource::Current`],
    /// `opts.api_url` is unused: each connection's own API is proxied.
    pub async fn start_with(source: TokenSource, secret: ServerSecret, opts: ServeOptions) -> Result<TokenServer> {
        TokenServer::start_limited(source, secret, opts, Limits::default()).await
    }

    /// [`TokenServer::start_with`] with other [`Limits`] (tests use small ones).
    pub async fn start_limited(
        source: TokenSource,
        secret: ServerSecret,
        opts: ServeOptions,
        limits: Limits,
    ) -> Result<TokenServer> {
        if opts.addrs.is_empty() {
            return Err(Error::InvalidSetting { field: "bind".into(), why: "no address to listen on".into() });
        }
        for ip in &opts.addrs {
            check_loopback(*ip)?;
        }
        let listeners = bind_all(&opts.addrs, opts.port).await?;
        let addrs: Vec<SocketAddr> = listeners.iter().filter_map(|l| l.local_addr().ok()).collect();
        let port = addrs[0].port();
        let allowed_hosts = vec![format!("127.0.0.1:{port}"), format!("localhost:{port}"), format!("[::1]:{port}")];
        let shared = Arc::new(Shared {
            source,
            secret,
            allowed_hosts,
            http: crate::http::client(crate::http::REQUEST_TIMEOUT)?,
            api_origin: api_origin(&opts.api_url)?,
            events: opts.events,
        });
        let app = router(shared);
        let (stop, stopped) = watch::channel(false);
        let mut tasks = JoinSet::new();
        for listener in listeners {
            tasks.spawn(listen::serve(listener, app.clone(), limits, stopped.clone()));
        }
        for a in &addrs {
            tracing::info!(address = %a, "token server listening");
        }
        Ok(TokenServer { addrs, stop, tasks })
    }

    /// Every address listened on (same port on each).
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    pub fn port(&self) -> u16 {
        self.addrs[0].port()
    }

    /// Stops accepting, lets requests in progress finish (at most `grace`), then returns.
    pub async fn shutdown(mut self, grace: Duration) {
        let _ = self.stop.send(true);
        let all = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(grace, all).await.is_err() {
            tracing::warn!("requests still open after {} s; closing them", grace.as_secs());
            self.tasks.abort_all();
            // Wait for the aborted tasks too, so the port is free when this returns.
            while self.tasks.join_next().await.is_some() {}
        }
        tracing::info!("token server stopped");
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/token_info.json", get(token::token))
        .route("/v1/token", get(token::token))
        .route("/v1/events", get(events::stream))
        .route("/api/{*path}", any(proxy::forward))
        .fallback(|| async { error_response(StatusCode::NOT_FOUND, "not_found", "no such path; try /v1/token") })
        .layer(guard::GuardLayer(shared.clone()))
        .with_state(shared)
}

/// Binds every address on one port. With port 0 the first address picks it; if a later
/// address has that port taken, start over with a new one (a few times).
async fn bind_all(addrs: &[IpAddr], port: u16) -> Result<Vec<tokio::net::TcpListener>> {
    let mut last_err = None;
    for _ in 0..5 {
        let first = SocketAddr::new(addrs[0], port);
        let first = tokio::net::TcpListener::bind(first).await.map_err(|e| bind_error(first, e))?;
        let chosen = first.local_addr().map_err(|e| Error::io("reading the bound port", e))?.port();
        let mut all = vec![first];
        let mut retry = false;
        for ip in &addrs[1..] {
            let at = SocketAddr::new(*ip, chosen);
            match tokio::net::TcpListener::bind(at).await {
                Ok(l) => all.push(l),
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && port == 0 => {
                    last_err = Some(Error::Io { what: format!("listening on {at}"), detail: e.to_string() });
                    retry = true;
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => return Err(bind_error(at, e)),
                Err(e) => tracing::warn!(address = %at, "not listening there: {e}"),
            }
        }
        if !retry {
            return Ok(all);
        }
    }
    Err(last_err.unwrap_or_else(|| Error::io("listening", "no free port")))
}

/// A port someone else holds is the user's to fix, so it says how.
pub(crate) fn bind_error(at: SocketAddr, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::AddrInUse {
        Error::PortInUse { port: at.port(), address: at.ip().to_string() }
    } else {
        Error::Io { what: format!("listening on {at}"), detail: e.to_string() }
    }
}

/// `https://api.smartthings.com/v1` -> `https://api.smartthings.com`: callers write the
/// API's own paths (`/api/v1/devices`), as in SmartThings' documentation.
fn api_origin(api_url: &str) -> Result<String> {
    let u =
        url::Url::parse(api_url).map_err(|e| Error::InvalidSetting { field: "api_url".into(), why: e.to_string() })?;
    let base = u.as_str().trim_end_matches('/');
    let base = base.strip_suffix("/v1").unwrap_or(base);
    Ok(base.split(['?', '#']).next().unwrap_or(base).to_string())
}

/// A 200 JSON answer that no cache keeps (it carries a token): the token server's and
/// the share listener's.
pub fn json_no_store<T: serde::Serialize>(value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => {
            let mut resp = (StatusCode::OK, body).into_response();
            let h = resp.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(_) => error_response(StatusCode::INTERNAL_SERVER_ERROR, "internal", "could not encode the answer"),
    }
}

/// `{"error": {"code", "message"}}`, the shape SmartThings' own errors have.
pub fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "error": { "code": code, "message": message } });
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// A session or transport error, as the caller should see it: 503 while a sign-in is
/// needed or SmartThings can't be reached, with the core's code and advice.
pub fn core_error_response(e: &Error) -> Response {
    let status = if e.is_transient() { StatusCode::BAD_GATEWAY } else { StatusCode::SERVICE_UNAVAILABLE };
    error_response(status, e.code(), &e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_is_accepted() {
        for ok in ["127.0.0.1", "::1"] {
            assert!(check_loopback(ok.parse().unwrap()).is_ok(), "{ok}");
        }
        for bad in ["0.0.0.0", "::", "192.168.1.2", "10.0.0.1", "::ffff:127.0.0.1", "fe80::1", "127.0.0.2"] {
            assert!(check_loopback(bad.parse().unwrap()).is_err(), "{bad}");
        }
    }

    #[test]
    fn api_origin_drops_the_version() {
        assert_eq!(api_origin("https://api.smartthings.com/v1").unwrap(), "https://api.smartthings.com");
        assert_eq!(api_origin("http://127.0.0.1:8080/v1/").unwrap(), "http://127.0.0.1:8080");
        assert_eq!(api_origin("https://example.com/st/v1").unwrap(), "https://example.com/st");
    }
}
