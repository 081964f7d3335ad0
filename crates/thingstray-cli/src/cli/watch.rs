//! `thingstray watch [--json]`: one line per device change, as the running `thingstray
//! serve` sees them (its one poller, through the agent socket), else from this process's
//! own reads when nothing else polls. Never a second poller beside a running server.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use thingstray::events::{describe_json, Feed};
use tokio::sync::broadcast::error::RecvError;

use super::{say, stop_signal, CliError, Ctx};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// One JSON object per line: device_id, device_label, component, capability,
    /// attribute, old, new, unit, at (UTC, Unix seconds).
    #[arg(long)]
    json: bool,
    /// When no `thingstray serve` is running: how often this process reads the devices
    /// (2 to 3600 seconds; every read is one request to SmartThings). A running server's own interval is used otherwise.
    #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(2..=3600))]
    interval: u64,
}

pub async fn run(ctx: &Ctx, a: Args) -> Result<(), CliError> {
    #[cfg(unix)]
    if !ctx.no_agent {
        match thingstray::agent::client::watch(&ctx.paths, thingstray::agent::client::TIMEOUT).await {
            Ok(mut w) => {
                say(&format!(
                    "thingstray: watching `{}` through the running app or server (it reads every {} s; Ctrl-C stops)",
                    w.connection, w.interval_s
                ));
                while let Some(line) = w.next().await {
                    match line {
                        thingstray::agent::client::Watched::Change(c) => print(&c, a.json)?,
                        thingstray::agent::client::Watched::Missed(n) => {
                            say(&format!("thingstray: missed {n} changes"))
                        }
                    }
                }
                return Err(CliError::Failed("the server stopped; run `thingstray watch` again".into()));
            }
            Err(why) => tracing::debug!("not through an agent: {why}"),
        }
    }
    // Nothing else polls: this process is the one poller.
    let conn = ctx.open_long_lived().await?;
    let refresher = conn.session.spawn_refresher();
    let feed =
        Feed::for_api(conn.api.clone(), Duration::from_secs(a.interval), Arc::new(thingstray::clock::SystemClock));
    let mut rx = feed.subscribe();
    let stopped = stop_signal();
    tokio::pin!(stopped);
    say(&format!("thingstray: watching `{}`, reading the devices every {} s (Ctrl-C stops)", conn.name, a.interval));
    let result = loop {
        tokio::select! {
            got = rx.recv() => match got {
                Ok(change) => {
                    let v = serde_json::to_value(&*change).unwrap_or_default();
                    if let Err(e) = print(&v, a.json) {
                        break Err(e);
                    }
                }
                Err(RecvError::Lagged(n)) => say(&format!("thingstray: missed {n} changes")),
                Err(RecvError::Closed) => break Ok(()),
            },
            _ = &mut stopped => break Ok(()),
        }
    };
    refresher.abort();
    result
}

/// One change on stdout. A closed stdout (`watch | head -3`) ends the command quietly.
fn print(change: &serde_json::Value, json: bool) -> Result<(), CliError> {
    let line = if json { change.to_string() } else { describe_json(change) };
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").and_then(|_| out.flush()).map_err(|_| CliError::Silent(0))
}
