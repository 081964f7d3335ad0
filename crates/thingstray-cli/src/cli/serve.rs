//! `thingstray serve`: the local token server and API proxy (see `thingstray::serve`),
//! until SIGTERM or Ctrl-C. `--print-secret` shows the secret scripts must send.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use thingstray::clock::{Clock, SystemClock};
use thingstray::config::Config;
use thingstray::owner::listening::Listening;
use thingstray::owner::{Identity, Registry, ShareOptions, ShareServer, ShareSource, DEFAULT_PORT};
use thingstray::schema::CallbackHosts;
use thingstray::serve::Limits;
use thingstray::serve::{check_loopback, ServeOptions, ServerSecret, TokenServer, DEFAULT_ADDRS};
use thingstray::session::Status;
use thingstray::share::pairing::this_computer;
use thingstray::vault::Vault;
use thingstray::Connection;

use super::{say, stop_signal, CliError, Ctx};

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
    /// Also share this connection with other computers (TLS only; they pair with
    /// `thingstray share invite` here and `thingstray connect` there).
    #[arg(long)]
    share: bool,
    /// Where the share listener listens (default 0.0.0.0:8766: every interface, so the
    /// other computers on this network reach it). With --store: where the token service
    /// listens (default 127.0.0.1:8788).
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Option<SocketAddr>,
    /// The address invites name (HOST or HOST:PORT), when the one ThingsTray finds is not
    /// the one the other computers reach (NAT, a DNS name).
    #[arg(long, value_name = "HOST[:PORT]", requires = "share")]
    advertise: Option<String>,
    /// How often the change feed reads the devices while someone listens (`thingstray
    /// watch`, `GET /v1/events`); nothing is read while nobody does. 2 to 3600.
    #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(2..=3600))]
    events_interval: u64,
    /// With --store: at most this many token refreshes a second for the whole service,
    /// every replica together (give each replica the same figure).
    #[arg(long, value_name = "PER_SECOND", default_value_t = 20.0, value_parser = positive_rate)]
    refresh_rate: f64,
    /// With --store: accept ST Schema grants whose callback URLs are on this machine's
    /// loopback (a simulator), not only SmartThings'.
    #[arg(long, hide = true)]
    loopback_callbacks: bool,
}

fn positive_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        _ => Err(format!("{s:?} is not a number of refreshes a second above 0 (say 20, or 0.5)")),
    }
}

impl Args {
    pub fn is_one_shot(&self) -> bool {
        self.print_secret || self.rotate_secret
    }
}

pub async fn run(ctx: &Ctx, a: Args) -> Result<(), CliError> {
    if let Some(store) = &ctx.store {
        if a.share || !a.bind.is_empty() || a.port != 0 {
            return Err(CliError::Usage("with --store, say where the service listens with --listen ADDR:PORT (--share, --bind and --port are this machine's token server's)".into()));
        }
        if a.is_one_shot() {
            return super::store::print_secret(store, a.rotate_secret).await;
        }
        let hosts = if a.loopback_callbacks { CallbackHosts::AlsoLoopback } else { CallbackHosts::SmartThings };
        return super::store::serve(store, a.listen, hosts, a.refresh_rate, stop_signal()).await;
    }
    if a.listen.is_some() && !a.share {
        return Err(CliError::Usage(
            "--listen is where the share listener listens: add --share (or --store for a token service)".into(),
        ));
    }
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

    let stopped = stop_signal();
    let conn = ctx.open_long_lived().await?;
    let secret = ServerSecret::load_or_create(conn.session.vault()).await?;
    if let Status::SignedOut | Status::NeedsSignIn { .. } = conn.session.status() {
        tracing::warn!(connection = %conn.name, "not signed in: token requests get 503 until `thingstray login` succeeds");
    }
    let refresher = conn.session.spawn_refresher();
    // One change feed for `watch` (through the agent) and `/v1/events`: one poller.
    let feed = thingstray::events::Feed::for_api(
        conn.api.clone(),
        Duration::from_secs(a.events_interval),
        std::sync::Arc::new(thingstray::clock::SystemClock),
    );
    let feed_of: thingstray::events::FeedOf = {
        let (name, feed) = (conn.name.clone(), feed.clone());
        std::sync::Arc::new(move || Ok((name.clone(), feed.clone())))
    };
    // The CLI on this machine asks this process first (agent/): no keychain read per call.
    #[cfg(unix)]
    let _agent = if ctx.no_agent {
        None
    } else {
        let source = thingstray::agent::AgentSource {
            feed: Some(feed_of.clone()),
            ..thingstray::agent::AgentSource::one(conn.clone())
        };
        match thingstray::agent::server::Agent::start(&ctx.paths, source).await {
            Ok(agent) => Some(agent),
            Err(e) => {
                tracing::warn!("no agent: {e}");
                None
            }
        }
    };
    let opts = ServeOptions { addrs, port: a.port, api_url: conn.settings.api_url.clone(), events: Some(feed_of) };
    let server = TokenServer::start(conn.session.clone(), secret, opts).await?;
    {
        let mut out = std::io::stdout().lock();
        for addr in server.addrs() {
            let _ = writeln!(out, "listening on http://{addr}");
        }
        let _ = out.flush();
    }
    // A hand-over this computer decided and its new owner has not confirmed: the new owner
    // must be able to ask again (owner/hand_over.rs), so the listener runs, sharing or not.
    let handing = thingstray::owner::hand_over::unfinished(&ctx.paths, &conn.name);
    if let (false, Some(g)) = (a.share, &handing) {
        say(&format!(
            "thingstray: handing `{}` over to {} is not finished: the share listener answers it until {} confirms",
            conn.name, g.to.owner, g.to.owner
        ));
    }
    let share = if a.share || handing.is_some() {
        Some(start_sharing(ctx, &conn, a.listen, a.advertise.as_deref()).await?)
    } else {
        None
    };
    say(&format!(
        // The secret goes through a pipe, not curl's argv (which every local user can read).
        "Try: printf 'Authorization: Bearer %s\\n' \"$(thingstray serve --print-secret)\" | curl -H @- http://127.0.0.1:{}/v1/token",
        server.port()
    ));
    stopped.await;
    tracing::info!("stopping");
    if let Some(share) = share {
        Listening::remove(&ctx.paths);
        share.shutdown(Duration::from_secs(5)).await;
    }
    server.shutdown(Duration::from_secs(5)).await;
    refresher.abort();
    // A pair the vault refused is the only live refresh token: store it before exiting.
    if let Err(e) = conn.session.flush(Duration::from_secs(10)).await {
        say(&format!(
            "thingstray: the new sign-in could not be saved ({e}); run `thingstray login` once the keychain works"
        ));
        return Err(e.into());
    }
    Ok(())
}

/// The share listener beside the token server: the same session, a TLS port of its own.
async fn start_sharing(
    ctx: &Ctx,
    conn: &Connection,
    listen: Option<SocketAddr>,
    advertise: Option<&str>,
) -> Result<ShareServer, CliError> {
    if let Some(owner) = conn.owner() {
        // A chain of owners would hand out tokens no one here can refresh or revoke.
        return Err(CliError::Failed(format!(
            "`{}` is paired with {owner}, which holds the sign-in: make the invite on {owner} instead, or move the \
             sign-in here first (`thingstray share hand-over` there, `thingstray share take-over` here).",
            conn.name
        )));
    }
    let identity = Identity::load_or_create(conn.session.vault()).await?;
    let registry = Arc::new(Registry::open(&ctx.paths));
    let addr = listen.unwrap_or(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), DEFAULT_PORT));
    let opts = ShareOptions { addr, owner_name: this_computer(), limits: Limits::default() };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let server = ShareServer::start(ShareSource::One(conn.clone()), &identity, registry, clock, opts).await?;
    let listening = Listening::new(server.addr(), advertise);
    listening.write(&ctx.paths)?;
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "sharing on {} as {} (fingerprint {})",
            listening.at,
            server.owner_name(),
            identity.fingerprint().short()
        );
        let _ = out.flush();
    }
    say("Invite another computer: thingstray share invite");
    Ok(server)
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
