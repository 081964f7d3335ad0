//! The explicit opt-in for machines without a keychain (servers, containers): a JSON file
//! readable by its owner only. Never chosen automatically; a warning says what it means.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use secrecy::{ExposeSecret, SecretString};

use super::SecretStore;
use crate::error::{Error, Result};

pub struct FileStore {
    path: PathBuf,
    /// Serializes read-modify-write inside this process; across processes the session's
    /// refresh lock already serializes token writes.
    write: Mutex<()>,
}

impl FileStore {
    pub fn new(path: PathBuf) -> FileStore {
        tracing::warn!(
            path = %path.display(),
            "secrets are kept in a plain file (vault = \"file\"): anyone who can read it as your user can use your SmartThings account"
        );
        FileStore { path, write: Mutex::new(()) }
    }

    fn read_all(&self) -> Result<BTreeMap<String, String>> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::VaultCorrupt {
                key: self.path.display().to_string(),
                detail: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(Error::io(format!("reading {}", self.path.display()), e)),
        }
    }

    fn write_all(&self, items: &BTreeMap<String, String>) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(items).map_err(|e| Error::io("encoding secrets", e))?;
        crate::fsutil::write_atomic(&self.path, &bytes, true)
    }
}

impl SecretStore for FileStore {
    fn get(&self, key: &str) -> Result<Option<SecretString>> {
        Ok(self.read_all()?.remove(key).map(SecretString::from))
    }

    fn set(&self, key: &str, value: &SecretString) -> Result<()> {
        let _g = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let mut items = self.read_all()?;
        items.insert(key.to_string(), value.expose_secret().to_string());
        self.write_all(&items)
    }

    fn delete(&self, key: &str) -> Result<()> {
        let _g = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let mut items = self.read_all()?;
        if items.remove(key).is_some() {
            self.write_all(&items)?;
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!("file {} (opt-in, owner-only)", self.path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_is_owner_only_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path().join("secrets.json"));
        store.set("a", &SecretString::from("one".to_string())).unwrap();
        store.set("b", &SecretString::from("two".to_string())).unwrap();
        assert_eq!(store.get("a").unwrap().unwrap().expose_secret(), "one");
        store.delete("a").unwrap();
        assert!(store.get("a").unwrap().is_none());
        assert_eq!(store.get("b").unwrap().unwrap().expose_secret(), "two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("secrets.json")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
