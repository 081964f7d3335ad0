//! The replicas' common clock: each replica's own clock shifted by its measured offset
//! from PostgreSQL's (db.rs), so replicas whose clocks disagree still agree on when a
//! token expires and when it is due.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use thingstray::clock::Clock;

pub struct StoreClock {
    base: Arc<dyn Clock>,
    skew_ms: Arc<AtomicI64>,
}

impl StoreClock {
    pub fn new(base: Arc<dyn Clock>, skew_ms: Arc<AtomicI64>) -> StoreClock {
        StoreClock { base, skew_ms }
    }
}

impl Clock for StoreClock {
    fn now(&self) -> SystemTime {
        crate::db::shift(self.base.now(), self.skew_ms.load(Ordering::SeqCst))
    }

    fn jumped(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        self.base.jumped()
    }
}
