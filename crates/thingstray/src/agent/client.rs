//! The CLI's side: ask the agent, or say why not (and the caller reads the vault).

use std::time::Duration;

use serde::de::DeserializeOwned;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;

use super::{socket_path, Request, StatusReply, TokenReply, MAX_ANSWER};
use crate::config::Paths;

/// A live agent answers in well under a millisecond; past this it is hung, and the vault
/// is faster.
pub const TIMEOUT: Duration = Duration::from_millis(1000);

/// The agent's answer, or why there is none (for `-v` output).
pub type Asked<T> = std::result::Result<T, String>;

/// Connects to this settings folder's agent and sends `req`, or says why not.
pub(super) async fn send(paths: &Paths, req: &Request) -> Asked<(OwnedReadHalf, OwnedWriteHalf)> {
    let stream = match UnixStream::connect(socket_path(paths)).await {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err("no agent is running".to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            return Err("a stale agent socket (nothing listens)".to_string())
        }
        Err(e) => return Err(format!("the agent socket: {e}")),
    };
    let (read, mut write) = stream.into_split();
    let mut line = serde_json::to_string(req).map_err(|e| e.to_string())?;
    line.push('\n');
    write.write_all(line.as_bytes()).await.map_err(|e| format!("writing to the agent: {e}"))?;
    Ok((read, write))
}

async fn ask<T: DeserializeOwned>(paths: &Paths, req: &Request, timeout: Duration) -> Asked<T> {
    let exchange = async {
        let (read, _write) = send(paths, req).await?;
        let mut answer = String::new();
        let mut capped = BufReader::new(read.take(MAX_ANSWER as u64));
        capped.read_line(&mut answer).await.map_err(|e| format!("reading the agent: {e}"))?;
        Ok::<_, String>(answer)
    };
    let answer = match tokio::time::timeout(timeout, exchange).await {
        Ok(a) => a?,
        Err(_) => return Err(format!("the agent did not answer within {} ms", timeout.as_millis())),
    };
    serde_json::from_value(ok_of(&answer)?).map_err(|_| "the agent's answer has another shape".to_string())
}

/// The `ok` of an answer line, or what the agent said instead.
pub(super) fn ok_of(answer: &str) -> Asked<serde_json::Value> {
    let v: serde_json::Value =
        serde_json::from_str(answer.trim()).map_err(|_| "the agent's answer is not JSON (refused?)".to_string())?;
    if let Some(e) = v.get("error") {
        let code = e.get("code").and_then(|c| c.as_str()).unwrap_or("?");
        return Err(format!("the agent answered {code}"));
    }
    Ok(v.get("ok").cloned().unwrap_or_default())
}

/// A token valid at least `min_valid` for `connection` (else the default one).
pub async fn token(
    paths: &Paths,
    connection: Option<&str>,
    min_valid: Duration,
    timeout: Duration,
) -> Asked<TokenReply> {
    let req = Request::Token { connection: connection.map(str::to_string), min_valid_secs: min_valid.as_secs() };
    ask(paths, &req, timeout).await
}

/// The status of each connection the agent holds.
pub async fn status(paths: &Paths, timeout: Duration) -> Asked<Vec<StatusReply>> {
    ask(paths, &Request::Status, timeout).await
}

/// A `watch` stream from the agent: what it said first, then one line per change.
pub struct Watching {
    /// The connection the agent watches.
    pub connection: String,
    /// How often its poller reads the devices.
    pub interval_s: u64,
    lines: tokio::io::Lines<BufReader<OwnedReadHalf>>,
    // Kept open: the agent stops streaming when this end closes.
    _write: OwnedWriteHalf,
}

/// One line of a `watch` stream.
pub enum Watched {
    /// A change, as the agent sent it (the JSON of `thingstray watch --json`).
    Change(serde_json::Value),
    /// The client fell this many changes behind.
    Missed(u64),
}

impl Watching {
    /// The next line; `None` when the agent stopped (it exited, or cut a client that did
    /// not read).
    pub async fn next(&mut self) -> Option<Watched> {
        loop {
            let line = self.lines.next_line().await.ok()??;
            let v: serde_json::Value = match serde_json::from_str(&line) {
                Ok(v) => v,
                Err(_) => continue,
            };
            if let Some(c) = v.get("change") {
                return Some(Watched::Change(c.clone()));
            }
            if let Some(n) = v.get("missed").and_then(serde_json::Value::as_u64) {
                return Some(Watched::Missed(n));
            }
        }
    }
}

/// Listens to the agent's change feed; an error says why not (no agent, or one without
/// a feed), and the caller polls by itself.
pub async fn watch(paths: &Paths, timeout: Duration) -> Asked<Watching> {
    let start = async {
        let (read, write) = send(paths, &Request::Watch).await?;
        let mut lines = BufReader::new(read).lines();
        let first = lines.next_line().await.map_err(|e| e.to_string())?.ok_or("the agent hung up")?;
        let ok = ok_of(&first)?;
        Ok(Watching {
            connection: ok.get("connection").and_then(|c| c.as_str()).unwrap_or_default().to_string(),
            interval_s: ok.get("interval_s").and_then(serde_json::Value::as_u64).unwrap_or(0),
            lines,
            _write: write,
        })
    };
    match tokio::time::timeout(timeout, start).await {
        Ok(r) => r,
        Err(_) => Err(format!("the agent did not answer within {} ms", timeout.as_millis())),
    }
}
