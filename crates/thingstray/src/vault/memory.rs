//! Secrets in process memory: for unit tests, never for users.

use std::collections::HashMap;
use std::sync::Mutex;

use secrecy::{ExposeSecret, SecretString};

use super::SecretStore;
use crate::error::Result;

#[derive(Default)]
pub struct MemoryStore {
    items: Mutex<HashMap<String, String>>,
}

impl SecretStore for MemoryStore {
    fn get(&self, key: &str) -> Result<Option<SecretString>> {
        let items = self.items.lock().unwrap_or_else(|p| p.into_inner());
        Ok(items.get(key).map(|v| SecretString::from(v.clone())))
    }

    fn set(&self, key: &str, value: &SecretString) -> Result<()> {
        let mut items = self.items.lock().unwrap_or_else(|p| p.into_inner());
        items.insert(key.to_string(), value.expose_secret().to_string());
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<()> {
        self.items.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
        Ok(())
    }

    fn describe(&self) -> String {
        "memory (tests only; nothing is kept)".into()
    }
}
