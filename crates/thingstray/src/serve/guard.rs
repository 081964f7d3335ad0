//! The checks every request passes before anything else runs, in this order:
//!
//! 1. `Host` must name the loopback address and port the server listens on. A web page
//!    can point its own domain at 127.0.0.1 (DNS rebinding) and then talk to us as
//!    "same origin"; its requests still carry its domain in `Host`. 403.
//! 2. No `Origin` header at all. Browsers send one on cross-origin and on POST requests;
//!    curl, scripts and SDKs don't. There is no page we want to serve, so any `Origin`
//!    is refused, preflights included, and no CORS header is ever sent. 403.
//! 3. `Authorization: Bearer <server secret>`, compared in constant time. The secret is
//!    accepted in that header only: never from the query string, where it would end up in
//!    shell history, proxies' logs and `Referer`. 401.
//!
//! Refusals are logged with the reason, never with the presented values.

use std::convert::Infallible;
use std::future::{ready, Ready};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use futures_util::future::Either;

use super::{error_response, Shared};

/// The checks as a tower layer around every route and the fallback. A plain `Service`
/// rather than `axum::middleware::from_fn`: that one clones the inner route and boxes a
/// future per request, which the token server's one-core throughput notices.
#[derive(Clone)]
pub struct GuardLayer(pub Arc<Shared>);

impl<S> tower_layer::Layer<S> for GuardLayer {
    type Service = Guard<S>;

    fn layer(&self, inner: S) -> Guard<S> {
        Guard { shared: self.0.clone(), inner }
    }
}

#[derive(Clone)]
pub struct Guard<S> {
    shared: Arc<Shared>,
    inner: S,
}

impl<S> tower_service::Service<Request> for Guard<S>
where
    S: tower_service::Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Ready<Result<Response, Infallible>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        if let Some(refusal) = refuse(&self.shared, &req) {
            tracing::info!(method = %req.method(), path = req.uri().path(), reason = refusal.code, "request refused");
            let mut resp = error_response(refusal.status, refusal.code, refusal.message);
            if refusal.status == StatusCode::UNAUTHORIZED {
                resp.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(r#"Bearer realm="thingstray""#));
            }
            return Either::Left(ready(Ok(resp)));
        }
        // The path only: a query string could hold anything, including a misplaced secret.
        tracing::debug!(method = %req.method(), path = req.uri().path(), "serving");
        Either::Right(self.inner.call(req))
    }
}

struct Refusal {
    status: StatusCode,
    code: &'static str,
    message: &'static str,
}

fn refuse(shared: &Shared, req: &Request) -> Option<Refusal> {
    let headers = req.headers();
    let host_ok = host_of(req).is_some_and(|h| shared.allowed_hosts.iter().any(|a| a.eq_ignore_ascii_case(h)));
    if !host_ok {
        return Some(Refusal {
            status: StatusCode::FORBIDDEN,
            code: "forbidden_host",
            message: "The Host header must be 127.0.0.1:PORT, localhost:PORT or [::1]:PORT of this server \
                      (requests for other names are refused to stop DNS rebinding).",
        });
    }
    if headers.contains_key(header::ORIGIN) {
        return Some(Refusal {
            status: StatusCode::FORBIDDEN,
            code: "forbidden_origin",
            message: "Requests from web pages (with an Origin header) are refused: the token server is for \
                      local programs only.",
        });
    }
    if !authorized(shared, headers) {
        return Some(Refusal {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized",
            message: "Send the server secret as `Authorization: Bearer <secret>` (see `thingstray serve \
                      --print-secret`). It is accepted in that header only.",
        });
    }
    None
}

/// The `Host` header, or the HTTP/2 `:authority`; when both exist they must agree.
fn host_of(req: &Request) -> Option<&str> {
    let mut hosts = req.headers().get_all(header::HOST).iter();
    let header = hosts.next().map(|h| h.to_str().ok());
    if hosts.next().is_some() {
        return None; // two Host headers: someone is playing games
    }
    let authority = req.uri().authority().map(|a| a.as_str());
    match (header, authority) {
        (Some(Some(h)), Some(a)) if !h.eq_ignore_ascii_case(a) => None,
        (Some(Some(h)), _) => Some(h),
        (Some(None), _) => None,
        (None, a) => a,
    }
}

fn authorized(shared: &Shared, headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else { return false };
    let bytes = value.as_bytes();
    let Some(space) = bytes.iter().position(|b| *b == b' ') else { return false };
    let (scheme, rest) = bytes.split_at(space);
    scheme.eq_ignore_ascii_case(b"bearer") && shared.secret.matches(rest.trim_ascii())
}
