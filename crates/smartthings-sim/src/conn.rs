//! A TCP listener whose connections a request handler can cut without answering.
//!
//! The `drop_connection` fault must look to the client like a network failure, not an
//! HTTP response. Each accepted stream carries a kill switch that is handed to requests
//! as connection info; once it is thrown, every read and write on the socket fails, so
//! hyper gives up on the connection before writing a byte and the socket closes.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Wraps a bound `TcpListener`.
pub(crate) struct KillableListener(pub TcpListener);

impl axum::serve::Listener for KillableListener {
    type Io = KillableStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = axum::serve::Listener::accept(&mut self.0).await;
        let _ = io.set_nodelay(true);
        (KillableStream::new(io), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// A stream (plain TCP, or TLS over it: tls.rs) that fails every operation once killed.
pub(crate) struct KillableStream<S = TcpStream> {
    inner: S,
    killed: Arc<AtomicBool>,
}

impl<S> KillableStream<S> {
    pub(crate) fn new(inner: S) -> Self {
        KillableStream { inner, killed: Arc::new(AtomicBool::new(false)) }
    }

    fn dead(&self) -> bool {
        self.killed.load(Ordering::SeqCst)
    }
}

fn aborted() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "connection dropped by fault injection")
}

impl<S: AsyncRead + Unpin> AsyncRead for KillableStream<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if self.dead() {
            return Poll::Ready(Err(aborted()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for KillableStream<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if self.dead() {
            return Poll::Ready(Err(aborted()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.dead() {
            return Poll::Ready(Err(aborted()));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.dead() {
            return Poll::Ready(Err(aborted()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.dead() {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Per-connection info given to every request: who connected and the kill switch.
#[derive(Clone, Debug)]
pub(crate) struct ConnInfo {
    #[allow(dead_code)]
    pub remote: SocketAddr,
    killed: Arc<AtomicBool>,
}

impl ConnInfo {
    /// The info for a connection from `remote` carried on `stream`.
    pub(crate) fn of<S>(remote: SocketAddr, stream: &KillableStream<S>) -> ConnInfo {
        ConnInfo { remote, killed: stream.killed.clone() }
    }

    /// Makes the connection fail: the current response is never written.
    pub(crate) fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
    }
}

impl Connected<IncomingStream<'_, KillableListener>> for ConnInfo {
    fn connect_info(stream: IncomingStream<'_, KillableListener>) -> Self {
        ConnInfo::of(*stream.remote_addr(), stream.io())
    }
}
