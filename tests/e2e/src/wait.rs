//! Waiting for a condition, never for a time: each wait polls until the condition holds
//! and fails with what it was waiting for when the deadline passes.

use std::future::Future;
use std::time::{Duration, Instant};

const EVERY: Duration = Duration::from_millis(100);

/// Polls `check` until it yields `Some`, or panics naming `what` after `limit`.
pub async fn until<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
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
