//! `thingstray share ...` on the computer that owns the sign-in (the one running
//! `thingstray serve --share` or the desktop app with sharing on): invite a computer, list
//! the paired ones, revoke one.

use std::time::SystemTime;

use serde_json::json;
use thingstray::config::Config;
use thingstray::connection::Options;
use thingstray::owner::listening::Listening;
use thingstray::owner::server::make_invite;
use thingstray::owner::take_over::{take_over_from, unconfirmed, Start};
use thingstray::owner::{Identity, Registry};
use thingstray::share::pairing::this_computer;
use thingstray::vault::Vault;

use super::{utc, CliError, Ctx};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    cmd: ShareCmd,
}

#[derive(clap::Subcommand, Debug)]
enum ShareCmd {
    /// Make a one-time invite (valid 10 minutes) for another computer; the invite is the
    /// last line of the output (`thingstray share invite | tail -1`).
    Invite {
        /// List the invited computer under this name (default: the name it gives itself).
        #[arg(long)]
        name: Option<String>,
    },
    /// The computers paired with this one: name, paired since, last seen, revoked.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Stop giving tokens to the computer NAME; it is told it was revoked.
    Revoke { name: String },
    /// Offer this computer's session to the paired computer NAME (for 10 minutes): it
    /// becomes the owner with `thingstray share take-over`, and this one is paired with it.
    HandOver { name: String },
    /// On a paired computer: take the session over from its owner (which offered it with
    /// `share hand-over`), without a new sign-in. Then run `thingstray serve --share` here.
    /// A take-over cut off halfway carries on where it stopped when run again.
    TakeOver {
        /// Where the old owner will reach this computer's share listener (HOST or
        /// HOST:PORT; default: this computer's outward address, port 8766).
        #[arg(long, value_name = "HOST[:PORT]")]
        advertise: Option<String>,
        /// Only finish a take-over begun before (cut off, or its old owner unreachable
        /// then); never begin a new one.
        #[arg(long)]
        resume: bool,
    },
}

pub async fn run(ctx: &Ctx, a: Args) -> Result<(), CliError> {
    let registry = Registry::open(&ctx.paths);
    match a.cmd {
        ShareCmd::Invite { name } => {
            let listening = Listening::find(&ctx.paths)?;
            let config = Config::load(&ctx.paths)?;
            let vault = Vault::open(&config, &ctx.paths)?;
            let identity = Identity::load_or_create(&vault).await?;
            let invite = make_invite(
                &registry,
                identity.fingerprint(),
                &listening.at,
                &this_computer(),
                name.as_deref(),
                SystemTime::now(),
            )?;
            // `connect -`, not the line as an argument: the code stays out of the process
            // list and the shell's history.
            eprintln!("On the other computer, within 10 minutes, run");
            eprintln!("  thingstray connect -");
            eprintln!("and paste the invite below (or paste it into ThingsTray's first-run window). It works once.");
            eprintln!("This computer's fingerprint: {}", identity.fingerprint().short());
            println!("{}", invite.to_line());
        }
        ShareCmd::List { json } => {
            let computers = registry.list()?;
            let secs = |ms: u64| ms / 1000;
            if json {
                let v: Vec<_> = computers
                    .iter()
                    .map(|c| {
                        json!({
                            "name": c.name,
                            "paired_at": secs(c.created_ms),
                            "last_seen_at": c.last_seen_ms.map(secs),
                            "revoked_at": c.revoked_ms.map(secs),
                        })
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(v));
            } else if computers.is_empty() {
                println!("No computer is paired with this one. Make an invite with `thingstray share invite`.");
            } else {
                println!("{:<24} {:<24} {:<24} STATE", "NAME", "PAIRED", "LAST SEEN");
                for c in &computers {
                    let seen = c.last_seen_ms.map_or("never".to_string(), |ms| utc(secs(ms)));
                    let state = match c.revoked_ms {
                        Some(ms) => format!("revoked {}", utc(secs(ms))),
                        None => "paired".into(),
                    };
                    println!("{:<24} {:<24} {:<24} {state}", c.name, utc(secs(c.created_ms)), seen);
                }
            }
        }
        ShareCmd::Revoke { name } => {
            registry.revoke(&name, SystemTime::now())?;
            println!("Revoked `{name}`: its next request for a token is refused.");
            eprintln!(
                "The access token `{name}` may already hold is this computer's own and works until it expires (at most 24 h). \
                 To end it at once: `thingstray app repair --new-secret` (then sign in again here)."
            );
        }
        ShareCmd::HandOver { name } => {
            Listening::find(&ctx.paths)?;
            registry.offer_hand_over(&name, SystemTime::now())?;
            println!("Offered this computer's session to `{name}`. On {name}, within 10 minutes, run: thingstray share take-over");
        }
        ShareCmd::TakeOver { advertise, resume } => {
            let config = Config::load(&ctx.paths)?;
            let vault = Vault::open(&config, &ctx.paths)?;
            let start = if resume { Start::Resume } else { Start::Begin };
            let conn = take_over_from(
                &ctx.paths,
                &vault,
                ctx.connection.as_deref(),
                advertise.as_deref(),
                Options::default(),
                start,
            )
            .await?;
            println!(
                "`{}` is this computer's own now. Start `thingstray serve --share` here: the old owner and the other computers get their tokens from it.",
                conn.name
            );
            if let Some(old) = unconfirmed(&ctx.paths, &conn.name) {
                eprintln!(
                    "{old} has not heard yet that this computer holds the session (it keeps a copy it no longer refreshes). \
                     Once {old} is reachable, run `thingstray share take-over --resume` here to tell it."
                );
            }
        }
    }
    Ok(())
}
