//! The app's life: what it opens at start, what a second launch asks of it, the desktop it
//! follows, and quit.

use std::sync::Arc;
use std::time::Duration;

use tauri::{AppHandle, Emitter, Manager, RunEvent, Runtime};
use thingstray::config::Paths;
use thingstray::connection::Options;
use thingstray::desktop::Desktop;

use crate::notify::notify;
use crate::state::{Keep, Shell};
use crate::{deep_link, idle, shortcut, sign_in, tray, windows};

/// Command-line switches the desktop app understands.
#[derive(Debug, Clone, Default)]
pub struct Args {
    /// Run against the SmartThings simulator, in-process, with throwaway settings.
    pub demo: bool,
    /// `--open devices|settings|wizard`: show that window at start (or, on a second
    /// launch, in the running app). A keyboard shortcut can bind to it, and WebDriver
    /// needs a window to attach to when the app would otherwise start in the tray.
    pub open: Option<String>,
    /// `--toggle devices|settings|wizard`: close that window if it is open, else open it;
    /// what a global shortcut wants (press once to show, again to hide), and how the
    /// report (crates/proof) closes the device window from outside.
    pub toggle: Option<String>,
    /// A `thingstray://` link the system handed us.
    pub link: bool,
    /// `--window`: a window process of the resident tray (`thingstray-tray`, issue 30),
    /// which started it: no tray, no desktop of its own, and it ends with its last window.
    pub window: bool,
    /// `--device CONNECTION/DEVICE`: the device window opens at that device (an alert's
    /// click, through the resident).
    pub device: Option<(String, String)>,
    /// `--sign-in CONNECTION` (window mode): begin that connection's sign-in at the
    /// resident and show its sign-in window (the tray's "Sign in again").
    pub sign_in: Option<String>,
}

impl Args {
    pub fn parse(args: impl Iterator<Item = String>) -> Args {
        let mut a = Args::default();
        let mut args = args.skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--demo" => a.demo = true,
                "--open" => a.open = args.next(),
                _ if arg.starts_with("--open=") => a.open = Some(arg["--open=".len()..].to_string()),
                "--toggle" => a.toggle = args.next(),
                _ if arg.starts_with("--toggle=") => a.toggle = Some(arg["--toggle=".len()..].to_string()),
                "--window" => a.window = true,
                "--sign-in" => a.sign_in = args.next(),
                "--device" => a.device = args.next().and_then(|d| d.split_once('/').map(|(c, d)| (c.into(), d.into()))),
                _ if arg.starts_with("thingstray:") => a.link = true,
                _ => {}
            }
        }
        a
    }
}

/// Start-up: the tray, the `thingstray://` links, and (unless `--demo`, whose desktop
/// `demo` opens) the user's settings.
pub fn start_up<R: Runtime>(app: &AppHandle<R>, args: &Args) -> tauri::Result<()> {
    if args.window {
        return start_window(app, args);
    }
    tray::install(app)?;
    deep_link::install(app, !args.demo);
    #[cfg(desktop)]
    shortcut::install(app);
    if !args.demo {
        // At start nothing is open yet, so a toggle opens.
        open_real(app, args.open.clone().or(args.toggle.clone()))?;
    }
    Ok(())
}

/// Window mode: follow the resident and open the window asked for. The resident's
/// settings folder is the user's own, or `THINGSTRAY_CONFIG_DIR` (the demo's), as the
/// resident set it when it started this process.
fn start_window<R: Runtime>(app: &AppHandle<R>, args: &Args) -> tauri::Result<()> {
    let paths = Paths::resolve().map_err(|e| tauri::Error::Anyhow(e.into()))?;
    app.state::<Shell>().set_resident(paths.clone());
    let follower = tauri::async_runtime::spawn(crate::forward::follow(app.clone(), paths.clone()));
    app.state::<Shell>().add_tasks([follower]);
    // `thingstray://` links: a sign-in finished in the browser reaches the resident through
    // this process (`sign_in::finish`). The resident's package registers the scheme.
    deep_link::install(app, false);
    if let Some(connection) = &args.sign_in {
        sign_in_at_resident(app, connection);
        return Ok(());
    }
    let opened = match (&args.device, args.open.as_deref().or(args.toggle.as_deref())) {
        (Some((connection, device)), _) => {
            windows::open_at_device(app, connection, device);
            Ok(())
        }
        (None, label) => windows::try_open(app, label.unwrap_or(windows::DEVICES)),
    };
    if let Err(e) = opened {
        // No window, nothing to do: a window process does not linger.
        tracing::error!("{e}");
        app.exit(2);
    }
    Ok(())
}

/// Window mode: begins `connection`'s sign-in at the resident (the tray's "Sign in
/// again") and shows its sign-in window; at start, or in a window process already open.
fn sign_in_at_resident<R: Runtime>(app: &AppHandle<R>, connection: &str) {
    let Some(paths) = app.state::<Shell>().resident().cloned() else { return };
    let (app, args) = (app.clone(), serde_json::json!({ "connection": connection }));
    tauri::async_runtime::spawn(async move {
        let begun = crate::forward::ask(&paths, "sign_in_again", args).await.and_then(|start| {
            crate::forward::keep_sign_in(&app.state::<Shell>(), &start);
            sign_in::open_window(&app).map_err(Into::into)
        });
        if let Err(e) = begun {
            notify(&app, "ThingsTray: sign-in did not start", &e.to_string());
            if app.webview_windows().is_empty() {
                app.exit(0);
            }
        }
    });
}

/// A second launch handed its arguments over (then exited): open or toggle the window
/// it names, or the main one.
pub fn reopen<R: Runtime>(app: &AppHandle<R>, argv: Vec<String>) {
    tracing::info!(args = argv.len(), "a second launch was forwarded here");
    let again = Args::parse(argv.into_iter());
    if let Some(connection) = &again.sign_in {
        return sign_in_at_resident(app, connection);
    }
    if let Some((connection, device)) = &again.device {
        return windows::open_at_device(app, connection, device);
    }
    match (again.open, again.toggle) {
        (_, Some(label)) => windows::toggle(app, &label),
        (Some(label), None) => windows::open(app, &label),
        // A link is the deep-link plugin's to handle.
        (None, None) if !again.link => windows::open_main(app),
        (None, None) => {}
    }
}

/// The run loop's events: a tray app keeps running with no window open; only Quit (an
/// explicit exit code) ends it, and then the desktop is stopped.
pub fn on_event<R: Runtime>(app: &AppHandle<R>, event: RunEvent) {
    match event {
        // A window process (`--window`) ends with its last window; the tray app does not.
        RunEvent::ExitRequested { code: None, api, .. }
            if app.try_state::<Shell>().is_none_or(|s| s.resident().is_none()) =>
        {
            api.prevent_exit()
        }
        RunEvent::WindowEvent { event: tauri::WindowEvent::Destroyed, .. } => idle::window_destroyed(app),
        RunEvent::Exit => {
            if let Some(shell) = app.try_state::<Shell>() {
                shell.stop();
            }
        }
        _ => {}
    }
}

/// Opens the user's settings and connections. First run (nothing set up): the wizard;
/// otherwise the tray only, or the window `--open` asked for.
pub fn open_real<R: Runtime>(app: &AppHandle<R>, open: Option<String>) -> tauri::Result<()> {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let opened = match Paths::resolve() {
            Ok(paths) => Desktop::open(paths, Options::default()).await,
            Err(e) => Err(e),
        };
        match opened {
            Ok(desktop) => {
                for (name, e) in desktop.problems() {
                    notify(&app, &format!("ThingsTray: {name} could not be opened"), &e.to_string());
                }
                let first_run = desktop.is_first_run();
                set_desktop(&app, desktop, None);
                if first_run {
                    windows::open(&app, windows::WIZARD);
                } else if let Some(label) = open {
                    windows::open(&app, &label);
                }
            }
            Err(e) => {
                tracing::error!(code = e.code(), "could not open the settings: {e}");
                notify(&app, "ThingsTray could not start", &e.to_string());
                app.state::<Shell>().set_startup_error(e);
                tray::show_error(&app);
                windows::open(&app, windows::WIZARD);
            }
        }
    });
    Ok(())
}

/// Switches to `desktop`: stops following the previous one (and its token server),
/// follows this one, and starts its token server and share listener if the user left
/// them on. `keep` lives as long as this desktop is the current one (the demo's
/// simulator and settings).
pub fn set_desktop<R: Runtime>(app: &AppHandle<R>, desktop: Arc<Desktop>, keep: Option<Keep>) {
    let shell = app.state::<Shell>();
    shell.stop();
    shell.replace(desktop.clone(), keep);
    shortcut::register_saved(app, &desktop.settings());
    #[cfg(unix)]
    let for_agent = desktop.clone();
    let follower = tauri::async_runtime::spawn(follow(app.clone(), desktop.clone()));
    let fresh = tauri::async_runtime::spawn(desktop.clone().keep_tray_fresh());
    // After this computer handed its sign-in over, it follows the new owner by itself.
    let handed = tauri::async_runtime::spawn(desktop.clone().follow_hand_overs());
    let handle = app.clone();
    let server = tauri::async_runtime::spawn(async move {
        if let Err(e) = desktop.resume_token_server().await {
            notify(&handle, "ThingsTray: the token server did not start", &e.to_string());
        }
        if let Err(e) = desktop.resume_sharing().await {
            notify(&handle, "ThingsTray: sharing with other computers did not start", &e.to_string());
        }
    });
    // The CLI's agent (thingstray token / status answered from this app's memory): it
    // lives as long as this task, which the shell aborts when it switches desktops.
    #[cfg(unix)]
    let agent = {
        tauri::async_runtime::spawn(async move {
            match for_agent.start_agent().await {
                Ok(_agent) => std::future::pending::<()>().await,
                Err(e) => tracing::warn!("no agent for the CLI: {e}"),
            }
        })
    };
    shell.add_tasks([follower, fresh, handed, server]);
    #[cfg(unix)]
    shell.add_tasks([agent]);
}

/// Mirrors the desktop's changes: tray menu and icon, windows ("changed" event),
/// notifications. Also ticks once a minute so "token valid 18 h" stays true.
async fn follow<R: Runtime>(app: AppHandle<R>, desktop: Arc<Desktop>) {
    let mut rx = desktop.subscribe();
    loop {
        tray::refresh(&app, &desktop);
        for n in desktop.take_notices() {
            notify(&app, &n.title(), n.body());
        }
        for a in desktop.take_alerts() {
            crate::notify::alert(&app, a);
        }
        let _ = app.emit("changed", ());
        tokio::select! {
            r = rx.changed() => if r.is_err() { return },
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
        // Let a burst of changes (a command: busy, then done) settle into one update.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::Args;

    fn parse(args: &[&str]) -> Args {
        Args::parse(std::iter::once("thingstray-desktop").chain(args.iter().copied()).map(String::from))
    }

    #[test]
    fn switches_and_links_are_told_apart() {
        assert!(parse(&["--demo"]).demo);
        assert_eq!(parse(&["--open", "devices"]).open.as_deref(), Some("devices"));
        assert_eq!(parse(&["--open=settings"]).open.as_deref(), Some("settings"));
        assert_eq!(parse(&["--toggle", "devices"]).toggle.as_deref(), Some("devices"));
        assert_eq!(parse(&["--toggle=devices"]).toggle.as_deref(), Some("devices"));
        assert!(parse(&["--toggle", "devices"]).open.is_none());
        let a = parse(&["thingstray://oauth/callback?code=x&state=y"]);
        assert!(a.link && a.open.is_none() && !a.demo);
        assert!(!parse(&[]).link);
        let w = parse(&["--window", "--open", "devices", "--device", "home/7d24-x"]);
        assert!(w.window && w.open.as_deref() == Some("devices"));
        assert_eq!(w.device, Some(("home".into(), "7d24-x".into())));
        assert_eq!(parse(&["--device", "no-slash"]).device, None);
        assert_eq!(parse(&["--window", "--sign-in", "home"]).sign_in.as_deref(), Some("home"));
    }
}
