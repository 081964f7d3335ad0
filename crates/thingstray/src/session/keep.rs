//! Where a session's pair lives, read and written under its refresh lock.
//!
//! On a desktop the pair is a vault item and the lock a file (lock.rs). A service that
//! holds many users' sessions on several replicas keeps each pair in a database row
//! (the `thingstray-store` crate): there the lock IS the row's lock, so the pair must be
//! read and written through the guard that holds it (a write from another database
//! connection would wait on our own lock). [`SharedPair`] is that contract; the session
//! code reads and writes through [`Session::read_locked`] / [`Session::write_locked`]
//! whatever the backend, so every promise (single flight, persist-before-use, the
//! re-read before ending a session) is the same code for both.

use std::time::Duration;

use futures_util::future::BoxFuture;

use super::lock::{Held, LockGuard};
use super::Session;
use crate::error::Result;
use crate::token::TokenSet;

/// One session's pair in a shared store.
pub trait SharedPair: Send + Sync + 'static {
    /// The stored pair, read without the lock (writers replace it whole).
    fn read(&self) -> BoxFuture<'_, Result<Option<TokenSet>>>;
    /// Takes the pair's lock, waiting up to `timeout` for another replica to let go.
    fn lock(&self, timeout: Duration) -> BoxFuture<'_, Result<Box<dyn PairGuard>>>;
    /// For logs and `status`: where the pair is, never what it is.
    fn describe(&self) -> String;
}

/// The held lock of one shared pair; dropping it lets go.
pub trait PairGuard: Send + Sync {
    fn read(&mut self) -> BoxFuture<'_, Result<Option<TokenSet>>>;
    /// Durable when it returns (committed), and the lock is still held after it.
    fn write<'a>(&'a mut self, pair: &'a TokenSet) -> BoxFuture<'a, Result<()>>;
    fn delete(&mut self) -> BoxFuture<'_, Result<()>>;
}

impl Session {
    /// The stored pair, without the lock.
    pub(super) async fn read_stored(&self) -> Result<Option<TokenSet>> {
        match self.inner.lock.shared_pair() {
            Some(shared) => shared.read().await,
            None => self.inner.vault.tokens(&self.inner.connection).await,
        }
    }

    /// The stored pair, read by the holder of the lock.
    pub(super) async fn read_locked(&self, guard: &mut LockGuard) -> Result<Option<TokenSet>> {
        match &mut guard.held {
            Held::Row(row) => row.read().await,
            Held::File(_) => self.inner.vault.tokens(&self.inner.connection).await,
        }
    }

    /// Stores `pair` (durably, before anyone sees it) under the held lock.
    pub(super) async fn write_locked(&self, guard: &mut LockGuard, pair: &TokenSet) -> Result<()> {
        match &mut guard.held {
            Held::Row(row) => row.write(pair).await,
            Held::File(_) => self.inner.vault.store_tokens(&self.inner.connection, pair).await,
        }
    }

    pub(super) async fn delete_locked(&self, guard: &mut LockGuard) -> Result<()> {
        match &mut guard.held {
            Held::Row(row) => row.delete().await,
            Held::File(_) => self.inner.vault.delete_tokens(&self.inner.connection).await,
        }
    }
}
