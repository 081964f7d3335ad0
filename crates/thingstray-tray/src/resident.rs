//! The resident: opens the desktop (the user's settings, or the demo's), claims its agent
//! socket (one resident per settings folder), shows the tray and keeps it in line with
//! the desktop, carries out the tray's clicks, and on Quit or SIGTERM stops everything,
//! storing any token pair the vault refused.

use std::sync::Arc;
use std::time::Duration;

use ksni::TrayMethods;
use thingstray::config::Paths;
use thingstray::connection::Options;
use thingstray::desktop::indicator::human_duration;
use thingstray::desktop::{Desktop, MenuAction};
use thingstray::Error;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::launch::{Launcher, DEVICES, SETTINGS, WIZARD};
use crate::menu::{Click, TrayView};
use crate::notify::Notifier;
use crate::{clipboard, demo, Args};

/// Everything the tray's actions need.
struct Ctx {
    desktop: Arc<Desktop>,
    notifier: Arc<Notifier>,
    windows: Launcher,
}

pub async fn run(args: Args) -> Result<(), Error> {
    // Another resident serving these settings: say so before opening anything. A second
    // desktop would start its own refreshers, and quitting it mid-refresh could lose the
    // rotated pair (the demo's folder is new, so no one else serves it).
    if !args.demo {
        let paths = Paths::resolve()?;
        if thingstray::agent::client::status(&paths, Duration::from_secs(2)).await.is_ok() {
            eprintln!("ThingsTray is already running for these settings ({}).", paths.dir.display());
            return Ok(());
        }
    }
    let (desktop, demo_start, _demo) = if args.demo {
        let (d, start, run) = demo::open(true).await?;
        (d, Some(start), Some(run))
    } else {
        (Desktop::open(Paths::resolve()?, Options::default()).await?, None, None)
    };
    // The agent socket: its lock makes this the one resident for these settings. Lost a
    // race with another start, or refused (an unsafe folder): stop cleanly, say why.
    let agent = match desktop.start_agent().await {
        Ok(a) => a,
        Err(e) => {
            desktop.shutdown().await;
            return Err(e);
        }
    };
    let windows = Launcher::new(desktop.paths());
    let opener = windows.clone();
    let notifier = Arc::new(Notifier::new(Arc::new(move |c: &str, d: &str| opener.open(DEVICES, Some((c, d))))));
    let ctx = Arc::new(Ctx { desktop: desktop.clone(), notifier: notifier.clone(), windows });

    let (clicks_tx, mut clicks) = mpsc::unbounded_channel();
    let tray = TrayView::new(clicks_tx)
        .assume_sni_available(true)
        .spawn()
        .await
        .map_err(|e| Error::shell("showing the tray on the session bus", e))?;

    let mut tasks = JoinSet::new();
    tasks.spawn(desktop.clone().keep_tray_fresh());
    tasks.spawn(desktop.clone().follow_hand_overs());
    tasks.spawn(follow(desktop.clone(), tray.clone(), notifier.clone()));
    tasks.spawn(servers(desktop.clone(), notifier.clone()));
    for (name, e) in desktop.problems() {
        notifier.notify(&format!("ThingsTray: {name} could not be opened"), &e.to_string()).await;
    }
    if let Some(start) = demo_start {
        if let Err(e) = demo::sign_in(&desktop, &start).await {
            notifier.notify("ThingsTray demo could not sign in", &e.to_string()).await;
        }
    } else if desktop.is_first_run() {
        ctx.windows.open(WIZARD, None);
    }

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| Error::shell("listening for SIGTERM", e))?;
    loop {
        tokio::select! {
            click = clicks.recv() => {
                let Some(click) = click else { break };
                if !act(&ctx, click) {
                    break;
                }
            }
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    tracing::info!("quitting");
    tasks.shutdown().await;
    drop(agent);
    // Stops the token server and stores any pair the vault refused earlier: the only copy
    // of a live refresh token must not die with the process.
    for (name, e) in desktop.shutdown().await {
        tracing::error!(connection = %name, code = e.code(), "could not store the session on quit: {e}");
    }
    // The tray last: it answers the click on Quit before it leaves the bus.
    tray.shutdown().await;
    Ok(())
}

/// Starts the token server and sharing if the user left them on.
async fn servers(desktop: Arc<Desktop>, notifier: Arc<Notifier>) {
    if let Err(e) = desktop.resume_token_server().await {
        notifier.notify("ThingsTray: the token server did not start", &e.to_string()).await;
    }
    if let Err(e) = desktop.resume_sharing().await {
        notifier.notify("ThingsTray: sharing with other computers did not start", &e.to_string()).await;
    }
}

/// Mirrors the desktop: icon, tooltip and menu; notices and alerts. Also ticks once a
/// minute so "token valid 18 h" stays true.
async fn follow(desktop: Arc<Desktop>, tray: ksni::Handle<TrayView>, notifier: Arc<Notifier>) {
    let mut rx = desktop.subscribe();
    let mut shown = None;
    loop {
        // ksni compares the menu it had with the new one and signals only what changed; an
        // update is still a rebuild, so none when nothing the tray shows changed.
        let now = (desktop.tray(), desktop.panel_theme());
        if shown.as_ref() != Some(&now) {
            let (model, theme) = now.clone();
            tray.update(|t| {
                t.model = model;
                t.theme = theme;
            })
            .await;
            shown = Some(now);
        }
        // A notification daemon that hangs must not hold the tray back.
        let (notices, alerts) = (desktop.take_notices(), desktop.take_alerts());
        if !notices.is_empty() || !alerts.is_empty() {
            let notifier = notifier.clone();
            tokio::spawn(async move {
                for n in notices {
                    notifier.notify(&n.title(), n.body()).await;
                }
                for a in alerts {
                    if let Err(e) = notifier.alert(&a).await {
                        tracing::warn!(title = %a.notification.title, "could not show an alert: {e}");
                    }
                }
            });
        }
        tokio::select! {
            r = rx.changed() => if r.is_err() { return },
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
        // Let a burst of changes (a command: busy, then done) settle into one update.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Carries out a click; `false` for Quit.
fn act(ctx: &Arc<Ctx>, click: Click) -> bool {
    let id = match click {
        Click::Icon => {
            let set_up = !ctx.desktop.connection_names().is_empty();
            ctx.windows.open(if set_up { DEVICES } else { WIZARD }, None);
            return true;
        }
        Click::Item(id) => id,
    };
    let Some(action) = MenuAction::parse(&id) else { return true };
    let (d, c) = (ctx.desktop.clone(), ctx.clone());
    match action {
        MenuAction::Quit => return false,
        // A failure queues a notice (shown by `follow`) and leaves the confirmed state;
        // success changes the model. Either way the menu follows.
        MenuAction::SwitchDevice { connection, device } => spawn(async move {
            if let Err(e) = d.toggle(&connection, &device).await {
                tracing::info!(code = e.code(), "a switch from the tray failed");
            }
        }),
        MenuAction::LockDevice { connection, device } => spawn(async move {
            if let Err(e) = d.lock(&connection, &device).await {
                tracing::info!(code = e.code(), "locking from the tray failed");
            }
        }),
        MenuAction::RunScene { connection, scene } => spawn(async move {
            if let Err(e) = d.run_scene(&connection, &scene).await {
                c.notifier.notify("ThingsTray: the scene did not run", &e.to_string()).await;
            }
        }),
        MenuAction::SetMode { connection, mode } => spawn(async move {
            if let Err(e) = d.set_mode(&connection, &mode).await {
                c.notifier.notify("ThingsTray: the mode did not change", &e.to_string()).await;
            }
        }),
        MenuAction::CopyToken { connection } => spawn(async move {
            let (title, body) = match d.token_for_copy(&connection).await {
                Ok((grant, _)) => {
                    let left = grant.expires_at.duration_since(std::time::SystemTime::now()).unwrap_or_default();
                    match clipboard::copy(grant.secret()) {
                        Ok(()) => ("Access token copied", format!("Valid for {}.", human_duration(left))),
                        Err(e) => ("ThingsTray: could not copy", e),
                    }
                }
                Err(e) => ("ThingsTray: no token to copy", e.to_string()),
            };
            c.notifier.notify(title, &body).await;
        }),
        MenuAction::RefreshDevices { connection } => spawn(async move {
            if let Err(e) = d.refresh_devices(&connection).await {
                c.notifier.notify("ThingsTray: could not read the devices", &e.to_string()).await;
            }
        }),
        MenuAction::SignIn { connection } => match d.begin_sign_in(&connection) {
            Ok(_) => ctx.windows.sign_in(&connection),
            Err(e) => {
                spawn(async move { c.notifier.notify("ThingsTray: sign-in did not start", &e.to_string()).await })
            }
        },
        MenuAction::ShowDevice { connection, device } => ctx.windows.open(DEVICES, Some((&connection, &device))),
        MenuAction::Open => ctx.windows.open(DEVICES, None),
        MenuAction::TokenServer | MenuAction::Settings => ctx.windows.open(SETTINGS, None),
        MenuAction::Setup => ctx.windows.open(WIZARD, None),
    }
    true
}

fn spawn(f: impl std::future::Future<Output = ()> + Send + 'static) {
    tokio::spawn(f);
}
