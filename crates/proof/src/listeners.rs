//! Hostile peers (issue 25, item 4, in black-box form): slow readers on both listeners
//! (clients that pipeline requests and never read the answers, reconnecting whenever they
//! are cut), one address opening hundreds of connections to the share listener, guessed
//! pairing codes from one address, and a forged ST Schema grant. Throughout, an authorised
//! client must still be answered, and the connector's secret must never leave for a host
//! that is not SmartThings.
//!
//! The token server is the real `thingstray serve` binary; the share listener is the real
//! `ShareServer` in this process (as share.rs builds it), so its attackers, its paired
//! computer and the listener share this process's 2 worker threads.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use smartthings_sim::SimConfig;
use thingstray::owner::{Identity, Registry, ShareOptions, ShareServer, ShareSource};
use thingstray::serve::{Limits, ServerSecret, SHARE_PER_ADDRESS};
use thingstray::session::SessionOptions;
use thingstray::share::{Credentials, ShareClient};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;

use crate::report::Section;
use crate::world::World;

/// Slow readers per attack: more than the 256 connections a listener holds.
const ATTACKERS: usize = 300;
/// Each slow reader's requests, pipelined (about 23,000 of them), one buffer shared by all.
const FLOOD_BYTES: usize = 1 << 20;
/// A slow reader's receive buffer: the server's answers back up after a few.
const TINY_RECV_BUFFER: u32 = 1024;
/// The attackers' send buffer, fixed (no autotuning): the buffers under test are the
/// listener's, not this process's.
const ATTACKER_SEND_BUFFER: u32 = 16 * 1024;
/// The target for an authorised client among the attackers.
const TARGET: Duration = Duration::from_secs(1);
/// The invariant's bound: an authorised client is served at all. A listener whose slots
/// the slow readers keep for good (as before issue 25) misses it; a busy machine does not
/// (the slowest seen on 2 cores, with a load average of 5, was under a third of it).
const SERVED_WITHIN: Duration = Duration::from_secs(30);
/// Authorised requests measured per attack, one after another, each on a new connection.
const ASKS: usize = 5;
/// The greedy address (2a) and the guesser (3). All of 127.0.0.0/8 is loopback on Linux.
const GREEDY: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
/// The many addresses (2b): 127.0.0.2 ..= 127.0.0.40, under 16 slow readers each.
const SPREAD: u8 = 39;
/// How long the greedy address's connections are watched for being closed: well under the
/// 10 s handshake deadline that ends the ones the listener keeps.
const CLOSED_WITHIN: Duration = Duration::from_secs(2);

pub async fn run(thingstray: &str, quick: bool) -> Section {
    // When the authorised client asks, counted from the slow readers' arrival: the
    // scenario (a listener under attack for a few seconds; in the full run also for long
    // past the 10 s write deadline), not a synchronisation with anything.
    let phases: &[Duration] = if quick { &[Duration::from_secs(3)] } else { &[Duration::from_secs(3), Duration::from_secs(15)] };
    let mut s = Section::new("Hostile peers: slow readers, one greedy address, a forged grant");
    s.intro(format!(
        "Issue 25, item 4, from the outside. {ATTACKERS} slow readers per attack: each a TCP connection with a \
         {TINY_RECV_BUFFER}-byte receive buffer that writes pipelined requests without a secret (about 1 MB, again \
         and again) and never reads an answer; when the listener cuts it, it reconnects at once. {} s into the \
         attack{}, an authorised client asks {ASKS} times, one request after another, each on a new connection; a \
         latency counts from opening that connection (which queues behind the attackers') to the answer. The token \
         server is the real `thingstray serve` (release build, signed in on the simulator); the share listener is \
         the real `ShareServer` in this process (as `thingstray serve --share` starts it), with a computer paired \
         from 127.0.0.1. Its slow readers are TLS-level (tokio-rustls: the handshake completed, then pipelined \
         unauthenticated token requests, never read), spread over 127.0.0.2 to 127.0.0.{}; the greedy address's \
         connections stall in the TLS handshake (they send nothing). The guesser's pairing requests are raw HTTPS \
         from 127.0.0.2.",
        phases[0].as_secs(),
        if phases.len() > 1 { format!(" and again {} s into it", phases[1].as_secs()) } else { String::new() },
        1 + SPREAD
    ));
    let w = World::start(SimConfig::default()).await;
    let mut seen = Seen::default();
    token_server(&mut s, &mut seen, &w, thingstray, phases).await;
    share_listener(&mut s, &mut seen, &w, phases).await;
    forged_grant(&mut s, &w, thingstray).await;
    if seen.slow {
        let wmem = tcp_wmem_max().unwrap_or(4 << 20);
        // Most of the slots' send buffers grown to the most Linux allows: say so.
        let grown = seen.peak_memory > 128 * wmem;
        s.note(format!(
            "Why an authorised client can wait longer than 1 s: it queues in the kernel behind the slow readers that \
             have no slot, and each one let in must first evict a connection that has moved no bytes for 1 s \
             (`evict_after`).{}",
            if grown {
                format!(
                    " A slow reader's connection keeps moving bytes while the listener reads its requests and writes \
                     their answers into the socket's send buffer, which Linux grows for it up to `tcp_wmem`'s maximum \
                     ({} MiB here; the peak TCP memory above is about 256 of them): until that is full, it is not idle, \
                     and none can be evicted.",
                    wmem >> 20
                )
            } else {
                String::new()
            }
        ));
    }
    s
}

/// What the note under the table needs to know.
#[derive(Default)]
struct Seen {
    /// An authorised client waited past [`TARGET`].
    slow: bool,
    /// The most kernel memory in TCP buffers during an attack, in bytes.
    peak_memory: u64,
}

/// `net.ipv4.tcp_wmem`'s maximum, in bytes.
fn tcp_wmem_max() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem").ok()?.split_whitespace().nth(2)?.parse().ok()
}

/// The kernel's memory in TCP buffers, whole machine (Linux: /proc/net/sockstat, in pages).
fn tcp_memory() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/net/sockstat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("TCP:"))?;
    let mut words = line.split_whitespace();
    words.find(|w| *w == "mem")?;
    Some(words.next()?.parse::<u64>().ok()? * 4096)
}

/// The peak of [`tcp_memory`] while it runs, sampled every 100 ms.
struct PeakMemory {
    before: Option<u64>,
    peak: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl PeakMemory {
    fn watch() -> PeakMemory {
        let peak = Arc::new(AtomicU64::new(0));
        let p = peak.clone();
        let task = tokio::spawn(async move {
            loop {
                p.fetch_max(tcp_memory().unwrap_or(0), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        PeakMemory { before: tcp_memory(), peak, task }
    }

    fn row(self, s: &mut Section, seen: &mut Seen, who: &str) {
        self.task.abort();
        let peak = self.peak.load(Ordering::Relaxed);
        seen.peak_memory = seen.peak_memory.max(peak);
        let mib = |b: u64| format!("{} MiB", b >> 20);
        match self.before {
            Some(before) => s.info(
                &format!("{who}: kernel memory in TCP buffers during the attack (whole machine)"),
                format!("peak {} (before: {})", mib(peak), mib(before)),
            ),
            None => s.skipped(&format!("{who}: kernel memory in TCP buffers"), "no /proc/net/sockstat"),
        };
    }
}

// --- the attackers ----------------------------------------------------------------------

#[derive(Default)]
struct Tally {
    connected: AtomicU64,
    /// TLS handshakes an attacker completed (TLS-level slow readers only).
    handshakes: AtomicU64,
    /// Connections that ended: the listener closed them (in the handshake, by the write
    /// deadline, or to make room), and the attacker reconnected.
    closed: AtomicU64,
}

impl Tally {
    fn get(n: &AtomicU64) -> u64 {
        n.load(Ordering::Relaxed)
    }

    fn open(&self) -> u64 {
        Self::get(&self.connected).saturating_sub(Self::get(&self.closed))
    }
}

/// Persistent slow readers, until dropped.
struct Horde {
    tasks: Vec<JoinHandle<()>>,
    tally: Arc<Tally>,
}

impl Horde {
    fn start(to: SocketAddr, from: impl Fn(usize) -> Ipv4Addr, tls: Option<TlsConnector>, flood: Arc<[u8]>) -> Horde {
        let tally = Arc::new(Tally::default());
        let tasks = (0..ATTACKERS).map(|i| tokio::spawn(slow_reader(to, from(i), tls.clone(), flood.clone(), tally.clone()))).collect();
        Horde { tasks, tally }
    }
}

impl Drop for Horde {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// `GET path` pipelined, about [`FLOOD_BYTES`] of it.
fn flood(path: &str, host: &str) -> Arc<[u8]> {
    let one = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n");
    Arc::from(one.repeat(FLOOD_BYTES / one.len()).into_bytes())
}

/// A connection from `from`; a slow reader's has the tiny receive buffer (and a fixed
/// send buffer), set before connecting so the window is small from the first byte.
async fn connect_from(from: Ipv4Addr, to: SocketAddr, slow: bool) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    if slow {
        socket.set_recv_buffer_size(TINY_RECV_BUFFER)?;
        socket.set_send_buffer_size(ATTACKER_SEND_BUFFER)?;
    }
    socket.bind(SocketAddr::from((from, 0)))?;
    socket.connect(to).await
}

async fn slow_reader(to: SocketAddr, from: Ipv4Addr, tls: Option<TlsConnector>, flood: Arc<[u8]>, tally: Arc<Tally>) {
    loop {
        let tcp = match connect_from(from, to, true).await {
            Ok(tcp) => tcp,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        tally.connected.fetch_add(1, Ordering::Relaxed);
        match &tls {
            None => write_until_cut(tcp, &flood).await,
            Some(tls) => {
                if let Ok(stream) = tls.connect(server_name(to), tcp).await {
                    tally.handshakes.fetch_add(1, Ordering::Relaxed);
                    write_until_cut(stream, &flood).await;
                }
            }
        }
        tally.closed.fetch_add(1, Ordering::Relaxed);
    }
}

/// Writes the requests over and over, never reading: the answers fill the tiny receive
/// buffer, then the server's send buffer, and its writes stall. Only the server closing
/// the connection ends the writes (with an error).
async fn write_until_cut<S: AsyncWrite + Unpin>(mut stream: S, flood: &[u8]) {
    while stream.write_all(flood).await.is_ok() {}
}

fn server_name(to: SocketAddr) -> ServerName<'static> {
    ServerName::from(to.ip())
}

/// An attacker's TLS client: TLS 1.3 as the listener speaks it, any certificate accepted.
fn attacker_tls() -> TlsConnector {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3 with ring")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    TlsConnector::from(Arc::new(config))
}

#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(&self, _: &[u8], _: &CertificateDer<'_>, _: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(&self, _: &[u8], _: &CertificateDer<'_>, _: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

/// The rows for `ASKS` authorised requests: all served within [`SERVED_WITHIN`] (the
/// invariant), the slowest against [`TARGET`] (the figure). True when the slowest
/// missed the target.
fn asked(s: &mut Section, who: &str, answers: &[Result<Duration, String>], attackers_open: u64) -> bool {
    let served = answers.iter().filter(|a| a.as_ref().is_ok_and(|d| *d < SERVED_WITHIN)).count();
    let mut value = format!("{served}/{} served ({attackers_open} attacker connections open or queued)", answers.len());
    if let Some(f) = answers.iter().find_map(|a| a.as_ref().err()) {
        value.push_str(&format!("; first failure: {f}"));
    }
    s.check(&format!("{who}: authorised requests answered"), value, &format!("{ASKS}/{ASKS}, each within {} s", SERVED_WITHIN.as_secs()), served == answers.len());
    let each: Vec<String> = answers.iter().map(|a| a.as_ref().map(|d| format!("{:.0}", d.as_secs_f64() * 1000.0)).unwrap_or("-".into())).collect();
    let slowest = answers.iter().filter_map(|a| a.as_ref().ok()).max().copied();
    let fast = slowest.is_some_and(|d| d < TARGET) && served == answers.len();
    s.measure(
        &format!("{who}: the slowest of the {ASKS}"),
        format!("{} (each: {} ms)", slowest.map(ms).unwrap_or("none answered".into()), each.join(", ")),
        "< 1 s",
        fast,
    );
    !fast
}

// --- 1. the token server ----------------------------------------------------------------

fn serve(thingstray: &str, w: &World) -> Child {
    Command::new(thingstray)
        .args(["serve", "--port", "0", "--bind", "127.0.0.1"])
        .env("THINGSTRAY_CONFIG_DIR", w.dir())
        .env_remove("THINGSTRAY_CONNECTION")
        .env("THINGSTRAY_LOG", "off")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("thingstray serve starts")
}

/// One authorised `GET /v1/token` on a new connection, with plain blocking I/O on a thread
/// of its own (so the attackers' tasks cannot delay the measuring side): its latency, or
/// what went wrong.
fn authorised(port: u16, secret: &str) -> Result<Duration, String> {
    let t = Instant::now();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut c = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(10)).map_err(|e| format!("connect: {e}"))?;
    c.set_read_timeout(Some(SERVED_WITHIN + Duration::from_secs(5))).map_err(|e| e.to_string())?;
    c.set_write_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
    let req = format!("GET /v1/token HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {secret}\r\nConnection: close\r\n\r\n");
    c.write_all(req.as_bytes()).map_err(|e| format!("write: {e}"))?;
    let mut answer = Vec::new();
    let read = c.read_to_end(&mut answer);
    let took = t.elapsed();
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).unwrap_or("");
    let token = serde_json::from_str::<serde_json::Value>(body).ok().and_then(|v| v["access_token"].as_str().map(str::to_string));
    match (status, token) {
        ("200", Some(t)) if !t.is_empty() => Ok(took),
        ("", _) => Err(format!("no answer after {} ({})", ms(took), read.err().map(|e| e.kind().to_string()).unwrap_or("closed".into()))),
        (status, _) => Err(format!("answered {status}")),
    }
}

async fn authorised_async(port: u16, secret: &str) -> Result<Duration, String> {
    let secret = secret.to_string();
    tokio::task::spawn_blocking(move || authorised(port, &secret)).await.unwrap_or_else(|e| Err(e.to_string()))
}

fn stop(mut server: Child) {
    let _ = Command::new("kill").args(["-TERM", &server.id().to_string()]).status();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(10) {
        if let Ok(Some(_)) = server.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = server.kill();
    let _ = server.wait();
}

/// Part 1: slow readers against `thingstray serve`.
async fn token_server(s: &mut Section, seen: &mut Seen, w: &World, thingstray: &str, phases: &[Duration]) {
    let secret = ServerSecret::load_or_create(&w.shared().vault).await.expect("server secret").expose().to_string();
    let mut server = serve(thingstray, w);
    let mut line = String::new();
    let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(server.stdout.take().unwrap()), &mut line);
    let Some(port) = line.trim().rsplit(':').next().and_then(|p| p.parse::<u16>().ok()) else {
        s.check("token server: starts", format!("printed {:?}", line.trim()), "listening on http://127.0.0.1:PORT", false);
        stop(server);
        return;
    };
    let control = authorised_async(port, &secret).await;
    s.check(
        "token server, control (no attackers): an authorised `GET /v1/token`",
        match &control {
            Ok(d) => format!("200 with a token, {}", ms(*d)),
            Err(e) => e.clone(),
        },
        "200 with a token",
        control.is_ok(),
    );

    let memory = PeakMemory::watch();
    let horde = Horde::start(SocketAddr::from(([127, 0, 0, 1], port)), |_| Ipv4Addr::LOCALHOST, None, flood("/v1/token", &format!("127.0.0.1:{port}")));
    let started = tokio::time::Instant::now();
    for at in phases {
        tokio::time::sleep_until(started + *at).await;
        let open = horde.tally.open();
        let mut answers = Vec::new();
        for _ in 0..ASKS {
            answers.push(authorised_async(port, &secret).await);
        }
        seen.slow |= asked(s, &format!("token server, {} s into the attack", at.as_secs()), &answers, open);
    }
    let (connected, closed) = (Tally::get(&horde.tally.connected), Tally::get(&horde.tally.closed));
    drop(horde);
    stop(server);
    s.info(
        "token server: slow-reader connections it closed (each reconnected at once)",
        format!("{closed} of {connected} opened, in {:.0} s", started.elapsed().as_secs_f64()),
    );
    memory.row(s, seen, "token server");
}

// --- 2 and 3. the share listener --------------------------------------------------------

async fn owner(w: &World, identity: &Identity) -> ShareServer {
    let conn = w.shared().connection(SessionOptions::default(), Duration::from_secs(10)).await.expect("the owner opens");
    let registry = Arc::new(Registry::open(&w.paths));
    // As `thingstray serve --share` starts it: the default limits, 16 connections per address.
    let opts = ShareOptions { addr: "127.0.0.1:0".parse().unwrap(), owner_name: "owner-pc".into(), limits: Limits::default() };
    ShareServer::start(ShareSource::One(conn), identity, registry, Arc::new(w.clock.clone()), opts).await.expect("the share listener starts")
}

/// A token for the paired computer, on a new connection (a new client: no pooled
/// connection from before the attack). Its timeout is past [`SERVED_WITHIN`]: a paired
/// computer gives up after 15 s (and keeps its cached token), but the invariant is served
/// at all.
async fn paired_token(creds: &Credentials) -> Result<Duration, String> {
    let client = ShareClient::new(&creds.at, &creds.fingerprint, &creds.owner, SERVED_WITHIN + Duration::from_secs(5)).map_err(|e| e.to_string())?;
    let t = Instant::now();
    match client.token(creds, Duration::from_secs(60)).await {
        Ok(token) if !token.grant.secret().is_empty() => Ok(t.elapsed()),
        Ok(_) => Err("an empty token".into()),
        Err(e) => Err(format!("{} after {}", e.code(), ms(t.elapsed()))),
    }
}

/// A raw HTTPS request from `from` (the attacker's TLS client): the status and body.
async fn https_from(from: Ipv4Addr, to: SocketAddr, tls: &TlsConnector, raw: &str) -> Option<(u16, String)> {
    let tcp = connect_from(from, to, false).await.ok()?;
    let mut stream = tls.connect(server_name(to), tcp).await.ok()?;
    stream.write_all(raw.as_bytes()).await.ok()?;
    let answer = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Some((head.split_whitespace().nth(1)?.parse().ok()?, body.to_string()))
}

async fn read_until_closed<S: AsyncRead + Unpin>(stream: &mut S, within: Duration) -> Vec<u8> {
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    let _ = tokio::time::timeout(within, async {
        // A TLS peer that closes without close_notify ends in an error: what came is kept.
        while let Ok(n @ 1..) = stream.read(&mut chunk).await {
            answer.extend_from_slice(&chunk[..n]);
        }
    })
    .await;
    answer
}

fn pair_request(to: SocketAddr, code: &str) -> String {
    let body = serde_json::json!({ "code": code, "name": "guesser" }).to_string();
    format!(
        "POST /share/v1/pair HTTP/1.1\r\nHost: {to}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Parts 2 and 3: the share listener.
async fn share_listener(s: &mut Section, seen: &mut Seen, w: &World, phases: &[Duration]) {
    let identity = Identity::load_or_create(&w.shared().vault).await.expect("the owner's certificate");
    let server = owner(w, &identity).await;
    let to = server.addr();
    let invite = server.invite().unwrap();
    let creds = ShareClient::for_invite(&invite).unwrap().pair(&invite, "laptop").await;
    let Ok(creds) = creds else {
        s.check("share listener, control: pairing the laptop", "refused", "paired", false);
        return;
    };
    let control = paired_token(&creds).await;
    s.check(
        "share listener, control (no attackers): the paired computer's token",
        match &control {
            Ok(d) => format!("served, {}", ms(*d)),
            Err(e) => e.clone(),
        },
        "served",
        control.is_ok(),
    );
    let tls = attacker_tls();
    lockout(s, &server, &tls).await;
    seen.slow |= greedy(s, &server, &creds).await;

    // 2b. TLS slow readers from many addresses, fewer than 16 each: the per-address cap
    // lets every one in, and together they outnumber the listener's 256 slots.
    let memory = PeakMemory::watch();
    let horde = Horde::start(to, |i| Ipv4Addr::new(127, 0, 0, 2 + (i % SPREAD as usize) as u8), Some(tls), flood("/share/v1/token", &to.to_string()));
    let started = tokio::time::Instant::now();
    for at in phases {
        tokio::time::sleep_until(started + *at).await;
        let open = horde.tally.open();
        let mut answers = Vec::new();
        for _ in 0..ASKS {
            answers.push(paired_token(&creds).await);
        }
        seen.slow |= asked(s, &format!("share listener, {} s into the attack from {SPREAD} addresses", at.as_secs()), &answers, open);
    }
    let t = &horde.tally;
    let (connected, handshakes, closed) = (Tally::get(&t.connected), Tally::get(&t.handshakes), Tally::get(&t.closed));
    drop(horde);
    s.info(
        "share listener: slow-reader connections it closed (each reconnected at once)",
        format!("{closed} of {connected} opened ({handshakes} completed the TLS handshake), in {:.0} s", started.elapsed().as_secs_f64()),
    );
    memory.row(s, seen, "share listener");
}

/// 3. Wrong pairing codes from one address lock that address out, and only that one.
async fn lockout(s: &mut Section, server: &ShareServer, tls: &TlsConnector) {
    let to = server.addr();
    let mut statuses = Vec::new();
    for i in 0..10 {
        let code = format!("{:012}", i).replace('0', "Z");
        statuses.push(https_from(GREEDY, to, tls, &pair_request(to, &code)).await.map(|(st, _)| st.to_string()).unwrap_or("no answer".into()));
    }
    let ok = statuses[..5].iter().all(|st| st == "403") && statuses[5..].iter().all(|st| st == "429");
    s.check(
        "share listener: 10 wrong pairing codes from 127.0.0.2 (raw HTTPS, bound to that address)",
        statuses.join(" "),
        "403 ×5 (no such code), then 429 (locked out)",
        ok,
    );
    let right = server.invite().unwrap();
    let there = https_from(GREEDY, to, tls, &pair_request(to, &right.code)).await;
    let there_ok = there.as_ref().is_some_and(|(st, body)| *st == 429 && body.contains("share_rate_limited"));
    let here = ShareClient::for_invite(&right).unwrap().pair(&right, "desk").await;
    s.check(
        "share listener: then the right code from 127.0.0.2, and the same code from 127.0.0.1",
        format!(
            "127.0.0.2: {}; 127.0.0.1: {}",
            there.map(|(st, _)| st.to_string()).unwrap_or("no answer".into()),
            match &here {
                Ok(_) => "paired".to_string(),
                Err(e) => e.code().to_string(),
            }
        ),
        "127.0.0.2: 429; 127.0.0.1: paired",
        there_ok && here.is_ok(),
    );
}

/// 2a. One address opens 300 connections and never finishes a TLS handshake.
async fn greedy(s: &mut Section, server: &ShareServer, creds: &Credentials) -> bool {
    let t0 = tokio::time::Instant::now();
    let mut conns = Vec::new();
    let mut failed = 0;
    for _ in 0..ATTACKERS {
        match connect_from(GREEDY, server.addr(), false).await {
            Ok(c) => conns.push(c),
            Err(_) => failed += 1,
        }
    }
    // A connection the listener closed reads end of file (or a reset) at once; one it keeps
    // reads nothing until the 10 s handshake deadline, past this bound.
    let deadline = tokio::time::Instant::now() + CLOSED_WITHIN;
    let watchers: Vec<JoinHandle<(TcpStream, Option<Duration>)>> = conns
        .into_iter()
        .map(|mut c| {
            tokio::spawn(async move {
                let mut byte = [0u8; 1];
                let closed = match tokio::time::timeout_at(deadline, c.read(&mut byte)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => Some(t0.elapsed()),
                    _ => None,
                };
                (c, closed)
            })
        })
        .collect();
    let mut held = Vec::new();
    let mut closed = 0;
    let mut last_close = Duration::ZERO;
    for w in watchers {
        let (c, at) = w.await.expect("a watcher");
        match at {
            Some(at) => {
                closed += 1;
                last_close = last_close.max(at);
            }
            None => held.push(c),
        }
    }
    let kept = held.len();
    s.check(
        &format!("share listener: {ATTACKERS} connections from 127.0.0.2 that never finish the TLS handshake: kept open"),
        format!("{kept} kept; {closed} closed at once (the last {} after the first connect){}", ms(last_close), if failed > 0 { format!("; {failed} connects failed") } else { String::new() }),
        &format!("at most {SHARE_PER_ADDRESS}, the rest closed"),
        kept <= SHARE_PER_ADDRESS && kept + closed == ATTACKERS,
    );
    // The paired computer, while the greedy address still holds its 16.
    let answers: Vec<_> = {
        let mut v = Vec::new();
        for _ in 0..ASKS {
            v.push(paired_token(creds).await);
        }
        v
    };
    drop(held);
    asked(s, "share listener, 127.0.0.2 holding its 16", &answers, kept as u64)
}

// --- 4. the forged grant ----------------------------------------------------------------

struct Run {
    code: Option<i32>,
    stderr: String,
}

async fn schema_grant(thingstray: &str, w: &World, grant: &serde_json::Value, loopback: bool) -> Run {
    let partner = w.sim.schema_partner().clone();
    let mut args = vec!["schema", "grant", "--client-id", &partner.client_id, "--vault", "file"];
    if loopback {
        args.push("--loopback-callbacks");
    }
    let mut child = tokio::process::Command::new(thingstray)
        .args(&args)
        .env("THINGSTRAY_CONFIG_DIR", w.dir())
        .env_remove("THINGSTRAY_CONNECTION")
        .env("THINGSTRAY_CLIENT_SECRET", &partner.client_secret)
        .env("THINGSTRAY_LOG", "off")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("thingstray schema grant starts");
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(grant.to_string().as_bytes()).await;
    drop(stdin);
    match tokio::time::timeout(Duration::from_secs(30), child.wait_with_output()).await {
        Ok(Ok(out)) => Run { code: out.status.code(), stderr: String::from_utf8_lossy(&out.stderr).into_owned() },
        _ => Run { code: None, stderr: "no exit within 30 s".into() },
    }
}

async fn forged_grant(s: &mut Section, w: &World, thingstray: &str) {
    let secret = w.sim.schema_partner().client_secret.clone();
    // The thief: a token endpoint on this computer. It never accepts while the refused
    // commands run; connections would wait in its queue, seen by the accept after.
    let thief = std::net::TcpListener::bind("127.0.0.1:0").expect("the thief listens");
    thief.set_nonblocking(true).unwrap();
    let thief_url = format!("http://{}/oauth/token", thief.local_addr().unwrap());
    // (who, the grant's oauthToken, as the row shows it, the host the refusal must name)
    let forged = [
        ("a thief on this computer", thief_url.clone(), "http://127.0.0.1:PORT/oauth/token".to_string(), "127.0.0.1"),
        ("another host", "https://attacker.example/oauth/token".to_string(), "https://attacker.example/oauth/token".to_string(), "attacker.example"),
        (
            "a look-alike of SmartThings' host",
            "https://c2c-us.smartthings.com.attacker.example/oauth/token".to_string(),
            "https://c2c-us.smartthings.com.attacker.example/oauth/token".to_string(),
            "c2c-us.smartthings.com.attacker.example",
        ),
    ];
    let mut all_refused = true;
    for (who, url, shown, host) in &forged {
        let mut grant = w.sim.schema_grant();
        grant["callbackUrls"]["oauthToken"] = serde_json::Value::String(url.clone());
        let r = schema_grant(thingstray, w, &grant, false).await;
        // The message of `schema_foreign_callback` (the CLI prints the message, not the code).
        let foreign = r.stderr.contains("is not SmartThings") && r.stderr.contains(&format!("`{host}`"));
        let refused = r.code == Some(1) && foreign && !r.stderr.contains(&secret);
        all_refused &= refused;
        s.check(
            &format!("forged grant, oauthToken on {who} (`{shown}`), without --loopback-callbacks"),
            match (r.code, foreign) {
                (Some(1), true) => "refused: schema_foreign_callback (exit 1)".to_string(),
                (code, _) => format!("exit {code:?}: {}", r.stderr.trim().chars().take(160).collect::<String>()),
            },
            "refused: schema_foreign_callback (exit 1)",
            refused,
        );
    }
    let reached = std::iter::from_fn(|| thief.accept().ok()).count();
    let kept = thingstray::config::Config::load(&w.paths).map(|c| c.connections.contains_key("connector")).unwrap_or(true);
    s.check(
        "the secret never left for a foreign host: connections to the thief; a connection kept",
        format!("{reached} connections to the thief; kept: {}", if kept { "yes" } else { "none" }),
        "0 connections to the thief; kept: none",
        reached == 0 && !kept && all_refused,
    );

    // Control: the same thief grant with the simulator's flag does go there, secret and
    // all, so the thief's listener above would have seen a forged grant that got through.
    let thief = tokio::net::TcpListener::from_std(thief).expect("the thief, async");
    let mut grant = w.sim.schema_grant();
    grant["callbackUrls"]["oauthToken"] = serde_json::Value::String(thief_url);
    let command = schema_grant(thingstray, w, &grant, true);
    let steal = async move {
        let accepted = tokio::time::timeout(Duration::from_secs(20), thief.accept()).await;
        // One connection is enough: a retry is refused, not left waiting for an answer.
        drop(thief);
        let Ok(Ok((mut c, _))) = accepted else { return false };
        let mut got = Vec::new();
        let mut chunk = [0u8; 4096];
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            while let Ok(n @ 1..) = c.read(&mut chunk).await {
                got.extend_from_slice(&chunk[..n]);
                if String::from_utf8_lossy(&got).contains(&secret) {
                    break;
                }
            }
        })
        .await;
        // Dropped without an answer: the command fails.
        String::from_utf8_lossy(&got).contains(&secret)
    };
    let (run, stolen) = tokio::join!(command, steal);
    s.check(
        "control: the thief's grant with --loopback-callbacks (the simulator's flag)",
        format!(
            "{}; the command then exited {}",
            if stolen { "the thief received the secret" } else { "the thief received nothing" },
            run.code.map(|c| c.to_string()).unwrap_or("by a signal, or not within 30 s".into())
        ),
        "the thief receives the secret (the thief is watched)",
        stolen,
    );
}
