//! `thingstray logout`: forgets this connection's tokens here. SmartThings keeps the
//! authorization (the "linked service") until the user removes it in the app, so say how.

use super::{CliError, Ctx};

pub async fn run(ctx: &Ctx) -> Result<(), CliError> {
    let conn = ctx.open().await?;
    conn.session.sign_out().await?;
    println!(
        "Signed out of connection `{}`: its tokens are removed from {}.",
        conn.name,
        conn.session.vault().describe()
    );
    eprintln!(
        "The settings and client secret are kept; `thingstray login` signs in again.\n\
         SmartThings still lists the authorization. To remove it there too: in the SmartThings app open \
         Menu > Settings > Linked services (called Connected services in some versions), pick the app{} \
         and remove it. The desktop app and any `thingstray serve` using this connection stop getting tokens.",
        conn.settings.location_name.as_deref().map(|l| format!(" under `{l}`")).unwrap_or_default()
    );
    Ok(())
}
