//! The agent's listener (see the module docs): the socket, the lock, the peer check.

use std::fs::File;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::task::JoinHandle;

use super::{socket_path, AgentSource, Request, StatusReply, TokenReply, MAX_CALL};
use crate::config::Paths;
use crate::error::{Error, Result};

/// A request must arrive within this; a client that connects and says nothing is cut.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// A running agent. Dropping it stops it and removes its socket.
pub struct Agent {
    path: PathBuf,
    task: JoinHandle<()>,
    /// Held for the agent's life: a second app finds it taken and serves no agent.
    _lock: File,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent").field("path", &self.path).finish_non_exhaustive()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

fn uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// The folder for the socket: made 0700, or refused when someone else could reach into it.
fn private_dir(dir: &Path) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io("making the agent's folder", e))?;
    let meta = std::fs::metadata(dir).map_err(|e| Error::io("reading the agent's folder", e))?;
    if meta.uid() != uid() || meta.permissions().mode() & 0o022 != 0 {
        return Err(Error::io(
            "checking the agent's folder",
            format!(
                "{} is not this user's alone (owner uid {}, mode {:o})",
                dir.display(),
                meta.uid(),
                meta.permissions().mode() & 0o777
            ),
        ));
    }
    Ok(())
}

impl Agent {
    /// Listens on this settings folder's socket. `Err` when another agent already serves
    /// it (or the folder is unsafe): the caller runs on without an agent.
    pub async fn start(paths: &Paths, source: AgentSource) -> Result<Agent> {
        let path = socket_path(paths);
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        private_dir(&dir)?;
        let lock = crate::fsutil::open_lock_file(&dir.join("agent.lock"))?;
        if lock.try_lock().is_err() {
            return Err(Error::io(
                "starting the agent",
                format!("another ThingsTray process serves {}", path.display()),
            ));
        }
        // Ours now: whatever socket file is there was left by a process that is gone.
        match std::fs::remove_file(&path) {
            Ok(()) => tracing::info!(path = %path.display(), "replaced a stale agent socket"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("removing a stale agent socket", e)),
        }
        let listener =
            UnixListener::bind(&path).map_err(|e| Error::io(format!("listening on {}", path.display()), e))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| Error::io("securing the agent socket", e))?;
        let task = tokio::spawn(accept(listener, source));
        tracing::info!(path = %path.display(), "agent listening");
        Ok(Agent { path, task, _lock: lock })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

async fn accept(listener: UnixListener, source: AgentSource) {
    let me = uid();
    // The connections' tasks end with the agent: a stopped agent (the app quitting, a
    // desktop replaced) leaves no stream open that a window or `watch` would wait on.
    let mut conns = tokio::task::JoinSet::new();
    loop {
        while conns.try_join_next().is_some() {}
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors, as the token server's loop (serve/listen.rs): wait
                // a moment instead of spinning a core until one is free.
                tracing::debug!("agent: accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        match stream.peer_cred() {
            Ok(cred) if cred.uid() == me => {
                conns.spawn(serve_one(stream, source.clone()));
            }
            Ok(cred) => tracing::warn!(uid = cred.uid(), "agent: refused a process of another user"),
            Err(e) => tracing::warn!("agent: refused a peer whose user is unknown: {e}"),
        }
    }
}

async fn serve_one(stream: UnixStream, source: AgentSource) {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    // The largest request is a window's call (a form); the others are a few dozen bytes.
    let mut capped = BufReader::new(read.take(MAX_CALL as u64));
    let read = tokio::time::timeout(READ_TIMEOUT, capped.read_line(&mut line)).await;
    if !matches!(read, Ok(Ok(n)) if n > 0) {
        return;
    }
    let answer = match serde_json::from_str::<Request>(line.trim()) {
        Ok(Request::Watch) => match source.feed.as_ref().map(|f| f()) {
            Some(Ok((name, feed))) => return watch(capped.into_inner().into_inner(), write, &name, &feed).await,
            Some(Err(e)) => Err(e),
            None => Err(Error::BadRequest {
                why: "this agent keeps no change feed (an older ThingsTray); `thingstray watch` polls by itself".into(),
            }),
        },
        Ok(Request::Follow) => match source.follow.as_ref().map(|f| f()) {
            Some(Ok(rx)) => return follow(capped.into_inner().into_inner(), write, rx).await,
            Some(Err(e)) => Err(e),
            None => Err(Error::BadRequest { why: "this agent has no windows to follow (it is not the app)".into() }),
        },
        // A window that hangs up mid-call (killed, closed) does not stop the call: the
        // command it asked for is carried out, only the answer has nobody to go to.
        Ok(req) => answer(req, &source).await,
        Err(_) => Err(Error::BadRequest { why: "not an agent request (one JSON line, as thingstray sends)".into() }),
    };
    let mut out = match answer {
        Ok(v) => serde_json::json!({ "ok": v }),
        Err(e) => serde_json::json!({ "error": e }),
    }
    .to_string();
    out.push('\n');
    let _ = write.write_all(out.as_bytes()).await;
    let _ = write.shutdown().await;
}

/// Streams the feed's changes, one JSON line each, until the client hangs up.
async fn watch(
    read: tokio::net::unix::OwnedReadHalf,
    write: tokio::net::unix::OwnedWriteHalf,
    name: &str,
    feed: &crate::events::Feed,
) {
    use tokio::sync::broadcast::error::RecvError;
    let hello = serde_json::json!({ "ok": { "connection": name, "interval_s": feed.interval().as_secs() } });
    let changes = futures_util::stream::unfold(feed.subscribe(), |mut rx| async move {
        let line = match rx.recv().await {
            Ok(change) => serde_json::json!({ "change": &*change }),
            Err(RecvError::Lagged(n)) => serde_json::json!({ "missed": n }),
            Err(RecvError::Closed) => return None,
        };
        Some((line, rx))
    });
    stream_lines(read, write, hello, changes).await;
}

/// Says `{"changed": N}` each time `rx` changes, until the client hangs up.
async fn follow(
    read: tokio::net::unix::OwnedReadHalf,
    write: tokio::net::unix::OwnedWriteHalf,
    rx: tokio::sync::watch::Receiver<u64>,
) {
    let ticks = futures_util::stream::unfold(rx, |mut rx| async move {
        // An error: the desktop is gone (quit, or the demo replaced it).
        rx.changed().await.ok()?;
        let line = serde_json::json!({ "changed": *rx.borrow_and_update() });
        Some((line, rx))
    });
    stream_lines(read, write, serde_json::json!({ "ok": {} }), ticks).await;
}

/// The one way a stream goes out: `first`, then each of `lines`, one JSON line each, until
/// `lines` ends, the client hangs up (its end of the socket reads as closed) or stops
/// reading (a write making no progress for 10 s).
async fn stream_lines(
    mut read: tokio::net::unix::OwnedReadHalf,
    mut write: tokio::net::unix::OwnedWriteHalf,
    first: serde_json::Value,
    lines: impl futures_util::Stream<Item = serde_json::Value>,
) {
    use futures_util::StreamExt;
    let mut lines = std::pin::pin!(lines);
    let mut next = Some(first);
    let mut gone = [0u8; 64];
    while let Some(line) = next {
        let mut text = line.to_string();
        text.push('\n');
        let wrote = tokio::time::timeout(Duration::from_secs(10), write.write_all(text.as_bytes())).await;
        if !matches!(wrote, Ok(Ok(()))) {
            return;
        }
        next = tokio::select! {
            got = lines.next() => got,
            // The client sends nothing after its request: any read result means it left.
            _ = read.read(&mut gone) => return,
        };
    }
}

async fn answer(req: Request, source: &AgentSource) -> Result<serde_json::Value> {
    match req {
        Request::Call { command, args } => match &source.calls {
            Some(calls) => calls(command, args).await,
            None => Err(Error::BadRequest { why: "this agent answers no window calls (it is not the app)".into() }),
        },
        Request::Follow => Err(Error::BadRequest { why: "follow is a stream".into() }),
        Request::Token { connection, min_valid_secs } => {
            let conn = (source.find)(connection.as_deref())?;
            let grant = conn.session.token_valid_for(Duration::from_secs(min_valid_secs)).await?;
            tracing::debug!(connection = %conn.name, "agent: handed out a token");
            Ok(to_json(&TokenReply {
                connection: conn.name.clone(),
                access_token: grant.secret().to_string(),
                expires_at: grant.expires_at_unix(),
                scope: grant.scope.clone(),
                installed_app_id: grant.installed_app_id.clone(),
            }))
        }
        Request::Watch => Err(Error::BadRequest { why: "watch is a stream".into() }),
        Request::Status => {
            let now = crate::clock::unix_ms(std::time::SystemTime::now()) / 1000;
            let rows: Vec<StatusReply> = (source.all)()
                .into_iter()
                .map(|c| {
                    let status = c.session.status();
                    let needs_action = status.needs_action(c.owner().is_some());
                    StatusReply {
                        connection: c.name.clone(),
                        status: serde_json::to_value(&status).unwrap_or_default(),
                        text: status.describe(now, c.owner()),
                        needs_action,
                    }
                })
                .collect();
            Ok(to_json(&rows))
        }
    }
}

/// Our own reply types always serialise.
fn to_json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or_default()
}
