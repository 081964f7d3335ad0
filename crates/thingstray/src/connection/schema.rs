//! `thingstray schema grant`: a connector's callback access, kept as a connection.

use secrecy::SecretString;

use super::{Connection, Options};
use crate::config::{Config, ConnectionSettings, Paths};
use crate::error::{Error, Result};
use crate::schema::{Grant, SchemaClient};
use crate::session::RefreshLock;
use crate::vault::Vault;

/// Exchanges the grant's code (it works once) and keeps the connection `name` of kind
/// "schema": the pair first (persist before use: nothing else holds it), then the client
/// secret, then the settings. A connection of another kind under that name is refused,
/// and left as it was.
pub async fn keep(
    paths: &Paths,
    vault: &Vault,
    name: &str,
    grant: Grant,
    secret: SecretString,
    opts: Options,
) -> Result<Connection> {
    let config = Config::load(paths)?;
    if let Some(other) = config.connections.get(name).filter(|s| s.schema.is_none()) {
        let kind = if other.paired.is_some() { "a paired connection" } else { "an OAuth-In connection" };
        return Err(Error::ConnectionKind {
            connection: name.to_string(),
            why: format!("it is {kind}; keep the connector's callback tokens under another name (--connection NAME)"),
        });
    }
    let settings =
        ConnectionSettings { schema: Some(grant.urls.clone()), ..ConnectionSettings::new(grant.client_id.clone(), "") };
    settings.validate()?;
    let client = SchemaClient::new(&settings, &secret, opts.http_client()?)?;
    // The connection's refresh lock, as a refresh takes it: a `serve` or app refreshing the
    // old grant's pair right now would otherwise write that pair over this one. It waits
    // for that refresh to end (or gives up before the code is spent).
    let _lock = RefreshLock::new(paths.lock_file(name)).acquire(opts.session.lock_timeout).await?;
    let tokens = client.exchange(&grant.code, opts.clock.now()).await?;
    vault.store_tokens(name, &tokens).await.map_err(|e| Error::VaultWriteFailed {
        detail: format!("{e} (the grant's code is spent: have SmartThings send a new grantCallbackAccess)"),
    })?;
    Connection::save(paths, vault, name, settings, Some(secret)).await?;
    tracing::info!(connection = %name, "kept the connector's callback access");
    drop(_lock);
    let config = Config::load(paths)?;
    Connection::open_with(paths, &config, vault.clone(), Some(name), opts).await
}
