//! The one list of IPC commands (build.rs `COMMANDS`) against everything else that names
//! them: `commands.rs`, the capabilities, `ui/ipc.js` and the core's table of calls a
//! window in another process makes (issue 30). Split from ipc.rs, which drives the
//! commands themselves on the mock runtime.

use serde_json::Value;
use thingstray_desktop::COMMANDS;

fn source(path: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn sorted<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut v: Vec<&str> = names.into_iter().collect();
    v.sort_unstable();
    v
}

/// Every `'…'` that directly follows `marker` in `text`.
fn quoted_after<'a>(text: &'a str, marker: &str) -> Vec<&'a str> {
    text.match_indices(marker).filter_map(|(at, _)| text[at + marker.len()..].split('\'').next()).collect()
}

#[test]
fn the_command_list_names_each_command_once() {
    assert!(COMMANDS.len() >= 30, "{COMMANDS:?}");
    let unique = sorted(COMMANDS.iter().copied());
    let mut deduped = unique.clone();
    deduped.dedup();
    assert_eq!(unique, deduped, "a command is listed twice in build.rs");
    for c in COMMANDS {
        assert!(
            !c.is_empty() && c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_'),
            "{c:?} is not a command name"
        );
    }
}

/// The handler is generated from the list, so a listed name without its fn fails to
/// compile; this is the other way: no command fn left out of the list (and the handler).
#[test]
fn commands_rs_defines_exactly_the_listed_commands() {
    let code = source("src/commands.rs");
    let defined: Vec<&str> = code
        .split("#[tauri::command]")
        .skip(1)
        .map(|after| {
            let sig = after.trim_start().trim_start_matches("pub ").trim_start_matches("async ");
            let name = sig.strip_prefix("fn ").expect("#[tauri::command] on a `pub fn`");
            &name[..name.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap()]
        })
        .collect();
    assert_eq!(sorted(defined), sorted(COMMANDS.iter().copied()));
}

/// The core's table of calls a window in another process makes of the resident (issue
/// 30, `thingstray::desktop::calls`) names only listed commands: a window's `invoke` is
/// forwarded under its own name, so a call the list does not have could never be made.
#[test]
fn the_cores_window_calls_are_listed_commands() {
    let calls: Vec<&str> = thingstray::desktop::calls::CALLS.iter().map(|c| c.name).collect();
    let missing: Vec<&&str> = calls.iter().filter(|c| !COMMANDS.contains(c)).collect();
    assert!(missing.is_empty(), "calls that are no command: {missing:?}");
    assert!(calls.len() >= 30, "{calls:?}");
}

/// Every `allow-…` a window is granted is one of the listed commands' (a typo or a
/// command removed from the list would otherwise fail only at build time, if at all),
/// and every listed command is granted to some window (else nothing can call it).
#[test]
fn the_capabilities_grant_only_listed_commands_and_each_to_some_window() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("capabilities");
    let mut granted = vec![];
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let cap: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for p in cap["permissions"].as_array().unwrap() {
            let id = p.as_str().or_else(|| p["identifier"].as_str()).unwrap();
            if id.contains(':') {
                continue; // a plugin's (core:event, clipboard-manager)
            }
            let cmd = id
                .strip_prefix("allow-")
                .unwrap_or_else(|| panic!("{}: {id} is not an allow-<command>", path.display()));
            let cmd = cmd.replace('-', "_");
            assert!(
                COMMANDS.contains(&cmd.as_str()),
                "{} grants {id}, but build.rs does not list {cmd}",
                path.display()
            );
            granted.push(cmd);
        }
    }
    for c in COMMANDS {
        assert!(granted.iter().any(|g| g == c), "no window is granted allow-{}", c.replace('_', "-"));
    }
}

/// ui/ipc.js, the one module of the UI that calls Rust, calls each listed command and
/// nothing else (besides the plugins' `plugin:…|…`).
#[test]
fn ui_ipc_js_calls_exactly_the_listed_commands() {
    let js = source("../ui/ipc.js");
    let called: Vec<&str> = quoted_after(&js, "call('").into_iter().filter(|c| !c.starts_with("plugin:")).collect();
    let mut unique = sorted(called);
    unique.dedup();
    assert_eq!(unique, sorted(COMMANDS.iter().copied()));
    assert_eq!(quoted_after("a call('x', {}) b call('plugin:y|z')", "call('"), ["x", "plugin:y|z"]);
}
