//! HTTPS for the simulator (`SimConfig::tls`, `smartthings-sim --tls`).
//!
//! Why: SmartThings answers long lists with absolute `https://api.smartthings.com/…`
//! `_links`, and some clients (the official JavaScript SDK among them) only follow a link
//! that starts with `https://`. Against a plain-http simulator those clients cannot page,
//! and a client's https path (extra trusted roots, links kept on a proxy) goes untested.
//! So the simulator can answer over TLS, exactly as SmartThings does.
//!
//! At start it makes a throwaway certificate authority and a server certificate it signs
//! (SANs 127.0.0.1, ::1, localhost and the bound address); only the authority's
//! certificate is handed out (`Sim::ca_pem`, `Sim::ca_file`, `--tls-cert-out`), so a test
//! client can trust it alone. Nothing is kept: a new run has a new authority.
//!
//! Handshakes run in their own tasks and only finished TLS streams reach axum, so a slow
//! or silent client cannot hold up anyone else's connection. Each stream is a
//! [`KillableStream`], so the `drop_connection` fault works over TLS too.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;
use base64::Engine as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::conn::{ConnInfo, KillableStream};

/// A client that has not finished its handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What [`make`] produces: the authority's certificate (PEM) and the server's TLS config.
pub(crate) struct Identity {
    pub ca_pem: String,
    pub server: Arc<rustls::ServerConfig>,
}

/// A fresh authority and a server certificate for loopback (and `bound`, if it is not).
pub(crate) fn make(bound: IpAddr) -> io::Result<Identity> {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        KeyUsagePurpose,
    };

    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(cert_error)?;
    ca_params.distinguished_name.push(DnType::CommonName, "smartthings-sim throwaway CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().map_err(cert_error)?).map_err(cert_error)?;

    let mut names: Vec<String> = vec![
        IpAddr::V4(Ipv4Addr::LOCALHOST).to_string(),
        IpAddr::V6(Ipv6Addr::LOCALHOST).to_string(),
        "localhost".into(),
    ];
    if !bound.is_unspecified() && !names.contains(&bound.to_string()) {
        names.push(bound.to_string());
    }
    let mut params = CertificateParams::new(names).map_err(cert_error)?;
    params.distinguished_name.push(DnType::CommonName, "smartthings-sim");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    let key = KeyPair::generate().map_err(cert_error)?;
    let cert = params.signed_by(&key, &*ca).map_err(cert_error)?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(tls_error)?
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())))
        .map_err(tls_error)?;
    // axum serves HTTP/1.1 only here (no http2 feature).
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Identity { ca_pem: pem(ca.der()), server: Arc::new(server) })
}

/// One certificate as PEM (rcgen's own PEM output needs a crate the workspace lacks).
fn pem(der: &CertificateDer<'_>) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

fn cert_error(e: rcgen::Error) -> io::Error {
    io::Error::other(format!("making the simulator's TLS certificate: {e}"))
}

fn tls_error(e: rustls::Error) -> io::Error {
    io::Error::other(format!("setting up the simulator's TLS: {e}"))
}

type Accepted = (KillableStream<TlsStream<TcpStream>>, SocketAddr);

/// A listener that hands axum finished TLS connections. Dropping it (the server shutting
/// down) stops accepting.
pub(crate) struct TlsListener {
    ready: mpsc::Receiver<Accepted>,
    local: SocketAddr,
    acceptor: JoinHandle<()>,
}

impl TlsListener {
    pub(crate) fn new(listener: TcpListener, config: Arc<rustls::ServerConfig>) -> io::Result<TlsListener> {
        let local = listener.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        let acceptor = tokio::spawn(accept_loop(listener, TlsAcceptor::from(config), tx));
        Ok(TlsListener { ready, local, acceptor })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

async fn accept_loop(mut listener: TcpListener, tls: TlsAcceptor, ready: mpsc::Sender<Accepted>) {
    loop {
        // axum's accept for a TcpListener retries transient errors itself.
        let (tcp, peer) = axum::serve::Listener::accept(&mut listener).await;
        let _ = tcp.set_nodelay(true);
        let (tls, ready) = (tls.clone(), ready.clone());
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(tcp)).await {
                Ok(Ok(stream)) => {
                    // Fails only when the server has stopped: the connection just closes.
                    let _ = ready.send((KillableStream::new(stream), peer)).await;
                }
                // Plain HTTP to the TLS port, an untrusting client, a scanner: nothing to answer.
                Ok(Err(e)) => tracing::debug!(%peer, "TLS handshake failed: {e}"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = KillableStream<TlsStream<TcpStream>>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accept loop holds a sender until it is aborted, which only Drop does.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}

impl Connected<IncomingStream<'_, TlsListener>> for ConnInfo {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        ConnInfo::of(*stream.remote_addr(), stream.io())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authority_is_pem_and_the_server_config_builds() {
        let id = make(IpAddr::V4(Ipv4Addr::LOCALHOST)).unwrap();
        assert!(id.ca_pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert!(id.ca_pem.ends_with("-----END CERTIFICATE-----\n"));
        assert!(id.ca_pem.lines().all(|l| l.len() <= 64));
        assert_eq!(id.server.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }
}
