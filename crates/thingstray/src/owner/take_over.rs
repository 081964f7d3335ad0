//! Taking the owner role over from the computer this one is paired with (`thingstray
//! share take-over`): the new owner's side of a hand-over (hand_over.rs has the protocol
//! and the old owner's side). The pair is stored here before the old owner is told to let
//! go, and discarded if it never confirms: never two holders of one refresh token, never
//! none.

use std::net::{Ipv4Addr, SocketAddr};

use secrecy::{ExposeSecret, SecretString};

use super::listening::Listening;
use super::{Identity, Registry, DEFAULT_PORT};
use crate::config::{Config, ConnectionSettings, Paths};
use crate::connection::{Connection, Options};
use crate::error::{Error, Result};
use crate::session::RefreshLock;
use crate::share::pairing::{credentials, this_computer};
use crate::share::wire::HandOverRequest;
use crate::share::ShareClient;
use crate::vault::Vault;

/// On the paired computer: takes the session of the connection `name` (else the default)
/// over from its owner, which must have offered it. `advertise` is where the old owner
/// will reach this computer's share listener (default: this computer's outward address,
/// port 8766); start it (`thingstray serve --share`) for the old owner to get tokens.
pub async fn take_over(paths: &Paths, vault: &Vault, name: Option<&str>, advertise: Option<&str>, opts: Options) -> Result<Connection> {
    let config = Config::load(paths)?;
    let (name, settings) = config.connection(name)?;
    let Some(with) = settings.paired.clone() else {
        return Err(Error::InvalidSetting {
            field: "connection".into(),
            why: format!("`{name}` holds its own sign-in here: there is nothing to take over"),
        });
    };
    let creds = credentials(vault, &name, &with).await?;
    // The connection's refresh lock, for the whole take-over: a paired process of this
    // connection here (the app, `serve`) asks the owner only under it, so none of them
    // writes a token it got from the owner over the pair stored below.
    let _lock = RefreshLock::new(paths.lock_file(&name))
        .acquire(opts.session.lock_timeout)
        .await?;
    let client = ShareClient::for_credentials(&creds)?;
    let identity = Identity::load_or_create(vault).await?;
    let registry = Registry::open(paths);
    let now = opts.clock.now();
    let at = Listening::new(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), DEFAULT_PORT), advertise).at;
    let enrolled = registry.enroll(&creds.owner, now)?;
    let request = HandOverRequest {
        owner: this_computer(),
        at,
        fingerprint: identity.fingerprint().as_str().to_string(),
        id: enrolled.id.clone(),
        secret: enrolled.secret.expose_secret().to_string(),
    };
    let forget_enrolled = || {
        if let Err(e) = registry.revoke(&creds.owner, now) {
            tracing::warn!(code = e.code(), "could not forget the pairing made for the hand-over");
        }
    };
    let bundle = match client.hand_over(&creds, &request).await {
        Ok(b) => b,
        Err(e) => {
            forget_enrolled();
            return Err(e);
        }
    };
    let usable = bundle.settings.paired.is_none()
        && bundle.settings.validate().is_ok()
        && !bundle.tokens.refresh_token.secret().is_empty()
        && !bundle.client_secret.is_empty();
    if !usable {
        // Not confirmed: the old owner keeps the session when its wait runs out.
        forget_enrolled();
        return Err(Error::ShareProtocol { owner: creds.owner.clone(), detail: "the hand-over held no usable session".into() });
    }
    // The pair is kept before the confirmation: from then on, this is its only home.
    vault.store_client_secret(&name, SecretString::from(bundle.client_secret.clone())).await?;
    vault.store_tokens(&name, &bundle.tokens).await?;
    let mut confirmed = client.confirm_hand_over(&creds).await;
    for _ in 0..2 {
        match &confirmed {
            Err(Error::ShareUnreachable { .. }) => confirmed = client.confirm_hand_over(&creds).await,
            _ => break,
        }
    }
    if let Err(e) = confirmed {
        tracing::warn!(code = e.code(), "the hand-over was not confirmed; discarding the session received");
        let _ = vault.delete_client_secret(&name).await;
        let _ = vault.delete_tokens(&name).await;
        forget_enrolled();
        return Err(e);
    }
    let own = ConnectionSettings { location_id: settings.location_id.clone().or(bundle.settings.location_id.clone()), ..bundle.settings };
    Config::update(paths, |config| {
        config.connections.insert(name.clone(), own);
        Ok(())
    })?;
    if let Err(e) = vault.delete_pairing_secret(&name).await {
        tracing::warn!(code = e.code(), "could not remove the old pairing secret");
    }
    tracing::info!(connection = %name, from = %creds.owner, "took the session over");
    drop(_lock);
    let config = Config::load(paths)?;
    Connection::open_with(paths, &config, vault.clone(), Some(&name), opts).await
}

