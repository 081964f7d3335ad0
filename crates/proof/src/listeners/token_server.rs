//! 1. The token server (the real `thingstray serve`) under slow readers.

use crate::report::Section;
use crate::world::World;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Child, Command};
use std::time::{Duration, Instant};
use thingstray::serve::ServerSecret;

use super::*;

// --- 1. the token server ----------------------------------------------------------------

/// One authorised `GET /v1/token` on a new connection, with plain blocking I/O on a thread
/// of its own (so the attackers' tasks cannot delay the measuring side): its latency, or
/// what went wrong.
pub(super) fn authorised(port: u16, secret: &str) -> Result<Duration, String> {
    let t = Instant::now();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut c =
        std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(10)).map_err(|e| format!("connect: {e}"))?;
    c.set_read_timeout(Some(SERVED_WITHIN + Duration::from_secs(5))).map_err(|e| e.to_string())?;
    c.set_write_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
    let req = format!("GET /v1/token HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {secret}\r\nConnection: close\r\n\r\n");
    c.write_all(req.as_bytes()).map_err(|e| format!("write: {e}"))?;
    let mut answer = Vec::new();
    let read = c.read_to_end(&mut answer);
    let took = t.elapsed();
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).unwrap_or("");
    let token = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["access_token"].as_str().map(str::to_string));
    match (status, token) {
        ("200", Some(t)) if !t.is_empty() => Ok(took),
        ("", _) => Err(format!(
            "no answer after {} ({})",
            ms(took),
            read.err().map(|e| e.kind().to_string()).unwrap_or("closed".into())
        )),
        (status, _) => Err(format!("answered {status}")),
    }
}

pub(super) async fn authorised_async(port: u16, secret: &str) -> Result<Duration, String> {
    let secret = secret.to_string();
    tokio::task::spawn_blocking(move || authorised(port, &secret)).await.unwrap_or_else(|e| Err(e.to_string()))
}

pub(super) fn stop(mut server: Child) {
    let _ = Command::new("kill").args(["-TERM", &server.id().to_string()]).status();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(10) {
        if let Ok(Some(_)) = server.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = server.kill();
    let _ = server.wait();
}

/// Part 1: slow readers against `thingstray serve`.
pub(super) async fn token_server(s: &mut Section, seen: &mut Seen, w: &World, thingstray: &str, phases: &[Duration]) {
    let secret = ServerSecret::load_or_create(&w.shared().vault).await.expect("server secret").expose().to_string();
    let mut server = crate::attacks::serve(thingstray, w, "127.0.0.1");
    let mut line = String::new();
    let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(server.stdout.take().unwrap()), &mut line);
    let Some(port) = line.trim().rsplit(':').next().and_then(|p| p.parse::<u16>().ok()) else {
        s.check(
            "token server: starts",
            format!("printed {:?}", line.trim()),
            "listening on http://127.0.0.1:PORT",
            false,
        );
        stop(server);
        return;
    };
    let control = authorised_async(port, &secret).await;
    s.check(
        "token server, control (no attackers): an authorised `GET /v1/token`",
        match &control {
            Ok(d) => format!("200 with a token, {}", ms(*d)),
            Err(e) => e.clone(),
        },
        "200 with a token",
        control.is_ok(),
    );

    let memory = PeakMemory::watch();
    let horde = Horde::start(
        SocketAddr::from(([127, 0, 0, 1], port)),
        |_| Ipv4Addr::LOCALHOST,
        None,
        flood("/v1/token", &format!("127.0.0.1:{port}")),
    );
    let started = tokio::time::Instant::now();
    for at in phases {
        tokio::time::sleep_until(started + *at).await;
        let open = horde.tally.open();
        let mut answers = Vec::new();
        for _ in 0..ASKS {
            answers.push(authorised_async(port, &secret).await);
        }
        seen.slow |= asked(s, &format!("token server, {} s into the attack", at.as_secs()), &answers, open);
    }
    let (connected, closed) = (Tally::get(&horde.tally.connected), Tally::get(&horde.tally.closed));
    drop(horde);
    stop(server);
    s.info(
        "token server: slow-reader connections it closed (each reconnected at once)",
        format!("{closed} of {connected} opened, in {:.0} s", started.elapsed().as_secs_f64()),
    );
    memory.row(s, seen, "token server");
}
