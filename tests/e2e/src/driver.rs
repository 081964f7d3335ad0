//! The real app under WebDriver: tauri-driver (from crates.io) in front of Debian's
//! WebKitWebDriver, and a fantoccini client with the few verbs the journeys use, each
//! addressed by `data-testid` so the journeys do not depend on layout.
//!
//! What WebKitGTK allows, and so what the journeys rely on: the first web context of the
//! app is the automated one, so every app window (wizard, devices, settings) is a
//! WebDriver window; the sign-in window has its own, non-persistent context and is out
//! of reach (the simulator approves at once, and the app's navigation handler must still
//! catch the redirect).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::error::{CmdError, ErrorStatus};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::session_env::SessionEnv;
use crate::wait::{poll_blocking, until};

pub const WAIT: Duration = Duration::from_secs(30);

/// Where the workspace's binaries are: beside this test's `deps/` folder.
pub fn bin(name: &str, env_override: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env_override) {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let p = dir.join(name);
    assert!(
        p.exists(),
        "{} is missing: build it first (scripts/e2e does: cargo build -p thingstray-desktop -p thingstray-cli -p thingstray-tray)",
        p.display()
    );
    p
}

pub fn desktop_bin() -> PathBuf {
    bin("thingstray-desktop", "THINGSTRAY_DESKTOP_BIN")
}

/// The resident tray of the split (issue 30).
pub fn tray_bin() -> PathBuf {
    bin("thingstray-tray", "THINGSTRAY_TRAY_BIN")
}

pub fn cli_bin() -> PathBuf {
    bin("thingstray", "THINGSTRAY_CLI_BIN")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

fn tauri_driver() -> PathBuf {
    if let Some(p) = std::env::var_os("TAURI_DRIVER") {
        return p.into();
    }
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    match home.map(|h| h.join("bin/tauri-driver")).filter(|p| p.exists()) {
        Some(p) => p,
        None => "tauri-driver".into(),
    }
}

/// How long WebDriver may take to start the app and hand over its first window.
const LAUNCH_PATIENCE: Duration = Duration::from_secs(120);

/// One tauri-driver (and its WebKitWebDriver) for one journey.
pub struct Driver {
    pub url: String,
    child: Child,
}

impl Driver {
    pub fn start(env: &SessionEnv) -> Driver {
        let (port, native) = (free_port(), free_port());
        let log = std::fs::File::create(env.path("driver.log")).expect("driver log");
        let mut cmd = Command::new(tauri_driver());
        cmd.args(["--port", &port.to_string(), "--native-port", &native.to_string()]).stdout(Stdio::null()).stderr(log);
        // Its own process group: killing tauri-driver alone leaves WebKitWebDriver (and
        // the app) running, so the journey ends the whole group.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        env.apply(&mut cmd);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("could not start tauri-driver ({e}); `cargo install tauri-driver --locked`"));
        poll_blocking(Duration::from_secs(20), "tauri-driver to listen", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        poll_blocking(Duration::from_secs(20), "WebKitWebDriver to listen", || {
            std::net::TcpStream::connect(("127.0.0.1", native)).is_ok()
        });
        Driver { url: format!("http://127.0.0.1:{port}"), child }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", "--", &format!("-{}", self.child.id())]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The running app, as WebDriver sees it.
pub struct App {
    pub client: Client,
    shots: PathBuf,
    shot_no: std::cell::Cell<u32>,
}

impl App {
    /// Starts the app binary (through a wrapper that keeps its log) and attaches to its
    /// first window.
    pub async fn launch(env: &SessionEnv, driver: &Driver, args: &[&str], shots: &Path) -> App {
        let wrapper = env.path("app.sh");
        let script =
            format!("#!/bin/sh\nexec '{}' \"$@\" 2>>'{}'\n", desktop_bin().display(), env.path("app.log").display());
        std::fs::write(&wrapper, script).expect("app wrapper");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        let caps = json!({ "tauri:options": { "application": wrapper, "args": args } });
        let caps = caps.as_object().cloned().expect("caps");
        let mut builder = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
        builder.capabilities(caps);
        let connect = builder.connect(&driver.url);
        // A session that never comes (the app handed over to one still running, a
        // WebKitWebDriver that died) fails here with the logs instead of holding the suite.
        let client = match tokio::time::timeout(LAUNCH_PATIENCE, connect).await {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => panic!("WebDriver could not start the app: {e}\n{}", env.app_log_tail()),
            Err(_) => panic!(
                "WebDriver had no session for the app after {} s\napp log:\n{}\ndriver log:\n{}",
                LAUNCH_PATIENCE.as_secs(),
                env.app_log_tail(),
                std::fs::read_to_string(env.path("driver.log")).unwrap_or_default()
            ),
        };
        std::fs::create_dir_all(shots).expect("screenshot dir");
        App { client, shots: shots.to_path_buf(), shot_no: 0.into() }
    }

    fn css(id: &str) -> String {
        format!("[data-testid=\"{id}\"]")
    }

    /// One lookup of the element, displayed and (with `enabled`) enabled, or `None`.
    /// Each attempt looks the element up again: the device window rebuilds its rows when
    /// the data changes, and a handle from before is stale, not a failure of the app.
    async fn ready(&self, id: &str, enabled: bool) -> Option<Element> {
        let e = self.client.find(Locator::Css(&Self::css(id))).await.ok()?;
        if !e.is_displayed().await.ok()? || (enabled && !e.is_enabled().await.ok()?) {
            return None;
        }
        Some(e)
    }

    /// Runs `act` on a fresh lookup of the element until it succeeds (see `ready`). Only
    /// an element that went away or was covered is tried again: any other error fails at
    /// once, so a click that did happen is never sent twice.
    async fn on<T, F, Fut>(&self, id: &str, what: &str, enabled: bool, act: F) -> T
    where
        F: Fn(Element) -> Fut,
        Fut: std::future::Future<Output = Result<T, CmdError>>,
    {
        let what = format!("{what} [data-testid=\"{id}\"]");
        until(WAIT, &what, || async {
            let e = self.ready(id, enabled).await?;
            match act(e).await {
                Ok(v) => Some(v),
                Err(err) if moved(&err) => None,
                Err(err) => panic!("{what}: {err}"),
            }
        })
        .await
    }

    /// Waits until the element is displayed (the app shows steps and panels by class).
    pub async fn shown(&self, id: &str) {
        self.on(id, "to see", false, |_| async { Ok(()) }).await
    }

    /// Clicks the element after scrolling it to the middle of the window: WebDriver
    /// scrolls a target only until it is in view, which can leave it under the window's
    /// sticky footer, and the click then lands on the footer ("intercepted") every time.
    pub async fn click(&self, id: &str) {
        let css = Self::css(id);
        self.on(id, "to click", true, |e| {
            let css = css.clone();
            async move {
                let centre =
                    "const e=document.querySelector(arguments[0]); if (e) e.scrollIntoView({block: 'center'});";
                self.client.execute(centre, vec![serde_json::Value::String(css)]).await?;
                e.click().await
            }
        })
        .await
    }

    pub async fn type_into(&self, id: &str, text: &str) {
        self.on(id, "to type into", false, |e| async move {
            e.clear().await?;
            e.send_keys(text).await
        })
        .await
    }

    /// Keys sent to whatever has the focus, as a person types them (`fantoccini::key::Key`
    /// values for arrows and Enter). Returns the focused element's `data-testid` after.
    pub async fn keys(&self, text: &str) -> Option<String> {
        let focused = self.client.active_element().await.unwrap_or_else(|e| panic!("no focused element: {e}"));
        focused.send_keys(text).await.unwrap_or_else(|e| panic!("typing {text:?}: {e}"));
        self.focused().await
    }

    /// The `data-testid` of the element that has the focus.
    pub async fn focused(&self) -> Option<String> {
        self.js("const e=document.activeElement; return e && e.dataset ? e.dataset.testid : null")
            .await
            .as_str()
            .map(String::from)
    }

    pub async fn text(&self, id: &str) -> String {
        self.on(id, "to read the text of", false, |e| async move { e.text().await }).await
    }

    /// Waits until the element's text satisfies `ok`, and returns it.
    pub async fn text_until(&self, id: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
        until(WAIT, what, || async {
            let t = self.client.find(Locator::Css(&Self::css(id))).await.ok()?.text().await.ok()?;
            ok(&t).then_some(t)
        })
        .await
    }

    pub async fn attr(&self, id: &str, name: &str) -> Option<String> {
        let css = Self::css(id);
        until(WAIT, &format!("the {name} of {css}"), || async {
            self.client.find(Locator::Css(&css)).await.ok()?.attr(name).await.ok()
        })
        .await
    }

    pub async fn js(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Switches to the app window showing `page` (e.g. "devices.html"), waiting for it.
    pub async fn window(&self, page: &str) {
        until(WAIT, &format!("a window showing {page}"), || async {
            for h in self.client.windows().await.ok()? {
                if self.client.switch_to_window(h).await.is_ok() {
                    if let Ok(u) = self.client.current_url().await {
                        if u.path().ends_with(page) {
                            return Some(());
                        }
                    }
                }
            }
            None
        })
        .await
    }

    /// The pages of the app's open windows.
    pub async fn pages(&self) -> Vec<String> {
        let mut out = Vec::new();
        for h in self.client.windows().await.unwrap_or_default() {
            if self.client.switch_to_window(h).await.is_ok() {
                if let Ok(u) = self.client.current_url().await {
                    out.push(u.path().trim_start_matches('/').to_string());
                }
            }
        }
        out
    }

    /// `NN-name.png` in this journey's screenshot folder.
    pub async fn shot(&self, name: &str) {
        let n = self.shot_no.get() + 1;
        self.shot_no.set(n);
        // WebKit's screenshot is its last painted frame, which can be older than the DOM
        // just read (a first run showed page 1 without its answer table): wait for two
        // frames first. Failure here (no frame within the script timeout) only costs that.
        let frames = "return new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))";
        let _ = self.client.execute(frames, vec![]).await;
        if let Ok(png) = self.client.screenshot().await {
            let _ = std::fs::write(self.shots.join(format!("{n:02}-{name}.png")), png);
        }
    }

    /// Ends the WebDriver session; WebKitWebDriver ends the app with it.
    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}

/// The element was re-rendered, is not there yet, or is covered for a moment.
fn moved(e: &CmdError) -> bool {
    e.is_stale_element_reference()
        || e.is_no_such_element()
        || e.is_element_not_interactable()
        || matches!(e, CmdError::Standard(w) if w.error == ErrorStatus::ElementClickIntercepted)
}

impl SessionEnv {
    pub fn app_log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.path("app.log")).unwrap_or_default();
        let lines: Vec<_> = log.lines().filter(|l| !l.contains("portal")).collect();
        format!("--- app log (last 40 lines) ---\n{}", lines[lines.len().saturating_sub(40)..].join("\n"))
    }
}
