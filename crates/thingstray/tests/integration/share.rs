//! Sharing one sign-in between computers (issue 11), over real TLS on 127.0.0.1: an owner
//! signed in to the simulator, its share listener, and a paired computer's client. The
//! clock is the manual one, moved together with the simulator's: no sleeps.

use std::sync::Arc;
use std::time::Duration;

use thingstray_testkit::stalled;

use crate::common::{refreshes, share, Env};
use smartthings_sim::SimConfig;
use thingstray::config::Paths;
use thingstray::owner::{Identity, Registry, ShareOptions, ShareServer, ShareSource};
use thingstray::share::{Credentials, Invite, ShareClient};

const MIN: Duration = Duration::from_secs(60);

fn now(env: &Env) -> std::time::SystemTime {
    thingstray::clock::Clock::now(&env.clock)
}

fn sign_ins(env: &Env) -> u64 {
    env.sim.stats().sign_ins.values().sum()
}

/// The owner's current refresh token, from its vault.
async fn refresh_token(env: &Env) -> String {
    env.vault.tokens("home").await.unwrap().expect("the owner holds tokens").refresh_token.secret().to_string()
}

fn assert_clean(what: &str, bytes: &[u8], forbidden: &[String]) {
    let text = String::from_utf8_lossy(bytes);
    for secret in forbidden {
        assert!(!text.contains(secret.as_str()), "{what} holds a refresh token or the client secret: {text}");
    }
    assert!(!text.contains("refresh"), "{what} mentions a refresh token: {text}");
}

async fn paired(server: &ShareServer, name: &str) -> (ShareClient, Credentials) {
    // As the user does it: the line, copied, parsed on the other computer.
    let invite = Invite::parse(&server.invite().unwrap().to_line()).unwrap();
    let client = ShareClient::for_invite(&invite).unwrap();
    let creds = client.pair(&invite, name).await.expect("pairing works");
    (client, creds)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paired_computer_always_holds_a_token_the_simulator_accepts() {
    let env = Env::new(SimConfig { expires_in: 600, ..SimConfig::default() }).await;
    let conn = env.signed_in().await;
    let server = share(&env, conn.clone()).await;
    let client_secret = env.sim.client().client_secret.clone();
    let mut forbidden = vec![client_secret, refresh_token(&env).await];

    // Pairing, looked at byte by byte: an id and a secret of this computer's own.
    let invite = server.invite().unwrap();
    let raw = ShareClient::for_invite(&invite).unwrap();
    let resp = raw
        .http()
        .post(raw.url("/share/v1/pair"))
        .json(&serde_json::json!({"code": invite.code, "name": "raw"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let bytes = resp.bytes().await.unwrap();
    assert_clean("the pairing answer", &bytes, &forbidden);
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v.as_object().unwrap().keys().collect::<Vec<_>>(), ["id", "owner", "secret"]);

    let (client, creds) = paired(&server, "laptop").await;
    assert_eq!(creds.owner, "owner-pc");
    let mut previous = String::new();
    for rotation in 1..=5 {
        env.advance(Duration::from_secs(601));
        // The paired computer asks first: the owner refreshes for it...
        let shared = client.token(&creds, MIN).await.unwrap_or_else(|e| panic!("rotation {rotation}: {e}"));
        // ...and then has that same token for itself, without another refresh.
        let own = conn.session.token_valid_for(MIN).await.unwrap();
        assert_eq!(shared.grant.secret(), own.secret(), "rotation {rotation}");
        assert_ne!(shared.grant.secret(), previous, "rotation {rotation}: a new token");
        assert!(env.sim.accepts(shared.grant.secret()).await, "rotation {rotation}: the paired computer's token");
        assert!(env.sim.accepts(own.secret()).await, "rotation {rotation}: the owner's token");
        assert_eq!(shared.api_url, env.sim.api_url());
        assert!(shared.grant.remaining(now(&env)) >= MIN);
        assert_eq!(refreshes(&env.sim), rotation, "exactly one refresh per rotation");

        // The raw answer holds no refresh token (this rotation's or an earlier one) and
        // no client secret.
        forbidden.push(refresh_token(&env).await);
        let resp = client
            .http()
            .get(client.url("/share/v1/token"))
            .bearer_auth(format!("{}.{}", creds.id, secrecy::ExposeSecret::expose_secret(&creds.secret)))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_clean("the token answer", &resp.bytes().await.unwrap(), &forbidden);
        previous = shared.grant.secret().to_string();
    }
    assert_eq!(refreshes(&env.sim), 5);
    assert_eq!(sign_ins(&env), 1, "one sign-in for both computers");
    let names: Vec<String> = server.registry().list().unwrap().into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["raw", "laptop"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reused_expired_and_unknown_codes_are_refused_each_with_its_code() {
    let env = Env::new(SimConfig::default()).await;
    let server = share(&env, env.signed_in().await).await;
    let invite = server.invite().unwrap();
    let client = ShareClient::for_invite(&invite).unwrap();
    client.pair(&invite, "first").await.unwrap();

    let e = client.pair(&invite, "second").await.unwrap_err();
    assert_eq!(e.code(), "invite_expired", "reused: {e}");
    assert!(e.to_string().contains("already used") && e.to_string().contains("owner-pc"), "{e}");

    let late = server.invite().unwrap();
    env.advance(Duration::from_secs(10 * 60 + 1));
    let e = client.pair(&late, "late").await.unwrap_err();
    assert_eq!(e.code(), "invite_expired", "expired: {e}");

    let wrong = Invite { code: "000000000000".into(), ..server.invite().unwrap() };
    let e = client.pair(&wrong, "guess").await.unwrap_err();
    assert_eq!(e.code(), "invite_invalid", "unknown: {e}");
    // Only the first pairing exists.
    assert_eq!(server.registry().list().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_codes_locks_pairing_for_a_minute() {
    let env = Env::new(SimConfig::default()).await;
    let server = share(&env, env.signed_in().await).await;
    let real = server.invite().unwrap();
    let client = ShareClient::for_invite(&real).unwrap();
    for i in 0..5 {
        let guess = Invite { code: format!("{i:012}"), ..real.clone() };
        assert_eq!(client.pair(&guess, "guesser").await.unwrap_err().code(), "invite_invalid", "guess {i}");
    }
    // Now even the right code is refused, with how long to wait.
    let e = client.pair(&real, "laptop").await.unwrap_err();
    assert_eq!(e.code(), "share_rate_limited", "{e}");
    assert!(e.to_string().contains("60 s"), "{e}");
    env.advance(Duration::from_secs(30));
    assert_eq!(client.pair(&real, "laptop").await.unwrap_err().code(), "share_rate_limited");
    env.advance(Duration::from_secs(31));
    client.pair(&real, "laptop").await.expect("the right code works once the minute is over");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_certificate_at_the_owners_address_is_refused_before_anything_is_sent() {
    let env = Env::new(SimConfig::default()).await;
    let conn = env.signed_in().await;
    let server = share(&env, conn.clone()).await;
    // An impostor: the same kind of listener, its own certificate and registry.
    let other_dir = tempfile::tempdir().unwrap();
    let impostor = ShareServer::start(
        ShareSource::One(conn),
        &Identity::generate().unwrap(),
        Arc::new(Registry::open(&Paths::at(other_dir.path()))),
        Arc::new(env.clock.clone()),
        ShareOptions {
            addr: "127.0.0.1:0".parse().unwrap(),
            owner_name: "impostor".into(),
            limits: Default::default(),
        },
    )
    .await
    .unwrap();
    assert_ne!(impostor.fingerprint(), server.fingerprint());

    // The invite of the real owner, pointed at the impostor (a spoofed address).
    let invite = server.invite().unwrap();
    let spoofed = Invite { at: impostor.addr().to_string(), ..invite.clone() };
    let e = thingstray::share::client::pair(&spoofed, "laptop").await.unwrap_err();
    assert_eq!(e.code(), "share_fingerprint_mismatch", "{e}");
    assert!(e.to_string().contains("impersonating owner-pc"), "{e}");
    // The code never reached anyone: it still works with the real owner.
    let creds = thingstray::share::client::pair(&invite, "laptop").await.unwrap();
    // A paired computer whose owner's address now answers with another certificate.
    let moved = Credentials { at: impostor.addr().to_string(), ..creds.clone() };
    let e = thingstray::share::client::token(&moved, MIN).await.unwrap_err();
    assert_eq!(e.code(), "share_fingerprint_mismatch", "{e}");
    assert!(impostor.registry().list().unwrap().is_empty());
    thingstray::share::client::token(&creds, MIN).await.expect("the real owner still serves it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_and_oversized_requests_are_refused() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let env = Env::new(SimConfig::default()).await;
    let server = share(&env, env.signed_in().await).await;
    let invite = server.invite().unwrap();
    let client = ShareClient::for_invite(&invite).unwrap();

    // Plain HTTP to the TLS port: no HTTP answer, only the connection closed (at most
    // with a TLS alert).
    let mut tcp = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    tcp.write_all(b"GET /share/v1/token HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut answer)).await.expect("closed").ok();
    assert!(!answer.starts_with(b"HTTP/"), "{}", String::from_utf8_lossy(&answer));
    let plain = reqwest::Client::new().get(format!("http://{}/share/v1/token", server.addr())).send().await;
    assert!(plain.is_err(), "a plain-HTTP client gets no answer: {plain:?}");

    // A body over the cap, declared: refused from the headers alone. The body stream then
    // stays open without sending, so the answer is read before the client could be cut
    // off mid-write (a server that closes with unread bytes makes the kernel reset the
    // connection, which can eat the answer).
    let resp = client
        .http()
        .post(client.url("/share/v1/pair"))
        .header("content-length", (1 << 20).to_string())
        .body(stalled(Vec::new()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "payload_too_large");
    // ...or streamed without a length: refused once the cap is passed.
    let resp = client.http().post(client.url("/share/v1/pair")).body(stalled(vec![b' '; 5000])).send().await.unwrap();
    assert_eq!(resp.status(), 413);
    // Headers over the cap: 431, or the connection reset for the reason above.
    let resp = client.http().get(client.url("/share/v1/token")).header("x-padding", "y".repeat(20 * 1024)).send().await;
    match resp {
        Ok(r) => assert_eq!(r.status(), 431),
        Err(e) => assert!(format!("{e:?}").contains("reset") || format!("{e:?}").contains("Broken pipe"), "{e:?}"),
    }
    // Not JSON, and other paths.
    let resp = client.http().post(client.url("/share/v1/pair")).body("{not json").send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let resp = client.http().get(client.url("/v1/token")).send().await.unwrap();
    assert_eq!(resp.status(), 404);

    // None of it used up the invite or the listener.
    client.pair(&invite, "laptop").await.expect("the listener still pairs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_never_comes_is_answered_408_not_waited_for() {
    // Headers on time, then a body that stops short: without a deadline on the body each
    // such connection is held for good, and 256 of them shut the listener.
    let env = Env::new(SimConfig::default()).await;
    let conn = env.signed_in().await;
    let identity = Identity::load_or_create(&env.vault).await.unwrap();
    let limits = thingstray::serve::Limits { header_read_timeout: Duration::from_millis(300), ..Default::default() };
    let opts = ShareOptions { addr: "127.0.0.1:0".parse().unwrap(), owner_name: "owner-pc".into(), limits };
    let registry = Arc::new(Registry::open(&env.paths));
    let server = ShareServer::start(ShareSource::One(conn), &identity, registry, Arc::new(env.clock.clone()), opts)
        .await
        .unwrap();
    let client = ShareClient::for_invite(&server.invite().unwrap()).unwrap();
    let send = client
        .http()
        .post(client.url("/share/v1/pair"))
        .header("content-length", "200")
        .body(stalled(b"{\"code\":".to_vec()))
        .send();
    // The bound only turns a hang into a failure; the listener's own deadline is 300 ms.
    let resp = tokio::time::timeout(Duration::from_secs(20), send)
        .await
        .expect("the listener answers instead of waiting for the rest")
        .unwrap();
    assert_eq!(resp.status(), 408);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "request_timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_unknown_and_ended_are_each_their_own_refusal() {
    let env = Env::new(SimConfig { expires_in: 600, ..SimConfig::default() }).await;
    let server = share(&env, env.signed_in().await).await;
    let (client, laptop) = paired(&server, "laptop").await;
    let (_, desktop) = paired(&server, "desktop").await;
    client.token(&laptop, MIN).await.unwrap();

    // No secret, a wrong secret, an unknown id.
    let resp = client.http().get(client.url("/share/v1/token")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let wrong = Credentials { secret: desktop.secret.clone(), ..laptop.clone() };
    assert_eq!(client.token(&wrong, MIN).await.unwrap_err().code(), "share_unauthorized");
    let unknown = Credentials { id: "0123456789abcdef".into(), ..laptop.clone() };
    assert_eq!(client.token(&unknown, MIN).await.unwrap_err().code(), "share_unauthorized");

    // Revoked on the owner (by name, as `share revoke laptop` will).
    server.registry().revoke("laptop", now(&env)).unwrap();
    let e = client.token(&laptop, MIN).await.unwrap_err();
    assert_eq!(e.code(), "share_revoked");
    assert_eq!(e.to_string(), "This computer's access was revoked on owner-pc: ask for a new invite.");
    client.token(&desktop, MIN).await.expect("the other computer is unaffected");

    // The owner's own session ends (removed in Linked Services, say): the paired computer
    // is told it is the owner's to fix.
    env.sim.revoke_refresh_tokens();
    env.advance(Duration::from_secs(601));
    let e = client.token(&desktop, MIN).await.unwrap_err();
    assert_eq!(e.code(), "owner_session_ended", "{e}");
    assert!(e.to_string().contains("Sign in again on owner-pc"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_that_is_gone_is_unreachable_by_name() {
    let env = Env::new(SimConfig::default()).await;
    let server = share(&env, env.signed_in().await).await;
    let (client, creds) = paired(&server, "laptop").await;
    server.shutdown(Duration::from_secs(5)).await;
    let e = client.token(&creds, MIN).await.unwrap_err();
    assert_eq!(e.code(), "share_unreachable", "{e}");
    assert!(e.to_string().starts_with("owner-pc, the computer"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paired_computer_cannot_make_the_owner_refresh_on_every_request() {
    // SmartThings' tokens live 24 hours, so one asked to stay valid for nearly that long
    // is never good enough: each such request would spend a refresh at SmartThings.
    let env = Env::new(SimConfig::default()).await;
    let server = share(&env, env.signed_in().await).await;
    let (client, creds) = paired(&server, "laptop").await;
    let before = refreshes(&env.sim);
    for _ in 0..3 {
        let e = client.token(&creds, Duration::from_secs(23 * 3600)).await.unwrap_err();
        assert!(e.to_string().contains("min_valid may be at most 3600 s"), "{e}");
    }
    for _ in 0..3 {
        client.token(&creds, Duration::from_secs(3600)).await.expect("an hour is served");
    }
    assert_eq!(refreshes(&env.sim), before, "no refresh: the owner's token has a day left");
}
