//! The processes of the "vault refuses writes" section, and the vault they share.
//!
//! The refusal: the tests run as root, where `chmod` stops no write, and a real full disk
//! would take the whole machine with it. So each process wraps the real file vault
//! (`FileStore`, the same file and lock as always) in [`Refusing`]: while the switch file
//! `vault-refuses` exists in the config dir, every write fails before touching the file,
//! with the error the file vault gives on a full disk or a read-only file system (an
//! `io` error from the write). Reads pass through. Every process of the run looks at the
//! same switch, so the driver turns the refusal on and off for all of them at once.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use thingstray::session::SessionOptions;
use thingstray::vault::{FileStore, SecretStore, Vault};
use thingstray::Error;

use crate::world::Shared;

pub fn switch_path(dir: &Path) -> PathBuf {
    dir.join("vault-refuses")
}

/// How the vault refuses: `full` (no space left) or `read-only`.
pub fn refuse(dir: &Path, how: &str) {
    std::fs::write(switch_path(dir), how).expect("the switch file");
}

pub fn allow(dir: &Path) {
    let _ = std::fs::remove_file(switch_path(dir));
}

pub struct Refusing {
    inner: FileStore,
    file: PathBuf,
    switch: PathBuf,
}

impl Refusing {
    fn refusal(&self) -> Option<Error> {
        let how = std::fs::read_to_string(&self.switch).ok()?;
        let kind = if how.trim() == "read-only" {
            std::io::ErrorKind::ReadOnlyFilesystem
        } else {
            std::io::ErrorKind::StorageFull
        };
        // What `write_atomic` returns when the temp file cannot be written.
        Some(Error::Io {
            what: format!("writing {}", self.file.display()),
            detail: std::io::Error::from(kind).to_string(),
        })
    }
}

impl SecretStore for Refusing {
    fn get(&self, key: &str) -> thingstray::Result<Option<SecretString>> {
        self.inner.get(key)
    }
    fn set(&self, key: &str, value: &SecretString) -> thingstray::Result<()> {
        match self.refusal() {
            Some(e) => Err(e),
            None => self.inner.set(key, value),
        }
    }
    fn delete(&self, key: &str) -> thingstray::Result<()> {
        match self.refusal() {
            Some(e) => Err(e),
            None => self.inner.delete(key),
        }
    }
    fn describe(&self) -> String {
        format!("{} (refuses writes while {} exists)", self.inner.describe(), self.switch.display())
    }
}

/// The world as a child opens it, with the refusable vault in place of the plain one.
fn open(dir: &Path) -> thingstray::Result<Shared> {
    let mut shared = Shared::open(dir)?;
    let file = shared.paths.file_vault();
    let store = Refusing { inner: FileStore::new(file.clone()), file, switch: switch_path(dir) };
    shared.vault = Vault::new(Arc::new(store));
    Ok(shared)
}

/// One line on stdout for the driver: `ok TOKEN`, `invalid TOKEN` (a token the simulator
/// does not take), or `err CODE MESSAGE`.
fn say(line: String) {
    println!("{line}");
}

fn err_line(e: &Error) -> String {
    format!("err {} {e}", e.code())
}

async fn checked(shared: &Shared, sim: &str, token: &str) -> String {
    let at = shared.clock.now_ms();
    let exp = crate::soak_procs::expiry(&reqwest::Client::new(), sim, token).await;
    if exp.is_some_and(|e| at < e) {
        format!("ok {token}")
    } else {
        format!("invalid {token}")
    }
}

/// `thingstray token`: a one-shot process (`probe_vault` on, as the CLI opens it), its
/// refresh-lock wait shortened to `lock_timeout` (the CLI waits 60 s).
pub async fn one_shot(dir: &Path, sim: &str, lock_timeout: Duration) {
    let shared = match open(dir) {
        Ok(s) => s,
        Err(e) => return say(err_line(&e)),
    };
    let opts = SessionOptions { probe_vault: true, lock_timeout, ..SessionOptions::default() };
    let conn = match shared.connection(opts, Duration::from_secs(10)).await {
        Ok(c) => c,
        Err(e) => return say(err_line(&e)),
    };
    match conn.session.token_valid_for(Duration::from_secs(60)).await {
        Ok(g) => say(checked(&shared, sim, g.secret()).await),
        Err(e) => say(err_line(&e)),
    }
}

/// A long-running process as `thingstray serve` runs one (default session options, the
/// background refresher), driven line by line on stdin: `token` asks for a token valid a
/// minute; `exit MS` does what serve does on SIGTERM (stop the refresher, then
/// `Session::flush` within MS) and exits 0, or 1 when the pair could not be stored.
pub async fn holder(dir: &Path, sim: &str) -> i32 {
    let shared = open(dir).expect("the world opens");
    let conn =
        shared.connection(SessionOptions::default(), Duration::from_secs(10)).await.expect("the connection opens");
    let refresher = conn.session.spawn_refresher();
    say("ready".into());
    // stdin on a plain thread (tokio's own stdin is not among the workspace's features).
    let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    while let Some(line) = lines.recv().await {
        match line.split_once(' ').unwrap_or((line.as_str(), "")) {
            ("token", _) => match conn.session.token_valid_for(Duration::from_secs(60)).await {
                Ok(g) => say(checked(&shared, sim, g.secret()).await),
                Err(e) => say(err_line(&e)),
            },
            ("exit", ms) => {
                refresher.abort();
                say("flushing".into());
                let within = Duration::from_millis(ms.trim().parse().unwrap_or(10_000));
                return match conn.session.flush(within).await {
                    Ok(()) => {
                        say("flushed".into());
                        0
                    }
                    Err(e) => {
                        say(err_line(&e));
                        1
                    }
                };
            }
            _ => say(format!("err usage unknown command {line}")),
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn the_switch_refuses_writes_for_every_store_on_the_dir_and_reads_pass() {
        let dir = tempfile::tempdir().unwrap();
        let store = |d: &Path| {
            let file = d.join("secrets.json");
            Refusing { inner: FileStore::new(file.clone()), file, switch: switch_path(d) }
        };
        let (a, b) = (store(dir.path()), store(dir.path()));
        a.set("home/tokens", &SecretString::from("one".to_string())).unwrap();
        refuse(dir.path(), "full");
        let e = b.set("home/tokens", &SecretString::from("two".to_string())).unwrap_err();
        assert_eq!(e.code(), "io");
        assert!(e.to_string().contains("no storage space"), "{e}");
        refuse(dir.path(), "read-only");
        assert!(a.delete("home/tokens").unwrap_err().to_string().contains("read-only"));
        assert_eq!(b.get("home/tokens").unwrap().unwrap().expose_secret(), "one", "reads pass, nothing was written");
        allow(dir.path());
        b.set("home/tokens", &SecretString::from("two".to_string())).unwrap();
        assert_eq!(a.get("home/tokens").unwrap().unwrap().expose_secret(), "two");
    }
}
