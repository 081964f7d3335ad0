//! The OS keychain through `keyring`: Secret Service on Linux, Keychain on macOS,
//! Credential Manager on Windows.

use keyring::credential::CredentialPersistence;
use secrecy::{ExposeSecret, SecretString};

use super::SecretStore;
use crate::error::{Error, Result};

pub struct KeychainStore {
    service: String,
}

impl KeychainStore {
    /// Refuses to run on keyring's in-memory mock. keyring picks the mock silently when
    /// built without a platform backend; tokens "saved" there vanish at exit, the exact
    /// way a rotated refresh token gets lost.
    pub fn new(service: &str) -> Result<KeychainStore> {
        match keyring::default::default_credential_builder().persistence() {
            CredentialPersistence::UntilDelete | CredentialPersistence::UntilReboot => {}
            _ => {
                return Err(Error::KeychainUnavailable {
                    detail: "this build has no persistent keychain backend for this system".into(),
                })
            }
        }
        Ok(KeychainStore { service: service.to_string() })
    }

    fn entry(&self, key: &str) -> Result<keyring::Entry> {
        keyring::Entry::new(&self.service, key).map_err(unavailable)
    }
}

fn unavailable(e: keyring::Error) -> Error {
    Error::KeychainUnavailable { detail: e.to_string() }
}

impl SecretStore for KeychainStore {
    fn get(&self, key: &str) -> Result<Option<SecretString>> {
        match self.entry(key)?.get_password() {
            Ok(p) => Ok(Some(SecretString::from(p))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(keyring::Error::BadEncoding(_)) => {
                Err(Error::VaultCorrupt { key: key.into(), detail: "not UTF-8".into() })
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    fn set(&self, key: &str, value: &SecretString) -> Result<()> {
        self.entry(key)?.set_password(value.expose_secret()).map_err(unavailable)
    }

    fn delete(&self, key: &str) -> Result<()> {
        match self.entry(key)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    fn describe(&self) -> String {
        let backend = if cfg!(target_os = "macos") {
            "macOS Keychain"
        } else if cfg!(windows) {
            "Windows Credential Manager"
        } else {
            "Secret Service"
        };
        format!("system keychain ({backend}, service `{}`)", self.service)
    }
}
