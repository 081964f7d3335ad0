//! A hand-over's durable records (issue 25): what each computer decided, on its disk
//! (`hand-over/NAME.json` in the settings folder, synced before anyone is told), so the
//! decision survives a crash, a restart and a listener turned off, and can be asked again.
//! No secret is in them: the pair and the client secret stay in the vault.
//!
//! - [`Giving`], on the old owner: written BEFORE the session is sent. From then on this
//!   computer never spends the refresh token (every refresh of the connection, in every
//!   process, reads this record under the refresh lock: [`RefreshLock::fence`]), keeps the
//!   pair until the new owner says it holds it (`acked`), and answers the same request
//!   with the same pair. Removed only when the new owner declines the session.
//! - [`Taking`], on the new owner: written BEFORE the request is sent, and moved on with
//!   each step. While it exists the pair it asked for is never thrown away: kept aside in
//!   the vault (`NAME/taking-over`) until it is in place, asked for again, or declined.
//!
//! The protocol itself is owner/hand_over.rs (the old owner's side) and owner/take_over.rs
//! (the new owner's).
//!
//! [`RefreshLock::fence`]: super::RefreshLock::fence

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::{ConnectionSettings, PairedWith};
use crate::error::{Error, Result};

/// One connection's hand-over, as this computer took part in it.
// Read from a file now and then, never kept in bulk: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Record {
    Giving(Giving),
    Taking(Taking),
}

/// The old owner's decision: the session goes to `peer_name`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Giving {
    /// The new owner's name for this hand-over: a repeat of its request carries it again.
    pub nonce: String,
    /// The new owner as this computer's registry knows it.
    pub peer_id: String,
    pub peer_name: String,
    /// How this computer reaches the new owner once paired with it (its secret for it is
    /// in the vault, as a paired connection's is).
    pub to: PairedWith,
    /// SHA-256 (hex) of the refresh token sent: the pair answered again must be that one.
    pub pair_digest: String,
    /// The settings sent (none of them secret), to send again after a restart.
    pub settings: ConnectionSettings,
    pub decided_at_ms: u64,
    /// The new owner said it holds the pair: this computer is (or becomes) paired with it,
    /// and keeps no refresh token.
    #[serde(default)]
    pub acked: bool,
}

/// The new owner's side, stage by stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Taking {
    pub nonce: String,
    /// The old owner, as this computer was paired with it.
    pub from: PairedWith,
    /// Where the old owner will reach this computer, and the pairing made for it.
    pub at: String,
    pub enrolled_id: String,
    pub stage: Stage,
    /// An attempt ended without an answer: the old owner may have decided and sent the
    /// pair. Then a refusal later is no proof that it never will, and nothing is dropped.
    #[serde(default)]
    pub uncertain: bool,
    pub started_at_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Asked for (or about to ask for) the session; nothing received yet.
    Requested,
    /// The session is in the vault, aside (`NAME/taking-over`): the old owner has decided.
    Received,
    /// The pair is in place and the settings say this computer holds the sign-in.
    Owner,
    /// The old owner knows: it is paired with this computer now. Nothing left to do.
    Acked,
}

/// The record at `path`, if any. An unreadable one is an error, never "none": a hand-over
/// half done must not be forgotten because a file was damaged.
pub fn load(path: &Path) -> Result<Option<Record>> {
    let raw = match std::fs::read(path) {
        Ok(raw) => raw,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
    };
    serde_json::from_slice(&raw)
        .map(Some)
        .map_err(|e| Error::ConfigUnreadable { path: path.display().to_string(), detail: e.to_string() })
}

/// Writes the record durably (synced, then renamed over the old one).
pub fn save(path: &Path, record: &Record) -> Result<()> {
    let json = serde_json::to_vec_pretty(record).map_err(|e| Error::io("encoding the hand-over record", e))?;
    crate::fsutil::write_atomic(path, &json, true)
}

/// Removes the record (a missing one is fine).
pub fn remove(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(format!("removing {}", path.display()), e)),
    }
}

/// Why a computer holding `record` must not spend the connection's refresh token, if it
/// must not: it decided to give the session away.
pub fn forbids_refresh(record: &Record) -> Option<Error> {
    match record {
        Record::Giving(g) if g.acked => Some(Error::HandedOver { to: g.to.owner.clone() }),
        Record::Giving(g) => Some(Error::HandingOver { to: g.to.owner.clone() }),
        Record::Taking(_) => None,
    }
}

/// SHA-256 of a refresh token, hex: what a record says of a pair without holding it.
pub fn digest(secret: &str) -> String {
    use sha2::Digest;
    crate::share::hex(&sha2::Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with() -> PairedWith {
        PairedWith {
            owner: "laptop".into(),
            at: "10.0.0.2:8766".into(),
            fingerprint: "ab".repeat(32),
            id: "0123456789abcdef".into(),
        }
    }

    #[test]
    fn records_round_trip_hold_no_secret_and_say_who_may_refresh() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hand-over/home.json");
        assert_eq!(load(&path).unwrap(), None);
        let giving = Record::Giving(Giving {
            nonce: "n1".into(),
            peer_id: "p1".into(),
            peer_name: "laptop".into(),
            to: with(),
            pair_digest: digest("the-refresh-token"),
            settings: ConnectionSettings::default(),
            decided_at_ms: 1,
            acked: false,
        });
        save(&path, &giving).unwrap();
        assert_eq!(load(&path).unwrap().as_ref(), Some(&giving));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("the-refresh-token") && text.contains("\"role\": \"giving\""), "{text}");
        assert_eq!(forbids_refresh(&giving).unwrap().code(), "handing_over");
        let taking = Record::Taking(Taking {
            nonce: "n2".into(),
            from: with(),
            at: "10.0.0.3:8766".into(),
            enrolled_id: "e1".into(),
            stage: Stage::Received,
            uncertain: true,
            started_at_ms: 2,
        });
        save(&path, &taking).unwrap();
        assert_eq!(load(&path).unwrap(), Some(taking.clone()));
        assert!(forbids_refresh(&taking).is_none());
        remove(&path).unwrap();
        remove(&path).unwrap();
        assert_eq!(load(&path).unwrap(), None);
        std::fs::write(&path, "{not json").unwrap();
        assert_eq!(load(&path).unwrap_err().code(), "config_unreadable");
    }
}
