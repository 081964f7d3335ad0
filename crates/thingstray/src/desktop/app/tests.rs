//! The desktop's tests over the simulator; `env()` and `signed_in()` serve the other modules' tests too.

use smartthings_sim::{Sim, SimConfig};

use super::*;
use crate::desktop::indicator::TrayState;
use crate::desktop::menu::{checks, MenuAction};
use crate::desktop::Notice;

pub(crate) struct Env {
    pub(crate) sim: Sim,
    pub(crate) _dir: tempfile::TempDir,
    pub(crate) desktop: Arc<Desktop>,
    pub(crate) start: SignInStart,
}

pub(crate) async fn env() -> Env {
    let sim = Sim::start(SimConfig { auto_approve: true, ..SimConfig::default() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let client = sim.client().clone();
    let settings = ConnectionSettings::at(&client.client_id, &client.redirect_uris[0], sim.api_url(), sim.auth_url());
    let (desktop, start) =
        Desktop::open_demo(dir.path(), settings, SecretString::from(client.client_secret)).await.unwrap();
    Env { sim, _dir: dir, desktop, start }
}

/// What the sign-in window sees: the authorize URL answers with a redirect.
pub(crate) async fn redirect_of(authorize_url: &str) -> String {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let resp = http.get(authorize_url).send().await.unwrap();
    assert_eq!(resp.status(), 302);
    resp.headers()["location"].to_str().unwrap().to_string()
}

pub(crate) async fn signed_in() -> Env {
    let e = env().await;
    let redirect = redirect_of(&e.start.authorize_url).await;
    assert!(e.desktop.is_sign_in_redirect(&redirect));
    let done = e.desktop.finish_sign_in(&redirect).await.unwrap();
    assert!(done.device_count >= 10, "{done:?}");
    e
}

#[tokio::test]
async fn sign_in_through_the_one_handler_then_devices_in_the_tray() {
    let e = env().await;
    assert_eq!(e.desktop.tray().state, TrayState::SignIn);
    assert!(!e.desktop.is_sign_in_redirect("https://example.com/callback?code=x"));
    let redirect = redirect_of(&e.start.authorize_url).await;

    // A forged answer is refused and the sign-in stays pending.
    let forged = redirect.replace("state=", "state=x");
    assert_eq!(e.desktop.finish_sign_in(&forged).await.unwrap_err().code(), "state_mismatch");
    assert_eq!(e.desktop.sign_in_pending().as_deref(), Some("demo"));

    let done = e.desktop.finish_sign_in(&redirect).await.unwrap();
    assert_eq!(done.connection, "demo");
    assert!(done.location_name.is_some());
    assert!(e.desktop.sign_in_pending().is_none());
    assert_eq!(e.desktop.finish_sign_in(&redirect).await.unwrap_err().code(), "no_sign_in_pending");

    let tray = e.desktop.tray();
    assert_eq!(tray.state, TrayState::Connected);
    assert!(tray.tooltip.contains("Connected · token valid"), "{}", tray.tooltip);
    assert!(checks(&tray.entries).len() > 12);
    // The demo vault is a file in the throwaway directory.
    assert!(
        e.desktop.vault_description().contains(&e._dir.path().display().to_string()),
        "{}",
        e.desktop.vault_description()
    );
}

#[tokio::test]
async fn a_click_shows_only_the_state_read_back() {
    let e = signed_in().await;
    let lamp = "0b5577db";
    let list = e.desktop.device_list("demo").await.unwrap();
    let row = list.rooms.iter().flat_map(|r| &r.devices).find(|d| d.id.starts_with(lamp)).unwrap().clone();
    let before = row.switch.unwrap();
    let after = e.desktop.toggle("demo", &row.id).await.unwrap();
    assert_eq!(after.switch, Some(!before));
    let sim_value = e.sim.device_attribute(&row.id, "main", "switch", "switch").unwrap();
    assert_eq!(sim_value, if before { "off" } else { "on" });
    // The tray's check shows the confirmed state.
    let id = MenuAction::SwitchDevice { connection: "demo".into(), device: row.id.clone() }.id();
    let checked = checks(&e.desktop.tray().entries).into_iter().find(|(i, _)| *i == id).unwrap().1;
    assert_eq!(checked, !before);

    let dimmed = e.desktop.set_level("demo", &row.id, 25).await.unwrap();
    assert_eq!(dimmed.level, Some(25));
}

/// Issue 12: an unlocked lock in the tray locks on a click; the state shown is the one
/// read back; a locked one offers nothing but the window.
#[tokio::test]
async fn an_unlocked_lock_locks_from_the_tray() {
    let e = signed_in().await;
    let lock = "a9f587c5-5d8b-4273-8907-e7f609af5158";
    e.desktop.command("demo", lock, vec![crate::api::Command::new("lock", "unlock", vec![])]).await.unwrap();
    let entry = |e: &Env| {
        use crate::desktop::MenuEntry;
        fn find(entries: &[MenuEntry], lock: &str) -> Option<(String, String)> {
            entries.iter().find_map(|x| match x {
                MenuEntry::Item { id, text, .. } if id.ends_with(lock) => Some((id.clone(), text.clone())),
                MenuEntry::Submenu { entries, .. } => find(entries, lock),
                _ => None,
            })
        }
        find(&e.desktop.tray().entries, lock).expect("the lock is in the tray")
    };
    let (id, text) = entry(&e);
    assert_eq!(MenuAction::parse(&id), Some(MenuAction::LockDevice { connection: "demo".into(), device: lock.into() }));
    assert!(text.contains("Unlocked") && text.ends_with("click to lock"), "{text}");
    let after = e.desktop.lock("demo", lock).await.unwrap();
    assert_eq!(after.locked, Some(true));
    assert_eq!(e.sim.device_attribute(lock, "main", "lock", "lock").unwrap(), "locked");
    let (id, text) = entry(&e);
    assert!(matches!(MenuAction::parse(&id), Some(MenuAction::ShowDevice { .. })), "locked: nothing to do but look");
    assert!(text.contains("Locked"), "{text}");
}

#[tokio::test]
async fn a_failed_command_keeps_the_old_state_and_says_why() {
    let e = signed_in().await;
    e.desktop.take_notices();
    let err = e.desktop.switch("demo", "00000000-0000-4000-8000-000000000000", true).await.unwrap_err();
    assert!(!err.code().is_empty());
    let notices = e.desktop.take_notices();
    assert!(matches!(&notices[..], [Notice::CommandFailed { .. }]), "{notices:?}");
    // Offline devices are refused before anything is sent.
    let offline = "f3c18803-cbec-48e3-8f15-3c31f302d68b";
    assert!(e.desktop.toggle("demo", offline).await.unwrap_err().to_string().contains("offline"));
}

#[tokio::test]
async fn copy_token_gives_a_token_valid_five_minutes_and_favorites_survive_sign_out() {
    let e = signed_in().await;
    let (grant, copied) = e.desktop.token_for_copy("demo").await.unwrap();
    assert!(!grant.secret().is_empty());
    assert!(copied.expires_at > secs(SystemTime::now()) + 300);
    assert!(!serde_json::to_string(&copied).unwrap().contains(grant.secret()));

    let lamp = "0b5577db-4ac9-4bdf-8c9d-5a1b2c3d4e5f";
    e.desktop.set_favorite("demo", lamp, true).unwrap();
    e.desktop.sign_out("demo").await.unwrap();
    assert_eq!(e.desktop.tray().state, TrayState::SignIn);
    assert_eq!(e.desktop.token_for_copy("demo").await.unwrap_err().code(), "not_signed_in");
    let again = e.desktop.begin_sign_in("demo").unwrap();
    let redirect = redirect_of(&again.authorize_url).await;
    e.desktop.finish_sign_in(&redirect).await.unwrap();
    assert!(e.desktop.settings().prefs("demo").favorites.contains(lamp));
}

#[tokio::test]
async fn session_end_is_noticed_once() {
    let e = signed_in().await;
    e.desktop.take_notices();
    e.sim.revoke_refresh_tokens();
    e.sim.advance_clock(Duration::from_secs(2 * 86_400));
    // A caller wanting a longer-lived token than the current one forces a refresh,
    // which SmartThings answers with `invalid_grant`.
    let conn = e.desktop.connection("demo").unwrap();
    let err = conn.session.token_valid_for(Duration::from_secs(3 * 86_400)).await.unwrap_err();
    assert!(err.needs_sign_in(), "{err}");
    let notices = e.desktop.take_notices();
    assert!(matches!(&notices[..], [Notice::SignInNeeded { .. }]), "{notices:?}");
    assert!(e.desktop.take_notices().is_empty());
    assert_eq!(e.desktop.tray().state, TrayState::SignIn);
}

#[tokio::test]
async fn an_unknown_connection_names_the_known_ones_on_every_path() {
    let e = signed_in().await;
    let messages = [
        e.desktop.device_list("cabin").await.unwrap_err().to_string(),
        e.desktop.cached_device_list("cabin").unwrap_err().to_string(),
        e.desktop.refresh_devices("cabin").await.unwrap_err().to_string(),
        e.desktop.begin_sign_in("cabin").unwrap_err().to_string(),
    ];
    for m in messages {
        assert!(m.ends_with("Known connections: demo."), "{m}");
    }
}

#[tokio::test]
async fn the_window_is_told_when_to_read_and_a_rate_limit_is_honoured_until_its_reset() {
    let e = signed_in().await;
    let list = e.desktop.device_list("demo").await.unwrap();
    let interval_ms = e.desktop.settings().poll_interval().as_millis() as u64;
    let next = list.next_read_ms.unwrap();
    assert!(next <= interval_ms && next + 5_000 > interval_ms, "{next} vs {interval_ms}");

    let reads = |sim: &Sim| sim.stats().routes.get("GET /v1/devices").copied().unwrap_or(0);
    e.sim.set_faults(smartthings_sim::Faults {
        route_prefix: "/v1/devices".into(),
        rate_limit: 1.0,
        rate_limit_reset_ms: 600_000,
        ..Default::default()
    });
    let limited = e.desktop.device_list("demo").await.unwrap();
    assert_eq!(limited.error.as_ref().map(Error::code), Some("rate_limited"));
    assert!(!limited.rooms.is_empty(), "the cached devices are still shown");
    assert!(limited.next_read_ms.unwrap() > 590_000, "{:?}", limited.next_read_ms);
    let before = reads(&e.sim);
    e.sim.set_faults(smartthings_sim::Faults::default());
    // The window (and the tray's Refresh) ask again before the reset: nothing is sent.
    let again = e.desktop.device_list("demo").await.unwrap();
    assert_eq!(again.error.as_ref().map(Error::code), Some("rate_limited"));
    assert_eq!(e.desktop.refresh_devices("demo").await.unwrap_err().code(), "rate_limited");
    assert_eq!(reads(&e.sim), before, "no request during the rate limit");
}

/// A redirect URI `apps:create` could not have registered is only warned about: the core
/// saves it and signs in with it, whatever the window does with the warning.
#[tokio::test]
async fn a_warned_redirect_uri_is_saved_and_signs_in_an_error_is_not() {
    let e = env().await;
    let client = e.sim.client().clone();
    let form = |redirect_uri: &str| crate::desktop::SetupForm {
        client_id: client.client_id.clone(),
        client_secret: client.client_secret.clone(),
        redirect_uri: redirect_uri.into(),
        api_url: e.sim.api_url(),
        auth_url: e.sim.auth_url(),
    };
    let warned = crate::desktop::setup::check(&form("thingstray://oauth/callback"));
    assert!(warned.len() == 1 && warned[0].warning, "{warned:?}");
    let start = e.desktop.setup(Some("cabin"), form("thingstray://oauth/callback")).await.unwrap();
    assert_eq!(start.redirect_uri, "thingstray://oauth/callback");
    let redirect = redirect_of(&start.authorize_url).await;
    assert!(redirect.starts_with("thingstray://oauth/callback?"), "{redirect}");
    assert_eq!(e.desktop.finish_sign_in(&redirect).await.unwrap().connection, "cabin");

    let err = e.desktop.setup(Some("attic"), form("http://example.com/cb")).await.unwrap_err();
    assert_eq!(err.code(), "invalid_setting");
    assert!(!Config::load(e.desktop.paths()).unwrap().connections.contains_key("attic"), "nothing saved");
    assert!(start.refused.is_none(), "a registered URI is not refused");

    // A URI the app does not have: SmartThings' page refuses it before any window opens,
    // and the wizard hears why (the window would show only SmartThings' plain text).
    let start = e.desktop.setup(Some("loft"), form("https://not-registered.example/cb")).await.unwrap();
    let refused = start.refused.expect("the sign-in page refuses it");
    assert_eq!(refused.code(), "redirect_uri_mismatch");
    assert!(refused.to_string().contains("thingstray app check"), "{refused}");
}

#[tokio::test]
async fn a_sign_in_left_for_half_an_hour_cannot_be_finished() {
    let e = env().await;
    let redirect = redirect_of(&e.start.authorize_url).await;
    e.desktop.state().pending.as_mut().unwrap().started -= crate::oauth::SIGN_IN_LIFETIME;
    assert!(!e.desktop.is_sign_in_redirect(&redirect));
    assert_eq!(e.desktop.finish_sign_in(&redirect).await.unwrap_err().code(), "no_sign_in_pending");
    assert_eq!(e.desktop.sign_in_pending(), None);
    // A fresh start works as before.
    let again = e.desktop.begin_sign_in("demo").unwrap();
    let redirect = redirect_of(&again.authorize_url).await;
    e.desktop.finish_sign_in(&redirect).await.unwrap();
}

/// Issue 10, item 12: closing the sign-in window ends its sign-in; closing an older window
/// after a new sign-in began leaves the new one alone.
#[tokio::test]
async fn closing_the_sign_in_window_ends_its_sign_in_only() {
    let e = env().await;
    let first = e.start.authorize_url.clone();
    e.desktop.sign_in_window_closed(&first);
    assert_eq!(e.desktop.sign_in_pending(), None);
    let second = e.desktop.begin_sign_in("demo").unwrap().authorize_url;
    e.desktop.sign_in_window_closed(&first);
    assert!(e.desktop.sign_in_pending().is_some(), "the newer sign-in stays");
    let redirect = redirect_of(&second).await;
    e.desktop.finish_sign_in(&redirect).await.unwrap();
}

/// An unreadable token item must not block the one thing that mends it: the connection
/// opens as "needs sign-in", and signing in again overwrites the item.
#[tokio::test]
async fn a_corrupt_token_item_opens_as_needs_sign_in_and_a_sign_in_mends_it() {
    use crate::vault::SecretStore;
    let e = signed_in().await;
    let paths = e.desktop.paths().clone();
    crate::vault::FileStore::new(paths.file_vault())
        .set("demo/tokens", &SecretString::from("{not json".to_string()))
        .unwrap();
    let d = Desktop::open(paths, Options::default()).await.unwrap();
    assert!(d.problems().is_empty(), "{:?}", d.problems());
    let summary = d.connections().into_iter().next().unwrap();
    assert!(
        matches!(&summary.status, Status::NeedsSignIn { reason } if reason.code() == "vault_corrupt"),
        "{:?}",
        summary.status
    );
    assert_eq!(d.tray().state, TrayState::SignIn);
    let start = d.begin_sign_in("demo").unwrap();
    d.finish_sign_in(&redirect_of(&start.authorize_url).await).await.unwrap();
    assert!(matches!(d.connections()[0].status, Status::Connected { .. }), "{:?}", d.connections()[0].status);
}

/// A keychain that is locked at login, then unlocked: opening reads it, fails, and keeps
/// trying in the background; once unlocked the connection opens with no restart.
#[tokio::test]
async fn a_keychain_locked_at_login_is_retried_until_it_opens() {
    use std::sync::atomic::{AtomicBool, Ordering};

    use crate::vault::{FileStore, SecretStore};

    struct Locked {
        inner: FileStore,
        locked: AtomicBool,
    }
    impl SecretStore for Locked {
        fn get(&self, key: &str) -> Result<Option<SecretString>> {
            if self.locked.load(Ordering::SeqCst) {
                return Err(Error::KeychainUnavailable { detail: "locked, says the test".into() });
            }
            self.inner.get(key)
        }
        fn set(&self, key: &str, value: &SecretString) -> Result<()> {
            self.inner.set(key, value)
        }
        fn delete(&self, key: &str) -> Result<()> {
            self.inner.delete(key)
        }
        fn describe(&self) -> String {
            "a keychain locked by the test".into()
        }
    }

    let e = signed_in().await;
    let paths = e.desktop.paths().clone();
    let store = Arc::new(Locked { inner: FileStore::new(paths.file_vault()), locked: AtomicBool::new(true) });
    let mut opts = Options::default();
    opts.session.retry_min = Duration::from_millis(20);
    opts.session.retry_max = Duration::from_millis(200);
    let config = Config::load(&paths).unwrap();
    let d = Desktop::open_with(paths, &config, Vault::new(store.clone()), opts).await.unwrap();
    assert_eq!(d.problems().len(), 1);
    assert!(!d.is_first_run(), "a configured connection that did not open is not a first run");

    let mut changed = d.subscribe();
    store.locked.store(false, Ordering::SeqCst);
    let opened = async {
        while d.connection_names().is_empty() {
            changed.changed().await.unwrap();
        }
    };
    tokio::time::timeout(Duration::from_secs(20), opened)
        .await
        .expect("the connection opened once the keychain was unlocked");
    assert!(d.problems().is_empty());
    assert!(matches!(d.connections()[0].status, Status::Connected { .. }), "{:?}", d.connections()[0].status);
}

/// Issue 12: the one generic call. Refusals (unconfirmed unlock, a setpoint out of range,
/// a command the device lacks) happen before SmartThings is asked; a confirmed unlock is
/// sent and the state read back is returned.
#[tokio::test]
async fn device_command_checks_the_control_before_sending_and_returns_the_state_read_back() {
    let e = signed_in().await;
    let lock = "a9f587c5-5d8b-4273-8907-e7f609af5158";
    e.desktop.device_list("demo").await.unwrap();
    let sent = |e: &Env| e.sim.stats().routes.get("POST /v1/devices/{id}/commands").copied().unwrap_or(0);
    let before = sent(&e);
    let refused = e.desktop.device_command("demo", lock, "lock", "unlock", vec![], false).await.unwrap_err();
    assert_eq!(refused.code(), "needs_confirmation");
    let unknown = e.desktop.device_command("demo", lock, "windowShade", "open", vec![], true).await.unwrap_err();
    assert_eq!(unknown.code(), "unsupported_control");
    let out =
        e.desktop.device_command("demo", lock, "lock", "lock", vec![serde_json::json!(5)], false).await.unwrap_err();
    assert_eq!(out.code(), "invalid_argument");
    assert_eq!(sent(&e), before, "nothing reached SmartThings");
    assert_eq!(e.sim.device_attribute(lock, "main", "lock", "lock").unwrap(), "locked");

    let row = e.desktop.device_command("demo", lock, "lock", "unlock", vec![], true).await.unwrap();
    assert_eq!(row.locked, Some(false));
    assert_eq!(e.sim.device_attribute(lock, "main", "lock", "lock").unwrap(), "unlocked");
    let lock_control = row.controls.iter().find(|c| c.key == "lock").unwrap();
    assert_eq!(lock_control.value, Some(serde_json::json!("unlocked")), "the control shows the state read back");
    let row = e.desktop.device_command("demo", lock, "lock", "lock", vec![], false).await.unwrap();
    assert_eq!(row.locked, Some(true));
    assert_eq!(sent(&e), before + 2);

    // A level outside 0-100 is refused here, not by SmartThings.
    let curtain = e
        .desktop
        .cached_device_list("demo")
        .unwrap()
        .rooms
        .iter()
        .flat_map(|r| r.devices.clone())
        .find(|d| d.label == "Bedroom Curtain")
        .unwrap();
    let high = e
        .desktop
        .device_command("demo", &curtain.id, "switchLevel", "setLevel", vec![serde_json::json!(150)], false)
        .await;
    assert_eq!(high.unwrap_err().code(), "out_of_range");
}
