//! Waiting for a condition, never for a time: each wait polls until the condition holds
//! and fails with what it was waiting for when the deadline passes.

use std::future::Future;
use std::time::{Duration, Instant};

const EVERY: Duration = Duration::from_millis(100);
/// One check may not take longer than this: a WebDriver command that never answers
/// becomes a failed wait naming what it waited for, not a hung test.
const ONE_CHECK: Duration = Duration::from_secs(10);

/// Polls `check` until it yields `Some`, or panics naming `what` after `limit`.
pub async fn until<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(v)) = tokio::time::timeout(ONE_CHECK, check()).await {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {limit:?} waiting for {what}");
        }
        tokio::time::sleep(EVERY).await;
    }
}

pub fn poll_blocking(limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        if Instant::now() > deadline {
            panic!("timed out after {limit:?} waiting for {what}");
        }
        std::thread::sleep(EVERY);
    }
}
