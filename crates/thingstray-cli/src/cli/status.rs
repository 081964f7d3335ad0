//! `thingstray status`: each connection's state as the core session reports it.

use serde_json::json;
use thingstray::config::Config;
use thingstray::session::Status;
use thingstray::Connection;

use super::{now_unix, span, utc, CliError, Ctx};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// One JSON object per connection, in an array: name, location, default, status
    /// (`state`: signed_out, connected, refreshing, retrying, needs_sign_in).
    #[arg(long)]
    json: bool,
}

pub async fn run(ctx: &Ctx, a: Args) -> Result<(), CliError> {
    let config = Config::load(&ctx.paths)?;
    if config.connections.is_empty() {
        return Err(CliError::NeedsSetup);
    }
    let names: Vec<String> = match &ctx.connection {
        Some(n) => vec![config.connection(Some(n))?.0],
        None => config.connections.keys().cloned().collect(),
    };
    let default = config.connection(None).ok().map(|(n, _)| n);
    let mut report = Vec::new();
    let mut any_needs_sign_in = false;
    for name in names {
        let settings = &config.connections[&name];
        let status = match Connection::open(&ctx.paths, Some(&name)).await {
            Ok(c) => c.session.status(),
            Err(e) if e.needs_sign_in() => Status::NeedsSignIn { reason: e },
            Err(e) => return Err(e.into()),
        };
        // A paired computer without a token yet fetches one when asked: nothing to do.
        any_needs_sign_in |= match status {
            Status::SignedOut => settings.paired.is_none(),
            Status::NeedsSignIn { .. } => true,
            _ => false,
        };
        report.push(Row {
            name: name.clone(),
            location: settings.location_name.clone(),
            is_default: default.as_deref() == Some(&name),
            owner: settings.owner().map(str::to_string),
            status,
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
            println!("{head}: {}", describe(&r.status, r.owner.as_deref()));
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
    status: Status,
}

fn describe(s: &Status, owner: Option<&str>) -> String {
    let now = now_unix();
    let until = |t: u64| format!("{} (in {})", utc(t), span(t.saturating_sub(now)));
    match s {
        Status::SignedOut if owner.is_some() => "no token yet; it is fetched from the owner when needed.".into(),
        Status::SignedOut => "signed out. Run `thingstray login`.".into(),
        Status::Connected { expires_at, next_refresh_at, warning } => {
            let mut out = format!(
                "connected; token valid until {}; next refresh at {}",
                until(*expires_at),
                utc(*next_refresh_at)
            );
            if let Some(w) = warning {
                out.push_str(&format!("\n  warning: {w}"));
            }
            out
        }
        Status::Refreshing { expires_at } => format!("refreshing; current token valid until {}", until(*expires_at)),
        Status::Retrying { expires_at, next_attempt_at, attempt, last_error, .. } => format!(
            "retrying (attempt {attempt}, next at {}); current token valid until {}. Last error: {last_error}",
            utc(*next_attempt_at),
            until(*expires_at)
        ),
        Status::NeedsSignIn { reason } if owner.is_some() => format!("no tokens: {reason}"),
        Status::NeedsSignIn { reason } => format!("needs sign-in: {reason}"),
    }
}
