//! `thingstray app`: the OAuth-In app itself, through SmartThings' REST API with a
//! personal access token read from SMARTTHINGS_PAT or stdin (hidden at a terminal), never
//! from argv. The token is used for the calls of this one command and forgotten.
//!
//!   app create [--name NAME]      creates the app and saves the connection, as `setup` does
//!   app check [--json]            exit 0 when the app matches the settings, 1 when not
//!   app repair [--new-secret]     adds the redirect URI and scopes; a new client secret
//!   app delete [--yes]            asks first

use std::io::{IsTerminal, Read, Write};

use secrecy::{ExposeSecret, SecretString};
use thingstray::apps::{self, AppCheck, NewApp, Pat, PAT_BOXES, PAT_PAGE};
use thingstray::config::{Config, Paths};
use thingstray::vault::Vault;

use super::{CliError, Ctx};

pub(super) const PAT_ENV: &str = "SMARTTHINGS_PAT";

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    cmd: AppCmd,
}

#[derive(clap::Subcommand, Debug)]
enum AppCmd {
    /// Create the OAuth-In app (API_ONLY, ThingsTray's redirect URI and scopes) and save it
    /// as a new connection; the client id is the last line printed. Next: `thingstray login`.
    Create(CreateArgs),
    /// Compare the app's redirect URIs and scopes with the connection's settings: exit 0
    /// when they match, 1 when not (each difference on its own line).
    Check(CheckArgs),
    /// Fix what `app check` finds (adds the redirect URI and scopes; other URIs are kept);
    /// --new-secret issues a new client id and secret and saves them (sign in again after).
    Repair(RepairArgs),
    /// Delete the app from SmartThings: every sign-in of it ends. Asks first.
    Delete(DeleteArgs),
}

#[derive(clap::Args, Debug)]
struct CreateArgs {
    /// The app's display name (default: "ThingsTray (this computer's name)").
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// SmartThings' API base (for a simulator).
    #[arg(long, value_name = "URL")]
    api_url: Option<String>,
    /// SmartThings' OAuth base (for a simulator).
    #[arg(long, value_name = "URL")]
    auth_url: Option<String>,
    /// Make the new connection the default one.
    #[arg(long)]
    default: bool,
    /// Where the client secret lives: the system keychain (default), or `file` on a
    /// machine without one (a file readable by your user only).
    #[arg(long, value_enum)]
    vault: Option<super::setup::VaultChoice>,
}

#[derive(clap::Args, Debug)]
struct CheckArgs {
    /// The app's id, when ThingsTray cannot find it (an app made elsewhere, never signed in).
    #[arg(long, value_name = "ID")]
    app_id: Option<String>,
    /// Print the app and the settings side by side as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
struct RepairArgs {
    #[arg(long, value_name = "ID")]
    app_id: Option<String>,
    /// Also issue a new client id and secret (when the old secret is lost).
    #[arg(long)]
    new_secret: bool,
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
struct DeleteArgs {
    /// Delete this app (default: the connection's).
    #[arg(long, value_name = "ID")]
    app_id: Option<String>,
    /// With --app-id and no connection: SmartThings' API base.
    #[arg(long, value_name = "URL")]
    api_url: Option<String>,
    /// Do not ask (needed when stdin is not a terminal).
    #[arg(long, short)]
    yes: bool,
}

pub async fn run(ctx: &Ctx, a: Args) -> Result<(), CliError> {
    let http = thingstray::http::client(std::time::Duration::from_secs(30))?;
    match a.cmd {
        AppCmd::Create(c) => {
            let pat = read_pat()?;
            let mut config = Config::load(&ctx.paths)?;
            if let Some(v) = c.vault {
                config.vault = v.kind();
                let kind = config.vault;
                Config::update(&ctx.paths, |cfg| {
                    cfg.vault = kind;
                    Ok(())
                })?;
            }
            let vault = Vault::open(&config, &ctx.paths)?;
            let new = NewApp {
                connection: ctx.connection.clone(),
                display_name: c.name,
                api_url: c.api_url,
                auth_url: c.auth_url,
            };
            let created = apps::create(&ctx.paths, &vault, pat, new, http).await?;
            if c.default {
                Config::update(&ctx.paths, |cfg| {
                    cfg.default_connection = Some(created.connection.clone());
                    Ok(())
                })?;
            }
            eprintln!(
                "Created the OAuth-In app \"{}\" (app id {}) and saved connection `{}` (client secret in: {}).",
                created.display_name,
                created.app_id,
                created.connection,
                vault.describe()
            );
            eprintln!("Next: `thingstray{} login` to sign in.", flag(&created.connection, &ctx.paths));
            println!("{}", created.client_id);
            Ok(())
        }
        AppCmd::Check(c) => {
            let check =
                apps::check(&ctx.paths, ctx.connection.as_deref(), c.app_id.as_deref(), read_pat()?, http).await?;
            print_check(&check, c.json);
            if check.matches {
                Ok(())
            } else {
                Err(CliError::Silent(1))
            }
        }
        AppCmd::Repair(r) => {
            let pat = read_pat()?;
            let config = Config::load(&ctx.paths)?;
            let vault = Vault::open(&config, &ctx.paths)?;
            let done = apps::repair(
                &ctx.paths,
                &vault,
                ctx.connection.as_deref(),
                r.app_id.as_deref(),
                pat,
                r.new_secret,
                http,
            )
            .await?;
            if r.json {
                println!("{}", serde_json::to_string_pretty(&done).unwrap_or_default());
            } else {
                if done.changed.is_empty() {
                    println!("Nothing to repair: the app matches the settings.");
                }
                for line in &done.changed {
                    println!("{line}");
                }
                print_check(&done.check, false);
            }
            if done.new_secret {
                eprintln!(
                    "Next: `thingstray{} login`: the new client id ends the old sign-in.",
                    flag(&done.check.connection, &ctx.paths)
                );
            }
            if done.check.matches {
                Ok(())
            } else {
                Err(CliError::Silent(1))
            }
        }
        AppCmd::Delete(d) => {
            let interactive = std::io::stdin().is_terminal();
            if !d.yes && !interactive {
                return Err(CliError::Usage("`app delete` asks first; with no terminal to ask at, add --yes".into()));
            }
            let pat = read_pat()?;
            if !d.yes {
                let what = d
                    .app_id
                    .clone()
                    .map(|id| format!("the app {id}"))
                    .unwrap_or_else(|| "this connection's app".into());
                eprint!(
                    "Delete {what} from SmartThings? Every sign-in made with it ends, on every computer. Type yes: "
                );
                let _ = std::io::stderr().flush();
                let mut answer = String::new();
                std::io::stdin()
                    .read_line(&mut answer)
                    .map_err(|e| CliError::Failed(format!("could not read the answer: {e}")))?;
                if answer.trim() != "yes" {
                    return Err(CliError::Failed("Nothing was deleted.".into()));
                }
            }
            let done = apps::delete(
                &ctx.paths,
                ctx.connection.as_deref(),
                d.app_id.as_deref(),
                d.api_url.as_deref(),
                pat,
                http,
            )
            .await?;
            println!("Deleted the app {} from SmartThings.", done.app_id);
            if let Some(c) = done.connection {
                eprintln!("Connection `{c}` can no longer sign in or refresh; remove it, or make it a new app with `thingstray app create`.");
            }
            Ok(())
        }
    }
}

fn flag(connection: &str, paths: &Paths) -> String {
    let default = Config::load(paths).ok().and_then(|c| c.default_connection);
    if default.as_deref() == Some(connection) {
        String::new()
    } else {
        format!(" --connection {connection}")
    }
}

fn print_check(c: &AppCheck, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(c).unwrap_or_default());
        return;
    }
    let list = |v: &[String]| if v.is_empty() { "(none)".to_string() } else { v.join(" ") };
    eprintln!("App \"{}\" ({}) for connection `{}`:", c.display_name, c.app_id, c.connection);
    eprintln!("  redirect URI   ThingsTray: {}", c.redirect_uri);
    eprintln!("                 the app:    {}", list(&c.registered_redirect_uris));
    eprintln!("  scopes         ThingsTray: {}", list(&c.scopes));
    eprintln!("                 the app:    {}", list(&c.registered_scopes));
    if c.matches {
        println!("The app matches the settings.");
    }
    for d in &c.differences {
        println!("{}", d.message);
    }
    if !c.matches {
        eprintln!("Fix it: `thingstray app repair` (the same token on stdin or in {PAT_ENV}).");
    }
}

/// The personal access token: SMARTTHINGS_PAT, else stdin (hidden at a terminal, after
/// saying where to make one and which boxes to tick), else the first line piped in.
fn read_pat() -> Result<Pat, CliError> {
    let raw = if let Ok(s) = std::env::var(PAT_ENV) {
        s
    } else if std::io::stdin().is_terminal() {
        eprintln!("ThingsTray needs a SmartThings personal access token for this, once: make one at {PAT_PAGE}");
        eprintln!("with these boxes ticked (nothing else is needed; it is used now and never kept):");
        for b in PAT_BOXES {
            eprintln!("  [x] {:<40} {}: {}", b.label, b.scope, b.why);
        }
        rpassword::prompt_password("Personal access token (input hidden): ")
            .map_err(|e| CliError::Failed(format!("could not read the token: {e}")))?
    } else {
        let mut s = String::new();
        std::io::stdin()
            .take(4096)
            .read_to_string(&mut s)
            .map_err(|e| CliError::Failed(format!("could not read the token from stdin: {e}")))?;
        // Whatever else was piped is wiped with it.
        let all = SecretString::from(s);
        all.expose_secret().lines().next().unwrap_or("").to_string()
    };
    let pasted = SecretString::from(raw);
    Ok(Pat::new(&pasted)?)
}
