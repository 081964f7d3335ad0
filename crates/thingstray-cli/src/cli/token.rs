//! `thingstray token`: what `gh auth token` and `oauth2l fetch` do, for SmartThings.
//! A token valid for at least `--min-valid`, refreshed first when needed (by the core
//! session, under its cross-process lock); never an expired one, never the refresh token.
//! Exit 4 when only a new sign-in helps.

use std::time::Duration;

use clap::ValueEnum;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use thingstray::config::Config;
use thingstray::vault::Vault;

use super::{CliError, Ctx};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The token must stay valid at least this long (90s, 5m, 1h).
    #[arg(long, default_value = min_valid_default(), value_parser = super::parse_duration)]
    min_valid: Duration,
    /// bare: the token; header: `Authorization: Bearer <token>`; json: the token with its
    /// expiry (UTC epoch seconds), scope and installed app id.
    #[arg(long, value_enum, default_value_t = Format::Bare)]
    format: Format,
}

/// The core's promise for a token handed out (`thingstray::token::MIN_VALIDITY`), as
/// `--help` shows it: `5m`.
pub(super) fn min_valid_default() -> &'static str {
    static TEXT: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| super::duration_arg(thingstray::token::MIN_VALIDITY));
    &TEXT
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum Format {
    Bare,
    Header,
    Json,
}

pub async fn run(ctx: &Ctx, a: Args) -> Result<(), CliError> {
    let t = obtain(ctx, a.min_valid).await?;
    print(a.format, t.token.expose_secret(), t.expires_at, &t.scope, t.installed_app_id.as_deref());
    Ok(())
}

/// An access token handed out, with what `--format json` shows of it.
pub(super) struct Handed {
    pub token: SecretString,
    pub expires_at: u64,
    pub scope: String,
    pub installed_app_id: Option<String>,
}

/// A token valid for at least `min_valid`, the way `thingstray token` gets it (`thingstray
/// exec` too): the store with `--store`; else the agent; else the vault's stored token
/// when it is valid long enough; else the session, refreshing first.
pub(super) async fn obtain(ctx: &Ctx, min_valid: Duration) -> Result<Handed, CliError> {
    let handed = |token: &str, expires_at: u64, scope: &str, installed_app_id: Option<&str>| Handed {
        token: SecretString::from(token.to_string()),
        expires_at,
        scope: scope.to_string(),
        installed_app_id: installed_app_id.map(String::from),
    };
    if let Some(store) = &ctx.store {
        let g = super::store::token(store, ctx.connection.as_deref(), min_valid).await?;
        return Ok(handed(g.secret(), g.expires_at_unix(), &g.scope, g.installed_app_id.as_deref()));
    }
    // The running app or `serve` first: a socket round trip, no keychain read.
    // Always by name: the agent serves the connection it was started for, which need not
    // be this folder's default; "no name" must mean the same here as in the vault.
    #[cfg(unix)]
    if let Some(name) = (!ctx.no_agent).then(|| resolved(ctx)).flatten() {
        let timeout = thingstray::agent::client::TIMEOUT;
        match thingstray::agent::client::token(&ctx.paths, Some(&name), min_valid, timeout).await {
            Ok(t) => {
                tracing::info!(connection = %t.connection, "token from the agent");
                return Ok(handed(&t.access_token, t.expires_at, &t.scope, t.installed_app_id.as_deref()));
            }
            Err(why) => tracing::info!("token from the vault: {why}"),
        }
    }
    // The stored token alone answers when it is valid long enough: one vault read, as
    // the session's own first look does (the client secret is only needed to refresh).
    if let Some(t) = stored(ctx, min_valid).await {
        tracing::info!("token from the vault, valid as stored");
        let g = t.grant();
        return Ok(handed(g.secret(), g.expires_at_unix(), &g.scope, g.installed_app_id.as_deref()));
    }
    let conn = ctx.open().await?;
    let g = conn.session.token_valid_for(min_valid).await?;
    Ok(handed(g.secret(), g.expires_at_unix(), &g.scope, g.installed_app_id.as_deref()))
}

/// The connection a bare `thingstray token` means (`--connection`, else the default);
/// None when the settings cannot say (the vault path then explains why).
#[cfg(unix)]
fn resolved(ctx: &Ctx) -> Option<String> {
    let config = Config::load(&ctx.paths).ok()?;
    config.connection(ctx.connection.as_deref()).ok().map(|(name, _)| name)
}

/// The stored pair, when it is valid at least `min` and not ended; None for anything else
/// (the full path then says what is wrong).
async fn stored(ctx: &Ctx, min: Duration) -> Option<thingstray::token::TokenSet> {
    let config = Config::load(&ctx.paths).ok()?;
    let (name, _) = config.connection(ctx.connection.as_deref()).ok()?;
    let vault = Vault::open(&config, &ctx.paths).ok()?;
    let t = vault.tokens(&name).await.ok()??;
    t.serves(min, std::time::SystemTime::now()).then_some(t)
}

fn print(format: Format, token: &str, expires_at: u64, scope: &str, installed_app_id: Option<&str>) {
    let out = match format {
        Format::Bare => token.to_string(),
        Format::Header => format!("Authorization: Bearer {token}"),
        Format::Json => json!({
            "access_token": token,
            "token_type": "Bearer",
            "expires_at": expires_at,
            "expires_in": expires_at.saturating_sub(super::now_unix()),
            "scope": scope,
            "installed_app_id": installed_app_id,
        })
        .to_string(),
    };
    println!("{out}");
}
