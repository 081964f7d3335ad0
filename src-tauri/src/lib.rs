//! ThingsTray's desktop app: a thin Tauri 2 shell over `thingstray::desktop`.
//!
//! It only translates. A tray click or an IPC call becomes one call into
//! [`thingstray::desktop::Desktop`]; a change there becomes a tray menu and window update.
//! No OAuth, HTTP or keychain code lives here.
//!
//! Linux trays (AppIndicator) report no clicks on the icon itself in Tauri 2: there the
//! menu is the whole tray UI. On Windows and macOS a left click opens the device window.
//!
//! The modules, each using only those before it (no cycle; `house` below checks it):
//!
//! `state <- idle <- notify <- windows <- sign_in <- deep_link <- tray <- lifecycle <- demo <- commands`
//!
//! - `state`: [`Shell`], the current desktop (real or demo) and the tasks following it.
//! - `idle`: ends WebKit's network process once no window is open.
//! - `notify`: desktop notifications.
//! - `windows`: opens and closes the app's windows, nothing else.
//! - `sign_in`: the sign-in window and the one path every sign-in answer takes.
//! - `deep_link`: `thingstray://` links, handed to `sign_in`.
//! - `tray`: the tray icon and menu.
//! - `lifecycle`: start-up, a second launch, the desktop being followed, quit.
//! - `demo`: `--demo` and "Try the demo" (the simulator in-process).
//! - `commands`: the IPC commands, one call into the core each.

mod commands;
mod deep_link;
mod demo;
mod idle;
mod lifecycle;
mod notify;
mod sign_in;
mod state;
mod tray;
mod windows;

pub use lifecycle::{set_desktop, Args};
pub use state::Shell;

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
        .plugin(tauri_plugin_single_instance::init(|app, argv, _cwd| lifecycle::reopen(app, argv)))
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_clipboard_manager::init())
        .plugin(tauri_plugin_autostart::init(tauri_plugin_autostart::MacosLauncher::LaunchAgent, None))
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_notification::init());

    let app = builder(base, Shell::default())
        .setup(move |app| {
            let handle = app.handle();
            lifecycle::start_up(handle, &args)?;
            if args.demo {
                demo::start(handle, true)?;
            }
            Ok(())
        })
        .build(tauri::generate_context!())
        .expect("ThingsTray could not start");

    app.run(|app, event| lifecycle::on_event(app, event));
}

/// The house rules of this crate, checked on its source.
#[cfg(test)]
mod house {
    use std::path::Path;

    fn src(file: &str) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(file);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// The chain in this file's module doc: `a <- b <- c`, b may use a, c a and b.
    fn chain() -> Vec<String> {
        let lib = src("lib.rs");
        let line = lib.lines().find(|l| l.starts_with("//! `") && l.contains(" <- ")).expect("the module chain in the lib.rs doc");
        line.trim_start_matches("//! ").trim_matches('`').split(" <- ").map(str::to_string).collect()
    }

    /// The crate modules `code` names: `crate::x::…`, `crate::x`, `crate::{x, y::z}`.
    fn uses(code: &str) -> Vec<String> {
        let mut out = vec![];
        for (at, _) in code.match_indices("crate::") {
            let rest = &code[at + "crate::".len()..];
            let paths = match rest.strip_prefix('{') {
                Some(group) => {
                    let mut depth = 0;
                    let end = group
                        .char_indices()
                        .find(|&(_, c)| {
                            depth += match c {
                                '{' => 1,
                                '}' => -1,
                                _ => 0,
                            };
                            depth < 0
                        })
                        .map(|(i, _)| i)
                        .expect("a closed `crate::{…}`");
                    split_top_level(&group[..end])
                }
                None => vec![rest.to_string()],
            };
            for p in paths {
                let name: String = p.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if !name.is_empty() {
                    out.push(name);
                }
            }
        }
        out
    }

    fn split_top_level(group: &str) -> Vec<String> {
        let (mut out, mut cur, mut depth) = (vec![], String::new(), 0);
        for c in group.chars() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    out.push(std::mem::take(&mut cur));
                    continue;
                }
                _ => {}
            }
            cur.push(c);
        }
        out.push(cur);
        out
    }

    #[test]
    fn each_module_uses_only_those_before_it() {
        let chain = chain();
        assert_eq!(chain.first().map(String::as_str), Some("state"), "{chain:?}");
        let mut problems = vec![];
        for (i, module) in chain.iter().enumerate() {
            for used in uses(&src(&format!("{module}.rs"))) {
                match chain.iter().position(|m| *m == used) {
                    Some(j) if j < i => {}
                    Some(_) => problems.push(format!("{module} uses {used}, which comes after it")),
                    None => problems.push(format!("{module} uses crate::{used}, which is not in the chain")),
                }
            }
        }
        assert!(problems.is_empty(), "{problems:#?}");
    }

    #[test]
    fn every_module_is_in_the_chain() {
        let chain = chain();
        let lib = src("lib.rs");
        let declared: Vec<&str> =
            lib.lines().filter_map(|l| l.strip_prefix("mod ").or_else(|| l.strip_prefix("pub mod "))?.strip_suffix(';')).collect();
        let mut files: Vec<String> = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter_map(|f| f.strip_suffix(".rs").map(str::to_string))
            .filter(|f| f != "lib" && f != "main")
            .collect();
        files.sort();
        let mut sorted_chain = chain.clone();
        sorted_chain.sort();
        let mut sorted_declared: Vec<String> = declared.iter().map(|d| d.to_string()).collect();
        sorted_declared.sort();
        assert_eq!(files, sorted_chain, "every file in src/ is a module of the chain");
        assert_eq!(sorted_declared, sorted_chain, "lib.rs declares exactly the chain's modules");
    }

    #[test]
    fn the_reference_finder_sees_every_form() {
        let code = "use crate::state::Shell;\nuse crate::{deep_link, idle::x, tray::{a, b}};\nlet _ = crate::windows::open(app);";
        assert_eq!(uses(code), ["state", "deep_link", "idle", "tray", "windows"]);
    }
}
