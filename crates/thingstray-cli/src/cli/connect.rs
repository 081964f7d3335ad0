//! `thingstray connect INVITE`: pair this computer with the one that owns the SmartThings
//! sign-in, instead of signing the same app in here too (which would end the owner's
//! session: SmartThings keeps one sign-in per app and location).

use thingstray::config::Config;
use thingstray::connection::paired::connect;
use thingstray::connection::Options;
use thingstray::share::pairing::this_computer;
use thingstray::share::Invite;
use thingstray::vault::Vault;

use super::{CliError, Ctx};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The line `thingstray share invite` printed on the owner (thingstray://pair?...), or
    /// `-` to read it from standard input (keeps its one-time code out of the process
    /// list and the shell's history; it is single use and dies after 10 minutes anyway).
    invite: String,
    /// The name the owner lists this computer under (default: its host name).
    #[arg(long, value_name = "NAME")]
    computer_name: Option<String>,
}

pub async fn run(ctx: &Ctx, a: Args) -> Result<(), CliError> {
    let line = if a.invite == "-" {
        use std::io::IsTerminal;
        if std::io::stdin().is_terminal() {
            eprintln!("Paste the invite (thingstray://pair?...) and press Enter:");
        }
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| CliError::Failed(format!("Could not read the invite from stdin: {e}")))?;
        line
    } else {
        a.invite
    };
    let invite = Invite::parse(line.trim())?;
    let config = Config::load(&ctx.paths)?;
    let vault = Vault::open(&config, &ctx.paths)?;
    let name = ctx.connection.clone().unwrap_or_else(|| config.free_name());
    let computer = a.computer_name.unwrap_or_else(this_computer);
    let conn = connect(&ctx.paths, &vault, &invite, &name, &computer, Options::default()).await?;
    let location = conn.settings.location_name.as_deref().map(|l| format!(" (location `{l}`)")).unwrap_or_default();
    println!(
        "Connected `{}`{location} through {}: tokens come from it, devices are reached directly. Try `thingstray devices`.",
        conn.name, invite.owner
    );
    Ok(())
}
