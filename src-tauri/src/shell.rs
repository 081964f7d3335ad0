//! The app's state: the current [`Desktop`] (real or demo), the tasks that follow it,
//! and the one sign-in callback path every source of an answer goes through.

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tauri::async_runtime::JoinHandle;
use tauri::{AppHandle, Emitter, Manager, Runtime};
use thingstray::config::Paths;
use thingstray::connection::Options;
use thingstray::desktop::{Desktop, SignedIn};
use thingstray::Error;

use crate::{tray, windows};

#[derive(Default)]
pub struct Shell {
    desktop: RwLock<Option<Arc<Desktop>>>,
    /// Why the desktop could not be opened (unreadable settings, no keychain), for the UI.
    startup_error: RwLock<Option<Error>>,
    /// Keeps the demo's simulator and throwaway settings alive while the demo runs.
    demo: Mutex<Option<Box<dyn std::any::Any + Send + Sync>>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// Errors of the shell itself (a window that would not open, the clipboard), in the same
/// `{code, message}` shape as the core's.
pub fn shell_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Io { what: what.to_string(), detail: e.to_string() }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shell {
    pub fn desktop(&self) -> Result<Arc<Desktop>, Error> {
        if let Some(d) = self.desktop.read().unwrap_or_else(|p| p.into_inner()).clone() {
            return Ok(d);
        }
        Err(self.startup_error().unwrap_or(Error::Io {
            what: "starting ThingsTray".into(),
            detail: "the settings are still being read; try again in a moment".into(),
        }))
    }

    pub fn startup_error(&self) -> Option<Error> {
        self.startup_error.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn is_demo(&self) -> bool {
        self.desktop().map(|d| d.is_demo()).unwrap_or(false)
    }

    /// Switches to `desktop`: stops following the previous one (and its token server),
    /// follows this one, and starts its token server if the user left it on.
    pub fn set_desktop<R: Runtime>(&self, app: &AppHandle<R>, desktop: Arc<Desktop>, keep: Option<Box<dyn std::any::Any + Send + Sync>>) {
        self.stop();
        *self.desktop.write().unwrap_or_else(|p| p.into_inner()) = Some(desktop.clone());
        *self.startup_error.write().unwrap_or_else(|p| p.into_inner()) = None;
        *lock(&self.demo) = keep;
        let follower = tauri::async_runtime::spawn(follow(app.clone(), desktop.clone()));
        let fresh = tauri::async_runtime::spawn(desktop.clone().keep_tray_fresh());
        let handle = app.clone();
        let server = tauri::async_runtime::spawn(async move {
            if let Err(e) = desktop.resume_token_server().await {
                notify(&handle, "ThingsTray: the token server did not start", &e.to_string());
            }
        });
        lock(&self.tasks).extend([follower, fresh, server]);
    }

    /// Stops following the desktop and stops its token server (open requests finish
    /// first). Called on quit (`RunEvent::Exit`, outside the async runtime: waits there)
    /// and when another desktop takes over (inside it: the stop runs on its own).
    pub fn stop(&self) {
        for t in lock(&self.tasks).drain(..) {
            t.abort();
        }
        let Some(desktop) = self.desktop.read().unwrap_or_else(|p| p.into_inner()).clone() else { return };
        let stopping = async move { desktop.stop_token_server().await };
        if tokio::runtime::Handle::try_current().is_ok() {
            tauri::async_runtime::spawn(stopping);
        } else {
            tauri::async_runtime::block_on(stopping);
        }
    }
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
        let _ = app.emit("changed", ());
        tokio::select! {
            r = rx.changed() => if r.is_err() { return },
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
        // Let a burst of changes (a command: busy, then done) settle into one update.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn notify<R: Runtime>(app: &AppHandle<R>, title: &str, body: &str) {
    // Absent in tests on the mock runtime; then the notice only goes to the log.
    let Some(n) = app.try_state::<tauri_plugin_notification::Notification<R>>() else {
        tracing::info!(title, "notification (no notification plugin)");
        return;
    };
    if let Err(e) = n.builder().title(title).body(body).show() {
        tracing::warn!("could not show a notification: {e}");
    }
}

/// Opens the user's settings and connections. First run (nothing set up): the wizard;
/// otherwise the tray only, or the window `--open` asked for.
pub fn open_real<R: Runtime>(app: &AppHandle<R>, open: Option<String>) -> tauri::Result<()> {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let shell = app.state::<Shell>();
        let opened = match Paths::resolve() {
            Ok(paths) => Desktop::open(paths, Options::default()).await,
            Err(e) => Err(e),
        };
        match opened {
            Ok(desktop) => {
                for (name, e) in desktop.problems() {
                    notify(&app, &format!("ThingsTray: {name} could not be opened"), &e.to_string());
                }
                let first_run = desktop.connection_names().is_empty();
                shell.set_desktop(&app, desktop, None);
                if first_run {
                    windows::open(&app, windows::WIZARD);
                } else if let Some(label) = open {
                    windows::open(&app, &label);
                }
            }
            Err(e) => {
                tracing::error!(code = e.code(), "could not open the settings: {e}");
                notify(&app, "ThingsTray could not start", &e.to_string());
                *shell.startup_error.write().unwrap_or_else(|p| p.into_inner()) = Some(e);
                tray::show_error(&app);
                windows::open(&app, windows::WIZARD);
            }
        }
    });
    Ok(())
}

/// The one path for a sign-in answer: the sign-in window's caught redirect, a deep link,
/// or an address pasted in the wizard.
pub async fn finish_sign_in<R: Runtime>(app: &AppHandle<R>, answer: String) -> Result<SignedIn, Error> {
    let desktop = app.state::<Shell>().desktop()?;
    let result = desktop.finish_sign_in(&answer).await;
    let wizard_open = app.get_webview_window(windows::WIZARD).is_some();
    match &result {
        Ok(done) => {
            windows::close(app, windows::SIGN_IN);
            if wizard_open {
                let _ = app.emit_to(windows::WIZARD, "signed-in", done);
            } else {
                let place = done.location_name.clone().unwrap_or_else(|| done.connection.clone());
                notify(app, "ThingsTray is connected", &format!("{place}: {} devices", done.device_count));
                windows::open(app, windows::DEVICES);
            }
        }
        Err(e) => {
            tracing::warn!(code = e.code(), "a sign-in answer was refused");
            if wizard_open {
                let _ = app.emit_to(windows::WIZARD, "sign-in-failed", e);
            } else {
                notify(app, "ThingsTray: sign-in did not finish", &e.to_string());
            }
        }
    }
    result
}
