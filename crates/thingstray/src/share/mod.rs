//! Sharing one SmartThings sign-in between several computers (issue 11).
//!
//! SmartThings keeps one sign-in per OAuth app and location: signing the same app in on a
//! second computer ends the first one's refresh token. So one computer, the *owner*, holds
//! the session and its refresh token, which never leaves it; the others are *paired* with
//! it and ask it for access tokens.
//!
//! - [`identity`]: the owner's self-signed certificate, made once and kept in the vault;
//!   its SHA-256 fingerprint is the owner's identity.
//! - [`invite`]: the one line a user copies to the other computer (address, fingerprint,
//!   a single-use code valid 10 minutes), and the limit on wrong codes.
//! - [`registry`]: the owner's paired computers and open invites (hashes only).
//! - [`owner`]: the share listener: TLS only, pairing and access tokens, nothing else (no
//!   refresh token, no client secret, no API proxy).
//! - [`client`]: the paired computer's side, accepting exactly the pinned certificate.
//! - [`handover`]: moving the session itself to a paired computer, in two steps.
//! - [`listening`]: where the running listener is, for an invite made in another process.
//! - [`pairing`]: a connection of kind "paired": an invite redeemed into one.
//!
//! The protocol, over HTTP/1.1 in TLS 1.3:
//! - `POST /share/v1/pair` `{code, name}` -> `{id, secret, owner}`;
//! - `GET /share/v1/token?min_valid=SECS` with `Authorization: Bearer ID.SECRET` ->
//!   [`TokenAnswer`];
//! - `POST /share/v1/hand-over` (an offered computer only) -> the session itself, held
//!   until `POST /share/v1/hand-over/confirm` (see [`handover`]);
//! - refusals are `{"error": {"code", "message"}}` with the core's error codes
//!   (`share_revoked`, `invite_expired`, ...), so the client rebuilds the same [`Error`].
//!
//! [`Error`]: crate::Error

pub mod client;
pub mod handover;
pub mod identity;
pub mod invite;
pub mod listening;
pub mod owner;
pub mod pairing;
pub mod registry;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use client::{Credentials, ShareClient, SharedToken};
pub use identity::{Fingerprint, Identity};
pub use invite::Invite;
pub use owner::{ShareOptions, ShareServer, ShareSource};
pub use registry::{PairedComputer, Registry};

pub const PAIR_PATH: &str = "/share/v1/pair";
pub const TOKEN_PATH: &str = "/share/v1/token";
pub const HAND_OVER_PATH: &str = "/share/v1/hand-over";
pub const HAND_OVER_CONFIRM_PATH: &str = "/share/v1/hand-over/confirm";
/// The port the owner listens on unless told otherwise (the token server's is 8765).
pub const DEFAULT_PORT: u16 = 8766;

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct PairRequest {
    pub code: String,
    pub name: String,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct PairAnswer {
    pub id: String,
    pub secret: String,
    pub owner: String,
}

/// What the owner hands a paired computer: an access token and where to use it. Never a
/// refresh token, never the client secret.
#[derive(Serialize, Deserialize)]
pub struct TokenAnswer {
    pub access_token: String,
    pub token_type: String,
    /// UTC, Unix seconds.
    pub expires_at: u64,
    pub scope: String,
    #[serde(default)]
    pub installed_app_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_id: Option<String>,
    /// The API the token is for (`https://api.smartthings.com/v1`): device calls go
    /// straight there, not through the owner.
    pub api_url: String,
}

/// rustls with ring, the provider reqwest already uses: one crypto library in the binary.
pub(crate) fn crypto() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

pub(crate) fn from_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| s.get(i..i + 2).and_then(|d| u8::from_str_radix(d, 16).ok())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_refuses_garbage() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(from_hex(&hex(&bytes)).unwrap(), bytes);
        for bad in ["0", "zz", "0g", "é0"] {
            assert!(from_hex(bad).is_none(), "{bad}");
        }
    }
}
