//! A hand-over when things go wrong on the way (issue 11, found in review; issue 25): the
//! new owner retrying a confirmation the old owner is still working on, a request the old
//! owner cannot use, a keychain that refuses the old owner's last write, a listener turned
//! off while the old owner is deciding, a take-over cut off after the old owner let go, a
//! session for another location. Either computer ends with the session, never neither,
//! never both, and a paired computer never keeps a refresh token.
//!
//! [`World`] is the two computers as handover_faults.rs drives them step by step too.

use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use crate::common::{share, Env};
use crate::handover_world::{finish, free_port, Keychain, Stall, World};
use crate::paired::Laptop;

use smartthings_sim::SimConfig;
use thingstray::config::Config;

use thingstray::owner::take_over::take_over;
use thingstray::owner::Registry;

use thingstray::share::pairing::credentials;
use thingstray::share::{Credentials, ShareClient};
use thingstray::vault::Vault;
use thingstray::Connection;

const MIN: Duration = Duration::from_secs(60);

/// An owner signed in and sharing, a laptop paired with it and offered the session, and
/// the laptop's pairing credentials (as its running processes hold them).
async fn offered() -> (Env, Arc<Keychain>, thingstray::owner::ShareServer, Laptop, Credentials, String) {
    let keychain = Arc::new(Keychain::default());
    let env = Env::with_vault(SimConfig::default(), Vault::new(keychain.clone())).await;
    let server = share(&env, env.signed_in().await).await;
    let laptop = Laptop::new();
    laptop.pair(&env, &server).await;
    let with = Config::load(&laptop.paths).unwrap().connections["home"].paired.clone().unwrap();
    let creds = credentials(&laptop.vault, "home", &with).await.unwrap();
    Registry::open(&env.paths).offer_hand_over("laptop", thingstray::clock::Clock::now(&env.clock)).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    (env, keychain, server, laptop, creds, format!("127.0.0.1:{port}"))
}

fn bearer(creds: &Credentials) -> String {
    use secrecy::ExposeSecret;
    format!("Bearer {}.{}", creds.id, creds.secret.expose_secret())
}

/// Where things stand on the old owner: paired (with its refresh token gone), or still
/// the owner (with its refresh token).
async fn old_owner(env: &Env) -> (bool, bool) {
    let paired = Config::load(&env.paths).unwrap().connections["home"].paired.is_some();
    let refresh = env.vault.tokens("home").await.unwrap().is_some_and(|t| !t.refresh_token.secret().is_empty());
    (paired, refresh)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_request_waits_for_the_first_and_gets_the_same_session() {
    // The old owner's keychain is slow while it decides; the new owner's request times out
    // and it asks again. Answered "not offered" (the offer is being used), the new owner
    // would give up while the old one goes on to hand the session over: neither would
    // hold it. The repeat waits for the first, and gets the same session.
    let (env, keychain, server, laptop, creds, advertise) = offered().await;
    let (entered_tx, entered) = mpsc::channel();
    let (release, release_rx) = mpsc::channel();
    *keychain.stall.lock().unwrap() =
        Some(Stall { key: "/pairing-secret".into(), entered: entered_tx, release: release_rx });

    let taking = {
        let (paths, vault, opts) = (laptop.paths.clone(), laptop.vault.clone(), laptop.options(&env));
        tokio::spawn(async move { take_over(&paths, &vault, None, Some(&advertise), opts).await })
    };
    // The first request is inside the old owner's keychain now.
    tokio::task::spawn_blocking(move || entered.recv_timeout(Duration::from_secs(30)))
        .await
        .unwrap()
        .expect("the old owner writes its pairing secret");

    // The same request again: the nonce is the one in the laptop's record.
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(laptop.paths.hand_over_record("home")).unwrap()).unwrap();
    let nonce = record["nonce"].as_str().unwrap().to_string();
    let repeat = serde_json::json!({
        "owner": "laptop-pc", "at": "127.0.0.1:1", "fingerprint": "ab".repeat(32),
        "id": record["enrolled_id"], "secret": "s".repeat(64), "nonce": nonce,
    });
    let client = ShareClient::for_credentials(&creds).unwrap();
    let again = client
        .http()
        .post(client.url("/share/v1/hand-over"))
        .header("authorization", bearer(&creds))
        .json(&repeat)
        .send();
    let mut again = Box::pin(again);
    // Correct code answers only once the first is done, so the bound just lets the first
    // finish; a refusal comes back at once and fails here.
    if let Ok(early) = tokio::time::timeout(Duration::from_millis(500), &mut again).await {
        let early = early.unwrap();
        panic!(
            "the repeat was answered while the first was still running: {} {}",
            early.status(),
            early.text().await.unwrap_or_default()
        );
    }
    release.send(()).unwrap();
    let answer = again.await.unwrap();
    assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap_or_default());
    let bundle: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(bundle["nonce"], serde_json::Value::String(nonce));
    let new_owner = taking.await.unwrap().expect("the take-over completes");
    assert!(new_owner.owner().is_none(), "the laptop holds the sign-in");
    assert_eq!(old_owner(&env).await, (true, false), "the old owner is paired, without a refresh token");
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_the_old_owner_cannot_use_leaves_the_offer_standing() {
    let (env, _keychain, _server, laptop, creds, advertise) = offered().await;
    let client = ShareClient::for_credentials(&creds).unwrap();
    let bad = serde_json::json!({"owner": "laptop-pc", "at": advertise, "fingerprint": "not-a-fingerprint", "id": creds.id, "secret": "x"});
    let answer = client
        .http()
        .post(client.url("/share/v1/hand-over"))
        .header("authorization", bearer(&creds))
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    assert_eq!(old_owner(&env).await, (false, true), "nothing changed on the owner");
    let new_owner = take_over(&laptop.paths, &laptop.vault, None, Some(&advertise), laptop.options(&env))
        .await
        .expect("the offer still stands after a request it could not use");
    assert!(new_owner.owner().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keychain_that_refuses_the_last_write_still_leaves_no_refresh_token_behind() {
    // The old owner keeps the access token alone; when its keychain refuses that write,
    // it removes the pair rather than keep the refresh token as a paired computer.
    let (env, keychain, _server, laptop, _creds, advertise) = offered().await;
    let (entered_tx, entered) = mpsc::channel();
    let (release, release_rx) = mpsc::channel();
    // Stalled at the old owner's first write of the confirmation, then told to refuse.
    *keychain.stall.lock().unwrap() =
        Some(Stall { key: "home/tokens".into(), entered: entered_tx, release: release_rx });
    let taking = {
        let (paths, vault, opts) = (laptop.paths.clone(), laptop.vault.clone(), laptop.options(&env));
        tokio::spawn(async move { take_over(&paths, &vault, None, Some(&advertise), opts).await })
    };
    tokio::task::spawn_blocking(move || entered.recv_timeout(Duration::from_secs(30)))
        .await
        .unwrap()
        .expect("the old owner writes its tokens");
    keychain.refuse_tokens.store(true, Ordering::SeqCst);
    release.send(()).unwrap();
    taking.await.unwrap().expect("the take-over completes");
    keychain.refuse_tokens.store(false, Ordering::SeqCst);
    assert_eq!(old_owner(&env).await, (true, false), "paired, and no refresh token in its keychain");
}

/// Issue 25, item 1: the old owner's keychain is slow while it works on the hand-over, and
/// its listener goes away meanwhile (the desktop turning sharing off, a restart). The new
/// owner gives up waiting; then the old owner's work lands. Before: the new owner had
/// thrown its copy away and the old one gave its own up: neither held the session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_old_owner_whose_listener_goes_away_still_leaves_one_owner() {
    let mut w = World::new().await;
    let (entered_tx, entered) = mpsc::channel();
    let (release, release_rx) = mpsc::channel();
    *w.keychain.stall.lock().unwrap() =
        Some(Stall { key: "/pairing-secret".into(), entered: entered_tx, release: release_rx });
    let taking = {
        let (paths, vault, opts, advertise) =
            (w.laptop.paths.clone(), w.laptop.vault.clone(), w.b_options(), w.advertise.clone());
        tokio::spawn(async move { take_over(&paths, &vault, None, Some(&advertise), opts).await })
    };
    tokio::task::spawn_blocking(move || entered.recv_timeout(Duration::from_secs(30)))
        .await
        .unwrap()
        .expect("A is at work");
    // A's listener stops while its keychain holds the write.
    w.server = None;
    let first = taking.await.unwrap();
    assert!(first.is_err(), "B cannot have finished: A is stalled and gone");
    release.send(()).unwrap();
    // A's stalled work finishes (what it will), then A starts again from its disk.
    tokio::time::sleep(Duration::from_millis(300)).await;
    w.start_a().await;
    let again = finish(&w).await;
    let out = w.outcome().await;
    assert_eq!(out.owners, ["B"], "{out:?}; the take-over again: {again:?}");
    assert!(!out.two_refreshers(), "{out:?}");
}

/// Issue 25, item 2: the take-over is cut off after the old owner let go and before the
/// new owner's settings say so (here its settings cannot be written for a moment). Before:
/// the laptop's vault held the only live pair under a paired connection, and every process
/// there said `taken_over_here` until config.toml was edited by hand.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_take_over_cut_off_after_the_old_owner_let_go_is_finished_where_it_stopped() {
    let w = World::new().await;
    // While A works on the hand-over, B's settings stop taking writes.
    let lock = w.laptop.paths.config_lock_file();
    *w.keychain.hook.lock().unwrap() = Some((
        "/pairing-secret".into(),
        Box::new({
            let lock = lock.clone();
            move || {
                let _ = std::fs::remove_file(&lock);
                std::fs::create_dir_all(&lock).unwrap();
            }
        }),
    ));
    let cut = w.take_over().await;
    assert!(cut.is_err(), "B's settings could not be written");
    std::fs::remove_dir(&lock).unwrap();
    // Any process on B: it finds where the take-over stopped.
    let config = Config::load(&w.laptop.paths).unwrap();
    let conn = Connection::open_with(&w.laptop.paths, &config, w.laptop.vault.clone(), None, w.b_options())
        .await
        .expect("B opens");
    assert!(conn.owner().is_none(), "B holds the sign-in: {:?}", conn.settings.paired);
    let out = w.outcome().await;
    assert_eq!(out.owners, ["B"], "{out:?}");
    assert!(!out.two_refreshers(), "{out:?}");
    // And `take-over` again tells A, which then follows as paired.
    finish(&w).await.expect("the take-over finishes");
    assert!(Config::load(&w.env.paths).unwrap().connections["home"].paired.is_some(), "A is paired with B");
}

/// Issue 25, item 3: the old owner now shares a connection for another location than the
/// one the laptop was paired for (the desktop shares whichever connection it serves).
/// The take-over is refused before anything moves; the laptop stays paired and the owner
/// keeps its session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_take_over_of_another_location_is_refused_and_nothing_moves() {
    let env = Env::new(SimConfig { expires_in: 600, ..SimConfig::default() }).await;
    env.signed_in().await;
    let (conn, switched, server) = crate::common::switchable_owner(&env).await;
    let laptop = Laptop::new();
    laptop.pair(&env, &server).await;
    switched.store(true, Ordering::SeqCst);
    Registry::open(&env.paths).offer_hand_over("laptop", thingstray::clock::Clock::now(&env.clock)).unwrap();
    let advertise = format!("127.0.0.1:{}", free_port());
    let e = take_over(&laptop.paths, &laptop.vault, None, Some(&advertise), laptop.options(&env)).await.unwrap_err();
    assert_eq!(e.code(), "share_wrong_location", "{e}");
    assert!(e.to_string().contains("another-location"), "{e}");
    assert!(Config::load(&laptop.paths).unwrap().connections["home"].paired.is_some(), "the laptop stays paired");
    assert!(laptop.vault.client_secret("home").await.unwrap().is_none(), "no client secret on the laptop");
    let kept = laptop.vault.tokens("home").await.unwrap().unwrap();
    assert!(kept.refresh_token.secret().is_empty(), "no refresh token on the laptop");
    assert!(Config::load(&env.paths).unwrap().connections["home"].paired.is_none(), "the owner keeps its sign-in");
    // And keeps refreshing it.
    env.advance(Duration::from_secs(601));
    assert!(conn.session.token_valid_for(MIN).await.is_ok());
}
