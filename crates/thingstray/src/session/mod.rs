//! The one owner of a connection's tokens, and the only code that calls the token endpoint.
//!
//! Promises, each one a way other integrations lost their users' sessions:
//! - [`Session::token_valid_for`] returns a token valid at least that long, or an error;
//!   never an expired one.
//! - Refreshes happen ahead of expiry (75% of the lifetime), scheduled on the wall clock,
//!   so a laptop waking from sleep refreshes at once.
//! - One refresh at a time: an async mutex inside the process, a file lock across
//!   processes, and the vault re-read inside the lock.
//! - The new pair is in the vault BEFORE anyone receives the new access token. If the
//!   vault refuses it, the pair is kept in memory and saving is retried; nobody gets it.
//! - Passing failures are retried with capped, jittered backoff (rate-limit waits
//!   honoured) while the still-valid token keeps being served.
//! - `invalid_grant` ends the session: "needs sign-in", no more retries, settings kept.

mod backoff;
mod lock;
mod status;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::{watch, Notify};

pub use lock::RefreshLock;
pub use status::Status;

use crate::clock::{unix_ms, Clock};
use crate::error::{Error, Result};
use crate::oauth::OAuthClient;
use crate::token::{AccessGrant, TokenSet};
use crate::vault::Vault;

#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// Refresh this far through the token's lifetime.
    pub refresh_at: f64,
    pub retry_min: Duration,
    pub retry_max: Duration,
    /// How often the scheduler compares against the wall clock while waiting; bounds how
    /// late a refresh can be after resume from sleep.
    pub wall_clock_check: Duration,
    pub lock_timeout: Duration,
    /// Warn when the last successful refresh is this old: SmartThings' refresh tokens live
    /// 30 days (absolute or sliding is undocumented).
    pub warn_after: Duration,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            refresh_at: 0.75,
            retry_min: Duration::from_secs(2),
            retry_max: Duration::from_secs(5 * 60),
            wall_clock_check: Duration::from_secs(15),
            lock_timeout: Duration::from_secs(60),
            warn_after: Duration::from_secs(25 * 86_400),
        }
    }
}

/// Cheap to clone; all clones are the same session.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

struct Inner {
    connection: String,
    oauth: OAuthClient,
    vault: Vault,
    lock: RefreshLock,
    clock: Arc<dyn Clock>,
    opts: SessionOptions,
    /// The pair callers are served from.
    tokens: Mutex<Option<TokenSet>>,
    /// A rotated pair the vault refused to store: the only copy of a live refresh token.
    unsaved: Mutex<Option<TokenSet>>,
    retry: Mutex<Retry>,
    flight: tokio::sync::Mutex<()>,
    status: watch::Sender<Status>,
    wake: Notify,
}

#[derive(Default)]
struct Retry {
    attempt: u32,
    next_at: Option<SystemTime>,
    last_error: Option<Error>,
    /// A failure only the user can fix: the scheduler stops until woken.
    halted: Option<Error>,
}

/// Why a refresh is being considered; decides whether a stored pair is good enough.
#[derive(Debug, Clone, Copy)]
enum Need {
    /// A caller wants a token valid for at least this long.
    Valid(Duration),
    /// The scheduler: refresh if past the refresh point.
    Scheduled,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("connection", &self.inner.connection).finish_non_exhaustive()
    }
}

impl Session {
    pub fn new(
        connection: impl Into<String>,
        oauth: OAuthClient,
        vault: Vault,
        lock: RefreshLock,
        clock: Arc<dyn Clock>,
        opts: SessionOptions,
    ) -> Session {
        let (status, _) = watch::channel(Status::SignedOut);
        Session {
            inner: Arc::new(Inner {
                connection: connection.into(),
                oauth,
                vault,
                lock,
                clock,
                opts,
                tokens: Mutex::new(None),
                unsaved: Mutex::new(None),
                retry: Mutex::new(Retry::default()),
                flight: tokio::sync::Mutex::new(()),
                status,
                wake: Notify::new(),
            }),
        }
    }

    pub fn connection(&self) -> &str {
        &self.inner.connection
    }

    pub fn oauth(&self) -> &OAuthClient {
        &self.inner.oauth
    }

    pub fn vault(&self) -> &Vault {
        &self.inner.vault
    }

    /// Follow the session's state. The receiver always holds the latest value.
    pub fn status(&self) -> watch::Receiver<Status> {
        self.inner.status.subscribe()
    }

    /// Reads the stored pair (no lock needed: writers replace it whole).
    pub async fn load(&self) -> Result<()> {
        let stored = self.inner.vault.tokens(&self.inner.connection).await?;
        self.set_tokens(stored);
        self.publish();
        Ok(())
    }

    /// A token valid for at least `min`: from memory when it is, else after a refresh
    /// (or after finding that another process already refreshed).
    pub async fn token_valid_for(&self, min: Duration) -> Result<AccessGrant> {
        // The hot path (the token server answers from here): no vault, no clone of the pair.
        if let Some(grant) = self.fresh_grant(min) {
            return Ok(grant);
        }
        if self.cached().is_none() {
            self.load().await?;
            if let Some(grant) = self.fresh_grant(min) {
                return Ok(grant);
            }
        }
        let t = self.refresh(Need::Valid(min)).await?;
        let left = t.remaining(self.now());
        if left >= min {
            Ok(t.grant())
        } else {
            Err(Error::NoValidToken {
                wanted: min,
                reason: format!("SmartThings issued a token valid for only {} s; ask for less", left.as_secs()),
            })
        }
    }

    /// A token for one API request: valid at least `want`, or a quarter of the token's
    /// lifetime when SmartThings issues shorter ones. The scheduler refreshes at 75%, so
    /// requests use the token it keeps fresh and never force an extra refresh, nor fail
    /// outright, when tokens are short-lived.
    pub async fn token_for_request(&self, want: Duration) -> Result<AccessGrant> {
        if self.cached().is_none() {
            self.load().await?;
        }
        let min = self.cached().map_or(want, |t| want.min(t.lifetime() / 4));
        self.token_valid_for(min).await
    }

    /// For a caller whose request SmartThings refused with 401 although the token looked
    /// valid (revoked, or the clock is off): refresh once, unless someone already did.
    pub async fn replace_rejected(&self, rejected: &AccessGrant) -> Result<AccessGrant> {
        let _flight = self.inner.flight.lock().await;
        let _lock = self.inner.lock.acquire(self.inner.opts.lock_timeout).await?;
        let stored = self.stored_or_signed_out().await?;
        if stored.access_token.secret() != rejected.secret() {
            self.set_tokens(Some(stored.clone()));
            self.publish();
            return Ok(stored.grant());
        }
        let result = self.rotate(stored).await;
        self.record(&result);
        result.map(|t| t.grant())
    }

    /// Installs a freshly signed-in pair: vault first, then memory. Replaces only tokens;
    /// every setting stays as it was.
    pub async fn adopt(&self, tokens: TokenSet) -> Result<()> {
        let _flight = self.inner.flight.lock().await;
        let _lock = self.inner.lock.acquire(self.inner.opts.lock_timeout).await?;
        self.inner.vault.store_tokens(&self.inner.connection, &tokens).await?;
        *lock(&self.inner.unsaved) = None;
        *lock(&self.inner.retry) = Retry::default();
        self.set_tokens(Some(tokens));
        self.publish();
        self.inner.wake.notify_waiters();
        Ok(())
    }

    /// Forgets the tokens here (SmartThings keeps the authorization until the user removes
    /// it in the app). The client secret and settings stay.
    pub async fn sign_out(&self) -> Result<()> {
        let _flight = self.inner.flight.lock().await;
        let _lock = self.inner.lock.acquire(self.inner.opts.lock_timeout).await?;
        self.inner.vault.delete_tokens(&self.inner.connection).await?;
        *lock(&self.inner.unsaved) = None;
        *lock(&self.inner.retry) = Retry::default();
        self.set_tokens(None);
        self.publish();
        Ok(())
    }

    /// Makes the scheduler look at the clock now (resume from sleep, network back).
    pub fn wake(&self) {
        self.inner.wake.notify_waiters();
    }

    /// Starts the background refresher; it stops when the handle is aborted.
    pub fn spawn_refresher(&self) -> tokio::task::JoinHandle<()> {
        let s = self.clone();
        tokio::spawn(async move { s.run().await })
    }

    /// The background refresher: refreshes at the due time, retries passing failures,
    /// stops retrying on failures only the user can fix.
    pub async fn run(self) {
        loop {
            // Arm the wake-ups before reading the clock so none is missed in between.
            let jumped = self.inner.clock.jumped();
            let woken = self.inner.wake.notified();
            let now = self.now();
            let due = self.next_due();
            if due.is_some_and(|at| at <= now) {
                if let Err(e) = self.refresh(Need::Scheduled).await {
                    tracing::debug!(connection = %self.inner.connection, code = e.code(), "scheduled refresh failed");
                }
                continue;
            }
            let check = self.inner.opts.wall_clock_check;
            let wait = due.map_or(check, |at| at.duration_since(now).unwrap_or_default().min(check));
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = jumped => {}
                _ = woken => {}
            }
        }
    }

    fn next_due(&self) -> Option<SystemTime> {
        let retry = lock(&self.inner.retry);
        if retry.halted.is_some() {
            return None;
        }
        if lock(&self.inner.unsaved).is_some() {
            return Some(retry.next_at.unwrap_or_else(|| self.now()));
        }
        let t = self.cached()?;
        if t.ended.is_some() {
            return None;
        }
        Some(retry.next_at.unwrap_or_else(|| t.refresh_due(self.inner.opts.refresh_at)))
    }

    /// Single-flight refresh. Everything after the first line runs for one caller at a
    /// time in this process, and everything after the file lock for one process at a time.
    async fn refresh(&self, need: Need) -> Result<TokenSet> {
        let result = self.refresh_once(need).await;
        self.record(&result);
        result
    }

    async fn refresh_once(&self, need: Need) -> Result<TokenSet> {
        let _flight = self.inner.flight.lock().await;
        if let Some(t) = self.cached() {
            if self.good_enough(&t, need) && lock(&self.inner.unsaved).is_none() {
                return Ok(t);
            }
        }
        self.save_unsaved().await?;
        let _lock = self.inner.lock.acquire(self.inner.opts.lock_timeout).await?;
        // The vault is the truth: another process may have rotated the pair meanwhile.
        let stored = self.stored_or_signed_out().await?;
        if self.good_enough(&stored, need) {
            let newer = self.cached().is_none_or(|c| !c.is_same_pair(&stored));
            self.set_tokens(Some(stored.clone()));
            if newer {
                *lock(&self.inner.retry) = Retry::default();
            }
            self.publish();
            return Ok(stored);
        }
        self.rotate(stored).await
    }

    /// Reads the vault inside the lock; a missing or ended pair stops here.
    async fn stored_or_signed_out(&self) -> Result<TokenSet> {
        let stored = self.inner.vault.tokens(&self.inner.connection).await?;
        let Some(stored) = stored else {
            self.set_tokens(None);
            self.publish();
            return Err(Error::NotSignedIn { connection: self.inner.connection.clone() });
        };
        if let Some(detail) = &stored.ended {
            let e = Error::SessionEnded { detail: detail.clone() };
            self.set_tokens(Some(stored.clone()));
            self.publish();
            return Err(e);
        }
        Ok(stored)
    }

    /// Spends `current`'s refresh token. Caller holds both locks.
    async fn rotate(&self, current: TokenSet) -> Result<TokenSet> {
        let conn = &self.inner.connection;
        self.set_tokens(Some(current.clone()));
        self.inner.status.send_replace(Status::Refreshing { expires_at: unix_ms(current.expires_at()) / 1000 });
        tracing::info!(connection = %conn, "refreshing the access token");
        crate::failpoint::hit("refresh.before_request");
        match self.inner.oauth.refresh(&current.refresh_token, self.now()).await {
            Ok(new) => {
                crate::failpoint::hit("refresh.response");
                // Persist before use: from here on the old refresh token is dead.
                if let Err(e) = self.inner.vault.store_tokens(conn, &new).await {
                    *lock(&self.inner.unsaved) = Some(new);
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
            Err(e @ Error::SessionEnded { .. }) => {
                tracing::warn!(connection = %conn, code = e.code(), "the session ended; sign-in needed");
                let mut ended = current;
                ended.ended = Some(match &e {
                    Error::SessionEnded { detail } => detail.clone(),
                    _ => String::new(),
                });
                // Tell other processes too, so none of them asks again with a dead token.
                if let Err(w) = self.inner.vault.store_tokens(conn, &ended).await {
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

    async fn save_unsaved(&self) -> Result<()> {
        let Some(pending) = lock(&self.inner.unsaved).clone() else { return Ok(()) };
        let _lock = self.inner.lock.acquire(self.inner.opts.lock_timeout).await?;
        match self.inner.vault.store_tokens(&self.inner.connection, &pending).await {
            Ok(()) => {
                *lock(&self.inner.unsaved) = None;
                *lock(&self.inner.retry) = Retry::default();
                self.set_tokens(Some(pending));
                self.publish();
                Ok(())
            }
            Err(e) => Err(Error::VaultWriteFailed { detail: e.to_string() }),
        }
    }

    fn good_enough(&self, t: &TokenSet, need: Need) -> bool {
        let now = self.now();
        t.ended.is_none()
            && match need {
                Need::Valid(min) => t.remaining(now) >= min,
                Need::Scheduled => now < t.refresh_due(self.inner.opts.refresh_at),
            }
    }

    /// Every failed attempt, whoever made it, lands here, so the scheduler always has a
    /// next attempt time (or knows to stop) and can never spin on a fast failure.
    fn record<T>(&self, result: &Result<T>) {
        match result {
            Ok(_) => {}
            // Already reflected in the status by the tokens themselves.
            Err(Error::SessionEnded { .. } | Error::NotSignedIn { .. }) => {}
            Err(e) => self.note_failure(e),
        }
    }

    fn note_failure(&self, e: &Error) {
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

    /// Derives the status from the tokens and the retry state; one place, so the tray, the
    /// UI and the CLI can never disagree.
    fn publish(&self) {
        let status = self.compute_status();
        self.inner.status.send_if_modified(|s| {
            if *s != status {
                tracing::debug!(connection = %self.inner.connection, state = status.label(), "status");
                *s = status;
                true
            } else {
                false
            }
        });
    }

    fn compute_status(&self) -> Status {
        let Some(t) = self.cached() else { return Status::SignedOut };
        if let Some(detail) = &t.ended {
            return Status::NeedsSignIn { reason: Error::SessionEnded { detail: detail.clone() } };
        }
        let now = self.now();
        let retry = lock(&self.inner.retry);
        if let Some(e) = &retry.halted {
            return Status::NeedsSignIn { reason: e.clone() };
        }
        let secs = |t: SystemTime| unix_ms(t) / 1000;
        let age = now.duration_since(t.issued_at()).unwrap_or_default();
        let warning = (age >= self.inner.opts.warn_after).then(|| {
            format!(
                "The last successful refresh was {} days ago; SmartThings ends a session whose refresh token reaches 30 days. \
                 Check the network, or sign in again before then.",
                age.as_secs() / 86_400
            )
        });
        match (&retry.last_error, retry.next_at) {
            (Some(e), Some(next)) => Status::Retrying {
                expires_at: secs(t.expires_at()),
                next_attempt_at: secs(next),
                attempt: retry.attempt,
                last_error: e.clone(),
                warning,
            },
            _ => Status::Connected {
                expires_at: secs(t.expires_at()),
                next_refresh_at: secs(t.refresh_due(self.inner.opts.refresh_at)),
                warning,
            },
        }
    }

    /// `f` of the in-memory pair when it is valid for at least `min`, under the lock and
    /// without a copy of it: the token server's hot path builds its answer here.
    pub(crate) fn with_fresh<T>(&self, min: Duration, f: impl FnOnce(&TokenSet, SystemTime) -> T) -> Option<T> {
        let now = self.now();
        let tokens = lock(&self.inner.tokens);
        tokens.as_ref().filter(|t| t.ended.is_none() && t.remaining(now) >= min).map(|t| f(t, now))
    }

    /// The token in memory, when it is valid for at least `min` and the pair has not ended.
    fn fresh_grant(&self, min: Duration) -> Option<AccessGrant> {
        self.with_fresh(min, |t, _| t.grant())
    }

    fn cached(&self) -> Option<TokenSet> {
        lock(&self.inner.tokens).clone()
    }

    fn set_tokens(&self, t: Option<TokenSet>) {
        *lock(&self.inner.tokens) = t;
    }

    /// The session's clock (the real one outside tests).
    pub fn now(&self) -> SystemTime {
        self.inner.clock.now()
    }
}

/// A poisoned lock only means another thread panicked mid-update of plain data; the
/// data is still the best we have, so keep going rather than take the app down.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
