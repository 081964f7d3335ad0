//! Where secrets live: tokens and the client secret, in the OS keychain.
//!
//! [`SecretStore`] is the small blocking interface a backend implements: the system
//! keychain (through the `keyring` crate), an opt-in file for headless machines, or memory
//! for unit tests. [`Vault`] wraps it for async code: every call runs on the blocking pool
//! (the Secret Service backend must not run on a tokio worker) and under a timeout (a
//! locked keychain can block forever on a prompt nobody sees).
//!
//! A call that timed out is not undone: it still runs, and lands when the keychain gets to
//! it. So the writes and deletes of one item run in the order they were asked for, each
//! after the one before it has finished ([`Turns`]): a later write can never be overtaken
//! by an earlier one that timed out (an older token pair landing over a newer one, or a
//! pair landing after it was deleted).

mod file;
mod keychain;
mod memory;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

pub use file::FileStore;
pub use keychain::KeychainStore;
pub use memory::MemoryStore;

use crate::config::{Config, Paths, VaultKind};
use crate::error::{Error, Result};
use crate::token::TokenSet;

pub trait SecretStore: Send + Sync + 'static {
    fn get(&self, key: &str) -> Result<Option<SecretString>>;
    fn set(&self, key: &str, value: &SecretString) -> Result<()>;
    /// Deleting what is not there is not an error.
    fn delete(&self, key: &str) -> Result<()>;
    /// For `doctor` and logs: where the secrets are, never what they are.
    fn describe(&self) -> String;
}

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Clone)]
pub struct Vault {
    store: Arc<dyn SecretStore>,
    timeout: Duration,
    turns: Arc<Turns>,
}

/// The order of the writes of each item, shared by every clone of a vault.
#[derive(Default)]
struct Turns {
    lines: Mutex<HashMap<String, Line>>,
    turn: Condvar,
}

#[derive(Default)]
struct Line {
    issued: u64,
    next: u64,
    /// Finished (or dropped unrun) ahead of their turn.
    done: BTreeSet<u64>,
}

/// One write's place in its item's line; dropping it (run or not) lets the next one go.
struct Ticket {
    turns: Arc<Turns>,
    key: String,
    n: u64,
}

impl Turns {
    fn lines(&self) -> std::sync::MutexGuard<'_, HashMap<String, Line>> {
        self.lines.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn ticket(self: &Arc<Self>, key: &str) -> Ticket {
        let mut lines = self.lines();
        let line = lines.entry(key.to_string()).or_default();
        let n = line.issued;
        line.issued += 1;
        Ticket { turns: self.clone(), key: key.to_string(), n }
    }
}

impl Ticket {
    /// Blocks until every earlier write of the item has finished.
    fn wait(&self) {
        let mut lines = self.turns.lines();
        while lines.get(&self.key).is_some_and(|l| l.next != self.n) {
            lines = self.turns.turn.wait(lines).unwrap_or_else(|p| p.into_inner());
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut lines = self.turns.lines();
        if let Some(line) = lines.get_mut(&self.key) {
            line.done.insert(self.n);
            while line.done.remove(&line.next) {
                line.next += 1;
            }
            if line.next == line.issued {
                lines.remove(&self.key);
            }
        }
        self.turns.turn.notify_all();
    }
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault").field("store", &self.store.describe()).finish()
    }
}

fn tokens_key(connection: &str) -> String {
    format!("{connection}/tokens")
}
fn client_secret_key(connection: &str) -> String {
    format!("{connection}/client-secret")
}
/// A paired connection's secret for its owner (share/client.rs): not a SmartThings secret.
fn pairing_secret_key(connection: &str) -> String {
    format!("{connection}/pairing-secret")
}
fn taking_over_key(connection: &str) -> String {
    format!("{connection}/taking-over")
}
/// Every item kept under a connection's name, by the end of its key: a rename moves them
/// all. One list, so an item added later (as the pairing secret was) cannot be left behind.
pub const CONNECTION_ITEMS: [&str; 4] = ["tokens", "client-secret", "pairing-secret", "taking-over"];
pub fn connection_item_key(connection: &str, item: &str) -> String {
    format!("{connection}/{item}")
}
pub const SERVER_SECRET_KEY: &str = "token-server/secret";
/// The share listener's certificate and private key (owner/identity.rs): its fingerprint
/// is this computer's identity to the computers paired with it.
pub const SHARE_IDENTITY_KEY: &str = "share/identity";

impl Vault {
    pub fn new(store: Arc<dyn SecretStore>) -> Vault {
        Vault { store, timeout: DEFAULT_TIMEOUT, turns: Arc::default() }
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Vault {
        self.timeout = timeout;
        self
    }

    pub fn memory() -> Vault {
        Vault::new(Arc::new(MemoryStore::default()))
    }

    /// The vault the settings ask for. The file store only when the user chose it.
    pub fn open(config: &Config, paths: &Paths) -> Result<Vault> {
        // What a write that died before its rename left (with the file vault, tokens).
        if let Some(dir) = paths.file_vault().parent() {
            crate::fsutil::remove_orphan_temps(dir);
        }
        let store: Arc<dyn SecretStore> = match config.vault {
            VaultKind::Keychain => Arc::new(KeychainStore::new(config.keychain_service())?),
            VaultKind::File => Arc::new(FileStore::new(paths.file_vault())),
        };
        Ok(Vault::new(store))
    }

    pub fn describe(&self) -> String {
        self.store.describe()
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn SecretStore) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let store = self.store.clone();
        let job = tokio::task::spawn_blocking(move || f(store.as_ref()));
        match tokio::time::timeout(self.timeout, job).await {
            Ok(Ok(r)) => r,
            Ok(Err(join)) => Err(Error::io("the keychain call", join)),
            Err(_) => Err(Error::KeychainTimeout { after: self.timeout }),
        }
    }

    pub async fn get(&self, key: &str) -> Result<Option<SecretString>> {
        let key = key.to_string();
        self.run(move |s| s.get(&key)).await
    }

    pub async fn set(&self, key: &str, value: SecretString) -> Result<()> {
        let ticket = self.turns.ticket(key);
        let key = key.to_string();
        self.run(move |s| {
            ticket.wait();
            s.set(&key, &value)
        })
        .await
    }

    pub async fn delete(&self, key: &str) -> Result<()> {
        let ticket = self.turns.ticket(key);
        let key = key.to_string();
        self.run(move |s| {
            ticket.wait();
            s.delete(&key)
        })
        .await
    }

    pub async fn tokens(&self, connection: &str) -> Result<Option<TokenSet>> {
        let key = tokens_key(connection);
        match self.get(&key).await? {
            None => Ok(None),
            Some(raw) => serde_json::from_str(raw.expose_secret())
                .map(Some)
                // serde's message names the field, never the value.
                .map_err(|e| Error::VaultCorrupt { key, detail: e.to_string() }),
        }
    }

    pub async fn store_tokens(&self, connection: &str, tokens: &TokenSet) -> Result<()> {
        let json = serde_json::to_string(tokens).map_err(|e| Error::io("encoding tokens", e))?;
        self.set(&tokens_key(connection), SecretString::from(json)).await
    }

    pub async fn delete_tokens(&self, connection: &str) -> Result<()> {
        self.delete(&tokens_key(connection)).await
    }

    pub async fn client_secret(&self, connection: &str) -> Result<Option<SecretString>> {
        self.get(&client_secret_key(connection)).await
    }

    pub async fn store_client_secret(&self, connection: &str, secret: SecretString) -> Result<()> {
        self.set(&client_secret_key(connection), secret).await
    }

    pub async fn delete_client_secret(&self, connection: &str) -> Result<()> {
        self.delete(&client_secret_key(connection)).await
    }

    pub async fn pairing_secret(&self, connection: &str) -> Result<Option<SecretString>> {
        self.get(&pairing_secret_key(connection)).await
    }

    pub async fn store_pairing_secret(&self, connection: &str, secret: SecretString) -> Result<()> {
        self.set(&pairing_secret_key(connection), secret).await
    }

    pub async fn delete_pairing_secret(&self, connection: &str) -> Result<()> {
        self.delete(&pairing_secret_key(connection)).await
    }

    /// A hand-over's session as the new owner received it, kept aside until it is in place
    /// (owner/take_over.rs): the old owner has let go of it, so it is never dropped.
    pub async fn taking_over(&self, connection: &str) -> Result<Option<SecretString>> {
        self.get(&taking_over_key(connection)).await
    }

    pub async fn store_taking_over(&self, connection: &str, session: SecretString) -> Result<()> {
        self.set(&taking_over_key(connection), session).await
    }

    pub async fn delete_taking_over(&self, connection: &str) -> Result<()> {
        self.delete(&taking_over_key(connection)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Stuck;
    impl SecretStore for Stuck {
        fn get(&self, _: &str) -> Result<Option<SecretString>> {
            std::thread::sleep(Duration::from_secs(2));
            Ok(None)
        }
        fn set(&self, _: &str, _: &SecretString) -> Result<()> {
            Ok(())
        }
        fn delete(&self, _: &str) -> Result<()> {
            Ok(())
        }
        fn describe(&self) -> String {
            "stuck".into()
        }
    }

    #[tokio::test]
    async fn a_stuck_keychain_times_out_instead_of_hanging() {
        let v = Vault::new(Arc::new(Stuck)).with_timeout(Duration::from_millis(50));
        let e = v.get("x").await.unwrap_err();
        assert_eq!(e.code(), "keychain_timeout");
    }

    /// A store whose first write stalls until the test lets it go.
    struct Slow {
        inner: MemoryStore,
        first: std::sync::Mutex<Option<std::sync::mpsc::Receiver<()>>>,
        writes: std::sync::atomic::AtomicUsize,
    }
    impl SecretStore for Slow {
        fn get(&self, key: &str) -> Result<Option<SecretString>> {
            self.inner.get(key)
        }
        fn set(&self, key: &str, value: &SecretString) -> Result<()> {
            let first = self.first.lock().unwrap().take();
            if let Some(release) = first {
                release.recv().ok();
            }
            self.inner.set(key, value)?;
            self.writes.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        }
        fn delete(&self, key: &str) -> Result<()> {
            self.inner.delete(key)
        }
        fn describe(&self) -> String {
            "slow".into()
        }
    }

    /// Issue 25, items 1 and 2: a write that timed out is still running, and lands when the
    /// keychain gets to it. A later write of the same item must land after it, never before:
    /// else the older pair (a spent refresh token, or a hand-over's pair under a connection
    /// that moved on) is what the vault keeps.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_that_timed_out_never_lands_over_a_later_one() {
        let (release, stalled) = std::sync::mpsc::channel();
        let store = Arc::new(Slow {
            inner: MemoryStore::default(),
            first: std::sync::Mutex::new(Some(stalled)),
            writes: Default::default(),
        });
        let v = Vault::new(store.clone()).with_timeout(Duration::from_millis(100));
        let e = v.set("home/tokens", SecretString::from("old".to_string())).await.unwrap_err();
        assert_eq!(e.code(), "keychain_timeout");
        let later = {
            let v = v.clone();
            tokio::spawn(async move { v.set("home/tokens", SecretString::from("new".to_string())).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        release.send(()).unwrap();
        let _ = later.await.unwrap();
        for _ in 0..200 {
            if store.writes.load(std::sync::atomic::Ordering::SeqCst) == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(store.writes.load(std::sync::atomic::Ordering::SeqCst), 2, "both writes landed");
        let kept = v.get("home/tokens").await.unwrap().unwrap();
        assert_eq!(kept.expose_secret(), "new", "the later write is what stays");
    }

    #[tokio::test]
    async fn a_corrupt_token_item_is_reported_not_dropped() {
        let v = Vault::memory();
        v.set("home/tokens", SecretString::from("{not json".to_string())).await.unwrap();
        let e = v.tokens("home").await.unwrap_err();
        assert_eq!(e.code(), "vault_corrupt");
        // Reading did not delete it: nothing is lost behind the user's back.
        assert!(v.get("home/tokens").await.unwrap().is_some());
    }
}
