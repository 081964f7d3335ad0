//! Two computers on one machine (issue 11), each the real `thingstray` binary: the owner
//! (`serve --share` on 127.0.0.1, signed in to the simulator) and a paired computer with
//! its own settings folder and its own Secret Service (GNOME Keyring on a D-Bus session
//! bus of its own, so its keychain is not the owner's). Checked: pairing by invite, tokens
//! SmartThings accepts, devices read directly, nothing of SmartThings' secrets in the
//! paired computer's keychain, files or output, the owner gone (the cached token still
//! used, the owner named) and revocation (exit 4, "revoked").

use std::process::Stdio;

use crate::common::{finish, Computer, Home, BIN, PATIENCE};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// `serve --share` on `listen` (a free port for `127.0.0.1:0`); returns it and the
/// address it shares on.
async fn sharing(owner: &Home, listen: &str) -> (Child, String) {
    let mut child = owner.cmd(&["serve", "--share", "--listen", listen, "--port", "0"]).spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    loop {
        let mut line = String::new();
        let n = tokio::time::timeout(PATIENCE, out.read_line(&mut line)).await.expect("the owner starts").unwrap();
        assert!(n > 0, "serve --share ended before sharing");
        if let Some(rest) = line.strip_prefix("sharing on ") {
            let at = rest.split_whitespace().next().unwrap().to_string();
            // Keep reading stdout so the server never blocks on a full pipe.
            tokio::spawn(async move { while out.read_line(&mut String::new()).await.is_ok_and(|n| n > 0) {} });
            return (child, at);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paired_computer_with_its_own_keychain_gets_tokens_and_keeps_no_smartthings_secret() {
    let Some(laptop) = Computer::start().await else { return };
    let owner = Home::new().await;
    owner.signed_in().await;
    let (mut server, at) = sharing(&owner, "127.0.0.1:0").await;
    assert!(at.starts_with("127.0.0.1:"), "{at}");

    let invite = owner.run(&["share", "invite", "--name", "laptop"]).await;
    invite.ok();
    let line = invite.stdout.lines().last().unwrap().to_string();
    assert!(line.starts_with("thingstray://pair?"), "the invite is the last line: {}", invite.stdout);

    // `-`: the invite from stdin, its one-time code kept out of argv.
    let paired = laptop.run_with_stdin(&["connect", "-"], &format!("{line}\n")).await;
    paired.ok();
    assert!(paired.stdout.contains("Connected `home`"), "{}", paired.stdout);
    let listed = owner.run(&["share", "list", "--json"]).await;
    let listed: serde_json::Value = serde_json::from_str(&listed.ok().stdout).unwrap();
    assert_eq!(listed[0]["name"], "laptop");
    assert!(listed[0]["revoked_at"].is_null());

    let token = laptop.run(&["-vv", "token"]).await;
    token.ok();
    let logs = token.stderr.clone();
    let token = token.stdout.trim().to_string();
    // What it tells the user to run keeps the code out of argv and the shell's history.
    assert!(
        invite.stderr.contains("thingstray connect -") && !invite.stderr.contains("connect '"),
        "{}",
        invite.stderr
    );
    assert!(!logs.contains(&token) && !logs.contains(&line), "a secret in the paired computer's logs: {logs}");
    assert!(owner.sim.accepts(&token).await, "the paired computer's token works at SmartThings");
    let devices = laptop.run(&["devices", "--json"]).await;
    assert!(devices.ok().stdout.contains("Kitchen"), "devices are read directly");
    let status = laptop.run(&["status", "--json"]).await;
    let status: serde_json::Value = serde_json::from_str(&status.ok().stdout).unwrap();
    assert_eq!(status[0]["paired_with"], serde_json::Value::String(this_host()));
    assert_eq!(status[0]["status"]["state"], "connected");

    let doctor = laptop.run(&["doctor"]).await;
    doctor.ok();
    assert!(doctor.stdout.contains("ok    owner") && !doctor.stdout.contains("FAIL"), "{}", doctor.stdout);

    // What the paired computer holds: its pairing secret and an access token, nothing more.
    let keychain = laptop.keychain().await;
    assert!(keychain.contains("pairing-secret") && keychain.contains(&token), "{keychain}");
    let refresh =
        owner.secrets_file()["home/tokens"].as_str().map(|t| serde_json::from_str::<serde_json::Value>(t).unwrap());
    let refresh = refresh.expect("the owner's tokens")["refresh_token"].as_str().unwrap().to_string();
    for (what, text) in [("keychain", keychain.as_str()), ("files", laptop.files().as_str())] {
        assert!(!text.contains(&refresh), "the owner's refresh token in the paired computer's {what}");
        assert!(!text.contains(&owner.secret()), "the client secret in the paired computer's {what}");
        assert!(!text.contains("refresh_token"), "a refresh token field in the paired computer's {what}: {text}");
    }
    assert_eq!(owner.sim.stats().sign_ins.values().sum::<u64>(), 1, "one sign-in, on the owner");

    // The owner stops: the cached token is still handed out; asking for more than it has
    // names the owner and says how long the cached token lasts.
    server.kill().await.unwrap();
    laptop.run(&["token", "--min-valid", "1m"]).await.ok();
    let more = laptop.run(&["token", "--min-valid", "24h"]).await;
    assert_eq!(more.code, 1, "{more:?}");
    assert!(more.stderr.contains("could not be reached") && more.stderr.contains("more min"), "{}", more.stderr);

    // Revoked on the owner: the next request for a token is refused, exit 4.
    // Back on the same address, as an owner with its fixed port (8766) comes back.
    let (_server, _) = sharing(&owner, &at).await;
    owner.run(&["share", "revoke", "laptop"]).await.ok();
    let revoked = laptop.run(&["token", "--min-valid", "24h"]).await;
    assert_eq!(revoked.code, 4, "{revoked:?}");
    assert!(revoked.stderr.contains("access was revoked"), "{}", revoked.stderr);
}

#[tokio::test]
async fn an_invite_without_a_running_listener_says_how_to_start_one() {
    let owner = Home::new().await;
    owner.signed_in().await;
    let out = owner.run(&["share", "invite"]).await;
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("thingstray serve --share"), "{}", out.stderr);
    let bad = owner.run(&["connect", "thingstray://pair?at=nowhere"]).await;
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("not valid"), "{}", bad.stderr);
}

fn this_host() -> String {
    thingstray::share::pairing::this_computer()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_over_moves_the_session_to_the_paired_computer_without_a_sign_in() {
    let owner = Home::new().await;
    owner.signed_in().await;
    let (_server, _) = sharing(&owner, "127.0.0.1:0").await;
    // The other computer, on a file vault (the keychain case is the test above).
    let laptop = tempfile::tempdir().unwrap();
    std::fs::write(laptop.path().join("config.toml"), "vault = \"file\"\n").unwrap();
    let on_laptop = |args: &[&str]| {
        let mut c = Command::new(BIN);
        c.args(args)
            .env("THINGSTRAY_CONFIG_DIR", laptop.path())
            .env_remove("THINGSTRAY_CONNECTION")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        c
    };
    let invite = owner.run(&["share", "invite"]).await;
    let line = invite.ok().stdout.lines().last().unwrap().to_string();
    finish(on_laptop(&["connect", &line, "--computer-name", "laptop"]).spawn().unwrap()).await.ok();

    let early = finish(on_laptop(&["share", "take-over", "--advertise", "127.0.0.1:1"]).spawn().unwrap()).await;
    assert_eq!(early.code, 1, "{early:?}");
    assert!(early.stderr.contains("share hand-over"), "{}", early.stderr);

    // Nothing begun: `--resume` has nothing to finish.
    let resume = finish(on_laptop(&["share", "take-over", "--resume"]).spawn().unwrap()).await;
    assert_eq!(resume.code, 1, "{resume:?}");
    assert!(resume.stderr.contains("no take-over of `home` was begun"), "{}", resume.stderr);

    owner.run(&["share", "hand-over", "laptop"]).await.ok();
    let took = finish(on_laptop(&["share", "take-over", "--advertise", "127.0.0.1:1"]).spawn().unwrap()).await;
    took.ok();
    let token = finish(on_laptop(&["token"]).spawn().unwrap()).await;
    assert!(owner.sim.accepts(token.ok().stdout.trim()).await);
    let status = finish(on_laptop(&["status", "--json"]).spawn().unwrap()).await;
    let status: serde_json::Value = serde_json::from_str(&status.ok().stdout).unwrap();
    assert!(status[0]["paired_with"].is_null(), "the laptop owns the session: {status}");

    // The old owner's running server says it handed the session over (exit 4: restart);
    // its settings are paired with the laptop and keep neither secret.
    let live = owner.run(&["status"]).await;
    assert_eq!(live.code, 4, "{live:?}");
    assert!(live.stdout.contains("handed its SmartThings session over"), "{}", live.stdout);
    let status = owner.run(&["--no-agent", "status", "--json"]).await;
    let status: serde_json::Value = serde_json::from_str(&status.ok().stdout).unwrap();
    assert!(status[0]["paired_with"].is_string(), "{status}");
    let secrets = owner.secrets_file().to_string();
    assert!(!secrets.contains("refresh_token") && !secrets.contains(&owner.secret()), "{secrets}");
    // Done: `--resume` finds nothing left to finish, and says the connection is its own.
    let resume = finish(on_laptop(&["share", "take-over", "--resume"]).spawn().unwrap()).await;
    assert_eq!(resume.code, 1, "{resume:?}");
    assert!(resume.stderr.contains("holds its own sign-in here"), "{}", resume.stderr);
    assert_eq!(owner.sim.stats().sign_ins.values().sum::<u64>(), 1, "no new sign-in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_whose_terminal_is_gone_keeps_serving_and_stops_cleanly() {
    let owner = Home::new().await;
    owner.signed_in().await;
    let mut child = owner.cmd(&["serve", "--share", "--listen", "127.0.0.1:0", "--port", "0"]).spawn().unwrap();
    // Its stderr closed (a terminal gone, or `2>&-`): every hint and log line fails to write.
    drop(child.stderr.take());
    let mut out = BufReader::new(child.stdout.take().unwrap());
    loop {
        let mut line = String::new();
        let n = tokio::time::timeout(PATIENCE, out.read_line(&mut line)).await.expect("serve starts").unwrap();
        assert!(n > 0, "serve ended before sharing");
        if line.starts_with("sharing on") {
            break;
        }
    }
    // SIGTERM is caught from the start: the exit code says whether it died on the way.
    // SAFETY: a plain kill(2) of the child this test started.
    assert_eq!(unsafe { libc::kill(child.id().unwrap() as i32, libc::SIGTERM) }, 0);
    let status = tokio::time::timeout(PATIENCE, child.wait()).await.expect("serve stops").unwrap();
    assert_eq!(status.code(), Some(0), "a failed write to stderr must not take the server down");
}
