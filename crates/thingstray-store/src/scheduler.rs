//! The refresh scheduler every replica runs: it claims due sessions from the store
//! (`FOR UPDATE SKIP LOCKED`, so two replicas never claim the same one and neither waits
//! on the other), refreshes them ahead of expiry with bounded concurrency, the service
//! as a whole at most `rate` refreshes a second (the store's budget row, claims.rs), and
//! stops every replica's refreshing when SmartThings says 429 until the time its
//! `x-ratelimit-reset` gives (the limit is the app's, not a session's or a replica's).
//!
//! Each refresh is the core session's own (single flight by the row's lock,
//! persist-before-use by the commit); the claim only spreads the work.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use thingstray::error::Error;
use tokio::sync::{Mutex, Semaphore};

use crate::claims::{Claim, Claimed};
use crate::service::Service;

#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// At most this many refreshes at once on this replica (at most half the pool).
    pub concurrency: usize,
    /// At most this many refreshes started per second by the whole service, every
    /// replica together (give every replica the same figure; the last claim's rules).
    pub rate: f64,
    /// How long a claim keeps other replicas off a session (longer than any refresh).
    pub lease: Duration,
    /// How many due sessions one claim takes.
    pub batch: i64,
    /// The longest sleep between looks at the store (a session signed in on another
    /// replica is due a day later, so this only bounds how late after a clock jump).
    pub idle_check: Duration,
    /// This replica's name in `claimed_by`.
    pub replica: String,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        SchedulerOptions {
            concurrency: 8,
            rate: 20.0,
            lease: Duration::from_secs(120),
            batch: 64,
            idle_check: Duration::from_secs(15),
            replica: format!("{}:{}", gethost(), std::process::id()),
        }
    }
}

fn gethost() -> String {
    std::env::var("HOSTNAME").unwrap_or_else(|_| "replica".into())
}

/// Backoff of a session's failed scheduled refreshes: 10 s, 20 s, … capped at 10 min.
fn retry_after(failures: u32) -> Duration {
    let secs = 10u64.saturating_mul(1u64 << failures.min(6));
    Duration::from_secs(secs.min(600))
}

/// Runs until the task is aborted.
pub async fn run(service: Service, opts: SchedulerOptions) {
    run_until(service, opts, std::future::pending()).await
}

/// Runs until `stop` completes; then claims nothing more, lets the refreshes it started
/// finish (for at most a minute: one cut off between SmartThings' answer and the commit
/// would lose the session) and stores every pair the store has not taken yet.
pub async fn run_until(service: Service, opts: SchedulerOptions, stop: impl std::future::Future<Output = ()>) {
    tokio::pin!(stop);
    let in_flight = Arc::new(Mutex::new(tokio::task::JoinSet::new()));
    tokio::select! {
        _ = &mut stop => {}
        _ = claim_and_refresh(service.clone(), opts, in_flight.clone()) => {}
    }
    let mut set = std::mem::take(&mut *in_flight.lock().await);
    let finished =
        tokio::time::timeout(Duration::from_secs(60), async { while set.join_next().await.is_some() {} }).await;
    if finished.is_err() {
        tracing::error!(left = set.len(), "refreshes still running a minute after the stop; exiting without them");
    }
    let lost = service.flush_all(Duration::from_secs(30)).await;
    if !lost.is_empty() {
        tracing::error!(sessions = ?lost, "exiting with new pairs the store did not take: these sessions will need a new sign-in");
    }
}

async fn claim_and_refresh(service: Service, opts: SchedulerOptions, in_flight: Arc<Mutex<tokio::task::JoinSet<()>>>) {
    // Each refresh holds a pooled connection for its whole call: never all of them.
    let slots = Arc::new(Semaphore::new(opts.concurrency.clamp(1, crate::db::POOL_SIZE / 2)));
    let paused_until: Arc<Mutex<Option<SystemTime>>> = Arc::default();
    let clock = service.store().clock();
    let mut last_skew_check = tokio::time::Instant::now();
    loop {
        let now = clock.now();
        if let Some(until) = *paused_until.lock().await {
            if until > now {
                tokio::select! {
                    _ = tokio::time::sleep(until.duration_since(now).unwrap_or_default().min(opts.idle_check)) => {}
                    _ = clock.jumped() => {}
                }
                continue;
            }
        }
        if last_skew_check.elapsed() > Duration::from_secs(60) {
            last_skew_check = tokio::time::Instant::now();
            if let Err(e) = service.store().measure_skew().await {
                tracing::debug!(code = e.code(), "could not measure the clock against the store");
            }
            service.evict_idle();
        }
        let claimed = match service.store().claim_due(now, opts.lease, opts.batch, &opts.replica, opts.rate).await {
            Ok(Claimed::Sessions(ids)) => ids,
            Ok(Claimed::Paused(until)) => {
                // Another replica met SmartThings' 429: this one waits too.
                *paused_until.lock().await = Some(until);
                continue;
            }
            Ok(Claimed::OverBudget(wait)) => {
                tokio::time::sleep(wait.min(opts.idle_check)).await;
                continue;
            }
            Err(e) => {
                tracing::warn!(code = e.code(), "could not claim due sessions: {e}");
                Vec::new()
            }
        };
        let busy = !claimed.is_empty();
        let mut claimed = claimed.into_iter();
        while let Some(claim) = claimed.next() {
            // A 429 met by a refresh of this batch stops the rest of it too; the rest is
            // let go until the pause ends (not held for the whole lease).
            let until = *paused_until.lock().await;
            if let Some(until) = until.filter(|u| *u > clock.now()) {
                let rest: Vec<String> = std::iter::once(claim).chain(claimed.by_ref()).map(|c| c.id).collect();
                if let Err(e) = service.store().release(&rest, until).await {
                    tracing::debug!(code = e.code(), "could not let go of claimed sessions; their lease ends them");
                }
                break;
            }
            let permit = match slots.clone().acquire_owned().await {
                Ok(p) => p,
                Err(_) => return,
            };
            let service = service.clone();
            let paused = paused_until.clone();
            let mut set = in_flight.lock().await;
            while set.try_join_next().is_some() {}
            set.spawn(async move {
                let _permit = permit;
                refresh_one(&service, &claim, &paused).await;
            });
            drop(set);
        }
        if busy {
            continue;
        }
        let wait = match service.store().next_due().await {
            Ok(Some(at)) => at.duration_since(clock.now()).unwrap_or_default().min(opts.idle_check),
            _ => opts.idle_check,
        }
        .max(Duration::from_millis(50));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = clock.jumped() => {}
        }
    }
}

async fn refresh_one(service: &Service, claim: &Claim, paused: &Mutex<Option<SystemTime>>) {
    let id = claim.id.as_str();
    let store = service.store();
    let result = match service.session(id).await {
        Ok(session) => {
            let r = session.refresh_if_due().await;
            if r.is_err() && session.has_unsaved() {
                service.keep_unsaved(id, &session);
            }
            r
        }
        Err(e) => Err(e),
    };
    let now = store.now();
    match result {
        Ok(()) if claim.unlocated => {
            if let Err(e) = service.locate(id).await {
                tracing::debug!(session = %id, code = e.code(), "the location is still unknown; asked again next time");
            }
        }
        Ok(()) => {}
        Err(Error::RateLimited { retry_after: wait }) => {
            tracing::warn!(session = %id, wait_s = wait.as_secs(), "SmartThings limits refreshes; pausing them all");
            *paused.lock().await = Some(now + wait);
            if let Err(e) = store.pause_refreshes(now + wait).await {
                tracing::debug!(
                    code = e.code(),
                    "could not tell the other replicas to pause; they meet the 429 themselves"
                );
            }
            let _ = store.note_failure(id, now + wait).await;
        }
        Err(e) if e.needs_sign_in() => {
            // The session wrote `ended` into its row itself (after the re-read).
            tracing::info!(session = %id, code = e.code(), "session ended; a new sign-in is needed");
        }
        Err(Error::UnknownConnection { .. }) => {}
        Err(e) => {
            let failures = store.session_failures(id).await.unwrap_or(0);
            tracing::warn!(session = %id, code = e.code(), failures, "scheduled refresh failed: {e}");
            let _ = store.note_failure(id, now + retry_after(failures)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_ten_minutes() {
        assert_eq!(retry_after(0), Duration::from_secs(10));
        assert_eq!(retry_after(1), Duration::from_secs(20));
        assert_eq!(retry_after(30), Duration::from_secs(600));
    }
}
