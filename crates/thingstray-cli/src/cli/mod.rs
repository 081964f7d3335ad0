//! The commands, one module each. Each parses its flags, calls the core, and prints:
//! answers on stdout, guidance and errors on stderr.

mod app;
mod command;
mod connect;
mod devices;
mod doctor;
mod exec;
mod login;
mod logout;
mod mode;
mod scenes;
mod schema;
mod serve;
mod setup;
mod share;
mod status;
mod store;
mod switch;
mod token;
mod watch;

use std::fmt;

use clap::{Parser, Subcommand};
use thingstray::config::{Config, Paths};
use thingstray::connection::Options;
use thingstray::session::SessionOptions;
use thingstray::vault::Vault;
use thingstray::Connection;

#[derive(Parser, Debug)]
#[command(
    name = "thingstray",
    version,
    about = "Keeps a SmartThings account connected: a token that is always valid, for scripts and servers",
    after_help = "Exit codes: 0 ok, 1 error, 2 usage, 4 sign-in needed (or, on a paired computer, a new invite)."
)]
pub struct Cli {
    /// The connection to use (one per SmartThings location); default: the default one.
    #[arg(long, global = true, env = "THINGSTRAY_CONNECTION", value_name = "NAME")]
    pub connection: Option<String>,

    /// More log output on stderr (-v info, -vv debug). THINGSTRAY_LOG takes a full filter.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Do not ask the running app or `thingstray serve` (the agent): read the vault. For
    /// `serve`: do not be the agent.
    #[arg(long, global = true)]
    pub no_agent: bool,

    /// A session store (PostgreSQL) instead of this machine's keychain, for a service
    /// holding many users' sessions on any number of replicas: `setup`, `serve`,
    /// `status` and `token --connection ID` work on it. Give a URL with a password in
    /// THINGSTRAY_STORE, not here (`ps` shows the command line).
    #[arg(long, global = true, env = "THINGSTRAY_STORE", hide_env_values = true, value_name = "URL")]
    pub store: Option<String>,

    /// The store's key in a file (32 bytes, base64); default: THINGSTRAY_STORE_KEY.
    #[arg(long, global = true, value_name = "PATH")]
    pub store_key_file: Option<std::path::PathBuf>,

    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// The OAuth-In app itself, with a personal access token (SMARTTHINGS_PAT or stdin):
    /// create it (the one-paste setup), check or repair its redirect URIs and scopes,
    /// issue a new secret, delete it.
    App(app::Args),
    /// Save a SmartThings OAuth-In app's client id, redirect URI and scopes (the client
    /// secret is read from stdin or THINGSTRAY_CLIENT_SECRET, never from the command line).
    Setup(setup::Args),
    /// Sign in to SmartThings in a browser and keep the session.
    Login(login::Args),
    /// Print an access token valid for at least --min-valid (exit 4 when sign-in is needed).
    Token(token::Args),
    /// Show each connection's state: signed in, when the token expires, what is wrong
    /// (exit 4 when one needs sign-in).
    Status(status::Args),
    /// List the devices: label, room, id, online, switch state, what each is doing.
    Devices(devices::Args),
    /// Turn a device on or off, or toggle it; prints the state read back.
    Switch(switch::Args),
    /// Send any command to a device (`command "Front Door Lock" lock lock`); prints the
    /// state read back.
    Command(command::Args),
    /// Show the location's mode (Home, Away, Night...) and the others, or set it:
    /// `thingstray mode away`; prints the mode read back.
    Mode(mode::Args),
    /// List the scenes.
    Scenes(scenes::ListArgs),
    /// Run a scene: `thingstray scene run NAME|ID`.
    Scene(scenes::SceneArgs),
    /// Run a program with a valid token in SMARTTHINGS_TOKEN and the API base in
    /// SMARTTHINGS_API: `thingstray exec -- ./script.sh`; exits with the program's code.
    Exec(exec::Args),
    /// Print one line per device change (device, capability, attribute, old -> new) as
    /// the running `thingstray serve` sees them, else from reads of its own; --json for
    /// one JSON object per line.
    Watch(watch::Args),
    /// Remove this connection's tokens from this machine (settings are kept).
    Logout,
    /// Check the keychain, the settings, the clock, SmartThings and the session; say how
    /// to fix what is wrong.
    Doctor,
    /// Serve the token (and an API proxy) on 127.0.0.1 to local programs holding the
    /// server secret.
    Serve(serve::Args),
    /// Share this computer's connection with others (run `serve --share` first): invite,
    /// list, revoke.
    Share(share::Args),
    /// Pair this computer with the one that holds the SmartThings sign-in, using the
    /// invite it made (`thingstray share invite` there).
    Connect(connect::Args),
    /// ST Schema connectors: keep a connector's callback tokens (`schema grant`), send a
    /// state callback with them (`schema state-callback`).
    Schema(schema::Args),
}

impl Cli {
    pub fn is_server(&self) -> bool {
        matches!(&self.command, Cmd::Serve(a) if !a.is_one_shot())
    }
}

pub async fn run(cli: Cli) -> Result<(), CliError> {
    let store = cli
        .store
        .filter(|s| !s.trim().is_empty())
        .map(|url| store::StoreArgs { url: secrecy::SecretString::from(url), key_file: cli.store_key_file });
    if store.is_some() && !matches!(cli.command, Cmd::Setup(_) | Cmd::Serve(_) | Cmd::Status(_) | Cmd::Token(_)) {
        return Err(CliError::Usage(
            "with --store (or THINGSTRAY_STORE), only setup, serve, status and token work: the others act on this machine's own connection".into(),
        ));
    }
    let ctx = Ctx { paths: Paths::resolve()?, connection: cli.connection, no_agent: cli.no_agent, store };
    match cli.command {
        Cmd::App(a) => app::run(&ctx, a).await,
        Cmd::Setup(a) => setup::run(&ctx, a).await,
        Cmd::Login(a) => login::run(&ctx, a).await,
        Cmd::Token(a) => token::run(&ctx, a).await,
        Cmd::Status(a) => status::run(&ctx, a).await,
        Cmd::Devices(a) => devices::run(&ctx, a).await,
        Cmd::Switch(a) => switch::run(&ctx, a).await,
        Cmd::Command(a) => command::run(&ctx, a).await,
        Cmd::Mode(a) => mode::run(&ctx, a).await,
        Cmd::Exec(a) => exec::run(&ctx, a).await,
        Cmd::Watch(a) => watch::run(&ctx, a).await,
        Cmd::Scenes(a) => scenes::list(&ctx, a).await,
        Cmd::Scene(a) => scenes::scene(&ctx, a).await,
        Cmd::Logout => logout::run(&ctx).await,
        Cmd::Doctor => doctor::run(&ctx).await,
        Cmd::Serve(a) => serve::run(&ctx, a).await,
        Cmd::Share(a) => share::run(&ctx, a).await,
        Cmd::Connect(a) => connect::run(&ctx, a).await,
        Cmd::Schema(a) => schema::run(&ctx, a).await,
    }
}

/// What every command gets: where the settings are and which connection was asked for.
pub struct Ctx {
    pub paths: Paths,
    pub connection: Option<String>,
    pub no_agent: bool,
    /// `--store`: the commands that support it work on the session store instead.
    pub store: Option<store::StoreArgs>,
}

impl Ctx {
    /// The connection asked for (or the default one), with its tokens loaded, for a
    /// command that exits when done: it spends a refresh token only after the vault has
    /// taken a write, since a new pair it could not save would die with the process.
    pub async fn open(&self) -> Result<Connection, CliError> {
        self.open_with(SessionOptions { probe_vault: true, ..SessionOptions::default() }).await
    }

    /// As [`Ctx::open`], for `serve`: it lives on, keeps an unsaved pair in memory, tries
    /// again to store it, and flushes it before exiting.
    pub async fn open_long_lived(&self) -> Result<Connection, CliError> {
        self.open_with(SessionOptions::default()).await
    }

    async fn open_with(&self, session: SessionOptions) -> Result<Connection, CliError> {
        let config = Config::load(&self.paths)?;
        if config.connections.is_empty() {
            return Err(CliError::NeedsSetup);
        }
        let vault = Vault::open(&config, &self.paths)?;
        let opts = Options { session, ..Options::default() };
        Ok(Connection::open_with(&self.paths, &config, vault, self.connection.as_deref(), opts).await?)
    }
}

/// Why a command failed, and the exit code that tells a script.
#[derive(Debug)]
pub enum CliError {
    Core(thingstray::Error),
    /// Nothing is configured yet: like "not signed in", exit 4.
    NeedsSetup,
    /// The command line asked for something impossible: exit 2, like clap's own errors.
    Usage(String),
    /// Anything else the user can act on: exit 1.
    Failed(String),
    /// The command already said everything; only the exit code is left to give.
    Silent(u8),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Core(e) if e.ends_access() => 4,
            CliError::NeedsSetup => 4,
            CliError::Usage(_) => 2,
            CliError::Core(_) | CliError::Failed(_) => 1,
            CliError::Silent(code) => *code,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Core(e) => write!(f, "{e}"),
            CliError::NeedsSetup => f.write_str(
                "Nothing is set up yet. Run `thingstray app create` (it asks for a SmartThings personal \
                 access token once and creates the OAuth-In app), then `thingstray login`. With an app made \
                 elsewhere: `thingstray setup --client-id ID --redirect-uri URI`, then `thingstray login`.",
            ),
            CliError::Usage(m) | CliError::Failed(m) => f.write_str(m),
            CliError::Silent(_) => Ok(()),
        }
    }
}

impl From<thingstray::Error> for CliError {
    fn from(e: thingstray::Error) -> Self {
        CliError::Core(e)
    }
}

pub use thingstray::clock::{span, utc};

pub fn now_unix() -> u64 {
    thingstray::clock::unix_ms(std::time::SystemTime::now()) / 1000
}

/// Prints rows as aligned columns (the last column is not padded).
pub fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> =
        (0..cols).map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(widths[i] - cell.chars().count() + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `90`, `90s`, `5m`, `2h`, `1d`: what `--min-valid` and `--timeout` take.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().map_err(|_| format!("`{s}` is not a duration; use e.g. 90s, 5m, 2h"))?;
    let scale: u64 = match unit.trim() {
        "" | "s" | "sec" | "secs" => 1,
        "m" | "min" | "mins" => 60,
        "h" | "hour" | "hours" => 3600,
        "d" | "day" | "days" => 86_400,
        other => return Err(format!("unknown unit `{other}`; use s, m, h or d")),
    };
    n.checked_mul(scale).map(std::time::Duration::from_secs).ok_or_else(|| format!("`{s}` is far too long"))
}

/// A duration as [`parse_duration`] reads it, in the largest unit that divides it (`5m`):
/// for a default taken from the core's constants, shown in `--help`.
pub fn duration_arg(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match [(86_400, "d"), (3600, "h"), (60, "m")].into_iter().find(|(unit, _)| s > 0 && s.is_multiple_of(*unit)) {
        Some((unit, name)) => format!("{}{name}", s / unit),
        None => format!("{s}s"),
    }
}

/// A hint on stderr. A server outlives its terminal (closed, or started with `2>&-`):
/// `eprintln!` would then panic and take the server down, so a lost hint is ignored.
pub(crate) fn say(text: &str) {
    let _ = std::io::Write::write_fmt(&mut std::io::stderr(), format_args!("{text}\n"));
}

/// SIGTERM (systemd, docker stop) or Ctrl-C. SIGTERM is caught from the call on, not from
/// the first poll: one that arrives while the servers start is a clean stop too.
pub(crate) fn stop_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    async move {
        #[cfg(unix)]
        if let Some(mut term) = term {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_716_000_000), "2024-05-18 02:40:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90").unwrap().as_secs(), 90);
        assert_eq!(parse_duration("5m").unwrap().as_secs(), 300);
        assert_eq!(parse_duration("2h").unwrap().as_secs(), 7200);
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("m").is_err());
    }

    #[test]
    fn durations_as_arguments() {
        for (secs, text) in [(300, "5m"), (90, "90s"), (7200, "2h"), (86_400, "1d"), (0, "0s")] {
            let d = std::time::Duration::from_secs(secs);
            assert_eq!(duration_arg(d), text);
            assert_eq!(parse_duration(text).unwrap(), d);
        }
    }

    #[test]
    fn spans() {
        assert_eq!(span(59), "59s");
        assert_eq!(span(3_725), "1h 2m");
        assert_eq!(span(90_000), "1d 1h");
    }
}
