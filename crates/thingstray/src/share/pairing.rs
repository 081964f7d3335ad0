//! A connection of kind "paired", as this side reads it: its credentials, from the
//! settings and the vault, and this computer's name as the owner lists it. What such a
//! connection keeps: the owner's name, address and fingerprint and this computer's id in
//! the settings; this computer's secret for the owner in the vault; the access tokens the
//! owner hands out, cached in the vault. No SmartThings secret at all. An invite is
//! redeemed into one by `connection::paired::connect`.

use super::client::Credentials;
use super::fingerprint::Fingerprint;
use super::invite::clean_name;
use crate::config::PairedWith;
use crate::error::{Error, Result};
use crate::vault::Vault;

/// This computer's name as the owner will list it: the host name, cleaned.
pub fn this_computer() -> String {
    let name = clean_name(&gethostname::gethostname().to_string_lossy());
    if name.is_empty() {
        "this computer".into()
    } else {
        name
    }
}

/// The credentials of the paired connection `name`, from its settings and the vault.
pub async fn credentials(vault: &Vault, name: &str, with: &PairedWith) -> Result<Credentials> {
    let secret = vault.pairing_secret(name).await?.ok_or_else(|| Error::SecretMissing {
        connection: name.to_string(),
        item: "pairing secret",
        fix: format!("pair it again with a new invite from {}", with.owner),
    })?;
    let fingerprint = Fingerprint::parse(&with.fingerprint).map_err(|_| Error::InvalidSetting {
        field: "paired.fingerprint".into(),
        why: "pair again with a new invite".into(),
    })?;
    Ok(Credentials { owner: with.owner.clone(), at: with.at.clone(), fingerprint, id: with.id.clone(), secret })
}
