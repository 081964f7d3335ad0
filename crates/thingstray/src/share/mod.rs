//! Sharing one SmartThings sign-in between several computers (issue 11): the paired
//! computer's side, and what both sides share.
//!
//! SmartThings keeps one sign-in per OAuth app and location: signing the same app in on a
//! second computer ends the first one's refresh token. So one computer, the *owner*, holds
//! the session and its refresh token, which never leaves it; the others are *paired* with
//! it and ask it for access tokens. The owner's side (its listener, its registry of paired
//! computers, the hand-over) is [`crate::owner`], above `connection`; this side is a token
//! source of `session`, as `oauth` and `schema` are, and below it.
//!
//! - [`fingerprint`]: the SHA-256 of the owner's certificate, the owner's identity as a
//!   paired computer knows it.
//! - [`invite`]: the one line a user copies to the other computer (address, fingerprint,
//!   a single-use code valid 10 minutes), and the limit on wrong codes.
//! - [`client`]: the paired computer's side, accepting exactly the pinned certificate.
//! - [`pairing`]: a paired connection's credentials, and this computer's name as the owner
//!   lists it. (An invite is redeemed into a connection by `connection::paired`.)
//! - [`wire`]: the protocol's paths and bodies.
//!
//! The protocol, over HTTP/1.1 in TLS 1.3:
//! - `POST /share/v1/pair` `{code, name}` -> `{id, secret, owner}`;
//! - `GET /share/v1/token?min_valid=SECS` with `Authorization: Bearer ID.SECRET` ->
//!   [`TokenAnswer`];
//! - `POST /share/v1/hand-over` (an offered computer only) -> the session itself, held
//!   until `POST /share/v1/hand-over/confirm` (see `owner::hand_over`);
//! - refusals are `{"error": {"code", "message"}}` with the core's error codes
//!   (`share_revoked`, `invite_expired`, ...), so the client rebuilds the same [`Error`].
//!
//! [`Error`]: crate::Error
//! [`TokenAnswer`]: wire::TokenAnswer

pub mod client;
pub mod fingerprint;
pub mod invite;
pub mod pairing;
pub mod wire;

use std::sync::Arc;

pub use client::{Credentials, ShareClient, SharedToken};
pub use fingerprint::Fingerprint;
pub use invite::Invite;

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
