//! Spending a refresh token: the single-flight refresh (an async mutex in the process, the
//! file lock across processes, the vault re-read inside it), persist-before-use, the
//! unsaved pair, and how each failure schedules the next attempt.

use super::source::Source;
use super::{backoff, lock, LockGuard, Need, Retry, Session, Status, Unsaved};
use crate::clock::unix_ms;
use crate::error::{Error, Result};
use crate::token::TokenSet;

impl Session {
    /// Single-flight refresh. Everything after the first line runs for one caller at a
    /// time in this process, and everything after the file lock for one process at a time.
    pub(super) async fn refresh(&self, need: Need) -> Result<TokenSet> {
        let result = self.refresh_once(need).await;
        self.record(&result);
        result
    }

    pub(super) async fn refresh_once(&self, need: Need) -> Result<TokenSet> {
        let _flight = self.inner.flight.lock().await;
        if let Some(e) = self.retired() {
            return Err(e);
        }
        if let Some(t) = self.cached() {
            if self.good_enough(&t, need) && lock(&self.inner.unsaved).is_none() {
                return Ok(t);
            }
        }
        self.save_unsaved().await?;
        let mut guard = self.inner.lock.acquire(self.inner.opts.lock_timeout).await?;
        if let Source::Paired(p) = &self.inner.source {
            let t = self.fetch_from_owner(p, need).await;
            drop(guard);
            return t;
        }
        // The vault is the truth: another process may have rotated the pair meanwhile.
        let stored = self.stored_or_signed_out(&mut guard).await?;
        let stored = self.not_older_than_ours(stored, &mut guard).await?;
        if self.good_enough(&stored, need) {
            let newer = self.cached().is_none_or(|c| !c.is_same_pair(&stored));
            self.set_tokens(Some(stored.clone()));
            if newer {
                *lock(&self.inner.retry) = Retry::default();
            }
            self.publish();
            return Ok(stored);
        }
        self.rotate(stored, guard).await
    }

    /// Reads the vault inside the lock; a missing or ended pair stops here.
    pub(super) async fn stored_or_signed_out(&self, guard: &mut LockGuard) -> Result<TokenSet> {
        let stored = self.read_locked(guard).await?;
        let Some(stored) = stored else {
            self.set_tokens(None);
            self.publish();
            return Err(Error::NotSignedIn { connection: self.inner.connection.clone() });
        };
        if let Some(detail) = &stored.ended {
            let e = self.ended_error(detail);
            self.set_tokens(Some(stored.clone()));
            self.publish();
            return Err(e);
        }
        Ok(stored)
    }

    /// Spends `current`'s refresh token. The caller holds the flight mutex and hands over
    /// the cross-process lock, which an unsaved new pair keeps.
    pub(super) async fn rotate(&self, current: TokenSet, mut guard: LockGuard) -> Result<TokenSet> {
        let conn = &self.inner.connection;
        let refresher = match &self.inner.source {
            Source::SignIn(oauth) => Refresher::OAuth(oauth),
            Source::Schema(schema) => Refresher::Schema(schema),
            // A token SmartThings refused (replace_rejected): the owner may hold a newer one.
            Source::Paired(p) => return self.ask_owner(p, std::time::Duration::from_secs(1)).await,
        };
        // Under the lock, right before the token is spent: a computer that decided to hand
        // the session over (in any of its processes) never spends it again.
        if let Err(e) = self.inner.lock.fence() {
            tracing::warn!(connection = %conn, code = e.code(), "not refreshing: this session was handed over");
            return Err(e);
        }
        self.set_tokens(Some(current.clone()));
        self.inner.status.send_replace(Status::Refreshing { expires_at: unix_ms(current.expires_at()) / 1000 });
        if self.inner.opts.probe_vault {
            // The same pair, written again: if the vault refuses now, nothing is spent.
            if let Err(e) = self.write_locked(&mut guard, &current).await {
                let e = Error::VaultRefusesWrites { detail: e.to_string() };
                tracing::warn!(connection = %conn, code = e.code(), "not refreshing: the vault refuses writes");
                return Err(e);
            }
        }
        // A shared pair (a store row) takes its lock again after each write it commits, so
        // a write above (the probe, or our newer pair written back) left a moment in which
        // another replica could rotate. Right before spending, the row must still hold
        // the pair we spend; if it moved on, use what it holds.
        if self.inner.lock.shared_pair().is_some() {
            if let Some(stored) = self.read_locked(&mut guard).await? {
                if !stored.is_same_pair(&current) {
                    tracing::info!(connection = %conn, "another replica rotated the pair meanwhile; using it");
                    if let Some(detail) = &stored.ended {
                        let e = self.ended_error(detail);
                        self.set_tokens(Some(stored.clone()));
                        self.publish();
                        return Err(e);
                    }
                    self.set_tokens(Some(stored.clone()));
                    self.publish();
                    return Ok(stored);
                }
            }
        }
        tracing::info!(connection = %conn, "refreshing the access token");
        crate::failpoint::hit("refresh.before_request");
        let answer = match refresher {
            Refresher::OAuth(oauth) => oauth.refresh(&current.refresh_token, self.now()).await,
            Refresher::Schema(schema) => schema.refresh(&current.refresh_token, self.now()).await,
        };
        match answer {
            Ok(new) => {
                crate::failpoint::hit("refresh.response");
                // Persist before use: from here on the old refresh token is dead.
                if let Err(e) = self.write_locked(&mut guard, &new).await {
                    *lock(&self.inner.unsaved) = Some(Unsaved { pair: new, lock: guard });
                    let e = Error::VaultWriteFailed { detail: e.to_string() };
                    tracing::error!(connection = %conn, code = e.code(), "{e}");
                    return Err(e);
                }
                crate::failpoint::hit("refresh.saved");
                tracing::info!(connection = %conn, expires_in_s = new.remaining(self.now()).as_secs(), "token refreshed and saved");
                *lock(&self.inner.retry) = Retry::default();
                self.set_tokens(Some(new.clone()));
                self.publish();
                Ok(new)
            }
            Err(e @ (Error::SessionEnded { .. } | Error::SchemaAccessEnded { .. })) => {
                // The vault is the truth here too: if it no longer holds the refresh token
                // SmartThings refused, another process rotated it (a lock that did not hold:
                // its file deleted, a second config dir on the same vault). Its pair is good;
                // marking "ended" over it would throw the session away.
                match self.read_locked(&mut guard).await {
                    Ok(Some(stored)) if !stored.is_same_pair(&current) && stored.ended.is_none() => {
                        tracing::warn!(connection = %conn, "a refresh token was refused after another process had replaced it; using the stored pair");
                        *lock(&self.inner.retry) = Retry::default();
                        self.set_tokens(Some(stored.clone()));
                        self.publish();
                        return Ok(stored);
                    }
                    // The re-read failed: nothing confirms the refused token is still the
                    // stored one, so nothing is marked ended (that write could replace
                    // another replica's good pair). The next attempt asks again.
                    Err(read) if self.inner.lock.shared_pair().is_some() => {
                        tracing::warn!(connection = %conn, code = read.code(), "a refresh was refused and the stored pair could not be re-read; not ending the session yet");
                        return Err(read);
                    }
                    _ => {}
                }
                tracing::warn!(connection = %conn, code = e.code(), "the session ended; sign-in needed");
                let mut ended = current;
                ended.ended = Some(match &e {
                    Error::SessionEnded { detail } => detail.clone(),
                    other => crate::schema::ended_note(other).unwrap_or_default(),
                });
                // Tell other processes too, so none of them asks again with a dead token.
                if let Err(w) = self.write_locked(&mut guard, &ended).await {
                    tracing::warn!(connection = %conn, code = w.code(), "could not mark the session as ended");
                }
                self.set_tokens(Some(ended));
                self.publish();
                Err(e)
            }
            Err(e) => {
                tracing::warn!(connection = %conn, code = e.code(), "refresh failed: {e}");
                Err(e)
            }
        }
    }

    /// Stores the unsaved pair, under the lock it kept. On failure it stays, lock and all.
    pub(super) async fn save_unsaved(&self) -> Result<()> {
        let Some(Unsaved { pair, lock: mut guard }) = lock(&self.inner.unsaved).take() else { return Ok(()) };
        match self.write_locked(&mut guard, &pair).await {
            Ok(()) => {
                drop(guard);
                *lock(&self.inner.retry) = Retry::default();
                self.set_tokens(Some(pair));
                self.publish();
                Ok(())
            }
            Err(e) => {
                *lock(&self.inner.unsaved) = Some(Unsaved { pair, lock: guard });
                Err(Error::VaultWriteFailed { detail: e.to_string() })
            }
        }
    }

    /// The backstop: the vault must never hold an older pair than this process does. If
    /// it does, an old copy was written back over ours (a lost update, a restored backup);
    /// its refresh token is spent and rotating it would end the session. Ours is the live
    /// one: it goes back into the vault.
    pub(super) async fn not_older_than_ours(&self, stored: TokenSet, guard: &mut LockGuard) -> Result<TokenSet> {
        let Some(mine) = self.cached() else { return Ok(stored) };
        if mine.ended.is_some() || mine.is_same_pair(&stored) || mine.issued_at() <= stored.issued_at() {
            return Ok(stored);
        }
        tracing::warn!(connection = %self.inner.connection, "the vault held an older token pair than this process; putting ours back");
        self.write_locked(guard, &mine).await.map_err(|e| Error::VaultWriteFailed { detail: e.to_string() })?;
        Ok(mine)
    }

    pub(super) fn good_enough(&self, t: &TokenSet, need: Need) -> bool {
        let now = self.now();
        match need {
            Need::Valid(min) => t.serves(min, now),
            Need::Scheduled => t.ended.is_none() && now < self.refresh_point(t),
        }
    }

    /// Every failed attempt, whoever made it, lands here, so the scheduler always has a
    /// next attempt time (or knows to stop) and can never spin on a fast failure.
    pub(super) fn record<T>(&self, result: &Result<T>) {
        match result {
            Ok(_) => {}
            // Already reflected in the status by the tokens themselves.
            Err(Error::SessionEnded { .. } | Error::NotSignedIn { .. }) => {}
            Err(e) => self.note_failure(e),
        }
    }

    pub(super) fn note_failure(&self, e: &Error) {
        {
            let mut r = lock(&self.inner.retry);
            r.last_error = Some(e.clone());
            // A locked or absent keychain may come back by itself (the user unlocks it):
            // retry it like a network failure instead of stopping.
            let retry = e.is_transient() || matches!(e, Error::KeychainUnavailable { .. } | Error::Io { .. });
            if retry {
                r.attempt += 1;
                let mut wait = backoff::delay(r.attempt, self.inner.opts.retry_min, self.inner.opts.retry_max);
                if let Error::RateLimited { retry_after } = e {
                    wait = wait.max(*retry_after);
                }
                r.next_at = Some(self.now() + wait);
            } else {
                r.halted = Some(e.clone());
                r.next_at = None;
            }
        }
        self.publish();
    }
}

/// Who spends a refresh token: SmartThings' OAuth-In endpoint, or an ST Schema
/// connector's callback token endpoint.
enum Refresher<'a> {
    OAuth(&'a crate::oauth::OAuthClient),
    Schema(&'a crate::schema::SchemaClient),
}
