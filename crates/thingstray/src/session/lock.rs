//! The cross-process refresh lock: one file per connection, locked with the OS's advisory
//! file lock (`File::lock`, flock on Unix, LockFileEx on Windows; in std since Rust 1.89,
//! so no crate is needed). The desktop app, CLI runs and the token server all take it
//! before refreshing, and re-read the vault inside it: the loser of a race finds the
//! winner's new pair instead of spending a dead refresh token.
//!
//! The OS drops the lock when its holder dies, so a crashed process never wedges it.
//!
//! Beside the lock, the connection's hand-over record (record.rs): a computer that decided
//! to give the session away never refreshes again, in any process, and every process
//! reads that under this lock ([`RefreshLock::fence`]) right before spending the token.
//!
//! A session kept in a shared store (keep.rs) is locked by its row instead: the same
//! `acquire`, a guard that reads and writes the pair.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::keep::{PairGuard, SharedPair};
use crate::error::{Error, Result};

#[derive(Clone)]
pub struct RefreshLock {
    path: PathBuf,
    /// The connection's hand-over record (`Paths::hand_over_record`).
    record: Option<PathBuf>,
    /// A pair in a shared store: its lock replaces the file's.
    shared: Option<Arc<dyn SharedPair>>,
}

impl std::fmt::Debug for RefreshLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.shared {
            Some(s) => f.debug_tuple("RefreshLock").field(&s.describe()).finish(),
            None => f.debug_tuple("RefreshLock").field(&self.path).finish(),
        }
    }
}

/// Held while refreshing; dropping it closes the file (or ends the row's transaction),
/// which releases the lock.
pub struct LockGuard {
    pub(super) held: Held,
}

pub(super) enum Held {
    File(#[allow(dead_code, reason = "held for its lock; dropping it unlocks")] File),
    Row(Box<dyn PairGuard>),
}

impl std::fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockGuard").finish_non_exhaustive()
    }
}

impl RefreshLock {
    pub fn new(path: PathBuf) -> RefreshLock {
        RefreshLock { path, record: None, shared: None }
    }

    /// The lock of a pair kept in a shared store (a database row): single flight across
    /// every replica that shares the store.
    pub fn shared(pair: Arc<dyn SharedPair>) -> RefreshLock {
        RefreshLock { path: PathBuf::new(), record: None, shared: Some(pair) }
    }

    pub(super) fn shared_pair(&self) -> Option<&Arc<dyn SharedPair>> {
        self.shared.as_ref()
    }

    /// The same lock, fenced by the connection's hand-over record at `record`.
    pub fn with_record(mut self, record: PathBuf) -> RefreshLock {
        self.record = Some(record);
        self
    }

    /// The connection's hand-over record, if there is one.
    pub fn record(&self) -> Result<Option<super::record::Record>> {
        match &self.record {
            Some(path) => super::record::load(path),
            None => Ok(None),
        }
    }

    /// `Ok` when this computer may spend the connection's refresh token: it has not
    /// decided to give the session away. Read under the lock, right before a refresh.
    pub fn fence(&self) -> Result<()> {
        match self.record()?.as_ref().and_then(super::record::forbids_refresh) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    pub async fn acquire(&self, timeout: Duration) -> Result<LockGuard> {
        if let Some(shared) = &self.shared {
            return Ok(LockGuard { held: Held::Row(shared.lock(timeout).await?) });
        }
        let what = || format!("locking {}", self.path.display());
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let file = crate::fsutil::open_lock_file(&self.path)?;
            // A blocking lock on the blocking pool wakes the moment the holder lets go. If we
            // give up waiting, the detached job still finishes and drops the file, unlocking.
            let job = tokio::task::spawn_blocking(move || file.lock().map(|_| file));
            match tokio::time::timeout_at(deadline, job).await {
                Ok(Ok(Ok(file))) if still_at(&file, &self.path) => return Ok(LockGuard { held: Held::File(file) }),
                // The file we waited on was deleted or replaced meanwhile (a cleaner, a user):
                // whoever locks the one at the path now would hold "the lock" too. Again.
                Ok(Ok(Ok(_stale))) => {
                    tracing::debug!(path = %self.path.display(), "lock file replaced while waiting; locking again")
                }
                Ok(Ok(Err(e))) => return Err(Error::io(what(), e)),
                Ok(Err(e)) => return Err(Error::io(what(), e)),
                Err(_) => {
                    return Err(Error::io(
                        what(),
                        format!("another ThingsTray process held it for over {} s", timeout.as_secs()),
                    ))
                }
            }
        }
    }
}

/// Whether `file` is still the file at `path` (same device and inode).
#[cfg(unix)]
fn still_at(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Windows does not delete a file another process has open, so the file is still there.
#[cfg(not(unix))]
fn still_at(_file: &File, _path: &Path) -> bool {
    true
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

    /// Issue 10, item 3: a waiter that opened the lock file before it was deleted and made
    /// again must not come back holding the deleted file while another process holds the
    /// new one: that is two refreshes at once, and one of them spends a dead token.
    #[cfg(unix)]
    #[tokio::test]
    async fn a_waiter_on_a_deleted_lock_file_locks_the_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("home.lock");
        let lock = RefreshLock::new(path.clone());
        let first = lock.acquire(Duration::from_secs(5)).await.unwrap();
        use std::future::Future;
        // The waiter's first poll opens the file (the old one) and starts waiting on it.
        let mut waiter = Box::pin(lock.acquire(Duration::from_millis(300)));
        std::future::poll_fn(|cx| {
            assert!(waiter.as_mut().poll(cx).is_pending(), "the first holder still holds it");
            std::task::Poll::Ready(())
        })
        .await;
        std::fs::remove_file(&path).unwrap();
        let third = lock.acquire(Duration::from_secs(5)).await.expect("the new file is free");
        drop(first);
        let e = waiter.await.expect_err("the new file is held by the third");
        assert_eq!(e.code(), "io");
        drop(third);
        lock.acquire(Duration::from_secs(5)).await.unwrap();
    }
}
