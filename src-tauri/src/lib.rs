//! ThingsTray's desktop app: a thin Tauri 2 shell over `thingstray::desktop`.
//!
//! It only translates. A tray click or an IPC call becomes one call into
//! [`thingstray::desktop::Desktop`]; a change there becomes a tray menu and window update.
//! No OAuth, HTTP or keychain code lives here.
//!
//! Linux trays (AppIndicator) report no clicks on the icon itself in Tauri 2: there the
//! menu is the whole tray UI. On Windows and macOS a left click opens the device window.

mod commands;
mod deep_link;
mod demo;
mod idle;
mod shell;
mod tray;
mod windows;

use tauri::{Manager, RunEvent};

pub use shell::Shell;

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
                _ if arg.starts_with("thingstray:") => a.link = true,
                _ => {}
            }
        }
        a
    }
}

/// Every command the UI may call. The capabilities in `capabilities/` grant each window
/// only the ones it uses; build.rs generates an `allow-<command>` permission for each.
#[macro_export]
macro_rules! handler {
    () => {
        tauri::generate_handler![
            $crate::commands::app_info,
            $crate::commands::setup_answers,
            $crate::commands::check_setup,
            $crate::commands::start_setup,
            $crate::commands::start_demo,
            $crate::commands::sign_in_again,
            $crate::commands::open_sign_in_window,
            $crate::commands::open_sign_in_in_browser,
            $crate::commands::finish_sign_in,
            $crate::commands::cancel_sign_in,
            $crate::commands::connections,
            $crate::commands::devices,
            $crate::commands::cached_devices,
            $crate::commands::switch_device,
            $crate::commands::set_level,
            $crate::commands::set_color_temperature,
            $crate::commands::run_scene,
            $crate::commands::copy_token,
            $crate::commands::sign_out,
            $crate::commands::settings,
            $crate::commands::set_favorite,
            $crate::commands::set_hidden,
            $crate::commands::set_poll_interval,
            $crate::commands::set_tray_refresh,
            $crate::commands::set_start_at_login,
            $crate::commands::set_panel_theme,
            $crate::commands::open_window,
            $crate::commands::close_window,
            $crate::commands::rename_connection,
            $crate::commands::token_server,
            $crate::commands::set_token_server,
            $crate::commands::reveal_server_secret,
            $crate::commands::copy_server_secret,
            $crate::commands::rotate_server_secret,
        ]
    };
}

/// The builder with every plugin and command, for the real runtime and for tests with
/// `tauri::test::mock_builder()`.
pub fn builder<R: tauri::Runtime>(builder: tauri::Builder<R>, shell: Shell) -> tauri::Builder<R> {
    builder.manage(shell).invoke_handler(handler!())
}

pub fn run() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,tao=warn,wry=warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse(std::env::args());

    // Single instance first: a second launch (e.g. the system opening a
    // `thingstray://oauth/callback?…` link) hands its arguments to the running app,
    // whose deep-link plugin turns them into an `on_open_url` event, and exits.
    let base = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, argv, _cwd| {
            tracing::info!(args = argv.len(), "a second launch was forwarded here");
            let again = Args::parse(argv.into_iter());
            match (again.open, again.toggle) {
                (_, Some(label)) => windows::toggle(app, &label),
                (Some(label), None) => windows::open(app, &label),
                // A link is the deep-link plugin's to handle.
                (None, None) if !again.link => windows::open_main(app),
                (None, None) => {}
            }
        }))
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_clipboard_manager::init())
        .plugin(tauri_plugin_autostart::init(tauri_plugin_autostart::MacosLauncher::LaunchAgent, None))
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_notification::init());

    let app = builder(base, Shell::default())
        .setup(move |app| {
            let handle = app.handle().clone();
            tray::install(&handle)?;
            deep_link::install(&handle, !args.demo);
            if args.demo {
                demo::start(&handle, true)?;
            } else {
                // At start nothing is open yet, so a toggle opens.
                shell::open_real(&handle, args.open.clone().or(args.toggle.clone()))?;
            }
            Ok(())
        })
        .build(tauri::generate_context!())
        .expect("ThingsTray could not start");

    app.run(|app, event| match event {
        // A tray app keeps running with no window open; only Quit (an explicit exit
        // code) ends it.
        RunEvent::ExitRequested { code: None, api, .. } => api.prevent_exit(),
        RunEvent::WindowEvent { event: tauri::WindowEvent::Destroyed, .. } => idle::window_destroyed(app),
        RunEvent::Exit => {
            if let Some(shell) = app.try_state::<Shell>() {
                shell.stop();
            }
        }
        _ => {}
    });
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
    }
}
