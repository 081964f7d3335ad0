//! `smartthings-sim`: runs the simulator from the command line for manual testing and
//! for tests in other processes. Prints its URLs and the client's credentials on stdout
//! (one `key=value` per line: base_url, api_url, auth_url, client_id, client_secret,
//! redirect_uri, schema_client_id, schema_client_secret, pat_url, pat with --pat-scopes,
//! ca_file with --tls, and users with --users above 1), logs to stderr, serves until
//! SIGINT/SIGTERM.

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use smartthings_sim::{Sim, SimClient, SimConfig};

#[derive(Parser, Debug)]
#[command(name = "smartthings-sim", version, about = "A strict SmartThings cloud simulator (OAuth2 + REST API)")]
struct Args {
    /// Port to listen on (0 = any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Address to bind; only loopback unless --allow-remote.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Serve this home directory instead of the built-in one.
    #[arg(long)]
    home: Option<PathBuf>,
    /// Skip the sign-in page: /oauth/authorize redirects with a code at once.
    #[arg(long)]
    auto_approve: bool,
    /// Access-token lifetime in seconds.
    #[arg(long, default_value_t = 86_400)]
    expires_in: u64,
    /// Refresh-token lifetime in seconds.
    #[arg(long, default_value_t = 30 * 86_400)]
    refresh_token_lifetime: u64,
    /// Authorization-code lifetime in seconds.
    #[arg(long, default_value_t = 300)]
    code_lifetime: u64,
    /// Keep every sign-in alive, even several for one (client, location). SmartThings does
    /// not: by default a new sign-in ends the older one's refresh token.
    #[arg(long)]
    many_sign_ins_per_location: bool,
    /// Add this many simple switches/dimmers to the first location.
    #[arg(long, default_value_t = 0)]
    extra_devices: usize,
    /// OAuth client id of the registered app.
    #[arg(long)]
    client_id: Option<String>,
    /// OAuth client secret of the registered app.
    #[arg(long)]
    client_secret: Option<String>,
    /// Registered redirect URI (repeatable; replaces the defaults).
    #[arg(long = "redirect-uri")]
    redirect_uri: Vec<String>,
    /// Allow binding a non-loopback address (the simulator has no real security).
    #[arg(long)]
    allow_remote: bool,
    /// How many apps the account may hold (SmartThings: 100).
    #[arg(long, default_value_t = 100)]
    max_apps: usize,
    /// How many SmartThings accounts sign in here: user 0 is the home above, users 1..N-1
    /// one location each (id 10ca7100-0000-4000-8000-<K as 12 hex digits>), built on first
    /// sign-in. Sign user K in with `sim_user=K` on the authorize URL.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=smartthings_sim::MAX_USERS as u64))]
    users: u64,
    /// Mint a personal access token with these scopes at start and print it as `pat=`
    /// (space- or comma-separated, e.g. "r:apps:* w:apps:*"); it lives 24 hours.
    #[arg(long)]
    pat_scopes: Option<String>,
    /// Answer over HTTPS (a certificate made at start), so every URL it gives out starts
    /// with https:// as SmartThings' do; prints `ca_file=` (the authority to trust).
    #[arg(long)]
    tls: bool,
    /// With --tls: also write the authority's certificate (PEM) to this file.
    #[arg(long, requires = "tls")]
    tls_cert_out: Option<PathBuf>,
}

fn parse_host(host: &str) -> Option<IpAddr> {
    if host.eq_ignore_ascii_case("localhost") {
        return Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    host.trim_start_matches('[').trim_end_matches(']').parse().ok()
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();

    let Some(ip) = parse_host(&args.host) else {
        eprintln!("smartthings-sim: --host must be an IP address or localhost, got {:?}", args.host);
        return ExitCode::from(2);
    };
    if !ip.is_loopback() && !args.allow_remote {
        eprintln!(
            "smartthings-sim: refusing to listen on {ip}: the simulator accepts a published demo secret and \
             its /__sim control endpoints need no authentication, so anyone who can reach it can control it. \
             Use a loopback address, or pass --allow-remote if you really mean it."
        );
        return ExitCode::from(2);
    }

    let mut client = SimClient::default();
    if let Some(id) = args.client_id {
        client.client_id = id;
    }
    if let Some(secret) = args.client_secret {
        client.client_secret = secret;
    }
    if !args.redirect_uri.is_empty() {
        client.redirect_uris = args.redirect_uri;
    }
    let config = SimConfig {
        addr: SocketAddr::new(ip, args.port),
        home_dir: args.home,
        auto_approve: args.auto_approve,
        expires_in: args.expires_in,
        refresh_token_lifetime: args.refresh_token_lifetime,
        code_lifetime: args.code_lifetime,
        client,
        extra_devices: args.extra_devices,
        first_location_devices: None,
        one_sign_in_per_location: !args.many_sign_ins_per_location,
        schema_partner: Default::default(),
        max_apps: args.max_apps,
        users: usize::try_from(args.users).unwrap_or(usize::MAX),
        tls: args.tls,
    };
    let sim = match Sim::start(config).await {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("smartthings-sim: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };

    if let (Some(out), Some(pem)) = (&args.tls_cert_out, sim.ca_pem()) {
        if let Err(e) = std::fs::write(out, pem) {
            eprintln!("smartthings-sim: cannot write the certificate to {} (--tls-cert-out): {e}", out.display());
            sim.shutdown().await;
            return ExitCode::FAILURE;
        }
    }

    let c = sim.client();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "base_url={}", sim.base_url());
    let _ = writeln!(out, "api_url={}", sim.api_url());
    let _ = writeln!(out, "auth_url={}", sim.auth_url());
    let _ = writeln!(out, "client_id={}", c.client_id);
    let _ = writeln!(out, "client_secret={}", c.client_secret);
    let _ = writeln!(out, "redirect_uri={}", c.redirect_uris.first().map(String::as_str).unwrap_or(""));
    let p = sim.schema_partner();
    let _ = writeln!(out, "schema_client_id={}", p.client_id);
    let _ = writeln!(out, "schema_client_secret={}", p.client_secret);
    let _ = writeln!(out, "pat_url={}/__sim/pat", sim.base_url());
    if let Some(ca) = sim.ca_file() {
        let _ = writeln!(out, "ca_file={}", ca.display());
    }
    if let Some(scopes) = &args.pat_scopes {
        let scopes: Vec<&str> =
            scopes.split(|c: char| c == ',' || c.is_whitespace()).filter(|s| !s.is_empty()).collect();
        let _ = writeln!(out, "pat={}", sim.mint_pat(&scopes, std::time::Duration::from_secs(86_400)));
    }
    if args.users > 1 {
        let _ = writeln!(out, "users={}", args.users);
    }
    let _ = out.flush();
    drop(out);
    let cacert = sim.ca_file().map(|f| format!(" --cacert {}", f.display())).unwrap_or_default();
    eprintln!(
        "smartthings-sim: mint a personal access token (24 h): curl -s{cacert} -X POST {}/__sim/pat \
         -H 'Content-Type: application/json' -d '{{\"scopes\":[\"r:apps:*\",\"w:apps:*\",\"r:installedapps\"]}}'",
        sim.base_url()
    );

    wait_for_signal().await;
    tracing::info!("shutting down");
    sim.shutdown().await;
    ExitCode::SUCCESS
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
