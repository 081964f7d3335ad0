//! Shared set-up for the tests that run the real `thingstray` binary: a simulator in this
//! process, a config directory of its own per test (file vault, so no keychain is
//! needed), and helpers to drive sign-in the way a person would.

use std::process::Stdio;
use std::time::Duration;

use smartthings_sim::{Sim, SimConfig};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

pub const BIN: &str = env!("CARGO_BIN_EXE_thingstray");
/// Generous: only a hung process ever gets near it; nothing waits for it to pass.
pub const PATIENCE: Duration = Duration::from_secs(60);

pub struct Home {
    pub sim: Sim,
    pub dir: tempfile::TempDir,
    /// Set for every command (a test's own D-Bus bus, say).
    pub env: Vec<(String, String)>,
}

#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn ok(&self) -> &Self {
        assert_eq!(self.code, 0, "expected success; stderr: {}\nstdout: {}", self.stderr, self.stdout);
        self
    }
}

impl Home {
    /// A simulator whose sign-in page approves at once (the first location, `Home`).
    pub async fn new() -> Home {
        Home::with(SimConfig { auto_approve: true, ..SimConfig::default() }).await
    }

    pub async fn with(config: SimConfig) -> Home {
        let sim = Sim::start(config).await.expect("simulator starts");
        // A TLS simulator's authority, for every command (the child's environment only).
        let env =
            sim.ca_file().map(|f| ("THINGSTRAY_CA_FILE".to_string(), f.display().to_string())).into_iter().collect();
        Home { sim, dir: tempfile::tempdir().unwrap(), env }
    }

    /// The binary with this test's config dir and nothing from the developer's shell.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .env("THINGSTRAY_CONFIG_DIR", self.dir.path())
            .env_remove("THINGSTRAY_CLIENT_SECRET")
            .env_remove("THINGSTRAY_CONNECTION")
            .env_remove("THINGSTRAY_LOG")
            .env_remove("THINGSTRAY_CA_FILE")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        c.envs(self.env.iter().map(|(k, v)| (k, v)));
        c
    }

    pub async fn run(&self, args: &[&str]) -> Out {
        self.run_with_stdin(args, None).await
    }

    pub async fn run_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> Out {
        let mut c = self.cmd(args);
        if stdin.is_some() {
            c.stdin(Stdio::piped());
        }
        let mut child = c.spawn().expect("thingstray runs");
        if let Some(input) = stdin {
            let mut si = child.stdin.take().unwrap();
            // The program may exit before it reads stdin (setup refusing a field first):
            // a broken pipe then is its answer, not the test's failure.
            if let Err(e) = si.write_all(input.as_bytes()).await {
                assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "writing stdin: {e}");
            }
            drop(si);
        }
        finish(child).await
    }

    pub fn secret(&self) -> String {
        self.sim.client().client_secret.clone()
    }

    /// `setup --vault file` for the simulator's app, with `redirect_uri`.
    pub async fn setup_with(&self, redirect_uri: &str, extra: &[&str]) -> Out {
        let mut args = self.setup_args();
        set_flag(&mut args, "--redirect-uri", redirect_uri);
        args.extend(extra.iter().map(|a| a.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let secret = format!("{}\n", self.secret());
        self.run_with_stdin(&args, Some(&secret)).await
    }

    /// `setup --vault file` and the flags that point it at this test's simulator.
    pub fn setup_args(&self) -> Vec<String> {
        let mut args: Vec<String> = ["setup", "--vault", "file"].map(String::from).to_vec();
        args.extend(self.sim.setup_args());
        args
    }

    pub async fn setup(&self) -> Out {
        let r = self.setup_with("https://thingstray.invalid/callback", &[]).await;
        r.ok();
        r
    }

    /// `login` the way a person on a headless machine does it: read the address it
    /// prints, "open" it (the simulator approves), paste where the browser was sent.
    pub async fn login(&self) -> Out {
        let mut child = self.cmd(&["login", "--no-browser"]).stdin(Stdio::piped()).spawn().unwrap();
        let (url, mut lines) = authorize_url(&mut child).await;
        let back = match self.sim.ca_pem() {
            // A TLS simulator: the "browser" trusts its authority, as the binary does.
            Some(_) => {
                let http = self.sim.client_builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
                smartthings_sim::browser::approve_with(&http, &url).await
            }
            None => approve(&url).await,
        };
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(format!("{back}\n").as_bytes()).await.unwrap();
        drop(stdin);
        let mut rest = String::new();
        tokio::time::timeout(PATIENCE, lines.read_to_string(&mut rest)).await.expect("login finishes").unwrap();
        let mut out = finish(child).await;
        out.stdout = format!("{url}\n{rest}");
        out
    }

    pub async fn signed_in(&self) {
        self.setup().await;
        self.login().await.ok();
    }

    pub fn secrets_file(&self) -> serde_json::Value {
        match std::fs::read(self.dir.path().join("secrets.json")) {
            Ok(b) => serde_json::from_slice(&b).unwrap(),
            Err(_) => serde_json::json!({}),
        }
    }

    pub fn refreshes(&self) -> u64 {
        self.sim.stats().token_grants.get("refresh_token").copied().unwrap_or(0)
    }
}

/// Reads stdout until the authorize address; returns it and the rest of stdout.
pub async fn authorize_url(child: &mut Child) -> (String, BufReader<tokio::process::ChildStdout>) {
    let mut lines = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        let n =
            tokio::time::timeout(PATIENCE, lines.read_line(&mut line)).await.expect("an address is printed").unwrap();
        assert!(n > 0, "login ended before printing the sign-in address");
        if line.starts_with("http") {
            return (line.trim().to_string(), lines);
        }
    }
}

pub use smartthings_sim::browser::{approve, decide};

/// Gives `flag` (already in `args`) another value.
pub fn set_flag(args: &mut [String], flag: &str, value: &str) {
    let at = args.iter().position(|a| a == flag).unwrap_or_else(|| panic!("{flag} is in {args:?}")) + 1;
    args[at] = value.to_string();
}

pub async fn finish(child: Child) -> Out {
    let out = tokio::time::timeout(PATIENCE, child.wait_with_output()).await.expect("thingstray exits").unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn query_param(url: &str, key: &str) -> Option<String> {
    url::Url::parse(url).ok()?.query_pairs().find(|(k, _)| k == key).map(|(_, v)| v.into_owned())
}

/// A second computer on this machine (issue 11), for tests that need its own keychain.
pub struct Computer {
    pub dir: tempfile::TempDir,
    /// `dbus-run-session` holding the bus open; killed with the test.
    _bus: Child,
    pub bus_address: String,
}

impl Computer {
    /// None (and the test says SKIPPED) where GNOME Keyring is not installed.
    pub async fn start() -> Option<Computer> {
        let present = |bin: &str| {
            std::process::Command::new("sh")
                .args(["-c", &format!("command -v {bin}")])
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if !["dbus-run-session", "gnome-keyring-daemon", "secret-tool"].into_iter().all(present) {
            // scripts/setup installs it: in CI a skip would be a green run that tested
            // neither the second computer nor the keychain.
            assert!(std::env::var_os("CI").is_none(), "CI must have GNOME Keyring: scripts/setup installs it");
            eprintln!("SKIPPED: no GNOME Keyring; scripts/setup installs it");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        // The bus address is printed once the keyring is unlocked and serving: the line
        // is the signal to go on, nothing waits on time.
        let script = "printf 'laptop-keyring' | gnome-keyring-daemon --unlock --components=secrets >/dev/null; \
                      echo \"$DBUS_SESSION_BUS_ADDRESS\"; exec sleep 3600";
        let mut bus = Command::new("dbus-run-session")
            .args(["--", "sh", "-c", script])
            .env("XDG_DATA_HOME", &data)
            .env("HOME", dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("dbus-run-session starts");
        let mut line = String::new();
        let mut out = BufReader::new(bus.stdout.take().unwrap());
        tokio::time::timeout(PATIENCE, out.read_line(&mut line)).await.expect("the keyring starts").unwrap();
        let bus_address = line.trim().to_string();
        assert!(bus_address.contains("unix:"), "a bus address: {line:?}");
        Some(Computer { dir, _bus: bus, bus_address })
    }

    /// The Secret Service's process (gnome-keyring-daemon), as the bus knows it.
    pub async fn keyring_pid(&self) -> Option<u32> {
        let args = [
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.GetConnectionUnixProcessID",
            "string:org.freedesktop.secrets",
        ];
        let out = finish(self.cmd("dbus-send", &args).spawn().ok()?).await;
        out.stdout.split_whitespace().skip_while(|w| *w != "uint32").nth(1)?.parse().ok()
    }

    pub fn config_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("config")
    }

    pub fn cmd(&self, program: &str, args: &[&str]) -> Command {
        let mut c = Command::new(program);
        c.args(args)
            .env("THINGSTRAY_CONFIG_DIR", self.config_dir())
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus_address)
            .env("HOME", self.dir.path())
            .env("XDG_DATA_HOME", self.dir.path().join("data"))
            .env_remove("THINGSTRAY_CONNECTION")
            .env_remove("THINGSTRAY_LOG")
            .env_remove("THINGSTRAY_CA_FILE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        c
    }

    pub async fn run(&self, args: &[&str]) -> Out {
        finish(self.cmd(BIN, args).spawn().unwrap()).await
    }

    /// `run` with `input` on standard input.
    pub async fn run_with_stdin(&self, args: &[&str], input: &str) -> Out {
        let mut child = self.cmd(BIN, args).stdin(Stdio::piped()).spawn().unwrap();
        let mut si = child.stdin.take().unwrap();
        si.write_all(input.as_bytes()).await.expect("writing stdin");
        drop(si);
        finish(child).await
    }

    /// Every secret this computer's keychain holds, as `secret-tool` prints them.
    pub async fn keychain(&self) -> String {
        let out =
            finish(self.cmd("secret-tool", &["search", "--all", "--unlock", "service", "thingstray"]).spawn().unwrap())
                .await;
        format!("{}{}", out.stdout, out.stderr)
    }

    /// Every file this computer wrote, as text.
    pub fn files(&self) -> String {
        fn walk(dir: &std::path::Path, out: &mut String) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else if let Ok(bytes) = std::fs::read(&path) {
                    // The keyring file is encrypted: searching it proves nothing, the
                    // keychain is searched through the Secret Service instead.
                    out.push_str(&String::from_utf8_lossy(&bytes));
                }
            }
        }
        let mut out = String::new();
        walk(&self.config_dir(), &mut out);
        out
    }
}
