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
        let feed_in = Arc::downgrade(self);
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
            // The app's own reads feed it (alerts.rs): `watch` adds no request.
            feed: Some(Arc::new(move || feed_in.upgrade().ok_or_else(gone)?.feed(None))),
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn watch_beside_the_app_hears_the_apps_reads_and_adds_none() {
        let e = signed_in().await;
        let _agent = e.desktop.start_agent().await.unwrap();
        let mut w = client::watch(e.desktop.paths(), client::TIMEOUT).await.unwrap();
        assert_eq!(w.connection, "demo");
        let door = "7d246592-93db-4d72-a10d-5a51793ece8c";
        e.sim.set_device_status(door, "main", "contactSensor", "contact", serde_json::json!("open"), None).unwrap();
        let reads = || e.sim.stats().routes.get("GET /v1/devices").copied().unwrap_or(0);
        let before = reads();
        e.desktop.refresh_devices("demo").await.unwrap();
        let got = tokio::time::timeout(Duration::from_secs(10), w.next()).await.expect("a line").expect("a change");
        let client::Watched::Change(c) = got else { panic!("a change, not a gap") };
        assert_eq!((c["device_id"].as_str(), c["new"].as_str()), (Some(door), Some("open")), "{c}");
        assert_eq!(reads() - before, 1, "the app's one read: the watcher added none");
    }
}
