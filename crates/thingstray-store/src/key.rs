//! The operator's key: every token and secret in the store is sealed with it
//! (AES-256-GCM, a random 96-bit nonce per seal, the row's name as associated data).
//!
//! A database dump or a backup holds nothing usable without the key, and a sealed value
//! moved into another row does not open there. The key itself never enters the database:
//! a known value sealed with it ([`KEY_CHECK`]) tells a replica started with the wrong
//! key before it reads or writes anything.

use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use secrecy::{ExposeSecret, SecretString};
use thingstray::error::{Error, Result};

/// The settings row whose sealed value proves the key.
pub const KEY_CHECK: &str = "key-check";
const KEY_CHECK_PLAIN: &[u8] = b"thingstray-store key check v1";

pub struct StoreKey {
    key: LessSafeKey,
    rng: SystemRandom,
}

impl std::fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreKey([redacted])")
    }
}

fn key_error(detail: impl Into<String>) -> Error {
    Error::StoreKey { detail: detail.into() }
}

impl StoreKey {
    /// From 32 bytes in base64 (standard or URL-safe, padding optional; whitespace around
    /// it, as a file written with `echo`, is ignored).
    pub fn from_base64(text: &SecretString) -> Result<StoreKey> {
        let t = text.expose_secret().trim();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(t)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(t.trim_end_matches('=')))
            .map_err(|_| key_error("it is not base64; make one with `openssl rand -base64 32`"))?;
        StoreKey::from_bytes(&bytes)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<StoreKey> {
        if bytes.len() != 32 {
            return Err(key_error(format!(
                "it is {} bytes, not 32; make one with `openssl rand -base64 32`",
                bytes.len()
            )));
        }
        let unbound = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| key_error("ring refused the key"))?;
        Ok(StoreKey { key: LessSafeKey::new(unbound), rng: SystemRandom::new() })
    }

    /// A new random key, in base64: `thingstray store new-key`, and tests.
    pub fn generate() -> SecretString {
        let mut bytes = [0u8; 32];
        // The OS RNG failing is not something a caller can handle; ring reports it only
        // on platforms without one.
        SystemRandom::new().fill(&mut bytes).expect("the OS random number generator");
        SecretString::from(base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    /// `nonce || ciphertext || tag`, bound to `name` (the row it is stored in).
    pub fn seal(&self, name: &str, plain: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| key_error("no random nonce from the OS"))?;
        let mut out = Vec::with_capacity(NONCE_LEN + plain.len() + 16);
        out.extend_from_slice(&nonce);
        let mut body = plain.to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(name.as_bytes()), &mut body)
            .map_err(|_| key_error("sealing failed"))?;
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// The plain bytes of what [`StoreKey::seal`] made for `name`. A wrong key, another
    /// row's value or a damaged one all fail the same way: the tag does not match.
    pub fn open(&self, name: &str, sealed: &[u8]) -> Result<Vec<u8>> {
        if sealed.len() < NONCE_LEN + 16 {
            return Err(key_error(format!("the sealed value of `{name}` is too short")));
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| key_error("bad nonce"))?;
        let mut body = body.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(name.as_bytes()), &mut body)
            .map_err(|_| key_error(format!("`{name}` does not open with this key")))?;
        Ok(plain.to_vec())
    }

    pub fn check_value(&self) -> Result<Vec<u8>> {
        self.seal(KEY_CHECK, KEY_CHECK_PLAIN)
    }

    pub fn fits(&self, sealed_check: &[u8]) -> bool {
        self.open(KEY_CHECK, sealed_check).is_ok_and(|p| p == KEY_CHECK_PLAIN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> StoreKey {
        StoreKey::from_base64(&StoreKey::generate()).unwrap()
    }

    #[test]
    fn a_sealed_value_opens_only_with_its_key_and_its_name() {
        let k = key();
        let sealed = k.seal("sessions/a", b"refresh-token").unwrap();
        assert_eq!(k.open("sessions/a", &sealed).unwrap(), b"refresh-token");
        assert_eq!(k.open("sessions/b", &sealed).unwrap_err().code(), "store_key");
        assert_eq!(key().open("sessions/a", &sealed).unwrap_err().code(), "store_key");
        let mut damaged = sealed.clone();
        *damaged.last_mut().unwrap() ^= 1;
        assert!(k.open("sessions/a", &damaged).is_err());
        assert!(!String::from_utf8_lossy(&sealed).contains("refresh-token"));
    }

    #[test]
    fn keys_that_are_not_32_bytes_of_base64_are_refused_with_how_to_make_one() {
        for bad in ["", "not base64!", "AAAA"] {
            let e = StoreKey::from_base64(&SecretString::from(bad)).unwrap_err();
            assert_eq!(e.code(), "store_key");
            assert!(e.to_string().contains("openssl rand -base64 32"), "{e}");
        }
        assert!(
            StoreKey::from_base64(&SecretString::from(format!("  {}\n", StoreKey::generate().expose_secret()))).is_ok()
        );
    }

    #[test]
    fn the_key_check_tells_the_right_key_from_another() {
        let (a, b) = (key(), key());
        let check = a.check_value().unwrap();
        assert!(a.fits(&check));
        assert!(!b.fits(&check));
    }
}
