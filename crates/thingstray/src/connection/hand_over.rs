//! A hand-over's local halves, the steps that need no other computer (the protocol is
//! owner/hand_over.rs and owner/take_over.rs; the records session/record.rs). Run by the
//! protocol, and finished by whichever process of this computer finds them half done: every
//! [`Connection::open_with`](super::Connection::open_with) looks first.
//!
//! - The new owner, once the session is received and kept aside: the client secret and
//!   the pair go in place, then the settings say this computer holds the sign-in
//!   ([`take_in`]). A paired connection whose take-over had received the session thus
//!   becomes an owner, in the first process that opens it.
//! - The old owner, once the new owner said it holds the session: its settings become
//!   paired with the new owner, then the refresh token and the client secret leave its
//!   vault ([`give_up`]).

use secrecy::{ExposeSecret, SecretString};

use crate::config::{Config, ConnectionSettings, Paths};
use crate::error::{Error, Result};
use crate::session::record::{self, Giving, Record, Stage, Taking};
use crate::session::RefreshLock;
use crate::share::wire::HandOverBundle;
use crate::token::{RefreshToken, TokenSet};
use crate::vault::Vault;

/// The new owner: the session received (kept aside) goes in place, and the settings say
/// this computer holds the sign-in. The record moves to [`Stage::Owner`]. Each write may be
/// done again: a process that dies halfway is finished by the next one.
pub(crate) async fn take_in(
    paths: &Paths,
    vault: &Vault,
    name: &str,
    taking: &mut Taking,
    bundle: &HandOverBundle,
) -> Result<()> {
    // Settings already saying so (a run that died before its record did): a process here
    // may have refreshed since, and the pair in place is the live one. Writing the pair
    // received over it would put a spent refresh token back (found by owner/model.rs).
    let owner_already = Config::load(paths)?.connections.get(name).is_some_and(|s| s.paired.is_none());
    if !owner_already {
        vault.store_client_secret(name, SecretString::from(bundle.client_secret.clone())).await?;
        crate::failpoint::step("take.secret_in_place", &paths.dir).await;
        vault.store_tokens(name, &bundle.tokens).await?;
        crate::failpoint::step("take.pair_in_place", &paths.dir).await;
    }
    Config::update(paths, |config| {
        let mine = config.connections.get(name).cloned().unwrap_or_default();
        if mine.paired.is_none() {
            return Ok(());
        }
        let own = ConnectionSettings {
            location_id: mine.location_id.or(bundle.settings.location_id.clone()),
            location_name: mine.location_name.or(bundle.settings.location_name.clone()),
            ..bundle.settings.clone()
        };
        config.connections.insert(name.to_string(), own);
        Ok(())
    })?;
    crate::failpoint::step("take.owner", &paths.dir).await;
    taking.stage = Stage::Owner;
    record::save(&paths.hand_over_record(name), &Record::Taking(taking.clone()))?;
    crate::failpoint::step("take.owner_recorded", &paths.dir).await;
    tracing::info!(connection = %name, from = %taking.from.owner, "the session taken over is in place: this computer holds the sign-in");
    Ok(())
}

/// The session a take-over kept aside in the vault.
pub(crate) async fn kept_aside(vault: &Vault, name: &str) -> Result<Option<HandOverBundle>> {
    let Some(raw) = vault.taking_over(name).await? else { return Ok(None) };
    serde_json::from_str(raw.expose_secret())
        .map(Some)
        .map_err(|e| Error::VaultCorrupt { key: format!("{name}/taking-over"), detail: e.to_string() })
}

/// The old owner, after the new owner's word that it holds the session: the record says
/// so first (from then on this computer is paired with it, whatever happens next), then
/// the settings, then the vault keeps the access token alone.
pub(crate) async fn give_up(paths: &Paths, vault: &Vault, name: &str, giving: &mut Giving) -> Result<()> {
    if !giving.acked {
        giving.acked = true;
        record::save(&paths.hand_over_record(name), &Record::Giving(giving.clone()))?;
        crate::failpoint::step("give.acked", &paths.dir).await;
    }
    Config::update(paths, |config| {
        let old = config.connections.get(name).cloned().unwrap_or_else(|| giving.settings.clone());
        if old.paired.as_ref() == Some(&giving.to) {
            return Ok(());
        }
        let mut settings = ConnectionSettings::paired(giving.to.clone(), old.api_url.clone());
        settings.location_id = old.location_id;
        settings.location_name = old.location_name;
        settings.installed_app_id = old.installed_app_id;
        config.connections.insert(name.to_string(), settings);
        Ok(())
    })?;
    crate::failpoint::step("give.paired", &paths.dir).await;
    strip(vault, name).await;
    crate::failpoint::step("give.stripped", &paths.dir).await;
    tracing::info!(connection = %name, to = %giving.to.owner, "handed the session over; this computer is paired with the new owner");
    Ok(())
}

/// The refresh token and the client secret leave the old owner's vault (the access token
/// stays while it is valid). Best effort: the record already keeps this computer from
/// spending them, and the next open tries again.
async fn strip(vault: &Vault, name: &str) {
    match vault.tokens(name).await {
        Ok(Some(t)) if !t.refresh_token.secret().is_empty() => {
            let access_only = TokenSet { refresh_token: RefreshToken::new(String::new()), from_refresh: false, ..t };
            if let Err(e) = vault.store_tokens(name, &access_only).await {
                tracing::warn!(
                    code = e.code(),
                    "could not keep the access token alone after the hand-over; removing the pair"
                );
                let _ = vault.delete_tokens(name).await;
            }
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(code = e.code(), "could not read the tokens after the hand-over"),
    }
    if let Err(e) = vault.delete_client_secret(name).await {
        tracing::warn!(code = e.code(), "could not remove the client secret after the hand-over");
    }
}

/// Finishes what a hand-over of `name` left half done on this computer, if anything:
/// whether the settings changed (then read them again).
pub(crate) async fn settle(
    paths: &Paths,
    vault: &Vault,
    name: &str,
    lock_timeout: std::time::Duration,
) -> Result<bool> {
    let path = paths.hand_over_record(name);
    match record::load(&path)? {
        Some(Record::Taking(t)) if t.stage == Stage::Received => {
            // Under the refresh lock: a paired process here asks its owner only under it,
            // so none writes an access token over the pair going in place.
            let _lock = RefreshLock::new(paths.lock_file(name)).acquire(lock_timeout).await?;
            let Some(Record::Taking(mut t)) = record::load(&path)? else { return Ok(true) };
            if t.stage != Stage::Received {
                return Ok(true);
            }
            let Some(bundle) = kept_aside(vault, name).await? else {
                return Err(Error::HandOverPending {
                    owner: t.from.owner.clone(),
                    detail: "the session received is not in the vault any more".into(),
                });
            };
            tracing::info!(connection = %name, "finishing a take-over that had received the session");
            take_in(paths, vault, name, &mut t, &bundle).await?;
            Ok(true)
        }
        Some(Record::Giving(mut g)) if g.acked => {
            let config = Config::load(paths)?;
            let paired = config.connections.get(name).is_some_and(|s| s.paired.as_ref() == Some(&g.to));
            let leftover =
                vault.tokens(name).await.ok().flatten().is_some_and(|t| !t.refresh_token.secret().is_empty());
            if paired && !leftover {
                return Ok(false);
            }
            give_up(paths, vault, name, &mut g).await?;
            Ok(!paired)
        }
        _ => Ok(false),
    }
}
