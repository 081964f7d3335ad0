//! `thingstray token`: what `gh auth token` and `oauth2l fetch` do, for SmartThings.
//! A token valid for at least `--min-valid`, refreshed first when needed (by the core
//! session, under its cross-process lock); never an expired one, never the refresh token.
//! Exit 4 when only a new sign-in helps.

use std::time::Duration;

use clap::ValueEnum;
use serde_json::json;

use super::{CliError, Ctx};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The token must stay valid at least this long (90s, 5m, 1h).
    #[arg(long, default_value = "5m", value_parser = super::parse_duration)]
    min_valid: Duration,
    /// bare: the token; header: `Authorization: Bearer <token>`; json: the token with its
    /// expiry (UTC epoch seconds), scope and installed app id.
    #[arg(long, value_enum, default_value_t = Format::Bare)]
    format: Format,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum Format {
    Bare,
    Header,
    Json,
}

pub async fn run(ctx: &Ctx, a: Args) -> Result<(), CliError> {
    let conn = ctx.open().await?;
    let grant = conn.session.token_valid_for(a.min_valid).await?;
    let out = match a.format {
        Format::Bare => grant.secret().to_string(),
        Format::Header => format!("Authorization: Bearer {}", grant.secret()),
        Format::Json => {
            let now = conn.session.now();
            json!({
                "access_token": grant.secret(),
                "token_type": "Bearer",
                "expires_at": grant.expires_at_unix(),
                "expires_in": grant.remaining(now).as_secs(),
                "scope": grant.scope,
                "installed_app_id": grant.installed_app_id,
            })
            .to_string()
        }
    };
    println!("{out}");
    Ok(())
}
