//! A connection of kind "paired": an invite redeemed into one. What it keeps is in
//! share/pairing.rs, which also reads its credentials back.

use secrecy::SecretString;

use super::{Connection, Options};
use crate::config::{validate_connection_name, Config, ConnectionSettings, PairedWith, Paths};
use crate::error::{Error, Result};
use crate::share::{Invite, ShareClient};
use crate::token::{RefreshToken, TokenSet};
use crate::vault::Vault;

/// What the first token must still be valid for: enough to list the devices once.
const FIRST_TOKEN: std::time::Duration = std::time::Duration::from_secs(60);

/// Redeems `invite` into the connection `name`, this computer listed as `computer` on the
/// owner. Refuses, before using the code, a name that a connection with its own sign-in
/// has (re-pairing a paired connection replaces it), and afterwards a location another
/// connection here already holds (SmartThings keeps one sign-in per app and location;
/// the owner's pairing then stays, and `share revoke` on the owner removes it).
pub async fn connect(
    paths: &Paths,
    vault: &Vault,
    invite: &Invite,
    name: &str,
    computer: &str,
    opts: Options,
) -> Result<Connection> {
    validate_connection_name(name)?;
    let config = Config::load(paths)?;
    if config.connections.get(name).is_some_and(|s| s.paired.is_none()) {
        return Err(Error::ConnectionKind {
            connection: name.to_string(),
            why: "it holds its own sign-in here; choose another name with --connection".into(),
        });
    }
    let client = ShareClient::for_invite(invite)?;
    let creds = client.pair(invite, computer).await?;
    let first = client.token(&creds, FIRST_TOKEN).await?;
    let holder = config.connections.iter().find(|(other, s)| {
        *other != name
            && ((first.location_id.is_some() && s.location_id == first.location_id)
                || (first.grant.installed_app_id.is_some() && s.installed_app_id == first.grant.installed_app_id))
    });
    if let Some((holder, _)) = holder {
        return Err(Error::AlreadyConnected { connection: name.to_string(), holder: holder.clone() });
    }
    let with = PairedWith {
        owner: creds.owner.clone(),
        at: creds.at.clone(),
        fingerprint: creds.fingerprint.as_str().to_string(),
        id: creds.id.clone(),
    };
    let mut settings = ConnectionSettings::paired(with, first.api_url.clone());
    settings.location_id = first.location_id.clone();
    settings.installed_app_id = first.grant.installed_app_id.clone();
    settings.validate()?;
    // The secret first: settings that name a pairing without it would be a connection
    // that can only fail.
    vault.store_pairing_secret(name, creds.secret.clone()).await?;
    let now = opts.clock.now();
    let tokens = TokenSet {
        access_token: first.grant.access_token.clone(),
        refresh_token: RefreshToken::new(String::new()),
        expires_at_ms: crate::clock::unix_ms(first.grant.expires_at),
        issued_at_ms: crate::clock::unix_ms(now),
        scope: first.grant.scope.clone(),
        installed_app_id: first.grant.installed_app_id.clone(),
        ended: None,
        from_refresh: false,
    };
    if let Err(e) = vault.store_tokens(name, &tokens).await {
        tracing::warn!(connection = %name, code = e.code(), "could not cache the first token; it will be fetched again");
    }
    Connection::save(paths, vault, name, settings, None::<SecretString>).await?;
    let config = Config::load(paths)?;
    let mut conn = Connection::open_with(paths, &config, vault.clone(), Some(name), opts).await?;
    conn.remember_location(paths, first.grant.installed_app_id).await;
    if let Some(s) = Config::load(paths)?.connections.remove(name) {
        conn.settings = s;
    }
    tracing::info!(connection = %name, owner = %creds.owner, "paired with the owner of the sign-in");
    Ok(conn)
}
