//! Who holds the listener's connections, and who must let go. A slow reader (a client that
//! pipelines requests and never reads the answers) used to keep its connection for good,
//! and 256 of them shut the listener. Now:
//!
//! - every connection's bytes go through [`Deadline`]: a write that makes no progress for
//!   [`Limits::write_timeout`] ends the connection;
//! - each connection notes when it last made progress; when every slot is taken, the
//!   connection idle the longest (past [`Limits::evict_after`]) is closed to make room, so a
//!   new client gets in at once instead of queueing behind stalled ones;
//! - on the share listener each address holds at most [`Limits::max_per_address`].
//!
//! [`Limits::write_timeout`]: super::Limits::write_timeout
//! [`Limits::evict_after`]: super::Limits::evict_after
//! [`Limits::max_per_address`]: super::Limits::max_per_address

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Sleep;

/// Milliseconds since the table was made: the last moment a connection moved bytes.
#[derive(Debug)]
pub(super) struct Progress {
    epoch: Instant,
    last_ms: AtomicU64,
}

impl Progress {
    fn new(epoch: Instant) -> Arc<Progress> {
        Arc::new(Progress { epoch, last_ms: AtomicU64::new(millis(epoch)) })
    }

    fn touch(&self) {
        self.last_ms.store(millis(self.epoch), Ordering::Relaxed);
    }

    fn idle(&self) -> Duration {
        Duration::from_millis(millis(self.epoch).saturating_sub(self.last_ms.load(Ordering::Relaxed)))
    }
}

fn millis(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

struct Entry {
    addr: IpAddr,
    progress: Arc<Progress>,
    evict: Arc<Notify>,
}

/// The open connections of one listener.
pub(super) struct Table {
    epoch: Instant,
    next: AtomicU64,
    open: Mutex<HashMap<u64, Entry>>,
}

/// One connection's place in the table; dropping it frees the place.
pub(super) struct Seat {
    table: Arc<Table>,
    id: u64,
    pub progress: Arc<Progress>,
    pub evict: Arc<Notify>,
}

impl Drop for Seat {
    fn drop(&mut self) {
        self.table.open.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.id);
    }
}

impl Table {
    pub fn new() -> Arc<Table> {
        Arc::new(Table { epoch: Instant::now(), next: AtomicU64::new(0), open: Mutex::new(HashMap::new()) })
    }

    /// How many connections `addr` holds now.
    pub fn from(&self, addr: IpAddr) -> usize {
        self.open.lock().unwrap_or_else(|e| e.into_inner()).values().filter(|e| e.addr == addr).count()
    }

    pub fn seat(self: &Arc<Self>, addr: IpAddr) -> Seat {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let progress = Progress::new(self.epoch);
        let evict = Arc::new(Notify::new());
        let entry = Entry { addr, progress: progress.clone(), evict: evict.clone() };
        self.open.lock().unwrap_or_else(|e| e.into_inner()).insert(id, entry);
        Seat { table: self.clone(), id, progress, evict }
    }

    /// Tells the connection idle the longest, if longer than `after`, to close. Returns
    /// whether one was told (its slot comes back when it has closed).
    pub fn evict_idlest(&self, after: Duration) -> bool {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let idlest = open
            .values()
            .map(|e| (e.progress.idle(), e))
            .filter(|(idle, _)| *idle >= after)
            .max_by_key(|(idle, _)| *idle);
        match idlest {
            Some((idle, e)) => {
                tracing::debug!(idle_ms = idle.as_millis() as u64, "closing the idlest connection to make room");
                // Also when it has not reached its wait yet: `notify_one` keeps the permit.
                e.evict.notify_one();
                true
            }
            None => false,
        }
    }
}

/// A connection's bytes, with a deadline on writes that make no progress and a note of
/// every moment bytes moved (for [`Table::evict_idlest`]).
pub(super) struct Deadline<T> {
    io: T,
    write_timeout: Duration,
    stalled: Option<Pin<Box<Sleep>>>,
    progress: Arc<Progress>,
}

impl<T> Deadline<T> {
    pub fn new(io: T, write_timeout: Duration, progress: Arc<Progress>) -> Deadline<T> {
        Deadline { io, write_timeout, stalled: None, progress }
    }

    /// Pending: start (or check) the stall clock; past it, the peer is not reading.
    fn pending<R>(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<R>> {
        let timeout = self.write_timeout;
        let stall = self.stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match stall.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the client stopped reading the answers",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn moved<R>(&mut self, r: std::io::Result<R>) -> Poll<std::io::Result<R>> {
        self.stalled = None;
        self.progress.touch();
        Poll::Ready(r)
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Deadline<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.progress.touch();
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Deadline<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        match Pin::new(&mut self.io).poll_write(cx, data) {
            Poll::Ready(r) => self.moved(r),
            Poll::Pending => self.pending(cx),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match Pin::new(&mut self.io).poll_flush(cx) {
            Poll::Ready(r) => self.moved(r),
            Poll::Pending => self.pending(cx),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match Pin::new(&mut self.io).poll_shutdown(cx) {
            Poll::Ready(r) => self.moved(r),
            Poll::Pending => self.pending(cx),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match Pin::new(&mut self.io).poll_write_vectored(cx, bufs) {
            Poll::Ready(r) => self.moved(r),
            Poll::Pending => self.pending(cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}
