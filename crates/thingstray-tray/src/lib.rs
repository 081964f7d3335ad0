//! ThingsTray's resident process (issue 30): what stays running all day, without a
//! browser engine or GTK. It holds the sessions and their refresh, the poller, the agent
//! socket (the CLI, and the windows, ask it for everything), the token server, sharing,
//! the alerts and the tray icon with its menu; a window is another process
//! (`thingstray-desktop`), started when the user asks for one.
//!
//! On Linux the tray is a StatusNotifierItem over D-Bus (ksni), built from the core's
//! [`thingstray::desktop::TrayModel`] like the app's own tray. On Windows and macOS the
//! app keeps its Tauri tray; this program says so and exits (untested there).
//!
//! The modules, each using only those before it:
//!
//! `launch <- demo <- icon <- notify <- clipboard <- menu <- resident`
//!
//! - `launch`: starts a window process (`thingstray-desktop --open …`).
//! - `demo`: `--demo`, the simulator in this process and a throwaway settings folder.
//! - `icon`: the tray's PNGs as the pixmaps SNI carries.
//! - `notify`: notifications, and alerts whose click opens the device window.
//! - `clipboard`: "Copy access token".
//! - `menu`: the StatusNotifierItem: the model as a dbusmenu, clicks as actions.
//! - `resident`: the desktop, its background tasks, the tray, and quit.

#[cfg(target_os = "linux")]
pub mod clipboard;
pub mod demo;
#[cfg(target_os = "linux")]
pub mod icon;
pub mod launch;
#[cfg(target_os = "linux")]
pub mod menu;
#[cfg(target_os = "linux")]
pub mod notify;
#[cfg(target_os = "linux")]
pub mod resident;

/// Command-line switches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Args {
    /// The simulator in this process, throwaway settings, signed in at once.
    pub demo: bool,
}

impl Args {
    pub fn parse(args: impl Iterator<Item = String>) -> Result<Args, String> {
        let mut a = Args::default();
        for arg in args.skip(1) {
            match arg.as_str() {
                "--demo" => a.demo = true,
                "-h" | "--help" => return Err(USAGE.to_string()),
                other => return Err(format!("unknown argument `{other}`\n\n{USAGE}")),
            }
        }
        Ok(a)
    }
}

pub const USAGE: &str = "thingstray-tray: ThingsTray's tray, without a window (windows are `thingstray-desktop`)

Usage: thingstray-tray [--demo]

  --demo   run against the SmartThings simulator, in this process, with throwaway settings";

#[cfg(test)]
mod tests {
    use super::Args;

    fn parse(args: &[&str]) -> Result<Args, String> {
        Args::parse(std::iter::once("thingstray-tray").chain(args.iter().copied()).map(String::from))
    }

    #[test]
    fn switches_are_read_and_anything_else_is_refused_with_the_usage() {
        assert_eq!(parse(&[]), Ok(Args::default()));
        assert_eq!(parse(&["--demo"]), Ok(Args { demo: true }));
        let refused = parse(&["--dmeo"]).unwrap_err();
        assert!(refused.contains("unknown argument `--dmeo`") && refused.contains("Usage:"), "{refused}");
    }
}
