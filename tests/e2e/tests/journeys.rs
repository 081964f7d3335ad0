//! The journeys of a new user (and of one with two computers), on the real app. See the crate docs for the harness.
//! Multi-threaded runtimes: the simulator runs in this process and must keep answering
//! while a journey waits on the CLI or a second launch.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use smartthings_sim::{Faults, SimConfig};
use thingstray_e2e::{approve, device_id, wait::until, App, Journey, Tray, WAIT};

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

/// A connected account (signed in with the CLI) and the app started on its device window.
async fn connected(j: &Journey) -> App {
    j.connect_with_cli().await;
    let app = j.launch(&["--open", "devices"]).await;
    app.window("devices.html").await;
    app.shown("rooms").await;
    until(WAIT, "devices in the window", || async {
        let n = app.js("return document.querySelectorAll('[data-testid^=\"device-\"]').length").await.as_u64()?;
        (n > 0).then_some(())
    })
    .await;
    app
}

/// The state the device window shows for a switch: (checked, busy).
async fn switch_shown(app: &App, id: &str) -> (bool, bool) {
    let v = app
        .js(&format!("const e=document.querySelector('[data-testid=\"switch-{id}\"]'); return [e.checked, e.hasAttribute('aria-busy')]"))
        .await;
    (v[0].as_bool().unwrap_or(false), v[1].as_bool().unwrap_or(true))
}

fn switch_in_sim(j: &Journey, id: &str) -> Option<bool> {
    j.sim.device_attribute(id, "main", "switch", "switch").map(|v| v == "on")
}

/// Opens a `<details>` box. A click the driver retried under load would close it again:
/// click until it is open, as a person would.
async fn open_details(app: &App, id: &str) {
    until(WAIT, &format!("{id} to open"), || async {
        if app.js(&format!("return document.querySelector('[data-testid=\"{id}\"]').open")).await
            == serde_json::Value::Bool(true)
        {
            return Some(());
        }
        app.click(id).await;
        None
    })
    .await;
}

/// Wizard step 2 with the simulator's app: keys and the "Advanced" addresses, not saved.
/// Page 1's way there is its second choice, the SmartThings CLI.
async fn fill_keys(j: &Journey, app: &App, redirect_uri: &str) {
    open_details(app, "cli-way").await;
    app.click("next-create").await;
    app.type_into("client-id", &j.sim.client().client_id).await;
    app.type_into("client-secret", &j.sim.client().client_secret).await;
    app.type_into("redirect-uri", redirect_uri).await;
    open_details(app, "advanced").await;
    app.type_into("api-url", &j.sim.api_url()).await;
    app.type_into("auth-url", &j.sim.auth_url()).await;
}

/// Wizard steps 2 and 3: keys, the "Advanced" addresses, save.
async fn enter_keys(j: &Journey, app: &App, redirect_uri: &str) {
    fill_keys(j, app, redirect_uri).await;
    save_keys(app).await;
}

async fn save_keys(app: &App) {
    app.shot("credentials").await;
    app.click("save-credentials").await;
    app.shown("open-sign-in").await;
}

/// What `smartthings apps:create` asks, in its order: the core's list (its unit test holds
/// it against smartthings-cli's source), which page 1 must show as it is.
fn apps_create_prompts() -> Vec<&'static str> {
    thingstray::desktop::setup::apps_create_answers().into_iter().map(|a| a.prompt).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_run() {
    let j = Journey::start("first_run", SimConfig::default()).await;
    let app = j.launch(&[]).await;
    app.shown("step-create").await;
    // Page 1's second choice, the SmartThings CLI: apps:create's prompts in its order, and
    // one redirect URI to register. The table is filled from the core (an IPC call) after
    // the page shows: wait for its last row.
    open_details(&app, "cli-way").await;
    let expected = apps_create_prompts();
    let last = expected.last().copied().unwrap_or_default();
    app.text_until("answers", "the apps:create answers", |t| t.contains(last)).await;
    let rows = app
        .js("return [...document.querySelectorAll('[data-testid=\"answers\"] tr')].map(tr => [...tr.cells].map(td => td.textContent))")
        .await;
    let rows: Vec<Vec<String>> = serde_json::from_value(rows).unwrap();
    let prompts: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(prompts, expected);
    assert!(rows[5][1].starts_with("r:devices:* x:devices:* r:locations:* r:scenes:* x:scenes:*"), "{:?}", rows[5]);
    assert!(rows[7][1].starts_with("https://thingstray.invalid/callback"), "{:?}", rows[7]);
    let page = app.text("step-create").await;
    assert!(page.contains("register exactly https://thingstray.invalid/callback"), "{page}");
    for never in ["httpbin", "thingstray://", "Any of these"] {
        assert!(!page.contains(never), "page 1 offers {never}: {page}");
    }
    app.shot("wizard").await;
    app.js("document.querySelector('[data-testid=\"next-create\"]').scrollIntoView({ block: 'end' })").await;
    app.shot("wizard-end").await;

    // Page 2: a redirect URI apps:create could not have registered is warned about,
    // with what to use instead, and does not block Save.
    fill_keys(&j, &app, "thingstray://oauth/callback").await;
    let warning = app
        .text_until("problem-redirect_uri", "the redirect URI warning", |t| t.contains("could not have registered"))
        .await;
    assert!(warning.contains("register and enter https://thingstray.invalid/callback instead"), "{warning}");
    assert_eq!(app.attr("problem-redirect_uri", "class").await.as_deref(), Some("problem warning"));
    let save_disabled = app.js("return document.querySelector('[data-testid=\"save-credentials\"]').disabled").await;
    assert_eq!(save_disabled, false, "a warning does not block Save");
    app.shot("redirect-warning").await;
    app.type_into("redirect-uri", "https://thingstray.invalid/callback").await;
    app.text_until("problem-redirect_uri", "the warning to go", str::is_empty).await;
    save_keys(&app).await;

    // Page 3: the browser path, as it goes with the .invalid address.
    app.click("other-ways").await;
    let hint = app.text_until("browser-hint", "the browser hint", |t| !t.is_empty()).await;
    assert!(hint.contains("ends on an error page") && hint.contains("thingstray.invalid never exists"), "{hint}");
    assert!(hint.contains("Copy the whole address") && hint.contains("paste it below"), "{hint}");
    app.shot("sign-in").await;
    app.click("open-sign-in").await;
    // The sign-in window's navigation handler must catch the redirect to the .invalid
    // address: nothing else can finish this sign-in (the address never resolves).
    let done = app.text_until("done-summary", "the wizard to end connected", |t| t.contains("devices")).await;
    app.shot("done").await;
    assert!(done.starts_with("Home"), "{done}\n{}", j.log());
    assert_eq!(j.grants().0, 1, "one code exchange");

    // The keychain, read with the Secret Service itself, holds the pair and the secret.
    let tokens = j.stored_tokens();
    let access = tokens["access_token"].as_str().expect("an access token").to_string();
    let refresh = tokens["refresh_token"].as_str().expect("a refresh token").to_string();
    assert!(j.sim.accepts(&access).await, "the stored token works");
    let secret = j.keychain("home/client-secret").expect("the client secret in the keychain");
    assert_eq!(secret.trim(), j.sim.client().client_secret);
    // ...and no file under the settings folder does.
    let files = j.env.config_files();
    assert!(files.iter().any(|f| f.ends_with("config.toml")), "{files:?}");
    for f in files {
        let body = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
        for (what, s) in
            [("access token", &access), ("refresh token", &refresh), ("client secret", &j.sim.client().client_secret)]
        {
            assert!(!body.contains(s.as_str()), "{} holds the {what}", f.display());
        }
    }
    app.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices() {
    let j = Journey::start("devices", SimConfig::default()).await;
    let app = connected(&j).await;
    let rooms = app
        .js("return [...document.querySelectorAll('[data-testid^=\"room-\"]')].map(e => e.getAttribute('aria-label'))")
        .await;
    assert!(rooms.as_array().map_or(0, Vec::len) >= 2, "rooms: {rooms}");
    app.shot("device-window").await;

    // A dimmer: a device with a switch and a brightness slider.
    let id = app
        .js("return [...document.querySelectorAll('input[data-testid^=\"level-\"]:not([disabled])')].map(e => e.dataset.testid.slice(6)).find(id => document.querySelector(`[data-testid=\"switch-${id}\"]`))")
        .await
        .as_str()
        .expect("a dimmer in the simulator's home")
        .to_string();
    let before = switch_in_sim(&j, &id).expect("the dimmer has a switch");
    assert_eq!(switch_shown(&app, &id).await.0, before, "the window shows the simulator's state");
    app.click(&format!("switch-{id}")).await;
    until(WAIT, "the simulator to switch the device", || async {
        (switch_in_sim(&j, &id) == Some(!before)).then_some(())
    })
    .await;
    until(WAIT, "the window to show the confirmed state", || async {
        (switch_shown(&app, &id).await == (!before, false)).then_some(())
    })
    .await;
    app.shot("toggled").await;

    // The slider: what a drag does (input events, then change on release).
    app.js(&format!("const e=document.querySelector('[data-testid=\"level-{id}\"]'); e.value=37; e.dispatchEvent(new Event('input')); e.dispatchEvent(new Event('change'));")).await;
    until(WAIT, "the simulator to set the level", || async {
        (j.sim.device_attribute(&id, "main", "switchLevel", "level")? == 37).then_some(())
    })
    .await;
    app.text_until(&format!("device-{id}"), "the window to show 37%", |t| t.contains("37%")).await;

    // A scene runs once.
    let scene = app
        .js("const b=document.querySelector('[data-testid^=\"scene-\"]'); return b && b.dataset.testid.slice(6)")
        .await;
    let scene = scene.as_str().expect("a scene button").to_string();
    app.click(&format!("scene-{scene}")).await;
    until(WAIT, "the simulator to run the scene", || async {
        (j.sim.stats().scene_executions.get(&scene) == Some(&1)).then_some(())
    })
    .await;

    // The offline device is greyed and cannot be switched.
    let offline = app.js("const d=document.querySelector('.device[data-state=\"offline\"]'); return d && [d.dataset.testid, getComputedStyle(d).opacity, [...d.querySelectorAll('input')].every(i => i.disabled)]").await;
    assert!(offline[0].as_str().is_some(), "an offline device is shown: {offline}");
    assert!(offline[1].as_str().unwrap().parse::<f64>().unwrap() < 1.0, "greyed: {offline}");
    assert_eq!(offline[2], true, "its controls are disabled");
    app.shot("after-actions").await;

    // The tray: a device is a check item; a click switches it, and the item shows the
    // state SmartThings confirmed.
    let tray = Tray::connect(&j.env.bus, WAIT).await;
    let menu =
        tray.menu_until("the tray to list devices", |m| m.all().iter().any(|i| i.checked.is_some() && i.enabled)).await;
    assert!(menu.top().first().is_some_and(|s| s.starts_with("Connected")), "tray status: {:?}", menu.top());
    let item = menu.all().into_iter().find(|i| i.checked.is_some() && i.enabled).unwrap().clone();
    let tid = app.js(&format!("const d=[...document.querySelectorAll('.device')].find(d => d.dataset.label === {:?}); return d && d.dataset.testid", item.label)).await;
    let tray_id = device_id(tid.as_str().expect("the tray's device is in the window")).to_string();
    let was = switch_in_sim(&j, &tray_id).unwrap();
    assert_eq!(item.checked, Some(was), "the tray shows the simulator's state");
    tray.click(item.id).await;
    until(WAIT, "the tray click to switch the device", || async {
        (switch_in_sim(&j, &tray_id) == Some(!was)).then_some(())
    })
    .await;
    tray.menu_until("the tray item to show the confirmed state", |m| {
        m.find(&item.label).and_then(|i| i.checked) == Some(!was)
    })
    .await;
    app.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_token() {
    let j = Journey::start("copy_token", SimConfig::default()).await;
    let app = connected(&j).await;
    app.click("copy-token").await;
    let said = app.text_until("copy-result", "the copy to be confirmed", |t| !t.is_empty()).await;
    app.shot("copied").await;
    let clip = j.command("xclip").args(["-selection", "clipboard", "-o"]).output().expect("xclip");
    let copied = String::from_utf8(clip.stdout).unwrap();
    assert!(!copied.is_empty(), "the clipboard holds a token ({said})");
    assert!(j.sim.accepts(&copied).await, "the simulator takes the copied token");
    let stored = j.stored_tokens();
    assert_eq!(stored["access_token"].as_str(), Some(copied.as_str()), "it is the session's current token");
    let expires = stored["expires_at_ms"].as_u64().expect("expiry");
    assert!(expires >= now_ms() + 5 * 60_000, "valid at least 5 more minutes: {said}");
    app.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_refresh() {
    // Tokens live 8 s: the app refreshes at 75% of that, on its own, while idle.
    let j = Journey::start("background_refresh", SimConfig { expires_in: 8, ..SimConfig::default() }).await;
    let app = connected(&j).await;
    let failed_before = j.failed_token_requests();
    let tray = Tray::connect(&j.env.bus, WAIT).await;
    until(Duration::from_secs(60), "three refreshes while idle", || async { (j.grants().1 >= 3).then_some(()) }).await;
    assert_eq!(
        j.failed_token_requests(),
        failed_before,
        "every refresh request succeeded: none was a second one racing with a used token"
    );
    let state = app.attr("status-dot", "data-state").await.unwrap_or_default();
    assert!(state == "connected" || state == "refreshing", "the window stays connected: {state}\n{}", j.log());
    let menu = tray.menu().await;
    assert!(!menu.top().iter().any(|l| l.starts_with("Sign in again")), "tray: {:?}", menu.top());
    assert!(j.sim.accepts(j.stored_tokens()["access_token"].as_str().unwrap()).await);
    app.shot("still-connected").await;
    app.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_ended() {
    let j = Journey::start("session_ended", SimConfig { expires_in: 10, ..SimConfig::default() }).await;
    let app = connected(&j).await;
    let fav = app
        .js("return document.querySelector('[data-testid^=\"favorite-\"]').dataset.testid")
        .await
        .as_str()
        .unwrap()
        .to_string();
    app.click(&fav).await;
    until(WAIT, "the star", || async {
        (app.attr(&fav, "aria-pressed").await.as_deref() == Some("true")).then_some(())
    })
    .await;
    let config_before = std::fs::read_to_string(j.env.config_dir().join("config.toml")).unwrap();

    j.sim.revoke_refresh_tokens();
    app.shown("sign-in-needed").await;
    app.shot("sign-in-needed").await;
    let tray = Tray::connect(&j.env.bus, WAIT).await;
    tray.menu_until("the tray to ask for sign-in", |m| m.find("Sign in again…").is_some()).await;
    assert_eq!(
        std::fs::read_to_string(j.env.config_dir().join("config.toml")).unwrap(),
        config_before,
        "settings kept"
    );

    app.click("sign-in-again").await;
    until(WAIT, "the sign-in to finish", || async {
        let hidden = app
            .js("return document.querySelector('[data-testid=\"sign-in-needed\"]').classList.contains('hidden')")
            .await;
        (hidden == true).then_some(())
    })
    .await;
    assert_eq!(j.grants().0, 2, "a second code exchange");
    // The list is read again after sign-in; the star must come back with it.
    until(WAIT, "the favorite to be kept", || async {
        let pressed = app
            .js(&format!(
                "const e=document.querySelector('[data-testid=\"{fav}\"]'); return e && e.getAttribute('aria-pressed')"
            ))
            .await;
        (pressed == "true").then_some(())
    })
    .await;
    let prefs = std::fs::read_to_string(j.env.config_dir().join("desktop.toml")).unwrap_or_default();
    assert!(
        prefs.contains(thingstray_e2e::device_id(fav.trim_start_matches("favorite-"))),
        "favorites kept in desktop.toml:\n{prefs}"
    );
    tray.menu_until("the tray to be connected again", |m| m.top().first().is_some_and(|s| s.starts_with("Connected")))
        .await;
    app.shot("connected-again").await;
    app.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_link() {
    let j = Journey::start("deep_link", SimConfig::default()).await;
    let app = j.launch(&[]).await;
    enter_keys(&j, &app, "thingstray://oauth/callback").await;
    app.click("other-ways").await;
    app.click("use-browser").await;
    let opened = until(WAIT, "the system browser to be asked to open the sign-in page", || async {
        std::fs::read_to_string(j.env.path("browser.log")).ok().and_then(|s| s.lines().next().map(str::to_string))
    })
    .await;
    let back = approve(&opened).await;
    assert!(back.starts_with("thingstray://oauth/callback?"), "{back}");

    // The system hands the link to a second launch, which passes it to the running app.
    let launch = |link: &str| {
        let status = j.command(thingstray_e2e::driver::desktop_bin()).arg(link).status().expect("second launch");
        assert!(status.success(), "the second launch hands over and exits");
    };
    let state = url::Url::parse(&back).unwrap().query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
    launch(&back.replace(&state, "forged-state"));
    let refused = app.text_until("sign-in-error", "the forged link to be refused", |t| !t.is_empty()).await;
    app.shot("forged-link-refused").await;
    assert!(refused.to_lowercase().contains("sign"), "{refused}");
    assert_eq!(j.grants().0, 0, "a refused link exchanges nothing");

    launch(&back);
    let done = app.text_until("done-summary", "the link to finish the sign-in", |t| t.contains("devices")).await;
    app.shot("done").await;
    assert!(done.starts_with("Home"), "{done}");
    assert_eq!(j.grants().0, 1);
    app.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart() {
    let j = Journey::start("restart", SimConfig::default()).await;
    let app = connected(&j).await;
    let tray = Tray::connect(&j.env.bus, WAIT).await;
    let menu = tray.menu_until("the tray menu", |m| m.find("Quit ThingsTray").is_some()).await;
    tray.click(menu.find("Quit ThingsTray").unwrap().id).await;
    app.close().await;
    // Quit ends the process (its bus connection goes with it), and only then does the next
    // launch start: a launch while it still shuts down would hand over to it and exit.
    tray.gone("the app to exit after Quit").await;

    // Single instance: had Quit not ended the app, this launch would hand over and exit.
    let app = j.launch(&["--open", "devices"]).await;
    app.window("devices.html").await;
    let status = app.text_until("status-line", "the window to say connected", |t| t.starts_with("Connected")).await;
    assert_eq!(app.pages().await, ["devices.html"], "no wizard, no sign-in: {status}");
    assert_eq!(j.grants().0, 1, "no new sign-in");
    app.shot("back-connected").await;
    app.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_and_app_together() {
    // 12 s tokens. The CLI wants 4 s of validity and the app refreshes with 3 s left, so
    // they want the same refresh at nearly the same moment; a slow token endpoint widens
    // the window. Refresh tokens are single use: a second refresh would be rejected.
    let j = Journey::start("cli_and_app", SimConfig { expires_in: 12, ..SimConfig::default() }).await;
    let app = connected(&j).await;
    let failed_before = j.failed_token_requests();
    j.sim.set_faults(Faults {
        route_prefix: "/oauth/token".into(),
        delay_ms: 700,
        delay_share: 1.0,
        ..Faults::default()
    });
    let start = Instant::now();
    let handed = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                while start.elapsed() < Duration::from_secs(25) {
                    let out = j.cli(&["token", "--format", "json", "--min-valid", "4s"], None);
                    assert!(out.status.success(), "thingstray token: {}", String::from_utf8_lossy(&out.stderr));
                    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
                    let at = now_ms();
                    handed.lock().unwrap().push((
                        v["access_token"].as_str().unwrap().to_string(),
                        v["expires_at"].as_u64().unwrap(),
                        at,
                    ));
                }
            });
        }
    });
    let handed = handed.into_inner().unwrap();
    for (_, expires_at, at) in &handed {
        assert!(expires_at * 1000 >= at + 3_000, "a token with less than the asked validity was handed out");
    }
    let last = &handed.last().unwrap().0;
    assert!(j.sim.accepts(last).await);
    let refreshes = j.grants().1;
    assert_eq!(j.failed_token_requests(), failed_before, "no second refresh with a used refresh token");
    let elapsed = start.elapsed().as_secs();
    assert!(refreshes >= 2 && refreshes <= elapsed / 8 + 2, "{refreshes} refreshes in {elapsed} s: one per rotation");
    let state = app.attr("status-dot", "data-state").await.unwrap_or_default();
    assert!(state != "needs_sign_in", "the app stayed signed in\n{}", j.log());
    println!("cli_and_app: {} tokens handed out, {refreshes} refreshes in {elapsed} s", handed.len());
    app.close().await;
}

/// Two computers, one sign-in (issue 11): `paired_from_wizard`, `revoke_from_settings`.
#[path = "journeys/other_computers.rs"]
mod other_computers;

/// Set up in one paste (issue 24): `create_app`.
#[path = "journeys/create_app.rs"]
mod create_app;

/// Every device shows what it is doing (issue 12): `device_controls`.
#[path = "journeys/device_controls.rs"]
mod device_controls;

/// By keyboard alone (issue 29): `keyboard`.
#[path = "journeys/keyboard.rs"]
mod keyboard;

/// A door's alert: notification, watch line, click (issue 29): `alerts`.
#[path = "journeys/alerts.rs"]
mod alerts;

/// Location modes from the window and the tray (issue 29): `location_modes`.
#[path = "journeys/modes.rs"]
mod modes;

/// The resident tray beside a window process (issue 30): `split`.
#[path = "journeys/split.rs"]
mod split;
