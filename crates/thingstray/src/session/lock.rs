//! The cross-process refresh lock: one file per connection, locked with the OS's advisory
//! file lock (`File::lock`, flock on Unix, LockFileEx on Windows; in std since Rust 1.89,
//! so no crate is needed). The desktop app, CLI runs and the token server all take it
//! before refreshing, and re-read the vault inside it: the loser of a race finds the
//! winner's new pair instead of spending a dead refresh token.
//!
//! The OS drops the lock when its holder dies, so a crashed process never wedges it.

use std::fs::File;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct RefreshLock {
    path: PathBuf,
}

/// Held while refreshing; dropping it closes the file, which releases the lock.
#[derive(Debug)]
pub struct LockGuard {
    _file: File,
}

impl RefreshLock {
    pub fn new(path: PathBuf) -> RefreshLock {
        RefreshLock { path }
    }

    pub async fn acquire(&self, timeout: Duration) -> Result<LockGuard> {
        let what = || format!("locking {}", self.path.display());
        let file = crate::fsutil::open_lock_file(&self.path)?;
        // A blocking lock on the blocking pool wakes the moment the holder lets go. If we
        // give up waiting, the detached job still finishes and drops the file, unlocking.
        let job = tokio::task::spawn_blocking(move || file.lock().map(|_| file));
        match tokio::time::timeout(timeout, job).await {
            Ok(Ok(Ok(file))) => Ok(LockGuard { _file: file }),
            Ok(Ok(Err(e))) => Err(Error::io(what(), e)),
            Ok(Err(e)) => Err(Error::io(what(), e)),
            Err(_) => Err(Error::io(
                what(),
                format!("another ThingsTray process held it for over {} s", timeout.as_secs()),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_second_holder_waits_for_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let lock = RefreshLock::new(dir.path().join("locks/home.lock"));
        let first = lock.acquire(Duration::from_secs(5)).await.unwrap();
        let e = lock.acquire(Duration::from_millis(100)).await.unwrap_err();
        assert_eq!(e.code(), "io");
        drop(first);
        lock.acquire(Duration::from_secs(5)).await.unwrap();
    }
}
