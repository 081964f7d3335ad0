//! The token server inside the desktop app: the same [`TokenServer`] as `thingstray
//! serve` (loopback only, bearer secret from the vault, `Host`/`Origin` checks), handing
//! out the token of the desktop's default connection from its session's memory. On/off
//! and the port are kept in desktop.toml, so it comes back at the next launch.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::Desktop;
use crate::connection::Connection;
use crate::desktop::indicator::TokenServerStatus;
use crate::desktop::prefs::{check_server_port, TokenServerPrefs};
use crate::error::{Error, Result};
use crate::serve::{ServeOptions, ServerSecret, TokenServer, TokenSource, DEFAULT_ADDRS};

/// How long open requests may take to finish when the server stops (quit, port change).
const GRACE: Duration = Duration::from_secs(2);

#[derive(Default)]
pub(super) struct ServerSlot {
    /// Held across a whole start or stop, so two quick clicks can't race two servers.
    running: tokio::sync::Mutex<Option<TokenServer>>,
    /// What the tray reads without waiting on the above.
    seen: Mutex<Seen>,
}

#[derive(Default, Clone)]
struct Seen {
    /// The port listened on, while running.
    port: Option<u16>,
    /// Why it is not running although it should be.
    error: Option<Error>,
}

impl Desktop {
    pub fn token_server(&self) -> TokenServerStatus {
        let prefs = self.locked_settings().token_server.clone();
        let seen = self.server.seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
        TokenServerStatus {
            enabled: prefs.enabled,
            port: seen.port.unwrap_or(prefs.port),
            running: seen.port.is_some(),
            url: seen.port.map(|p| format!("http://127.0.0.1:{p}")),
            serving: self.served().ok().map(|c| c.name),
            error: seen.error,
        }
    }

    fn see(&self, port: Option<u16>, error: Option<Error>) {
        *self.server.seen.lock().unwrap_or_else(|p| p.into_inner()) = Seen { port, error };
        self.bump();
    }

    /// Turns the server on (on `port`) or off, and keeps the choice for the next launch.
    /// A port change starts the new server before stopping the old one: if the new port
    /// is busy, the old server keeps running and nothing is saved.
    pub async fn set_token_server(self: &Arc<Self>, on: bool, port: u64) -> Result<TokenServerStatus> {
        let port = check_server_port(port)?;
        let mut running = self.server.running.lock().await;
        if on && running.as_ref().is_none_or(|s| s.port() != port) {
            match self.start_server(port).await {
                Ok(fresh) => {
                    if let Some(old) = running.replace(fresh) {
                        old.shutdown(GRACE).await;
                    }
                    self.see(Some(port), None);
                }
                Err(e) => {
                    if running.is_none() {
                        self.see(None, Some(e.clone()));
                    }
                    return Err(e);
                }
            }
        } else if !on {
            if let Some(old) = running.take() {
                old.shutdown(GRACE).await;
            }
            self.see(None, None);
        }
        drop(running);
        self.change_settings(|s| {
            s.token_server = TokenServerPrefs { enabled: on, port };
            Ok(())
        })?;
        Ok(self.token_server())
    }

    /// At launch: starts the server if the user left it on. A failure (a busy port) is
    /// kept for the tray and the settings window, and the choice stays on for next time.
    pub async fn resume_token_server(self: &Arc<Self>) -> Result<()> {
        let prefs = self.locked_settings().token_server.clone();
        let mut running = self.server.running.lock().await;
        if !prefs.enabled || running.is_some() {
            return Ok(());
        }
        match self.start_server(prefs.port).await {
            Ok(server) => {
                *running = Some(server);
                self.see(Some(prefs.port), None);
                Ok(())
            }
            Err(e) => {
                tracing::warn!(code = e.code(), port = prefs.port, "the token server could not start");
                self.see(None, Some(e.clone()));
                Err(e)
            }
        }
    }

    /// At quit: stops the token server and the share listener, then stores any token pair the vault refused
    /// earlier (the only copy of a live refresh token), trying for a few seconds. Returns
    /// the connections whose pair could not be saved.
    pub async fn shutdown(&self) -> Vec<(String, Error)> {
        self.stop_token_server().await;
        self.stop_sharing().await;
        let sessions: Vec<_> = self.state().live.values().map(|l| l.conn.session.clone()).collect();
        let mut lost = Vec::new();
        for s in sessions {
            if let Err(e) = s.flush(Duration::from_secs(5)).await {
                tracing::error!(connection = %s.connection(), code = e.code(), "a new token pair could not be saved before quitting");
                lost.push((s.connection().to_string(), e));
            }
        }
        lost
    }

    /// Stops accepting, lets open requests finish. The choice stays as it is.
    pub async fn stop_token_server(&self) {
        let old = self.server.running.lock().await.take();
        if let Some(old) = old {
            old.shutdown(GRACE).await;
            self.see(None, None);
        }
    }

    /// The secret scripts send; for the settings window's reveal and copy only.
    pub async fn server_secret(&self) -> Result<ServerSecret> {
        ServerSecret::load_or_create(&self.vault).await
    }

    /// A new secret; a running server is restarted on its port so the old one stops
    /// working at once.
    pub async fn rotate_server_secret(self: &Arc<Self>) -> Result<TokenServerStatus> {
        let mut running = self.server.running.lock().await;
        ServerSecret::rotate(&self.vault).await?;
        if let Some(old) = running.take() {
            let port = old.port();
            old.shutdown(GRACE).await;
            match self.start_server(port).await {
                Ok(server) => *running = Some(server),
                Err(e) => {
                    self.see(None, Some(e.clone()));
                    return Err(e);
                }
            }
        }
        drop(running);
        Ok(self.token_server())
    }

    async fn start_server(self: &Arc<Self>, port: u16) -> Result<TokenServer> {
        let secret = ServerSecret::load_or_create(&self.vault).await?;
        // Weak: the server lives inside the Desktop and must not keep it alive.
        let desktop = Arc::downgrade(self);
        let events_of = Arc::downgrade(self);
        let source = TokenSource::Current(Arc::new(move || match desktop.upgrade() {
            Some(d) => d.served(),
            None => Err(Error::io("serving a token", "ThingsTray is quitting")),
        }));
        // `api_url` is unused with `TokenSource::Current`: each connection brings its own.
        let opts = ServeOptions {
            addrs: DEFAULT_ADDRS.to_vec(),
            port,
            api_url: crate::config::DEFAULT_API_URL.into(),
            // The served connection's changes, from the app's own reads (alerts.rs),
            // looked up per stream as the token is per request.
            events: Some(Arc::new(move || match events_of.upgrade() {
                Some(d) => d.feed(None),
                None => Err(Error::io("streaming changes", "ThingsTray is quitting")),
            })),
        };
        TokenServer::start_with(source, secret, opts).await
    }

    /// The connection the server hands out: the default one; the first open one only when
    /// no default is set. A default that failed to open is an error (503 with the reason),
    /// never a silent switch: a script meant for `home` must not get `cabin`'s token.
    pub(super) fn served(&self) -> Result<Connection> {
        let st = self.state();
        let chosen = match &st.default {
            Some(name) => match st.live.get(name) {
                Some(l) => Some(l),
                None => {
                    let why = st
                        .problems
                        .iter()
                        .find(|(n, _)| n == name)
                        .map_or_else(|| "it is not set up".to_string(), |(_, e)| e.to_string());
                    return Err(Error::DefaultUnavailable { connection: name.clone(), why });
                }
            },
            None => st.live.values().next(),
        };
        chosen.map(|l| l.conn.clone()).ok_or_else(|| Error::NotSignedIn { connection: "(none set up)".into() })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::signed_in;
    use super::*;

    #[tokio::test]
    async fn a_default_that_failed_to_open_is_a_503_not_another_connections_token() {
        let e = signed_in().await;
        assert_eq!(e.desktop.served().unwrap().name, "demo");
        {
            let mut st = e.desktop.state();
            st.default = Some("home".into());
            st.problems.push(("home".into(), Error::KeychainTimeout { after: std::time::Duration::from_secs(20) }));
        }
        let err = e.desktop.served().unwrap_err();
        assert_eq!(err.code(), "default_unavailable");
        assert!(err.to_string().contains("did not answer within 20 s"), "{err}");
        let resp = crate::serve::core_error_response(&err);
        assert_eq!(resp.status(), 503);
        // No default at all: the one open connection is served.
        e.desktop.state().default = None;
        assert_eq!(e.desktop.served().unwrap().name, "demo");
    }
    use crate::config::Paths;
    use crate::connection::Options;
    use crate::desktop::prefs::DesktopSettings;

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    }

    /// Status and JSON body of a request to the server, as a script would make it.
    async fn get(port: u16, path: &str, secret: Option<&str>, origin: Option<&str>) -> (u16, serde_json::Value) {
        let mut req = reqwest::Client::new().get(format!("http://127.0.0.1:{port}{path}"));
        if let Some(s) = secret {
            req = req.bearer_auth(s);
        }
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        let resp = req.send().await.unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap_or(serde_json::Value::Null))
    }

    fn tray_line(d: &Desktop) -> Option<String> {
        d.tray().entries.iter().find_map(|e| match e {
            crate::desktop::MenuEntry::Item { id, text, .. } if id == "token-server" => Some(text.clone()),
            _ => None,
        })
    }

    #[tokio::test]
    async fn serves_the_desktops_session_follows_a_rename_and_stops_cleanly() {
        let e = signed_in().await;
        let d = &e.desktop;
        assert_eq!(tray_line(d), None);
        let port = free_port();
        let st = d.set_token_server(true, port.into()).await.unwrap();
        assert!(st.running && st.enabled, "{st:?}");
        assert_eq!(st.url, Some(format!("http://127.0.0.1:{port}")));
        assert_eq!(st.serving.as_deref(), Some("demo"));
        let line = format!("Token server on 127.0.0.1:{port}");
        assert_eq!(tray_line(d), Some(line.clone()));
        assert!(d.tray().tooltip.ends_with(&line), "{}", d.tray().tooltip);

        // The session's own token, from memory, behind the same guard as `thingstray serve`.
        let secret = d.server_secret().await.unwrap();
        let (grant, _) = d.token_for_copy("demo").await.unwrap();
        let (status, body) = get(port, "/v1/token", Some(secret.expose()), None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["access_token"], grant.secret());
        assert_eq!(get(port, "/v1/token", None, None).await.0, 401);
        assert_eq!(get(port, "/v1/token", Some(secret.expose()), Some("https://evil.example")).await.0, 403);
        let (status, devices) = get(port, "/api/v1/devices", Some(secret.expose()), None).await;
        assert_eq!(status, 200);
        assert!(devices["items"].as_array().is_some_and(|i| !i.is_empty()));
        assert_eq!(DesktopSettings::load(&d.paths).unwrap().token_server, TokenServerPrefs { enabled: true, port });

        // The change feed of the app's own reads, as Server-Sent Events.
        let mut sse = reqwest::Client::new()
            .get(format!("http://127.0.0.1:{port}/v1/events"))
            .bearer_auth(secret.expose())
            .send()
            .await
            .unwrap();
        assert_eq!(sse.status(), 200);
        let door = "7d246592-93db-4d72-a10d-5a51793ece8c";
        e.sim.set_device_status(door, "main", "contactSensor", "contact", serde_json::json!("open"), None).unwrap();
        d.refresh_devices("demo").await.unwrap();
        let mut got = String::new();
        while !got.contains("event: change") || !got.contains(door) {
            let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), sse.chunk()).await;
            got.push_str(&String::from_utf8_lossy(&chunk.expect("an event").unwrap().expect("the stream stays open")));
        }
        drop(sse);

        // A rename needs no restart: each request looks the connection up.
        d.rename_connection("demo", "cabin").await.unwrap();
        assert_eq!(d.token_server().serving.as_deref(), Some("cabin"));
        assert_eq!(get(port, "/v1/token", Some(secret.expose()), None).await.0, 200);

        // Quit: the port is free at once, and the choice stays on for the next launch.
        d.stop_token_server().await;
        assert!(tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err());
        assert_eq!(tray_line(d), None);
        assert!(d.token_server().enabled);

        // The next launch starts it again.
        let next = Desktop::open(Paths::at(e._dir.path()), Options::default()).await.unwrap();
        next.resume_token_server().await.unwrap();
        assert!(next.token_server().running);
        assert_eq!(get(port, "/v1/token", Some(secret.expose()), None).await.0, 200);
        let off = next.set_token_server(false, port.into()).await.unwrap();
        assert!(!off.running && !off.enabled);
        assert!(tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err());
        assert!(!DesktopSettings::load(&d.paths).unwrap().token_server.enabled);
    }

    #[tokio::test]
    async fn a_busy_port_says_what_to_do_and_changes_nothing() {
        let e = signed_in().await;
        let d = &e.desktop;
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let busy = taken.local_addr().unwrap().port();
        let err = d.set_token_server(true, busy.into()).await.unwrap_err();
        assert_eq!(err.code(), "port_in_use");
        let msg = err.to_string();
        assert!(msg.contains(&format!("Port {busy} is already in use")) && msg.contains("Pick another port"), "{msg}");
        assert!(!d.token_server().enabled && !d.token_server().running);
        assert_eq!(d.set_token_server(true, 80).await.unwrap_err().code(), "invalid_setting");
        assert_eq!(d.set_token_server(true, 70_000).await.unwrap_err().code(), "invalid_setting");

        // Running elsewhere, a move to the busy port keeps the running server.
        let port = free_port();
        d.set_token_server(true, port.into()).await.unwrap();
        assert!(d.set_token_server(true, busy.into()).await.is_err());
        let st = d.token_server();
        assert!(st.running && st.port == port, "{st:?}");
        let secret = d.server_secret().await.unwrap();
        assert_eq!(get(port, "/v1/token", Some(secret.expose()), None).await.0, 200);
        d.set_token_server(false, port.into()).await.unwrap();

        // At launch, a busy port shows in the tray instead.
        d.change_settings(|s| {
            s.token_server = TokenServerPrefs { enabled: true, port: busy };
            Ok(())
        })
        .unwrap();
        assert_eq!(d.resume_token_server().await.unwrap_err().code(), "port_in_use");
        assert_eq!(tray_line(d), Some(format!("Token server off: port {busy} is in use")));
        assert!(d.token_server().error.is_some());
    }

    #[tokio::test]
    async fn a_new_secret_locks_out_the_old_one_at_once() {
        let e = signed_in().await;
        let d = &e.desktop;
        let port = free_port();
        d.set_token_server(true, port.into()).await.unwrap();
        let old = d.server_secret().await.unwrap();
        assert_eq!(old.expose().len(), 64);
        assert!(!serde_json::to_string(&d.token_server()).unwrap().contains(old.expose()));
        let st = d.rotate_server_secret().await.unwrap();
        assert!(st.running && st.port == port);
        let new = d.server_secret().await.unwrap();
        assert_ne!(old.expose(), new.expose());
        assert_eq!(get(port, "/v1/token", Some(old.expose()), None).await.0, 401);
        assert_eq!(get(port, "/v1/token", Some(new.expose()), None).await.0, 200);
        d.stop_token_server().await;
    }
}
