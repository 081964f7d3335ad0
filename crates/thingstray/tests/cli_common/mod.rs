//! Shared set-up for the tests that run the real `thingstray` binary: a simulator in this
//! process, a config directory of its own per test (file vault, so no keychain is
//! needed), and helpers to drive sign-in the way a person would.
#![allow(dead_code)]

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
        Home { sim, dir: tempfile::tempdir().unwrap() }
    }

    /// The binary with this test's config dir and nothing from the developer's shell.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .env("THINGSTRAY_CONFIG_DIR", self.dir.path())
            .env_remove("THINGSTRAY_CLIENT_SECRET")
            .env_remove("THINGSTRAY_CONNECTION")
            .env_remove("THINGSTRAY_LOG")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
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
            si.write_all(input.as_bytes()).await.unwrap();
            drop(si);
        }
        finish(child).await
    }

    pub fn secret(&self) -> String {
        self.sim.client().client_secret.clone()
    }

    /// `setup --vault file` for the simulator's app, with `redirect_uri`.
    pub async fn setup_with(&self, redirect_uri: &str, extra: &[&str]) -> Out {
        let api = self.sim.api_url();
        let auth = self.sim.auth_url();
        let id = self.sim.client().client_id.clone();
        let mut args = vec![
            "setup",
            "--vault",
            "file",
            "--client-id",
            &id,
            "--redirect-uri",
            redirect_uri,
            "--api-url",
            &api,
            "--auth-url",
            &auth,
        ];
        args.extend_from_slice(extra);
        let secret = format!("{}\n", self.secret());
        self.run_with_stdin(&args, Some(&secret)).await
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
        let back = follow_authorize(&url).await;
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

    /// Whether SmartThings (the simulator) takes `token` for an API call.
    pub async fn accepts(&self, token: &str) -> bool {
        let r = reqwest::Client::new()
            .get(format!("{}/locations", self.sim.api_url()))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        r.status() == 200
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

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// Opens the authorize address on an auto-approving simulator; returns the redirect.
pub async fn follow_authorize(url: &str) -> String {
    let resp = no_redirects().get(url).send().await.unwrap();
    assert_eq!(resp.status(), 302, "the simulator approves at once");
    resp.headers()["location"].to_str().unwrap().to_string()
}

/// Walks the simulator's sign-in page and presses `decision` (authorize / deny).
pub async fn decide(url: &str, decision: &str) -> String {
    let http = no_redirects();
    let html = http.get(url).send().await.unwrap().text().await.unwrap();
    let request_id = attr_after(&html, "name=\"request_id\"", "value=\"").expect("a request id");
    let location = attr_after(&html, "<option", "value=\"").expect("a location");
    let decision_url = url::Url::parse(url).unwrap().join("/oauth/authorize/decision").unwrap();
    let form = [("request_id", request_id.as_str()), ("location_id", location.as_str()), ("decision", decision)];
    let resp = http.post(decision_url).form(&form).send().await.unwrap();
    assert_eq!(resp.status(), 302);
    resp.headers()["location"].to_str().unwrap().to_string()
}

fn attr_after(html: &str, anchor: &str, attr: &str) -> Option<String> {
    let rest = &html[html.find(anchor)?..];
    let v = rest.find(attr)? + attr.len();
    let end = rest[v..].find('"')?;
    Some(rest[v..v + end].replace("&amp;", "&"))
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
