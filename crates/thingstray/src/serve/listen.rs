//! The accept loop of the token server and the share listener. axum::serve would do, but
//! it has neither a header-read timeout nor a connection cap: a local process could open
//! ~1000 idle sockets and use up the file descriptors the app needs to refresh its tokens.
//! Here each listener holds at most [`Limits::max_connections`] connections, and a
//! connection that has not finished its handshake and sent its request headers within
//! [`Limits::header_read_timeout`] is closed. A client that stops reading the answers is
//! cut after [`Limits::write_timeout`]; when every slot is taken, the connection idle the
//! longest makes room for a new one; each connection lives at most [`Limits::max_age`];
//! and the share listener caps what one address may hold (conns.rs).
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
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

use super::conns::{Deadline, Seat, Table};

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
    /// A write (an answer) that makes no progress this long ends the connection: the client
    /// stopped reading. Our answers are a few hundred bytes.
    pub write_timeout: Duration,
    /// When every slot is taken and a client is waiting, the connection that has moved no
    /// bytes for longest, if at least this long, is closed to make room.
    pub evict_after: Duration,
    /// The kernel's buffers per connection, each way. Our requests and answers are a few
    /// hundred bytes; left to itself Linux grows a send buffer up to 4 MiB for a client
    /// that never reads, so 256 slow readers pinned 1 GB of kernel memory and stayed
    /// "busy" (their answers still flowing into the buffer) for seconds before they could
    /// be seen to stall.
    pub socket_buffer: usize,
    /// The most one connection lives; then it closes after its current request (clients
    /// open another).
    pub max_age: Duration,
    /// Connections one peer address may hold; more are closed at once. `None` on the
    /// loopback token server (every peer is 127.0.0.1); the share listener sets
    /// [`SHARE_PER_ADDRESS`] unless told otherwise.
    pub max_per_address: Option<usize>,
}

/// What one computer on the network may hold of the share listener: a paired computer
/// needs one or two connections.
pub const SHARE_PER_ADDRESS: usize = 16;

impl Default for Limits {
    fn default() -> Self {
        // Scripts hold a handful of connections; the benchmark 50. No request of ours needs
        // more than a few hundred bytes of headers.
        Limits {
            max_connections: 256,
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            write_timeout: Duration::from_secs(10),
            evict_after: Duration::from_millis(250),
            socket_buffer: 32 * 1024,
            max_age: Duration::from_secs(10 * 60),
            max_per_address: None,
        }
    }
}

/// The peer's address, in every request's extensions (the share listener limits pairing
/// attempts per address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer(pub std::net::SocketAddr);

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
    let table = Table::new();
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
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
        if limits.max_per_address.is_some_and(|cap| table.from(peer.ip()) >= cap) {
            tracing::debug!(peer = %peer.ip(), "too many connections from one address; closed");
            continue;
        }
        // A full house: the idlest connection makes room (again each `evict_after` while
        // this client waits), so stalled clients cannot keep a new one out.
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => loop {
                table.evict_idlest(limits.evict_after);
                tokio::select! {
                    slot = slots.clone().acquire_owned() => break slot.expect("the semaphore is never closed"),
                    _ = tokio::time::sleep(limits.evict_after) => {}
                    _ = stopping(&mut stopped) => return drain(&slots, limits).await,
                }
            },
        };
        // Small answers, sent at once: no Nagle delay; small kernel buffers (see Limits).
        let _ = tcp.set_nodelay(true);
        let sock = socket2::SockRef::from(&tcp);
        let _ = sock.set_send_buffer_size(limits.socket_buffer);
        let _ = sock.set_recv_buffer_size(limits.socket_buffer);
        let seat = table.seat(peer.ip());
        let app = app.clone().layer(axum::Extension(Peer(peer)));
        tokio::spawn(connection(tcp, seat, slot, app, handshake.clone(), limits, stopped.clone()));
    }
    drain(&slots, limits).await;
}

/// One connection, from handshake to close. The slot is held throughout.
async fn connection<H: Handshake>(
    tcp: TcpStream,
    seat: Seat,
    _slot: OwnedSemaphorePermit,
    app: Router,
    handshake: H,
    limits: Limits,
    mut stopped: watch::Receiver<bool>,
) {
    let io = tokio::select! {
        io = tokio::time::timeout(limits.header_read_timeout, handshake.handshake(tcp)) => match io {
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
        },
        _ = seat.evict.notified() => return,
    };
    let io = Deadline::new(io, limits.write_timeout, seat.progress.clone());
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .serve_connection(TokioIo::new(io), TowerToHyperService::new(app));
    tokio::pin!(conn);
    let age = tokio::time::sleep(limits.max_age);
    tokio::pin!(age);
    let mut closing = false;
    loop {
        tokio::select! {
            ended = conn.as_mut() => {
                if let Err(e) = ended {
                    tracing::trace!("connection ended: {e}");
                }
                return;
            }
            // Old, or the server stops: finish the request in hand, then close.
            _ = &mut age, if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = stopping(&mut stopped), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
            // Idle the longest while a new client waits: close now.
            _ = seat.evict.notified() => return,
        }
    }
}

/// Waits until every connection has closed (each holds a slot until then).
async fn drain(slots: &Semaphore, limits: Limits) {
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
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
        let opts = ServeOptions {
            addrs: vec![IpAddr::from([127, 0, 0, 1])],
            port: 0,
            api_url: crate::config::DEFAULT_API_URL.into(),
            events: None,
        };
        (
            TokenServer::start_limited(
                source,
                ServerSecret::from_secret(secret.expose().to_string().into()),
                opts,
                limits,
            )
            .await
            .unwrap(),
            secret,
        )
    }

    fn request(port: u16, secret: &ServerSecret) -> String {
        format!(
            "GET /v1/token HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
            secret.expose()
        )
    }

    #[tokio::test]
    async fn a_connection_that_sends_no_headers_is_closed() {
        let (s, _) =
            server(Limits { max_connections: 8, header_read_timeout: Duration::from_millis(200), ..Limits::default() })
                .await;
        let mut idle = TcpStream::connect(("127.0.0.1", s.port())).await.unwrap();
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(10), idle.read(&mut buf))
            .await
            .expect("the server closed the idle connection");
        assert_eq!(n.unwrap_or(0), 0, "closed without an answer");
    }

    /// A client that pipelines requests and never reads the answers: its receive buffer
    /// is tiny, so the server's writes stall soon. The writer task ends only when the
    /// server closes the connection (its writes then fail).
    async fn slow_reader(port: u16) -> (tokio::net::tcp::OwnedReadHalf, tokio::task::JoinHandle<std::io::Result<()>>) {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(1024).unwrap();
        let stream = socket.connect(([127, 0, 0, 1], port).into()).await.unwrap();
        let (read, mut write) = stream.into_split();
        let pipelined = format!("GET /v1/token HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n").repeat(200_000);
        let writer = tokio::spawn(async move {
            write.write_all(pipelined.as_bytes()).await?;
            // All of it went out: keep the connection open, unread, for good.
            std::future::pending::<()>().await;
            Ok(())
        });
        (read, writer)
    }

    #[tokio::test]
    async fn connections_beyond_the_cap_wait_for_a_free_slot() {
        // None idle long enough to make room: the fourth waits for a slot.
        let (s, secret) = server(Limits {
            max_connections: 3,
            header_read_timeout: Duration::from_secs(60),
            evict_after: Duration::from_secs(60),
            ..Limits::default()
        })
        .await;
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

    /// Issue 25, item 4: slow readers used to hold every slot for good, and the listener
    /// then answered nobody. Now the idlest makes room, and the client is answered.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn slow_readers_do_not_keep_an_authorised_client_out() {
        let limits = Limits {
            max_connections: 8,
            write_timeout: Duration::from_secs(600),
            evict_after: Duration::from_millis(100),
            ..Limits::default()
        };
        let (s, secret) = server(limits).await;
        let mut held = Vec::new();
        for _ in 0..20 {
            held.push(slow_reader(s.port()).await);
        }
        let mut client = TcpStream::connect(("127.0.0.1", s.port())).await.unwrap();
        client.write_all(request(s.port(), &secret).as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        // The bound only turns a hang into a failure.
        tokio::time::timeout(Duration::from_secs(30), client.read_to_end(&mut answer))
            .await
            .expect("answered")
            .unwrap();
        assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 503"), "{}", String::from_utf8_lossy(&answer));
    }

    /// A client that stops reading is cut after the write deadline, with no one else around.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_client_that_stops_reading_is_cut_after_the_write_deadline() {
        // Headers may take all day: only the write deadline can end this connection.
        let limits = Limits {
            write_timeout: Duration::from_millis(200),
            header_read_timeout: Duration::from_secs(3600),
            ..Limits::default()
        };
        let (s, _) = server(limits).await;
        let (_unread, writer) = slow_reader(s.port()).await;
        // The server stops reading when its answers back up; the client's writes then fail
        // only once the server has closed the connection.
        let ended =
            tokio::time::timeout(Duration::from_secs(30), writer).await.expect("the connection was never closed");
        assert!(ended.unwrap().is_err(), "the server read every request: the writes never stalled");
    }

    /// The share listener's cap per address: one host cannot take every slot.
    #[tokio::test]
    async fn one_address_holds_at_most_its_share_of_connections() {
        let limits = Limits { max_per_address: Some(2), ..Limits::default() };
        let (s, secret) = server(limits).await;
        let _a = TcpStream::connect(("127.0.0.1", s.port())).await.unwrap();
        let _b = TcpStream::connect(("127.0.0.1", s.port())).await.unwrap();
        let mut third = TcpStream::connect(("127.0.0.1", s.port())).await.unwrap();
        let _ = third.write_all(request(s.port(), &secret).as_bytes()).await;
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(30), third.read_to_end(&mut answer))
            .await
            .expect("closed at once");
        assert!(answer.is_empty(), "the third connection was served: {}", String::from_utf8_lossy(&answer));
        drop(_a);
        // A freed place is usable again (the table forgets a closed connection).
        let mut again = None;
        for _ in 0..200 {
            let mut c = TcpStream::connect(("127.0.0.1", s.port())).await.unwrap();
            c.write_all(request(s.port(), &secret).as_bytes()).await.unwrap();
            let mut answer = Vec::new();
            let _ = tokio::time::timeout(Duration::from_secs(30), c.read_to_end(&mut answer)).await;
            if !answer.is_empty() {
                again = Some(answer);
                break;
            }
            tokio::task::yield_now().await;
        }
        assert!(again.is_some_and(|a| a.starts_with(b"HTTP/1.1 503")), "a place came free");
    }

    /// Every request knows who sent it (the share listener counts pairing attempts by it).
    #[tokio::test]
    async fn each_request_carries_its_peer_address() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let app = Router::new().route(
            "/",
            axum::routing::get(|axum::Extension(Peer(p)): axum::Extension<Peer>| async move { p.ip().to_string() }),
        );
        let (_stop, stopped) = watch::channel(false);
        tokio::spawn(serve(listener, app, Limits::default(), stopped));
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(([127, 0, 0, 2], 0).into()).unwrap();
        let mut c = socket.connect(([127, 0, 0, 1], port).into()).await.unwrap();
        c.write_all(format!("GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut answer = String::new();
        tokio::time::timeout(Duration::from_secs(30), c.read_to_string(&mut answer)).await.unwrap().unwrap();
        assert!(answer.ends_with("127.0.0.2"), "{answer}");
    }
}
