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
    /// `secrets.json.lock`: every read-modify-write of the file holds it, across processes.
    /// The session's refresh lock is per connection, so without this two processes
    /// refreshing two connections would each write back the other's old pair.
    lock: PathBuf,
    /// The same within this process (flock is per open file, so threads need their own).
    write: Mutex<()>,
}

impl FileStore {
    pub fn new(path: PathBuf) -> FileStore {
        tracing::warn!(
            path = %path.display(),
            "secrets are kept in a plain file (vault = \"file\"): anyone who can read it as your user can use your SmartThings account"
        );
        let mut lock = path.clone().into_os_string();
        lock.push(".lock");
        FileStore { path, lock: PathBuf::from(lock), write: Mutex::new(()) }
    }

    fn read_all(&self) -> Result<BTreeMap<String, String>> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| Error::VaultCorrupt { key: self.path.display().to_string(), detail: e.to_string() }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(Error::io(format!("reading {}", self.path.display()), e)),
        }
    }

    /// Runs `f` on the whole map under both locks and writes the result if `f` changed it.
    fn update(&self, f: impl FnOnce(&mut BTreeMap<String, String>) -> bool) -> Result<()> {
        let _g = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let _file = crate::fsutil::lock_exclusive(&self.lock)?;
        let mut items = self.read_all()?;
        if f(&mut items) {
            self.write_all(&items)?;
        }
        Ok(())
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
        self.update(|items| {
            items.insert(key.to_string(), value.expose_secret().to_string());
            true
        })
    }

    fn delete(&self, key: &str) -> Result<()> {
        self.update(|items| items.remove(key).is_some())
    }

    fn describe(&self) -> String {
        format!("file {} (opt-in, owner-only)", self.path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two stores on one file behave like two processes (neither sees the other's mutex):
    /// each writes its own keys, and every last write must survive.
    #[test]
    fn two_writers_of_different_keys_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.json");
        let writers: Vec<_> = ["home", "cabin"]
            .into_iter()
            .map(|conn| {
                let store = FileStore::new(path.clone());
                std::thread::spawn(move || {
                    for i in 0..150 {
                        store.set(&format!("{conn}/tokens"), &SecretString::from(format!("{conn}-{i}"))).unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        let store = FileStore::new(path);
        assert_eq!(store.get("home/tokens").unwrap().unwrap().expose_secret(), "home-149");
        assert_eq!(store.get("cabin/tokens").unwrap().unwrap().expose_secret(), "cabin-149");
    }

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
