//! A window's side of the agent (issue 30): the device, settings and wizard windows run in
//! a process of their own, started when one opens, and ask the resident process (the one
//! with the tray and the sessions) for everything. `call` is one IPC command; a
//! [`Follower`] hears when to read again, and says when the resident went away and when
//! it is back, so a window can say "ThingsTray is restarting" instead of failing.
//!
//! Nothing a window shows lives in the window: when the resident restarts, the window
//! reads it all again from the new one, and nothing is lost.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader, Lines};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

use super::client::{send, Asked};
use super::{Request, MAX_CALL_ANSWER};
use crate::config::Paths;

/// Waits between tries to reach a resident that went away: soon, then every 2 s.
const RETRY_MIN: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(2);

/// Calls `command` with `args` in the resident. `Ok(Ok(answer))`, `Ok(Err({code,
/// message}))` when the desktop refused (to show as it is), `Err(why)` when no resident
/// answered (none running, or none within `timeout`).
pub async fn call(paths: &Paths, command: &str, args: Value, timeout: Duration) -> Asked<Result<Value, Value>> {
    let req = Request::Call { command: command.to_string(), args };
    let exchange = async {
        let (read, _write) = send(paths, &req).await?;
        let mut line = String::new();
        let mut capped = BufReader::new(read.take(MAX_CALL_ANSWER as u64));
        capped.read_line(&mut line).await.map_err(|e| format!("reading the resident: {e}"))?;
        if line.is_empty() {
            return Err("the resident hung up before answering".to_string());
        }
        Ok::<_, String>(line)
    };
    let line = match tokio::time::timeout(timeout, exchange).await {
        Ok(l) => l?,
        Err(_) => return Err(format!("the resident did not answer within {} s", timeout.as_secs())),
    };
    let mut v: Value =
        serde_json::from_str(line.trim()).map_err(|_| "the resident's answer is not JSON".to_string())?;
    match (v.get_mut("ok").map(Value::take), v.get_mut("error").map(Value::take)) {
        (Some(ok), _) => Ok(Ok(ok)),
        (None, Some(error)) => Ok(Err(error)),
        (None, None) => Err("the resident's answer has neither `ok` nor `error`".to_string()),
    }
}

/// What a [`Follower`] heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Followed {
    /// Connected (first, or again after [`Followed::Lost`]): read everything again.
    Back,
    /// Something the windows show may have changed.
    Changed,
    /// The resident went away (quit, crashed, restarting); [`Follower::next`] waits for
    /// one to come back.
    Lost(String),
}

/// Follows the resident's changes, across its restarts.
pub struct Follower {
    paths: Paths,
    lines: Option<(Lines<BufReader<OwnedReadHalf>>, OwnedWriteHalf)>,
}

impl Follower {
    /// Not connected yet: the first [`Follower::next`] connects and says [`Followed::Back`].
    pub fn new(paths: Paths) -> Follower {
        Follower { paths, lines: None }
    }

    /// The next thing heard; while no resident runs, waits (retrying) until one does.
    pub async fn next(&mut self) -> Followed {
        if let Some((lines, _)) = &mut self.lines {
            let why = match lines.next_line().await {
                Ok(Some(line)) if line.contains("\"changed\"") => return Followed::Changed,
                Ok(Some(other)) => format!("the resident said {other}"),
                Ok(None) => "the resident hung up".to_string(),
                Err(e) => format!("reading the resident: {e}"),
            };
            self.lines = None;
            return Followed::Lost(why);
        }
        let mut wait = RETRY_MIN;
        loop {
            match self.connect().await {
                Ok(()) => return Followed::Back,
                Err(why) => tracing::debug!("no resident yet: {why}"),
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(RETRY_MAX);
        }
    }

    async fn connect(&mut self) -> Asked<()> {
        let (read, write) = send(&self.paths, &Request::Follow).await?;
        let mut lines = BufReader::new(read).lines();
        let first = lines.next_line().await.map_err(|e| e.to_string())?.ok_or("the resident hung up")?;
        super::client::ok_of(&first)?;
        self.lines = Some((lines, write));
        Ok(())
    }
}
