//! What the app gives back when its last window closes.
//!
//! On Linux, WebKitGTK keeps a web context's network process for as long as the context
//! lives, and Tauri keeps every context it made until the app exits (tauri-apps/tauri#14626,
//! tauri-apps/wry#590); neither offers a stable way to let one go. For a tray app whose
//! window is open a minute a day, that is a WebKitNetworkProcess (and its memory) held all
//! day for nothing. So once no window has been open for a short while, the app ends its
//! own network processes. WebKit treats that as a network process that went away with no
//! page to reload, and starts a new one when the next window needs it.
//!
//! "A short while" is counted from the last window event: every window opened or
//! destroyed bumps a counter, and the release goes ahead only if the counter has not moved
//! for 3 s and no window is listed. Both are checked on the main thread, where windows are
//! made, so a window cannot be half-built while its network process is signalled.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tauri::{AppHandle, Manager, Runtime};

/// How long the app must have had no window before the network processes are ended.
const AFTER: Duration = Duration::from_secs(3);

/// Bumped by every window opened or destroyed.
static EVENTS: AtomicU64 = AtomicU64::new(0);

/// Call before a window is built.
pub fn window_opening() {
    EVENTS.fetch_add(1, Ordering::SeqCst);
}

/// Call when a window was destroyed: if no window event follows for [`AFTER`] and none
/// is open then, releases the web helpers. (The window may still be listed while its own
/// Destroyed event runs.)
pub fn window_destroyed<R: Runtime>(app: &AppHandle<R>) {
    let seen = EVENTS.fetch_add(1, Ordering::SeqCst) + 1;
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(AFTER).await;
        let handle = app.clone();
        let _ = app.run_on_main_thread(move || {
            if EVENTS.load(Ordering::SeqCst) == seen && handle.webview_windows().is_empty() {
                release();
            }
        });
    });
}

#[cfg(target_os = "linux")]
fn release() {
    let me = std::process::id();
    let ended = linux::descendants(me)
        .into_iter()
        .filter(|pid| linux::program(*pid).is_some_and(|p| p == "WebKitNetworkProcess"))
        .filter(|pid| linux::terminate(*pid))
        .count();
    if ended > 0 {
        tracing::info!(ended, "no window open: ended WebKit's network process (a new one starts with the next window)");
    }
}

#[cfg(not(target_os = "linux"))]
fn release() {
    // WKWebView and WebView2 end their helper processes with the last web view.
}

#[cfg(target_os = "linux")]
mod linux {
    /// Every process below `root`, read from /proc (children before grandchildren).
    pub fn descendants(root: u32) -> Vec<u32> {
        let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter_map(|pid| Some((pid, parent(pid)?)))
            .collect();
        let mut out = vec![];
        let mut frontier = vec![root];
        while let Some(p) = frontier.pop() {
            for (child, _) in parents.iter().filter(|(_, pp)| *pp == p) {
                out.push(*child);
                frontier.push(*child);
            }
        }
        out
    }

    /// The parent pid, from /proc/PID/stat (after the last `)`: `comm` may hold anything).
    fn parent(pid: u32) -> Option<u32> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let (_, rest) = stat.rsplit_once(')')?;
        rest.split_whitespace().nth(1)?.parse().ok()
    }

    /// The program's file name (`comm` is cut at 15 characters).
    pub fn program(pid: u32) -> Option<String> {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let first = cmdline.split(|b| *b == 0).next()?;
        Some(String::from_utf8_lossy(first).rsplit('/').next()?.to_string())
    }

    pub fn terminate(pid: u32) -> bool {
        let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
        // SAFETY: kill(2) takes plain integers; the pid is our own descendant.
        unsafe { libc::kill(pid, libc::SIGTERM) == 0 }
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn a_child_process_is_found_by_its_program_name() {
            use std::io::BufRead;
            use std::process::{Command, Stdio};
            // The child says when it runs: right after spawn its exec may not be done and
            // /proc/PID/cmdline can still be empty.
            let mut child = Command::new("sh")
                .args(["-c", "echo ready; read x"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let mut line = String::new();
            std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
            assert_eq!(line.trim(), "ready");
            let found = super::descendants(std::process::id());
            assert!(found.contains(&child.id()), "{found:?}");
            assert_eq!(super::program(child.id()).as_deref(), Some("sh"));
            assert!(super::terminate(child.id()));
            let status = child.wait().unwrap();
            assert!(!status.success(), "ended by the signal");
        }
    }
}
