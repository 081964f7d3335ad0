//! `--store postgres://…`: the commands that work on a session store (thingstray-store)
//! instead of this machine's keychain: `setup` (the app or the ST Schema connector every
//! replica uses), `serve` (one replica of the token service: its API and the refresh
//! scheduler), `serve --print-secret`, `status` and `token --connection ID`.
//!
//! The URL may carry a password: give it in THINGSTRAY_STORE rather than on the command
//! line, where `ps` shows it. The key (32 bytes, base64) comes from THINGSTRAY_STORE_KEY
//! or `--store-key-file`, never from argv.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use thingstray::config::ConnectionSettings;
use thingstray::schema::CallbackHosts;
use thingstray::session::SessionOptions;
use thingstray_store::service::{configure_app, configure_connector, SERVICE_SECRET};
use thingstray_store::{SchedulerOptions, Service, Store, StoreKey};

use super::CliError;

pub const KEY_ENV: &str = "THINGSTRAY_STORE_KEY";
/// Where `serve --store` listens unless told: loopback, since a service behind a load
/// balancer is given its address on purpose (`--listen 0.0.0.0:8788`).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8788";

/// Where the store is and how to open it.
#[derive(Debug, Clone)]
pub struct StoreArgs {
    pub url: SecretString,
    pub key_file: Option<PathBuf>,
}

impl StoreArgs {
    fn key(&self) -> Result<StoreKey, CliError> {
        let text = match &self.key_file {
            Some(path) => {
                warn_if_others_can_read(path);
                std::fs::read_to_string(path).map_err(|e| {
                    CliError::Failed(format!("could not read the store key from {}: {e}", path.display()))
                })?
            }
            None => std::env::var(KEY_ENV).map_err(|_| {
                CliError::Failed(format!(
                    "the store needs its key: set {KEY_ENV} (32 random bytes in base64; make one with \
                     `head -c 32 /dev/urandom | base64`) or pass --store-key-file PATH. Every replica needs the same key; \
                     keep it apart from the database's backups."
                ))
            })?,
        };
        Ok(StoreKey::from_base64(&SecretString::from(text.trim().to_string()))?)
    }

    pub async fn open(&self) -> Result<Store, CliError> {
        Ok(Store::open(&self.url, self.key()?).await?)
    }

    async fn service(&self, hosts: CallbackHosts) -> Result<Service, CliError> {
        let store = self.open().await?;
        let http = thingstray::http::client(Duration::from_secs(30))?;
        Ok(Service::start(store, http, SessionOptions::default(), hosts).await?)
    }
}

/// The key opens every session's tokens: say so when other users of this machine can
/// read its file. A warning, not a refusal: container secret mounts are often 0644 (or
/// 0444) inside a container whose only user is the service.
fn warn_if_others_can_read(path: &std::path::Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                // On stderr whatever the log level: it is about the key, not a log line.
                let _ = std::io::Write::write_fmt(
                    &mut std::io::stderr(),
                    format_args!(
                        "thingstray: warning: the store key file {} (mode {mode:o}) can be read by other users of this \
                         machine; `chmod 600` it unless only the service runs here\n",
                        path.display()
                    ),
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// `setup` against the store: an OAuth-In app (`settings`), or with `schema` an ST Schema
/// connector (its client id in `settings.client_id`). The secret was read from stdin.
pub async fn setup(
    s: &StoreArgs,
    settings: ConnectionSettings,
    secret: SecretString,
    schema: bool,
) -> Result<(), CliError> {
    let store = s.open().await?;
    if schema {
        configure_connector(&store, &settings.client_id, &secret).await?;
        println!("Saved the ST Schema connector in {} (its secret sealed with the store's key).", store.describe());
        eprintln!("Next: `thingstray serve --store …` on each replica; connectors POST each grantCallbackAccess to /v1/schema/grant?connection=ID.");
    } else {
        configure_app(&store, &settings, &secret).await?;
        println!("Saved the OAuth-In app in {} (its secret sealed with the store's key).", store.describe());
        eprintln!(
            "Next: `thingstray serve --store …` on each replica; users sign in at the authorize_url `GET /v1/sign-in` gives, \
             and SmartThings sends them back to {}.",
            settings.redirect_uri
        );
    }
    Ok(())
}

/// `serve --print-secret` / `--rotate-secret` against the store.
pub async fn print_secret(s: &StoreArgs, rotate: bool) -> Result<(), CliError> {
    let store = s.open().await?;
    if rotate {
        let new = SecretString::from(thingstray::serve::ServerSecret::generate().expose().to_string());
        store.put_setting(SERVICE_SECRET, None, Some(&new)).await?;
        eprintln!("The service secret is replaced: restart every replica for it to take effect.");
    }
    let secret = Service::start(
        store,
        thingstray::http::client(Duration::from_secs(5))?,
        SessionOptions::default(),
        CallbackHosts::SmartThings,
    )
    .await?
    .secret()
    .expose()
    .to_string();
    println!("{secret}");
    Ok(())
}

/// One replica of the token service, until SIGTERM or Ctrl-C.
pub async fn serve(
    s: &StoreArgs,
    listen: Option<SocketAddr>,
    hosts: CallbackHosts,
    refresh_rate: f64,
    stopped: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), CliError> {
    let service = s.service(hosts).await?;
    let listen = listen.unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("a valid default"));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| CliError::Failed(format!("cannot listen on {listen}: {e}")))?;
    let addr = listener.local_addr().map_err(|e| CliError::Failed(e.to_string()))?;
    let sessions = service.store().sessions().await?.len();
    // One stop for both: the API stops taking requests, the scheduler stops claiming,
    // lets its refreshes finish and stores what the store has not taken.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        stopped.await;
        let _ = stop_tx.send(true);
    });
    let when_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let scheduler = tokio::spawn(thingstray_store::scheduler::run_until(
        service.clone(),
        SchedulerOptions { rate: refresh_rate, ..SchedulerOptions::default() },
        when_stopped(stop_rx.clone()),
    ));
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on http://{addr}");
        let _ = out.flush();
    }
    tracing::info!(store = %service.store().describe(), sessions, "token service ready");
    if !addr.ip().is_loopback() {
        tracing::warn!(
            "listening on {addr} in plain HTTP: put a TLS-terminating load balancer in front, since callers send the service secret"
        );
    }
    let app = thingstray_store::api::router(service.clone());
    let served = axum::serve(listener, app).with_graceful_shutdown(when_stopped(stop_rx)).await;
    tracing::info!("stopping: letting refreshes in flight finish");
    let _ = scheduler.await;
    // Pairs of hand-outs (not the scheduler's) the store did not take.
    let lost = service.flush_all(Duration::from_secs(30)).await;
    if !lost.is_empty() {
        return Err(CliError::Failed(format!("exiting with new pairs the store did not take for {}", lost.join(", "))));
    }
    served.map_err(|e| CliError::Failed(format!("the service stopped: {e}")))
}

/// `status --store`: every session, never a secret.
pub async fn status(s: &StoreArgs, json: bool) -> Result<(), CliError> {
    let store = s.open().await?;
    let rows = store.sessions().await?;
    if json {
        println!("{}", serde_json::to_string(&rows).map_err(|e| CliError::Failed(e.to_string()))?);
        return Ok(());
    }
    println!("{} ({} sessions)", store.describe(), rows.len());
    let now = super::now_unix();
    for r in &rows {
        let left = r.expires_at.map(|e| thingstray::clock::span(e.saturating_sub(now))).unwrap_or_else(|| "-".into());
        println!(
            "{:<40} {:<6} {:<7} {:<38} expires in {left}{}",
            r.id,
            r.kind,
            r.status,
            r.location_id.as_deref().unwrap_or("-"),
            r.ended.as_deref().map(|w| format!(" ({w})")).unwrap_or_default()
        );
    }
    Ok(())
}

/// `token --store --connection ID`: this command takes part like a replica (the row's
/// lock, the commit before printing), so it may refresh.
pub async fn token(s: &StoreArgs, id: Option<&str>, min: Duration) -> Result<thingstray::token::AccessGrant, CliError> {
    let Some(id) = id else {
        return Err(CliError::Usage(
            "with --store, name the session: --connection ID (`thingstray --store … status` lists them)".into(),
        ));
    };
    let service = s.service(CallbackHosts::SmartThings).await?;
    let session = service.session(id).await?;
    let got = session.token_valid_for(min).await;
    // A new pair the row did not take dies with this process unless it is stored now.
    if session.has_unsaved() {
        session.flush(Duration::from_secs(60)).await?;
        if got.is_err() {
            return Ok(session.token_valid_for(min).await?);
        }
    }
    Ok(got?)
}
