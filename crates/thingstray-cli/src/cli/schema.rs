//! `thingstray schema`: an ST Schema connector's callback tokens (issue 13). `grant` keeps
//! what SmartThings sent the connector as a connection of kind "schema"; from then on
//! `token`, `status` and `serve` work for it like for any other, and `state-callback`
//! sends one device state with the current token to test the whole chain.

use std::io::{IsTerminal, Read};
use std::time::Duration;

use secrecy::SecretString;
use thingstray::config::Config;
use thingstray::schema::{self, CallbackHosts, DeviceState};
use thingstray::vault::Vault;

use super::setup::{VaultChoice, SECRET_ENV};
use super::{CliError, Ctx};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    cmd: SchemaCmd,
}

#[derive(clap::Subcommand, Debug)]
enum SchemaCmd {
    /// Keep a connector's callback access: reads the grantCallbackAccess JSON SmartThings
    /// sent the connector on stdin (or --grant-file), exchanges its code (once) and keeps
    /// the tokens fresh from then on. The connector's client secret comes from
    /// THINGSTRAY_CLIENT_SECRET (or is the one already stored), never from the command line.
    Grant {
        /// The connector's Client ID (Developer Workspace); default: the stored one.
        #[arg(long)]
        client_id: Option<String>,
        /// Read the grant from this file instead of stdin (stdin then takes the secret).
        #[arg(long, value_name = "FILE")]
        grant_file: Option<std::path::PathBuf>,
        /// Where secrets live: the system keychain (default), or `file` for headless
        /// machines with no keychain.
        #[arg(long, value_enum)]
        vault: Option<VaultChoice>,
        /// Accept callback URLs on 127.0.0.1 / localhost: the simulator only. Without it,
        /// only SmartThings' own https hosts are accepted (the secret goes there).
        #[arg(long)]
        loopback_callbacks: bool,
        /// The grant's callback URLs differ from the ones stored for this connection:
        /// take the new ones (the stored secret is then sent there).
        #[arg(long)]
        accept_new_urls: bool,
    },
    /// Send one stateCallback to SmartThings with the connection's callback token (one
    /// refresh and one retry if SmartThings refuses the token).
    StateCallback {
        /// The device's externalDeviceId, as the connector reported it in discovery.
        #[arg(long)]
        device: String,
        /// e.g. st.switch
        #[arg(long)]
        capability: String,
        /// e.g. switch
        #[arg(long)]
        attribute: String,
        /// The value: JSON if it parses as JSON (22.5, true, "on"), else the text as is.
        #[arg(long)]
        value: String,
    },
}

pub async fn run(ctx: &Ctx, a: Args) -> Result<(), CliError> {
    match a.cmd {
        SchemaCmd::Grant { client_id, grant_file, vault, loopback_callbacks, accept_new_urls } => {
            let hosts = if loopback_callbacks { CallbackHosts::AlsoLoopback } else { CallbackHosts::SmartThings };
            grant(ctx, client_id, grant_file, vault, hosts, accept_new_urls).await
        }
        SchemaCmd::StateCallback { device, capability, attribute, value } => {
            let value = serde_json::from_str(&value).unwrap_or(serde_json::Value::String(value));
            let state =
                DeviceState { external_device_id: &device, capability: &capability, attribute: &attribute, value };
            state_callback(ctx, &state).await
        }
    }
}

async fn grant(
    ctx: &Ctx,
    client_id: Option<String>,
    grant_file: Option<std::path::PathBuf>,
    vault_choice: Option<VaultChoice>,
    hosts: CallbackHosts,
    accept_new_urls: bool,
) -> Result<(), CliError> {
    let mut config = Config::load(&ctx.paths)?;
    let name = ctx.connection.clone().unwrap_or_else(|| "connector".to_string());
    let existing = config.connections.get(&name).filter(|s| s.schema.is_some()).cloned();
    let Some(client_id) = client_id.or_else(|| existing.as_ref().map(|s| s.client_id.clone())) else {
        return Err(CliError::Usage(
            "--client-id is needed: the connector's Client ID from the Developer Workspace".into(),
        ));
    };
    let raw = match &grant_file {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| CliError::Failed(format!("could not read {}: {e}", path.display())))?,
        None => {
            if std::io::stdin().is_terminal() {
                eprintln!("Paste the grantCallbackAccess JSON, then Ctrl-D:");
            }
            let mut s = String::new();
            std::io::stdin()
                .take(schema::MAX_GRANT as u64 + 1)
                .read_to_string(&mut s)
                .map_err(|e| CliError::Failed(format!("could not read the grant from stdin: {e}")))?;
            s
        }
    };
    // Checked before the secret is asked for: a grant for another connector stops here.
    let grant = schema::parse_grant(&raw, &client_id, hosts)?;
    // A stored connection's secret is never sent to new addresses unasked.
    if let Some(old) = existing.as_ref().and_then(|s| s.schema.as_ref()).filter(|old| **old != grant.urls) {
        if !accept_new_urls {
            return Err(CliError::Failed(format!(
                "this grant's callback URLs differ from the ones `{name}` uses (token: {} -> {}; state callback: {} -> {}), and the stored client secret would be sent to the new ones. If SmartThings moved the connector (another region), run again with --accept-new-urls; otherwise the grant did not come from SmartThings.",
                old.oauth_token, grant.urls.oauth_token, old.state_callback, grant.urls.state_callback
            )));
        }
    }
    if let Some(v) = vault_choice {
        config.vault = v.kind();
        let kind = config.vault;
        Config::update(&ctx.paths, |c| {
            c.vault = kind;
            Ok(())
        })?;
    }
    let vault = Vault::open(&config, &ctx.paths)?;
    let secret = match std::env::var(SECRET_ENV).ok().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()) {
        Some(s) => SecretString::from(s),
        None => match vault.client_secret(&name).await? {
            Some(stored) if existing.is_some() => stored,
            _ => {
                return Err(CliError::Failed(format!(
                    "the connector's client secret is needed: set {SECRET_ENV} (stdin carries the grant). It is the Client Secret of the ST Schema connector in the Developer Workspace."
                )))
            }
        },
    };
    let conn = thingstray::connection::schema::keep(
        &ctx.paths,
        &vault,
        &name,
        grant,
        secret,
        thingstray::connection::Options::default(),
    )
    .await?;
    let t = conn.session.token_valid_for(Duration::ZERO).await?;
    println!(
        "Kept `{name}`: the connector's callback token is valid until {} and is refreshed ahead of time by `thingstray serve` or the app (or by `thingstray token --connection {name}` when asked).",
        super::utc(t.expires_at_unix())
    );
    Ok(())
}

async fn state_callback(ctx: &Ctx, state: &DeviceState<'_>) -> Result<(), CliError> {
    let conn = ctx.open().await?;
    let Some(urls) = conn.settings.schema.clone() else {
        return Err(CliError::Failed(format!(
            "`{}` is not an ST Schema connection: run `thingstray schema grant` first",
            conn.name
        )));
    };
    let http = thingstray::http::client(thingstray::http::REQUEST_TIMEOUT)?;
    let grant = conn.session.token_valid_for(Duration::from_secs(60)).await?;
    let sent = match schema::state_callback(&http, &urls.state_callback, grant.secret(), state).await {
        Err(e) if schema::token_refused(&e) => {
            tracing::info!("SmartThings refused the callback token; refreshing once and sending again");
            let fresh = conn.session.replace_rejected(&grant).await?;
            schema::state_callback(&http, &urls.state_callback, fresh.secret(), state).await
        }
        other => other,
    };
    sent?;
    println!("Sent: {} {}.{} = {}", state.external_device_id, state.capability, state.attribute, state.value);
    Ok(())
}
