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
            // Not yet: the app's device poller is the window's; until it feeds a change
            // feed too, `thingstray watch` beside the app polls by itself.
            feed: None,
        };
        Agent::start(&self.paths, source).await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::tests::signed_in;
    use crate::agent::client;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_cli_gets_the_apps_token_and_status_from_its_memory_until_it_quits() {
        let e = signed_in().await;
        let paths = e.desktop.paths.clone();
        let agent = e.desktop.start_agent().await.unwrap();
        assert!(agent.path().starts_with(e._dir.path()), "a test's settings folder has its own agent");
        // A second agent for the same folder is refused: one serves it.
        assert!(e.desktop.start_agent().await.is_err());

        let t = client::token(&paths, None, Duration::from_secs(60), client::TIMEOUT).await.unwrap();
        assert_eq!(t.connection, "demo");
        assert!(e.sim.accepts(&t.access_token).await);
        let unknown = client::token(&paths, Some("cabin"), Duration::from_secs(60), client::TIMEOUT).await.unwrap_err();
        assert!(unknown.contains("unknown_connection"), "{unknown}");
        let rows = client::status(&paths, client::TIMEOUT).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].status["state"], "connected");
        assert!(!rows[0].needs_action && rows[0].text.starts_with("connected"), "{:?}", rows[0]);

        drop(agent);
        let gone = client::token(&paths, None, Duration::from_secs(60), client::TIMEOUT).await.unwrap_err();
        assert!(gone.contains("no agent"), "{gone}");
    }
}
