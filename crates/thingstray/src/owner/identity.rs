//! The owner's identity: a self-signed certificate made once, kept in the vault, known to
//! paired computers by its SHA-256 fingerprint (share/fingerprint.rs).
//!
//! No certificate authority is involved: an owner is a laptop or a home server with no
//! name a CA could vouch for. The invite carries the fingerprint over a channel the user
//! trusts (they copy it by hand), and the paired computer accepts exactly that certificate
//! from then on (share/client.rs), the way SSH pins a host key.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::share::{crypto, from_hex, hex, Fingerprint};
use crate::vault::{Vault, SHARE_IDENTITY_KEY};

/// The vault item: both halves in one item, so they can never come from two generations.
#[derive(Serialize, Deserialize)]
struct Stored {
    cert_der: String,
    key_pkcs8: String,
}

/// The owner's certificate and the TLS configuration that presents it.
#[derive(Clone)]
pub struct Identity {
    cert: CertificateDer<'static>,
    fingerprint: Fingerprint,
    tls: Arc<rustls::ServerConfig>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity").field("fingerprint", &self.fingerprint.as_str()).finish_non_exhaustive()
    }
}

impl Identity {
    /// A fresh certificate (ECDSA P-256), not kept anywhere: tests, and the first run.
    pub fn generate() -> Result<Identity> {
        let (cert, key) = generate_der()?;
        Identity::from_der(cert, key)
    }

    /// The stored identity, or a new one stored first: a certificate handed out in an invite
    /// but never saved would make every paired computer refuse the owner after a restart.
    pub async fn load_or_create(vault: &Vault) -> Result<Identity> {
        if let Some(raw) = vault.get(SHARE_IDENTITY_KEY).await? {
            let corrupt = |detail: String| Error::VaultCorrupt { key: SHARE_IDENTITY_KEY.into(), detail };
            let stored: Stored = serde_json::from_str(raw.expose_secret()).map_err(|e| corrupt(e.to_string()))?;
            let cert = from_hex(&stored.cert_der).ok_or_else(|| corrupt("the certificate is not hex".into()))?;
            let key = from_hex(&stored.key_pkcs8).ok_or_else(|| corrupt("the key is not hex".into()))?;
            return Identity::from_der(cert, key).map_err(|e| corrupt(e.to_string()));
        }
        let (cert, key) = generate_der()?;
        let stored = Stored { cert_der: hex(&cert), key_pkcs8: hex(&key) };
        let json = serde_json::to_string(&stored).map_err(|e| Error::io("encoding the share certificate", e))?;
        vault.set(SHARE_IDENTITY_KEY, SecretString::from(json)).await?;
        let identity = Identity::from_der(cert, key)?;
        tracing::info!(fingerprint = %identity.fingerprint.short(), "made this computer's share certificate");
        Ok(identity)
    }

    fn from_der(cert: Vec<u8>, key: Vec<u8>) -> Result<Identity> {
        let cert = CertificateDer::from(cert);
        let fingerprint = Fingerprint::of(&cert);
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key));
        let mut tls = rustls::ServerConfig::builder_with_provider(crypto())
            // Both ends are ThingsTray: no older protocol to be compatible with.
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(tls_error)?
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key)
            .map_err(tls_error)?;
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Identity { cert, fingerprint, tls: Arc::new(tls) })
    }

    pub fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }

    pub fn cert_der(&self) -> &[u8] {
        &self.cert
    }

    pub(crate) fn server_config(&self) -> Arc<rustls::ServerConfig> {
        self.tls.clone()
    }
}

fn generate_der() -> Result<(Vec<u8>, Vec<u8>)> {
    let key = rcgen::KeyPair::generate().map_err(cert_error)?;
    // The name is never checked (the pin is the fingerprint); it only labels the
    // certificate for whoever inspects it.
    let mut params = rcgen::CertificateParams::new(vec!["thingstray-share.invalid".to_string()]).map_err(cert_error)?;
    params.distinguished_name.push(rcgen::DnType::CommonName, "ThingsTray share");
    // Pinned, so validity dates only matter to tools that look: wide enough never to end.
    params.not_before = rcgen::date_time_ymd(2025, 1, 1);
    params.not_after = rcgen::date_time_ymd(9999, 12, 31);
    let cert = params.self_signed(&key).map_err(cert_error)?;
    Ok((cert.der().to_vec(), key.serialize_der()))
}

fn cert_error(e: rcgen::Error) -> Error {
    Error::io("making the share certificate", e)
}

fn tls_error(e: rustls::Error) -> Error {
    Error::io("setting up TLS for sharing", e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn made_once_then_reused() {
        let v = Vault::memory();
        let a = Identity::load_or_create(&v).await.unwrap();
        let b = Identity::load_or_create(&v).await.unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.fingerprint(), &Fingerprint::of(a.cert_der()));
        assert_ne!(a.fingerprint(), Identity::generate().unwrap().fingerprint());
        assert!(!format!("{a:?}").contains("key"), "{a:?}");
    }

    #[tokio::test]
    async fn a_corrupt_item_is_reported() {
        let v = Vault::memory();
        v.set(SHARE_IDENTITY_KEY, SecretString::from("{\"cert_der\":\"zz\",\"key_pkcs8\":\"00\"}".to_string()))
            .await
            .unwrap();
        assert_eq!(Identity::load_or_create(&v).await.unwrap_err().code(), "vault_corrupt");
    }
}
