//! `thingstray status`: each connection's state as the core session reports it.

use serde_json::json;
use thingstray::config::Config;
use thingstray::session::Status;
use thingstray::Connection;

use super::{now_unix, CliError, Ctx};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// One JSON object per connection, in an array: name, location, default, status
    /// (`state`: signed_out, connected, refreshing, retrying, needs_sign_in).
    #[arg(long)]
    json: bool,
}

pub async fn run(ctx: &Ctx, a: Args) -> Result<(), CliError> {
    if let Some(store) = &ctx.store {
        return super::store::status(store, a.json).await;
    }
    let config = Config::load(&ctx.paths)?;
    if config.connections.is_empty() {
        return Err(CliError::NeedsSetup);
    }
    let names: Vec<String> = match &ctx.connection {
        Some(n) => vec![config.connection(Some(n))?.0],
        None => config.connections.keys().cloned().collect(),
    };
    let default = config.connection(None).ok().map(|(n, _)| n);
    // What the running app or `serve` holds, live (its retry state included); the rest
    // from the vault.
    let mut live = std::collections::HashMap::new();
    #[cfg(unix)]
    if !ctx.no_agent {
        match thingstray::agent::client::status(&ctx.paths, thingstray::agent::client::TIMEOUT).await {
            Ok(rows) => {
                tracing::info!(connections = rows.len(), "status from the agent");
                live.extend(rows.into_iter().map(|r| (r.connection.clone(), r)));
            }
            Err(why) => tracing::info!("status from the vault: {why}"),
        }
    }
    let mut report = Vec::new();
    let mut any_needs_sign_in = false;
    for name in names {
        let settings = &config.connections[&name];
        let owner = settings.owner().map(str::to_string);
        let (status, text, needs_action) = match live.remove(&name) {
            Some(r) => (r.status, r.text, r.needs_action),
            None => {
                let status = match Connection::open(&ctx.paths, Some(&name)).await {
                    Ok(c) => c.session.status(),
                    Err(e) if e.needs_sign_in() => Status::NeedsSignIn { reason: e },
                    Err(e) => return Err(e.into()),
                };
                let text = status.describe(now_unix(), owner.as_deref());
                let needs = status.needs_action(owner.is_some());
                (serde_json::to_value(&status).unwrap_or_default(), text, needs)
            }
        };
        any_needs_sign_in |= needs_action;
        report.push(Row {
            name: name.clone(),
            location: settings.location_name.clone(),
            is_default: default.as_deref() == Some(&name),
            owner,
            status,
            text,
        });
    }
    if a.json {
        let v: Vec<_> = report
            .iter()
            .map(|r| {
                json!({
                    "connection": r.name,
                    "location": r.location,
                    "default": r.is_default,
                    "paired_with": r.owner,
                    "status": r.status,
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(v));
    } else {
        for r in &report {
            let mut head = format!("{}{}", r.name, if r.is_default { " (default)" } else { "" });
            if let Some(l) = &r.location {
                head.push_str(&format!(", location `{l}`"));
            }
            if let Some(o) = &r.owner {
                head.push_str(&format!(", paired with {o}"));
            }
            println!("{head}: {}", r.text);
        }
    }
    // Scripts can branch on the exit code as with `token`.
    if any_needs_sign_in {
        return Err(CliError::Silent(4));
    }
    Ok(())
}

struct Row {
    name: String,
    location: Option<String>,
    is_default: bool,
    /// The computer it gets its tokens from, for a paired connection.
    owner: Option<String>,
    /// The session's status object, as `--json` prints it.
    status: serde_json::Value,
    text: String,
}
