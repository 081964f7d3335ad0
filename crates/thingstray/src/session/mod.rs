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

pub(crate) mod backoff;
mod hold;
pub mod keep;
mod lock;
pub mod record;
mod refresher;
mod rotate;
mod source;
mod status;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::{watch, Notify};

pub use hold::Hold;
use lock::LockGuard;
pub use lock::RefreshLock;
pub use source::Paired;
use source::Source;
pub use status::Status;

use crate::clock::Clock;
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
    /// Before spending a refresh token, write the current pair back, to learn that the
    /// vault takes writes. For one-shot processes (`thingstray token`): a new pair the
    /// vault then refuses lives only in memory, and is gone when the process exits.
    pub probe_vault: bool,
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
            probe_vault: false,
        }
    }
}

/// The shortest time between a pair's issue and its scheduled refresh. SmartThings issues
/// day-long tokens; an `expires_in` of 0 or a few seconds (a misbehaving proxy, a test
/// server) would otherwise make the refresher spin, rotating as fast as the network allows.
/// Five seconds keeps every real lifetime (and the 8-second tokens of the end-to-end
/// journeys) on its 75% schedule and bounds a zero lifetime to 720 refreshes an hour.
pub const MIN_REFRESH_GAP: Duration = Duration::from_secs(5);

/// The least validity a paired computer's cached token is still used with for an API
/// request while its owner cannot be reached.
const LAST_SECONDS: Duration = Duration::from_secs(5);

/// A 401 replaces the token at most this often. A 401 that a new token does not fix (a
/// wrong API address, a proxied path that answers 401) would otherwise rotate once per
/// request: every 10 s while the device window polls.
pub const REJECTED_REFRESH_GAP: Duration = Duration::from_secs(5 * 60);

/// Cheap to clone; all clones are the same session.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

struct Inner {
    connection: String,
    source: Source,
    vault: Vault,
    lock: RefreshLock,
    clock: Arc<dyn Clock>,
    opts: SessionOptions,
    /// The pair callers are served from.
    tokens: Mutex<Option<TokenSet>>,
    /// A rotated pair the vault refused to store: the only copy of a live refresh token.
    unsaved: Mutex<Option<Unsaved>>,
    /// When a 401 last made us replace the token.
    last_rejected: Mutex<Option<SystemTime>>,
    retry: Mutex<Retry>,
    /// Set once the session was handed to another computer: never refresh again.
    retired: Mutex<Option<Error>>,
    flight: tokio::sync::Mutex<()>,
    status: watch::Sender<Status>,
    wake: Notify,
}

/// The unsaved pair keeps the cross-process lock until it is saved: the vault still holds
/// its spent predecessor, which another process would otherwise read and spend, ending
/// the session for everyone.
struct Unsaved {
    pair: TokenSet,
    lock: LockGuard,
}

#[derive(Default)]
struct Retry {
    attempt: u32,
    next_at: Option<SystemTime>,
    last_error: Option<Error>,
    /// A failure only the user can fix: the scheduler stops until woken.
    halted: Option<Error>,
}

fn short_lived(t: &TokenSet) -> String {
    format!("SmartThings issues tokens valid for {} s; ask for at most that", t.lifetime().as_secs())
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
        Session::with_source(connection.into(), Source::SignIn(oauth), vault, lock, clock, opts)
    }

    /// A session of kind "schema": an ST Schema connector's callback tokens, refreshed
    /// through `client` (schema/).
    pub fn schema(
        connection: impl Into<String>,
        client: crate::schema::SchemaClient,
        vault: Vault,
        lock: RefreshLock,
        clock: Arc<dyn Clock>,
        opts: SessionOptions,
    ) -> Session {
        Session::with_source(connection.into(), Source::Schema(client), vault, lock, clock, opts)
    }

    /// A session of kind "paired": its tokens come from the owner `owner.creds` names,
    /// through `owner.client` (pinned to the owner's certificate).
    pub fn paired(
        connection: impl Into<String>,
        owner: Paired,
        vault: Vault,
        lock: RefreshLock,
        clock: Arc<dyn Clock>,
        opts: SessionOptions,
    ) -> Session {
        Session::with_source(connection.into(), Source::Paired(owner), vault, lock, clock, opts)
    }

    fn with_source(
        connection: String,
        source: Source,
        vault: Vault,
        lock: RefreshLock,
        clock: Arc<dyn Clock>,
        opts: SessionOptions,
    ) -> Session {
        let (status, _) = watch::channel(Status::SignedOut);
        Session {
            inner: Arc::new(Inner {
                connection,
                source,
                vault,
                lock,
                clock,
                opts,
                tokens: Mutex::new(None),
                unsaved: Mutex::new(None),
                last_rejected: Mutex::new(None),
                retry: Mutex::new(Retry::default()),
                retired: Mutex::new(None),
                flight: tokio::sync::Mutex::new(()),
                status,
                wake: Notify::new(),
            }),
        }
    }

    pub fn connection(&self) -> &str {
        &self.inner.connection
    }

    pub fn vault(&self) -> &Vault {
        &self.inner.vault
    }

    /// The connection's refresh lock (and, through it, its hand-over record).
    pub fn refresh_lock(&self) -> &RefreshLock {
        &self.inner.lock
    }

    /// The session's state now.
    pub fn status(&self) -> Status {
        self.inner.status.borrow().clone()
    }

    /// Follow the session's state: the receiver always holds the latest value and wakes
    /// its owner on each change.
    pub fn watch_status(&self) -> watch::Receiver<Status> {
        self.inner.status.subscribe()
    }

    /// Reads the stored pair (no lock needed: writers replace it whole). An unreadable
    /// pair opens as "needs sign-in" rather than failing: the connection must stay usable
    /// for the one thing that mends it, a sign-in that overwrites the item.
    pub async fn load(&self) -> Result<()> {
        match self.read_stored().await {
            Ok(stored) => self.set_tokens(stored),
            Err(e @ Error::VaultCorrupt { .. }) => {
                tracing::warn!(connection = %self.inner.connection, code = e.code(), "the stored tokens are unreadable; sign-in needed");
                self.set_tokens(None);
                lock(&self.inner.retry).halted = Some(e);
            }
            Err(e) => return Err(e),
        }
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
        if let Some(t) = self.cached().filter(|t| t.from_refresh && t.ended.is_none()) {
            // A refresh gives tokens that live `lifetime`: asking again within it (and
            // within MIN_REFRESH_GAP, for tokens that live 0 s) would spend a refresh
            // token for the same answer, once per call of a script's loop.
            if t.lifetime() < min && self.now() < t.issued_at() + t.lifetime().max(MIN_REFRESH_GAP) {
                return Err(Error::NoValidToken { wanted: min, reason: short_lived(&t) });
            }
        }
        let t = self.refresh(Need::Valid(min)).await?;
        let left = t.remaining(self.now());
        if left >= min {
            Ok(t.grant())
        } else {
            Err(Error::NoValidToken { wanted: min, reason: short_lived(&t) })
        }
    }

    /// A token for one API request: valid at least `want`, or a quarter of the token's
    /// lifetime when SmartThings issues shorter ones. The scheduler refreshes at 75%, so
    /// requests use the token it keeps fresh and never force an extra refresh, nor fail
    /// outright, when tokens are short-lived.
    pub async fn token_for_request(&self, want: Duration) -> Result<AccessGrant> {
        // A callback token is refused by the REST API: each 401 would spend a refresh.
        if self.is_schema() {
            return Err(Error::SchemaCallbackToken { connection: self.inner.connection.clone() });
        }
        if self.cached().is_none() {
            self.load().await?;
        }
        let min = self.cached().map_or(want, |t| want.min(t.lifetime() / 4));
        match self.token_valid_for(min).await {
            // A paired computer whose owner is away: a request takes seconds, so the
            // cached token serves until its last few (the owner is asked again next time).
            Err(e @ Error::ShareUnreachable { .. }) => self.fresh_grant(LAST_SECONDS).ok_or(e),
            other => other,
        }
    }

    /// For a caller whose request SmartThings refused with 401 although the token looked
    /// valid (revoked, or the clock is off): refresh once, unless someone already did.
    pub async fn replace_rejected(&self, rejected: &AccessGrant) -> Result<AccessGrant> {
        let _flight = self.inner.flight.lock().await;
        if let Some(e) = self.retired() {
            return Err(e);
        }
        // An unsaved pair first: the vault may still hold its spent predecessor.
        self.save_unsaved().await?;
        let mut guard = self.inner.lock.acquire(self.inner.opts.lock_timeout).await?;
        let stored = self.stored_or_signed_out(&mut guard).await?;
        let stored = self.not_older_than_ours(stored, &mut guard).await?;
        if stored.access_token.secret() != rejected.secret() {
            self.set_tokens(Some(stored.clone()));
            self.publish();
            return Ok(stored.grant());
        }
        let now = self.now();
        let last = *lock(&self.inner.last_rejected);
        if let Some(since) = last.and_then(|at| now.duration_since(at).ok()).filter(|s| *s < REJECTED_REFRESH_GAP) {
            let e = Error::TokenRefused { minutes: since.as_secs().div_ceil(60).max(1) };
            tracing::warn!(connection = %self.inner.connection, code = e.code(), "a replaced token was refused too; not replacing it again yet");
            return Err(e);
        }
        *lock(&self.inner.last_rejected) = Some(now);
        let result = self.rotate(stored, guard).await;
        self.record(&result);
        result.map(|t| t.grant())
    }

    /// Does this session hold a pair SmartThings issued that its vault (or store row) has
    /// not taken yet? Then it is the only live copy: [`Session::flush`] it.
    pub fn has_unsaved(&self) -> bool {
        lock(&self.inner.unsaved).is_some()
    }

    /// Before exit: stores a pair the vault refused earlier, trying again with backoff for
    /// up to `within`. Nothing to do (`Ok`) when every pair is saved. An error means the
    /// only copy of the live refresh token dies with this process.
    pub async fn flush(&self, within: Duration) -> Result<()> {
        let deadline = tokio::time::Instant::now() + within;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let saved = {
                let _flight = self.inner.flight.lock().await;
                self.save_unsaved().await
            };
            let pause = backoff::delay(attempt, Duration::from_millis(100), Duration::from_secs(2));
            match saved {
                Ok(()) => return Ok(()),
                Err(e) if tokio::time::Instant::now() + pause >= deadline => return Err(e),
                Err(e) => {
                    tracing::warn!(connection = %self.inner.connection, code = e.code(), "the new token pair is not saved yet; trying again");
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }

    /// Installs a freshly signed-in pair: vault first, then memory. Replaces only tokens;
    /// every setting stays as it was.
    pub async fn adopt(&self, tokens: TokenSet) -> Result<()> {
        let _flight = self.inner.flight.lock().await;
        let mut guard = self.discard_unsaved_and_lock().await?;
        self.write_locked(&mut guard, &tokens).await?;
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
        let mut guard = self.discard_unsaved_and_lock().await?;
        self.delete_locked(&mut guard).await?;
        *lock(&self.inner.retry) = Retry::default();
        self.set_tokens(None);
        self.publish();
        Ok(())
    }

    /// `f` of the in-memory pair when it is valid for at least `min`, under the lock and
    /// without a copy of it: the token server's hot path builds its answer here.
    pub(crate) fn with_fresh<T>(&self, min: Duration, f: impl FnOnce(&TokenSet, SystemTime) -> T) -> Option<T> {
        let now = self.now();
        let tokens = lock(&self.inner.tokens);
        tokens.as_ref().filter(|t| t.serves(min, now)).map(|t| f(t, now))
    }

    /// The token in memory, when it is valid for at least `min` and the pair has not ended.
    fn fresh_grant(&self, min: Duration) -> Option<AccessGrant> {
        self.with_fresh(min, |t, _| t.grant())
    }

    /// For a new pair that replaces whatever came before (a sign-in, a sign-out): an
    /// unsaved pair is obsolete, and the lock it held is ours to use (taking it again from
    /// this process would wait on ourselves).
    async fn discard_unsaved_and_lock(&self) -> Result<LockGuard> {
        let held = lock(&self.inner.unsaved).take();
        match held {
            Some(u) => Ok(u.lock),
            None => self.inner.lock.acquire(self.inner.opts.lock_timeout).await,
        }
    }

    fn cached(&self) -> Option<TokenSet> {
        lock(&self.inner.tokens).clone()
    }

    fn set_tokens(&self, t: Option<TokenSet>) {
        *lock(&self.inner.tokens) = t;
    }

    /// When the scheduler refreshes `t`: at `refresh_at` of its lifetime, but never sooner
    /// than [`MIN_REFRESH_GAP`] after it was issued.
    fn refresh_point(&self, t: &TokenSet) -> SystemTime {
        t.refresh_due(self.inner.opts.refresh_at).max(t.issued_at() + MIN_REFRESH_GAP)
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
