//! 4. The forged ST Schema grant: the secret never leaves for a foreign host.

use crate::report::Section;
use crate::world::World;

use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

// --- 4. the forged grant ----------------------------------------------------------------

pub(super) struct Run {
    pub(super) code: Option<i32>,
    pub(super) stderr: String,
}

pub(super) async fn schema_grant(thingstray: &str, w: &World, grant: &serde_json::Value, loopback: bool) -> Run {
    let partner = w.sim.schema_partner().clone();
    let mut args = vec!["schema", "grant", "--client-id", &partner.client_id, "--vault", "file"];
    if loopback {
        args.push("--loopback-callbacks");
    }
    let mut child = tokio::process::Command::new(thingstray)
        .args(&args)
        .env("THINGSTRAY_CONFIG_DIR", w.dir())
        .env_remove("THINGSTRAY_CONNECTION")
        .env("THINGSTRAY_CLIENT_SECRET", &partner.client_secret)
        .env("THINGSTRAY_LOG", "off")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("thingstray schema grant starts");
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(grant.to_string().as_bytes()).await;
    drop(stdin);
    match tokio::time::timeout(Duration::from_secs(30), child.wait_with_output()).await {
        Ok(Ok(out)) => Run { code: out.status.code(), stderr: String::from_utf8_lossy(&out.stderr).into_owned() },
        _ => Run { code: None, stderr: "no exit within 30 s".into() },
    }
}

pub(super) async fn forged_grant(s: &mut Section, w: &World, thingstray: &str) {
    let secret = w.sim.schema_partner().client_secret.clone();
    // The thief: a token endpoint on this computer. It never accepts while the refused
    // commands run; connections would wait in its queue, seen by the accept after.
    let thief = std::net::TcpListener::bind("127.0.0.1:0").expect("the thief listens");
    thief.set_nonblocking(true).unwrap();
    let thief_url = format!("http://{}/oauth/token", thief.local_addr().unwrap());
    // (who, the grant's oauthToken, as the row shows it, the host the refusal must name)
    let forged = [
        ("a thief on this computer", thief_url.clone(), "http://127.0.0.1:PORT/oauth/token".to_string(), "127.0.0.1"),
        (
            "another host",
            "https://attacker.example/oauth/token".to_string(),
            "https://attacker.example/oauth/token".to_string(),
            "attacker.example",
        ),
        (
            "a look-alike of SmartThings' host",
            "https://c2c-us.smartthings.com.attacker.example/oauth/token".to_string(),
            "https://c2c-us.smartthings.com.attacker.example/oauth/token".to_string(),
            "c2c-us.smartthings.com.attacker.example",
        ),
    ];
    let mut all_refused = true;
    for (who, url, shown, host) in &forged {
        let mut grant = w.sim.schema_grant();
        grant["callbackUrls"]["oauthToken"] = serde_json::Value::String(url.clone());
        let r = schema_grant(thingstray, w, &grant, false).await;
        // The message of `schema_foreign_callback` (the CLI prints the message, not the code).
        let foreign = r.stderr.contains("is not SmartThings") && r.stderr.contains(&format!("`{host}`"));
        let refused = r.code == Some(1) && foreign && !r.stderr.contains(&secret);
        all_refused &= refused;
        s.check(
            &format!("forged grant, oauthToken on {who} (`{shown}`), without --loopback-callbacks"),
            match (r.code, foreign) {
                (Some(1), true) => "refused: schema_foreign_callback (exit 1)".to_string(),
                (code, _) => format!("exit {code:?}: {}", r.stderr.trim().chars().take(160).collect::<String>()),
            },
            "refused: schema_foreign_callback (exit 1)",
            refused,
        );
    }
    let reached = std::iter::from_fn(|| thief.accept().ok()).count();
    let kept =
        thingstray::config::Config::load(&w.paths).map(|c| c.connections.contains_key("connector")).unwrap_or(true);
    s.check(
        "the secret never left for a foreign host: connections to the thief; a connection kept",
        format!("{reached} connections to the thief; kept: {}", if kept { "yes" } else { "none" }),
        "0 connections to the thief; kept: none",
        reached == 0 && !kept && all_refused,
    );

    // Control: the same thief grant with the simulator's flag does go there, secret and
    // all, so the thief's listener above would have seen a forged grant that got through.
    let thief = tokio::net::TcpListener::from_std(thief).expect("the thief, async");
    let mut grant = w.sim.schema_grant();
    grant["callbackUrls"]["oauthToken"] = serde_json::Value::String(thief_url);
    let command = schema_grant(thingstray, w, &grant, true);
    let steal = async move {
        let accepted = tokio::time::timeout(Duration::from_secs(20), thief.accept()).await;
        // One connection is enough: a retry is refused, not left waiting for an answer.
        drop(thief);
        let Ok(Ok((mut c, _))) = accepted else { return false };
        let mut got = Vec::new();
        let mut chunk = [0u8; 4096];
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            while let Ok(n @ 1..) = c.read(&mut chunk).await {
                got.extend_from_slice(&chunk[..n]);
                if String::from_utf8_lossy(&got).contains(&secret) {
                    break;
                }
            }
        })
        .await;
        // Dropped without an answer: the command fails.
        String::from_utf8_lossy(&got).contains(&secret)
    };
    let (run, stolen) = tokio::join!(command, steal);
    s.check(
        "control: the thief's grant with --loopback-callbacks (the simulator's flag)",
        format!(
            "{}; the command then exited {}",
            if stolen { "the thief received the secret" } else { "the thief received nothing" },
            run.code.map(|c| c.to_string()).unwrap_or("by a signal, or not within 30 s".into())
        ),
        "the thief receives the secret (the thief is watched)",
        stolen,
    );
}
