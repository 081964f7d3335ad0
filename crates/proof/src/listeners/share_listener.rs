//! 2 and 3. The share listener: one greedy address, many addresses, guessed codes.

use crate::report::Section;
use crate::world::World;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use thingstray::owner::{Identity, Registry, ShareOptions, ShareServer, ShareSource};
use thingstray::serve::{Limits, SHARE_PER_ADDRESS};
use thingstray::session::SessionOptions;
use thingstray::share::{Credentials, ShareClient};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;

use super::*;

// --- 2 and 3. the share listener --------------------------------------------------------

pub(super) async fn owner(w: &World, identity: &Identity) -> ShareServer {
    let conn =
        w.shared().connection(SessionOptions::default(), Duration::from_secs(10)).await.expect("the owner opens");
    let registry = Arc::new(Registry::open(&w.paths));
    // As `thingstray serve --share` starts it: the default limits, 16 connections per address.
    let opts =
        ShareOptions { addr: "127.0.0.1:0".parse().unwrap(), owner_name: "owner-pc".into(), limits: Limits::default() };
    ShareServer::start(ShareSource::One(conn), identity, registry, Arc::new(w.clock.clone()), opts)
        .await
        .expect("the share listener starts")
}

/// A token for the paired computer, on a new connection (a new client: no pooled
/// connection from before the attack). Its timeout is past [`SERVED_WITHIN`]: a paired
/// computer gives up after 15 s (and keeps its cached token), but the invariant is served
/// at all.
pub(super) async fn paired_token(creds: &Credentials) -> Result<Duration, String> {
    let client = ShareClient::new(&creds.at, &creds.fingerprint, &creds.owner, SERVED_WITHIN + Duration::from_secs(5))
        .map_err(|e| e.to_string())?;
    let t = Instant::now();
    match client.token(creds, Duration::from_secs(60)).await {
        Ok(token) if !token.grant.secret().is_empty() => Ok(t.elapsed()),
        Ok(_) => Err("an empty token".into()),
        Err(e) => Err(format!("{} after {}", e.code(), ms(t.elapsed()))),
    }
}

/// A raw HTTPS request from `from` (the attacker's TLS client): the status and body.
pub(super) async fn https_from(from: Ipv4Addr, to: SocketAddr, tls: &TlsConnector, raw: &str) -> Option<(u16, String)> {
    let tcp = connect_from(from, to, false).await.ok()?;
    let mut stream = tls.connect(server_name(to), tcp).await.ok()?;
    stream.write_all(raw.as_bytes()).await.ok()?;
    let answer = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Some((head.split_whitespace().nth(1)?.parse().ok()?, body.to_string()))
}

pub(super) async fn read_until_closed<S: AsyncRead + Unpin>(stream: &mut S, within: Duration) -> Vec<u8> {
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    let _ = tokio::time::timeout(within, async {
        // A TLS peer that closes without close_notify ends in an error: what came is kept.
        while let Ok(n @ 1..) = stream.read(&mut chunk).await {
            answer.extend_from_slice(&chunk[..n]);
        }
    })
    .await;
    answer
}

pub(super) fn pair_request(to: SocketAddr, code: &str) -> String {
    let body = serde_json::json!({ "code": code, "name": "guesser" }).to_string();
    format!(
        "POST /share/v1/pair HTTP/1.1\r\nHost: {to}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Parts 2 and 3: the share listener.
pub(super) async fn share_listener(s: &mut Section, seen: &mut Seen, w: &World, phases: &[Duration]) {
    let identity = Identity::load_or_create(&w.shared().vault).await.expect("the owner's certificate");
    let server = owner(w, &identity).await;
    let to = server.addr();
    let invite = server.invite().unwrap();
    let creds = ShareClient::for_invite(&invite).unwrap().pair(&invite, "laptop").await;
    let Ok(creds) = creds else {
        s.check("share listener, control: pairing the laptop", "refused", "paired", false);
        return;
    };
    let control = paired_token(&creds).await;
    s.check(
        "share listener, control (no attackers): the paired computer's token",
        match &control {
            Ok(d) => format!("served, {}", ms(*d)),
            Err(e) => e.clone(),
        },
        "served",
        control.is_ok(),
    );
    let tls = attacker_tls();
    lockout(s, &server, &tls).await;
    seen.slow |= greedy(s, &server, &creds).await;

    // 2b. TLS slow readers from many addresses, fewer than 16 each: the per-address cap
    // lets every one in, and together they outnumber the listener's 256 slots.
    let memory = PeakMemory::watch();
    let horde = Horde::start(
        to,
        |i| Ipv4Addr::new(127, 0, 0, 2 + (i % SPREAD as usize) as u8),
        Some(tls),
        flood("/share/v1/token", &to.to_string()),
    );
    let started = tokio::time::Instant::now();
    for at in phases {
        tokio::time::sleep_until(started + *at).await;
        let open = horde.tally.open();
        let mut answers = Vec::new();
        for _ in 0..ASKS {
            answers.push(paired_token(&creds).await);
        }
        seen.slow |= asked(
            s,
            &format!("share listener, {} s into the attack from {SPREAD} addresses", at.as_secs()),
            &answers,
            open,
        );
    }
    let t = &horde.tally;
    let (connected, handshakes, closed) = (Tally::get(&t.connected), Tally::get(&t.handshakes), Tally::get(&t.closed));
    drop(horde);
    s.info(
        "share listener: slow-reader connections it closed (each reconnected at once)",
        format!(
            "{closed} of {connected} opened ({handshakes} completed the TLS handshake), in {:.0} s",
            started.elapsed().as_secs_f64()
        ),
    );
    memory.row(s, seen, "share listener");
}

/// 3. Wrong pairing codes from one address lock that address out, and only that one.
pub(super) async fn lockout(s: &mut Section, server: &ShareServer, tls: &TlsConnector) {
    let to = server.addr();
    let mut statuses = Vec::new();
    for i in 0..10 {
        let code = format!("{:012}", i).replace('0', "Z");
        statuses.push(
            https_from(GREEDY, to, tls, &pair_request(to, &code))
                .await
                .map(|(st, _)| st.to_string())
                .unwrap_or("no answer".into()),
        );
    }
    let ok = statuses[..5].iter().all(|st| st == "403") && statuses[5..].iter().all(|st| st == "429");
    s.check(
        "share listener: 10 wrong pairing codes from 127.0.0.2 (raw HTTPS, bound to that address)",
        statuses.join(" "),
        "403 ×5 (no such code), then 429 (locked out)",
        ok,
    );
    let right = server.invite().unwrap();
    let there = https_from(GREEDY, to, tls, &pair_request(to, &right.code)).await;
    let there_ok = there.as_ref().is_some_and(|(st, body)| *st == 429 && body.contains("share_rate_limited"));
    let here = ShareClient::for_invite(&right).unwrap().pair(&right, "desk").await;
    s.check(
        "share listener: then the right code from 127.0.0.2, and the same code from 127.0.0.1",
        format!(
            "127.0.0.2: {}; 127.0.0.1: {}",
            there.map(|(st, _)| st.to_string()).unwrap_or("no answer".into()),
            match &here {
                Ok(_) => "paired".to_string(),
                Err(e) => e.code().to_string(),
            }
        ),
        "127.0.0.2: 429; 127.0.0.1: paired",
        there_ok && here.is_ok(),
    );
}

/// 2a. One address opens 300 connections and never finishes a TLS handshake.
pub(super) async fn greedy(s: &mut Section, server: &ShareServer, creds: &Credentials) -> bool {
    let t0 = tokio::time::Instant::now();
    let mut conns = Vec::new();
    let mut failed = 0;
    for _ in 0..ATTACKERS {
        match connect_from(GREEDY, server.addr(), false).await {
            Ok(c) => conns.push(c),
            Err(_) => failed += 1,
        }
    }
    // A connection the listener closed reads end of file (or a reset) at once; one it keeps
    // reads nothing until the 10 s handshake deadline, past this bound.
    let deadline = tokio::time::Instant::now() + CLOSED_WITHIN;
    let watchers: Vec<JoinHandle<(TcpStream, Option<Duration>)>> = conns
        .into_iter()
        .map(|mut c| {
            tokio::spawn(async move {
                let mut byte = [0u8; 1];
                let closed = match tokio::time::timeout_at(deadline, c.read(&mut byte)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => Some(t0.elapsed()),
                    _ => None,
                };
                (c, closed)
            })
        })
        .collect();
    let mut held = Vec::new();
    let mut closed = 0;
    let mut last_close = Duration::ZERO;
    for w in watchers {
        let (c, at) = w.await.expect("a watcher");
        match at {
            Some(at) => {
                closed += 1;
                last_close = last_close.max(at);
            }
            None => held.push(c),
        }
    }
    let kept = held.len();
    s.check(
        &format!(
            "share listener: {ATTACKERS} connections from 127.0.0.2 that never finish the TLS handshake: kept open"
        ),
        format!(
            "{kept} kept; {closed} closed at once (the last {} after the first connect){}",
            ms(last_close),
            if failed > 0 { format!("; {failed} connects failed") } else { String::new() }
        ),
        &format!("at most {SHARE_PER_ADDRESS}, the rest closed"),
        kept <= SHARE_PER_ADDRESS && kept + closed == ATTACKERS,
    );
    // The paired computer, while the greedy address still holds its 16.
    let answers: Vec<_> = {
        let mut v = Vec::new();
        for _ in 0..ASKS {
            v.push(paired_token(creds).await);
        }
        v
    };
    drop(held);
    asked(s, "share listener, 127.0.0.2 holding its 16", &answers, kept as u64)
}
