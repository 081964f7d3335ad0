//! Starts a window: the resident has none, so "Open ThingsTray", "Settings…" or a click
//! on an alert start `thingstray-desktop --window --open <label>`, which asks this process
//! for everything over the agent socket. A window process already running takes the
//! request over (the app's single instance) and the one started exits.

use std::path::PathBuf;

use thingstray::config::{Paths, ENV_CONFIG_DIR};

/// The windows a tray action may ask for, as `thingstray-desktop --open` names them.
pub const DEVICES: &str = "devices";
pub const SETTINGS: &str = "settings";
pub const WIZARD: &str = "wizard";

/// Where the window program is: `THINGSTRAY_DESKTOP` (tests, the report), else beside
/// this program (both are installed in /usr/bin, and built in one target folder), else
/// on the PATH.
pub fn desktop_program() -> PathBuf {
    if let Some(p) = std::env::var_os("THINGSTRAY_DESKTOP").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let name = format!("thingstray-desktop{}", std::env::consts::EXE_SUFFIX);
    std::env::current_exe()
        .ok()
        .and_then(|me| me.parent().map(|dir| dir.join(&name)))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(name))
}

/// The arguments that open `label`, at `device` of `connection` when given.
pub fn window_args(label: &str, device: Option<(&str, &str)>) -> Vec<String> {
    let mut args = vec!["--window".to_string(), "--open".to_string(), label.to_string()];
    if let Some((connection, device)) = device {
        args.extend(["--device".to_string(), format!("{connection}/{device}")]);
    }
    args
}

/// Starts windows for one resident.
#[derive(Debug, Clone)]
pub struct Launcher {
    program: PathBuf,
    /// The resident's settings folder when it is not the user's own (the demo's, a
    /// test's): the window must ask this resident, whose agent socket is in that folder.
    config_dir: Option<PathBuf>,
}

impl Launcher {
    pub fn new(paths: &Paths) -> Launcher {
        let config_dir = (!paths.is_os_default()).then(|| paths.dir.clone());
        Launcher { program: desktop_program(), config_dir }
    }

    /// The window `label`, at a device when given.
    pub fn open(&self, label: &str, device: Option<(&str, &str)>) {
        self.start(window_args(label, device));
    }

    /// The sign-in window for `connection`, whose sign-in this resident has begun.
    pub fn sign_in(&self, connection: &str) {
        self.start(vec!["--window".into(), "--sign-in".into(), connection.into()]);
    }

    /// Starts the window process and reaps it when it ends (no zombie for a resident
    /// that runs for weeks). A failure is logged: the tray stays usable.
    fn start(&self, args: Vec<String>) {
        let mut cmd = tokio::process::Command::new(&self.program);
        cmd.args(args).stdin(std::process::Stdio::null());
        if let Some(dir) = &self.config_dir {
            cmd.env(ENV_CONFIG_DIR, dir);
        }
        match cmd.spawn() {
            Ok(mut child) => {
                tokio::spawn(async move {
                    let _ = child.wait().await;
                });
            }
            Err(e) => tracing::error!(program = %self.program.display(), "could not start a window: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::window_args;

    #[test]
    fn a_window_is_asked_for_by_name_and_at_a_device() {
        assert_eq!(window_args("settings", None), ["--window", "--open", "settings"]);
        assert_eq!(
            window_args("devices", Some(("home", "7d24"))),
            ["--window", "--open", "devices", "--device", "home/7d24"]
        );
    }
}
