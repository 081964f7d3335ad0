//! One session's row as the core's [`SharedPair`]: its lock is the row's lock
//! (`SELECT … FOR UPDATE` in a transaction held while the refresh runs), so only one
//! replica at a time spends the refresh token; a write under it is an `UPDATE` and a
//! `COMMIT` (persist-before-use: the new pair is durable before anyone is handed it).
//!
//! After each commit the guard takes the lock again at once, since the session may go on
//! under it (the core writes back a newer pair of its own and then refreshes). A replica
//! that dies mid-refresh loses its connection; PostgreSQL ends the transaction and the
//! lock with it, and the row still holds the last committed pair.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::future::BoxFuture;
use thingstray::error::{Error, Result};
use thingstray::session::keep::{PairGuard, SharedPair};
use thingstray::token::TokenSet;

use crate::db::{unavailable, Store};

/// When the scheduler should refresh a pair: 75 % through its lifetime (the session's own
/// rule), never sooner than 5 s after it was issued.
pub fn refresh_due(t: &TokenSet) -> SystemTime {
    let through = t.lifetime().mul_f64(0.75);
    t.issued_at() + through.max(thingstray::session::MIN_REFRESH_GAP)
}

pub struct RowPair {
    store: Store,
    id: String,
}

impl RowPair {
    pub fn new(store: Store, id: impl Into<String>) -> Arc<RowPair> {
        Arc::new(RowPair { store, id: id.into() })
    }
}

/// The sealed pair's associated data: the row it belongs to.
fn aad(id: &str) -> String {
    format!("sessions/{id}")
}

pub(crate) fn open_pair(store: &Store, id: &str, sealed: Option<Vec<u8>>) -> Result<Option<TokenSet>> {
    let Some(sealed) = sealed else { return Ok(None) };
    let plain = store.key.open(&aad(id), &sealed)?;
    serde_json::from_slice(&plain).map(Some).map_err(|e| Error::VaultCorrupt { key: aad(id), detail: e.to_string() })
}

pub(crate) fn seal_pair(store: &Store, id: &str, t: &TokenSet) -> Result<Vec<u8>> {
    let json = serde_json::to_vec(t).map_err(|e| Error::VaultCorrupt { key: aad(id), detail: e.to_string() })?;
    store.key.seal(&aad(id), &json)
}

impl SharedPair for RowPair {
    fn read(&self) -> BoxFuture<'_, Result<Option<TokenSet>>> {
        Box::pin(async move {
            let sealed = self
                .store
                .timed(async {
                    let client = self.store.client().await?;
                    let row = client
                        .query_opt("SELECT tokens FROM thingstray_sessions WHERE id = $1", &[&self.id])
                        .await
                        .map_err(unavailable)?;
                    Ok(row.and_then(|r| r.get::<_, Option<Vec<u8>>>(0)))
                })
                .await?;
            open_pair(&self.store, &self.id, sealed)
        })
    }

    fn lock(&self, timeout: Duration) -> BoxFuture<'_, Result<Box<dyn PairGuard>>> {
        Box::pin(async move {
            let mut guard = RowGuard { store: self.store.clone(), id: self.id.clone(), timeout, client: None };
            guard.relock().await?;
            Ok(Box::new(guard) as Box<dyn PairGuard>)
        })
    }

    fn describe(&self) -> String {
        format!("{} (session {})", self.store.describe(), self.id)
    }
}

/// A transaction that holds the row's lock. `client` is `None` once the connection broke
/// (the database restarted): the next use connects and locks again.
struct RowGuard {
    store: Store,
    id: String,
    timeout: Duration,
    client: Option<deadpool_postgres::Object>,
}

impl RowGuard {
    /// BEGIN and lock the row, waiting at most `timeout` for another replica's refresh.
    async fn relock(&mut self) -> Result<()> {
        self.client = None;
        let client = self.store.timed(self.store.client()).await?;
        let wait_ms = self.timeout.as_millis().max(1) as i64;
        // `lock_timeout` bounds the wait on the row; the store's own deadline bounds the
        // rest, so the wait gets its own allowance on top.
        let locked = tokio::time::timeout(self.timeout + Duration::from_secs(10), async {
            client.batch_execute("BEGIN").await?;
            // The wait is bounded by lock_timeout (and every call by the store's deadline):
            // a role's statement_timeout must not cut it short with another error.
            client
                .batch_execute(&format!("SET LOCAL lock_timeout = {wait_ms}; SET LOCAL statement_timeout = 0"))
                .await?;
            client.query_opt("SELECT 1 FROM thingstray_sessions WHERE id = $1 FOR UPDATE", &[&self.id]).await
        })
        .await;
        match locked {
            Ok(Ok(_)) => {
                self.client = Some(client);
                Ok(())
            }
            Ok(Err(e)) if e.code() == Some(&tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE) => {
                // The connection is fine; its transaction is aborted: end it before reuse.
                if client.batch_execute("ROLLBACK").await.is_err() {
                    discard(client);
                }
                Err(Error::StoreUnavailable {
                    detail: format!("another replica held session {} for over {} s", self.id, self.timeout.as_secs()),
                })
            }
            Ok(Err(e)) => {
                discard(client);
                Err(unavailable(e))
            }
            Err(_) => {
                discard(client);
                Err(unavailable("no answer while locking the session"))
            }
        }
    }

    /// The connection is in an unknown state (a failed or abandoned statement inside
    /// the transaction): close it rather than let the pool hand out an open transaction.
    fn broken(&mut self) {
        if let Some(client) = self.client.take() {
            discard(client);
        }
    }

    async fn held(&mut self) -> Result<&deadpool_postgres::Object> {
        if self.client.is_none() {
            self.relock().await?;
        }
        self.client.as_ref().ok_or_else(|| unavailable("not connected"))
    }
}

impl PairGuard for RowGuard {
    fn read(&mut self) -> BoxFuture<'_, Result<Option<TokenSet>>> {
        Box::pin(async move {
            let store = self.store.clone();
            let id = self.id.clone();
            let client = self.held().await?;
            let row = store
                .timed(async {
                    client
                        .query_opt("SELECT tokens FROM thingstray_sessions WHERE id = $1", &[&id])
                        .await
                        .map_err(unavailable)
                })
                .await;
            let row = match row {
                Ok(r) => r,
                Err(e) => {
                    self.broken();
                    return Err(e);
                }
            };
            open_pair(&store, &id, row.and_then(|r| r.get::<_, Option<Vec<u8>>>(0)))
        })
    }

    fn write<'a>(&'a mut self, pair: &'a TokenSet) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let store = self.store.clone();
            let id = self.id.clone();
            let sealed = seal_pair(&store, &id, pair)?;
            let status = if pair.ended.is_some() { "ended" } else { "active" };
            let expires = pair.expires_at();
            let due = refresh_due(pair);
            let client = self.held().await?;
            // `rotations` counts pairs, not writes: the same pair written again (its first
            // commit's answer lost, then flushed) has the same expiry and is not counted twice.
            let written = store
                .timed(async {
                    let n = client
                        .execute(
                            "UPDATE thingstray_sessions SET tokens = $2, expires_at = $3, refresh_due = $4,
                                 status = $5, ended = $6, failures = 0, claimed_until = NULL, claimed_by = NULL,
                                 rotations = rotations + CASE WHEN $7 AND expires_at IS DISTINCT FROM $3 THEN 1 ELSE 0 END,
                                 updated_at = now()
                             WHERE id = $1",
                            &[&id, &sealed, &expires, &due, &status, &pair.ended, &pair.from_refresh],
                        )
                        .await
                        .map_err(unavailable)?;
                    client.batch_execute("COMMIT").await.map_err(unavailable)?;
                    Ok(n)
                })
                .await;
            match written {
                Ok(0) => {
                    self.client = None;
                    Err(Error::NotSignedIn { connection: id })
                }
                Ok(_) => {
                    // The lock again, for whatever the session does next under it.
                    if let Err(e) = self.relock().await {
                        tracing::debug!(session = %self.id, code = e.code(), "saved; the lock is taken again on next use");
                    }
                    Ok(())
                }
                Err(e) => {
                    // Committed or not, this connection is unusable; the core keeps the
                    // pair as unsaved and writes it again through a new one.
                    self.broken();
                    Err(e)
                }
            }
        })
    }

    fn delete(&mut self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let store = self.store.clone();
            let id = self.id.clone();
            let client = self.held().await?;
            let done = store
                .timed(async {
                    client
                        .execute(
                            "UPDATE thingstray_sessions SET tokens = NULL, expires_at = NULL, refresh_due = NULL,
                                 status = 'ended', ended = 'signed out', updated_at = now() WHERE id = $1",
                            &[&id],
                        )
                        .await
                        .map_err(unavailable)?;
                    client.batch_execute("COMMIT").await.map_err(unavailable)
                })
                .await;
            if done.is_err() {
                self.broken();
            }
            self.client = None;
            done
        })
    }
}

/// Closes a connection instead of returning it to the pool.
pub(crate) fn discard(client: deadpool_postgres::Object) {
    drop(deadpool_postgres::Object::take(client));
}

impl Drop for RowGuard {
    /// Lets go of the row: the transaction holds no write (every write committed), so a
    /// ROLLBACK ends it; the connection then goes back to the pool.
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    if client.batch_execute("ROLLBACK").await.is_err() {
                        // A broken connection must not go back to the pool.
                        discard(client);
                    }
                });
            } else {
                discard(client);
            }
        }
    }
}
