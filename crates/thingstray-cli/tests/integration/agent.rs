//! The agent (issue 16): `thingstray token` and `status` ask the running `thingstray
//! serve` over its Unix socket first, and read the vault when there is no agent, a stale
//! socket, or one that does not answer. `-v` says which. Peers of another uid are refused
//! by `SO_PEERCRED`, not only by file modes.

use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

use crate::common::{Home, PATIENCE};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;

/// `serve --port 0`, once it listens (its agent is up before that line).
async fn serve(h: &Home) -> (Child, String) {
    let mut child = h.cmd(&["serve", "--port", "0"]).spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    tokio::time::timeout(PATIENCE, out.read_line(&mut line)).await.expect("serve starts").unwrap();
    assert!(line.starts_with("listening on"), "{line:?}");
    tokio::spawn(async move { while out.read_line(&mut String::new()).await.is_ok_and(|n| n > 0) {} });
    let mut err = BufReader::new(child.stderr.take().unwrap());
    // The agent logs either way before the server listens.
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = tokio::time::timeout(PATIENCE, err.read_line(&mut line)).await.expect("serve logs").unwrap();
        assert!(n > 0, "serve said nothing about its agent: {seen}");
        seen.push_str(&line);
        if line.contains("agent listening") || line.contains("no agent") {
            break;
        }
    }
    // Keep reading: a closed stderr would make its next eprintln! panic.
    tokio::spawn(async move { while err.read_line(&mut String::new()).await.is_ok_and(|n| n > 0) {} });
    (child, seen)
}

async fn token(h: &Home, extra: &[&str]) -> (String, String) {
    let mut args = vec!["-v"];
    args.extend_from_slice(extra);
    args.push("token");
    let out = h.run(&args).await;
    out.ok();
    (out.stdout.trim().to_string(), out.stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_asks_the_running_server_first_and_the_vault_otherwise() {
    let h = Home::new().await;
    h.signed_in().await;
    let (_, logs) = token(&h, &[]).await;
    assert!(logs.contains("token from the vault: no agent is running"), "{logs}");

    let (mut server, seen) = serve(&h).await;
    assert!(seen.contains("agent listening"), "{seen}");
    let socket = h.dir.path().join("agent.sock");
    assert_eq!(std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777, 0o600);
    let (via_agent, logs) = token(&h, &[]).await;
    assert!(logs.contains("token from the agent"), "{logs}");
    assert!(h.sim.accepts(&via_agent).await);
    let (via_vault, logs) = token(&h, &["--no-agent"]).await;
    assert!(!logs.contains("from the agent"), "{logs}");
    assert_eq!(via_agent, via_vault, "the same session, in memory and in the vault");
    let status = h.run(&["-v", "status", "--json"]).await;
    assert!(status.ok().stderr.contains("status from the agent"), "{}", status.stderr);
    assert!(status.stdout.contains("\"state\":\"connected\""), "{}", status.stdout);

    // A second server finds the agent taken, and runs on without one.
    let (_second, said) = serve(&h).await;
    assert!(said.contains("no agent") && said.contains("another ThingsTray process serves"), "{said}");
    assert!(token(&h, &[]).await.1.contains("token from the agent"));

    // Killed: the socket file stays behind. The CLI reads the vault; the next server
    // replaces the socket.
    server.kill().await.unwrap();
    server.wait().await.unwrap();
    drop(_second);
    assert!(socket.exists(), "a crash leaves the socket file");
    let (_, logs) = token(&h, &[]).await;
    assert!(logs.contains("stale agent socket"), "{logs}");
    let (_again, seen) = serve(&h).await;
    assert!(seen.contains("replaced a stale agent socket"), "{seen}");
    assert!(token(&h, &[]).await.1.contains("token from the agent"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_that_never_answers_costs_a_second_not_the_token() {
    let h = Home::new().await;
    h.signed_in().await;
    let listener = std::os::unix::net::UnixListener::bind(h.dir.path().join("agent.sock")).unwrap();
    // Accepts and holds every connection, answering nothing.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    let (t, logs) = token(&h, &[]).await;
    assert!(logs.contains("did not answer within 1000 ms"), "{logs}");
    assert!(h.sim.accepts(&t).await, "the vault answered instead");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_of_another_user_is_refused_even_when_file_modes_let_it_in() {
    // SAFETY: geteuid has no preconditions.
    // The system's python3: a user-local one (pyenv under /root) is out of nobody's reach.
    let python = "/usr/bin/python3";
    if unsafe { libc::geteuid() } != 0
        || std::process::Command::new("setpriv").arg("--version").output().is_err()
        || !std::path::Path::new(python).exists()
    {
        eprintln!("SKIPPED: needs root, setpriv and /usr/bin/python3 to run a client as another user");
        return;
    }
    let h = Home::new().await;
    h.signed_in().await;
    let (_server, _) = serve(&h).await;
    let socket = h.dir.path().join("agent.sock");
    // Open the doors a careless umask or chmod would: only the peer check is left.
    std::fs::set_permissions(h.dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    let client = r#"
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
try:
    s.sendall(b'{"op":"token","connection":null,"min_valid_secs":60}\n')
    s.settimeout(10)
    print(s.recv(65536).decode() or "(closed)")
except (ConnectionResetError, BrokenPipeError):
    print("(closed)")
"#;
    let ask = |user: Option<&str>| {
        let mut c = tokio::process::Command::new("setpriv");
        match user {
            Some(uid) => c.args(["--reuid", uid, "--regid", uid, "--clear-groups"]),
            None => c.args(["--reuid", "0"]),
        };
        c.args([python, "-c", client]).arg(&socket).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
        c
    };
    let own = crate::common::finish(ask(None).spawn().unwrap()).await;
    assert!(own.stdout.contains("access_token"), "the same user is served: {own:?}");
    let other = crate::common::finish(ask(Some("65534")).spawn().unwrap()).await;
    assert!(
        other.stdout.contains("(closed)") && !other.stdout.contains("access_token"),
        "another uid is refused: {other:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_keychain_daemon_gone_the_cli_still_gets_its_token_from_the_agent() {
    let Some(keyring) = crate::common::Computer::start().await else { return };
    let mut h = Home::new().await;
    h.env.push(("DBUS_SESSION_BUS_ADDRESS".into(), keyring.bus_address.clone()));
    // The keychain vault this time (setup without --vault file), on that bus.
    let mut setup = vec!["setup".to_string()];
    setup.extend(h.sim.setup_args());
    let args: Vec<&str> = setup.iter().map(String::as_str).collect();
    h.run_with_stdin(&args, Some(&format!("{}\n", h.secret()))).await.ok();
    h.login().await.ok();
    let (_server, seen) = serve(&h).await;
    assert!(seen.contains("agent listening"), "{seen}");

    let pid = keyring.keyring_pid().await.expect("the Secret Service's pid");
    // SAFETY: a plain kill(2) of a process this test started.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGKILL) }, 0);
    let (t, logs) = token(&h, &[]).await;
    assert!(logs.contains("token from the agent"), "{logs}");
    assert!(h.sim.accepts(&t).await);
    // Without the agent the same command has no keychain to read: the agent made the
    // difference.
    let alone = h.run(&["--no-agent", "token"]).await;
    assert_ne!(alone.code, 0, "{alone:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_answers_for_the_connection_the_cli_would_have_read_not_its_own() {
    // `serve` holds `home`; then another connection becomes the default. A bare `thingstray
    // token` means the default one: the agent must not hand out `home`'s token for it.
    let h = Home::new().await;
    h.signed_in().await;
    let (_server, seen) = serve(&h).await;
    assert!(seen.contains("agent listening"), "{seen}");
    let secret = format!("{}\n", h.secret());
    let mut args = vec!["--connection".to_string(), "cabin".into()];
    args.extend(h.setup_args());
    args.push("--default".into());
    h.run_with_stdin(&args.iter().map(String::as_str).collect::<Vec<_>>(), Some(&secret)).await.ok();

    let r = h.run(&["-v", "token"]).await;
    assert_eq!(r.code, 4, "cabin, the default now, is not signed in: {r:?}");
    assert!(!r.stderr.contains("token from the agent"), "{}", r.stderr);
    // Asked by name, the agent still answers for the connection it holds.
    let (t, logs) = token(&h, &["--connection", "home"]).await;
    assert!(logs.contains("token from the agent"), "{logs}");
    assert!(h.sim.accepts(&t).await);
}
