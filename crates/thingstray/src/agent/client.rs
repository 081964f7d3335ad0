//! The CLI's side: ask the agent, or say why not (and the caller reads the vault).

use std::time::Duration;

use serde::de::DeserializeOwned;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use super::{socket_path, Request, StatusReply, TokenReply, MAX_ANSWER};
use crate::config::Paths;

/// A live agent answers in well under a millisecond; past this it is hung, and the vault
/// is faster.
pub const TIMEOUT: Duration = Duration::from_millis(1000);

/// The agent's answer, or why there is none (for `-v` output).
pub type Asked<T> = std::result::Result<T, String>;

async fn ask<T: DeserializeOwned>(paths: &Paths, req: &Request, timeout: Duration) -> Asked<T> {
    let path = socket_path(paths);
    let exchange = async {
        let stream = match UnixStream::connect(&path).await {
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
        let mut answer = String::new();
        let mut capped = BufReader::new(read.take(MAX_ANSWER as u64));
        capped.read_line(&mut answer).await.map_err(|e| format!("reading the agent: {e}"))?;
        Ok(answer)
    };
    let answer = match tokio::time::timeout(timeout, exchange).await {
        Ok(a) => a?,
        Err(_) => return Err(format!("the agent did not answer within {} ms", timeout.as_millis())),
    };
    let v: serde_json::Value =
        serde_json::from_str(answer.trim()).map_err(|_| "the agent's answer is not JSON (refused?)".to_string())?;
    if let Some(e) = v.get("error") {
        let code = e.get("code").and_then(|c| c.as_str()).unwrap_or("?");
        return Err(format!("the agent answered {code}"));
    }
    serde_json::from_value(v.get("ok").cloned().unwrap_or_default())
        .map_err(|_| "the agent's answer has another shape".to_string())
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
