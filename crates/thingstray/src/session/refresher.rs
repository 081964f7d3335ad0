//! The background refresher: one task per connection that refreshes at the due time on the
//! wall clock (so a laptop waking from sleep refreshes at once), retries passing failures
//! and stops on the ones only the user can fix.

use std::time::SystemTime;

use super::{lock, Need, Session};

impl Session {
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

    pub(super) fn next_due(&self) -> Option<SystemTime> {
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
        Some(retry.next_at.unwrap_or_else(|| self.refresh_point(&t)))
    }
}

impl Session {
    /// One scheduled refresh, for a caller that schedules many sessions itself (a token
    /// service claims the due ones from its store): the stored pair is read first, since
    /// another process may have refreshed it, and is refreshed only when it is past its
    /// refresh point. The same single flight and persist-before-use as the refresher's.
    pub async fn refresh_if_due(&self) -> crate::error::Result<()> {
        self.load().await?;
        self.refresh(Need::Scheduled).await.map(|_| ())
    }
}
