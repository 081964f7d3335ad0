//! Where secrets live: tokens and the client secret, in the OS keychain.
//!
//! [`SecretStore`] is the small blocking interface a backend implements: the system
//! keychain (through the `keyring` crate), an opt-in file for headless machines, or memory
//! for unit tests. [`Vault`] wraps it for async code: every call runs on the blocking pool
//! (the Secret Service backend must not run on a tokio worker) and under a timeout (a
//! locked keychain can block forever on a prompt nobody sees).

mod file;
mod keychain;
mod memory;

use std::sync::Arc;
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
/// Every item kept under a connection's name, by the end of its key: a rename moves them
/// all. One list, so an item added later (as the pairing secret was) cannot be left behind.
pub const CONNECTION_ITEMS: [&str; 3] = ["tokens", "client-secret", "pairing-secret"];
pub fn connection_item_key(connection: &str, item: &str) -> String {
    format!("{connection}/{item}")
}
pub const SERVER_SECRET_KEY: &str = "token-server/secret";
/// The share listener's certificate and private key (owner/identity.rs): its fingerprint
/// is this computer's identity to the computers paired with it.
pub const SHARE_IDENTITY_KEY: &str = "share/identity";

impl Vault {
    pub fn new(store: Arc<dyn SecretStore>) -> Vault {
        Vault { store, timeout: DEFAULT_TIMEOUT }
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
        let key = key.to_string();
        self.run(move |s| s.set(&key, &value)).await
    }

    pub async fn delete(&self, key: &str) -> Result<()> {
        let key = key.to_string();
        self.run(move |s| s.delete(&key)).await
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
