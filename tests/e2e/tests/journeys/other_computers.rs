//! Two computers, one SmartThings sign-in (issue 11): the app as the paired computer
//! (its owner is `thingstray serve --share` in another settings folder) and as the owner
//! (a CLI computer pairs with it). Same harness and rules as the other journeys.

use std::time::Duration;

use smartthings_sim::SimConfig;
use thingstray_e2e::{wait::until, Journey, WAIT};

use super::{connected, switch_in_sim, switch_shown};

/// A second computer pairs from the wizard with the owner's invite (issue 11): its devices
/// work with the owner's tokens, and it hears by itself when the owner revokes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paired_from_wizard() {
    // 80 s tokens: long enough for the first one a pairing asks (60 s), short enough that
    // the app asks the owner again within a minute, by itself.
    let j = Journey::start("paired_from_wizard", SimConfig { expires_in: 80, ..SimConfig::default() }).await;
    let owner = j.owner().await;
    let invite = owner.invite(&j);
    assert!(invite.starts_with("thingstray://pair?"), "{invite}");
    let app = j.launch(&[]).await;
    app.shown("step-create").await;
    app.click("invite-open").await;
    app.type_into("invite-input", "https://thingstray.invalid/callback?code=x").await;
    app.text_until("invite-problem", "the page to say what an invite looks like", |t| {
        t.contains("starts with thingstray://pair?")
    })
    .await;
    app.type_into("invite-input", &invite).await;
    app.type_into("computer-name", "laptop").await;
    app.text_until("invite-problem", "the problem to go", str::is_empty).await;
    app.shot("wizard-invite").await;
    app.click("connect-invite").await;
    let done = app.text_until("done-summary", "the wizard to end connected", |t| t.contains("devices")).await;
    assert!(done.starts_with("Home"), "{done}\n{}", j.log());
    assert_eq!(j.grants().0, 1, "one sign-in in all: the owner's");
    // The paired computer's keychain holds a token from the owner, never a refresh token.
    let tokens = j.stored_tokens();
    assert_eq!(tokens["refresh_token"].as_str().unwrap_or(""), "", "no refresh token here");

    // "Show my devices" closes the wizard: clicked from a script that returns first, so the
    // click does not wait on a window that is going away.
    app.js("setTimeout(() => document.querySelector('[data-testid=\"open-devices\"]').click(), 0)").await;
    app.window("devices.html").await;
    let line = app.text_until("status-line", "the owner named in the header", |t| t.contains("via ")).await;
    assert!(line.starts_with("Connected"), "{line}");
    let id = app
        .js("return [...document.querySelectorAll('input[data-testid^=\"switch-\"]:not([disabled])')].map(e => e.dataset.testid.slice(7))[0]")
        .await
        .as_str()
        .expect("a switch in the window")
        .to_string();
    let before = switch_in_sim(&j, &id).expect("the device has a switch");
    app.click(&format!("switch-{id}")).await;
    until(WAIT, "the simulator to switch the device", || async {
        (switch_in_sim(&j, &id) == Some(!before)).then_some(())
    })
    .await;
    until(WAIT, "the window to show the confirmed state", || async {
        (switch_shown(&app, &id).await == (!before, false)).then_some(())
    })
    .await;
    app.shot("paired-devices").await;

    let out = j.cli_in(Some(&owner.dir), &["share", "revoke", "laptop"], None);
    assert!(out.status.success(), "share revoke: {}", String::from_utf8_lossy(&out.stderr));
    let reason = until(Duration::from_secs(90), "the app to hear it was revoked", || async {
        // Read without waiting for it to show: the notice is hidden until then.
        let v = app.js("return [document.querySelector('[data-testid=\"sign-in-needed\"]').classList.contains('hidden'), document.querySelector('[data-testid=\"sign-in-reason\"]').textContent]").await;
        let text = v[1].as_str().unwrap_or_default().to_string();
        (v[0] == false && text.contains("revoked on")).then_some(text)
    })
    .await;
    assert!(reason.contains("ask for a new invite"), "{reason}");
    let offered =
        app.js("return !document.querySelector('[data-testid=\"sign-in-again\"]').classList.contains('hidden')").await;
    assert_eq!(offered, false, "no sign-in offered on a paired computer");
    app.text_until("status-line", "the short reason in the header", |t| t.starts_with("Access revoked on")).await;
    app.shot("revoked").await;
    app.close().await;
}

/// The app owns the sign-in and shares it from Settings; a CLI computer pairs; the app
/// lists it and revokes it (asking first); that computer's next token request says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_from_settings() {
    // 120 s tokens: `thingstray token` (5 min by default) must ask the owner, not its cache.
    let j = Journey::start("revoke_from_settings", SimConfig { expires_in: 120, ..SimConfig::default() }).await;
    let app = connected(&j).await;
    app.click("open-settings").await;
    app.window("settings.html").await;
    app.shown("share").await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    // Where it listens, chosen before the switch as a user would: each change is saved
    // (off) at once; then the checkbox.
    app.js(&format!(
        "document.querySelector('[data-testid=\"share-address\"]').value='127.0.0.1'; const p=document.querySelector('[data-testid=\"share-port\"]'); p.value='{port}'; p.dispatchEvent(new Event('change'));"
    ))
    .await;
    let prefs = j.env.config_dir().join("desktop.toml");
    thingstray_e2e::wait::poll_blocking(WAIT, "the address and port to be saved", || {
        std::fs::read_to_string(&prefs)
            .is_ok_and(|t| t.contains(&format!("port = {port}")) && t.contains("address = \"127.0.0.1\""))
    });
    app.click("share-enabled").await;
    let status = app.text_until("share-status", "sharing to start", |t| t.starts_with("Sharing on")).await;
    assert!(status.contains(&format!("127.0.0.1:{port}")) && status.contains("shares home"), "{status}");
    app.click("make-invite").await;
    let invite = app.text_until("invite-line", "an invite", |t| t.starts_with("thingstray://pair?")).await;
    assert!(app.text("invite-note").await.contains("works once, within 10 minutes"));

    // The other computer: its own settings folder, a file vault.
    let other = j.env.path("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("config.toml"), "vault = \"file\"\n").unwrap();
    let out = j.cli_in(Some(&other), &["connect", &invite, "--computer-name", "desk"], None);
    assert!(out.status.success(), "connect: {}\n{}", String::from_utf8_lossy(&out.stderr), j.log());
    let out = j.cli_in(Some(&other), &["token", "--min-valid", "30s"], None);
    assert!(out.status.success(), "a paired token: {}", String::from_utf8_lossy(&out.stderr));

    let seen = app.text_until("paired-seen-desk", "the paired computer in the list", |t| t.contains("last seen")).await;
    assert!(seen.contains("paired"), "{seen}");
    app.js("document.querySelector('[data-testid=\"share\"]').scrollIntoView({ block: 'start' })").await;
    app.shot("other-computers").await;
    app.click("revoke-desk").await;
    app.text_until("revoke-desk", "the revoke button to ask again", |t| t.contains("Click again to revoke desk")).await;
    let out = j.cli_in(Some(&other), &["token", "--min-valid", "30s"], None);
    assert!(out.status.success(), "one click revokes nothing");
    app.click("revoke-desk").await;
    app.text_until("paired-seen-desk", "the computer shown revoked", |t| t.contains("revoked")).await;
    app.shot("revoked").await;

    let out = j.cli_in(Some(&other), &["token"], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "exit 4: {stderr}");
    assert!(stderr.contains("revoked"), "{stderr}");
    app.close().await;
}
