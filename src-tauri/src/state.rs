//! The app's state: the current [`Desktop`] (real or demo), why none could be opened, and
//! the tasks that follow it. Only state: what follows a desktop is `lifecycle`'s.

use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock};

use tauri::async_runtime::JoinHandle;
use thingstray::config::Paths;
use thingstray::desktop::Desktop;
use thingstray::Error;

/// Anything the demo must keep alive while it runs (its simulator, its settings).
pub type Keep = Box<dyn std::any::Any + Send + Sync>;

#[derive(Default)]
pub struct Shell {
    desktop: RwLock<Option<Arc<Desktop>>>,
    /// Why the desktop could not be opened (unreadable settings, no keychain), for the UI.
    startup_error: RwLock<Option<Error>>,
    /// Keeps the demo's simulator and throwaway settings alive while the demo runs.
    demo: Mutex<Option<Keep>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Window mode (`--window`, issue 30): the settings folder of the resident tray
    /// process that holds the desktop; this process holds none.
    resident: OnceLock<Paths>,
    /// Window mode: the sign-in the resident began, as its answer said (authorize URL,
    /// redirect URI), for the sign-in window to show and to catch.
    resident_sign_in: Mutex<Option<(String, String)>>,
}

/// Locks `m`, also after a panic elsewhere poisoned it (the state stays usable).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shell {
    pub fn desktop(&self) -> Result<Arc<Desktop>, Error> {
        if let Some(d) = self.desktop.read().unwrap_or_else(|p| p.into_inner()).clone() {
            return Ok(d);
        }
        Err(self.startup_error().unwrap_or(Error::Starting))
    }

    pub fn startup_error(&self) -> Option<Error> {
        self.startup_error.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The settings could not be opened: `desktop()` answers with this error from now on.
    pub fn set_startup_error(&self, e: Error) {
        *self.startup_error.write().unwrap_or_else(|p| p.into_inner()) = Some(e);
    }

    /// The resident's settings folder, in window mode.
    pub fn resident(&self) -> Option<&Paths> {
        self.resident.get()
    }

    /// Makes this a window process of the resident serving `paths` (once, at start).
    pub fn set_resident(&self, paths: Paths) {
        let _ = self.resident.set(paths);
    }

    /// Window mode: the resident's sign-in in progress, `(authorize URL, redirect URI)`.
    pub fn resident_sign_in(&self) -> Option<(String, String)> {
        lock(&self.resident_sign_in).clone()
    }

    /// Keeps a sign-in start the resident answered with (any answer carrying both an
    /// `authorize_url` and a `redirect_uri`), or forgets it (`None`).
    pub fn set_resident_sign_in(&self, start: Option<(String, String)>) {
        *lock(&self.resident_sign_in) = start;
    }

    pub fn is_demo(&self) -> bool {
        self.desktop().map(|d| d.is_demo()).unwrap_or(false)
    }

    /// Makes `desktop` the current one (clearing a start-up error) and keeps `keep` alive
    /// with it. Call [`Shell::stop`] first; `lifecycle::set_desktop` does both.
    pub fn replace(&self, desktop: Arc<Desktop>, keep: Option<Keep>) {
        *self.desktop.write().unwrap_or_else(|p| p.into_inner()) = Some(desktop);
        *self.startup_error.write().unwrap_or_else(|p| p.into_inner()) = None;
        *lock(&self.demo) = keep;
    }

    /// Tasks that follow the current desktop; [`Shell::stop`] aborts them.
    pub fn add_tasks(&self, tasks: impl IntoIterator<Item = JoinHandle<()>>) {
        lock(&self.tasks).extend(tasks);
    }

    /// Stops following the desktop, stops its token server (open requests finish first)
    /// and saves any pair the vault refused. Called on quit (`RunEvent::Exit`, outside the async runtime: waits there)
    /// and when another desktop takes over (inside it: the stop runs on its own).
    pub fn stop(&self) {
        for t in lock(&self.tasks).drain(..) {
            t.abort();
        }
        let Some(desktop) = self.desktop.read().unwrap_or_else(|p| p.into_inner()).clone() else { return };
        // Stops the token server, and stores any token pair the vault refused earlier:
        // the only copy of a live refresh token must not die with the app.
        let stopping = async move {
            desktop.shutdown().await;
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            tauri::async_runtime::spawn(stopping);
        } else {
            tauri::async_runtime::block_on(stopping);
        }
    }
}
