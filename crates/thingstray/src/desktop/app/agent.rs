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
        let (calls_in, follow_in) = (Arc::downgrade(self), Arc::downgrade(self));
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
            // A window in its own process asks for everything here (issue 30).
            calls: Some(Arc::new(move |command: String, args: serde_json::Value| {
                let desktop = calls_in.upgrade();
                Box::pin(async move { super::calls::dispatch(desktop.ok_or_else(gone)?, &command, args).await })
            })),
            follow: Some(Arc::new(move || Ok(follow_in.upgrade().ok_or_else(gone)?.subscribe()))),
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

    /// Waits for `check` to hold, polling: the resident acts on its own time.
    async fn until(what: &str, check: impl Fn() -> bool) {
        let wait = async {
            while !check() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), wait).await.unwrap_or_else(|_| panic!("{what}"));
    }

    fn a_switch(e: &super::super::tests::Env) -> String {
        let list = e.desktop.cached_device_list("demo").unwrap();
        list.rooms.iter().flat_map(|r| &r.devices).find(|d| d.can_switch && d.usable()).unwrap().id.clone()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_window_asks_the_resident_and_gets_its_answer_or_its_refusal() {
        use crate::agent::window::call;
        let e = signed_in().await;
        let paths = e.desktop.paths().clone();
        let none = call(&paths, "connections", serde_json::json!({}), Duration::from_secs(5)).await.unwrap_err();
        assert!(none.contains("no agent"), "no resident yet: {none}");
        let _agent = e.desktop.start_agent().await.unwrap();
        let list = call(&paths, "cached_devices", serde_json::json!({"connection": "demo"}), Duration::from_secs(5))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(list["connection"], "demo");
        let refused =
            call(&paths, "cached_devices", serde_json::json!({"connection": "cabin"}), Duration::from_secs(5))
                .await
                .unwrap()
                .unwrap_err();
        assert_eq!(refused["code"], "unknown_connection", "{refused}");
        assert!(refused["message"].as_str().is_some_and(|m| m.contains("demo")), "{refused}");
        // The CLI's answers are unchanged beside it.
        assert_eq!(client::status(&paths, client::TIMEOUT).await.unwrap().len(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_window_killed_mid_command_leaves_the_command_done_and_the_resident_serving() {
        use tokio::io::AsyncWriteExt;
        let e = signed_in().await;
        let paths = e.desktop.paths().clone();
        let _agent = e.desktop.start_agent().await.unwrap();
        let id = a_switch(&e);
        let before = e.sim.device_attribute(&id, "main", "switch", "switch").unwrap() == "on";
        // The window sends its call and dies before any answer: its end of the socket closes.
        let mut s = tokio::net::UnixStream::connect(crate::agent::socket_path(&paths)).await.unwrap();
        let call = serde_json::json!({"op": "call", "command": "switch_device",
            "args": {"connection": "demo", "device": id, "on": !before}});
        s.write_all(format!("{call}\n").as_bytes()).await.unwrap();
        drop(s);
        until("the command carried out", || {
            e.sim.device_attribute(&id, "main", "switch", "switch").is_some_and(|v| (v == "on") != before)
        })
        .await;
        until("the read-back in the cache", || {
            let list = e.desktop.cached_device_list("demo").unwrap();
            list.rooms.iter().flat_map(|r| &r.devices).any(|d| d.id == id && d.switch == Some(!before))
        })
        .await;
        // The next window is answered.
        let again = crate::agent::window::call(
            &paths,
            "switch_device",
            serde_json::json!({"connection": "demo", "device": id, "on": before}),
            Duration::from_secs(10),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(again["switch"], before);
    }

    async fn within(f: &mut crate::agent::window::Follower) -> crate::agent::window::Followed {
        tokio::time::timeout(Duration::from_secs(10), f.next()).await.expect("heard")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_window_follows_the_resident_through_its_restart_and_nothing_is_lost() {
        use crate::agent::window::{call, Followed, Follower};
        let e = signed_in().await;
        let paths = e.desktop.paths().clone();
        let agent = e.desktop.start_agent().await.unwrap();
        let mut f = Follower::new(paths.clone());
        assert_eq!(within(&mut f).await, Followed::Back);
        let id = a_switch(&e);
        e.desktop.set_favorite("demo", &id, true).unwrap();
        assert_eq!(within(&mut f).await, Followed::Changed);

        drop(agent);
        assert!(matches!(within(&mut f).await, Followed::Lost(_)), "the window is told");
        // A new resident (same settings): the window connects again by itself.
        let _agent = e.desktop.start_agent().await.unwrap();
        assert_eq!(within(&mut f).await, Followed::Back);
        let s = call(&paths, "settings", serde_json::json!({}), Duration::from_secs(5)).await.unwrap().unwrap();
        assert!(s["connections"]["demo"]["favorites"].as_array().unwrap().iter().any(|d| d == &serde_json::json!(id)));
        e.desktop.set_favorite("demo", &id, false).unwrap();
        assert_eq!(within(&mut f).await, Followed::Changed);
    }
}
