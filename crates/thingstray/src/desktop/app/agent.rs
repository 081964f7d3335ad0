//! The desktop app as the CLI's agent (agent/, issue 16): `thingstray token` and `status`
//! on this machine are answered from the app's live sessions, without a keychain read.

use std::sync::{Arc, Weak};

use super::Desktop;
use crate::agent::server::Agent;
use crate::agent::AgentSource;
use crate::error::{Error, Result};

impl Desktop {
    /// Starts the agent for this desktop's settings folder. It serves the connection asked
    /// for, else the one the token server serves (the default). Dropping the [`Agent`]
    /// stops it; it holds no strong reference to the desktop.
    pub async fn start_agent(self: &Arc<Self>) -> Result<Agent> {
        // The desktop went away (quit, or the demo replaced it): as while starting.
        let gone = || Error::Starting;
        let find_in = Arc::downgrade(self);
        let all_in: Weak<Desktop> = Arc::downgrade(self);
        let source = AgentSource {
            find: Arc::new(move |name: Option<&str>| {
                let d = find_in.upgrade().ok_or_else(gone)?;
                match name {
                    Some(n) => d.connection(n),
                    None => d.served(),
                }
            }),
            all: Arc::new(move || {
                all_in.upgrade().map(|d| d.state().live.values().map(|l| l.conn.clone()).collect()).unwrap_or_default()
            }),
        };
        Agent::start(&self.paths, source).await
    }
}
