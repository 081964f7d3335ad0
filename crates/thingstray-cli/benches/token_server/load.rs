//! The load generator: N connections over keep-alive (or a connect per request where the
//! server closes), closed loop or open loop at a fixed rate, latencies counted from when
//! each request was due.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct Measured {
    pub errors: u64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// Drives `conns` connections for `dur` (after a 1 s warm-up) from one thread: closed
/// loop with `rate` None (each connection sends when its answer is in), else open loop at
/// `rate` requests/s in all, each connection on its own schedule, offset from the others.
pub fn load(addr: SocketAddr, request: &str, conns: usize, rate: Option<u64>, dur: Duration) -> Measured {
    let request = request.to_string();
    let every = rate.map(|r| Duration::from_secs_f64(conns as f64 / r as f64));
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let t0 = Instant::now();
            let warm = t0 + Duration::from_secs(1);
            let end = warm + dur;
            let tasks: Vec<_> = (0..conns)
                .map(|i| {
                    let req = request.clone();
                    let first = t0 + every.unwrap_or_default().mul_f64(i as f64 / conns as f64);
                    tokio::spawn(async move { client_loop(addr, &req, first, every, warm, end).await })
                })
                .collect();
            let (mut all, mut errors) = (Vec::new(), 0);
            for t in tasks {
                let (lat, err) = t.await.unwrap();
                all.extend(lat);
                errors += err;
            }
            all.sort_unstable();
            let pct = |p: f64| {
                all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
                    .map_or(f64::NAN, |v| *v as f64 / 1000.0)
            };
            Measured { rps: all.len() as f64 / dur.as_secs_f64(), p50_ms: pct(0.50), p99_ms: pct(0.99), errors }
        })
    })
    .join()
    .unwrap()
}

/// One connection: latencies (µs) of the requests due after `warm` and answered before
/// `end`, and how many failed (a reset or refused connection; counted, then reconnected).
/// Open loop (`every`), a request due while the previous answer is still out waits for
/// it, and that wait is part of its latency (no coordinated omission).
async fn client_loop(
    addr: SocketAddr,
    request: &str,
    first: Instant,
    every: Option<Duration>,
    warm: Instant,
    end: Instant,
) -> (Vec<u32>, u64) {
    let mut lat = Vec::with_capacity(400_000);
    let mut errors = 0;
    let mut conn: Option<TcpStream> = None;
    let mut buf = vec![0u8; 16 * 1024];
    let (mut next, mut last_done) = (first, first);
    loop {
        let due = if every.is_some() { next } else { Instant::now() };
        if due >= end {
            return (lat, errors);
        }
        if every.is_some() {
            tokio::time::sleep_until(due.into()).await;
        }
        let sent = Instant::now();
        // Late because the server was (the previous answer came after `due`): count from
        // `due`. Late because the timer woke after `due`: count from the send.
        let from = if last_done > due { due } else { sent };
        // A connect whose SYN was dropped (a full listen backlog) is retried by the kernel
        // for minutes; give up on it at the end of the run and count it as an error.
        let limit = end.saturating_duration_since(sent) + Duration::from_millis(200);
        let outcome = match tokio::time::timeout(limit, exchange(&mut conn, addr, request.as_bytes(), &mut buf)).await {
            Ok(r) => r,
            Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
        };
        last_done = Instant::now();
        match outcome {
            Ok(close) => {
                if due >= warm && last_done <= end {
                    lat.push(last_done.duration_since(from).as_micros() as u32);
                }
                if close {
                    conn = None;
                }
            }
            Err(_) => {
                conn = None;
                if due >= warm {
                    errors += 1;
                }
            }
        }
        next += every.unwrap_or_default();
    }
}

/// One request and its whole answer; true when the server closes the connection after
/// it. Minimal parsing (status, Content-Length, HTTP/1.0 or `Connection: close`) so the
/// load generator spends as little of the shared CPU as it can.
async fn exchange(
    conn: &mut Option<TcpStream>,
    addr: SocketAddr,
    request: &[u8],
    buf: &mut [u8],
) -> std::io::Result<bool> {
    if conn.is_none() {
        let s = TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        *conn = Some(s);
    }
    let Some(c) = conn.as_mut() else { unreachable!() };
    c.write_all(request).await?;
    let mut have = 0;
    loop {
        let n = c.read(&mut buf[have..]).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        have += n;
        let Some(end) = find(&buf[..have], b"\r\n\r\n") else { continue };
        let head = &buf[..end];
        if !head.starts_with(b"HTTP/1.1 200") && !head.starts_with(b"HTTP/1.0 200") {
            return Err(std::io::Error::other("not 200"));
        }
        let lower = head.to_ascii_lowercase();
        let length = find(&lower, b"content-length:")
            .and_then(|at| {
                let rest = &lower[at + 15..];
                let digits: Vec<u8> =
                    rest.iter().copied().skip_while(|b| *b == b' ').take_while(u8::is_ascii_digit).collect();
                std::str::from_utf8(&digits).ok()?.parse::<usize>().ok()
            })
            .unwrap_or(0);
        if have < end + 4 + length {
            continue;
        }
        let close = head.starts_with(b"HTTP/1.0") && find(&lower, b"connection: keep-alive").is_none()
            || find(&lower, b"connection: close").is_some();
        return Ok(close);
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// One request on a fresh connection; the answer's body.
pub async fn one(addr: SocketAddr, request: &str) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n").as_bytes()).await.unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).await.unwrap();
    assert!(buf.starts_with("HTTP/1.1 200"), "{buf}");
    buf.split_once("\r\n\r\n").unwrap().1.to_string()
}
