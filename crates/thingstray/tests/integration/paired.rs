//! A connection of kind "paired" (issue 11): a second computer, with its own settings
//! folder and its own vault (a file vault, so every byte it keeps can be searched), gets
//! its tokens from the owner's share listener over TLS on 127.0.0.1 and calls SmartThings
//! directly. The clock is the manual one, moved with the simulator's: no sleeps.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::common::{fast_session, refreshes, share, Env};
use smartthings_sim::SimConfig;
use thingstray::config::{Config, Paths};
use thingstray::connection::paired::connect;
use thingstray::connection::Options;
use thingstray::owner::Registry;
use thingstray::session::Status;
use thingstray::vault::{FileStore, Vault};
use thingstray::Connection;

const MIN: Duration = Duration::from_secs(60);

/// The other computer: a settings folder and a file vault of its own, the test's clock.
pub(crate) struct Laptop {
    dir: tempfile::TempDir,
    pub(crate) paths: Paths,
    pub(crate) vault: Vault,
}

impl Laptop {
    pub(crate) fn new() -> Laptop {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::at(dir.path());
        let vault = Vault::new(Arc::new(FileStore::new(paths.file_vault())));
        Laptop { dir, paths, vault }
    }

    pub(crate) fn options(&self, env: &Env) -> Options {
        Options {
            clock: Arc::new(env.clock.clone()),
            session: fast_session(),
            request_timeout: Duration::from_secs(5),
            extra_roots: None,
        }
    }

    pub(crate) async fn pair(&self, env: &Env, server: &thingstray::owner::ShareServer) -> Connection {
        let invite = server.invite().unwrap();
        connect(&self.paths, &self.vault, &invite, "home", "laptop", self.options(env)).await.expect("pairing works")
    }

    /// Everything this computer wrote, as text.
    fn everything(&self) -> String {
        fn walk(dir: &Path, out: &mut String) {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    out.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap()));
                }
            }
        }
        let mut out = String::new();
        walk(self.dir.path(), &mut out);
        out
    }
}

async fn owner_refresh_token(env: &Env) -> String {
    env.vault.tokens("home").await.unwrap().unwrap().refresh_token.secret().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paired_computer_follows_the_owner_over_five_rotations_and_keeps_no_smartthings_secret() {
    let env = Env::new(SimConfig { expires_in: 600, ..SimConfig::default() }).await;
    env.signed_in().await;
    // As `thingstray serve --share` opens it: after the sign-in, the location known.
    let config = Config::load(&env.paths).unwrap();
    let owner = Connection::open_with(&env.paths, &config, env.vault.clone(), None, env.options()).await.unwrap();
    let server = share(&env, owner.clone()).await;
    let laptop = Laptop::new();
    let paired = laptop.pair(&env, &server).await;
    assert_eq!(paired.owner(), Some("owner-pc"));
    assert!(paired.settings.location_id.is_some(), "the location comes with the first token");
    let mut forbidden = vec![env.sim.client().client_secret.clone(), owner_refresh_token(&env).await];

    let base = refreshes(&env.sim);
    for rotation in 1..=5u64 {
        env.advance(Duration::from_secs(601));
        let t = paired.session.token_valid_for(MIN).await.unwrap_or_else(|e| panic!("rotation {rotation}: {e}"));
        assert!(env.sim.accepts(t.secret()).await, "rotation {rotation}");
        // Devices come straight from SmartThings with that token.
        assert!(!paired.api.devices().await.unwrap().is_empty(), "rotation {rotation}");
        // The owner, asked after, has the same token: one refresh served both.
        assert_eq!(owner.session.token_valid_for(MIN).await.unwrap().secret(), t.secret(), "rotation {rotation}");
        assert_eq!(refreshes(&env.sim), base + rotation, "rotation {rotation}: one token call per rotation");
        forbidden.push(owner_refresh_token(&env).await);
    }
    assert_eq!(env.sim.stats().sign_ins.values().sum::<u64>(), 1, "one sign-in, on the owner");

    let kept = laptop.everything();
    assert!(kept.contains("paired"), "the settings name the owner: {kept}");
    for secret in &forbidden {
        assert!(!kept.contains(secret.as_str()), "the paired computer keeps a SmartThings secret");
    }
    assert!(!kept.contains("refresh_token") && !kept.contains("client_id"), "{kept}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_owner_leaves_the_cached_token_in_use_and_says_until_when() {
    let env = Env::new(SimConfig { expires_in: 600, ..SimConfig::default() }).await;
    let server = share(&env, env.signed_in().await).await;
    let laptop = Laptop::new();
    let paired = laptop.pair(&env, &server).await;
    drop(server);

    // Within what the cached token has left: answered here, the owner not needed.
    assert!(paired.session.token_valid_for(MIN).await.is_ok());
    assert!(!paired.api.devices().await.unwrap().is_empty(), "device calls go on with the cached token");
    // More than that: the owner would be needed.
    let e = paired.session.token_valid_for(Duration::from_secs(700)).await.unwrap_err();
    assert_eq!(e.code(), "share_unreachable");
    let msg = e.to_string();
    assert!(msg.contains("owner-pc") && msg.contains("valid for 9 more min"), "{msg}");
    // A new process (`thingstray token`) finds the cached token in the vault.
    let config = Config::load(&laptop.paths).unwrap();
    let again =
        Connection::open_with(&laptop.paths, &config, laptop.vault.clone(), None, laptop.options(&env)).await.unwrap();
    assert!(again.session.token_valid_for(MIN).await.is_ok());

    // Down to its last 20 s, below what a request asks for: still used for devices.
    env.advance(Duration::from_secs(580));
    assert!(!paired.api.devices().await.unwrap().is_empty(), "the cached token serves until it expires");
    env.advance(Duration::from_secs(21));
    let e = paired.session.token_valid_for(MIN).await.unwrap_err();
    assert_eq!(e.code(), "share_unreachable");
    assert!(e.to_string().contains("holds no valid token"), "{e}");
    assert_eq!(paired.api.devices().await.unwrap_err().code(), "share_unreachable");
    assert!(matches!(paired.session.status(), Status::Retrying { .. }), "{:?}", paired.session.status());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_and_ended_reach_the_paired_computer_with_what_to_do() {
    let env = Env::new(SimConfig { expires_in: 600, ..SimConfig::default() }).await;
    let owner = env.signed_in().await;
    let server = share(&env, owner).await;
    let laptop = Laptop::new();
    let paired = laptop.pair(&env, &server).await;

    // The owner's session ends (removed in Linked Services, or signed in elsewhere).
    env.sim.revoke_refresh_tokens();
    env.advance(Duration::from_secs(601));
    let e = paired.session.token_valid_for(MIN).await.unwrap_err();
    assert_eq!(e.code(), "owner_session_ended", "{e}");
    assert!(e.to_string().contains("Sign in again on owner-pc"), "{e}");

    Registry::open(&env.paths).revoke("laptop", thingstray::clock::Clock::now(&env.clock)).unwrap();
    let e = paired.session.token_valid_for(MIN).await.unwrap_err();
    assert_eq!(e.code(), "share_revoked", "{e}");
    assert!(e.ends_access(), "`thingstray` exits 4");
    assert!(matches!(paired.session.status(), Status::NeedsSignIn { .. }), "{:?}", paired.session.status());
    // Nothing is thrown away: the connection is there for a new invite.
    assert!(Config::load(&laptop.paths).unwrap().connections["home"].paired.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paired_connection_does_not_sign_in_and_a_held_location_is_not_paired_again() {
    let env = Env::new(SimConfig::default()).await;
    let server = share(&env, env.signed_in().await).await;
    let laptop = Laptop::new();
    let paired = laptop.pair(&env, &server).await;
    let e = paired.begin_sign_in().unwrap_err();
    assert_eq!(e.code(), "paired_connection");
    assert!(e.to_string().contains("owner-pc"), "{e}");

    // On the owner itself, pairing its own location into a second connection.
    let invite = server.invite().unwrap();
    let e = connect(&env.paths, &env.vault, &invite, "cabin", "self", env.options()).await.unwrap_err();
    assert_eq!(e.code(), "already_connected", "{e}");
    assert!(!Config::load(&env.paths).unwrap().connections.contains_key("cabin"));
    // Nor does a pairing replace a connection that holds its own sign-in.
    let invite = server.invite().unwrap();
    let e = connect(&env.paths, &env.vault, &invite, "home", "self", env.options()).await.unwrap_err();
    assert_eq!(e.code(), "connection_kind", "{e}");
}

/// The laptop's own share listener on a free port of 127.0.0.1, as `serve --share` on it.
async fn laptop_listener(env: &Env, laptop: &Laptop, conn: Connection, port: u16) -> thingstray::owner::ShareServer {
    use thingstray::owner::{Identity, ShareOptions, ShareServer, ShareSource};
    let identity = Identity::load_or_create(&laptop.vault).await.unwrap();
    let opts = ShareOptions {
        addr: format!("127.0.0.1:{port}").parse().unwrap(),
        owner_name: "laptop-pc".into(),
        limits: thingstray::serve::Limits::default(),
    };
    ShareServer::start(
        ShareSource::One(conn),
        &identity,
        Arc::new(Registry::open(&laptop.paths)),
        Arc::new(env.clock.clone()),
        opts,
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_over_moves_the_session_without_a_sign_in_and_the_old_owner_follows() {
    use thingstray::owner::take_over::take_over;
    let env = Env::new(SimConfig { expires_in: 600, ..SimConfig::default() }).await;
    let owner = env.signed_in().await;
    let server = share(&env, owner.clone()).await;
    let laptop = Laptop::new();
    laptop.pair(&env, &server).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let advertise = format!("127.0.0.1:{port}");

    // Not offered: refused, and nothing changes on either side.
    let e = take_over(&laptop.paths, &laptop.vault, None, Some(&advertise), laptop.options(&env)).await.unwrap_err();
    assert_eq!(e.code(), "hand_over_not_offered", "{e}");
    assert!(Config::load(&laptop.paths).unwrap().connections["home"].paired.is_some());
    assert!(env.vault.client_secret("home").await.unwrap().is_some());

    // The laptop's pairing, as a process that was running before the take-over holds it.
    let with = Config::load(&laptop.paths).unwrap().connections["home"].paired.clone().unwrap();
    let old_creds = thingstray::share::pairing::credentials(&laptop.vault, "home", &with).await.unwrap();

    let registry = Registry::open(&env.paths);
    registry.offer_hand_over("laptop", thingstray::clock::Clock::now(&env.clock)).unwrap();
    let base = refreshes(&env.sim);
    let new_owner =
        take_over(&laptop.paths, &laptop.vault, None, Some(&advertise), laptop.options(&env)).await.unwrap();
    assert!(new_owner.owner().is_none(), "the laptop holds the sign-in now");
    assert!(laptop.vault.client_secret("home").await.unwrap().is_some());

    // The old owner: paired with the laptop, no refresh token, no client secret; its
    // running session never refreshes again.
    let old = &Config::load(&env.paths).unwrap().connections["home"];
    assert_eq!(old.paired.as_ref().map(|p| p.at.as_str()), Some(advertise.as_str()));
    assert!(env.vault.client_secret("home").await.unwrap().is_none());
    assert!(env.vault.tokens("home").await.unwrap().unwrap().refresh_token.secret().is_empty());
    // The old owner's listener, still running, gives no token from the session it gave
    // away (a stale paired process on the laptop would cache it over the laptop's pair).
    let e =
        thingstray::share::ShareClient::for_credentials(&old_creds).unwrap().token(&old_creds, MIN).await.unwrap_err();
    assert!(e.to_string().contains("handed its SmartThings session over"), "{e}");
    env.advance(Duration::from_secs(601));
    let e = owner.session.token_valid_for(MIN).await.unwrap_err();
    assert_eq!(e.code(), "handed_over", "{e}");

    // The laptop refreshes by itself, and serves the old owner, which reopens as paired.
    let t = new_owner.session.token_valid_for(MIN).await.unwrap();
    assert!(env.sim.accepts(t.secret()).await);
    assert_eq!(refreshes(&env.sim), base + 1, "the laptop's refresh, nobody else's");
    let _listener = laptop_listener(&env, &laptop, new_owner.clone(), port).await;
    let config = Config::load(&env.paths).unwrap();
    let follower = Connection::open_with(&env.paths, &config, env.vault.clone(), None, env.options()).await.unwrap();
    assert_eq!(follower.session.token_valid_for(MIN).await.unwrap().secret(), t.secret());
    assert_eq!(env.sim.stats().sign_ins.values().sum::<u64>(), 1, "no new sign-in");
    assert_eq!(refreshes(&env.sim), base + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_token_server_of_a_paired_computer_hands_out_the_owners_token() {
    use thingstray::serve::{ServeOptions, ServerSecret, TokenServer};
    let env = Env::new(SimConfig::default()).await;
    let server = share(&env, env.signed_in().await).await;
    let laptop = Laptop::new();
    let paired = laptop.pair(&env, &server).await;
    let secret = ServerSecret::generate();
    let opts = ServeOptions {
        addrs: vec!["127.0.0.1".parse().unwrap()],
        port: 0,
        api_url: paired.settings.api_url.clone(),
        events: None,
    };
    let local = TokenServer::start(paired.session.clone(), secret.clone(), opts).await.unwrap();
    let answer: serde_json::Value = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{}/v1/token", local.port()))
        .bearer_auth(secret.expose())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = answer["access_token"].as_str().expect("a token");
    assert!(env.sim.accepts(token).await, "{answer}");
    assert!(answer.get("refresh_token").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paired_process_never_overwrites_a_pair_another_process_took_over() {
    // The laptop's app still runs its paired session while `thingstray share take-over`
    // (another process) stores the full pair under the same name. The app's next ask to
    // the old owner must not replace that pair with an access token alone: the refresh
    // token would be gone from both computers.
    let env = Env::new(SimConfig { expires_in: 600, ..SimConfig::default() }).await;
    let server = share(&env, env.signed_in().await).await;
    let laptop = Laptop::new();
    let paired = laptop.pair(&env, &server).await;
    paired.session.token_valid_for(MIN).await.unwrap();
    let full = serde_json::json!({
        "access_token": "taken-over-access",
        "refresh_token": "taken-over-refresh",
        "expires_at_ms": 1,
        "issued_at_ms": 1,
    });
    laptop.vault.set("home/tokens", secrecy::SecretString::from(full.to_string())).await.unwrap();
    env.advance(Duration::from_secs(400));

    let e = paired.session.token_valid_for(Duration::from_secs(300)).await.unwrap_err();
    assert_eq!(e.code(), "taken_over_here", "{e}");
    let kept = laptop.vault.tokens("home").await.unwrap().unwrap();
    assert_eq!(kept.refresh_token.secret(), "taken-over-refresh");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_for_another_location_is_refused_and_the_cached_one_kept() {
    // The desktop shares whichever connection it serves; if that becomes another
    // location's, a computer paired for the first must not take its tokens: its devices,
    // scenes and favorites are the first location's.

    let env = Env::new(SimConfig { expires_in: 600, ..SimConfig::default() }).await;
    env.signed_in().await;
    // As the desktop holds it: opened from the settings, its location known.
    use std::sync::atomic::Ordering;
    let (conn, switched, server) = crate::common::switchable_owner(&env).await;
    assert!(conn.settings.location_id.is_some());
    let laptop = Laptop::new();
    let paired = laptop.pair(&env, &server).await;
    let first = paired.session.token_valid_for(MIN).await.unwrap().secret().to_string();

    switched.store(true, Ordering::SeqCst);
    env.advance(Duration::from_secs(400));
    let e = paired.session.token_valid_for(Duration::from_secs(300)).await.unwrap_err();
    assert_eq!(e.code(), "share_wrong_location", "{e}");
    assert!(e.to_string().contains("another-location"), "{e}");
    let kept = laptop.vault.tokens("home").await.unwrap().unwrap();
    assert_eq!(kept.access_token.secret(), &first, "the cached token is kept");
    // Until it runs out, the token it holds still answers.
    assert_eq!(paired.session.token_valid_for(MIN).await.unwrap().secret(), first);
}

/// Issue 25, item 2: on the paired computer, the same app signed in for the location the
/// paired connection covers, under another connection's name. SmartThings has just ended
/// the owner's session in favour of this sign-in, so its pair is the only live one. Before:
/// it was written into the paired connection (which then said `taken_over_here` in every
/// process) and the sign-in refused. It stays in the connection that signed in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_on_the_paired_computer_for_its_location_keeps_the_pair_where_it_signed_in() {
    let env = Env::new(SimConfig { expires_in: 600, ..SimConfig::default() }).await;
    let server = share(&env, env.signed_in().await).await;
    let laptop = Laptop::new();
    let paired = laptop.pair(&env, &server).await;
    assert!(paired.settings.installed_app_id.is_some());
    let secret = secrecy::SecretString::from(env.sim.client().client_secret.clone());
    Connection::save(&laptop.paths, &laptop.vault, "cabin", crate::common::settings_for(&env.sim), Some(secret))
        .await
        .unwrap();
    let config = Config::load(&laptop.paths).unwrap();
    let cabin =
        Connection::open_with(&laptop.paths, &config, laptop.vault.clone(), Some("cabin"), laptop.options(&env))
            .await
            .unwrap();
    let sign_in = cabin.begin_sign_in().unwrap();
    let answer = crate::common::approve(&sign_in, None).await;
    cabin.finish_sign_in(&laptop.paths, &sign_in, &answer).await.expect("the sign-in is kept where it was made");

    let held = laptop.vault.tokens("cabin").await.unwrap().expect("cabin holds the pair");
    assert!(!held.refresh_token.secret().is_empty());
    let home = laptop.vault.tokens("home").await.unwrap().unwrap();
    assert!(home.refresh_token.secret().is_empty(), "the paired connection keeps no refresh token");
    assert!(Config::load(&laptop.paths).unwrap().connections["home"].paired.is_some());
    // The new sign-in refreshes, in this process and in a new one.
    env.advance(Duration::from_secs(601));
    assert!(cabin.session.token_valid_for(MIN).await.is_ok());
    let config = Config::load(&laptop.paths).unwrap();
    let again =
        Connection::open_with(&laptop.paths, &config, laptop.vault.clone(), Some("cabin"), laptop.options(&env))
            .await
            .unwrap();
    assert!(again.session.token_valid_for(MIN).await.is_ok());
}
