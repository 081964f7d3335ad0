//! A hand-over when things go wrong on the way (issue 11, found in review): the new owner
//! retrying a confirmation the old owner is still working on, a request the old owner
//! cannot use, a keychain that refuses the old owner's last write. Either computer ends
//! with the session, never neither, and a paired computer never keeps a refresh token.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{share, Env};
use crate::paired::Laptop;
use secrecy::SecretString;
use smartthings_sim::SimConfig;
use thingstray::config::Config;
use thingstray::owner::take_over::take_over;
use thingstray::owner::Registry;
use thingstray::share::pairing::credentials;
use thingstray::share::{Credentials, ShareClient};
use thingstray::vault::{MemoryStore, SecretStore, Vault};

/// A write held at the item whose key ends so: "entered" is sent, then it waits for "release".
struct Stall {
    key: String,
    entered: mpsc::Sender<()>,
    release: mpsc::Receiver<()>,
}

/// The old owner's keychain: it can stall at one item until the test lets it go (a slow
/// keychain), or refuse to write token pairs.
#[derive(Default)]
struct Keychain {
    inner: MemoryStore,
    stall: Mutex<Option<Stall>>,
    refuse_tokens: AtomicBool,
}

impl SecretStore for Keychain {
    fn get(&self, key: &str) -> thingstray::Result<Option<SecretString>> {
        self.inner.get(key)
    }
    fn set(&self, key: &str, value: &SecretString) -> thingstray::Result<()> {
        let stalled = {
            let mut s = self.stall.lock().unwrap();
            if s.as_ref().is_some_and(|st| key.ends_with(st.key.as_str())) { s.take() } else { None }
        };
        if let Some(st) = stalled {
            st.entered.send(()).unwrap();
            st.release.recv().ok();
        }
        if self.refuse_tokens.load(Ordering::SeqCst) && key.ends_with("/tokens") {
            return Err(thingstray::Error::KeychainUnavailable { detail: "refused by the test".into() });
        }
        self.inner.set(key, value)
    }
    fn delete(&self, key: &str) -> thingstray::Result<()> {
        self.inner.delete(key)
    }
    fn describe(&self) -> String {
        "test keychain".into()
    }
}

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
async fn a_repeated_confirmation_waits_for_the_first_instead_of_being_refused() {
    // The old owner's keychain is slow while it becomes paired; the new owner's request
    // times out and it asks again. Answered "not offered", the new owner would throw the
    // session away while the old one finishes giving it up: neither would hold it.
    let (env, keychain, server, laptop, creds, advertise) = offered().await;
    let (entered_tx, entered) = mpsc::channel();
    let (release, release_rx) = mpsc::channel();
    *keychain.stall.lock().unwrap() = Some(Stall { key: "/pairing-secret".into(), entered: entered_tx, release: release_rx });

    let taking = {
        let (paths, vault, opts) = (laptop.paths.clone(), laptop.vault.clone(), laptop.options(&env));
        tokio::spawn(async move { take_over(&paths, &vault, None, Some(&advertise), opts).await })
    };
    // The first confirmation is inside the old owner's keychain now.
    tokio::task::spawn_blocking(move || entered.recv_timeout(Duration::from_secs(30)))
        .await
        .unwrap()
        .expect("the old owner writes its pairing secret");

    let client = ShareClient::for_credentials(&creds).unwrap();
    let again = client.http().post(client.url("/share/v1/hand-over/confirm")).header("authorization", bearer(&creds)).json(&serde_json::json!({})).send();
    let mut again = Box::pin(again);
    // Correct code answers only once the first is done, so the bound just lets the first
    // finish; a refusal comes back at once and fails here.
    if let Ok(early) = tokio::time::timeout(Duration::from_millis(500), &mut again).await {
        let early = early.unwrap();
        panic!("the repeat was answered while the first was still running: {} {}", early.status(), early.text().await.unwrap_or_default());
    }
    release.send(()).unwrap();
    let answer = again.await.unwrap();
    assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap_or_default());
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
    let answer = client.http().post(client.url("/share/v1/hand-over")).header("authorization", bearer(&creds)).json(&bad).send().await.unwrap();
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
    *keychain.stall.lock().unwrap() = Some(Stall { key: "home/tokens".into(), entered: entered_tx, release: release_rx });
    let taking = {
        let (paths, vault, opts) = (laptop.paths.clone(), laptop.vault.clone(), laptop.options(&env));
        tokio::spawn(async move { take_over(&paths, &vault, None, Some(&advertise), opts).await })
    };
    tokio::task::spawn_blocking(move || entered.recv_timeout(Duration::from_secs(30))).await.unwrap().expect("the old owner writes its tokens");
    keychain.refuse_tokens.store(true, Ordering::SeqCst);
    release.send(()).unwrap();
    taking.await.unwrap().expect("the take-over completes");
    keychain.refuse_tokens.store(false, Ordering::SeqCst);
    assert_eq!(old_owner(&env).await, (true, false), "paired, and no refresh token in its keychain");
}
