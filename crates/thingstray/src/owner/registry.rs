//! The owner's book of paired computers and open invites, in `share.json` beside the
//! settings.
//!
//! Only SHA-256 hashes of secrets and codes are written: a copy of the file (a backup, a
//! synced folder) lets nobody in. The file is owner-only, replaced atomically, and every
//! change is a read-modify-write under `share.json.lock`, so `thingstray share invite` or
//! `share revoke` in another process and the running share listener never undo each
//! other's changes. The listener re-reads the file when it changed (a `stat` per request),
//! so a revocation made elsewhere takes effect on the next request.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::clock::unix_ms;
use crate::config::Paths;
use crate::error::{Error, Result};
use crate::serve::constant_time_eq;
use crate::share::hex;
use crate::share::invite::{clean_name, new_code, normalize_code, INVITE_VALIDITY};

/// How often a computer's "last seen" reaches the disk: each token request would otherwise
/// be a file write.
const LAST_SEEN_EVERY: Duration = Duration::from_secs(10 * 60);
/// Used and expired invites are remembered this long, so a second try says "already used
/// or expired" rather than "wrong code".
const REMEMBER_INVITES: Duration = Duration::from_secs(24 * 3600);

/// Revoked computers are remembered this long, so they are told "revoked" rather than
/// "unknown"; after that the entry goes, and the file does not grow forever.
const REMEMBER_REVOKED: Duration = Duration::from_secs(90 * 86_400);

/// A paired computer as the owner lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairedComputer {
    pub id: String,
    pub name: String,
    /// Unix ms.
    pub created_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen_ms: Option<u64>,
    /// Set when revoked; the entry stays so the computer is told "revoked", not "unknown".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_ms: Option<u64>,
    /// Until when (Unix ms) this computer may take the session over (`share hand-over`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hand_over_until_ms: Option<u64>,
    secret_sha256: String,
}

impl PairedComputer {
    pub fn is_revoked(&self) -> bool {
        self.revoked_ms.is_some()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct OpenInvite {
    code_sha256: String,
    expires_ms: u64,
    #[serde(default)]
    used: bool,
    /// The name the owner chose for the computer it invites (`share invite --name`);
    /// otherwise the computer names itself when it pairs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Book {
    #[serde(default)]
    computers: Vec<PairedComputer>,
    #[serde(default)]
    invites: Vec<OpenInvite>,
}

/// What a paired computer receives once, at pairing: its id and secret. Presented as
/// `Authorization: Bearer ID.SECRET`.
#[derive(Clone)]
pub struct Issued {
    pub id: String,
    pub secret: SecretString,
}

/// Why a code or a secret was not accepted; the listener turns it into an [`Error`] that
/// names the owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A code the owner never issued.
    UnknownCode,
    /// Issued, but used or past its 10 minutes.
    ExpiredCode,
    /// No such id, or the wrong secret for it.
    Unknown,
    Revoked,
}

/// File identity, to notice another process's write without reading the file.
type Stamp = Option<(SystemTime, u64, u64)>;

pub struct Registry {
    /// The settings folder it lives in (a hand-over rewrites the settings beside it).
    paths: Paths,
    path: PathBuf,
    lock_path: PathBuf,
    cache: Mutex<(Stamp, Book)>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").field("path", &self.path).finish_non_exhaustive()
    }
}

impl Registry {
    pub fn open(paths: &Paths) -> Registry {
        Registry {
            paths: paths.clone(),
            path: paths.share_registry(),
            lock_path: paths.share_lock_file(),
            cache: Mutex::new((None, Book::default())),
        }
    }

    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// Pairs a computer without an invite: the old owner, at a hand-over, made paired
    /// with the computer that takes the session over (its secret travels in the
    /// hand-over request, over the pinned TLS connection).
    pub fn enroll(&self, name: &str, now: SystemTime) -> Result<Issued> {
        let now_ms = unix_ms(now);
        let name = clean_name(name);
        self.update(|book| {
            for old in book.computers.iter_mut().filter(|c| c.name == name && !c.is_revoked()) {
                old.revoked_ms = Some(now_ms);
            }
            Ok(Self::add(book, &name, now_ms))
        })
    }

    /// Lets the computer `name` take the session over within [`INVITE_VALIDITY`].
    pub fn offer_hand_over(&self, name: &str, now: SystemTime) -> Result<()> {
        let until = unix_ms(now + INVITE_VALIDITY);
        self.update(|book| {
            let live = book.computers.iter_mut().rev().find(|c| c.name == name && !c.is_revoked());
            match live {
                Some(c) => {
                    c.hand_over_until_ms = Some(until);
                    Ok(())
                }
                None => Err(unknown(book, name)),
            }
        })
    }

    /// Whether the computer `id` may take the session over now (the offer stays).
    pub fn hand_over_offered(&self, id: &str, now: SystemTime) -> Result<bool> {
        let now_ms = unix_ms(now);
        let book = self.fresh()?;
        Ok(book
            .1
            .computers
            .iter()
            .any(|c| c.id == id && !c.is_revoked() && c.hand_over_until_ms.is_some_and(|until| until > now_ms)))
    }

    /// Whether the computer `id` may take the session over now; the offer is used up.
    pub fn take_hand_over(&self, id: &str, now: SystemTime) -> Result<bool> {
        let now_ms = unix_ms(now);
        self.update(|book| {
            let Some(c) = book.computers.iter_mut().find(|c| c.id == id && !c.is_revoked()) else { return Ok(false) };
            let offered = c.hand_over_until_ms.take().is_some_and(|until| until > now_ms);
            Ok(offered)
        })
    }

    fn add(book: &mut Book, name: &str, now_ms: u64) -> Issued {
        let issued = Issued { id: random_hex(8), secret: SecretString::from(random_hex(32)) };
        book.computers.push(PairedComputer {
            id: issued.id.clone(),
            name: name.to_string(),
            created_ms: now_ms,
            last_seen_ms: Some(now_ms),
            revoked_ms: None,
            hand_over_until_ms: None,
            secret_sha256: sha256_hex(issued.secret.expose_secret().as_bytes()),
        });
        issued
    }

    /// Makes an invite code, valid [`INVITE_VALIDITY`] from `now`. The code itself is
    /// returned once and only its hash is stored.
    pub fn issue_code(&self, now: SystemTime) -> Result<String> {
        self.issue_code_for(now, None)
    }

    /// As [`Registry::issue_code`], for a computer the owner names: the code pairs it
    /// under `name`, whatever it calls itself.
    pub fn issue_code_for(&self, now: SystemTime, name: Option<&str>) -> Result<String> {
        let name = name.map(clean_name).filter(|n| !n.is_empty());
        let code = new_code();
        let hash = sha256_hex(code.as_bytes());
        self.update(|book| {
            let remember = unix_ms(now).saturating_sub(REMEMBER_INVITES.as_millis() as u64);
            book.invites.retain(|i| i.expires_ms > remember);
            prune(book, unix_ms(now));
            book.invites.push(OpenInvite {
                code_sha256: hash,
                expires_ms: unix_ms(now + INVITE_VALIDITY),
                used: false,
                name,
            });
            Ok(())
        })?;
        Ok(code)
    }

    /// Redeems a code for a new paired computer named `name`. A computer already paired
    /// under that name is replaced (re-pairing after a reinstall is the usual reason): its
    /// old secret stops working.
    pub fn redeem(&self, code: &str, name: &str, now: SystemTime) -> Result<std::result::Result<Issued, Refusal>> {
        let Some(code) = normalize_code(code) else { return Ok(Err(Refusal::UnknownCode)) };
        let hash = sha256_hex(code.as_bytes());
        let now_ms = unix_ms(now);
        self.update(|book| {
            let Some(invite) = book.invites.iter_mut().find(|i| i.code_sha256 == hash) else {
                return Ok(Err(Refusal::UnknownCode));
            };
            if invite.used || invite.expires_ms <= now_ms {
                return Ok(Err(Refusal::ExpiredCode));
            }
            invite.used = true;
            let name = invite.name.clone().unwrap_or_else(|| name.to_string());
            let name = name.as_str();
            for old in book.computers.iter_mut().filter(|c| c.name == name && !c.is_revoked()) {
                old.revoked_ms = Some(now_ms);
            }
            Ok(Ok(Self::add(book, name, now_ms)))
        })
    }

    /// Checks `ID.SECRET` and notes the computer as seen. Returns its name.
    pub fn authenticate(
        &self,
        id: &str,
        secret: &str,
        now: SystemTime,
    ) -> Result<std::result::Result<String, Refusal>> {
        let presented = sha256_hex(secret.as_bytes());
        let now_ms = unix_ms(now);
        let stale = {
            let cache = self.fresh()?;
            let Some(c) = cache.1.computers.iter().rev().find(|c| c.id == id) else {
                return Ok(Err(Refusal::Unknown));
            };
            // Hashes compared without early exit; the id is not secret.
            if !constant_time_eq(c.secret_sha256.as_bytes(), presented.as_bytes()) {
                return Ok(Err(Refusal::Unknown));
            }
            if c.is_revoked() {
                return Ok(Err(Refusal::Revoked));
            }
            // Compared with what the file holds (the cache is only changed by writes), so
            // a computer asking every few minutes is still written every ten.
            let stale = c.last_seen_ms.is_none_or(|t| now_ms.saturating_sub(t) >= LAST_SEEN_EVERY.as_millis() as u64);
            (stale, c.name.clone())
        };
        if stale.0 {
            // Best effort: a full disk must not stop tokens from being handed out.
            let id = id.to_string();
            if let Err(e) = self.update(|book| {
                if let Some(c) = book.computers.iter_mut().find(|c| c.id == id) {
                    c.last_seen_ms = Some(c.last_seen_ms.unwrap_or(0).max(now_ms));
                }
                Ok(())
            }) {
                tracing::warn!(code = e.code(), "could not note when a paired computer was last seen: {e}");
            }
        }
        Ok(Ok(stale.1))
    }

    /// Every computer ever paired and not forgotten, newest last; revoked ones included.
    pub fn list(&self) -> Result<Vec<PairedComputer>> {
        Ok(self.fresh()?.1.computers.clone())
    }

    /// Revokes the computer named `name`. Its next request is refused with "revoked".
    pub fn revoke(&self, name: &str, now: SystemTime) -> Result<()> {
        self.update(|book| {
            let mut found = false;
            for c in book.computers.iter_mut().filter(|c| c.name == name && !c.is_revoked()) {
                c.revoked_ms = Some(unix_ms(now));
                found = true;
            }
            if found {
                return Ok(());
            }
            Err(unknown(book, name))
        })
    }

    /// The cached book, re-read first if the file changed since.
    fn fresh(&self) -> Result<std::sync::MutexGuard<'_, (Stamp, Book)>> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let stamp = stamp(&self.path);
        if stamp.is_none() || stamp != cache.0 {
            let book = read(&self.path)?;
            *cache = (stamp, book);
        }
        Ok(cache)
    }

    /// Read-modify-write under the lock file; the cache then holds what was written.
    fn update<T>(&self, f: impl FnOnce(&mut Book) -> Result<T>) -> Result<T> {
        let _lock = crate::fsutil::lock_exclusive(&self.lock_path)?;
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let mut book = read(&self.path)?;
        let out = f(&mut book)?;
        let json = serde_json::to_vec_pretty(&book).map_err(|e| Error::io("encoding the paired computers", e))?;
        crate::fsutil::write_atomic(&self.path, &json, true)?;
        *cache = (stamp(&self.path), book);
        Ok(out)
    }
}

/// Forgets computers revoked more than [`REMEMBER_REVOKED`] before `now_ms`.
fn prune(book: &mut Book, now_ms: u64) {
    let before = now_ms.saturating_sub(REMEMBER_REVOKED.as_millis() as u64);
    book.computers.retain(|c| c.revoked_ms.is_none_or(|at| at >= before));
}

fn unknown(book: &Book, name: &str) -> Error {
    let known: Vec<&str> = book.computers.iter().filter(|c| !c.is_revoked()).map(|c| c.name.as_str()).collect();
    Error::UnknownPairedComputer {
        name: name.to_string(),
        known: if known.is_empty() { "none".into() } else { known.join(", ") },
    }
}

fn read(path: &Path) -> Result<Book> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| Error::ConfigUnreadable { path: path.display().to_string(), detail: e.to_string() }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Book::default()),
        Err(e) => Err(Error::ConfigUnreadable { path: path.display().to_string(), detail: e.to_string() }),
    }
}

/// Modification time, size and (on Unix) inode: `write_atomic` renames a new file into
/// place, so the inode changes with every write even within one mtime tick.
fn stamp(path: &Path) -> Stamp {
    let m = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let ino = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let ino = 0;
    Some((m.modified().ok()?, m.len(), ino))
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub(crate) fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    hex(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_ms(ms: u64) -> SystemTime {
        crate::clock::from_unix_ms(ms)
    }

    fn registry() -> (tempfile::TempDir, Registry) {
        let dir = tempfile::tempdir().unwrap();
        let r = Registry::open(&Paths::at(dir.path()));
        (dir, r)
    }

    const T0: u64 = 1_700_000_000_000;

    #[test]
    fn a_code_works_once_within_ten_minutes() {
        let (_d, r) = registry();
        let code = r.issue_code(at_ms(T0)).unwrap();
        let issued = r.redeem(&code.to_lowercase(), "laptop", at_ms(T0 + 1000)).unwrap().unwrap();
        assert_eq!(r.redeem(&code, "laptop", at_ms(T0 + 2000)).unwrap().err(), Some(Refusal::ExpiredCode));
        let late = r.issue_code(at_ms(T0)).unwrap();
        assert_eq!(r.redeem(&late, "x", at_ms(T0 + 600_000)).unwrap().err(), Some(Refusal::ExpiredCode));
        assert_eq!(r.redeem("000000000000", "x", at_ms(T0)).unwrap().err(), Some(Refusal::UnknownCode));
        assert_eq!(r.redeem("nonsense", "x", at_ms(T0)).unwrap().err(), Some(Refusal::UnknownCode));
        assert_eq!(r.authenticate(&issued.id, issued.secret.expose_secret(), at_ms(T0)).unwrap(), Ok("laptop".into()));
    }

    #[test]
    fn only_hashes_reach_the_disk_and_it_is_owner_only() {
        let (d, r) = registry();
        let code = r.issue_code(at_ms(T0)).unwrap();
        let issued = r.redeem(&code, "laptop", at_ms(T0)).unwrap().unwrap();
        let text = std::fs::read_to_string(d.path().join("share.json")).unwrap();
        assert!(!text.contains(&code) && !text.contains(issued.secret.expose_secret()), "{text}");
        assert!(text.contains(&sha256_hex(issued.secret.expose_secret().as_bytes())));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(d.path().join("share.json")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn wrong_secrets_unknown_ids_and_revoked_computers_are_told_apart() {
        let (d, r) = registry();
        let a = r.redeem(&r.issue_code(at_ms(T0)).unwrap(), "a", at_ms(T0)).unwrap().unwrap();
        let b = r.redeem(&r.issue_code(at_ms(T0)).unwrap(), "b", at_ms(T0)).unwrap().unwrap();
        assert_eq!(r.authenticate(&a.id, b.secret.expose_secret(), at_ms(T0)).unwrap(), Err(Refusal::Unknown));
        assert_eq!(r.authenticate("nobody", a.secret.expose_secret(), at_ms(T0)).unwrap(), Err(Refusal::Unknown));
        // A revocation made by another process (another Registry on the same file) is
        // seen by the listener's registry on its next check.
        let other = Registry::open(&Paths::at(d.path()));
        other.revoke("a", at_ms(T0)).unwrap();
        assert_eq!(r.authenticate(&a.id, a.secret.expose_secret(), at_ms(T0)).unwrap(), Err(Refusal::Revoked));
        assert_eq!(r.authenticate(&b.id, b.secret.expose_secret(), at_ms(T0)).unwrap(), Ok("b".into()));
        let e = r.revoke("a", at_ms(T0)).unwrap_err();
        assert_eq!(e.code(), "unknown_paired_computer");
        assert!(e.to_string().contains("Paired: b"), "{e}");
    }

    #[test]
    fn pairing_again_under_a_name_replaces_the_old_pairing() {
        let (_d, r) = registry();
        let old = r.redeem(&r.issue_code(at_ms(T0)).unwrap(), "laptop", at_ms(T0)).unwrap().unwrap();
        let new = r.redeem(&r.issue_code(at_ms(T0)).unwrap(), "laptop", at_ms(T0)).unwrap().unwrap();
        assert_eq!(r.authenticate(&old.id, old.secret.expose_secret(), at_ms(T0)).unwrap(), Err(Refusal::Revoked));
        assert!(r.authenticate(&new.id, new.secret.expose_secret(), at_ms(T0)).unwrap().is_ok());
        let live: Vec<_> = r.list().unwrap().into_iter().filter(|c| !c.is_revoked()).collect();
        assert_eq!(live.len(), 1);
    }

    #[test]
    fn last_seen_reaches_the_disk_at_most_every_ten_minutes() {
        let (d, r) = registry();
        let a = r.redeem(&r.issue_code(at_ms(T0)).unwrap(), "a", at_ms(T0)).unwrap().unwrap();
        let other = Registry::open(&Paths::at(d.path()));
        r.authenticate(&a.id, a.secret.expose_secret(), at_ms(T0 + 60_000)).unwrap().unwrap();
        assert_eq!(other.list().unwrap()[0].last_seen_ms, Some(T0));
        r.authenticate(&a.id, a.secret.expose_secret(), at_ms(T0 + 700_000)).unwrap().unwrap();
        assert_eq!(other.list().unwrap()[0].last_seen_ms, Some(T0 + 700_000));
    }

    #[test]
    fn revoked_computers_are_forgotten_after_ninety_days() {
        let (_d, r) = registry();
        let old = r.redeem(&r.issue_code(at_ms(T0)).unwrap(), "old", at_ms(T0)).unwrap().unwrap();
        r.redeem(&r.issue_code(at_ms(T0)).unwrap(), "kept", at_ms(T0)).unwrap().unwrap();
        r.revoke("old", at_ms(T0)).unwrap();
        r.issue_code(at_ms(T0 + 89 * 86_400_000)).unwrap();
        assert_eq!(r.authenticate(&old.id, old.secret.expose_secret(), at_ms(T0)).unwrap(), Err(Refusal::Revoked));
        r.issue_code(at_ms(T0 + 91 * 86_400_000)).unwrap();
        let names: Vec<String> = r.list().unwrap().into_iter().map(|c| c.name).collect();
        assert_eq!(names, ["kept"], "the revoked one is gone, the paired one stays");
    }
}
