//! `thingstray login`: the browser sign-in, three ways.
//!
//! - A loopback redirect URI (`http://127.0.0.1:PORT/callback`): listen there and catch
//!   the browser's redirect. Without a port in the URI, a free port is used (RFC 8252).
//! - Any other URI (SmartThings often refuses localhost, so people register a public
//!   https page): the browser lands on a page that fails or shows the code; paste that
//!   address (or the code) on stdin.
//! - Two steps for machines with no interactive terminal: `login --no-wait` prints the
//!   address and keeps the sign-in pending in the vault; `login --paste URL` finishes it.
//!
//! `state` and the PKCE verifier are checked by the core; an answer that doesn't belong to
//! this sign-in (a stale tab, a forged link) is refused and the wait goes on.

use std::io::BufRead;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use thingstray::config::{is_loopback_host, Config};
use thingstray::connection::Options;
use thingstray::oauth::SignIn;
use thingstray::vault::Vault;
use thingstray::{Connection, Error};
use tokio::sync::{mpsc, oneshot};
use url::Url;

use super::{CliError, Ctx};

/// A `--no-wait` sign-in stays usable this long (SmartThings' codes last minutes; the
/// sign-in page itself a little longer).
const PENDING_LIFETIME: Duration = Duration::from_secs(30 * 60);

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Finish a sign-in started with `--no-wait`: the address the browser was sent to, or
    /// the bare code. `-` reads it from stdin.
    #[arg(long, value_name = "URL")]
    paste: Option<String>,
    /// Print the sign-in address, keep the sign-in pending (30 minutes) and exit; finish
    /// it with `login --paste`.
    #[arg(long, conflicts_with = "paste")]
    no_wait: bool,
    /// Don't open a browser, only print the address.
    #[arg(long)]
    no_browser: bool,
    /// Give up waiting for the answer after this long.
    #[arg(long, default_value = "15m", value_parser = super::parse_duration)]
    timeout: Duration,
}

pub async fn run(ctx: &Ctx, a: Args) -> Result<(), CliError> {
    if let Some(answer) = a.paste {
        return finish_pending(ctx, answer).await;
    }
    let conn = ctx.open().await?;
    let loopback = if a.no_wait { None } else { Loopback::bind(&conn.settings.redirect_uri).await? };
    // A loopback URI without a port gets the port we bound: sign in with that exact URI.
    let conn = match &loopback {
        Some(l) if l.redirect_uri != conn.settings.redirect_uri => with_redirect(ctx, &conn, &l.redirect_uri).await?,
        _ => conn,
    };
    let sign_in = conn.begin_sign_in()?;
    match conn.session.oauth()?.preflight(&sign_in).await {
        Ok(()) => {}
        Err(e) if e.is_transient() => {
            eprintln!("Warning: SmartThings could not be asked first ({}); trying anyway.", e.code())
        }
        Err(e) => return Err(e.into()),
    }
    let url = sign_in.authorize_url().to_string();

    if a.no_wait {
        save_pending(conn.session.vault(), &conn.name, &sign_in).await?;
        eprintln!("Open this address in a browser, sign in and pick the location:");
        println!("{url}");
        eprintln!(
            "Then run `thingstray{} login --paste '<the address the browser was sent to>'` within 30 minutes.",
            ctx.connection.as_ref().map(|c| format!(" --connection {c}")).unwrap_or_default()
        );
        return Ok(());
    }

    eprintln!("Open this address in a browser, sign in to your Samsung account and pick the location:");
    println!("{url}");
    if !a.no_browser && open_browser(&url) {
        eprintln!("(A browser window was opened. If it shows the wrong Samsung account, use a private window.)");
    }
    let (answers, mut incoming) = mpsc::unbounded_channel::<Answer>();
    let server = match loopback {
        Some(l) => {
            eprintln!("Waiting for the browser to come back to {} ...", l.redirect_uri);
            Some(l.serve(answers.clone()))
        }
        None => {
            eprintln!("Then paste the address the browser was sent to (or just the code) and press Enter:");
            None
        }
    };
    read_stdin_lines(answers);

    let deadline = tokio::time::sleep(a.timeout);
    tokio::pin!(deadline);
    let result = loop {
        let answer = tokio::select! {
            a = incoming.recv() => a,
            _ = &mut deadline => break Err(CliError::Failed(format!(
                "No sign-in answer came within {}. Run `thingstray login` again.", super::span(a.timeout.as_secs())))),
        };
        let (text, reply) = match answer {
            Some(Answer::Line(t)) if t.trim().is_empty() => continue,
            Some(Answer::Line(t)) => (t, None),
            Some(Answer::Browser(t, reply)) => (t, Some(reply)),
            Some(Answer::Eof) if server.is_some() => continue, // the browser will answer
            Some(Answer::Eof) | None => {
                break Err(CliError::Failed("No sign-in answer was given (stdin closed).".into()))
            }
        };
        let outcome = conn.finish_sign_in(&ctx.paths, &sign_in, &text).await;
        if let Some(reply) = reply {
            let _ = reply.send(outcome.as_ref().map(|_| ()).map_err(|e| e.to_string()));
        }
        match outcome {
            Ok(()) => break Ok(()),
            // Not our answer, or not an answer at all: nothing changed, keep waiting.
            Err(e @ (Error::StateMismatch | Error::CallbackMalformed { .. })) => {
                eprintln!("{e}");
                if server.is_none() {
                    eprintln!("Paste the address (or the code) again:");
                }
            }
            Err(e) => break Err(e.into()),
        }
    };
    if let Some((task, stop)) = server {
        // Let the browser get its page before the process exits.
        let _ = stop.send(());
        if tokio::time::timeout(Duration::from_secs(5), task).await.is_err() {
            tracing::debug!("the browser's connection did not close in time");
        }
    }
    result?;
    report_signed_in(ctx).await
}

enum Answer {
    Line(String),
    Eof,
    /// From the loopback listener; the browser is told how it went.
    Browser(String, oneshot::Sender<Result<(), String>>),
}

/// A plain thread, not the runtime's blocking pool: a read that never returns (nobody
/// types) must not keep the process alive after the sign-in finished another way.
fn read_stdin_lines(tx: mpsc::UnboundedSender<Answer>) {
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            match line {
                Ok(l) => {
                    if tx.send(Answer::Line(l)).is_err() {
                        return;
                    }
                }
                Err(_) => break,
            }
        }
        let _ = tx.send(Answer::Eof);
    });
}

/// The same connection, signing in with `redirect_uri` (the loopback URI with the port
/// actually bound). The settings file keeps the URI as the user registered it.
async fn with_redirect(ctx: &Ctx, conn: &Connection, redirect_uri: &str) -> Result<Connection, CliError> {
    let mut config = Config::load(&ctx.paths)?;
    if let Some(s) = config.connections.get_mut(&conn.name) {
        s.redirect_uri = redirect_uri.to_string();
    }
    let vault = Vault::open(&config, &ctx.paths)?;
    Ok(Connection::open_with(&ctx.paths, &config, vault, Some(&conn.name), Options::default()).await?)
}

struct Loopback {
    listener: tokio::net::TcpListener,
    redirect_uri: String,
    path: String,
}

impl Loopback {
    /// Listens on the redirect URI's loopback address, if it is one.
    async fn bind(redirect_uri: &str) -> Result<Option<Loopback>, CliError> {
        let Ok(mut url) = Url::parse(redirect_uri) else { return Ok(None) };
        if url.scheme() != "http" || !is_loopback_host(url.host_str()) {
            return Ok(None);
        }
        let ip = match url.host_str() {
            Some("[::1]") => IpAddr::V6(Ipv6Addr::LOCALHOST),
            _ => IpAddr::V4(Ipv4Addr::LOCALHOST),
        };
        let port = url.port().unwrap_or(0);
        let at = SocketAddr::new(ip, port);
        let listener = tokio::net::TcpListener::bind(at).await.map_err(|e| {
            CliError::Failed(format!(
                "Could not listen on {at} for the sign-in answer ({e}). Stop what uses that port, or register \
                 a loopback redirect URI without a port (any free port is then used)."
            ))
        })?;
        if port == 0 {
            let bound = listener.local_addr().map_err(|e| CliError::Failed(e.to_string()))?.port();
            let _ = url.set_port(Some(bound));
        }
        let path = url.path().to_string();
        Ok(Some(Loopback { listener, redirect_uri: url.to_string(), path }))
    }

    /// Serves until the returned sender fires; then finishes open requests and stops.
    fn serve(self, answers: mpsc::UnboundedSender<Answer>) -> (tokio::task::JoinHandle<()>, oneshot::Sender<()>) {
        let state = Arc::new(Catch { answers, redirect_uri: self.redirect_uri, path: self.path });
        let app = axum::Router::new().fallback(catch).with_state(state);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(self.listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        (task, stop)
    }
}

struct Catch {
    answers: mpsc::UnboundedSender<Answer>,
    redirect_uri: String,
    path: String,
}

async fn catch(State(c): State<Arc<Catch>>, uri: Uri) -> Response {
    if uri.path().trim_end_matches('/') != c.path.trim_end_matches('/') {
        return (StatusCode::NOT_FOUND, "Not the sign-in address.").into_response();
    }
    let base = c.redirect_uri.split('?').next().unwrap_or(&c.redirect_uri);
    let answer = format!("{base}?{}", uri.query().unwrap_or(""));
    let (tx, rx) = oneshot::channel();
    if c.answers.send(Answer::Browser(answer, tx)).is_err() {
        return page(StatusCode::GONE, "This sign-in is over", "Go back to the terminal.");
    }
    match rx.await {
        Ok(Ok(())) => {
            page(StatusCode::OK, "Signed in to SmartThings", "ThingsTray has the session. You can close this tab.")
        }
        Ok(Err(why)) => page(StatusCode::BAD_REQUEST, "Sign-in did not finish", &why),
        Err(_) => page(StatusCode::GONE, "This sign-in is over", "Go back to the terminal."),
    }
}

fn page(status: StatusCode, title: &str, text: &str) -> Response {
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let html = format!(
        "<!doctype html><meta charset=utf-8><title>{t}</title><body style=\"font-family:sans-serif;max-width:40em;margin:4em auto\">\
         <h1>{t}</h1><p>{x}</p></body>",
        t = esc(title),
        x = esc(text)
    );
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], html)
        .into_response()
}

/// Opens the default browser where there is a desktop; false when there is none.
fn open_browser(url: &str) -> bool {
    use std::process::{Command, Stdio};
    let mut cmd = if cfg!(target_os = "macos") {
        let mut c = Command::new("open");
        c.arg(url);
        c
    } else if cfg!(windows) {
        let mut c = Command::new("rundll32");
        c.arg("url.dll,FileProtocolHandler").arg(url);
        c
    } else {
        let desktop = ["DISPLAY", "WAYLAND_DISPLAY"].iter().any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()));
        if !desktop {
            return false;
        }
        let mut c = Command::new("xdg-open");
        c.arg(url);
        c
    };
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().is_ok()
}

#[derive(Serialize, Deserialize)]
struct Pending {
    created_at: u64,
    sign_in: String,
}

fn pending_key(connection: &str) -> String {
    format!("{connection}/pending-sign-in")
}

async fn save_pending(vault: &Vault, connection: &str, sign_in: &SignIn) -> Result<(), CliError> {
    let p = Pending { created_at: super::now_unix(), sign_in: sign_in.export().expose_secret().to_string() };
    let json = serde_json::to_string(&p).map_err(|e| CliError::Failed(e.to_string()))?;
    vault.set(&pending_key(connection), SecretString::from(json)).await?;
    Ok(())
}

async fn finish_pending(ctx: &Ctx, answer: String) -> Result<(), CliError> {
    let conn = ctx.open().await?;
    let vault = conn.session.vault().clone();
    let key = pending_key(&conn.name);
    let pending: Option<Pending> =
        vault.get(&key).await?.and_then(|raw| serde_json::from_str(raw.expose_secret()).ok());
    let Some(pending) = pending.filter(|p| super::now_unix() < p.created_at + PENDING_LIFETIME.as_secs()) else {
        vault.delete(&key).await?;
        return Err(CliError::Failed(format!(
            "{} (`login --paste` finishes a sign-in started with `thingstray login --no-wait` in the last 30 minutes.)",
            Error::NoSignInPending
        )));
    };
    let answer = if answer == "-" {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(|e| CliError::Failed(e.to_string()))?;
        line
    } else {
        answer
    };
    let sign_in = SignIn::import(&SecretString::from(pending.sign_in))?;
    match conn.finish_sign_in(&ctx.paths, &sign_in, &answer).await {
        Ok(()) => {}
        // Nothing was spent: the pending sign-in still works with the right answer.
        Err(e @ (Error::StateMismatch | Error::CallbackMalformed { .. })) => return Err(e.into()),
        Err(e) => {
            vault.delete(&key).await?;
            return Err(e.into());
        }
    }
    vault.delete(&key).await?;
    report_signed_in(ctx).await
}

async fn report_signed_in(ctx: &Ctx) -> Result<(), CliError> {
    let config = Config::load(&ctx.paths)?;
    let (name, settings) = config.connection(ctx.connection.as_deref())?;
    let place = settings.location_name.as_deref().map(|l| format!(" to `{l}`")).unwrap_or_default();
    println!("Signed in{place} (connection `{name}`).");
    eprintln!("Scripts can now run `thingstray token`; ThingsTray keeps the session fresh.");
    Ok(())
}
