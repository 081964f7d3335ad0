//! The session's side of handing it to another computer (`thingstray share hand-over`,
//! issue 11; the old owner's side of the protocol is owner/hand_over.rs, the new owner's
//! owner/take_over.rs): the pair is read under the refresh lock and the lock is held until
//! the new owner confirms it has stored the pair, so no refresh here spends it meanwhile;
//! then this session is retired, so it never spends the refresh token it gave away. (A
//! refresh token reused after rotation is, at some OAuth servers, a reason to revoke the
//! whole family: the new owner's session with it.)

use super::lock::LockGuard;
use super::source::Source;
use super::{lock, Session};
use crate::error::{Error, Result};
use crate::token::{TokenSet, MIN_VALIDITY};

/// The pair being handed over, with the refresh lock that keeps it unspent.
pub struct Hold {
    pair: TokenSet,
    _guard: LockGuard,
}

impl std::fmt::Debug for Hold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hold").finish_non_exhaustive()
    }
}

impl Hold {
    pub fn pair(&self) -> &TokenSet {
        &self.pair
    }
}

impl Session {
    /// The current pair, refreshed first if it has less than a token server's margin
    /// left, held under the refresh lock until the [`Hold`] is dropped.
    pub async fn hold_for_hand_over(&self) -> Result<Hold> {
        if let Source::Paired(p) = &self.inner.source {
            return Err(Error::PairedConnection {
                connection: self.inner.connection.clone(),
                owner: p.creds.owner.clone(),
            });
        }
        self.token_valid_for(MIN_VALIDITY).await?;
        let _flight = self.inner.flight.lock().await;
        self.save_unsaved().await?;
        let mut guard = self.inner.lock.acquire(self.inner.opts.lock_timeout).await?;
        self.inner.lock.fence()?;
        let stored = self.stored_or_signed_out(&mut guard).await?;
        let pair = self.not_older_than_ours(stored, &mut guard).await?;
        Ok(Hold { pair, _guard: guard })
    }

    /// After the pair went to another computer: this session never refreshes again and
    /// says why. An access token in the vault is still handed out until it expires.
    pub fn retire(&self, why: Error) {
        *lock(&self.inner.retired) = Some(why.clone());
        {
            let mut r = lock(&self.inner.retry);
            r.halted = Some(why);
            r.next_at = None;
        }
        self.set_tokens(None);
        self.publish();
        self.inner.wake.notify_waiters();
    }

    /// A hand-over this session was retired for did not happen after all (the new owner
    /// declined the session): it refreshes again.
    pub fn unretire(&self) {
        *lock(&self.inner.retired) = None;
        *lock(&self.inner.retry) = super::Retry::default();
        self.publish();
        self.inner.wake.notify_waiters();
    }

    /// The reason this session was retired, if it was.
    pub fn retired(&self) -> Option<Error> {
        lock(&self.inner.retired).clone()
    }
}
