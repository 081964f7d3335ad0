//! The accept loop of the token server and the share listener. axum::serve would do, but
//! it has neither a header-read timeout nor a connection cap: a local process could open
//! ~1000 idle sockets and use up the file descriptors the app needs to refresh its tokens.
//! Here each listener holds at most [`Limits::max_connections`] connections (the rest wait
//! in the kernel's backlog, not in our descriptor table), and a connection that has not
//! finished its handshake and sent its request headers within
//! [`Limits::header_read_timeout`] is closed.
//!
//! The loop is generic over a [`Handshake`]: [`Plain`] TCP for the loopback token server,
//! TLS for the share listener (`owner::server`). The handshake runs in the connection's own
//! task, so a slow or hostile peer never stalls the loop that accepts the others.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};

/// How much a client may hold of the server.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Open connections per listening address.
    pub max_connections: usize,
    /// From accepting a connection (or the end of its previous request) to the end of the
    /// request headers; the TLS handshake, where there is one, counts too.
    pub header_read_timeout: Duration,
    /// The most a request line and headers may take; larger ones are answered 431. hyper
    /// needs at least 8192.
    pub max_header_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        // Scripts hold a handful of connections; the benchmark 50. No request of ours needs
        // more than a few hundred bytes of headers.
        Limits { max_connections: 256, header_read_timeout: Duration::from_secs(10), max_header_bytes: 16 * 1024 }
    }
}

/// What turns an accepted TCP connection into the byte stream HTTP is spoken over.
pub trait Handshake: Clone + Send + Sync + 'static {
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    fn handshake(&self, tcp: TcpStream) -> impl Future<Output = std::io::Result<Self::Io>> + Send;
}

/// HTTP straight over TCP: the loopback token server.
#[derive(Clone, Copy)]
pub struct Plain;

impl Handshake for Plain {
    type Io = TcpStream;
    async fn handshake(&self, tcp: TcpStream) -> std::io::Result<TcpStream> {
        Ok(tcp)
    }
}

/// Serves `app` over plain TCP on `listener` until `stopped` turns true.
pub async fn serve(listener: TcpListener, app: Router, limits: Limits, stopped: watch::Receiver<bool>) {
    serve_with(listener, app, limits, stopped, Plain).await
}

/// Serves `app` on `listener`, each connection first through `handshake`, until `stopped`
/// turns true, then lets the open requests finish (the caller bounds how long).
pub async fn serve_with<H: Handshake>(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    mut stopped: watch::Receiver<bool>,
    handshake: H,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            _ = stopping(&mut stopped) => break,
        };
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    // Out of descriptors or a connection reset before accept: wait a
                    // moment instead of spinning, as hyper's and axum's loops do.
                    tracing::debug!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopping(&mut stopped) => break,
        };
        // Small answers, sent at once: no Nagle delay.
        let _ = tcp.set_nodelay(true);
        let watcher = graceful.watcher();
        let handshake = handshake.clone();
        let app = app.clone();
        tokio::spawn(async move {
            // The slot is held from accept to close, handshake included.
            let _slot = slot;
            let io = match tokio::time::timeout(limits.header_read_timeout, handshake.handshake(tcp)).await {
                Ok(Ok(io)) => io,
                Ok(Err(e)) => {
                    // Plain HTTP to the TLS port, a wrong pin, a scanner: nothing to answer.
                    tracing::debug!("handshake failed: {e}");
                    return;
                }
                Err(_) => {
                    tracing::debug!("handshake timed out");
                    return;
                }
            };
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .max_buf_size(limits.max_header_bytes.max(8192))
                .serve_connection(TokioIo::new(io), TowerToHyperService::new(app));
            if let Err(e) = watcher.watch(conn).await {
                tracing::trace!("connection ended: {e}");
            }
        });
    }
    graceful.shutdown().await;
}

/// Resolves once the server is told to stop (the guard `wait_for` returns is not `Send`,
/// so it is dropped here, before the select that awaits this).
async fn stopping(stopped: &mut watch::Receiver<bool>) {
    let _ = stopped.wait_for(|s| *s).await;
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::*;
    use crate::serve::{ServeOptions, ServerSecret, TokenServer, TokenSource};
    use crate::Error;

    async fn server(limits: Limits) -> (TokenServer, ServerSecret) {
        let secret = ServerSecret::generate();
        let source = TokenSource::Current(Arc::new(|| Err(Error::NotSignedIn { connection: "test".into() })));
        let opts = ServeOptions { addrs: vec![IpAddr::from([127, 0, 0, 1])], port: 0, api_url: crate::config::DEFAULT_API_URL.into() };
        (TokenServer::start_limited(source, ServerSecret::from_secret(secret.expose().to_string().into()), opts, limits).await.unwrap(), secret)
    }

    fn request(port: u16, secret: &ServerSecret) -> String {
        format!("GET /v1/token HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n", secret.expose())
    }

    #[tokio::test]
    async fn a_connection_that_sends_no_headers_is_closed() {
        let (s, _) = server(Limits { max_connections: 8, header_read_timeout: Duration::from_millis(200), ..Limits::default() }).await;
        let mut idle = TcpStream::connect(("127.0.0.1", s.port())).await.unwrap();
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(10), idle.read(&mut buf)).await.expect("the server closed the idle connection");
        assert_eq!(n.unwrap_or(0), 0, "closed without an answer");
    }

    #[tokio::test]
    async fn connections_beyond_the_cap_wait_for_a_free_slot() {
        let (s, secret) = server(Limits { max_connections: 3, header_read_timeout: Duration::from_secs(60), ..Limits::default() }).await;
        let mut idle = Vec::new();
        for _ in 0..3 {
            idle.push(TcpStream::connect(("127.0.0.1", s.port())).await.unwrap());
        }
        // The kernel accepts the fourth connection into its backlog; the server does not
        // take it (no descriptor, no task) while three are open.
        let mut fourth = TcpStream::connect(("127.0.0.1", s.port())).await.unwrap();
        fourth.write_all(request(s.port(), &secret).as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        let waited = tokio::time::timeout(Duration::from_millis(300), fourth.read_to_end(&mut answer)).await;
        assert!(waited.is_err(), "answered while the cap was reached: {}", String::from_utf8_lossy(&answer));
        drop(idle.pop());
        tokio::time::timeout(Duration::from_secs(10), fourth.read_to_end(&mut answer)).await.unwrap().unwrap();
        assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 503"), "{}", String::from_utf8_lossy(&answer));
    }
}
