//! The token server's own secret: what a script must present to get a SmartThings token.
//!
//! 256 random bits, kept in the vault (never in a file of its own, never in argv, never in
//! a log), created the first time the server or `serve --print-secret` needs it. The
//! desktop app reads the same vault item to show it in its settings.

use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

use crate::error::Result;
use crate::vault::{Vault, SERVER_SECRET_KEY};

#[derive(Clone)]
pub struct ServerSecret(SecretString);

impl std::fmt::Debug for ServerSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerSecret([redacted])")
    }
}

impl ServerSecret {
    /// A fresh secret: 32 bytes from the OS-seeded CSPRNG, as 64 hex digits (safe in a
    /// header, a shell variable and an env file without quoting).
    pub fn generate() -> ServerSecret {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        ServerSecret(SecretString::from(hex))
    }

    pub fn from_secret(s: SecretString) -> ServerSecret {
        ServerSecret(s)
    }

    /// The stored secret, or a new one stored first (so a crash can't hand out a secret
    /// that was never saved).
    pub async fn load_or_create(vault: &Vault) -> Result<ServerSecret> {
        if let Some(s) = vault.get(SERVER_SECRET_KEY).await? {
            if !s.expose_secret().trim().is_empty() {
                return Ok(ServerSecret(s));
            }
        }
        ServerSecret::rotate(vault).await
    }

    /// Replaces the stored secret; every script holding the old one gets 401 from then on.
    pub async fn rotate(vault: &Vault) -> Result<ServerSecret> {
        let fresh = ServerSecret::generate();
        vault.set(SERVER_SECRET_KEY, fresh.0.clone()).await?;
        Ok(fresh)
    }

    /// For `serve --print-secret` and the desktop settings only.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// Compares in time independent of where the first difference is, so the secret
    /// can't be guessed a byte at a time from response times.
    pub fn matches(&self, presented: &[u8]) -> bool {
        constant_time_eq(self.0.expose_secret().trim().as_bytes(), presented)
    }
}

/// Length is not secret (it is always 64); the contents are compared without early exit.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_256_bit_hex_and_fresh() {
        let a = ServerSecret::generate();
        let b = ServerSecret::generate();
        assert_eq!(a.expose().len(), 64);
        assert!(a.expose().chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a.expose(), b.expose());
        assert!(!format!("{a:?}").contains(a.expose()));
    }

    #[test]
    fn comparison_needs_the_exact_secret() {
        let s = ServerSecret::from_secret(SecretString::from("abcd".to_string()));
        assert!(s.matches(b"abcd"));
        for bad in [&b"abce"[..], b"abc", b"abcde", b"", b"ABCD"] {
            assert!(!s.matches(bad));
        }
    }

    #[tokio::test]
    async fn stored_once_then_reused() {
        let v = Vault::memory();
        let a = ServerSecret::load_or_create(&v).await.unwrap();
        let b = ServerSecret::load_or_create(&v).await.unwrap();
        assert_eq!(a.expose(), b.expose());
        let c = ServerSecret::rotate(&v).await.unwrap();
        assert_ne!(a.expose(), c.expose());
    }
}
