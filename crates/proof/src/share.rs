//! Sharing (issue 11): the share listener's attack set, and what a paired computer's
//! tokens cost. The owner is the real listener (`ShareServer`, the code `thingstray serve
//! --share` runs) on 127.0.0.1 in this process; every attempt goes over real TCP and TLS.
//! A control request must still be served, or the refusals prove nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use smartthings_sim::SimConfig;
use thingstray::clock::Clock;
use thingstray::config::Paths;
use thingstray::connection::Options;
use thingstray::owner::{Identity, Registry, ShareOptions, ShareServer, ShareSource};
use thingstray::serve::Limits;
use thingstray::session::SessionOptions;
use thingstray::share::{Credentials, Invite, ShareClient};
use thingstray::vault::{FileStore, Vault};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::report::Section;
use crate::world::{World, CONNECTION};

const MIN: Duration = Duration::from_secs(60);

async fn owner(w: &World, registry: Arc<Registry>, name: &str, identity: &Identity) -> ShareServer {
    owner_limited(w, registry, name, identity, Limits::default()).await
}

async fn owner_limited(
    w: &World,
    registry: Arc<Registry>,
    name: &str,
    identity: &Identity,
    limits: Limits,
) -> ShareServer {
    let conn =
        w.shared().connection(SessionOptions::default(), Duration::from_secs(10)).await.expect("the owner opens");
    let opts = ShareOptions { addr: "127.0.0.1:0".parse().unwrap(), owner_name: name.into(), limits };
    ShareServer::start(ShareSource::One(conn), identity, registry, Arc::new(w.clock.clone()), opts)
        .await
        .expect("the share listener starts")
}

/// The status line of a raw HTTP request over the pinned TLS client, or the error's code.
/// A body that sends `first` and then nothing, never ending.
fn stalled(first: Vec<u8>) -> reqwest::Body {
    use futures_util::StreamExt;
    let head = futures_util::stream::iter([Ok::<_, std::io::Error>(first)]);
    reqwest::Body::wrap_stream(head.chain(futures_util::stream::pending()))
}

async fn status_of(req: reqwest::RequestBuilder) -> String {
    match req.send().await {
        Ok(r) => r.status().as_u16().to_string(),
        Err(_) => "no answer".into(),
    }
}

pub async fn run(thingstray: Option<&str>) -> Section {
    let mut s =
        Section::new("Sharing: the share listener refuses, what a paired token costs, and a hand-over under faults");
    s.intro(
        "One owner (the real share listener, TLS 1.3 with its pinned certificate, on 127.0.0.1) and \
         paired computers asking it for tokens. Each attack must be refused; the control request \
         must be served. Then the session handed over to a paired computer with every step of \
         either computer killed or stalled: never zero owners, never two.",
    );
    let w = World::start(SimConfig::default()).await;
    let vault = w.shared().vault;
    let identity = Identity::load_or_create(&vault).await.expect("the owner's certificate");
    let registry = Arc::new(Registry::open(&w.paths));
    let server = owner(&w, registry.clone(), "owner-pc", &identity).await;
    let now = || Clock::now(&w.clock);

    let invite = server.invite().unwrap();
    let client = ShareClient::for_invite(&invite).unwrap();
    let creds = client.pair(&invite, "laptop").await.expect("the control pairing");
    let control = client.token(&creds, MIN).await;
    s.check(
        "control: pairing, then a token",
        if control.is_ok() { "served" } else { "refused" },
        "served",
        control.is_ok(),
    );
    let forbidden = {
        let t = vault.tokens(CONNECTION).await.unwrap().unwrap();
        let secret = vault.client_secret(CONNECTION).await.unwrap().unwrap();
        vec![t.refresh_token.secret().to_string(), secrecy::ExposeSecret::expose_secret(&secret).to_string()]
    };
    let raw = client
        .http()
        .get(client.url("/share/v1/token"))
        .bearer_auth(format!("{}.{}", creds.id, secrecy::ExposeSecret::expose_secret(&creds.secret)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let clean = !forbidden.iter().any(|f| raw.contains(f.as_str())) && !raw.contains("refresh");
    s.check("a token answer holds a refresh token or the client secret", if clean { "no" } else { "yes" }, "no", clean);

    let token_url = client.url("/share/v1/token");
    let http = client.http();
    let no_secret = status_of(http.get(&token_url)).await;
    s.check("no secret", &no_secret, "401", no_secret == "401");
    let wrong = status_of(http.get(&token_url).bearer_auth(format!("{}.{}", creds.id, "0".repeat(64)))).await;
    s.check("a wrong secret", &wrong, "401", wrong == "401");

    let used = client.pair(&invite, "again").await.err().map(|e| e.code().to_string()).unwrap_or_default();
    s.check("a replayed invite", &used, "invite_expired", used == "invite_expired");
    let late = server.invite().unwrap();
    w.jump(Duration::from_secs(11 * 60));
    let expired = client.pair(&late, "late").await.err().map(|e| e.code().to_string()).unwrap_or_default();
    s.check("an invite after 10 minutes", &expired, "invite_expired", expired == "invite_expired");

    // Declared as 64 KiB, then stalled after the first bytes: the listener must refuse it
    // from the headers. (Writing all 64 KiB races the answer: a server that closes with
    // unread bytes makes the kernel reset the connection, which can eat the 413.)
    let big = status_of(
        http.post(client.url("/share/v1/pair"))
            .header("content-length", (64 * 1024).to_string())
            .body(stalled(vec![b'x'; 1024])),
    )
    .await;
    s.check("a 64 KiB request body", &big, "413", big == "413");
    // Guessing: wrong codes until the lockout, then the right code is refused too. (The
    // clock moves past the minute the refusals above were counted in.)
    w.jump(Duration::from_secs(120));
    let right = server.invite().unwrap();
    let mut guesses = 0;
    let mut locked = false;
    for i in 0..20 {
        let guess = Invite { code: format!("{:012}", i).replace('0', "Z"), ..right.clone() };
        guesses += 1;
        if let Err(e) = client.pair(&guess, "guesser").await {
            if e.code() == "share_rate_limited" {
                locked = true;
                break;
            }
        }
    }
    let right_refused = client.pair(&right, "laptop-2").await.err().map(|e| e.code().to_string()).unwrap_or_default();
    s.check(
        "guessed codes: refused from the 6th try in a minute, the right code too",
        format!("locked after {guesses} tries; right code: {right_refused}"),
        "locked after 6 tries; right code: share_rate_limited",
        locked && guesses == 6 && right_refused == "share_rate_limited",
    );

    Registry::open(&w.paths).revoke("laptop", now()).unwrap();
    let revoked = client.token(&creds, MIN).await.err().map(|e| e.code().to_string()).unwrap_or_default();
    s.check("a revoked computer", &revoked, "share_revoked", revoked == "share_revoked");

    let mut tcp = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    tcp.write_all(b"GET /share/v1/token HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut answer)).await;
    let plain = !answer.starts_with(b"HTTP/");
    s.check("plain HTTP to the TLS port", if plain { "no HTTP answer" } else { "answered" }, "no HTTP answer", plain);

    let header = status_of(http.get(&token_url).header("x-pad", "x".repeat(32 * 1024))).await;
    s.check("a 32 KiB header", &header, "431 or no answer", header == "431" || header == "no answer");

    // A second server with another certificate at the address the invite names.
    let other_dir = tempfile::tempdir().unwrap();
    let impostor_registry = Arc::new(Registry::open(&Paths::at(other_dir.path())));
    let impostor = owner(&w, impostor_registry.clone(), "impostor", &Identity::generate().unwrap()).await;
    let spoofed = Invite { at: impostor.addr().to_string(), ..server.invite().unwrap() };
    let e = thingstray::share::client::pair(&spoofed, "laptop")
        .await
        .err()
        .map(|e| e.code().to_string())
        .unwrap_or_default();
    let nothing_sent = impostor_registry.list().unwrap().is_empty();
    s.check(
        "another certificate at the owner's address (client side)",
        format!("{e}; impostor got a pairing: {}", !nothing_sent),
        "share_fingerprint_mismatch; impostor got a pairing: false",
        e == "share_fingerprint_mismatch" && nothing_sent,
    );

    crate::handover::rows(&mut s).await;
    // The benchmark's paired computers all connect from 127.0.0.1, so its listener lifts
    // the cap per address (16) that computers on a real network each stay far under.
    let bench_limits = Limits { max_per_address: Some(usize::MAX), ..Limits::default() };
    let bench = owner_limited(&w, registry.clone(), "owner-pc", &identity, bench_limits).await;
    costs(&mut s, &w, &bench, thingstray).await;
    s
}

fn quantiles(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (ms(v[v.len() / 2]), ms(v[(v.len() * 99 / 100).min(v.len() - 1)]))
}

/// Latency of a fetch from the owner, and how many paired computers it serves with a
/// p99 under 10 ms (closed loop, each client its own TLS connection).
async fn costs(s: &mut Section, w: &World, server: &ShareServer, thingstray: Option<&str>) {
    let pair = |name: String| async move {
        let invite = server.invite().unwrap();
        let client = ShareClient::for_invite(&invite).unwrap();
        let creds = client.pair(&invite, &name).await.unwrap();
        (client, creds)
    };
    // The lockout above is per minute of the owner's clock.
    w.jump(Duration::from_secs(120));
    let (client, creds) = pair("bench".into()).await;
    let mut one = Vec::new();
    for _ in 0..500 {
        let t = Instant::now();
        client.token(&creds, MIN).await.expect("a token");
        one.push(t.elapsed());
    }
    let (p50, p99) = quantiles(one);
    s.measure(
        "a token fetched from the owner over TLS on loopback (one client, keep-alive): p50 / p99",
        format!("{p50:.2} / {p99:.2} ms"),
        "p99 < 10 ms",
        p99 < 10.0,
    );

    // Open loop, as wrk2 measures: each paired computer asks every 100 ms on a fixed
    // schedule (a real one asks about once a day), and a latency counts from when its
    // request was due, so an owner that falls behind is seen falling behind.
    let mut clients: Vec<(ShareClient, Credentials)> = Vec::new();
    let mut best = 0;
    let mut table = Vec::new();
    for n in [10usize, 50, 100, 200, 400] {
        while clients.len() < n {
            clients.push(pair(format!("c{}", clients.len())).await);
        }
        let start = tokio::time::Instant::now() + Duration::from_millis(200);
        let rounds = 20u32;
        let tasks: Vec<_> = clients
            .iter()
            .take(n)
            .cloned()
            .enumerate()
            .map(|(i, (c, cr))| {
                // Spread over the period, not all at once.
                let offset = Duration::from_micros(100_000 * i as u64 / n as u64);
                tokio::spawn(async move {
                    let mut lat = Vec::new();
                    for k in 0..rounds {
                        let due = start + offset + Duration::from_millis(100) * k;
                        tokio::time::sleep_until(due).await;
                        if c.token(&cr, MIN).await.is_ok() {
                            lat.push(due.elapsed());
                        }
                    }
                    lat
                })
            })
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        let answered = all.len();
        let (p50, p99) = quantiles(all);
        table.push(format!("{n}: p50 {p50:.1} ms, p99 {p99:.1} ms ({answered} answers)"));
        if p99 < 10.0 && answered == n * rounds as usize {
            best = n;
        }
    }
    s.measure(
        "paired computers one owner serves with p99 < 10 ms (each asking 10 times a second)",
        best.to_string(),
        ">= 100",
        best >= 100,
    );
    s.info("by number of paired computers", table.join("; "));
    s.note(
        "The load generator runs in the owner's process and shares its 2 cores, so the figures \
         are a floor for a dedicated owner. The listener holds at most 256 open connections \
         (`Limits::max_connections`, as the token server): past that, as in the last step, a \
         computer waits for a free connection, and one that waits past its 15 s timeout gets \
         no answer and keeps its cached token.",
    );

    match thingstray {
        Some(bin) => cli_costs(s, server, bin).await,
        None => {
            s.skipped("`thingstray token` on a paired computer", "no release binary given");
        }
    }
}

/// `thingstray token` on a paired computer: from its cache, and with a fetch from the
/// owner (the cached token removed before each run).
async fn cli_costs(s: &mut Section, server: &ShareServer, bin: &str) {
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths::at(dir.path());
    std::fs::write(dir.path().join("config.toml"), "vault = \"file\"\n").unwrap();
    let vault = Vault::new(Arc::new(FileStore::new(paths.file_vault())));
    let invite = server.invite().unwrap();
    thingstray::connection::paired::connect(&paths, &vault, &invite, "home", "cli-bench", Options::default())
        .await
        .expect("paired");
    let run = || {
        let t = Instant::now();
        let ok = std::process::Command::new(bin)
            .arg("token")
            .env("THINGSTRAY_CONFIG_DIR", dir.path())
            .env_remove("THINGSTRAY_CONNECTION")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|st| st.success());
        (ok, t.elapsed())
    };
    let mut cached = Vec::new();
    let mut fetched = Vec::new();
    let mut failures = 0;
    for _ in 0..30 {
        let (ok, d) = tokio::task::block_in_place(run);
        failures += usize::from(!ok);
        cached.push(d);
        let _ = vault.delete_tokens("home").await;
        let (ok, d) = tokio::task::block_in_place(run);
        failures += usize::from(!ok);
        fetched.push(d);
    }
    let (c50, c99) = quantiles(cached);
    let (f50, f99) = quantiles(fetched);
    s.check("`thingstray token` runs on a paired computer that failed", failures.to_string(), "0", failures == 0);
    s.info(
        "`thingstray token` on a paired computer, cached token (file vault, 30 runs): p50 / p99",
        format!("{c50:.1} / {c99:.1} ms"),
    );
    s.info(
        "`thingstray token` on a paired computer, fetched from the owner over TLS: p50 / p99",
        format!("{f50:.1} / {f99:.1} ms"),
    );
}
