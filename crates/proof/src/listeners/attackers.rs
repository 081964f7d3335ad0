//! The attackers: slow readers that pipeline requests and never read, over TCP or TLS.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;

use super::*;

// --- the attackers ----------------------------------------------------------------------

#[derive(Default)]
pub(super) struct Tally {
    pub(super) connected: AtomicU64,
    /// TLS handshakes an attacker completed (TLS-level slow readers only).
    pub(super) handshakes: AtomicU64,
    /// Connections that ended: the listener closed them (in the handshake, by the write
    /// deadline, or to make room), and the attacker reconnected.
    pub(super) closed: AtomicU64,
}

impl Tally {
    pub(super) fn get(n: &AtomicU64) -> u64 {
        n.load(Ordering::Relaxed)
    }

    pub(super) fn open(&self) -> u64 {
        Self::get(&self.connected).saturating_sub(Self::get(&self.closed))
    }
}

/// Persistent slow readers, until dropped.
pub(super) struct Horde {
    pub(super) tasks: Vec<JoinHandle<()>>,
    pub(super) tally: Arc<Tally>,
}

impl Horde {
    pub(super) fn start(
        to: SocketAddr,
        from: impl Fn(usize) -> Ipv4Addr,
        tls: Option<TlsConnector>,
        flood: Arc<[u8]>,
    ) -> Horde {
        let tally = Arc::new(Tally::default());
        let tasks = (0..ATTACKERS)
            .map(|i| tokio::spawn(slow_reader(to, from(i), tls.clone(), flood.clone(), tally.clone())))
            .collect();
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
pub(super) fn flood(path: &str, host: &str) -> Arc<[u8]> {
    let one = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n");
    Arc::from(one.repeat(FLOOD_BYTES / one.len()).into_bytes())
}

/// A connection from `from`; a slow reader's has the tiny receive buffer (and a fixed
/// send buffer), set before connecting so the window is small from the first byte.
pub(super) async fn connect_from(from: Ipv4Addr, to: SocketAddr, slow: bool) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    if slow {
        socket.set_recv_buffer_size(TINY_RECV_BUFFER)?;
        socket.set_send_buffer_size(ATTACKER_SEND_BUFFER)?;
    }
    socket.bind(SocketAddr::from((from, 0)))?;
    socket.connect(to).await
}

pub(super) async fn slow_reader(
    to: SocketAddr,
    from: Ipv4Addr,
    tls: Option<TlsConnector>,
    flood: Arc<[u8]>,
    tally: Arc<Tally>,
) {
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
pub(super) async fn write_until_cut<S: AsyncWrite + Unpin>(mut stream: S, flood: &[u8]) {
    while stream.write_all(flood).await.is_ok() {}
}

pub(super) fn server_name(to: SocketAddr) -> ServerName<'static> {
    ServerName::from(to.ip())
}

/// An attacker's TLS client: TLS 1.3 as the listener speaks it, any certificate accepted.
pub(super) fn attacker_tls() -> TlsConnector {
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
pub(super) struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

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

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
