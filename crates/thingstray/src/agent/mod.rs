//! The agent: the running desktop app or `thingstray serve` answers the CLI's questions
//! (a token valid for at least N, each connection's status) from memory over a Unix
//! socket, the way ssh-agent and gpg-agent serve their clients (issue 16). A `thingstray
//! token` then costs a socket round trip instead of a keychain read: no keychain prompt
//! on macOS, no wait on a locked keychain, no Secret Service round trips.
//!
//! - Where: `$XDG_RUNTIME_DIR/thingstray/agent.sock` for the user's own settings folder;
//!   for any other (`THINGSTRAY_CONFIG_DIR`, a test's, the demo's) or without a runtime
//!   dir, `agent.sock` in the settings folder, so each settings folder has its own agent
//!   and the demo never answers for the real account. The folder is 0700, the socket 0600.
//! - Who: only peers of this user's uid, checked with `SO_PEERCRED` on every connection,
//!   not only by file modes.
//! - What: one JSON line in, one JSON line out. Never the refresh token or the client
//!   secret: answers are built from an [`crate::token::AccessGrant`] and a status.
//! - One agent per socket: `agent.lock` beside it is held for the agent's life; a socket
//!   file left by a crash is replaced by the next agent.
//!
//! The client falls back to the vault whenever the agent is absent, slow or says no: the
//! agent is a fast path, never a new way to fail. Windows (a named pipe) is not written:
//! there the CLI always reads the vault.

#[cfg(unix)]
pub mod client;
#[cfg(unix)]
pub mod server;
#[cfg(unix)]
pub mod window;

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::config::Paths;
use crate::connection::Connection;
use crate::error::{Error, Result};

pub const SOCKET: &str = "agent.sock";
/// Status answers grow with the connections; tokens are about a kilobyte.
pub const MAX_ANSWER: usize = 256 * 1024;
/// A window's call carries a form at most (a pasted personal access token, names).
pub const MAX_CALL: usize = 64 * 1024;
/// A window's answer may be a thousand devices with their controls.
pub const MAX_CALL_ANSWER: usize = 32 * 1024 * 1024;

/// Where this settings folder's agent listens.
pub fn socket_path(paths: &Paths) -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty() && paths.is_os_default()) {
        Some(runtime) => PathBuf::from(runtime).join("thingstray").join(SOCKET),
        None => paths.dir.join(SOCKET),
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// A token valid at least `min_valid_secs`, for `connection` (else the default).
    Token { connection: Option<String>, min_valid_secs: u64 },
    /// The status of each connection the agent holds.
    Status,
    /// Every change the agent's poller sees, one line each, until the client hangs up:
    /// `{"ok": {"connection", "interval_s"}}` first, then `{"change": {...}}` lines (and
    /// `{"missed": N}` when the client fell behind).
    Watch,
    /// A window's call of the desktop (issue 30): an IPC command by name with its
    /// arguments as the window sent them; the answer is the command's. Only an agent with
    /// [`AgentSource::calls`] (the desktop app) answers.
    Call {
        command: String,
        #[serde(default)]
        args: serde_json::Value,
    },
    /// What the windows show may have changed: `{"ok": {}}` first, then `{"changed": N}`
    /// whenever it does, until the client hangs up.
    Follow,
}

/// The desktop's calls by name (`desktop::calls::dispatch`); the agent module comes before
/// `desktop`, so the app hands it in.
pub type Calls = Arc<
    dyn Fn(String, serde_json::Value) -> futures_util::future::BoxFuture<'static, Result<serde_json::Value>>
        + Send
        + Sync,
>;
/// A receiver that changes whenever what a window shows may have changed.
pub type Follow = Arc<dyn Fn() -> Result<tokio::sync::watch::Receiver<u64>> + Send + Sync>;

/// A token as the agent hands it out: no refresh token, ever.
#[derive(Debug, Serialize, Deserialize)]
pub struct TokenReply {
    pub connection: String,
    pub access_token: String,
    /// UTC, Unix seconds.
    pub expires_at: u64,
    pub scope: String,
    pub installed_app_id: Option<String>,
}

/// One connection's status, as `thingstray status` prints it.
#[derive(Debug, Serialize, Deserialize)]
pub struct StatusReply {
    pub connection: String,
    /// The session's status object (`state`, `expires_at`, ...).
    pub status: serde_json::Value,
    /// The same, in words.
    pub text: String,
    /// Only the user can fix it (a sign-in, a new invite): `thingstray status` exits 4.
    pub needs_action: bool,
}

/// The connection `name` (else the default one), live.
pub type Find = Arc<dyn Fn(Option<&str>) -> Result<Connection> + Send + Sync>;
/// Every connection held live, for `status`.
pub type All = Arc<dyn Fn() -> Vec<Connection> + Send + Sync>;

pub use crate::events::FeedOf;

/// What the agent serves from.
#[derive(Clone)]
pub struct AgentSource {
    pub find: Find,
    pub all: All,
    /// The change feed `watch` listens to (the one the token server's `/v1/events` and
    /// the alerts use), with its connection's name; `None`: this agent has none.
    pub feed: Option<FeedOf>,
    /// A window's calls and its "changed" ticks (the desktop app; issue 30).
    pub calls: Option<Calls>,
    pub follow: Option<Follow>,
}

impl AgentSource {
    /// `thingstray serve`: its one connection.
    pub fn one(conn: Connection) -> AgentSource {
        let all = conn.clone();
        let find = move |name: Option<&str>| match name {
            Some(n) if n != conn.name => Err(Error::UnknownConnection {
                name: n.to_string(),
                known: format!("{} (this agent's only one)", conn.name),
            }),
            _ => Ok(conn.clone()),
        };
        AgentSource {
            find: Arc::new(find),
            all: Arc::new(move || vec![all.clone()]),
            feed: None,
            calls: None,
            follow: None,
        }
    }
}
