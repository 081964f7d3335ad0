//! Random identifiers shaped like SmartThings': UUID tokens, digit request ids, short codes.
//!
//! Tokens are random (not sequential) so a client cannot accidentally depend on their
//! order or guess one from another.

use rand::Rng;

/// A random version-4 UUID string, the shape of SmartThings tokens and ids.
pub(crate) fn uuid() -> String {
    let mut b: [u8; 16] = rand::rng().random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// A SmartThings `requestId`: a long decimal number such as `3051095549439698997`.
pub(crate) fn request_id() -> String {
    let n: u64 = rand::rng().random_range(1_000_000_000_000_000_000..u64::MAX);
    n.to_string()
}

/// An authorization code like Spring's `RandomValueStringGenerator` makes (6 alphanumerics).
pub(crate) fn auth_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..6).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

/// An opaque id for a pending sign-in page (long: it is the only guard of that page).
pub(crate) fn opaque() -> String {
    let b: [u8; 24] = rand::rng().random();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn shapes() {
        let u = super::uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_ne!(super::uuid(), u);
        assert!(super::request_id().chars().all(|c| c.is_ascii_digit()));
        assert_eq!(super::auth_code().len(), 6);
    }
}
