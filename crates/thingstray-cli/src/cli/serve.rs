//! `thingstray serve`: the local token server and API proxy (see `thingstray::serve`),
//! until SIGTERM or Ctrl-C. `--print-secret` shows the secret scripts must send.

use std::io::Write;
use std::net::IpAddr;
use std::time::Duration;

use thingstray::config::Config;
use thingstray::serve::{check_loopback, ServeOptions, ServerSecret, TokenServer, DEFAULT_ADDRS};
use thingstray::session::Status;
use thingstray::vault::Vault;

use super::{CliError, Ctx};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The port (0: a free one, printed at start).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// An address to listen on, repeatable. Only 127.0.0.1 and ::1 are accepted; the
    /// default is both.
    #[arg(long, value_name = "ADDR")]
    bind: Vec<String>,
    /// Print the server secret (created the first time) and exit.
    #[arg(long)]
    print_secret: bool,
    /// Replace the server secret, print the new one and exit; the old one stops working
    /// once the server restarts.
    #[arg(long, conflicts_with = "print_secret")]
    rotate_secret: bool,
}

impl Args {
    pub fn is_one_shot(&self) -> bool {
        self.print_secret || self.rotate_secret
    }
}

pub async fn run(ctx: &Ctx, a: Args) -> Result<(), CliError> {
    let addrs = parse_addrs(&a.bind)?;
    if a.is_one_shot() {
        let config = Config::load(&ctx.paths)?;
        let vault = Vault::open(&config, &ctx.paths)?;
        let secret = if a.rotate_secret {
            ServerSecret::rotate(&vault).await?
        } else {
            ServerSecret::load_or_create(&vault).await?
        };
        println!("{}", secret.expose());
        return Ok(());
    }

    let conn = ctx.open_long_lived().await?;
    let secret = ServerSecret::load_or_create(conn.session.vault()).await?;
    if let Status::SignedOut | Status::NeedsSignIn { .. } = conn.session.status() {
        tracing::warn!(connection = %conn.name, "not signed in: token requests get 503 until `thingstray login` succeeds");
    }
    let refresher = conn.session.spawn_refresher();
    let opts = ServeOptions { addrs, port: a.port, api_url: conn.settings.api_url.clone() };
    let server = TokenServer::start(conn.session.clone(), secret, opts).await?;
    {
        let mut out = std::io::stdout().lock();
        for addr in server.addrs() {
            let _ = writeln!(out, "listening on http://{addr}");
        }
        let _ = out.flush();
    }
    eprintln!(
        // The secret goes through a pipe, not curl's argv (which every local user can read).
        "Try: printf 'Authorization: Bearer %s\\n' \"$(thingstray serve --print-secret)\" | curl -H @- http://127.0.0.1:{}/v1/token",
        server.port()
    );
    stop_signal().await;
    tracing::info!("stopping");
    server.shutdown(Duration::from_secs(5)).await;
    refresher.abort();
    // A pair the vault refused is the only live refresh token: store it before exiting.
    if let Err(e) = conn.session.flush(Duration::from_secs(10)).await {
        eprintln!("thingstray: the new sign-in could not be saved ({e}); run `thingstray login` once the keychain works");
        return Err(e.into());
    }
    Ok(())
}

fn parse_addrs(bind: &[String]) -> Result<Vec<IpAddr>, CliError> {
    if bind.is_empty() {
        return Ok(DEFAULT_ADDRS.to_vec());
    }
    bind.iter()
        .map(|b| {
            let ip: IpAddr = match b.as_str() {
                "localhost" => DEFAULT_ADDRS[0],
                s => s.trim_start_matches('[').trim_end_matches(']').parse().map_err(|_| {
                    CliError::Usage(format!("`{b}` is not an IP address; the token server listens on 127.0.0.1 or ::1"))
                })?,
            };
            check_loopback(ip).map_err(|e| CliError::Usage(e.to_string()))?;
            Ok(ip)
        })
        .collect()
}

/// SIGTERM (systemd, docker stop) or Ctrl-C.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
