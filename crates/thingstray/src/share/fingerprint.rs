//! A certificate's fingerprint: how a paired computer knows its owner. The invite carries
//! it, the paired computer's settings keep it, and its TLS client accepts exactly the
//! certificate it names (client.rs), the way SSH pins a host key. The owner's certificate
//! itself is the owner's (owner/identity.rs).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::hex;
use crate::error::{Error, Result};

/// The SHA-256 of a certificate's DER, as 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Fingerprint(String);

impl Fingerprint {
    pub fn of(cert_der: &[u8]) -> Fingerprint {
        Fingerprint(hex(&Sha256::digest(cert_der)))
    }

    /// Accepts upper or lower case, with or without the colons some tools print.
    pub fn parse(s: &str) -> Result<Fingerprint> {
        crate::config::fingerprint_digits(s).map(Fingerprint).ok_or_else(|| Error::InviteInvalid {
            why: "its fingerprint (fp=) is not 64 hex digits: part of the line may be missing".into(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 16 digits, in groups of four: enough for a person to compare two screens.
    pub fn short(&self) -> String {
        self.0.as_bytes()[..16].chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(":")
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Fingerprint {
    type Error = Error;
    fn try_from(s: String) -> Result<Fingerprint> {
        Fingerprint::parse(&s)
    }
}

impl From<Fingerprint> for String {
    fn from(f: Fingerprint) -> String {
        f.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_parse_leniently_and_refuse_garbage() {
        let f = Fingerprint::of(b"x");
        let upper_colons = f
            .as_str()
            .to_uppercase()
            .as_bytes()
            .chunks(2)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(":");
        assert_eq!(Fingerprint::parse(&upper_colons).unwrap(), f);
        for bad in ["", "abc", &f.as_str()[1..], &format!("{}g", &f.as_str()[1..]), "é".repeat(64).as_str()] {
            assert_eq!(Fingerprint::parse(bad).unwrap_err().code(), "invite_invalid", "{bad}");
        }
        assert_eq!(f.short().len(), 19);
    }
}
