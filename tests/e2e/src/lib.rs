//! End-to-end journeys for ThingsTray: the real desktop binary in a real window (Xvfb),
//! driven over WebDriver, with the real Secret Service and the simulator over HTTP on
//! 127.0.0.1. Each journey gets its own display, bus, keyring, settings folder and
//! simulator, so journeys never see each other's state.
//!
//! Run them with `scripts/e2e` (all) or `scripts/e2e first_run` (one); screenshots go to
//! `target/e2e-screenshots/<journey>/`.

pub mod driver;
pub mod notifications;
pub mod session_env;
/// The tray reader and the waits are the test kit's (the resident's tests use them too).
pub use thingstray_testkit::{tray, wait};

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};

use smartthings_sim::{Sim, SimConfig};

pub use driver::{App, Driver, WAIT};

/// How long one CLI command may take: a hung one fails the journey, naming its arguments.
const CLI_PATIENCE: std::time::Duration = std::time::Duration::from_secs(180);
pub use session_env::SessionEnv;
pub use tray::Tray;

/// Journeys share one machine's two cores and one `secret-tool`; run them one at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Fields drop in order: the driver (and the app) first, then the desktop session, then
/// the simulator.
pub struct Journey {
    pub name: &'static str,
    pub driver: Driver,
    pub env: SessionEnv,
    pub sim: Sim,
    pub shots: PathBuf,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

pub fn shots_root() -> PathBuf {
    match std::env::var_os("THINGSTRAY_E2E_SHOTS") {
        Some(p) => p.into(),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/e2e-screenshots"),
    }
}

impl Journey {
    /// A fresh desktop session, simulator (approving sign-ins at once: the sign-in
    /// window is out of WebDriver's reach) and tauri-driver.
    pub async fn start(name: &'static str, config: SimConfig) -> Journey {
        Journey::start_in(name, config, false).await
    }

    /// [`Journey::start`] with the session's own HOME (see [`SessionEnv::own_home`]).
    pub async fn start_with_home(name: &'static str, config: SimConfig) -> Journey {
        Journey::start_in(name, config, true).await
    }

    async fn start_in(name: &'static str, config: SimConfig, own_home: bool) -> Journey {
        let turn = ONE_AT_A_TIME.lock().await;
        let sim = Sim::start(SimConfig { auto_approve: true, ..config }).await.expect("simulator");
        let mut env = SessionEnv::start();
        if own_home {
            env.own_home();
        }
        // "The system browser": records the address it was asked to open.
        let browser = env.path("browser.sh");
        std::fs::write(
            &browser,
            format!("#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\n", env.path("browser.log").display()),
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let driver = Driver::start(&env);
        let shots = shots_root().join(name);
        let _ = std::fs::remove_dir_all(&shots);
        std::fs::create_dir_all(&shots).expect("screenshot dir");
        Journey { name, driver, env, sim, shots, _turn: turn }
    }

    pub async fn launch(&self, args: &[&str]) -> App {
        App::launch(&self.env, &self.driver, args, &self.shots).await
    }

    /// The app's log so far, to read when a journey fails.
    pub fn log(&self) -> String {
        self.env.app_log_tail()
    }

    /// A command of this desktop session (the CLI, a second app launch, secret-tool).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        self.env.apply(&mut c);
        c
    }

    /// `thingstray ARGS`, with `stdin` if given.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> Output {
        self.cli_in(None, args, stdin)
    }

    /// `thingstray` as it would run on another computer: the settings folder `dir` (which
    /// must choose the file vault: the keychain is this session's, shared with the app).
    /// `None`: the app's folder.
    pub fn cli_in(&self, dir: Option<&Path>, args: &[&str], stdin: Option<&str>) -> Output {
        let mut c = self.cli_command(dir);
        c.args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = c.spawn().expect("thingstray CLI");
        if let Some(input) = stdin {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        }
        drop(child.stdin.take());
        // The simulator answers the CLI from this test's own runtime: waiting here must not
        // hold one of its two workers (block_in_place hands this worker's tasks to another),
        // and a CLI that hangs is a failure with its output, not a journey that never ends.
        let pid = child.id();
        let wait = move || {
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let _ = tx.send(child.wait_with_output());
            });
            match rx.recv_timeout(CLI_PATIENCE) {
                Ok(out) => out.expect("thingstray CLI"),
                Err(_) => {
                    let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
                    panic!("thingstray {args:?} did not finish within {} s", CLI_PATIENCE.as_secs());
                }
            }
        };
        match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(wait),
            _ => wait(),
        }
    }

    fn cli_command(&self, dir: Option<&Path>) -> Command {
        let mut c = self.command(driver::cli_bin());
        if let Some(dir) = dir {
            c.env("THINGSTRAY_CONFIG_DIR", dir);
        }
        c
    }

    /// Another computer that holds the sign-in and shares it: its own settings folder and
    /// file vault, set up and signed in with the CLI, then `thingstray serve --share` on
    /// 127.0.0.1 (a free port) until the returned [`Owner`] is dropped.
    pub async fn owner(&self) -> Owner {
        let dir = self.env.path("owner");
        std::fs::create_dir_all(&dir).unwrap();
        self.connect_with_cli_in(Some(&dir), &["--vault", "file"]).await;
        let log = std::fs::File::create(self.env.path("owner.log")).unwrap();
        let mut serve = self
            .cli_command(Some(&dir))
            .args(["serve", "--share", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("thingstray serve --share");
        let mut stdout = std::io::BufReader::new(serve.stdout.take().unwrap());
        // It says where it shares once the listener is up (and share-listener.json written).
        loop {
            let mut line = String::new();
            let read = stdout.read_line(&mut line).unwrap();
            assert!(
                read > 0,
                "serve --share ended: {}",
                std::fs::read_to_string(self.env.path("owner.log")).unwrap_or_default()
            );
            if line.starts_with("sharing on ") {
                break;
            }
        }
        Owner { dir, serve, _stdout: stdout }
    }

    /// A secret as the Secret Service holds it (read with `secret-tool`, not the app).
    pub fn keychain(&self, key: &str) -> Option<String> {
        let out = self
            .command("secret-tool")
            .args(["lookup", "service", "thingstray", "username", key])
            .output()
            .expect("secret-tool (libsecret-tools)");
        (out.status.success() && !out.stdout.is_empty()).then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The stored token pair of the `home` connection.
    pub fn stored_tokens(&self) -> serde_json::Value {
        let raw = self.keychain("home/tokens").expect("tokens in the keychain");
        serde_json::from_str(&raw).expect("the stored tokens are JSON")
    }

    /// Sign-in the CLI way (setup + login, real keychain), for journeys that start from
    /// an account that is already connected.
    pub async fn connect_with_cli(&self) {
        self.connect_with_cli_in(None, &[]).await
    }

    /// [`Journey::connect_with_cli`] in the settings folder `dir`, `setup` given `extra`.
    pub async fn connect_with_cli_in(&self, dir: Option<&Path>, extra: &[&str]) {
        let mut args = vec!["setup".to_string()];
        args.extend(self.sim.setup_args());
        args.extend(extra.iter().map(|a| a.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.cli_in(dir, &args, Some(&format!("{}\n", self.sim.client().client_secret)));
        assert!(out.status.success(), "thingstray setup: {}", String::from_utf8_lossy(&out.stderr));
        // login: read the address it prints, "open" it, paste where the browser was sent.
        let mut c = self.cli_command(dir);
        c.args(["login", "--no-browser"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = c.spawn().expect("thingstray login");
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let url = loop {
            let mut line = String::new();
            assert!(stdout.read_line(&mut line).unwrap() > 0, "login printed no sign-in address");
            if line.starts_with("http") {
                break line.trim().to_string();
            }
        };
        let back = approve(&url).await;
        use std::io::Write;
        child.stdin.take().unwrap().write_all(format!("{back}\n").as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "thingstray login: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Counts from the simulator: (code exchanges, refreshes, token requests).
    pub fn grants(&self) -> (u64, u64, u64) {
        let s = self.sim.stats();
        let g = |k: &str| s.token_grants.get(k).copied().unwrap_or(0);
        (g("authorization_code"), g("refresh_token"), s.token_requests)
    }

    /// Token requests that got no token: refused grants (a reused refresh token), and the
    /// CLI's setup probe (`client_credentials`, which SmartThings refuses by design).
    pub fn failed_token_requests(&self) -> u64 {
        let (codes, refreshes, requests) = self.grants();
        requests - codes - refreshes
    }
}

impl Drop for Journey {
    /// The logs stay beside the screenshots, for a journey that failed in CI.
    fn drop(&mut self) {
        for log in ["app.log", "driver.log", "owner.log"] {
            let _ = std::fs::copy(self.env.path(log), self.shots.join(log));
        }
    }
}

/// The computer that owns the sign-in, sharing it (see [`Journey::owner`]). Dropping it
/// stops its `thingstray serve` (the process this harness started, by its handle).
pub struct Owner {
    pub dir: PathBuf,
    serve: Child,
    /// Kept open: `serve` must never write to a closed pipe.
    _stdout: std::io::BufReader<ChildStdout>,
}

impl Owner {
    /// `thingstray share invite` there: the invite is alone on the last line.
    pub fn invite(&self, j: &Journey) -> String {
        let out = j.cli_in(Some(&self.dir), &["share", "invite"], None);
        assert!(out.status.success(), "share invite: {}", String::from_utf8_lossy(&out.stderr));
        let stdout = String::from_utf8(out.stdout).unwrap();
        stdout.lines().last().expect("an invite line").trim().to_string()
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        let _ = self.serve.kill();
        let _ = self.serve.wait();
    }
}

/// The browser part of sign-in: the simulator's page, approved at once.
pub use smartthings_sim::browser::approve;

/// Device ids from the UI (`device-<id>` test ids).
pub fn device_id(testid: &str) -> &str {
    testid.trim_start_matches("device-")
}
