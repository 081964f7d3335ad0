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
        any_needs_sign_in |= matches!(status, Status::SignedOut | Status::NeedsSignIn { .. });
        report.push((name.clone(), settings.location_name.clone(), default.as_deref() == Some(&name), status));
    }
    if a.json {
        let v: Vec<_> = report
            .iter()
            .map(|(name, location, is_default, status)| {
                json!({ "connection": name, "location": location, "default": is_default, "status": status })
            })
            .collect();
        println!("{}", serde_json::Value::Array(v));
    } else {
        for (name, location, is_default, status) in &report {
            let mut head = format!("{name}{}", if *is_default { " (default)" } else { "" });
            if let Some(l) = location {
                head.push_str(&format!(", location `{l}`"));
            }
            println!("{head}: {}", describe(status));
        }
    }
    // Scripts can branch on the exit code as with `token`.
    if any_needs_sign_in {
        return Err(CliError::Silent(4));
    }
    Ok(())
}

fn describe(s: &Status) -> String {
    let now = now_unix();
    let until = |t: u64| format!("{} (in {})", utc(t), span(t.saturating_sub(now)));
    match s {
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
        Status::NeedsSignIn { reason } => format!("needs sign-in: {reason}"),
    }
}
